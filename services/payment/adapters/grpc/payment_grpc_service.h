// gRPC adapter of payonce.payment.v1.PaymentService: translates messages and
// statuses, nothing else.
#pragma once

#include "payonce/payment/v1/payment_service.grpc.pb.h"
#include "services/common/log.h"
#include "services/payment/app/payment_app.h"

namespace payonce::payment {

class PaymentGrpcService final : public payonce::payment::v1::PaymentService::Service {
 public:
  PaymentGrpcService(PaymentApp& app, Logger& log) : app_(app), log_(log) {}

  grpc::Status CreatePayment(grpc::ServerContext* ctx, const v1::CreatePaymentRequest* req,
                             v1::Payment* resp) override;
  grpc::Status GetPayment(grpc::ServerContext* ctx, const v1::GetPaymentRequest* req,
                          v1::Payment* resp) override;
  grpc::Status ListPayments(grpc::ServerContext* ctx, const v1::ListPaymentsRequest* req,
                            v1::ListPaymentsResponse* resp) override;
  grpc::Status HandleProviderCallback(grpc::ServerContext* ctx, const v1::ProviderCallback* req,
                                      v1::CallbackAck* resp) override;
  grpc::Status RefundPayment(grpc::ServerContext* ctx, const v1::RefundPaymentRequest* req,
                             v1::Payment* resp) override;

 private:
  PaymentApp& app_;
  Logger& log_;
};

// Fills a proto Payment from the domain record.
void ToProto(const Payment& p, v1::Payment* out);

// The domain status for a proto status (nullopt for UNSPECIFIED/unknown).
std::optional<PaymentStatus> FromProto(v1::PaymentStatus s);

}  // namespace payonce::payment
