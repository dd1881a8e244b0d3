// Percentiles of a sample (latencies, lags), exact: the sample is sorted.
#pragma once

#include <cstddef>
#include <nlohmann/json.hpp>
#include <vector>

namespace payonce::bench {

struct Percentiles {
  size_t count = 0;
  double mean = 0;
  double p50 = 0;
  double p90 = 0;
  double p99 = 0;
  double p999 = 0;
  double max = 0;
};

// Nearest-rank percentiles of `values` (in whatever unit they are).
Percentiles Summarize(std::vector<double> values);

// {"count", "mean", "p50", "p90", "p99", "p999", "max"} with every value
// multiplied by `scale` (e.g. 1e-3 for microseconds to milliseconds).
nlohmann::json ToJson(const Percentiles& p, double scale = 1.0);

}  // namespace payonce::bench
