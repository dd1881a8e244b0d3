// The reconciler's decisions, as plain functions over plain data: which
// evidence wins, when to wait, which captures to refund. Pure: no I/O.
#pragma once

#include <chrono>
#include <cstdint>
#include <optional>
#include <string>
#include <vector>

#include "services/payment/app/ports.h"
#include "services/payment/domain/payment.h"

namespace payonce::reconciler {

using payment::CaptureEvidence;
using payment::EvidenceRank;
using payment::PaymentStatus;
using payment::ProviderCapture;

// --- Stuck payments ---------------------------------------------------------

enum class StuckAction {
  kApplyEvidence,   // the provider knows the outcome: apply it (rank query)
  kNotFoundFailed,  // the provider never heard of it after the grace period
  kWait,            // too early to call it lost
};

// What a payment is for: a capture of another amount or currency never
// counts as the payment's money.
struct Amount {
  int64_t minor = 0;
  std::string currency;
};

struct StuckDecision {
  StuckAction action = StuckAction::kWait;
  CaptureEvidence evidence;  // for kApplyEvidence / kNotFoundFailed
  // Money-moving captures beyond the one the payment keeps: refund them.
  std::vector<std::string> extra_captures;
  // Money-moving captures of another amount or currency than the payment:
  // never evidence that it succeeded; refunded (capture_amount_mismatch).
  std::vector<std::string> mismatched_captures;
};

// What to do with a PENDING payment for `expected`, given every capture the
// provider reports for it, how long ago it was created, and the not-found
// grace period. Only captures of the expected amount and currency succeed
// it; if the provider holds nothing else, a mismatched capture fails it as
// absence of evidence (a right capture reported later still wins).
StuckDecision DecideStuckPayment(const std::vector<ProviderCapture>& captures,
                                 const Amount& expected, std::chrono::milliseconds age,
                                 std::chrono::milliseconds not_found_grace);

// True for a capture whose money is with the merchant (captured, not refunded).
bool HoldsMoney(const ProviderCapture& c);

// True for a capture of exactly `expected`.
bool Fits(const ProviderCapture& c, const Amount& expected);

// --- Refunds of extra money -------------------------------------------------

// One payment of an order, with what the provider says about it.
struct PaymentCaptures {
  std::string payment_id;
  PaymentStatus status = PaymentStatus::kPending;
  std::string recorded_txn;
  std::vector<ProviderCapture> captures;
  Amount amount;  // what the payment is for
};

// The capture a payment keeps: its recorded txn if it holds money of the
// payment's amount, else the earliest such capture; "" if none.
std::string KeptCapture(const PaymentCaptures& payment);

enum class OrderState { kPendingPayment, kPaid, kCancelled, kUnknown };

struct RefundPlan {
  // Nothing to do yet (e.g. the order is still pending: the paid-but-pending
  // job will pay it first, then the extra money is clear).
  bool wait = false;
  struct Item {
    std::string payment_id;
    std::string provider_txn_id;
    int64_t amount_minor = 0;
    std::string currency;
    // True when it is the payment's own (recorded) capture: the payment
    // becomes REFUNDED; false for an extra capture of a payment that stays.
    bool whole_payment = false;
    std::string reason;
  };
  std::vector<Item> refunds;
};

// For one order: while it is PAID exactly one capture of its amount stays
// un-refunded (the paying payment's; if that one holds no money, the
// earliest of another payment's: a PAID order always keeps its money, unless
// the paying payment was refunded, when the order is about to be CANCELLED
// and the plan waits for it), none for a cancelled order; every other
// money-holding capture is refunded, and one of another amount or currency
// than its payment always.
RefundPlan PlanRefunds(OrderState order, const std::string& paid_payment_id,
                       const std::vector<PaymentCaptures>& payments);

// When PlanRefunds waits on an order still PENDING_PAYMENT: the payment the
// order should be told of now (the oldest SUCCEEDED one, in `payments`'
// order, oldest first), so the extra money can be refunded in the same pass;
// "" if none (nothing our ledger can pay it with yet) or the order is not
// pending.
std::string PaymentToSettle(OrderState order, const std::vector<PaymentCaptures>& payments);

// The provider-side idempotency key of a capture's refund: derived from the
// capture, so every path refunds it at most once.
std::string RefundKeyFor(const std::string& provider_txn_id);

// --- Retry pacing -----------------------------------------------------------

// Delay before looking at something again after `attempts` failed looks:
// base * 2^(attempts-1), capped.
std::chrono::milliseconds RetryDelay(int attempts, std::chrono::milliseconds base,
                                     std::chrono::milliseconds cap);

// --- Settlement statement ---------------------------------------------------

struct StatementLine {
  bool refund = false;
  std::string provider_txn_id;
  std::string payment_id;
  int64_t amount_minor = 0;
  std::string currency;
};

// Our view of a payment for the statement comparison.
struct LedgerPayment {
  std::string payment_id;
  PaymentStatus status = PaymentStatus::kPending;
  std::string provider_txn_id;
  int64_t amount_minor = 0;
  std::string currency;
  // Extra captures we already refunded.
  std::vector<std::string> refunded_extra_captures;
};

struct Discrepancy {
  std::string kind;  // capture_unknown_payment, capture_missing_on_our_side,
                     // duplicate_capture, settlement_amount_mismatch,
                     // refund_missing_on_our_side, capture_missing_at_provider
  std::string payment_id;
  std::string provider_txn_id;
  std::string detail;
  // For capture_missing_on_our_side: apply as settlement evidence.
  bool repair_with_settlement = false;
};

// Compares one statement line with our ledger entry (nullopt: we have no such
// payment).
std::vector<Discrepancy> CompareLine(const StatementLine& line,
                                     const std::optional<LedgerPayment>& ours);

// --- Captures the provider does not show ------------------------------------
//
// The statement places a capture at the provider's captured_at; our ledger
// does not know that moment. It knows two bounds: the provider cannot have
// captured before we created the payment (the debit is sent after), nor after
// we first recorded the success (the provider told us after capturing). A
// statement window [from, to) *definitely* covers our capture only if the
// whole interval [created - skew, succeeded + skew] lies inside it, `skew`
// being how far the provider's clock may be from ours. Anything else may
// stand on the neighbouring window's statement (a capture made just before
// `to` is the next window's when the provider's clock runs ahead), so it is
// not flagged: a false "money missing" alarm costs a person's time, and a
// later window that covers the capture checks it then.

// A capture our ledger holds: a SUCCEEDED or REFUNDED payment's own capture.
struct LedgerCapture {
  std::string payment_id;
  std::string provider_txn_id;
  PaymentStatus status = PaymentStatus::kSucceeded;
  int64_t amount_minor = 0;
  std::string currency;
  // When we created the payment: the capture is not earlier.
  int64_t created_at_unix_ms = 0;
  // When we first recorded its success: the capture is not later.
  int64_t succeeded_at_unix_ms = 0;
};

// A statement window [from, to), Unix milliseconds.
struct StatementWindow {
  int64_t from_unix_ms = 0;
  int64_t to_unix_ms = 0;
};

// True if the statement for `window` must list `capture`, whatever the
// provider's clock within `skew` of ours.
bool WindowCovers(const StatementWindow& window, const LedgerCapture& capture,
                  std::chrono::milliseconds skew);

// `window` widened back (never narrowed) to cover the creation of every
// capture in `ours` less the skew, but not past `floor_unix_ms`: a payment
// whose success took longer than the statement overlap to learn is still
// checked once.
StatementWindow WidenToCover(StatementWindow window, const std::vector<LedgerCapture>& ours,
                             std::chrono::milliseconds skew, int64_t floor_unix_ms);

// Our captures that the statement `lines` for `window` must list and does
// not: capture_missing_at_provider each. Money we believe we received that the
// provider does not show is never repaired automatically.
std::vector<Discrepancy> FindCapturesMissingAtProvider(const StatementWindow& window,
                                                       const std::vector<StatementLine>& lines,
                                                       const std::vector<LedgerCapture>& ours,
                                                       std::chrono::milliseconds skew);

}  // namespace payonce::reconciler
