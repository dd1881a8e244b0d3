// OrderDirectory over gRPC: OrderService.GetOrder with a deadline.
#pragma once

#include <chrono>
#include <memory>

#include "payonce/order/v1/order_service.grpc.pb.h"
#include "services/payment/app/ports.h"

namespace payonce::payment {

class OrderDirectoryClient final : public OrderDirectory {
 public:
  OrderDirectoryClient(std::shared_ptr<grpc::Channel> channel, std::chrono::milliseconds timeout);
  absl::StatusOr<OrderSnapshot> GetOrder(const std::string& order_id) override;

 private:
  std::unique_ptr<payonce::order::v1::OrderService::Stub> stub_;
  std::chrono::milliseconds timeout_;
};

}  // namespace payonce::payment
