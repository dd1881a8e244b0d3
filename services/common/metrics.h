// Prometheus metrics: the /metrics endpoint with process metrics, and gRPC
// server metrics named as go-grpc-prometheus names them.
#pragma once

#include <grpcpp/support/server_interceptor.h>
#include <prometheus/counter.h>
#include <prometheus/family.h>
#include <prometheus/histogram.h>
#include <prometheus/registry.h>

#include <map>
#include <memory>
#include <mutex>
#include <string>

namespace prometheus {
class Exposer;
}

namespace payonce {

// Serves /metrics on `listen_addr` for `registry`, plus process_* metrics
// (CPU seconds, resident memory, open fds, start time).
class MetricsEndpoint {
 public:
  MetricsEndpoint(const std::string& listen_addr, std::shared_ptr<prometheus::Registry> registry);
  ~MetricsEndpoint();
  MetricsEndpoint(const MetricsEndpoint&) = delete;
  MetricsEndpoint& operator=(const MetricsEndpoint&) = delete;

 private:
  std::shared_ptr<prometheus::Collectable> process_;
  std::unique_ptr<prometheus::Exposer> exposer_;
};

// Histogram buckets in seconds for request latencies (1 ms .. 10 s).
prometheus::Histogram::BucketBoundaries LatencyBuckets();

// grpc_server_started_total, grpc_server_handled_total and
// grpc_server_handling_seconds, fed by a server interceptor.
class GrpcServerMetrics {
 public:
  explicit GrpcServerMetrics(prometheus::Registry& registry);

  // The interceptor factory to install on a grpc::ServerBuilder.
  std::unique_ptr<grpc::experimental::ServerInterceptorFactoryInterface> InterceptorFactory();

  // Records the start of an RPC of `full_method` ("/pkg.Service/Method").
  void Started(const std::string& full_method, const std::string& type);
  // Records its end with `code` after `seconds`.
  void Handled(const std::string& full_method, const std::string& type, grpc::StatusCode code,
               double seconds);

 private:
  prometheus::Family<prometheus::Counter>& started_;
  prometheus::Family<prometheus::Counter>& handled_;
  prometheus::Family<prometheus::Histogram>& seconds_;
};

// The name go-grpc-prometheus uses for a status code ("OK", "NotFound", ...).
std::string GrpcCodeName(grpc::StatusCode code);

}  // namespace payonce
