// Unit tests of the sandbox provider's pure rules: retry schedule, fault
// decisions (with a scripted RandomSource), fault validation, callback
// building and signing, ledger rules.
#include <gtest/gtest.h>

#include <cmath>
#include <deque>
#include <limits>
#include <set>
#include <string>
#include <vector>

#include "services/common/domain/callback_signature.h"
#include "services/provider_sandbox/domain/callback_message.h"
#include "services/provider_sandbox/domain/callback_tally.h"
#include "services/provider_sandbox/domain/faults.h"
#include "services/provider_sandbox/domain/ledger.h"
#include "services/provider_sandbox/domain/random_source.h"
#include "services/provider_sandbox/domain/retry_schedule.h"

namespace payonce::provider {
namespace {

// Returns the scripted draws in order; running out is a test bug.
class ScriptedRandom final : public RandomSource {
 public:
  ScriptedRandom(std::initializer_list<double> draws) : draws_(draws) {}
  double NextUnit() override {
    if (draws_.empty()) {
      ADD_FAILURE() << "ScriptedRandom ran out of draws";
      return 0.5;
    }
    const double d = draws_.front();
    draws_.pop_front();
    return d;
  }
  size_t left() const { return draws_.size(); }

 private:
  std::deque<double> draws_;
};

constexpr double kAlmostOne = 0.999999;

// ---------------------------------------------------------------- retries

TEST(RetrySchedule, DefaultStepsThenEveryTenSeconds) {
  const RetrySchedule s;
  EXPECT_EQ(RetryDelayMs(s, 1, false, 0), 200);
  EXPECT_EQ(RetryDelayMs(s, 2, false, 0), 500);
  EXPECT_EQ(RetryDelayMs(s, 3, false, 0), 1000);
  EXPECT_EQ(RetryDelayMs(s, 4, false, 0), 2000);
  EXPECT_EQ(RetryDelayMs(s, 5, false, 0), 5000);
  EXPECT_EQ(RetryDelayMs(s, 6, false, 0), 10000);
  EXPECT_EQ(RetryDelayMs(s, 30, false, 0), 10000);
}

TEST(RetrySchedule, GivesUpFiveMinutesAfterTheFirstAttempt) {
  const RetrySchedule s;
  const int64_t first = 1'764'806'400'000;
  std::vector<int64_t> attempts = {first};
  while (true) {
    const auto next =
        NextAttemptAtMs(s, {static_cast<int>(attempts.size()), first, attempts.back(), false, 0});
    if (!next) break;
    attempts.push_back(*next);
    ASSERT_LT(attempts.size(), 1000u);
  }
  // 0, 0.2, 0.7, 1.7, 3.7, 8.7 s, then every 10 s up to 298.7 s.
  ASSERT_GE(attempts.size(), 7u);
  EXPECT_EQ(attempts[1] - first, 200);
  EXPECT_EQ(attempts[2] - first, 700);
  EXPECT_EQ(attempts[3] - first, 1700);
  EXPECT_EQ(attempts[4] - first, 3700);
  EXPECT_EQ(attempts[5] - first, 8700);
  EXPECT_EQ(attempts[6] - first, 18700);
  EXPECT_EQ(attempts.back() - first, 298700);
  EXPECT_EQ(attempts.size(), 35u);
  // Late answers still count from the real send time, and the window holds.
  EXPECT_FALSE(NextAttemptAtMs(s, {3, first, first + 299'900, false, 0}).has_value());
}

TEST(RetrySchedule, EveryAndGiveUpAreConfigurable) {
  RetrySchedule s;
  s.steps_ms = {100};
  s.every_ms = 1000;
  s.give_up_after_ms = 2500;
  EXPECT_EQ(*NextAttemptAtMs(s, {1, 0, 0, false, 0}), 100);
  EXPECT_EQ(*NextAttemptAtMs(s, {2, 0, 100, false, 0}), 1100);
  EXPECT_EQ(*NextAttemptAtMs(s, {3, 0, 1100, false, 0}), 2100);
  EXPECT_FALSE(NextAttemptAtMs(s, {4, 0, 2100, false, 0}).has_value());
  s.give_up_after_ms = 0;
  EXPECT_FALSE(NextAttemptAtMs(s, {1, 0, 0, false, 0}).has_value());
}

TEST(RetrySchedule, TargetDownOverrideReplacesTheStepWhenSet) {
  const RetrySchedule s;
  EXPECT_EQ(RetryDelayMs(s, 1, true, 750), 750);
  EXPECT_EQ(RetryDelayMs(s, 7, true, 750), 750);
  EXPECT_EQ(RetryDelayMs(s, 1, true, 0), 200);     // unset: the schedule
  EXPECT_EQ(RetryDelayMs(s, 1, false, 750), 200);  // target answered: the schedule
  EXPECT_EQ(*NextAttemptAtMs(s, {1, 0, 0, true, 750}), 750);
  // The give-up window still applies.
  EXPECT_FALSE(NextAttemptAtMs(s, {9, 0, 299'500, true, 750}).has_value());
}

TEST(RetrySchedule, ParsesStepLists) {
  EXPECT_EQ(*ParseRetrySteps("200,500,1000,2000,5000"),
            (std::vector<int64_t>{200, 500, 1000, 2000, 5000}));
  EXPECT_EQ(*ParseRetrySteps(" 50 , 60"), (std::vector<int64_t>{50, 60}));
  EXPECT_TRUE(ParseRetrySteps("")->empty());
  for (const char* bad : {"a", "0", "-5", "200,", ",200", "1,,2", "12x", "1.5"}) {
    EXPECT_EQ(ParseRetrySteps(bad).status().code(), absl::StatusCode::kInvalidArgument) << bad;
  }
}

TEST(RetrySchedule, ClassifiesAnswers) {
  EXPECT_EQ(ClassifyDelivery(absl::StatusCode::kOk), DeliveryResult::kAcknowledged);
  EXPECT_EQ(ClassifyDelivery(absl::StatusCode::kUnavailable), DeliveryResult::kUnreachable);
  EXPECT_EQ(ClassifyDelivery(absl::StatusCode::kDeadlineExceeded), DeliveryResult::kUnreachable);
  for (auto code : {absl::StatusCode::kUnimplemented, absl::StatusCode::kNotFound,
                    absl::StatusCode::kUnauthenticated, absl::StatusCode::kInvalidArgument,
                    absl::StatusCode::kFailedPrecondition, absl::StatusCode::kInternal}) {
    EXPECT_EQ(ClassifyDelivery(code), DeliveryResult::kRejected) << static_cast<int>(code);
  }
  EXPECT_EQ(ToString(DeliveryResult::kAcknowledged), "acknowledged");
  EXPECT_EQ(ToString(DeliveryResult::kRejected), "rejected");
  EXPECT_EQ(ToString(DeliveryResult::kUnreachable), "unreachable");
}

// ------------------------------------------------------------- randomness

TEST(RandomSource, HelpersStayInRange) {
  ScriptedRandom rng{0.0, kAlmostOne, 0.5, 0.0, kAlmostOne, 0.7};
  EXPECT_EQ(UniformInt(rng, 1, 3), 1);
  EXPECT_EQ(UniformInt(rng, 1, 3), 3);
  EXPECT_EQ(UniformInt(rng, 100, 200), 150);
  EXPECT_FALSE(Chance(rng, 0.0));       // 0.0 < 0 is false
  EXPECT_TRUE(Chance(rng, 1.0));        // anything below 1
  EXPECT_EQ(UniformInt(rng, 5, 5), 5);  // still one draw
  EXPECT_EQ(rng.left(), 0u);
}

TEST(RandomSource, SameSeedSameSequence) {
  SeededRandomSource a(42);
  SeededRandomSource b(42);
  SeededRandomSource c(43);
  bool differs = false;
  for (int i = 0; i < 100; ++i) {
    const double x = a.NextUnit();
    EXPECT_GE(x, 0.0);
    EXPECT_LT(x, 1.0);
    EXPECT_EQ(x, b.NextUnit());
    differs = differs || x != c.NextUnit();
  }
  EXPECT_TRUE(differs);
}

TEST(RandomSource, ShuffleIsAPermutation) {
  std::vector<int> items = {1, 2, 3, 4};
  ScriptedRandom rng{0.0, 0.0, 0.0};  // always swap with index 0
  Shuffle(items, rng);
  EXPECT_EQ(items, (std::vector<int>{2, 3, 4, 1}));
  SeededRandomSource seeded(7);
  std::vector<int> many(50);
  for (int i = 0; i < 50; ++i) many[i] = i;
  Shuffle(many, seeded);
  EXPECT_EQ(std::set<int>(many.begin(), many.end()).size(), 50u);
}

// ----------------------------------------------------------------- faults

TEST(FaultDecisions, DeclineFollowsFailRate) {
  FaultConfig f;
  f.fail_rate = 0.3;
  ScriptedRandom rng{0.29, 0.3, 0.9};
  EXPECT_TRUE(DecideDecline(f, rng));
  EXPECT_FALSE(DecideDecline(f, rng));
  EXPECT_FALSE(DecideDecline(f, rng));
  FaultConfig none;
  ScriptedRandom zero{0.0};
  EXPECT_FALSE(DecideDecline(none, zero));
}

TEST(FaultDecisions, DoubleChargeFollowsItsRate) {
  FaultConfig f;
  f.double_charge_rate = 1.0;
  ScriptedRandom rng{kAlmostOne, 0.0};
  EXPECT_TRUE(DecideDoubleCharge(f, rng));
  EXPECT_TRUE(DecideDoubleCharge(f, rng));
  f.double_charge_rate = 0.0;
  ScriptedRandom never{0.0};
  EXPECT_FALSE(DecideDoubleCharge(f, never));
  f.double_charge_rate = 0.25;
  ScriptedRandom quarter{0.2, 0.25};
  EXPECT_TRUE(DecideDoubleCharge(f, quarter));
  EXPECT_FALSE(DecideDoubleCharge(f, quarter));
}

TEST(FaultDecisions, WrongAmountCapturesAQuarterLessOrMore) {
  FaultConfig f;
  f.wrong_amount_rate = 0.5;
  ScriptedRandom right{0.5, 0.0};  // not wrong: the direction draw is still made
  EXPECT_EQ(DecideCapturedAmount(f, 1000, right), 1000);
  ScriptedRandom under{0.49, 0.49};
  EXPECT_EQ(DecideCapturedAmount(f, 1000, under), 750);
  ScriptedRandom over{0.49, 0.5};
  EXPECT_EQ(DecideCapturedAmount(f, 1000, over), 1250);
  // At least one minor unit off; an amount of 1 can only be captured over,
  // one at the int64 limit only under.
  ScriptedRandom small{0.0, 0.0, 0.0, 0.0};
  EXPECT_EQ(DecideCapturedAmount(f, 3, small), 2);
  EXPECT_EQ(DecideCapturedAmount(f, 1, small), 2);
  ScriptedRandom huge{0.0, kAlmostOne};
  const int64_t max = std::numeric_limits<int64_t>::max();
  EXPECT_EQ(DecideCapturedAmount(f, max, huge), max - max / 4);
}

TEST(FaultDecisions, LateCaptureFollowsItsRate) {
  FaultConfig f;
  f.late_capture_rate = 0.1;
  f.late_capture_delay_ms = 40000;
  ScriptedRandom rng{0.05, 0.1};
  EXPECT_EQ(DecideLateCapture(f, rng), 40000);
  EXPECT_EQ(DecideLateCapture(f, rng), 0);
}

TEST(FaultDecisions, NoFaultsPlanNothingAndDrawSeven) {
  ScriptedRandom rng{0.0, 0.0, 0.0, 0.0, 0.0, 0.0, 0.0};
  const CallbackPlan p = PlanCallback(FaultConfig{}, rng);
  EXPECT_EQ(p.delay_ms, 0);
  EXPECT_FALSE(p.dropped);
  EXPECT_EQ(p.extra_copies, 0);
  EXPECT_FALSE(p.replay);
  EXPECT_FALSE(p.forge.has_value());
  EXPECT_EQ(rng.left(), 0u);
}

TEST(FaultDecisions, DelayIsUniformInTheWindow) {
  FaultConfig f;
  f.min_delay_ms = 100;
  f.max_delay_ms = 200;
  for (const auto& [u, want] :
       std::vector<std::pair<double, int64_t>>{{0.0, 100}, {0.5, 150}, {kAlmostOne, 200}}) {
    ScriptedRandom rng{u, 0.9, 0.9, 0.9, 0.9, 0.9, 0.9};
    EXPECT_EQ(PlanCallback(f, rng).delay_ms, want) << u;
  }
}

TEST(FaultDecisions, DropFollowsDropRate) {
  FaultConfig f;
  f.drop_callback_rate = 0.5;
  ScriptedRandom drop{0.0, 0.49, 0.9, 0.9, 0.9, 0.9, 0.9};
  EXPECT_TRUE(PlanCallback(f, drop).dropped);
  ScriptedRandom keep{0.0, 0.5, 0.9, 0.9, 0.9, 0.9, 0.9};
  EXPECT_FALSE(PlanCallback(f, keep).dropped);
}

TEST(FaultDecisions, DuplicateCountIsBoundedByMaxDuplicates) {
  FaultConfig f;
  f.duplicate_callback_rate = 1.0;
  f.max_duplicates = 3;
  for (const auto& [u, want] : std::vector<std::pair<double, int32_t>>{
           {0.0, 1}, {0.33, 1}, {0.34, 2}, {0.66, 2}, {0.67, 3}, {kAlmostOne, 3}}) {
    ScriptedRandom rng{0.0, 0.9, 0.0, u, 0.9, 0.9, 0.9};
    EXPECT_EQ(PlanCallback(f, rng).extra_copies, want) << u;
  }
  for (int32_t max = 0; max <= kMaxDuplicatesLimit; ++max) {
    f.max_duplicates = max;
    ScriptedRandom rng{0.0, 0.9, 0.0, kAlmostOne, 0.9, 0.9, 0.9};
    const int32_t copies = PlanCallback(f, rng).extra_copies;
    EXPECT_GE(copies, 1) << max;
    EXPECT_LE(copies, std::max(1, max)) << max;  // 0 counts as 1
  }
  f.duplicate_callback_rate = 0.2;
  ScriptedRandom miss{0.0, 0.9, 0.2, kAlmostOne, 0.9, 0.9, 0.9};
  EXPECT_EQ(PlanCallback(f, miss).extra_copies, 0);
}

TEST(FaultDecisions, ReplayFollowsReplayRate) {
  FaultConfig f;
  f.replay_rate = 0.1;
  ScriptedRandom yes{0.0, 0.9, 0.9, 0.9, 0.05, 0.9, 0.9};
  EXPECT_TRUE(PlanCallback(f, yes).replay);
  ScriptedRandom no{0.0, 0.9, 0.9, 0.9, 0.1, 0.9, 0.9};
  EXPECT_FALSE(PlanCallback(f, no).replay);
}

TEST(FaultDecisions, ForgeFollowsForgeRateAndPicksAKind) {
  FaultConfig f;
  f.forge_rate = 0.5;
  for (const auto& [u, want] :
       std::vector<std::pair<double, ForgeKind>>{{0.0, ForgeKind::kWrongSecret},
                                                 {0.5, ForgeKind::kFlippedStatus},
                                                 {kAlmostOne, ForgeKind::kAlteredAmount}}) {
    ScriptedRandom rng{0.0, 0.9, 0.9, 0.9, 0.9, 0.1, u};
    const auto plan = PlanCallback(f, rng);
    ASSERT_TRUE(plan.forge.has_value()) << u;
    EXPECT_EQ(*plan.forge, want) << u;
  }
  ScriptedRandom no{0.0, 0.9, 0.9, 0.9, 0.9, 0.5, 0.0};
  EXPECT_FALSE(PlanCallback(f, no).forge.has_value());
}

TEST(FaultDecisions, EveryFaultAtOnce) {
  FaultConfig f;
  f.drop_callback_rate = 1;
  f.duplicate_callback_rate = 1;
  f.max_duplicates = 2;
  f.replay_rate = 1;
  f.forge_rate = 1;
  ScriptedRandom rng{0.3, 0.3, 0.3, 0.3, 0.3, 0.3, 0.3};
  const auto p = PlanCallback(f, rng);
  EXPECT_TRUE(p.dropped);
  EXPECT_EQ(p.extra_copies, 1);
  EXPECT_TRUE(p.replay);
  EXPECT_EQ(p.forge, ForgeKind::kWrongSecret);
}

// All faults on, as the storm sets them.
FaultConfig EveryFault() {
  FaultConfig f;
  f.fail_rate = 0.1;
  f.drop_callback_rate = 0.1;
  f.duplicate_callback_rate = 0.3;
  f.max_duplicates = 5;
  f.max_delay_ms = 3000;
  f.double_charge_rate = 0.2;
  f.replay_rate = 0.2;
  f.forge_rate = 0.2;
  f.wrong_amount_rate = 0.2;
  f.late_capture_rate = 0.2;
  f.late_capture_delay_ms = 40000;
  return f;
}

TEST(DebitDecisions, AFirstCallDrawsDeclineAmountLateCallbackThenTheDoubleCharge) {
  FaultConfig f = EveryFault();
  // not declined; wrong (0.0) and under (0.0); late; callback: delay 0.5,
  // dropped, duplicate x(0.0 -> 1), replay, forge wrong_secret; double
  // charge; its callback: delay 0, nothing.
  ScriptedRandom rng{0.5, 0.0, 0.0, 0.0, 0.5, 0.0, 0.0, 0.0, 0.0, 0.0,
                     0.0, 0.0, 0.0, 0.9, 0.9, 0.9, 0.9, 0.9, 0.9};
  const DebitDecisions d = DecideDebit(f, /*first_call=*/true, 400, rng);
  EXPECT_EQ(rng.left(), 0u);
  EXPECT_FALSE(d.declined);
  EXPECT_EQ(d.captured_minor, 300);
  EXPECT_EQ(d.late_ms, 40000);
  EXPECT_TRUE(d.double_charge);
  ASSERT_EQ(d.callbacks.size(), 2u);
  EXPECT_EQ(d.callbacks[0].delay_ms, 1500);
  EXPECT_EQ(DescribeDecisions(d, 400),
            "first: captured -100, late 40000 ms; callback 1500 ms dropped x1 replay "
            "forge=wrong_secret; double charge; callback 0 ms");
}

TEST(DebitDecisions, ADeclinedFirstCallDrawsNeitherAmountNorLatenessNorDoubleCharge) {
  FaultConfig f = EveryFault();
  ScriptedRandom rng{0.0, 0.0, 0.9, 0.9, 0.9, 0.9, 0.9, 0.9};  // declined, then its callback
  const DebitDecisions d = DecideDebit(f, /*first_call=*/true, 400, rng);
  EXPECT_EQ(rng.left(), 0u);
  EXPECT_TRUE(d.declined);
  EXPECT_EQ(d.captured_minor, 400);
  EXPECT_FALSE(d.double_charge);
  EXPECT_EQ(DescribeDecisions(d, 400), "first: declined; callback 0 ms");
}

TEST(DebitDecisions, ARepeatCallDrawsOnlyTheDoubleCharge) {
  FaultConfig f = EveryFault();
  ScriptedRandom plain{0.9};
  const DebitDecisions none = DecideDebit(f, /*first_call=*/false, 400, plain);
  EXPECT_EQ(plain.left(), 0u);
  EXPECT_EQ(DescribeDecisions(none, 400), "repeat: nothing");
  ScriptedRandom twice{0.0, 0.9, 0.9, 0.9, 0.9, 0.9, 0.9, 0.9};
  const DebitDecisions again = DecideDebit(f, /*first_call=*/false, 400, twice);
  EXPECT_EQ(twice.left(), 0u);
  EXPECT_EQ(DescribeDecisions(again, 400), "repeat: double charge; callback 2700 ms");
}

// The point of the schedule: call n's decisions depend on (seed, n) only,
// not on how many draws the calls beside it made first.
TEST(DebitDecisions, ADrawsDecisionsDependOnTheSeedAndItsNumberOnly) {
  const FaultConfig f = EveryFault();
  auto describe = [&](uint64_t seed, int64_t draw) {
    SeededRandomSource rng(DrawSeed(seed, draw));
    return DescribeDecisions(DecideDebit(f, true, 1000, rng), 1000);
  };
  std::vector<std::string> in_order;
  for (int64_t n = 1; n <= 200; ++n) in_order.push_back(describe(7, n));
  std::set<std::string> distinct(in_order.begin(), in_order.end());
  EXPECT_GT(distinct.size(), 100u) << "draws look alike";
  for (int64_t n = 200; n >= 1; --n) EXPECT_EQ(describe(7, n), in_order[n - 1]) << n;
  int differ = 0;
  for (int64_t n = 1; n <= 200; ++n) differ += describe(8, n) != in_order[n - 1];
  EXPECT_GT(differ, 150) << "another seed gives another schedule";
  EXPECT_NE(DrawSeed(7, 1), DrawSeed(7, 2));
  EXPECT_NE(DrawSeed(7, 1), DrawSeed(8, 1));
}

// ------------------------------------------------------- fault validation

TEST(ValidateFaultConfig, AcceptsDefaultsAndAFullConfig) {
  EXPECT_TRUE(ValidateFaultConfig(FaultConfig{}).ok());
  FaultConfig f;
  f.fail_rate = 1;
  f.drop_callback_rate = 0.5;
  f.duplicate_callback_rate = 0.1;
  f.max_duplicates = 10;
  f.min_delay_ms = 0;
  f.max_delay_ms = 0;
  f.reorder = true;
  f.double_charge_rate = 0.05;
  f.replay_rate = 0.2;
  f.forge_rate = 0.3;
  f.callback_target_down_retry_ms = 1000;
  EXPECT_TRUE(ValidateFaultConfig(f).ok());
  f.min_delay_ms = 5;
  f.max_delay_ms = 5;
  EXPECT_TRUE(ValidateFaultConfig(f).ok());
}

TEST(ValidateFaultConfig, RejectsEachBadFieldNamingIt) {
  const double nan = std::numeric_limits<double>::quiet_NaN();
  struct Case {
    const char* field;
    void (*mutate)(FaultConfig&, double nan);
  };
  const std::vector<Case> cases = {
      {"fail_rate", [](FaultConfig& f, double) { f.fail_rate = -0.01; }},
      {"fail_rate", [](FaultConfig& f, double) { f.fail_rate = 1.01; }},
      {"fail_rate", [](FaultConfig& f, double n) { f.fail_rate = n; }},
      {"drop_callback_rate", [](FaultConfig& f, double) { f.drop_callback_rate = 2; }},
      {"duplicate_callback_rate", [](FaultConfig& f, double) { f.duplicate_callback_rate = -1; }},
      {"double_charge_rate", [](FaultConfig& f, double n) { f.double_charge_rate = n; }},
      {"replay_rate", [](FaultConfig& f, double) { f.replay_rate = 1.5; }},
      {"forge_rate", [](FaultConfig& f, double) { f.forge_rate = -0.5; }},
      {"max_duplicates", [](FaultConfig& f, double) { f.max_duplicates = -1; }},
      {"max_duplicates", [](FaultConfig& f, double) { f.max_duplicates = 11; }},
      {"min_delay_ms", [](FaultConfig& f, double) { f.min_delay_ms = -1; }},
      {"max_delay_ms",
       [](FaultConfig& f, double) {
         f.min_delay_ms = 0;
         f.max_delay_ms = -1;
       }},
      {"min_delay_ms",
       [](FaultConfig& f, double) {
         f.min_delay_ms = 300;
         f.max_delay_ms = 200;
       }},
      {"callback_target_down_retry_ms",
       [](FaultConfig& f, double) { f.callback_target_down_retry_ms = -1; }},
      {"wrong_amount_rate", [](FaultConfig& f, double n) { f.wrong_amount_rate = n; }},
      {"late_capture_rate", [](FaultConfig& f, double) { f.late_capture_rate = 1.5; }},
      {"late_capture_delay_ms", [](FaultConfig& f, double) { f.late_capture_delay_ms = -1; }},
  };
  for (const auto& c : cases) {
    FaultConfig f;
    c.mutate(f, nan);
    const auto s = ValidateFaultConfig(f);
    EXPECT_EQ(s.code(), absl::StatusCode::kInvalidArgument) << c.field;
    EXPECT_NE(s.message().find(c.field), std::string::npos) << s.message();
  }
}

// -------------------------------------------------------------- callbacks

CallbackEvent SampleEvent() {
  CallbackEvent e;
  e.provider = "sandbox";
  e.event_id = "evt-1";
  e.merchant_payment_id = "pay-1";
  e.provider_txn_id = "txn-1";
  e.status = CaptureStatus::kSucceeded;
  e.amount_minor = 1999;
  e.currency = "EUR";
  e.occurred_at_unix_ms = 1'764'806'400'000;
  return e;
}

TEST(CallbackMessage, GenuineDeliveryCarriesTheEventAndVerifiesWithTheFirstSecret) {
  const std::vector<std::string> secrets = ParseSecrets("s3cret, older");
  const auto msg = SignedDelivery(SampleEvent(), secrets.front(), 1'764'806'401'000, "nonce-1");
  EXPECT_EQ(msg.fields.provider, "sandbox");
  EXPECT_EQ(msg.fields.event_id, "evt-1");
  EXPECT_EQ(msg.fields.payment_id, "pay-1");
  EXPECT_EQ(msg.fields.provider_txn_id, "txn-1");
  EXPECT_EQ(msg.fields.status_name, "PAYMENT_STATUS_SUCCEEDED");
  EXPECT_EQ(msg.fields.amount_minor, 1999);
  EXPECT_EQ(msg.fields.currency, "EUR");
  EXPECT_EQ(msg.fields.occurred_at_unix_ms, 1'764'806'400'000);
  EXPECT_EQ(msg.fields.timestamp_unix_ms, 1'764'806'401'000);
  EXPECT_EQ(msg.fields.nonce, "nonce-1");
  // The contract's known vector (tests/unit/callback_signature_test.cc).
  EXPECT_EQ(msg.signature, "bce5c9d29e934cc0fd31bc6340aedb9c1e7e05fb243c57dc4eecc6912ecb8ea7");
  EXPECT_TRUE(VerifyCallbackSignature(secrets, msg.fields, msg.signature));
  EXPECT_TRUE(VerifyCallbackSignature({"s3cret"}, msg.fields, msg.signature));
  EXPECT_FALSE(VerifyCallbackSignature({"older"}, msg.fields, msg.signature));
}

TEST(CallbackMessage, ResendsShareTheEventButNotTheNonceOrSignature) {
  const auto a = SignedDelivery(SampleEvent(), "s3cret", 1000, "nonce-a");
  const auto b = SignedDelivery(SampleEvent(), "s3cret", 2000, "nonce-b");
  EXPECT_EQ(a.fields.event_id, b.fields.event_id);
  EXPECT_NE(a.signature, b.signature);
  EXPECT_TRUE(VerifyCallbackSignature({"s3cret"}, b.fields, b.signature));
}

TEST(CallbackMessage, FailedCaptureSaysFailed) {
  CallbackEvent e = SampleEvent();
  e.status = CaptureStatus::kFailed;
  const auto msg = SignedDelivery(e, "s3cret", 1000, "n");
  EXPECT_EQ(msg.fields.status_name, "PAYMENT_STATUS_FAILED");
  EXPECT_TRUE(VerifyCallbackSignature({"s3cret"}, msg.fields, msg.signature));
}

TEST(CallbackMessage, EveryForgeryIsRejectedWithTheRealSecrets) {
  const std::vector<std::string> secrets = {"s3cret", "older"};
  for (auto kind :
       {ForgeKind::kWrongSecret, ForgeKind::kFlippedStatus, ForgeKind::kAlteredAmount}) {
    const auto forged = ForgedDelivery(SampleEvent(), "s3cret", 1000, "nonce-f", kind);
    EXPECT_FALSE(VerifyCallbackSignature(secrets, forged.fields, forged.signature))
        << ToString(kind);
    EXPECT_EQ(forged.fields.event_id, "evt-1");
    EXPECT_EQ(forged.fields.nonce, "nonce-f");
    EXPECT_EQ(forged.signature.size(), 64u);
  }
  const auto flipped =
      ForgedDelivery(SampleEvent(), "s3cret", 1000, "n", ForgeKind::kFlippedStatus);
  EXPECT_EQ(flipped.fields.status_name, "PAYMENT_STATUS_FAILED");
  const auto altered =
      ForgedDelivery(SampleEvent(), "s3cret", 1000, "n", ForgeKind::kAlteredAmount);
  EXPECT_EQ(altered.fields.amount_minor, 2000);
}

TEST(CallbackMessage, ForgeKindsRoundTrip) {
  for (auto kind :
       {ForgeKind::kWrongSecret, ForgeKind::kFlippedStatus, ForgeKind::kAlteredAmount}) {
    EXPECT_EQ(ParseForgeKind(ToString(kind)), kind);
  }
  EXPECT_FALSE(ParseForgeKind("").has_value());
}

TEST(CallbackTally, CountersInNameOrderAndByName) {
  CallbackTally t;
  std::vector<std::string> names;
  t.ForEach([&names](std::string_view name, int64_t) { names.emplace_back(name); });
  EXPECT_TRUE(std::is_sorted(names.begin(), names.end()));
  EXPECT_EQ(names.size(), 9u);
  for (size_t i = 0; i < names.size(); ++i) EXPECT_TRUE(t.Set(names[i], int64_t(i) + 1));
  EXPECT_FALSE(t.Set("sent", 1));
  EXPECT_EQ(t.Sent(), t.acknowledged + t.rejected + t.unreachable);
  EXPECT_EQ(t.acknowledged, 1);
  EXPECT_EQ(t.unreachable, 9);
}

// ----------------------------------------------------------------- ledger

TEST(Ledger, ValidatesDebits) {
  EXPECT_TRUE(ValidateDebitRequest({"pay-1", 1999, "EUR"}).ok());
  EXPECT_TRUE(ValidateDebitRequest({"pay-1", 1, "XTS"}).ok());
  for (const auto& bad : std::vector<DebitRequest>{{"", 1999, "EUR"},
                                                   {std::string(129, 'p'), 1999, "EUR"},
                                                   {"pay-1", 0, "EUR"},
                                                   {"pay-1", -5, "EUR"},
                                                   {"pay-1", 1999, "eur"},
                                                   {"pay-1", 1999, "EU"},
                                                   {"pay-1", 1999, "EURO"},
                                                   {"pay-1", 1999, ""}}) {
    EXPECT_EQ(ValidateDebitRequest(bad).code(), absl::StatusCode::kInvalidArgument)
        << bad.merchant_payment_id << " " << bad.amount_minor << " " << bad.currency;
  }
}

TEST(Ledger, RepeatDebitMustMatch) {
  const DebitRecord existing{"pay-1", 1999, "EUR", 1};
  EXPECT_TRUE(CheckRepeatDebit(existing, {"pay-1", 1999, "EUR"}).ok());
  EXPECT_EQ(CheckRepeatDebit(existing, {"pay-1", 2000, "EUR"}).code(),
            absl::StatusCode::kFailedPrecondition);
  EXPECT_EQ(CheckRepeatDebit(existing, {"pay-1", 1999, "USD"}).code(),
            absl::StatusCode::kFailedPrecondition);
}

TEST(Ledger, RefundRules) {
  Capture c;
  c.provider_txn_id = "txn-1";
  c.status = CaptureStatus::kSucceeded;
  EXPECT_EQ(*DecideRefund(c), RefundAction::kRefund);
  c.status = CaptureStatus::kRefunded;
  EXPECT_EQ(*DecideRefund(c), RefundAction::kReturnExisting);
  c.status = CaptureStatus::kFailed;
  EXPECT_EQ(DecideRefund(c).status().code(), absl::StatusCode::kFailedPrecondition);

  EXPECT_TRUE(ValidateRefundRequest({"txn-1", "key-1"}).ok());
  EXPECT_EQ(ValidateRefundRequest({"", "key-1"}).code(), absl::StatusCode::kInvalidArgument);
  EXPECT_EQ(ValidateRefundRequest({"txn-1", ""}).code(), absl::StatusCode::kInvalidArgument);

  Refund existing;
  existing.provider_txn_id = "txn-1";
  EXPECT_TRUE(CheckRefundReplay(existing, {"txn-1", "key-1"}).ok());
  EXPECT_EQ(CheckRefundReplay(existing, {"txn-2", "key-1"}).code(),
            absl::StatusCode::kFailedPrecondition);
}

TEST(Ledger, StatusNames) {
  for (auto s : {CaptureStatus::kSucceeded, CaptureStatus::kFailed, CaptureStatus::kRefunded}) {
    EXPECT_EQ(ParseCaptureStatus(ToString(s)), s);
  }
  EXPECT_EQ(PaymentStatusName(CaptureStatus::kRefunded), "PAYMENT_STATUS_REFUNDED");
  EXPECT_FALSE(ParseCaptureStatus("PENDING").has_value());
  Capture c;
  c.status = CaptureStatus::kRefunded;
  EXPECT_TRUE(MovedMoney(c));
  c.status = CaptureStatus::kFailed;
  EXPECT_FALSE(MovedMoney(c));
}

}  // namespace
}  // namespace payonce::provider
