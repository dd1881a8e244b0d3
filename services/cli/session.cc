#include "services/cli/session.h"

#include "absl/status/status.h"

namespace payonce::cli {

int ExitCodeFor(grpc::StatusCode code) { return 1 + static_cast<int>(code); }

std::string CodeName(grpc::StatusCode code) {
  // absl::StatusCode follows google.rpc.Code, like grpc::StatusCode.
  return absl::StatusCodeToString(static_cast<absl::StatusCode>(code));
}

bool WorthRetrying(grpc::StatusCode code) {
  switch (code) {
    case grpc::StatusCode::CANCELLED:
    case grpc::StatusCode::UNKNOWN:
    case grpc::StatusCode::DEADLINE_EXCEEDED:
    case grpc::StatusCode::ABORTED:
    case grpc::StatusCode::INTERNAL:
    case grpc::StatusCode::UNAVAILABLE:
      return true;
    default:
      return false;
  }
}

Session::Session(const GlobalOptions& options, std::ostream& out, std::ostream& err)
    : options_(options), out_(out), err_(err) {}

std::shared_ptr<grpc::Channel> Session::ChannelTo(const std::string& target) {
  auto& channel = channels_[target];
  if (!channel) {
    channel = grpc::CreateCustomChannel(target, grpc::InsecureChannelCredentials(),
                                        DefaultChannelArguments());
  }
  return channel;
}

int Session::Fail(const grpc::Status& status, const std::string& target) {
  const grpc::StatusCode code = status.error_code();
  const bool wrong_peer = code == grpc::StatusCode::UNAVAILABLE ||
                          code == grpc::StatusCode::DEADLINE_EXCEEDED ||
                          code == grpc::StatusCode::UNIMPLEMENTED;
  return PrintError(status, wrong_peer && !target.empty() ? "calling " + target : "");
}

int Session::FailAt(const grpc::Status& status, const std::string& where) {
  return PrintError(status, where);
}

int Session::PrintError(const grpc::Status& status, const std::string& where) {
  const grpc::StatusCode code = status.error_code();
  std::string message = status.error_message();
  if (message.empty()) {
    message = code == grpc::StatusCode::UNIMPLEMENTED ? "the server does not implement this method"
                                                      : "the server gave no details";
  }
  err_ << "error: " << CodeName(code) << ": " << message;
  if (!where.empty()) err_ << " (" << where << ")";
  err_ << '\n';
  return ExitCodeFor(code);
}

void Session::PrintJson(const Json& document) { out_ << document.dump(2) << '\n'; }

}  // namespace payonce::cli
