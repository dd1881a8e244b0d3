#include "services/common/domain/page_token.h"

#include <string>

#include "absl/strings/escaping.h"
#include "absl/strings/numbers.h"
#include "absl/strings/str_split.h"

namespace payonce {

std::string EncodePageToken(const PageCursor& cursor) {
  return absl::WebSafeBase64Escape("p1|" + std::to_string(cursor.position) + "|" + cursor.id);
}

absl::StatusOr<PageCursor> DecodePageToken(std::string_view token) {
  std::string raw;
  if (!absl::WebSafeBase64Unescape(absl::string_view(token.data(), token.size()), &raw)) {
    return absl::InvalidArgumentError("page_token is not a token this server issued");
  }
  std::vector<std::string> parts = absl::StrSplit(raw, absl::MaxSplits('|', 2));
  PageCursor cursor;
  if (parts.size() != 3 || parts[0] != "p1" || !absl::SimpleAtoi(parts[1], &cursor.position) ||
      parts[2].empty()) {
    return absl::InvalidArgumentError("page_token is not a token this server issued");
  }
  cursor.id = parts[2];
  return cursor;
}

absl::StatusOr<int> ResolvePageSize(int32_t requested, int max) {
  if (requested == 0) return 50;
  if (requested < 0 || requested > max) {
    return absl::InvalidArgumentError("page_size must be between 0 and " + std::to_string(max) +
                                      ", got " + std::to_string(requested));
  }
  return requested;
}

}  // namespace payonce
