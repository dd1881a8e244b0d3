// reconciler: runs the reconciliation jobs every interval. Several replicas
// may run: the row-level jobs claim their rows with FOR UPDATE SKIP LOCKED
// and a lease, so replicas split the work; the statement comparison reads
// one stream per window, so it runs on one leader at a time (a PostgreSQL
// advisory lock), and the others skip it.
#include <cstdlib>
#include <memory>

#include "services/common/clock.h"
#include "services/common/grpc_server.h"
#include "services/common/lifecycle.h"
#include "services/common/metrics.h"
#include "services/common/outbox_notifier.h"
#include "services/common/settings.h"
#include "services/payment/adapters/clients/provider_gateway_client.h"
#include "services/reconciler/adapters/grpc/reconciler_clients.h"
#include "services/reconciler/adapters/pg/pg_reconcile_store.h"
#include "services/reconciler/adapters/prometheus/reconciler_metrics.h"
#include "services/reconciler/app/reconciler.h"

namespace {

struct ReconcilerSettings {
  std::string order_service_target = "127.0.0.1:50051";
  std::string provider_target = "127.0.0.1:50053";
  int64_t call_timeout_ms = 3000;
  int64_t interval_ms = 5000;
  int64_t once = 0;
  int64_t stuck_after_ms = 2000;
  int64_t not_found_grace_ms = 60000;
  int64_t debit_timeout_ms = 2000;
  int64_t unconfirmed_after_ms = 3000;
  int64_t settlement_lag_ms = 10000;
  int64_t settlement_clock_skew_ms = 2000;
  int64_t batch = 200;
};

}  // namespace

int main(int argc, char** argv) {
  using namespace payonce;
  BlockShutdownSignals();

  CommonSettings settings;
  settings.metrics_listen_addr = "127.0.0.1:9468";
  settings.database_url = "postgresql://payonce@127.0.0.1:55432/payonce_payment";
  ReconcilerSettings rs;
  ConfigParser p("reconciler",
                 "PayOnce reconciler: resolves stuck payments, repairs paid-but-pending orders, "
                 "refunds extra captures, compares the provider's statement");
  AddCommonSettings(p, settings, kDatabase | kDrain);
  p.String("PAYONCE_ORDER_SERVICE_TARGET", &rs.order_service_target,
           "gRPC target of the order service", checks::NonEmpty);
  p.String("PAYONCE_PROVIDER_TARGET", &rs.provider_target, "gRPC target of the provider",
           checks::NonEmpty);
  p.Int("PAYONCE_CALL_TIMEOUT_MS", &rs.call_timeout_ms, 10, 60000,
        "Deadline of every outgoing call");
  p.Int("PAYONCE_RECONCILER_INTERVAL_MS", &rs.interval_ms, 100, 3600000,
        "Time from the start of one reconciliation pass to the start of the next");
  p.Int("PAYONCE_RECONCILER_ONCE", &rs.once, 0, 1, "1: run one pass and exit");
  p.Int("PAYONCE_RECONCILER_STUCK_AFTER_MS", &rs.stuck_after_ms, 0, 86400000,
        "A PENDING payment older than this is queried at the provider");
  p.Int("PAYONCE_RECONCILER_NOT_FOUND_GRACE_MS", &rs.not_found_grace_ms, 0, 86400000,
        "A payment the provider never heard of for this long becomes FAILED "
        "(not_found_at_provider)");
  p.Int("PAYONCE_RECONCILER_DEBIT_TIMEOUT_MS", &rs.debit_timeout_ms, 10, 60000,
        "The payment service's debit deadline (its PAYONCE_CALL_TIMEOUT_MS): a debit may reach "
        "the provider this long after the payment was created, so the not-found grace period "
        "may not be shorter");
  p.Int("PAYONCE_RECONCILER_UNCONFIRMED_AFTER_MS", &rs.unconfirmed_after_ms, 0, 86400000,
        "A success the order service has not seen for this long is applied directly");
  p.Int("PAYONCE_RECONCILER_SETTLEMENT_LAG_MS", &rs.settlement_lag_ms, 0, 86400000,
        "The statement is compared up to now minus this");
  p.Int("PAYONCE_RECONCILER_SETTLEMENT_CLOCK_SKEW_MS", &rs.settlement_clock_skew_ms, 0, 30000,
        "How far the provider's clock may be from ours: a capture of ours is reported missing "
        "from the statement only if its window covers it by this margin");
  p.Int("PAYONCE_RECONCILER_BATCH", &rs.batch, 1, 10000, "Rows per job per pass");
  p.ParseOrExit(argc, argv);
  if (rs.not_found_grace_ms < rs.debit_timeout_ms) {
    // Absence of evidence before the debit could have arrived is no evidence.
    p.Fail("PAYONCE_RECONCILER_NOT_FOUND_GRACE_MS",
           "must be at least PAYONCE_RECONCILER_DEBIT_TIMEOUT_MS (" +
               std::to_string(rs.debit_timeout_ms) + ")");
  }

  Logger log("reconciler", settings.log_level);
  auto registry = std::make_shared<prometheus::Registry>();
  std::unique_ptr<MetricsEndpoint> metrics_endpoint;
  try {
    metrics_endpoint = std::make_unique<MetricsEndpoint>(settings.metrics_listen_addr, registry);
  } catch (const std::exception& e) {
    log.Error("cannot serve metrics",
              {{"addr", settings.metrics_listen_addr}, {"error", e.what()}});
    return 1;
  }
  reconciler::ReconcilerMetrics metrics(*registry);

  PgPool pool(PoolOptions(settings), log);
  if (auto s = AwaitSchema(pool, migrations::payment(), settings, log); !s.ok()) {
    log.Error("refusing to run", {{"error", std::string(s.message())}});
    return 1;
  }
  SystemClock clock;
  UuidV7Generator ids(clock);
  const auto timeout = std::chrono::milliseconds(rs.call_timeout_ms);
  auto provider_channel = grpc::CreateCustomChannel(
      rs.provider_target, grpc::InsecureChannelCredentials(), DefaultChannelArguments());
  payment::ProviderGatewayClient provider(provider_channel, timeout);
  reconciler::SettlementClient settlement(provider_channel, timeout);
  reconciler::OrderDeskClient orders(
      grpc::CreateCustomChannel(rs.order_service_target, grpc::InsecureChannelCredentials(),
                                DefaultChannelArguments()),
      timeout);
  OutboxNotifier outbox_notifier(pool, log);
  reconciler::PgReconcileStore store(pool, ids, outbox_notifier);
  reconciler::ReconcilerOptions options;
  options.stuck_after = std::chrono::milliseconds(rs.stuck_after_ms);
  options.not_found_grace = std::chrono::milliseconds(rs.not_found_grace_ms);
  options.unconfirmed_after = std::chrono::milliseconds(rs.unconfirmed_after_ms);
  options.settlement_lag = std::chrono::milliseconds(rs.settlement_lag_ms);
  options.settlement_clock_skew = std::chrono::milliseconds(rs.settlement_clock_skew_ms);
  options.lease = std::max(std::chrono::milliseconds(10 * rs.call_timeout_ms),
                           std::chrono::milliseconds(rs.interval_ms));
  options.batch = static_cast<int>(rs.batch);
  reconciler::Reconciler reconciler(options, store, provider, orders, settlement, clock, metrics,
                                    log);

  if (rs.once == 1) {
    const auto status = reconciler.RunAll();
    if (!status.ok()) {
      log.Error("reconciliation pass failed", {{"error", std::string(status.message())}});
      return 1;
    }
    return 0;
  }

  StopFlag stop;
  // Passes start one interval apart (one that overruns is followed at once),
  // so what a pass just missed waits one interval, however long passes take.
  std::thread loop([&] {
    const auto interval = std::chrono::milliseconds(rs.interval_ms);
    std::chrono::milliseconds until_next{0};
    do {
      const auto start = std::chrono::steady_clock::now();
      reconciler.RunAll().IgnoreError();
      const auto spent = std::chrono::duration_cast<std::chrono::milliseconds>(
          std::chrono::steady_clock::now() - start);
      until_next = std::max(std::chrono::milliseconds(0), interval - spent);
    } while (!stop.WaitFor(until_next));
  });
  log.Info("reconciler ready", {{"interval_ms", rs.interval_ms},
                                {"metrics", settings.metrics_listen_addr},
                                {"order_service", rs.order_service_target},
                                {"provider", rs.provider_target}});
  const int sig = WaitForShutdownSignal();
  log.Info("shutting down; finishing the pass in flight", {{"signal", sig}});
  // A database that does not answer has the pass's calls aborted after the
  // grace period; an aborted pass changes nothing it did not commit.
  DrainWithin(
      log, std::chrono::milliseconds(settings.shutdown_grace_ms),
      [&] {
        stop.Stop();
        loop.join();
      },
      [&] { pool.AbortInFlight(); });
  log.Info("reconciler stopped");
  return 0;
}
