// The persistence port of OutboxAdmin: the operator's view of the
// transactional outbox. The PostgreSQL adapter implements it; each method is
// one transaction.
#pragma once

#include <cstdint>
#include <optional>
#include <string>
#include <vector>

#include "absl/status/statusor.h"
#include "services/common/domain/page_token.h"
#include "services/payment/domain/payment.h"

namespace payonce::payment {

// One outbox row as an operator sees it.
struct OutboxEventRecord {
  std::string event_id;
  std::string payment_id;
  std::string order_id;
  // nullopt if the stored status is not a payment status.
  std::optional<PaymentStatus> status;
  int64_t amount_minor = 0;
  std::string currency;
  int64_t created_at_us = 0;
  std::optional<int64_t> delivered_at_us;
  int attempts = 0;
  std::string last_error;
  std::optional<int64_t> dead_lettered_at_us;
  int64_t next_attempt_at_us = 0;
};

// How the outbox stands.
struct OutboxCounters {
  // Rows neither delivered nor dead-lettered.
  int64_t pending = 0;
  // Age of the oldest pending row in milliseconds (0 if none).
  int64_t oldest_pending_age_ms = 0;
  int64_t dead_letters = 0;
  // Rows delivered during the last 60 seconds.
  int64_t delivered_last_minute = 0;
};

// What RetryDeadLetter found and did.
struct DeadLetterRetry {
  OutboxEventRecord event;
  // True if the row was a dead letter and is now back in line.
  bool requeued = false;
};

struct DeadLetterQuery {
  int limit = 50;
  // (dead_lettered_at in µs, event_id) of the last row of the previous page.
  std::optional<PageCursor> after;
};

class OutboxAdminStore {
 public:
  virtual ~OutboxAdminStore() = default;

  virtual absl::StatusOr<OutboxCounters> Counters() = 0;
  // Dead letters, newest first (dead_lettered_at, then event_id, descending),
  // at most query.limit rows after the cursor.
  virtual absl::StatusOr<std::vector<OutboxEventRecord>> ListDeadLetters(
      const DeadLetterQuery& query) = 0;
  // Puts a dead letter back in line (attempts 0, due now, the relay woken by
  // NOTIFY payonce_outbox) and returns it; any other row is returned
  // unchanged. NOT_FOUND if no row has this event_id.
  virtual absl::StatusOr<DeadLetterRetry> RetryDeadLetter(const std::string& event_id) = 0;
};

}  // namespace payonce::payment
