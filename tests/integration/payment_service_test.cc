// Payment service against a real PostgreSQL and Redis, over gRPC in process,
// with fake peers (order directory, provider) whose behaviour tests control.
#include <gtest/gtest.h>
#include <prometheus/text_serializer.h>

#include <atomic>
#include <condition_variable>
#include <future>
#include <map>
#include <memory>
#include <mutex>
#include <optional>
#include <set>

#include "payonce/payment/v1/payment_service.grpc.pb.h"
#include "services/common/clock.h"
#include "services/common/domain/callback_signature.h"
#include "services/common/grpc_server.h"
#include "services/common/outbox_notifier.h"
#include "services/common/pg_pool.h"
#include "services/payment/adapters/grpc/payment_grpc_service.h"
#include "services/payment/adapters/metrics/payment_metrics.h"
#include "services/payment/adapters/pg/pg_payment_store.h"
#include "services/payment/adapters/redis/redis_cache.h"
#include "services/payment/app/payment_app.h"
#include "tests/support/local_servers.h"

namespace payonce::payment {
namespace {

using payonce::testing::LocalServers;
namespace pb = payonce::payment::v1;

constexpr const char* kSecret = "test-secret-1";

// Orders the fake directory knows; availability is switchable.
class FakeOrders final : public OrderDirectory {
 public:
  absl::StatusOr<OrderSnapshot> GetOrder(const std::string& order_id) override {
    std::lock_guard<std::mutex> lock(mu_);
    if (!available_) return absl::UnavailableError("order service down");
    auto it = orders_.find(order_id);
    if (it == orders_.end()) return absl::NotFoundError("no order");
    return it->second;
  }
  void Put(const std::string& id, int64_t amount,
           OrderSnapshot::Status status = OrderSnapshot::Status::kPendingPayment,
           const std::string& paid_payment_id = "") {
    std::lock_guard<std::mutex> lock(mu_);
    orders_[id] = {id, status, amount, "EUR", paid_payment_id};
  }
  void SetAvailable(bool available) {
    std::lock_guard<std::mutex> lock(mu_);
    available_ = available;
  }

 private:
  std::mutex mu_;
  std::map<std::string, OrderSnapshot> orders_;
  bool available_ = true;
};

// Counts debits per payment; can hold debits until released.
class FakeProvider final : public ProviderGateway {
 public:
  absl::StatusOr<DebitResult> Debit(const std::string& payment_id, int64_t,
                                    const std::string&) override {
    std::unique_lock<std::mutex> lock(mu_);
    ++debits_[payment_id];
    ++total_debits_;
    cv_.wait(lock, [&] { return !hold_; });
    if (fail_) return absl::UnavailableError("provider timeout");
    return DebitResult{"txn-" + payment_id, PaymentStatus::kSucceeded};
  }
  absl::StatusOr<std::vector<ProviderCapture>> QueryTransaction(const std::string&) override {
    return std::vector<ProviderCapture>{};
  }
  absl::StatusOr<ProviderRefund> Refund(const std::string& txn, const std::string& key) override {
    std::lock_guard<std::mutex> lock(mu_);
    ++refunds_[key];
    return ProviderRefund{"refund-" + txn, txn, 0, "EUR"};
  }
  void Hold(bool hold) {
    {
      std::lock_guard<std::mutex> lock(mu_);
      hold_ = hold;
    }
    cv_.notify_all();
  }
  void Fail(bool fail) {
    std::lock_guard<std::mutex> lock(mu_);
    fail_ = fail;
  }
  int total_debits() {
    std::lock_guard<std::mutex> lock(mu_);
    return total_debits_;
  }
  int refunds(const std::string& key) {
    std::lock_guard<std::mutex> lock(mu_);
    return refunds_[key];
  }

 private:
  std::mutex mu_;
  std::condition_variable cv_;
  std::map<std::string, int> debits_;
  std::map<std::string, int> refunds_;
  int total_debits_ = 0;
  bool hold_ = false;
  bool fail_ = false;
};

class PaymentServiceTest : public ::testing::Test {
 protected:
  static void SetUpTestSuite() { servers_ = new LocalServers(); }
  static void TearDownTestSuite() {
    delete servers_;
    servers_ = nullptr;
  }

  void SetUp() override {
    log_ = std::make_unique<Logger>("payment-test", "error");
    registry_ = std::make_shared<prometheus::Registry>();
    grpc_metrics_ = std::make_unique<GrpcServerMetrics>(*registry_);
    metrics_ = std::make_unique<PaymentMetrics>(*registry_);
    PgPoolOptions opts;
    opts.dsn = servers_->Dsn("payment");
    opts.size = 16;
    pool_ = std::make_unique<PgPool>(opts, *log_);
    ids_ = std::make_unique<UuidV7Generator>(clock_);
    cache_ = std::make_unique<RedisCache>(
        RedisOptions{servers_->RedisAddr(), std::chrono::milliseconds(200),
                     std::chrono::milliseconds(200), 16},
        *log_);
    outbox_notifier_ = std::make_unique<OutboxNotifier>(*pool_, *log_);
    store_ = std::make_unique<PgPaymentStore>(*pool_, *ids_, *outbox_notifier_);
    PaymentAppOptions options;
    options.callback_secrets = {"rotated-new-secret", kSecret};
    options.group_commit = GroupCommit();
    app_ = std::make_unique<PaymentApp>(options, *store_, orders_, provider_, *cache_, *ids_,
                                        clock_, *metrics_, *log_);
    service_ = std::make_unique<PaymentGrpcService>(*app_, *log_);
    server_ = std::make_unique<GrpcServerHost>(GrpcServerOptions{"127.0.0.1:0", 128, {}}, *log_,
                                               *grpc_metrics_);
    server_->AddService(service_.get(), "payonce.payment.v1.PaymentService");
    ASSERT_TRUE(server_->Start().ok());
    stub_ = pb::PaymentService::NewStub(grpc::CreateChannel(
        "127.0.0.1:" + std::to_string(server_->port()), grpc::InsecureChannelCredentials()));
  }

  void TearDown() override {
    provider_.Hold(false);
    server_->Shutdown();
  }

  // Unset: one transaction per callback; the group-commit fixture sets it.
  virtual std::optional<GroupCommitOptions> GroupCommit() const { return std::nullopt; }

  static std::string Unique(const std::string& prefix) {
    static std::atomic<int> n{0};
    return prefix + "-" + std::to_string(::getpid()) + "-" + std::to_string(++n) + "-" +
           std::to_string(std::chrono::steady_clock::now().time_since_epoch().count());
  }

  grpc::Status CreatePayment(const pb::CreatePaymentRequest& req, pb::Payment* out) {
    grpc::ClientContext ctx;
    ctx.set_deadline(DeadlineAfter(std::chrono::milliseconds(15000)));
    return stub_->CreatePayment(&ctx, req, out);
  }

  pb::CreatePaymentRequest PayRequest(const std::string& order_id, int64_t amount = 1999) {
    pb::CreatePaymentRequest r;
    r.set_idempotency_key(Unique("key"));
    r.set_order_id(order_id);
    r.set_amount_minor(amount);
    r.set_currency("EUR");
    return r;
  }

  // A pending payment for a fresh order.
  pb::Payment NewPayment() {
    const std::string order = Unique("order");
    orders_.Put(order, 1999);
    pb::Payment p;
    const auto s = CreatePayment(PayRequest(order), &p);
    EXPECT_TRUE(s.ok()) << s.error_message();
    EXPECT_EQ(p.status(), pb::PAYMENT_STATUS_PENDING);
    return p;
  }

  pb::ProviderCallback Callback(const pb::Payment& p, pb::PaymentStatus status,
                                const std::string& event_id, const std::string& secret = kSecret) {
    pb::ProviderCallback c;
    c.set_provider("sandbox");
    c.set_event_id(event_id);
    c.set_payment_id(p.payment_id());
    c.set_provider_txn_id("txn-" + p.payment_id());
    c.set_status(status);
    c.set_amount_minor(p.amount_minor());
    c.set_currency(p.currency());
    c.set_occurred_at_unix_ms(clock_.NowUnixMs() - 1000);
    c.set_timestamp_unix_ms(clock_.NowUnixMs());
    c.set_nonce(Unique("nonce"));
    Sign(c, secret);
    return c;
  }

  static void Sign(pb::ProviderCallback& c, const std::string& secret = kSecret) {
    c.set_signature(
        SignCallback(secret, {c.provider(), c.event_id(), c.payment_id(), c.provider_txn_id(),
                              pb::PaymentStatus_Name(c.status()), c.amount_minor(), c.currency(),
                              c.occurred_at_unix_ms(), c.timestamp_unix_ms(), c.nonce()}));
  }

  grpc::Status Deliver(const pb::ProviderCallback& c, pb::CallbackAck* ack) {
    grpc::ClientContext ctx;
    ctx.set_deadline(DeadlineAfter(std::chrono::milliseconds(15000)));
    return stub_->HandleProviderCallback(&ctx, c, ack);
  }

  static std::string Sql(const std::string& q) { return servers_->Query("payment", q); }
  static std::string OutboxRows(const std::string& payment_id) {
    return Sql("SELECT count(*) FROM outbox WHERE payment_id = '" + payment_id + "'");
  }
  static std::string Status(const std::string& payment_id) {
    return Sql("SELECT status FROM payments WHERE payment_id = '" + payment_id + "'");
  }

  double RedisErrors() { return Metric("payonce_redis_errors_total"); }

  // A metric sample without labels; -1 when absent.
  double Metric(const std::string& sample) {
    prometheus::TextSerializer serializer;
    const std::string text = serializer.Serialize(registry_->Collect());
    const std::string name = "\n" + sample + " ";
    const auto pos = text.find(name);
    return pos == std::string::npos ? -1 : std::stod(text.substr(pos + name.size()));
  }

  // The relay is woken (NOTIFY payonce_outbox) after a callback that
  // appended an outbox row, from outside its transaction, and not after a
  // duplicate.
  void ExpectOnlyAppliedCallbacksWakeTheRelay() {
    const pb::Payment p = NewPayment();
    pqxx::connection listener(servers_->Dsn("payment"));
    pqxx::nontransaction(listener).exec("LISTEN payonce_outbox");
    pb::CallbackAck ack;
    ASSERT_TRUE(Deliver(Callback(p, pb::PAYMENT_STATUS_SUCCEEDED, Unique("evt")), &ack).ok());
    ASSERT_EQ(ack.outcome(), pb::CALLBACK_OUTCOME_APPLIED);
    EXPECT_GT(listener.await_notification(5, 0), 0);
    // The wake-up comes after the commit: the row is there to be claimed.
    EXPECT_EQ(Sql("SELECT count(*) FROM outbox WHERE payment_id = '" + p.payment_id() + "'"), "1");
    // Sent() counts a NOTIFY once its transaction has returned, which can
    // be just after the listener received it.
    EXPECT_TRUE(payonce::testing::WaitUntil([&] { return outbox_notifier_->Sent() >= 1; },
                                            std::chrono::seconds(5)));

    ASSERT_TRUE(Deliver(Callback(p, pb::PAYMENT_STATUS_SUCCEEDED, Unique("evt")), &ack).ok());
    ASSERT_EQ(ack.outcome(), pb::CALLBACK_OUTCOME_DUPLICATE);
    EXPECT_EQ(listener.await_notification(0, 300000), 0);
  }

  // 64 deliveries of one callback event at once, each with a fresh nonce:
  // exactly one applies.
  void ExpectConcurrentDeliveriesApplyOnce() {
    const pb::Payment p = NewPayment();
    const std::string event = Unique("evt");
    std::promise<void> go;
    std::shared_future<void> start = go.get_future().share();
    std::vector<std::future<std::pair<grpc::Status, pb::CallbackAck>>> calls;
    for (int i = 0; i < 64; ++i) {
      // Each re-send carries the same event_id with a fresh nonce and signature.
      auto c = Callback(p, pb::PAYMENT_STATUS_SUCCEEDED, event);
      calls.push_back(std::async(std::launch::async, [&, c, start] {
        start.wait();
        pb::CallbackAck ack;
        auto s = Deliver(c, &ack);
        return std::make_pair(s, ack);
      }));
    }
    go.set_value();
    int applied = 0;
    int duplicate = 0;
    for (auto& f : calls) {
      auto [s, ack] = f.get();
      ASSERT_TRUE(s.ok()) << s.error_message();
      if (ack.outcome() == pb::CALLBACK_OUTCOME_APPLIED) ++applied;
      if (ack.outcome() == pb::CALLBACK_OUTCOME_DUPLICATE) ++duplicate;
    }
    EXPECT_EQ(applied, 1);
    EXPECT_EQ(duplicate, 63);
    EXPECT_EQ(OutboxRows(p.payment_id()), "1");
    EXPECT_EQ(Sql("SELECT count(*) FROM payment_history WHERE payment_id = '" + p.payment_id() +
                  "' AND new_status = 'SUCCEEDED'"),
              "1");
  }

  static LocalServers* servers_;
  SystemClock clock_;
  FakeOrders orders_;
  FakeProvider provider_;
  std::unique_ptr<Logger> log_;
  std::shared_ptr<prometheus::Registry> registry_;
  std::unique_ptr<GrpcServerMetrics> grpc_metrics_;
  std::unique_ptr<PaymentMetrics> metrics_;
  std::unique_ptr<PgPool> pool_;
  std::unique_ptr<OutboxNotifier> outbox_notifier_;
  std::unique_ptr<UuidV7Generator> ids_;
  std::unique_ptr<RedisCache> cache_;
  std::unique_ptr<PgPaymentStore> store_;
  std::unique_ptr<PaymentApp> app_;
  std::unique_ptr<PaymentGrpcService> service_;
  std::unique_ptr<GrpcServerHost> server_;
  std::unique_ptr<pb::PaymentService::Stub> stub_;
};

LocalServers* PaymentServiceTest::servers_ = nullptr;

// --- CreatePayment ---------------------------------------------------------

TEST_F(PaymentServiceTest, CreatePaymentDebitsOnceWithThePaymentIdAsProviderKey) {
  const int before = provider_.total_debits();
  const pb::Payment p = NewPayment();
  EXPECT_EQ(provider_.total_debits(), before + 1);
  EXPECT_EQ(p.provider_txn_id(), "txn-" + p.payment_id());
  EXPECT_EQ(p.provider(), "sandbox");
  EXPECT_EQ(Sql("SELECT live FROM payments WHERE payment_id = '" + p.payment_id() + "'"), "t");
}

TEST_F(PaymentServiceTest, SameKeySameRequestReturnsSamePaymentWithoutNewDebit) {
  const std::string order = Unique("order");
  orders_.Put(order, 1999);
  const auto req = PayRequest(order);
  pb::Payment first;
  pb::Payment again;
  ASSERT_TRUE(CreatePayment(req, &first).ok());
  const int debits = provider_.total_debits();
  ASSERT_TRUE(CreatePayment(req, &again).ok());
  EXPECT_EQ(again.payment_id(), first.payment_id());
  EXPECT_EQ(provider_.total_debits(), debits);
}

TEST_F(PaymentServiceTest, SameKeyAnotherAmountFailsPreconditionAndChangesNothing) {
  const std::string order = Unique("order");
  orders_.Put(order, 1999);
  auto req = PayRequest(order);
  pb::Payment first;
  ASSERT_TRUE(CreatePayment(req, &first).ok());
  const int debits = provider_.total_debits();
  const std::string payments = Sql("SELECT count(*) FROM payments");
  req.set_amount_minor(2999);
  pb::Payment out;
  EXPECT_EQ(CreatePayment(req, &out).error_code(), grpc::StatusCode::FAILED_PRECONDITION);
  EXPECT_EQ(provider_.total_debits(), debits);
  EXPECT_EQ(Sql("SELECT count(*) FROM payments"), payments);
}

TEST_F(PaymentServiceTest, SixteenConcurrentAttemptsWithDifferentKeysMakeOnePaymentOneDebit) {
  const std::string order = Unique("order");
  orders_.Put(order, 1999);
  const int before = provider_.total_debits();
  std::promise<void> go;
  std::shared_future<void> start = go.get_future().share();
  std::vector<std::future<std::pair<grpc::Status, pb::Payment>>> calls;
  for (int i = 0; i < 16; ++i) {
    calls.push_back(std::async(std::launch::async, [&, start] {
      start.wait();
      pb::Payment p;
      auto s = CreatePayment(PayRequest(order), &p);
      return std::make_pair(s, p);
    }));
  }
  go.set_value();
  std::set<std::string> ids;
  for (auto& f : calls) {
    auto [s, p] = f.get();
    ASSERT_TRUE(s.ok()) << s.error_message();
    ids.insert(p.payment_id());
  }
  EXPECT_EQ(ids.size(), 1u);
  EXPECT_EQ(provider_.total_debits(), before + 1);
  EXPECT_EQ(Sql("SELECT count(*) FROM payments WHERE order_id = '" + order + "'"), "1");
}

TEST_F(PaymentServiceTest, SameKeyWhileFirstIsInFlightIsAborted) {
  const std::string order = Unique("order");
  orders_.Put(order, 1999);
  const auto req = PayRequest(order);
  provider_.Hold(true);
  auto first = std::async(std::launch::async, [&] {
    pb::Payment p;
    return CreatePayment(req, &p);
  });
  ASSERT_TRUE(payonce::testing::WaitUntil(
      [&] { return Sql("SELECT count(*) FROM payments WHERE order_id = '" + order + "'") == "1"; },
      std::chrono::seconds(10)));
  pb::Payment second;
  EXPECT_EQ(CreatePayment(req, &second).error_code(), grpc::StatusCode::ABORTED);
  provider_.Hold(false);
  EXPECT_TRUE(first.get().ok());
  EXPECT_TRUE(CreatePayment(req, &second).ok());
}

TEST_F(PaymentServiceTest, CreatePaymentRejectsBadInput) {
  const std::string order = Unique("order");
  orders_.Put(order, 1999);
  std::vector<std::pair<const char*, pb::CreatePaymentRequest>> cases;
  auto r = PayRequest(order);
  r.clear_idempotency_key();
  cases.emplace_back("no key", r);
  r = PayRequest(order);
  r.clear_order_id();
  cases.emplace_back("no order", r);
  r = PayRequest(order);
  r.set_amount_minor(0);
  cases.emplace_back("zero amount", r);
  r = PayRequest(order);
  r.set_currency("euro");
  cases.emplace_back("bad currency", r);
  const int debits = provider_.total_debits();
  for (const auto& [name, req] : cases) {
    pb::Payment p;
    EXPECT_EQ(CreatePayment(req, &p).error_code(), grpc::StatusCode::INVALID_ARGUMENT) << name;
  }
  EXPECT_EQ(provider_.total_debits(), debits);
  EXPECT_EQ(Sql("SELECT count(*) FROM payments WHERE order_id = '" + order + "'"), "0");
}

TEST_F(PaymentServiceTest, CreatePaymentChecksTheOrder) {
  const int debits = provider_.total_debits();
  pb::Payment p;
  // Unknown order.
  EXPECT_EQ(CreatePayment(PayRequest(Unique("missing")), &p).error_code(),
            grpc::StatusCode::FAILED_PRECONDITION);
  // Amount differs from the order's.
  const std::string order = Unique("order");
  orders_.Put(order, 1999);
  EXPECT_EQ(CreatePayment(PayRequest(order, 1000), &p).error_code(),
            grpc::StatusCode::FAILED_PRECONDITION);
  // Not waiting for payment.
  const std::string cancelled = Unique("order");
  orders_.Put(cancelled, 1999, OrderSnapshot::Status::kCancelled);
  EXPECT_EQ(CreatePayment(PayRequest(cancelled), &p).error_code(),
            grpc::StatusCode::FAILED_PRECONDITION);
  // Order service unreachable.
  orders_.SetAvailable(false);
  const auto req = PayRequest(order);
  EXPECT_EQ(CreatePayment(req, &p).error_code(), grpc::StatusCode::UNAVAILABLE);
  orders_.SetAvailable(true);
  EXPECT_EQ(provider_.total_debits(), debits);
  // The same key works once the order service is back.
  EXPECT_TRUE(CreatePayment(req, &p).ok());
}

TEST_F(PaymentServiceTest, UnknownDebitOutcomeLeavesThePaymentPending) {
  provider_.Fail(true);
  const pb::Payment p = NewPayment();
  provider_.Fail(false);
  EXPECT_EQ(Status(p.payment_id()), "PENDING");
  // And it blocks a new attempt for the order: no second debit.
  const int debits = provider_.total_debits();
  pb::Payment again;
  ASSERT_TRUE(CreatePayment(PayRequest(p.order_id()), &again).ok());
  EXPECT_EQ(again.payment_id(), p.payment_id());
  EXPECT_EQ(provider_.total_debits(), debits);
}

// --- HandleProviderCallback --------------------------------------------------

TEST_F(PaymentServiceTest, FirstValidCallbackAppliesWithOneOutboxRow) {
  const pb::Payment p = NewPayment();
  pb::CallbackAck ack;
  ASSERT_TRUE(Deliver(Callback(p, pb::PAYMENT_STATUS_SUCCEEDED, Unique("evt")), &ack).ok());
  EXPECT_EQ(ack.outcome(), pb::CALLBACK_OUTCOME_APPLIED);
  EXPECT_EQ(ack.payment().status(), pb::PAYMENT_STATUS_SUCCEEDED);
  EXPECT_EQ(OutboxRows(p.payment_id()), "1");
  EXPECT_EQ(Sql("SELECT status FROM outbox WHERE payment_id = '" + p.payment_id() + "'"),
            "SUCCEEDED");
}

TEST_F(PaymentServiceTest, SixtyFourConcurrentDeliveriesOfOneCallbackApplyOnce) {
  ExpectConcurrentDeliveriesApplyOnce();
}

TEST_F(PaymentServiceTest, AnAppliedCallbackWakesTheRelayAfterItsCommitADuplicateDoesNot) {
  ExpectOnlyAppliedCallbacksWakeTheRelay();
}

TEST_F(PaymentServiceTest, SameTransitionUnderAnotherEventIsDuplicate) {
  const pb::Payment p = NewPayment();
  pb::CallbackAck ack;
  ASSERT_TRUE(Deliver(Callback(p, pb::PAYMENT_STATUS_SUCCEEDED, Unique("evt")), &ack).ok());
  ASSERT_TRUE(Deliver(Callback(p, pb::PAYMENT_STATUS_SUCCEEDED, Unique("evt")), &ack).ok());
  EXPECT_EQ(ack.outcome(), pb::CALLBACK_OUTCOME_DUPLICATE);
  EXPECT_EQ(OutboxRows(p.payment_id()), "1");
}

TEST_F(PaymentServiceTest, RegressionIsIgnoredStaleWithOnlyAHistoryEntry) {
  const pb::Payment p = NewPayment();
  pb::CallbackAck ack;
  ASSERT_TRUE(Deliver(Callback(p, pb::PAYMENT_STATUS_SUCCEEDED, Unique("evt")), &ack).ok());
  const std::string history =
      Sql("SELECT count(*) FROM payment_history WHERE payment_id = '" + p.payment_id() + "'");
  ASSERT_TRUE(Deliver(Callback(p, pb::PAYMENT_STATUS_FAILED, Unique("evt")), &ack).ok());
  EXPECT_EQ(ack.outcome(), pb::CALLBACK_OUTCOME_IGNORED_STALE);
  EXPECT_EQ(ack.payment().status(), pb::PAYMENT_STATUS_SUCCEEDED);
  EXPECT_EQ(Status(p.payment_id()), "SUCCEEDED");
  EXPECT_EQ(OutboxRows(p.payment_id()), "1");
  EXPECT_EQ(Sql("SELECT count(*) FROM payment_history WHERE payment_id = '" + p.payment_id() + "'"),
            std::to_string(std::stoi(history) + 1));
}

TEST_F(PaymentServiceTest, RotatedSecretIsAccepted) {
  const pb::Payment p = NewPayment();
  pb::CallbackAck ack;
  ASSERT_TRUE(
      Deliver(Callback(p, pb::PAYMENT_STATUS_SUCCEEDED, Unique("evt"), "rotated-new-secret"), &ack)
          .ok());
  EXPECT_EQ(ack.outcome(), pb::CALLBACK_OUTCOME_APPLIED);
}

// Every rejection row of CONTRACT §4: the right status, and nothing changes.
TEST_F(PaymentServiceTest, EveryRejectionRowAnswersAsWrittenAndChangesNothing) {
  const pb::Payment p = NewPayment();
  const auto good = Callback(p, pb::PAYMENT_STATUS_SUCCEEDED, Unique("evt"));
  struct Case {
    const char* name;
    pb::ProviderCallback callback;
    grpc::StatusCode code;
  };
  std::vector<Case> cases;
  auto c = good;
  c.set_amount_minor(c.amount_minor() + 1);  // tampered after signing
  cases.push_back({"bad signature", c, grpc::StatusCode::UNAUTHENTICATED});
  c = Callback(p, pb::PAYMENT_STATUS_SUCCEEDED, Unique("evt"), "unknown-secret");
  cases.push_back({"unknown secret", c, grpc::StatusCode::UNAUTHENTICATED});
  c = good;
  c.set_nonce(Unique("nonce"));
  c.set_timestamp_unix_ms(clock_.NowUnixMs() - 301'000);
  Sign(c);
  cases.push_back({"timestamp too old", c, grpc::StatusCode::UNAUTHENTICATED});
  c.set_nonce(Unique("nonce"));
  c.set_timestamp_unix_ms(clock_.NowUnixMs() + 301'000);
  Sign(c);
  cases.push_back({"timestamp in the future", c, grpc::StatusCode::UNAUTHENTICATED});
  c = good;
  c.set_payment_id("no-such-payment");
  c.set_nonce(Unique("nonce"));
  Sign(c);
  cases.push_back({"unknown payment", c, grpc::StatusCode::NOT_FOUND});
  c = good;
  c.set_amount_minor(p.amount_minor() + 100);
  c.set_nonce(Unique("nonce"));
  Sign(c);
  cases.push_back({"amount differs", c, grpc::StatusCode::FAILED_PRECONDITION});
  c = good;
  c.set_currency("USD");
  c.set_nonce(Unique("nonce"));
  Sign(c);
  cases.push_back({"currency differs", c, grpc::StatusCode::FAILED_PRECONDITION});
  // Issue 12, defect 9: the payment was made with another provider.
  c = good;
  c.set_provider("another-provider");
  c.set_nonce(Unique("nonce"));
  Sign(c);
  cases.push_back({"provider differs", c, grpc::StatusCode::FAILED_PRECONDITION});
  for (auto clear : std::vector<std::function<void(pb::ProviderCallback&)>>{
           [](auto& x) { x.clear_provider(); }, [](auto& x) { x.clear_event_id(); },
           [](auto& x) { x.clear_payment_id(); }, [](auto& x) { x.clear_provider_txn_id(); },
           [](auto& x) { x.clear_nonce(); }, [](auto& x) { x.clear_signature(); },
           [](auto& x) { x.clear_timestamp_unix_ms(); },
           [](auto& x) { x.clear_occurred_at_unix_ms(); },
           [](auto& x) { x.set_status(pb::PAYMENT_STATUS_PENDING); },
           [](auto& x) { x.set_status(pb::PAYMENT_STATUS_UNSPECIFIED); },
           [](auto& x) { x.set_amount_minor(0); }, [](auto& x) { x.set_currency("eu"); },
           // Issue 12, defect 9: past what PostgreSQL's timestamps hold (was
           // INTERNAL on every retry); a separator inside a signed field (an
           // ambiguous canonical string); a NUL (cut short in PostgreSQL).
           [](auto& x) { x.set_occurred_at_unix_ms(int64_t{1} << 62); },
           [](auto& x) { x.set_event_id("evt\nforged"); },
           [](auto& x) { x.set_provider_txn_id(std::string("txn\0cut", 7)); }}) {
    c = good;
    clear(c);
    c.set_nonce(c.nonce().empty() ? "" : Unique("nonce"));
    if (!c.signature().empty()) Sign(c);
    cases.push_back({"missing/malformed field", c, grpc::StatusCode::INVALID_ARGUMENT});
  }
  const std::string anomalies_before = Sql("SELECT count(*) FROM anomalies");
  for (const auto& tc : cases) {
    pb::CallbackAck ack;
    EXPECT_EQ(Deliver(tc.callback, &ack).error_code(), tc.code) << tc.name;
  }
  EXPECT_EQ(Status(p.payment_id()), "PENDING");
  EXPECT_EQ(OutboxRows(p.payment_id()), "0");
  // The three mismatches leave anomaly rows for the reconciler, nothing else.
  EXPECT_EQ(Sql("SELECT count(*) FROM anomalies"), std::to_string(std::stoi(anomalies_before) + 3));
  EXPECT_EQ(Sql("SELECT count(*) FROM anomalies WHERE kind = 'callback_amount_mismatch' AND "
                "payment_id = '" +
                p.payment_id() + "'"),
            "3");
  // Issue 12, defect 9: the provider's retries of those callbacks (same
  // event, fresh nonce) are refused the same way and add no row.
  for (const auto& tc : cases) {
    if (tc.code != grpc::StatusCode::FAILED_PRECONDITION) continue;
    pb::ProviderCallback retry = tc.callback;
    retry.set_nonce(Unique("nonce"));
    Sign(retry);
    pb::CallbackAck ack;
    EXPECT_EQ(Deliver(retry, &ack).error_code(), tc.code) << tc.name << " (retried)";
  }
  EXPECT_EQ(Sql("SELECT count(*) FROM anomalies"), std::to_string(std::stoi(anomalies_before) + 3));

  // The good callback still applies afterwards...
  pb::CallbackAck ack;
  ASSERT_TRUE(Deliver(good, &ack).ok());
  EXPECT_EQ(ack.outcome(), pb::CALLBACK_OUTCOME_APPLIED);
  // ...and its verbatim replay (same nonce) is refused.
  EXPECT_EQ(Deliver(good, &ack).error_code(), grpc::StatusCode::UNAUTHENTICATED);
  EXPECT_EQ(OutboxRows(p.payment_id()), "1");
}

TEST_F(PaymentServiceTest, LateSuccessIsRecordedEvenWhenANewAttemptIsLive) {
  const pb::Payment first = NewPayment();
  pb::CallbackAck ack;
  ASSERT_TRUE(Deliver(Callback(first, pb::PAYMENT_STATUS_FAILED, Unique("evt")), &ack).ok());
  ASSERT_EQ(ack.payment().status(), pb::PAYMENT_STATUS_FAILED);
  pb::Payment second;
  ASSERT_TRUE(CreatePayment(PayRequest(first.order_id()), &second).ok());
  ASSERT_NE(second.payment_id(), first.payment_id());
  // Money moved for the first attempt after all: recorded, never blocked.
  ASSERT_TRUE(Deliver(Callback(first, pb::PAYMENT_STATUS_SUCCEEDED, Unique("evt")), &ack).ok());
  EXPECT_EQ(ack.outcome(), pb::CALLBACK_OUTCOME_APPLIED);
  EXPECT_EQ(ack.payment().status(), pb::PAYMENT_STATUS_SUCCEEDED);
  EXPECT_TRUE(ack.payment().late_success());
  EXPECT_EQ(Status(second.payment_id()), "PENDING");
  EXPECT_EQ(Sql("SELECT count(*) FROM anomalies WHERE kind = 'late_success' AND payment_id = '" +
                first.payment_id() + "'"),
            "1");
  EXPECT_EQ(OutboxRows(first.payment_id()), "2");  // FAILED, then SUCCEEDED
}

TEST_F(PaymentServiceTest, SecondCaptureForOnePaymentIsFlaggedForRefund) {
  const pb::Payment p = NewPayment();
  pb::CallbackAck ack;
  ASSERT_TRUE(Deliver(Callback(p, pb::PAYMENT_STATUS_SUCCEEDED, Unique("evt")), &ack).ok());
  auto second = Callback(p, pb::PAYMENT_STATUS_SUCCEEDED, Unique("evt"));
  second.set_provider_txn_id("txn-extra-" + p.payment_id());
  Sign(second);
  ASSERT_TRUE(Deliver(second, &ack).ok());
  EXPECT_EQ(ack.outcome(), pb::CALLBACK_OUTCOME_DUPLICATE);
  EXPECT_EQ(Sql("SELECT provider_txn_id FROM anomalies WHERE kind = 'duplicate_capture' AND "
                "payment_id = '" +
                p.payment_id() + "'"),
            "txn-extra-" + p.payment_id());
  EXPECT_EQ(OutboxRows(p.payment_id()), "1");
}

// Issue 12, defect 5: the second capture's callback arrives before the
// payment's own (reorder). It succeeds the payment, which keeps the capture
// its debit recorded, and the other one is flagged for refund all the same.
TEST_F(PaymentServiceTest, ASecondCaptureReportedFirstIsFlaggedForRefund) {
  const pb::Payment p = NewPayment();
  ASSERT_EQ(Sql("SELECT provider_txn_id FROM payments WHERE payment_id = '" + p.payment_id() + "'"),
            "txn-" + p.payment_id());
  auto second = Callback(p, pb::PAYMENT_STATUS_SUCCEEDED, Unique("evt"));
  second.set_provider_txn_id("txn-extra-" + p.payment_id());
  Sign(second);
  pb::CallbackAck ack;
  ASSERT_TRUE(Deliver(second, &ack).ok());
  EXPECT_EQ(ack.outcome(), pb::CALLBACK_OUTCOME_APPLIED);
  ASSERT_TRUE(Deliver(Callback(p, pb::PAYMENT_STATUS_SUCCEEDED, Unique("evt")), &ack).ok());
  EXPECT_EQ(ack.outcome(), pb::CALLBACK_OUTCOME_DUPLICATE);
  EXPECT_EQ(Sql("SELECT provider_txn_id FROM payments WHERE payment_id = '" + p.payment_id() + "'"),
            "txn-" + p.payment_id());
  EXPECT_EQ(Sql("SELECT string_agg(provider_txn_id, ',') FROM anomalies WHERE kind = "
                "'duplicate_capture' AND payment_id = '" +
                p.payment_id() + "'"),
            "txn-extra-" + p.payment_id());
  EXPECT_EQ(OutboxRows(p.payment_id()), "1");
}

// Issue 12, defect 6: one sweep removed 5,000 rows of each table a minute,
// fewer than the benchmark's callbacks leave behind. It now sweeps until done.
TEST_F(PaymentServiceTest, OneSweepRemovesEveryExpiredNonceAndKey) {
  Sql("INSERT INTO callback_nonces (nonce, expires_at) SELECT 'sweep-' || g || '-' || "
      "clock_timestamp(), clock_timestamp() - interval '1 s' FROM generate_series(1, 12000) g");
  Sql("INSERT INTO idempotency_keys (scope, key, fingerprint, state, locked_until, expires_at) "
      "SELECT 'sweep', g::text || '-' || clock_timestamp(), 'fp', 'DONE', clock_timestamp(), "
      "clock_timestamp() - interval '1 s' FROM generate_series(1, 6000) g");
  const std::string fresh = Unique("nonce");
  Sql("INSERT INTO callback_nonces (nonce, expires_at) VALUES ('" + fresh +
      "', clock_timestamp() + interval '1 h')");
  auto swept = store_->SweepExpired();
  ASSERT_TRUE(swept.ok()) << swept.status();
  EXPECT_GE(*swept, 18000);
  EXPECT_EQ(Sql("SELECT count(*) FROM callback_nonces WHERE expires_at < clock_timestamp()"), "0");
  EXPECT_EQ(Sql("SELECT count(*) FROM idempotency_keys WHERE expires_at < clock_timestamp()"), "0");
  EXPECT_EQ(Sql("SELECT count(*) FROM callback_nonces WHERE nonce = '" + fresh + "'"), "1");
}

// --- Redis down ----------------------------------------------------------------

TEST_F(PaymentServiceTest, RedisDownAnswersStayCorrectAndErrorsAreCounted) {
  const pb::Payment p = NewPayment();
  const auto replayed = Callback(p, pb::PAYMENT_STATUS_SUCCEEDED, Unique("evt"));
  pb::CallbackAck ack;
  ASSERT_TRUE(Deliver(replayed, &ack).ok());
  const std::string order = Unique("order");
  orders_.Put(order, 1999);
  const auto pay = PayRequest(order);
  pb::Payment paid;
  ASSERT_TRUE(CreatePayment(pay, &paid).ok());

  const double errors_before = RedisErrors();
  servers_->StopRedis();
  // A replayed nonce is still refused: PostgreSQL remembers it.
  EXPECT_EQ(Deliver(replayed, &ack).error_code(), grpc::StatusCode::UNAUTHENTICATED);
  // Redelivery with a fresh nonce is a duplicate; nothing changes.
  ASSERT_TRUE(Deliver(Callback(p, pb::PAYMENT_STATUS_SUCCEEDED, replayed.event_id()), &ack).ok());
  EXPECT_EQ(ack.outcome(), pb::CALLBACK_OUTCOME_DUPLICATE);
  EXPECT_EQ(OutboxRows(p.payment_id()), "1");
  // Idempotent CreatePayment answers from PostgreSQL.
  const int debits = provider_.total_debits();
  pb::Payment again;
  ASSERT_TRUE(CreatePayment(pay, &again).ok());
  EXPECT_EQ(again.payment_id(), paid.payment_id());
  auto other = pay;
  other.set_amount_minor(5);
  EXPECT_EQ(CreatePayment(other, &again).error_code(), grpc::StatusCode::FAILED_PRECONDITION);
  EXPECT_EQ(provider_.total_debits(), debits);
  // A brand-new payment and its callback still work.
  const pb::Payment fresh = NewPayment();
  ASSERT_TRUE(Deliver(Callback(fresh, pb::PAYMENT_STATUS_SUCCEEDED, Unique("evt")), &ack).ok());
  EXPECT_EQ(ack.outcome(), pb::CALLBACK_OUTCOME_APPLIED);
  EXPECT_GT(RedisErrors(), errors_before);
  servers_->StartRedis();
}

// --- RefundPayment -----------------------------------------------------------

TEST_F(PaymentServiceTest, RefundPaymentRefundsASucceededPaymentOnce) {
  const pb::Payment p = NewPayment();
  pb::RefundPaymentRequest req;
  req.set_idempotency_key(Unique("refund"));
  req.set_payment_id(p.payment_id());
  req.set_reason("customer asked");
  pb::Payment out;
  {
    grpc::ClientContext ctx;
    EXPECT_EQ(stub_->RefundPayment(&ctx, req, &out).error_code(),
              grpc::StatusCode::FAILED_PRECONDITION);  // still PENDING
  }
  pb::CallbackAck ack;
  ASSERT_TRUE(Deliver(Callback(p, pb::PAYMENT_STATUS_SUCCEEDED, Unique("evt")), &ack).ok());
  // The order has taken the payment (the relay told it): the shop refunds it.
  orders_.Put(p.order_id(), 1999, OrderSnapshot::Status::kPaid, p.payment_id());
  for (int i = 0; i < 2; ++i) {
    grpc::ClientContext ctx;
    ASSERT_TRUE(stub_->RefundPayment(&ctx, req, &out).ok());
    EXPECT_EQ(out.status(), pb::PAYMENT_STATUS_REFUNDED);
  }
  EXPECT_EQ(provider_.refunds("refund:txn-" + p.payment_id()), 1);
  EXPECT_EQ(Sql("SELECT count(*) FROM outbox WHERE status = 'REFUNDED' AND payment_id = '" +
                p.payment_id() + "'"),
            "1");
  req.set_payment_id("no-such-payment");
  req.set_idempotency_key(Unique("refund"));
  grpc::ClientContext ctx;
  EXPECT_EQ(stub_->RefundPayment(&ctx, req, &out).error_code(), grpc::StatusCode::NOT_FOUND);
  req.clear_idempotency_key();
  grpc::ClientContext ctx2;
  EXPECT_EQ(stub_->RefundPayment(&ctx2, req, &out).error_code(),
            grpc::StatusCode::INVALID_ARGUMENT);
}

// Issue 12, defect 2: a refund the order has not heard of would let the
// order turn PAID later on money already given back. Refused, nothing moves;
// allowed once the order is cancelled, paid by it, or paid by another payment.
TEST_F(PaymentServiceTest, RefundPaymentWaitsUntilTheOrderKnowsWhereItsMoneyStands) {
  const pb::Payment p = NewPayment();
  pb::CallbackAck ack;
  ASSERT_TRUE(Deliver(Callback(p, pb::PAYMENT_STATUS_SUCCEEDED, Unique("evt")), &ack).ok());
  auto refund = [&](const std::string& payment_id) {
    pb::RefundPaymentRequest req;
    req.set_idempotency_key(Unique("refund"));
    req.set_payment_id(payment_id);
    pb::Payment out;
    grpc::ClientContext ctx;
    return stub_->RefundPayment(&ctx, req, &out).error_code();
  };
  EXPECT_EQ(refund(p.payment_id()), grpc::StatusCode::FAILED_PRECONDITION);
  EXPECT_EQ(provider_.refunds("refund:txn-" + p.payment_id()), 0);
  EXPECT_EQ(Status(p.payment_id()), "SUCCEEDED");
  EXPECT_EQ(Sql("SELECT count(*) FROM outbox WHERE status = 'REFUNDED' AND payment_id = '" +
                p.payment_id() + "'"),
            "0");
  orders_.SetAvailable(false);
  EXPECT_EQ(refund(p.payment_id()), grpc::StatusCode::UNAVAILABLE);
  orders_.SetAvailable(true);
  EXPECT_EQ(provider_.refunds("refund:txn-" + p.payment_id()), 0);

  orders_.Put(p.order_id(), 1999, OrderSnapshot::Status::kPaid, "another-payment");
  EXPECT_EQ(refund(p.payment_id()), grpc::StatusCode::OK);
  EXPECT_EQ(provider_.refunds("refund:txn-" + p.payment_id()), 1);

  const pb::Payment cancelled = NewPayment();
  ASSERT_TRUE(Deliver(Callback(cancelled, pb::PAYMENT_STATUS_SUCCEEDED, Unique("evt")), &ack).ok());
  orders_.Put(cancelled.order_id(), 1999, OrderSnapshot::Status::kCancelled);
  EXPECT_EQ(refund(cancelled.payment_id()), grpc::StatusCode::OK);
  EXPECT_EQ(provider_.refunds("refund:txn-" + cancelled.payment_id()), 1);
}

TEST_F(PaymentServiceTest, ReadsAnswerNotFoundAndInvalidArgument) {
  pb::Payment out;
  pb::GetPaymentRequest get;
  {
    grpc::ClientContext ctx;
    EXPECT_EQ(stub_->GetPayment(&ctx, get, &out).error_code(), grpc::StatusCode::INVALID_ARGUMENT);
  }
  get.set_payment_id("no-such-payment");
  {
    grpc::ClientContext ctx;
    EXPECT_EQ(stub_->GetPayment(&ctx, get, &out).error_code(), grpc::StatusCode::NOT_FOUND);
  }
  pb::ListPaymentsRequest list;
  pb::ListPaymentsResponse resp;
  {
    grpc::ClientContext ctx;
    EXPECT_EQ(stub_->ListPayments(&ctx, list, &resp).error_code(),
              grpc::StatusCode::INVALID_ARGUMENT);
  }
  const pb::Payment p = NewPayment();
  list.set_order_id(p.order_id());
  grpc::ClientContext ctx;
  ASSERT_TRUE(stub_->ListPayments(&ctx, list, &resp).ok());
  ASSERT_EQ(resp.payments_size(), 1);
  EXPECT_EQ(resp.payments(0).payment_id(), p.payment_id());
}

// --- Group commit ---------------------------------------------------------------

class PaymentServiceGroupCommitTest : public PaymentServiceTest {
 protected:
  std::optional<GroupCommitOptions> GroupCommit() const override { return GroupCommitOptions{}; }

  // A verified callback as the store receives it.
  CallbackMessage Message(const std::string& payment_id, PaymentStatus status,
                          const std::string& event_id, const std::string& nonce,
                          int64_t amount = 1999, const std::string& txn = "") {
    CallbackMessage m;
    m.provider = "sandbox";
    m.event_id = event_id;
    m.payment_id = payment_id;
    m.provider_txn_id = txn.empty() ? "txn-" + payment_id : txn;
    m.status = status;
    m.status_name = std::string(ToString(status));
    m.amount_minor = amount;
    m.currency = "EUR";
    m.occurred_at_unix_ms = clock_.NowUnixMs() - 1000;
    m.timestamp_unix_ms = clock_.NowUnixMs();
    m.nonce = nonce;
    return m;
  }

  // One of everything a callback can meet, over five fresh pending payments:
  // the same sequence gives the same outcomes whether applied as one batch
  // or one callback per transaction.
  std::vector<CallbackMessage> MixedCallbacks(const std::vector<std::string>& p,
                                              const std::string& run) {
    using S = PaymentStatus;
    const std::string used_nonce = run + "-used-before";
    Sql("INSERT INTO callback_nonces (nonce, expires_at) VALUES ('sandbox:" + used_nonce +
        "', now() + interval '1 hour')");
    return {
        Message(p[0], S::kSucceeded, p[0] + "-ev1", run + "-n0"),        // applied
        Message(p[0], S::kSucceeded, p[0] + "-ev1", run + "-n1"),        // same event
        Message(p[0], S::kSucceeded, p[0] + "-ev2", run + "-n2"),        // same transition
        Message(p[1], S::kFailed, p[1] + "-ev3", run + "-n3"),           // applied: failed
        Message(p[1], S::kSucceeded, p[1] + "-ev4", run + "-n4"),        // late success
        Message(p[2], S::kSucceeded, p[2] + "-ev5", run + "-n5", 2000),  // amount differs
        Message(run + "-unknown", S::kSucceeded, run + "-ev6", run + "-n6"),
        Message(p[3], S::kSucceeded, p[3] + "-ev7", run + "-n0"),  // nonce replayed
        Message(p[0], S::kFailed, p[0] + "-ev8", run + "-n8"),     // regression: stale
        Message(p[4], S::kSucceeded, p[4] + "-ev9", run + "-n9"),  // applied
        Message(p[4], S::kSucceeded, p[4] + "-ev10", run + "-n10", 1999,
                "txn-extra-" + p[4]),                                // second capture
        Message(p[3], S::kSucceeded, p[3] + "-ev11", run + "-n11"),  // applied
        Message(p[2], S::kSucceeded, p[2] + "-ev12", used_nonce),    // nonce used before
    };
  }

  // Everything the callbacks left in the ledger for one payment, with its id
  // replaced by P so that two payments can be compared.
  static std::string Footprint(const std::string& id) {
    const std::string where = " WHERE payment_id = '" + id + "'";
    return Sql("SELECT status || ',' || replace(coalesce(provider_txn_id, ''), payment_id, 'P') "
               "|| ',' || failure_reason || ',' || evidence_rank || ',' || live || ',' || "
               "late_success FROM payments" +
               where) +
           "\nhistory: " +
           Sql("SELECT string_agg(source || ':' || coalesce(old_status, '') || '>' || "
               "coalesce(new_status, '') || ':' || replace(detail, payment_id, 'P'), ' | ' "
               "ORDER BY entry_id) FROM payment_history" +
               where) +
           "\noutbox: " + Sql("SELECT string_agg(status, ',' ORDER BY seq) FROM outbox" + where) +
           "\nanomalies: " +
           Sql("SELECT string_agg(kind || ':' || replace(coalesce(provider_txn_id, ''), "
               "payment_id, 'P') || ':' || replace(detail, payment_id, 'P'), ' | ' ORDER BY "
               "anomaly_id) FROM anomalies" +
               where) +
           "\ncallbacks: " +
           Sql("SELECT string_agg(replace(event_id, payment_id, 'P') || '=' || status || '/' || "
               "outcome, ',' ORDER BY event_id) FROM provider_callbacks" +
               where);
  }

  std::vector<std::string> NewPayments(int n) {
    std::vector<std::string> ids;
    for (int i = 0; i < n; ++i) ids.push_back(NewPayment().payment_id());
    return ids;
  }
};

std::string EffectText(const absl::StatusOr<CallbackResult>& r) {
  return r.ok() ? CallbackEffectName(r->effect) : "error: " + r.status().ToString();
}

TEST_F(PaymentServiceGroupCommitTest, ABatchGivesEachCallbackTheOutcomeItWouldHaveAlone) {
  const std::vector<std::string> batched = NewPayments(5);
  const std::vector<std::string> alone = NewPayments(5);
  const auto batch_results = store_->ApplyCallbacks(MixedCallbacks(batched, Unique("batch")));
  std::vector<absl::StatusOr<CallbackResult>> alone_results;
  for (const auto& m : MixedCallbacks(alone, Unique("alone"))) {
    alone_results.push_back(store_->ApplyCallback(m));
  }
  const std::vector<std::string> expected = {
      "applied",         "duplicate", "duplicate",       "applied",       "applied",
      "amount_mismatch", "not_found", "unauthenticated", "ignored_stale", "applied",
      "duplicate",       "applied",   "unauthenticated"};
  ASSERT_EQ(batch_results.size(), expected.size());
  ASSERT_EQ(alone_results.size(), expected.size());
  for (size_t i = 0; i < expected.size(); ++i) {
    EXPECT_EQ(EffectText(batch_results[i]), expected[i]) << "batched callback " << i;
    EXPECT_EQ(EffectText(alone_results[i]), expected[i]) << "callback " << i << " alone";
  }
  // The answers carry the payment as it is after the callback.
  EXPECT_EQ(batch_results[0]->payment.status, PaymentStatus::kSucceeded);
  EXPECT_EQ(batch_results[3]->payment.status, PaymentStatus::kFailed);
  EXPECT_EQ(batch_results[4]->payment.status, PaymentStatus::kSucceeded);
  EXPECT_TRUE(batch_results[4]->payment.late_success);
  for (int k = 0; k < 5; ++k) {
    EXPECT_EQ(Footprint(batched[k]), Footprint(alone[k])) << "payment " << k;
  }
  // Spot checks that the footprints hold what they should.
  EXPECT_EQ(Sql("SELECT string_agg(status, ',' ORDER BY seq) FROM outbox WHERE payment_id = '" +
                batched[1] + "'"),
            "FAILED,SUCCEEDED");
  EXPECT_EQ(Sql("SELECT string_agg(kind, ',' ORDER BY kind) FROM anomalies WHERE payment_id IN ('" +
                batched[1] + "', '" + batched[2] + "', '" + batched[4] + "')"),
            "callback_amount_mismatch,duplicate_capture,late_success");
  // And the batch really was one transaction.
  EXPECT_EQ(
      Sql("SELECT count(DISTINCT xmin::text) FROM outbox WHERE payment_id IN ('" + batched[0] +
          "', '" + batched[1] + "', '" + batched[3] + "', '" + batched[4] + "')"),
      "1");
}

TEST_F(PaymentServiceGroupCommitTest, SixtyFourConcurrentDeliveriesOfOneCallbackApplyOnce) {
  ExpectConcurrentDeliveriesApplyOnce();
}

TEST_F(PaymentServiceGroupCommitTest, SixtyFourPaymentsAtOnceEachApplyOnceWithTheirOutboxRow) {
  const std::vector<std::string> ids = NewPayments(64);
  std::promise<void> go;
  std::shared_future<void> start = go.get_future().share();
  std::vector<std::future<std::pair<grpc::Status, pb::CallbackAck>>> calls;
  for (const auto& id : ids) {
    pb::Payment p;
    p.set_payment_id(id);
    p.set_amount_minor(1999);
    p.set_currency("EUR");
    auto c = Callback(p, pb::PAYMENT_STATUS_SUCCEEDED, Unique("evt"));
    calls.push_back(std::async(std::launch::async, [&, c, start] {
      start.wait();
      pb::CallbackAck ack;
      auto s = Deliver(c, &ack);
      return std::make_pair(s, ack);
    }));
  }
  const double committed_before = Metric("payonce_callback_group_commit_size_sum");
  go.set_value();
  for (size_t i = 0; i < calls.size(); ++i) {
    auto [s, ack] = calls[i].get();
    ASSERT_TRUE(s.ok()) << s.error_message();
    EXPECT_EQ(ack.outcome(), pb::CALLBACK_OUTCOME_APPLIED);
    EXPECT_EQ(ack.payment().payment_id(), ids[i]);
    EXPECT_EQ(ack.payment().status(), pb::PAYMENT_STATUS_SUCCEEDED);
  }
  std::string in;
  for (const auto& id : ids) in += (in.empty() ? "'" : ", '") + id + "'";
  EXPECT_EQ(Sql("SELECT count(*) FROM outbox WHERE payment_id IN (" + in + ")"), "64");
  EXPECT_EQ(Sql("SELECT count(DISTINCT payment_id) FROM outbox WHERE payment_id IN (" + in + ")"),
            "64");
  EXPECT_EQ(Sql("SELECT count(*) FROM payments WHERE status = 'SUCCEEDED' AND payment_id IN (" +
                in + ")"),
            "64");
  // Every one of them went through group commit.
  EXPECT_EQ(Metric("payonce_callback_group_commit_size_sum") - committed_before, 64);
}

}  // namespace
}  // namespace payonce::payment
