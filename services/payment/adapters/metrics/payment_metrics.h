// PaymentObserver on Prometheus: payonce_callbacks_total,
// payonce_callback_duration_seconds, payonce_idempotency_hits_total,
// payonce_redis_errors_total, payonce_callback_group_commit_size.
#pragma once

#include <prometheus/counter.h>
#include <prometheus/family.h>
#include <prometheus/histogram.h>
#include <prometheus/registry.h>

#include "services/payment/app/payment_app.h"

namespace payonce::payment {

class PaymentMetrics final : public PaymentObserver {
 public:
  explicit PaymentMetrics(prometheus::Registry& registry);
  void IdempotencyHit(const std::string& store) override;
  void RedisError() override;
  void Callback(const std::string& outcome, double seconds) override;
  void CallbackBatch(size_t callbacks) override;

 private:
  prometheus::Family<prometheus::Counter>& callbacks_;
  prometheus::Histogram& callback_seconds_;
  prometheus::Histogram& callback_batch_size_;
  prometheus::Family<prometheus::Counter>& idempotency_hits_;
  prometheus::Counter& redis_errors_;
};

}  // namespace payonce::payment
