#include "services/order/app/order_app.h"

#include "services/common/domain/text.h"

namespace payonce::order {
namespace {

absl::Status RequireOrderId(const std::string& order_id) {
  return RequireText("order_id", order_id);
}

}  // namespace

OrderApp::OrderApp(OrderStore& store, IdGenerator& ids,
                   std::optional<EventGroupCommit> group_commit)
    : store_(store), ids_(ids) {
  if (group_commit) {
    group_commit_ = std::make_unique<GroupCommit<PaymentEventInput, ApplyResult>>(
        group_commit->options, "payment events",
        [this](const std::vector<PaymentEventInput>& batch) {
          return store_.ApplyPaymentEvents(batch);
        },
        std::move(group_commit->observe));
  }
}

absl::StatusOr<Order> OrderApp::CreateOrder(const OrderRequest& request) {
  if (auto s = ValidateOrderRequest(request); !s.ok()) return s;
  auto order = store_.InsertOrGetByRequestId(request, ids_.NewId());
  if (!order.ok()) return order.status();
  if (auto s = CheckReplay(*order, request); !s.ok()) return s;
  return order;
}

absl::StatusOr<Order> OrderApp::GetOrder(const std::string& order_id) {
  if (auto s = RequireOrderId(order_id); !s.ok()) return s;
  return store_.Get(order_id);
}

absl::StatusOr<OrderPage> OrderApp::ListOrders(const ListRequest& request) {
  auto size = ResolvePageSize(request.page_size);
  if (!size.ok()) return size.status();
  // Per customer only: an empty customer_id listed every customer's orders
  // to any caller (a listing across customers waits for the operator role).
  if (auto s = RequireText("customer_id", request.customer_id); !s.ok()) return s;
  ListQuery query;
  query.customer_id = request.customer_id;
  query.status = request.status;
  query.limit = *size + 1;  // one extra row tells whether a next page exists
  if (!request.page_token.empty()) {
    auto cursor = DecodePageToken(request.page_token);
    if (!cursor.ok()) return cursor.status();
    query.after = *cursor;
  }
  auto rows = store_.List(query);
  if (!rows.ok()) return rows.status();
  OrderPage page;
  page.orders = std::move(*rows);
  if (static_cast<int>(page.orders.size()) > *size) {
    page.orders.resize(*size);
    const Order& last = page.orders.back();
    page.next_page_token = EncodePageToken({last.created_at_us, last.order_id});
  }
  return page;
}

absl::StatusOr<Order> OrderApp::CancelOrder(const std::string& order_id,
                                            const std::string& reason) {
  if (auto s = RequireOrderId(order_id); !s.ok()) return s;
  if (auto s = OptionalText("reason", reason, kMaxReasonLength); !s.ok()) return s;
  return store_.Cancel(order_id, reason);
}

absl::StatusOr<ApplyResult> OrderApp::ApplyPaymentEvent(const PaymentEventInput& event) {
  if (auto s = RequireText("event_id", event.event_id); !s.ok()) return s;
  if (auto s = RequireText("payment_id", event.facts.payment_id); !s.ok()) return s;
  if (auto s = RequireOrderId(event.order_id); !s.ok()) return s;
  if (event.source != "relay" && event.source != "reconciler") {
    return absl::InvalidArgumentError("source must be \"relay\" or \"reconciler\"");
  }
  if (event.facts.result == PaymentResult::kSucceeded) {
    if (event.facts.amount_minor <= 0 || event.facts.currency.size() != 3) {
      return absl::InvalidArgumentError(
          "a successful payment event needs amount_minor > 0 and a currency");
    }
  }
  if (group_commit_) return group_commit_->Apply(event);
  return store_.ApplyPaymentEvent(event);
}

absl::StatusOr<TimelinePage> OrderApp::Timeline(const TimelineRequest& request) {
  if (auto s = RequireOrderId(request.order_id); !s.ok()) return s;
  auto size = ResolvePageSize(request.page_size);
  if (!size.ok()) return size.status();
  int64_t after_entry_id = 0;
  if (!request.page_token.empty()) {
    // The cursor is (entry_id, order_id): a token of another order's
    // timeline is refused rather than silently read from the wrong place.
    auto cursor = DecodePageToken(request.page_token);
    if (!cursor.ok()) return cursor.status();
    if (cursor->id != request.order_id || cursor->position <= 0) {
      return absl::InvalidArgumentError("page_token does not belong to this order's timeline");
    }
    after_entry_id = cursor->position;
  }
  // One extra entry tells whether a next page exists.
  auto entries = store_.Timeline(request.order_id, after_entry_id, *size + 1);
  if (!entries.ok()) return entries.status();
  TimelinePage page;
  page.entries = std::move(*entries);
  if (static_cast<int>(page.entries.size()) > *size) {
    page.entries.resize(*size);
    page.next_page_token = EncodePageToken({page.entries.back().entry_id, request.order_id});
  }
  return page;
}

}  // namespace payonce::order
