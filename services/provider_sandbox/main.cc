// provider-sandbox: wires config, PostgreSQL, the sandbox app, the callback
// dispatcher and the gRPC server.
#include <cstdlib>
#include <memory>
#include <random>

#include "services/common/clock.h"
#include "services/common/domain/callback_signature.h"
#include "services/common/grpc_server.h"
#include "services/common/lifecycle.h"
#include "services/common/metrics.h"
#include "services/common/settings.h"
#include "services/provider_sandbox/adapters/grpc/grpc_callback_sender.h"
#include "services/provider_sandbox/adapters/grpc/provider_grpc_service.h"
#include "services/provider_sandbox/adapters/pg/pg_callback_queue.h"
#include "services/provider_sandbox/adapters/pg/pg_ledger_store.h"
#include "services/provider_sandbox/adapters/prometheus/prometheus_sandbox_metrics.h"
#include "services/provider_sandbox/app/callback_dispatch_loop.h"
#include "services/provider_sandbox/app/callback_dispatcher.h"
#include "services/provider_sandbox/app/sandbox_app.h"

namespace {

// The sandbox's own settings, beyond the common ones.
struct SandboxSettings {
  std::string payment_service_target = "127.0.0.1:50052";
  std::string callback_secrets;
  std::string provider_name = "sandbox";
  int64_t callback_timeout_ms = 2000;
  int64_t callback_workers = 8;
  std::string retry_schedule_ms = "200,500,1000,2000,5000";
  int64_t retry_every_ms = 10000;
  int64_t give_up_after_ms = 300000;
  int64_t poll_ms = 50;
  int64_t seed = 0;
};

void AddSandboxSettings(payonce::ConfigParser& p, SandboxSettings& s) {
  using payonce::checks::NonEmpty;
  p.String("PAYONCE_PAYMENT_SERVICE_TARGET", &s.payment_service_target,
           "gRPC target of the payment service that receives the callbacks", NonEmpty);
  p.String("PAYONCE_CALLBACK_SECRETS", &s.callback_secrets,
           "Comma-separated callback signing secrets; the sandbox signs with the first "
           "(required)",
           [](const std::string& v) {
             return payonce::ParseSecrets(v).empty() ? "must hold at least one secret" : "";
           });
  p.String("PAYONCE_PROVIDER_NAME", &s.provider_name,
           "The provider name callbacks carry (ProviderCallback.provider)", NonEmpty);
  p.Int("PAYONCE_CALLBACK_TIMEOUT_MS", &s.callback_timeout_ms, 1, 600000,
        "Deadline of each callback call");
  p.Int("PAYONCE_CALLBACK_WORKERS", &s.callback_workers, 1, 256,
        "Callback deliveries in flight at most");
  p.String("PAYONCE_CALLBACK_RETRY_SCHEDULE_MS", &s.retry_schedule_ms,
           "Delays before the first re-sends of an unacknowledged callback, comma-separated",
           [](const std::string& v) {
             auto steps = payonce::provider::ParseRetrySteps(v);
             return steps.ok() ? std::string() : std::string(steps.status().message());
           });
  p.Int("PAYONCE_CALLBACK_RETRY_EVERY_MS", &s.retry_every_ms, 1, 86400000,
        "Delay between re-sends once the schedule is used up");
  p.Int("PAYONCE_CALLBACK_GIVE_UP_AFTER_MS", &s.give_up_after_ms, 0, 30LL * 86400000,
        "Stop re-sending this long after the first attempt");
  p.Int("PAYONCE_CALLBACK_POLL_MS", &s.poll_ms, 1, 60000,
        "How often the dispatcher looks for due callbacks when idle");
  p.Int("PAYONCE_SANDBOX_SEED", &s.seed, 0, INT64_MAX,
        "Seed of the fault schedule: Debit call number n draws its faults from (seed, n) "
        "alone; the reorder shuffle is seeded by it too (0 = random)");
}

}  // namespace

int main(int argc, char** argv) {
  using namespace payonce;
  using namespace payonce::provider;
  BlockShutdownSignals();

  CommonSettings settings;
  settings.grpc_listen_addr = "127.0.0.1:50053";
  settings.metrics_listen_addr = "127.0.0.1:9466";
  settings.database_url = "postgresql://payonce@127.0.0.1:55432/payonce_provider";
  SandboxSettings sandbox;
  ConfigParser parser("provider-sandbox",
                      "PayOnce sandbox payment provider (payonce.provider.v1.ProviderSandbox)");
  AddCommonSettings(parser, settings, kGrpcServer | kDatabase);
  AddSandboxSettings(parser, sandbox);
  parser.ParseOrExit(argc, argv);

  Logger log("provider-sandbox", settings.log_level);
  const std::vector<std::string> secrets = ParseSecrets(sandbox.callback_secrets);
  if (secrets.empty()) {
    log.Error("invalid configuration: PAYONCE_CALLBACK_SECRETS",
              {{"variable", "PAYONCE_CALLBACK_SECRETS"},
               {"error", "required: at least one signing secret"},
               {"exit_code", 2}});
    return 2;
  }
  RetrySchedule schedule;
  schedule.steps_ms = *ParseRetrySteps(sandbox.retry_schedule_ms);  // checked by the parser
  schedule.every_ms = sandbox.retry_every_ms;
  schedule.give_up_after_ms = sandbox.give_up_after_ms;
  const uint64_t seed = sandbox.seed != 0 ? static_cast<uint64_t>(sandbox.seed)
                                          : (static_cast<uint64_t>(std::random_device{}()) << 32) ^
                                                std::random_device{}();

  auto registry = std::make_shared<prometheus::Registry>();
  std::unique_ptr<MetricsEndpoint> metrics_endpoint;
  try {
    metrics_endpoint = std::make_unique<MetricsEndpoint>(settings.metrics_listen_addr, registry);
  } catch (const std::exception& e) {
    log.Error("cannot serve metrics",
              {{"addr", settings.metrics_listen_addr}, {"error", e.what()}});
    return 1;
  }
  GrpcServerMetrics grpc_metrics(*registry);
  PrometheusSandboxMetrics sandbox_metrics(*registry);

  PgPool pool(PoolOptions(settings), log);
  if (auto s = AwaitSchema(pool, migrations::provider(), settings, log); !s.ok()) {
    log.Error("refusing to serve", {{"error", std::string(s.message())}});
    return 1;
  }

  SystemClock clock;
  UuidV7Generator ids(clock);
  SeededRandomSource rng(seed);
  PgLedgerStore store(pool);
  PgCallbackQueue queue(pool, sandbox.provider_name);
  GrpcCallbackSender sender(sandbox.payment_service_target,
                            std::chrono::milliseconds(sandbox.callback_timeout_ms));
  SandboxApp app(store, seed, clock, ids, sandbox_metrics);
  DispatcherOptions dispatcher_options;
  dispatcher_options.provider = sandbox.provider_name;
  dispatcher_options.signing_secret = secrets.front();
  dispatcher_options.schedule = schedule;
  // Longer than one delivery: the copies in parallel, then the replay.
  dispatcher_options.lease_ms = 3 * sandbox.callback_timeout_ms + 10000;
  CallbackDispatcher dispatcher(queue, sender, rng, clock, ids, sandbox_metrics, log,
                                dispatcher_options);
  StopFlag stop;
  DispatchLoopOptions loop_options;
  loop_options.workers = static_cast<int>(sandbox.callback_workers);
  loop_options.poll = std::chrono::milliseconds(sandbox.poll_ms);
  CallbackDispatchLoop loop(dispatcher, stop, log, loop_options);
  ProviderGrpcService service(app, log);

  GrpcServerHost server(ServerOptions(settings), log, grpc_metrics);
  server.AddService(&service, "payonce.provider.v1.ProviderSandbox");
  if (auto s = server.Start(); !s.ok()) {
    log.Error("cannot start gRPC server", {{"error", std::string(s.message())}});
    return 1;
  }
  loop.Start();
  log.Info("provider-sandbox ready", {{"grpc", settings.grpc_listen_addr},
                                      {"metrics", settings.metrics_listen_addr},
                                      {"payment_service", sandbox.payment_service_target},
                                      {"provider", sandbox.provider_name},
                                      {"secrets", secrets.size()},
                                      {"callback_workers", sandbox.callback_workers},
                                      {"seed_fixed", sandbox.seed != 0}});
  const int sig = WaitForShutdownSignal();
  log.Info("shutting down", {{"signal", sig}});
  DrainWithin(
      log, std::chrono::milliseconds(settings.shutdown_grace_ms),
      [&] {
        stop.Stop();
        server.Shutdown();
        loop.Join();
      },
      [&] { pool.AbortInFlight(); });
  log.Info("provider-sandbox stopped");
  return 0;
}
