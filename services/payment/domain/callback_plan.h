// What a batch of provider callbacks does to its payments, decided without
// I/O: the planner both callback paths use (a single callback is a batch of
// one). The PostgreSQL adapter claims the nonces, locks the payments, reads
// which events are recorded, asks PlanCallbacks, and writes the plan in one
// statement.
#pragma once

#include <cstdint>
#include <map>
#include <set>
#include <string>
#include <utility>
#include <vector>

#include "services/payment/domain/payment.h"

namespace payonce::payment {

// What happened to a provider callback inside its transaction.
enum class CallbackEffect {
  kApplied,        // transition + outbox row committed
  kDuplicate,      // event or transition seen before
  kIgnoredStale,   // would regress; history entry only
  kNotFound,       // unknown payment_id
  kMismatch,       // amount/currency/provider differ; anomaly recorded
  kReplayedNonce,  // nonce already used
};

// The name recorded in provider_callbacks.outcome: APPLIED, DUPLICATE,
// IGNORED_STALE (REJECTED for the others, which are never recorded).
const char* RecordedOutcomeName(CallbackEffect effect);

struct CallbackResult {
  CallbackEffect effect = CallbackEffect::kDuplicate;
  Payment payment;
  bool operator==(const CallbackResult&) const = default;
};

// A callback that cannot be this payment's: another amount, currency or
// provider than the payment was made for.
bool CallbackMismatches(const CallbackMessage& m, const Payment& payment);

// What the batch's database reads found.
struct CallbackBatchFacts {
  // Per callback: its nonce was used before (in the table or earlier in the
  // batch).
  std::vector<bool> replayed;
  // The batch's payments, locked, by payment_id (unknown ids are absent).
  std::map<std::string, LedgerPayment> payments;
  // (provider, event_id) of the callbacks already recorded.
  std::set<std::pair<std::string, std::string>> recorded_events;
};

struct PlannedPaymentUpdate {
  LedgerPayment ledger;
  bool live = true;
  bool operator==(const PlannedPaymentUpdate&) const = default;
};

struct PlannedHistory {
  std::string payment_id;
  HistoryEntry entry;
  bool operator==(const PlannedHistory&) const = default;
};

struct PlannedAnomaly {
  std::string kind;
  std::string payment_id;
  std::string order_id;
  std::string provider_txn_id;
  std::string detail;
  bool operator==(const PlannedAnomaly&) const = default;
};

struct PlannedOutboxEvent {
  std::string event_id;
  // The payment as the event reports it.
  Payment payment;
  int64_t occurred_at_unix_ms = 0;
  bool operator==(const PlannedOutboxEvent&) const = default;
};

// A row of provider_callbacks: a callback whose event is recorded now.
struct PlannedRecordedCallback {
  std::string provider;
  std::string event_id;
  std::string payment_id;
  std::string provider_txn_id;
  std::string status;
  std::string outcome;
  bool operator==(const PlannedRecordedCallback&) const = default;
};

struct CallbacksPlan {
  // One per callback, in input order.
  std::vector<CallbackResult> results;
  // Payments the batch moves, as it leaves them, by payment_id.
  std::map<std::string, PlannedPaymentUpdate> updates;
  std::vector<PlannedHistory> history;
  std::vector<PlannedAnomaly> anomalies;
  std::vector<PlannedOutboxEvent> outbox;
  std::vector<PlannedRecordedCallback> recorded;
};

// Decides `callbacks` in arrival order, each against its payment as the
// callbacks before it left it, exactly as if each had its own transaction:
// a replayed nonce, an unknown payment, a mismatch (anomaly
// callback_amount_mismatch), an event already recorded (in the table or
// earlier in the batch), else PlanEvidence. `outbox_event_ids[i]` names the
// outbox event callback i would emit.
CallbacksPlan PlanCallbacks(const std::vector<CallbackMessage>& callbacks,
                            const std::vector<std::string>& outbox_event_ids,
                            CallbackBatchFacts facts);

}  // namespace payonce::payment
