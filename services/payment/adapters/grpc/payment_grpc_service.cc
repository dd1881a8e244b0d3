#include "services/payment/adapters/grpc/payment_grpc_service.h"

#include <google/protobuf/util/time_util.h>

#include "services/common/status.h"
#include "services/payment/adapters/grpc/payment_proto.h"

namespace payonce::payment {

using google::protobuf::util::TimeUtil;

void ToProto(const Payment& p, v1::Payment* out) {
  out->set_payment_id(p.payment_id);
  out->set_order_id(p.order_id);
  out->set_amount_minor(p.amount_minor);
  out->set_currency(p.currency);
  out->set_status(ToProto(p.status));
  out->set_provider(p.provider);
  out->set_provider_txn_id(p.provider_txn_id);
  out->set_failure_reason(p.failure_reason);
  out->set_late_success(p.late_success);
  *out->mutable_created_at() = TimeUtil::MicrosecondsToTimestamp(p.created_at_us);
  *out->mutable_updated_at() = TimeUtil::MicrosecondsToTimestamp(p.updated_at_us);
}

grpc::Status PaymentGrpcService::CreatePayment(grpc::ServerContext*,
                                               const v1::CreatePaymentRequest* req,
                                               v1::Payment* resp) {
  auto p = app_.CreatePayment(
      {req->idempotency_key(), req->order_id(), req->amount_minor(), req->currency()});
  if (!p.ok()) return ToGrpcStatus(p.status());
  ToProto(*p, resp);
  return grpc::Status::OK;
}

grpc::Status PaymentGrpcService::GetPayment(grpc::ServerContext*, const v1::GetPaymentRequest* req,
                                            v1::Payment* resp) {
  auto p = app_.GetPayment(req->payment_id());
  if (!p.ok()) return ToGrpcStatus(p.status());
  ToProto(*p, resp);
  return grpc::Status::OK;
}

grpc::Status PaymentGrpcService::ListPayments(grpc::ServerContext*,
                                              const v1::ListPaymentsRequest* req,
                                              v1::ListPaymentsResponse* resp) {
  auto list = app_.ListPayments(req->order_id());
  if (!list.ok()) return ToGrpcStatus(list.status());
  for (const auto& p : *list) ToProto(p, resp->add_payments());
  return grpc::Status::OK;
}

grpc::Status PaymentGrpcService::HandleProviderCallback(grpc::ServerContext*,
                                                        const v1::ProviderCallback* req,
                                                        v1::CallbackAck* resp) {
  CallbackMessage m;
  m.provider = req->provider();
  m.event_id = req->event_id();
  m.payment_id = req->payment_id();
  m.provider_txn_id = req->provider_txn_id();
  m.status_name = v1::PaymentStatus_Name(req->status());
  m.status = FromProto(req->status());
  m.amount_minor = req->amount_minor();
  m.currency = req->currency();
  m.occurred_at_unix_ms = req->occurred_at_unix_ms();
  m.timestamp_unix_ms = req->timestamp_unix_ms();
  m.nonce = req->nonce();
  m.signature = req->signature();
  auto answer = app_.HandleProviderCallback(m);
  if (!answer.ok()) {
    if (answer.status().code() == absl::StatusCode::kUnauthenticated) {
      log_.Warn("callback rejected", {{"event_id", m.event_id},
                                      {"payment_id", m.payment_id},
                                      {"reason", std::string(answer.status().message())}});
    }
    return ToGrpcStatus(answer.status());
  }
  switch (answer->effect) {
    case CallbackEffect::kApplied:
      resp->set_outcome(v1::CALLBACK_OUTCOME_APPLIED);
      break;
    case CallbackEffect::kIgnoredStale:
      resp->set_outcome(v1::CALLBACK_OUTCOME_IGNORED_STALE);
      break;
    default:
      resp->set_outcome(v1::CALLBACK_OUTCOME_DUPLICATE);
      break;
  }
  ToProto(answer->payment, resp->mutable_payment());
  return grpc::Status::OK;
}

grpc::Status PaymentGrpcService::RefundPayment(grpc::ServerContext*,
                                               const v1::RefundPaymentRequest* req,
                                               v1::Payment* resp) {
  auto p = app_.RefundPayment(req->idempotency_key(), req->payment_id(), req->reason());
  if (!p.ok()) return ToGrpcStatus(p.status());
  ToProto(*p, resp);
  return grpc::Status::OK;
}

}  // namespace payonce::payment
