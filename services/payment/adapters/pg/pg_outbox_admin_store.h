// OutboxAdminStore on PostgreSQL (the outbox table of payonce_payment).
#pragma once

#include "services/common/outbox_notifier.h"
#include "services/common/pg_pool.h"
#include "services/payment/app/outbox_admin_store.h"

namespace payonce::payment {

class PgOutboxAdminStore final : public OutboxAdminStore {
 public:
  // `notifier` is told after a dead letter was put back in line.
  PgOutboxAdminStore(PgPool& pool, OutboxNotifier& notifier) : pool_(pool), notifier_(notifier) {}

  absl::StatusOr<OutboxCounters> Counters() override;
  absl::StatusOr<std::vector<OutboxEventRecord>> ListDeadLetters(
      const DeadLetterQuery& query) override;
  absl::StatusOr<DeadLetterRetry> RetryDeadLetter(const std::string& event_id) override;

 private:
  PgPool& pool_;
  OutboxNotifier& notifier_;
};

}  // namespace payonce::payment
