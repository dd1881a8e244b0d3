// Checks of required text fields shared by every service's request
// validation. Pure: no I/O.
#pragma once

#include <cstddef>
#include <string_view>

#include "absl/status/status.h"

namespace payonce {

// Identifiers and keys are at most this long unless a field says otherwise.
inline constexpr size_t kMaxIdLength = 128;

// INVALID_ARGUMENT naming `field` when `value` is empty, longer than
// `max_length` characters, or holds a control character: a NUL would cut the
// value short on its way to PostgreSQL (another key than the client sent),
// and a newline would make a signed canonical string ambiguous.
absl::Status RequireText(std::string_view field, std::string_view value,
                         size_t max_length = kMaxIdLength);

// The same for a field that may be empty (a filter, a reason).
absl::Status OptionalText(std::string_view field, std::string_view value,
                          size_t max_length = kMaxIdLength);

}  // namespace payonce
