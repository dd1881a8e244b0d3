#include "services/cli/health_probe.h"

#include <google/protobuf/unknown_field_set.h>
#include <grpcpp/generic/generic_stub.h>

#include <condition_variable>
#include <mutex>
#include <string_view>

#include "services/common/grpc_server.h"

namespace payonce::cli {
namespace {

constexpr std::string_view kCheckMethod = "/grpc.health.v1.Health/Check";
// HealthCheckRequest.service and HealthCheckResponse.status are both field 1.
constexpr int kServiceField = 1;
constexpr int kStatusField = 1;

grpc::ByteBuffer ToByteBuffer(const std::string& bytes) {
  grpc::Slice slice(bytes);
  return {&slice, 1};
}

std::string ToBytes(const grpc::ByteBuffer& buffer) {
  std::vector<grpc::Slice> slices;
  std::string bytes;
  if (!buffer.Dump(&slices).ok()) return bytes;
  for (const auto& s : slices) bytes.append(reinterpret_cast<const char*>(s.begin()), s.size());
  return bytes;
}

// One call in flight: the context and buffers must outlive it.
struct PendingCheck {
  grpc::ClientContext context;
  grpc::ByteBuffer request;
  grpc::ByteBuffer response;
  grpc::Status rpc;
  bool done = false;
};

}  // namespace

std::string ServingStatusName(ServingStatus status) {
  switch (status) {
    case ServingStatus::kUnknown:
      return "UNKNOWN";
    case ServingStatus::kServing:
      return "SERVING";
    case ServingStatus::kNotServing:
      return "NOT_SERVING";
    case ServingStatus::kServiceUnknown:
      return "SERVICE_UNKNOWN";
  }
  return "UNKNOWN";
}

std::string EncodeHealthCheckRequest(const std::string& service) {
  google::protobuf::UnknownFieldSet fields;
  // proto3: an empty string is not written.
  if (!service.empty()) fields.AddLengthDelimited(kServiceField, service);
  std::string bytes;
  fields.SerializeToString(&bytes);
  return bytes;
}

std::optional<ServingStatus> DecodeHealthCheckResponse(const std::string& bytes) {
  google::protobuf::UnknownFieldSet fields;
  if (!fields.ParseFromString(bytes)) return std::nullopt;
  // proto3: an absent field is the zero value; the last occurrence wins.
  ServingStatus status = ServingStatus::kUnknown;
  for (int i = 0; i < fields.field_count(); ++i) {
    const auto& field = fields.field(i);
    if (field.number() != kStatusField) continue;
    if (field.type() != google::protobuf::UnknownField::TYPE_VARINT) return std::nullopt;
    const auto value = field.varint();
    status = value <= 3 ? static_cast<ServingStatus>(value) : ServingStatus::kUnknown;
  }
  return status;
}

std::vector<HealthAnswer> CheckHealth(const std::vector<HealthTarget>& targets,
                                      std::chrono::milliseconds timeout) {
  std::mutex mu;
  std::condition_variable cv;
  std::vector<std::unique_ptr<PendingCheck>> calls;
  std::vector<std::unique_ptr<grpc::GenericStub>> stubs;
  for (const auto& target : targets) {
    auto call = std::make_unique<PendingCheck>();
    call->context.set_deadline(DeadlineAfter(timeout));
    call->request = ToByteBuffer(EncodeHealthCheckRequest(target.service));
    auto& stub = stubs.emplace_back(std::make_unique<grpc::GenericStub>(target.channel));
    PendingCheck* raw = call.get();
    stub->UnaryCall(&raw->context, std::string(kCheckMethod), grpc::StubOptions(), &raw->request,
                    &raw->response, [raw, &mu, &cv](grpc::Status status) {
                      std::lock_guard<std::mutex> lock(mu);
                      raw->rpc = std::move(status);
                      raw->done = true;
                      cv.notify_all();
                    });
    calls.push_back(std::move(call));
  }
  {
    // Every call has a deadline, so every callback comes.
    std::unique_lock<std::mutex> lock(mu);
    cv.wait(lock, [&calls] {
      for (const auto& c : calls) {
        if (!c->done) return false;
      }
      return true;
    });
  }

  std::vector<HealthAnswer> answers;
  for (const auto& call : calls) {
    HealthAnswer answer;
    answer.rpc = call->rpc;
    if (answer.rpc.ok()) {
      const auto status = DecodeHealthCheckResponse(ToBytes(call->response));
      if (status) {
        answer.status = *status;
      } else {
        answer.rpc = grpc::Status(grpc::StatusCode::INTERNAL, "malformed HealthCheckResponse");
      }
    }
    answers.push_back(std::move(answer));
  }
  return answers;
}

}  // namespace payonce::cli
