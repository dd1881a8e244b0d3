// Money rules: integer minor units and ISO-4217 currency codes. No floats.
#pragma once

#include <cstdint>
#include <string_view>

#include "absl/status/status.h"

namespace payonce {

// True for an active ISO-4217 alphabetic code (three upper-case letters).
bool IsIsoCurrency(std::string_view code);

// INVALID_ARGUMENT unless amount_minor > 0 and currency is an ISO-4217 code.
absl::Status ValidateMoney(int64_t amount_minor, std::string_view currency);

}  // namespace payonce
