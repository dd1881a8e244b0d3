// The sandbox acquirer's ledger rules: debits, captures and refunds. Pure: no
// I/O. Money is integer minor units; times are Unix milliseconds.
#pragma once

#include <cstdint>
#include <optional>
#include <string>
#include <string_view>

#include "absl/status/status.h"
#include "absl/status/statusor.h"
#include "services/common/domain/text.h"

namespace payonce::provider {

// Where a capture stands. A capture is made SUCCEEDED (money moved) or FAILED
// (declined); only a refund moves SUCCEEDED to REFUNDED.
enum class CaptureStatus { kSucceeded, kFailed, kRefunded };

// "SUCCEEDED", "FAILED", "REFUNDED" (the database spelling).
std::string_view ToString(CaptureStatus status);
std::optional<CaptureStatus> ParseCaptureStatus(std::string_view text);
// The payonce.payment.v1.PaymentStatus name, e.g. "PAYMENT_STATUS_SUCCEEDED".
std::string_view PaymentStatusName(CaptureStatus status);

// True for three upper-case ASCII letters (the shape of an ISO-4217 code).
bool IsCurrencyCode(std::string_view code);

// What a merchant asks for in Debit.
struct DebitRequest {
  std::string merchant_payment_id;
  int64_t amount_minor = 0;
  std::string currency;
};

// The stored debit of one merchant payment.
struct DebitRecord {
  std::string merchant_payment_id;
  int64_t amount_minor = 0;
  std::string currency;
  // Debit calls received for this payment, the first one included.
  int64_t debit_calls = 0;
};

// One movement of money (or a declined attempt) at the provider.
struct Capture {
  std::string provider_txn_id;
  std::string merchant_payment_id;
  CaptureStatus status = CaptureStatus::kSucceeded;
  int64_t amount_minor = 0;
  std::string currency;
  int64_t captured_at_ms = 0;
  std::optional<int64_t> refunded_at_ms;
};

// Whether a capture moved money (SUCCEEDED, or REFUNDED later).
bool MovedMoney(const Capture& capture);

// What a merchant asks for in Refund.
struct RefundRequest {
  std::string provider_txn_id;
  std::string idempotency_key;
};

// A full refund of one capture.
struct Refund {
  std::string refund_id;
  std::string idempotency_key;
  std::string provider_txn_id;
  int64_t amount_minor = 0;
  std::string currency;
  int64_t refunded_at_ms = 0;
};

// INVALID_ARGUMENT naming the first bad field: empty or over-long id,
// amount_minor <= 0, currency not three upper-case letters.
absl::Status ValidateDebitRequest(const DebitRequest& request);

// A repeated Debit must carry the first one's amount and currency, else
// FAILED_PRECONDITION.
absl::Status CheckRepeatDebit(const DebitRecord& existing, const DebitRequest& request);

// INVALID_ARGUMENT for an empty or over-long provider_txn_id or
// idempotency_key.
absl::Status ValidateRefundRequest(const RefundRequest& request);

// A refund idempotency key reused for another capture: FAILED_PRECONDITION.
absl::Status CheckRefundReplay(const Refund& existing, const RefundRequest& request);

// What Refund does with a capture (a capture is refunded at most once).
enum class RefundAction { kRefund, kReturnExisting };
// SUCCEEDED: refund it; REFUNDED: answer with its refund; FAILED:
// FAILED_PRECONDITION (no money moved).
absl::StatusOr<RefundAction> DecideRefund(const Capture& capture);

}  // namespace payonce::provider
