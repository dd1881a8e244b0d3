// The faults the sandbox injects on demand (CONTRACT §3) and the decisions
// drawn from them. Pure: randomness comes through RandomSource.
#pragma once

#include <cstdint>
#include <optional>
#include <string>
#include <vector>

#include "absl/status/status.h"
#include "services/provider_sandbox/domain/callback_message.h"
#include "services/provider_sandbox/domain/random_source.h"

namespace payonce::provider {

inline constexpr int32_t kMaxDuplicatesLimit = 10;

// Mirrors payonce.provider.v1.FaultConfig. The default injects nothing.
struct FaultConfig {
  double fail_rate = 0;
  double drop_callback_rate = 0;
  double duplicate_callback_rate = 0;
  // Extra copies when the duplicate fault fires: 1..max_duplicates (0 counts
  // as 1).
  int32_t max_duplicates = 0;
  int32_t min_delay_ms = 0;
  int32_t max_delay_ms = 0;
  bool reorder = false;
  double double_charge_rate = 0;
  double replay_rate = 0;
  double forge_rate = 0;
  // When > 0, the retry delay after the callback target was unreachable.
  int32_t callback_target_down_retry_ms = 0;
  // A first debit captures another amount than asked (DecideCapturedAmount).
  double wrong_amount_rate = 0;
  // A first debit answers UNAVAILABLE and its capture stays invisible for
  // late_capture_delay_ms (DecideLateCapture).
  double late_capture_rate = 0;
  int32_t late_capture_delay_ms = 0;

  bool operator==(const FaultConfig&) const = default;
};

// INVALID_ARGUMENT naming the first bad field: a rate outside [0, 1] (or
// NaN), a negative delay, min_delay_ms > max_delay_ms, max_duplicates outside
// [0, 10], a negative late_capture_delay_ms.
absl::Status ValidateFaultConfig(const FaultConfig& faults);

// Whether a first debit is declined (fail_rate). One draw.
bool DecideDecline(const FaultConfig& faults, RandomSource& rng);

// Whether a debit (first or repeated) makes one more, separate capture
// (double_charge_rate): the bank's anti-replay failure. One draw.
bool DecideDoubleCharge(const FaultConfig& faults, RandomSource& rng);

// The amount a first debit of `asked` captures: `asked`, or with
// wrong_amount_rate a quarter (at least 1) less or more, each half of the
// time. Two draws: whether, then which way.
int64_t DecideCapturedAmount(const FaultConfig& faults, int64_t asked, RandomSource& rng);

// How long a first debit's capture stays invisible (its answer UNAVAILABLE):
// late_capture_delay_ms with late_capture_rate, else 0. One draw.
int64_t DecideLateCapture(const FaultConfig& faults, RandomSource& rng);

// What happens to one callback, decided when its capture is made.
struct CallbackPlan {
  // First attempt this long after the capture.
  int64_t delay_ms = 0;
  // Never sent.
  bool dropped = false;
  // Copies sent besides the normal delivery (same event_id, fresh nonce).
  int32_t extra_copies = 0;
  // After an acknowledged delivery, the same signed message again.
  bool replay = false;
  // A forged copy is sent as well.
  std::optional<ForgeKind> forge;
};

// Draws, always in this order and one each: delay, drop, duplicate,
// duplicate count, replay, forge, forge kind.
CallbackPlan PlanCallback(const FaultConfig& faults, RandomSource& rng);

// Every fault decision of one Debit call: the fault schedule's entry for the
// call's draw number.
struct DebitDecisions {
  bool first_call = true;
  // First call only: declined (nothing captured), the amount captured, how
  // long the capture stays invisible.
  bool declined = false;
  int64_t captured_minor = 0;
  int64_t late_ms = 0;
  // One more, separate capture of the asked amount (first or repeat call).
  bool double_charge = false;
  // One per new capture, in capture order: the first call's capture (if
  // first_call), then the double charge's (if double_charge).
  std::vector<CallbackPlan> callbacks;
};

// Draws a call's decisions in a fixed order: a first call draws decline,
// then (if not declined) captured amount and lateness, its capture's
// callback plan, then (if not declined) the double charge and its callback
// plan; a repeat call draws the double charge and its callback plan.
DebitDecisions DecideDebit(const FaultConfig& faults, bool first_call, int64_t asked_minor,
                           RandomSource& rng);

// One line naming every decision, independent of the asked amount's size
// (the captured amount is written as its difference from the asked one):
// "first: captured -25, late 40000 ms; callback 1234 ms dropped x2 replay
// forge=wrong_secret; double charge; callback 88 ms". The sandbox records it
// per draw, and the storm recomputes it to prove the schedule was followed.
std::string DescribeDecisions(const DebitDecisions& decisions, int64_t asked_minor);

}  // namespace payonce::provider
