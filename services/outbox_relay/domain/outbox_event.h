// What the outbox relay moves: one payment outcome recorded in the payment
// service's transactional outbox, and what the order service answered about
// it. Pure: no I/O.
#pragma once

#include <cstdint>
#include <optional>
#include <string>
#include <string_view>

namespace payonce::relay {

// The payment outcome an outbox row reports (outbox.status).
enum class ReportedStatus { kSucceeded, kFailed, kRefunded };

// "SUCCEEDED", "FAILED" or "REFUNDED" as the outbox stores it; nullopt otherwise.
std::optional<ReportedStatus> ParseReportedStatus(std::string_view text);

// One outbox row leased by the relay for one delivery attempt.
struct OutboxRow {
  // Position in the outbox; a later event of an order has a larger seq.
  int64_t seq = 0;
  std::string event_id;
  std::string payment_id;
  std::string order_id;
  // outbox.status as stored: "SUCCEEDED", "FAILED" or "REFUNDED".
  std::string status;
  int64_t amount_minor = 0;
  std::string currency;
  int64_t occurred_at_us = 0;
  int64_t created_at_us = 0;
  // Attempts including the one this lease is for (1 on the first delivery).
  int attempts = 0;
  // Earlier failed attempts that count toward backoff and dead letter (not
  // those that found the order service unreachable).
  int failures = 0;
};

// What OrderService.ApplyPaymentEvent decided about a delivered event. A
// DUPLICATE whose first delivery required a refund counts as kRefundRequired.
enum class ApplyOutcome { kApplied, kDuplicate, kIgnored, kRefundRequired };

// "APPLIED", "DUPLICATE", "IGNORED" or "REFUND_REQUIRED" (outbox.apply_outcome).
std::string_view ToString(ApplyOutcome outcome);

// True when money moved for an order that cannot take it: the reconciler must
// refund, so the relay records an anomaly.
inline bool NeedsRefund(ApplyOutcome outcome) { return outcome == ApplyOutcome::kRefundRequired; }

}  // namespace payonce::relay
