// grpc.health.v1.Health/Check without a generated stub: the request and
// response are two tiny messages, encoded here by field number.
#pragma once

#include <grpcpp/grpcpp.h>

#include <chrono>
#include <memory>
#include <optional>
#include <string>
#include <vector>

namespace payonce::cli {

// HealthCheckResponse.ServingStatus values.
enum class ServingStatus { kUnknown = 0, kServing = 1, kNotServing = 2, kServiceUnknown = 3 };

// "SERVING", "NOT_SERVING", ...
std::string ServingStatusName(ServingStatus status);

// HealthCheckRequest{service = `service`} in protobuf wire format.
std::string EncodeHealthCheckRequest(const std::string& service);

// The status of a HealthCheckResponse in wire format; nullopt if the bytes
// are not a valid message.
std::optional<ServingStatus> DecodeHealthCheckResponse(const std::string& bytes);

// One server (and service name on it) to check.
struct HealthTarget {
  // What the target is called in the output, e.g. "order".
  std::string name;
  std::string address;
  // "" asks about the server as a whole.
  std::string service;
  std::shared_ptr<grpc::Channel> channel;
};

// What a target answered.
struct HealthAnswer {
  // Not OK when the call failed (unreachable, unknown service: NOT_FOUND).
  grpc::Status rpc;
  ServingStatus status = ServingStatus::kUnknown;
};

// Checks every target concurrently, each call with `timeout` as deadline;
// answers are in the order of `targets`.
std::vector<HealthAnswer> CheckHealth(const std::vector<HealthTarget>& targets,
                                      std::chrono::milliseconds timeout);

}  // namespace payonce::cli
