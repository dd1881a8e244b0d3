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
  EXPECT_TRUE(ValidateMoney(kMaxAmountMinor, "KWD").ok());
  EXPECT_EQ(ValidateMoney(kMaxAmountMinor + 1, "KWD").code(), absl::StatusCode::kInvalidArgument);
  EXPECT_EQ(ValidateMoney(std::numeric_limits<int64_t>::max(), "EUR").code(),
            absl::StatusCode::kInvalidArgument);
}

// Issue 12, defect 9: the cap is per currency, a trillion major units in its
// minor units (10^15 for every currency let a yen order reach 10^15 yen).
TEST(Money, TheCapIsATrillionMajorUnitsOfEachCurrency) {
  const struct {
    const char* currency;
    int digits;
    int64_t cap;
  } rows[] = {
      {"JPY", 0, 1'000'000'000'000},     {"KRW", 0, 1'000'000'000'000},
      {"EUR", 2, 100'000'000'000'000},   {"CNY", 2, 100'000'000'000'000},
      {"KWD", 3, 1'000'000'000'000'000}, {"BHD", 3, 1'000'000'000'000'000},
  };
  for (const auto& r : rows) {
    EXPECT_EQ(MinorUnitDigits(r.currency), r.digits) << r.currency;
    EXPECT_EQ(MaxAmountMinor(r.currency), r.cap) << r.currency;
    EXPECT_LE(MaxAmountMinor(r.currency), kMaxAmountMinor) << r.currency;
    EXPECT_TRUE(ValidateMoney(r.cap, r.currency).ok()) << r.currency;
    const absl::Status over = ValidateMoney(r.cap + 1, r.currency);
    EXPECT_EQ(over.code(), absl::StatusCode::kInvalidArgument) << r.currency;
    EXPECT_NE(over.message().find(r.currency), std::string_view::npos) << over.message();
  }
}

TEST(Money, RejectsCurrenciesThatAreNotIso4217) {
  for (const char* bad : {"", "eur", "EU", "EURO", "E1R", "XXZ", "ABC"}) {
    EXPECT_EQ(ValidateMoney(100, bad).code(), absl::StatusCode::kInvalidArgument) << bad;
  }
}

}  // namespace
}  // namespace payonce
