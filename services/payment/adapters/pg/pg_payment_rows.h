// Shared PostgreSQL pieces of the payment ledger: the payment row shape and
// the one code path that applies provider evidence (callback, query or
// settlement statement) to a payment: the state machine, its history entry
// and its outbox row, inside the caller's transaction.
#pragma once

#include <cstdint>
#include <pqxx/pqxx>
#include <string>

#include "services/payment/domain/payment.h"

namespace payonce::payment {

// The SELECT list that PaymentFromRow reads (12 columns, evidence_rank last).
extern const char* const kPaymentColumns;

Payment PaymentFromRow(const pqxx::row& r);
EvidenceRank EvidenceRankFromRow(const pqxx::row& r);

// Locks and reads a payment; nullopt if unknown.
std::optional<std::pair<Payment, EvidenceRank>> LockPayment(pqxx::work& tx,
                                                            const std::string& payment_id);

struct AppliedEvidence {
  Transition transition;
  Payment payment;  // after the transition
  // An outbox row was appended: after the commit, tell the OutboxNotifier.
  bool appended_outbox = false;
};

// Applies `evidence` to the locked payment `current` (rank `current_rank`) per
// DecideTransition: on kApply updates the row, writes history and one outbox
// row (event `outbox_event_id`); on kIgnoredStale
// writes history only; a second capture reported for a succeeded payment is
// recorded as a duplicate_capture anomaly. `source` is "callback", "query" or
// "settlement"; `evidence_ref` names the callback event or the query.
AppliedEvidence ApplyEvidenceInTx(pqxx::work& tx, const Payment& current, EvidenceRank current_rank,
                                  const CaptureEvidence& evidence, const std::string& evidence_ref,
                                  int64_t occurred_at_unix_ms, const std::string& outbox_event_id);

// Records an anomaly for the reconciler; an identical capture-level anomaly
// that already exists is not repeated.
void RecordAnomaly(pqxx::work& tx, const std::string& kind, const Payment& payment,
                   const std::string& provider_txn_id, const std::string& detail,
                   const std::string& status = "OPEN");

// Appends to the payment's history.
void AppendPaymentHistory(pqxx::work& tx, const std::string& payment_id, const std::string& source,
                          const std::string& old_status, const std::string& new_status,
                          const std::string& event_id, const std::string& detail);

// Inserts one outbox row. The caller wakes the relay after the commit
// (OutboxNotifier::RowsCommitted), never inside the transaction.
void AppendOutbox(pqxx::work& tx, const std::string& event_id, const Payment& payment,
                  PaymentStatus status, int64_t occurred_at_unix_ms);

}  // namespace payonce::payment
