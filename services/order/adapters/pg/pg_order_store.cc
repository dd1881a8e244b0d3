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

// A repeated delivery of an event already applied adds to the count of its
// one DUPLICATE entry (index order_timeline_duplicate_once).
#define TIMELINE_DUPLICATE_COUNTED                                               \
  " ON CONFLICT (order_id, event_id) WHERE outcome = 'DUPLICATE' DO UPDATE SET " \
  "repeats = order_timeline.repeats + excluded.repeats, last_at = clock_timestamp()"

constexpr PgStatement kInsertTimeline{
    "pg_order_store.insert_timeline",
    "INSERT INTO order_timeline (order_id, source, kind, old_status, new_status, payment_id, "
    "event_id, outcome, payment_status, detail) "
    "VALUES ($1, $2, $3, nullif($4, ''), nullif($5, ''), nullif($6, ''), nullif($7, ''), "
    "nullif($8, ''), nullif($9, ''), $10)" TIMELINE_DUPLICATE_COUNTED};

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
    " event_id, outcome, payment_status, detail, repeats) "
    " SELECT t.order_id, t.source, t.kind, nullif(t.old_status, ''), "
    " nullif(t.new_status, ''), nullif(t.payment_id, ''), nullif(t.event_id, ''), "
    " nullif(t.outcome, ''), nullif(t.payment_status, ''), t.detail, t.repeats::int "
    " FROM unnest($9::text[], $10::text[], $11::text[], $12::text[], $13::text[], $14::text[], "
    " $15::text[], $16::text[], $17::text[], $18::text[], $21::text[]) WITH ORDINALITY "
    " AS t(order_id, source, kind, old_status, new_status, payment_id, event_id, outcome, "
    " payment_status, detail, repeats, n) ORDER BY t.n" TIMELINE_DUPLICATE_COUNTED
    ") SELECT * FROM changed"};

#undef TIMELINE_DUPLICATE_COUNTED

constexpr PgStatement kSelectTimeline{
    "pg_order_store.select_timeline",
    "SELECT (extract(epoch FROM at) * 1000000)::bigint, source, kind, coalesce(old_status, ''), "
    "coalesce(new_status, ''), coalesce(payment_id, ''), coalesce(event_id, ''), "
    "coalesce(outcome, ''), coalesce(payment_status, ''), detail, entry_id, repeats, "
    "coalesce((extract(epoch FROM last_at) * 1000000)::bigint, 0) "
    "FROM order_timeline WHERE order_id = $1 AND entry_id > $2 ORDER BY entry_id LIMIT $3"};

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

void AppendTimeline(pqxx::work& tx, const TimelineRecord& t) {
  Exec(tx, kInsertTimeline, t.order_id, t.source, t.kind, t.old_status, t.new_status, t.payment_id,
       t.event_id, t.outcome, t.payment_status, t.detail);
}

// One field of every row, as a text[] literal (a column of an unnest).
template <class Row>
std::string Column(const std::vector<Row>& rows, std::string Row::*field) {
  std::vector<std::string> values;
  values.reserve(rows.size());
  for (const Row& r : rows) values.push_back(r.*field);
  return PgArrayLiteral(values);
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
    const int64_t cursor_at = has_cursor ? query.after->position : 0;
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
  auto results = ApplyInOneTransaction({event});
  if (!results.ok()) return results.status();
  return std::move(results->front());
}

std::vector<absl::StatusOr<ApplyResult>> PgOrderStore::ApplyPaymentEvents(
    const std::vector<PaymentEventInput>& events) {
  using Results = std::vector<absl::StatusOr<ApplyResult>>;
  auto batch = ApplyInOneTransaction(events);
  if (batch.ok()) return *std::move(batch);
  if (events.size() == 1 || !SplitFailedBatch(batch.status())) {
    return Results(events.size(), batch.status());
  }
  // The whole transaction failed (nothing of it committed): one transaction
  // per event, so an event that cannot be applied fails alone and never its
  // neighbours.
  ++batches_split_;
  Results results;
  for (const auto& e : events) results.push_back(ApplyPaymentEvent(e));
  return results;
}

absl::StatusOr<std::vector<absl::StatusOr<ApplyResult>>> PgOrderStore::ApplyInOneTransaction(
    const std::vector<PaymentEventInput>& events) {
  using Results = std::vector<absl::StatusOr<ApplyResult>>;
  return pool_.InTransaction([&](pqxx::work& tx) -> absl::StatusOr<Results> {
    std::vector<std::string> order_ids, event_ids;
    for (const auto& e : events) {
      order_ids.push_back(e.order_id);
      event_ids.push_back(e.event_id);
    }
    // The row locks serialize every event of one order.
    std::map<std::string, Order> orders;
    for (const auto& r : Exec(tx, kLockOrders, PgArrayLiteral(order_ids))) {
      Order o = OrderFromRow(r);
      if (reopen_cancelled_ && o.status == OrderStatus::kCancelled) {
        o.status = OrderStatus::kPendingPayment;
      }
      orders.emplace(o.order_id, std::move(o));
    }
    std::map<std::string, std::optional<ApplyOutcome>> first_outcomes;
    for (const auto& r : Exec(tx, kSelectInboxBatch, PgArrayLiteral(event_ids))) {
      first_outcomes.emplace(r[0].as<std::string>(), ParseApplyOutcome(r[1].as<std::string>()));
    }
    const PaymentEventsPlan plan =
        PlanPaymentEvents(std::move(orders), std::move(first_outcomes), events);

    const std::vector<Order>& moved = plan.moved_orders;
    std::vector<std::string> new_status, repeats;
    for (const Order& o : moved) new_status.emplace_back(ToString(o.status));
    for (const TimelineRecord& t : plan.timeline) repeats.push_back(std::to_string(t.repeats));
    const auto& inbox = plan.inbox;
    const auto& timeline = plan.timeline;
    std::map<std::string, Order> written;  // moved orders as committed (updated_at)
    for (const auto& r :
         Exec(tx, kWriteEvents, Column(moved, &Order::order_id),
              Column(moved, &Order::paid_payment_id), Column(inbox, &InboxRecord::event_id),
              Column(inbox, &InboxRecord::order_id), Column(inbox, &InboxRecord::payment_id),
              Column(inbox, &InboxRecord::status), Column(inbox, &InboxRecord::outcome),
              Column(inbox, &InboxRecord::source), Column(timeline, &TimelineRecord::order_id),
              Column(timeline, &TimelineRecord::source), Column(timeline, &TimelineRecord::kind),
              Column(timeline, &TimelineRecord::old_status),
              Column(timeline, &TimelineRecord::new_status),
              Column(timeline, &TimelineRecord::payment_id),
              Column(timeline, &TimelineRecord::event_id),
              Column(timeline, &TimelineRecord::outcome),
              Column(timeline, &TimelineRecord::payment_status),
              Column(timeline, &TimelineRecord::detail), PgArrayLiteral(new_status),
              Column(moved, &Order::cancel_reason), PgArrayLiteral(repeats))) {
      Order o = OrderFromRow(r);
      written.emplace(o.order_id, std::move(o));
    }
    Results results;
    for (size_t i = 0; i < events.size(); ++i) {
      const PlannedEvent& p = plan.events[i];
      if (!p.order_found) {
        results.push_back(NotFound(events[i].order_id));
        continue;
      }
      // The events that saw their order moved by this batch answer the row
      // as committed (its updated_at).
      results.push_back(ApplyResult{
          p.outcome, p.order_moved ? written.at(p.order.order_id) : p.order, p.first_outcome});
    }
    return results;
  });
}

absl::StatusOr<std::vector<TimelineEntry>> PgOrderStore::Timeline(const std::string& order_id,
                                                                  int64_t after_entry_id,
                                                                  int limit) {
  return pool_.WithConnection(
      [&](pqxx::connection& c) -> absl::StatusOr<std::vector<TimelineEntry>> {
        pqxx::read_transaction tx(c);
        if (Exec(tx, kOrderExists, order_id).empty()) return NotFound(order_id);
        std::vector<TimelineEntry> out;
        for (const auto& r : Exec(tx, kSelectTimeline, order_id, after_entry_id, limit)) {
          TimelineEntry e;
          e.at_us = r[0].as<int64_t>();
          e.source = r[1].as<std::string>();
          e.kind = r[2].as<std::string>();
          e.old_status = ParseOrderStatus(r[3].as<std::string>());
          e.new_status = ParseOrderStatus(r[4].as<std::string>());
          e.payment_id = r[5].as<std::string>();
          e.event_id = r[6].as<std::string>();
          e.outcome = ParseApplyOutcome(r[7].as<std::string>());
          e.payment_result = ParsePaymentResult(r[8].as<std::string>());
          e.detail = r[9].as<std::string>();
          e.entry_id = r[10].as<int64_t>();
          e.repeats = r[11].as<int32_t>();
          e.last_at_us = r[12].as<int64_t>();
          out.push_back(std::move(e));
        }
        return out;
      });
}

}  // namespace payonce::order
