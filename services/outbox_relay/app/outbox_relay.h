// The outbox relay's use case: claim due outbox rows, deliver them to the
// order service in parallel, and record each outcome (delivered, retry later,
// dead letter). RunOnce is one pass; tests call it directly, RelayLoop drives
// it in the process.
#pragma once

#include <chrono>
#include <vector>

#include "absl/status/status.h"
#include "absl/status/statusor.h"
#include "services/common/log.h"
#include "services/outbox_relay/app/delivery_workers.h"
#include "services/outbox_relay/app/order_event_sink.h"
#include "services/outbox_relay/app/outbox_repository.h"
#include "services/outbox_relay/domain/retry_policy.h"

namespace payonce::relay {

struct RelayOptions {
  // Rows leased per pass.
  int batch_size = 64;
  // Deliveries in flight at once within a pass.
  int concurrency = 64;
  // How long a claimed row stays hidden from other relays.
  std::chrono::milliseconds lease{10000};
  // Deadline of one ApplyPaymentEvent call; a row is only sent while at
  // least this much of its lease is left.
  std::chrono::milliseconds delivery_timeout{3000};
  RetryPolicy retry;
};

// What one pass did.
struct RelayPass {
  // Rows leased.
  int claimed = 0;
  // Rows newly recorded as delivered.
  int delivered = 0;
  // Rows that failed and will be tried again after a backoff.
  int retried = 0;
  // Rows given up on.
  int dead_lettered = 0;
  // Rows handed back unsent because too little of their lease was left.
  int released = 0;
};

// What the relay reports as it works; the Prometheus adapter implements it.
class RelayObserver {
 public:
  virtual ~RelayObserver() = default;
  // A delivery recorded `lag_seconds` after its row was written.
  virtual void OnDelivered(double lag_seconds) = 0;
  // A failed attempt that will be retried.
  virtual void OnRetry() = 0;
  // A row given up on.
  virtual void OnDeadLetter() = 0;
  // The outbox backlog, read every stats interval.
  virtual void OnBacklog(const OutboxBacklog& backlog) = 0;
};

class OutboxRelay {
 public:
  OutboxRelay(OutboxRepository& outbox, OrderEventSink& sink, RandomSource& random,
              RelayObserver& observer, Logger& log, RelayOptions options);

  // One pass: leases up to batch_size due rows (at most one per order, so
  // delivering them in parallel keeps each order's events in sequence),
  // delivers them with up to `concurrency` threads, then records the
  // outcomes. Returns after every delivery of the pass has finished. An
  // error means the outbox could not be read or updated; rows whose outcome
  // was not recorded are retried when their lease expires (delivery is
  // idempotent on event_id).
  absl::StatusOr<RelayPass> RunOnce();

  // Reads the backlog and reports it to the observer.
  absl::Status RefreshBacklog();

  const RelayOptions& options() const { return options_; }

 private:
  OutboxRepository& outbox_;
  OrderEventSink& sink_;
  RandomSource& random_;
  RelayObserver& observer_;
  Logger& log_;
  const RelayOptions options_;
  DeliveryWorkers workers_;  // the pass's delivery threads, kept between passes
};

}  // namespace payonce::relay
