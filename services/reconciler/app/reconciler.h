// The reconciliation jobs. Each RunX() does one bounded pass and returns what
// it did; tests call them directly, a thin loop drives them in the process.
#pragma once

#include <chrono>
#include <string>

#include "absl/status/statusor.h"
#include "services/common/clock.h"
#include "services/common/log.h"
#include "services/reconciler/app/ports.h"

namespace payonce::reconciler {

// Observations the metrics adapter counts.
class ReconcilerObserver {
 public:
  virtual ~ReconcilerObserver() = default;
  virtual void Run(const std::string& job, const std::string& result, double seconds) = 0;
  virtual void Repair(const std::string& kind, int64_t count) = 0;
  virtual void PaidButPending(int64_t count) = 0;
  virtual void DuplicateCapturesRefunded(int64_t count) = 0;
  virtual void OpenAnomalies(const std::vector<std::pair<std::string, int64_t>>& counts) = 0;
};

struct ReconcilerOptions {
  // A PENDING payment older than this is asked about at the provider.
  std::chrono::milliseconds stuck_after{2000};
  // The provider never heard of it for this long after creation: FAILED.
  std::chrono::milliseconds not_found_grace{60000};
  // A success not confirmed to the order service for this long is repaired.
  std::chrono::milliseconds unconfirmed_after{3000};
  // Back-off of looks that could not conclude (provider unreachable...).
  std::chrono::milliseconds retry_base{1000};
  std::chrono::milliseconds retry_cap{60000};
  // How long a claimed row is reserved for this replica.
  std::chrono::milliseconds lease{30000};
  // The statement is read up to now minus this (let callbacks land first),
  // and each pass re-reads this much before its cursor.
  std::chrono::milliseconds settlement_lag{10000};
  std::chrono::milliseconds settlement_overlap{60000};
  // Where the first statement pass starts; also how far back a pass may
  // widen its window to check a capture that took long to learn.
  std::chrono::milliseconds settlement_lookback{3600000};
  // How far the provider's clock may be from ours: a capture of ours is
  // missing from a statement window only if it is inside it by this margin.
  std::chrono::milliseconds settlement_clock_skew{2000};
  int batch = 200;
};

struct PassReport {
  int64_t examined = 0;
  int64_t repaired = 0;
  int64_t deferred = 0;
  int64_t refunds = 0;
  int64_t anomalies = 0;
};

class Reconciler {
 public:
  Reconciler(ReconcilerOptions options, ReconcileStore& store, payment::ProviderGateway& provider,
             OrderDesk& orders, SettlementSource& settlement, const Clock& clock,
             ReconcilerObserver& observer, Logger& log);

  // PENDING payments: query the provider, apply what it says (rank query),
  // fail what it never heard of after the grace period, wait otherwise.
  absl::StatusOr<PassReport> ResolveStuckPayments();
  // SUCCEEDED payments their order never took: pay the order with them, or
  // record that their money must be refunded (SettleSuccess).
  absl::StatusOr<PassReport> RepairPaidButPending();
  // Extra money (duplicate captures, second payments, paid after cancel):
  // refund every capture beyond the one the order keeps, once.
  absl::StatusOr<PassReport> RefundExtraCaptures();
  // Compares the provider's statement with the ledger (one leader): each
  // line against our payment, and each capture of ours the window covers
  // against the lines.
  absl::StatusOr<PassReport> CompareSettlement();
  // All four, in that order, plus the anomaly gauge.
  absl::Status RunAll();

  // Compares [from, to) without writing anything: the CLI's report.
  absl::StatusOr<std::vector<Discrepancy>> ReportSettlement(int64_t from_unix_ms,
                                                            int64_t to_unix_ms);

 private:
  template <class Job>
  absl::StatusOr<PassReport> Timed(const std::string& job, Job&& work);
  // What a SUCCEEDED payment's money means for its order.
  enum class Settlement {
    kConfirmed,       // the order was already paid by it
    kPaidNow,         // the order was pending and is now paid by it
    kRefundRequired,  // the order cannot take it: a refund_required anomaly
  };
  // Decided from the order's own state (`order`, just read), never from an
  // earlier answer that may have been lost: confirms the success, pays the
  // pending order with it (ApplyPaymentEvent, source "reconciler"), or
  // records that its money must be refunded. The success is confirmed only
  // with the fact that settles it, so a crash in between repeats the step.
  absl::StatusOr<Settlement> SettleSuccess(const payment::Payment& payment, const OrderView& order);
  // The statement for a window, compared with the ledger.
  struct Comparison {
    int64_t lines = 0;
    std::vector<Discrepancy> found;
  };
  // Reads the statement for `window` and compares it with the ledger, whose
  // captures learned in that window are `ours`.
  absl::StatusOr<Comparison> Compare(const StatementWindow& window,
                                     const std::vector<LedgerCapture>& ours);

  ReconcilerOptions options_;
  ReconcileStore& store_;
  payment::ProviderGateway& provider_;
  OrderDesk& orders_;
  SettlementSource& settlement_;
  const Clock& clock_;
  ReconcilerObserver& observer_;
  Logger& log_;
};

}  // namespace payonce::reconciler
