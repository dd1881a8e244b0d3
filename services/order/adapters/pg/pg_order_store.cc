#include "services/order/adapters/pg/pg_order_store.h"

#include <map>
#include <optional>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

#include "services/common/group_commit.h"
#include "services/common/pg_array.h"
#include "services/common/pg_statement.h"

namespace payonce::order {
namespace {

#define ORDER_COLUMNS                                                                \
  "order_id, request_id, customer_id, amount_minor, currency, description, status, " \
  "coalesce(paid_payment_id, ''), cancel_reason, "                                   \
  "(extract(epoch FROM created_at) * 1000000)::bigint, "                             \
  "(extract(epoch FROM updated_at) * 1000000)::bigint"

constexpr PgStatement kInsertOrder{
    "pg_order_store.insert_order",
    "INSERT INTO orders (order_id, request_id, customer_id, amount_minor, currency, "
    "description, status) VALUES ($1, $2, $3, $4, $5, $6, 'PENDING_PAYMENT') "
    "ON CONFLICT (request_id) DO NOTHING RETURNING " ORDER_COLUMNS};

constexpr PgStatement kSelectByRequestId{"pg_order_store.select_by_request_id",
                                         "SELECT " ORDER_COLUMNS
                                         " FROM orders WHERE request_id = $1"};

constexpr PgStatement kSelectById{"pg_order_store.select_by_id",
                                  "SELECT " ORDER_COLUMNS " FROM orders WHERE order_id = $1"};

constexpr PgStatement kSelectByIdForUpdate{"pg_order_store.select_by_id_for_update",
                                           "SELECT " ORDER_COLUMNS
                                           " FROM orders WHERE order_id = $1 FOR UPDATE"};

constexpr PgStatement kListOrders{
    "pg_order_store.list_orders",
    "SELECT " ORDER_COLUMNS
    " FROM orders "
    "WHERE ($1 = '' OR customer_id = $1) AND ($2 = '' OR status = $2) "
    "AND (NOT $3 OR (created_at, order_id) < "
    "     (timestamptz 'epoch' + $4::bigint * interval '1 microsecond', $5)) "
    "ORDER BY created_at DESC, order_id DESC LIMIT $6"};

constexpr PgStatement kCancelOrder{
    "pg_order_store.cancel_order",
    "UPDATE orders SET status = 'CANCELLED', paid_payment_id = NULL, cancel_reason = $2, "
    "updated_at = clock_timestamp() WHERE order_id = $1 RETURNING " ORDER_COLUMNS};

constexpr PgStatement kMarkPaid{
    "pg_order_store.mark_paid",
    "UPDATE orders SET status = 'PAID', paid_payment_id = $2, updated_at = clock_timestamp() "
    "WHERE order_id = $1 RETURNING " ORDER_COLUMNS};

constexpr PgStatement kInsertTimeline{
    "pg_order_store.insert_timeline",
    "INSERT INTO order_timeline (order_id, source, kind, old_status, new_status, payment_id, "
    "event_id, outcome, payment_status, detail) "
    "VALUES ($1, $2, $3, nullif($4, ''), nullif($5, ''), nullif($6, ''), nullif($7, ''), "
    "nullif($8, ''), nullif($9, ''), $10)"};

constexpr PgStatement kSelectInbox{"pg_order_store.select_inbox",
                                   "SELECT outcome FROM payment_event_inbox WHERE event_id = $1"};

constexpr PgStatement kInsertInbox{
    "pg_order_store.insert_inbox",
    "INSERT INTO payment_event_inbox (event_id, order_id, payment_id, status, outcome, source) "
    "VALUES ($1, $2, $3, $4, $5, $6)"};

// A batch of payment events (ApplyPaymentEvents): its orders locked in
// order_id order (the same order in every batch, so two batches never
// deadlock), its inbox hits, then every write as one statement.
constexpr PgStatement kLockOrders{"pg_order_store.lock_orders",
                                  "SELECT " ORDER_COLUMNS
                                  " FROM orders WHERE order_id = ANY($1::text[]) "
                                  "ORDER BY order_id FOR UPDATE"};

constexpr PgStatement kSelectInboxBatch{
    "pg_order_store.select_inbox_batch",
    "SELECT event_id, outcome FROM payment_event_inbox WHERE event_id = ANY($1::text[])"};

constexpr PgStatement kWriteEvents{
    "pg_order_store.write_events",
    "WITH changed AS ("
    " UPDATE orders SET status = c.new_status, paid_payment_id = nullif(c.paid_by, ''), "
    " cancel_reason = CASE WHEN c.new_status = 'CANCELLED' THEN c.reason ELSE cancel_reason END, "
    " updated_at = clock_timestamp() "
    " FROM unnest($1::text[], $2::text[], $19::text[], $20::text[]) "
    " AS c(changed_order, paid_by, new_status, reason) "
    " WHERE order_id = c.changed_order RETURNING " ORDER_COLUMNS
    "), inbox AS ("
    " INSERT INTO payment_event_inbox (event_id, order_id, payment_id, status, outcome, source) "
    " SELECT * FROM unnest($3::text[], $4::text[], $5::text[], $6::text[], $7::text[], "
    " $8::text[])"
    "), timeline AS ("
    " INSERT INTO order_timeline (order_id, source, kind, old_status, new_status, payment_id, "
    " event_id, outcome, payment_status, detail) "
    " SELECT t.order_id, t.source, t.kind, nullif(t.old_status, ''), "
    " nullif(t.new_status, ''), nullif(t.payment_id, ''), nullif(t.event_id, ''), "
    " nullif(t.outcome, ''), nullif(t.payment_status, ''), t.detail "
    " FROM unnest($9::text[], $10::text[], $11::text[], $12::text[], $13::text[], $14::text[], "
    " $15::text[], $16::text[], $17::text[], $18::text[]) WITH ORDINALITY "
    " AS t(order_id, source, kind, old_status, new_status, payment_id, event_id, outcome, "
    " payment_status, detail, n) ORDER BY t.n"
    ") SELECT * FROM changed"};

constexpr PgStatement kSelectTimeline{
    "pg_order_store.select_timeline",
    "SELECT (extract(epoch FROM at) * 1000000)::bigint, source, kind, coalesce(old_status, ''), "
    "coalesce(new_status, ''), coalesce(payment_id, ''), coalesce(event_id, ''), "
    "coalesce(outcome, ''), coalesce(payment_status, ''), detail "
    "FROM order_timeline WHERE order_id = $1 ORDER BY entry_id"};

constexpr PgStatement kOrderExists{"pg_order_store.order_exists",
                                   "SELECT 1 FROM orders WHERE order_id = $1"};

#undef ORDER_COLUMNS

Order OrderFromRow(const pqxx::row& r) {
  Order o;
  o.order_id = r[0].as<std::string>();
  o.request_id = r[1].as<std::string>();
  o.customer_id = r[2].as<std::string>();
  o.amount_minor = r[3].as<int64_t>();
  o.currency = r[4].as<std::string>();
  o.description = r[5].as<std::string>();
  o.status = ParseOrderStatus(r[6].as<std::string>()).value_or(OrderStatus::kPendingPayment);
  o.paid_payment_id = r[7].as<std::string>();
  o.cancel_reason = r[8].as<std::string>();
  o.created_at_us = r[9].as<int64_t>();
  o.updated_at_us = r[10].as<int64_t>();
  return o;
}

std::string_view ResultText(PaymentResult r) {
  switch (r) {
    case PaymentResult::kSucceeded:
      return "SUCCEEDED";
    case PaymentResult::kFailed:
      return "FAILED";
    case PaymentResult::kRefunded:
      return "REFUNDED";
  }
  return "";
}

std::optional<PaymentResult> ParseResult(std::string_view text) {
  if (text == "SUCCEEDED") return PaymentResult::kSucceeded;
  if (text == "FAILED") return PaymentResult::kFailed;
  if (text == "REFUNDED") return PaymentResult::kRefunded;
  return std::nullopt;
}

std::optional<ApplyOutcome> ParseOutcome(std::string_view text) {
  for (auto o : {ApplyOutcome::kApplied, ApplyOutcome::kDuplicate, ApplyOutcome::kIgnored,
                 ApplyOutcome::kRefundRequired}) {
    if (ToString(o) == text) return o;
  }
  return std::nullopt;
}

struct TimelineRow {
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
};

void AppendTimeline(pqxx::work& tx, const TimelineRow& t) {
  Exec(tx, kInsertTimeline, t.order_id, t.source, t.kind, t.old_status, t.new_status, t.payment_id,
       t.event_id, t.outcome, t.payment_status, t.detail);
}

// The timeline entry of a payment event, in both ApplyPaymentEvent paths.
TimelineRow EventEntry(const PaymentEventInput& event, std::string old_status,
                       std::string new_status, std::string outcome, std::string payment_status,
                       std::string detail) {
  return {event.order_id,        event.source,          "payment_event",
          std::move(old_status), std::move(new_status), event.facts.payment_id,
          event.event_id,        std::move(outcome),    std::move(payment_status),
          std::move(detail)};
}

struct InboxRow {
  std::string event_id;
  std::string order_id;
  std::string payment_id;
  std::string status;
  std::string outcome;
  std::string source;
};

// One field of every row, as a text[] literal (a column of an unnest).
template <class Row>
std::string Column(const std::vector<Row>& rows, std::string Row::*field) {
  std::vector<std::string> values;
  values.reserve(rows.size());
  for (const Row& r : rows) values.push_back(r.*field);
  return PgArrayLiteral(values);
}

// The timeline's note on a repeated delivery.
std::string DuplicateDetail(const std::optional<ApplyOutcome>& first) {
  return first ? "event already applied; first outcome " + std::string(ToString(*first))
               : "event already applied";
}

absl::Status NotFound(const std::string& order_id) {
  return absl::NotFoundError("order " + order_id + " not found");
}

}  // namespace

absl::StatusOr<Order> PgOrderStore::InsertOrGetByRequestId(const OrderRequest& request,
                                                           const std::string& order_id) {
  return pool_.InTransaction([&](pqxx::work& tx) -> absl::StatusOr<Order> {
    const auto inserted = Exec(tx, kInsertOrder, order_id, request.request_id, request.customer_id,
                               request.amount_minor, request.currency, request.description);
    if (!inserted.empty()) {
      Order order = OrderFromRow(inserted[0]);
      AppendTimeline(tx,
                     {order.order_id, "api", "created", "", "PENDING_PAYMENT", "", "", "", "", ""});
      return order;
    }
    // Another request with this request_id committed first (possibly a
    // concurrent one: ON CONFLICT waited for it).
    const auto existing = Exec(tx, kSelectByRequestId, request.request_id);
    if (existing.empty()) return absl::AbortedError("order creation raced; retry");
    return OrderFromRow(existing[0]);
  });
}

absl::StatusOr<Order> PgOrderStore::Get(const std::string& order_id) {
  return pool_.WithConnection([&](pqxx::connection& c) -> absl::StatusOr<Order> {
    pqxx::read_transaction tx(c);
    const auto rows = Exec(tx, kSelectById, order_id);
    if (rows.empty()) return NotFound(order_id);
    return OrderFromRow(rows[0]);
  });
}

absl::StatusOr<std::vector<Order>> PgOrderStore::List(const ListQuery& query) {
  return pool_.WithConnection([&](pqxx::connection& c) -> absl::StatusOr<std::vector<Order>> {
    pqxx::read_transaction tx(c);
    const std::string status = query.status ? std::string(ToString(*query.status)) : "";
    const bool has_cursor = query.after.has_value();
    const int64_t cursor_at = has_cursor ? query.after->created_at_us : 0;
    const std::string cursor_id = has_cursor ? query.after->id : "";
    const auto rows = Exec(tx, kListOrders, query.customer_id, status, has_cursor, cursor_at,
                           cursor_id, query.limit);
    std::vector<Order> out;
    out.reserve(rows.size());
    for (const auto& r : rows) out.push_back(OrderFromRow(r));
    return out;
  });
}

absl::StatusOr<Order> PgOrderStore::Cancel(const std::string& order_id, const std::string& reason) {
  return pool_.InTransaction([&](pqxx::work& tx) -> absl::StatusOr<Order> {
    const auto rows = Exec(tx, kSelectByIdForUpdate, order_id);
    if (rows.empty()) return NotFound(order_id);
    const Order current = OrderFromRow(rows[0]);
    auto action = DecideCancel(current.status);
    if (!action.ok()) return action.status();
    if (*action == CancelAction::kAlreadyCancelled) return current;
    const Order cancelled = OrderFromRow(Exec1(tx, kCancelOrder, order_id, reason));
    AppendTimeline(tx, {order_id, "api", "cancelled", std::string(ToString(current.status)),
                        "CANCELLED", "", "", "", "", reason});
    return cancelled;
  });
}

absl::StatusOr<ApplyResult> PgOrderStore::ApplyPaymentEvent(const PaymentEventInput& event) {
  return pool_.InTransaction([&](pqxx::work& tx) -> absl::StatusOr<ApplyResult> {
    // The row lock serializes every event of one order.
    const auto rows = Exec(tx, kSelectByIdForUpdate, event.order_id);
    if (rows.empty()) return NotFound(event.order_id);
    ApplyResult result{ApplyOutcome::kIgnored, OrderFromRow(rows[0]), std::nullopt};
    const std::string old_status(ToString(result.order.status));
    const std::string payment_status(ResultText(event.facts.result));

    if (const auto inbox = Exec(tx, kSelectInbox, event.event_id); !inbox.empty()) {
      result.outcome = ApplyOutcome::kDuplicate;
      result.first_outcome = ParseOutcome(inbox[0][0].as<std::string>());
      AppendTimeline(tx, EventEntry(event, old_status, old_status, "DUPLICATE", payment_status,
                                    DuplicateDetail(result.first_outcome)));
      return result;
    }

    const ApplyDecision decision = DecidePaymentEvent(result.order, event.facts);
    result.outcome = decision.outcome;
    if (decision.new_status == OrderStatus::kPaid) {
      result.order = OrderFromRow(Exec1(tx, kMarkPaid, event.order_id, event.facts.payment_id));
    } else if (decision.new_status == OrderStatus::kCancelled) {
      result.order = OrderFromRow(Exec1(tx, kCancelOrder, event.order_id, decision.detail));
    }
    const std::string outcome(ToString(decision.outcome));
    Exec(tx, kInsertInbox, event.event_id, event.order_id, event.facts.payment_id, payment_status,
         outcome, event.source);
    AppendTimeline(tx, EventEntry(event, old_status, std::string(ToString(result.order.status)),
                                  outcome, payment_status, decision.detail));
    return result;
  });
}

std::vector<absl::StatusOr<ApplyResult>> PgOrderStore::ApplyPaymentEvents(
    const std::vector<PaymentEventInput>& events) {
  using Results = std::vector<absl::StatusOr<ApplyResult>>;
  if (events.size() == 1) return {ApplyPaymentEvent(events[0])};
  auto batch = pool_.InTransaction([&](pqxx::work& tx) -> absl::StatusOr<Results> {
    std::vector<std::string> order_ids, event_ids;
    for (const auto& e : events) {
      order_ids.push_back(e.order_id);
      event_ids.push_back(e.event_id);
    }
    std::map<std::string, Order> orders;
    for (const auto& r : Exec(tx, kLockOrders, PgArrayLiteral(order_ids))) {
      Order o = OrderFromRow(r);
      orders.emplace(o.order_id, std::move(o));
    }
    // Event ids in the inbox, or put there by this batch, with their outcome.
    std::map<std::string, std::optional<ApplyOutcome>> applied;
    for (const auto& r : Exec(tx, kSelectInboxBatch, PgArrayLiteral(event_ids))) {
      applied.emplace(r[0].as<std::string>(), ParseOutcome(r[1].as<std::string>()));
    }

    // Each event in arrival order, against its order as the events before
    // it left it: what ApplyPaymentEvent does, one transaction per event.
    Results results;
    std::map<std::string, Order> changed;  // orders this batch moves, as it leaves them
    std::vector<size_t> saw_change;        // results that saw their order moved by it
    std::vector<InboxRow> inbox;
    std::vector<TimelineRow> timeline;
    for (const auto& e : events) {
      auto found = orders.find(e.order_id);
      if (found == orders.end()) {
        results.push_back(NotFound(e.order_id));
        continue;
      }
      Order& order = found->second;
      const std::string old_status(ToString(order.status));
      const std::string payment_status(ResultText(e.facts.result));
      if (const auto first = applied.find(e.event_id); first != applied.end()) {
        results.push_back(ApplyResult{ApplyOutcome::kDuplicate, order, first->second});
        timeline.push_back(EventEntry(e, old_status, old_status, "DUPLICATE", payment_status,
                                      DuplicateDetail(first->second)));
      } else {
        const ApplyDecision decision = DecidePaymentEvent(order, e.facts);
        if (decision.new_status) {
          order.status = *decision.new_status;
          order.paid_payment_id =
              *decision.new_status == OrderStatus::kPaid ? e.facts.payment_id : "";
          if (*decision.new_status == OrderStatus::kCancelled)
            order.cancel_reason = decision.detail;
          changed[e.order_id] = order;
        }
        const std::string outcome(ToString(decision.outcome));
        applied.emplace(e.event_id, decision.outcome);
        inbox.push_back(
            {e.event_id, e.order_id, e.facts.payment_id, payment_status, outcome, e.source});
        timeline.push_back(EventEntry(e, old_status, std::string(ToString(order.status)), outcome,
                                      payment_status, decision.detail));
        results.push_back(ApplyResult{decision.outcome, order, std::nullopt});
      }
      if (changed.count(e.order_id)) saw_change.push_back(results.size() - 1);
    }

    std::vector<Order> moved;
    for (const auto& [order_id, order] : changed) moved.push_back(order);
    std::vector<std::string> new_status;
    for (const Order& o : moved) new_status.emplace_back(ToString(o.status));
    for (const auto& r : Exec(
             tx, kWriteEvents, Column(moved, &Order::order_id),
             Column(moved, &Order::paid_payment_id), Column(inbox, &InboxRow::event_id),
             Column(inbox, &InboxRow::order_id), Column(inbox, &InboxRow::payment_id),
             Column(inbox, &InboxRow::status), Column(inbox, &InboxRow::outcome),
             Column(inbox, &InboxRow::source), Column(timeline, &TimelineRow::order_id),
             Column(timeline, &TimelineRow::source), Column(timeline, &TimelineRow::kind),
             Column(timeline, &TimelineRow::old_status), Column(timeline, &TimelineRow::new_status),
             Column(timeline, &TimelineRow::payment_id), Column(timeline, &TimelineRow::event_id),
             Column(timeline, &TimelineRow::outcome),
             Column(timeline, &TimelineRow::payment_status), Column(timeline, &TimelineRow::detail),
             PgArrayLiteral(new_status), Column(moved, &Order::cancel_reason))) {
      orders[r[0].as<std::string>()] = OrderFromRow(r);
    }
    // The row as committed (its updated_at) for the events that saw the
    // order moved by this batch: the moving event and those after it.
    for (size_t i : saw_change) results[i]->order = orders[events[i].order_id];
    return results;
  });
  if (batch.ok()) return *std::move(batch);
  if (!SplitFailedBatch(batch.status())) return Results(events.size(), batch.status());
  // The whole transaction failed (nothing of it committed): one transaction
  // per event, so an event that cannot be applied fails alone and never its
  // neighbours.
  ++batches_split_;
  Results results;
  for (const auto& e : events) results.push_back(ApplyPaymentEvent(e));
  return results;
}

absl::StatusOr<std::vector<TimelineEntry>> PgOrderStore::Timeline(const std::string& order_id) {
  return pool_.WithConnection(
      [&](pqxx::connection& c) -> absl::StatusOr<std::vector<TimelineEntry>> {
        pqxx::read_transaction tx(c);
        if (Exec(tx, kOrderExists, order_id).empty()) return NotFound(order_id);
        std::vector<TimelineEntry> out;
        for (const auto& r : Exec(tx, kSelectTimeline, order_id)) {
          TimelineEntry e;
          e.at_us = r[0].as<int64_t>();
          e.source = r[1].as<std::string>();
          e.kind = r[2].as<std::string>();
          e.old_status = ParseOrderStatus(r[3].as<std::string>());
          e.new_status = ParseOrderStatus(r[4].as<std::string>());
          e.payment_id = r[5].as<std::string>();
          e.event_id = r[6].as<std::string>();
          e.outcome = ParseOutcome(r[7].as<std::string>());
          e.payment_result = ParseResult(r[8].as<std::string>());
          e.detail = r[9].as<std::string>();
          out.push_back(std::move(e));
        }
        return out;
      });
}

}  // namespace payonce::order
