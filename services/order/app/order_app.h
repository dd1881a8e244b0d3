// The order service's use cases: validation and idempotency rules on top of
// the store. No I/O of its own.
#pragma once

#include <string>
#include <vector>

#include "absl/status/statusor.h"
#include "services/common/clock.h"
#include "services/order/app/order_store.h"

namespace payonce::order {

struct OrderPage {
  std::vector<Order> orders;
  std::string next_page_token;
};

struct ListRequest {
  std::string customer_id;
  std::optional<OrderStatus> status;
  int32_t page_size = 0;
  std::string page_token;
};

class OrderApp {
 public:
  OrderApp(OrderStore& store, IdGenerator& ids) : store_(store), ids_(ids) {}

  absl::StatusOr<Order> CreateOrder(const OrderRequest& request);
  absl::StatusOr<Order> GetOrder(const std::string& order_id);
  absl::StatusOr<OrderPage> ListOrders(const ListRequest& request);
  absl::StatusOr<Order> CancelOrder(const std::string& order_id, const std::string& reason);
  absl::StatusOr<ApplyResult> ApplyPaymentEvent(const PaymentEventInput& event);
  absl::StatusOr<std::vector<TimelineEntry>> Timeline(const std::string& order_id);

 private:
  OrderStore& store_;
  IdGenerator& ids_;
};

}  // namespace payonce::order
