// The provider callback signature of CONTRACT §4: lower-case hex of
// HMAC-SHA256(secret, canonical), canonical being the fields joined by "\n".
// Shared by the payment service (verifies) and the sandbox provider (signs).
#pragma once

#include <cstdint>
#include <string>
#include <string_view>
#include <vector>

namespace payonce {

struct CallbackFields {
  std::string provider;
  std::string event_id;
  std::string payment_id;
  std::string provider_txn_id;
  std::string status_name;  // as written in the enum, e.g. "PAYMENT_STATUS_SUCCEEDED"
  int64_t amount_minor = 0;
  std::string currency;
  int64_t occurred_at_unix_ms = 0;
  int64_t timestamp_unix_ms = 0;
  std::string nonce;
};

// "v1\nprovider\nevent_id\n...\nnonce".
std::string CanonicalCallback(const CallbackFields& f);

// Lower-case hex HMAC-SHA256 of the canonical string.
std::string SignCallback(std::string_view secret, const CallbackFields& f);

// True if `signature` matches under any of `secrets` (key rotation). Compares
// in constant time.
bool VerifyCallbackSignature(const std::vector<std::string>& secrets, const CallbackFields& f,
                             std::string_view signature);

// Splits PAYONCE_CALLBACK_SECRETS ("a,b,c"), trimming blanks and dropping
// empty items.
std::vector<std::string> ParseSecrets(std::string_view csv);

}  // namespace payonce
