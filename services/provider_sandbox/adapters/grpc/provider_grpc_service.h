// gRPC adapter of payonce.provider.v1.ProviderSandbox: translates messages
// and statuses, nothing else.
#pragma once

#include "payonce/provider/v1/provider_sandbox.grpc.pb.h"
#include "services/common/log.h"
#include "services/provider_sandbox/app/sandbox_app.h"

namespace payonce::provider {

// The fault configuration between its message and its domain type (the
// storm uses them too, to recompute the sandbox's schedule).
FaultConfig FromProto(const v1::FaultConfig& p);
void ToProto(const FaultConfig& f, v1::FaultConfig* out);

class ProviderGrpcService final : public v1::ProviderSandbox::Service {
 public:
  ProviderGrpcService(SandboxApp& app, Logger& log) : app_(app), log_(log) {}

  grpc::Status Debit(grpc::ServerContext* ctx, const v1::DebitRequest* req,
                     v1::DebitResponse* resp) override;
  grpc::Status QueryTransaction(grpc::ServerContext* ctx, const v1::QueryTransactionRequest* req,
                                v1::QueryTransactionResponse* resp) override;
  grpc::Status Refund(grpc::ServerContext* ctx, const v1::ProviderRefundRequest* req,
                      v1::ProviderRefundResponse* resp) override;
  grpc::Status SetFaults(grpc::ServerContext* ctx, const v1::FaultConfig* req,
                         v1::FaultConfig* resp) override;
  grpc::Status GetStats(grpc::ServerContext* ctx, const v1::GetStatsRequest* req,
                        v1::ProviderStats* resp) override;
  grpc::Status GetSettlement(grpc::ServerContext* ctx, const v1::GetSettlementRequest* req,
                             grpc::ServerWriter<v1::SettlementLine>* writer) override;

 private:
  SandboxApp& app_;
  Logger& log_;
};

}  // namespace payonce::provider
