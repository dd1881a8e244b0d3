#include "services/common/domain/callback_signature.h"

#include <openssl/crypto.h>
#include <openssl/evp.h>
#include <openssl/hmac.h>

namespace payonce {

std::string CanonicalCallback(const CallbackFields& f) {
  std::string out = "v1";
  for (const std::string& part :
       {f.provider, f.event_id, f.payment_id, f.provider_txn_id, f.status_name,
        std::to_string(f.amount_minor), f.currency, std::to_string(f.occurred_at_unix_ms),
        std::to_string(f.timestamp_unix_ms), f.nonce}) {
    out += '\n';
    out += part;
  }
  return out;
}

std::string SignCallback(std::string_view secret, const CallbackFields& f) {
  const std::string canonical = CanonicalCallback(f);
  unsigned char mac[EVP_MAX_MD_SIZE];
  unsigned int len = 0;
  HMAC(EVP_sha256(), secret.data(), static_cast<int>(secret.size()),
       reinterpret_cast<const unsigned char*>(canonical.data()), canonical.size(), mac, &len);
  static constexpr char kHex[] = "0123456789abcdef";
  std::string hex;
  hex.reserve(len * 2);
  for (unsigned int i = 0; i < len; ++i) {
    hex += kHex[mac[i] >> 4];
    hex += kHex[mac[i] & 0x0F];
  }
  return hex;
}

bool VerifyCallbackSignature(const std::vector<std::string>& secrets, const CallbackFields& f,
                             std::string_view signature) {
  bool match = false;
  for (const auto& secret : secrets) {
    const std::string expected = SignCallback(secret, f);
    // Every secret is tried, match or not, so timing does not tell which.
    if (expected.size() == signature.size() &&
        CRYPTO_memcmp(expected.data(), signature.data(), expected.size()) == 0) {
      match = true;
    }
  }
  return match;
}

std::vector<std::string> ParseSecrets(std::string_view csv) {
  std::vector<std::string> out;
  size_t start = 0;
  while (start <= csv.size()) {
    const size_t comma = csv.find(',', start);
    std::string_view item =
        csv.substr(start, comma == std::string_view::npos ? std::string_view::npos : comma - start);
    while (!item.empty() && item.front() == ' ') item.remove_prefix(1);
    while (!item.empty() && item.back() == ' ') item.remove_suffix(1);
    if (!item.empty()) out.emplace_back(item);
    if (comma == std::string_view::npos) break;
    start = comma + 1;
  }
  return out;
}

}  // namespace payonce
