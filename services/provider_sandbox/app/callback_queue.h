// The persistence port of callback delivery: due callbacks are claimed with
// a lease (so replicas never send the same one at once) and each delivery's
// outcome is recorded in one transaction with the counters.
#pragma once

#include <cstdint>
#include <optional>
#include <string>
#include <vector>

#include "absl/status/status.h"
#include "absl/status/statusor.h"
#include "services/provider_sandbox/domain/callback_message.h"
#include "services/provider_sandbox/domain/callback_tally.h"
#include "services/provider_sandbox/domain/faults.h"

namespace payonce::provider {

// A due callback leased to one dispatcher.
struct ClaimedCallback {
  CallbackEvent event;
  // Identifies this lease; the outcome is recorded only under it.
  std::string claim_id;
  // Attempts already made.
  int attempts = 0;
  std::optional<int64_t> first_attempt_at_ms;
  // When it fell due (batches are delivered oldest first unless reordered).
  int64_t due_at_ms = 0;
  // Fault copies still to send: duplicates (first attempt only), a forged
  // copy, a replay after the acknowledgement.
  int32_t extra_copies = 0;
  std::optional<ForgeKind> forge;
  bool replay = false;
};

struct ClaimedBatch {
  std::vector<ClaimedCallback> callbacks;
  // The fault configuration when the batch was claimed.
  FaultConfig faults;
};

// The outcome of one delivery attempt.
struct DeliveryRecord {
  std::string event_id;
  std::string claim_id;
  int64_t sent_at_ms = 0;
  // Attempts including this one.
  int attempts = 0;
  int64_t first_attempt_at_ms = 0;
  bool acknowledged = false;
  // Unset and not acknowledged: given up.
  std::optional<int64_t> next_attempt_at_ms;
  bool duplicates_sent = false;
  bool forged_sent = false;
  bool replayed = false;
  // "acknowledged", "rejected" or "unreachable", and the error if any.
  std::string last_result;
  std::string last_error;
  // The last genuine message sent (the acknowledged one if any).
  SignedCallback last_message;
};

class CallbackQueue {
 public:
  virtual ~CallbackQueue() = default;

  // Leases up to `limit` callbacks due at `now_ms` (oldest first) for
  // `lease_ms` under `claim_id`; rows leased elsewhere are skipped.
  virtual absl::StatusOr<ClaimedBatch> ClaimDue(int limit, int64_t now_ms, int64_t lease_ms,
                                                const std::string& claim_id) = 0;

  // Records `record` (if its lease still holds) and adds `tally` to the
  // counters, in one transaction.
  virtual absl::Status RecordDelivery(const DeliveryRecord& record, const CallbackTally& tally) = 0;
};

}  // namespace payonce::provider
