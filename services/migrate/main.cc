// payonce-migrate: applies the embedded schema migrations of one database
// under an advisory lock (safe when replicas start together).
#include <chrono>
#include <cstdlib>
#include <pqxx/pqxx>
#include <string>

#include "services/common/config.h"
#include "services/common/log.h"
#include "services/common/migration_set.h"
#include "services/common/migrator.h"
#include "services/common/pg_pool.h"

int main(int argc, char** argv) {
  using namespace payonce;
  std::string database;
  std::string url;
  std::string log_level = "info";
  int64_t startup_timeout_ms = 30000;
  ConfigParser parser("payonce-migrate",
                      "Applies PayOnce schema migrations to one database (order, payment or "
                      "provider) and exits.");
  parser.String("PAYONCE_MIGRATE_DATABASE", &database, "Which schema: order, payment or provider",
                [](const std::string& v) {
                  return v == "order" || v == "payment" || v == "provider"
                             ? ""
                             : "must be order, payment or provider";
                });
  parser.String("PAYONCE_DATABASE_URL", &url, "PostgreSQL connection string", checks::NonEmpty);
  parser.String("PAYONCE_LOG_LEVEL", &log_level, "Log level", checks::LogLevel);
  parser.Int("PAYONCE_DB_STARTUP_TIMEOUT_MS", &startup_timeout_ms, 0, 600000,
             "How long to retry while the database is unreachable (its name does not resolve "
             "yet, it refuses connections, it is starting up)");
  parser.ParseOrExit(argc, argv);
  Logger log("payonce-migrate", log_level);
  if (database.empty()) {
    log.Error("invalid configuration: PAYONCE_MIGRATE_DATABASE",
              {{"variable", "PAYONCE_MIGRATE_DATABASE"}, {"error", "required"}});
    return 2;
  }
  const MigrationSet& set = database == "order"     ? migrations::order()
                            : database == "payment" ? migrations::payment()
                                                    : migrations::provider();
  // Retried while the database is unreachable: a container started next to
  // it may find its host name unresolvable or the server still starting.
  const absl::Status status = RetryWhileUnavailable(
      std::chrono::milliseconds(startup_timeout_ms), log, "database unreachable; retrying", [&] {
        try {
          pqxx::connection conn(url);
          return ApplyMigrations(conn, set, log);
        } catch (...) {
          return StatusFromPgException(std::current_exception());
        }
      });
  if (!status.ok()) {
    log.Error("migration failed",
              {{"database", database}, {"error", std::string(status.message())}});
    return 1;
  }
  return 0;
}
