#include "services/outbox_relay/domain/outbox_event.h"

namespace payonce::relay {

std::optional<ReportedStatus> ParseReportedStatus(std::string_view text) {
  if (text == "SUCCEEDED") return ReportedStatus::kSucceeded;
  if (text == "FAILED") return ReportedStatus::kFailed;
  if (text == "REFUNDED") return ReportedStatus::kRefunded;
  return std::nullopt;
}

std::string_view ToString(ApplyOutcome outcome) {
  switch (outcome) {
    case ApplyOutcome::kApplied:
      return "APPLIED";
    case ApplyOutcome::kDuplicate:
      return "DUPLICATE";
    case ApplyOutcome::kIgnored:
      return "IGNORED";
    case ApplyOutcome::kRefundRequired:
      return "REFUND_REQUIRED";
  }
  return "IGNORED";
}

}  // namespace payonce::relay
