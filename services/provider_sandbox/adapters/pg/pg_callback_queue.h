// CallbackQueue on PostgreSQL (database payonce_provider): rows claimed with
// FOR UPDATE SKIP LOCKED and leased by pushing next_attempt_at forward, so
// two sandbox replicas never deliver the same callback at once.
#pragma once

#include "services/common/pg_pool.h"
#include "services/provider_sandbox/app/callback_queue.h"

namespace payonce::provider {

class PgCallbackQueue final : public CallbackQueue {
 public:
  // `provider` names the sender in every claimed event.
  PgCallbackQueue(PgPool& pool, std::string provider)
      : pool_(pool), provider_(std::move(provider)) {}

  absl::StatusOr<ClaimedBatch> ClaimDue(int limit, int64_t now_ms, int64_t lease_ms,
                                        const std::string& claim_id) override;
  absl::Status RecordDelivery(const DeliveryRecord& record, const CallbackTally& tally) override;

 private:
  PgPool& pool_;
  const std::string provider_;
};

}  // namespace payonce::provider
