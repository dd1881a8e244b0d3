#include "services/outbox_relay/adapters/prometheus/relay_metrics.h"

namespace payonce::relay {
namespace {

// Delivery lag in seconds: milliseconds when healthy, up to an hour when
// the order service was down and rows waited out their backoff.
prometheus::Histogram::BucketBoundaries LagBuckets() {
  return {0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30, 60, 300, 900, 3600};
}

}  // namespace

RelayMetrics::RelayMetrics(prometheus::Registry& registry)
    : pending_(prometheus::BuildGauge()
                   .Name("payonce_outbox_pending")
                   .Help("Outbox rows neither delivered nor dead-lettered.")
                   .Register(registry)
                   .Add({})),
      oldest_pending_seconds_(prometheus::BuildGauge()
                                  .Name("payonce_outbox_oldest_pending_seconds")
                                  .Help("Age of the oldest pending outbox row in seconds (0 if "
                                        "none).")
                                  .Register(registry)
                                  .Add({})),
      dead_letters_(prometheus::BuildGauge()
                        .Name("payonce_outbox_dead_letters")
                        .Help("Outbox rows the relay gave up on (see OutboxAdmin).")
                        .Register(registry)
                        .Add({})),
      delivery_lag_(prometheus::BuildHistogram()
                        .Name("payonce_outbox_delivery_lag_seconds")
                        .Help("Time from an outbox row's commit to its delivery to the order "
                              "service.")
                        .Register(registry)
                        .Add({}, LagBuckets())),
      deliveries_(prometheus::BuildCounter()
                      .Name("payonce_outbox_deliveries_total")
                      .Help("Outbox delivery attempts by result: delivered, retry (failed, tried "
                            "again after a backoff) or dead_letter (given up on).")
                      .Register(registry)),
      delivered_(deliveries_.Add({{"result", "delivered"}})),
      retried_(deliveries_.Add({{"result", "retry"}})),
      dead_lettered_(deliveries_.Add({{"result", "dead_letter"}})) {}

void RelayMetrics::OnDelivered(double lag_seconds) {
  delivered_.Increment();
  delivery_lag_.Observe(lag_seconds);
}

void RelayMetrics::OnRetry() { retried_.Increment(); }

void RelayMetrics::OnDeadLetter() { dead_lettered_.Increment(); }

void RelayMetrics::OnBacklog(const OutboxBacklog& backlog) {
  pending_.Set(static_cast<double>(backlog.pending));
  oldest_pending_seconds_.Set(static_cast<double>(backlog.oldest_pending_age_ms) / 1000.0);
  dead_letters_.Set(static_cast<double>(backlog.dead_letters));
}

}  // namespace payonce::relay
