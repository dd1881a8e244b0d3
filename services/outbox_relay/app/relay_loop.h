// The thin loop that drives OutboxRelay in the outbox-relay process: passes
// back to back while rows are due, then a wait for a wake-up signal with the
// poll interval as timeout (polling is only the fallback).
#pragma once

#include <chrono>

#include "services/common/lifecycle.h"
#include "services/common/log.h"
#include "services/outbox_relay/app/outbox_relay.h"

namespace payonce::relay {

// Signals that new outbox rows may be due (LISTEN payonce_outbox).
class OutboxWakeup {
 public:
  virtual ~OutboxWakeup() = default;
  // Waits up to `timeout` for a signal; true if one came (or signals may
  // have been missed, e.g. after a reconnect). Never throws; a broken
  // source just times out while it recovers.
  virtual bool Wait(std::chrono::milliseconds timeout) = 0;
};

struct RelayLoopOptions {
  // Longest wait between passes when no wake-up signal comes.
  std::chrono::milliseconds poll_interval{1000};
  // Backlog metrics are refreshed at most this often.
  std::chrono::milliseconds stats_interval{2000};
};

class RelayLoop {
 public:
  RelayLoop(OutboxRelay& relay, OutboxWakeup& wakeup, Logger& log, RelayLoopOptions options)
      : relay_(relay), wakeup_(wakeup), log_(log), options_(options) {}

  // Runs until `stop` is set; a pass in flight finishes first (its
  // deliveries complete and are recorded).
  void Run(const StopFlag& stop);

 private:
  // Waits for a wake-up, the poll interval or `stop`, refreshing the backlog
  // when it is due.
  void WaitForWork(const StopFlag& stop);
  void RefreshBacklogIfDue();

  OutboxRelay& relay_;
  OutboxWakeup& wakeup_;
  Logger& log_;
  const RelayLoopOptions options_;
  std::chrono::steady_clock::time_point next_backlog_{};
};

}  // namespace payonce::relay
