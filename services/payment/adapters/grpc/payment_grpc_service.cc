#include "services/payment/adapters/grpc/payment_grpc_service.h"

#include <google/protobuf/util/time_util.h>

#include "services/common/status.h"

namespace payonce::payment {

using google::protobuf::util::TimeUtil;

v1::PaymentStatus ToProto(PaymentStatus s) {
  switch (s) {
    case PaymentStatus::kPending: return v1::PAYMENT_STATUS_PENDING;
    case PaymentStatus::kSucceeded: return v1::PAYMENT_STATUS_SUCCEEDED;
    case PaymentStatus::kFailed: return v1::PAYMENT_STATUS_FAILED;
    case PaymentStatus::kRefunded: return v1::PAYMENT_STATUS_REFUNDED;
  }
  return v1::PAYMENT_STATUS_UNSPECIFIED;
}

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

grpc::Status PaymentGrpcService::GetPayment(grpc::ServerContext*, const v1::GetPaymentRequest* req,
                                            v1::Payment* resp) {
  if (req->payment_id().empty()) {
    return {grpc::StatusCode::INVALID_ARGUMENT, "payment_id is required"};
  }
  auto p = store_.Get(req->payment_id());
  if (!p.ok()) return ToGrpcStatus(p.status());
  ToProto(*p, resp);
  return grpc::Status::OK;
}

grpc::Status PaymentGrpcService::ListPayments(grpc::ServerContext*,
                                              const v1::ListPaymentsRequest* req,
                                              v1::ListPaymentsResponse* resp) {
  if (req->order_id().empty()) return {grpc::StatusCode::INVALID_ARGUMENT, "order_id is required"};
  auto list = store_.ListForOrder(req->order_id());
  if (!list.ok()) return ToGrpcStatus(list.status());
  for (const auto& p : *list) ToProto(p, resp->add_payments());
  return grpc::Status::OK;
}

}  // namespace payonce::payment
