// Delivery threads that stay up between relay passes: each pass hands them
// its work instead of starting (and joining) up to `concurrency` threads of
// its own, which at 64 threads and dozens of passes per second was
// thousands of thread starts a second.
#pragma once

#include <algorithm>
#include <condition_variable>
#include <cstddef>
#include <cstdint>
#include <functional>
#include <mutex>
#include <system_error>
#include <thread>
#include <vector>

namespace payonce::relay {

class DeliveryWorkers {
 public:
  DeliveryWorkers() = default;
  ~DeliveryWorkers() {
    {
      std::lock_guard lock(mu_);
      stopping_ = true;
    }
    start_.notify_all();
    for (auto& t : threads_) t.join();
  }
  DeliveryWorkers(const DeliveryWorkers&) = delete;
  DeliveryWorkers& operator=(const DeliveryWorkers&) = delete;

  // One Run at a time (one relay pass). Runs `work` on the caller's thread
  // and on up to `helpers` worker
  // threads at once, and returns when every one of those calls returned.
  // `work` takes items until none are left (e.g. from an atomic counter).
  // Returns how many helpers ran: fewer than asked only if the system
  // refused to start a thread (the caller's thread still does all the work
  // the helpers do not).
  size_t Run(size_t helpers, const std::function<void()>& work) {
    std::unique_lock lock(mu_);
    while (threads_.size() < helpers) {
      try {
        const size_t index = threads_.size();
        threads_.emplace_back([this, index] { Loop(index); });
      } catch (const std::system_error&) {
        break;
      }
    }
    helpers_ = std::min(helpers, threads_.size());
    work_ = &work;
    running_ = helpers_;
    ++generation_;
    lock.unlock();
    start_.notify_all();

    work();

    lock.lock();
    done_.wait(lock, [&] { return running_ == 0; });
    work_ = nullptr;
    return helpers_;
  }

 private:
  void Loop(size_t index) {
    std::unique_lock lock(mu_);
    // A thread started by Run joins the pass that started it (Run counted
    // it among its helpers and waits for it).
    uint64_t seen = generation_ - 1;
    for (;;) {
      start_.wait(lock, [&] { return stopping_ || generation_ != seen; });
      if (stopping_) return;
      seen = generation_;
      if (index >= helpers_) continue;  // not needed in this pass
      const std::function<void()>* work = work_;
      lock.unlock();
      (*work)();
      lock.lock();
      if (--running_ == 0) done_.notify_one();
    }
  }

  std::mutex mu_;
  std::condition_variable start_;  // workers wait for a pass
  std::condition_variable done_;   // Run waits for its helpers
  std::vector<std::thread> threads_;
  const std::function<void()>* work_ = nullptr;
  size_t helpers_ = 0;
  size_t running_ = 0;
  uint64_t generation_ = 0;
  bool stopping_ = false;
};

}  // namespace payonce::relay
