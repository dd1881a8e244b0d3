#include <gtest/gtest.h>

#include <tuple>
#include <vector>

#include "services/order/domain/order.h"

namespace payonce::order {
namespace {

OrderRequest ValidRequest() { return {"req-1", "cust-1", 1999, "EUR", "two books"}; }

Order StoredOrder(OrderStatus status, std::string paid_by = "") {
  Order o;
  o.order_id = "ord-1";
  o.request_id = "req-1";
  o.customer_id = "cust-1";
  o.amount_minor = 1999;
  o.currency = "EUR";
  o.description = "two books";
  o.status = status;
  o.paid_payment_id = std::move(paid_by);
  return o;
}

TEST(ValidateOrderRequest, AcceptsAValidRequest) {
  EXPECT_TRUE(ValidateOrderRequest(ValidRequest()).ok());
}

TEST(ValidateOrderRequest, RejectsEachBadFieldWithInvalidArgument) {
  std::vector<std::pair<const char*, OrderRequest>> cases;
  auto r = ValidRequest();
  r.request_id = "";
  cases.emplace_back("empty request_id", r);
  r = ValidRequest();
  r.request_id = std::string(129, 'x');
  cases.emplace_back("long request_id", r);
  r = ValidRequest();
  r.customer_id = "";
  cases.emplace_back("empty customer_id", r);
  r = ValidRequest();
  r.amount_minor = 0;
  cases.emplace_back("zero amount", r);
  r = ValidRequest();
  r.amount_minor = -1;
  cases.emplace_back("negative amount", r);
  r = ValidRequest();
  r.currency = "eur";
  cases.emplace_back("lower-case currency", r);
  r = ValidRequest();
  r.currency = "";
  cases.emplace_back("missing currency", r);
  r = ValidRequest();
  r.description = std::string(1001, 'd');
  cases.emplace_back("long description", r);
  for (const auto& [name, req] : cases) {
    const auto s = ValidateOrderRequest(req);
    EXPECT_EQ(s.code(), absl::StatusCode::kInvalidArgument) << name;
    EXPECT_FALSE(s.message().empty()) << name;
  }
}

TEST(CheckReplay, SameFieldsReturnTheOrderDifferentFieldsFailPrecondition) {
  const Order stored = StoredOrder(OrderStatus::kPendingPayment);
  EXPECT_TRUE(CheckReplay(stored, ValidRequest()).ok());
  for (auto mutate : std::vector<void (*)(OrderRequest&)>{
           [](OrderRequest& r) { r.amount_minor = 2000; },
           [](OrderRequest& r) { r.currency = "USD"; },
           [](OrderRequest& r) { r.customer_id = "cust-2"; },
           [](OrderRequest& r) { r.description = "three books"; }}) {
    OrderRequest r = ValidRequest();
    mutate(r);
    EXPECT_EQ(CheckReplay(stored, r).code(), absl::StatusCode::kFailedPrecondition);
  }
}

TEST(DecideCancel, OnlyFromPendingPayment) {
  EXPECT_EQ(*DecideCancel(OrderStatus::kPendingPayment), CancelAction::kCancel);
  EXPECT_EQ(*DecideCancel(OrderStatus::kCancelled), CancelAction::kAlreadyCancelled);
  EXPECT_EQ(DecideCancel(OrderStatus::kPaid).status().code(),
            absl::StatusCode::kFailedPrecondition);
}

TEST(OrderStatusText, RoundTrips) {
  for (auto s : {OrderStatus::kPendingPayment, OrderStatus::kPaid, OrderStatus::kCancelled}) {
    EXPECT_EQ(ParseOrderStatus(ToString(s)), s);
  }
  EXPECT_FALSE(ParseOrderStatus("REFUNDED").has_value());
}

// The whole (order state, event) table of DecidePaymentEvent.
TEST(DecidePaymentEvent, Table) {
  struct Row {
    const char* name;
    Order order;
    PaymentEventFacts event;
    ApplyOutcome outcome;
    std::optional<OrderStatus> new_status;
  };
  const PaymentEventFacts success{"pay-1", PaymentResult::kSucceeded, 1999, "EUR"};
  const PaymentEventFacts other_success{"pay-2", PaymentResult::kSucceeded, 1999, "EUR"};
  const PaymentEventFacts failure{"pay-1", PaymentResult::kFailed, 1999, "EUR"};
  const PaymentEventFacts refund{"pay-1", PaymentResult::kRefunded, 1999, "EUR"};
  const PaymentEventFacts extra_capture_refund{"pay-1", PaymentResult::kRefunded, 1999, "EUR",
                                               true};
  const PaymentEventFacts wrong_amount{"pay-1", PaymentResult::kSucceeded, 1000, "EUR"};
  const PaymentEventFacts wrong_currency{"pay-1", PaymentResult::kSucceeded, 1999, "USD"};
  const std::vector<Row> rows = {
      {"pending+success", StoredOrder(OrderStatus::kPendingPayment), success,
       ApplyOutcome::kApplied, OrderStatus::kPaid},
      {"pending+failure", StoredOrder(OrderStatus::kPendingPayment), failure,
       ApplyOutcome::kIgnored, std::nullopt},
      {"pending+refund", StoredOrder(OrderStatus::kPendingPayment), refund, ApplyOutcome::kIgnored,
       std::nullopt},
      {"pending+wrong amount", StoredOrder(OrderStatus::kPendingPayment), wrong_amount,
       ApplyOutcome::kRefundRequired, std::nullopt},
      {"pending+wrong currency", StoredOrder(OrderStatus::kPendingPayment), wrong_currency,
       ApplyOutcome::kRefundRequired, std::nullopt},
      {"paid by same+success", StoredOrder(OrderStatus::kPaid, "pay-1"), success,
       ApplyOutcome::kIgnored, std::nullopt},
      {"paid by other+success", StoredOrder(OrderStatus::kPaid, "pay-1"), other_success,
       ApplyOutcome::kRefundRequired, std::nullopt},
      {"paid+failure", StoredOrder(OrderStatus::kPaid, "pay-1"), failure, ApplyOutcome::kIgnored,
       std::nullopt},
      // Issue 12, defect 2: a PAID order always holds its money.
      {"paid+refund of the paying payment", StoredOrder(OrderStatus::kPaid, "pay-1"), refund,
       ApplyOutcome::kApplied, OrderStatus::kCancelled},
      {"paid+refund of an extra capture of the paying payment",
       StoredOrder(OrderStatus::kPaid, "pay-1"), extra_capture_refund, ApplyOutcome::kIgnored,
       std::nullopt},
      {"paid+refund of another payment", StoredOrder(OrderStatus::kPaid, "pay-2"), refund,
       ApplyOutcome::kIgnored, std::nullopt},
      {"cancelled+refund", StoredOrder(OrderStatus::kCancelled), refund, ApplyOutcome::kIgnored,
       std::nullopt},
      {"cancelled+success", StoredOrder(OrderStatus::kCancelled), success,
       ApplyOutcome::kRefundRequired, std::nullopt},
      {"cancelled+failure", StoredOrder(OrderStatus::kCancelled), failure, ApplyOutcome::kIgnored,
       std::nullopt},
  };
  for (const auto& row : rows) {
    const auto d = DecidePaymentEvent(row.order, row.event);
    EXPECT_EQ(d.outcome, row.outcome) << row.name;
    EXPECT_EQ(d.new_status, row.new_status) << row.name;
    EXPECT_FALSE(d.detail.empty()) << row.name;
  }
}

}  // namespace
}  // namespace payonce::order
