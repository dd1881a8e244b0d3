// gRPC adapter of payonce.order.v1.OrderService: translates messages and
// statuses, nothing else.
#pragma once

#include "payonce/order/v1/order_service.grpc.pb.h"
#include "services/common/log.h"
#include "services/order/app/order_app.h"

namespace payonce::order {

class OrderGrpcService final : public payonce::order::v1::OrderService::Service {
 public:
  OrderGrpcService(OrderApp& app, Logger& log) : app_(app), log_(log) {}

  grpc::Status CreateOrder(grpc::ServerContext* ctx, const v1::CreateOrderRequest* req,
                           v1::Order* resp) override;
  grpc::Status GetOrder(grpc::ServerContext* ctx, const v1::GetOrderRequest* req,
                        v1::Order* resp) override;
  grpc::Status ListOrders(grpc::ServerContext* ctx, const v1::ListOrdersRequest* req,
                          v1::ListOrdersResponse* resp) override;
  grpc::Status CancelOrder(grpc::ServerContext* ctx, const v1::CancelOrderRequest* req,
                           v1::Order* resp) override;
  grpc::Status ApplyPaymentEvent(grpc::ServerContext* ctx, const v1::PaymentEvent* req,
                                 v1::ApplyPaymentEventResponse* resp) override;
  grpc::Status GetOrderTimeline(grpc::ServerContext* ctx, const v1::GetOrderTimelineRequest* req,
                                v1::OrderTimeline* resp) override;

 private:
  OrderApp& app_;
  Logger& log_;
};

}  // namespace payonce::order
