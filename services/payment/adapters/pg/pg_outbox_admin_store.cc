#include "services/payment/adapters/pg/pg_outbox_admin_store.h"

#include <string>

#include "services/common/pg_statement.h"
#include "services/payment/adapters/pg/pg_payment_rows.h"

namespace payonce::payment {
namespace {

#define OUTBOX_COLUMNS                                                           \
  "event_id, payment_id, order_id, status, amount_minor, currency, "             \
  "(extract(epoch FROM created_at) * 1000000)::bigint, "                         \
  "(extract(epoch FROM delivered_at) * 1000000)::bigint, attempts, last_error, " \
  "(extract(epoch FROM dead_lettered_at) * 1000000)::bigint, "                   \
  "(extract(epoch FROM next_attempt_at) * 1000000)::bigint"

// Pending and dead letters are served by the partial indexes outbox_due_idx
// and outbox_dead_letter_idx, the last minute by outbox_delivered_idx.
constexpr PgStatement kCounters{"pg_outbox_admin_store.counters", R"sql(
SELECT p.n, coalesce(greatest((extract(epoch FROM now() - p.oldest) * 1000)::bigint, 0), 0),
       (SELECT count(*) FROM outbox WHERE dead_lettered_at IS NOT NULL),
       (SELECT count(*) FROM outbox WHERE delivered_at > now() - interval '60 seconds')
FROM (SELECT count(*) AS n, min(created_at) AS oldest FROM outbox
      WHERE delivered_at IS NULL AND dead_lettered_at IS NULL) p)sql"};

constexpr PgStatement kListDeadLetters{
    "pg_outbox_admin_store.list_dead_letters",
    "SELECT " OUTBOX_COLUMNS
    " FROM outbox WHERE dead_lettered_at IS NOT NULL "
    "AND (NOT $1 OR (dead_lettered_at, event_id) < "
    "     (timestamptz 'epoch' + $2::bigint * interval '1 microsecond', $3)) "
    "ORDER BY dead_lettered_at DESC, event_id DESC LIMIT $4"};

// A full budget of attempts again; keeps last_error as evidence of why the
// relay gave up.
constexpr PgStatement kRetryDeadLetter{
    "pg_outbox_admin_store.retry_dead_letter",
    "UPDATE outbox SET dead_lettered_at = NULL, attempts = 0, failures = 0, next_attempt_at = "
    "now() "
    "WHERE event_id = $1 AND dead_lettered_at IS NOT NULL AND delivered_at IS NULL "
    "RETURNING " OUTBOX_COLUMNS};

constexpr PgStatement kSelectByEventId{"pg_outbox_admin_store.select_by_event_id",
                                       "SELECT " OUTBOX_COLUMNS " FROM outbox WHERE event_id = $1"};

#undef OUTBOX_COLUMNS

std::optional<int64_t> OptionalMicros(const pqxx::field& f) {
  if (f.is_null()) return std::nullopt;
  return f.as<int64_t>();
}

OutboxEventRecord RecordFromRow(const pqxx::row& r) {
  OutboxEventRecord e;
  e.event_id = r[0].as<std::string>();
  e.payment_id = r[1].as<std::string>();
  e.order_id = r[2].as<std::string>();
  e.status = ParsePaymentStatus(r[3].as<std::string>());
  e.amount_minor = r[4].as<int64_t>();
  e.currency = r[5].as<std::string>();
  e.created_at_us = r[6].as<int64_t>();
  e.delivered_at_us = OptionalMicros(r[7]);
  e.attempts = r[8].as<int>();
  e.last_error = r[9].as<std::string>();
  e.dead_lettered_at_us = OptionalMicros(r[10]);
  e.next_attempt_at_us = r[11].as<int64_t>();
  return e;
}

}  // namespace

absl::StatusOr<OutboxCounters> PgOutboxAdminStore::Counters() {
  return pool_.WithConnection([&](pqxx::connection& c) -> absl::StatusOr<OutboxCounters> {
    pqxx::read_transaction tx(c);
    const auto r = Exec1(tx, kCounters);
    return OutboxCounters{r[0].as<int64_t>(), r[1].as<int64_t>(), r[2].as<int64_t>(),
                          r[3].as<int64_t>()};
  });
}

absl::StatusOr<std::vector<OutboxEventRecord>> PgOutboxAdminStore::ListDeadLetters(
    const DeadLetterQuery& query) {
  return pool_.WithConnection(
      [&](pqxx::connection& c) -> absl::StatusOr<std::vector<OutboxEventRecord>> {
        pqxx::read_transaction tx(c);
        const bool has_cursor = query.after.has_value();
        const int64_t cursor_at = has_cursor ? query.after->position : 0;
        const std::string cursor_id = has_cursor ? query.after->id : "";
        std::vector<OutboxEventRecord> out;
        for (const auto& r :
             Exec(tx, kListDeadLetters, has_cursor, cursor_at, cursor_id, query.limit)) {
          out.push_back(RecordFromRow(r));
        }
        return out;
      });
}

absl::StatusOr<DeadLetterRetry> PgOutboxAdminStore::RetryDeadLetter(const std::string& event_id) {
  return notifier_.InTransaction(
      pool_, [&](pqxx::work& tx, bool& requeued) -> absl::StatusOr<DeadLetterRetry> {
        const auto retried = Exec(tx, kRetryDeadLetter, event_id);
        requeued = !retried.empty();
        if (requeued) return DeadLetterRetry{RecordFromRow(retried[0]), true};
        // Not a dead letter (any more): answer the row as it is. A concurrent
        // retry of the same row waited for the first one's lock above.
        const auto rows = Exec(tx, kSelectByEventId, event_id);
        if (rows.empty()) return absl::NotFoundError("outbox event " + event_id + " not found");
        return DeadLetterRetry{RecordFromRow(rows[0]), false};
      });
}

}  // namespace payonce::payment
