// Delivers due callbacks: claims them, sends the signed message (with the
// fault copies decided when the capture was made) and records the outcome,
// re-scheduling on the retry schedule until acknowledged or given up.
#pragma once

#include <cstdint>
#include <string>

#include "absl/status/status.h"
#include "absl/status/statusor.h"
#include "services/common/clock.h"
#include "services/common/log.h"
#include "services/provider_sandbox/app/callback_queue.h"
#include "services/provider_sandbox/app/callback_sender.h"
#include "services/provider_sandbox/app/sandbox_metrics.h"
#include "services/provider_sandbox/domain/random_source.h"
#include "services/provider_sandbox/domain/retry_schedule.h"

namespace payonce::provider {

struct DispatcherOptions {
  // ProviderCallback.provider, e.g. "sandbox".
  std::string provider = "sandbox";
  // The first of PAYONCE_CALLBACK_SECRETS.
  std::string signing_secret;
  RetrySchedule schedule;
  // How long a claim keeps other dispatchers off a callback; longer than a
  // whole delivery (all copies plus the replay).
  int64_t lease_ms = 30000;
};

class CallbackDispatcher {
 public:
  CallbackDispatcher(CallbackQueue& queue, CallbackSender& sender, RandomSource& rng,
                     const Clock& clock, IdGenerator& nonces, SandboxMetrics& metrics, Logger& log,
                     DispatcherOptions options)
      : queue_(queue),
        sender_(sender),
        rng_(rng),
        clock_(clock),
        nonces_(nonces),
        metrics_(metrics),
        log_(log),
        options_(std::move(options)) {}

  // Claims up to `limit` due callbacks, oldest first, or shuffled when the
  // reorder fault is on.
  absl::StatusOr<ClaimedBatch> Claim(int limit);

  // Sends one claimed callback (plus its duplicate, forged and replayed
  // copies) and records the outcome.
  absl::Status Deliver(const ClaimedCallback& callback, const FaultConfig& faults);

  // Claim and deliver one by one, inline; returns how many were delivered.
  // What a test or a single-threaded loop calls.
  absl::StatusOr<int> RunOnce(int limit);

 private:
  CallbackQueue& queue_;
  CallbackSender& sender_;
  RandomSource& rng_;
  const Clock& clock_;
  IdGenerator& nonces_;
  SandboxMetrics& metrics_;
  Logger& log_;
  const DispatcherOptions options_;
};

}  // namespace payonce::provider
