// PaymentStore on PostgreSQL (database payonce_payment).
#pragma once

#include "services/common/pg_pool.h"
#include "services/payment/app/payment_store.h"

namespace payonce::payment {

class PgPaymentStore final : public PaymentStore {
 public:
  explicit PgPaymentStore(PgPool& pool) : pool_(pool) {}
  absl::StatusOr<Payment> Get(const std::string& payment_id) override;
  absl::StatusOr<std::vector<Payment>> ListForOrder(const std::string& order_id) override;

 private:
  PgPool& pool_;
};

}  // namespace payonce::payment
