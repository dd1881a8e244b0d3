#include "services/order/domain/order.h"

#include <string>

#include "services/common/domain/money.h"
#include "services/common/domain/text.h"

namespace payonce::order {

std::string_view ToString(OrderStatus status) {
  switch (status) {
    case OrderStatus::kPendingPayment:
      return "PENDING_PAYMENT";
    case OrderStatus::kPaid:
      return "PAID";
    case OrderStatus::kCancelled:
      return "CANCELLED";
  }
  return "PENDING_PAYMENT";
}

std::optional<OrderStatus> ParseOrderStatus(std::string_view text) {
  if (text == "PENDING_PAYMENT") return OrderStatus::kPendingPayment;
  if (text == "PAID") return OrderStatus::kPaid;
  if (text == "CANCELLED") return OrderStatus::kCancelled;
  return std::nullopt;
}

std::string_view ToString(ApplyOutcome outcome) {
  switch (outcome) {
    case ApplyOutcome::kApplied:
      return "APPLIED";
    case ApplyOutcome::kDuplicate:
      return "DUPLICATE";
    case ApplyOutcome::kIgnored:
      return "IGNORED";
    case ApplyOutcome::kRefundRequired:
      return "REFUND_REQUIRED";
  }
  return "IGNORED";
}

absl::Status ValidateOrderRequest(const OrderRequest& request) {
  if (auto s = RequireText("request_id", request.request_id); !s.ok()) return s;
  if (auto s = RequireText("customer_id", request.customer_id); !s.ok()) return s;
  if (auto s = ValidateMoney(request.amount_minor, request.currency); !s.ok()) return s;
  if (request.description.size() > kMaxDescriptionLength) {
    return absl::InvalidArgumentError("description must be at most " +
                                      std::to_string(kMaxDescriptionLength) + " characters");
  }
  return absl::OkStatus();
}

bool SameRequest(const Order& existing, const OrderRequest& request) {
  return existing.request_id == request.request_id && existing.customer_id == request.customer_id &&
         existing.amount_minor == request.amount_minor && existing.currency == request.currency &&
         existing.description == request.description;
}

absl::Status CheckReplay(const Order& existing, const OrderRequest& request) {
  if (SameRequest(existing, request)) return absl::OkStatus();
  return absl::FailedPreconditionError("request_id \"" + request.request_id +
                                       "\" was already used for an order with different fields");
}

absl::StatusOr<CancelAction> DecideCancel(OrderStatus current) {
  switch (current) {
    case OrderStatus::kPendingPayment:
      return CancelAction::kCancel;
    case OrderStatus::kCancelled:
      return CancelAction::kAlreadyCancelled;
    case OrderStatus::kPaid:
      return absl::FailedPreconditionError("order is PAID and cannot be cancelled; refund instead");
  }
  return absl::InternalError("unknown order status");
}

ApplyDecision DecidePaymentEvent(const Order& order, const PaymentEventFacts& event) {
  if (event.result == PaymentResult::kRefunded && !event.extra_capture_refund &&
      order.status == OrderStatus::kPaid && order.paid_payment_id == event.payment_id) {
    // The money that paid the order went back: it can no longer be PAID.
    return {ApplyOutcome::kApplied, OrderStatus::kCancelled,
            "payment " + event.payment_id + " that paid the order was refunded"};
  }
  if (event.result != PaymentResult::kSucceeded) {
    return {ApplyOutcome::kIgnored, std::nullopt,
            event.result == PaymentResult::kFailed ? "payment failed; order still payable"
                                                   : "payment refunded; order unchanged"};
  }
  if (event.amount_minor != order.amount_minor || event.currency != order.currency) {
    return {ApplyOutcome::kRefundRequired, std::nullopt,
            "captured " + std::to_string(event.amount_minor) + " " + event.currency +
                " but the order is " + std::to_string(order.amount_minor) + " " + order.currency};
  }
  switch (order.status) {
    case OrderStatus::kPendingPayment:
      return {ApplyOutcome::kApplied, OrderStatus::kPaid, "paid"};
    case OrderStatus::kPaid:
      if (order.paid_payment_id == event.payment_id) {
        return {ApplyOutcome::kIgnored, std::nullopt, "already paid by this payment"};
      }
      return {ApplyOutcome::kRefundRequired, std::nullopt,
              "second successful payment; order was paid by " + order.paid_payment_id};
    case OrderStatus::kCancelled:
      return {ApplyOutcome::kRefundRequired, std::nullopt,
              "payment succeeded for a cancelled order"};
  }
  return {ApplyOutcome::kIgnored, std::nullopt, "unknown order status"};
}

}  // namespace payonce::order
