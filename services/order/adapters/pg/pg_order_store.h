// OrderStore on PostgreSQL (database payonce_order).
#pragma once

#include <atomic>
#include <cstdint>

#include "services/common/pg_pool.h"
#include "services/order/app/order_store.h"

namespace payonce::order {

class PgOrderStore final : public OrderStore {
 public:
  explicit PgOrderStore(PgPool& pool) : pool_(pool) {}
  // Sabotage reopen-cancelled (services/common/sabotage.h; test builds
  // only): payment events see a CANCELLED order as PENDING_PAYMENT.
  void SabotageReopenCancelled() { reopen_cancelled_ = true; }

  absl::StatusOr<Order> InsertOrGetByRequestId(const OrderRequest& request,
                                               const std::string& order_id) override;
  absl::StatusOr<Order> Get(const std::string& order_id) override;
  absl::StatusOr<std::vector<Order>> List(const ListQuery& query) override;
  absl::StatusOr<Order> Cancel(const std::string& order_id, const std::string& reason) override;
  absl::StatusOr<ApplyResult> ApplyPaymentEvent(const PaymentEventInput& event) override;
  std::vector<absl::StatusOr<ApplyResult>> ApplyPaymentEvents(
      const std::vector<PaymentEventInput>& events) override;
  // Batches whose transaction failed as a whole (a deadlock, an event the
  // database refused) and were applied again one event per transaction.
  int64_t batches_split() const { return batches_split_.load(); }
  absl::StatusOr<std::vector<TimelineEntry>> Timeline(const std::string& order_id,
                                                      int64_t after_entry_id, int limit) override;

 private:
  // The events as one transaction, planned by PlanPaymentEvents: one result
  // per event, or the transaction's error (nothing committed).
  absl::StatusOr<std::vector<absl::StatusOr<ApplyResult>>> ApplyInOneTransaction(
      const std::vector<PaymentEventInput>& events);

  PgPool& pool_;
  bool reopen_cancelled_ = false;
  std::atomic<int64_t> batches_split_{0};
};

}  // namespace payonce::order
