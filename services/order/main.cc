// order-service: wires config, PostgreSQL, the order app and the gRPC server.
#include <prometheus/histogram.h>

#include <cstdlib>
#include <memory>
#include <optional>
#include <string>

#include "services/common/clock.h"
#include "services/common/grpc_server.h"
#include "services/common/lifecycle.h"
#include "services/common/metrics.h"
#include "services/common/sabotage.h"
#include "services/common/settings.h"
#include "services/order/adapters/grpc/order_grpc_service.h"
#include "services/order/adapters/pg/pg_order_store.h"
#include "services/order/app/order_app.h"

int main(int argc, char** argv) {
  using namespace payonce;
  BlockShutdownSignals();

  CommonSettings settings;
  settings.grpc_listen_addr = "127.0.0.1:50051";
  settings.metrics_listen_addr = "127.0.0.1:9464";
  settings.database_url = "postgresql://payonce@127.0.0.1:55432/payonce_order";
  std::string group_commit = "true";
  int64_t group_max = 64;
  int64_t group_committers = 2;
  std::string sabotage;
  ConfigParser parser("order-service", "PayOnce order service (payonce.order.v1.OrderService)");
  AddCommonSettings(parser, settings, kGrpcServer | kDatabase);
  parser.String("PAYONCE_EVENT_GROUP_COMMIT", &group_commit,
                "true: concurrent ApplyPaymentEvent calls are applied as one transaction "
                "(group commit); false: one transaction per event",
                [](const std::string& v) {
                  return v == "true" || v == "false" ? "" : "must be true or false";
                });
  parser.Int("PAYONCE_EVENT_GROUP_MAX", &group_max, 1, 1024,
             "Most payment events in one group-commit transaction");
  parser.Int("PAYONCE_EVENT_GROUP_COMMITTERS", &group_committers, 1, 16,
             "Group-commit transactions in flight at once (each uses one database connection)");
  AddSabotageSetting(parser, &sabotage);
  parser.ParseOrExit(argc, argv);

  Logger log("order-service", settings.log_level);
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

  PgPool pool(PoolOptions(settings), log);
  if (auto s = AwaitSchema(pool, migrations::order(), settings, log); !s.ok()) {
    log.Error("refusing to serve", {{"error", std::string(s.message())}});
    return 1;
  }

  SystemClock clock;
  UuidV7Generator ids(clock);
  order::PgOrderStore store(pool);
  if (sabotage == kSabotageReopenCancelled) {
    store.SabotageReopenCancelled();
    log.Warn("SABOTAGE armed: payment events see cancelled orders as payable",
             {{"sabotage", sabotage}});
  }
  std::optional<order::EventGroupCommit> event_group;
  if (group_commit == "true") {
    event_group.emplace();
    event_group->options.max_batch = static_cast<size_t>(group_max);
    event_group->options.committers = static_cast<int>(group_committers);
    auto& sizes =
        prometheus::BuildHistogram()
            .Name("payonce_order_event_group_commit_size")
            .Help(
                "Payment events committed together in one transaction (group "
                "commit of ApplyPaymentEvent).")
            .Register(*registry)
            .Add({}, prometheus::Histogram::BucketBoundaries{1, 2, 4, 8, 16, 32, 64, 128, 256});
    event_group->observe = [&sizes](size_t n) { sizes.Observe(static_cast<double>(n)); };
  }
  order::OrderApp app(store, ids, std::move(event_group));
  order::OrderGrpcService service(app, log);

  GrpcServerHost server(ServerOptions(settings), log, grpc_metrics);
  server.AddService(&service, "payonce.order.v1.OrderService");
  if (auto s = server.Start(); !s.ok()) {
    log.Error("cannot start gRPC server", {{"error", std::string(s.message())}});
    return 1;
  }
  log.Info("order-service ready",
           {{"grpc", settings.grpc_listen_addr}, {"metrics", settings.metrics_listen_addr}});
  const int sig = WaitForShutdownSignal();
  log.Info("shutting down", {{"signal", sig}});
  DrainWithin(
      log, std::chrono::milliseconds(settings.shutdown_grace_ms), [&] { server.Shutdown(); },
      [&] { pool.AbortInFlight(); });
  log.Info("order-service stopped");
  return 0;
}
