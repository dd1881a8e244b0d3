#include "services/common/metrics.h"

#include <dirent.h>
#include <prometheus/collectable.h>
#include <prometheus/exposer.h>
#include <prometheus/metric_family.h>
#include <sys/resource.h>
#include <unistd.h>

#include <chrono>
#include <fstream>
#include <sstream>
#include <vector>

namespace payonce {
namespace {

prometheus::MetricFamily Gauge(const std::string& name, const std::string& help, double value,
                               prometheus::MetricType type = prometheus::MetricType::Gauge) {
  prometheus::MetricFamily family;
  family.name = name;
  family.help = help;
  family.type = type;
  prometheus::ClientMetric metric;
  if (type == prometheus::MetricType::Counter) {
    metric.counter.value = value;
  } else {
    metric.gauge.value = value;
  }
  family.metric.push_back(metric);
  return family;
}

// Reads /proc/self on every scrape.
class ProcessCollector final : public prometheus::Collectable {
 public:
  std::vector<prometheus::MetricFamily> Collect() const override {
    std::vector<prometheus::MetricFamily> out;
    const double ticks = static_cast<double>(sysconf(_SC_CLK_TCK));
    const double page = static_cast<double>(sysconf(_SC_PAGESIZE));
    std::ifstream stat("/proc/self/stat");
    std::string line;
    std::getline(stat, line);
    const auto close_paren = line.rfind(')');
    if (close_paren != std::string::npos) {
      std::istringstream rest(line.substr(close_paren + 2));
      std::vector<std::string> f;
      std::string field;
      while (rest >> field) f.push_back(field);
      // Fields after "(comm)": state is index 0; utime 11, stime 12,
      // starttime 19, vsize 20, rss 21.
      if (f.size() > 21) {
        const double cpu = (std::stod(f[11]) + std::stod(f[12])) / ticks;
        out.push_back(Gauge("process_cpu_seconds_total",
                            "Total user and system CPU time spent in seconds.", cpu,
                            prometheus::MetricType::Counter));
        out.push_back(Gauge("process_virtual_memory_bytes", "Virtual memory size in bytes.",
                            std::stod(f[20])));
        out.push_back(Gauge("process_resident_memory_bytes", "Resident memory size in bytes.",
                            std::stod(f[21]) * page));
        out.push_back(Gauge("process_start_time_seconds",
                            "Start time of the process since unix epoch in seconds.",
                            BootTime() + std::stod(f[19]) / ticks));
      }
    }
    out.push_back(Gauge("process_open_fds", "Number of open file descriptors.", OpenFds()));
    rlimit lim{};
    if (getrlimit(RLIMIT_NOFILE, &lim) == 0) {
      out.push_back(Gauge("process_max_fds", "Maximum number of open file descriptors.",
                          static_cast<double>(lim.rlim_cur)));
    }
    return out;
  }

 private:
  static double BootTime() {
    std::ifstream in("/proc/stat");
    std::string key;
    double value = 0;
    while (in >> key) {
      if (key == "btime") {
        in >> value;
        return value;
      }
      in.ignore(1 << 16, '\n');
    }
    return 0;
  }
  static double OpenFds() {
    double n = 0;
    if (DIR* dir = opendir("/proc/self/fd")) {
      while (readdir(dir) != nullptr) ++n;
      closedir(dir);
      n -= 3;  // ".", ".." and the directory's own fd
    }
    return n;
  }
};

// Splits "/pkg.Service/Method" into service and method.
std::pair<std::string, std::string> SplitMethod(const std::string& full) {
  const auto slash = full.rfind('/');
  if (slash == std::string::npos || slash == 0) return {"unknown", full};
  return {full.substr(1, slash - 1), full.substr(slash + 1)};
}

class MetricsInterceptor final : public grpc::experimental::Interceptor {
 public:
  MetricsInterceptor(GrpcServerMetrics& metrics, std::string method, std::string type)
      : metrics_(metrics),
        method_(std::move(method)),
        type_(std::move(type)),
        start_(std::chrono::steady_clock::now()) {
    metrics_.Started(method_, type_);
  }

  void Intercept(grpc::experimental::InterceptorBatchMethods* methods) override {
    using grpc::experimental::InterceptionHookPoints;
    if (methods->QueryInterceptionHookPoint(InterceptionHookPoints::PRE_SEND_STATUS)) {
      const auto code = methods->GetSendStatus().error_code();
      const std::chrono::duration<double> elapsed = std::chrono::steady_clock::now() - start_;
      metrics_.Handled(method_, type_, code, elapsed.count());
    }
    methods->Proceed();
  }

 private:
  GrpcServerMetrics& metrics_;
  const std::string method_;
  const std::string type_;
  const std::chrono::steady_clock::time_point start_;
};

class MetricsInterceptorFactory final
    : public grpc::experimental::ServerInterceptorFactoryInterface {
 public:
  explicit MetricsInterceptorFactory(GrpcServerMetrics& metrics) : metrics_(metrics) {}

  grpc::experimental::Interceptor* CreateServerInterceptor(
      grpc::experimental::ServerRpcInfo* info) override {
    using Type = grpc::experimental::ServerRpcInfo::Type;
    std::string type = "unary";
    switch (info->type()) {
      case Type::CLIENT_STREAMING:
        type = "client_stream";
        break;
      case Type::SERVER_STREAMING:
        type = "server_stream";
        break;
      case Type::BIDI_STREAMING:
        type = "bidi_stream";
        break;
      default:
        break;
    }
    return new MetricsInterceptor(metrics_, info->method() ? info->method() : "", type);
  }

 private:
  GrpcServerMetrics& metrics_;
};

}  // namespace

MetricsEndpoint::MetricsEndpoint(const std::string& listen_addr,
                                 std::shared_ptr<prometheus::Registry> registry)
    : process_(std::make_shared<ProcessCollector>()),
      exposer_(std::make_unique<prometheus::Exposer>(listen_addr, 2)) {
  exposer_->RegisterCollectable(registry);
  exposer_->RegisterCollectable(process_);
}

MetricsEndpoint::~MetricsEndpoint() = default;

prometheus::Histogram::BucketBoundaries LatencyBuckets() {
  return {0.0005, 0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10};
}

GrpcServerMetrics::GrpcServerMetrics(prometheus::Registry& registry)
    : started_(prometheus::BuildCounter()
                   .Name("grpc_server_started_total")
                   .Help("Total number of RPCs started on the server.")
                   .Register(registry)),
      handled_(
          prometheus::BuildCounter()
              .Name("grpc_server_handled_total")
              .Help(
                  "Total number of RPCs completed on the server, regardless of success or failure.")
              .Register(registry)),
      seconds_(prometheus::BuildHistogram()
                   .Name("grpc_server_handling_seconds")
                   .Help("Histogram of response latency (seconds) of gRPC that had been "
                         "application-level handled by the server.")
                   .Register(registry)) {}

std::unique_ptr<grpc::experimental::ServerInterceptorFactoryInterface>
GrpcServerMetrics::InterceptorFactory() {
  return std::make_unique<MetricsInterceptorFactory>(*this);
}

void GrpcServerMetrics::Started(const std::string& full_method, const std::string& type) {
  const auto [service, method] = SplitMethod(full_method);
  started_.Add({{"grpc_type", type}, {"grpc_service", service}, {"grpc_method", method}})
      .Increment();
}

void GrpcServerMetrics::Handled(const std::string& full_method, const std::string& type,
                                grpc::StatusCode code, double seconds) {
  const auto [service, method] = SplitMethod(full_method);
  handled_
      .Add({{"grpc_type", type},
            {"grpc_service", service},
            {"grpc_method", method},
            {"grpc_code", GrpcCodeName(code)}})
      .Increment();
  seconds_
      .Add({{"grpc_type", type}, {"grpc_service", service}, {"grpc_method", method}},
           LatencyBuckets())
      .Observe(seconds);
}

std::string GrpcCodeName(grpc::StatusCode code) {
  switch (code) {
    case grpc::StatusCode::OK:
      return "OK";
    case grpc::StatusCode::CANCELLED:
      return "Canceled";
    case grpc::StatusCode::UNKNOWN:
      return "Unknown";
    case grpc::StatusCode::INVALID_ARGUMENT:
      return "InvalidArgument";
    case grpc::StatusCode::DEADLINE_EXCEEDED:
      return "DeadlineExceeded";
    case grpc::StatusCode::NOT_FOUND:
      return "NotFound";
    case grpc::StatusCode::ALREADY_EXISTS:
      return "AlreadyExists";
    case grpc::StatusCode::PERMISSION_DENIED:
      return "PermissionDenied";
    case grpc::StatusCode::RESOURCE_EXHAUSTED:
      return "ResourceExhausted";
    case grpc::StatusCode::FAILED_PRECONDITION:
      return "FailedPrecondition";
    case grpc::StatusCode::ABORTED:
      return "Aborted";
    case grpc::StatusCode::OUT_OF_RANGE:
      return "OutOfRange";
    case grpc::StatusCode::UNIMPLEMENTED:
      return "Unimplemented";
    case grpc::StatusCode::INTERNAL:
      return "Internal";
    case grpc::StatusCode::UNAVAILABLE:
      return "Unavailable";
    case grpc::StatusCode::DATA_LOSS:
      return "DataLoss";
    case grpc::StatusCode::UNAUTHENTICATED:
      return "Unauthenticated";
    default:
      return "Unknown";
  }
}

}  // namespace payonce
