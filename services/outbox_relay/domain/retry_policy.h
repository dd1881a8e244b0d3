// The relay's retry rules: which delivery errors are worth retrying, how long
// to wait before the next attempt, and when to give up on a row (dead letter).
// Pure: no I/O; randomness comes through RandomSource so tests script it.
#pragma once

#include <chrono>
#include <cstdint>
#include <mutex>
#include <random>
#include <string>

#include "absl/status/status.h"

namespace payonce::relay {

// Uniform random integers; injected so tests control the jitter.
class RandomSource {
 public:
  virtual ~RandomSource() = default;
  // A uniformly distributed integer in [lo, hi]; requires lo <= hi.
  virtual int64_t UniformInt(int64_t lo, int64_t hi) = 0;
};

// std::mt19937_64 seeded from std::random_device. Thread-safe.
class SeededRandomSource final : public RandomSource {
 public:
  SeededRandomSource();
  int64_t UniformInt(int64_t lo, int64_t hi) override;

 private:
  std::mutex mu_;
  std::mt19937_64 engine_;
};

struct RetryPolicy {
  // Backoff ceiling after the first failed attempt; doubles per attempt.
  std::chrono::milliseconds backoff_base{200};
  // Upper bound of every backoff ceiling.
  std::chrono::milliseconds backoff_max{60000};
  // A row whose counted failures (see FailureDecision::failures) reach this
  // many is dead-lettered.
  int max_attempts = 20;
  // While the order service is unreachable (UNAVAILABLE) rows are retried
  // this often (with jitter) and never dead-lettered: the events are fine,
  // and delivery must resume within about this long once it is back.
  std::chrono::milliseconds target_down_retry{1000};
};

// The longest wait after the `attempt`-th counted failure (1-based):
// backoff_base * 2^(attempt-1), capped at backoff_max.
std::chrono::milliseconds BackoffCeiling(const RetryPolicy& policy, int attempt);

// Exponential backoff with full jitter: uniform in [0, BackoffCeiling], so
// replicas and rows that failed together do not retry in lockstep.
std::chrono::milliseconds BackoffDelay(const RetryPolicy& policy, int attempt,
                                       RandomSource& random);

// Whether a row with `attempts` counted failures is given up on.
bool ShouldDeadLetter(const RetryPolicy& policy, int attempts);

// How a failed ApplyPaymentEvent call is treated.
enum class DeliveryErrorClass {
  // Worth retrying with backoff: the order service was unreachable, slow,
  // overloaded, or failed in a way a later attempt may not (also used for
  // configuration errors an operator can fix, e.g. UNIMPLEMENTED).
  kTransient,
  // The event itself is refused (INVALID_ARGUMENT, OUT_OF_RANGE): the same
  // bytes will be refused forever, so the row is dead-lettered at once.
  kPermanent,
  // The order service cannot be reached (UNAVAILABLE): retried at the
  // target-down pace, never dead-lettered.
  kTargetDown,
};

DeliveryErrorClass ClassifyDeliveryError(absl::StatusCode code);

// What happens to a row whose delivery attempt just failed.
struct FailureDecision {
  bool dead_letter = false;
  // The wait before the next attempt (zero when dead-lettered).
  std::chrono::milliseconds retry_after{0};
  // The row's counted failures, this attempt included: every failure but
  // those of an unreachable target, which is no fault of the event (an outage
  // neither lengthens the backoff after it nor uses up the attempts).
  int failures = 0;
};

// `earlier_failures`: the row's counted failures before this attempt. Target
// down: a retry after [target_down_retry/2, target_down_retry], nothing
// counted, never a dead letter. Otherwise the failure counts: a dead letter
// for a permanent error or when the count reaches max_attempts, else a retry
// after BackoffDelay(count).
FailureDecision DecideAfterFailure(const RetryPolicy& policy, int earlier_failures,
                                   absl::StatusCode code, RandomSource& random);

// The outbox.last_error text for a failed attempt: "<CODE>: message", e.g.
// "UNAVAILABLE: connection refused", cut to at most kMaxErrorLength bytes.
std::string DescribeDeliveryError(const absl::Status& error);

inline constexpr size_t kMaxErrorLength = 1000;

}  // namespace payonce::relay
