// The persistence port of the relay: the outbox table of the payment
// database. The PostgreSQL adapter implements it; each method is one short
// transaction, and no transaction stays open while events are delivered.
#pragma once

#include <chrono>
#include <cstdint>
#include <string>
#include <vector>

#include "absl/status/status.h"
#include "absl/status/statusor.h"
#include "services/outbox_relay/domain/outbox_event.h"

namespace payonce::relay {

// An event the order service acknowledged.
struct Delivery {
  int64_t seq = 0;
  ApplyOutcome outcome = ApplyOutcome::kApplied;
};

// A delivery newly recorded in the outbox.
struct RecordedDelivery {
  int64_t seq = 0;
  // From the row's creation (the payment's commit) to its delivery.
  double lag_seconds = 0;
};

// A delivery attempt that failed, and what the retry policy decided.
struct FailedAttempt {
  int64_t seq = 0;
  // The attempts count of the lease; a row leased again since is left alone.
  int attempts = 0;
  // "<CODE>: message".
  std::string error;
  bool dead_letter = false;
  std::chrono::milliseconds retry_after{0};
  // The row's counted failures, this one included (FailureDecision).
  int failures = 0;
};

// How far behind the relay is.
struct OutboxBacklog {
  // Rows neither delivered nor dead-lettered.
  int64_t pending = 0;
  // Age of the oldest of them in milliseconds (0 if none).
  int64_t oldest_pending_age_ms = 0;
  // Rows the relay gave up on.
  int64_t dead_letters = 0;
};

class OutboxRepository {
 public:
  virtual ~OutboxRepository() = default;

  // Leases up to `limit` due rows, oldest first, each the oldest undelivered,
  // not dead-lettered row of its order: counts the attempt and hides the row
  // from every relay for `lease`. Rows locked by another relay are skipped.
  virtual absl::StatusOr<std::vector<OutboxRow>> ClaimDue(int limit,
                                                          std::chrono::milliseconds lease) = 0;

  // Records acknowledged deliveries (delivered_at, apply_outcome) and, for
  // REFUND_REQUIRED, an anomaly for the reconciler, in one transaction.
  // Returns the rows newly marked (not those some other relay marked first).
  virtual absl::StatusOr<std::vector<RecordedDelivery>> MarkDelivered(
      const std::vector<Delivery>& deliveries) = 0;

  // Records failed attempts: last_error, and either the next attempt time or
  // dead_lettered_at. Rows delivered or leased again meanwhile are left alone.
  virtual absl::Status RecordFailures(const std::vector<FailedAttempt>& failures) = 0;

  // Hands leased rows back undelivered, due now, without counting the attempt.
  virtual absl::Status Release(const std::vector<OutboxRow>& rows) = 0;

  // Pending rows, the oldest pending age and dead letters (a cheap query).
  virtual absl::StatusOr<OutboxBacklog> Backlog() = 0;
};

}  // namespace payonce::relay
