// RelayObserver as Prometheus metrics: the outbox backlog gauges, delivery
// lag and delivery results.
#pragma once

#include <prometheus/counter.h>
#include <prometheus/gauge.h>
#include <prometheus/histogram.h>
#include <prometheus/registry.h>

#include "services/outbox_relay/app/outbox_relay.h"

namespace payonce::relay {

class RelayMetrics final : public RelayObserver {
 public:
  // Registers payonce_outbox_* metrics on `registry`.
  explicit RelayMetrics(prometheus::Registry& registry);

  void OnDelivered(double lag_seconds) override;
  void OnRetry() override;
  void OnDeadLetter() override;
  void OnBacklog(const OutboxBacklog& backlog) override;

 private:
  prometheus::Gauge& pending_;
  prometheus::Gauge& oldest_pending_seconds_;
  prometheus::Gauge& dead_letters_;
  prometheus::Histogram& delivery_lag_;
  prometheus::Family<prometheus::Counter>& deliveries_;
  prometheus::Counter& delivered_;
  prometheus::Counter& retried_;
  prometheus::Counter& dead_lettered_;
};

}  // namespace payonce::relay
