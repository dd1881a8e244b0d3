#include "services/outbox_relay/app/relay_loop.h"

#include <algorithm>
#include <string>

namespace payonce::relay {
namespace {

// How often a wait checks the stop flag and the backlog timer.
constexpr std::chrono::milliseconds kWaitSlice{100};

}  // namespace

void RelayLoop::Run(const StopFlag& stop) {
  log_.Info("outbox relay running", {{"poll_interval_ms", options_.poll_interval.count()},
                                     {"batch_size", relay_.options().batch_size},
                                     {"concurrency", relay_.options().concurrency}});
  while (!stop.stopped()) {
    RefreshBacklogIfDue();
    auto pass = relay_.RunOnce();
    if (!pass.ok()) {
      log_.Warn("outbox relay pass failed",
                {{"error", std::string(pass.status().message())},
                 {"code", absl::StatusCodeToString(pass.status().code())}});
      WaitForWork(stop);
      continue;
    }
    // Rows delivered in this pass may have unblocked later events of their
    // orders: pass again until nothing is due.
    if (pass->claimed > 0) continue;
    WaitForWork(stop);
  }
  log_.Info("outbox relay stopped");
}

void RelayLoop::WaitForWork(const StopFlag& stop) {
  const auto deadline = std::chrono::steady_clock::now() + options_.poll_interval;
  while (!stop.stopped()) {
    const auto now = std::chrono::steady_clock::now();
    if (now >= deadline) return;
    const auto left = std::chrono::duration_cast<std::chrono::milliseconds>(deadline - now);
    if (wakeup_.Wait(std::max(std::min(left, kWaitSlice), std::chrono::milliseconds(1)))) return;
    RefreshBacklogIfDue();
  }
}

void RelayLoop::RefreshBacklogIfDue() {
  const auto now = std::chrono::steady_clock::now();
  if (now < next_backlog_) return;
  next_backlog_ = now + options_.stats_interval;
  if (auto s = relay_.RefreshBacklog(); !s.ok()) {
    log_.Warn("cannot read the outbox backlog", {{"error", std::string(s.message())}});
  }
}

}  // namespace payonce::relay
