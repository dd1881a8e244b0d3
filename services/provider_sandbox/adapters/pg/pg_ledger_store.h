// LedgerStore on PostgreSQL (database payonce_provider).
#pragma once

#include "services/common/pg_pool.h"
#include "services/provider_sandbox/app/ledger_store.h"

namespace payonce::provider {

class PgLedgerStore final : public LedgerStore {
 public:
  explicit PgLedgerStore(PgPool& pool) : pool_(pool) {}

  absl::StatusOr<DebitPlan> RecordDebit(const DebitRequest& request, int64_t now_ms,
                                        const DebitPlanner& planner) override;
  absl::StatusOr<std::vector<Capture>> CapturesOf(const std::string& merchant_payment_id) override;
  absl::StatusOr<Refund> RecordRefund(const RefundRequest& request,
                                      const Refund& candidate) override;
  absl::StatusOr<FaultConfig> SaveFaults(const FaultConfig& faults) override;
  absl::StatusOr<ProviderStats> Stats(
      const std::vector<std::string>& merchant_payment_ids) override;
  absl::StatusOr<std::vector<SettlementLine>> Settlement(const SettlementWindow& window) override;

 private:
  PgPool& pool_;
};

}  // namespace payonce::provider
