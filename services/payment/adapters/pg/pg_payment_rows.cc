#include "services/payment/adapters/pg/pg_payment_rows.h"

#include "services/common/pg_statement.h"

namespace payonce::payment {
namespace {

constexpr PgStatement kSelectPaymentForUpdate{
    "pg_payment_rows.select_payment_for_update",
    "SELECT payment_id, order_id, amount_minor, currency, status, provider, "
    "coalesce(provider_txn_id, ''), failure_reason, late_success, "
    "(extract(epoch FROM created_at) * 1000000)::bigint, "
    "(extract(epoch FROM updated_at) * 1000000)::bigint, evidence_rank "
    "FROM payments WHERE payment_id = $1 FOR UPDATE"};

// The values come from PlanEvidence over the locked row.
constexpr PgStatement kApplyTransition{
    "pg_payment_rows.apply_transition",
    "UPDATE payments SET status = $2, provider_txn_id = nullif($3, ''), failure_reason = $4, "
    "evidence_rank = $5, live = $6, late_success = $7, updated_at = clock_timestamp() "
    "WHERE payment_id = $1 RETURNING payment_id, order_id, amount_minor, currency, status, "
    "provider, coalesce(provider_txn_id, ''), failure_reason, late_success, "
    "(extract(epoch FROM created_at) * 1000000)::bigint, "
    "(extract(epoch FROM updated_at) * 1000000)::bigint, evidence_rank"};

constexpr PgStatement kInsertHistory{
    "pg_payment_rows.insert_history",
    "INSERT INTO payment_history (payment_id, source, old_status, new_status, event_id, detail) "
    "VALUES ($1, $2, nullif($3, ''), nullif($4, ''), nullif($5, ''), $6)"};

constexpr PgStatement kInsertOutbox{
    "pg_payment_rows.insert_outbox",
    "INSERT INTO outbox (event_id, payment_id, order_id, status, amount_minor, currency, "
    "occurred_at) VALUES ($1, $2, $3, $4, $5, $6, "
    "CASE WHEN $7::bigint > 0 THEN timestamptz 'epoch' + $7::bigint * interval '1 millisecond' "
    "ELSE clock_timestamp() END)"};

// Capture-level kinds are unique per capture (index anomalies_once_per_capture).
constexpr PgStatement kInsertAnomaly{
    "pg_payment_rows.insert_anomaly",
    "INSERT INTO anomalies (kind, payment_id, order_id, provider_txn_id, detail, status) "
    "VALUES ($1, $2, $3, nullif($4, ''), $5, $6) ON CONFLICT DO NOTHING"};

}  // namespace

const char* const kPaymentColumns =
    "payment_id, order_id, amount_minor, currency, status, provider, "
    "coalesce(provider_txn_id, ''), failure_reason, late_success, "
    "(extract(epoch FROM created_at) * 1000000)::bigint, "
    "(extract(epoch FROM updated_at) * 1000000)::bigint, evidence_rank";

Payment PaymentFromRow(const pqxx::row& r) {
  Payment p;
  p.payment_id = r[0].as<std::string>();
  p.order_id = r[1].as<std::string>();
  p.amount_minor = r[2].as<int64_t>();
  p.currency = r[3].as<std::string>();
  p.status = ParsePaymentStatus(r[4].as<std::string>()).value_or(PaymentStatus::kPending);
  p.provider = r[5].as<std::string>();
  p.provider_txn_id = r[6].as<std::string>();
  p.failure_reason = r[7].as<std::string>();
  p.late_success = r[8].as<bool>();
  p.created_at_us = r[9].as<int64_t>();
  p.updated_at_us = r[10].as<int64_t>();
  return p;
}

EvidenceRank EvidenceRankFromRow(const pqxx::row& r) {
  return static_cast<EvidenceRank>(r[11].as<int>());
}

std::optional<std::pair<Payment, EvidenceRank>> LockPayment(pqxx::work& tx,
                                                            const std::string& payment_id) {
  const auto rows = Exec(tx, kSelectPaymentForUpdate, payment_id);
  if (rows.empty()) return std::nullopt;
  return std::make_pair(PaymentFromRow(rows[0]), EvidenceRankFromRow(rows[0]));
}

void RecordAnomaly(pqxx::work& tx, const std::string& kind, const Payment& payment,
                   const std::string& provider_txn_id, const std::string& detail,
                   const std::string& status) {
  Exec(tx, kInsertAnomaly, kind, payment.payment_id, payment.order_id, provider_txn_id, detail,
       status);
}

void AppendPaymentHistory(pqxx::work& tx, const std::string& payment_id, const std::string& source,
                          const std::string& old_status, const std::string& new_status,
                          const std::string& event_id, const std::string& detail) {
  Exec(tx, kInsertHistory, payment_id, source, old_status, new_status, event_id, detail);
}

void AppendOutbox(pqxx::work& tx, const std::string& event_id, const Payment& payment,
                  PaymentStatus status, int64_t occurred_at_unix_ms) {
  Exec(tx, kInsertOutbox, event_id, payment.payment_id, payment.order_id,
       std::string(ToString(status)), payment.amount_minor, payment.currency, occurred_at_unix_ms);
}

AppliedEvidence ApplyEvidenceInTx(pqxx::work& tx, const Payment& current, EvidenceRank current_rank,
                                  const CaptureEvidence& evidence, const std::string& evidence_ref,
                                  int64_t occurred_at_unix_ms, const std::string& outbox_event_id) {
  const EvidencePlan plan = PlanEvidence({current, current_rank}, evidence, evidence_ref);
  AppliedEvidence out{plan.transition, current};
  if (plan.emits_event) {
    const Payment& after = plan.after.payment;
    out.payment = PaymentFromRow(Exec1(tx, kApplyTransition, current.payment_id,
                                       std::string(ToString(after.status)), after.provider_txn_id,
                                       after.failure_reason, static_cast<int>(plan.after.rank),
                                       plan.live, after.late_success));
    AppendOutbox(tx, outbox_event_id, out.payment, after.status, occurred_at_unix_ms);
    out.appended_outbox = true;
  }
  if (plan.history) {
    const HistoryEntry& h = *plan.history;
    AppendPaymentHistory(tx, current.payment_id, h.source, h.old_status, h.new_status, h.event_id,
                         h.detail);
  }
  for (const AnomalyEntry& a : plan.anomalies) {
    RecordAnomaly(tx, a.kind, current, a.provider_txn_id, a.detail);
  }
  return out;
}

}  // namespace payonce::payment
