// The persistence port of the payment service.
#pragma once

#include <string>
#include <vector>

#include "absl/status/statusor.h"
#include "services/payment/domain/payment.h"

namespace payonce::payment {

class PaymentStore {
 public:
  virtual ~PaymentStore() = default;
  // NOT_FOUND if unknown.
  virtual absl::StatusOr<Payment> Get(const std::string& payment_id) = 0;
  // Every payment of the order, oldest first.
  virtual absl::StatusOr<std::vector<Payment>> ListForOrder(const std::string& order_id) = 0;
};

}  // namespace payonce::payment
