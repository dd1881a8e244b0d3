#include "services/provider_sandbox/domain/callback_message.h"

#include <utility>

namespace payonce::provider {

std::string_view ToString(ForgeKind kind) {
  switch (kind) {
    case ForgeKind::kWrongSecret:
      return "wrong_secret";
    case ForgeKind::kFlippedStatus:
      return "flipped_status";
    case ForgeKind::kAlteredAmount:
      return "altered_amount";
  }
  return "wrong_secret";
}

std::optional<ForgeKind> ParseForgeKind(std::string_view text) {
  for (auto k : {ForgeKind::kWrongSecret, ForgeKind::kFlippedStatus, ForgeKind::kAlteredAmount}) {
    if (ToString(k) == text) return k;
  }
  return std::nullopt;
}

SignedCallback SignedDelivery(const CallbackEvent& event, std::string_view secret,
                              int64_t now_unix_ms, std::string nonce) {
  SignedCallback out;
  out.fields.provider = event.provider;
  out.fields.event_id = event.event_id;
  out.fields.payment_id = event.merchant_payment_id;
  out.fields.provider_txn_id = event.provider_txn_id;
  out.fields.status_name = std::string(PaymentStatusName(event.status));
  out.fields.amount_minor = event.amount_minor;
  out.fields.currency = event.currency;
  out.fields.occurred_at_unix_ms = event.occurred_at_unix_ms;
  out.fields.timestamp_unix_ms = now_unix_ms;
  out.fields.nonce = std::move(nonce);
  out.signature = SignCallback(secret, out.fields);
  return out;
}

SignedCallback ForgedDelivery(const CallbackEvent& event, std::string_view secret,
                              int64_t now_unix_ms, std::string nonce, ForgeKind kind) {
  switch (kind) {
    case ForgeKind::kWrongSecret: {
      // Derived from the real secret, so it can never equal it.
      const std::string forger_secret = "forged:" + std::string(secret);
      return SignedDelivery(event, forger_secret, now_unix_ms, std::move(nonce));
    }
    case ForgeKind::kFlippedStatus: {
      SignedCallback out = SignedDelivery(event, secret, now_unix_ms, std::move(nonce));
      out.fields.status_name = std::string(
          PaymentStatusName(event.status == CaptureStatus::kSucceeded ? CaptureStatus::kFailed
                                                                      : CaptureStatus::kSucceeded));
      return out;
    }
    case ForgeKind::kAlteredAmount: {
      SignedCallback out = SignedDelivery(event, secret, now_unix_ms, std::move(nonce));
      out.fields.amount_minor = event.amount_minor + 1;
      return out;
    }
  }
  return SignedDelivery(event, "forged:" + std::string(secret), now_unix_ms, std::move(nonce));
}

}  // namespace payonce::provider
