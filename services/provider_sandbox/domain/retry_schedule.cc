#include "services/provider_sandbox/domain/retry_schedule.h"

#include <charconv>
#include <string>

namespace payonce::provider {

absl::StatusOr<std::vector<int64_t>> ParseRetrySteps(std::string_view csv) {
  std::vector<int64_t> steps;
  size_t start = 0;
  while (start <= csv.size()) {
    const size_t comma = csv.find(',', start);
    std::string_view item =
        csv.substr(start, comma == std::string_view::npos ? std::string_view::npos : comma - start);
    while (!item.empty() && item.front() == ' ') item.remove_prefix(1);
    while (!item.empty() && item.back() == ' ') item.remove_suffix(1);
    if (item.empty()) {
      if (comma == std::string_view::npos && steps.empty() && start == 0) break;  // ""
      return absl::InvalidArgumentError("empty retry step in \"" + std::string(csv) + "\"");
    }
    int64_t value = 0;
    const auto [end, ec] = std::from_chars(item.data(), item.data() + item.size(), value);
    if (ec != std::errc() || end != item.data() + item.size() || value <= 0) {
      return absl::InvalidArgumentError("retry step \"" + std::string(item) +
                                        "\" is not a positive number of milliseconds");
    }
    steps.push_back(value);
    if (comma == std::string_view::npos) break;
    start = comma + 1;
  }
  return steps;
}

std::string_view ToString(DeliveryResult result) {
  switch (result) {
    case DeliveryResult::kAcknowledged:
      return "acknowledged";
    case DeliveryResult::kRejected:
      return "rejected";
    case DeliveryResult::kUnreachable:
      return "unreachable";
  }
  return "rejected";
}

DeliveryResult ClassifyDelivery(absl::StatusCode code) {
  switch (code) {
    case absl::StatusCode::kOk:
      return DeliveryResult::kAcknowledged;
    case absl::StatusCode::kUnavailable:
    case absl::StatusCode::kDeadlineExceeded:
      return DeliveryResult::kUnreachable;
    default:
      return DeliveryResult::kRejected;
  }
}

int64_t RetryDelayMs(const RetrySchedule& schedule, int attempts_made, bool target_down,
                     int64_t target_down_retry_ms) {
  if (target_down && target_down_retry_ms > 0) return target_down_retry_ms;
  const size_t index = attempts_made < 1 ? 0 : static_cast<size_t>(attempts_made - 1);
  if (index < schedule.steps_ms.size()) return schedule.steps_ms[index];
  return schedule.every_ms;
}

std::optional<int64_t> NextAttemptAtMs(const RetrySchedule& schedule, const RetryInput& input) {
  const int64_t next =
      input.now_unix_ms +
      RetryDelayMs(schedule, input.attempts_made, input.target_down, input.target_down_retry_ms);
  if (next > input.first_attempt_unix_ms + schedule.give_up_after_ms) return std::nullopt;
  return next;
}

}  // namespace payonce::provider
