#include "services/payment/domain/payment.h"

#include <openssl/sha.h>

#include <algorithm>

#include "services/common/domain/money.h"
#include "services/common/domain/text.h"

namespace payonce::payment {
namespace {

std::string Sha256Hex(const std::string& data) {
  unsigned char digest[SHA256_DIGEST_LENGTH];
  SHA256(reinterpret_cast<const unsigned char*>(data.data()), data.size(), digest);
  static constexpr char kHex[] = "0123456789abcdef";
  std::string out;
  for (unsigned char b : digest) {
    out += kHex[b >> 4];
    out += kHex[b & 0x0F];
  }
  return out;
}

}  // namespace

std::string_view ToString(PaymentStatus status) {
  switch (status) {
    case PaymentStatus::kPending:
      return "PENDING";
    case PaymentStatus::kSucceeded:
      return "SUCCEEDED";
    case PaymentStatus::kFailed:
      return "FAILED";
    case PaymentStatus::kRefunded:
      return "REFUNDED";
  }
  return "PENDING";
}

std::optional<PaymentStatus> ParsePaymentStatus(std::string_view text) {
  if (text == "PENDING") return PaymentStatus::kPending;
  if (text == "SUCCEEDED") return PaymentStatus::kSucceeded;
  if (text == "FAILED") return PaymentStatus::kFailed;
  if (text == "REFUNDED") return PaymentStatus::kRefunded;
  return std::nullopt;
}

std::string_view EvidenceSource(EvidenceRank rank) {
  switch (rank) {
    case EvidenceRank::kNone:
      return "api";
    case EvidenceRank::kCallback:
      return "callback";
    case EvidenceRank::kQuery:
      return "query";
    case EvidenceRank::kSettlement:
      return "settlement";
  }
  return "api";
}

Transition DecideTransition(PaymentStatus current, EvidenceRank current_rank,
                            const CaptureEvidence& evidence) {
  const bool success = evidence.reported == PaymentStatus::kSucceeded;
  switch (current) {
    case PaymentStatus::kPending:
      if (success)
        return {TransitionKind::kApply, PaymentStatus::kSucceeded, false, true, "captured"};
      return {TransitionKind::kApply, PaymentStatus::kFailed, false, false,
              evidence.failure_reason.empty() ? "declined" : evidence.failure_reason};
    case PaymentStatus::kSucceeded:
      if (success) return {TransitionKind::kDuplicate, current, false, true, "already succeeded"};
      return {TransitionKind::kIgnoredStale, current, false, true,
              "a succeeded payment never becomes failed"};
    case PaymentStatus::kFailed:
      if (!success) return {TransitionKind::kDuplicate, current, false, false, "already failed"};
      if (static_cast<int>(evidence.rank) < static_cast<int>(current_rank)) {
        return {TransitionKind::kIgnoredStale, current, false, false,
                "success reported by weaker evidence than the failure"};
      }
      // Money moved after all. Recorded, flagged, and reconciled; it does not
      // become live again, so it never blocks (or is blocked by) a newer
      // attempt of the same order.
      return {TransitionKind::kApply, PaymentStatus::kSucceeded, true, false, "late success"};
    case PaymentStatus::kRefunded:
      if (success) return {TransitionKind::kDuplicate, current, false, false, "already refunded"};
      return {TransitionKind::kIgnoredStale, current, false, false,
              "a refunded payment never becomes failed"};
  }
  return {TransitionKind::kIgnoredStale, current, false, false, "unknown state"};
}

EvidencePlan PlanEvidence(const LedgerPayment& current, const CaptureEvidence& evidence,
                          const std::string& evidence_ref) {
  const Payment& was = current.payment;
  EvidencePlan plan;
  plan.transition = DecideTransition(was.status, current.rank, evidence);
  plan.after = current;
  const Transition& t = plan.transition;
  const std::string source(EvidenceSource(evidence.rank));
  const std::string old_status(ToString(was.status));
  // A success naming another capture than the recorded one: money moved
  // twice, whichever of the two was reported first.
  const bool second_capture = evidence.reported == PaymentStatus::kSucceeded &&
                              !was.provider_txn_id.empty() && !evidence.provider_txn_id.empty() &&
                              was.provider_txn_id != evidence.provider_txn_id;
  const AnomalyEntry duplicate_capture{"duplicate_capture", evidence.provider_txn_id,
                                       "second capture " + evidence.provider_txn_id + " besides " +
                                           was.provider_txn_id + " (" + source + ")"};
  switch (t.kind) {
    case TransitionKind::kApply: {
      Payment& now = plan.after.payment;
      now.status = t.new_status;
      if (now.provider_txn_id.empty()) now.provider_txn_id = evidence.provider_txn_id;
      now.failure_reason = t.new_status == PaymentStatus::kFailed ? t.reason : "";
      now.late_success = was.late_success || t.late_success;
      // Absence of evidence keeps the rank it found: any report outranks it.
      plan.after.rank = evidence.absence ? current.rank : std::max(current.rank, evidence.rank);
      plan.emits_event = true;
      plan.live = t.live;
      plan.history = HistoryEntry{source, old_status, std::string(ToString(t.new_status)),
                                  evidence_ref, t.reason};
      if (t.late_success) {
        plan.anomalies.push_back(
            AnomalyEntry{"late_success", evidence.provider_txn_id,
                         "success reported by " + source + " after the payment had failed"});
      }
      if (second_capture) plan.anomalies.push_back(duplicate_capture);
      break;
    }
    case TransitionKind::kDuplicate:
      if (second_capture) {
        plan.anomalies.push_back(duplicate_capture);
        plan.history = HistoryEntry{source, old_status, old_status, evidence_ref,
                                    "second capture " + evidence.provider_txn_id + " reported"};
      }
      break;
    case TransitionKind::kIgnoredStale:
      plan.history = HistoryEntry{
          source, old_status, old_status, evidence_ref,
          "ignored: " + t.reason + " (reported " + std::string(ToString(evidence.reported)) + ")"};
      break;
  }
  return plan;
}

absl::Status CheckRefundable(PaymentStatus current) {
  if (current == PaymentStatus::kSucceeded) return absl::OkStatus();
  return absl::FailedPreconditionError("only a SUCCEEDED payment can be refunded; it is " +
                                       std::string(ToString(current)));
}

absl::Status CheckOrderAllowsRefund(OrderStanding standing) {
  switch (standing) {
    case OrderStanding::kPaidByThisPayment:
    case OrderStanding::kPaidByAnother:
    case OrderStanding::kCancelled:
      return absl::OkStatus();
    case OrderStanding::kAwaitingPayment:
      return absl::FailedPreconditionError(
          "the order has not recorded this payment yet; cancel the order instead (its money is "
          "then refunded), or retry once the order is PAID");
    case OrderStanding::kOther:
      break;
  }
  return absl::FailedPreconditionError("the order is in an unknown state");
}

IdempotencyAction DecideIdempotency(const std::optional<IdempotencyRecord>& existing,
                                    const std::string& fingerprint,
                                    std::chrono::system_clock::time_point now) {
  if (!existing) return IdempotencyAction::kProceed;
  if (existing->fingerprint != fingerprint) return IdempotencyAction::kMismatch;
  if (existing->done) return IdempotencyAction::kReplay;
  if (existing->locked_until > now) return IdempotencyAction::kInFlight;
  return IdempotencyAction::kTakeOver;
}

std::string CreatePaymentFingerprint(const std::string& order_id, int64_t amount_minor,
                                     const std::string& currency) {
  return Sha256Hex("create_payment\n" + order_id + "\n" + std::to_string(amount_minor) + "\n" +
                   currency);
}

std::string RefundFingerprint(const std::string& payment_id, const std::string& reason) {
  return Sha256Hex("refund_payment\n" + payment_id + "\n" + reason);
}

absl::Status ValidateCreatePayment(const std::string& idempotency_key, const std::string& order_id,
                                   int64_t amount_minor, const std::string& currency) {
  if (auto s = RequireText("idempotency_key", idempotency_key); !s.ok()) return s;
  if (auto s = RequireText("order_id", order_id); !s.ok()) return s;
  return ValidateMoney(amount_minor, currency);
}

absl::Status ValidateCallbackShape(const CallbackMessage& m) {
  for (const auto& [field, value] :
       {std::pair<const char*, const std::string*>{"provider", &m.provider},
        {"event_id", &m.event_id},
        {"payment_id", &m.payment_id},
        {"provider_txn_id", &m.provider_txn_id},
        {"nonce", &m.nonce}}) {
    if (auto s = RequireText(field, *value); !s.ok()) return s;
  }
  if (m.signature.size() != 64) {
    return absl::InvalidArgumentError("signature must be 64 lower-case hex characters");
  }
  if (!m.status ||
      (*m.status != PaymentStatus::kSucceeded && *m.status != PaymentStatus::kFailed)) {
    return absl::InvalidArgumentError(
        "status must be PAYMENT_STATUS_SUCCEEDED or PAYMENT_STATUS_FAILED");
  }
  if (auto s = ValidateMoney(m.amount_minor, m.currency); !s.ok()) return s;
  if (m.occurred_at_unix_ms <= 0)
    return absl::InvalidArgumentError("occurred_at_unix_ms is required");
  if (m.occurred_at_unix_ms > kLatestUnixMs) {
    return absl::InvalidArgumentError("occurred_at_unix_ms is past the year 9999");
  }
  if (m.timestamp_unix_ms <= 0) return absl::InvalidArgumentError("timestamp_unix_ms is required");
  return absl::OkStatus();
}

absl::Status CheckCallbackWindow(const CallbackMessage& m, int64_t now_unix_ms) {
  const int64_t skew = m.timestamp_unix_ms - now_unix_ms;
  if (skew > kCallbackWindow.count() || -skew > kCallbackWindow.count()) {
    return absl::UnauthenticatedError("callback timestamp is outside the 300 s window");
  }
  return absl::OkStatus();
}

}  // namespace payonce::payment
