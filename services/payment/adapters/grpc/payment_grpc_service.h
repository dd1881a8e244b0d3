// gRPC adapter of payonce.payment.v1.PaymentService.
#pragma once

#include "payonce/payment/v1/payment_service.grpc.pb.h"
#include "services/common/log.h"
#include "services/payment/app/payment_store.h"

namespace payonce::payment {

class PaymentGrpcService final : public payonce::payment::v1::PaymentService::Service {
 public:
  PaymentGrpcService(PaymentStore& store, Logger& log) : store_(store), log_(log) {}

  grpc::Status GetPayment(grpc::ServerContext* ctx, const v1::GetPaymentRequest* req,
                          v1::Payment* resp) override;
  grpc::Status ListPayments(grpc::ServerContext* ctx, const v1::ListPaymentsRequest* req,
                            v1::ListPaymentsResponse* resp) override;

 private:
  PaymentStore& store_;
  Logger& log_;
};

// Fills a proto Payment from the domain record.
void ToProto(const Payment& p, v1::Payment* out);

}  // namespace payonce::payment
