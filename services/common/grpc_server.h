// Hosts gRPC services with health checking, reflection, metrics and a
// bounded thread pool, and shuts them down gracefully.
#pragma once

#include <grpcpp/grpcpp.h>

#include <chrono>
#include <memory>
#include <string>
#include <vector>

#include "absl/status/status.h"
#include "services/common/log.h"
#include "services/common/metrics.h"

namespace payonce {

struct GrpcServerOptions {
  std::string listen_addr;
  int max_threads = 256;
  std::chrono::milliseconds shutdown_grace{10000};
};

class GrpcServerHost {
 public:
  GrpcServerHost(GrpcServerOptions options, Logger& log, GrpcServerMetrics& metrics);
  ~GrpcServerHost();

  // Registers a service (not owned) under its full name for health checks.
  void AddService(grpc::Service* service, const std::string& full_name);

  // Binds and starts serving; every registered service reports SERVING.
  absl::Status Start();

  // Marks every service NOT_SERVING, stops accepting, waits for in-flight
  // calls up to the grace period (then cancels them) and joins.
  void Shutdown();

  // The bound port (useful with port 0).
  int port() const { return port_; }

 private:
  GrpcServerOptions options_;
  Logger& log_;
  GrpcServerMetrics& metrics_;
  std::vector<std::pair<grpc::Service*, std::string>> services_;
  std::unique_ptr<grpc::Server> server_;
  int port_ = 0;
};

// Client channel arguments shared by PayOnce's outgoing calls (keepalive,
// reconnect backoff bounded so a restarted peer is found quickly).
grpc::ChannelArguments DefaultChannelArguments();

// A deadline `timeout` from now, for an outgoing call's ClientContext.
std::chrono::system_clock::time_point DeadlineAfter(std::chrono::milliseconds timeout);

}  // namespace payonce
