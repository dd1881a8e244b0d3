#include "bench/latency.h"

#include <algorithm>
#include <cmath>
#include <numeric>

namespace payonce::bench {
namespace {

double Rank(const std::vector<double>& sorted, double q) {
  const auto n = static_cast<double>(sorted.size());
  const auto index = static_cast<size_t>(std::max(0.0, std::ceil(q * n) - 1));
  return sorted[std::min(index, sorted.size() - 1)];
}

}  // namespace

Percentiles Summarize(std::vector<double> values) {
  Percentiles p;
  if (values.empty()) return p;
  std::sort(values.begin(), values.end());
  p.count = values.size();
  p.mean = std::accumulate(values.begin(), values.end(), 0.0) / static_cast<double>(p.count);
  p.p50 = Rank(values, 0.50);
  p.p90 = Rank(values, 0.90);
  p.p99 = Rank(values, 0.99);
  p.p999 = Rank(values, 0.999);
  p.max = values.back();
  return p;
}

nlohmann::json ToJson(const Percentiles& p, double scale) {
  return {{"count", p.count},     {"mean", p.mean * scale}, {"p50", p.p50 * scale},
          {"p90", p.p90 * scale}, {"p99", p.p99 * scale},   {"p999", p.p999 * scale},
          {"max", p.max * scale}};
}

}  // namespace payonce::bench
