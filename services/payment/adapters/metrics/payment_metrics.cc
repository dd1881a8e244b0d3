#include "services/payment/adapters/metrics/payment_metrics.h"

#include "services/common/metrics.h"

namespace payonce::payment {

PaymentMetrics::PaymentMetrics(prometheus::Registry& registry)
    : callbacks_(prometheus::BuildCounter()
                     .Name("payonce_callbacks_total")
                     .Help("Provider callbacks handled, by outcome (applied, duplicate, "
                           "ignored_stale, unauthenticated, not_found, amount_mismatch, invalid, "
                           "error).")
                     .Register(registry)),
      callback_seconds_(prometheus::BuildHistogram()
                            .Name("payonce_callback_duration_seconds")
                            .Help("Time to verify, apply and commit a provider callback.")
                            .Register(registry)
                            .Add({}, LatencyBuckets())),
      callback_batch_size_(
          prometheus::BuildHistogram()
              .Name("payonce_callback_group_commit_size")
              .Help("Callbacks committed together in one transaction (group "
                    "commit).")
              .Register(registry)
              .Add({}, prometheus::Histogram::BucketBoundaries{1, 2, 4, 8, 16, 32, 64, 128, 256})),
      idempotency_hits_(prometheus::BuildCounter()
                            .Name("payonce_idempotency_hits_total")
                            .Help("Requests answered from a stored idempotency key, by store "
                                  "(redis fast path or postgres).")
                            .Register(registry)),
      redis_errors_(prometheus::BuildCounter()
                        .Name("payonce_redis_errors_total")
                        .Help("Redis calls that failed; PostgreSQL answered instead.")
                        .Register(registry)
                        .Add({})) {
  for (const char* outcome : {"applied", "duplicate", "ignored_stale", "unauthenticated",
                              "not_found", "amount_mismatch", "invalid", "error"}) {
    callbacks_.Add({{"outcome", outcome}});
  }
  for (const char* store : {"redis", "postgres"}) idempotency_hits_.Add({{"store", store}});
}

void PaymentMetrics::CallbackBatch(size_t callbacks) {
  callback_batch_size_.Observe(static_cast<double>(callbacks));
}

void PaymentMetrics::IdempotencyHit(const std::string& store) {
  idempotency_hits_.Add({{"store", store}}).Increment();
}

void PaymentMetrics::RedisError() { redis_errors_.Increment(); }

void PaymentMetrics::Callback(const std::string& outcome, double seconds) {
  callbacks_.Add({{"outcome", outcome}}).Increment();
  callback_seconds_.Observe(seconds);
}

}  // namespace payonce::payment
