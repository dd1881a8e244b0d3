// End to end: the reconciler against the real stack. Callbacks dropped,
// double charges, payments for cancelled orders, a doctored statement, a
// capture the provider does not show, an unreachable provider, and the
// issue's acceptance run.
#include <gtest/gtest.h>

#include <cstdio>
#include <ctime>
#include <iostream>
#include <map>

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

constexpr int kIntervalMs = 2000;

// One machine, one clock: the provider's statement times and ours agree to
// the millisecond; the margin only absorbs rounding.
constexpr int kClockSkewMs = 200;

const std::map<std::string, std::string> kReconcilerEnv = {
    {"PAYONCE_RECONCILER_INTERVAL_MS", std::to_string(kIntervalMs)},
    {"PAYONCE_RECONCILER_STUCK_AFTER_MS", "500"},
    {"PAYONCE_RECONCILER_UNCONFIRMED_AFTER_MS", "1000"},
    // The payment service's debit deadline (PAYONCE_CALL_TIMEOUT_MS, 2000 by
    // default): the grace period may not be shorter.
    {"PAYONCE_RECONCILER_NOT_FOUND_GRACE_MS", "2000"},
    {"PAYONCE_RECONCILER_SETTLEMENT_LAG_MS", "0"},
    {"PAYONCE_RECONCILER_SETTLEMENT_CLOCK_SKEW_MS", std::to_string(kClockSkewMs)},
};

class ReconcilerTest : public ::testing::Test {
 protected:
  static void SetUpTestSuite() { servers_ = new LocalServers(); }
  static void TearDownTestSuite() {
    delete servers_;
    servers_ = nullptr;
  }

  void Start(const sandboxpb::FaultConfig& faults, int relays = 1) {
    stack_ = std::make_unique<Stack>(*servers_);
    stack_->StartAll(relays);
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

  orderpb::Order CreateOrder(int64_t amount = 2500,
                             const std::string& customer = "reconcile-customer") {
    orderpb::CreateOrderRequest req;
    req.set_request_id(Unique("req"));
    req.set_customer_id(customer);
    req.set_amount_minor(amount);
    req.set_currency("EUR");
    orderpb::Order order;
    grpc::ClientContext ctx;
    ctx.set_deadline(DeadlineAfter(std::chrono::seconds(5)));
    EXPECT_TRUE(orders_->CreateOrder(&ctx, req, &order).ok());
    return order;
  }

  // CreatePayment for the whole order; `payment` holds the answer.
  grpc::Status TryPay(const orderpb::Order& order, paypb::Payment* payment) {
    paypb::CreatePaymentRequest req;
    req.set_idempotency_key(Unique("key"));
    req.set_order_id(order.order_id());
    req.set_amount_minor(order.amount_minor());
    req.set_currency(order.currency());
    grpc::ClientContext ctx;
    ctx.set_deadline(DeadlineAfter(std::chrono::seconds(10)));
    return payments_->CreatePayment(&ctx, req, payment);
  }

  paypb::Payment Pay(const orderpb::Order& order) {
    paypb::Payment payment;
    const auto s = TryPay(order, &payment);
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

  // How many of the customer's orders are PAID (one ListOrders call).
  int PaidOrders(const std::string& customer) {
    orderpb::ListOrdersRequest req;
    req.set_customer_id(customer);
    req.set_status(orderpb::ORDER_STATUS_PAID);
    req.set_page_size(500);
    orderpb::ListOrdersResponse resp;
    grpc::ClientContext ctx;
    ctx.set_deadline(DeadlineAfter(std::chrono::seconds(5)));
    if (!orders_->ListOrders(&ctx, req, &resp).ok()) return -1;
    return resp.orders_size();
  }

  // "('a', 'b')" for SQL.
  static std::string SqlList(const std::vector<std::string>& ids) {
    std::string out = "(";
    for (const auto& id : ids) out += (out.size() > 1 ? ", '" : "'") + id + "'";
    return out + ")";
  }

  // True once every payment succeeded and a statement comparison has run
  // whose window ends past the last success by the clock-skew margin: a
  // window that covered them (the first pass starts an hour back).
  static bool StatementPassCovered(const std::vector<std::string>& payment_ids) {
    return Sql("payment", "SELECT count(*) = " + std::to_string(payment_ids.size()) +
                              " AND c.cursor_at > max(h.at) + " + std::to_string(kClockSkewMs) +
                              " * interval '1 ms' FROM reconciler_cursors c, payment_history h "
                              "WHERE c.job = 'settlement' AND h.payment_id IN " +
                              SqlList(payment_ids) +
                              " AND h.new_status = 'SUCCEEDED' AND h.old_status <> 'SUCCEEDED' "
                              "GROUP BY c.cursor_at") == "t";
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

// Issue 12, defect 1: the order service answered REFUND_REQUIRED, and the
// answer was lost (relay killed before MarkDelivered, deadline). A (a relay
// redelivers) and B (its row says DUPLICATE, as an old relay recorded it):
// both payments' money is refunded, from the order's own state.
TEST_F(ReconcilerTest, ARefundRequiredAnswerThatWasLostIsStillRefunded) {
  Start(sandboxpb::FaultConfig(), /*relays=*/0);
  std::vector<std::string> payment_ids;
  for (const char* name : {"a", "b"}) {
    const auto order = CreateOrder();
    const auto payment = Pay(order);
    payment_ids.push_back(payment.payment_id());
    ASSERT_TRUE(WaitUntil(
        [&] {
          return Sql("payment", "SELECT status FROM payments WHERE payment_id = '" +
                                    payment.payment_id() + "'") == "SUCCEEDED";
        },
        std::chrono::seconds(10)))
        << name;
    orderpb::CancelOrderRequest cancel;
    cancel.set_order_id(order.order_id());
    orderpb::Order cancelled;
    grpc::ClientContext cancel_ctx;
    ASSERT_TRUE(orders_->CancelOrder(&cancel_ctx, cancel, &cancelled).ok());
    // The outbox event, applied once; its answer never reaches the outbox.
    orderpb::PaymentEvent event;
    event.set_event_id(Sql("payment", "SELECT event_id FROM outbox WHERE payment_id = '" +
                                          payment.payment_id() + "' AND status = 'SUCCEEDED'"));
    event.set_payment_id(payment.payment_id());
    event.set_order_id(order.order_id());
    event.set_status(paypb::PAYMENT_STATUS_SUCCEEDED);
    event.set_amount_minor(order.amount_minor());
    event.set_currency(order.currency());
    event.set_source("relay");
    orderpb::ApplyPaymentEventResponse answer;
    grpc::ClientContext apply_ctx;
    ASSERT_TRUE(orders_->ApplyPaymentEvent(&apply_ctx, event, &answer).ok()) << name;
    ASSERT_EQ(answer.outcome(), orderpb::APPLY_OUTCOME_REFUND_REQUIRED) << name;
  }
  Sql("payment",
      "UPDATE outbox SET delivered_at = now(), apply_outcome = 'DUPLICATE' WHERE payment_id = '" +
          payment_ids[1] + "'");
  stack_->AddRelay();
  EXPECT_TRUE(WaitUntil(
      [&] {
        return Sql("payment", "SELECT count(*) FROM outbox WHERE delivered_at IS NULL") == "0";
      },
      std::chrono::seconds(10)));
  // The relay learned the first outcome from the redelivery.
  EXPECT_EQ(Sql("payment",
                "SELECT apply_outcome FROM outbox WHERE status = 'SUCCEEDED' AND payment_id = '" +
                    payment_ids[0] + "'"),
            "REFUND_REQUIRED");
  stack_->AddReconciler(kReconcilerEnv);
  EXPECT_TRUE(WaitUntil(
      [&] {
        const auto stats = Stats(payment_ids);
        if (stats.payments_size() != 2) return false;
        for (const auto& p : stats.payments()) {
          if (p.net_captured_minor() != 0) return false;
        }
        return true;
      },
      std::chrono::milliseconds(6 * kIntervalMs)));
  const auto stats = Stats(payment_ids);
  for (const auto& p : stats.payments()) {
    EXPECT_EQ(p.captures(), 1) << p.merchant_payment_id();
    EXPECT_EQ(p.refunds(), 1) << p.merchant_payment_id();
  }
}

// Issue 12, defect 4: the provider had no record of the payment (its debit
// never arrived), so the reconciler failed it; then the provider reports a
// capture after all. Absence of evidence must not outrank it: the success is
// applied as a late success, never acknowledged and ignored.
TEST_F(ReconcilerTest, ASuccessReportedAfterNotFoundAtTheProviderIsApplied) {
  Start(sandboxpb::FaultConfig());
  ASSERT_EQ(stack_->sandbox().Terminate(), 0);
  const auto order = CreateOrder();
  paypb::Payment created;
  TryPay(order, &created);  // the debit's outcome is unknown: no answer to check
  const std::string payment_id =
      Sql("payment", "SELECT payment_id FROM payments WHERE order_id = '" + order.order_id() + "'");
  ASSERT_FALSE(payment_id.empty());
  ASSERT_TRUE(stack_->Restart(stack_->sandbox(), stack_->sandbox_addr()));
  // No statement pass covers the capture: the callback alone must apply it.
  auto env = kReconcilerEnv;
  env["PAYONCE_RECONCILER_SETTLEMENT_LAG_MS"] = "600000";
  stack_->AddReconciler(env);
  ASSERT_TRUE(WaitUntil(
      [&] {
        return Sql("payment",
                   "SELECT status || ' ' || failure_reason FROM payments WHERE "
                   "payment_id = '" +
                       payment_id + "'") == "FAILED not_found_at_provider";
      },
      std::chrono::milliseconds(4 * kIntervalMs)));

  // The debit reaches the provider after all: it captures and calls back.
  sandboxpb::DebitRequest debit;
  debit.set_merchant_payment_id(payment_id);
  debit.set_amount_minor(order.amount_minor());
  debit.set_currency(order.currency());
  sandboxpb::DebitResponse debited;
  grpc::ClientContext debit_ctx;
  debit_ctx.set_deadline(DeadlineAfter(std::chrono::seconds(5)));
  ASSERT_TRUE(sandbox_->Debit(&debit_ctx, debit, &debited).ok());
  EXPECT_TRUE(WaitUntil(
      [&] {
        return Sql("payment",
                   "SELECT status || ' ' || late_success FROM payments WHERE "
                   "payment_id = '" +
                       payment_id + "'") == "SUCCEEDED true";
      },
      std::chrono::seconds(10)));
  EXPECT_EQ(Sql("payment",
                "SELECT string_agg(source, ',') FROM payment_history WHERE old_status = "
                "'FAILED' AND new_status = 'SUCCEEDED' AND payment_id = '" +
                    payment_id + "'"),
            "callback");
  EXPECT_EQ(Sql("payment",
                "SELECT count(*) FROM anomalies WHERE kind = 'late_success' AND "
                "payment_id = '" +
                    payment_id + "'"),
            "1");
  // The order takes the money that came late.
  EXPECT_TRUE(WaitUntil([&] { return OrderStatus(order.order_id()) == orderpb::ORDER_STATUS_PAID; },
                        std::chrono::milliseconds(4 * kIntervalMs)));
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

// RFC 3339 (UTC, seconds) of a wall-clock time, for the CLI.
std::string Rfc3339(std::chrono::system_clock::time_point t) {
  const std::time_t secs = std::chrono::system_clock::to_time_t(t);
  std::tm tm{};
  gmtime_r(&secs, &tm);
  char buf[32];
  std::strftime(buf, sizeof buf, "%Y-%m-%dT%H:%M:%SZ", &tm);
  return buf;
}

// Runs a command; its stdout and stderr.
std::string Output(const std::string& command) {
  std::string out;
  FILE* pipe = popen((command + " 2>&1").c_str(), "r");
  if (pipe == nullptr) return out;
  char buf[4096];
  size_t n = 0;
  while ((n = fread(buf, 1, sizeof buf, pipe)) > 0) out.append(buf, n);
  pclose(pipe);
  return out;
}

TEST_F(ReconcilerTest, CaptureMissingAtTheProviderNeedsReviewAndIsNotRepaired) {
  Start({});
  // Both paid through their callbacks; then the provider "loses" one capture.
  const auto kept_order = CreateOrder();
  const auto kept = Pay(kept_order);
  const auto lost_order = CreateOrder();
  const auto lost = Pay(lost_order);
  ASSERT_TRUE(WaitUntil(
      [&] {
        return OrderStatus(kept_order.order_id()) == orderpb::ORDER_STATUS_PAID &&
               OrderStatus(lost_order.order_id()) == orderpb::ORDER_STATUS_PAID;
      },
      std::chrono::seconds(5)));
  const std::string lost_txn =
      Sql("payment",
          "SELECT provider_txn_id FROM payments WHERE payment_id = '" + lost.payment_id() + "'");
  ASSERT_FALSE(lost_txn.empty());
  // The statement is made from the sandbox's captures: delete the line (its
  // callback rows refer to it).
  Sql("provider", "DELETE FROM callbacks WHERE provider_txn_id = '" + lost_txn + "'");
  Sql("provider", "DELETE FROM captures WHERE provider_txn_id = '" + lost_txn + "'");
  ASSERT_EQ(
      Sql("provider", "SELECT count(*) FROM captures WHERE provider_txn_id = '" + lost_txn + "'"),
      "0");

  const size_t r = stack_->AddReconciler(kReconcilerEnv);
  const std::string kind_is = "kind = 'capture_missing_at_provider'";
  // Found, and a later pass (re-reading the statement's overlap) has run
  // since without repeating it; the statement comparison has covered the
  // intact payment too.
  ASSERT_TRUE(WaitUntil(
      [&] {
        return Sql("payment",
                   "SELECT c.cursor_at > a.created_at FROM reconciler_cursors c, anomalies a "
                   "WHERE c.job = 'settlement' AND a." +
                       kind_is) == "t" &&
               StatementPassCovered({kept.payment_id()});
      },
      std::chrono::milliseconds(4 * kIntervalMs)));
  EXPECT_EQ(Sql("payment", "SELECT count(*) FROM anomalies WHERE " + kind_is), "1");
  EXPECT_EQ(Sql("payment",
                "SELECT payment_id || ' ' || provider_txn_id || ' ' || order_id || ' ' "
                "|| status FROM anomalies WHERE " +
                    kind_is),
            lost.payment_id() + " " + lost_txn + " " + lost_order.order_id() + " NEEDS_REVIEW");
  // Nothing else about the two payments: the statement is otherwise clean.
  EXPECT_EQ(
      Sql("payment", "SELECT count(*) FROM anomalies WHERE payment_id IN ('" + kept.payment_id() +
                         "', '" + lost.payment_id() + "') AND NOT " + kind_is),
      "0");
  // Money we think we got but the provider does not show is not repaired.
  EXPECT_EQ(
      Sql("payment", "SELECT status FROM payments WHERE payment_id = '" + lost.payment_id() + "'"),
      "SUCCEEDED");
  EXPECT_EQ(OrderStatus(lost_order.order_id()), orderpb::ORDER_STATUS_PAID);

  // The gauge shows it (set at the end of each pass).
  const std::string metrics_addr = stack_->reconciler(r).env().at("PAYONCE_METRICS_LISTEN_ADDR");
  const std::string gauge = "payonce_reconciler_open_anomalies";
  const std::string kind = "kind=\"capture_missing_at_provider\"";
  std::string page;
  EXPECT_TRUE(WaitUntil(
      [&] {
        page = HttpGet(metrics_addr, "/metrics");
        return MetricSum(page, gauge, kind) == 1;
      },
      std::chrono::milliseconds(2 * kIntervalMs), std::chrono::milliseconds(100)))
      << gauge << "{" << kind << "} in:\n"
      << page;

  // And the operator's report names it, and only it.
  const auto now = std::chrono::system_clock::now();
  const std::string report = Output(
      testing::BinaryPath("services/cli/payonce") + " --sandbox-addr " + stack_->sandbox_addr() +
      " --order-addr " + stack_->order_addr() + " reconcile --database-url '" +
      servers_->Dsn("payment") + "' report --from " + Rfc3339(now - std::chrono::hours(1)) +
      " --to " + Rfc3339(now + std::chrono::minutes(1)));
  EXPECT_NE(report.find("capture_missing_at_provider: 1\n"), std::string::npos) << report;
  EXPECT_NE(report.find(lost.payment_id()), std::string::npos) << report;
  EXPECT_EQ(report.find(kept.payment_id()), std::string::npos) << report;
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

// The acceptance run: every callback dropped and 20% of debits
// charged twice; 200 paid orders; two reconciler replicas. Within three
// reconciliation intervals after the last debit, every order is PAID and the
// provider (its own GetStats, not our ledger) holds exactly one un-refunded
// capture per order.
TEST_F(ReconcilerTest, AcceptanceEveryOrderPaidOneCaptureStandsWithinThreeIntervals) {
  constexpr int kOrders = 200;
  constexpr int64_t kAmount = 2500;
  sandboxpb::FaultConfig faults;
  faults.set_drop_callback_rate(1.0);
  faults.set_double_charge_rate(0.2);
  Start(faults);
  stack_->AddReconciler(kReconcilerEnv);
  stack_->AddReconciler(kReconcilerEnv);
  const std::string customer = Unique("acceptance");
  std::vector<std::string> payment_ids;
  const auto first_order = std::chrono::steady_clock::now();
  for (int i = 0; i < kOrders; ++i) {
    const auto payment = Pay(CreateOrder(kAmount, customer));
    ASSERT_FALSE(payment.payment_id().empty());
    payment_ids.push_back(payment.payment_id());
  }
  // Pay() returns once the debit has been answered by the provider.
  const auto last_debit = std::chrono::steady_clock::now();
  std::cout
      << "[ acceptance ] " << kOrders << " orders created and paid in "
      << std::chrono::duration_cast<std::chrono::milliseconds>(last_debit - first_order).count()
      << " ms" << std::endl;
  const auto budget = std::chrono::milliseconds(3 * kIntervalMs);
  const bool converged = WaitUntil(
      [&] { return PaidOrders(customer) == kOrders && ExactlyOneCaptureStands(payment_ids); },
      budget, std::chrono::milliseconds(50));
  const auto took = std::chrono::duration_cast<std::chrono::milliseconds>(
      std::chrono::steady_clock::now() - last_debit);
  std::cout << "[ acceptance ] " << (converged ? "converged" : "NOT converged") << " "
            << took.count() << " ms after the last debit (budget " << budget.count()
            << " ms = 3 intervals of " << kIntervalMs << " ms)" << std::endl;
  EXPECT_TRUE(converged) << PaidOrders(customer) << " of " << kOrders << " orders PAID";

  // The provider's ground truth, per payment (one payment per order).
  const auto stats = Stats(payment_ids);
  ASSERT_EQ(stats.payments_size(), kOrders);
  int charged_twice = 0;
  for (const auto& p : stats.payments()) {
    EXPECT_EQ(p.captures() - p.refunds(), 1) << p.merchant_payment_id();
    EXPECT_EQ(p.net_captured_minor(), kAmount) << p.merchant_payment_id();
    EXPECT_LE(p.captures(), 2) << p.merchant_payment_id();
    if (p.captures() == 2) ++charged_twice;
  }
  std::cout << "[ acceptance ] " << charged_twice << " of " << kOrders
            << " debits were charged twice and refunded once" << std::endl;
  EXPECT_GT(charged_twice, 0);
  // No callback got through: the provider's answers to queries did it all.
  EXPECT_EQ(Sql("payment",
                "SELECT count(*) FROM payment_history WHERE source = 'callback' "
                "AND payment_id IN " +
                    SqlList(payment_ids)),
            "0");
  EXPECT_EQ(Sql("payment", "SELECT count(*) FROM payments WHERE payment_id IN " +
                               SqlList(payment_ids) + " AND status = 'SUCCEEDED'"),
            std::to_string(kOrders));

  // A clean run: once the statement comparison has covered every payment, it
  // reports none of ours missing at the provider.
  ASSERT_TRUE(WaitUntil([&] { return StatementPassCovered(payment_ids); },
                        std::chrono::milliseconds(2 * kIntervalMs), std::chrono::milliseconds(50)));
  EXPECT_EQ(Sql("payment",
                "SELECT count(*) FROM anomalies WHERE kind = "
                "'capture_missing_at_provider' AND payment_id IN " +
                    SqlList(payment_ids)),
            "0");
}

}  // namespace
}  // namespace payonce
