#include "bench/pg_wait_sampler.h"

#include <algorithm>
#include <memory>
#include <pqxx/pqxx>
#include <vector>

namespace payonce::bench {
namespace {

constexpr const char* kSampleActivity = R"sql(
SELECT coalesce(datname, backend_type) || ' ' ||
       CASE WHEN state = 'idle in transaction' THEN 'ClientRead (in tx)'
            WHEN wait_event IS NULL THEN 'CPU'
            ELSE wait_event_type || ':' || wait_event END,
       count(*)
FROM pg_stat_activity
WHERE pid <> pg_backend_pid()
  AND ((backend_type = 'client backend' AND state IN ('active', 'idle in transaction'))
       OR (backend_type <> 'client backend' AND coalesce(wait_event_type, '') <> 'Activity'))
GROUP BY 1)sql";

// Which statements the active client backends are running (a sampling
// profile by statement; pg_stat_statements is not loaded).
constexpr const char* kSampleStatements = R"sql(
SELECT datname || ': ' || left(regexp_replace(query, '\s+', ' ', 'g'), 90), count(*)
FROM pg_stat_activity
WHERE pid <> pg_backend_pid() AND backend_type = 'client backend' AND state = 'active'
GROUP BY 1)sql";

}  // namespace

PgWaitSampler::PgWaitSampler(std::string dsn, std::chrono::milliseconds interval)
    : dsn_(std::move(dsn)), interval_(interval) {
  thread_ = std::thread([this] { Loop(); });
}

PgWaitSampler::~PgWaitSampler() {
  stop_ = true;
  thread_.join();
}

void PgWaitSampler::Loop() {
  std::unique_ptr<pqxx::connection> conn;
  while (!stop_) {
    try {
      if (!conn) conn = std::make_unique<pqxx::connection>(dsn_);
      pqxx::nontransaction tx(*conn);
      const auto rows = tx.exec(kSampleActivity);
      const auto statements = tx.exec(kSampleStatements);
      std::lock_guard<std::mutex> lock(mu_);
      ++samples_;
      for (const auto& r : rows) counts_[r[0].as<std::string>()] += r[1].as<int64_t>();
      for (const auto& r : statements) {
        statement_counts_[r[0].as<std::string>()] += r[1].as<int64_t>();
      }
    } catch (const std::exception&) {
      conn.reset();  // sampled again on a fresh connection
    }
    std::this_thread::sleep_for(interval_);
  }
}

nlohmann::json PgWaitSampler::Take() {
  std::lock_guard<std::mutex> lock(mu_);
  nlohmann::json out = {{"states", Averages(counts_, "state")},
                        {"statements", Averages(statement_counts_, "statement")}};
  counts_.clear();
  statement_counts_.clear();
  samples_ = 0;
  return out;
}

nlohmann::json PgWaitSampler::Averages(const std::map<std::string, int64_t>& counts,
                                       const char* label) const {
  std::vector<std::pair<std::string, int64_t>> sorted(counts.begin(), counts.end());
  std::sort(sorted.begin(), sorted.end(),
            [](const auto& a, const auto& b) { return a.second > b.second; });
  nlohmann::json out = nlohmann::json::array();
  for (const auto& [key, count] : sorted) {
    out.push_back(
        {{label, key},
         {"avg_processes",
          samples_ > 0 ? static_cast<double>(count) / static_cast<double>(samples_) : 0.0}});
  }
  return out;
}

}  // namespace payonce::bench
