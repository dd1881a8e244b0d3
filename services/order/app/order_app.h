// The order service's use cases: validation and idempotency rules on top of
// the store. No I/O of its own.
#pragma once

#include <functional>
#include <memory>
#include <optional>
#include <string>
#include <vector>

#include "absl/status/statusor.h"
#include "services/common/clock.h"
#include "services/common/group_commit.h"
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

// Group commit of ApplyPaymentEvent: events of concurrent calls (the
// relay's deliveries) applied as one transaction (OrderStore::
// ApplyPaymentEvents), each answered with its own outcome after the commit.
struct EventGroupCommit {
  GroupCommitOptions options;
  // Told the size of every batch committed.
  std::function<void(size_t)> observe;
};

class OrderApp {
 public:
  // Without `group_commit`, one transaction per ApplyPaymentEvent.
  OrderApp(OrderStore& store, IdGenerator& ids,
           std::optional<EventGroupCommit> group_commit = std::nullopt);

  absl::StatusOr<Order> CreateOrder(const OrderRequest& request);
  absl::StatusOr<Order> GetOrder(const std::string& order_id);
  absl::StatusOr<OrderPage> ListOrders(const ListRequest& request);
  absl::StatusOr<Order> CancelOrder(const std::string& order_id, const std::string& reason);
  absl::StatusOr<ApplyResult> ApplyPaymentEvent(const PaymentEventInput& event);
  absl::StatusOr<std::vector<TimelineEntry>> Timeline(const std::string& order_id);

 private:
  OrderStore& store_;
  IdGenerator& ids_;
  std::unique_ptr<GroupCommit<PaymentEventInput, ApplyResult>> group_commit_;
};

}  // namespace payonce::order
