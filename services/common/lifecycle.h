// Process lifecycle: signal handling and a stop flag that worker loops wait on.
#pragma once

#include <chrono>
#include <condition_variable>
#include <mutex>

namespace payonce {

// Blocks SIGTERM and SIGINT in the calling thread and every thread it starts
// afterwards; call first thing in main.
void BlockShutdownSignals();

// Waits until SIGTERM or SIGINT arrives; returns the signal number.
int WaitForShutdownSignal();

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
