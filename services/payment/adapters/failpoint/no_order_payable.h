// Sabotage refuse-payments (services/common/sabotage.h): every order looks
// cancelled, so CreatePayment and RefundPayment refuse every call with
// FAILED_PRECONDITION. Armed only through PAYONCE_SABOTAGE, which builds
// without failpoints refuse.
#pragma once

#include "services/payment/app/ports.h"

namespace payonce::payment {

class NoOrderPayable final : public OrderDirectory {
 public:
  explicit NoOrderPayable(OrderDirectory& inner) : inner_(inner) {}

  absl::StatusOr<OrderSnapshot> GetOrder(const std::string& order_id) override {
    auto order = inner_.GetOrder(order_id);
    if (!order.ok()) return order;
    order->status = OrderSnapshot::Status::kCancelled;
    order->paid_payment_id.clear();
    return order;
  }

 private:
  OrderDirectory& inner_;
};

}  // namespace payonce::payment
