#include "services/outbox_relay/app/outbox_relay.h"

#include <algorithm>
#include <atomic>
#include <optional>
#include <string>

namespace payonce::relay {
namespace {

// The result of one row's delivery; nullopt when it was not sent.
using DeliveryResult = std::optional<absl::StatusOr<ApplyOutcome>>;

}  // namespace

OutboxRelay::OutboxRelay(OutboxRepository& outbox, OrderEventSink& sink, RandomSource& random,
                         RelayObserver& observer, Logger& log, RelayOptions options)
    : outbox_(outbox),
      sink_(sink),
      random_(random),
      observer_(observer),
      log_(log),
      options_(options) {}

absl::StatusOr<RelayPass> OutboxRelay::RunOnce() {
  // Taken before the claim, so the lease is never overestimated.
  const auto claimed_at = std::chrono::steady_clock::now();
  auto rows = outbox_.ClaimDue(options_.batch_size, options_.lease);
  if (!rows.ok()) return rows.status();
  RelayPass pass;
  pass.claimed = static_cast<int>(rows->size());
  if (rows->empty()) return pass;

  // A call may only start while its whole deadline fits in the lease, so no
  // other relay can take the row while it is being delivered.
  const auto send_by = claimed_at + options_.lease - options_.delivery_timeout;
  std::vector<DeliveryResult> results(rows->size());
  std::atomic<size_t> next{0};
  auto deliver = [&] {
    for (size_t i = next++; i < rows->size(); i = next++) {
      if (std::chrono::steady_clock::now() > send_by) continue;
      results[i] = sink_.Deliver((*rows)[i]);
    }
  };
  const size_t helpers =
      std::min(rows->size(), static_cast<size_t>(std::max(options_.concurrency, 1))) - 1;
  if (const size_t ran = workers_.Run(helpers, deliver); ran < helpers) {
    // Fewer threads only slow the pass down; every row is still handled.
    log_.Warn("cannot start delivery threads", {{"wanted", helpers}, {"running", ran}});
  }

  std::vector<Delivery> delivered;
  std::vector<FailedAttempt> failed;
  std::vector<const OutboxRow*> failed_rows;
  std::vector<OutboxRow> unsent;
  for (size_t i = 0; i < rows->size(); ++i) {
    const OutboxRow& row = (*rows)[i];
    if (!results[i].has_value()) {
      unsent.push_back(row);
    } else if (results[i]->ok()) {
      delivered.push_back({row.seq, **results[i]});
    } else {
      const absl::Status& error = results[i]->status();
      const FailureDecision decision =
          DecideAfterFailure(options_.retry, row.failures, error.code(), random_);
      failed.push_back({row.seq, row.attempts, DescribeDeliveryError(error), decision.dead_letter,
                        decision.retry_after, decision.failures});
      failed_rows.push_back(&row);
    }
  }

  absl::Status first_error;
  if (!delivered.empty()) {
    auto recorded = outbox_.MarkDelivered(delivered);
    if (recorded.ok()) {
      pass.delivered = static_cast<int>(recorded->size());
      for (const auto& r : *recorded) observer_.OnDelivered(r.lag_seconds);
    } else {
      first_error.Update(recorded.status());
    }
  }
  if (!failed.empty()) {
    if (auto s = outbox_.RecordFailures(failed); s.ok()) {
      for (size_t i = 0; i < failed.size(); ++i) {
        const FailedAttempt& f = failed[i];
        if (f.dead_letter) {
          ++pass.dead_lettered;
          observer_.OnDeadLetter();
          log_.Warn("outbox event dead-lettered", {{"event_id", failed_rows[i]->event_id},
                                                   {"order_id", failed_rows[i]->order_id},
                                                   {"payment_id", failed_rows[i]->payment_id},
                                                   {"attempts", f.attempts},
                                                   {"error", f.error}});
        } else {
          ++pass.retried;
          observer_.OnRetry();
        }
      }
      if (pass.retried > 0) {
        log_.Warn("outbox deliveries failed; retrying with backoff",
                  {{"retried", pass.retried}, {"first_error", failed.front().error}});
      }
    } else {
      first_error.Update(s);
    }
  }
  if (!unsent.empty()) {
    if (auto s = outbox_.Release(unsent); s.ok()) {
      pass.released = static_cast<int>(unsent.size());
      log_.Warn("outbox rows released unsent: lease too short for the batch",
                {{"released", pass.released},
                 {"lease_ms", options_.lease.count()},
                 {"delivery_timeout_ms", options_.delivery_timeout.count()}});
    } else {
      first_error.Update(s);
    }
  }
  if (!first_error.ok()) return first_error;
  return pass;
}

absl::Status OutboxRelay::RefreshBacklog() {
  auto backlog = outbox_.Backlog();
  if (!backlog.ok()) return backlog.status();
  observer_.OnBacklog(*backlog);
  return absl::OkStatus();
}

}  // namespace payonce::relay
