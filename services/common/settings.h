// Settings every PayOnce process shares, and start-up helpers built on them.
#pragma once

#include <chrono>
#include <cstdint>
#include <string>

#include "absl/status/status.h"
#include "services/common/config.h"
#include "services/common/grpc_server.h"
#include "services/common/log.h"
#include "services/common/migration_set.h"
#include "services/common/pg_pool.h"

namespace payonce {

struct CommonSettings {
  std::string log_level = "info";
  std::string grpc_listen_addr;
  std::string metrics_listen_addr;
  std::string database_url;
  int64_t db_pool_size = 8;
  int64_t db_acquire_timeout_ms = 2000;
  int64_t db_statement_timeout_ms = 5000;
  int64_t db_startup_timeout_ms = 30000;
  int64_t grpc_max_threads = 256;
  int64_t shutdown_grace_ms = 10000;
};

// Which common settings a process uses. kGrpcServer implies kDrain (the
// shutdown grace period); a worker without a gRPC server asks for it alone.
enum CommonParts : unsigned { kGrpcServer = 1, kDatabase = 2, kDrain = 4 };

// Declares the common settings on `parser` (defaults already in `s`).
void AddCommonSettings(ConfigParser& parser, CommonSettings& s, unsigned parts);

PgPoolOptions PoolOptions(const CommonSettings& s);
GrpcServerOptions ServerOptions(const CommonSettings& s);

// Waits (up to db_startup_timeout_ms) for the database to answer, then checks
// it has exactly the schema this build knows. An error means: do not serve.
absl::Status AwaitSchema(PgPool& pool, const MigrationSet& set, const CommonSettings& s,
                         Logger& log);

}  // namespace payonce
