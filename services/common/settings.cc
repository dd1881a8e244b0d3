#include "services/common/settings.h"

#include "services/common/migrator.h"

namespace payonce {

void AddCommonSettings(ConfigParser& p, CommonSettings& s, unsigned parts) {
  p.String("PAYONCE_LOG_LEVEL", &s.log_level, "Log level: debug, info, warn, error",
           checks::LogLevel);
  p.String("PAYONCE_METRICS_LISTEN_ADDR", &s.metrics_listen_addr,
           "host:port serving Prometheus /metrics", checks::HostPort);
  if (parts & kGrpcServer) {
    p.String("PAYONCE_GRPC_LISTEN_ADDR", &s.grpc_listen_addr, "host:port the gRPC server binds",
             checks::HostPort);
    p.Int("PAYONCE_GRPC_MAX_THREADS", &s.grpc_max_threads, 4, 4096,
          "Upper bound of gRPC server threads: one per call in flight (synchronous server); "
          "beyond it calls get RESOURCE_EXHAUSTED");
  }
  if (parts & (kGrpcServer | kDrain)) {
    p.Int("PAYONCE_SHUTDOWN_GRACE_MS", &s.shutdown_grace_ms, 0, 600000,
          "How long SIGTERM waits for in-flight work (calls, deliveries, database queries) "
          "before cancelling it");
  }
  if (parts & kDatabase) {
    p.String("PAYONCE_DATABASE_URL", &s.database_url,
             "PostgreSQL connection string (URI or key=value) of this process's database",
             checks::NonEmpty);
    p.Int("PAYONCE_DB_POOL_SIZE", &s.db_pool_size, 1, 256, "Maximum database connections");
    p.Int("PAYONCE_DB_ACQUIRE_TIMEOUT_MS", &s.db_acquire_timeout_ms, 1, 60000,
          "How long a call waits for a pooled connection before UNAVAILABLE");
    p.Int("PAYONCE_DB_STATEMENT_TIMEOUT_MS", &s.db_statement_timeout_ms, 10, 600000,
          "PostgreSQL statement_timeout of every pooled connection");
    p.Int("PAYONCE_DB_STARTUP_TIMEOUT_MS", &s.db_startup_timeout_ms, 0, 600000,
          "How long start-up waits for the database to answer");
  }
}

PgPoolOptions PoolOptions(const CommonSettings& s) {
  PgPoolOptions o;
  o.dsn = s.database_url;
  o.size = static_cast<int>(s.db_pool_size);
  o.acquire_timeout = std::chrono::milliseconds(s.db_acquire_timeout_ms);
  o.statement_timeout = std::chrono::milliseconds(s.db_statement_timeout_ms);
  return o;
}

GrpcServerOptions ServerOptions(const CommonSettings& s) {
  GrpcServerOptions o;
  o.listen_addr = s.grpc_listen_addr;
  o.max_threads = static_cast<int>(s.grpc_max_threads);
  o.shutdown_grace = std::chrono::milliseconds(s.shutdown_grace_ms);
  return o;
}

absl::Status AwaitSchema(PgPool& pool, const MigrationSet& set, const CommonSettings& s,
                         Logger& log) {
  return RetryWhileUnavailable(
      std::chrono::milliseconds(s.db_startup_timeout_ms), log, "waiting for the database", [&] {
        return pool.WithConnection([&](pqxx::connection& c) { return CheckSchemaVersion(c, set); });
      });
}

}  // namespace payonce
