#include "services/payment/domain/payment.h"

namespace payonce::payment {

std::string_view ToString(PaymentStatus status) {
  switch (status) {
    case PaymentStatus::kPending: return "PENDING";
    case PaymentStatus::kSucceeded: return "SUCCEEDED";
    case PaymentStatus::kFailed: return "FAILED";
    case PaymentStatus::kRefunded: return "REFUNDED";
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

}  // namespace payonce::payment
