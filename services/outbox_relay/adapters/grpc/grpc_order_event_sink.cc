#include "services/outbox_relay/adapters/grpc/grpc_order_event_sink.h"

#include <google/protobuf/util/time_util.h>

#include <string>

#include "services/common/grpc_server.h"
#include "services/common/status.h"

namespace payonce::relay {
namespace {

namespace orderpb = payonce::order::v1;
namespace paymentpb = payonce::payment::v1;

paymentpb::PaymentStatus ToProto(ReportedStatus status) {
  switch (status) {
    case ReportedStatus::kSucceeded:
      return paymentpb::PAYMENT_STATUS_SUCCEEDED;
    case ReportedStatus::kFailed:
      return paymentpb::PAYMENT_STATUS_FAILED;
    case ReportedStatus::kRefunded:
      return paymentpb::PAYMENT_STATUS_REFUNDED;
  }
  return paymentpb::PAYMENT_STATUS_UNSPECIFIED;
}

std::optional<ApplyOutcome> FromProto(orderpb::ApplyOutcome outcome) {
  switch (outcome) {
    case orderpb::APPLY_OUTCOME_APPLIED:
      return ApplyOutcome::kApplied;
    case orderpb::APPLY_OUTCOME_DUPLICATE:
      return ApplyOutcome::kDuplicate;
    case orderpb::APPLY_OUTCOME_IGNORED:
      return ApplyOutcome::kIgnored;
    case orderpb::APPLY_OUTCOME_REFUND_REQUIRED:
      return ApplyOutcome::kRefundRequired;
    default:
      return std::nullopt;
  }
}

}  // namespace

absl::StatusOr<orderpb::PaymentEvent> ToPaymentEvent(const OutboxRow& row) {
  const auto status = ParseReportedStatus(row.status);
  if (!status) {
    return absl::InvalidArgumentError("outbox status '" + row.status +
                                      "' is not SUCCEEDED, FAILED or REFUNDED");
  }
  orderpb::PaymentEvent event;
  event.set_event_id(row.event_id);
  event.set_payment_id(row.payment_id);
  event.set_order_id(row.order_id);
  event.set_status(ToProto(*status));
  event.set_amount_minor(row.amount_minor);
  event.set_currency(row.currency);
  *event.mutable_occurred_at() =
      google::protobuf::util::TimeUtil::MicrosecondsToTimestamp(row.occurred_at_us);
  event.set_source("relay");
  return event;
}

GrpcOrderEventSink::GrpcOrderEventSink(std::shared_ptr<grpc::Channel> channel,
                                       std::chrono::milliseconds timeout)
    : channel_(std::move(channel)),
      stub_(orderpb::OrderService::NewStub(channel_)),
      timeout_(timeout) {}

absl::StatusOr<ApplyOutcome> GrpcOrderEventSink::Deliver(const OutboxRow& row) {
  auto event = ToPaymentEvent(row);
  if (!event.ok()) return event.status();
  grpc::ClientContext ctx;
  ctx.set_deadline(DeadlineAfter(timeout_));
  // Wait (within the deadline) for the connection instead of failing at
  // once with the channel's last error: after the order service restarts,
  // fail-fast calls kept failing on a loaded machine for longer than 5 s
  // although it was listening again (payment_flow_e2e_tests, issue 18).
  ctx.set_wait_for_ready(true);
  orderpb::ApplyPaymentEventResponse response;
  const grpc::Status status = stub_->ApplyPaymentEvent(&ctx, *event, &response);
  if (status.error_code() == grpc::StatusCode::DEADLINE_EXCEEDED &&
      channel_->GetState(false) != GRPC_CHANNEL_READY) {
    // No connection within the deadline: the call never reached the order
    // service, which is unreachable (retried at the target-down pace).
    return absl::UnavailableError("order service unreachable: " + status.error_message());
  }
  if (!status.ok()) return FromGrpcStatus(status);
  // A redelivery answers DUPLICATE with what the first delivery decided. If
  // that was REFUND_REQUIRED, its answer never reached us (a deadline, a
  // relay killed before MarkDelivered): record it now, or the refund is lost.
  if (response.outcome() == orderpb::APPLY_OUTCOME_DUPLICATE &&
      response.first_outcome() == orderpb::APPLY_OUTCOME_REFUND_REQUIRED) {
    return ApplyOutcome::kRefundRequired;
  }
  const auto outcome = FromProto(response.outcome());
  if (!outcome) {
    return absl::InternalError("order service answered OK without a known outcome (" +
                               std::to_string(response.outcome()) + ")");
  }
  return *outcome;
}

}  // namespace payonce::relay
