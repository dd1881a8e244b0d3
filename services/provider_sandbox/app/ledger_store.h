// The persistence port of the sandbox ledger. The PostgreSQL adapter
// implements it; each method is one transaction.
#pragma once

#include <cstdint>
#include <functional>
#include <optional>
#include <string>
#include <vector>

#include "absl/status/status.h"
#include "absl/status/statusor.h"
#include "services/provider_sandbox/app/callback_queue.h"
#include "services/provider_sandbox/domain/faults.h"
#include "services/provider_sandbox/domain/ledger.h"

namespace payonce::provider {

// What the store knows when a Debit call arrives (read under the debit's row
// lock, after counting the call).
struct DebitSnapshot {
  bool first_call = true;
  DebitRecord debit;
  // Oldest first; empty on the first call.
  std::vector<Capture> captures;
  FaultConfig faults;
  // This call's number in the fault schedule (1, 2, ...: one per Debit call
  // the store records, in the order their transactions take it).
  int64_t draw = 0;
};

// A callback to schedule for a new capture.
struct NewCallback {
  std::string event_id;
  // kSucceeded or kFailed.
  CaptureStatus status = CaptureStatus::kSucceeded;
  int64_t first_attempt_at_ms = 0;
  CallbackPlan plan;
};

struct NewCapture {
  Capture capture;
  NewCallback callback;
};

// What a Debit call adds, and what it answers.
struct DebitPlan {
  std::vector<NewCapture> new_captures;
  std::string answer_txn_id;
  CaptureStatus answer_status = CaptureStatus::kSucceeded;
  // The answered capture is not visible yet (late capture): Debit answers
  // UNAVAILABLE after committing the plan.
  bool answer_unknown = false;
  // The call's fault decisions (DescribeDecisions), recorded with its draw.
  std::string decisions;
};

// Decides, inside the debit's transaction, what the call adds.
using DebitPlanner = std::function<absl::StatusOr<DebitPlan>(const DebitSnapshot&)>;

// One merchant payment as the provider saw it.
struct PaymentTruth {
  std::string merchant_payment_id;
  int64_t debits = 0;
  // Captures that moved money (refunded ones included).
  int64_t captures = 0;
  int64_t refunds = 0;
  // Captured minus refunded, in minor units.
  int64_t net_captured_minor = 0;
  std::string currency;
};

struct ProviderStats {
  int64_t debits_total = 0;
  int64_t captures_total = 0;
  int64_t refunds_total = 0;
  CallbackTally callbacks;
  std::vector<PaymentTruth> payments;
};

// One line of the settlement statement.
struct SettlementLine {
  enum class Kind { kCapture, kRefund };
  Kind kind = Kind::kCapture;
  std::string provider_txn_id;
  std::string merchant_payment_id;
  int64_t amount_minor = 0;
  std::string currency;
  int64_t at_ms = 0;
  // Refunds only.
  std::string refund_id;
};

// [from, to) in microseconds since the epoch; unset = unbounded.
struct SettlementWindow {
  std::optional<int64_t> from_us;
  std::optional<int64_t> to_us;
};

class LedgerStore {
 public:
  virtual ~LedgerStore() = default;

  // Records a Debit call in one transaction: inserts the debit or counts a
  // repeat under its row lock, asks `planner` what to add, and stores the new
  // captures, their callbacks and the drop counter. The planner's error
  // rolls everything back.
  virtual absl::StatusOr<DebitPlan> RecordDebit(const DebitRequest& request, int64_t now_ms,
                                                const DebitPlanner& planner) = 0;

  // Every capture of a payment, oldest first (empty if unknown).
  virtual absl::StatusOr<std::vector<Capture>> CapturesOf(
      const std::string& merchant_payment_id) = 0;

  // Refunds a capture per DecideRefund under its row lock, idempotent on
  // request.idempotency_key; `candidate` carries the new refund's id and
  // time. NOT_FOUND for an unknown capture.
  virtual absl::StatusOr<Refund> RecordRefund(const RefundRequest& request,
                                              const Refund& candidate) = 0;

  // Replaces the fault configuration; returns what is stored.
  virtual absl::StatusOr<FaultConfig> SaveFaults(const FaultConfig& faults) = 0;

  // Totals over everything; per payment only for `merchant_payment_ids`
  // (all when empty; unknown ids are left out).
  virtual absl::StatusOr<ProviderStats> Stats(
      const std::vector<std::string>& merchant_payment_ids) = 0;

  // Captures that moved money with captured_at in the window, and refunds
  // with refunded_at in it, by time.
  virtual absl::StatusOr<std::vector<SettlementLine>> Settlement(
      const SettlementWindow& window) = 0;
};

}  // namespace payonce::provider
