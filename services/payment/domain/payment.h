// Payments: statuses, the payment state machine, idempotency decisions and
// callback validation. Pure: no I/O.
#pragma once

#include <chrono>
#include <cstdint>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "absl/status/status.h"

namespace payonce::payment {

enum class PaymentStatus { kPending, kSucceeded, kFailed, kRefunded };

std::string_view ToString(PaymentStatus status);
std::optional<PaymentStatus> ParsePaymentStatus(std::string_view text);

struct Payment {
  std::string payment_id;
  std::string order_id;
  int64_t amount_minor = 0;
  std::string currency;
  PaymentStatus status = PaymentStatus::kPending;
  std::string provider;
  std::string provider_txn_id;
  std::string failure_reason;
  bool late_success = false;
  int64_t created_at_us = 0;
  int64_t updated_at_us = 0;
  bool operator==(const Payment&) const = default;
};

// How strong the evidence behind a status is. Weaker evidence never
// overrides stronger.
enum class EvidenceRank : int { kNone = 0, kCallback = 1, kQuery = 2, kSettlement = 3 };
std::string_view EvidenceSource(EvidenceRank rank);

// What the provider says happened to a payment.
struct CaptureEvidence {
  PaymentStatus reported = PaymentStatus::kSucceeded;  // kSucceeded or kFailed
  EvidenceRank rank = EvidenceRank::kCallback;
  std::string provider_txn_id;
  std::string failure_reason;
  // The provider has no record of the payment (kFailed only): absence of
  // evidence, which fails the payment but ranks below every report, so a
  // capture reported later by any source is applied (a late success).
  bool absence = false;
};

enum class TransitionKind {
  // The payment changes state; an outbox event is recorded with it.
  kApply,
  // The same transition was already applied: nothing changes.
  kDuplicate,
  // It would move the payment backwards (or weaker evidence contradicts
  // stronger): nothing but a history entry.
  kIgnoredStale,
};

struct Transition {
  TransitionKind kind = TransitionKind::kDuplicate;
  PaymentStatus new_status = PaymentStatus::kPending;
  // A success after the payment had failed: money moved late; flagged.
  bool late_success = false;
  // Whether the payment still blocks new attempts for its order.
  bool live = true;
  std::string reason;
};

// The payment state machine of CONTRACT §2:
//   PENDING -> SUCCEEDED | FAILED
//   FAILED -> SUCCEEDED only on evidence at least as strong as the failure's
//   SUCCEEDED -> REFUNDED only through a refund (never through evidence here)
//   nothing moves back to PENDING; SUCCEEDED never becomes FAILED.
Transition DecideTransition(PaymentStatus current, EvidenceRank current_rank,
                            const CaptureEvidence& evidence);

// --- What one piece of evidence writes --------------------------------------

// A payment as the ledger holds it, with the strength of its evidence.
struct LedgerPayment {
  Payment payment;
  EvidenceRank rank = EvidenceRank::kNone;
  bool operator==(const LedgerPayment&) const = default;
};

// One entry of a payment's history.
struct HistoryEntry {
  std::string source;  // "callback", "query" or "settlement"
  std::string old_status;
  std::string new_status;
  std::string event_id;  // the callback event or the query that brought it
  std::string detail;
  bool operator==(const HistoryEntry&) const = default;
};

// A discrepancy for the reconciler (anomalies table), about `after.payment`.
struct AnomalyEntry {
  std::string kind;  // late_success, duplicate_capture
  std::string provider_txn_id;
  std::string detail;
};

// Everything applying one piece of evidence to a payment writes. The
// PostgreSQL adapters execute it, one evidence per transaction or many in one
// set-based transaction (group commit): both from this one decision.
struct EvidencePlan {
  Transition transition;
  // The payment after the evidence; equal to the input unless kApply.
  LedgerPayment after;
  std::optional<HistoryEntry> history;
  // A late success, and/or a capture id other than the one recorded.
  std::vector<AnomalyEntry> anomalies;
  // kApply only: one outbox event carrying after.payment.status, and whether
  // the payment still blocks new attempts (payments.live).
  bool emits_event = false;
  bool live = true;
};

// Decides what `evidence` (reference `evidence_ref`) does to `current`:
// DecideTransition plus the history entry, the anomalies (a late success; a
// success whose capture id differs from the one the payment records, in any
// order they arrive: money moved twice) and the outbox event.
EvidencePlan PlanEvidence(const LedgerPayment& current, const CaptureEvidence& evidence,
                          const std::string& evidence_ref);

// A refund of a SUCCEEDED payment; FAILED_PRECONDITION from any other state.
absl::Status CheckRefundable(PaymentStatus current);

// Where a payment's order stands, as RefundPayment needs to know it.
enum class OrderStanding {
  kAwaitingPayment,
  kPaidByThisPayment,
  kPaidByAnother,
  kCancelled,
  kOther
};

// RefundPayment of a SUCCEEDED payment is allowed once the order has
// recorded where its money stands: paid by this payment (the order moves to
// CANCELLED when it hears of the refund: a PAID order always holds its
// money), paid by another payment, or cancelled. FAILED_PRECONDITION while
// the order is still waiting for payment: it has not recorded this success
// yet, and would turn PAID on money already refunded. Cancel the order
// instead; its money is then refunded by the reconciler.
absl::Status CheckOrderAllowsRefund(OrderStanding standing);

// --- Idempotency keys -------------------------------------------------------

// A stored idempotency key.
struct IdempotencyRecord {
  std::string fingerprint;
  bool done = false;  // false: the first request is still in flight
  std::chrono::system_clock::time_point locked_until;
};

enum class IdempotencyAction {
  kProceed,   // no record: this request owns the key
  kReplay,    // done with the same fingerprint: answer the stored response
  kMismatch,  // same key, different request: FAILED_PRECONDITION
  kInFlight,  // first request still running: ABORTED, client retries
  kTakeOver,  // the in-flight owner's lock expired (it crashed): proceed
};

IdempotencyAction DecideIdempotency(const std::optional<IdempotencyRecord>& existing,
                                    const std::string& fingerprint,
                                    std::chrono::system_clock::time_point now);

// A stable digest of the fields that define a CreatePayment request.
std::string CreatePaymentFingerprint(const std::string& order_id, int64_t amount_minor,
                                     const std::string& currency);
// The same for RefundPayment.
std::string RefundFingerprint(const std::string& payment_id, const std::string& reason);

// INVALID_ARGUMENT for a malformed CreatePayment request.
absl::Status ValidateCreatePayment(const std::string& idempotency_key, const std::string& order_id,
                                   int64_t amount_minor, const std::string& currency);

// --- Provider callbacks -----------------------------------------------------

inline constexpr std::chrono::milliseconds kCallbackWindow{300'000};
inline constexpr std::chrono::milliseconds kNonceTtl{600'000};
// 9999-12-31T23:59:59.999Z: the latest time a callback may name (later ones
// would overflow PostgreSQL's timestamps).
inline constexpr int64_t kLatestUnixMs = 253'402'300'799'999;

struct CallbackMessage {
  std::string provider;
  std::string event_id;
  std::string payment_id;
  std::string provider_txn_id;
  std::string status_name;  // the enum name as received
  std::optional<PaymentStatus> status;
  int64_t amount_minor = 0;
  std::string currency;
  int64_t occurred_at_unix_ms = 0;
  int64_t timestamp_unix_ms = 0;
  std::string nonce;
  std::string signature;
};

// INVALID_ARGUMENT for missing or malformed fields.
absl::Status ValidateCallbackShape(const CallbackMessage& m);

// UNAUTHENTICATED when the timestamp is more than the window away from now.
absl::Status CheckCallbackWindow(const CallbackMessage& m, int64_t now_unix_ms);

}  // namespace payonce::payment
