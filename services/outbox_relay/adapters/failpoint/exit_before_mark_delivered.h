// A test-only crash point: the relay process dies after the order service
// has answered a delivery (so its commit is done) and before the outbox row
// is marked delivered, the window where an answer is lost. Compiled in only
// when PAYONCE_FAILPOINTS is on (test builds); the storm arms it through
// PAYONCE_FAILPOINT_RELAY_EXIT_BEFORE_MARK_DELIVERED.
#pragma once

#include <atomic>
#include <cstdio>
#include <cstdlib>
#include <vector>

#include "services/outbox_relay/app/outbox_repository.h"

namespace payonce::relay {

// Forwards every call to `inner`, except that the `exit_on`-th MarkDelivered
// ends the process at once (std::_Exit, like a SIGKILL: nothing is flushed,
// nothing recorded) with exit code kFailpointExitCode.
class ExitBeforeMarkDelivered final : public OutboxRepository {
 public:
  static constexpr int kFailpointExitCode = 86;

  ExitBeforeMarkDelivered(OutboxRepository& inner, int64_t exit_on)
      : inner_(inner), exit_on_(exit_on) {}

  absl::StatusOr<std::vector<OutboxRow>> ClaimDue(int limit,
                                                  std::chrono::milliseconds lease) override {
    return inner_.ClaimDue(limit, lease);
  }
  absl::StatusOr<std::vector<RecordedDelivery>> MarkDelivered(
      const std::vector<Delivery>& deliveries) override {
    if (++calls_ == exit_on_) {
      std::fprintf(stderr,
                   "{\"level\":\"error\",\"service\":\"outbox-relay\",\"msg\":\"failpoint: exiting "
                   "before MarkDelivered\",\"deliveries\":%zu}\n",
                   deliveries.size());
      std::_Exit(kFailpointExitCode);
    }
    return inner_.MarkDelivered(deliveries);
  }
  absl::Status RecordFailures(const std::vector<FailedAttempt>& failures) override {
    return inner_.RecordFailures(failures);
  }
  absl::Status Release(const std::vector<OutboxRow>& rows) override { return inner_.Release(rows); }
  absl::StatusOr<OutboxBacklog> Backlog() override { return inner_.Backlog(); }

 private:
  OutboxRepository& inner_;
  const int64_t exit_on_;
  std::atomic<int64_t> calls_{0};
};

}  // namespace payonce::relay
