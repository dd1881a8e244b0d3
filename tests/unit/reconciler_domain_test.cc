#include <gtest/gtest.h>

#include "services/reconciler/domain/reconcile.h"

namespace payonce::reconciler {
namespace {

using std::chrono::milliseconds;

ProviderCapture Capture(const std::string& txn, PaymentStatus status, int64_t at = 1000,
                        int64_t amount = 500) {
  return {txn, status, amount, "EUR", at};
}

TEST(DecideStuckPayment, Table) {
  struct Row {
    const char* name;
    std::vector<ProviderCapture> captures;
    milliseconds age;
    StuckAction action;
    PaymentStatus reported;
    std::string txn;
    std::vector<std::string> extra;
  };
  const milliseconds grace(60000);
  const std::vector<Row> rows = {
      {"captured",
       {Capture("t1", PaymentStatus::kSucceeded)},
       milliseconds(5000),
       StuckAction::kApplyEvidence,
       PaymentStatus::kSucceeded,
       "t1",
       {}},
      {"declined",
       {Capture("t1", PaymentStatus::kFailed)},
       milliseconds(5000),
       StuckAction::kApplyEvidence,
       PaymentStatus::kFailed,
       "t1",
       {}},
      {"captured twice",
       {Capture("t2", PaymentStatus::kSucceeded, 2000),
        Capture("t1", PaymentStatus::kSucceeded, 1000)},
       milliseconds(5000),
       StuckAction::kApplyEvidence,
       PaymentStatus::kSucceeded,
       "t1",
       {"t2"}},
      {"captured then refunded",
       {Capture("t1", PaymentStatus::kRefunded)},
       milliseconds(5000),
       StuckAction::kApplyEvidence,
       PaymentStatus::kSucceeded,
       "t1",
       {}},
      {"unknown, young",
       {},
       milliseconds(5000),
       StuckAction::kWait,
       PaymentStatus::kPending,
       "",
       {}},
      {"unknown, past grace",
       {},
       milliseconds(60000),
       StuckAction::kNotFoundFailed,
       PaymentStatus::kFailed,
       "",
       {}},
  };
  for (const auto& r : rows) {
    const auto d = DecideStuckPayment(r.captures, r.age, grace);
    EXPECT_EQ(d.action, r.action) << r.name;
    if (r.action == StuckAction::kWait) continue;
    EXPECT_EQ(d.evidence.reported, r.reported) << r.name;
    EXPECT_EQ(d.evidence.rank, EvidenceRank::kQuery) << r.name;
    EXPECT_EQ(d.evidence.provider_txn_id, r.txn) << r.name;
    EXPECT_EQ(d.extra_captures, r.extra) << r.name;
  }
  EXPECT_EQ(DecideStuckPayment({}, milliseconds(60000), grace).evidence.failure_reason,
            "not_found_at_provider");
}

TEST(PlanRefunds, PaidOrderKeepsOneCaptureOfItsPayment) {
  const std::vector<PaymentCaptures> payments = {
      {"p1",
       PaymentStatus::kSucceeded,
       "t1",
       {Capture("t1", PaymentStatus::kSucceeded), Capture("t1b", PaymentStatus::kSucceeded)}},
      {"p2", PaymentStatus::kSucceeded, "t2", {Capture("t2", PaymentStatus::kSucceeded)}},
      {"p3", PaymentStatus::kFailed, "t3", {Capture("t3", PaymentStatus::kFailed)}},
      {"p4", PaymentStatus::kRefunded, "t4", {Capture("t4", PaymentStatus::kRefunded)}},
  };
  const auto plan = PlanRefunds(OrderState::kPaid, "p1", payments);
  ASSERT_FALSE(plan.wait);
  ASSERT_EQ(plan.refunds.size(), 2u);
  EXPECT_EQ(plan.refunds[0].provider_txn_id, "t1b");
  EXPECT_FALSE(plan.refunds[0].whole_payment);
  EXPECT_EQ(plan.refunds[1].provider_txn_id, "t2");
  EXPECT_TRUE(plan.refunds[1].whole_payment);
}

TEST(PlanRefunds, CancelledOrderKeepsNothing) {
  const auto plan = PlanRefunds(
      OrderState::kCancelled, "",
      {{"p1", PaymentStatus::kSucceeded, "t1", {Capture("t1", PaymentStatus::kSucceeded)}}});
  ASSERT_EQ(plan.refunds.size(), 1u);
  EXPECT_TRUE(plan.refunds[0].whole_payment);
  EXPECT_EQ(plan.refunds[0].amount_minor, 500);
}

TEST(PlanRefunds, PendingOrderWithMoneyWaits) {
  const auto plan = PlanRefunds(
      OrderState::kPendingPayment, "",
      {{"p1", PaymentStatus::kSucceeded, "t1", {Capture("t1", PaymentStatus::kSucceeded)}}});
  EXPECT_TRUE(plan.wait);
  EXPECT_TRUE(plan.refunds.empty());
  EXPECT_FALSE(PlanRefunds(OrderState::kPendingPayment, "", {}).wait);
}

TEST(PlanRefunds, LateSuccessThatPaidTheOrderIsKept) {
  const auto plan = PlanRefunds(
      OrderState::kPaid, "p1",
      {{"p1", PaymentStatus::kSucceeded, "t1", {Capture("t1", PaymentStatus::kSucceeded)}}});
  EXPECT_TRUE(plan.refunds.empty());
}

TEST(RefundKeyFor, DerivedFromTheCapture) {
  EXPECT_EQ(RefundKeyFor("t1"), RefundKeyFor("t1"));
  EXPECT_NE(RefundKeyFor("t1"), RefundKeyFor("t2"));
}

TEST(RetryDelay, DoublesUpToTheCap) {
  EXPECT_EQ(RetryDelay(0, milliseconds(100), milliseconds(1000)), milliseconds(100));
  EXPECT_EQ(RetryDelay(1, milliseconds(100), milliseconds(1000)), milliseconds(100));
  EXPECT_EQ(RetryDelay(2, milliseconds(100), milliseconds(1000)), milliseconds(200));
  EXPECT_EQ(RetryDelay(4, milliseconds(100), milliseconds(1000)), milliseconds(800));
  EXPECT_EQ(RetryDelay(5, milliseconds(100), milliseconds(1000)), milliseconds(1000));
  EXPECT_EQ(RetryDelay(60, milliseconds(100), milliseconds(1000)), milliseconds(1000));
}

TEST(CompareLine, Table) {
  const LedgerPayment succeeded{"p1", PaymentStatus::kSucceeded, "t1", 500, "EUR", {}};
  const LedgerPayment pending{"p1", PaymentStatus::kPending, "", 500, "EUR", {}};
  const LedgerPayment refunded{"p1", PaymentStatus::kRefunded, "t1", 500, "EUR", {}};
  const LedgerPayment extra_refunded{"p1", PaymentStatus::kSucceeded, "t1", 500, "EUR", {"t2"}};
  struct Row {
    const char* name;
    StatementLine line;
    std::optional<LedgerPayment> ours;
    std::vector<std::string> kinds;
  };
  const std::vector<Row> rows = {
      {"matching capture", {false, "t1", "p1", 500, "EUR"}, succeeded, {}},
      {"unknown payment",
       {false, "t1", "p9", 500, "EUR"},
       std::nullopt,
       {"capture_unknown_payment"}},
      {"amount differs",
       {false, "t1", "p1", 501, "EUR"},
       succeeded,
       {"settlement_amount_mismatch"}},
      {"currency differs",
       {false, "t1", "p1", 500, "USD"},
       succeeded,
       {"settlement_amount_mismatch"}},
      {"we missed the capture",
       {false, "t1", "p1", 500, "EUR"},
       pending,
       {"capture_missing_on_our_side"}},
      {"second capture", {false, "t2", "p1", 500, "EUR"}, succeeded, {"duplicate_capture"}},
      {"second capture already refunded", {false, "t2", "p1", 500, "EUR"}, extra_refunded, {}},
      {"refund we know", {true, "t1", "p1", 500, "EUR"}, refunded, {}},
      {"extra refund we know", {true, "t2", "p1", 500, "EUR"}, extra_refunded, {}},
      {"refund we do not know",
       {true, "t1", "p1", 500, "EUR"},
       succeeded,
       {"refund_missing_on_our_side"}},
  };
  for (const auto& r : rows) {
    std::vector<std::string> kinds;
    for (const auto& d : CompareLine(r.line, r.ours)) kinds.push_back(d.kind);
    EXPECT_EQ(kinds, r.kinds) << r.name;
  }
  EXPECT_TRUE(CompareLine({false, "t1", "p1", 500, "EUR"}, pending)[0].repair_with_settlement);
}

}  // namespace
}  // namespace payonce::reconciler
