// Wakes the outbox relays after outbox rows were committed.
//
// The relay LISTENs on kOutboxChannel and also polls, so a lost wake-up only
// costs latency. The NOTIFY is therefore sent after the writing transaction
// has committed, from a transaction of its own, never inside it: PostgreSQL
// takes a database-wide lock on the notification queue when a transaction
// that notified commits and holds it through the commit's WAL flush, which
// serialises every such commit (no two share a flush). The notifier's own
// transaction commits with synchronous_commit off, so it holds that lock only
// briefly.
//
// RowsCommitted() never blocks: it marks a wake-up as owed and one thread
// sends it, so any number of commits in a burst cost one NOTIFY per
// `min_interval` at most.
#pragma once

#include <chrono>
#include <condition_variable>
#include <mutex>
#include <thread>

#include "services/common/log.h"
#include "services/common/pg_pool.h"

namespace payonce {

inline constexpr const char* kOutboxChannel = "payonce_outbox";

class OutboxNotifier {
 public:
  OutboxNotifier(PgPool& pool, Logger& log,
                 std::chrono::milliseconds min_interval = std::chrono::milliseconds(2));
  // Sends a wake-up still owed, then stops the thread.
  ~OutboxNotifier();
  OutboxNotifier(const OutboxNotifier&) = delete;
  OutboxNotifier& operator=(const OutboxNotifier&) = delete;

  // Outbox rows (or re-queued dead letters) were committed: wake the relay.
  void RowsCommitted();

  // Runs `fn(tx, appended_outbox)` in one transaction of `pool`, as
  // PgPool::InTransaction does. `fn` sets appended_outbox when it added
  // outbox rows or put one back in line; the relay is woken once that
  // transaction has committed.
  template <class Fn>
  auto InTransaction(PgPool& pool, Fn&& fn) {
    bool appended_outbox = false;
    auto result = pool.InTransaction([&](pqxx::work& tx) { return fn(tx, appended_outbox); });
    if (result.ok() && appended_outbox) RowsCommitted();
    return result;
  }

  // NOTIFYs sent so far (for tests and logs).
  int64_t Sent() const;

 private:
  void Run();
  absl::Status Notify();

  PgPool& pool_;
  Logger& log_;
  const std::chrono::milliseconds min_interval_;
  mutable std::mutex mu_;
  std::condition_variable cv_;
  bool owed_ = false;
  bool stopping_ = false;
  bool failing_ = false;
  int64_t sent_ = 0;
  std::thread thread_;
};

}  // namespace payonce
