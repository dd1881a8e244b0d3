// Runs bench/pg_ceiling.sh (pgbench with the callback path's SQL) and reads
// the JSON it writes.
#pragma once

#include <nlohmann/json.hpp>
#include <string>
#include <vector>

namespace payonce::bench {

// Runs pg_ceiling.sh against the PostgreSQL on 127.0.0.1:`pg_port` (0: the
// script starts a private cluster) at `levels` clients, `seconds` per level,
// with `payments` prefilled, writing its JSON to `json_path`; returns that
// JSON. Throws std::runtime_error if the script fails.
nlohmann::json RunPgCeiling(int pg_port, const std::vector<int>& levels, int seconds,
                            size_t payments, const std::string& json_path);

// Parses a JSON file; throws std::runtime_error if it cannot.
nlohmann::json ReadJsonFile(const std::string& path);

}  // namespace payonce::bench
