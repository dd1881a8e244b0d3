#include "services/reconciler/domain/reconcile.h"

#include <algorithm>
#include <unordered_map>
#include <unordered_set>

namespace payonce::reconciler {

bool HoldsMoney(const ProviderCapture& c) { return c.status == PaymentStatus::kSucceeded; }

bool Fits(const ProviderCapture& c, const Amount& expected) {
  return c.amount_minor == expected.minor && c.currency == expected.currency;
}

std::string KeptCapture(const PaymentCaptures& payment) {
  const ProviderCapture* earliest = nullptr;
  for (const auto& c : payment.captures) {
    if (!HoldsMoney(c) || !Fits(c, payment.amount)) continue;
    if (c.provider_txn_id == payment.recorded_txn) return payment.recorded_txn;
    if (earliest == nullptr || c.captured_at_unix_ms < earliest->captured_at_unix_ms) earliest = &c;
  }
  return earliest ? earliest->provider_txn_id : "";
}

StuckDecision DecideStuckPayment(const std::vector<ProviderCapture>& captures,
                                 const Amount& expected, std::chrono::milliseconds age,
                                 std::chrono::milliseconds not_found_grace) {
  StuckDecision d;
  const ProviderCapture* success = nullptr;
  const ProviderCapture* refunded = nullptr;
  const ProviderCapture* failure = nullptr;
  for (const auto& c : captures) {
    if (HoldsMoney(c) && !Fits(c, expected)) {
      d.mismatched_captures.push_back(c.provider_txn_id);
      continue;
    }
    if (HoldsMoney(c) &&
        (success == nullptr || c.captured_at_unix_ms < success->captured_at_unix_ms)) {
      success = &c;
    }
    if (c.status == PaymentStatus::kRefunded && refunded == nullptr && Fits(c, expected)) {
      refunded = &c;
    }
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
      if (HoldsMoney(c) && Fits(c, expected) && c.provider_txn_id != kept.provider_txn_id) {
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
  if (!d.mismatched_captures.empty()) {
    // The provider took another amount: that is not this payment's money.
    d.action = StuckAction::kApplyEvidence;
    d.evidence.reported = PaymentStatus::kFailed;
    d.evidence.failure_reason = "amount_mismatch_at_provider";
    d.evidence.absence = true;
    return d;
  }
  if (age >= not_found_grace) {
    d.action = StuckAction::kNotFoundFailed;
    d.evidence.reported = PaymentStatus::kFailed;
    d.evidence.failure_reason = "not_found_at_provider";
    d.evidence.absence = true;
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
    // Money of another amount never pays it: refunded now.
    bool any_money = false;
    for (const auto& p : payments) {
      for (const auto& c : p.captures)
        any_money = any_money || (HoldsMoney(c) && Fits(c, p.amount));
    }
    plan.wait = any_money;
    if (plan.wait) return plan;
  }
  // The capture the order keeps while it is PAID.
  std::string kept;
  if (order == OrderState::kPaid) {
    for (const auto& p : payments) {
      if (p.payment_id != paid_payment_id) continue;
      if (p.status == PaymentStatus::kRefunded) {
        // Refunded through the API: the order moves to CANCELLED when it
        // hears of it; until then, keep everything. A refunded payment keeps
        // no capture, not even a second one of its amount: kept for the PAID
        // order, it closed the anomaly, and the CANCELLED order that followed
        // held it with nothing left to refund it (storm, seed 14).
        plan.wait = true;
        return plan;
      }
      kept = KeptCapture(p);
    }
    // The paying payment holds nothing: the earliest right-sized capture of
    // another payment pays the order instead of being refunded.
    const ProviderCapture* earliest = nullptr;
    for (const auto& p : payments) {
      if (!kept.empty()) break;
      for (const auto& c : p.captures) {
        if (!HoldsMoney(c) || !Fits(c, p.amount)) continue;
        if (earliest == nullptr || c.captured_at_unix_ms < earliest->captured_at_unix_ms) {
          earliest = &c;
        }
      }
    }
    if (kept.empty() && earliest != nullptr) kept = earliest->provider_txn_id;
  }
  for (const auto& p : payments) {
    const std::string own = KeptCapture(p);
    for (const auto& c : p.captures) {
      if (!HoldsMoney(c) || c.provider_txn_id == kept) continue;
      RefundPlan::Item item;
      item.payment_id = p.payment_id;
      item.provider_txn_id = c.provider_txn_id;
      item.amount_minor = c.amount_minor;
      item.currency = c.currency;
      item.whole_payment = c.provider_txn_id == own && p.status == PaymentStatus::kSucceeded;
      if (!Fits(c, p.amount)) {
        item.reason = "captured " + std::to_string(c.amount_minor) + " " + c.currency +
                      "; the payment is " + std::to_string(p.amount.minor) + " " +
                      p.amount.currency;
      } else if (order == OrderState::kCancelled) {
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
  const bool extra_refunded =
      std::find(ours->refunded_extra_captures.begin(), ours->refunded_extra_captures.end(),
                line.provider_txn_id) != ours->refunded_extra_captures.end();
  if (line.amount_minor != ours->amount_minor || line.currency != ours->currency) {
    // A capture of another amount that is not the payment's own (the payment
    // FAILED, or succeeded with another capture) can never pay for anything:
    // the refund pass returns it (capture_amount_mismatch). A mismatch on the
    // payment's own capture contradicts what we recorded: a person looks.
    const bool settled =
        ours->status == PaymentStatus::kSucceeded || ours->status == PaymentStatus::kRefunded;
    // An extra capture we refunded ourselves (and its refund line) is known.
    if (extra_refunded) return out;
    // A PENDING payment is the stuck-payment job's: it queries the provider,
    // finds the capture of another amount and refunds it
    // (capture_amount_mismatch). Filed here too, it was a NEEDS_REVIEW that
    // nobody needed to review (4-16 per storm run).
    if (!line.refund && ours->status == PaymentStatus::kPending) return out;
    const bool stray = !line.refund && (ours->status == PaymentStatus::kFailed ||
                                        (settled && ours->provider_txn_id != line.provider_txn_id));
    out.push_back({stray ? "capture_amount_mismatch" : "settlement_amount_mismatch",
                   ours->payment_id, line.provider_txn_id,
                   "statement says " + std::to_string(line.amount_minor) + " " + line.currency +
                       ", ledger says " + std::to_string(ours->amount_minor) + " " + ours->currency,
                   false});
    return out;
  }
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
