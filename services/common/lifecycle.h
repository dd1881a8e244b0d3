// Process lifecycle: signal handling and a stop flag that worker loops wait on.
#pragma once

#include <chrono>
#include <condition_variable>
#include <functional>
#include <mutex>

#include "services/common/log.h"

namespace payonce {

// Blocks SIGTERM and SIGINT in the calling thread and every thread it starts
// afterwards; call first thing in main.
void BlockShutdownSignals();

// Waits until SIGTERM or SIGINT arrives; returns the signal number.
int WaitForShutdownSignal();

// Runs `drain` (stop accepting, finish the work in flight, join the workers)
// and returns when it has. If it is still running after `grace`, calls
// `abort` once, which must make the work still in flight fail fast (e.g.
// PgPool::AbortInFlight: a database that does not answer would hold it
// forever), and waits up to `after_abort` more; the default outlasts a
// database connection attempt (connect_timeout 5 s), which cannot be aborted.
// If `drain` has not returned by then either, logs an error and ends the
// process at once with exit code 1: the stuck work is abandoned, which is
// safe because nothing is acknowledged before its transaction commits.
void DrainWithin(Logger& log, std::chrono::milliseconds grace, const std::function<void()>& drain,
                 const std::function<void()>& abort,
                 std::chrono::milliseconds after_abort = std::chrono::seconds(6));

// A one-way stop flag that loops poll or wait on.
class StopFlag {
 public:
  void Stop();
  bool stopped() const;
  // Waits up to `timeout`; returns true if stopped.
  bool WaitFor(std::chrono::milliseconds timeout) const;

 private:
  mutable std::mutex mu_;
  mutable std::condition_variable cv_;
  bool stopped_ = false;
};

}  // namespace payonce
