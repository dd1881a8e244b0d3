// The delivery port of the relay: OrderService.ApplyPaymentEvent. The gRPC
// adapter implements it.
#pragma once

#include "absl/status/statusor.h"
#include "services/outbox_relay/domain/outbox_event.h"

namespace payonce::relay {

class OrderEventSink {
 public:
  virtual ~OrderEventSink() = default;

  // Delivers one outbox event as a PaymentEvent from source "relay" and
  // returns what the order service decided, or the call's error. Called
  // concurrently from several threads; never throws.
  virtual absl::StatusOr<ApplyOutcome> Deliver(const OutboxRow& row) = 0;
};

}  // namespace payonce::relay
