#include "services/payment/adapters/clients/provider_gateway_client.h"

#include <google/protobuf/util/time_util.h>

#include "services/common/grpc_server.h"
#include "services/common/status.h"

namespace payonce::payment {
namespace {

namespace providerpb = payonce::provider::v1;
namespace paymentpb = payonce::payment::v1;

PaymentStatus FromProto(paymentpb::PaymentStatus s) {
  switch (s) {
    case paymentpb::PAYMENT_STATUS_SUCCEEDED:
      return PaymentStatus::kSucceeded;
    case paymentpb::PAYMENT_STATUS_FAILED:
      return PaymentStatus::kFailed;
    case paymentpb::PAYMENT_STATUS_REFUNDED:
      return PaymentStatus::kRefunded;
    default:
      return PaymentStatus::kPending;
  }
}

}  // namespace

ProviderGatewayClient::ProviderGatewayClient(std::shared_ptr<grpc::Channel> channel,
                                             std::chrono::milliseconds timeout)
    : stub_(providerpb::ProviderSandbox::NewStub(std::move(channel))), timeout_(timeout) {}

absl::StatusOr<DebitResult> ProviderGatewayClient::Debit(const std::string& payment_id,
                                                         int64_t amount_minor,
                                                         const std::string& currency) {
  grpc::ClientContext ctx;
  ctx.set_deadline(DeadlineAfter(timeout_));
  providerpb::DebitRequest req;
  req.set_merchant_payment_id(payment_id);
  req.set_amount_minor(amount_minor);
  req.set_currency(currency);
  providerpb::DebitResponse resp;
  const auto status = stub_->Debit(&ctx, req, &resp);
  if (!status.ok()) return FromGrpcStatus(status);
  return DebitResult{resp.provider_txn_id(), FromProto(resp.status())};
}

absl::StatusOr<std::vector<ProviderCapture>> ProviderGatewayClient::QueryTransaction(
    const std::string& payment_id) {
  grpc::ClientContext ctx;
  ctx.set_deadline(DeadlineAfter(timeout_));
  providerpb::QueryTransactionRequest req;
  req.set_merchant_payment_id(payment_id);
  providerpb::QueryTransactionResponse resp;
  const auto status = stub_->QueryTransaction(&ctx, req, &resp);
  if (!status.ok()) return FromGrpcStatus(status);
  std::vector<ProviderCapture> out;
  for (const auto& c : resp.captures()) {
    out.push_back({c.provider_txn_id(), FromProto(c.status()), c.amount_minor(), c.currency(),
                   google::protobuf::util::TimeUtil::TimestampToMilliseconds(c.captured_at())});
  }
  return out;
}

absl::StatusOr<ProviderRefund> ProviderGatewayClient::Refund(const std::string& provider_txn_id,
                                                             const std::string& idempotency_key) {
  grpc::ClientContext ctx;
  ctx.set_deadline(DeadlineAfter(timeout_));
  providerpb::ProviderRefundRequest req;
  req.set_provider_txn_id(provider_txn_id);
  req.set_idempotency_key(idempotency_key);
  providerpb::ProviderRefundResponse resp;
  const auto status = stub_->Refund(&ctx, req, &resp);
  if (!status.ok()) return FromGrpcStatus(status);
  return ProviderRefund{resp.refund_id(), resp.provider_txn_id(), resp.amount_minor(),
                        resp.currency()};
}

}  // namespace payonce::payment
