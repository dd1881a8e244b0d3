#include "services/common/migrator.h"

#include <string>

#include "services/common/pg_pool.h"

namespace payonce {
namespace {

// pg_advisory_lock key shared by every PayOnce migrator ("POMIGRAT").
constexpr int64_t kMigrationLockKey = 0x504F4D4947524154;

constexpr const char* kCreateVersionTable = R"sql(
CREATE TABLE IF NOT EXISTS payonce_schema_migrations (
  version    integer PRIMARY KEY,
  name       text NOT NULL,
  applied_at timestamptz NOT NULL DEFAULT now()
))sql";

constexpr const char* kSelectVersion = R"sql(
SELECT coalesce(max(version), 0) FROM payonce_schema_migrations)sql";

constexpr const char* kHasVersionTable = R"sql(
SELECT to_regclass('payonce_schema_migrations') IS NOT NULL)sql";

}  // namespace

int RecordedSchemaVersion(pqxx::connection& conn) {
  pqxx::nontransaction tx(conn);
  if (!tx.exec1(kHasVersionTable)[0].as<bool>()) return 0;
  return tx.exec1(kSelectVersion)[0].as<int>();
}

absl::Status ApplyMigrations(pqxx::connection& conn, const MigrationSet& set, Logger& log) {
  try {
    {
      pqxx::nontransaction tx(conn);
      tx.exec_params("SELECT pg_advisory_lock($1)", kMigrationLockKey);
      tx.exec(kCreateVersionTable);
    }
    struct Unlock {
      pqxx::connection& c;
      ~Unlock() {
        try {
          pqxx::nontransaction tx(c);
          tx.exec_params("SELECT pg_advisory_unlock($1)", kMigrationLockKey);
        } catch (...) {
          // The lock dies with the session anyway.
        }
      }
    } unlock{conn};

    int current = RecordedSchemaVersion(conn);
    if (current > set.Latest()) {
      return absl::FailedPreconditionError(
          "database " + set.database + " is at schema version " + std::to_string(current) +
          ", newer than this build knows (" + std::to_string(set.Latest()) + ")");
    }
    for (const auto& m : set.migrations) {
      if (m.version <= current) continue;
      pqxx::work tx(conn);
      tx.exec(m.sql);
      tx.exec_params("INSERT INTO payonce_schema_migrations (version, name) VALUES ($1, $2)",
                     m.version, std::string(m.name));
      tx.commit();
      log.Info("applied migration",
               {{"database", set.database}, {"version", m.version}, {"name", m.name}});
      current = m.version;
    }
    log.Info("schema up to date", {{"database", set.database}, {"version", current}});
    return absl::OkStatus();
  } catch (...) {
    return StatusFromPgException(std::current_exception());
  }
}

absl::Status CheckSchemaVersion(pqxx::connection& conn, const MigrationSet& set) {
  const int recorded = RecordedSchemaVersion(conn);
  if (recorded == set.Latest()) return absl::OkStatus();
  if (recorded < set.Latest()) {
    return absl::FailedPreconditionError("database " + set.database + " is at schema version " +
                                         std::to_string(recorded) + ", this build needs " +
                                         std::to_string(set.Latest()) + ": run payonce-migrate");
  }
  return absl::FailedPreconditionError("database " + set.database + " is at schema version " +
                                       std::to_string(recorded) +
                                       ", which this build does not know (latest " +
                                       std::to_string(set.Latest()) + "): refusing to serve");
}

}  // namespace payonce
