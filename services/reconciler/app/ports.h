// What the reconciler needs from the outside world. Adapters: PostgreSQL
// (the payment ledger), gRPC (order service, provider).
#pragma once

#include <chrono>
#include <functional>
#include <optional>
#include <string>
#include <vector>

#include "absl/status/statusor.h"
#include "services/payment/app/ports.h"
#include "services/reconciler/domain/reconcile.h"

namespace payonce::reconciler {

// A payment as the reconciler claims it.
struct ClaimedPayment {
  payment::Payment payment;
  int attempts = 0;  // earlier looks that could not conclude
};

struct Anomaly {
  int64_t anomaly_id = 0;
  std::string kind;
  std::string payment_id;
  std::string order_id;
  std::string provider_txn_id;
  std::string detail;
  std::string status;
  int attempts = 0;
  int64_t created_at_us = 0;
};

enum class EvidenceOutcome { kApplied, kDuplicate, kIgnoredStale, kNotFound };

// The payment ledger, as the reconciler reads and repairs it. Claims use a
// lease (FOR UPDATE SKIP LOCKED, then a "look again after" time) so several
// reconciler replicas never work on the same row at once.
class ReconcileStore {
 public:
  virtual ~ReconcileStore() = default;

  // PENDING payments older than `older_than`, due for a look.
  virtual absl::StatusOr<std::vector<ClaimedPayment>> ClaimStuckPayments(
      std::chrono::milliseconds older_than, int limit, std::chrono::milliseconds lease) = 0;
  // Applies provider evidence through the same transition code as callbacks;
  // extra captures become duplicate_capture anomalies, mismatched ones
  // (another amount or currency) capture_amount_mismatch anomalies.
  virtual absl::StatusOr<EvidenceOutcome> ApplyEvidence(
      const std::string& payment_id, const CaptureEvidence& evidence,
      const std::vector<std::string>& extra_captures,
      const std::vector<std::string>& mismatched_captures) = 0;
  // Looks at the payment again after `delay`; counts a failed look.
  virtual absl::Status Defer(const std::string& payment_id, std::chrono::milliseconds delay) = 0;

  // SUCCEEDED payments not confirmed with their order, older than
  // `older_than`: the order never took them (no delivered SUCCEEDED outbox row
  // answered APPLIED or IGNORED), whatever the relay was answered.
  virtual absl::StatusOr<std::vector<ClaimedPayment>> ClaimUnconfirmedSuccesses(
      std::chrono::milliseconds older_than, int limit, std::chrono::milliseconds lease) = 0;
  // Marks successes the order took through the relay as confirmed; returns
  // how many.
  virtual absl::StatusOr<int64_t> ConfirmDeliveredSuccesses() = 0;
  // The order took this payment's success.
  virtual absl::Status MarkOrderConfirmed(const std::string& payment_id) = 0;
  // The order cannot take this payment's money (cancelled, paid by another
  // payment, another amount): a refund_required anomaly (unless one is open)
  // and the success confirmed, in one transaction.
  virtual absl::Status RecordRefundRequired(const std::string& payment_id,
                                            const std::string& detail) = 0;

  // Open anomalies of `kinds` due for work.
  virtual absl::StatusOr<std::vector<Anomaly>> ClaimAnomalies(const std::vector<std::string>& kinds,
                                                              int limit,
                                                              std::chrono::milliseconds lease) = 0;
  virtual absl::Status ResolveAnomaly(int64_t anomaly_id, const std::string& status,
                                      const std::string& resolution) = 0;
  virtual absl::Status DeferAnomaly(int64_t anomaly_id, std::chrono::milliseconds delay,
                                    const std::string& why) = 0;
  virtual absl::StatusOr<std::vector<payment::Payment>> PaymentsOfOrder(
      const std::string& order_id) = 0;
  // Records a refunded capture once (false if it was already recorded); a
  // payment's own capture also moves the payment to REFUNDED with its outbox
  // row.
  virtual absl::StatusOr<bool> RecordCaptureRefund(const RefundPlan::Item& item,
                                                   const std::string& order_id,
                                                   const std::string& refund_id) = 0;

  // Statement comparison.
  virtual absl::StatusOr<std::optional<LedgerPayment>> LedgerFor(const std::string& payment_id) = 0;
  // The captures of SUCCEEDED or REFUNDED payments whose success we first
  // recorded in [from, to) (our clock, Unix ms), oldest first.
  virtual absl::StatusOr<std::vector<LedgerCapture>> CapturesSucceededBetween(
      int64_t from_unix_ms, int64_t to_unix_ms) = 0;
  virtual absl::Status RecordDiscrepancy(const Discrepancy& d, const std::string& status) = 0;
  virtual absl::StatusOr<std::optional<int64_t>> Cursor(const std::string& job) = 0;
  virtual absl::Status SetCursor(const std::string& job, int64_t at_unix_ms) = 0;

  // Unresolved anomalies (OPEN or NEEDS_REVIEW) by kind, for the gauge.
  virtual absl::StatusOr<std::vector<std::pair<std::string, int64_t>>> OpenAnomalyCounts() = 0;
  // Anomalies, newest first.
  virtual absl::StatusOr<std::vector<Anomaly>> ListAnomalies(const std::string& status,
                                                             int limit) = 0;

  // Runs `work` only if this replica holds the job's leader lock (a
  // PostgreSQL advisory lock held for the duration); returns false if
  // another replica holds it.
  virtual absl::StatusOr<bool> AsLeader(const std::string& job,
                                        const std::function<absl::Status()>& work) = 0;
};

// The order service, as the reconciler needs it.
struct OrderView {
  OrderState state = OrderState::kUnknown;
  std::string paid_payment_id;
};

class OrderDesk {
 public:
  virtual ~OrderDesk() = default;
  virtual absl::StatusOr<OrderView> GetOrder(const std::string& order_id) = 0;
  // ApplyPaymentEvent with source "reconciler"; returns the outcome name
  // ("APPLIED", "IGNORED", "REFUND_REQUIRED"): for an event id applied
  // before, what its first delivery decided ("DUPLICATE" only if the order
  // service does not say).
  virtual absl::StatusOr<std::string> ApplyPaymentEvent(const std::string& event_id,
                                                        const payment::Payment& payment,
                                                        PaymentStatus status) = 0;
  // Tells the order (its timeline) that an extra capture of `payment`
  // (`provider_txn_id`, `amount_minor`) was refunded; the payment itself
  // still holds the order's money.
  virtual absl::Status TellExtraCaptureRefunded(const payment::Payment& payment,
                                                const std::string& provider_txn_id,
                                                int64_t amount_minor) = 0;
};

// The provider's settlement statement.
class SettlementSource {
 public:
  virtual ~SettlementSource() = default;
  virtual absl::StatusOr<std::vector<StatementLine>> Statement(int64_t from_unix_ms,
                                                               int64_t to_unix_ms) = 0;
};

}  // namespace payonce::reconciler
