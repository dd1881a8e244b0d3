#include "services/outbox_relay/adapters/pg/pg_outbox_repository.h"

#include <algorithm>
#include <string>

#include "services/common/pg_array.h"
#include "services/common/pg_statement.h"

namespace payonce::relay {
namespace {

// Leases due rows. A row is due when it is neither delivered nor
// dead-lettered, its next attempt time has come (a lease in force pushes it
// into the future), and no earlier row of its order is still undelivered and
// not dead-lettered: a later event of an order never overtakes an earlier
// one, so a pass holds at most one row per order. A dead letter no longer
// blocks its order (the reconciler repairs the order from payment state;
// a later RetryDeadLetter delivers it late, which ApplyPaymentEvent's
// monotonic state machine tolerates). SKIP LOCKED lets replicas claim
// disjoint rows; a crashed relay's rows come back when the lease expires.
// Ordered by the due index (next_attempt_at, seq), not by seq alone: ordering
// by seq makes PostgreSQL walk the primary key through every delivered row
// the outbox has ever held. Order among different orders does not matter.
constexpr PgStatement kClaimDue{"pg_outbox_repository.claim_due", R"sql(
WITH due AS (
  SELECT o.seq FROM outbox o
  WHERE o.delivered_at IS NULL AND o.dead_lettered_at IS NULL AND o.next_attempt_at <= now()
    AND NOT EXISTS (
      SELECT 1 FROM outbox earlier
      WHERE earlier.order_id = o.order_id AND earlier.seq < o.seq
        AND earlier.delivered_at IS NULL AND earlier.dead_lettered_at IS NULL)
  ORDER BY o.next_attempt_at, o.seq
  LIMIT $1
  FOR UPDATE OF o SKIP LOCKED)
UPDATE outbox SET attempts = outbox.attempts + 1,
                  next_attempt_at = now() + $2::bigint * interval '1 millisecond'
FROM due WHERE outbox.seq = due.seq
RETURNING outbox.seq, outbox.event_id, outbox.payment_id, outbox.order_id, outbox.status,
  outbox.amount_minor, outbox.currency,
  (extract(epoch FROM outbox.occurred_at) * 1000000)::bigint,
  (extract(epoch FROM outbox.created_at) * 1000000)::bigint,
  outbox.attempts, outbox.failures)sql"};

// Marks acknowledged rows delivered (a delivered row is no dead letter, even
// if another relay gave up on it meanwhile) and records a refund_required
// anomaly for each REFUND_REQUIRED outcome, in one statement. Rows another
// relay marked first keep their first outcome.
constexpr PgStatement kMarkDelivered{"pg_outbox_repository.mark_delivered", R"sql(
WITH delivered AS (
  UPDATE outbox o SET delivered_at = now(), apply_outcome = d.outcome, dead_lettered_at = NULL
  FROM unnest($1::bigint[], $2::text[]) AS d(seq, outcome)
  WHERE o.seq = d.seq AND o.delivered_at IS NULL
  RETURNING o.seq, o.event_id, o.payment_id, o.order_id, o.apply_outcome,
            extract(epoch FROM o.delivered_at - o.created_at)::float8 AS lag_seconds),
refunds AS (
  INSERT INTO anomalies (kind, payment_id, order_id, detail)
  SELECT 'refund_required', payment_id, order_id,
         'order service answered REFUND_REQUIRED to outbox event ' || event_id
  FROM delivered WHERE apply_outcome = 'REFUND_REQUIRED')
SELECT seq, lag_seconds FROM delivered)sql"};

// Records failed attempts of the rows still under the lease they were
// delivered with (same attempts count, not delivered, not dead-lettered).
constexpr PgStatement kRecordFailures{"pg_outbox_repository.record_failures", R"sql(
UPDATE outbox o SET
  last_error = f.error,
  failures = f.failures,
  next_attempt_at = CASE WHEN f.dead_letter THEN o.next_attempt_at
                         ELSE now() + f.retry_after_ms * interval '1 millisecond' END,
  dead_lettered_at = CASE WHEN f.dead_letter THEN now() END
FROM unnest($1::bigint[], $2::integer[], $3::text[], $4::boolean[], $5::bigint[],
            $6::integer[])
  AS f(seq, attempts, error, dead_letter, retry_after_ms, failures)
WHERE o.seq = f.seq AND o.attempts = f.attempts
  AND o.delivered_at IS NULL AND o.dead_lettered_at IS NULL)sql"};

// Gives unsent rows back: due now, the attempt not counted.
constexpr PgStatement kRelease{"pg_outbox_repository.release", R"sql(
UPDATE outbox o SET attempts = o.attempts - 1, next_attempt_at = now()
FROM unnest($1::bigint[], $2::integer[]) AS r(seq, attempts)
WHERE o.seq = r.seq AND o.attempts = r.attempts
  AND o.delivered_at IS NULL AND o.dead_lettered_at IS NULL)sql"};

// Served by the partial indexes outbox_due_idx and outbox_dead_letter_idx.
constexpr PgStatement kBacklog{"pg_outbox_repository.backlog", R"sql(
SELECT p.n, coalesce(greatest((extract(epoch FROM now() - p.oldest) * 1000)::bigint, 0), 0), d.n
FROM (SELECT count(*) AS n, min(created_at) AS oldest FROM outbox
      WHERE delivered_at IS NULL AND dead_lettered_at IS NULL) p,
     (SELECT count(*) AS n FROM outbox WHERE dead_lettered_at IS NOT NULL) d)sql"};

}  // namespace

absl::StatusOr<std::vector<OutboxRow>> PgOutboxRepository::ClaimDue(
    int limit, std::chrono::milliseconds lease) {
  return pool_.InTransaction([&](pqxx::work& tx) -> absl::StatusOr<std::vector<OutboxRow>> {
    std::vector<OutboxRow> rows;
    for (const auto& r : Exec(tx, kClaimDue, limit, static_cast<int64_t>(lease.count()))) {
      OutboxRow row;
      row.seq = r[0].as<int64_t>();
      row.event_id = r[1].as<std::string>();
      row.payment_id = r[2].as<std::string>();
      row.order_id = r[3].as<std::string>();
      row.status = r[4].as<std::string>();
      row.amount_minor = r[5].as<int64_t>();
      row.currency = r[6].as<std::string>();
      row.occurred_at_us = r[7].as<int64_t>();
      row.created_at_us = r[8].as<int64_t>();
      row.attempts = r[9].as<int>();
      row.failures = r[10].as<int>();
      rows.push_back(std::move(row));
    }
    std::sort(rows.begin(), rows.end(),
              [](const OutboxRow& a, const OutboxRow& b) { return a.seq < b.seq; });
    return rows;
  });
}

absl::StatusOr<std::vector<RecordedDelivery>> PgOutboxRepository::MarkDelivered(
    const std::vector<Delivery>& deliveries) {
  std::vector<int64_t> seqs;
  std::vector<std::string> outcomes;
  for (const auto& d : deliveries) {
    seqs.push_back(d.seq);
    outcomes.emplace_back(ToString(d.outcome));
  }
  return pool_.InTransaction([&](pqxx::work& tx) -> absl::StatusOr<std::vector<RecordedDelivery>> {
    std::vector<RecordedDelivery> out;
    for (const auto& r : Exec(tx, kMarkDelivered, PgArrayLiteral(seqs), PgArrayLiteral(outcomes))) {
      out.push_back({r[0].as<int64_t>(), r[1].as<double>()});
    }
    return out;
  });
}

absl::Status PgOutboxRepository::RecordFailures(const std::vector<FailedAttempt>& failures) {
  std::vector<int64_t> seqs;
  std::vector<int> attempts;
  std::vector<std::string> errors;
  std::vector<bool> dead_letters;
  std::vector<int64_t> retry_after_ms;
  std::vector<int> counted;
  for (const auto& f : failures) {
    seqs.push_back(f.seq);
    attempts.push_back(f.attempts);
    errors.push_back(f.error);
    dead_letters.push_back(f.dead_letter);
    retry_after_ms.push_back(f.retry_after.count());
    counted.push_back(f.failures);
  }
  return pool_.InTransaction([&](pqxx::work& tx) -> absl::Status {
    Exec(tx, kRecordFailures, PgArrayLiteral(seqs), PgArrayLiteral(attempts),
         PgArrayLiteral(errors), PgArrayLiteral(dead_letters), PgArrayLiteral(retry_after_ms),
         PgArrayLiteral(counted));
    return absl::OkStatus();
  });
}

absl::Status PgOutboxRepository::Release(const std::vector<OutboxRow>& rows) {
  std::vector<int64_t> seqs;
  std::vector<int> attempts;
  for (const auto& r : rows) {
    seqs.push_back(r.seq);
    attempts.push_back(r.attempts);
  }
  return pool_.InTransaction([&](pqxx::work& tx) -> absl::Status {
    Exec(tx, kRelease, PgArrayLiteral(seqs), PgArrayLiteral(attempts));
    return absl::OkStatus();
  });
}

absl::StatusOr<OutboxBacklog> PgOutboxRepository::Backlog() {
  return pool_.WithConnection([&](pqxx::connection& c) -> absl::StatusOr<OutboxBacklog> {
    pqxx::read_transaction tx(c);
    const auto r = Exec1(tx, kBacklog);
    return OutboxBacklog{r[0].as<int64_t>(), r[1].as<int64_t>(), r[2].as<int64_t>()};
  });
}

}  // namespace payonce::relay
