#include "services/reconciler/app/reconciler.h"

#include <map>
#include <set>

namespace payonce::reconciler {
namespace {

using payment::Payment;

std::string Msg(const absl::Status& s) { return std::string(s.message()); }

}  // namespace

Reconciler::Reconciler(ReconcilerOptions options, ReconcileStore& store,
                       payment::ProviderGateway& provider, OrderDesk& orders,
                       SettlementSource& settlement, const Clock& clock,
                       ReconcilerObserver& observer, Logger& log)
    : options_(std::move(options)),
      store_(store),
      provider_(provider),
      orders_(orders),
      settlement_(settlement),
      clock_(clock),
      observer_(observer),
      log_(log) {}

template <class Job>
absl::StatusOr<PassReport> Reconciler::Timed(const std::string& job, Job&& work) {
  const auto start = std::chrono::steady_clock::now();
  absl::StatusOr<PassReport> report = work();
  const std::chrono::duration<double> elapsed = std::chrono::steady_clock::now() - start;
  observer_.Run(job, report.ok() ? "ok" : "error", elapsed.count());
  if (!report.ok()) {
    log_.Warn("reconciliation pass failed", {{"job", job}, {"error", Msg(report.status())}});
  } else if (report->repaired > 0 || report->refunds > 0 || report->anomalies > 0) {
    log_.Info("reconciliation pass", {{"job", job},
                                      {"examined", report->examined},
                                      {"repaired", report->repaired},
                                      {"refunds", report->refunds},
                                      {"anomalies", report->anomalies},
                                      {"deferred", report->deferred}});
  }
  return report;
}

absl::StatusOr<PassReport> Reconciler::ResolveStuckPayments() {
  return Timed("stuck_payments", [&]() -> absl::StatusOr<PassReport> {
    PassReport report;
    auto claimed = store_.ClaimStuckPayments(options_.stuck_after, options_.batch, options_.lease);
    if (!claimed.ok()) return claimed.status();
    const int64_t now_us = clock_.NowUnixMs() * 1000;
    for (const auto& c : *claimed) {
      ++report.examined;
      const Payment& p = c.payment;
      auto captures = provider_.QueryTransaction(p.payment_id);
      if (!captures.ok()) {
        // The provider cannot answer: the payment stays PENDING; back off.
        ++report.deferred;
        store_
            .Defer(p.payment_id,
                   RetryDelay(c.attempts + 1, options_.retry_base, options_.retry_cap))
            .IgnoreError();
        continue;
      }
      const auto age = std::chrono::milliseconds((now_us - p.created_at_us) / 1000);
      const StuckDecision d = DecideStuckPayment(*captures, {p.amount_minor, p.currency}, age,
                                                 options_.not_found_grace);
      if (d.action == StuckAction::kWait) {
        ++report.deferred;
        store_.Defer(p.payment_id, options_.retry_base).IgnoreError();
        continue;
      }
      auto outcome =
          store_.ApplyEvidence(p.payment_id, d.evidence, d.extra_captures, d.mismatched_captures);
      if (!outcome.ok()) {
        ++report.deferred;
        store_
            .Defer(p.payment_id,
                   RetryDelay(c.attempts + 1, options_.retry_base, options_.retry_cap))
            .IgnoreError();
        continue;
      }
      if (*outcome == EvidenceOutcome::kApplied) {
        ++report.repaired;
        observer_.Repair(d.action == StuckAction::kNotFoundFailed ? "not_found_at_provider"
                                                                  : "stuck_payment_resolved",
                         1);
      }
      report.anomalies +=
          static_cast<int64_t>(d.extra_captures.size() + d.mismatched_captures.size());
    }
    return report;
  });
}

absl::StatusOr<PassReport> Reconciler::RepairPaidButPending() {
  return Timed("paid_but_pending", [&]() -> absl::StatusOr<PassReport> {
    PassReport report;
    if (auto confirmed = store_.ConfirmDeliveredSuccesses(); !confirmed.ok()) {
      return confirmed.status();
    }
    auto claimed = store_.ClaimUnconfirmedSuccesses(options_.unconfirmed_after, options_.batch,
                                                    options_.lease);
    if (!claimed.ok()) return claimed.status();
    int64_t pending = 0;
    for (const auto& c : *claimed) {
      ++report.examined;
      const Payment& p = c.payment;
      auto order = orders_.GetOrder(p.order_id);
      auto settled = order.ok() ? SettleSuccess(p, *order) : order.status();
      if (!settled.ok()) {
        ++report.deferred;
        store_
            .Defer(p.payment_id,
                   RetryDelay(c.attempts + 1, options_.retry_base, options_.retry_cap))
            .IgnoreError();
        continue;
      }
      if (order->state == OrderState::kPendingPayment) ++pending;
      if (*settled == Settlement::kPaidNow) {
        ++report.repaired;
        observer_.Repair("paid_but_pending", 1);
      }
      if (*settled == Settlement::kRefundRequired) ++report.anomalies;
    }
    observer_.PaidButPending(pending);
    return report;
  });
}

absl::StatusOr<Reconciler::Settlement> Reconciler::SettleSuccess(const Payment& payment,
                                                                 const OrderView& order) {
  std::string why;
  switch (order.state) {
    case OrderState::kPaid:
      if (order.paid_payment_id == payment.payment_id) {
        if (auto s = store_.MarkOrderConfirmed(payment.payment_id); !s.ok()) return s;
        return Settlement::kConfirmed;
      }
      why = "order was paid by " + order.paid_payment_id;
      break;
    case OrderState::kCancelled:
      why = "order is cancelled";
      break;
    case OrderState::kPendingPayment: {
      // The event id is derived from the payment, so replicas, repeated
      // passes and both jobs that call this apply it once; a repeat answers
      // what the first application decided.
      auto outcome = orders_.ApplyPaymentEvent("reconciler:succeeded:" + payment.payment_id,
                                               payment, PaymentStatus::kSucceeded);
      if (!outcome.ok()) return outcome.status();
      if (*outcome == "APPLIED" || *outcome == "IGNORED") {
        if (auto s = store_.MarkOrderConfirmed(payment.payment_id); !s.ok()) return s;
        return *outcome == "APPLIED" ? Settlement::kPaidNow : Settlement::kConfirmed;
      }
      if (*outcome != "REFUND_REQUIRED") {
        return absl::UnavailableError("order service answered " + *outcome);
      }
      why = "order service answered REFUND_REQUIRED";
      break;
    }
    case OrderState::kUnknown:
      return absl::UnavailableError("order " + payment.order_id + " is in an unknown state");
  }
  if (auto s = store_.RecordRefundRequired(payment.payment_id,
                                           "succeeded payment the order cannot take: " + why);
      !s.ok()) {
    return s;
  }
  return Settlement::kRefundRequired;
}

absl::StatusOr<PassReport> Reconciler::RefundExtraCaptures() {
  return Timed("refund_extra_captures", [&]() -> absl::StatusOr<PassReport> {
    PassReport report;
    auto anomalies = store_.ClaimAnomalies(
        {"duplicate_capture", "refund_required", "late_success", "capture_amount_mismatch"},
        options_.batch, options_.lease);
    if (!anomalies.ok()) return anomalies.status();
    for (const auto& a : *anomalies) {
      ++report.examined;
      const auto retry = RetryDelay(a.attempts + 1, options_.retry_base, options_.retry_cap);
      auto payments = store_.PaymentsOfOrder(a.order_id);
      if (!payments.ok()) {
        store_.DeferAnomaly(a.anomaly_id, retry, Msg(payments.status())).IgnoreError();
        continue;
      }
      auto order = orders_.GetOrder(a.order_id);
      if (!order.ok()) {
        store_.DeferAnomaly(a.anomaly_id, retry, "order service: " + Msg(order.status()))
            .IgnoreError();
        ++report.deferred;
        continue;
      }
      std::vector<PaymentCaptures> all;
      bool provider_ok = true;
      for (const auto& p : *payments) {
        if (p.status == PaymentStatus::kPending) continue;
        auto captures = provider_.QueryTransaction(p.payment_id);
        if (!captures.ok()) {
          provider_ok = false;
          break;
        }
        all.push_back(
            {p.payment_id, p.status, p.provider_txn_id, *captures, {p.amount_minor, p.currency}});
      }
      if (!provider_ok) {
        store_.DeferAnomaly(a.anomaly_id, retry, "provider unreachable").IgnoreError();
        ++report.deferred;
        continue;
      }
      RefundPlan plan = PlanRefunds(order->state, order->paid_payment_id, all);
      if (const std::string payer = PaymentToSettle(order->state, all);
          plan.wait && !payer.empty()) {
        // The order has not heard of its success yet (the relay is on its
        // way, or gave up): tell it now, as the paid-but-pending job would,
        // rather than hold the extra money for one more interval.
        for (const auto& p : *payments) {
          if (p.payment_id != payer) continue;
          if (auto told = SettleSuccess(p, *order); told.ok() && *told == Settlement::kPaidNow) {
            observer_.Repair("paid_but_pending", 1);
          }
        }
        if (auto settled = orders_.GetOrder(a.order_id); settled.ok()) {
          order = std::move(settled);
          plan = PlanRefunds(order->state, order->paid_payment_id, all);
        }
      }
      if (plan.wait) {
        store_.DeferAnomaly(a.anomaly_id, options_.retry_base, "waiting for the order to settle")
            .IgnoreError();
        ++report.deferred;
        continue;
      }
      bool all_done = true;
      std::string resolution;
      for (const auto& item : plan.refunds) {
        auto refund = provider_.Refund(item.provider_txn_id, RefundKeyFor(item.provider_txn_id));
        if (!refund.ok()) {
          all_done = false;
          break;
        }
        auto recorded = store_.RecordCaptureRefund(item, a.order_id, refund->refund_id);
        if (!recorded.ok()) {
          all_done = false;
          break;
        }
        resolution += (resolution.empty() ? "refunded " : ", ") + item.provider_txn_id;
        if (*recorded) {
          ++report.refunds;
          observer_.DuplicateCapturesRefunded(1);
          observer_.Repair("capture_refunded", 1);
          // The order's timeline shows the refund too.
          const Payment* paid = nullptr;
          for (const auto& p : *payments) {
            if (p.payment_id == item.payment_id) paid = &p;
          }
          if (paid != nullptr && !item.whole_payment) {
            orders_.TellExtraCaptureRefunded(*paid, item.provider_txn_id, item.amount_minor)
                .IgnoreError();
          }
        }
      }
      if (!all_done) {
        store_.DeferAnomaly(a.anomaly_id, retry, "refund did not complete; will retry")
            .IgnoreError();
        ++report.deferred;
        continue;
      }
      store_
          .ResolveAnomaly(a.anomaly_id, "AUTO_REPAIRED",
                          resolution.empty() ? "no extra money left" : resolution)
          .IgnoreError();
      ++report.repaired;
    }
    return report;
  });
}

absl::StatusOr<Reconciler::Comparison> Reconciler::Compare(const StatementWindow& window,
                                                           const std::vector<LedgerCapture>& ours) {
  auto lines = settlement_.Statement(window.from_unix_ms, window.to_unix_ms);
  if (!lines.ok()) return lines.status();
  Comparison out;
  out.lines = static_cast<int64_t>(lines->size());
  for (const auto& line : *lines) {
    auto ledger = store_.LedgerFor(line.payment_id);
    if (!ledger.ok()) return ledger.status();
    for (auto& d : CompareLine(line, *ledger)) out.found.push_back(std::move(d));
  }
  for (auto& d :
       FindCapturesMissingAtProvider(window, *lines, ours, options_.settlement_clock_skew)) {
    out.found.push_back(std::move(d));
  }
  return out;
}

absl::StatusOr<PassReport> Reconciler::CompareSettlement() {
  return Timed("settlement", [&]() -> absl::StatusOr<PassReport> {
    PassReport report;
    // One leader: the statement is read as one stream per window, and two
    // replicas reading it at once would only duplicate work.
    auto led = store_.AsLeader("settlement", [&]() -> absl::Status {
      const int64_t now_ms = clock_.NowUnixMs();
      auto cursor = store_.Cursor("settlement");
      if (!cursor.ok()) return cursor.status();
      const int64_t to = now_ms - options_.settlement_lag.count();
      const int64_t from = cursor->has_value() ? **cursor - options_.settlement_overlap.count()
                                               : now_ms - options_.settlement_lookback.count();
      if (to <= from) return absl::OkStatus();
      // Our captures learned in this window; the statement read reaches back
      // to their creation, so each is checked once some pass covers it.
      auto ours = store_.CapturesSucceededBetween(from, to);
      if (!ours.ok()) return ours.status();
      const StatementWindow read = WidenToCover({from, to}, *ours, options_.settlement_clock_skew,
                                                now_ms - options_.settlement_lookback.count());
      auto found = Compare(read, *ours);
      if (!found.ok()) return found.status();
      report.examined += found->lines + static_cast<int64_t>(ours->size());
      for (const auto& d : found->found) {
        ++report.anomalies;
        if (d.repair_with_settlement) {
          CaptureEvidence e;
          e.reported = PaymentStatus::kSucceeded;
          e.rank = EvidenceRank::kSettlement;
          e.provider_txn_id = d.provider_txn_id;
          auto applied = store_.ApplyEvidence(d.payment_id, e, {}, {});
          const bool repaired = applied.ok() && *applied == EvidenceOutcome::kApplied;
          if (repaired) {
            ++report.repaired;
            observer_.Repair("capture_missing_on_our_side", 1);
          }
          store_.RecordDiscrepancy(d, repaired ? "AUTO_REPAIRED" : "NEEDS_REVIEW").IgnoreError();
        } else {
          // Extra money is refunded by RefundExtraCaptures (OPEN); the rest,
          // capture_missing_at_provider above all, needs a person.
          const bool refundable =
              d.kind == "duplicate_capture" || d.kind == "capture_amount_mismatch";
          store_.RecordDiscrepancy(d, refundable ? "OPEN" : "NEEDS_REVIEW").IgnoreError();
        }
      }
      return store_.SetCursor("settlement", to);
    });
    if (!led.ok()) return led.status();
    return report;
  });
}

absl::Status Reconciler::RunAll() {
  absl::Status first = absl::OkStatus();
  auto keep = [&](const absl::StatusOr<PassReport>& r) {
    if (!r.ok() && first.ok()) first = r.status();
  };
  keep(ResolveStuckPayments());
  keep(RepairPaidButPending());
  keep(RefundExtraCaptures());
  keep(CompareSettlement());
  auto counts = store_.OpenAnomalyCounts();
  if (counts.ok()) observer_.OpenAnomalies(*counts);
  return first;
}

absl::StatusOr<std::vector<Discrepancy>> Reconciler::ReportSettlement(int64_t from_unix_ms,
                                                                      int64_t to_unix_ms) {
  auto ours = store_.CapturesSucceededBetween(from_unix_ms, to_unix_ms);
  if (!ours.ok()) return ours.status();
  auto compared = Compare({from_unix_ms, to_unix_ms}, *ours);
  if (!compared.ok()) return compared.status();
  return std::move(compared->found);
}

}  // namespace payonce::reconciler
