#include "bench/async_load.h"

#include <algorithm>

namespace payonce::bench {
namespace {

using Clock = std::chrono::steady_clock;

// One call in flight; its address is the completion queue tag.
struct Slot {
  std::unique_ptr<PendingCall> call;
  Clock::time_point scheduled;
};

// CompletionQueue deadlines are system_clock time points.
std::chrono::system_clock::time_point SystemDeadline(Clock::time_point at) {
  return std::chrono::system_clock::now() +
         std::chrono::duration_cast<std::chrono::system_clock::duration>(at - Clock::now());
}

}  // namespace

std::string StatusCodeName(grpc::StatusCode code) {
  switch (code) {
    case grpc::StatusCode::OK:
      return "OK";
    case grpc::StatusCode::CANCELLED:
      return "CANCELLED";
    case grpc::StatusCode::UNKNOWN:
      return "UNKNOWN";
    case grpc::StatusCode::INVALID_ARGUMENT:
      return "INVALID_ARGUMENT";
    case grpc::StatusCode::DEADLINE_EXCEEDED:
      return "DEADLINE_EXCEEDED";
    case grpc::StatusCode::NOT_FOUND:
      return "NOT_FOUND";
    case grpc::StatusCode::ALREADY_EXISTS:
      return "ALREADY_EXISTS";
    case grpc::StatusCode::PERMISSION_DENIED:
      return "PERMISSION_DENIED";
    case grpc::StatusCode::UNAUTHENTICATED:
      return "UNAUTHENTICATED";
    case grpc::StatusCode::RESOURCE_EXHAUSTED:
      return "RESOURCE_EXHAUSTED";
    case grpc::StatusCode::FAILED_PRECONDITION:
      return "FAILED_PRECONDITION";
    case grpc::StatusCode::ABORTED:
      return "ABORTED";
    case grpc::StatusCode::OUT_OF_RANGE:
      return "OUT_OF_RANGE";
    case grpc::StatusCode::UNIMPLEMENTED:
      return "UNIMPLEMENTED";
    case grpc::StatusCode::INTERNAL:
      return "INTERNAL";
    case grpc::StatusCode::UNAVAILABLE:
      return "UNAVAILABLE";
    case grpc::StatusCode::DATA_LOSS:
      return "DATA_LOSS";
    default:
      return "CODE_" + std::to_string(static_cast<int>(code));
  }
}

LoadResult RunLoad(const LoadOptions& options, const CallFactory& make) {
  LoadResult result;
  result.latency_us.reserve(options.calls);
  grpc::CompletionQueue cq;
  const bool open_loop = options.rate_per_s > 0;
  const auto start = Clock::now();
  const auto stop_starting = start + options.max_duration;
  auto scheduled_at = [&](size_t i) {
    return start + std::chrono::duration_cast<Clock::duration>(
                       std::chrono::duration<double>(static_cast<double>(i) / options.rate_per_s));
  };
  const int concurrency = std::max(1, options.concurrency);
  size_t next = 0;
  int in_flight = 0;
  auto last_done = start;

  auto launch = [&](Clock::time_point scheduled) {
    auto slot = std::make_unique<Slot>(Slot{make(next), scheduled});
    ++next;
    ++in_flight;
    ++result.started;
    Slot* tag = slot.release();
    tag->call->Start(cq, tag, options.call_timeout);
  };

  while (true) {
    // Start whatever may start now.
    while (next < options.calls && in_flight < concurrency && !result.truncated) {
      const auto now = Clock::now();
      if (now >= stop_starting || (options.cancel != nullptr && options.cancel->load())) {
        result.truncated = true;
        break;
      }
      if (!open_loop) {
        launch(now);
        continue;
      }
      const auto at = scheduled_at(next);
      if (at > now) break;
      launch(at);
    }
    const bool more_to_start = next < options.calls && !result.truncated;
    if (in_flight == 0 && !more_to_start) break;

    // Wait for a completion, or until the next scheduled start.
    auto wake = Clock::now() + std::chrono::seconds(1);
    if (open_loop && more_to_start && in_flight < concurrency) wake = scheduled_at(next);
    void* tag = nullptr;
    bool ok = false;
    const auto event = cq.AsyncNext(&tag, &ok, SystemDeadline(wake));
    if (event == grpc::CompletionQueue::TIMEOUT) continue;
    if (event == grpc::CompletionQueue::SHUTDOWN) break;
    std::unique_ptr<Slot> done(static_cast<Slot*>(tag));
    const auto now = Clock::now();
    --in_flight;
    last_done = now;
    const grpc::Status& status = done->call->status();
    if (status.ok()) {
      ++result.ok;
      result.latency_us.push_back(
          std::chrono::duration<double, std::micro>(now - done->scheduled).count());
    } else {
      ++result.errors[StatusCodeName(status.error_code())];
    }
    done->call->Complete();
  }
  result.seconds = std::chrono::duration<double>(last_done - start).count();
  cq.Shutdown();
  void* tag = nullptr;
  bool ok = false;
  while (cq.Next(&tag, &ok)) {
  }
  return result;
}

}  // namespace payonce::bench
