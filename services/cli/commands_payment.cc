// pay, payment get|list|refund (payonce.payment.v1.PaymentService) and
// outbox stats|dead-letters|retry (payonce.payment.v1.OutboxAdmin).
#include <CLI/CLI.hpp>
#include <algorithm>
#include <chrono>
#include <memory>
#include <string>
#include <thread>

#include "absl/strings/str_cat.h"
#include "absl/strings/str_format.h"
#include "payonce/order/v1/order_service.grpc.pb.h"
#include "payonce/payment/v1/payment_service.grpc.pb.h"
#include "services/cli/commands.h"
#include "services/cli/views.h"

namespace payonce::cli {
namespace {

namespace orderv1 = payonce::order::v1;
namespace v1 = payonce::payment::v1;
using std::chrono::milliseconds;
using std::chrono::steady_clock;

constexpr milliseconds kPollInterval{100};

struct PayFlags {
  std::string order_id;
  std::string idempotency_key;
  double wait_paid_s = 0;
  CLI::Option* wait_paid = nullptr;
};

struct RefundFlags {
  std::string payment_id;
  std::string reason;
  std::string idempotency_key;
};

struct PageFlags {
  int page_size = 0;
  std::string page_token;
};

// Where `pay --wait-paid` got to.
struct WaitResult {
  bool paid = false;
  orderv1::Order order;
  milliseconds waited{0};
  // The last failure of a poll, if the order could not be read at the end.
  grpc::Status last_error;
};

// Polls GetOrder every kPollInterval until the order is PAID or CANCELLED or
// `wait` has passed. Calls that may work on retry (UNAVAILABLE, ...) are
// retried; other failures end the wait at once.
WaitResult WaitUntilPaid(Session& s, orderv1::OrderService::Stub& orders,
                         const orderv1::Order& start, milliseconds wait) {
  WaitResult result;
  result.order = start;
  const auto started = steady_clock::now();
  const auto deadline = started + wait;
  orderv1::GetOrderRequest req;
  req.set_order_id(start.order_id());
  while (true) {
    const auto poll_started = steady_clock::now();
    const auto remaining = std::chrono::duration_cast<milliseconds>(deadline - poll_started);
    const milliseconds call_timeout = std::min(std::max(remaining, kPollInterval), s.timeout());
    orderv1::Order current;
    const auto status =
        s.Call(orders, &orderv1::OrderService::Stub::GetOrder, req, &current, call_timeout);
    if (status.ok()) {
      result.order = current;
      result.last_error = grpc::Status::OK;
      if (current.status() == orderv1::ORDER_STATUS_PAID ||
          current.status() == orderv1::ORDER_STATUS_CANCELLED) {
        break;
      }
    } else {
      result.last_error = status;
      if (!WorthRetrying(status.error_code())) break;
    }
    // The last poll happens at the deadline.
    if (steady_clock::now() >= deadline) break;
    std::this_thread::sleep_until(std::min(poll_started + kPollInterval, deadline));
  }
  result.paid = result.order.status() == orderv1::ORDER_STATUS_PAID;
  result.waited = std::chrono::duration_cast<milliseconds>(steady_clock::now() - started);
  return result;
}

std::string Seconds(milliseconds ms) {
  return absl::StrFormat("%.1f s", static_cast<double>(ms.count()) / 1000.0);
}

int Pay(Session& s, const PayFlags& flags) {
  const auto& order_addr = s.options().order_addr;
  const auto& payment_addr = s.options().payment_addr;
  auto orders = orderv1::OrderService::NewStub(s.ChannelTo(order_addr));
  auto payments = v1::PaymentService::NewStub(s.ChannelTo(payment_addr));

  orderv1::GetOrderRequest get_order;
  get_order.set_order_id(flags.order_id);
  orderv1::Order order;
  auto status = s.Call(*orders, &orderv1::OrderService::Stub::GetOrder, get_order, &order);
  if (!status.ok()) return s.Fail(status, order_addr);

  v1::CreatePaymentRequest req;
  req.set_idempotency_key(flags.idempotency_key.empty() ? s.NewId() : flags.idempotency_key);
  req.set_order_id(order.order_id());
  req.set_amount_minor(order.amount_minor());
  req.set_currency(order.currency());
  v1::Payment payment;
  status = s.Call(*payments, &v1::PaymentService::Stub::CreatePayment, req, &payment);
  if (!status.ok()) {
    const int code = s.Fail(status, payment_addr);
    if (WorthRetrying(status.error_code())) {
      s.err() << "hint: retry with --idempotency-key " << req.idempotency_key()
              << " (the same key never debits twice)\n";
    }
    return code;
  }

  Json doc = {{"idempotency_key", req.idempotency_key()}};
  Table table = PaymentRecord(payment);
  table.AddRow({"idempotency_key", req.idempotency_key()});
  if (flags.wait_paid == nullptr || flags.wait_paid->count() == 0) {
    if (s.options().json) {
      doc["payment"] = ToJson(payment);
      doc["order"] = ToJson(order);
      s.PrintJson(doc);
    } else {
      table.Print(s.out());
    }
    return 0;
  }

  const auto wait = milliseconds(static_cast<int64_t>(flags.wait_paid_s * 1000.0));
  const WaitResult waited = WaitUntilPaid(s, *orders, order, wait);
  // Show the payment as it is now (it was probably PENDING when created).
  v1::GetPaymentRequest get_payment;
  get_payment.set_payment_id(payment.payment_id());
  v1::Payment latest;
  if (s.Call(*payments, &v1::PaymentService::Stub::GetPayment, get_payment, &latest).ok()) {
    payment = latest;
  }

  if (s.options().json) {
    doc["payment"] = ToJson(payment);
    doc["order"] = ToJson(waited.order);
    doc["paid"] = waited.paid;
    doc["waited_ms"] = waited.waited.count();
    s.PrintJson(doc);
  } else {
    table = PaymentRecord(payment);
    table.AddRow({"idempotency_key", req.idempotency_key()});
    table.AddRow({"order_status", EnumLabel(waited.order.status())});
    table.AddRow({"waited", Seconds(waited.waited)});
    table.Print(s.out());
  }
  if (waited.paid) return 0;

  s.err() << "error: order " << order.order_id() << " is " << EnumLabel(waited.order.status())
          << ", not PAID, after waiting " << Seconds(waited.waited) << " (payment "
          << payment.payment_id() << " is " << EnumLabel(payment.status()) << ")";
  if (!waited.last_error.ok()) {
    s.err() << "; last poll: " << CodeName(waited.last_error.error_code()) << ": "
            << waited.last_error.error_message();
  }
  s.err() << '\n';
  return kExitCheckFailed;
}

int GetPayment(Session& s, const std::string& payment_id) {
  v1::GetPaymentRequest req;
  req.set_payment_id(payment_id);
  auto stub = v1::PaymentService::NewStub(s.ChannelTo(s.options().payment_addr));
  v1::Payment payment;
  const auto status = s.Call(*stub, &v1::PaymentService::Stub::GetPayment, req, &payment);
  if (!status.ok()) return s.Fail(status, s.options().payment_addr);
  return Show(s, payment, PaymentRecord(payment));
}

int ListPayments(Session& s, const std::string& order_id) {
  v1::ListPaymentsRequest req;
  req.set_order_id(order_id);
  auto stub = v1::PaymentService::NewStub(s.ChannelTo(s.options().payment_addr));
  v1::ListPaymentsResponse resp;
  const auto status = s.Call(*stub, &v1::PaymentService::Stub::ListPayments, req, &resp);
  if (!status.ok()) return s.Fail(status, s.options().payment_addr);
  if (!s.options().json && resp.payments().empty()) {
    s.out() << "no payments for order " << order_id << '\n';
    return 0;
  }
  return Show(s, resp, PaymentRows(resp.payments()));
}

int Refund(Session& s, const RefundFlags& flags) {
  v1::RefundPaymentRequest req;
  req.set_idempotency_key(flags.idempotency_key.empty() ? s.NewId() : flags.idempotency_key);
  req.set_payment_id(flags.payment_id);
  req.set_reason(flags.reason);
  auto stub = v1::PaymentService::NewStub(s.ChannelTo(s.options().payment_addr));
  v1::Payment payment;
  const auto status = s.Call(*stub, &v1::PaymentService::Stub::RefundPayment, req, &payment);
  if (!status.ok()) {
    const int code = s.Fail(status, s.options().payment_addr);
    if (WorthRetrying(status.error_code())) {
      s.err() << "hint: retry with --idempotency-key " << req.idempotency_key()
              << " (the same key never refunds twice)\n";
    }
    return code;
  }
  if (s.options().json) {
    s.PrintJson({{"idempotency_key", req.idempotency_key()}, {"payment", ToJson(payment)}});
    return 0;
  }
  Table table = PaymentRecord(payment);
  table.AddRow({"idempotency_key", req.idempotency_key()});
  table.Print(s.out());
  return 0;
}

int OutboxStats(Session& s) {
  auto stub = v1::OutboxAdmin::NewStub(s.ChannelTo(s.options().payment_addr));
  v1::OutboxStats stats;
  const auto status =
      s.Call(*stub, &v1::OutboxAdmin::Stub::GetOutboxStats, v1::GetOutboxStatsRequest(), &stats);
  if (!status.ok()) return s.Fail(status, s.options().payment_addr);
  return Show(s, stats, OutboxStatsRecord(stats));
}

int DeadLetters(Session& s, const PageFlags& flags) {
  v1::ListDeadLettersRequest req;
  req.set_page_size(flags.page_size);
  req.set_page_token(flags.page_token);
  auto stub = v1::OutboxAdmin::NewStub(s.ChannelTo(s.options().payment_addr));
  v1::ListDeadLettersResponse resp;
  const auto status = s.Call(*stub, &v1::OutboxAdmin::Stub::ListDeadLetters, req, &resp);
  if (!status.ok()) return s.Fail(status, s.options().payment_addr);
  if (s.options().json) {
    s.PrintJson(ToJson(resp));
    return 0;
  }
  if (resp.events().empty()) {
    s.out() << "no dead letters\n";
  } else {
    OutboxEventRows(resp.events()).Print(s.out());
  }
  if (!resp.next_page_token().empty()) {
    s.out() << "next page: --page-token " << resp.next_page_token() << '\n';
  }
  return 0;
}

int RetryDeadLetter(Session& s, const std::string& event_id) {
  v1::RetryDeadLetterRequest req;
  req.set_event_id(event_id);
  auto stub = v1::OutboxAdmin::NewStub(s.ChannelTo(s.options().payment_addr));
  v1::OutboxEvent event;
  const auto status = s.Call(*stub, &v1::OutboxAdmin::Stub::RetryDeadLetter, req, &event);
  if (!status.ok()) return s.Fail(status, s.options().payment_addr);
  return Show(s, event, OutboxEventRecord(event));
}

void AddPay(CLI::App& app, Session& session, Action& chosen) {
  auto flags = std::make_shared<PayFlags>();
  auto* cmd =
      app.add_subcommand("pay", "Pay an order: read its amount and currency, then CreatePayment");
  cmd->add_option("ORDER_ID", flags->order_id, "The order to pay")->required();
  cmd->add_option("--idempotency-key", flags->idempotency_key,
                  "Key of this payment attempt (default: a new random UUID, printed); reuse it "
                  "to retry safely");
  flags->wait_paid =
      cmd->add_option("--wait-paid", flags->wait_paid_s,
                      "Then poll the order every 100 ms for up to SECONDS until it is PAID; "
                      "exit 1 if it is not")
          ->type_name("SECONDS")
          ->check(CLI::Range(0.0, 3600.0));
  cmd->footer(R"(The payment service sends the debit to the provider; the order becomes PAID
when the provider's callback has been applied (asynchronously).

Examples:
  payonce pay 0193a1b2-...
  payonce pay 0193a1b2-... --wait-paid 10
  payonce pay 0193a1b2-... --idempotency-key 5f0c... --json)");
  OnChosen(cmd, chosen, [&session, flags] { return Pay(session, *flags); });
}

void AddPayment(CLI::App& app, Session& session, Action& chosen) {
  auto* payment = app.add_subcommand("payment", "Read and refund payments (PaymentService)");
  payment->footer(R"(Examples:
  payonce payment get 0193a1c4-...
  payonce payment list 0193a1b2-...
  payonce payment refund 0193a1c4-... --reason "returned goods")");
  {
    auto payment_id = std::make_shared<std::string>();
    auto* cmd = payment->add_subcommand("get", "Show one payment");
    cmd->add_option("PAYMENT_ID", *payment_id, "The payment")->required();
    cmd->footer(R"(Examples:
  payonce payment get 0193a1c4-...
  payonce payment get 0193a1c4-... --json)");
    OnChosen(cmd, chosen, [&session, payment_id] { return GetPayment(session, *payment_id); });
  }
  {
    auto order_id = std::make_shared<std::string>();
    auto* cmd = payment->add_subcommand("list", "Every payment attempt for an order, oldest first");
    cmd->add_option("ORDER_ID", *order_id, "The order")->required();
    cmd->footer(R"(Examples:
  payonce payment list 0193a1b2-...)");
    OnChosen(cmd, chosen, [&session, order_id] { return ListPayments(session, *order_id); });
  }
  {
    auto flags = std::make_shared<RefundFlags>();
    auto* cmd = payment->add_subcommand("refund",
                                        "Refund a SUCCEEDED payment in full through the provider");
    cmd->add_option("PAYMENT_ID", flags->payment_id, "The payment")->required();
    cmd->add_option("--reason", flags->reason, "Why, recorded with the refund");
    cmd->add_option("--idempotency-key", flags->idempotency_key,
                    "Key of this refund (default: a new random UUID, printed); reuse it to "
                    "retry safely");
    cmd->footer(R"(Examples:
  payonce payment refund 0193a1c4-... --reason "returned goods")");
    OnChosen(cmd, chosen, [&session, flags] { return Refund(session, *flags); });
  }
}

void AddOutbox(CLI::App& app, Session& session, Action& chosen) {
  auto* outbox = app.add_subcommand(
      "outbox", "Inspect the payment service's outbox and retry dead letters (OutboxAdmin)");
  outbox->footer(R"(Examples:
  payonce outbox stats
  payonce outbox dead-letters --page-size 20
  payonce outbox retry 0193a1d0-...)");
  {
    auto* cmd = outbox->add_subcommand(
        "stats", "Pending rows, oldest pending age, dead letters, delivered in the last minute");
    cmd->footer(R"(Examples:
  payonce outbox stats
  payonce outbox stats --json)");
    OnChosen(cmd, chosen, [&session] { return OutboxStats(session); });
  }
  {
    auto flags = std::make_shared<PageFlags>();
    auto* cmd = outbox->add_subcommand(
        "dead-letters", "Events the relay gave up on, with their attempts and last error");
    cmd->add_option("--page-size", flags->page_size, "Events per page (default 50, at most 500)")
        ->check(CLI::Range(1, 500));
    cmd->add_option("--page-token", flags->page_token,
                    "Continue where a previous page ended (its next_page_token)");
    cmd->footer(R"(Examples:
  payonce outbox dead-letters
  payonce outbox dead-letters --page-size 20 --page-token <next_page_token>)");
    OnChosen(cmd, chosen, [&session, flags] { return DeadLetters(session, *flags); });
  }
  {
    auto event_id = std::make_shared<std::string>();
    auto* cmd = outbox->add_subcommand("retry", "Put a dead letter back in line (idempotent)");
    cmd->add_option("EVENT_ID", *event_id, "The outbox event")->required();
    cmd->footer(R"(Examples:
  payonce outbox retry 0193a1d0-...)");
    OnChosen(cmd, chosen, [&session, event_id] { return RetryDeadLetter(session, *event_id); });
  }
}

}  // namespace

void AddPaymentCommands(CLI::App& app, Session& session, Action& chosen) {
  AddPay(app, session, chosen);
  AddPayment(app, session, chosen);
  AddOutbox(app, session, chosen);
}

}  // namespace payonce::cli
