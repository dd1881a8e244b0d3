#include "services/common/domain/text.h"

#include <string>

namespace payonce {

absl::Status RequireText(std::string_view field, std::string_view value, size_t max_length) {
  if (value.empty()) return absl::InvalidArgumentError(std::string(field) + " is required");
  return OptionalText(field, value, max_length);
}

absl::Status OptionalText(std::string_view field, std::string_view value, size_t max_length) {
  if (value.size() > max_length) {
    return absl::InvalidArgumentError(std::string(field) + " must be at most " +
                                      std::to_string(max_length) + " characters");
  }
  for (const char c : value) {
    const auto byte = static_cast<unsigned char>(c);
    if (byte < 0x20 || byte == 0x7F) {
      return absl::InvalidArgumentError(std::string(field) + " must not hold control characters");
    }
  }
  return absl::OkStatus();
}

}  // namespace payonce
