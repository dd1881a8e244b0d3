// End to end: the real processes (order-service, payment-service,
// provider-sandbox, outbox-relay) over gRPC, a private PostgreSQL and Redis.
#include <gtest/gtest.h>

#include <set>
#include <thread>

#include "payonce/order/v1/order_service.grpc.pb.h"
#include "payonce/payment/v1/payment_service.grpc.pb.h"
#include "payonce/provider/v1/provider_sandbox.grpc.pb.h"
#include "services/common/grpc_server.h"
#include "tests/support/stack.h"

namespace payonce {
namespace {

using testing::HttpGet;
using testing::LocalServers;
using testing::MetricSum;
using testing::Stack;
using testing::WaitUntil;
namespace orderpb = payonce::order::v1;
namespace paypb = payonce::payment::v1;
namespace sandboxpb = payonce::provider::v1;

// Relay timings short enough that a killed relay's lease expires within the
// test's deadlines (defaults are 10 s lease, 3 s delivery deadline).
const std::map<std::string, std::string> kFastRelay = {
    {"PAYONCE_RELAY_LEASE_MS", "2000"},
    {"PAYONCE_RELAY_DELIVERY_TIMEOUT_MS", "1000"},
};

class PaymentFlowTest : public ::testing::Test {
 protected:
  static void SetUpTestSuite() { servers_ = new LocalServers(); }
  static void TearDownTestSuite() {
    delete servers_;
    servers_ = nullptr;
  }

  void Start(int relays = 1) {
    stack_ = std::make_unique<Stack>(*servers_, kFastRelay);
    stack_->StartAll(relays);
    orders_ = orderpb::OrderService::NewStub(
        grpc::CreateChannel(stack_->order_addr(), grpc::InsecureChannelCredentials()));
    payments_ = paypb::PaymentService::NewStub(
        grpc::CreateChannel(stack_->payment_addr(), grpc::InsecureChannelCredentials()));
    sandbox_ = sandboxpb::ProviderSandbox::NewStub(
        grpc::CreateChannel(stack_->sandbox_addr(), grpc::InsecureChannelCredentials()));
    SetFaults({});
  }

  void TearDown() override {
    if (HasFailure() && stack_) std::cerr << stack_->Logs();
    stack_.reset();
  }

  static std::string Unique(const std::string& prefix) {
    static std::atomic<int> n{0};
    return prefix + "-" + std::to_string(::getpid()) + "-" + std::to_string(++n) + "-" +
           std::to_string(std::chrono::steady_clock::now().time_since_epoch().count());
  }

  void SetFaults(const sandboxpb::FaultConfig& faults) {
    grpc::ClientContext ctx;
    ctx.set_deadline(DeadlineAfter(std::chrono::seconds(5)));
    sandboxpb::FaultConfig out;
    ASSERT_TRUE(sandbox_->SetFaults(&ctx, faults, &out).ok());
  }

  orderpb::Order CreateOrder() {
    orderpb::CreateOrderRequest req;
    req.set_request_id(Unique("req"));
    req.set_customer_id("e2e-customer");
    req.set_amount_minor(4200);
    req.set_currency("EUR");
    orderpb::Order order;
    grpc::ClientContext ctx;
    ctx.set_deadline(DeadlineAfter(std::chrono::seconds(5)));
    const auto s = orders_->CreateOrder(&ctx, req, &order);
    EXPECT_TRUE(s.ok()) << s.error_message();
    return order;
  }

  paypb::Payment Pay(const orderpb::Order& order) {
    paypb::CreatePaymentRequest req;
    req.set_idempotency_key(Unique("key"));
    req.set_order_id(order.order_id());
    req.set_amount_minor(order.amount_minor());
    req.set_currency(order.currency());
    paypb::Payment payment;
    grpc::ClientContext ctx;
    ctx.set_deadline(DeadlineAfter(std::chrono::seconds(10)));
    const auto s = payments_->CreatePayment(&ctx, req, &payment);
    EXPECT_TRUE(s.ok()) << s.error_message();
    return payment;
  }

  orderpb::OrderStatus OrderStatus(const std::string& order_id) {
    orderpb::GetOrderRequest req;
    req.set_order_id(order_id);
    orderpb::Order order;
    grpc::ClientContext ctx;
    ctx.set_deadline(DeadlineAfter(std::chrono::seconds(2)));
    if (!orders_->GetOrder(&ctx, req, &order).ok()) return orderpb::ORDER_STATUS_UNSPECIFIED;
    return order.status();
  }

  bool AllPaid(const std::vector<orderpb::Order>& orders) {
    for (const auto& o : orders) {
      if (OrderStatus(o.order_id()) != orderpb::ORDER_STATUS_PAID) return false;
    }
    return true;
  }

  static std::string Sql(const std::string& db, const std::string& q) {
    return servers_->Query(db, q);
  }

  // "'id1','id2'": these orders' ids for an SQL IN list (the tables hold the
  // earlier tests' rows too).
  static std::string OrderIds(const std::vector<orderpb::Order>& orders) {
    std::string ids;
    for (const auto& o : orders) ids += (ids.empty() ? "'" : ",'") + o.order_id() + "'";
    return ids;
  }

  // Every outbox event of these orders delivered, each applied exactly once.
  void ExpectEachEventAppliedOnce(const std::vector<orderpb::Order>& orders) {
    const std::string ids = OrderIds(orders);
    const std::string events =
        Sql("payment", "SELECT count(*) FROM outbox WHERE order_id IN (" + ids + ")");
    EXPECT_EQ(events, std::to_string(orders.size()));
    EXPECT_EQ(Sql("payment",
                  "SELECT count(*) FROM outbox WHERE delivered_at IS NULL AND "
                  "order_id IN (" +
                      ids + ")"),
              "0");
    EXPECT_EQ(
        Sql("order", "SELECT count(*) FROM payment_event_inbox WHERE order_id IN (" + ids + ")"),
        events);
    EXPECT_EQ(Sql("order",
                  "SELECT count(*) FROM order_timeline WHERE outcome = 'APPLIED' AND "
                  "order_id IN (" +
                      ids + ")"),
              events);
    EXPECT_EQ(Sql("order", "SELECT count(*) FROM orders WHERE status = 'PAID' AND order_id IN (" +
                               ids + ")"),
              std::to_string(orders.size()));
  }

  static LocalServers* servers_;
  std::unique_ptr<Stack> stack_;
  std::unique_ptr<orderpb::OrderService::Stub> orders_;
  std::unique_ptr<paypb::PaymentService::Stub> payments_;
  std::unique_ptr<sandboxpb::ProviderSandbox::Stub> sandbox_;
};

LocalServers* PaymentFlowTest::servers_ = nullptr;

TEST_F(PaymentFlowTest, PayTurnsTheOrderPaidWithinTwoSeconds) {
  Start();
  const auto order = CreateOrder();
  const auto payment = Pay(order);
  ASSERT_FALSE(payment.payment_id().empty());
  EXPECT_TRUE(WaitUntil([&] { return OrderStatus(order.order_id()) == orderpb::ORDER_STATUS_PAID; },
                        std::chrono::seconds(2)));
  // The provider captured exactly once.
  sandboxpb::GetStatsRequest req;
  req.add_merchant_payment_ids(payment.payment_id());
  sandboxpb::ProviderStats stats;
  grpc::ClientContext ctx;
  ASSERT_TRUE(sandbox_->GetStats(&ctx, req, &stats).ok());
  ASSERT_EQ(stats.payments_size(), 1);
  EXPECT_EQ(stats.payments(0).captures(), 1);
  ExpectEachEventAppliedOnce({order});
}

TEST_F(PaymentFlowTest, DuplicatedAndReplayedCallbacksChangeNothing) {
  Start();
  sandboxpb::FaultConfig faults;
  faults.set_duplicate_callback_rate(1.0);
  faults.set_max_duplicates(5);
  faults.set_replay_rate(1.0);
  faults.set_forge_rate(1.0);
  faults.set_reorder(true);
  SetFaults(faults);
  std::vector<orderpb::Order> orders;
  for (int i = 0; i < 10; ++i) {
    orders.push_back(CreateOrder());
    Pay(orders.back());
  }
  ASSERT_TRUE(WaitUntil([&] { return AllPaid(orders); }, std::chrono::seconds(10)));
  // Give the replays and forgeries time to arrive, then check nothing moved.
  sandboxpb::ProviderStats stats;
  ASSERT_TRUE(WaitUntil(
      [&] {
        grpc::ClientContext ctx;
        stats.Clear();
        return sandbox_->GetStats(&ctx, sandboxpb::GetStatsRequest(), &stats).ok() &&
               stats.callbacks_replayed() >= 10 && stats.callbacks_forged() >= 10;
      },
      std::chrono::seconds(10)));
  EXPECT_EQ(stats.callbacks_forged_accepted(), 0);
  EXPECT_EQ(stats.callbacks_replayed_accepted(), 0);
  ExpectEachEventAppliedOnce(orders);
}

TEST_F(PaymentFlowTest, OrderServiceDownWhileCallbacksArriveThenPaidSoonAfterRestart) {
  Start();
  sandboxpb::FaultConfig faults;
  faults.set_min_delay_ms(1500);
  faults.set_max_delay_ms(1500);
  SetFaults(faults);
  std::vector<orderpb::Order> orders;
  std::vector<paypb::Payment> payments;
  for (int i = 0; i < 5; ++i) {
    orders.push_back(CreateOrder());
    payments.push_back(Pay(orders.back()));
  }
  ASSERT_EQ(stack_->order().Terminate(), 0);
  // Callbacks land while the order service is down.
  ASSERT_TRUE(WaitUntil(
      [&] {
        return Sql("payment",
                   "SELECT count(*) FROM payments WHERE status = 'SUCCEEDED' AND "
                   "payment_id IN ('" +
                       payments[0].payment_id() + "','" + payments[4].payment_id() + "')") == "2";
      },
      std::chrono::seconds(10)));
  // Let the relay fail a few deliveries of these payments' events (the
  // table holds the earlier tests' rows too).
  ASSERT_TRUE(WaitUntil(
      [&] {
        return std::stoi(Sql("payment",
                             "SELECT coalesce(max(attempts), 0) FROM outbox WHERE "
                             "payment_id IN ('" +
                                 payments[0].payment_id() + "','" + payments[4].payment_id() +
                                 "')")) >= 3;
      },
      std::chrono::seconds(15)));
  ASSERT_TRUE(stack_->Restart(stack_->order(), stack_->order_addr()));
  EXPECT_TRUE(WaitUntil([&] { return AllPaid(orders); }, std::chrono::seconds(5)));
  ExpectEachEventAppliedOnce(orders);
}

TEST_F(PaymentFlowTest, RelayKilledMidBatchLosesNothingAndAppliesNothingTwice) {
  Start();
  ASSERT_EQ(stack_->relay(0).Terminate(), 0);
  std::vector<orderpb::Order> orders;
  std::vector<std::string> payment_ids;
  for (int i = 0; i < 40; ++i) {
    orders.push_back(CreateOrder());
    payment_ids.push_back(Pay(orders.back()).payment_id());
  }
  ASSERT_TRUE(WaitUntil(
      [&] {
        return Sql("payment", "SELECT count(*) FROM outbox WHERE delivered_at IS NULL") == "40";
      },
      std::chrono::seconds(45)));
  // Start the relay and kill it as soon as it has begun delivering (Start,
  // not Restart: no wait for readiness, so the kill can land mid-batch).
  stack_->relay(0).Start();
  ASSERT_TRUE(WaitUntil(
      [&] { return Sql("payment", "SELECT count(*) FROM outbox WHERE attempts > 0") != "0"; },
      std::chrono::seconds(10), std::chrono::milliseconds(1)));
  stack_->relay(0).Kill();
  const std::string delivered_at_kill =
      Sql("payment", "SELECT count(*) FROM outbox WHERE delivered_at IS NOT NULL");
  ASSERT_TRUE(stack_->Restart(stack_->relay(0)));
  EXPECT_TRUE(WaitUntil([&] { return AllPaid(orders); }, std::chrono::seconds(20)))
      << "delivered when killed: " << delivered_at_kill;
  ExpectEachEventAppliedOnce(orders);
}

TEST_F(PaymentFlowTest, TwoRelaysApplyEveryEventOnce) {
  Start(/*relays=*/2);
  std::vector<orderpb::Order> orders;
  for (int i = 0; i < 40; ++i) {
    orders.push_back(CreateOrder());
    Pay(orders.back());
  }
  ASSERT_TRUE(WaitUntil([&] { return AllPaid(orders); }, std::chrono::seconds(15)));
  ExpectEachEventAppliedOnce(orders);
  // No row was delivered by both relays at once. The only redelivery allowed
  // is the retry of an attempt that failed (a deadline that passed while the
  // order service committed, on a loaded machine): each one is counted by the
  // relay that saw it fail.
  double retried = 0;
  for (size_t i = 0; i < 2; ++i) {
    retried +=
        MetricSum(HttpGet(stack_->relay(i).env().at("PAYONCE_METRICS_LISTEN_ADDR"), "/metrics"),
                  "payonce_outbox_deliveries_total", "result=\"retry\"");
  }
  const int duplicates = std::stoi(Sql("payment",
                                       "SELECT count(*) FROM outbox WHERE apply_outcome = "
                                       "'DUPLICATE' AND order_id IN (" +
                                           OrderIds(orders) + ")"));
  EXPECT_LE(duplicates, retried) << "redelivered without a failed attempt";
}

TEST_F(PaymentFlowTest, EveryProcessStopsCleanlyOnSigterm) {
  Start();
  EXPECT_EQ(stack_->relay(0).Terminate(), 0);
  EXPECT_EQ(stack_->sandbox().Terminate(), 0);
  EXPECT_EQ(stack_->payment().Terminate(), 0);
  EXPECT_EQ(stack_->order().Terminate(), 0);
}

}  // namespace
}  // namespace payonce
