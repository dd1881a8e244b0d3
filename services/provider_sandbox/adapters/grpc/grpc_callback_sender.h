// CallbackSender over gRPC: payonce.payment.v1.PaymentService/
// HandleProviderCallback on the payment service, each call under a deadline.
#pragma once

#include <chrono>
#include <memory>
#include <string>

#include "payonce/payment/v1/payment_service.grpc.pb.h"
#include "services/provider_sandbox/app/callback_sender.h"

namespace payonce::provider {

class GrpcCallbackSender final : public CallbackSender {
 public:
  // `target` is a gRPC target ("127.0.0.1:50052"); `timeout` bounds each call.
  GrpcCallbackSender(const std::string& target, std::chrono::milliseconds timeout);

  std::vector<absl::Status> SendAll(const std::vector<SignedCallback>& callbacks) override;

 private:
  const std::chrono::milliseconds timeout_;
  std::unique_ptr<payonce::payment::v1::PaymentService::Stub> stub_;
};

}  // namespace payonce::provider
