// OutboxWakeup on a dedicated PostgreSQL connection that LISTENs on the
// channel the payment service NOTIFYs when it commits an outbox row.
#pragma once

#include <atomic>
#include <chrono>
#include <memory>
#include <string>

#include "services/common/log.h"
#include "services/common/outbox_notifier.h"
#include "services/outbox_relay/app/relay_loop.h"
#include "services/outbox_relay/domain/retry_policy.h"

namespace payonce::relay {

class PgOutboxListener final : public OutboxWakeup {
 public:
  // Connects lazily, on the first Wait. `reconnect` paces reconnection
  // attempts after the connection breaks (max_attempts is not used).
  PgOutboxListener(std::string dsn, Logger& log, RandomSource& random,
                   RetryPolicy reconnect = {std::chrono::milliseconds(200),
                                            std::chrono::milliseconds(5000), 0});
  ~PgOutboxListener() override;
  PgOutboxListener(const PgOutboxListener&) = delete;
  PgOutboxListener& operator=(const PgOutboxListener&) = delete;

  // Waits up to `timeout` for a notification. While disconnected it sleeps
  // the timeout out (the relay keeps polling) and reconnects when the
  // backoff allows; a fresh connection answers true, since notifications
  // may have been missed while it was down.
  bool Wait(std::chrono::milliseconds timeout) override;

  // Whether the LISTEN connection is up; safe to ask from any thread.
  bool connected() const { return connected_.load(); }

 private:
  class Session;
  bool Connect();
  void Disconnect(const std::string& why);

  const std::string dsn_;
  Logger& log_;
  RandomSource& random_;
  const RetryPolicy reconnect_;
  std::unique_ptr<Session> session_;
  std::atomic<bool> connected_{false};
  int failures_ = 0;
  std::chrono::steady_clock::time_point next_connect_{};
};

}  // namespace payonce::relay
