// CallbackGroupCommit (services/common/group_commit.h) with a fake batch
// applier: a lone callback is committed on its caller's thread, every caller
// gets its own result, batches form while committers are busy, the queue is
// bounded and shutdown commits what is queued.
#include "services/payment/app/callback_group_commit.h"

#include <gtest/gtest.h>

#include <atomic>
#include <condition_variable>
#include <future>
#include <memory>
#include <mutex>
#include <numeric>
#include <string>
#include <thread>
#include <vector>

#include "absl/strings/str_cat.h"

namespace payonce::payment {
namespace {

CallbackMessage Message(const std::string& event_id) {
  CallbackMessage m;
  m.event_id = event_id;
  m.payment_id = "pay-" + event_id;
  return m;
}

// Answers each callback with its own event id in the payment id (or an error
// for events named "bad-*"); can hold batches until released.
class FakeApplier {
 public:
  std::vector<absl::StatusOr<CallbackResult>> Apply(const std::vector<CallbackMessage>& batch) {
    std::unique_lock lock(mu_);
    sizes_.push_back(batch.size());
    threads_.push_back(std::this_thread::get_id());
    ++entered_;
    changed_.notify_all();
    changed_.wait(lock, [&] { return !hold_; });
    std::vector<absl::StatusOr<CallbackResult>> out;
    for (const auto& m : batch) {
      if (m.event_id.rfind("bad-", 0) == 0) {
        out.push_back(absl::InvalidArgumentError("bad item " + m.event_id));
        continue;
      }
      CallbackResult r;
      r.effect = CallbackEffect::kApplied;
      r.payment.payment_id = "answer-" + m.event_id;
      out.push_back(r);
    }
    return out;
  }
  void Hold(bool hold) {
    std::lock_guard lock(mu_);
    hold_ = hold;
    changed_.notify_all();
  }
  // Waits (bounded) until `n` batches have entered Apply.
  bool AwaitEntered(int n) {
    std::unique_lock lock(mu_);
    return changed_.wait_for(lock, std::chrono::seconds(10), [&] { return entered_ >= n; });
  }
  std::vector<size_t> sizes() {
    std::lock_guard lock(mu_);
    return sizes_;
  }
  // The thread that applied each batch.
  std::vector<std::thread::id> threads() {
    std::lock_guard lock(mu_);
    return threads_;
  }

 private:
  std::mutex mu_;
  std::condition_variable changed_;
  bool hold_ = false;
  int entered_ = 0;
  std::vector<size_t> sizes_;
  std::vector<std::thread::id> threads_;
};

GroupCommitOptions Options(int committers, size_t max_batch, size_t max_queued = 4096) {
  GroupCommitOptions o;
  o.committers = committers;
  o.max_batch = max_batch;
  o.max_queued = max_queued;
  o.window = std::chrono::microseconds(2000);
  return o;
}

TEST(CallbackGroupCommit, ALoneCallbackIsCommittedAloneAtOnceOnItsCallersThread) {
  FakeApplier applier;
  std::vector<size_t> observed;
  CallbackGroupCommit group(
      Options(2, 64), "callbacks", [&](const auto& b) { return applier.Apply(b); },
      [&](size_t n) { observed.push_back(n); });
  auto r = group.Apply(Message("e1"));
  ASSERT_TRUE(r.ok()) << r.status();
  EXPECT_EQ(r->payment.payment_id, "answer-e1");
  EXPECT_EQ(applier.sizes(), std::vector<size_t>{1});
  // No hand-off to another thread and back.
  EXPECT_EQ(applier.threads(), std::vector<std::thread::id>{std::this_thread::get_id()});
}

// Polls (bounded) until `n` callbacks wait in the queue.
bool AwaitQueued(CallbackGroupCommit& group, size_t n) {
  const auto deadline = std::chrono::steady_clock::now() + std::chrono::seconds(10);
  while (std::chrono::steady_clock::now() < deadline) {
    if (group.Queued() == n) return true;
    std::this_thread::sleep_for(std::chrono::milliseconds(1));
  }
  return false;
}

using Pending = std::vector<std::future<absl::StatusOr<CallbackResult>>>;

Pending ApplyAsync(CallbackGroupCommit& group, const std::vector<std::string>& event_ids) {
  Pending out;
  for (const auto& id : event_ids) {
    out.push_back(
        std::async(std::launch::async, [&group, id] { return group.Apply(Message(id)); }));
  }
  return out;
}

std::vector<std::string> EventIds(int n) {
  std::vector<std::string> out;
  for (int i = 0; i < n; ++i) out.push_back(absl::StrCat("e", i));
  return out;
}

TEST(CallbackGroupCommit, CallbacksQueuedWhileBusyShareATransactionAndKeepTheirOwnResults) {
  FakeApplier applier;
  std::atomic<size_t> observed_total{0};
  CallbackGroupCommit group(
      Options(1, 64), "callbacks", [&](const auto& b) { return applier.Apply(b); },
      [&](size_t n) { observed_total += n; });
  applier.Hold(true);
  // The first callback occupies the only committer while 40 more queue up,
  // two of them bad.
  Pending first = ApplyAsync(group, {"first"});
  ASSERT_TRUE(applier.AwaitEntered(1));
  std::vector<std::string> ids = EventIds(40);
  ids[7] = "bad-7";
  ids[30] = "bad-30";
  Pending rest = ApplyAsync(group, ids);
  ASSERT_TRUE(AwaitQueued(group, 40));
  applier.Hold(false);

  ASSERT_TRUE(first[0].get().ok());
  for (int i = 0; i < 40; ++i) {
    auto r = rest[i].get();
    if (ids[i].rfind("bad-", 0) == 0) {
      ASSERT_FALSE(r.ok());
      EXPECT_EQ(r.status().code(), absl::StatusCode::kInvalidArgument);
      EXPECT_NE(r.status().message().find(ids[i]), std::string::npos);
    } else {
      ASSERT_TRUE(r.ok()) << r.status();
      EXPECT_EQ(r->payment.payment_id, "answer-" + ids[i]);
    }
  }
  // One transaction for the first, one for the 40 that waited together.
  EXPECT_EQ(applier.sizes(), (std::vector<size_t>{1, 40}));
  EXPECT_EQ(observed_total.load(), 41u);
}

TEST(CallbackGroupCommit, TwoCommittersHaveTwoBatchesInFlightAtOnce) {
  FakeApplier applier;
  CallbackGroupCommit group(
      Options(2, 64), "callbacks", [&](const auto& b) { return applier.Apply(b); }, nullptr);
  applier.Hold(true);
  Pending first = ApplyAsync(group, {"first"});
  ASSERT_TRUE(applier.AwaitEntered(1));
  // The first batch is held in flight; the second committer slot is free.
  Pending second = ApplyAsync(group, {"second"});
  EXPECT_TRUE(applier.AwaitEntered(2));
  applier.Hold(false);
  EXPECT_TRUE(first[0].get().ok());
  EXPECT_TRUE(second[0].get().ok());
  EXPECT_EQ(applier.sizes(), (std::vector<size_t>{1, 1}));
}

TEST(CallbackGroupCommit, BatchesNeverExceedTheMaximum) {
  FakeApplier applier;
  CallbackGroupCommit group(
      Options(1, 5), "callbacks", [&](const auto& b) { return applier.Apply(b); }, nullptr);
  applier.Hold(true);
  Pending first = ApplyAsync(group, {"first"});
  ASSERT_TRUE(applier.AwaitEntered(1));
  Pending rest = ApplyAsync(group, EventIds(23));
  ASSERT_TRUE(AwaitQueued(group, 23));
  applier.Hold(false);
  for (auto& f : rest) EXPECT_TRUE(f.get().ok());
  EXPECT_TRUE(first[0].get().ok());
  EXPECT_EQ(applier.sizes(), (std::vector<size_t>{1, 5, 5, 5, 5, 3}));
}

TEST(CallbackGroupCommit, AFullQueueAnswersUnavailableAtOnce) {
  FakeApplier applier;
  CallbackGroupCommit group(
      Options(1, 1, /*max_queued=*/2), "callbacks", [&](const auto& b) { return applier.Apply(b); },
      nullptr);
  applier.Hold(true);
  Pending first = ApplyAsync(group, {"first"});
  ASSERT_TRUE(applier.AwaitEntered(1));
  Pending queued = ApplyAsync(group, {"q1", "q2"});
  ASSERT_TRUE(AwaitQueued(group, 2));
  // Answered on the caller's thread without waiting for the held committer.
  auto refused = group.Apply(Message("one-too-many"));
  ASSERT_FALSE(refused.ok());
  EXPECT_EQ(refused.status().code(), absl::StatusCode::kUnavailable);
  applier.Hold(false);
  EXPECT_TRUE(first[0].get().ok());
  for (auto& f : queued) EXPECT_TRUE(f.get().ok());
  EXPECT_EQ(applier.sizes(), (std::vector<size_t>{1, 1, 1}));
}

TEST(CallbackGroupCommit, ShutdownCommitsWhatIsQueuedFirst) {
  FakeApplier applier;
  auto group = std::make_unique<CallbackGroupCommit>(
      Options(1, 64), "callbacks", [&](const auto& b) { return applier.Apply(b); }, nullptr);
  applier.Hold(true);
  Pending first = ApplyAsync(*group, {"a"});
  ASSERT_TRUE(applier.AwaitEntered(1));
  Pending rest = ApplyAsync(*group, {"b", "c", "d"});
  ASSERT_TRUE(AwaitQueued(*group, 3));
  // Destroying the group waits for the committer, which drains the queue.
  std::thread destroy([&] { group.reset(); });
  applier.Hold(false);
  destroy.join();
  EXPECT_TRUE(first[0].get().ok());
  for (auto& f : rest) EXPECT_TRUE(f.get().ok());
  EXPECT_EQ(applier.sizes(), (std::vector<size_t>{1, 3}));
}

// Issue 12, defect 7: one batch-or-split rule for both set-based writers.
TEST(SplitFailedBatch, OnlyAFailureThatMayBelongToOneItem) {
  EXPECT_TRUE(SplitFailedBatch(absl::InvalidArgumentError("a bad value")));
  EXPECT_TRUE(SplitFailedBatch(absl::AbortedError("deadlock detected")));
  EXPECT_TRUE(SplitFailedBatch(absl::InternalError("a constraint")));
  EXPECT_FALSE(SplitFailedBatch(absl::UnavailableError("database unreachable")));
  EXPECT_FALSE(SplitFailedBatch(absl::DeadlineExceededError("statement timeout")));
  EXPECT_FALSE(SplitFailedBatch(absl::UnknownError("commit outcome unknown")));
  EXPECT_FALSE(SplitFailedBatch(absl::OkStatus()));
}

}  // namespace
}  // namespace payonce::payment
