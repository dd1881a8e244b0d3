// What every `payonce` command shares: the global options, one channel per
// service address, deadlines, output streams and the exit-code rules.
#pragma once

#include <grpcpp/grpcpp.h>

#include <chrono>
#include <cstdint>
#include <map>
#include <memory>
#include <nlohmann/json.hpp>
#include <optional>
#include <ostream>
#include <string>

#include "services/common/clock.h"
#include "services/common/grpc_server.h"

namespace payonce::cli {

// JSON documents keep their keys in insertion (proto field) order.
using Json = nlohmann::ordered_json;

// The options given before (or after) any command.
struct GlobalOptions {
  std::string order_addr = "127.0.0.1:50051";
  std::string payment_addr = "127.0.0.1:50052";
  std::string sandbox_addr = "127.0.0.1:50053";
  int64_t timeout_ms = 5000;
  bool json = false;
};

// Exit code of a command that ran but whose check failed (not paid in time,
// a service not SERVING).
inline constexpr int kExitCheckFailed = 1;
// Exit code of a command line that could not be understood.
inline constexpr int kExitUsage = 2;

// The exit code for a failed call: 1 + the gRPC status code number.
int ExitCodeFor(grpc::StatusCode code);

// The canonical upper-case name of a gRPC status code, e.g. "NOT_FOUND".
std::string CodeName(grpc::StatusCode code);

// Whether a call that failed with `code` may have taken effect, or may work
// if retried unchanged (then retry with the same idempotency key).
bool WorthRetrying(grpc::StatusCode code);

// One run of the CLI. Channels are opened on first use; options are read
// when a command runs, after the command line was parsed.
class Session {
 public:
  Session(const GlobalOptions& options, std::ostream& out, std::ostream& err);

  const GlobalOptions& options() const { return options_; }
  std::ostream& out() { return out_; }
  std::ostream& err() { return err_; }

  // The deadline every call gets (--timeout-ms).
  std::chrono::milliseconds timeout() const {
    return std::chrono::milliseconds(options_.timeout_ms);
  }

  // The (shared, cached) channel to a "host:port" target.
  std::shared_ptr<grpc::Channel> ChannelTo(const std::string& target);

  // Calls a unary method of a generated stub with a fresh context whose
  // deadline is `timeout` (default --timeout-ms) from now.
  template <typename Stub, typename Request, typename Response>
  grpc::Status Call(Stub& stub,
                    grpc::Status (Stub::*method)(grpc::ClientContext*, const Request&, Response*),
                    const Request& request, Response* response,
                    std::optional<std::chrono::milliseconds> timeout = std::nullopt) const {
    grpc::ClientContext context;
    context.set_deadline(DeadlineAfter(timeout.value_or(this->timeout())));
    return (stub.*method)(&context, request, response);
  }

  // A fresh random identifier (UUID text) for request ids and idempotency keys.
  std::string NewId() { return ids_.NewId(); }

  // Prints "error: <CODE>: <message>" on stderr and returns the exit code.
  // When `target` may be the wrong address (UNAVAILABLE, DEADLINE_EXCEEDED,
  // UNIMPLEMENTED) the message names it.
  int Fail(const grpc::Status& status, const std::string& target = "");

  // Like Fail, always naming `where` (e.g. "sandbox at 127.0.0.1:50053").
  int FailAt(const grpc::Status& status, const std::string& where);

  // Writes one JSON document on stdout (--json).
  void PrintJson(const Json& document);

 private:
  const GlobalOptions& options_;
  std::ostream& out_;
  std::ostream& err_;
  SystemClock clock_;
  UuidV7Generator ids_{clock_};
  std::map<std::string, std::shared_ptr<grpc::Channel>> channels_;

  int PrintError(const grpc::Status& status, const std::string& where);
};

}  // namespace payonce::cli
