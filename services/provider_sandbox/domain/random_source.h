// Randomness for fault and delay decisions comes through this interface so
// tests script it. Every decision draws exactly one number.
#pragma once

#include <cstdint>
#include <mutex>
#include <random>
#include <utility>
#include <vector>

namespace payonce::provider {

// A source of uniform numbers in [0, 1).
class RandomSource {
 public:
  virtual ~RandomSource() = default;
  virtual double NextUnit() = 0;
};

// std::mt19937_64 behind a mutex; the same seed gives the same sequence.
class SeededRandomSource final : public RandomSource {
 public:
  explicit SeededRandomSource(uint64_t seed) : engine_(seed) {}
  double NextUnit() override;

 private:
  std::mutex mu_;
  std::mt19937_64 engine_;
};

// The seed of draw number `draw` of a schedule seeded with `schedule_seed`
// (SplitMix64 of both): each Debit call draws from its own generator, so its
// decisions depend on the seed and its draw number only, never on which
// calls ran beside it.
uint64_t DrawSeed(uint64_t schedule_seed, int64_t draw);

// True with probability `rate` (one draw; rate <= 0 never, rate >= 1 always).
bool Chance(RandomSource& rng, double rate);

// A uniform integer in [lo, hi] (one draw); lo when hi <= lo.
int64_t UniformInt(RandomSource& rng, int64_t lo, int64_t hi);

// Fisher-Yates shuffle driven by `rng` (size - 1 draws).
template <class T>
void Shuffle(std::vector<T>& items, RandomSource& rng) {
  for (size_t i = items.size(); i > 1; --i) {
    const auto j = static_cast<size_t>(UniformInt(rng, 0, static_cast<int64_t>(i) - 1));
    std::swap(items[i - 1], items[j]);
  }
}

}  // namespace payonce::provider
