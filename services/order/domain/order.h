// The order state machine and its validation rules. Pure: no I/O.
#pragma once

#include <cstdint>
#include <optional>
#include <string>
#include <string_view>

#include "absl/status/status.h"
#include "absl/status/statusor.h"
#include "services/common/domain/text.h"

namespace payonce::order {

enum class OrderStatus { kPendingPayment, kPaid, kCancelled };

std::string_view ToString(OrderStatus status);
std::optional<OrderStatus> ParseOrderStatus(std::string_view text);

// What a client asks for in CreateOrder.
struct OrderRequest {
  std::string request_id;
  std::string customer_id;
  int64_t amount_minor = 0;
  std::string currency;
  std::string description;
};

struct Order {
  std::string order_id;
  std::string request_id;
  std::string customer_id;
  int64_t amount_minor = 0;
  std::string currency;
  std::string description;
  OrderStatus status = OrderStatus::kPendingPayment;
  std::string paid_payment_id;
  std::string cancel_reason;
  int64_t created_at_us = 0;
  int64_t updated_at_us = 0;
  bool operator==(const Order&) const = default;
};

inline constexpr size_t kMaxDescriptionLength = 1000;
inline constexpr size_t kMaxReasonLength = 1000;

// INVALID_ARGUMENT naming the first bad field, OK otherwise.
absl::Status ValidateOrderRequest(const OrderRequest& request);

// Whether a stored order answers `request` (same request_id and fields).
bool SameRequest(const Order& existing, const OrderRequest& request);

// The outcome of CreateOrder when `request.request_id` already has an order:
// the same order if the fields match, FAILED_PRECONDITION otherwise.
absl::Status CheckReplay(const Order& existing, const OrderRequest& request);

// What CancelOrder should do from `current`.
enum class CancelAction { kCancel, kAlreadyCancelled };
// FAILED_PRECONDITION for a PAID order.
absl::StatusOr<CancelAction> DecideCancel(OrderStatus current);

// The payment outcome a PaymentEvent reports.
enum class PaymentResult { kSucceeded, kFailed, kRefunded };

// What ApplyPaymentEvent should do with a (not duplicate) event.
enum class ApplyOutcome { kApplied, kDuplicate, kIgnored, kRefundRequired };
std::string_view ToString(ApplyOutcome outcome);

struct PaymentEventFacts {
  std::string payment_id;
  PaymentResult result = PaymentResult::kSucceeded;
  int64_t amount_minor = 0;
  std::string currency;
  // kRefunded only: an extra capture of the payment was refunded, not the
  // payment's own money.
  bool extra_capture_refund = false;
};

struct ApplyDecision {
  ApplyOutcome outcome = ApplyOutcome::kIgnored;
  // Set when the order changes state.
  std::optional<OrderStatus> new_status;
  // Why, for the timeline.
  std::string detail;
};

// The order state machine for payment events:
//   PENDING_PAYMENT + success (matching amount) -> PAID (APPLIED)
//   PAID by the same payment + success           -> IGNORED
//   PAID by another payment + success            -> REFUND_REQUIRED
//   CANCELLED + success                          -> REFUND_REQUIRED
//   success with another amount or currency      -> REFUND_REQUIRED
//   PAID + refund of the paying payment          -> CANCELLED (APPLIED): a
//                                                   PAID order always holds
//                                                   its money
//   any other failure or refund                  -> IGNORED (never moves back)
ApplyDecision DecidePaymentEvent(const Order& order, const PaymentEventFacts& event);

}  // namespace payonce::order
