// What the sandbox counts for Prometheus (the adapter owns the registry).
#pragma once

#include <cstdint>
#include <string_view>

namespace payonce::provider {

class SandboxMetrics {
 public:
  virtual ~SandboxMetrics() = default;
  // A Debit call was recorded.
  virtual void DebitRecorded() = 0;
  // Captures that moved money were made.
  virtual void CapturesMade(int64_t count) = 0;
  // A new refund was made.
  virtual void RefundMade() = 0;
  // Callbacks by result: acknowledged, rejected, unreachable, dropped,
  // forged, replayed.
  virtual void CallbacksSent(std::string_view result, int64_t count) = 0;
};

// Counts nothing (tests, tools).
class NoSandboxMetrics final : public SandboxMetrics {
 public:
  void DebitRecorded() override {}
  void CapturesMade(int64_t) override {}
  void RefundMade() override {}
  void CallbacksSent(std::string_view, int64_t) override {}
};

}  // namespace payonce::provider
