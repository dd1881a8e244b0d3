// Building the signed ProviderCallback of CONTRACT §4, genuine or forged.
// Pure: the signature comes from services/common/domain/callback_signature.h.
#pragma once

#include <cstdint>
#include <optional>
#include <string>
#include <string_view>

#include "services/common/domain/callback_signature.h"
#include "services/provider_sandbox/domain/ledger.h"

namespace payonce::provider {

// What one callback notification reports; the same for every re-send.
struct CallbackEvent {
  std::string provider;
  std::string event_id;
  std::string merchant_payment_id;
  std::string provider_txn_id;
  // kSucceeded or kFailed.
  CaptureStatus status = CaptureStatus::kSucceeded;
  int64_t amount_minor = 0;
  std::string currency;
  // When the capture (or the decline) happened.
  int64_t occurred_at_unix_ms = 0;
};

// One delivery as it goes on the wire.
struct SignedCallback {
  CallbackFields fields;
  std::string signature;
};

// How a forged callback is made wrong.
enum class ForgeKind { kWrongSecret, kFlippedStatus, kAlteredAmount };
std::string_view ToString(ForgeKind kind);
std::optional<ForgeKind> ParseForgeKind(std::string_view text);

// A genuine delivery of `event`, signed at `now_unix_ms` with `secret` under a
// fresh `nonce`.
SignedCallback SignedDelivery(const CallbackEvent& event, std::string_view secret,
                              int64_t now_unix_ms, std::string nonce);

// A delivery whose signature does not match under `secret`: signed with
// another key, or altered (status flipped, amount changed) after signing.
// Fresh nonce and current timestamp, so only the signature is wrong.
SignedCallback ForgedDelivery(const CallbackEvent& event, std::string_view secret,
                              int64_t now_unix_ms, std::string nonce, ForgeKind kind);

}  // namespace payonce::provider
