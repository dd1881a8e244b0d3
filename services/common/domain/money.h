// Money rules: integer minor units and ISO-4217 currency codes. No floats.
#pragma once

#include <cstdint>
#include <string_view>

#include "absl/status/status.h"

namespace payonce {

// True for an active ISO-4217 alphabetic code (three upper-case letters).
bool IsIsoCurrency(std::string_view code);

// The ISO-4217 minor unit digits of a currency: 0 for JPY or KRW, 3 for KWD
// or BHD, 2 for the rest (and for a code that is not ISO-4217).
int MinorUnitDigits(std::string_view currency);

// The largest amount any order, payment or capture may carry, per currency:
// a trillion (10^12) major units in that currency's minor units (10^12 yen,
// 10^14 euro cents, 10^15 fils). Sums of thousands of them stay far inside
// int64.
int64_t MaxAmountMinor(std::string_view currency);

// The largest MaxAmountMinor of any currency (three minor unit digits).
inline constexpr int64_t kMaxAmountMinor = 1'000'000'000'000'000;

// INVALID_ARGUMENT unless currency is an ISO-4217 code and
// 0 < amount_minor <= MaxAmountMinor(currency).
absl::Status ValidateMoney(int64_t amount_minor, std::string_view currency);

}  // namespace payonce
