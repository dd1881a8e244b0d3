#include "services/common/domain/money.h"

#include <gtest/gtest.h>

#include <limits>

namespace payonce {
namespace {

TEST(Money, AcceptsPositiveMinorUnitsInIsoCurrency) {
  EXPECT_TRUE(ValidateMoney(1, "EUR").ok());
  EXPECT_TRUE(ValidateMoney(9'999'999'999, "JPY").ok());
  EXPECT_TRUE(ValidateMoney(100, "CNY").ok());
}

TEST(Money, RejectsNonPositiveAmounts) {
  EXPECT_EQ(ValidateMoney(0, "EUR").code(), absl::StatusCode::kInvalidArgument);
  EXPECT_EQ(ValidateMoney(-5, "EUR").code(), absl::StatusCode::kInvalidArgument);
}

// Issue 12, defect 9: CreateOrder took 2^63-1, and sums downstream overflow.
TEST(Money, RejectsAmountsPastTheCap) {
  EXPECT_TRUE(ValidateMoney(kMaxAmountMinor, "EUR").ok());
  EXPECT_EQ(ValidateMoney(kMaxAmountMinor + 1, "JPY").code(), absl::StatusCode::kInvalidArgument);
  EXPECT_EQ(ValidateMoney(std::numeric_limits<int64_t>::max(), "EUR").code(),
            absl::StatusCode::kInvalidArgument);
}

TEST(Money, RejectsCurrenciesThatAreNotIso4217) {
  for (const char* bad : {"", "eur", "EU", "EURO", "E1R", "XXZ", "ABC"}) {
    EXPECT_EQ(ValidateMoney(100, bad).code(), absl::StatusCode::kInvalidArgument) << bad;
  }
}

}  // namespace
}  // namespace payonce
