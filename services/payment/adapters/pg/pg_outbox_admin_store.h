// OutboxAdminStore on PostgreSQL (the outbox table of payonce_payment).
#pragma once

#include "services/common/pg_pool.h"
#include "services/payment/app/outbox_admin_store.h"

namespace payonce::payment {

class PgOutboxAdminStore final : public OutboxAdminStore {
 public:
  explicit PgOutboxAdminStore(PgPool& pool) : pool_(pool) {}

  absl::StatusOr<OutboxCounters> Counters() override;
  absl::StatusOr<std::vector<OutboxEventRecord>> ListDeadLetters(
      const DeadLetterQuery& query) override;
  absl::StatusOr<DeadLetterRetry> RetryDeadLetter(const std::string& event_id) override;

 private:
  PgPool& pool_;
};

}  // namespace payonce::payment
