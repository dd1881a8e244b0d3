#include "services/provider_sandbox/adapters/pg/pg_ledger_store.h"

#include <string>

#include "services/common/pg_statement.h"
#include "services/provider_sandbox/adapters/pg/pg_sandbox_tables.h"

namespace payonce::provider {
namespace {

// clang-format off
#define CAPTURE_COLUMNS                                                    \
  "provider_txn_id, merchant_payment_id, status, amount_minor, currency, " \
  SANDBOX_MS_OF("captured_at") ", " SANDBOX_MS_OF("refunded_at")

#define REFUND_COLUMNS                                                    \
  "refund_id, idempotency_key, provider_txn_id, amount_minor, currency, " \
  SANDBOX_MS_OF("refunded_at")
// clang-format on

// Inserts the debit of a first call; nothing (and no row) on a repeat.
constexpr const char* kInsertDebit =
    "INSERT INTO debits (merchant_payment_id, amount_minor, currency, created_at) "
    "VALUES ($1, $2, $3, " SANDBOX_TS_FROM_MS("$4") ") "
    "ON CONFLICT (merchant_payment_id) DO NOTHING "
    "RETURNING merchant_payment_id, amount_minor, currency, debit_calls";

// Counts a repeated call under the debit's row lock.
constexpr PgStatement kCountRepeatDebit{
    "pg_ledger_store.count_repeat_debit",
    "UPDATE debits SET debit_calls = debit_calls + 1 WHERE merchant_payment_id = $1 "
    "RETURNING merchant_payment_id, amount_minor, currency, debit_calls"};

constexpr PgStatement kSelectCaptures{"pg_ledger_store.select_captures",
                                      "SELECT " CAPTURE_COLUMNS
                                      " FROM captures WHERE merchant_payment_id = $1 ORDER BY seq"};

// This call's number in the fault schedule.
constexpr PgStatement kNextDraw{"pg_ledger_store.next_draw", "SELECT nextval('fault_draw_seq')"};

constexpr PgStatement kInsertDraw{
    "pg_ledger_store.insert_draw",
    "INSERT INTO fault_draws (draw, merchant_payment_id, first_call, asked_minor, decisions) "
    "VALUES ($1, $2, $3, $4, $5)"};

constexpr const char* kInsertCapture =
    "INSERT INTO captures (provider_txn_id, merchant_payment_id, status, amount_minor, "
    "currency, captured_at) VALUES ($1, $2, $3, $4, $5, " SANDBOX_TS_FROM_MS("$6") ")";

constexpr const char* kInsertCallback =
    "INSERT INTO callbacks (event_id, provider_txn_id, status, dropped, extra_copies, forge, "
    "replay, next_attempt_at) VALUES ($1, $2, $3, $4, $5, $6, $7, " SANDBOX_TS_FROM_MS("$8") ")";

constexpr PgStatement kSelectRefundByKey{"pg_ledger_store.select_refund_by_key",
                                         "SELECT " REFUND_COLUMNS
                                         " FROM refunds WHERE idempotency_key = $1"};

constexpr PgStatement kSelectRefundByTxn{"pg_ledger_store.select_refund_by_txn",
                                         "SELECT " REFUND_COLUMNS
                                         " FROM refunds WHERE provider_txn_id = $1"};

constexpr PgStatement kSelectCaptureForUpdate{
    "pg_ledger_store.select_capture_for_update",
    "SELECT " CAPTURE_COLUMNS " FROM captures WHERE provider_txn_id = $1 FOR UPDATE"};

constexpr const char* kInsertRefund =
    "INSERT INTO refunds (refund_id, idempotency_key, provider_txn_id, amount_minor, currency, "
    "refunded_at) VALUES ($1, $2, $3, $4, $5, " SANDBOX_TS_FROM_MS("$6") ") "
    "RETURNING " REFUND_COLUMNS;

constexpr const char* kMarkRefunded =
    "UPDATE captures SET status = 'REFUNDED', refunded_at = " SANDBOX_TS_FROM_MS("$2") " "
    "WHERE provider_txn_id = $1";

constexpr PgStatement kSelectTotals{
    "pg_ledger_store.select_totals",
    "SELECT (SELECT coalesce(sum(debit_calls), 0)::bigint FROM debits), "
    "(SELECT count(*) FROM captures WHERE status <> 'FAILED'), "
    "(SELECT count(*) FROM refunds)"};

// Per payment: debit calls, captures that moved money, refunds, net.
#define PAYMENT_TRUTH_QUERY                                                  \
  "SELECT d.merchant_payment_id, d.debit_calls, d.currency, "                \
  "  count(c.provider_txn_id) FILTER (WHERE c.status <> 'FAILED'), "         \
  "  count(r.refund_id), "                                                   \
  "  (coalesce(sum(c.amount_minor) FILTER (WHERE c.status <> 'FAILED'), 0) " \
  "   - coalesce(sum(r.amount_minor), 0))::bigint "                          \
  "FROM debits d "                                                           \
  "LEFT JOIN captures c ON c.merchant_payment_id = d.merchant_payment_id "   \
  "LEFT JOIN refunds r ON r.provider_txn_id = c.provider_txn_id "

constexpr PgStatement kSelectAllPaymentTruths{
    "pg_ledger_store.select_all_payment_truths", PAYMENT_TRUTH_QUERY
    "GROUP BY d.merchant_payment_id ORDER BY d.created_at, "
    "d.merchant_payment_id"};

constexpr PgStatement kSelectPaymentTruth{
    "pg_ledger_store.select_payment_truth",
    PAYMENT_TRUTH_QUERY "WHERE d.merchant_payment_id = $1 GROUP BY d.merchant_payment_id"};

// Captures that moved money, and refunds, in [from, to); $1/$3 say whether
// the bound is unset. Bounds are Unix microseconds.
constexpr const char* kSelectSettlement =
    "SELECT kind, provider_txn_id, merchant_payment_id, amount_minor, currency, "
    SANDBOX_MS_OF("at") ", refund_id FROM ("
    "  SELECT 'CAPTURE' AS kind, provider_txn_id, merchant_payment_id, amount_minor, currency, "
    "         captured_at AS at, '' AS refund_id, seq "
    "  FROM captures WHERE status <> 'FAILED' "
    "    AND ($1 OR captured_at >= timestamptz 'epoch' + $2::bigint * interval '1 microsecond') "
    "    AND ($3 OR captured_at < timestamptz 'epoch' + $4::bigint * interval '1 microsecond') "
    "  UNION ALL "
    "  SELECT 'REFUND', r.provider_txn_id, c.merchant_payment_id, r.amount_minor, r.currency, "
    "         r.refunded_at, r.refund_id, c.seq "
    "  FROM refunds r JOIN captures c ON c.provider_txn_id = r.provider_txn_id "
    "  WHERE ($1 OR r.refunded_at >= timestamptz 'epoch' + $2::bigint * interval '1 microsecond') "
    "    AND ($3 OR r.refunded_at < timestamptz 'epoch' + $4::bigint * interval '1 microsecond') "
    ") lines ORDER BY at, kind, seq";

#undef PAYMENT_TRUTH_QUERY
#undef REFUND_COLUMNS
#undef CAPTURE_COLUMNS

Capture CaptureFromRow(const pqxx::row& r) {
  Capture c;
  c.provider_txn_id = r[0].as<std::string>();
  c.merchant_payment_id = r[1].as<std::string>();
  c.status = ParseCaptureStatus(r[2].as<std::string>()).value_or(CaptureStatus::kFailed);
  c.amount_minor = r[3].as<int64_t>();
  c.currency = r[4].as<std::string>();
  c.captured_at_ms = r[5].as<int64_t>();
  if (!r[6].is_null()) c.refunded_at_ms = r[6].as<int64_t>();
  return c;
}

Refund RefundFromRow(const pqxx::row& r) {
  Refund f;
  f.refund_id = r[0].as<std::string>();
  f.idempotency_key = r[1].as<std::string>();
  f.provider_txn_id = r[2].as<std::string>();
  f.amount_minor = r[3].as<int64_t>();
  f.currency = r[4].as<std::string>();
  f.refunded_at_ms = r[5].as<int64_t>();
  return f;
}

DebitRecord DebitFromRow(const pqxx::row& r) {
  return {r[0].as<std::string>(), r[1].as<int64_t>(), r[2].as<std::string>(), r[3].as<int64_t>()};
}

PaymentTruth TruthFromRow(const pqxx::row& r) {
  PaymentTruth t;
  t.merchant_payment_id = r[0].as<std::string>();
  t.debits = r[1].as<int64_t>();
  t.currency = r[2].as<std::string>();
  t.captures = r[3].as<int64_t>();
  t.refunds = r[4].as<int64_t>();
  t.net_captured_minor = r[5].as<int64_t>();
  return t;
}

}  // namespace

absl::StatusOr<DebitPlan> PgLedgerStore::RecordDebit(const DebitRequest& request, int64_t now_ms,
                                                     const DebitPlanner& planner) {
  return pool_.InTransaction([&](pqxx::work& tx) -> absl::StatusOr<DebitPlan> {
    DebitSnapshot snapshot;
    snapshot.faults = LoadFaults(tx);
    auto rows = tx.exec_params(kInsertDebit, request.merchant_payment_id, request.amount_minor,
                               request.currency, now_ms);
    snapshot.first_call = !rows.empty();
    if (!snapshot.first_call) {
      // A repeat (or a concurrent first call that committed first: the
      // INSERT waited for it).
      rows = Exec(tx, kCountRepeatDebit, request.merchant_payment_id);
      if (rows.empty()) return absl::AbortedError("debit raced with its removal; retry");
      for (const auto& r : Exec(tx, kSelectCaptures, request.merchant_payment_id)) {
        snapshot.captures.push_back(CaptureFromRow(r));
      }
    }
    snapshot.debit = DebitFromRow(rows[0]);
    snapshot.draw = Exec(tx, kNextDraw)[0][0].as<int64_t>();

    auto plan = planner(snapshot);
    if (!plan.ok()) return plan.status();
    Exec(tx, kInsertDraw, snapshot.draw, request.merchant_payment_id, snapshot.first_call,
         request.amount_minor, plan->decisions);
    CallbackTally tally;
    for (const auto& n : plan->new_captures) {
      const Capture& c = n.capture;
      tx.exec_params(kInsertCapture, c.provider_txn_id, c.merchant_payment_id,
                     std::string(ToString(c.status)), c.amount_minor, c.currency, c.captured_at_ms);
      const CallbackPlan& p = n.callback.plan;
      tx.exec_params(kInsertCallback, n.callback.event_id, c.provider_txn_id,
                     std::string(ToString(n.callback.status)), p.dropped, p.extra_copies,
                     p.forge ? std::string(ToString(*p.forge)) : std::string(), p.replay,
                     n.callback.first_attempt_at_ms);
      if (p.dropped) ++tally.dropped;
    }
    AddToCounters(tx, tally);
    return plan;
  });
}

absl::StatusOr<std::vector<Capture>> PgLedgerStore::CapturesOf(
    const std::string& merchant_payment_id) {
  return pool_.WithConnection([&](pqxx::connection& conn) -> absl::StatusOr<std::vector<Capture>> {
    pqxx::read_transaction tx(conn);
    std::vector<Capture> out;
    for (const auto& r : Exec(tx, kSelectCaptures, merchant_payment_id)) {
      out.push_back(CaptureFromRow(r));
    }
    return out;
  });
}

absl::StatusOr<Refund> PgLedgerStore::RecordRefund(const RefundRequest& request,
                                                   const Refund& candidate) {
  return pool_.InTransaction([&](pqxx::work& tx) -> absl::StatusOr<Refund> {
    // The capture's row lock serializes every refund of it.
    const auto captures = Exec(tx, kSelectCaptureForUpdate, request.provider_txn_id);
    if (captures.empty()) {
      return absl::NotFoundError("capture " + request.provider_txn_id + " not found");
    }
    const auto by_key = Exec(tx, kSelectRefundByKey, request.idempotency_key);
    if (!by_key.empty()) {
      Refund existing = RefundFromRow(by_key[0]);
      if (auto s = CheckRefundReplay(existing, request); !s.ok()) return s;
      return existing;
    }
    const Capture capture = CaptureFromRow(captures[0]);
    auto action = DecideRefund(capture);
    if (!action.ok()) return action.status();
    if (*action == RefundAction::kReturnExisting) {
      const auto by_txn = Exec(tx, kSelectRefundByTxn, capture.provider_txn_id);
      if (by_txn.empty()) return absl::InternalError("refunded capture has no refund row");
      return RefundFromRow(by_txn[0]);
    }
    const Refund refund = RefundFromRow(tx.exec_params1(
        kInsertRefund, candidate.refund_id, request.idempotency_key, capture.provider_txn_id,
        capture.amount_minor, capture.currency, candidate.refunded_at_ms));
    tx.exec_params(kMarkRefunded, capture.provider_txn_id, candidate.refunded_at_ms);
    return refund;
  });
}

absl::StatusOr<FaultConfig> PgLedgerStore::SaveFaults(const FaultConfig& faults) {
  return pool_.InTransaction(
      [&](pqxx::work& tx) -> absl::StatusOr<FaultConfig> { return StoreFaults(tx, faults); });
}

absl::StatusOr<ProviderStats> PgLedgerStore::Stats(
    const std::vector<std::string>& merchant_payment_ids) {
  return pool_.WithConnection([&](pqxx::connection& conn) -> absl::StatusOr<ProviderStats> {
    // One snapshot for totals, counters and payments.
    pqxx::transaction<pqxx::repeatable_read, pqxx::read_only> tx(conn);
    ProviderStats stats;
    const auto totals = Exec1(tx, kSelectTotals);
    stats.debits_total = totals[0].as<int64_t>();
    stats.captures_total = totals[1].as<int64_t>();
    stats.refunds_total = totals[2].as<int64_t>();
    stats.callbacks = LoadCounters(tx);
    if (merchant_payment_ids.empty()) {
      for (const auto& r : Exec(tx, kSelectAllPaymentTruths)) {
        stats.payments.push_back(TruthFromRow(r));
      }
    } else {
      for (const auto& id : merchant_payment_ids) {
        const auto rows = Exec(tx, kSelectPaymentTruth, id);
        if (!rows.empty()) stats.payments.push_back(TruthFromRow(rows[0]));
      }
    }
    return stats;
  });
}

absl::StatusOr<std::vector<SettlementLine>> PgLedgerStore::Settlement(
    const SettlementWindow& window) {
  return pool_.WithConnection(
      [&](pqxx::connection& conn) -> absl::StatusOr<std::vector<SettlementLine>> {
        pqxx::read_transaction tx(conn);
        std::vector<SettlementLine> out;
        for (const auto& r : tx.exec_params(kSelectSettlement, !window.from_us.has_value(),
                                            window.from_us.value_or(0), !window.to_us.has_value(),
                                            window.to_us.value_or(0))) {
          SettlementLine line;
          line.kind = r[0].as<std::string>() == "REFUND" ? SettlementLine::Kind::kRefund
                                                         : SettlementLine::Kind::kCapture;
          line.provider_txn_id = r[1].as<std::string>();
          line.merchant_payment_id = r[2].as<std::string>();
          line.amount_minor = r[3].as<int64_t>();
          line.currency = r[4].as<std::string>();
          line.at_ms = r[5].as<int64_t>();
          line.refund_id = r[6].as<std::string>();
          out.push_back(std::move(line));
        }
        return out;
      });
}

}  // namespace payonce::provider
