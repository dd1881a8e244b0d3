#include "services/provider_sandbox/domain/faults.h"

#include <algorithm>
#include <limits>
#include <string>
#include <string_view>

namespace payonce::provider {
namespace {

absl::Status RequireRate(std::string_view field, double rate) {
  // Written so that NaN fails too.
  if (rate >= 0.0 && rate <= 1.0) return absl::OkStatus();
  return absl::InvalidArgumentError(std::string(field) + " must be in [0, 1], got " +
                                    std::to_string(rate));
}

absl::Status RequireNonNegative(std::string_view field, int64_t value) {
  if (value >= 0) return absl::OkStatus();
  return absl::InvalidArgumentError(std::string(field) + " must be >= 0, got " +
                                    std::to_string(value));
}

}  // namespace

absl::Status ValidateFaultConfig(const FaultConfig& f) {
  for (const auto& [field, rate] : {std::pair<std::string_view, double>{"fail_rate", f.fail_rate},
                                    {"drop_callback_rate", f.drop_callback_rate},
                                    {"duplicate_callback_rate", f.duplicate_callback_rate},
                                    {"double_charge_rate", f.double_charge_rate},
                                    {"replay_rate", f.replay_rate},
                                    {"forge_rate", f.forge_rate},
                                    {"wrong_amount_rate", f.wrong_amount_rate},
                                    {"late_capture_rate", f.late_capture_rate}}) {
    if (auto s = RequireRate(field, rate); !s.ok()) return s;
  }
  if (f.max_duplicates < 0 || f.max_duplicates > kMaxDuplicatesLimit) {
    return absl::InvalidArgumentError("max_duplicates must be in [0, " +
                                      std::to_string(kMaxDuplicatesLimit) + "], got " +
                                      std::to_string(f.max_duplicates));
  }
  if (auto s = RequireNonNegative("min_delay_ms", f.min_delay_ms); !s.ok()) return s;
  if (auto s = RequireNonNegative("max_delay_ms", f.max_delay_ms); !s.ok()) return s;
  if (f.min_delay_ms > f.max_delay_ms) {
    return absl::InvalidArgumentError("min_delay_ms (" + std::to_string(f.min_delay_ms) +
                                      ") must not exceed max_delay_ms (" +
                                      std::to_string(f.max_delay_ms) + ")");
  }
  if (auto s = RequireNonNegative("late_capture_delay_ms", f.late_capture_delay_ms); !s.ok()) {
    return s;
  }
  return RequireNonNegative("callback_target_down_retry_ms", f.callback_target_down_retry_ms);
}

bool DecideDecline(const FaultConfig& faults, RandomSource& rng) {
  return Chance(rng, faults.fail_rate);
}

bool DecideDoubleCharge(const FaultConfig& faults, RandomSource& rng) {
  return Chance(rng, faults.double_charge_rate);
}

int64_t DecideCapturedAmount(const FaultConfig& faults, int64_t asked, RandomSource& rng) {
  const bool wrong = Chance(rng, faults.wrong_amount_rate);
  const bool under = Chance(rng, 0.5);
  if (!wrong) return asked;
  const int64_t delta = std::max<int64_t>(1, asked / 4);
  // An amount of 1 cannot be captured short, nor one near the limit over.
  const bool can_over = asked <= std::numeric_limits<int64_t>::max() - delta;
  return (under && asked > delta) || !can_over ? asked - delta : asked + delta;
}

int64_t DecideLateCapture(const FaultConfig& faults, RandomSource& rng) {
  return Chance(rng, faults.late_capture_rate) ? faults.late_capture_delay_ms : 0;
}

CallbackPlan PlanCallback(const FaultConfig& faults, RandomSource& rng) {
  CallbackPlan plan;
  plan.delay_ms = UniformInt(rng, faults.min_delay_ms, faults.max_delay_ms);
  plan.dropped = Chance(rng, faults.drop_callback_rate);
  const bool duplicate = Chance(rng, faults.duplicate_callback_rate);
  const auto copies = static_cast<int32_t>(UniformInt(rng, 1, std::max(1, faults.max_duplicates)));
  plan.extra_copies = duplicate ? copies : 0;
  plan.replay = Chance(rng, faults.replay_rate);
  const bool forge = Chance(rng, faults.forge_rate);
  const auto kind = static_cast<ForgeKind>(UniformInt(rng, 0, 2));
  if (forge) plan.forge = kind;
  return plan;
}

DebitDecisions DecideDebit(const FaultConfig& faults, bool first_call, int64_t asked_minor,
                           RandomSource& rng) {
  DebitDecisions d;
  d.first_call = first_call;
  d.captured_minor = asked_minor;
  if (first_call) {
    d.declined = DecideDecline(faults, rng);
    // A declined debit moves nothing, so neither wrong-amount nor late.
    if (!d.declined) {
      d.captured_minor = DecideCapturedAmount(faults, asked_minor, rng);
      d.late_ms = DecideLateCapture(faults, rng);
    }
    d.callbacks.push_back(PlanCallback(faults, rng));
    if (d.declined) return d;
  }
  d.double_charge = DecideDoubleCharge(faults, rng);
  if (d.double_charge) d.callbacks.push_back(PlanCallback(faults, rng));
  return d;
}

namespace {

void DescribeCallback(const CallbackPlan& plan, std::string& out) {
  out += "callback " + std::to_string(plan.delay_ms) + " ms";
  if (plan.dropped) out += " dropped";
  if (plan.extra_copies > 0) out += " x" + std::to_string(plan.extra_copies);
  if (plan.replay) out += " replay";
  if (plan.forge) out += " forge=" + std::string(ToString(*plan.forge));
}

}  // namespace

std::string DescribeDecisions(const DebitDecisions& d, int64_t asked_minor) {
  std::string out = d.first_call ? "first:" : "repeat:";
  size_t next_callback = 0;
  if (d.first_call) {
    if (d.declined) {
      out += " declined";
    } else {
      if (d.captured_minor != asked_minor) {
        const int64_t diff = d.captured_minor - asked_minor;
        out += " captured " + std::string(diff > 0 ? "+" : "") + std::to_string(diff);
      } else {
        out += " captured as asked";
      }
      if (d.late_ms > 0) out += ", late " + std::to_string(d.late_ms) + " ms";
    }
    out += "; ";
    if (next_callback < d.callbacks.size()) DescribeCallback(d.callbacks[next_callback++], out);
  }
  if (d.double_charge) {
    out += d.first_call ? "; double charge; " : " double charge; ";
    if (next_callback < d.callbacks.size()) DescribeCallback(d.callbacks[next_callback++], out);
  } else if (!d.first_call) {
    out += " nothing";
  }
  return out;
}

}  // namespace payonce::provider
