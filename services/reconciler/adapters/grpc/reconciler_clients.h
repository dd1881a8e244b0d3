// The reconciler's gRPC peers: the order service and the provider's
// settlement statement. Every call has a deadline.
#pragma once

#include <chrono>
#include <memory>

#include "payonce/order/v1/order_service.grpc.pb.h"
#include "payonce/provider/v1/provider_sandbox.grpc.pb.h"
#include "services/reconciler/app/ports.h"

namespace payonce::reconciler {

class OrderDeskClient final : public OrderDesk {
 public:
  OrderDeskClient(std::shared_ptr<grpc::Channel> channel, std::chrono::milliseconds timeout);
  absl::StatusOr<OrderView> GetOrder(const std::string& order_id) override;
  absl::StatusOr<std::string> ApplyPaymentEvent(const std::string& event_id,
                                                const payment::Payment& payment,
                                                PaymentStatus status) override;
  absl::Status TellExtraCaptureRefunded(const payment::Payment& payment,
                                        const std::string& provider_txn_id,
                                        int64_t amount_minor) override;

 private:
  // One ApplyPaymentEvent call; the outcome name.
  absl::StatusOr<std::string> Send(const payonce::order::v1::PaymentEvent& event);
  std::unique_ptr<payonce::order::v1::OrderService::Stub> stub_;
  std::chrono::milliseconds timeout_;
};

class SettlementClient final : public SettlementSource {
 public:
  SettlementClient(std::shared_ptr<grpc::Channel> channel, std::chrono::milliseconds timeout);
  absl::StatusOr<std::vector<StatementLine>> Statement(int64_t from_unix_ms,
                                                       int64_t to_unix_ms) override;

 private:
  std::unique_ptr<payonce::provider::v1::ProviderSandbox::Stub> stub_;
  std::chrono::milliseconds timeout_;
};

}  // namespace payonce::reconciler
