// outbox-relay: delivers the payment service's outbox to the order service
// (OrderService.ApplyPaymentEvent). Wires config, PostgreSQL, the LISTEN
// wake-up, the gRPC client and metrics; it serves no gRPC itself.
#include <grpcpp/create_channel.h>
#include <grpcpp/security/credentials.h>

#include <cstdlib>
#include <memory>
#include <string>
#include <thread>

#include "services/common/grpc_server.h"
#ifdef PAYONCE_FAILPOINTS
#include "services/outbox_relay/adapters/failpoint/exit_before_mark_delivered.h"
#endif
#include "services/common/lifecycle.h"
#include "services/common/metrics.h"
#include "services/common/settings.h"
#include "services/outbox_relay/adapters/grpc/grpc_order_event_sink.h"
#include "services/outbox_relay/adapters/pg/pg_outbox_listener.h"
#include "services/outbox_relay/adapters/pg/pg_outbox_repository.h"
#include "services/outbox_relay/adapters/prometheus/relay_metrics.h"
#include "services/outbox_relay/app/outbox_relay.h"
#include "services/outbox_relay/app/relay_loop.h"

namespace {

// The relay's own settings (the common ones live in CommonSettings).
struct RelaySettings {
  std::string order_service_target = "127.0.0.1:50051";
  int64_t batch_size = 64;
  int64_t concurrency = 64;
  int64_t lease_ms = 10000;
  int64_t poll_interval_ms = 1000;
  int64_t delivery_timeout_ms = 3000;
  int64_t backoff_base_ms = 200;
  int64_t backoff_max_ms = 60000;
  int64_t max_attempts = 20;
  int64_t target_down_retry_ms = 1000;
  int64_t stats_interval_ms = 2000;
  // Test builds only: exit before the N-th MarkDelivered (0 = never).
  int64_t failpoint_exit_before_mark_delivered = 0;
};

void AddRelaySettings(payonce::ConfigParser& p, RelaySettings& s) {
  p.String("PAYONCE_ORDER_SERVICE_TARGET", &s.order_service_target,
           "gRPC target of the order service", payonce::checks::NonEmpty);
  p.Int("PAYONCE_RELAY_BATCH_SIZE", &s.batch_size, 1, 10000, "Outbox rows leased per pass");
  p.Int("PAYONCE_RELAY_CONCURRENCY", &s.concurrency, 1, 256,
        "Deliveries in flight at once (worker threads per pass)");
  p.Int("PAYONCE_RELAY_LEASE_MS", &s.lease_ms, 100, 3600000,
        "How long a claimed row is hidden from other relays; a crashed relay's rows come back "
        "after it");
  p.Int("PAYONCE_RELAY_POLL_INTERVAL_MS", &s.poll_interval_ms, 10, 600000,
        "Longest idle wait between passes when no NOTIFY arrives");
  p.Int("PAYONCE_RELAY_DELIVERY_TIMEOUT_MS", &s.delivery_timeout_ms, 10, 600000,
        "Deadline of one ApplyPaymentEvent call");
  p.Int("PAYONCE_RELAY_BACKOFF_BASE_MS", &s.backoff_base_ms, 1, 3600000,
        "Retry backoff ceiling after the first failed attempt (doubles per attempt, full jitter)");
  p.Int("PAYONCE_RELAY_BACKOFF_MAX_MS", &s.backoff_max_ms, 1, 86400000,
        "Upper bound of the retry backoff");
  p.Int("PAYONCE_RELAY_MAX_ATTEMPTS", &s.max_attempts, 1, 1000,
        "Failed attempts after which a row is dead-lettered (attempts that found the order "
        "service unreachable do not count)");
  p.Int("PAYONCE_RELAY_TARGET_DOWN_RETRY_MS", &s.target_down_retry_ms, 10, 600000,
        "Retry pace while the order service is unreachable (such rows never dead-letter)");
  p.Int("PAYONCE_RELAY_STATS_INTERVAL_MS", &s.stats_interval_ms, 100, 3600000,
        "How often the backlog gauges are refreshed");
  p.Int("PAYONCE_FAILPOINT_RELAY_EXIT_BEFORE_MARK_DELIVERED",
        &s.failpoint_exit_before_mark_delivered, 0, 1000000000,
        "Test builds only (PAYONCE_FAILPOINTS): the process exits with code 86 at the N-th "
        "recording of answered deliveries, before recording them (0 = never)");
}

// The variable and error of the first rule between settings that is broken
// (the parser checks each setting alone); empty strings when all hold.
std::pair<std::string, std::string> CheckRelaySettings(const RelaySettings& s) {
  if (s.backoff_base_ms > s.backoff_max_ms) {
    return {"PAYONCE_RELAY_BACKOFF_BASE_MS", "must not exceed PAYONCE_RELAY_BACKOFF_MAX_MS"};
  }
  if (s.lease_ms <= s.delivery_timeout_ms) {
    return {"PAYONCE_RELAY_LEASE_MS", "must exceed PAYONCE_RELAY_DELIVERY_TIMEOUT_MS"};
  }
#ifndef PAYONCE_FAILPOINTS
  if (s.failpoint_exit_before_mark_delivered != 0) {
    return {"PAYONCE_FAILPOINT_RELAY_EXIT_BEFORE_MARK_DELIVERED",
            "failpoints are compiled out of this build (PAYONCE_FAILPOINTS=OFF)"};
  }
#endif
  return {};
}

}  // namespace

int main(int argc, char** argv) {
  using namespace payonce;
  BlockShutdownSignals();

  CommonSettings settings;
  settings.metrics_listen_addr = "127.0.0.1:9467";
  settings.database_url = "postgresql://payonce@127.0.0.1:55432/payonce_payment";
  RelaySettings relay_settings;
  ConfigParser parser("outbox-relay",
                      "PayOnce outbox relay: delivers payment outcomes from the payment outbox "
                      "to payonce.order.v1.OrderService.ApplyPaymentEvent");
  AddCommonSettings(parser, settings, kDatabase | kDrain);
  AddRelaySettings(parser, relay_settings);
  parser.ParseOrExit(argc, argv);

  Logger log("outbox-relay", settings.log_level);
  if (const auto [variable, error] = CheckRelaySettings(relay_settings); !variable.empty()) {
    log.Error("invalid configuration: " + variable,
              {{"variable", variable}, {"error", error}, {"exit_code", 2}});
    return 2;
  }

  auto registry = std::make_shared<prometheus::Registry>();
  std::unique_ptr<MetricsEndpoint> metrics_endpoint;
  try {
    metrics_endpoint = std::make_unique<MetricsEndpoint>(settings.metrics_listen_addr, registry);
  } catch (const std::exception& e) {
    log.Error("cannot serve metrics",
              {{"addr", settings.metrics_listen_addr}, {"error", e.what()}});
    return 1;
  }

  PgPool pool(PoolOptions(settings), log);
  if (auto s = AwaitSchema(pool, migrations::payment(), settings, log); !s.ok()) {
    log.Error("refusing to relay", {{"error", std::string(s.message())}});
    return 1;
  }

  relay::RelayOptions options;
  options.batch_size = static_cast<int>(relay_settings.batch_size);
  options.concurrency = static_cast<int>(relay_settings.concurrency);
  options.lease = std::chrono::milliseconds(relay_settings.lease_ms);
  options.delivery_timeout = std::chrono::milliseconds(relay_settings.delivery_timeout_ms);
  options.retry.backoff_base = std::chrono::milliseconds(relay_settings.backoff_base_ms);
  options.retry.backoff_max = std::chrono::milliseconds(relay_settings.backoff_max_ms);
  options.retry.max_attempts = static_cast<int>(relay_settings.max_attempts);
  options.retry.target_down_retry = std::chrono::milliseconds(relay_settings.target_down_retry_ms);
  const int waves = (options.batch_size + options.concurrency - 1) / options.concurrency;
  if (options.lease < waves * options.delivery_timeout) {
    // Normal with the defaults: only a batch of calls that all time out runs
    // this long, and the rows its lease cannot cover are released unsent.
    log.Info("a batch of timed-out calls can outlast the lease; rows it cannot cover are released",
             {{"lease_ms", options.lease.count()},
              {"worst_case_batch_ms", (waves * options.delivery_timeout).count()}});
  }

  relay::SeededRandomSource random;
  relay::PgOutboxRepository pg_outbox(pool);
  relay::OutboxRepository* outbox = &pg_outbox;
#ifdef PAYONCE_FAILPOINTS
  std::unique_ptr<relay::ExitBeforeMarkDelivered> failpoint;
  if (relay_settings.failpoint_exit_before_mark_delivered > 0) {
    failpoint = std::make_unique<relay::ExitBeforeMarkDelivered>(
        pg_outbox, relay_settings.failpoint_exit_before_mark_delivered);
    outbox = failpoint.get();
    log.Warn("failpoint armed: exit before MarkDelivered",
             {{"on_call", relay_settings.failpoint_exit_before_mark_delivered}});
  }
#endif
  relay::GrpcOrderEventSink sink(
      grpc::CreateCustomChannel(relay_settings.order_service_target,
                                grpc::InsecureChannelCredentials(), DefaultChannelArguments()),
      options.delivery_timeout);
  relay::RelayMetrics metrics(*registry);
  relay::OutboxRelay relay(*outbox, sink, random, metrics, log, options);
  relay::PgOutboxListener listener(settings.database_url, log, random);
  relay::RelayLoop loop(relay, listener, log,
                        {std::chrono::milliseconds(relay_settings.poll_interval_ms),
                         std::chrono::milliseconds(relay_settings.stats_interval_ms)});

  StopFlag stop;
  std::thread worker([&] { loop.Run(stop); });
  log.Info("outbox-relay ready", {{"order_service", relay_settings.order_service_target},
                                  {"metrics", settings.metrics_listen_addr}});
  const int sig = WaitForShutdownSignal();
  log.Info("shutting down; finishing deliveries in flight", {{"signal", sig}});
  DrainWithin(
      log, std::chrono::milliseconds(settings.shutdown_grace_ms),
      [&] {
        stop.Stop();
        worker.join();
      },
      [&] { pool.AbortInFlight(); });
  log.Info("outbox-relay stopped");
  return 0;
}
