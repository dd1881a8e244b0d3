// The outgoing port of callback delivery: PaymentService.HandleProviderCallback.
#pragma once

#include <vector>

#include "absl/status/status.h"
#include "services/provider_sandbox/domain/callback_message.h"

namespace payonce::provider {

class CallbackSender {
 public:
  virtual ~CallbackSender() = default;

  // Sends every callback at once (concurrently), each under its own deadline,
  // and waits for all; one status per callback, in order. OK means
  // acknowledged.
  virtual std::vector<absl::Status> SendAll(const std::vector<SignedCallback>& callbacks) = 0;
};

}  // namespace payonce::provider
