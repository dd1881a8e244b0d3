#include "services/outbox_relay/domain/retry_policy.h"

#include <algorithm>

namespace payonce::relay {

SeededRandomSource::SeededRandomSource() {
  std::random_device rd;
  std::seed_seq seq{rd(), rd(), rd(), rd(), rd(), rd(), rd(), rd()};
  engine_.seed(seq);
}

int64_t SeededRandomSource::UniformInt(int64_t lo, int64_t hi) {
  std::uniform_int_distribution<int64_t> dist(lo, hi);
  std::lock_guard<std::mutex> lock(mu_);
  return dist(engine_);
}

std::chrono::milliseconds BackoffCeiling(const RetryPolicy& policy, int attempt) {
  const int64_t cap = std::max<int64_t>(policy.backoff_max.count(), 0);
  int64_t ceiling = std::clamp<int64_t>(policy.backoff_base.count(), 0, cap);
  // Doubling stops at the cap, so a large attempt number cannot overflow.
  for (int i = 1; i < attempt && ceiling < cap; ++i) ceiling = std::min(ceiling * 2, cap);
  return std::chrono::milliseconds(ceiling);
}

std::chrono::milliseconds BackoffDelay(const RetryPolicy& policy, int attempt,
                                       RandomSource& random) {
  const int64_t ceiling = BackoffCeiling(policy, attempt).count();
  // Clamped: a scripted source cannot push the delay outside the range.
  return std::chrono::milliseconds(std::clamp<int64_t>(random.UniformInt(0, ceiling), 0, ceiling));
}

bool ShouldDeadLetter(const RetryPolicy& policy, int attempts) {
  return attempts >= policy.max_attempts;
}

DeliveryErrorClass ClassifyDeliveryError(absl::StatusCode code) {
  switch (code) {
    case absl::StatusCode::kInvalidArgument:
    case absl::StatusCode::kOutOfRange:
      return DeliveryErrorClass::kPermanent;
    case absl::StatusCode::kUnavailable:
      return DeliveryErrorClass::kTargetDown;
    default:
      return DeliveryErrorClass::kTransient;
  }
}

FailureDecision DecideAfterFailure(const RetryPolicy& policy, int earlier_failures,
                                   absl::StatusCode code, RandomSource& random) {
  const DeliveryErrorClass kind = ClassifyDeliveryError(code);
  if (kind == DeliveryErrorClass::kTargetDown) {
    const int64_t full = policy.target_down_retry.count();
    return {false, std::chrono::milliseconds(random.UniformInt(full / 2, full)), earlier_failures};
  }
  const int failures = earlier_failures + 1;
  if (kind == DeliveryErrorClass::kPermanent || ShouldDeadLetter(policy, failures)) {
    return {true, std::chrono::milliseconds(0), failures};
  }
  return {false, BackoffDelay(policy, failures, random), failures};
}

std::string DescribeDeliveryError(const absl::Status& error) {
  std::string text = absl::StatusCodeToString(error.code()) + ": " + std::string(error.message());
  // PostgreSQL text holds neither NUL bytes nor a UTF-8 sequence cut in half.
  std::replace(text.begin(), text.end(), '\0', '?');
  if (text.size() > kMaxErrorLength) {
    size_t cut = kMaxErrorLength;
    while (cut > 0 && (static_cast<unsigned char>(text[cut]) & 0xC0) == 0x80) --cut;
    text.resize(cut);
  }
  return text;
}

}  // namespace payonce::relay
