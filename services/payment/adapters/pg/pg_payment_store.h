// PaymentStore on PostgreSQL (database payonce_payment).
#pragma once

#include "services/common/clock.h"
#include "services/common/outbox_notifier.h"
#include "services/common/pg_pool.h"
#include "services/payment/app/payment_store.h"

namespace payonce::payment {

class PgPaymentStore final : public PaymentStore {
 public:
  // `notifier` is told after every commit that appended outbox rows.
  PgPaymentStore(PgPool& pool, IdGenerator& ids, OutboxNotifier& notifier)
      : pool_(pool), ids_(ids), notifier_(notifier) {}

  absl::StatusOr<Payment> Get(const std::string& payment_id) override;
  absl::StatusOr<std::vector<Payment>> ListForOrder(const std::string& order_id) override;
  absl::StatusOr<IdempotencyClaim> ClaimIdempotencyKey(const std::string& scope,
                                                       const std::string& key,
                                                       const std::string& fingerprint,
                                                       std::chrono::milliseconds lock_for,
                                                       std::chrono::milliseconds keep_for) override;
  absl::Status CompleteIdempotencyKey(const std::string& scope, const std::string& key,
                                      const std::string& payment_id) override;
  absl::Status ReleaseIdempotencyKey(const std::string& scope, const std::string& key) override;
  absl::StatusOr<std::optional<Payment>> FindBlockingPayment(const std::string& order_id) override;
  absl::StatusOr<PaymentInsert> InsertPendingPayment(const Payment& payment) override;
  absl::Status RecordDebit(const std::string& payment_id,
                           const std::string& provider_txn_id) override;
  absl::StatusOr<CallbackResult> ApplyCallback(const CallbackMessage& callback) override;
  std::vector<absl::StatusOr<CallbackResult>> ApplyCallbacks(
      const std::vector<CallbackMessage>& callbacks) override;
  absl::StatusOr<Payment> MarkRefunded(const std::string& payment_id, const std::string& refund_id,
                                       const std::string& reason) override;
  absl::StatusOr<int64_t> SweepExpired() override;

 private:
  // The callbacks in `tx`, decided by PlanCallbacks and written in one
  // statement (ApplyCallback is a batch of one); outbox_event_ids[i] names
  // the event callback i would emit.
  absl::StatusOr<std::vector<CallbackResult>> ApplyCallbackBatch(
      pqxx::work& tx, const std::vector<CallbackMessage>& callbacks,
      const std::vector<std::string>& outbox_event_ids, bool& appended_outbox);

  PgPool& pool_;
  IdGenerator& ids_;
  OutboxNotifier& notifier_;
};

}  // namespace payonce::payment
