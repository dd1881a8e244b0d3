#include "services/reconciler/adapters/pg/pg_reconcile_store.h"

#include "services/payment/adapters/pg/pg_payment_rows.h"

namespace payonce::reconciler {
namespace {

using payment::Payment;
using payment::PaymentFromRow;

const std::string kColumns = payment::kPaymentColumns;

// PENDING payments past the threshold, each claimed by one replica: the row
// lock (SKIP LOCKED) picks, the lease (reconcile_after) keeps others away
// while this replica asks the provider without holding a transaction.
const std::string kClaimStuck =
    "UPDATE payments SET reconcile_after = clock_timestamp() + $3::bigint * interval '1 ms' "
    "WHERE payment_id IN (SELECT payment_id FROM payments WHERE status = 'PENDING' "
    "  AND created_at < clock_timestamp() - $1::bigint * interval '1 ms' "
    "  AND (reconcile_after IS NULL OR reconcile_after <= clock_timestamp()) "
    "  ORDER BY created_at LIMIT $2 FOR UPDATE SKIP LOCKED) "
    "RETURNING " +
    kColumns + ", reconcile_attempts";

const std::string kClaimUnconfirmed =
    "UPDATE payments SET reconcile_after = clock_timestamp() + $3::bigint * interval '1 ms' "
    "WHERE payment_id IN (SELECT p.payment_id FROM payments p WHERE p.status = 'SUCCEEDED' "
    "  AND p.order_confirmed_at IS NULL "
    "  AND p.updated_at < clock_timestamp() - $1::bigint * interval '1 ms' "
    "  AND (p.reconcile_after IS NULL OR p.reconcile_after <= clock_timestamp()) "
    "  AND NOT EXISTS (SELECT 1 FROM outbox o WHERE o.payment_id = p.payment_id "
    "                  AND o.status = 'SUCCEEDED' AND o.delivered_at IS NOT NULL "
    "                  AND o.apply_outcome IN ('APPLIED', 'IGNORED')) "
    "  ORDER BY p.updated_at LIMIT $2 FOR UPDATE SKIP LOCKED) "
    "RETURNING " +
    kColumns + ", reconcile_attempts";

// Confirmed: the order took the payment (APPLIED, or IGNORED: already paid by
// it). Any other answer (REFUND_REQUIRED, or a DUPLICATE whose first answer is
// unknown) leaves the success to ClaimUnconfirmed, which asks the order.
constexpr const char* kConfirmDelivered =
    "UPDATE payments p SET order_confirmed_at = clock_timestamp() "
    "WHERE p.status = 'SUCCEEDED' AND p.order_confirmed_at IS NULL AND EXISTS ("
    "  SELECT 1 FROM outbox o WHERE o.payment_id = p.payment_id AND o.status = 'SUCCEEDED' "
    "  AND o.delivered_at IS NOT NULL AND o.apply_outcome IN ('APPLIED', 'IGNORED'))";

// A success the order cannot take: one open refund_required anomaly carries
// it from here, so it is confirmed in the same transaction.
constexpr const char* kRecordRefundRequired =
    "WITH anomaly AS ("
    "  INSERT INTO anomalies (kind, payment_id, order_id, detail) "
    "  SELECT 'refund_required', payment_id, order_id, $2 FROM payments WHERE payment_id = $1 "
    "  AND NOT EXISTS (SELECT 1 FROM anomalies WHERE kind = 'refund_required' "
    "                  AND payment_id = $1 AND status = 'OPEN')) "
    "UPDATE payments SET order_confirmed_at = coalesce(order_confirmed_at, clock_timestamp()) "
    "WHERE payment_id = $1";

constexpr const char* kMarkConfirmed =
    "UPDATE payments SET order_confirmed_at = coalesce(order_confirmed_at, clock_timestamp()) "
    "WHERE payment_id = $1";

constexpr const char* kDefer =
    "UPDATE payments SET reconcile_after = clock_timestamp() + $2::bigint * interval '1 ms', "
    "reconcile_attempts = reconcile_attempts + 1 WHERE payment_id = $1";

constexpr const char* kResetReconcile =
    "UPDATE payments SET reconcile_after = NULL, reconcile_attempts = 0 WHERE payment_id = $1";

constexpr const char* kAnomalyColumns =
    "anomaly_id, kind, coalesce(payment_id, ''), coalesce(order_id, ''), "
    "coalesce(provider_txn_id, ''), detail, status, attempts, "
    "(extract(epoch FROM created_at) * 1000000)::bigint";

const std::string kClaimAnomalies =
    std::string(
        "UPDATE anomalies SET next_attempt_at = clock_timestamp() + $3::bigint * interval "
        "'1 ms', attempts = attempts + 1, updated_at = clock_timestamp() "
        "WHERE anomaly_id IN (SELECT anomaly_id FROM anomalies WHERE status = 'OPEN' "
        "  AND kind = ANY($1::text[]) AND next_attempt_at <= clock_timestamp() "
        "  ORDER BY anomaly_id LIMIT $2 FOR UPDATE SKIP LOCKED) RETURNING ") +
    kAnomalyColumns;

constexpr const char* kResolveAnomaly =
    "UPDATE anomalies SET status = $2, resolution = $3, updated_at = clock_timestamp() "
    "WHERE anomaly_id = $1";

constexpr const char* kDeferAnomaly =
    "UPDATE anomalies SET next_attempt_at = clock_timestamp() + $2::bigint * interval '1 ms', "
    "resolution = $3, updated_at = clock_timestamp() WHERE anomaly_id = $1";

const std::string kPaymentsOfOrder =
    "SELECT " + kColumns + " FROM payments WHERE order_id = $1 ORDER BY created_at, payment_id";

constexpr const char* kInsertCaptureRefund =
    "INSERT INTO capture_refunds (provider_txn_id, payment_id, order_id, refund_id, amount_minor, "
    "currency, reason) VALUES ($1, $2, $3, $4, $5, $6, $7) ON CONFLICT DO NOTHING RETURNING 1";

constexpr const char* kMarkRefunded =
    "UPDATE payments SET status = 'REFUNDED', live = false, updated_at = clock_timestamp() "
    "WHERE payment_id = $1";

constexpr const char* kLedger =
    "SELECT status, coalesce(provider_txn_id, ''), amount_minor, currency FROM payments "
    "WHERE payment_id = $1";

// Each payment's first success (PENDING or FAILED -> SUCCEEDED; index
// payment_history_succeeded_idx) with its creation: the two times that bound
// when the provider captured. Rounded outwards to milliseconds.
constexpr const char* kCapturesSucceededBetween =
    "SELECT p.payment_id, p.provider_txn_id, p.status, p.amount_minor, p.currency, "
    "floor(extract(epoch FROM p.created_at) * 1000)::bigint, "
    "ceil(extract(epoch FROM h.at) * 1000)::bigint "
    "FROM payment_history h JOIN payments p ON p.payment_id = h.payment_id "
    "WHERE h.new_status = 'SUCCEEDED' AND h.old_status IN ('PENDING', 'FAILED') "
    "  AND h.at >= timestamptz 'epoch' + $1::bigint * interval '1 ms' "
    "  AND h.at < timestamptz 'epoch' + $2::bigint * interval '1 ms' "
    "  AND p.status IN ('SUCCEEDED', 'REFUNDED') AND p.provider_txn_id IS NOT NULL "
    "ORDER BY h.at, p.payment_id";

constexpr const char* kRefundedCaptures =
    "SELECT provider_txn_id FROM capture_refunds WHERE payment_id = $1";

constexpr const char* kInsertDiscrepancy =
    "INSERT INTO anomalies (kind, payment_id, order_id, provider_txn_id, detail, status) "
    "VALUES ($1, nullif($2, ''), (SELECT order_id FROM payments WHERE payment_id = $2), "
    "nullif($3, ''), $4, $5) ON CONFLICT DO NOTHING";

constexpr const char* kSelectCursor =
    "SELECT (extract(epoch FROM cursor_at) * 1000)::bigint FROM reconciler_cursors WHERE job = $1";

constexpr const char* kUpsertCursor =
    "INSERT INTO reconciler_cursors (job, cursor_at) "
    "VALUES ($1, timestamptz 'epoch' + $2::bigint * interval '1 ms') "
    "ON CONFLICT (job) DO UPDATE SET cursor_at = excluded.cursor_at, updated_at = "
    "clock_timestamp()";

// Unresolved: waiting for the reconciler (OPEN) or for a person (NEEDS_REVIEW).
constexpr const char* kOpenAnomalyCounts =
    "SELECT kind, count(*) FROM anomalies WHERE status IN ('OPEN', 'NEEDS_REVIEW') "
    "GROUP BY kind ORDER BY kind";

const std::string kListAnomalies = std::string("SELECT ") + kAnomalyColumns +
                                   " FROM anomalies WHERE ($1 = '' OR status = $1) "
                                   "ORDER BY anomaly_id DESC LIMIT $2";

constexpr const char* kTryLeader =
    "SELECT pg_try_advisory_lock(hashtext('payonce-reconciler:' || $1))";
constexpr const char* kReleaseLeader =
    "SELECT pg_advisory_unlock(hashtext('payonce-reconciler:' || $1))";

std::vector<ClaimedPayment> Claimed(const pqxx::result& rows) {
  std::vector<ClaimedPayment> out;
  for (const auto& r : rows) out.push_back({PaymentFromRow(r), r[12].as<int>()});
  return out;
}

Anomaly AnomalyFromRow(const pqxx::row& r) {
  Anomaly a;
  a.anomaly_id = r[0].as<int64_t>();
  a.kind = r[1].as<std::string>();
  a.payment_id = r[2].as<std::string>();
  a.order_id = r[3].as<std::string>();
  a.provider_txn_id = r[4].as<std::string>();
  a.detail = r[5].as<std::string>();
  a.status = r[6].as<std::string>();
  a.attempts = r[7].as<int>();
  a.created_at_us = r[8].as<int64_t>();
  return a;
}

std::string TextArray(const std::vector<std::string>& items) {
  std::string out = "{";
  for (size_t i = 0; i < items.size(); ++i) {
    if (i > 0) out += ',';
    out += '"';
    for (char c : items[i]) {
      if (c == '"' || c == '\\') out += '\\';
      out += c;
    }
    out += '"';
  }
  return out + "}";
}

absl::Status Exec(PgPool& pool, const std::function<void(pqxx::work&)>& fn) {
  return pool.InTransaction([&](pqxx::work& tx) -> absl::Status {
    fn(tx);
    return absl::OkStatus();
  });
}

}  // namespace

absl::StatusOr<std::vector<ClaimedPayment>> PgReconcileStore::ClaimStuckPayments(
    std::chrono::milliseconds older_than, int limit, std::chrono::milliseconds lease) {
  return pool_.InTransaction([&](pqxx::work& tx) -> absl::StatusOr<std::vector<ClaimedPayment>> {
    return Claimed(tx.exec_params(kClaimStuck, older_than.count(), limit, lease.count()));
  });
}

absl::StatusOr<EvidenceOutcome> PgReconcileStore::ApplyEvidence(
    const std::string& payment_id, const CaptureEvidence& evidence,
    const std::vector<std::string>& extra_captures,
    const std::vector<std::string>& mismatched_captures) {
  const std::string outbox_event_id = ids_.NewId();
  return notifier_.InTransaction(
      pool_, [&](pqxx::work& tx, bool& appended_outbox) -> absl::StatusOr<EvidenceOutcome> {
        const auto locked = payment::LockPayment(tx, payment_id);
        if (!locked) return EvidenceOutcome::kNotFound;
        const auto& [current, rank] = *locked;
        const auto applied = payment::ApplyEvidenceInTx(
            tx, current, rank, evidence, std::string(payment::EvidenceSource(evidence.rank)), 0,
            outbox_event_id);
        appended_outbox = applied.appended_outbox;
        for (const auto& txn : extra_captures) {
          payment::RecordAnomaly(tx, "duplicate_capture", current, txn,
                                 "second capture " + txn + " found by " +
                                     std::string(payment::EvidenceSource(evidence.rank)));
        }
        for (const auto& txn : mismatched_captures) {
          payment::RecordAnomaly(tx, "capture_amount_mismatch", current, txn,
                                 "capture " + txn + " is not of the payment's amount (" +
                                     std::to_string(current.amount_minor) + " " + current.currency +
                                     "); found by " +
                                     std::string(payment::EvidenceSource(evidence.rank)));
        }
        tx.exec_params(kResetReconcile, payment_id);
        switch (applied.transition.kind) {
          case payment::TransitionKind::kApply:
            return EvidenceOutcome::kApplied;
          case payment::TransitionKind::kDuplicate:
            return EvidenceOutcome::kDuplicate;
          case payment::TransitionKind::kIgnoredStale:
            return EvidenceOutcome::kIgnoredStale;
        }
        return EvidenceOutcome::kDuplicate;
      });
}

absl::Status PgReconcileStore::Defer(const std::string& payment_id,
                                     std::chrono::milliseconds delay) {
  return Exec(pool_, [&](pqxx::work& tx) { tx.exec_params(kDefer, payment_id, delay.count()); });
}

absl::StatusOr<std::vector<ClaimedPayment>> PgReconcileStore::ClaimUnconfirmedSuccesses(
    std::chrono::milliseconds older_than, int limit, std::chrono::milliseconds lease) {
  return pool_.InTransaction([&](pqxx::work& tx) -> absl::StatusOr<std::vector<ClaimedPayment>> {
    return Claimed(tx.exec_params(kClaimUnconfirmed, older_than.count(), limit, lease.count()));
  });
}

absl::StatusOr<int64_t> PgReconcileStore::ConfirmDeliveredSuccesses() {
  return pool_.InTransaction([&](pqxx::work& tx) -> absl::StatusOr<int64_t> {
    return static_cast<int64_t>(tx.exec(kConfirmDelivered).affected_rows());
  });
}

absl::Status PgReconcileStore::MarkOrderConfirmed(const std::string& payment_id) {
  return Exec(pool_, [&](pqxx::work& tx) { tx.exec_params(kMarkConfirmed, payment_id); });
}

absl::Status PgReconcileStore::RecordRefundRequired(const std::string& payment_id,
                                                    const std::string& detail) {
  return Exec(pool_,
              [&](pqxx::work& tx) { tx.exec_params(kRecordRefundRequired, payment_id, detail); });
}

absl::StatusOr<std::vector<Anomaly>> PgReconcileStore::ClaimAnomalies(
    const std::vector<std::string>& kinds, int limit, std::chrono::milliseconds lease) {
  return pool_.InTransaction([&](pqxx::work& tx) -> absl::StatusOr<std::vector<Anomaly>> {
    std::vector<Anomaly> out;
    for (const auto& r : tx.exec_params(kClaimAnomalies, TextArray(kinds), limit, lease.count())) {
      out.push_back(AnomalyFromRow(r));
    }
    return out;
  });
}

absl::Status PgReconcileStore::ResolveAnomaly(int64_t anomaly_id, const std::string& status,
                                              const std::string& resolution) {
  return Exec(pool_, [&](pqxx::work& tx) {
    tx.exec_params(kResolveAnomaly, anomaly_id, status, resolution);
  });
}

absl::Status PgReconcileStore::DeferAnomaly(int64_t anomaly_id, std::chrono::milliseconds delay,
                                            const std::string& why) {
  return Exec(pool_, [&](pqxx::work& tx) {
    tx.exec_params(kDeferAnomaly, anomaly_id, delay.count(), why);
  });
}

absl::StatusOr<std::vector<Payment>> PgReconcileStore::PaymentsOfOrder(
    const std::string& order_id) {
  return pool_.WithConnection([&](pqxx::connection& c) -> absl::StatusOr<std::vector<Payment>> {
    pqxx::read_transaction tx(c);
    std::vector<Payment> out;
    for (const auto& r : tx.exec_params(kPaymentsOfOrder, order_id))
      out.push_back(PaymentFromRow(r));
    return out;
  });
}

absl::StatusOr<bool> PgReconcileStore::RecordCaptureRefund(const RefundPlan::Item& item,
                                                           const std::string& order_id,
                                                           const std::string& refund_id) {
  const std::string outbox_event_id = ids_.NewId();
  return notifier_.InTransaction(
      pool_, [&](pqxx::work& tx, bool& appended_outbox) -> absl::StatusOr<bool> {
        if (tx.exec_params(kInsertCaptureRefund, item.provider_txn_id, item.payment_id, order_id,
                           refund_id, item.amount_minor, item.currency, item.reason)
                .empty()) {
          return false;  // recorded before (another pass or replica)
        }
        const auto locked = payment::LockPayment(tx, item.payment_id);
        if (!locked) return absl::NotFoundError("payment " + item.payment_id + " not found");
        const Payment& current = locked->first;
        if (item.whole_payment && current.status == payment::PaymentStatus::kSucceeded) {
          tx.exec_params(kMarkRefunded, item.payment_id);
          Payment refunded = current;
          refunded.status = payment::PaymentStatus::kRefunded;
          payment::AppendPaymentHistory(
              tx, item.payment_id, "reconciler", "SUCCEEDED", "REFUNDED", "",
              "capture " + item.provider_txn_id + " refunded (" + refund_id + "): " + item.reason);
          payment::AppendOutbox(tx, outbox_event_id, refunded, payment::PaymentStatus::kRefunded,
                                0);
          appended_outbox = true;
        } else {
          const std::string status(payment::ToString(current.status));
          payment::AppendPaymentHistory(tx, item.payment_id, "reconciler", status, status, "",
                                        "extra capture " + item.provider_txn_id + " refunded (" +
                                            refund_id + "): " + item.reason);
        }
        return true;
      });
}

absl::StatusOr<std::optional<LedgerPayment>> PgReconcileStore::LedgerFor(
    const std::string& payment_id) {
  return pool_.WithConnection(
      [&](pqxx::connection& c) -> absl::StatusOr<std::optional<LedgerPayment>> {
        pqxx::read_transaction tx(c);
        const auto rows = tx.exec_params(kLedger, payment_id);
        if (rows.empty()) return std::optional<LedgerPayment>();
        LedgerPayment l;
        l.payment_id = payment_id;
        l.status = payment::ParsePaymentStatus(rows[0][0].as<std::string>())
                       .value_or(payment::PaymentStatus::kPending);
        l.provider_txn_id = rows[0][1].as<std::string>();
        l.amount_minor = rows[0][2].as<int64_t>();
        l.currency = rows[0][3].as<std::string>();
        for (const auto& r : tx.exec_params(kRefundedCaptures, payment_id)) {
          l.refunded_extra_captures.push_back(r[0].as<std::string>());
        }
        return std::optional<LedgerPayment>(std::move(l));
      });
}

absl::StatusOr<std::vector<LedgerCapture>> PgReconcileStore::CapturesSucceededBetween(
    int64_t from_unix_ms, int64_t to_unix_ms) {
  return pool_.WithConnection(
      [&](pqxx::connection& c) -> absl::StatusOr<std::vector<LedgerCapture>> {
        pqxx::read_transaction tx(c);
        std::vector<LedgerCapture> out;
        for (const auto& r : tx.exec_params(kCapturesSucceededBetween, from_unix_ms, to_unix_ms)) {
          LedgerCapture l;
          l.payment_id = r[0].as<std::string>();
          l.provider_txn_id = r[1].as<std::string>();
          l.status = payment::ParsePaymentStatus(r[2].as<std::string>())
                         .value_or(payment::PaymentStatus::kSucceeded);
          l.amount_minor = r[3].as<int64_t>();
          l.currency = r[4].as<std::string>();
          l.created_at_unix_ms = r[5].as<int64_t>();
          l.succeeded_at_unix_ms = r[6].as<int64_t>();
          out.push_back(std::move(l));
        }
        return out;
      });
}

absl::Status PgReconcileStore::RecordDiscrepancy(const Discrepancy& d, const std::string& status) {
  return Exec(pool_, [&](pqxx::work& tx) {
    tx.exec_params(kInsertDiscrepancy, d.kind, d.payment_id, d.provider_txn_id, d.detail, status);
  });
}

absl::StatusOr<std::optional<int64_t>> PgReconcileStore::Cursor(const std::string& job) {
  return pool_.WithConnection([&](pqxx::connection& c) -> absl::StatusOr<std::optional<int64_t>> {
    pqxx::read_transaction tx(c);
    const auto rows = tx.exec_params(kSelectCursor, job);
    if (rows.empty()) return std::optional<int64_t>();
    return std::optional<int64_t>(rows[0][0].as<int64_t>());
  });
}

absl::Status PgReconcileStore::SetCursor(const std::string& job, int64_t at_unix_ms) {
  return Exec(pool_, [&](pqxx::work& tx) { tx.exec_params(kUpsertCursor, job, at_unix_ms); });
}

absl::StatusOr<std::vector<std::pair<std::string, int64_t>>> PgReconcileStore::OpenAnomalyCounts() {
  return pool_.WithConnection(
      [&](pqxx::connection& c) -> absl::StatusOr<std::vector<std::pair<std::string, int64_t>>> {
        pqxx::read_transaction tx(c);
        std::vector<std::pair<std::string, int64_t>> out;
        for (const auto& r : tx.exec(kOpenAnomalyCounts)) {
          out.emplace_back(r[0].as<std::string>(), r[1].as<int64_t>());
        }
        return out;
      });
}

absl::StatusOr<std::vector<Anomaly>> PgReconcileStore::ListAnomalies(const std::string& status,
                                                                     int limit) {
  return pool_.WithConnection([&](pqxx::connection& c) -> absl::StatusOr<std::vector<Anomaly>> {
    pqxx::read_transaction tx(c);
    std::vector<Anomaly> out;
    for (const auto& r : tx.exec_params(kListAnomalies, status, limit)) {
      out.push_back(AnomalyFromRow(r));
    }
    return out;
  });
}

absl::StatusOr<bool> PgReconcileStore::AsLeader(const std::string& job,
                                                const std::function<absl::Status()>& work) {
  // The advisory lock lives in this connection's session for the whole pass;
  // `work` uses other pooled connections.
  return pool_.WithConnection([&](pqxx::connection& c) -> absl::StatusOr<bool> {
    {
      pqxx::nontransaction tx(c);
      if (!tx.exec_params1(kTryLeader, job)[0].as<bool>()) return false;
    }
    const absl::Status status = work();
    pqxx::nontransaction tx(c);
    tx.exec_params(kReleaseLeader, job);
    if (!status.ok()) return status;
    return true;
  });
}

}  // namespace payonce::reconciler
