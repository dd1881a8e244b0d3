// The payment service's use cases: CreatePayment, HandleProviderCallback,
// RefundPayment and the reads. Orchestrates the domain rules over the ports;
// no SQL, no gRPC, no Redis commands here.
#pragma once

#include <chrono>
#include <memory>
#include <optional>
#include <string>
#include <vector>

#include "absl/status/statusor.h"
#include "services/common/clock.h"
#include "services/common/log.h"
#include "services/payment/app/callback_group_commit.h"
#include "services/payment/app/payment_store.h"
#include "services/payment/app/ports.h"

namespace payonce::payment {

// Observations the app reports; the metrics adapter counts them.
class PaymentObserver {
 public:
  virtual ~PaymentObserver() = default;
  // store: "redis" or "postgres".
  virtual void IdempotencyHit(const std::string& store) = 0;
  virtual void RedisError() = 0;
  // outcome: applied, duplicate, ignored_stale, unauthenticated, not_found,
  // amount_mismatch, invalid, error.
  virtual void Callback(const std::string& outcome, double seconds) = 0;
  // Callbacks committed together in one group-commit transaction.
  virtual void CallbackBatch(size_t callbacks) = 0;
};

struct PaymentAppOptions {
  std::string provider_name = "sandbox";
  std::vector<std::string> callback_secrets;
  // Sabotage accept-any-signature (services/common/sabotage.h; test builds
  // only): the signature check is skipped.
  bool accept_any_signature = false;
  // Sabotage answer-before-commit (test builds only): a verified callback is
  // answered at once and applied 2 s later on a detached thread.
  bool answer_before_commit = false;
  // How long an in-flight idempotency key blocks a concurrent request.
  std::chrono::milliseconds idempotency_lock{30'000};
  // How long keys are kept: at least the provider's longest retry window.
  std::chrono::milliseconds idempotency_ttl{72LL * 3600 * 1000};
  // Group commit of callbacks; unset: one transaction per callback.
  std::optional<GroupCommitOptions> group_commit;
};

struct CreatePaymentRequest {
  std::string idempotency_key;
  std::string order_id;
  int64_t amount_minor = 0;
  std::string currency;
};

struct CallbackAnswer {
  CallbackEffect effect = CallbackEffect::kDuplicate;  // kApplied, kDuplicate or kIgnoredStale
  Payment payment;
};

class PaymentApp {
 public:
  PaymentApp(PaymentAppOptions options, PaymentStore& store, OrderDirectory& orders,
             ProviderGateway& provider, FastCache& cache, IdGenerator& ids, const Clock& clock,
             PaymentObserver& observer, Logger& log);

  absl::StatusOr<Payment> CreatePayment(const CreatePaymentRequest& request);
  absl::StatusOr<Payment> GetPayment(const std::string& payment_id);
  absl::StatusOr<std::vector<Payment>> ListPayments(const std::string& order_id);
  absl::StatusOr<CallbackAnswer> HandleProviderCallback(const CallbackMessage& callback);
  absl::StatusOr<Payment> RefundPayment(const std::string& idempotency_key,
                                        const std::string& payment_id, const std::string& reason);

 private:
  // Runs `work` at most once per (scope, key): replays the stored answer,
  // refuses a different request under the same key or a concurrent one.
  template <class Work>
  absl::StatusOr<Payment> Idempotent(const std::string& scope, const std::string& key,
                                     const std::string& fingerprint, Work&& work);
  absl::StatusOr<Payment> StartPayment(const CreatePaymentRequest& request);
  absl::StatusOr<Payment> RefundNow(const std::string& payment_id, const std::string& reason);
  absl::StatusOr<CallbackAnswer> CheckAndApplyCallback(const CallbackMessage& callback);

  PaymentAppOptions options_;
  PaymentStore& store_;
  OrderDirectory& orders_;
  ProviderGateway& provider_;
  FastCache& cache_;
  IdGenerator& ids_;
  const Clock& clock_;
  PaymentObserver& observer_;
  Logger& log_;
  // Declared last: its destructor commits what is queued while the members
  // above still exist.
  std::unique_ptr<CallbackGroupCommit> group_commit_;
};

}  // namespace payonce::payment
