#include "services/provider_sandbox/adapters/pg/pg_callback_queue.h"

#include <string>

#include "services/provider_sandbox/adapters/pg/pg_sandbox_tables.h"

namespace payonce::provider {
namespace {

// Leases due rows: the row locks last only for this statement's transaction;
// the pushed next_attempt_at keeps other dispatchers away until the lease
// ends (then the callback is due again: at-least-once).
constexpr const char* kClaimDue =
    "WITH due AS ("
    "  SELECT event_id, next_attempt_at FROM callbacks "
    "  WHERE acked_at IS NULL AND given_up_at IS NULL AND NOT dropped "
    "    AND next_attempt_at <= " SANDBOX_TS_FROM_MS("$1") " "
    "  ORDER BY next_attempt_at, event_id LIMIT $2 FOR UPDATE SKIP LOCKED) "
    "UPDATE callbacks cb SET next_attempt_at = " SANDBOX_TS_FROM_MS("$1") " + $3::bigint * "
    "    interval '1 millisecond', claim_id = $4 "
    "FROM due, captures c "
    "WHERE cb.event_id = due.event_id AND c.provider_txn_id = cb.provider_txn_id "
    "RETURNING cb.event_id, c.merchant_payment_id, cb.provider_txn_id, cb.status, "
    "  c.amount_minor, c.currency, " SANDBOX_MS_OF("c.captured_at") ", cb.attempts, "
    "  " SANDBOX_MS_OF("cb.first_sent_at") ", " SANDBOX_MS_OF("due.next_attempt_at") ", "
    "  CASE WHEN cb.duplicates_sent_at IS NULL THEN cb.extra_copies ELSE 0 END, "
    "  CASE WHEN cb.forged_at IS NULL THEN cb.forge ELSE '' END, "
    "  cb.replay AND cb.replayed_at IS NULL";

// Records one attempt, only under the lease that made it.
constexpr const char* kRecordDelivery =
    "UPDATE callbacks SET attempts = $3, "
    "  first_sent_at = coalesce(first_sent_at, " SANDBOX_TS_FROM_MS("$4") "), "
    "  last_sent_at = " SANDBOX_TS_FROM_MS("$5") ", "
    "  acked_at = CASE WHEN $6 THEN " SANDBOX_TS_FROM_MS("$5") " END, "
    "  next_attempt_at = CASE WHEN $7 THEN " SANDBOX_TS_FROM_MS("$8") " ELSE next_attempt_at END, "
    "  given_up_at = CASE WHEN NOT $6 AND NOT $7 THEN " SANDBOX_TS_FROM_MS("$5") " END, "
    "  duplicates_sent_at = CASE WHEN $9 THEN " SANDBOX_TS_FROM_MS("$5") " "
    "                       ELSE duplicates_sent_at END, "
    "  forged_at = CASE WHEN $10 THEN " SANDBOX_TS_FROM_MS("$5") " ELSE forged_at END, "
    "  replayed_at = CASE WHEN $11 THEN " SANDBOX_TS_FROM_MS("$5") " ELSE replayed_at END, "
    "  last_result = $12, last_error = $13, last_nonce = $14, last_timestamp_ms = $15, "
    "  last_signature = $16, claim_id = NULL "
    "WHERE event_id = $1 AND claim_id = $2";

}  // namespace

absl::StatusOr<ClaimedBatch> PgCallbackQueue::ClaimDue(int limit, int64_t now_ms, int64_t lease_ms,
                                                       const std::string& claim_id) {
  return pool_.InTransaction([&](pqxx::work& tx) -> absl::StatusOr<ClaimedBatch> {
    ClaimedBatch batch;
    for (const auto& r : tx.exec_params(kClaimDue, now_ms, limit, lease_ms, claim_id)) {
      ClaimedCallback c;
      c.claim_id = claim_id;
      c.event.provider = provider_;
      c.event.event_id = r[0].as<std::string>();
      c.event.merchant_payment_id = r[1].as<std::string>();
      c.event.provider_txn_id = r[2].as<std::string>();
      c.event.status = ParseCaptureStatus(r[3].as<std::string>()).value_or(CaptureStatus::kFailed);
      c.event.amount_minor = r[4].as<int64_t>();
      c.event.currency = r[5].as<std::string>();
      c.event.occurred_at_unix_ms = r[6].as<int64_t>();
      c.attempts = r[7].as<int>();
      if (!r[8].is_null()) c.first_attempt_at_ms = r[8].as<int64_t>();
      c.due_at_ms = r[9].as<int64_t>();
      c.extra_copies = r[10].as<int32_t>();
      c.forge = ParseForgeKind(r[11].as<std::string>());
      c.replay = r[12].as<bool>();
      batch.callbacks.push_back(std::move(c));
    }
    if (!batch.callbacks.empty()) batch.faults = LoadFaults(tx);
    return batch;
  });
}

absl::Status PgCallbackQueue::RecordDelivery(const DeliveryRecord& r, const CallbackTally& tally) {
  return pool_.InTransaction([&](pqxx::work& tx) -> absl::Status {
    const bool has_next = r.next_attempt_at_ms.has_value();
    tx.exec_params(kRecordDelivery, r.event_id, r.claim_id, r.attempts, r.first_attempt_at_ms,
                   r.sent_at_ms, r.acknowledged, has_next, r.next_attempt_at_ms.value_or(0),
                   r.duplicates_sent, r.forged_sent, r.replayed, r.last_result, r.last_error,
                   r.last_message.fields.nonce, r.last_message.fields.timestamp_unix_ms,
                   r.last_message.signature);
    // Counted even if the lease was lost: these messages did go out.
    AddToCounters(tx, tally);
    return absl::OkStatus();
  });
}

}  // namespace payonce::provider
