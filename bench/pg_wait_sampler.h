// What PostgreSQL's processes are doing while a row runs: pg_stat_activity
// sampled every few milliseconds, counted by (database or process kind, wait
// event). "CPU" is an active backend with no wait event; "ClientRead (in
// tx)" is a backend idle inside a transaction, waiting for the client's next
// statement.
#pragma once

#include <atomic>
#include <chrono>
#include <map>
#include <mutex>
#include <nlohmann/json.hpp>
#include <string>
#include <thread>

namespace payonce::bench {

class PgWaitSampler {
 public:
  // Samples through a connection to `dsn` every `interval`.
  PgWaitSampler(std::string dsn,
                std::chrono::milliseconds interval = std::chrono::milliseconds(20));
  ~PgWaitSampler();
  PgWaitSampler(const PgWaitSampler&) = delete;
  PgWaitSampler& operator=(const PgWaitSampler&) = delete;

  // Average number of processes in each state, and of active client
  // backends running each statement, since the last Take(), most frequent
  // first: {"states": [{"state", "avg_processes"}], "statements":
  // [{"statement", "avg_processes"}]}. Starts a new window.
  nlohmann::json Take();

 private:
  void Loop();
  nlohmann::json Averages(const std::map<std::string, int64_t>& counts, const char* label) const;

  std::string dsn_;
  std::chrono::milliseconds interval_;
  std::mutex mu_;
  std::map<std::string, int64_t> counts_;
  std::map<std::string, int64_t> statement_counts_;
  int64_t samples_ = 0;
  std::atomic<bool> stop_{false};
  std::thread thread_;
};

}  // namespace payonce::bench
