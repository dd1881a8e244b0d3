#include "services/provider_sandbox/domain/random_source.h"

#include <cmath>

namespace payonce::provider {

double SeededRandomSource::NextUnit() {
  std::lock_guard<std::mutex> lock(mu_);
  // 53 random bits: every double in [0, 1) on a 2^-53 grid.
  return static_cast<double>(engine_() >> 11) * 0x1.0p-53;
}

namespace {

uint64_t SplitMix64(uint64_t x) {
  x += 0x9e3779b97f4a7c15ULL;
  x = (x ^ (x >> 30)) * 0xbf58476d1ce4e5b9ULL;
  x = (x ^ (x >> 27)) * 0x94d049bb133111ebULL;
  return x ^ (x >> 31);
}

}  // namespace

uint64_t DrawSeed(uint64_t schedule_seed, int64_t draw) {
  return SplitMix64(SplitMix64(schedule_seed) ^ static_cast<uint64_t>(draw));
}

bool Chance(RandomSource& rng, double rate) { return rng.NextUnit() < rate; }

int64_t UniformInt(RandomSource& rng, int64_t lo, int64_t hi) {
  const double u = rng.NextUnit();
  if (hi <= lo) return lo;
  const double span = static_cast<double>(hi - lo) + 1.0;
  const auto offset = static_cast<int64_t>(std::floor(u * span));
  if (offset < 0) return lo;
  return offset > hi - lo ? hi : lo + offset;
}

}  // namespace payonce::provider
