// OrderEventSink over gRPC: OrderService.ApplyPaymentEvent with a deadline.
#pragma once

#include <grpcpp/channel.h>

#include <chrono>
#include <memory>

#include "payonce/order/v1/order_service.grpc.pb.h"
#include "services/outbox_relay/app/order_event_sink.h"

namespace payonce::relay {

class GrpcOrderEventSink final : public OrderEventSink {
 public:
  // `channel` to the order service, e.g. built with DefaultChannelArguments();
  // every call gets `timeout` as its deadline.
  GrpcOrderEventSink(std::shared_ptr<grpc::Channel> channel, std::chrono::milliseconds timeout);

  // INVALID_ARGUMENT without a call when the row's status is not one a
  // PaymentEvent can carry; INTERNAL when the order service answers OK
  // without an outcome; otherwise the call's status.
  absl::StatusOr<ApplyOutcome> Deliver(const OutboxRow& row) override;

 private:
  std::shared_ptr<grpc::Channel> channel_;
  std::unique_ptr<payonce::order::v1::OrderService::Stub> stub_;
  const std::chrono::milliseconds timeout_;
};

// The PaymentEvent the relay sends for an outbox row (source "relay").
absl::StatusOr<payonce::order::v1::PaymentEvent> ToPaymentEvent(const OutboxRow& row);

}  // namespace payonce::relay
