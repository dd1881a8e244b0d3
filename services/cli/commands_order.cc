// order create|get|list|cancel|timeline: payonce.order.v1.OrderService.
#include <CLI/CLI.hpp>
#include <cstdint>
#include <memory>
#include <set>
#include <string>

#include "payonce/order/v1/order_service.grpc.pb.h"
#include "services/cli/commands.h"
#include "services/cli/views.h"

namespace payonce::cli {
namespace {

namespace v1 = payonce::order::v1;

struct CreateFlags {
  std::string customer_id;
  int64_t amount_minor = 0;
  std::string currency;
  std::string description;
  std::string request_id;
};

struct ListFlags {
  std::string customer_id;
  std::string status;
  int page_size = 0;
  std::string page_token;
  bool all = false;
};

struct CancelFlags {
  std::string order_id;
  std::string reason;
};

// --status values and the statuses they select.
v1::OrderStatus StatusFromFlag(const std::string& flag) {
  if (flag == "pending") return v1::ORDER_STATUS_PENDING_PAYMENT;
  if (flag == "paid") return v1::ORDER_STATUS_PAID;
  if (flag == "cancelled") return v1::ORDER_STATUS_CANCELLED;
  return v1::ORDER_STATUS_UNSPECIFIED;
}

int CreateOrder(Session& s, const CreateFlags& flags) {
  v1::CreateOrderRequest req;
  req.set_request_id(flags.request_id.empty() ? s.NewId() : flags.request_id);
  req.set_customer_id(flags.customer_id);
  req.set_amount_minor(flags.amount_minor);
  req.set_currency(flags.currency);
  req.set_description(flags.description);
  auto stub = v1::OrderService::NewStub(s.ChannelTo(s.options().order_addr));
  v1::Order order;
  const auto status = s.Call(*stub, &v1::OrderService::Stub::CreateOrder, req, &order);
  if (!status.ok()) {
    const int code = s.Fail(status, s.options().order_addr);
    if (WorthRetrying(status.error_code())) {
      s.err() << "hint: retry with --request-id " << req.request_id()
              << " (it never creates a second order)\n";
    }
    return code;
  }
  return Show(s, order, OrderRecord(order));
}

int GetOrder(Session& s, const std::string& order_id) {
  v1::GetOrderRequest req;
  req.set_order_id(order_id);
  auto stub = v1::OrderService::NewStub(s.ChannelTo(s.options().order_addr));
  v1::Order order;
  const auto status = s.Call(*stub, &v1::OrderService::Stub::GetOrder, req, &order);
  if (!status.ok()) return s.Fail(status, s.options().order_addr);
  return Show(s, order, OrderRecord(order));
}

int ListOrders(Session& s, const ListFlags& flags) {
  v1::ListOrdersRequest req;
  req.set_customer_id(flags.customer_id);
  req.set_status(StatusFromFlag(flags.status));
  req.set_page_size(flags.page_size);
  req.set_page_token(flags.page_token);
  auto stub = v1::OrderService::NewStub(s.ChannelTo(s.options().order_addr));

  // With --all every page is fetched (each call with its own deadline) and
  // the result reads like one last page.
  v1::ListOrdersResponse result;
  std::set<std::string> tokens_seen;
  while (true) {
    v1::ListOrdersResponse page;
    const auto status = s.Call(*stub, &v1::OrderService::Stub::ListOrders, req, &page);
    if (!status.ok()) return s.Fail(status, s.options().order_addr);
    result.mutable_orders()->MergeFrom(page.orders());
    result.set_next_page_token(page.next_page_token());
    if (!flags.all || page.next_page_token().empty()) break;
    if (!tokens_seen.insert(page.next_page_token()).second) {
      return s.Fail(grpc::Status(grpc::StatusCode::INTERNAL,
                                 "the server returned the same page token twice"));
    }
    req.set_page_token(page.next_page_token());
  }

  if (s.options().json) {
    s.PrintJson(ToJson(result));
    return 0;
  }
  if (result.orders().empty()) {
    s.out() << "no orders\n";
  } else {
    OrderRows(result.orders()).Print(s.out());
  }
  if (!result.next_page_token().empty()) {
    s.out() << "next page: --page-token " << result.next_page_token() << '\n';
  }
  return 0;
}

int CancelOrder(Session& s, const CancelFlags& flags) {
  v1::CancelOrderRequest req;
  req.set_order_id(flags.order_id);
  req.set_reason(flags.reason);
  auto stub = v1::OrderService::NewStub(s.ChannelTo(s.options().order_addr));
  v1::Order order;
  const auto status = s.Call(*stub, &v1::OrderService::Stub::CancelOrder, req, &order);
  if (!status.ok()) return s.Fail(status, s.options().order_addr);
  return Show(s, order, OrderRecord(order));
}

// The whole timeline, page after page (at most kMaxTimelinePages pages).
int ShowTimeline(Session& s, const std::string& order_id) {
  constexpr int kMaxTimelinePages = 20;
  v1::GetOrderTimelineRequest req;
  req.set_order_id(order_id);
  req.set_page_size(500);
  auto stub = v1::OrderService::NewStub(s.ChannelTo(s.options().order_addr));
  v1::OrderTimeline timeline;
  for (int page = 0; page < kMaxTimelinePages; ++page) {
    v1::OrderTimeline part;
    const auto status = s.Call(*stub, &v1::OrderService::Stub::GetOrderTimeline, req, &part);
    if (!status.ok()) return s.Fail(status, s.options().order_addr);
    timeline.set_order_id(part.order_id());
    for (auto& e : *part.mutable_entries()) *timeline.add_entries() = std::move(e);
    timeline.set_next_page_token(part.next_page_token());
    if (part.next_page_token().empty()) break;
    req.set_page_token(part.next_page_token());
  }
  return Show(s, timeline, TimelineRows(timeline));
}

}  // namespace

void AddOrderCommands(CLI::App& app, Session& session, Action& chosen) {
  auto* order = app.add_subcommand("order", "Create, read, list and cancel orders (OrderService)");
  order->footer(R"(Examples:
  payonce order create --customer alice --amount-minor 1999 --currency EUR
  payonce order get 0193a1b2-...
  payonce order list --customer alice --status pending --all
  payonce order cancel 0193a1b2-... --reason "customer changed their mind"
  payonce order timeline 0193a1b2-...)");

  {
    auto flags = std::make_shared<CreateFlags>();
    auto* cmd = order->add_subcommand("create", "Create an order waiting for payment");
    cmd->add_option("--customer", flags->customer_id, "Customer id (required)")->required();
    cmd->add_option("--amount-minor", flags->amount_minor,
                    "Amount in minor units of the currency, e.g. 1999 for 19.99 EUR (required)")
        ->required();
    cmd->add_option("--currency", flags->currency, "ISO-4217 code, e.g. EUR (required)")
        ->required();
    cmd->add_option("--description", flags->description, "Free text shown to the customer");
    cmd->add_option("--request-id", flags->request_id,
                    "Idempotency key of the creation (default: a new random UUID, printed as "
                    "request_id); the same id with the same fields returns the same order");
    cmd->footer(R"(Examples:
  payonce order create --customer alice --amount-minor 1999 --currency EUR
  payonce order create --customer alice --amount-minor 500 --currency JPY \
      --description "green tea" --request-id cart-42 --json)");
    OnChosen(cmd, chosen, [&session, flags] { return CreateOrder(session, *flags); });
  }
  {
    auto order_id = std::make_shared<std::string>();
    auto* cmd = order->add_subcommand("get", "Show one order");
    cmd->add_option("ORDER_ID", *order_id, "The order")->required();
    cmd->footer(R"(Examples:
  payonce order get 0193a1b2-...
  payonce order get 0193a1b2-... --json)");
    OnChosen(cmd, chosen, [&session, order_id] { return GetOrder(session, *order_id); });
  }
  {
    auto flags = std::make_shared<ListFlags>();
    auto* cmd = order->add_subcommand("list", "List one customer's orders, newest first");
    cmd->add_option("--customer", flags->customer_id, "Whose orders (required)")->required();
    cmd->add_option("--status", flags->status, "Only orders in this status")
        ->check(CLI::IsMember({"pending", "paid", "cancelled"}));
    cmd->add_option("--page-size", flags->page_size, "Orders per page (default 50, at most 500)")
        ->check(CLI::Range(1, 500));
    cmd->add_option("--page-token", flags->page_token,
                    "Continue where a previous page ended (its next_page_token)");
    cmd->add_flag("--all", flags->all, "Follow next_page_token until the last page");
    cmd->footer(R"(Examples:
  payonce order list --customer alice
  payonce order list --customer alice --status paid --page-size 20
  payonce order list --customer alice --status pending --all --json)");
    OnChosen(cmd, chosen, [&session, flags] { return ListOrders(session, *flags); });
  }
  {
    auto flags = std::make_shared<CancelFlags>();
    auto* cmd = order->add_subcommand(
        "cancel", "Cancel an order still waiting for payment (a PAID order cannot be cancelled)");
    cmd->add_option("ORDER_ID", flags->order_id, "The order")->required();
    cmd->add_option("--reason", flags->reason, "Why, recorded on the order and its timeline");
    cmd->footer(R"(Examples:
  payonce order cancel 0193a1b2-... --reason "out of stock")");
    OnChosen(cmd, chosen, [&session, flags] { return CancelOrder(session, *flags); });
  }
  {
    auto order_id = std::make_shared<std::string>();
    auto* cmd = order->add_subcommand(
        "timeline", "Every state change and payment event of an order, oldest first");
    cmd->add_option("ORDER_ID", *order_id, "The order")->required();
    cmd->footer(R"(Examples:
  payonce order timeline 0193a1b2-...
  payonce order timeline 0193a1b2-... --json)");
    OnChosen(cmd, chosen, [&session, order_id] { return ShowTimeline(session, *order_id); });
  }
}

}  // namespace payonce::cli
