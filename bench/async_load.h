// The load generator: unary gRPC calls driven through one CompletionQueue,
// either as a closed loop (C calls always in flight, a new one started as
// each finishes) or as an open loop (calls started on a fixed schedule at a
// target rate, at most C in flight).
#pragma once

#include <grpcpp/grpcpp.h>

#include <atomic>
#include <chrono>
#include <cstddef>
#include <functional>
#include <map>
#include <memory>
#include <string>
#include <vector>

namespace payonce::bench {

// One asynchronous unary call, started and completed by the driver.
class PendingCall {
 public:
  virtual ~PendingCall() = default;
  // Starts the call on `cq`; its completion is tagged with `tag`.
  virtual void Start(grpc::CompletionQueue& cq, void* tag, std::chrono::milliseconds timeout) = 0;
  // The final status, valid once the completion arrived.
  virtual const grpc::Status& status() const = 0;
  // Runs the caller's completion hook (on the driver thread).
  virtual void Complete() = 0;
};

// A PendingCall over a generated stub's PrepareAsyncXxx method.
template <class Response>
class UnaryCall final : public PendingCall {
 public:
  using Reader = grpc::ClientAsyncResponseReader<Response>;
  // Prepares the call (stub->PrepareAsyncXxx(ctx, request, cq)).
  using Prepare =
      std::function<std::unique_ptr<Reader>(grpc::ClientContext*, grpc::CompletionQueue*)>;
  // Sees the status and the response once the call is over.
  using OnDone = std::function<void(const grpc::Status&, const Response&)>;

  UnaryCall(Prepare prepare, OnDone on_done)
      : prepare_(std::move(prepare)), on_done_(std::move(on_done)) {}

  void Start(grpc::CompletionQueue& cq, void* tag, std::chrono::milliseconds timeout) override {
    ctx_.set_deadline(std::chrono::system_clock::now() + timeout);
    reader_ = prepare_(&ctx_, &cq);
    reader_->StartCall();
    reader_->Finish(&response_, &status_, tag);
  }
  const grpc::Status& status() const override { return status_; }
  void Complete() override {
    if (on_done_) on_done_(status_, response_);
  }

 private:
  Prepare prepare_;
  OnDone on_done_;
  grpc::ClientContext ctx_;
  std::unique_ptr<Reader> reader_;
  Response response_;
  grpc::Status status_;
};

struct LoadOptions {
  // How many calls to make in all.
  size_t calls = 0;
  // Calls in flight: always this many (closed loop), or at most (open loop).
  int concurrency = 1;
  // Calls started per second; 0 means a closed loop.
  double rate_per_s = 0;
  // Deadline of each call.
  std::chrono::milliseconds call_timeout{10000};
  // No new call is started after this long (the row is cut short).
  std::chrono::milliseconds max_duration{120000};
  // When set and true, no new call is started (the run is cut short).
  const std::atomic<bool>* cancel = nullptr;
};

struct LoadResult {
  // From the first start to the last completion.
  double seconds = 0;
  size_t started = 0;
  size_t ok = 0;
  // Failed calls by gRPC status code name.
  std::map<std::string, size_t> errors;
  // Latency of each OK call in microseconds. In an open loop it is measured
  // from the call's scheduled start, so a stall is not hidden (coordinated
  // omission).
  std::vector<double> latency_us;
  // Whether max_duration cut the run short.
  bool truncated = false;
  double ok_per_s() const { return seconds > 0 ? static_cast<double>(ok) / seconds : 0; }
};

// Builds call number `i` (0-based).
using CallFactory = std::function<std::unique_ptr<PendingCall>(size_t i)>;

// Runs `options.calls` calls made by `make` and measures them. Blocks until
// every started call completed (each is bounded by call_timeout).
LoadResult RunLoad(const LoadOptions& options, const CallFactory& make);

// The name of a gRPC status code ("UNAVAILABLE").
std::string StatusCodeName(grpc::StatusCode code);

}  // namespace payonce::bench
