// SandboxMetrics as Prometheus counters on the process's registry:
// payonce_provider_debits_total, _captures_total, _refunds_total and
// payonce_provider_callbacks_sent_total{result}.
#pragma once

#include <prometheus/counter.h>
#include <prometheus/family.h>
#include <prometheus/registry.h>

#include <string_view>

#include "services/provider_sandbox/app/sandbox_metrics.h"

namespace payonce::provider {

class PrometheusSandboxMetrics final : public SandboxMetrics {
 public:
  explicit PrometheusSandboxMetrics(prometheus::Registry& registry);

  void DebitRecorded() override;
  void CapturesMade(int64_t count) override;
  void RefundMade() override;
  void CallbacksSent(std::string_view result, int64_t count) override;

 private:
  prometheus::Counter& debits_;
  prometheus::Counter& captures_;
  prometheus::Counter& refunds_;
  prometheus::Family<prometheus::Counter>& callbacks_;
};

}  // namespace payonce::provider
