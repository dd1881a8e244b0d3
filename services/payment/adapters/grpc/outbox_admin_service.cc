#include "services/payment/adapters/grpc/outbox_admin_service.h"

#include <google/protobuf/util/time_util.h>

#include <string>

#include "services/common/domain/page_token.h"
#include "services/common/status.h"
#include "services/payment/adapters/grpc/payment_proto.h"

namespace payonce::payment {
namespace {

using google::protobuf::util::TimeUtil;

// Event ids are server-generated UUIDs; anything longer is not one of ours.
constexpr size_t kMaxEventIdLength = 128;

void ToProto(const OutboxEventRecord& e, v1::OutboxEvent* out) {
  out->set_event_id(e.event_id);
  out->set_payment_id(e.payment_id);
  out->set_order_id(e.order_id);
  out->set_status(e.status ? ToProto(*e.status) : v1::PAYMENT_STATUS_UNSPECIFIED);
  out->set_amount_minor(e.amount_minor);
  out->set_currency(e.currency);
  *out->mutable_created_at() = TimeUtil::MicrosecondsToTimestamp(e.created_at_us);
  if (e.delivered_at_us) {
    *out->mutable_delivered_at() = TimeUtil::MicrosecondsToTimestamp(*e.delivered_at_us);
  }
  out->set_attempts(e.attempts);
  out->set_last_error(e.last_error);
  if (e.dead_lettered_at_us) {
    *out->mutable_dead_lettered_at() = TimeUtil::MicrosecondsToTimestamp(*e.dead_lettered_at_us);
  }
  *out->mutable_next_attempt_at() = TimeUtil::MicrosecondsToTimestamp(e.next_attempt_at_us);
}

}  // namespace

grpc::Status OutboxAdminGrpcService::GetOutboxStats(grpc::ServerContext*,
                                                    const v1::GetOutboxStatsRequest*,
                                                    v1::OutboxStats* resp) {
  auto counters = store_.Counters();
  if (!counters.ok()) return ToGrpcStatus(counters.status());
  resp->set_pending(counters->pending);
  resp->set_oldest_pending_age_ms(counters->oldest_pending_age_ms);
  resp->set_dead_letters(counters->dead_letters);
  resp->set_delivered_last_minute(counters->delivered_last_minute);
  return grpc::Status::OK;
}

grpc::Status OutboxAdminGrpcService::ListDeadLetters(grpc::ServerContext*,
                                                     const v1::ListDeadLettersRequest* req,
                                                     v1::ListDeadLettersResponse* resp) {
  auto size = ResolvePageSize(req->page_size());
  if (!size.ok()) return ToGrpcStatus(size.status());
  DeadLetterQuery query;
  query.limit = *size + 1;  // one extra row tells whether a next page exists
  if (!req->page_token().empty()) {
    auto cursor = DecodePageToken(req->page_token());
    if (!cursor.ok()) return ToGrpcStatus(cursor.status());
    query.after = *cursor;
  }
  auto rows = store_.ListDeadLetters(query);
  if (!rows.ok()) return ToGrpcStatus(rows.status());
  const bool more = static_cast<int>(rows->size()) > *size;
  if (more) rows->resize(*size);
  for (const auto& e : *rows) ToProto(e, resp->add_events());
  if (more) {
    const OutboxEventRecord& last = rows->back();
    resp->set_next_page_token(
        EncodePageToken({last.dead_lettered_at_us.value_or(0), last.event_id}));
  }
  return grpc::Status::OK;
}

grpc::Status OutboxAdminGrpcService::RetryDeadLetter(grpc::ServerContext*,
                                                     const v1::RetryDeadLetterRequest* req,
                                                     v1::OutboxEvent* resp) {
  const std::string& event_id = req->event_id();
  if (event_id.empty()) return {grpc::StatusCode::INVALID_ARGUMENT, "event_id is required"};
  if (event_id.size() > kMaxEventIdLength) {
    return {grpc::StatusCode::INVALID_ARGUMENT,
            "event_id must be at most " + std::to_string(kMaxEventIdLength) + " characters"};
  }
  auto retry = store_.RetryDeadLetter(event_id);
  if (!retry.ok()) return ToGrpcStatus(retry.status());
  if (retry->requeued) {
    log_.Info("dead letter put back in line", {{"event_id", event_id},
                                               {"order_id", retry->event.order_id},
                                               {"payment_id", retry->event.payment_id},
                                               {"last_error", retry->event.last_error}});
  }
  ToProto(retry->event, resp);
  return grpc::Status::OK;
}

}  // namespace payonce::payment
