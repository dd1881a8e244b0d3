#include "services/provider_sandbox/adapters/prometheus/prometheus_sandbox_metrics.h"

#include <string>

namespace payonce::provider {

PrometheusSandboxMetrics::PrometheusSandboxMetrics(prometheus::Registry& registry)
    : debits_(prometheus::BuildCounter()
                  .Name("payonce_provider_debits_total")
                  .Help("Debit calls recorded by the sandbox provider, repeats included.")
                  .Register(registry)
                  .Add({})),
      captures_(prometheus::BuildCounter()
                    .Name("payonce_provider_captures_total")
                    .Help("Captures that moved money (double charges included).")
                    .Register(registry)
                    .Add({})),
      refunds_(prometheus::BuildCounter()
                   .Name("payonce_provider_refunds_total")
                   .Help("Captures refunded by the sandbox provider.")
                   .Register(registry)
                   .Add({})),
      callbacks_(prometheus::BuildCounter()
                     .Name("payonce_provider_callbacks_sent_total")
                     .Help("Provider callbacks by result: acknowledged (OK), rejected (another "
                           "error code), unreachable (UNAVAILABLE or deadline), dropped (never "
                           "sent, fault), forged (bad signature, fault), replayed (verbatim "
                           "resend, fault).")
                     .Register(registry)) {
  // Every result exists from the start, so rate() sees the first increment.
  for (const char* result :
       {"acknowledged", "rejected", "unreachable", "dropped", "forged", "replayed"}) {
    callbacks_.Add({{"result", result}});
  }
}

void PrometheusSandboxMetrics::DebitRecorded() { debits_.Increment(); }

void PrometheusSandboxMetrics::CapturesMade(int64_t count) {
  captures_.Increment(static_cast<double>(count));
}

void PrometheusSandboxMetrics::RefundMade() { refunds_.Increment(); }

void PrometheusSandboxMetrics::CallbacksSent(std::string_view result, int64_t count) {
  callbacks_.Add({{"result", std::string(result)}}).Increment(static_cast<double>(count));
}

}  // namespace payonce::provider
