// OutboxRepository on PostgreSQL (the outbox table of payonce_payment).
#pragma once

#include "services/common/pg_pool.h"
#include "services/outbox_relay/app/outbox_repository.h"

namespace payonce::relay {

class PgOutboxRepository final : public OutboxRepository {
 public:
  explicit PgOutboxRepository(PgPool& pool) : pool_(pool) {}

  absl::StatusOr<std::vector<OutboxRow>> ClaimDue(int limit,
                                                  std::chrono::milliseconds lease) override;
  absl::StatusOr<std::vector<RecordedDelivery>> MarkDelivered(
      const std::vector<Delivery>& deliveries) override;
  absl::Status RecordFailures(const std::vector<FailedAttempt>& failures) override;
  absl::Status Release(const std::vector<OutboxRow>& rows) override;
  absl::StatusOr<OutboxBacklog> Backlog() override;

 private:
  PgPool& pool_;
};

}  // namespace payonce::relay
