#include "services/common/domain/callback_signature.h"

#include <gtest/gtest.h>

namespace payonce {
namespace {

CallbackFields Sample() {
  return {"sandbox", "evt-1", "pay-1",       "txn-1",       "PAYMENT_STATUS_SUCCEEDED",
          1999,      "EUR",   1764806400000, 1764806401000, "nonce-1"};
}

TEST(CallbackSignature, CanonicalStringIsTheContractOrder) {
  EXPECT_EQ(CanonicalCallback(Sample()),
            "v1\nsandbox\nevt-1\npay-1\ntxn-1\nPAYMENT_STATUS_SUCCEEDED\n1999\nEUR\n"
            "1764806400000\n1764806401000\nnonce-1");
}

TEST(CallbackSignature, KnownVector) {
  // Computed independently with:
  //   printf 'v1\nsandbox\n...\nnonce-1' | openssl dgst -sha256 -hmac s3cret
  EXPECT_EQ(SignCallback("s3cret", Sample()),
            "bce5c9d29e934cc0fd31bc6340aedb9c1e7e05fb243c57dc4eecc6912ecb8ea7");
}

TEST(CallbackSignature, GoodSignatureVerifies) {
  const auto sig = SignCallback("s3cret", Sample());
  EXPECT_EQ(sig.size(), 64u);
  EXPECT_TRUE(VerifyCallbackSignature({"s3cret"}, Sample(), sig));
}

TEST(CallbackSignature, EveryTamperedFieldFails) {
  const auto sig = SignCallback("s3cret", Sample());
  std::vector<void (*)(CallbackFields&)> tamper = {
      [](CallbackFields& f) { f.provider = "other"; },
      [](CallbackFields& f) { f.event_id = "evt-2"; },
      [](CallbackFields& f) { f.payment_id = "pay-2"; },
      [](CallbackFields& f) { f.provider_txn_id = "txn-2"; },
      [](CallbackFields& f) { f.status_name = "PAYMENT_STATUS_FAILED"; },
      [](CallbackFields& f) { f.amount_minor = 1998; },
      [](CallbackFields& f) { f.currency = "USD"; },
      [](CallbackFields& f) { f.occurred_at_unix_ms += 1; },
      [](CallbackFields& f) { f.timestamp_unix_ms += 1; },
      [](CallbackFields& f) { f.nonce = "nonce-2"; },
  };
  for (size_t i = 0; i < tamper.size(); ++i) {
    CallbackFields f = Sample();
    tamper[i](f);
    EXPECT_FALSE(VerifyCallbackSignature({"s3cret"}, f, sig)) << "field " << i;
  }
}

TEST(CallbackSignature, WrongSecretFailsRotatedSecretVerifies) {
  const auto sig = SignCallback("old-secret", Sample());
  EXPECT_FALSE(VerifyCallbackSignature({"new-secret"}, Sample(), sig));
  EXPECT_TRUE(VerifyCallbackSignature({"new-secret", "old-secret"}, Sample(), sig));
  EXPECT_FALSE(VerifyCallbackSignature({}, Sample(), sig));
}

TEST(CallbackSignature, UpperCaseOrTruncatedHexFails) {
  auto sig = SignCallback("s3cret", Sample());
  std::string upper = sig;
  for (auto& c : upper) c = static_cast<char>(std::toupper(c));
  EXPECT_FALSE(VerifyCallbackSignature({"s3cret"}, Sample(), upper));
  EXPECT_FALSE(VerifyCallbackSignature({"s3cret"}, Sample(), sig.substr(0, 63)));
  EXPECT_FALSE(VerifyCallbackSignature({"s3cret"}, Sample(), ""));
}

TEST(ParseSecrets, SplitsAndTrims) {
  EXPECT_EQ(ParseSecrets("a,b , c,,"), (std::vector<std::string>{"a", "b", "c"}));
  EXPECT_TRUE(ParseSecrets("").empty());
}

}  // namespace
}  // namespace payonce
