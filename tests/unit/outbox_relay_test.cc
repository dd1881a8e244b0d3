// The outbox relay's pure rules: backoff schedule, dead-letter decision,
// classification of delivery errors; and the array literals its batched
// statements bind.
#include <gtest/gtest.h>

#include <deque>
#include <set>
#include <utility>
#include <vector>

#include "services/common/pg_array.h"
#include "services/outbox_relay/domain/outbox_event.h"
#include "services/outbox_relay/domain/retry_policy.h"

namespace payonce::relay {
namespace {

using std::chrono::milliseconds;

// Answers scripted values (the upper bound once the script runs out) and
// records every range it was asked for.
class ScriptedRandom final : public RandomSource {
 public:
  explicit ScriptedRandom(std::deque<int64_t> script = {}) : script_(std::move(script)) {}
  int64_t UniformInt(int64_t lo, int64_t hi) override {
    asked.emplace_back(lo, hi);
    if (script_.empty()) return hi;
    const int64_t v = script_.front();
    script_.pop_front();
    return v;
  }
  std::vector<std::pair<int64_t, int64_t>> asked;

 private:
  std::deque<int64_t> script_;
};

RetryPolicy Defaults() { return RetryPolicy{}; }

TEST(BackoffCeiling, DoublesFromTheBaseUntilTheCap) {
  const std::vector<std::pair<int, int64_t>> table = {
      {1, 200},    {2, 400},    {3, 800},      {4, 1600},       {5, 3200},
      {6, 6400},   {7, 12800},  {8, 25600},    {9, 51200},      {10, 60000},
      {11, 60000}, {20, 60000}, {1000, 60000}, {1 << 30, 60000}};
  for (const auto& [attempt, ceiling] : table) {
    EXPECT_EQ(BackoffCeiling(Defaults(), attempt), milliseconds(ceiling)) << "attempt " << attempt;
  }
}

TEST(BackoffCeiling, HonoursOtherSettings) {
  const RetryPolicy p{milliseconds(1000), milliseconds(5000), 3};
  EXPECT_EQ(BackoffCeiling(p, 1), milliseconds(1000));
  EXPECT_EQ(BackoffCeiling(p, 2), milliseconds(2000));
  EXPECT_EQ(BackoffCeiling(p, 3), milliseconds(4000));
  EXPECT_EQ(BackoffCeiling(p, 4), milliseconds(5000));
  // A base above the cap is capped from the first attempt.
  EXPECT_EQ(BackoffCeiling({milliseconds(9000), milliseconds(5000), 3}, 1), milliseconds(5000));
  // Attempt 0 or less behaves like the first attempt.
  EXPECT_EQ(BackoffCeiling(p, 0), milliseconds(1000));
}

TEST(BackoffDelay, DrawsFullJitterBetweenZeroAndTheCeiling) {
  ScriptedRandom random({0, 123, 400, 51200, 60000});
  EXPECT_EQ(BackoffDelay(Defaults(), 1, random), milliseconds(0));
  EXPECT_EQ(BackoffDelay(Defaults(), 2, random), milliseconds(123));
  EXPECT_EQ(BackoffDelay(Defaults(), 2, random), milliseconds(400));
  EXPECT_EQ(BackoffDelay(Defaults(), 9, random), milliseconds(51200));
  EXPECT_EQ(BackoffDelay(Defaults(), 20, random), milliseconds(60000));
  const std::vector<std::pair<int64_t, int64_t>> expected = {
      {0, 200}, {0, 400}, {0, 400}, {0, 51200}, {0, 60000}};
  EXPECT_EQ(random.asked, expected);
}

TEST(BackoffDelay, ClampsAScriptedValueOutsideTheRange) {
  ScriptedRandom random({-5, 1000000});
  EXPECT_EQ(BackoffDelay(Defaults(), 1, random), milliseconds(0));
  EXPECT_EQ(BackoffDelay(Defaults(), 1, random), milliseconds(200));
}

TEST(SeededRandomSource, StaysWithinBoundsAndVaries) {
  SeededRandomSource random;
  std::set<int64_t> seen;
  for (int i = 0; i < 2000; ++i) {
    const int64_t v = random.UniformInt(0, 200);
    ASSERT_GE(v, 0);
    ASSERT_LE(v, 200);
    seen.insert(v);
  }
  EXPECT_GT(seen.size(), 100u);
  EXPECT_EQ(random.UniformInt(7, 7), 7);
}

TEST(ShouldDeadLetter, GivesUpOnceAttemptsReachTheMaximum) {
  EXPECT_FALSE(ShouldDeadLetter(Defaults(), 1));
  EXPECT_FALSE(ShouldDeadLetter(Defaults(), 19));
  EXPECT_TRUE(ShouldDeadLetter(Defaults(), 20));
  EXPECT_TRUE(ShouldDeadLetter(Defaults(), 21));
  EXPECT_TRUE(ShouldDeadLetter({milliseconds(200), milliseconds(60000), 1}, 1));
}

TEST(ClassifyDeliveryError, OnlyARefusedEventIsPermanent) {
  using absl::StatusCode;
  for (auto code : {StatusCode::kInvalidArgument, StatusCode::kOutOfRange}) {
    EXPECT_EQ(ClassifyDeliveryError(code), DeliveryErrorClass::kPermanent)
        << absl::StatusCodeToString(code);
  }
  for (auto code :
       {StatusCode::kDeadlineExceeded, StatusCode::kResourceExhausted, StatusCode::kAborted,
        StatusCode::kInternal, StatusCode::kUnknown, StatusCode::kCancelled, StatusCode::kNotFound,
        StatusCode::kFailedPrecondition, StatusCode::kUnimplemented, StatusCode::kUnauthenticated,
        StatusCode::kPermissionDenied, StatusCode::kAlreadyExists, StatusCode::kDataLoss}) {
    EXPECT_EQ(ClassifyDeliveryError(code), DeliveryErrorClass::kTransient)
        << absl::StatusCodeToString(code);
  }
}

TEST(DecideAfterFailure, RetriesATransientErrorAfterTheJitteredBackoff) {
  ScriptedRandom random({150});
  const FailureDecision d =
      DecideAfterFailure(Defaults(), 2, absl::StatusCode::kDeadlineExceeded, random);
  EXPECT_FALSE(d.dead_letter);
  EXPECT_EQ(d.retry_after, milliseconds(150));
  EXPECT_EQ(d.failures, 3);
  ASSERT_EQ(random.asked.size(), 1u);
  EXPECT_EQ(random.asked[0], (std::pair<int64_t, int64_t>{0, 800}));
}

TEST(ClassifyDeliveryError, UnavailableMeansTheTargetIsDown) {
  EXPECT_EQ(ClassifyDeliveryError(absl::StatusCode::kUnavailable), DeliveryErrorClass::kTargetDown);
}

TEST(DecideAfterFailure, TargetDownRetriesSoonNeverDeadLettersAndCountsNoFailure) {
  for (int earlier : {0, 5, 19, 1000}) {
    ScriptedRandom random({700});
    const FailureDecision d =
        DecideAfterFailure(Defaults(), earlier, absl::StatusCode::kUnavailable, random);
    EXPECT_FALSE(d.dead_letter) << earlier;
    EXPECT_EQ(d.retry_after, milliseconds(700)) << earlier;
    EXPECT_EQ(d.failures, earlier);
    ASSERT_EQ(random.asked.size(), 1u);
    EXPECT_EQ(random.asked[0], (std::pair<int64_t, int64_t>{500, 1000}));
  }
}

TEST(DecideAfterFailure, DeadLettersAtTheLastAttempt) {
  ScriptedRandom random;
  EXPECT_FALSE(
      DecideAfterFailure(Defaults(), 18, absl::StatusCode::kDeadlineExceeded, random).dead_letter);
  const FailureDecision d =
      DecideAfterFailure(Defaults(), 19, absl::StatusCode::kDeadlineExceeded, random);
  EXPECT_TRUE(d.dead_letter);
  EXPECT_EQ(d.retry_after, milliseconds(0));
  EXPECT_EQ(d.failures, 20);
}

TEST(DecideAfterFailure, TheFirstFailureAfterAnOutageBacksOffTheFirstStep) {
  // However many attempts found the order service unreachable, they counted
  // nothing: the next timeout is failure 1, backoff ceiling backoff_base.
  ScriptedRandom random;
  int failures = 0;
  for (int i = 0; i < 50; ++i) {
    failures =
        DecideAfterFailure(Defaults(), failures, absl::StatusCode::kUnavailable, random).failures;
  }
  random.asked.clear();
  const FailureDecision d =
      DecideAfterFailure(Defaults(), failures, absl::StatusCode::kDeadlineExceeded, random);
  EXPECT_FALSE(d.dead_letter);
  EXPECT_EQ(d.failures, 1);
  ASSERT_EQ(random.asked.size(), 1u);
  EXPECT_EQ(random.asked[0], (std::pair<int64_t, int64_t>{0, 200}));
}

TEST(DecideAfterFailure, DeadLettersARefusedEventAtOnce) {
  ScriptedRandom random;
  const FailureDecision d =
      DecideAfterFailure(Defaults(), 0, absl::StatusCode::kInvalidArgument, random);
  EXPECT_TRUE(d.dead_letter);
  EXPECT_EQ(d.failures, 1);
  EXPECT_TRUE(random.asked.empty());
}

TEST(DescribeDeliveryError, NamesTheCodeThenTheMessage) {
  EXPECT_EQ(DescribeDeliveryError(absl::UnavailableError("connection refused")),
            "UNAVAILABLE: connection refused");
  EXPECT_EQ(DescribeDeliveryError(absl::DeadlineExceededError("Deadline Exceeded")),
            "DEADLINE_EXCEEDED: Deadline Exceeded");
  EXPECT_EQ(DescribeDeliveryError(absl::InvalidArgumentError("")), "INVALID_ARGUMENT: ");
}

TEST(DescribeDeliveryError, CutsLongMessagesOnACharacterBoundaryAndDropsNul) {
  // "UNKNOWN: " is 9 bytes; then two-byte characters, so byte 1000 falls in
  // the middle of one.
  std::string message;
  for (int i = 0; i < 600; ++i) message += "\xC3\xA9";  // é
  const std::string text = DescribeDeliveryError(absl::UnknownError(message));
  EXPECT_LE(text.size(), kMaxErrorLength);
  EXPECT_EQ(text.size(), 999u);
  EXPECT_EQ(text.substr(text.size() - 2), "\xC3\xA9");
  EXPECT_EQ(DescribeDeliveryError(absl::UnknownError(std::string("a\0b", 3))), "UNKNOWN: a?b");
}

TEST(OutboxEvent, ParsesTheStatusesTheOutboxStores) {
  EXPECT_EQ(ParseReportedStatus("SUCCEEDED"), ReportedStatus::kSucceeded);
  EXPECT_EQ(ParseReportedStatus("FAILED"), ReportedStatus::kFailed);
  EXPECT_EQ(ParseReportedStatus("REFUNDED"), ReportedStatus::kRefunded);
  EXPECT_EQ(ParseReportedStatus("PENDING"), std::nullopt);
  EXPECT_EQ(ParseReportedStatus("succeeded"), std::nullopt);
  EXPECT_EQ(ParseReportedStatus(""), std::nullopt);
}

TEST(OutboxEvent, NamesOutcomesAsTheContractDoes) {
  EXPECT_EQ(ToString(ApplyOutcome::kApplied), "APPLIED");
  EXPECT_EQ(ToString(ApplyOutcome::kDuplicate), "DUPLICATE");
  EXPECT_EQ(ToString(ApplyOutcome::kIgnored), "IGNORED");
  EXPECT_EQ(ToString(ApplyOutcome::kRefundRequired), "REFUND_REQUIRED");
  EXPECT_TRUE(NeedsRefund(ApplyOutcome::kRefundRequired));
  EXPECT_FALSE(NeedsRefund(ApplyOutcome::kApplied));
}

TEST(PgArrayLiteral, EncodesIntegersBooleansAndEscapedText) {
  EXPECT_EQ(PgArrayLiteral(std::vector<int64_t>{}), "{}");
  EXPECT_EQ(PgArrayLiteral(std::vector<int64_t>{1, -2, 9000000000}), "{1,-2,9000000000}");
  EXPECT_EQ(PgArrayLiteral(std::vector<int>{3}), "{3}");
  EXPECT_EQ(PgArrayLiteral(std::vector<bool>{true, false}), "{t,f}");
  EXPECT_EQ(PgArrayLiteral(std::vector<std::string>{"APPLIED", "", "NULL"}),
            R"({"APPLIED","","NULL"})");
  EXPECT_EQ(PgArrayLiteral(std::vector<std::string>{R"(a,"b"\{c})"}), R"({"a,\"b\"\\{c}"})");
}

}  // namespace
}  // namespace payonce::relay
