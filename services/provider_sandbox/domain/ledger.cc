#include "services/provider_sandbox/domain/ledger.h"

#include "services/common/domain/text.h"

namespace payonce::provider {

std::string_view ToString(CaptureStatus status) {
  switch (status) {
    case CaptureStatus::kSucceeded:
      return "SUCCEEDED";
    case CaptureStatus::kFailed:
      return "FAILED";
    case CaptureStatus::kRefunded:
      return "REFUNDED";
  }
  return "FAILED";
}

std::optional<CaptureStatus> ParseCaptureStatus(std::string_view text) {
  if (text == "SUCCEEDED") return CaptureStatus::kSucceeded;
  if (text == "FAILED") return CaptureStatus::kFailed;
  if (text == "REFUNDED") return CaptureStatus::kRefunded;
  return std::nullopt;
}

std::string_view PaymentStatusName(CaptureStatus status) {
  switch (status) {
    case CaptureStatus::kSucceeded:
      return "PAYMENT_STATUS_SUCCEEDED";
    case CaptureStatus::kFailed:
      return "PAYMENT_STATUS_FAILED";
    case CaptureStatus::kRefunded:
      return "PAYMENT_STATUS_REFUNDED";
  }
  return "PAYMENT_STATUS_FAILED";
}

bool IsCurrencyCode(std::string_view code) {
  if (code.size() != 3) return false;
  for (char c : code) {
    if (c < 'A' || c > 'Z') return false;
  }
  return true;
}

bool MovedMoney(const Capture& capture) { return capture.status != CaptureStatus::kFailed; }

absl::Status ValidateDebitRequest(const DebitRequest& request) {
  if (auto s = RequireText("merchant_payment_id", request.merchant_payment_id); !s.ok()) return s;
  if (request.amount_minor <= 0) {
    return absl::InvalidArgumentError("amount_minor must be > 0 (integer minor units), got " +
                                      std::to_string(request.amount_minor));
  }
  if (!IsCurrencyCode(request.currency)) {
    return absl::InvalidArgumentError("currency must be three upper-case letters, got \"" +
                                      request.currency + "\"");
  }
  return absl::OkStatus();
}

absl::Status CheckRepeatDebit(const DebitRecord& existing, const DebitRequest& request) {
  if (existing.amount_minor == request.amount_minor && existing.currency == request.currency) {
    return absl::OkStatus();
  }
  return absl::FailedPreconditionError(
      "merchant_payment_id \"" + request.merchant_payment_id + "\" was debited for " +
      std::to_string(existing.amount_minor) + " " + existing.currency + ", not " +
      std::to_string(request.amount_minor) + " " + request.currency);
}

absl::Status ValidateRefundRequest(const RefundRequest& request) {
  if (auto s = RequireText("provider_txn_id", request.provider_txn_id); !s.ok()) return s;
  return RequireText("idempotency_key", request.idempotency_key);
}

absl::Status CheckRefundReplay(const Refund& existing, const RefundRequest& request) {
  if (existing.provider_txn_id == request.provider_txn_id) return absl::OkStatus();
  return absl::FailedPreconditionError("idempotency_key \"" + request.idempotency_key +
                                       "\" was already used to refund " + existing.provider_txn_id);
}

absl::StatusOr<RefundAction> DecideRefund(const Capture& capture) {
  switch (capture.status) {
    case CaptureStatus::kSucceeded:
      return RefundAction::kRefund;
    case CaptureStatus::kRefunded:
      return RefundAction::kReturnExisting;
    case CaptureStatus::kFailed:
      return absl::FailedPreconditionError("capture " + capture.provider_txn_id +
                                           " failed; there is nothing to refund");
  }
  return absl::InternalError("unknown capture status");
}

}  // namespace payonce::provider
