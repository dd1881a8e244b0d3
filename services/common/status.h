// Translation between absl::Status (used across PayOnce layers) and
// grpc::Status. Codes map 1:1: both follow google.rpc.Code.
#pragma once

#include <grpcpp/support/status.h>

#include "absl/status/status.h"

namespace payonce {

// The gRPC status a handler returns for a domain/application status.
grpc::Status ToGrpcStatus(const absl::Status& status);

// The absl::Status for the result of an outgoing gRPC call.
absl::Status FromGrpcStatus(const grpc::Status& status);

}  // namespace payonce
