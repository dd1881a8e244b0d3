// Runs bench/pg_ceiling.sh (pgbench with the callback path's SQL) and reads
// the JSON it writes.
#pragma once

#include <nlohmann/json.hpp>
#include <string>
#include <vector>

namespace payonce::bench {

struct CeilingRun {
  // PostgreSQL on 127.0.0.1:pg_port; 0: the script starts a private cluster.
  int pg_port = 0;
  std::vector<int> levels;
  int seconds = 10;
  size_t payments = 20000;
  std::string json_path;
  // Keep the ceiling database between calls (one level per call).
  bool reuse = false;
  // First run number: unique per call when reusing.
  int run_base = 10;
};

// Runs pg_ceiling.sh (its output goes to stderr) and returns the JSON it
// wrote. Throws std::runtime_error if the script fails.
nlohmann::json RunPgCeiling(const CeilingRun& run);

// Parses a JSON file; throws std::runtime_error if it cannot.
nlohmann::json ReadJsonFile(const std::string& path);

}  // namespace payonce::bench
