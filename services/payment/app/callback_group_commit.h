// Group commit of provider callbacks. Callers hand in a verified callback and
// block until the transaction holding it committed; committer threads take
// what has queued up (at most `max_batch`) and apply it as one set-based
// transaction. At low load a callback is committed alone at once; under load
// the batches grow by themselves while the committers are busy, so one fsync
// serves many callbacks and nobody waits for a timer.
#pragma once

#include <chrono>
#include <condition_variable>
#include <cstddef>
#include <deque>
#include <functional>
#include <mutex>
#include <optional>
#include <thread>
#include <vector>

#include "absl/status/statusor.h"
#include "services/payment/app/payment_store.h"

namespace payonce::payment {

struct GroupCommitOptions {
  // Callbacks per transaction at most.
  size_t max_batch = 64;
  // How long a committer may wait for a batch to fill, only while another
  // committer is busy (the database is working anyway); 0: never waits.
  std::chrono::microseconds window{2000};
  // Transactions in flight at once (each holds one pooled connection).
  int committers = 2;
  // Callbacks waiting at most; beyond that callers get UNAVAILABLE at once
  // (the provider retries) instead of piling up.
  size_t max_queued = 4096;
};

class CallbackGroupCommit {
 public:
  // Applies one batch; results in input order (PaymentStore::ApplyCallbacks).
  using ApplyBatch = std::function<std::vector<absl::StatusOr<CallbackResult>>(
      const std::vector<CallbackMessage>&)>;
  // Told the size of every batch committed.
  using BatchObserver = std::function<void(size_t)>;

  CallbackGroupCommit(GroupCommitOptions options, ApplyBatch apply, BatchObserver observe);
  // Commits what is queued, then stops the committers.
  ~CallbackGroupCommit();
  CallbackGroupCommit(const CallbackGroupCommit&) = delete;
  CallbackGroupCommit& operator=(const CallbackGroupCommit&) = delete;

  // Blocks until the callback's batch committed (or failed); its own result.
  absl::StatusOr<CallbackResult> Apply(const CallbackMessage& callback);

  // Callbacks waiting for a committer now.
  size_t Queued();

 private:
  struct Waiter {
    const CallbackMessage* callback;
    std::chrono::steady_clock::time_point queued_at;
    std::optional<absl::StatusOr<CallbackResult>> result;
    std::condition_variable done;  // with mu_; one per caller, no herd
  };

  void CommitterLoop();

  const GroupCommitOptions options_;
  const ApplyBatch apply_;
  const BatchObserver observe_;
  std::mutex mu_;
  std::condition_variable work_;  // committers wait for callbacks
  std::deque<Waiter*> queue_;
  int busy_committers_ = 0;
  bool stopping_ = false;
  std::vector<std::thread> committers_;
};

}  // namespace payonce::payment
