#include "services/common/domain/text.h"

#include <string>

namespace payonce {

absl::Status RequireText(std::string_view field, std::string_view value, size_t max_length) {
  if (value.empty()) return absl::InvalidArgumentError(std::string(field) + " is required");
  if (value.size() > max_length) {
    return absl::InvalidArgumentError(std::string(field) + " must be at most " +
                                      std::to_string(max_length) + " characters");
  }
  return absl::OkStatus();
}

}  // namespace payonce
