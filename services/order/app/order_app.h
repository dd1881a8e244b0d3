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

struct TimelinePage {
  std::vector<TimelineEntry> entries;
  std::string next_page_token;
};

struct TimelineRequest {
  std::string order_id;
  int32_t page_size = 0;
  std::string page_token;
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
  // One page of the order's timeline, oldest first (page_size 0 -> 50, at
  // most 500); INVALID_ARGUMENT for a page_token not made for this order.
  absl::StatusOr<TimelinePage> Timeline(const TimelineRequest& request);

 private:
  OrderStore& store_;
  IdGenerator& ids_;
  std::unique_ptr<GroupCommit<PaymentEventInput, ApplyResult>> group_commit_;
};

}  // namespace payonce::order
