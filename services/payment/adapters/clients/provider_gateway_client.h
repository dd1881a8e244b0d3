// ProviderGateway over gRPC to a ProviderSandbox-compatible acquirer.
#pragma once

#include <chrono>
#include <memory>

#include "payonce/provider/v1/provider_sandbox.grpc.pb.h"
#include "services/payment/app/ports.h"

namespace payonce::payment {

class ProviderGatewayClient final : public ProviderGateway {
 public:
  ProviderGatewayClient(std::shared_ptr<grpc::Channel> channel, std::chrono::milliseconds timeout);

  absl::StatusOr<DebitResult> Debit(const std::string& payment_id, int64_t amount_minor,
                                    const std::string& currency) override;
  absl::StatusOr<std::vector<ProviderCapture>> QueryTransaction(
      const std::string& payment_id) override;
  absl::StatusOr<ProviderRefund> Refund(const std::string& provider_txn_id,
                                        const std::string& idempotency_key) override;

 private:
  std::unique_ptr<payonce::provider::v1::ProviderSandbox::Stub> stub_;
  std::chrono::milliseconds timeout_;
};

}  // namespace payonce::payment
