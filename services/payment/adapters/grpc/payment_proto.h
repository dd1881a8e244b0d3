// PaymentStatus <-> payonce.payment.v1.PaymentStatus, for every gRPC adapter
// of the payment service.
#pragma once

#include <optional>

#include "payonce/payment/v1/payment_types.pb.h"
#include "services/payment/domain/payment.h"

namespace payonce::payment {

v1::PaymentStatus ToProto(PaymentStatus s);

// nullopt for UNSPECIFIED and unknown values.
std::optional<PaymentStatus> FromProto(v1::PaymentStatus s);

}  // namespace payonce::payment
