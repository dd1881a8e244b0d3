#include <gtest/gtest.h>

#include "services/payment/domain/payment.h"

namespace payonce::payment {
namespace {

using std::chrono::system_clock;

// The payment state machine over every (state, evidence) pair.
TEST(DecideTransition, TableOverEveryStateAndEvidence) {
  struct Row {
    PaymentStatus current;
    EvidenceRank current_rank;
    PaymentStatus reported;
    EvidenceRank rank;
    TransitionKind kind;
    PaymentStatus new_status;
    bool late;
    bool live;
  };
  using S = PaymentStatus;
  using K = TransitionKind;
  using R = EvidenceRank;
  const std::vector<Row> rows = {
      {S::kPending, R::kNone, S::kSucceeded, R::kCallback, K::kApply, S::kSucceeded, false, true},
      {S::kPending, R::kNone, S::kFailed, R::kCallback, K::kApply, S::kFailed, false, false},
      {S::kPending, R::kNone, S::kSucceeded, R::kQuery, K::kApply, S::kSucceeded, false, true},
      {S::kPending, R::kNone, S::kFailed, R::kSettlement, K::kApply, S::kFailed, false, false},
      {S::kSucceeded, R::kCallback, S::kSucceeded, R::kCallback, K::kDuplicate, S::kSucceeded,
       false, true},
      {S::kSucceeded, R::kCallback, S::kFailed, R::kCallback, K::kIgnoredStale, S::kSucceeded,
       false, true},
      {S::kSucceeded, R::kCallback, S::kFailed, R::kSettlement, K::kIgnoredStale, S::kSucceeded,
       false, true},
      {S::kFailed, R::kCallback, S::kFailed, R::kCallback, K::kDuplicate, S::kFailed, false, false},
      {S::kFailed, R::kCallback, S::kSucceeded, R::kCallback, K::kApply, S::kSucceeded, true,
       false},
      {S::kFailed, R::kCallback, S::kSucceeded, R::kQuery, K::kApply, S::kSucceeded, true, false},
      {S::kFailed, R::kQuery, S::kSucceeded, R::kCallback, K::kIgnoredStale, S::kFailed, false,
       false},
      {S::kFailed, R::kQuery, S::kSucceeded, R::kSettlement, K::kApply, S::kSucceeded, true, false},
      {S::kRefunded, R::kCallback, S::kSucceeded, R::kCallback, K::kDuplicate, S::kRefunded, false,
       false},
      {S::kRefunded, R::kCallback, S::kFailed, R::kCallback, K::kIgnoredStale, S::kRefunded, false,
       false},
  };
  for (size_t i = 0; i < rows.size(); ++i) {
    const auto& r = rows[i];
    CaptureEvidence e;
    e.reported = r.reported;
    e.rank = r.rank;
    const Transition t = DecideTransition(r.current, r.current_rank, e);
    EXPECT_EQ(t.kind, r.kind) << "row " << i;
    EXPECT_EQ(t.new_status, r.new_status) << "row " << i;
    EXPECT_EQ(t.late_success, r.late) << "row " << i;
    EXPECT_EQ(t.live, r.live) << "row " << i;
  }
}

TEST(DecideTransition, NothingEverMovesBackToPendingOrFromSucceededToFailed) {
  for (auto current : {PaymentStatus::kPending, PaymentStatus::kSucceeded, PaymentStatus::kFailed,
                       PaymentStatus::kRefunded}) {
    for (auto reported : {PaymentStatus::kSucceeded, PaymentStatus::kFailed}) {
      for (auto rank : {EvidenceRank::kCallback, EvidenceRank::kQuery, EvidenceRank::kSettlement}) {
        CaptureEvidence e{reported, rank, "", ""};
        const Transition t = DecideTransition(current, EvidenceRank::kCallback, e);
        if (t.kind != TransitionKind::kApply) continue;
        EXPECT_NE(t.new_status, PaymentStatus::kPending);
        EXPECT_FALSE(current == PaymentStatus::kSucceeded &&
                     t.new_status == PaymentStatus::kFailed);
        EXPECT_NE(current, PaymentStatus::kRefunded);
      }
    }
  }
}

TEST(CheckRefundable, OnlySucceeded) {
  EXPECT_TRUE(CheckRefundable(PaymentStatus::kSucceeded).ok());
  for (auto s : {PaymentStatus::kPending, PaymentStatus::kFailed, PaymentStatus::kRefunded}) {
    EXPECT_EQ(CheckRefundable(s).code(), absl::StatusCode::kFailedPrecondition);
  }
}

TEST(DecideIdempotency, Table) {
  const auto now = system_clock::now();
  const auto later = now + std::chrono::seconds(10);
  const auto earlier = now - std::chrono::seconds(10);
  EXPECT_EQ(DecideIdempotency(std::nullopt, "fp", now), IdempotencyAction::kProceed);
  EXPECT_EQ(DecideIdempotency(IdempotencyRecord{"fp", true, earlier}, "fp", now),
            IdempotencyAction::kReplay);
  EXPECT_EQ(DecideIdempotency(IdempotencyRecord{"fp", true, earlier}, "other", now),
            IdempotencyAction::kMismatch);
  EXPECT_EQ(DecideIdempotency(IdempotencyRecord{"fp", false, later}, "other", now),
            IdempotencyAction::kMismatch);
  EXPECT_EQ(DecideIdempotency(IdempotencyRecord{"fp", false, later}, "fp", now),
            IdempotencyAction::kInFlight);
  EXPECT_EQ(DecideIdempotency(IdempotencyRecord{"fp", false, earlier}, "fp", now),
            IdempotencyAction::kTakeOver);
}

TEST(Fingerprint, DependsOnEveryField) {
  const auto base = CreatePaymentFingerprint("o1", 100, "EUR");
  EXPECT_EQ(base, CreatePaymentFingerprint("o1", 100, "EUR"));
  EXPECT_NE(base, CreatePaymentFingerprint("o2", 100, "EUR"));
  EXPECT_NE(base, CreatePaymentFingerprint("o1", 101, "EUR"));
  EXPECT_NE(base, CreatePaymentFingerprint("o1", 100, "USD"));
  EXPECT_NE(RefundFingerprint("p1", "a"), RefundFingerprint("p1", "b"));
}

CallbackMessage GoodCallback() {
  CallbackMessage m;
  m.provider = "sandbox";
  m.event_id = "evt";
  m.payment_id = "pay";
  m.provider_txn_id = "txn";
  m.status_name = "PAYMENT_STATUS_SUCCEEDED";
  m.status = PaymentStatus::kSucceeded;
  m.amount_minor = 100;
  m.currency = "EUR";
  m.occurred_at_unix_ms = 1'000;
  m.timestamp_unix_ms = 1'000'000;
  m.nonce = "n";
  m.signature = std::string(64, 'a');
  return m;
}

TEST(ValidateCallbackShape, RejectsMissingOrMalformedFields) {
  EXPECT_TRUE(ValidateCallbackShape(GoodCallback()).ok());
  std::vector<void (*)(CallbackMessage&)> breakers = {
      [](CallbackMessage& m) { m.provider.clear(); },
      [](CallbackMessage& m) { m.event_id.clear(); },
      [](CallbackMessage& m) { m.payment_id.clear(); },
      [](CallbackMessage& m) { m.provider_txn_id.clear(); },
      [](CallbackMessage& m) { m.nonce.clear(); },
      [](CallbackMessage& m) { m.signature = "abc"; },
      [](CallbackMessage& m) { m.status = std::nullopt; },
      [](CallbackMessage& m) { m.status = PaymentStatus::kPending; },
      [](CallbackMessage& m) { m.status = PaymentStatus::kRefunded; },
      [](CallbackMessage& m) { m.amount_minor = 0; },
      [](CallbackMessage& m) { m.currency = "eur"; },
      [](CallbackMessage& m) { m.occurred_at_unix_ms = 0; },
      [](CallbackMessage& m) { m.timestamp_unix_ms = -1; },
      [](CallbackMessage& m) { m.event_id = std::string(129, 'e'); },
  };
  for (size_t i = 0; i < breakers.size(); ++i) {
    CallbackMessage m = GoodCallback();
    breakers[i](m);
    EXPECT_EQ(ValidateCallbackShape(m).code(), absl::StatusCode::kInvalidArgument) << i;
  }
}

TEST(CheckCallbackWindow, ThreeHundredSecondsEitherWay) {
  CallbackMessage m = GoodCallback();
  const int64_t now = 1'000'000'000;
  for (int64_t offset : {0LL, 300'000LL, -300'000LL}) {
    m.timestamp_unix_ms = now + offset;
    EXPECT_TRUE(CheckCallbackWindow(m, now).ok()) << offset;
  }
  for (int64_t offset : {300'001LL, -300'001LL}) {
    m.timestamp_unix_ms = now + offset;
    EXPECT_EQ(CheckCallbackWindow(m, now).code(), absl::StatusCode::kUnauthenticated) << offset;
  }
}

}  // namespace
}  // namespace payonce::payment
