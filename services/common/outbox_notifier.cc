#include "services/common/outbox_notifier.h"

#include <string>

namespace payonce {

OutboxNotifier::OutboxNotifier(PgPool& pool, Logger& log, std::chrono::milliseconds min_interval)
    : pool_(pool), log_(log), min_interval_(min_interval), thread_([this] { Run(); }) {}

OutboxNotifier::~OutboxNotifier() {
  {
    std::lock_guard<std::mutex> lock(mu_);
    stopping_ = true;
  }
  cv_.notify_all();
  thread_.join();
}

void OutboxNotifier::RowsCommitted() {
  {
    std::lock_guard<std::mutex> lock(mu_);
    if (owed_) return;
    owed_ = true;
  }
  cv_.notify_one();
}

int64_t OutboxNotifier::Sent() const {
  std::lock_guard<std::mutex> lock(mu_);
  return sent_;
}

absl::Status OutboxNotifier::Notify() {
  return pool_.InTransaction([](pqxx::work& tx) -> absl::Status {
    // Only a hint: losing it on a crash costs the relay one poll interval.
    tx.exec("SET LOCAL synchronous_commit = off");
    tx.exec_params("SELECT pg_notify($1, '')", std::string(kOutboxChannel));
    return absl::OkStatus();
  });
}

void OutboxNotifier::Run() {
  std::unique_lock<std::mutex> lock(mu_);
  while (true) {
    cv_.wait(lock, [this] { return owed_ || stopping_; });
    // Stopping: send a wake-up still owed (a one-shot CLI run exits right
    // after its commits), then return. During a drain with the database
    // frozen the pool is aborted by then and this fails at once.
    if (stopping_ && !owed_) return;
    owed_ = false;
    lock.unlock();
    const absl::Status sent = Notify();
    lock.lock();
    if (sent.ok()) {
      ++sent_;
      if (failing_) log_.Info("outbox wake-ups sent again");
      failing_ = false;
    } else if (!failing_) {
      // Logged once per outage; the relay's polling covers the gap.
      failing_ = true;
      log_.Warn("cannot wake the outbox relay; it will find the rows by polling",
                {{"error", std::string(sent.message())}});
    }
    if (stopping_) return;
    // Commits during the wait are covered by the next NOTIFY.
    cv_.wait_for(lock, min_interval_, [this] { return stopping_; });
  }
}

}  // namespace payonce
