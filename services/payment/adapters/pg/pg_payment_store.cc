#include "services/payment/adapters/pg/pg_payment_store.h"

#include <algorithm>
#include <chrono>
#include <map>
#include <set>
#include <unordered_set>

#include "services/common/group_commit.h"
#include "services/common/pg_array.h"
#include "services/common/pg_statement.h"
#include "services/payment/adapters/pg/pg_payment_rows.h"

namespace payonce::payment {
namespace {

#define PAYMENT_COLUMNS                                              \
  "payment_id, order_id, amount_minor, currency, status, provider, " \
  "coalesce(provider_txn_id, ''), failure_reason, late_success, "    \
  "(extract(epoch FROM created_at) * 1000000)::bigint, "             \
  "(extract(epoch FROM updated_at) * 1000000)::bigint, evidence_rank"

// Locks a batch's payments in id order, so concurrent batches cannot deadlock.
constexpr PgStatement kLockPaymentsInOrder{
    "pg_payment_store.lock_payments_in_order",
    "SELECT " PAYMENT_COLUMNS
    " FROM payments WHERE payment_id = ANY($1::text[]) ORDER BY payment_id FOR UPDATE"};

constexpr PgStatement kSelectPayment{"pg_payment_store.select_payment",
                                     "SELECT " PAYMENT_COLUMNS
                                     " FROM payments WHERE payment_id = $1"};
constexpr PgStatement kSelectPaymentsForOrder{
    "pg_payment_store.select_payments_for_order",
    "SELECT " PAYMENT_COLUMNS " FROM payments WHERE order_id = $1 ORDER BY created_at, payment_id"};
constexpr PgStatement kSelectBlockingPayment{
    "pg_payment_store.select_blocking_payment",
    "SELECT " PAYMENT_COLUMNS
    " FROM payments WHERE order_id = $1 "
    "AND status IN ('PENDING', 'SUCCEEDED') ORDER BY created_at LIMIT 1"};
constexpr PgStatement kSelectLivePayment{"pg_payment_store.select_live_payment",
                                         "SELECT " PAYMENT_COLUMNS
                                         " FROM payments WHERE order_id = $1 AND live"};

// The partial unique index payments_one_live_per_order decides.
constexpr PgStatement kInsertPendingPayment{
    "pg_payment_store.insert_pending_payment",
    "INSERT INTO payments (payment_id, order_id, amount_minor, currency, status, provider) "
    "VALUES ($1, $2, $3, $4, 'PENDING', $5) "
    "ON CONFLICT (order_id) WHERE live DO NOTHING RETURNING " PAYMENT_COLUMNS};

constexpr PgStatement kRecordDebit{
    "pg_payment_store.record_debit",
    "UPDATE payments SET provider_txn_id = coalesce(provider_txn_id, $2), "
    "updated_at = clock_timestamp() WHERE payment_id = $1"};

constexpr PgStatement kMarkRefunded{
    "pg_payment_store.mark_refunded",
    "UPDATE payments SET status = 'REFUNDED', live = false, updated_at = clock_timestamp() "
    "WHERE payment_id = $1 RETURNING " PAYMENT_COLUMNS};

#undef PAYMENT_COLUMNS

constexpr PgStatement kInsertIdempotencyKey{
    "pg_payment_store.insert_idempotency_key",
    "INSERT INTO idempotency_keys (scope, key, fingerprint, state, locked_until, expires_at) "
    "VALUES ($1, $2, $3, 'IN_FLIGHT', clock_timestamp() + $4::bigint * interval '1 millisecond', "
    "clock_timestamp() + $5::bigint * interval '1 millisecond') "
    "ON CONFLICT (scope, key) DO NOTHING RETURNING 1"};

constexpr PgStatement kSelectIdempotencyKey{
    "pg_payment_store.select_idempotency_key",
    "SELECT fingerprint, state = 'DONE', coalesce(payment_id, ''), "
    "(extract(epoch FROM locked_until) * 1000)::bigint, "
    "(extract(epoch FROM clock_timestamp()) * 1000)::bigint, expires_at <= clock_timestamp() "
    "FROM idempotency_keys WHERE scope = $1 AND key = $2 FOR UPDATE"};

constexpr PgStatement kRenewIdempotencyKey{
    "pg_payment_store.renew_idempotency_key",
    "UPDATE idempotency_keys SET fingerprint = $3, state = 'IN_FLIGHT', payment_id = NULL, "
    "locked_until = clock_timestamp() + $4::bigint * interval '1 millisecond', "
    "expires_at = clock_timestamp() + $5::bigint * interval '1 millisecond' "
    "WHERE scope = $1 AND key = $2"};

constexpr PgStatement kTakeOverIdempotencyKey{
    "pg_payment_store.take_over_idempotency_key",
    "UPDATE idempotency_keys SET locked_until = clock_timestamp() + $3::bigint * interval "
    "'1 millisecond' WHERE scope = $1 AND key = $2"};

constexpr PgStatement kCompleteIdempotencyKey{
    "pg_payment_store.complete_idempotency_key",
    "UPDATE idempotency_keys SET state = 'DONE', payment_id = $3 WHERE scope = $1 AND key = $2"};

constexpr PgStatement kReleaseIdempotencyKey{
    "pg_payment_store.release_idempotency_key",
    "DELETE FROM idempotency_keys WHERE scope = $1 AND key = $2 AND state = 'IN_FLIGHT'"};

// A sweep deletes at most kSweepBatch rows of each table per transaction (a
// short transaction: callbacks never wait behind a long delete) and goes on
// until a batch finds fewer, or kSweepBudget has passed (the next sweep goes
// on from there). One batch of each per minute capped the sweep at ~83 rows/s,
// below the benchmark's callback rate: the nonce table grew without bound.
constexpr int64_t kSweepBatch = 5000;
constexpr auto kSweepBudget = std::chrono::seconds(10);

constexpr PgStatement kSweepIdempotencyKeys{
    "pg_payment_store.sweep_idempotency_keys",
    "DELETE FROM idempotency_keys WHERE ctid IN (SELECT ctid FROM idempotency_keys "
    "WHERE expires_at < clock_timestamp() LIMIT $1)"};

constexpr PgStatement kSweepNonces{
    "pg_payment_store.sweep_nonces",
    "DELETE FROM callback_nonces WHERE ctid IN (SELECT ctid FROM callback_nonces "
    "WHERE expires_at < clock_timestamp() LIMIT $1)"};

// --- Group commit: one set-based transaction for a batch of callbacks -------
// Each statement handles the whole batch; arrays are passed as literals
// (pg_array.h). Nonces are inserted sorted and payments locked in id order,
// so concurrent batches cannot deadlock on each other.

constexpr PgStatement kInsertNonces{
    "pg_payment_store.insert_nonces",
    "INSERT INTO callback_nonces (nonce, expires_at) "
    "SELECT n, clock_timestamp() + $2::bigint * interval '1 millisecond' "
    "FROM unnest($1::text[]) AS n ON CONFLICT (nonce) DO NOTHING RETURNING nonce"};

constexpr PgStatement kSeenCallbacks{"pg_payment_store.seen_callbacks",
                                     "SELECT c.provider, c.event_id FROM provider_callbacks c "
                                     "JOIN unnest($1::text[], $2::text[]) AS k(provider, event_id) "
                                     "ON c.provider = k.provider AND c.event_id = k.event_id"};

// Everything a batch writes, in one statement (one round trip instead of
// five): the payments' new states, their history, the outbox rows, the
// anomalies and the accepted callbacks. Each part reads its own arrays; an
// empty array writes nothing. The parts touch different tables, and none
// reads what another writes (the history's foreign key is checked at the end
// of the statement, against payments that already exist).
constexpr PgStatement kWriteBatch{"pg_payment_store.write_batch",
                                  R"sql(
WITH updated AS (
  UPDATE payments AS p SET status = u.status, provider_txn_id = nullif(u.provider_txn_id, ''),
    failure_reason = u.failure_reason, evidence_rank = u.evidence_rank, live = u.live,
    late_success = u.late_success, updated_at = clock_timestamp()
  FROM unnest($1::text[], $2::text[], $3::text[], $4::text[], $5::smallint[], $6::boolean[],
              $7::boolean[])
    AS u(payment_id, status, provider_txn_id, failure_reason, evidence_rank, live, late_success)
  WHERE p.payment_id = u.payment_id
  RETURNING p.payment_id, (extract(epoch FROM p.updated_at) * 1000000)::bigint AS updated_at_us),
history AS (
  INSERT INTO payment_history (payment_id, source, old_status, new_status, event_id, detail)
  SELECT payment_id, source, nullif(old_status, ''), nullif(new_status, ''),
         nullif(event_id, ''), detail
  FROM unnest($8::text[], $9::text[], $10::text[], $11::text[], $12::text[], $13::text[])
    WITH ORDINALITY AS h(payment_id, source, old_status, new_status, event_id, detail, n)
  ORDER BY n),
outbox_rows AS (
  INSERT INTO outbox (event_id, payment_id, order_id, status, amount_minor, currency, occurred_at)
  SELECT event_id, payment_id, order_id, status, amount_minor, currency,
         CASE WHEN occurred_ms > 0
              THEN timestamptz 'epoch' + occurred_ms * interval '1 millisecond'
              ELSE clock_timestamp() END
  FROM unnest($14::text[], $15::text[], $16::text[], $17::text[], $18::bigint[], $19::text[],
              $20::bigint[])
    WITH ORDINALITY AS o(event_id, payment_id, order_id, status, amount_minor, currency,
                         occurred_ms, n)
  ORDER BY n),
anomaly_rows AS (
  INSERT INTO anomalies (kind, payment_id, order_id, provider_txn_id, detail, status)
  SELECT kind, payment_id, order_id, nullif(provider_txn_id, ''), detail, 'OPEN'
  FROM unnest($21::text[], $22::text[], $23::text[], $24::text[], $25::text[])
    AS a(kind, payment_id, order_id, provider_txn_id, detail)
  ON CONFLICT DO NOTHING),
callback_rows AS (
  INSERT INTO provider_callbacks (provider, event_id, payment_id, provider_txn_id, status, outcome)
  SELECT * FROM unnest($26::text[], $27::text[], $28::text[], $29::text[], $30::text[],
                       $31::text[]))
SELECT payment_id, updated_at_us FROM updated)sql"};

// Columns of a batch statement, one vector per array parameter.
struct TextColumns {
  explicit TextColumns(size_t n) : columns(n) {}
  void Add(std::initializer_list<std::string> row) {
    size_t i = 0;
    for (const auto& v : row) columns[i++].push_back(v);
  }
  bool empty() const { return columns.empty() || columns[0].empty(); }
  std::string operator[](size_t i) const { return PgArrayLiteral(columns[i]); }
  std::vector<std::vector<std::string>> columns;
};

}  // namespace

absl::StatusOr<Payment> PgPaymentStore::Get(const std::string& payment_id) {
  return pool_.WithConnection([&](pqxx::connection& c) -> absl::StatusOr<Payment> {
    pqxx::read_transaction tx(c);
    const auto rows = Exec(tx, kSelectPayment, payment_id);
    if (rows.empty()) return absl::NotFoundError("payment " + payment_id + " not found");
    return PaymentFromRow(rows[0]);
  });
}

absl::StatusOr<std::vector<Payment>> PgPaymentStore::ListForOrder(const std::string& order_id) {
  return pool_.WithConnection([&](pqxx::connection& c) -> absl::StatusOr<std::vector<Payment>> {
    pqxx::read_transaction tx(c);
    std::vector<Payment> out;
    for (const auto& r : Exec(tx, kSelectPaymentsForOrder, order_id)) {
      out.push_back(PaymentFromRow(r));
    }
    return out;
  });
}

absl::StatusOr<IdempotencyClaim> PgPaymentStore::ClaimIdempotencyKey(
    const std::string& scope, const std::string& key, const std::string& fingerprint,
    std::chrono::milliseconds lock_for, std::chrono::milliseconds keep_for) {
  return pool_.InTransaction([&](pqxx::work& tx) -> absl::StatusOr<IdempotencyClaim> {
    IdempotencyClaim claim;
    if (!Exec(tx, kInsertIdempotencyKey, scope, key, fingerprint, lock_for.count(),
              keep_for.count())
             .empty()) {
      return claim;  // kProceed: this request owns the key
    }
    const auto row = Exec1(tx, kSelectIdempotencyKey, scope, key);
    if (row[5].as<bool>()) {
      // Expired but not swept yet: the key is free again.
      Exec(tx, kRenewIdempotencyKey, scope, key, fingerprint, lock_for.count(), keep_for.count());
      return claim;
    }
    IdempotencyRecord record;
    record.fingerprint = row[0].as<std::string>();
    record.done = row[1].as<bool>();
    record.locked_until =
        std::chrono::system_clock::time_point(std::chrono::milliseconds(row[3].as<int64_t>()));
    const auto now =
        std::chrono::system_clock::time_point(std::chrono::milliseconds(row[4].as<int64_t>()));
    claim.action = DecideIdempotency(record, fingerprint, now);
    claim.payment_id = row[2].as<std::string>();
    if (claim.action == IdempotencyAction::kTakeOver) {
      Exec(tx, kTakeOverIdempotencyKey, scope, key, lock_for.count());
    }
    return claim;
  });
}

absl::Status PgPaymentStore::CompleteIdempotencyKey(const std::string& scope,
                                                    const std::string& key,
                                                    const std::string& payment_id) {
  return pool_.InTransaction([&](pqxx::work& tx) -> absl::Status {
    Exec(tx, kCompleteIdempotencyKey, scope, key, payment_id);
    return absl::OkStatus();
  });
}

absl::Status PgPaymentStore::ReleaseIdempotencyKey(const std::string& scope,
                                                   const std::string& key) {
  return pool_.InTransaction([&](pqxx::work& tx) -> absl::Status {
    Exec(tx, kReleaseIdempotencyKey, scope, key);
    return absl::OkStatus();
  });
}

absl::StatusOr<std::optional<Payment>> PgPaymentStore::FindBlockingPayment(
    const std::string& order_id) {
  return pool_.WithConnection([&](pqxx::connection& c) -> absl::StatusOr<std::optional<Payment>> {
    pqxx::read_transaction tx(c);
    const auto rows = Exec(tx, kSelectBlockingPayment, order_id);
    if (rows.empty()) return std::optional<Payment>();
    return std::optional<Payment>(PaymentFromRow(rows[0]));
  });
}

absl::StatusOr<PaymentInsert> PgPaymentStore::InsertPendingPayment(const Payment& payment) {
  return pool_.InTransaction([&](pqxx::work& tx) -> absl::StatusOr<PaymentInsert> {
    const auto rows = Exec(tx, kInsertPendingPayment, payment.payment_id, payment.order_id,
                           payment.amount_minor, payment.currency, payment.provider);
    if (!rows.empty()) {
      AppendPaymentHistory(tx, payment.payment_id, "api", "", "PENDING", "",
                           "payment created; debit follows");
      return PaymentInsert{PaymentFromRow(rows[0]), true};
    }
    const auto live = Exec(tx, kSelectLivePayment, payment.order_id);
    if (live.empty()) return absl::AbortedError("concurrent payment attempt; retry");
    return PaymentInsert{PaymentFromRow(live[0]), false};
  });
}

absl::Status PgPaymentStore::RecordDebit(const std::string& payment_id,
                                         const std::string& provider_txn_id) {
  return pool_.InTransaction([&](pqxx::work& tx) -> absl::Status {
    Exec(tx, kRecordDebit, payment_id, provider_txn_id);
    return absl::OkStatus();
  });
}

absl::StatusOr<CallbackResult> PgPaymentStore::ApplyCallback(const CallbackMessage& m) {
  // A batch of one: the same planner and statement as the batch path.
  const std::vector<std::string> outbox_event_ids = {ids_.NewId()};
  return notifier_.InTransaction(
      pool_, [&](pqxx::work& tx, bool& appended_outbox) -> absl::StatusOr<CallbackResult> {
        auto results = ApplyCallbackBatch(tx, {m}, outbox_event_ids, appended_outbox);
        if (!results.ok()) return results.status();
        return std::move(results->front());
      });
}

std::vector<absl::StatusOr<CallbackResult>> PgPaymentStore::ApplyCallbacks(
    const std::vector<CallbackMessage>& callbacks) {
  std::vector<absl::StatusOr<CallbackResult>> out;
  out.reserve(callbacks.size());
  if (callbacks.size() == 1) {
    out.push_back(ApplyCallback(callbacks[0]));
    return out;
  }
  std::vector<std::string> outbox_event_ids;
  outbox_event_ids.reserve(callbacks.size());
  for (size_t i = 0; i < callbacks.size(); ++i) outbox_event_ids.push_back(ids_.NewId());
  auto batch = notifier_.InTransaction(pool_, [&](pqxx::work& tx, bool& appended_outbox) {
    return ApplyCallbackBatch(tx, callbacks, outbox_event_ids, appended_outbox);
  });
  if (batch.ok()) {
    for (auto& r : *batch) out.push_back(std::move(r));
    return out;
  }
  if (!SplitFailedBatch(batch.status())) {
    // Every callback gets the error and the provider retries.
    out.assign(callbacks.size(), batch.status());
    return out;
  }
  // Something in the batch failed (a deadlock, a constraint, a bad value):
  // each callback on its own, so only the culprit fails.
  for (const auto& m : callbacks) out.push_back(ApplyCallback(m));
  return out;
}

absl::StatusOr<std::vector<CallbackResult>> PgPaymentStore::ApplyCallbackBatch(
    pqxx::work& tx, const std::vector<CallbackMessage>& callbacks,
    const std::vector<std::string>& outbox_event_ids, bool& appended_outbox) {
  const size_t n = callbacks.size();

  // 1. Nonces: the first use wins, within the batch as against the table.
  std::vector<std::string> nonce_keys(n);
  std::set<std::string> batch_nonces;
  std::vector<bool> replayed(n, false);
  for (size_t i = 0; i < n; ++i) {
    nonce_keys[i] = callbacks[i].provider + ":" + callbacks[i].nonce;
    if (!batch_nonces.insert(nonce_keys[i]).second) replayed[i] = true;
  }
  std::unordered_set<std::string> fresh;
  for (const auto& r :
       Exec(tx, kInsertNonces,
            PgArrayLiteral(std::vector<std::string>(batch_nonces.begin(), batch_nonces.end())),
            kNonceTtl.count())) {
    fresh.insert(r[0].as<std::string>());
  }
  for (size_t i = 0; i < n; ++i) {
    if (!replayed[i] && fresh.count(nonce_keys[i]) == 0) replayed[i] = true;
  }

  // 2. Lock every payment the batch touches, in id order. From here on the
  // batch owns them, so the event check of the plan cannot race with a
  // concurrent delivery of the same event.
  CallbackBatchFacts facts;
  facts.replayed = replayed;
  std::set<std::string> payment_ids;
  for (size_t i = 0; i < n; ++i) {
    if (!replayed[i]) payment_ids.insert(callbacks[i].payment_id);
  }
  if (!payment_ids.empty()) {
    for (const auto& r :
         Exec(tx, kLockPaymentsInOrder,
              PgArrayLiteral(std::vector<std::string>(payment_ids.begin(), payment_ids.end())))) {
      Payment p = PaymentFromRow(r);
      std::string id = p.payment_id;
      facts.payments.emplace(std::move(id), LedgerPayment{std::move(p), EvidenceRankFromRow(r)});
    }
  }

  // 3. Events already recorded.
  TextColumns keys(2);
  for (size_t i = 0; i < n; ++i) {
    if (!replayed[i]) keys.Add({callbacks[i].provider, callbacks[i].event_id});
  }
  if (!keys.empty()) {
    for (const auto& r : Exec(tx, kSeenCallbacks, keys[0], keys[1])) {
      facts.recorded_events.emplace(r[0].as<std::string>(), r[1].as<std::string>());
    }
  }

  // 4. Decide, callback by callback in arrival order (the domain's planner).
  CallbacksPlan plan = PlanCallbacks(callbacks, outbox_event_ids, std::move(facts));

  // 5. Write it all in one statement.
  TextColumns updates(4), history(6), anomalies(5), recorded(6);
  TextColumns outbox_text(4), outbox_currency(1);
  std::vector<int64_t> outbox_amounts, outbox_occurred;
  std::vector<int> ranks;
  std::vector<bool> lives, late;
  for (const auto& [id, update] : plan.updates) {
    const Payment& p = update.ledger.payment;
    updates.Add({id, std::string(ToString(p.status)), p.provider_txn_id, p.failure_reason});
    ranks.push_back(static_cast<int>(update.ledger.rank));
    lives.push_back(update.live);
    late.push_back(p.late_success);
  }
  for (const auto& h : plan.history) {
    history.Add({h.payment_id, h.entry.source, h.entry.old_status, h.entry.new_status,
                 h.entry.event_id, h.entry.detail});
  }
  for (const auto& a : plan.anomalies) {
    anomalies.Add({a.kind, a.payment_id, a.order_id, a.provider_txn_id, a.detail});
  }
  for (const auto& o : plan.outbox) {
    outbox_text.Add({o.event_id, o.payment.payment_id, o.payment.order_id,
                     std::string(ToString(o.payment.status))});
    outbox_amounts.push_back(o.payment.amount_minor);
    outbox_currency.Add({o.payment.currency});
    outbox_occurred.push_back(o.occurred_at_unix_ms);
  }
  for (const auto& c : plan.recorded) {
    recorded.Add({c.provider, c.event_id, c.payment_id, c.provider_txn_id, c.status, c.outcome});
  }
  // A batch of duplicates and rejections writes nothing but its nonces.
  if (updates.empty() && history.empty() && anomalies.empty() && recorded.empty()) {
    return std::move(plan.results);
  }
  std::map<std::string, int64_t> updated_at;
  for (const auto& r :
       Exec(tx, kWriteBatch, updates[0], updates[1], updates[2], updates[3], PgArrayLiteral(ranks),
            PgArrayLiteral(lives), PgArrayLiteral(late), history[0], history[1], history[2],
            history[3], history[4], history[5], outbox_text[0], outbox_text[1], outbox_text[2],
            outbox_text[3], PgArrayLiteral(outbox_amounts), outbox_currency[0],
            PgArrayLiteral(outbox_occurred), anomalies[0], anomalies[1], anomalies[2], anomalies[3],
            anomalies[4], recorded[0], recorded[1], recorded[2], recorded[3], recorded[4],
            recorded[5])) {
    updated_at[r[0].as<std::string>()] = r[1].as<int64_t>();
  }
  for (auto& result : plan.results) {
    if (result.effect == CallbackEffect::kApplied) {
      result.payment.updated_at_us = updated_at[result.payment.payment_id];
    }
  }
  appended_outbox = !plan.outbox.empty();
  return std::move(plan.results);
}

absl::StatusOr<Payment> PgPaymentStore::MarkRefunded(const std::string& payment_id,
                                                     const std::string& refund_id,
                                                     const std::string& reason) {
  const std::string outbox_event_id = ids_.NewId();
  return notifier_.InTransaction(
      pool_, [&](pqxx::work& tx, bool& appended_outbox) -> absl::StatusOr<Payment> {
        const auto locked = LockPayment(tx, payment_id);
        if (!locked) return absl::NotFoundError("payment " + payment_id + " not found");
        const Payment& current = locked->first;
        if (current.status == PaymentStatus::kRefunded) return current;
        if (auto s = CheckRefundable(current.status); !s.ok()) return s;
        Payment refunded = PaymentFromRow(Exec1(tx, kMarkRefunded, payment_id));
        AppendPaymentHistory(tx, payment_id, "api", "SUCCEEDED", "REFUNDED", "",
                             "refund " + refund_id + (reason.empty() ? "" : ": " + reason));
        AppendOutbox(tx, outbox_event_id, refunded, PaymentStatus::kRefunded, 0);
        appended_outbox = true;
        return refunded;
      });
}

absl::StatusOr<int64_t> PgPaymentStore::SweepExpired() {
  const auto deadline = std::chrono::steady_clock::now() + kSweepBudget;
  int64_t swept = 0;
  while (true) {
    bool more = false;
    auto batch = pool_.InTransaction([&](pqxx::work& tx) -> absl::StatusOr<int64_t> {
      const auto keys = Exec(tx, kSweepIdempotencyKeys, kSweepBatch);
      const auto nonces = Exec(tx, kSweepNonces, kSweepBatch);
      more = static_cast<int64_t>(keys.affected_rows()) == kSweepBatch ||
             static_cast<int64_t>(nonces.affected_rows()) == kSweepBatch;
      return static_cast<int64_t>(keys.affected_rows() + nonces.affected_rows());
    });
    if (!batch.ok()) return swept > 0 ? absl::StatusOr<int64_t>(swept) : batch.status();
    swept += *batch;
    if (!more || std::chrono::steady_clock::now() >= deadline) return swept;
  }
}

}  // namespace payonce::payment
