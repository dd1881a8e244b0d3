#include "services/payment/adapters/clients/order_directory_client.h"

#include "services/common/grpc_server.h"
#include "services/common/status.h"

namespace payonce::payment {

namespace orderpb = payonce::order::v1;

OrderDirectoryClient::OrderDirectoryClient(std::shared_ptr<grpc::Channel> channel,
                                           std::chrono::milliseconds timeout)
    : stub_(orderpb::OrderService::NewStub(std::move(channel))), timeout_(timeout) {}

absl::StatusOr<OrderSnapshot> OrderDirectoryClient::GetOrder(const std::string& order_id) {
  grpc::ClientContext ctx;
  ctx.set_deadline(DeadlineAfter(timeout_));
  orderpb::GetOrderRequest req;
  req.set_order_id(order_id);
  orderpb::Order order;
  const auto status = stub_->GetOrder(&ctx, req, &order);
  if (!status.ok()) return FromGrpcStatus(status);
  OrderSnapshot s;
  s.order_id = order.order_id();
  s.amount_minor = order.amount_minor();
  s.currency = order.currency();
  s.paid_payment_id = order.paid_payment_id();
  switch (order.status()) {
    case orderpb::ORDER_STATUS_PENDING_PAYMENT:
      s.status = OrderSnapshot::Status::kPendingPayment;
      break;
    case orderpb::ORDER_STATUS_PAID:
      s.status = OrderSnapshot::Status::kPaid;
      break;
    case orderpb::ORDER_STATUS_CANCELLED:
      s.status = OrderSnapshot::Status::kCancelled;
      break;
    default:
      s.status = OrderSnapshot::Status::kOther;
      break;
  }
  return s;
}

}  // namespace payonce::payment
