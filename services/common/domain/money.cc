#include "services/common/domain/money.h"

#include <algorithm>
#include <array>
#include <string>

namespace payonce {
namespace {

// Active ISO-4217 codes (2024 list), sorted for binary search.
constexpr std::array<std::string_view, 154> kIsoCodes = {
    "AED", "AFN", "ALL", "AMD", "AOA", "ARS", "AUD", "AWG", "AZN", "BAM", "BBD", "BDT", "BHD",
    "BIF", "BMD", "BND", "BOB", "BRL", "BSD", "BTN", "BWP", "BYN", "BZD", "CAD", "CDF", "CHF",
    "CLP", "CNY", "COP", "CRC", "CUP", "CVE", "CZK", "DJF", "DKK", "DOP", "DZD", "EGP", "ERN",
    "ETB", "EUR", "FJD", "FKP", "GBP", "GEL", "GHS", "GIP", "GMD", "GNF", "GTQ", "GYD", "HKD",
    "HNL", "HTG", "HUF", "IDR", "ILS", "INR", "IQD", "IRR", "ISK", "JMD", "JOD", "JPY", "KES",
    "KGS", "KHR", "KMF", "KPW", "KRW", "KWD", "KYD", "KZT", "LAK", "LBP", "LKR", "LRD", "LSL",
    "LYD", "MAD", "MDL", "MGA", "MKD", "MMK", "MNT", "MOP", "MRU", "MUR", "MVR", "MWK", "MXN",
    "MYR", "MZN", "NAD", "NGN", "NIO", "NOK", "NPR", "NZD", "OMR", "PAB", "PEN", "PGK", "PHP",
    "PKR", "PLN", "PYG", "QAR", "RON", "RSD", "RUB", "RWF", "SAR", "SBD", "SCR", "SDG", "SEK",
    "SGD", "SHP", "SLE", "SOS", "SRD", "SSP", "STN", "SVC", "SYP", "SZL", "THB", "TJS", "TMT",
    "TND", "TOP", "TRY", "TTD", "TWD", "TZS", "UAH", "UGX", "USD", "UYU", "UZS", "VES", "VND",
    "VUV", "WST", "XAF", "XCD", "XOF", "XPF", "YER", "ZAR", "ZMW", "ZWG", "ZWL"};

// ISO-4217 codes whose minor unit is not two digits, sorted.
constexpr std::array<std::string_view, 16> kNoMinorUnit = {"BIF", "CLP", "DJF", "GNF", "ISK", "JPY",
                                                           "KMF", "KRW", "PYG", "RWF", "UGX", "VND",
                                                           "VUV", "XAF", "XOF", "XPF"};
constexpr std::array<std::string_view, 7> kThreeMinorDigits = {"BHD", "IQD", "JOD", "KWD",
                                                               "LYD", "OMR", "TND"};

// A trillion major units.
constexpr int64_t kMaxMajorUnits = 1'000'000'000'000;

}  // namespace

int MinorUnitDigits(std::string_view currency) {
  if (std::binary_search(kNoMinorUnit.begin(), kNoMinorUnit.end(), currency)) return 0;
  if (std::binary_search(kThreeMinorDigits.begin(), kThreeMinorDigits.end(), currency)) return 3;
  return 2;
}

int64_t MaxAmountMinor(std::string_view currency) {
  int64_t cap = kMaxMajorUnits;
  for (int i = 0; i < MinorUnitDigits(currency); ++i) cap *= 10;
  return cap;
}

bool IsIsoCurrency(std::string_view code) {
  if (code.size() != 3) return false;
  for (char c : code) {
    if (c < 'A' || c > 'Z') return false;
  }
  return std::binary_search(kIsoCodes.begin(), kIsoCodes.end(), code);
}

absl::Status ValidateMoney(int64_t amount_minor, std::string_view currency) {
  if (amount_minor <= 0) {
    return absl::InvalidArgumentError("amount_minor must be > 0 (integer minor units), got " +
                                      std::to_string(amount_minor));
  }
  if (!IsIsoCurrency(currency)) {
    return absl::InvalidArgumentError(
        "currency must be an ISO-4217 code of three upper-case "
        "letters, got \"" +
        std::string(currency) + "\"");
  }
  if (const int64_t cap = MaxAmountMinor(currency); amount_minor > cap) {
    return absl::InvalidArgumentError("amount_minor must be at most " + std::to_string(cap) +
                                      " in " + std::string(currency) + ", got " +
                                      std::to_string(amount_minor));
  }
  return absl::OkStatus();
}

}  // namespace payonce
