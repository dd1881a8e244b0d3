#include <gtest/gtest.h>

#include <algorithm>
#include <map>
#include <string>
#include <tuple>
#include <utility>
#include <vector>

#include "services/order/domain/order.h"
#include "services/order/domain/payment_event_plan.h"

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

// ------------------------------------------------- PlanPaymentEvents

Order NamedOrder(const std::string& id, OrderStatus status, std::string paid_by = "") {
  Order o = StoredOrder(status, std::move(paid_by));
  o.order_id = id;
  return o;
}

PaymentEventInput Event(const std::string& order_id, const std::string& event_id,
                        const std::string& payment_id, PaymentResult result,
                        int64_t amount_minor = 1999) {
  PaymentEventInput e;
  e.event_id = event_id;
  e.order_id = order_id;
  e.facts = {payment_id, result, amount_minor, "EUR"};
  e.source = "relay";
  return e;
}

// What a sequence of plans leaves behind, as the database would hold it:
// the orders, the inbox, the timeline with a DUPLICATE record per (order,
// event) counting its repeats, and each event's answer.
struct Ledger {
  std::map<std::string, Order> orders;
  std::map<std::string, std::optional<ApplyOutcome>> inbox;
  std::vector<InboxRecord> inbox_rows;
  std::vector<TimelineRecord> timeline;
  std::vector<std::string> answers;

  void Record(const PaymentEventsPlan& plan) {
    for (const Order& o : plan.moved_orders) orders[o.order_id] = o;
    for (const InboxRecord& r : plan.inbox) {
      inbox.emplace(r.event_id, ParseApplyOutcome(r.outcome));
      inbox_rows.push_back(r);
    }
    for (const TimelineRecord& t : plan.timeline) {
      auto same = std::find_if(timeline.begin(), timeline.end(), [&](const TimelineRecord& x) {
        return t.outcome == "DUPLICATE" && x.outcome == "DUPLICATE" && x.order_id == t.order_id &&
               x.event_id == t.event_id;
      });
      if (same != timeline.end()) {
        same->repeats += t.repeats;
      } else {
        timeline.push_back(t);
      }
    }
    for (const PlannedEvent& p : plan.events) {
      answers.push_back(
          !p.order_found
              ? "NOT_FOUND"
              : std::string(ToString(p.outcome)) + " " + p.order.order_id + " " +
                    std::string(ToString(p.order.status)) + " " + p.order.paid_payment_id +
                    (p.first_outcome ? " first " + std::string(ToString(*p.first_outcome)) : ""));
    }
  }
};

// Issue 12, defect 8: the per-event decisions of a batch are one pure
// planner, and a batch ends exactly as the same events applied one by one
// (each a batch of one), without a database.
TEST(PlanPaymentEvents, ABatchEndsExactlyAsTheSameEventsOneByOne) {
  const std::map<std::string, Order> stored = {
      {"pending", NamedOrder("pending", OrderStatus::kPendingPayment)},
      {"paid", NamedOrder("paid", OrderStatus::kPaid, "pay-0")},
      {"cancelled", NamedOrder("cancelled", OrderStatus::kCancelled)}};
  const std::map<std::string, std::optional<ApplyOutcome>> inbox = {
      {"evt-seen", ApplyOutcome::kApplied}, {"evt-unreadable", std::nullopt}};
  const std::vector<PaymentEventInput> events = {
      Event("pending", "evt-fail", "pay-1", PaymentResult::kFailed),
      Event("pending", "evt-pay", "pay-2", PaymentResult::kSucceeded),
      Event("pending", "evt-pay", "pay-2", PaymentResult::kSucceeded),
      Event("pending", "evt-pay", "pay-2", PaymentResult::kSucceeded),
      Event("pending", "evt-second", "pay-3", PaymentResult::kSucceeded),
      Event("paid", "evt-seen", "pay-0", PaymentResult::kSucceeded),
      Event("paid", "evt-unreadable", "pay-0", PaymentResult::kSucceeded),
      Event("cancelled", "evt-late", "pay-4", PaymentResult::kSucceeded),
      Event("nowhere", "evt-lost", "pay-5", PaymentResult::kSucceeded),
      Event("paid", "evt-amount", "pay-6", PaymentResult::kSucceeded, 5),
      Event("paid", "evt-refund", "pay-0", PaymentResult::kRefunded),
      Event("paid", "evt-after", "pay-7", PaymentResult::kSucceeded),
  };

  Ledger batched{stored, inbox, {}, {}, {}};
  batched.Record(PlanPaymentEvents(stored, inbox, events));
  Ledger one_by_one{stored, inbox, {}, {}, {}};
  for (const auto& e : events) {
    one_by_one.Record(PlanPaymentEvents(one_by_one.orders, one_by_one.inbox, {e}));
  }

  EXPECT_EQ(batched.answers, one_by_one.answers);
  EXPECT_EQ(batched.orders, one_by_one.orders);
  EXPECT_EQ(batched.inbox_rows, one_by_one.inbox_rows);
  EXPECT_EQ(batched.timeline, one_by_one.timeline);
  // The mix covers every outcome.
  EXPECT_EQ(
      batched.answers,
      (std::vector<std::string>{
          "IGNORED pending PENDING_PAYMENT ", "APPLIED pending PAID pay-2",
          "DUPLICATE pending PAID pay-2 first APPLIED",
          "DUPLICATE pending PAID pay-2 first APPLIED", "REFUND_REQUIRED pending PAID pay-2",
          "DUPLICATE paid PAID pay-0 first APPLIED", "DUPLICATE paid PAID pay-0",
          "REFUND_REQUIRED cancelled CANCELLED ", "NOT_FOUND", "REFUND_REQUIRED paid PAID pay-0",
          "APPLIED paid CANCELLED ", "REFUND_REQUIRED paid CANCELLED "}));
  // Repeats of one event in one batch are one record counting them.
  ASSERT_GE(batched.timeline.size(), 3u);
  EXPECT_EQ(batched.timeline[2].outcome, "DUPLICATE");
  EXPECT_EQ(batched.timeline[2].repeats, 2);
  EXPECT_EQ(batched.timeline[2].detail, "event already applied; first outcome APPLIED");
}

TEST(PlanPaymentEvents, MovedOrdersAndWhoSawThemMove) {
  const std::map<std::string, Order> stored = {
      {"a", NamedOrder("a", OrderStatus::kPendingPayment)},
      {"b", NamedOrder("b", OrderStatus::kPendingPayment)}};
  const auto plan = PlanPaymentEvents(stored, {},
                                      {Event("a", "e1", "pay-1", PaymentResult::kFailed),
                                       Event("a", "e2", "pay-2", PaymentResult::kSucceeded),
                                       Event("a", "e3", "pay-3", PaymentResult::kFailed),
                                       Event("b", "e4", "pay-4", PaymentResult::kFailed)});
  ASSERT_EQ(plan.events.size(), 4u);
  EXPECT_FALSE(plan.events[0].order_moved);
  EXPECT_TRUE(plan.events[1].order_moved);
  EXPECT_TRUE(plan.events[2].order_moved);  // answers the row the batch writes
  EXPECT_FALSE(plan.events[3].order_moved);
  ASSERT_EQ(plan.moved_orders.size(), 1u);
  EXPECT_EQ(plan.moved_orders[0].order_id, "a");
  EXPECT_EQ(plan.moved_orders[0].status, OrderStatus::kPaid);
  EXPECT_EQ(plan.moved_orders[0].paid_payment_id, "pay-2");
  EXPECT_EQ(plan.inbox.size(), 4u);
  EXPECT_EQ(plan.timeline.size(), 4u);
}

TEST(PlanPaymentEvents, AnUnknownOrderRecordsNothing) {
  const auto plan =
      PlanPaymentEvents({}, {}, {Event("nowhere", "e1", "pay-1", PaymentResult::kSucceeded)});
  ASSERT_EQ(plan.events.size(), 1u);
  EXPECT_FALSE(plan.events[0].order_found);
  EXPECT_TRUE(plan.inbox.empty());
  EXPECT_TRUE(plan.timeline.empty());
  EXPECT_TRUE(plan.moved_orders.empty());
}

TEST(PaymentEventPlanText, RoundTrips) {
  for (auto r : {PaymentResult::kSucceeded, PaymentResult::kFailed, PaymentResult::kRefunded}) {
    EXPECT_EQ(ParsePaymentResult(ToString(r)), r);
  }
  for (auto o : {ApplyOutcome::kApplied, ApplyOutcome::kDuplicate, ApplyOutcome::kIgnored,
                 ApplyOutcome::kRefundRequired}) {
    EXPECT_EQ(ParseApplyOutcome(ToString(o)), o);
  }
  EXPECT_EQ(ParsePaymentResult("PENDING"), std::nullopt);
  EXPECT_EQ(ParseApplyOutcome(""), std::nullopt);
}

}  // namespace
}  // namespace payonce::order
