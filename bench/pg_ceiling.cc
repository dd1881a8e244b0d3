#include "bench/pg_ceiling.h"

#include <cstdlib>
#include <fstream>
#include <stdexcept>

#ifndef PAYONCE_SOURCE_DIR
#error "PAYONCE_SOURCE_DIR must be defined"
#endif

namespace payonce::bench {

nlohmann::json RunPgCeiling(const CeilingRun& run) {
  std::string csv;
  for (int level : run.levels) {
    if (!csv.empty()) csv += ',';
    csv += std::to_string(level);
  }
  std::string cmd = std::string("bash ") + PAYONCE_SOURCE_DIR + "/bench/pg_ceiling.sh" +
                    " --levels " + csv + " --seconds " + std::to_string(run.seconds) +
                    " --payments " + std::to_string(run.payments) + " --run-base " +
                    std::to_string(run.run_base) + " --json '" + run.json_path + "'";
  if (run.pg_port > 0) cmd += " --port " + std::to_string(run.pg_port);
  if (run.reuse) cmd += " --reuse";
  cmd += " 1>&2";  // its progress lines go with the bench's, the report stays alone on stdout
  if (std::system(cmd.c_str()) != 0) throw std::runtime_error("pg_ceiling.sh failed: " + cmd);
  return ReadJsonFile(run.json_path);
}

nlohmann::json ReadJsonFile(const std::string& path) {
  std::ifstream in(path);
  if (!in) throw std::runtime_error("cannot read " + path);
  try {
    return nlohmann::json::parse(in);
  } catch (const std::exception& e) {
    throw std::runtime_error(path + ": " + e.what());
  }
}

}  // namespace payonce::bench
