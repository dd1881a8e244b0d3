// OutboxAdmin over gRPC, in process, against a real PostgreSQL
// (payonce_payment): stats, dead letters with paging, retry.
#include <google/protobuf/util/time_util.h>
#include <gtest/gtest.h>
#include <prometheus/registry.h>

#include <algorithm>
#include <atomic>
#include <functional>
#include <memory>
#include <pqxx/pqxx>
#include <string>
#include <vector>

#include "payonce/payment/v1/payment_service.grpc.pb.h"
#include "services/common/grpc_server.h"
#include "services/common/metrics.h"
#include "services/common/outbox_notifier.h"
#include "services/common/pg_pool.h"
#include "services/payment/adapters/grpc/outbox_admin_service.h"
#include "services/payment/adapters/pg/pg_outbox_admin_store.h"
#include "tests/support/local_servers.h"

namespace payonce::payment {
namespace {

using google::protobuf::util::TimeUtil;
using payonce::testing::LocalServers;
using std::chrono::milliseconds;
namespace pb = payonce::payment::v1;

class OutboxAdminTest : public ::testing::Test {
 protected:
  static void SetUpTestSuite() { servers_ = new LocalServers(); }
  static void TearDownTestSuite() {
    delete servers_;
    servers_ = nullptr;
  }

  void SetUp() override {
    log_ = std::make_unique<Logger>("outbox-admin-test", "error");
    registry_ = std::make_shared<prometheus::Registry>();
    metrics_ = std::make_unique<GrpcServerMetrics>(*registry_);
    PgPoolOptions opts;
    opts.dsn = servers_->Dsn("payment");
    opts.size = 4;
    pool_ = std::make_unique<PgPool>(opts, *log_);
    outbox_notifier_ = std::make_unique<OutboxNotifier>(*pool_, *log_);
    store_ = std::make_unique<PgOutboxAdminStore>(*pool_, *outbox_notifier_);
    service_ = std::make_unique<OutboxAdminGrpcService>(*store_, *log_);
    server_ = std::make_unique<GrpcServerHost>(GrpcServerOptions{"127.0.0.1:0", 16, {}}, *log_,
                                               *metrics_);
    server_->AddService(service_.get(), "payonce.payment.v1.OutboxAdmin");
    ASSERT_TRUE(server_->Start().ok());
    stub_ = pb::OutboxAdmin::NewStub(grpc::CreateChannel(
        "127.0.0.1:" + std::to_string(server_->port()), grpc::InsecureChannelCredentials()));
    Exec("TRUNCATE outbox RESTART IDENTITY");
  }

  void TearDown() override { server_->Shutdown(); }

  template <class Req, class Resp, class Method>
  grpc::Status Call(Method method, const Req& req, Resp* resp) {
    grpc::ClientContext ctx;
    ctx.set_deadline(DeadlineAfter(milliseconds(10000)));
    return (stub_.get()->*method)(&ctx, req, resp);
  }

  pb::OutboxStats Stats() {
    pb::OutboxStats stats;
    const auto s =
        Call(&pb::OutboxAdmin::Stub::GetOutboxStats, pb::GetOutboxStatsRequest(), &stats);
    EXPECT_TRUE(s.ok()) << s.error_message();
    return stats;
  }

  grpc::Status List(int32_t page_size, const std::string& token, pb::ListDeadLettersResponse* out) {
    pb::ListDeadLettersRequest req;
    req.set_page_size(page_size);
    req.set_page_token(token);
    return Call(&pb::OutboxAdmin::Stub::ListDeadLetters, req, out);
  }

  grpc::Status Retry(const std::string& event_id, pb::OutboxEvent* out) {
    pb::RetryDeadLetterRequest req;
    req.set_event_id(event_id);
    return Call(&pb::OutboxAdmin::Stub::RetryDeadLetter, req, out);
  }

  static void Exec(const std::string& sql) {
    pqxx::connection c(servers_->Dsn("payment"));
    pqxx::nontransaction tx(c);
    tx.exec(sql);
  }
  static std::string Query(const std::string& sql) { return servers_->Query("payment", sql); }

  // Inserts an outbox row, then applies `set` (an UPDATE's SET list) to it.
  static std::string InsertEvent(const std::string& order_id, const std::string& set = "") {
    static std::atomic<int> n{0};
    const std::string event_id = "evt-" + std::to_string(++n);
    pqxx::connection c(servers_->Dsn("payment"));
    pqxx::work tx(c);
    tx.exec_params(
        "INSERT INTO outbox (event_id, payment_id, order_id, status, amount_minor, currency, "
        "occurred_at) VALUES ($1, $2, $3, 'SUCCEEDED', 1999, 'EUR', now())",
        event_id, "pay-" + event_id, order_id);
    if (!set.empty()) {
      tx.exec_params("UPDATE outbox SET " + set + " WHERE event_id = $1", event_id);
    }
    tx.commit();
    return event_id;
  }

  // A dead letter that gave up `seconds_ago`.
  static std::string InsertDeadLetter(int seconds_ago, const std::string& order_id = "ord-dead") {
    return InsertEvent(order_id,
                       "attempts = 20, failures = 20, "
                       "last_error = 'DEADLINE_EXCEEDED: order service too slow', "
                       "dead_lettered_at = now() - interval '" +
                           std::to_string(seconds_ago) + " seconds'");
  }

  static LocalServers* servers_;
  std::unique_ptr<Logger> log_;
  std::shared_ptr<prometheus::Registry> registry_;
  std::unique_ptr<GrpcServerMetrics> metrics_;
  std::unique_ptr<PgPool> pool_;
  std::unique_ptr<OutboxNotifier> outbox_notifier_;
  std::unique_ptr<PgOutboxAdminStore> store_;
  std::unique_ptr<OutboxAdminGrpcService> service_;
  std::unique_ptr<GrpcServerHost> server_;
  std::unique_ptr<pb::OutboxAdmin::Stub> stub_;
};

LocalServers* OutboxAdminTest::servers_ = nullptr;

TEST_F(OutboxAdminTest, StatsOfAnEmptyOutboxAreZero) {
  const pb::OutboxStats s = Stats();
  EXPECT_EQ(s.pending(), 0);
  EXPECT_EQ(s.oldest_pending_age_ms(), 0);
  EXPECT_EQ(s.dead_letters(), 0);
  EXPECT_EQ(s.delivered_last_minute(), 0);
}

TEST_F(OutboxAdminTest, StatsCountPendingOldestAgeDeadLettersAndRecentDeliveries) {
  InsertEvent("ord-1", "created_at = now() - interval '45 seconds'");
  InsertEvent("ord-2", "created_at = now() - interval '5 seconds', attempts = 3");
  // Delivered 10 s and 2 minutes ago; dead-lettered (old, yet not pending).
  InsertEvent("ord-3",
              "created_at = now() - interval '1 hour', delivered_at = now() - interval "
              "'10 seconds', apply_outcome = 'APPLIED'");
  InsertEvent("ord-4",
              "created_at = now() - interval '1 hour', delivered_at = now() - interval "
              "'2 minutes', apply_outcome = 'APPLIED'");
  InsertEvent("ord-5", "created_at = now() - interval '2 hours', dead_lettered_at = now()");

  const pb::OutboxStats s = Stats();
  EXPECT_EQ(s.pending(), 2);
  EXPECT_GE(s.oldest_pending_age_ms(), 45000);
  EXPECT_LT(s.oldest_pending_age_ms(), 55000);
  EXPECT_EQ(s.dead_letters(), 1);
  EXPECT_EQ(s.delivered_last_minute(), 1);
}

TEST_F(OutboxAdminTest, ListsDeadLettersNewestFirstWithAttemptsAndLastError) {
  const std::string older = InsertDeadLetter(120);
  const std::string newer = InsertDeadLetter(5);
  InsertEvent("ord-pending");
  InsertEvent("ord-delivered", "delivered_at = now(), apply_outcome = 'APPLIED'");

  pb::ListDeadLettersResponse resp;
  const auto status = List(0, "", &resp);
  ASSERT_TRUE(status.ok()) << status.error_message();
  ASSERT_EQ(resp.events_size(), 2);
  EXPECT_TRUE(resp.next_page_token().empty());
  EXPECT_EQ(resp.events(0).event_id(), newer);
  EXPECT_EQ(resp.events(1).event_id(), older);
  const pb::OutboxEvent& e = resp.events(0);
  EXPECT_EQ(e.payment_id(), "pay-" + newer);
  EXPECT_EQ(e.order_id(), "ord-dead");
  EXPECT_EQ(e.status(), pb::PAYMENT_STATUS_SUCCEEDED);
  EXPECT_EQ(e.amount_minor(), 1999);
  EXPECT_EQ(e.currency(), "EUR");
  EXPECT_EQ(e.attempts(), 20);
  EXPECT_EQ(e.last_error(), "DEADLINE_EXCEEDED: order service too slow");
  EXPECT_TRUE(e.has_dead_lettered_at());
  EXPECT_TRUE(e.has_created_at());
  EXPECT_TRUE(e.has_next_attempt_at());
  EXPECT_FALSE(e.has_delivered_at());
  EXPECT_GT(TimeUtil::TimestampToMilliseconds(resp.events(0).dead_lettered_at()),
            TimeUtil::TimestampToMilliseconds(resp.events(1).dead_lettered_at()));
}

TEST_F(OutboxAdminTest, PagesThroughDeadLettersWithoutGapsOrRepeats) {
  std::vector<std::string> newest_first;
  for (int i = 0; i < 7; ++i) newest_first.insert(newest_first.begin(), InsertDeadLetter(100 - i));
  // Two given up on in the same instant: the event id breaks the tie.
  Exec(
      "UPDATE outbox SET dead_lettered_at = (SELECT dead_lettered_at FROM outbox WHERE event_id "
      "= '" +
      newest_first[3] + "') WHERE event_id = '" + newest_first[4] + "'");
  std::sort(newest_first.begin() + 3, newest_first.begin() + 5, std::greater<>());

  std::vector<std::string> seen;
  std::string token;
  int pages = 0;
  do {
    pb::ListDeadLettersResponse resp;
    const auto status = List(3, token, &resp);
    ASSERT_TRUE(status.ok()) << status.error_message();
    EXPECT_LE(resp.events_size(), 3);
    for (const auto& e : resp.events()) seen.push_back(e.event_id());
    token = resp.next_page_token();
    ++pages;
  } while (!token.empty() && pages < 10);
  EXPECT_EQ(pages, 3);
  EXPECT_EQ(seen, newest_first);
}

TEST_F(OutboxAdminTest, ABadPageSizeOrTokenIsInvalidArgument) {
  InsertDeadLetter(10);
  pb::ListDeadLettersResponse resp;
  EXPECT_EQ(List(-1, "", &resp).error_code(), grpc::StatusCode::INVALID_ARGUMENT);
  EXPECT_EQ(List(501, "", &resp).error_code(), grpc::StatusCode::INVALID_ARGUMENT);
  EXPECT_TRUE(List(500, "", &resp).ok());
  EXPECT_EQ(List(10, "not-a-token", &resp).error_code(), grpc::StatusCode::INVALID_ARGUMENT);
  EXPECT_EQ(List(10, "cDF8MTIz", &resp).error_code(), grpc::StatusCode::INVALID_ARGUMENT);
}

TEST_F(OutboxAdminTest, RetryPutsADeadLetterBackInLineAndWakesTheRelay) {
  const std::string e = InsertDeadLetter(30);
  pqxx::connection listener(servers_->Dsn("payment"));
  {
    pqxx::nontransaction tx(listener);
    tx.exec("LISTEN payonce_outbox");
  }

  pb::OutboxEvent retried;
  const auto status = Retry(e, &retried);
  ASSERT_TRUE(status.ok()) << status.error_message();
  EXPECT_EQ(retried.event_id(), e);
  EXPECT_FALSE(retried.has_dead_lettered_at());
  EXPECT_EQ(retried.attempts(), 0);
  // The last error stays as evidence of why the relay had given up.
  EXPECT_EQ(retried.last_error(), "DEADLINE_EXCEEDED: order service too slow");
  EXPECT_LE(
      TimeUtil::TimestampToMilliseconds(retried.next_attempt_at()),
      std::chrono::duration_cast<milliseconds>(std::chrono::system_clock::now().time_since_epoch())
          .count());
  // A full budget again: its next failure does not dead-letter it at once.
  EXPECT_EQ(Query("SELECT dead_lettered_at IS NULL AND attempts = 0 AND failures = 0 AND "
                  "next_attempt_at <= now() "
                  "FROM outbox WHERE event_id = '" +
                  e + "'"),
            "t");
  EXPECT_GT(listener.await_notification(5, 0), 0);
  EXPECT_EQ(Stats().dead_letters(), 0);
  EXPECT_EQ(Stats().pending(), 1);

  // Idempotent: the same row, unchanged, and no second wake-up.
  pb::OutboxEvent again;
  ASSERT_TRUE(Retry(e, &again).ok());
  EXPECT_EQ(again.SerializeAsString(), retried.SerializeAsString());
  EXPECT_EQ(listener.await_notification(0, 300000), 0);
}

TEST_F(OutboxAdminTest, RetryingARowThatIsNoDeadLetterReturnsItUnchanged) {
  const std::string pending = InsertEvent("ord-p", "attempts = 3, last_error = 'UNAVAILABLE: x'");
  const std::string delivered =
      InsertEvent("ord-d", "attempts = 1, delivered_at = now(), apply_outcome = 'APPLIED'");
  pb::OutboxEvent out;
  ASSERT_TRUE(Retry(pending, &out).ok());
  EXPECT_EQ(out.attempts(), 3);
  EXPECT_EQ(out.last_error(), "UNAVAILABLE: x");
  ASSERT_TRUE(Retry(delivered, &out).ok());
  EXPECT_EQ(out.attempts(), 1);
  EXPECT_TRUE(out.has_delivered_at());
  EXPECT_EQ(Query("SELECT count(*) FROM outbox WHERE attempts = 0"), "0");
}

TEST_F(OutboxAdminTest, RetryOfAnUnknownOrMissingEventIdIsRefused) {
  pb::OutboxEvent out;
  EXPECT_EQ(Retry("no-such-event", &out).error_code(), grpc::StatusCode::NOT_FOUND);
  EXPECT_EQ(Retry("", &out).error_code(), grpc::StatusCode::INVALID_ARGUMENT);
  EXPECT_EQ(Retry(std::string(200, 'e'), &out).error_code(), grpc::StatusCode::INVALID_ARGUMENT);
}

}  // namespace
}  // namespace payonce::payment
