// Payments: statuses and the plain records the payment service works with.
// Pure: no I/O.
#pragma once

#include <cstdint>
#include <optional>
#include <string>
#include <string_view>

namespace payonce::payment {

enum class PaymentStatus { kPending, kSucceeded, kFailed, kRefunded };

std::string_view ToString(PaymentStatus status);
std::optional<PaymentStatus> ParsePaymentStatus(std::string_view text);

struct Payment {
  std::string payment_id;
  std::string order_id;
  int64_t amount_minor = 0;
  std::string currency;
  PaymentStatus status = PaymentStatus::kPending;
  std::string provider;
  std::string provider_txn_id;
  std::string failure_reason;
  bool late_success = false;
  int64_t created_at_us = 0;
  int64_t updated_at_us = 0;
};

}  // namespace payonce::payment
