#include "services/common/domain/money.h"

#include <gtest/gtest.h>

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

TEST(Money, RejectsCurrenciesThatAreNotIso4217) {
  for (const char* bad : {"", "eur", "EU", "EURO", "E1R", "XXZ", "ABC"}) {
    EXPECT_EQ(ValidateMoney(100, bad).code(), absl::StatusCode::kInvalidArgument) << bad;
  }
}

}  // namespace
}  // namespace payonce
