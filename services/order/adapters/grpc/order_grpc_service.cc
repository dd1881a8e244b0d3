#include "services/order/adapters/grpc/order_grpc_service.h"

#include <google/protobuf/util/time_util.h>

#include "services/common/status.h"

namespace payonce::order {
namespace {

using google::protobuf::util::TimeUtil;

v1::OrderStatus ToProto(OrderStatus s) {
  switch (s) {
    case OrderStatus::kPendingPayment:
      return v1::ORDER_STATUS_PENDING_PAYMENT;
    case OrderStatus::kPaid:
      return v1::ORDER_STATUS_PAID;
    case OrderStatus::kCancelled:
      return v1::ORDER_STATUS_CANCELLED;
  }
  return v1::ORDER_STATUS_UNSPECIFIED;
}

v1::ApplyOutcome ToProto(ApplyOutcome o) {
  switch (o) {
    case ApplyOutcome::kApplied:
      return v1::APPLY_OUTCOME_APPLIED;
    case ApplyOutcome::kDuplicate:
      return v1::APPLY_OUTCOME_DUPLICATE;
    case ApplyOutcome::kIgnored:
      return v1::APPLY_OUTCOME_IGNORED;
    case ApplyOutcome::kRefundRequired:
      return v1::APPLY_OUTCOME_REFUND_REQUIRED;
  }
  return v1::APPLY_OUTCOME_UNSPECIFIED;
}

payonce::payment::v1::PaymentStatus ToProto(PaymentResult r) {
  switch (r) {
    case PaymentResult::kSucceeded:
      return payonce::payment::v1::PAYMENT_STATUS_SUCCEEDED;
    case PaymentResult::kFailed:
      return payonce::payment::v1::PAYMENT_STATUS_FAILED;
    case PaymentResult::kRefunded:
      return payonce::payment::v1::PAYMENT_STATUS_REFUNDED;
  }
  return payonce::payment::v1::PAYMENT_STATUS_UNSPECIFIED;
}

void ToProto(const Order& o, v1::Order* out) {
  out->set_order_id(o.order_id);
  out->set_request_id(o.request_id);
  out->set_customer_id(o.customer_id);
  out->set_amount_minor(o.amount_minor);
  out->set_currency(o.currency);
  out->set_description(o.description);
  out->set_status(ToProto(o.status));
  out->set_paid_payment_id(o.paid_payment_id);
  out->set_cancel_reason(o.cancel_reason);
  *out->mutable_created_at() = TimeUtil::MicrosecondsToTimestamp(o.created_at_us);
  *out->mutable_updated_at() = TimeUtil::MicrosecondsToTimestamp(o.updated_at_us);
}

}  // namespace

grpc::Status OrderGrpcService::CreateOrder(grpc::ServerContext*, const v1::CreateOrderRequest* req,
                                           v1::Order* resp) {
  OrderRequest r{req->request_id(), req->customer_id(), req->amount_minor(), req->currency(),
                 req->description()};
  auto order = app_.CreateOrder(r);
  if (!order.ok()) return ToGrpcStatus(order.status());
  ToProto(*order, resp);
  return grpc::Status::OK;
}

grpc::Status OrderGrpcService::GetOrder(grpc::ServerContext*, const v1::GetOrderRequest* req,
                                        v1::Order* resp) {
  auto order = app_.GetOrder(req->order_id());
  if (!order.ok()) return ToGrpcStatus(order.status());
  ToProto(*order, resp);
  return grpc::Status::OK;
}

grpc::Status OrderGrpcService::ListOrders(grpc::ServerContext*, const v1::ListOrdersRequest* req,
                                          v1::ListOrdersResponse* resp) {
  ListRequest r;
  r.customer_id = req->customer_id();
  switch (req->status()) {
    case v1::ORDER_STATUS_UNSPECIFIED:
      break;
    case v1::ORDER_STATUS_PENDING_PAYMENT:
      r.status = OrderStatus::kPendingPayment;
      break;
    case v1::ORDER_STATUS_PAID:
      r.status = OrderStatus::kPaid;
      break;
    case v1::ORDER_STATUS_CANCELLED:
      r.status = OrderStatus::kCancelled;
      break;
    default:
      return {grpc::StatusCode::INVALID_ARGUMENT, "unknown status filter"};
  }
  r.page_size = req->page_size();
  r.page_token = req->page_token();
  auto page = app_.ListOrders(r);
  if (!page.ok()) return ToGrpcStatus(page.status());
  for (const auto& o : page->orders) ToProto(o, resp->add_orders());
  resp->set_next_page_token(page->next_page_token);
  return grpc::Status::OK;
}

grpc::Status OrderGrpcService::CancelOrder(grpc::ServerContext*, const v1::CancelOrderRequest* req,
                                           v1::Order* resp) {
  auto order = app_.CancelOrder(req->order_id(), req->reason());
  if (!order.ok()) return ToGrpcStatus(order.status());
  ToProto(*order, resp);
  return grpc::Status::OK;
}

grpc::Status OrderGrpcService::ApplyPaymentEvent(grpc::ServerContext*, const v1::PaymentEvent* req,
                                                 v1::ApplyPaymentEventResponse* resp) {
  PaymentEventInput e;
  e.event_id = req->event_id();
  e.order_id = req->order_id();
  e.facts.payment_id = req->payment_id();
  e.facts.amount_minor = req->amount_minor();
  e.facts.currency = req->currency();
  e.facts.extra_capture_refund = req->extra_capture_refund();
  switch (req->status()) {
    case payonce::payment::v1::PAYMENT_STATUS_SUCCEEDED:
      e.facts.result = PaymentResult::kSucceeded;
      break;
    case payonce::payment::v1::PAYMENT_STATUS_FAILED:
      e.facts.result = PaymentResult::kFailed;
      break;
    case payonce::payment::v1::PAYMENT_STATUS_REFUNDED:
      e.facts.result = PaymentResult::kRefunded;
      break;
    default:
      return {grpc::StatusCode::INVALID_ARGUMENT,
              "status must be PAYMENT_STATUS_SUCCEEDED, _FAILED or _REFUNDED"};
  }
  if (req->has_occurred_at()) {
    e.occurred_at_us = TimeUtil::TimestampToMicroseconds(req->occurred_at());
  }
  e.source = req->source().empty() ? "relay" : req->source();
  auto result = app_.ApplyPaymentEvent(e);
  if (!result.ok()) return ToGrpcStatus(result.status());
  resp->set_outcome(ToProto(result->outcome));
  if (result->first_outcome) resp->set_first_outcome(ToProto(*result->first_outcome));
  ToProto(result->order, resp->mutable_order());
  if (result->outcome == ApplyOutcome::kRefundRequired) {
    log_.Warn(
        "payment needs a refund",
        {{"order_id", e.order_id}, {"payment_id", e.facts.payment_id}, {"event_id", e.event_id}});
  }
  return grpc::Status::OK;
}

grpc::Status OrderGrpcService::GetOrderTimeline(grpc::ServerContext*,
                                                const v1::GetOrderTimelineRequest* req,
                                                v1::OrderTimeline* resp) {
  auto page = app_.Timeline({req->order_id(), req->page_size(), req->page_token()});
  if (!page.ok()) return ToGrpcStatus(page.status());
  resp->set_order_id(req->order_id());
  resp->set_next_page_token(page->next_page_token);
  for (const auto& e : page->entries) {
    auto* out = resp->add_entries();
    *out->mutable_at() = TimeUtil::MicrosecondsToTimestamp(e.at_us);
    out->set_source(e.source);
    out->set_kind(e.kind);
    if (e.old_status) out->set_old_status(ToProto(*e.old_status));
    if (e.new_status) out->set_new_status(ToProto(*e.new_status));
    out->set_payment_id(e.payment_id);
    out->set_event_id(e.event_id);
    if (e.outcome) out->set_outcome(ToProto(*e.outcome));
    if (e.payment_result) out->set_payment_status(ToProto(*e.payment_result));
    out->set_detail(e.detail);
    out->set_repeats(e.repeats);
    if (e.last_at_us > 0) *out->mutable_last_at() = TimeUtil::MicrosecondsToTimestamp(e.last_at_us);
  }
  return grpc::Status::OK;
}

}  // namespace payonce::order
