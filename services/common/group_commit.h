// Group commit: callers hand in one item each and block until the
// transaction holding it committed; their own threads take turns as the
// committer. The caller at the head of the queue takes what has queued up
// (at most `max_batch`) and applies it as one transaction while the others
// wait, and at most `committers` batches are in flight. A lone item is
// committed on its caller's thread at once (no hand-off to another thread);
// under load the batches grow by themselves while the committers are busy,
// so one fsync serves many items and nobody waits for a timer.
#pragma once

#include <algorithm>
#include <chrono>
#include <condition_variable>
#include <cstddef>
#include <deque>
#include <exception>
#include <functional>
#include <mutex>
#include <optional>
#include <string>
#include <utility>
#include <vector>

#include "absl/status/statusor.h"

namespace payonce {

// The one batch-or-split rule of every set-based writer (callbacks, payment
// events): after a batch transaction failed as a whole, apply its items again
// one per transaction only when the failure may belong to one item (a
// constraint, a bad value, a deadlock). Never when the database is
// unreachable or too slow (UNAVAILABLE, DEADLINE_EXCEEDED: it is so for every
// item, and one transaction each would only add load), nor when the commit's
// fate is unknown (UNKNOWN, an in-doubt commit: the batch may have committed,
// and applying it again would answer committed items as replays).
inline bool SplitFailedBatch(const absl::Status& status) {
  switch (status.code()) {
    case absl::StatusCode::kUnavailable:
    case absl::StatusCode::kDeadlineExceeded:
    case absl::StatusCode::kUnknown:
      return false;
    default:
      return !status.ok();
  }
}

struct GroupCommitOptions {
  // Items per transaction at most.
  size_t max_batch = 64;
  // How long the head of the queue may wait for its batch to fill, only
  // while another batch is in flight (the database is working anyway);
  // 0: never waits.
  std::chrono::microseconds window{2000};
  // Transactions in flight at once (each holds one pooled connection).
  int committers = 2;
  // Items waiting at most; beyond that callers get UNAVAILABLE at once
  // (their sender retries) instead of piling up.
  size_t max_queued = 4096;
};

template <typename Item, typename Result>
class GroupCommit {
 public:
  // Applies one batch as one transaction; one result per item, in input
  // order (an item's failure is its own result and never fails the others).
  using ApplyBatch = std::function<std::vector<absl::StatusOr<Result>>(const std::vector<Item>&)>;
  // Told the size of every batch committed.
  using BatchObserver = std::function<void(size_t)>;

  // `what` names the items in errors ("callbacks", "payment events").
  GroupCommit(GroupCommitOptions options, std::string what, ApplyBatch apply, BatchObserver observe)
      : options_(options),
        what_(std::move(what)),
        apply_(std::move(apply)),
        observe_(std::move(observe)) {}

  // Refuses new items and waits until every queued one is committed.
  ~GroupCommit() {
    std::unique_lock lock(mu_);
    stopping_ = true;
    idle_.wait(lock, [&] { return queue_.empty() && busy_ == 0; });
  }
  GroupCommit(const GroupCommit&) = delete;
  GroupCommit& operator=(const GroupCommit&) = delete;

  // Blocks until the item's batch committed (or failed); its own result.
  absl::StatusOr<Result> Apply(const Item& item) {
    Waiter me{&item, std::chrono::steady_clock::now(), std::nullopt, {}};
    std::unique_lock lock(mu_);
    if (stopping_) return absl::UnavailableError("shutting down; retry");
    if (queue_.size() >= options_.max_queued) {
      return absl::UnavailableError("too many " + what_ + " waiting to be committed; retry");
    }
    queue_.push_back(&me);
    // A head waiting for its batch to fill commits as soon as it is full.
    if (queue_.size() >= MaxBatch()) queue_.front()->wake.notify_one();
    while (!me.result.has_value()) {
      if (queue_.front() == &me && busy_ < Committers()) {
        Lead(lock);
      } else {
        me.wake.wait(lock);
      }
    }
    return std::move(*me.result);
  }

  // Items waiting for a committer now.
  size_t Queued() {
    std::lock_guard lock(mu_);
    return queue_.size();
  }

 private:
  struct Waiter {
    const Item* item;
    std::chrono::steady_clock::time_point queued_at;
    std::optional<absl::StatusOr<Result>> result;
    std::condition_variable wake;  // with mu_; one per caller, no herd
  };

  size_t MaxBatch() const { return std::max<size_t>(1, options_.max_batch); }
  int Committers() const { return std::max(1, options_.committers); }

  // Called by the head of the queue, with the lock held, while a committer
  // slot is free: commits one batch (the head's own item first) and hands
  // the head of what is left the turn.
  void Lead(std::unique_lock<std::mutex>& lock) {
    // While another transaction is in flight the database is busy anyway:
    // waiting a little for a fuller batch costs nothing. Otherwise commit now.
    if (busy_ > 0 && queue_.size() < MaxBatch() && options_.window.count() > 0) {
      Waiter* head = queue_.front();
      head->wake.wait_until(lock, head->queued_at + options_.window,
                            [&] { return queue_.size() >= MaxBatch(); });
    }
    std::vector<Waiter*> batch;
    while (!queue_.empty() && batch.size() < MaxBatch()) {
      batch.push_back(queue_.front());
      queue_.pop_front();
    }
    ++busy_;
    // Another committer slot is free: the new head may start the next batch.
    if (!queue_.empty() && busy_ < Committers()) queue_.front()->wake.notify_one();
    lock.unlock();

    std::vector<Item> items;
    items.reserve(batch.size());
    for (const Waiter* w : batch) items.push_back(*w->item);
    std::vector<absl::StatusOr<Result>> results;
    try {
      results = apply_(items);
    } catch (const std::exception& e) {
      results.clear();
      results.resize(batch.size(), absl::InternalError("group commit: " + std::string(e.what())));
    }
    if (results.size() != batch.size()) {
      results.assign(batch.size(), absl::InternalError("group commit: result count mismatch"));
    }
    if (observe_) observe_(batch.size());

    lock.lock();
    --busy_;
    // Under the lock: a caller cannot see its result (and destroy its
    // Waiter) before the notification is done.
    for (size_t i = 0; i < batch.size(); ++i) {
      batch[i]->result = std::move(results[i]);
      batch[i]->wake.notify_one();
    }
    if (!queue_.empty()) {
      queue_.front()->wake.notify_one();
    } else if (busy_ == 0) {
      idle_.notify_all();
    }
  }

  const GroupCommitOptions options_;
  const std::string what_;
  const ApplyBatch apply_;
  const BatchObserver observe_;
  std::mutex mu_;
  std::condition_variable idle_;  // the destructor waits for the last batch
  std::deque<Waiter*> queue_;
  int busy_ = 0;
  bool stopping_ = false;
};

}  // namespace payonce
