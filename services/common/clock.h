// Time and identifiers come through these small interfaces so tests control
// them.
#pragma once

#include <chrono>
#include <cstdint>
#include <string>

namespace payonce {

// Wall-clock time source.
class Clock {
 public:
  virtual ~Clock() = default;
  virtual std::chrono::system_clock::time_point Now() const = 0;

  // Milliseconds since the Unix epoch.
  int64_t NowUnixMs() const {
    return std::chrono::duration_cast<std::chrono::milliseconds>(Now().time_since_epoch()).count();
  }
};

// The real clock.
class SystemClock final : public Clock {
 public:
  std::chrono::system_clock::time_point Now() const override {
    return std::chrono::system_clock::now();
  }
};

// Generates opaque, unique identifiers.
class IdGenerator {
 public:
  virtual ~IdGenerator() = default;
  virtual std::string NewId() = 0;
};

// UUIDv7 text: time-ordered (good for B-tree indexes), 74 random bits from
// a CSPRNG.
class UuidV7Generator final : public IdGenerator {
 public:
  explicit UuidV7Generator(const Clock& clock);
  std::string NewId() override;

 private:
  const Clock& clock_;
};

}  // namespace payonce
