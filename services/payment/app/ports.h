// What the payment service needs from the outside world, as small
// interfaces. Adapters implement them (gRPC clients, Redis); tests may too.
#pragma once

#include <chrono>
#include <cstdint>
#include <optional>
#include <string>
#include <vector>

#include "absl/status/status.h"
#include "absl/status/statusor.h"
#include "services/payment/domain/payment.h"

namespace payonce::payment {

// The order as the payment service needs to see it.
struct OrderSnapshot {
  enum class Status { kPendingPayment, kPaid, kCancelled, kOther };
  std::string order_id;
  Status status = Status::kOther;
  int64_t amount_minor = 0;
  std::string currency;
  std::string paid_payment_id;  // kPaid only
};

// Reads orders from the order service. NOT_FOUND for an unknown order;
// UNAVAILABLE when the order service cannot be reached in time.
class OrderDirectory {
 public:
  virtual ~OrderDirectory() = default;
  virtual absl::StatusOr<OrderSnapshot> GetOrder(const std::string& order_id) = 0;
};

struct DebitResult {
  std::string provider_txn_id;
  PaymentStatus status = PaymentStatus::kPending;
};

struct ProviderCapture {
  std::string provider_txn_id;
  PaymentStatus status = PaymentStatus::kPending;  // kSucceeded, kFailed or kRefunded
  int64_t amount_minor = 0;
  std::string currency;
  int64_t captured_at_unix_ms = 0;
};

struct ProviderRefund {
  std::string refund_id;
  std::string provider_txn_id;
  int64_t amount_minor = 0;
  std::string currency;
};

// The payment provider (acquirer). Every call has a deadline.
class ProviderGateway {
 public:
  virtual ~ProviderGateway() = default;
  // Sends a debit with payment_id as the provider-side idempotency key.
  virtual absl::StatusOr<DebitResult> Debit(const std::string& payment_id, int64_t amount_minor,
                                            const std::string& currency) = 0;
  // Every capture the provider made for the payment (empty if it never heard
  // of it).
  virtual absl::StatusOr<std::vector<ProviderCapture>> QueryTransaction(
      const std::string& payment_id) = 0;
  // Full refund of one capture; idempotent on idempotency_key.
  virtual absl::StatusOr<ProviderRefund> Refund(const std::string& provider_txn_id,
                                                const std::string& idempotency_key) = 0;
};

// A fast, lossy key-value cache (Redis). Errors mean "unknown": callers fall
// back to PostgreSQL, never guess.
class FastCache {
 public:
  virtual ~FastCache() = default;
  // SET key value NX PX ttl: true if set, false if the key existed.
  virtual absl::StatusOr<bool> SetIfAbsent(const std::string& key, const std::string& value,
                                           std::chrono::milliseconds ttl) = 0;
  virtual absl::StatusOr<std::optional<std::string>> Get(const std::string& key) = 0;
  virtual absl::Status Set(const std::string& key, const std::string& value,
                           std::chrono::milliseconds ttl) = 0;
  virtual absl::Status Delete(const std::string& key) = 0;
};

}  // namespace payonce::payment
