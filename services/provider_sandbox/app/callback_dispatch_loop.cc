#include "services/provider_sandbox/app/callback_dispatch_loop.h"

#include <string>

namespace payonce::provider {
namespace {

// How often a waiting thread re-checks the stop flag.
constexpr std::chrono::milliseconds kStopCheck{50};

}  // namespace

CallbackDispatchLoop::CallbackDispatchLoop(CallbackDispatcher& dispatcher, const StopFlag& stop,
                                           Logger& log, DispatchLoopOptions options)
    : dispatcher_(dispatcher), stop_(stop), log_(log), options_(options) {}

CallbackDispatchLoop::~CallbackDispatchLoop() {
  if (claimer_.joinable()) {
    // Join() was not called: stop without waiting for the flag.
    {
      std::lock_guard<std::mutex> lock(mu_);
      closed_ = true;
    }
    work_ready_.notify_all();
    worker_free_.notify_all();
    claimer_.join();
    for (auto& w : workers_) w.join();
  }
}

void CallbackDispatchLoop::Start() {
  for (int i = 0; i < options_.workers; ++i) workers_.emplace_back([this] { WorkerLoop(); });
  claimer_ = std::thread([this] { ClaimLoop(); });
  log_.Info("callback dispatcher started", {{"workers", options_.workers}});
}

void CallbackDispatchLoop::Join() {
  if (claimer_.joinable()) claimer_.join();
  for (auto& w : workers_) w.join();
  workers_.clear();
  log_.Info("callback dispatcher stopped");
}

void CallbackDispatchLoop::ClaimLoop() {
  while (!stop_.stopped()) {
    int idle = 0;
    {
      std::unique_lock<std::mutex> lock(mu_);
      worker_free_.wait_for(lock, kStopCheck, [this] {
        return closed_ || busy_ + static_cast<int>(queue_.size()) < options_.workers;
      });
      if (closed_) break;
      idle = options_.workers - busy_ - static_cast<int>(queue_.size());
    }
    if (idle <= 0) continue;
    auto batch = dispatcher_.Claim(idle);
    if (!batch.ok()) {
      log_.Warn("cannot claim callbacks", {{"error", std::string(batch.status().message())}});
      stop_.WaitFor(options_.error_backoff);
      continue;
    }
    if (batch->callbacks.empty()) {
      stop_.WaitFor(options_.poll);
      continue;
    }
    {
      std::lock_guard<std::mutex> lock(mu_);
      for (auto& c : batch->callbacks) queue_.push_back({std::move(c), batch->faults});
    }
    work_ready_.notify_all();
  }
  // Claimed work is still delivered: the workers drain the queue, then exit.
  {
    std::lock_guard<std::mutex> lock(mu_);
    closed_ = true;
  }
  work_ready_.notify_all();
}

void CallbackDispatchLoop::WorkerLoop() {
  while (true) {
    Job job;
    {
      std::unique_lock<std::mutex> lock(mu_);
      work_ready_.wait(lock, [this] { return closed_ || !queue_.empty(); });
      if (queue_.empty()) return;  // closed and drained
      job = std::move(queue_.front());
      queue_.pop_front();
      ++busy_;
    }
    (void)dispatcher_.Deliver(job.callback, job.faults);  // failures are logged there
    {
      std::lock_guard<std::mutex> lock(mu_);
      --busy_;
    }
    worker_free_.notify_one();
  }
}

}  // namespace payonce::provider
