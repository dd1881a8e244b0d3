#include "services/order/domain/payment_event_plan.h"

#include <set>
#include <utility>

namespace payonce::order {
namespace {

// The timeline's note on a repeated delivery.
std::string DuplicateDetail(const std::optional<ApplyOutcome>& first) {
  return first ? "event already applied; first outcome " + std::string(ToString(*first))
               : "event already applied";
}

TimelineRecord EventRecord(const PaymentEventInput& event, std::string old_status,
                           std::string new_status, std::string outcome, std::string detail) {
  return {event.order_id,        event.source,          "payment_event",
          std::move(old_status), std::move(new_status), event.facts.payment_id,
          event.event_id,        std::move(outcome),    std::string(ToString(event.facts.result)),
          std::move(detail)};
}

}  // namespace

std::string_view ToString(PaymentResult result) {
  switch (result) {
    case PaymentResult::kSucceeded:
      return "SUCCEEDED";
    case PaymentResult::kFailed:
      return "FAILED";
    case PaymentResult::kRefunded:
      return "REFUNDED";
  }
  return "";
}

std::optional<PaymentResult> ParsePaymentResult(std::string_view text) {
  for (auto r : {PaymentResult::kSucceeded, PaymentResult::kFailed, PaymentResult::kRefunded}) {
    if (ToString(r) == text) return r;
  }
  return std::nullopt;
}

std::optional<ApplyOutcome> ParseApplyOutcome(std::string_view text) {
  for (auto o : {ApplyOutcome::kApplied, ApplyOutcome::kDuplicate, ApplyOutcome::kIgnored,
                 ApplyOutcome::kRefundRequired}) {
    if (ToString(o) == text) return o;
  }
  return std::nullopt;
}

PaymentEventsPlan PlanPaymentEvents(
    std::map<std::string, Order> orders,
    std::map<std::string, std::optional<ApplyOutcome>> first_outcomes,
    const std::vector<PaymentEventInput>& events) {
  PaymentEventsPlan plan;
  std::set<std::string> moved;  // orders moved by this batch
  // (order_id, event_id) -> its DUPLICATE record in plan.timeline
  std::map<std::pair<std::string, std::string>, size_t> duplicate_record;
  for (const auto& e : events) {
    PlannedEvent planned;
    auto found = orders.find(e.order_id);
    if (found == orders.end()) {
      plan.events.push_back(planned);
      continue;
    }
    planned.order_found = true;
    Order& order = found->second;
    const std::string old_status(ToString(order.status));
    if (const auto first = first_outcomes.find(e.event_id); first != first_outcomes.end()) {
      planned.outcome = ApplyOutcome::kDuplicate;
      planned.first_outcome = first->second;
      const auto [record, added] =
          duplicate_record.emplace(std::pair(e.order_id, e.event_id), plan.timeline.size());
      if (added) {
        plan.timeline.push_back(
            EventRecord(e, old_status, old_status, "DUPLICATE", DuplicateDetail(first->second)));
      } else {
        ++plan.timeline[record->second].repeats;
      }
    } else {
      const ApplyDecision decision = DecidePaymentEvent(order, e.facts);
      if (decision.new_status) {
        order.status = *decision.new_status;
        order.paid_payment_id =
            *decision.new_status == OrderStatus::kPaid ? e.facts.payment_id : "";
        if (*decision.new_status == OrderStatus::kCancelled) order.cancel_reason = decision.detail;
        moved.insert(e.order_id);
      }
      planned.outcome = decision.outcome;
      first_outcomes.emplace(e.event_id, decision.outcome);
      const std::string outcome(ToString(decision.outcome));
      plan.inbox.push_back({e.event_id, e.order_id, e.facts.payment_id,
                            std::string(ToString(e.facts.result)), outcome, e.source});
      plan.timeline.push_back(EventRecord(e, old_status, std::string(ToString(order.status)),
                                          outcome, decision.detail));
    }
    planned.order = order;
    planned.order_moved = moved.count(e.order_id) > 0;
    plan.events.push_back(std::move(planned));
  }
  for (const auto& order_id : moved) plan.moved_orders.push_back(orders.at(order_id));
  return plan;
}

}  // namespace payonce::order
