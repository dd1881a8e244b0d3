// The persistence port of the order service. The PostgreSQL adapter
// implements it; each method is one transaction.
#pragma once

#include <optional>
#include <string>
#include <vector>

#include "absl/status/statusor.h"
#include "services/common/domain/page_token.h"
#include "services/order/domain/order.h"
#include "services/order/domain/payment_event_plan.h"

namespace payonce::order {

struct TimelineEntry {
  // Position in the order's timeline (increasing; the page cursor).
  int64_t entry_id = 0;
  int64_t at_us = 0;
  std::string source;
  std::string kind;
  std::optional<OrderStatus> old_status;
  std::optional<OrderStatus> new_status;
  std::string payment_id;
  std::string event_id;
  std::optional<ApplyOutcome> outcome;
  std::optional<PaymentResult> payment_result;
  std::string detail;
  // Deliveries this DUPLICATE entry stands for (1 otherwise), and when the
  // last came (0 if it came once).
  int32_t repeats = 1;
  int64_t last_at_us = 0;
};

struct ApplyResult {
  ApplyOutcome outcome = ApplyOutcome::kIgnored;
  Order order;
  // kDuplicate only: what the event's first delivery decided (the inbox's
  // outcome), so a caller whose first answer was lost still learns it.
  std::optional<ApplyOutcome> first_outcome;
};

struct ListQuery {
  std::string customer_id;  // empty: all
  std::optional<OrderStatus> status;
  int limit = 50;
  std::optional<PageCursor> after;
};

class OrderStore {
 public:
  virtual ~OrderStore() = default;

  // Inserts a new order for `request` with id `order_id`, or returns the
  // order already holding request.request_id (whatever its fields).
  virtual absl::StatusOr<Order> InsertOrGetByRequestId(const OrderRequest& request,
                                                       const std::string& order_id) = 0;
  // NOT_FOUND if unknown.
  virtual absl::StatusOr<Order> Get(const std::string& order_id) = 0;
  // Newest first, at most query.limit rows after the cursor.
  virtual absl::StatusOr<std::vector<Order>> List(const ListQuery& query) = 0;
  // Cancels per DecideCancel under a row lock; NOT_FOUND if unknown.
  virtual absl::StatusOr<Order> Cancel(const std::string& order_id, const std::string& reason) = 0;
  // Applies per DecidePaymentEvent under a row lock, deduplicated by event_id
  // in the inbox (a duplicate answers kDuplicate with the first outcome);
  // NOT_FOUND if the order is unknown.
  virtual absl::StatusOr<ApplyResult> ApplyPaymentEvent(const PaymentEventInput& event) = 0;
  // The same for a batch, as one transaction: one result per event in input
  // order, each exactly what ApplyPaymentEvent would have answered had the
  // events been applied one after the other (an unknown order fails only
  // its own event).
  virtual std::vector<absl::StatusOr<ApplyResult>> ApplyPaymentEvents(
      const std::vector<PaymentEventInput>& events) = 0;
  // Up to `limit` entries after entry `after_entry_id` (0: from the start),
  // oldest first; NOT_FOUND if the order is unknown.
  virtual absl::StatusOr<std::vector<TimelineEntry>> Timeline(const std::string& order_id,
                                                              int64_t after_entry_id,
                                                              int limit) = 0;
};

}  // namespace payonce::order
