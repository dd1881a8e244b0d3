#include "services/payment/domain/callback_plan.h"

namespace payonce::payment {
namespace {

CaptureEvidence CallbackEvidence(const CallbackMessage& m) {
  CaptureEvidence evidence;
  evidence.reported = *m.status;
  evidence.rank = EvidenceRank::kCallback;
  evidence.provider_txn_id = m.provider_txn_id;
  evidence.failure_reason = *m.status == PaymentStatus::kFailed ? "declined_by_provider" : "";
  return evidence;
}

CallbackEffect EffectOf(TransitionKind kind) {
  switch (kind) {
    case TransitionKind::kApply:
      return CallbackEffect::kApplied;
    case TransitionKind::kDuplicate:
      return CallbackEffect::kDuplicate;
    case TransitionKind::kIgnoredStale:
      return CallbackEffect::kIgnoredStale;
  }
  return CallbackEffect::kDuplicate;
}

// Names the event and both sides, so that one row per capture and
// disagreement is enough (index anomalies_callback_mismatch_once).
std::string CallbackMismatchDetail(const CallbackMessage& m, const Payment& current) {
  return "callback " + m.event_id + " (capture " + m.provider_txn_id + ") from " + m.provider +
         " reports " + std::to_string(m.amount_minor) + " " + m.currency + "; payment is " +
         std::to_string(current.amount_minor) + " " + current.currency + " with " +
         current.provider;
}

}  // namespace

const char* RecordedOutcomeName(CallbackEffect effect) {
  switch (effect) {
    case CallbackEffect::kApplied:
      return "APPLIED";
    case CallbackEffect::kDuplicate:
      return "DUPLICATE";
    case CallbackEffect::kIgnoredStale:
      return "IGNORED_STALE";
    default:
      return "REJECTED";
  }
}

bool CallbackMismatches(const CallbackMessage& m, const Payment& payment) {
  return m.amount_minor != payment.amount_minor || m.currency != payment.currency ||
         m.provider != payment.provider;
}

CallbacksPlan PlanCallbacks(const std::vector<CallbackMessage>& callbacks,
                            const std::vector<std::string>& outbox_event_ids,
                            CallbackBatchFacts facts) {
  CallbacksPlan plan;
  plan.results.resize(callbacks.size());
  for (size_t i = 0; i < callbacks.size(); ++i) {
    const CallbackMessage& m = callbacks[i];
    CallbackResult& result = plan.results[i];
    if (i < facts.replayed.size() && facts.replayed[i]) {
      result.effect = CallbackEffect::kReplayedNonce;
      continue;
    }
    auto found = facts.payments.find(m.payment_id);
    if (found == facts.payments.end()) {
      result.effect = CallbackEffect::kNotFound;
      continue;
    }
    LedgerPayment& ledger = found->second;
    const Payment current = ledger.payment;
    result.payment = current;
    if (CallbackMismatches(m, current)) {
      plan.anomalies.push_back({"callback_amount_mismatch", current.payment_id, current.order_id,
                                m.provider_txn_id, CallbackMismatchDetail(m, current)});
      result.effect = CallbackEffect::kMismatch;
      continue;
    }
    if (!facts.recorded_events.emplace(m.provider, m.event_id).second) {
      result.effect = CallbackEffect::kDuplicate;
      continue;
    }
    const EvidencePlan evidence = PlanEvidence(ledger, CallbackEvidence(m), m.event_id);
    if (evidence.emits_event) {
      ledger = evidence.after;
      plan.updates[current.payment_id] = {ledger, evidence.live};
      plan.outbox.push_back({outbox_event_ids.at(i), ledger.payment, m.occurred_at_unix_ms});
    }
    if (evidence.history) plan.history.push_back({current.payment_id, *evidence.history});
    for (const AnomalyEntry& a : evidence.anomalies) {
      plan.anomalies.push_back(
          {a.kind, current.payment_id, current.order_id, a.provider_txn_id, a.detail});
    }
    result.effect = EffectOf(evidence.transition.kind);
    result.payment = ledger.payment;
    plan.recorded.push_back({m.provider, m.event_id, m.payment_id, m.provider_txn_id,
                             std::string(ToString(*m.status)), RecordedOutcomeName(result.effect)});
  }
  return plan;
}

}  // namespace payonce::payment
