// DeliveryWorkers: a pass's work runs on the caller's thread and its
// helpers at once, and the helper threads are the same from pass to pass.
#include "services/outbox_relay/app/delivery_workers.h"

#include <gtest/gtest.h>

#include <atomic>
#include <chrono>
#include <condition_variable>
#include <mutex>
#include <set>
#include <thread>

namespace payonce::relay {
namespace {

// Records the threads that ran one pass's work; each call waits (bounded)
// until `expected` calls are running at once.
class Pass {
 public:
  explicit Pass(size_t expected) : expected_(expected) {}
  void Work() {
    // Work calls this thread has run so far, over every pass (thread ids
    // can be reused by a new thread; a thread_local cannot).
    thread_local int calls_on_this_thread = 0;
    ++calls_on_this_thread;
    std::unique_lock lock(mu_);
    threads_.insert(std::this_thread::get_id());
    calls_by_thread_.insert(calls_on_this_thread);
    ++calls_;
    all_in_.notify_all();
    together_ = all_in_.wait_for(lock, std::chrono::seconds(10), [&] {
      return calls_ >= expected_;
    }) && together_;
  }
  std::set<std::thread::id> threads() {
    std::lock_guard lock(mu_);
    return threads_;
  }
  // For each call: how many calls its thread had run, this one included.
  std::multiset<int> calls_by_thread() {
    std::lock_guard lock(mu_);
    return calls_by_thread_;
  }
  size_t calls() {
    std::lock_guard lock(mu_);
    return calls_;
  }
  bool together() {
    std::lock_guard lock(mu_);
    return together_;
  }

 private:
  const size_t expected_;
  std::mutex mu_;
  std::condition_variable all_in_;
  std::set<std::thread::id> threads_;
  std::multiset<int> calls_by_thread_;
  size_t calls_ = 0;
  bool together_ = true;
};

TEST(DeliveryWorkers, APassRunsOnTheCallerAndItsHelpersAtOnce) {
  DeliveryWorkers workers;
  Pass pass(4);
  EXPECT_EQ(workers.Run(3, [&] { pass.Work(); }), 3u);
  EXPECT_EQ(pass.calls(), 4u);
  EXPECT_TRUE(pass.together());  // all four were running at the same time
  EXPECT_EQ(pass.threads().size(), 4u);
  EXPECT_TRUE(pass.threads().count(std::this_thread::get_id()));
}

TEST(DeliveryWorkers, TheHelperThreadsStayUpBetweenPasses) {
  DeliveryWorkers workers;
  Pass first(4);
  Pass second(4);
  // Both passes from one fresh thread, so the caller's count starts at 0 too.
  std::thread relay([&] {
    workers.Run(3, [&] { first.Work(); });
    workers.Run(3, [&] { second.Work(); });
  });
  relay.join();
  EXPECT_EQ(second.threads(), first.threads());
  // Each of the four threads ran the first pass too: none is new.
  EXPECT_EQ(first.calls_by_thread(), (std::multiset<int>{1, 1, 1, 1}));
  EXPECT_EQ(second.calls_by_thread(), (std::multiset<int>{2, 2, 2, 2}));
}

TEST(DeliveryWorkers, APassUsesOnlyTheHelpersItAsksFor) {
  DeliveryWorkers workers;
  Pass wide(5);
  workers.Run(4, [&] { wide.Work(); });
  Pass narrow(2);
  EXPECT_EQ(workers.Run(1, [&] { narrow.Work(); }), 1u);
  EXPECT_EQ(narrow.calls(), 2u);
  Pass alone(1);
  EXPECT_EQ(workers.Run(0, [&] { alone.Work(); }), 0u);
  EXPECT_EQ(alone.threads(), std::set<std::thread::id>{std::this_thread::get_id()});
  // A later, wider pass still gets every helper it asks for.
  Pass wider(7);
  EXPECT_EQ(workers.Run(6, [&] { wider.Work(); }), 6u);
  EXPECT_EQ(wider.calls(), 7u);
  EXPECT_TRUE(wider.together());
}

}  // namespace
}  // namespace payonce::relay
