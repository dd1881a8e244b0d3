#include "services/provider_sandbox/app/callback_dispatcher.h"

#include <algorithm>
#include <optional>
#include <utility>
#include <vector>

namespace payonce::provider {
namespace {

enum class CopyKind { kGenuine, kForged };

}  // namespace

absl::StatusOr<ClaimedBatch> CallbackDispatcher::Claim(int limit) {
  auto batch = queue_.ClaimDue(limit, clock_.NowUnixMs(), options_.lease_ms, nonces_.NewId());
  if (!batch.ok()) return batch.status();
  std::sort(
      batch->callbacks.begin(), batch->callbacks.end(),
      [](const ClaimedCallback& a, const ClaimedCallback& b) { return a.due_at_ms < b.due_at_ms; });
  if (batch->faults.reorder) Shuffle(batch->callbacks, rng_);
  return batch;
}

absl::Status CallbackDispatcher::Deliver(const ClaimedCallback& callback,
                                         const FaultConfig& faults) {
  const bool first_attempt = callback.attempts == 0;
  const int64_t sent_at = clock_.NowUnixMs();
  std::vector<SignedCallback> messages;
  std::vector<CopyKind> kinds;
  const int copies = 1 + (first_attempt ? callback.extra_copies : 0);
  for (int i = 0; i < copies; ++i) {
    messages.push_back(
        SignedDelivery(callback.event, options_.signing_secret, sent_at, nonces_.NewId()));
    kinds.push_back(CopyKind::kGenuine);
  }
  if (callback.forge) {
    messages.push_back(ForgedDelivery(callback.event, options_.signing_secret, sent_at,
                                      nonces_.NewId(), *callback.forge));
    kinds.push_back(CopyKind::kForged);
  }

  const std::vector<absl::Status> answers = sender_.SendAll(messages);

  CallbackTally tally;
  DeliveryRecord record;
  std::optional<size_t> acked;
  bool target_down = true;
  for (size_t i = 0; i < messages.size(); ++i) {
    const absl::Status& answer =
        i < answers.size() ? answers[i] : absl::InternalError("no answer recorded");
    if (kinds[i] == CopyKind::kForged) {
      ++tally.forged;
      if (answer.ok()) {
        ++tally.forged_accepted;
        log_.Error("forged callback was acknowledged",
                   {{"event_id", callback.event.event_id},
                    {"forge", std::string(ToString(*callback.forge))}});
      }
      continue;
    }
    switch (ClassifyDelivery(answer.code())) {
      case DeliveryResult::kAcknowledged:
        ++tally.acknowledged;
        if (!acked) acked = i;
        break;
      case DeliveryResult::kRejected:
        ++tally.rejected;
        break;
      case DeliveryResult::kUnreachable:
        ++tally.unreachable;
        break;
    }
    if (answer.code() != absl::StatusCode::kUnavailable) target_down = false;
    if (!answer.ok()) record.last_error = answer.ToString();
  }

  if (acked && callback.replay) {
    // The exact message that was acknowledged: same nonce, timestamp and
    // signature. The payment service must refuse it as a replayed nonce.
    const auto replay_answers = sender_.SendAll({messages[*acked]});
    ++tally.replayed;
    if (!replay_answers.empty() && replay_answers.front().ok()) {
      ++tally.replayed_accepted;
      log_.Error("replayed callback was acknowledged", {{"event_id", callback.event.event_id}});
    }
    record.replayed = true;
  }

  record.event_id = callback.event.event_id;
  record.claim_id = callback.claim_id;
  record.sent_at_ms = sent_at;
  record.attempts = callback.attempts + 1;
  record.first_attempt_at_ms = callback.first_attempt_at_ms.value_or(sent_at);
  record.duplicates_sent = first_attempt && callback.extra_copies > 0;
  record.forged_sent = callback.forge.has_value();
  record.last_message = messages[acked.value_or(0)];
  record.acknowledged = acked.has_value();
  if (acked) {
    record.last_result = std::string(ToString(DeliveryResult::kAcknowledged));
    record.last_error.clear();
  } else {
    const DeliveryResult result =
        ClassifyDelivery(answers.empty() ? absl::StatusCode::kInternal : answers.front().code());
    record.last_result = std::string(ToString(result));
    record.next_attempt_at_ms = NextAttemptAtMs(
        options_.schedule, {record.attempts, record.first_attempt_at_ms, clock_.NowUnixMs(),
                            target_down, faults.callback_target_down_retry_ms});
    if (!record.next_attempt_at_ms) {
      ++tally.given_up;
      log_.Warn("callback given up", {{"event_id", record.event_id},
                                      {"payment_id", callback.event.merchant_payment_id},
                                      {"attempts", record.attempts},
                                      {"last_error", record.last_error}});
    }
  }

  // Metrics count what went on the wire, recorded or not.
  tally.ForEach([this](std::string_view name, int64_t n) {
    if (n > 0 && (name == "acknowledged" || name == "rejected" || name == "unreachable" ||
                  name == "forged" || name == "replayed")) {
      metrics_.CallbacksSent(name, n);
    }
  });
  if (auto s = queue_.RecordDelivery(record, tally); !s.ok()) {
    // The lease runs out and the callback is sent again: at least once.
    log_.Warn("cannot record callback delivery",
              {{"event_id", record.event_id}, {"error", std::string(s.message())}});
    return s;
  }
  log_.Debug("callback delivered", {{"event_id", record.event_id},
                                    {"payment_id", callback.event.merchant_payment_id},
                                    {"attempt", record.attempts},
                                    {"result", record.last_result},
                                    {"copies", copies},
                                    {"error", record.last_error}});
  return absl::OkStatus();
}

absl::StatusOr<int> CallbackDispatcher::RunOnce(int limit) {
  auto batch = Claim(limit);
  if (!batch.ok()) return batch.status();
  for (const auto& callback : batch->callbacks) {
    // A failed record is logged; the lease expiry re-sends that callback.
    (void)Deliver(callback, batch->faults);
  }
  return static_cast<int>(batch->callbacks.size());
}

}  // namespace payonce::provider
