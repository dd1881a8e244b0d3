// Applies embedded migrations under a PostgreSQL advisory lock, and checks at
// start-up that a database has exactly the schema a binary was built for.
#pragma once

#include <pqxx/pqxx>

#include "absl/status/status.h"
#include "services/common/log.h"
#include "services/common/migration_set.h"

namespace payonce {

// Applies every migration newer than the recorded version, each in its own
// transaction together with its version row. Holds an advisory lock for the
// whole run, so replicas starting together apply each migration once.
// FAILED_PRECONDITION if the database is newer than this build.
absl::Status ApplyMigrations(pqxx::connection& conn, const MigrationSet& set, Logger& log);

// OK only if the recorded schema version is exactly set.Latest():
// FAILED_PRECONDITION otherwise (not migrated, or migrated by a newer build).
absl::Status CheckSchemaVersion(pqxx::connection& conn, const MigrationSet& set);

// The recorded version, 0 if none.
int RecordedSchemaVersion(pqxx::connection& conn);

}  // namespace payonce
