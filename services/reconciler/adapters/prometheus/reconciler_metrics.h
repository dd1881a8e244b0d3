// ReconcilerObserver on Prometheus.
#pragma once

#include <prometheus/counter.h>
#include <prometheus/family.h>
#include <prometheus/gauge.h>
#include <prometheus/histogram.h>
#include <prometheus/registry.h>

#include <mutex>
#include <set>

#include "services/reconciler/app/reconciler.h"

namespace payonce::reconciler {

class ReconcilerMetrics final : public ReconcilerObserver {
 public:
  explicit ReconcilerMetrics(prometheus::Registry& registry);
  void Run(const std::string& job, const std::string& result, double seconds) override;
  void Repair(const std::string& kind, int64_t count) override;
  void PaidButPending(int64_t count) override;
  void DuplicateCapturesRefunded(int64_t count) override;
  void OpenAnomalies(const std::vector<std::pair<std::string, int64_t>>& counts) override;

 private:
  prometheus::Family<prometheus::Counter>& runs_;
  prometheus::Family<prometheus::Histogram>& run_seconds_;
  prometheus::Family<prometheus::Counter>& repairs_;
  prometheus::Family<prometheus::Gauge>& open_anomalies_;
  prometheus::Gauge& paid_but_pending_;
  prometheus::Counter& refunded_;
  std::mutex mu_;
  std::set<std::string> anomaly_kinds_;
};

}  // namespace payonce::reconciler
