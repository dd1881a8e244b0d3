// When an unacknowledged callback is sent again, and when the sandbox gives
// up (CONTRACT §3). Pure.
#pragma once

#include <cstdint>
#include <optional>
#include <string_view>
#include <vector>

#include "absl/status/status.h"
#include "absl/status/statusor.h"

namespace payonce::provider {

// Steps first, then every `every_ms`, until `give_up_after_ms` after the
// first attempt. Defaults: 0.2 s, 0.5 s, 1 s, 2 s, 5 s, then every 10 s for
// 5 minutes.
struct RetrySchedule {
  std::vector<int64_t> steps_ms{200, 500, 1000, 2000, 5000};
  int64_t every_ms = 10000;
  int64_t give_up_after_ms = 300000;
};

// "200,500,1000": positive integers separated by commas (blanks allowed);
// INVALID_ARGUMENT otherwise. An empty list is allowed (only `every`).
absl::StatusOr<std::vector<int64_t>> ParseRetrySteps(std::string_view csv);

// How one delivery went, from the sender's point of view.
enum class DeliveryResult { kAcknowledged, kRejected, kUnreachable };

// "acknowledged", "rejected", "unreachable".
std::string_view ToString(DeliveryResult result);

// OK: acknowledged; UNAVAILABLE or DEADLINE_EXCEEDED: unreachable (no
// answer); any other code: rejected.
DeliveryResult ClassifyDelivery(absl::StatusCode code);

// The delay before the next attempt after `attempts_made` attempts (>= 1)
// all failed. With `target_down` (the target answered UNAVAILABLE) and
// `target_down_retry_ms` > 0, that delay instead of the schedule's step.
int64_t RetryDelayMs(const RetrySchedule& schedule, int attempts_made, bool target_down,
                     int64_t target_down_retry_ms);

struct RetryInput {
  int attempts_made = 1;
  int64_t first_attempt_unix_ms = 0;
  int64_t now_unix_ms = 0;
  bool target_down = false;
  int64_t target_down_retry_ms = 0;
};

// When to try again, or nullopt to give up: the next attempt would fall
// later than give_up_after_ms after the first one.
std::optional<int64_t> NextAttemptAtMs(const RetrySchedule& schedule, const RetryInput& input);

}  // namespace payonce::provider
