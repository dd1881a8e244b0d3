#include "services/provider_sandbox/adapters/grpc/grpc_callback_sender.h"

#include <grpcpp/grpcpp.h>

#include <condition_variable>
#include <mutex>

#include "services/common/grpc_server.h"
#include "services/common/status.h"

namespace payonce::provider {
namespace {

namespace paymentv1 = payonce::payment::v1;

paymentv1::ProviderCallback ToProto(const SignedCallback& c) {
  paymentv1::ProviderCallback out;
  const CallbackFields& f = c.fields;
  out.set_provider(f.provider);
  out.set_event_id(f.event_id);
  out.set_payment_id(f.payment_id);
  out.set_provider_txn_id(f.provider_txn_id);
  paymentv1::PaymentStatus status = paymentv1::PAYMENT_STATUS_UNSPECIFIED;
  paymentv1::PaymentStatus_Parse(f.status_name, &status);
  out.set_status(status);
  out.set_amount_minor(f.amount_minor);
  out.set_currency(f.currency);
  out.set_occurred_at_unix_ms(f.occurred_at_unix_ms);
  out.set_timestamp_unix_ms(f.timestamp_unix_ms);
  out.set_nonce(f.nonce);
  out.set_signature(c.signature);
  return out;
}

}  // namespace

GrpcCallbackSender::GrpcCallbackSender(const std::string& target, std::chrono::milliseconds timeout)
    : timeout_(timeout),
      stub_(paymentv1::PaymentService::NewStub(grpc::CreateCustomChannel(
          target, grpc::InsecureChannelCredentials(), DefaultChannelArguments()))) {}

std::vector<absl::Status> GrpcCallbackSender::SendAll(
    const std::vector<SignedCallback>& callbacks) {
  struct Call {
    grpc::ClientContext ctx;
    paymentv1::ProviderCallback request;
    paymentv1::CallbackAck response;
    grpc::Status status;
  };
  std::vector<std::unique_ptr<Call>> calls;
  calls.reserve(callbacks.size());
  std::mutex mu;
  std::condition_variable done;
  size_t pending = callbacks.size();
  for (const auto& c : callbacks) {
    auto call = std::make_unique<Call>();
    call->request = ToProto(c);
    call->ctx.set_deadline(DeadlineAfter(timeout_));
    calls.push_back(std::move(call));
  }
  // Every call is started before any is awaited, so copies race as they
  // would from a real acquirer.
  for (auto& call : calls) {
    Call* raw = call.get();
    stub_->async()->HandleProviderCallback(&raw->ctx, &raw->request, &raw->response,
                                           [raw, &mu, &done, &pending](grpc::Status s) {
                                             std::lock_guard<std::mutex> lock(mu);
                                             raw->status = std::move(s);
                                             if (--pending == 0) done.notify_all();
                                           });
  }
  {
    std::unique_lock<std::mutex> lock(mu);
    done.wait(lock, [&pending] { return pending == 0; });
  }
  std::vector<absl::Status> out;
  out.reserve(calls.size());
  for (const auto& call : calls) out.push_back(FromGrpcStatus(call->status));
  return out;
}

}  // namespace payonce::provider
