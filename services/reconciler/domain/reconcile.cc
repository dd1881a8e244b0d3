#include "services/reconciler/domain/reconcile.h"

#include <algorithm>
#include <unordered_map>
#include <unordered_set>

namespace payonce::reconciler {

bool HoldsMoney(const ProviderCapture& c) { return c.status == PaymentStatus::kSucceeded; }

std::string KeptCapture(const std::string& recorded_txn,
                        const std::vector<ProviderCapture>& captures) {
  const ProviderCapture* earliest = nullptr;
  for (const auto& c : captures) {
    if (!HoldsMoney(c)) continue;
    if (c.provider_txn_id == recorded_txn) return recorded_txn;
    if (earliest == nullptr || c.captured_at_unix_ms < earliest->captured_at_unix_ms) earliest = &c;
  }
  return earliest ? earliest->provider_txn_id : "";
}

StuckDecision DecideStuckPayment(const std::vector<ProviderCapture>& captures,
                                 std::chrono::milliseconds age,
                                 std::chrono::milliseconds not_found_grace) {
  StuckDecision d;
  const ProviderCapture* success = nullptr;
  const ProviderCapture* refunded = nullptr;
  const ProviderCapture* failure = nullptr;
  for (const auto& c : captures) {
    if (HoldsMoney(c) &&
        (success == nullptr || c.captured_at_unix_ms < success->captured_at_unix_ms)) {
      success = &c;
    }
    if (c.status == PaymentStatus::kRefunded && refunded == nullptr) refunded = &c;
    if (c.status == PaymentStatus::kFailed && failure == nullptr) failure = &c;
  }
  d.evidence.rank = EvidenceRank::kQuery;
  if (success != nullptr || refunded != nullptr) {
    // Money moved (a refunded capture moved it too, then back).
    const ProviderCapture& kept = success ? *success : *refunded;
    d.action = StuckAction::kApplyEvidence;
    d.evidence.reported = PaymentStatus::kSucceeded;
    d.evidence.provider_txn_id = kept.provider_txn_id;
    for (const auto& c : captures) {
      if (HoldsMoney(c) && c.provider_txn_id != kept.provider_txn_id) {
        d.extra_captures.push_back(c.provider_txn_id);
      }
    }
    return d;
  }
  if (failure != nullptr) {
    d.action = StuckAction::kApplyEvidence;
    d.evidence.reported = PaymentStatus::kFailed;
    d.evidence.provider_txn_id = failure->provider_txn_id;
    d.evidence.failure_reason = "declined_by_provider";
    return d;
  }
  if (age >= not_found_grace) {
    d.action = StuckAction::kNotFoundFailed;
    d.evidence.reported = PaymentStatus::kFailed;
    d.evidence.failure_reason = "not_found_at_provider";
    return d;
  }
  d.action = StuckAction::kWait;
  return d;
}

RefundPlan PlanRefunds(OrderState order, const std::string& paid_payment_id,
                       const std::vector<PaymentCaptures>& payments) {
  RefundPlan plan;
  if (order == OrderState::kPendingPayment || order == OrderState::kUnknown) {
    // Pay first (or find out); refund once it is clear which money stays.
    bool any_money = false;
    for (const auto& p : payments) {
      for (const auto& c : p.captures) any_money = any_money || HoldsMoney(c);
    }
    plan.wait = any_money;
    return plan;
  }
  for (const auto& p : payments) {
    const bool keeps = order == OrderState::kPaid && p.payment_id == paid_payment_id;
    const std::string kept = keeps ? KeptCapture(p.recorded_txn, p.captures) : "";
    const std::string own = KeptCapture(p.recorded_txn, p.captures);
    for (const auto& c : p.captures) {
      if (!HoldsMoney(c) || c.provider_txn_id == kept) continue;
      RefundPlan::Item item;
      item.payment_id = p.payment_id;
      item.provider_txn_id = c.provider_txn_id;
      item.amount_minor = c.amount_minor;
      item.currency = c.currency;
      item.whole_payment = c.provider_txn_id == own && p.status == PaymentStatus::kSucceeded;
      if (order == OrderState::kCancelled) {
        item.reason = "paid after the order was cancelled";
      } else if (p.payment_id != paid_payment_id) {
        item.reason = "second successful payment; order paid by " + paid_payment_id;
      } else {
        item.reason = "duplicate capture of one payment";
      }
      plan.refunds.push_back(std::move(item));
    }
  }
  return plan;
}

std::string PaymentToSettle(OrderState order, const std::vector<PaymentCaptures>& payments) {
  if (order != OrderState::kPendingPayment) return "";
  for (const auto& p : payments) {
    if (p.status == PaymentStatus::kSucceeded) return p.payment_id;
  }
  return "";
}

std::string RefundKeyFor(const std::string& provider_txn_id) { return "refund:" + provider_txn_id; }

std::chrono::milliseconds RetryDelay(int attempts, std::chrono::milliseconds base,
                                     std::chrono::milliseconds cap) {
  if (attempts <= 1) return std::min(base, cap);
  auto delay = base;
  for (int i = 1; i < attempts && delay < cap; ++i) delay *= 2;
  return std::min(delay, cap);
}

std::vector<Discrepancy> CompareLine(const StatementLine& line,
                                     const std::optional<LedgerPayment>& ours) {
  std::vector<Discrepancy> out;
  if (!ours) {
    out.push_back(
        {"capture_unknown_payment", line.payment_id, line.provider_txn_id,
         std::string(line.refund ? "refund" : "capture") + " for a payment we do not know", false});
    return out;
  }
  if (line.amount_minor != ours->amount_minor || line.currency != ours->currency) {
    out.push_back({"settlement_amount_mismatch", ours->payment_id, line.provider_txn_id,
                   "statement says " + std::to_string(line.amount_minor) + " " + line.currency +
                       ", ledger says " + std::to_string(ours->amount_minor) + " " + ours->currency,
                   false});
    return out;
  }
  const bool extra_refunded =
      std::find(ours->refunded_extra_captures.begin(), ours->refunded_extra_captures.end(),
                line.provider_txn_id) != ours->refunded_extra_captures.end();
  if (!line.refund) {
    if (ours->status == PaymentStatus::kPending || ours->status == PaymentStatus::kFailed) {
      out.push_back({"capture_missing_on_our_side", ours->payment_id, line.provider_txn_id,
                     "statement has capture " + line.provider_txn_id + "; ledger says " +
                         std::string(payment::ToString(ours->status)),
                     true});
    } else if (!ours->provider_txn_id.empty() && ours->provider_txn_id != line.provider_txn_id &&
               !extra_refunded) {
      out.push_back({"duplicate_capture", ours->payment_id, line.provider_txn_id,
                     "statement has a second capture " + line.provider_txn_id + " besides " +
                         ours->provider_txn_id,
                     false});
    }
    return out;
  }
  // A refund line: we must know about it (the payment REFUNDED, or the extra
  // capture refunded by us).
  const bool own_refunded =
      line.provider_txn_id == ours->provider_txn_id && ours->status == PaymentStatus::kRefunded;
  if (!own_refunded && !extra_refunded) {
    out.push_back(
        {"refund_missing_on_our_side", ours->payment_id, line.provider_txn_id,
         "statement has a refund of " + line.provider_txn_id + " that the ledger does not record",
         false});
  }
  return out;
}

bool WindowCovers(const StatementWindow& window, const LedgerCapture& capture,
                  std::chrono::milliseconds skew) {
  // Half-open: a capture at exactly `to` is the next window's.
  return window.from_unix_ms <= capture.created_at_unix_ms - skew.count() &&
         capture.succeeded_at_unix_ms + skew.count() < window.to_unix_ms;
}

StatementWindow WidenToCover(StatementWindow window, const std::vector<LedgerCapture>& ours,
                             std::chrono::milliseconds skew, int64_t floor_unix_ms) {
  // Widening only: a window that already starts before the floor stays.
  for (const auto& c : ours) {
    const int64_t needed = std::max(c.created_at_unix_ms - skew.count(), floor_unix_ms);
    window.from_unix_ms = std::min(window.from_unix_ms, needed);
  }
  return window;
}

std::vector<Discrepancy> FindCapturesMissingAtProvider(const StatementWindow& window,
                                                       const std::vector<StatementLine>& lines,
                                                       const std::vector<LedgerCapture>& ours,
                                                       std::chrono::milliseconds skew) {
  // Capture lines by txn; other captures of the same payment, for the detail.
  std::unordered_set<std::string> on_statement;
  std::unordered_map<std::string, std::vector<std::string>> txns_of_payment;
  for (const auto& line : lines) {
    if (line.refund) continue;
    on_statement.insert(line.provider_txn_id);
    txns_of_payment[line.payment_id].push_back(line.provider_txn_id);
  }
  std::vector<Discrepancy> out;
  for (const auto& c : ours) {
    if (c.provider_txn_id.empty() || !WindowCovers(window, c, skew)) continue;
    if (on_statement.count(c.provider_txn_id) > 0) continue;
    std::string detail = "ledger has capture " + c.provider_txn_id + " (" +
                         std::string(payment::ToString(c.status)) + ", " +
                         std::to_string(c.amount_minor) + " " + c.currency +
                         "); the statement for its window does not";
    if (const auto it = txns_of_payment.find(c.payment_id); it != txns_of_payment.end()) {
      detail += "; it lists other captures of the payment:";
      for (const auto& txn : it->second) detail += " " + txn;
    }
    out.push_back(
        {"capture_missing_at_provider", c.payment_id, c.provider_txn_id, std::move(detail), false});
  }
  return out;
}

}  // namespace payonce::reconciler
