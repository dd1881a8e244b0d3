// payment-service: wires config, PostgreSQL, the payment app and the gRPC server.
#include <cstdlib>
#include <memory>

#include "services/common/clock.h"
#include "services/common/grpc_server.h"
#include "services/common/lifecycle.h"
#include "services/common/metrics.h"
#include "services/common/settings.h"
#include "services/payment/adapters/grpc/payment_grpc_service.h"
#include "services/payment/adapters/pg/pg_payment_store.h"

int main(int argc, char** argv) {
  using namespace payonce;
  BlockShutdownSignals();

  CommonSettings settings;
  settings.grpc_listen_addr = "127.0.0.1:50052";
  settings.metrics_listen_addr = "127.0.0.1:9465";
  settings.database_url = "postgresql://payonce@127.0.0.1:55432/payonce_payment";
  ConfigParser parser("payment-service", "PayOnce order service (payonce.payment.v1.PaymentService)");
  AddCommonSettings(parser, settings, kGrpcServer | kDatabase);
  parser.ParseOrExit(argc, argv);

  Logger log("payment-service", settings.log_level);
  auto registry = std::make_shared<prometheus::Registry>();
  std::unique_ptr<MetricsEndpoint> metrics_endpoint;
  try {
    metrics_endpoint = std::make_unique<MetricsEndpoint>(settings.metrics_listen_addr, registry);
  } catch (const std::exception& e) {
    log.Error("cannot serve metrics", {{"addr", settings.metrics_listen_addr}, {"error", e.what()}});
    return 1;
  }
  GrpcServerMetrics grpc_metrics(*registry);

  PgPool pool(PoolOptions(settings), log);
  if (auto s = AwaitSchema(pool, migrations::payment(), settings, log); !s.ok()) {
    log.Error("refusing to serve", {{"error", std::string(s.message())}});
    return 1;
  }

  payment::PgPaymentStore store(pool);
  payment::PaymentGrpcService service(store, log);

  GrpcServerHost server(ServerOptions(settings), log, grpc_metrics);
  server.AddService(&service, "payonce.payment.v1.PaymentService");
  if (auto s = server.Start(); !s.ok()) {
    log.Error("cannot start gRPC server", {{"error", std::string(s.message())}});
    return 1;
  }
  log.Info("payment-service ready", {{"grpc", settings.grpc_listen_addr},
                                   {"metrics", settings.metrics_listen_addr}});
  const int sig = WaitForShutdownSignal();
  log.Info("shutting down", {{"signal", sig}});
  server.Shutdown();
  log.Info("payment-service stopped");
  return 0;
}
