// What a batch of payment events does to its orders, decided without I/O: the
// planner both ApplyPaymentEvent paths use (a single event is a batch of one).
// The PostgreSQL adapter reads the batch's orders and inbox entries under
// lock, asks PlanPaymentEvents, and writes the plan in one statement.
#pragma once

#include <cstdint>
#include <map>
#include <optional>
#include <string>
#include <vector>

#include "services/order/domain/order.h"

namespace payonce::order {

// One payment event as the relay or the reconciler delivers it.
struct PaymentEventInput {
  std::string event_id;
  std::string order_id;
  PaymentEventFacts facts;
  int64_t occurred_at_us = 0;
  std::string source;  // "relay" or "reconciler"
};

// "SUCCEEDED", "FAILED", "REFUNDED" (the database spelling).
std::string_view ToString(PaymentResult result);
std::optional<PaymentResult> ParsePaymentResult(std::string_view text);
std::optional<ApplyOutcome> ParseApplyOutcome(std::string_view text);

// A row of the inbox (payment_event_inbox): an event decided for the first
// time.
struct InboxRecord {
  std::string event_id;
  std::string order_id;
  std::string payment_id;
  std::string status;
  std::string outcome;
  std::string source;
  bool operator==(const InboxRecord&) const = default;
};

// A row of an order's timeline; empty strings are NULL in the database.
struct TimelineRecord {
  std::string order_id;
  std::string source;
  std::string kind;
  std::string old_status;
  std::string new_status;
  std::string payment_id;
  std::string event_id;
  std::string outcome;
  std::string payment_status;
  std::string detail;
  // Deliveries a DUPLICATE record stands for: the repeats of one event are
  // one record (the database adds them to the event's existing one).
  int repeats = 1;
  bool operator==(const TimelineRecord&) const = default;
};

// What one event of the batch comes to.
struct PlannedEvent {
  // False: the event's order does not exist (NOT_FOUND); nothing else is set.
  bool order_found = false;
  ApplyOutcome outcome = ApplyOutcome::kIgnored;
  // kDuplicate only: the outcome of the event's first delivery (nullopt if
  // the inbox's value was unreadable).
  std::optional<ApplyOutcome> first_outcome;
  // The order as this event leaves it.
  Order order;
  // The order was moved by an event of this batch (this one or one before):
  // its stored row (updated_at) is the one the batch writes.
  bool order_moved = false;
  bool operator==(const PlannedEvent&) const = default;
};

struct PaymentEventsPlan {
  // One per event, in input order.
  std::vector<PlannedEvent> events;
  // Orders the batch moves, as it leaves them, by order_id.
  std::vector<Order> moved_orders;
  std::vector<InboxRecord> inbox;
  // In the order the events arrived.
  std::vector<TimelineRecord> timeline;
};

// Decides `events` in arrival order, each against its order as the events
// before it left it, exactly as if each were applied in its own transaction:
// an event id already in `first_outcomes` (the inbox, or earlier in the
// batch) is a DUPLICATE answering its first outcome; any other is decided by
// DecidePaymentEvent. `orders` are the batch's orders as stored (unknown ids
// are NOT_FOUND); `first_outcomes` the inbox's entries for the batch's event
// ids.
PaymentEventsPlan PlanPaymentEvents(
    std::map<std::string, Order> orders,
    std::map<std::string, std::optional<ApplyOutcome>> first_outcomes,
    const std::vector<PaymentEventInput>& events);

}  // namespace payonce::order
