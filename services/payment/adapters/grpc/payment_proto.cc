#include "services/payment/adapters/grpc/payment_proto.h"

namespace payonce::payment {

v1::PaymentStatus ToProto(PaymentStatus s) {
  switch (s) {
    case PaymentStatus::kPending:
      return v1::PAYMENT_STATUS_PENDING;
    case PaymentStatus::kSucceeded:
      return v1::PAYMENT_STATUS_SUCCEEDED;
    case PaymentStatus::kFailed:
      return v1::PAYMENT_STATUS_FAILED;
    case PaymentStatus::kRefunded:
      return v1::PAYMENT_STATUS_REFUNDED;
  }
  return v1::PAYMENT_STATUS_UNSPECIFIED;
}

std::optional<PaymentStatus> FromProto(v1::PaymentStatus s) {
  switch (s) {
    case v1::PAYMENT_STATUS_PENDING:
      return PaymentStatus::kPending;
    case v1::PAYMENT_STATUS_SUCCEEDED:
      return PaymentStatus::kSucceeded;
    case v1::PAYMENT_STATUS_FAILED:
      return PaymentStatus::kFailed;
    case v1::PAYMENT_STATUS_REFUNDED:
      return PaymentStatus::kRefunded;
    default:
      return std::nullopt;
  }
}

}  // namespace payonce::payment
