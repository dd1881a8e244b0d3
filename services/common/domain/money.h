// Money rules: integer minor units and ISO-4217 currency codes. No floats.
#pragma once

#include <cstdint>
#include <string_view>

#include "absl/status/status.h"

namespace payonce {

// True for an active ISO-4217 alphabetic code (three upper-case letters).
bool IsIsoCurrency(std::string_view code);

// The largest amount anything may carry, in minor units, whatever the
// currency: 10^15 (ten trillion euros in cents, a quadrillion yen), so that
// sums of thousands of amounts stay far inside int64.
inline constexpr int64_t kMaxAmountMinor = 1'000'000'000'000'000;

// INVALID_ARGUMENT unless 0 < amount_minor <= kMaxAmountMinor and currency is
// an ISO-4217 code.
absl::Status ValidateMoney(int64_t amount_minor, std::string_view currency);

}  // namespace payonce
