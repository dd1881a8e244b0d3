#include <gtest/gtest.h>

#include <map>
#include <set>
#include <string>
#include <utility>
#include <vector>

#include "services/payment/domain/callback_plan.h"
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

// What each kind of transition writes, as a table.
TEST(PlanEvidence, WritesPerTransitionKind) {
  auto payment = [](PaymentStatus status, const std::string& txn, bool late = false) {
    Payment p;
    p.payment_id = "pay-1";
    p.order_id = "ord-1";
    p.amount_minor = 1999;
    p.currency = "EUR";
    p.status = status;
    p.provider_txn_id = txn;
    p.failure_reason = status == PaymentStatus::kFailed ? "declined" : "";
    p.late_success = late;
    return p;
  };
  auto evidence = [](PaymentStatus reported, EvidenceRank rank, const std::string& txn) {
    CaptureEvidence e;
    e.reported = reported;
    e.rank = rank;
    e.provider_txn_id = txn;
    e.failure_reason = reported == PaymentStatus::kFailed ? "declined_by_provider" : "";
    return e;
  };
  using S = PaymentStatus;
  using R = EvidenceRank;
  struct Row {
    const char* name;
    Payment current;
    R current_rank;
    CaptureEvidence evidence;
    bool emits_event;
    S after_status;
    std::string after_txn;
    R after_rank;
    bool live;
    bool late_success;
    std::string history;  // "old>new: detail", "" when none
    std::string anomaly;  // kinds, comma-separated, "" when none
  };
  const std::vector<Row> rows = {
      {"pending, success", payment(S::kPending, ""), R::kNone,
       evidence(S::kSucceeded, R::kCallback, "t1"), true, S::kSucceeded, "t1", R::kCallback, true,
       false, "PENDING>SUCCEEDED: captured", ""},
      {"pending with debit id, its own capture", payment(S::kPending, "t0"), R::kNone,
       evidence(S::kSucceeded, R::kCallback, "t0"), true, S::kSucceeded, "t0", R::kCallback, true,
       false, "PENDING>SUCCEEDED: captured", ""},
      // Issue 12, defect 5: the second capture's callback arrives first.
      {"pending with debit id keeps it; another capture is a second one",
       payment(S::kPending, "t0"), R::kNone, evidence(S::kSucceeded, R::kQuery, "t1"), true,
       S::kSucceeded, "t0", R::kQuery, true, false, "PENDING>SUCCEEDED: captured",
       "duplicate_capture"},
      {"failed with debit id, late success of another capture", payment(S::kFailed, "t0"),
       R::kCallback, evidence(S::kSucceeded, R::kCallback, "t1"), true, S::kSucceeded, "t0",
       R::kCallback, false, true, "FAILED>SUCCEEDED: late success",
       "late_success,duplicate_capture"},
      {"pending, failure", payment(S::kPending, ""), R::kNone,
       evidence(S::kFailed, R::kCallback, "t1"), true, S::kFailed, "t1", R::kCallback, false, false,
       "PENDING>FAILED: declined_by_provider", ""},
      {"failed, success by callback: late", payment(S::kFailed, ""), R::kCallback,
       evidence(S::kSucceeded, R::kCallback, "t1"), true, S::kSucceeded, "t1", R::kCallback, false,
       true, "FAILED>SUCCEEDED: late success", "late_success"},
      {"failed by query, success by callback: stale", payment(S::kFailed, ""), R::kQuery,
       evidence(S::kSucceeded, R::kCallback, "t1"), false, S::kFailed, "", R::kQuery, true, false,
       "FAILED>FAILED: ignored: success reported by weaker evidence than the failure (reported "
       "SUCCEEDED)",
       ""},
      {"succeeded, same capture again", payment(S::kSucceeded, "t1"), R::kCallback,
       evidence(S::kSucceeded, R::kCallback, "t1"), false, S::kSucceeded, "t1", R::kCallback, true,
       false, "", ""},
      {"succeeded, a second capture", payment(S::kSucceeded, "t1"), R::kCallback,
       evidence(S::kSucceeded, R::kCallback, "t2"), false, S::kSucceeded, "t1", R::kCallback, true,
       false, "SUCCEEDED>SUCCEEDED: second capture t2 reported", "duplicate_capture"},
      {"succeeded, failure: stale", payment(S::kSucceeded, "t1"), R::kCallback,
       evidence(S::kFailed, R::kSettlement, "t1"), false, S::kSucceeded, "t1", R::kCallback, true,
       false,
       "SUCCEEDED>SUCCEEDED: ignored: a succeeded payment never becomes failed (reported FAILED)",
       ""},
  };
  for (const Row& r : rows) {
    SCOPED_TRACE(r.name);
    const EvidencePlan plan = PlanEvidence({r.current, r.current_rank}, r.evidence, "evt-1");
    EXPECT_EQ(plan.emits_event, r.emits_event);
    EXPECT_EQ(plan.after.payment.status, r.after_status);
    EXPECT_EQ(plan.after.payment.provider_txn_id, r.after_txn);
    EXPECT_EQ(plan.after.rank, r.after_rank);
    EXPECT_EQ(plan.after.payment.late_success, r.late_success);
    if (r.emits_event) {
      EXPECT_EQ(plan.live, r.live);
      EXPECT_EQ(plan.after.payment.failure_reason,
                r.after_status == S::kFailed ? "declined_by_provider" : "");
    }
    const std::string history = plan.history
                                    ? plan.history->old_status + ">" + plan.history->new_status +
                                          ": " + plan.history->detail
                                    : "";
    EXPECT_EQ(history, r.history);
    if (plan.history) {
      EXPECT_EQ(plan.history->event_id, "evt-1");
      EXPECT_EQ(plan.history->source, EvidenceSource(r.evidence.rank));
    }
    std::string anomalies;
    for (const auto& a : plan.anomalies) {
      anomalies += (anomalies.empty() ? "" : ",") + a.kind;
      EXPECT_EQ(a.provider_txn_id, r.evidence.provider_txn_id);
    }
    EXPECT_EQ(anomalies, r.anomaly);
  }
}

// Issue 12, defect 4: "the provider has no record" fails a payment, but a
// capture reported afterwards, even by a callback, is applied as a late
// success instead of being ignored as weaker evidence.
TEST(PlanEvidence, AbsenceAtTheProviderRanksBelowAnyReportedCapture) {
  Payment pending;
  pending.payment_id = "p1";
  pending.status = PaymentStatus::kPending;
  CaptureEvidence not_found;
  not_found.reported = PaymentStatus::kFailed;
  not_found.rank = EvidenceRank::kQuery;
  not_found.failure_reason = "not_found_at_provider";
  not_found.absence = true;
  const EvidencePlan failed = PlanEvidence({pending, EvidenceRank::kNone}, not_found, "query");
  ASSERT_EQ(failed.after.payment.status, PaymentStatus::kFailed);
  EXPECT_EQ(failed.after.rank, EvidenceRank::kNone);
  EXPECT_EQ(failed.history->source, "query");

  CaptureEvidence callback;
  callback.reported = PaymentStatus::kSucceeded;
  callback.rank = EvidenceRank::kCallback;
  callback.provider_txn_id = "t1";
  const EvidencePlan late = PlanEvidence(failed.after, callback, "evt-1");
  EXPECT_EQ(late.transition.kind, TransitionKind::kApply);
  EXPECT_EQ(late.after.payment.status, PaymentStatus::kSucceeded);
  EXPECT_TRUE(late.after.payment.late_success);
  ASSERT_EQ(late.anomalies.size(), 1u);
  EXPECT_EQ(late.anomalies[0].kind, "late_success");

  // A failure the provider itself reported still outranks a weaker success.
  CaptureEvidence declined = not_found;
  declined.absence = false;
  declined.failure_reason = "declined_by_provider";
  const EvidencePlan reported = PlanEvidence({pending, EvidenceRank::kNone}, declined, "query");
  EXPECT_EQ(reported.after.rank, EvidenceRank::kQuery);
  EXPECT_EQ(PlanEvidence(reported.after, callback, "evt-1").transition.kind,
            TransitionKind::kIgnoredStale);
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

// ---------------------------------------------------------- PlanCallbacks

LedgerPayment PendingLedger(const std::string& id, int64_t amount = 100) {
  LedgerPayment l;
  l.payment.payment_id = id;
  l.payment.order_id = "order-" + id;
  l.payment.amount_minor = amount;
  l.payment.currency = "EUR";
  l.payment.provider = "sandbox";
  l.payment.status = PaymentStatus::kPending;
  return l;
}

CallbackMessage CallbackFor(const std::string& payment_id, const std::string& event_id,
                            const std::string& txn, PaymentStatus status, int64_t amount = 100) {
  CallbackMessage m = GoodCallback();
  m.payment_id = payment_id;
  m.event_id = event_id;
  m.provider_txn_id = txn;
  m.status = status;
  m.amount_minor = amount;
  return m;
}

// What a sequence of plans leaves behind, as the database would hold it.
struct CallbackLedger {
  std::map<std::string, LedgerPayment> payments;
  std::set<std::pair<std::string, std::string>> recorded_events;
  std::vector<CallbackResult> results;
  std::vector<PlannedHistory> history;
  std::vector<PlannedAnomaly> anomalies;
  std::vector<PlannedOutboxEvent> outbox;
  std::vector<PlannedRecordedCallback> recorded;

  void Record(const CallbacksPlan& plan) {
    for (const auto& [id, update] : plan.updates) payments[id] = update.ledger;
    for (const auto& r : plan.recorded) recorded_events.emplace(r.provider, r.event_id);
    results.insert(results.end(), plan.results.begin(), plan.results.end());
    history.insert(history.end(), plan.history.begin(), plan.history.end());
    anomalies.insert(anomalies.end(), plan.anomalies.begin(), plan.anomalies.end());
    outbox.insert(outbox.end(), plan.outbox.begin(), plan.outbox.end());
    recorded.insert(recorded.end(), plan.recorded.begin(), plan.recorded.end());
  }
};

// Issue 12, defect 8: the per-callback decisions of a batch are one pure
// planner, and a batch ends exactly as the same callbacks applied one by one
// (each a batch of one), without a database.
TEST(PlanCallbacks, ABatchEndsExactlyAsTheSameCallbacksOneByOne) {
  const std::map<std::string, LedgerPayment> stored = {
      {"a", PendingLedger("a")}, {"b", PendingLedger("b")}, {"c", PendingLedger("c")}};
  const std::set<std::pair<std::string, std::string>> recorded = {{"sandbox", "evt-old"}};
  const std::vector<CallbackMessage> callbacks = {
      CallbackFor("a", "evt-a1", "txn-a", PaymentStatus::kSucceeded),
      CallbackFor("a", "evt-a1", "txn-a", PaymentStatus::kSucceeded),   // same event again
      CallbackFor("a", "evt-a2", "txn-a2", PaymentStatus::kSucceeded),  // a second capture
      CallbackFor("b", "evt-b1", "txn-b", PaymentStatus::kFailed),
      CallbackFor("b", "evt-b2", "txn-b", PaymentStatus::kSucceeded),      // late success
      CallbackFor("c", "evt-c1", "txn-c", PaymentStatus::kSucceeded, 99),  // another amount
      CallbackFor("c", "evt-old", "txn-c", PaymentStatus::kSucceeded),     // recorded before
      CallbackFor("nowhere", "evt-x", "txn-x", PaymentStatus::kSucceeded),
      CallbackFor("c", "evt-c2", "txn-c", PaymentStatus::kSucceeded),  // nonce replayed
      CallbackFor("c", "evt-c3", "txn-c", PaymentStatus::kSucceeded),
      CallbackFor("c", "evt-c4", "txn-c", PaymentStatus::kFailed),  // would regress
  };
  std::vector<bool> replayed(callbacks.size(), false);
  replayed[8] = true;
  std::vector<std::string> outbox_ids;
  for (size_t i = 0; i < callbacks.size(); ++i) outbox_ids.push_back("out-" + std::to_string(i));

  CallbackLedger batched{stored, recorded, {}, {}, {}, {}, {}};
  batched.Record(PlanCallbacks(callbacks, outbox_ids, {replayed, stored, recorded}));
  CallbackLedger one_by_one{stored, recorded, {}, {}, {}, {}, {}};
  for (size_t i = 0; i < callbacks.size(); ++i) {
    one_by_one.Record(
        PlanCallbacks({callbacks[i]}, {outbox_ids[i]},
                      {{replayed[i]}, one_by_one.payments, one_by_one.recorded_events}));
  }

  EXPECT_EQ(batched.results, one_by_one.results);
  EXPECT_EQ(batched.payments, one_by_one.payments);
  EXPECT_EQ(batched.history, one_by_one.history);
  EXPECT_EQ(batched.anomalies, one_by_one.anomalies);
  EXPECT_EQ(batched.outbox, one_by_one.outbox);
  EXPECT_EQ(batched.recorded, one_by_one.recorded);
  // The mix covers every effect.
  std::vector<CallbackEffect> effects;
  for (const auto& r : batched.results) effects.push_back(r.effect);
  using E = CallbackEffect;
  EXPECT_EQ(effects, (std::vector<E>{E::kApplied, E::kDuplicate, E::kDuplicate, E::kApplied,
                                     E::kApplied, E::kMismatch, E::kDuplicate, E::kNotFound,
                                     E::kReplayedNonce, E::kApplied, E::kIgnoredStale}));
  std::vector<std::string> kinds;
  for (const auto& a : batched.anomalies) kinds.push_back(a.kind + " " + a.payment_id);
  EXPECT_EQ(kinds, (std::vector<std::string>{"duplicate_capture a", "late_success b",
                                             "callback_amount_mismatch c"}));
  EXPECT_EQ(batched.payments.at("b").payment.status, PaymentStatus::kSucceeded);
  EXPECT_TRUE(batched.payments.at("b").payment.late_success);
  EXPECT_EQ(batched.outbox.size(), 4u);  // a, b failed, b late success, c
}

}  // namespace
}  // namespace payonce::payment
