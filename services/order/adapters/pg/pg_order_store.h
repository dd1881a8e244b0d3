// OrderStore on PostgreSQL (database payonce_order).
#pragma once

#include "services/common/pg_pool.h"
#include "services/order/app/order_store.h"

namespace payonce::order {

class PgOrderStore final : public OrderStore {
 public:
  explicit PgOrderStore(PgPool& pool) : pool_(pool) {}

  absl::StatusOr<Order> InsertOrGetByRequestId(const OrderRequest& request,
                                               const std::string& order_id) override;
  absl::StatusOr<Order> Get(const std::string& order_id) override;
  absl::StatusOr<std::vector<Order>> List(const ListQuery& query) override;
  absl::StatusOr<Order> Cancel(const std::string& order_id, const std::string& reason) override;
  absl::StatusOr<ApplyResult> ApplyPaymentEvent(const PaymentEventInput& event) override;
  absl::StatusOr<std::vector<TimelineEntry>> Timeline(const std::string& order_id) override;

 private:
  PgPool& pool_;
};

}  // namespace payonce::order
