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

struct StuckDecision {
  StuckAction action = StuckAction::kWait;
  CaptureEvidence evidence;  // for kApplyEvidence / kNotFoundFailed
  // Money-moving captures beyond the one the payment keeps: refund them.
  std::vector<std::string> extra_captures;
};

// What to do with a PENDING payment, given every capture the provider reports
// for it, how long ago it was created, and the not-found grace period.
StuckDecision DecideStuckPayment(const std::vector<ProviderCapture>& captures,
                                 std::chrono::milliseconds age,
                                 std::chrono::milliseconds not_found_grace);

// True for a capture whose money is with the merchant (captured, not refunded).
bool HoldsMoney(const ProviderCapture& c);

// The capture a payment keeps: its recorded txn if it holds money, else the
// earliest money-holding capture; "" if none holds money.
std::string KeptCapture(const std::string& recorded_txn,
                        const std::vector<ProviderCapture>& captures);

// --- Refunds of extra money -------------------------------------------------

// One payment of an order, with what the provider says about it.
struct PaymentCaptures {
  std::string payment_id;
  PaymentStatus status = PaymentStatus::kPending;
  std::string recorded_txn;
  std::vector<ProviderCapture> captures;
};

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

// For one order: at most one capture stays un-refunded (the one of the
// payment that paid the order), none for a cancelled order; every other
// money-holding capture is refunded.
RefundPlan PlanRefunds(OrderState order, const std::string& paid_payment_id,
                       const std::vector<PaymentCaptures>& payments);

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
                     // refund_missing_on_our_side
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

}  // namespace payonce::reconciler
