// The persistence port of the payment service. The PostgreSQL adapter
// implements it; every method that changes state is one transaction.
#pragma once

#include <chrono>
#include <optional>
#include <string>
#include <vector>

#include "absl/status/statusor.h"
#include "services/payment/domain/callback_plan.h"
#include "services/payment/domain/payment.h"

namespace payonce::payment {

struct IdempotencyClaim {
  IdempotencyAction action = IdempotencyAction::kProceed;
  // For kReplay: the payment the first request answered with.
  std::string payment_id;
};

struct PaymentInsert {
  Payment payment;
  // False when another live payment of the order already existed (returned).
  bool created = false;
};

// The outcome's name in logs and metrics (payonce_callbacks_total{outcome}).
inline const char* CallbackEffectName(CallbackEffect e) {
  switch (e) {
    case CallbackEffect::kApplied:
      return "applied";
    case CallbackEffect::kDuplicate:
      return "duplicate";
    case CallbackEffect::kIgnoredStale:
      return "ignored_stale";
    case CallbackEffect::kNotFound:
      return "not_found";
    case CallbackEffect::kMismatch:
      return "amount_mismatch";
    case CallbackEffect::kReplayedNonce:
      return "unauthenticated";
  }
  return "error";
}

class PaymentStore {
 public:
  virtual ~PaymentStore() = default;

  // NOT_FOUND if unknown.
  virtual absl::StatusOr<Payment> Get(const std::string& payment_id) = 0;
  // Every payment of the order, oldest first.
  virtual absl::StatusOr<std::vector<Payment>> ListForOrder(const std::string& order_id) = 0;

  // Claims (scope, key) for a request with `fingerprint`: inserts an
  // in-flight record locked for `lock_for`, or decides against the existing
  // one (DecideIdempotency); a take-over extends the lock.
  virtual absl::StatusOr<IdempotencyClaim> ClaimIdempotencyKey(
      const std::string& scope, const std::string& key, const std::string& fingerprint,
      std::chrono::milliseconds lock_for, std::chrono::milliseconds keep_for) = 0;
  // Marks the key done with the payment it answered.
  virtual absl::Status CompleteIdempotencyKey(const std::string& scope, const std::string& key,
                                              const std::string& payment_id) = 0;
  // Forgets an in-flight key after a failure the client may retry.
  virtual absl::Status ReleaseIdempotencyKey(const std::string& scope, const std::string& key) = 0;

  // The order's PENDING or SUCCEEDED payment, if any (oldest).
  virtual absl::StatusOr<std::optional<Payment>> FindBlockingPayment(
      const std::string& order_id) = 0;
  // Inserts a PENDING, live payment unless the order already has a live one
  // (the partial unique index decides, not this code).
  virtual absl::StatusOr<PaymentInsert> InsertPendingPayment(const Payment& payment) = 0;
  // Records the provider's capture id returned by a debit.
  virtual absl::Status RecordDebit(const std::string& payment_id,
                                   const std::string& provider_txn_id) = 0;

  // Applies a verified callback: nonce, dedupe by event_id, state machine,
  // transition + outbox row, in one transaction.
  virtual absl::StatusOr<CallbackResult> ApplyCallback(const CallbackMessage& callback) = 0;

  // Applies verified callbacks in one transaction (group commit), each with
  // the outcome ApplyCallback would give it had they arrived one by one in
  // this order. Results are in input order. A batch that fails for any other
  // reason than an unreachable database is retried callback by callback, so a
  // bad item never fails its neighbours.
  virtual std::vector<absl::StatusOr<CallbackResult>> ApplyCallbacks(
      const std::vector<CallbackMessage>& callbacks) = 0;

  // SUCCEEDED -> REFUNDED with its outbox row; a REFUNDED payment is returned
  // unchanged; other states FAILED_PRECONDITION.
  virtual absl::StatusOr<Payment> MarkRefunded(const std::string& payment_id,
                                               const std::string& refund_id,
                                               const std::string& reason) = 0;

  // Deletes expired idempotency keys and nonces, in bounded batches until
  // none is left (or a time budget is spent); returns rows deleted.
  virtual absl::StatusOr<int64_t> SweepExpired() = 0;
};

}  // namespace payonce::payment
