// Opaque keyset-pagination tokens: (position, id) of the last row of a page,
// base64url-encoded so clients never depend on their shape. The position is
// the list's ordering key: created_at in µs for lists by time, the entry
// number for an order's timeline.
#pragma once

#include <cstdint>
#include <string>
#include <string_view>

#include "absl/status/statusor.h"

namespace payonce {

struct PageCursor {
  int64_t position = 0;
  std::string id;
};

std::string EncodePageToken(const PageCursor& cursor);

// INVALID_ARGUMENT if the token was not made by EncodePageToken.
absl::StatusOr<PageCursor> DecodePageToken(std::string_view token);

// Resolves a requested page size: 0 -> 50, 1..max as is, otherwise
// INVALID_ARGUMENT.
absl::StatusOr<int> ResolvePageSize(int32_t requested, int max = 500);

}  // namespace payonce
