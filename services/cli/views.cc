#include "services/cli/views.h"

#include <sstream>
#include <string>

#include "absl/strings/str_cat.h"

namespace payonce::cli {
namespace {

namespace orderv1 = payonce::order::v1;
namespace paymentv1 = payonce::payment::v1;
namespace providerv1 = payonce::provider::v1;

// "-" for the zero (unspecified) value, the label otherwise.
template <typename E>
std::string StatusOrDash(E value) {
  return static_cast<int>(value) == 0 ? "-" : EnumLabel(value);
}

// Shortest text that reads back as the same rate, e.g. "0.25".
std::string Rate(double rate) {
  std::ostringstream text;
  text << rate;
  return text.str();
}

}  // namespace

Table OrderRecord(const orderv1::Order& order) {
  Table t;
  t.AddRow({"order_id", order.order_id()});
  t.AddRow({"status", EnumLabel(order.status())});
  t.AddRow({"amount", Money(order.amount_minor(), order.currency())});
  t.AddRow({"customer_id", order.customer_id()});
  t.AddRow({"description", OrDash(order.description())});
  t.AddRow({"request_id", order.request_id()});
  t.AddRow({"paid_payment_id", OrDash(order.paid_payment_id())});
  if (!order.cancel_reason().empty()) t.AddRow({"cancel_reason", order.cancel_reason()});
  t.AddRow({"created_at", Rfc3339(order.created_at())});
  t.AddRow({"updated_at", Rfc3339(order.updated_at())});
  return t;
}

Table OrderRows(const Repeated<orderv1::Order>& orders) {
  Table t({"ORDER_ID", "STATUS", "AMOUNT", "CUSTOMER", "CREATED_AT", "PAID_PAYMENT_ID"});
  t.AlignRight(2);
  for (const auto& o : orders) {
    t.AddRow({o.order_id(), EnumLabel(o.status()), Money(o.amount_minor(), o.currency()),
              o.customer_id(), Rfc3339(o.created_at()), OrDash(o.paid_payment_id())});
  }
  return t;
}

Table TimelineRows(const orderv1::OrderTimeline& timeline) {
  Table t({"AT", "SOURCE", "KIND", "OLD_STATUS", "NEW_STATUS", "PAYMENT_ID", "PAYMENT_STATUS",
           "OUTCOME", "EVENT_ID", "DETAIL"});
  for (const auto& e : timeline.entries()) {
    t.AddRow({Rfc3339(e.at()), OrDash(e.source()), OrDash(e.kind()), StatusOrDash(e.old_status()),
              StatusOrDash(e.new_status()), OrDash(e.payment_id()),
              StatusOrDash(e.payment_status()),
              e.repeats() > 1 ? StatusOrDash(e.outcome()) + " x" + std::to_string(e.repeats())
                              : StatusOrDash(e.outcome()),
              OrDash(e.event_id()), OrDash(e.detail())});
  }
  return t;
}

Table PaymentRecord(const paymentv1::Payment& payment) {
  Table t;
  t.AddRow({"payment_id", payment.payment_id()});
  t.AddRow({"order_id", payment.order_id()});
  t.AddRow({"status", EnumLabel(payment.status())});
  t.AddRow({"amount", Money(payment.amount_minor(), payment.currency())});
  t.AddRow({"provider", OrDash(payment.provider())});
  t.AddRow({"provider_txn_id", OrDash(payment.provider_txn_id())});
  t.AddRow({"failure_reason", OrDash(payment.failure_reason())});
  if (payment.late_success()) t.AddRow({"late_success", "true"});
  t.AddRow({"created_at", Rfc3339(payment.created_at())});
  t.AddRow({"updated_at", Rfc3339(payment.updated_at())});
  return t;
}

Table PaymentRows(const Repeated<paymentv1::Payment>& payments) {
  Table t({"PAYMENT_ID", "STATUS", "AMOUNT", "PROVIDER", "PROVIDER_TXN_ID", "CREATED_AT",
           "FAILURE_REASON"});
  t.AlignRight(2);
  for (const auto& p : payments) {
    std::string status = EnumLabel(p.status());
    if (p.late_success()) status += " (late)";
    t.AddRow({p.payment_id(), status, Money(p.amount_minor(), p.currency()), OrDash(p.provider()),
              OrDash(p.provider_txn_id()), Rfc3339(p.created_at()), OrDash(p.failure_reason())});
  }
  return t;
}

Table OutboxStatsRecord(const paymentv1::OutboxStats& stats) {
  Table t;
  t.AddRow({"pending", absl::StrCat(stats.pending())});
  t.AddRow({"oldest_pending_age", absl::StrCat(stats.oldest_pending_age_ms(), " ms")});
  t.AddRow({"dead_letters", absl::StrCat(stats.dead_letters())});
  t.AddRow({"delivered_last_minute", absl::StrCat(stats.delivered_last_minute())});
  t.AlignRight(1);
  return t;
}

Table OutboxEventRecord(const paymentv1::OutboxEvent& event) {
  Table t;
  t.AddRow({"event_id", event.event_id()});
  t.AddRow({"payment_id", event.payment_id()});
  t.AddRow({"order_id", event.order_id()});
  t.AddRow({"status", EnumLabel(event.status())});
  t.AddRow({"amount", Money(event.amount_minor(), event.currency())});
  t.AddRow({"attempts", absl::StrCat(event.attempts())});
  t.AddRow({"last_error", OrDash(event.last_error())});
  t.AddRow({"created_at", Rfc3339(event.created_at())});
  t.AddRow({"next_attempt_at", Rfc3339(event.next_attempt_at())});
  t.AddRow({"delivered_at", Rfc3339(event.delivered_at())});
  t.AddRow({"dead_lettered_at", Rfc3339(event.dead_lettered_at())});
  return t;
}

Table OutboxEventRows(const Repeated<paymentv1::OutboxEvent>& events) {
  Table t({"EVENT_ID", "PAYMENT_ID", "ORDER_ID", "STATUS", "AMOUNT", "ATTEMPTS", "DEAD_LETTERED_AT",
           "LAST_ERROR"});
  t.AlignRight(4);
  t.AlignRight(5);
  for (const auto& e : events) {
    t.AddRow({e.event_id(), e.payment_id(), e.order_id(), EnumLabel(e.status()),
              Money(e.amount_minor(), e.currency()), absl::StrCat(e.attempts()),
              Rfc3339(e.dead_lettered_at()), OrDash(e.last_error())});
  }
  return t;
}

Table FaultRecord(const providerv1::FaultConfig& f) {
  Table t;
  t.AddRow({"fail_rate", Rate(f.fail_rate())});
  t.AddRow({"drop_callback_rate", Rate(f.drop_callback_rate())});
  t.AddRow({"duplicate_callback_rate", Rate(f.duplicate_callback_rate())});
  t.AddRow({"max_duplicates", absl::StrCat(f.max_duplicates())});
  t.AddRow({"min_delay_ms", absl::StrCat(f.min_delay_ms())});
  t.AddRow({"max_delay_ms", absl::StrCat(f.max_delay_ms())});
  t.AddRow({"reorder", f.reorder() ? "true" : "false"});
  t.AddRow({"double_charge_rate", Rate(f.double_charge_rate())});
  t.AddRow({"replay_rate", Rate(f.replay_rate())});
  t.AddRow({"forge_rate", Rate(f.forge_rate())});
  t.AddRow({"callback_target_down_retry_ms", absl::StrCat(f.callback_target_down_retry_ms())});
  t.AddRow({"wrong_amount_rate", Rate(f.wrong_amount_rate())});
  t.AddRow({"late_capture_rate", Rate(f.late_capture_rate())});
  t.AddRow({"late_capture_delay_ms", absl::StrCat(f.late_capture_delay_ms())});
  return t;
}

Table ProviderTotalsRecord(const providerv1::ProviderStats& s) {
  Table t;
  t.AddRow({"debits_total", absl::StrCat(s.debits_total())});
  t.AddRow({"captures_total", absl::StrCat(s.captures_total())});
  t.AddRow({"refunds_total", absl::StrCat(s.refunds_total())});
  t.AddRow({"callbacks_sent_total", absl::StrCat(s.callbacks_sent_total())});
  t.AddRow({"callbacks_acknowledged", absl::StrCat(s.callbacks_acknowledged())});
  t.AddRow({"callbacks_rejected", absl::StrCat(s.callbacks_rejected())});
  t.AddRow({"callbacks_unreachable", absl::StrCat(s.callbacks_unreachable())});
  t.AddRow({"callbacks_dropped", absl::StrCat(s.callbacks_dropped())});
  t.AddRow({"callbacks_given_up", absl::StrCat(s.callbacks_given_up())});
  t.AddRow({"callbacks_forged", absl::StrCat(s.callbacks_forged())});
  t.AddRow({"callbacks_forged_accepted", absl::StrCat(s.callbacks_forged_accepted())});
  t.AddRow({"callbacks_replayed", absl::StrCat(s.callbacks_replayed())});
  t.AddRow({"callbacks_replayed_accepted", absl::StrCat(s.callbacks_replayed_accepted())});
  t.AlignRight(1);
  return t;
}

Table PaymentTruthRows(const Repeated<providerv1::PaymentTruth>& payments) {
  Table t({"PAYMENT_ID", "DEBITS", "CAPTURES", "REFUNDS", "NET_CAPTURED"});
  for (std::size_t c = 1; c <= 4; ++c) t.AlignRight(c);
  for (const auto& p : payments) {
    t.AddRow({p.merchant_payment_id(), absl::StrCat(p.debits()), absl::StrCat(p.captures()),
              absl::StrCat(p.refunds()), Money(p.net_captured_minor(), p.currency())});
  }
  return t;
}

}  // namespace payonce::cli
