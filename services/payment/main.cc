// payment-service: wires config, PostgreSQL, Redis, the order service and
// provider clients, the payment app and the gRPC server.
#include <cstdlib>
#include <memory>
#include <thread>

#include "services/common/clock.h"
#include "services/common/domain/callback_signature.h"
#include "services/common/grpc_server.h"
#include "services/common/lifecycle.h"
#include "services/common/metrics.h"
#include "services/common/outbox_notifier.h"
#include "services/common/sabotage.h"
#include "services/common/settings.h"
#include "services/payment/adapters/clients/order_directory_client.h"
#include "services/payment/adapters/clients/provider_gateway_client.h"
#include "services/payment/adapters/failpoint/no_order_payable.h"
#include "services/payment/adapters/grpc/outbox_admin_service.h"
#include "services/payment/adapters/grpc/payment_grpc_service.h"
#include "services/payment/adapters/metrics/payment_metrics.h"
#include "services/payment/adapters/pg/pg_outbox_admin_store.h"
#include "services/payment/adapters/pg/pg_payment_store.h"
#include "services/payment/adapters/redis/redis_cache.h"
#include "services/payment/app/payment_app.h"

namespace {

struct PaymentSettings {
  std::string redis_addr = "127.0.0.1:56379";
  int64_t redis_timeout_ms = 200;
  std::string order_service_target = "127.0.0.1:50051";
  std::string provider_target = "127.0.0.1:50053";
  int64_t call_timeout_ms = 2000;
  std::string callback_secrets;
  std::string provider_name = "sandbox";
  int64_t idempotency_ttl_ms = 72LL * 3600 * 1000;
  int64_t sweep_interval_ms = 60000;
  std::string group_commit = "true";
  int64_t group_max = 64;
  int64_t group_window_us = 2000;
  int64_t group_committers = 2;
  std::string sabotage;
};

}  // namespace

int main(int argc, char** argv) {
  using namespace payonce;
  BlockShutdownSignals();

  CommonSettings settings;
  settings.grpc_listen_addr = "127.0.0.1:50052";
  settings.metrics_listen_addr = "127.0.0.1:9465";
  settings.database_url = "postgresql://payonce@127.0.0.1:55432/payonce_payment";
  PaymentSettings ps;
  ConfigParser parser("payment-service",
                      "PayOnce payment service (payonce.payment.v1.PaymentService, OutboxAdmin)");
  AddCommonSettings(parser, settings, kGrpcServer | kDatabase);
  parser.String("PAYONCE_REDIS_ADDR", &ps.redis_addr,
                "Redis host:port (idempotency and nonce fast path); \"off\" disables Redis",
                [](const std::string& v) { return v == "off" ? "" : checks::HostPort(v); });
  parser.Int("PAYONCE_REDIS_TIMEOUT_MS", &ps.redis_timeout_ms, 1, 10000,
             "Connect and command timeout of Redis calls");
  parser.String("PAYONCE_ORDER_SERVICE_TARGET", &ps.order_service_target,
                "gRPC target of the order service", checks::NonEmpty);
  parser.String("PAYONCE_PROVIDER_TARGET", &ps.provider_target,
                "gRPC target of the payment provider (sandbox)", checks::NonEmpty);
  parser.Int("PAYONCE_CALL_TIMEOUT_MS", &ps.call_timeout_ms, 10, 60000,
             "Deadline of every outgoing call (order service, provider)");
  parser.String("PAYONCE_CALLBACK_SECRETS", &ps.callback_secrets,
                "Comma-separated HMAC secrets accepted on provider callbacks (rotation: any "
                "may match)",
                [](const std::string& v) {
                  return ParseSecrets(v).empty() ? "at least one secret is required" : "";
                });
  parser.String("PAYONCE_PROVIDER_NAME", &ps.provider_name, "Provider name recorded on payments",
                checks::NonEmpty);
  parser.Int("PAYONCE_IDEMPOTENCY_TTL_MS", &ps.idempotency_ttl_ms, 3600000, 30LL * 24 * 3600000,
             "How long idempotency keys are kept (>= the provider's longest retry window)");
  parser.Int("PAYONCE_SWEEP_INTERVAL_MS", &ps.sweep_interval_ms, 1000, 3600000,
             "How often expired idempotency keys and nonces are deleted");
  parser.String("PAYONCE_CALLBACK_GROUP_COMMIT", &ps.group_commit,
                "true: concurrent provider callbacks are applied as one set-based transaction "
                "(group commit); false: one transaction per callback",
                [](const std::string& v) {
                  return v == "true" || v == "false" ? "" : "must be true or false";
                });
  parser.Int("PAYONCE_CALLBACK_GROUP_MAX", &ps.group_max, 1, 1024,
             "Most callbacks in one group-commit transaction");
  parser.Int("PAYONCE_CALLBACK_GROUP_WINDOW_US", &ps.group_window_us, 0, 2000,
             "Longest wait to fill a batch, only while another batch is committing");
  parser.Int("PAYONCE_CALLBACK_GROUP_COMMITTERS", &ps.group_committers, 1, 16,
             "Group-commit transactions in flight at once (each uses one database connection)");
  AddSabotageSetting(parser, &ps.sabotage);
  parser.ParseOrExit(argc, argv);
  if (ParseSecrets(ps.callback_secrets).empty()) {
    Logger("payment-service", "info")
        .Error("invalid configuration: PAYONCE_CALLBACK_SECRETS",
               {{"variable", "PAYONCE_CALLBACK_SECRETS"},
                {"error", "at least one secret is required"}});
    return 2;
  }

  Logger log("payment-service", settings.log_level);
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
  payment::PaymentMetrics payment_metrics(*registry);

  PgPool pool(PoolOptions(settings), log);
  if (auto s = AwaitSchema(pool, migrations::payment(), settings, log); !s.ok()) {
    log.Error("refusing to serve", {{"error", std::string(s.message())}});
    return 1;
  }

  SystemClock clock;
  UuidV7Generator ids(clock);
  const auto timeout = std::chrono::milliseconds(ps.call_timeout_ms);
  payment::OrderDirectoryClient orders(
      grpc::CreateCustomChannel(ps.order_service_target, grpc::InsecureChannelCredentials(),
                                DefaultChannelArguments()),
      timeout);
  payment::ProviderGatewayClient provider(
      grpc::CreateCustomChannel(ps.provider_target, grpc::InsecureChannelCredentials(),
                                DefaultChannelArguments()),
      timeout);
  payment::RedisCache cache(
      {ps.redis_addr == "off" ? "" : ps.redis_addr, std::chrono::milliseconds(ps.redis_timeout_ms),
       std::chrono::milliseconds(1000), 32},
      log);
  OutboxNotifier outbox_notifier(pool, log);
  payment::PgPaymentStore store(pool, ids, outbox_notifier);
  payment::PaymentAppOptions options;
  options.provider_name = ps.provider_name;
  options.callback_secrets = ParseSecrets(ps.callback_secrets);
  options.idempotency_ttl = std::chrono::milliseconds(ps.idempotency_ttl_ms);
  if (ps.sabotage == kSabotageAnswerBeforeCommit) {
    options.answer_before_commit = true;
    log.Warn("SABOTAGE armed: callbacks are answered before they are committed",
             {{"sabotage", ps.sabotage}});
  }
  if (ps.sabotage == kSabotageAcceptAnySignature) {
    options.accept_any_signature = true;
    log.Warn("SABOTAGE armed: provider callbacks are accepted whatever their signature",
             {{"sabotage", ps.sabotage}});
  }
  if (ps.group_commit == "true") {
    payment::GroupCommitOptions group;
    group.max_batch = static_cast<size_t>(ps.group_max);
    group.window = std::chrono::microseconds(ps.group_window_us);
    group.committers = static_cast<int>(ps.group_committers);
    options.group_commit = group;
  }
  payment::NoOrderPayable no_order_payable(orders);
  payment::OrderDirectory* order_directory = &orders;
  if (ps.sabotage == kSabotageRefusePayments) {
    order_directory = &no_order_payable;
    log.Warn("SABOTAGE armed: every order looks cancelled to CreatePayment and RefundPayment",
             {{"sabotage", ps.sabotage}});
  }
  payment::PaymentApp app(options, store, *order_directory, provider, cache, ids, clock,
                          payment_metrics, log);
  payment::PaymentGrpcService service(app, log);
  payment::PgOutboxAdminStore admin_store(pool, outbox_notifier);
  payment::OutboxAdminGrpcService admin(admin_store, log);

  GrpcServerHost server(ServerOptions(settings), log, grpc_metrics);
  server.AddService(&service, "payonce.payment.v1.PaymentService");
  server.AddService(&admin, "payonce.payment.v1.OutboxAdmin");
  if (auto s = server.Start(); !s.ok()) {
    log.Error("cannot start gRPC server", {{"error", std::string(s.message())}});
    return 1;
  }

  // Expired idempotency keys and nonces are deleted in the background.
  StopFlag stop;
  std::thread sweeper([&] {
    while (!stop.WaitFor(std::chrono::milliseconds(ps.sweep_interval_ms))) {
      auto swept = store.SweepExpired();
      if (!swept.ok()) {
        log.Warn("sweep failed", {{"error", std::string(swept.status().message())}});
      } else if (*swept > 0) {
        log.Info("swept expired keys", {{"rows", *swept}});
      }
    }
  });

  log.Info("payment-service ready", {{"grpc", settings.grpc_listen_addr},
                                     {"metrics", settings.metrics_listen_addr},
                                     {"redis", ps.redis_addr}});
  const int sig = WaitForShutdownSignal();
  log.Info("shutting down", {{"signal", sig}});
  // Calls in flight finish (their group commits included); a database that
  // does not answer has its calls aborted after the grace period.
  DrainWithin(
      log, std::chrono::milliseconds(settings.shutdown_grace_ms),
      [&] {
        server.Shutdown();
        stop.Stop();
        sweeper.join();
      },
      [&] { pool.AbortInFlight(); });
  log.Info("payment-service stopped");
  return 0;
}
