#include "services/payment/app/callback_group_commit.h"

#include <algorithm>
#include <utility>

namespace payonce::payment {

CallbackGroupCommit::CallbackGroupCommit(GroupCommitOptions options, ApplyBatch apply,
                                         BatchObserver observe)
    : options_(options), apply_(std::move(apply)), observe_(std::move(observe)) {
  const int committers = std::max(1, options_.committers);
  for (int i = 0; i < committers; ++i) committers_.emplace_back([this] { CommitterLoop(); });
}

CallbackGroupCommit::~CallbackGroupCommit() {
  {
    std::lock_guard lock(mu_);
    stopping_ = true;
  }
  work_.notify_all();
  for (auto& t : committers_) t.join();
}

absl::StatusOr<CallbackResult> CallbackGroupCommit::Apply(const CallbackMessage& callback) {
  Waiter waiter{&callback, std::chrono::steady_clock::now(), std::nullopt, {}};
  std::unique_lock lock(mu_);
  if (stopping_) return absl::UnavailableError("payment-service is shutting down; retry");
  if (queue_.size() >= options_.max_queued) {
    return absl::UnavailableError("too many callbacks waiting to be committed; retry");
  }
  queue_.push_back(&waiter);
  work_.notify_all();
  waiter.done.wait(lock, [&] { return waiter.result.has_value(); });
  return std::move(*waiter.result);
}

size_t CallbackGroupCommit::Queued() {
  std::lock_guard lock(mu_);
  return queue_.size();
}

void CallbackGroupCommit::CommitterLoop() {
  const size_t max_batch = std::max<size_t>(1, options_.max_batch);
  std::unique_lock lock(mu_);
  for (;;) {
    work_.wait(lock, [&] { return stopping_ || !queue_.empty(); });
    if (queue_.empty()) return;  // stopping, nothing left
    // While another transaction is in flight the database is busy anyway:
    // waiting a little for a fuller batch costs nothing. Otherwise commit now.
    if (busy_committers_ > 0 && queue_.size() < max_batch && options_.window.count() > 0) {
      const auto deadline = queue_.front()->queued_at + options_.window;
      work_.wait_until(lock, deadline,
                       [&] { return stopping_ || queue_.size() >= max_batch || queue_.empty(); });
      if (queue_.empty()) continue;  // another committer took them
    }
    std::vector<Waiter*> batch;
    while (!queue_.empty() && batch.size() < max_batch) {
      batch.push_back(queue_.front());
      queue_.pop_front();
    }
    ++busy_committers_;
    lock.unlock();

    std::vector<CallbackMessage> callbacks;
    callbacks.reserve(batch.size());
    for (const Waiter* w : batch) callbacks.push_back(*w->callback);
    std::vector<absl::StatusOr<CallbackResult>> results;
    try {
      results = apply_(callbacks);
    } catch (const std::exception& e) {
      results.clear();
      results.resize(batch.size(), absl::InternalError(std::string("group commit: ") + e.what()));
    }
    if (results.size() != batch.size()) {
      results.assign(batch.size(), absl::InternalError("group commit: result count mismatch"));
    }
    if (observe_) observe_(batch.size());

    lock.lock();
    --busy_committers_;
    // Under the lock: a caller cannot see its result (and destroy its
    // Waiter) before the notification is done.
    for (size_t i = 0; i < batch.size(); ++i) {
      batch[i]->result = std::move(results[i]);
      batch[i]->done.notify_one();
    }
  }
}

}  // namespace payonce::payment
