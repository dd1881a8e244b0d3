#include "services/common/domain/page_token.h"

#include <gtest/gtest.h>

namespace payonce {
namespace {

TEST(PageToken, RoundTrips) {
  const PageCursor in{1764806400123456, "0193a5c2-7f00-7abc-8def-0123456789ab"};
  auto out = DecodePageToken(EncodePageToken(in));
  ASSERT_TRUE(out.ok()) << out.status();
  EXPECT_EQ(out->position, in.position);
  EXPECT_EQ(out->id, in.id);
}

TEST(PageToken, RejectsTokensItDidNotIssue) {
  for (const char* bad : {"not base64!", "cDF8", "eDF8MTIzfGFi" /* x1|123|ab */, "cDF8eHx5"}) {
    EXPECT_EQ(DecodePageToken(bad).status().code(), absl::StatusCode::kInvalidArgument) << bad;
  }
}

TEST(PageSize, DefaultsAndBounds) {
  EXPECT_EQ(*ResolvePageSize(0), 50);
  EXPECT_EQ(*ResolvePageSize(1), 1);
  EXPECT_EQ(*ResolvePageSize(500), 500);
  EXPECT_EQ(ResolvePageSize(501).status().code(), absl::StatusCode::kInvalidArgument);
  EXPECT_EQ(ResolvePageSize(-1).status().code(), absl::StatusCode::kInvalidArgument);
}

}  // namespace
}  // namespace payonce
