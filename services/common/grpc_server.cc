#include "services/common/grpc_server.h"

#include <grpcpp/ext/proto_server_reflection_plugin.h>
#include <grpcpp/health_check_service_interface.h>
#include <grpcpp/resource_quota.h>

namespace payonce {

GrpcServerHost::GrpcServerHost(GrpcServerOptions options, Logger& log, GrpcServerMetrics& metrics)
    : options_(std::move(options)), log_(log), metrics_(metrics) {}

GrpcServerHost::~GrpcServerHost() {
  if (server_) Shutdown();
}

void GrpcServerHost::AddService(grpc::Service* service, const std::string& full_name) {
  services_.emplace_back(service, full_name);
}

absl::Status GrpcServerHost::Start() {
  grpc::EnableDefaultHealthCheckService(true);
  grpc::reflection::InitProtoReflectionServerBuilderPlugin();
  grpc::ServerBuilder builder;
  builder.AddListeningPort(options_.listen_addr, grpc::InsecureServerCredentials(), &port_);
  grpc::ResourceQuota quota("payonce-server");
  quota.SetMaxThreads(options_.max_threads);
  builder.SetResourceQuota(quota);
  builder.SetMaxReceiveMessageSize(4 * 1024 * 1024);
  for (auto& [service, name] : services_) builder.RegisterService(service);
  std::vector<std::unique_ptr<grpc::experimental::ServerInterceptorFactoryInterface>> interceptors;
  interceptors.push_back(metrics_.InterceptorFactory());
  builder.experimental().SetInterceptorCreators(std::move(interceptors));
  server_ = builder.BuildAndStart();
  if (!server_ || port_ == 0) {
    server_.reset();
    return absl::UnavailableError("cannot listen on " + options_.listen_addr);
  }
  auto* health = server_->GetHealthCheckService();
  health->SetServingStatus(true);
  for (auto& [service, name] : services_) health->SetServingStatus(name, true);
  log_.Info("grpc server listening", {{"addr", options_.listen_addr}, {"port", port_}});
  return absl::OkStatus();
}

void GrpcServerHost::Shutdown() {
  if (!server_) return;
  server_->GetHealthCheckService()->Shutdown();
  log_.Info("grpc server draining", {{"grace_ms", options_.shutdown_grace.count()}});
  server_->Shutdown(DeadlineAfter(options_.shutdown_grace));
  server_->Wait();
  server_.reset();
  log_.Info("grpc server stopped");
}

grpc::ChannelArguments DefaultChannelArguments() {
  grpc::ChannelArguments args;
  args.SetInt(GRPC_ARG_KEEPALIVE_TIME_MS, 30000);
  args.SetInt(GRPC_ARG_KEEPALIVE_TIMEOUT_MS, 10000);
  args.SetInt(GRPC_ARG_INITIAL_RECONNECT_BACKOFF_MS, 100);
  args.SetInt(GRPC_ARG_MIN_RECONNECT_BACKOFF_MS, 100);
  args.SetInt(GRPC_ARG_MAX_RECONNECT_BACKOFF_MS, 1000);
  return args;
}

std::chrono::system_clock::time_point DeadlineAfter(std::chrono::milliseconds timeout) {
  return std::chrono::system_clock::now() + timeout;
}

}  // namespace payonce
