#include "services/reconciler/adapters/prometheus/reconciler_metrics.h"

#include "services/common/metrics.h"

namespace payonce::reconciler {

ReconcilerMetrics::ReconcilerMetrics(prometheus::Registry& registry)
    : runs_(prometheus::BuildCounter()
                .Name("payonce_reconciler_runs_total")
                .Help("Reconciliation passes, by job and result (ok, error).")
                .Register(registry)),
      run_seconds_(prometheus::BuildHistogram()
                       .Name("payonce_reconciler_run_seconds")
                       .Help("Duration of one reconciliation pass, by job.")
                       .Register(registry)),
      repairs_(prometheus::BuildCounter()
                   .Name("payonce_reconciler_repairs_total")
                   .Help("Repairs made, by kind (stuck_payment_resolved, not_found_at_provider, "
                         "paid_but_pending, capture_refunded, capture_missing_on_our_side).")
                   .Register(registry)),
      open_anomalies_(prometheus::BuildGauge()
                          .Name("payonce_reconciler_open_anomalies")
                          .Help("Anomalies not resolved yet, by kind: OPEN (the reconciler "
                                "works on them) or NEEDS_REVIEW (a person must).")
                          .Register(registry)),
      paid_but_pending_(prometheus::BuildGauge()
                            .Name("payonce_orders_paid_but_pending")
                            .Help("Orders found PENDING_PAYMENT although their payment "
                                  "succeeded, in the last pass.")
                            .Register(registry)
                            .Add({})),
      refunded_(prometheus::BuildCounter()
                    .Name("payonce_duplicate_captures_refunded_total")
                    .Help("Extra captures (double charges, second payments, payments for "
                          "cancelled orders) refunded.")
                    .Register(registry)
                    .Add({})) {
  for (const char* job :
       {"stuck_payments", "paid_but_pending", "refund_extra_captures", "settlement"}) {
    for (const char* result : {"ok", "error"}) runs_.Add({{"job", job}, {"result", result}});
  }
}

void ReconcilerMetrics::Run(const std::string& job, const std::string& result, double seconds) {
  runs_.Add({{"job", job}, {"result", result}}).Increment();
  run_seconds_.Add({{"job", job}}, LatencyBuckets()).Observe(seconds);
}

void ReconcilerMetrics::Repair(const std::string& kind, int64_t count) {
  repairs_.Add({{"kind", kind}}).Increment(static_cast<double>(count));
}

void ReconcilerMetrics::PaidButPending(int64_t count) {
  paid_but_pending_.Set(static_cast<double>(count));
}

void ReconcilerMetrics::DuplicateCapturesRefunded(int64_t count) {
  refunded_.Increment(static_cast<double>(count));
}

void ReconcilerMetrics::OpenAnomalies(const std::vector<std::pair<std::string, int64_t>>& counts) {
  std::lock_guard<std::mutex> lock(mu_);
  // Kinds that are no longer open go back to zero.
  for (const auto& kind : anomaly_kinds_) open_anomalies_.Add({{"kind", kind}}).Set(0);
  for (const auto& [kind, n] : counts) {
    anomaly_kinds_.insert(kind);
    open_anomalies_.Add({{"kind", kind}}).Set(static_cast<double>(n));
  }
}

}  // namespace payonce::reconciler
