// The sandbox acquirer's use cases: validation, fault decisions and ids on
// top of the ledger store. No I/O of its own.
#pragma once

#include <string>
#include <vector>

#include "absl/status/statusor.h"
#include "services/common/clock.h"
#include "services/provider_sandbox/app/ledger_store.h"
#include "services/provider_sandbox/app/sandbox_metrics.h"
#include "services/provider_sandbox/domain/random_source.h"

namespace payonce::provider {

// What Debit answers.
struct DebitAnswer {
  std::string provider_txn_id;
  // kSucceeded or kFailed.
  CaptureStatus status = CaptureStatus::kSucceeded;
  // Captures this call made (0 for a plain repeat).
  int new_captures = 0;
};

class SandboxApp {
 public:
  // Each Debit call's faults are drawn from DrawSeed(fault_seed, its draw
  // number): one seed gives one fault schedule.
  SandboxApp(LedgerStore& store, uint64_t fault_seed, const Clock& clock, IdGenerator& ids,
             SandboxMetrics& metrics)
      : store_(store), fault_seed_(fault_seed), clock_(clock), ids_(ids), metrics_(metrics) {}

  // Idempotent on merchant_payment_id unless the double-charge fault fires;
  // a first debit may be declined (fail fault), captured with a wrong amount
  // or late (UNAVAILABLE while its capture is invisible). Schedules the
  // callbacks.
  absl::StatusOr<DebitAnswer> Debit(const DebitRequest& request);
  // Every capture for the payment made by now; empty if unknown.
  absl::StatusOr<std::vector<Capture>> QueryTransaction(const std::string& merchant_payment_id);
  // Full refund of a SUCCEEDED capture, idempotent on the key.
  absl::StatusOr<Refund> RefundCapture(const RefundRequest& request);
  // Validates and stores the fault configuration.
  absl::StatusOr<FaultConfig> SetFaults(const FaultConfig& faults);
  absl::StatusOr<ProviderStats> Stats(const std::vector<std::string>& merchant_payment_ids);
  absl::StatusOr<std::vector<SettlementLine>> Settlement(const SettlementWindow& window);

 private:
  NewCapture MakeCapture(const DebitRequest& request, CaptureStatus status, int64_t amount_minor,
                         int64_t captured_at_ms, const CallbackPlan& callback);

  LedgerStore& store_;
  const uint64_t fault_seed_;
  const Clock& clock_;
  IdGenerator& ids_;
  SandboxMetrics& metrics_;
};

}  // namespace payonce::provider
