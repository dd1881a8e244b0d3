#include "services/payment/adapters/pg/pg_payment_store.h"

#include "services/payment/adapters/pg/pg_payment_rows.h"

namespace payonce::payment {
namespace {

#define PAYMENT_COLUMNS                                              \
  "payment_id, order_id, amount_minor, currency, status, provider, " \
  "coalesce(provider_txn_id, ''), failure_reason, late_success, "    \
  "(extract(epoch FROM created_at) * 1000000)::bigint, "             \
  "(extract(epoch FROM updated_at) * 1000000)::bigint, evidence_rank"

constexpr const char* kSelectPayment =
    "SELECT " PAYMENT_COLUMNS " FROM payments WHERE payment_id = $1";
constexpr const char* kSelectPaymentsForOrder =
    "SELECT " PAYMENT_COLUMNS " FROM payments WHERE order_id = $1 ORDER BY created_at, payment_id";
constexpr const char* kSelectBlockingPayment =
    "SELECT " PAYMENT_COLUMNS
    " FROM payments WHERE order_id = $1 "
    "AND status IN ('PENDING', 'SUCCEEDED') ORDER BY created_at LIMIT 1";
constexpr const char* kSelectLivePayment =
    "SELECT " PAYMENT_COLUMNS " FROM payments WHERE order_id = $1 AND live";

// The partial unique index payments_one_live_per_order decides.
constexpr const char* kInsertPendingPayment =
    "INSERT INTO payments (payment_id, order_id, amount_minor, currency, status, provider) "
    "VALUES ($1, $2, $3, $4, 'PENDING', $5) "
    "ON CONFLICT (order_id) WHERE live DO NOTHING RETURNING " PAYMENT_COLUMNS;

constexpr const char* kRecordDebit =
    "UPDATE payments SET provider_txn_id = coalesce(provider_txn_id, $2), "
    "updated_at = clock_timestamp() WHERE payment_id = $1";

constexpr const char* kMarkRefunded =
    "UPDATE payments SET status = 'REFUNDED', live = false, updated_at = clock_timestamp() "
    "WHERE payment_id = $1 RETURNING " PAYMENT_COLUMNS;

#undef PAYMENT_COLUMNS

constexpr const char* kInsertNonce =
    "INSERT INTO callback_nonces (nonce, expires_at) "
    "VALUES ($1, clock_timestamp() + $2::bigint * interval '1 millisecond') "
    "ON CONFLICT (nonce) DO NOTHING RETURNING 1";

constexpr const char* kSelectCallback =
    "SELECT 1 FROM provider_callbacks WHERE provider = $1 AND event_id = $2";

constexpr const char* kInsertCallback =
    "INSERT INTO provider_callbacks (provider, event_id, payment_id, provider_txn_id, status, "
    "outcome) VALUES ($1, $2, $3, $4, $5, $6)";

constexpr const char* kInsertIdempotencyKey =
    "INSERT INTO idempotency_keys (scope, key, fingerprint, state, locked_until, expires_at) "
    "VALUES ($1, $2, $3, 'IN_FLIGHT', clock_timestamp() + $4::bigint * interval '1 millisecond', "
    "clock_timestamp() + $5::bigint * interval '1 millisecond') "
    "ON CONFLICT (scope, key) DO NOTHING RETURNING 1";

constexpr const char* kSelectIdempotencyKey =
    "SELECT fingerprint, state = 'DONE', coalesce(payment_id, ''), "
    "(extract(epoch FROM locked_until) * 1000)::bigint, "
    "(extract(epoch FROM clock_timestamp()) * 1000)::bigint, expires_at <= clock_timestamp() "
    "FROM idempotency_keys WHERE scope = $1 AND key = $2 FOR UPDATE";

constexpr const char* kRenewIdempotencyKey =
    "UPDATE idempotency_keys SET fingerprint = $3, state = 'IN_FLIGHT', payment_id = NULL, "
    "locked_until = clock_timestamp() + $4::bigint * interval '1 millisecond', "
    "expires_at = clock_timestamp() + $5::bigint * interval '1 millisecond' "
    "WHERE scope = $1 AND key = $2";

constexpr const char* kTakeOverIdempotencyKey =
    "UPDATE idempotency_keys SET locked_until = clock_timestamp() + $3::bigint * interval "
    "'1 millisecond' WHERE scope = $1 AND key = $2";

constexpr const char* kCompleteIdempotencyKey =
    "UPDATE idempotency_keys SET state = 'DONE', payment_id = $3 WHERE scope = $1 AND key = $2";

constexpr const char* kReleaseIdempotencyKey =
    "DELETE FROM idempotency_keys WHERE scope = $1 AND key = $2 AND state = 'IN_FLIGHT'";

constexpr const char* kSweepIdempotencyKeys =
    "DELETE FROM idempotency_keys WHERE ctid IN (SELECT ctid FROM idempotency_keys "
    "WHERE expires_at < clock_timestamp() LIMIT 5000)";

constexpr const char* kSweepNonces =
    "DELETE FROM callback_nonces WHERE ctid IN (SELECT ctid FROM callback_nonces "
    "WHERE expires_at < clock_timestamp() LIMIT 5000)";

const char* OutcomeName(CallbackEffect e) {
  switch (e) {
    case CallbackEffect::kApplied:
      return "APPLIED";
    case CallbackEffect::kDuplicate:
      return "DUPLICATE";
    case CallbackEffect::kIgnoredStale:
      return "IGNORED_STALE";
    default:
      return "REJECTED";
  }
}

}  // namespace

absl::StatusOr<Payment> PgPaymentStore::Get(const std::string& payment_id) {
  return pool_.WithConnection([&](pqxx::connection& c) -> absl::StatusOr<Payment> {
    pqxx::read_transaction tx(c);
    const auto rows = tx.exec_params(kSelectPayment, payment_id);
    if (rows.empty()) return absl::NotFoundError("payment " + payment_id + " not found");
    return PaymentFromRow(rows[0]);
  });
}

absl::StatusOr<std::vector<Payment>> PgPaymentStore::ListForOrder(const std::string& order_id) {
  return pool_.WithConnection([&](pqxx::connection& c) -> absl::StatusOr<std::vector<Payment>> {
    pqxx::read_transaction tx(c);
    std::vector<Payment> out;
    for (const auto& r : tx.exec_params(kSelectPaymentsForOrder, order_id)) {
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
    if (!tx.exec_params(kInsertIdempotencyKey, scope, key, fingerprint, lock_for.count(),
                        keep_for.count())
             .empty()) {
      return claim;  // kProceed: this request owns the key
    }
    const auto row = tx.exec_params1(kSelectIdempotencyKey, scope, key);
    if (row[5].as<bool>()) {
      // Expired but not swept yet: the key is free again.
      tx.exec_params(kRenewIdempotencyKey, scope, key, fingerprint, lock_for.count(),
                     keep_for.count());
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
      tx.exec_params(kTakeOverIdempotencyKey, scope, key, lock_for.count());
    }
    return claim;
  });
}

absl::Status PgPaymentStore::CompleteIdempotencyKey(const std::string& scope,
                                                    const std::string& key,
                                                    const std::string& payment_id) {
  return pool_.InTransaction([&](pqxx::work& tx) -> absl::Status {
    tx.exec_params(kCompleteIdempotencyKey, scope, key, payment_id);
    return absl::OkStatus();
  });
}

absl::Status PgPaymentStore::ReleaseIdempotencyKey(const std::string& scope,
                                                   const std::string& key) {
  return pool_.InTransaction([&](pqxx::work& tx) -> absl::Status {
    tx.exec_params(kReleaseIdempotencyKey, scope, key);
    return absl::OkStatus();
  });
}

absl::StatusOr<std::optional<Payment>> PgPaymentStore::FindBlockingPayment(
    const std::string& order_id) {
  return pool_.WithConnection([&](pqxx::connection& c) -> absl::StatusOr<std::optional<Payment>> {
    pqxx::read_transaction tx(c);
    const auto rows = tx.exec_params(kSelectBlockingPayment, order_id);
    if (rows.empty()) return std::optional<Payment>();
    return std::optional<Payment>(PaymentFromRow(rows[0]));
  });
}

absl::StatusOr<PaymentInsert> PgPaymentStore::InsertPendingPayment(const Payment& payment) {
  return pool_.InTransaction([&](pqxx::work& tx) -> absl::StatusOr<PaymentInsert> {
    const auto rows = tx.exec_params(kInsertPendingPayment, payment.payment_id, payment.order_id,
                                     payment.amount_minor, payment.currency, payment.provider);
    if (!rows.empty()) {
      AppendPaymentHistory(tx, payment.payment_id, "api", "", "PENDING", "",
                           "payment created; debit follows");
      return PaymentInsert{PaymentFromRow(rows[0]), true};
    }
    const auto live = tx.exec_params(kSelectLivePayment, payment.order_id);
    if (live.empty()) return absl::AbortedError("concurrent payment attempt; retry");
    return PaymentInsert{PaymentFromRow(live[0]), false};
  });
}

absl::Status PgPaymentStore::RecordDebit(const std::string& payment_id,
                                         const std::string& provider_txn_id) {
  return pool_.InTransaction([&](pqxx::work& tx) -> absl::Status {
    tx.exec_params(kRecordDebit, payment_id, provider_txn_id);
    return absl::OkStatus();
  });
}

absl::StatusOr<CallbackResult> PgPaymentStore::ApplyCallback(const CallbackMessage& m) {
  const std::string outbox_event_id = ids_.NewId();
  return pool_.InTransaction([&](pqxx::work& tx) -> absl::StatusOr<CallbackResult> {
    CallbackResult result;
    if (tx.exec_params(kInsertNonce, m.provider + ":" + m.nonce, kNonceTtl.count()).empty()) {
      result.effect = CallbackEffect::kReplayedNonce;
      return result;
    }
    // The row lock serializes every callback of one payment, so the event
    // check below cannot race with a concurrent delivery of the same event.
    const auto locked = LockPayment(tx, m.payment_id);
    if (!locked) {
      result.effect = CallbackEffect::kNotFound;
      return result;
    }
    const auto& [current, rank] = *locked;
    result.payment = current;
    if (m.amount_minor != current.amount_minor || m.currency != current.currency) {
      RecordAnomaly(tx, "callback_amount_mismatch", current, "",
                    "callback " + m.event_id + " (capture " + m.provider_txn_id + ") reports " +
                        std::to_string(m.amount_minor) + " " + m.currency + "; payment is " +
                        std::to_string(current.amount_minor) + " " + current.currency);
      result.effect = CallbackEffect::kMismatch;
      return result;
    }
    if (!tx.exec_params(kSelectCallback, m.provider, m.event_id).empty()) {
      result.effect = CallbackEffect::kDuplicate;
      return result;
    }
    CaptureEvidence evidence;
    evidence.reported = *m.status;
    evidence.rank = EvidenceRank::kCallback;
    evidence.provider_txn_id = m.provider_txn_id;
    evidence.failure_reason = *m.status == PaymentStatus::kFailed ? "declined_by_provider" : "";
    const AppliedEvidence applied = ApplyEvidenceInTx(tx, current, rank, evidence, m.event_id,
                                                      m.occurred_at_unix_ms, outbox_event_id);
    result.payment = applied.payment;
    switch (applied.transition.kind) {
      case TransitionKind::kApply:
        result.effect = CallbackEffect::kApplied;
        break;
      case TransitionKind::kDuplicate:
        result.effect = CallbackEffect::kDuplicate;
        break;
      case TransitionKind::kIgnoredStale:
        result.effect = CallbackEffect::kIgnoredStale;
        break;
    }
    tx.exec_params(kInsertCallback, m.provider, m.event_id, m.payment_id, m.provider_txn_id,
                   std::string(ToString(*m.status)), OutcomeName(result.effect));
    return result;
  });
}

absl::StatusOr<Payment> PgPaymentStore::MarkRefunded(const std::string& payment_id,
                                                     const std::string& refund_id,
                                                     const std::string& reason) {
  const std::string outbox_event_id = ids_.NewId();
  return pool_.InTransaction([&](pqxx::work& tx) -> absl::StatusOr<Payment> {
    const auto locked = LockPayment(tx, payment_id);
    if (!locked) return absl::NotFoundError("payment " + payment_id + " not found");
    const Payment& current = locked->first;
    if (current.status == PaymentStatus::kRefunded) return current;
    if (auto s = CheckRefundable(current.status); !s.ok()) return s;
    Payment refunded = PaymentFromRow(tx.exec_params1(kMarkRefunded, payment_id));
    AppendPaymentHistory(tx, payment_id, "api", "SUCCEEDED", "REFUNDED", "",
                         "refund " + refund_id + (reason.empty() ? "" : ": " + reason));
    AppendOutbox(tx, outbox_event_id, refunded, PaymentStatus::kRefunded, 0);
    return refunded;
  });
}

absl::StatusOr<int64_t> PgPaymentStore::SweepExpired() {
  return pool_.InTransaction([&](pqxx::work& tx) -> absl::StatusOr<int64_t> {
    const auto keys = tx.exec(kSweepIdempotencyKeys);
    const auto nonces = tx.exec(kSweepNonces);
    return static_cast<int64_t>(keys.affected_rows() + nonces.affected_rows());
  });
}

}  // namespace payonce::payment
