// End to end: the reconciler against the real stack. Callbacks dropped,
// double charges, payments for cancelled orders, a doctored statement, an
// unreachable provider.
#include <gtest/gtest.h>

#include <map>

#include "payonce/order/v1/order_service.grpc.pb.h"
#include "payonce/payment/v1/payment_service.grpc.pb.h"
#include "payonce/provider/v1/provider_sandbox.grpc.pb.h"
#include "services/common/grpc_server.h"
#include "tests/support/stack.h"

namespace payonce {
namespace {

using testing::LocalServers;
using testing::Stack;
using testing::WaitUntil;
namespace orderpb = payonce::order::v1;
namespace paypb = payonce::payment::v1;
namespace sandboxpb = payonce::provider::v1;

constexpr int kIntervalMs = 2000;

const std::map<std::string, std::string> kReconcilerEnv = {
    {"PAYONCE_RECONCILER_INTERVAL_MS", std::to_string(kIntervalMs)},
    {"PAYONCE_RECONCILER_STUCK_AFTER_MS", "500"},
    {"PAYONCE_RECONCILER_UNCONFIRMED_AFTER_MS", "1000"},
    {"PAYONCE_RECONCILER_NOT_FOUND_GRACE_MS", "1000"},
    {"PAYONCE_RECONCILER_SETTLEMENT_LAG_MS", "0"},
};

class ReconcilerTest : public ::testing::Test {
 protected:
  static void SetUpTestSuite() { servers_ = new LocalServers(); }
  static void TearDownTestSuite() {
    delete servers_;
    servers_ = nullptr;
  }

  void Start(const sandboxpb::FaultConfig& faults) {
    stack_ = std::make_unique<Stack>(*servers_);
    stack_->StartAll(1);
    orders_ = orderpb::OrderService::NewStub(
        grpc::CreateChannel(stack_->order_addr(), grpc::InsecureChannelCredentials()));
    payments_ = paypb::PaymentService::NewStub(
        grpc::CreateChannel(stack_->payment_addr(), grpc::InsecureChannelCredentials()));
    sandbox_ = sandboxpb::ProviderSandbox::NewStub(
        grpc::CreateChannel(stack_->sandbox_addr(), grpc::InsecureChannelCredentials()));
    grpc::ClientContext ctx;
    sandboxpb::FaultConfig out;
    ASSERT_TRUE(sandbox_->SetFaults(&ctx, faults, &out).ok());
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

  orderpb::Order CreateOrder(int64_t amount = 2500) {
    orderpb::CreateOrderRequest req;
    req.set_request_id(Unique("req"));
    req.set_customer_id("reconcile-customer");
    req.set_amount_minor(amount);
    req.set_currency("EUR");
    orderpb::Order order;
    grpc::ClientContext ctx;
    ctx.set_deadline(DeadlineAfter(std::chrono::seconds(5)));
    EXPECT_TRUE(orders_->CreateOrder(&ctx, req, &order).ok());
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

  sandboxpb::ProviderStats Stats(const std::vector<std::string>& payment_ids) {
    sandboxpb::GetStatsRequest req;
    for (const auto& id : payment_ids) req.add_merchant_payment_ids(id);
    sandboxpb::ProviderStats stats;
    grpc::ClientContext ctx;
    ctx.set_deadline(DeadlineAfter(std::chrono::seconds(5)));
    EXPECT_TRUE(sandbox_->GetStats(&ctx, req, &stats).ok());
    return stats;
  }

  // Per payment: exactly one capture holds money at the provider.
  bool ExactlyOneCaptureStands(const std::vector<std::string>& payment_ids) {
    const auto stats = Stats(payment_ids);
    if (stats.payments_size() != static_cast<int>(payment_ids.size())) return false;
    for (const auto& p : stats.payments()) {
      if (p.captures() - p.refunds() != 1) return false;
    }
    return true;
  }

  static std::string Sql(const std::string& db, const std::string& q) {
    return servers_->Query(db, q);
  }

  static LocalServers* servers_;
  std::unique_ptr<Stack> stack_;
  std::unique_ptr<orderpb::OrderService::Stub> orders_;
  std::unique_ptr<paypb::PaymentService::Stub> payments_;
  std::unique_ptr<sandboxpb::ProviderSandbox::Stub> sandbox_;
};

LocalServers* ReconcilerTest::servers_ = nullptr;

TEST_F(ReconcilerTest, EveryCallbackDroppedStillEveryOrderPaidWithinTwoIntervals) {
  sandboxpb::FaultConfig faults;
  faults.set_drop_callback_rate(1.0);
  Start(faults);
  stack_->AddReconciler(kReconcilerEnv);
  std::vector<orderpb::Order> orders;
  for (int i = 0; i < 20; ++i) {
    orders.push_back(CreateOrder());
    Pay(orders.back());
  }
  const bool all_paid = WaitUntil(
      [&] {
        for (const auto& o : orders) {
          if (OrderStatus(o.order_id()) != orderpb::ORDER_STATUS_PAID) return false;
        }
        return true;
      },
      std::chrono::milliseconds(2 * kIntervalMs + 1000));
  EXPECT_TRUE(all_paid);
  // No callback arrived: the provider's own answers (query, or the statement
  // if it ran first) moved every payment.
  EXPECT_EQ(Sql("payment",
                "SELECT count(*) FROM payment_history WHERE source IN ('query', "
                "'settlement') AND new_status = 'SUCCEEDED'"),
            "20");
  EXPECT_EQ(Sql("payment", "SELECT count(*) FROM payment_history WHERE source = 'callback'"), "0");
}

TEST_F(ReconcilerTest, EveryExtraCaptureRefundedExactlyOnceWithTwoReplicas) {
  sandboxpb::FaultConfig faults;
  faults.set_double_charge_rate(1.0);
  Start(faults);
  stack_->AddReconciler(kReconcilerEnv);
  stack_->AddReconciler(kReconcilerEnv);
  std::vector<orderpb::Order> orders;
  std::vector<std::string> payment_ids;
  for (int i = 0; i < 20; ++i) {
    orders.push_back(CreateOrder());
    payment_ids.push_back(Pay(orders.back()).payment_id());
  }
  EXPECT_TRUE(WaitUntil([&] { return ExactlyOneCaptureStands(payment_ids); },
                        std::chrono::milliseconds(6 * kIntervalMs)));
  const auto stats = Stats(payment_ids);
  for (const auto& p : stats.payments()) {
    EXPECT_EQ(p.captures(), 2) << p.merchant_payment_id();
    EXPECT_EQ(p.refunds(), 1) << p.merchant_payment_id();
    EXPECT_EQ(p.net_captured_minor(), 2500) << p.merchant_payment_id();
  }
  for (const auto& o : orders) EXPECT_EQ(OrderStatus(o.order_id()), orderpb::ORDER_STATUS_PAID);
  EXPECT_EQ(Sql("payment", "SELECT count(*) FROM capture_refunds"), "20");
  // A later pass changes nothing.
  std::this_thread::sleep_for(std::chrono::milliseconds(kIntervalMs + 500));
  EXPECT_EQ(Stats(payment_ids).refunds_total(), stats.refunds_total());
}

TEST_F(ReconcilerTest, SuccessForACancelledOrderIsRefundedOnce) {
  sandboxpb::FaultConfig faults;
  faults.set_min_delay_ms(1500);
  faults.set_max_delay_ms(1500);
  Start(faults);
  stack_->AddReconciler(kReconcilerEnv);
  const auto order = CreateOrder();
  const auto payment = Pay(order);
  {
    orderpb::CancelOrderRequest req;
    req.set_order_id(order.order_id());
    req.set_reason("customer gave up");
    orderpb::Order out;
    grpc::ClientContext ctx;
    ASSERT_TRUE(orders_->CancelOrder(&ctx, req, &out).ok());
  }
  EXPECT_TRUE(WaitUntil(
      [&] {
        return Sql("payment", "SELECT status FROM payments WHERE payment_id = '" +
                                  payment.payment_id() + "'") == "REFUNDED";
      },
      std::chrono::milliseconds(6 * kIntervalMs)));
  const auto stats = Stats({payment.payment_id()});
  ASSERT_EQ(stats.payments_size(), 1);
  EXPECT_EQ(stats.payments(0).refunds(), 1);
  EXPECT_EQ(stats.payments(0).net_captured_minor(), 0);
  EXPECT_EQ(OrderStatus(order.order_id()), orderpb::ORDER_STATUS_CANCELLED);
  // The order's timeline shows the refund.
  EXPECT_TRUE(WaitUntil(
      [&] {
        return Sql("order", "SELECT count(*) FROM order_timeline WHERE order_id = '" +
                                order.order_id() + "' AND payment_status = 'REFUNDED'") == "1";
      },
      std::chrono::seconds(5)));
}

TEST_F(ReconcilerTest, StatementLineChangedByHandBecomesAnAnomaly) {
  Start({});
  const auto order = CreateOrder();
  const auto payment = Pay(order);
  ASSERT_TRUE(WaitUntil([&] { return OrderStatus(order.order_id()) == orderpb::ORDER_STATUS_PAID; },
                        std::chrono::seconds(5)));
  Sql("provider",
      "UPDATE captures SET amount_minor = amount_minor + 1 WHERE merchant_payment_id = '" +
          payment.payment_id() + "'");
  auto env = kReconcilerEnv;
  env["PAYONCE_RECONCILER_ONCE"] = "1";
  const size_t r = stack_->AddReconciler(env);
  ASSERT_TRUE(
      WaitUntil([&] { return !stack_->reconciler(r).running(); }, std::chrono::seconds(30)));
  EXPECT_EQ(Sql("payment",
                "SELECT status FROM anomalies WHERE kind = 'settlement_amount_mismatch' "
                "AND payment_id = '" +
                    payment.payment_id() + "'"),
            "NEEDS_REVIEW");
}

TEST_F(ReconcilerTest, ProviderUnreachableLeavesPaymentsPendingNeverFailed) {
  sandboxpb::FaultConfig faults;
  faults.set_drop_callback_rate(1.0);
  Start(faults);
  std::vector<std::string> ids;
  for (int i = 0; i < 5; ++i) ids.push_back(Pay(CreateOrder()).payment_id());
  ASSERT_EQ(stack_->sandbox().Terminate(), 0);
  stack_->AddReconciler(kReconcilerEnv);
  // Several passes, each well past the not-found grace period.
  ASSERT_TRUE(WaitUntil(
      [&] {
        return std::stoi(Sql("payment",
                             "SELECT coalesce(min(reconcile_attempts), 0) FROM payments "
                             "WHERE status = 'PENDING'")) >= 2;
      },
      std::chrono::seconds(20)));
  for (const auto& id : ids) {
    EXPECT_EQ(Sql("payment", "SELECT status FROM payments WHERE payment_id = '" + id + "'"),
              "PENDING");
  }
  EXPECT_EQ(Sql("payment", "SELECT count(*) FROM payments WHERE status = 'FAILED'"), "0");
}

}  // namespace
}  // namespace payonce
