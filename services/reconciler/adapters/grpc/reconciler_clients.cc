#include "services/reconciler/adapters/grpc/reconciler_clients.h"

#include <google/protobuf/util/time_util.h>

#include "services/common/grpc_server.h"
#include "services/common/status.h"

namespace payonce::reconciler {
namespace {

namespace orderpb = payonce::order::v1;
namespace paymentpb = payonce::payment::v1;
namespace providerpb = payonce::provider::v1;
using google::protobuf::util::TimeUtil;

paymentpb::PaymentStatus ToProto(PaymentStatus s) {
  switch (s) {
    case PaymentStatus::kSucceeded:
      return paymentpb::PAYMENT_STATUS_SUCCEEDED;
    case PaymentStatus::kFailed:
      return paymentpb::PAYMENT_STATUS_FAILED;
    case PaymentStatus::kRefunded:
      return paymentpb::PAYMENT_STATUS_REFUNDED;
    case PaymentStatus::kPending:
      return paymentpb::PAYMENT_STATUS_PENDING;
  }
  return paymentpb::PAYMENT_STATUS_UNSPECIFIED;
}

}  // namespace

OrderDeskClient::OrderDeskClient(std::shared_ptr<grpc::Channel> channel,
                                 std::chrono::milliseconds timeout)
    : stub_(orderpb::OrderService::NewStub(std::move(channel))), timeout_(timeout) {}

absl::StatusOr<OrderView> OrderDeskClient::GetOrder(const std::string& order_id) {
  grpc::ClientContext ctx;
  ctx.set_deadline(DeadlineAfter(timeout_));
  orderpb::GetOrderRequest req;
  req.set_order_id(order_id);
  orderpb::Order order;
  const auto status = stub_->GetOrder(&ctx, req, &order);
  if (!status.ok()) return FromGrpcStatus(status);
  OrderView view;
  view.paid_payment_id = order.paid_payment_id();
  switch (order.status()) {
    case orderpb::ORDER_STATUS_PENDING_PAYMENT:
      view.state = OrderState::kPendingPayment;
      break;
    case orderpb::ORDER_STATUS_PAID:
      view.state = OrderState::kPaid;
      break;
    case orderpb::ORDER_STATUS_CANCELLED:
      view.state = OrderState::kCancelled;
      break;
    default:
      view.state = OrderState::kUnknown;
      break;
  }
  return view;
}

namespace {

orderpb::PaymentEvent ReconcilerEvent(const std::string& event_id, const payment::Payment& payment,
                                      PaymentStatus status) {
  orderpb::PaymentEvent event;
  event.set_event_id(event_id);
  event.set_payment_id(payment.payment_id);
  event.set_order_id(payment.order_id);
  event.set_status(ToProto(status));
  event.set_amount_minor(payment.amount_minor);
  event.set_currency(payment.currency);
  *event.mutable_occurred_at() = TimeUtil::MicrosecondsToTimestamp(payment.updated_at_us);
  event.set_source("reconciler");
  return event;
}

}  // namespace

absl::StatusOr<std::string> OrderDeskClient::ApplyPaymentEvent(const std::string& event_id,
                                                               const payment::Payment& payment,
                                                               PaymentStatus status) {
  return Send(ReconcilerEvent(event_id, payment, status));
}

absl::Status OrderDeskClient::TellExtraCaptureRefunded(const payment::Payment& payment,
                                                       const std::string& provider_txn_id,
                                                       int64_t amount_minor) {
  orderpb::PaymentEvent event =
      ReconcilerEvent("reconciler:refund:" + provider_txn_id, payment, PaymentStatus::kRefunded);
  event.set_amount_minor(amount_minor);
  event.set_extra_capture_refund(true);
  return Send(event).status();
}

absl::StatusOr<std::string> OrderDeskClient::Send(const orderpb::PaymentEvent& event) {
  grpc::ClientContext ctx;
  ctx.set_deadline(DeadlineAfter(timeout_));
  orderpb::ApplyPaymentEventResponse resp;
  const auto s = stub_->ApplyPaymentEvent(&ctx, event, &resp);
  if (!s.ok()) return FromGrpcStatus(s);
  // A repeated event id answers DUPLICATE with what its first delivery
  // decided: that decision is the fact the caller acts on.
  const orderpb::ApplyOutcome outcome =
      resp.outcome() == orderpb::APPLY_OUTCOME_DUPLICATE &&
              resp.first_outcome() != orderpb::APPLY_OUTCOME_UNSPECIFIED
          ? resp.first_outcome()
          : resp.outcome();
  const std::string name = orderpb::ApplyOutcome_Name(outcome);
  return name.substr(std::string("APPLY_OUTCOME_").size());
}

SettlementClient::SettlementClient(std::shared_ptr<grpc::Channel> channel,
                                   std::chrono::milliseconds timeout)
    : stub_(providerpb::ProviderSandbox::NewStub(std::move(channel))), timeout_(timeout) {}

absl::StatusOr<std::vector<StatementLine>> SettlementClient::Statement(int64_t from_unix_ms,
                                                                       int64_t to_unix_ms) {
  grpc::ClientContext ctx;
  ctx.set_deadline(DeadlineAfter(timeout_ * 10));  // a stream of many lines
  providerpb::GetSettlementRequest req;
  *req.mutable_from() = TimeUtil::MillisecondsToTimestamp(from_unix_ms);
  *req.mutable_to() = TimeUtil::MillisecondsToTimestamp(to_unix_ms);
  auto reader = stub_->GetSettlement(&ctx, req);
  std::vector<StatementLine> out;
  providerpb::SettlementLine line;
  while (reader->Read(&line)) {
    StatementLine l;
    l.refund = line.kind() == providerpb::SettlementLine::KIND_REFUND;
    l.provider_txn_id = line.provider_txn_id();
    l.payment_id = line.merchant_payment_id();
    l.amount_minor = line.amount_minor();
    l.currency = line.currency();
    out.push_back(std::move(l));
  }
  const auto status = reader->Finish();
  if (!status.ok()) return FromGrpcStatus(status);
  return out;
}

}  // namespace payonce::reconciler
