// Drives CallbackDispatcher with a bounded pool of delivery workers: one
// thread claims due callbacks (no more than there are idle workers) and the
// workers deliver them. Stops on the StopFlag after in-flight deliveries
// finish.
#pragma once

#include <chrono>
#include <condition_variable>
#include <deque>
#include <mutex>
#include <thread>
#include <vector>

#include "services/common/lifecycle.h"
#include "services/common/log.h"
#include "services/provider_sandbox/app/callback_dispatcher.h"

namespace payonce::provider {

struct DispatchLoopOptions {
  // Deliveries in flight at most.
  int workers = 8;
  // How often to look for due callbacks when there were none.
  std::chrono::milliseconds poll{50};
  // Pause after the database failed to answer a claim.
  std::chrono::milliseconds error_backoff{1000};
};

class CallbackDispatchLoop {
 public:
  CallbackDispatchLoop(CallbackDispatcher& dispatcher, const StopFlag& stop, Logger& log,
                       DispatchLoopOptions options);
  ~CallbackDispatchLoop();
  CallbackDispatchLoop(const CallbackDispatchLoop&) = delete;
  CallbackDispatchLoop& operator=(const CallbackDispatchLoop&) = delete;

  // Starts the claiming thread and the workers.
  void Start();

  // Waits until the stop flag is set and every claimed delivery finished.
  void Join();

 private:
  struct Job {
    ClaimedCallback callback;
    FaultConfig faults;
  };
  void ClaimLoop();
  void WorkerLoop();

  CallbackDispatcher& dispatcher_;
  const StopFlag& stop_;
  Logger& log_;
  const DispatchLoopOptions options_;

  std::mutex mu_;
  std::condition_variable work_ready_;
  std::condition_variable worker_free_;
  std::deque<Job> queue_;
  int busy_ = 0;
  bool closed_ = false;
  std::thread claimer_;
  std::vector<std::thread> workers_;
};

}  // namespace payonce::provider
