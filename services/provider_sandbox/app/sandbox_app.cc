#include "services/provider_sandbox/app/sandbox_app.h"

#include <vector>

namespace payonce::provider {

NewCapture SandboxApp::MakeCapture(const DebitRequest& request, CaptureStatus status,
                                   int64_t amount_minor, int64_t captured_at_ms,
                                   const CallbackPlan& callback) {
  NewCapture out;
  out.capture.provider_txn_id = ids_.NewId();
  out.capture.merchant_payment_id = request.merchant_payment_id;
  out.capture.status = status;
  out.capture.amount_minor = amount_minor;
  out.capture.currency = request.currency;
  out.capture.captured_at_ms = captured_at_ms;
  out.callback.event_id = ids_.NewId();
  out.callback.status = status;
  out.callback.plan = callback;
  out.callback.first_attempt_at_ms = captured_at_ms + callback.delay_ms;
  return out;
}

absl::StatusOr<DebitAnswer> SandboxApp::Debit(const DebitRequest& request) {
  if (auto s = ValidateDebitRequest(request); !s.ok()) return s;
  const int64_t now_ms = clock_.NowUnixMs();
  auto plan = store_.RecordDebit(
      request, now_ms, [&](const DebitSnapshot& snapshot) -> absl::StatusOr<DebitPlan> {
        if (!snapshot.first_call) {
          if (auto s = CheckRepeatDebit(snapshot.debit, request); !s.ok()) return s;
          if (snapshot.captures.empty()) {
            return absl::InternalError("debit " + request.merchant_payment_id + " has no capture");
          }
        }
        SeededRandomSource rng(DrawSeed(fault_seed_, snapshot.draw));
        const DebitDecisions d =
            DecideDebit(snapshot.faults, snapshot.first_call, request.amount_minor, rng);
        DebitPlan plan;
        plan.decisions = DescribeDecisions(d, request.amount_minor);
        size_t next_callback = 0;
        // A late capture (first call) and its double charge appear together;
        // a repeat call's double charge is there at once.
        const int64_t captured_at_ms = now_ms + d.late_ms;
        if (d.first_call) {
          plan.new_captures.push_back(
              MakeCapture(request, d.declined ? CaptureStatus::kFailed : CaptureStatus::kSucceeded,
                          d.captured_minor, captured_at_ms, d.callbacks[next_callback++]));
        }
        // The bank's anti-replay failure: one debit, two separate captures,
        // each called back. A first call's answer names the first.
        if (d.double_charge) {
          plan.new_captures.push_back(MakeCapture(request, CaptureStatus::kSucceeded,
                                                  request.amount_minor, captured_at_ms,
                                                  d.callbacks[next_callback++]));
        }
        const Capture& answer = !snapshot.first_call && plan.new_captures.empty()
                                    ? snapshot.captures.front()
                                    : (snapshot.first_call ? plan.new_captures.front().capture
                                                           : plan.new_captures.back().capture);
        plan.answer_txn_id = answer.provider_txn_id;
        // A late capture is not there yet: the caller learns nothing.
        plan.answer_unknown = answer.captured_at_ms > now_ms;
        // The debit itself succeeded even if the capture was refunded since.
        plan.answer_status =
            MovedMoney(answer) ? CaptureStatus::kSucceeded : CaptureStatus::kFailed;
        return plan;
      });
  if (!plan.ok()) return plan.status();

  metrics_.DebitRecorded();
  int64_t moved = 0;
  int64_t dropped = 0;
  for (const auto& c : plan->new_captures) {
    if (MovedMoney(c.capture)) ++moved;
    if (c.callback.plan.dropped) ++dropped;
  }
  if (moved > 0) metrics_.CapturesMade(moved);
  if (dropped > 0) metrics_.CallbacksSent("dropped", dropped);
  if (plan->answer_unknown) {
    return absl::UnavailableError("the acquirer did not answer in time; outcome unknown");
  }
  return DebitAnswer{plan->answer_txn_id, plan->answer_status,
                     static_cast<int>(plan->new_captures.size())};
}

absl::StatusOr<std::vector<Capture>> SandboxApp::QueryTransaction(
    const std::string& merchant_payment_id) {
  if (auto s = RequireText("merchant_payment_id", merchant_payment_id); !s.ok()) return s;
  auto captures = store_.CapturesOf(merchant_payment_id);
  if (!captures.ok()) return captures;
  // A late capture is invisible until its time.
  const int64_t now_ms = clock_.NowUnixMs();
  std::erase_if(*captures, [now_ms](const Capture& c) { return c.captured_at_ms > now_ms; });
  return captures;
}

absl::StatusOr<Refund> SandboxApp::RefundCapture(const RefundRequest& request) {
  if (auto s = ValidateRefundRequest(request); !s.ok()) return s;
  Refund candidate;
  candidate.refund_id = ids_.NewId();
  candidate.idempotency_key = request.idempotency_key;
  candidate.provider_txn_id = request.provider_txn_id;
  candidate.refunded_at_ms = clock_.NowUnixMs();
  auto refund = store_.RecordRefund(request, candidate);
  if (refund.ok() && refund->refund_id == candidate.refund_id) metrics_.RefundMade();
  return refund;
}

absl::StatusOr<FaultConfig> SandboxApp::SetFaults(const FaultConfig& faults) {
  if (auto s = ValidateFaultConfig(faults); !s.ok()) return s;
  return store_.SaveFaults(faults);
}

absl::StatusOr<ProviderStats> SandboxApp::Stats(
    const std::vector<std::string>& merchant_payment_ids) {
  for (const auto& id : merchant_payment_ids) {
    if (auto s = RequireText("merchant_payment_ids", id); !s.ok()) return s;
  }
  return store_.Stats(merchant_payment_ids);
}

absl::StatusOr<std::vector<SettlementLine>> SandboxApp::Settlement(const SettlementWindow& window) {
  if (window.from_us && window.to_us && *window.from_us > *window.to_us) {
    return absl::InvalidArgumentError("from must not be after to");
  }
  return store_.Settlement(window);
}

}  // namespace payonce::provider
