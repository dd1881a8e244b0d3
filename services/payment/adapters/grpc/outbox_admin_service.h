// gRPC adapter of payonce.payment.v1.OutboxAdmin: the operator's view of the
// transactional outbox (stats, dead letters, retry). Validates requests,
// resolves paging and translates messages and statuses; the store does the
// rest.
#pragma once

#include "payonce/payment/v1/payment_service.grpc.pb.h"
#include "services/common/log.h"
#include "services/payment/app/outbox_admin_store.h"

namespace payonce::payment {

class OutboxAdminGrpcService final : public payonce::payment::v1::OutboxAdmin::Service {
 public:
  OutboxAdminGrpcService(OutboxAdminStore& store, Logger& log) : store_(store), log_(log) {}

  grpc::Status GetOutboxStats(grpc::ServerContext* ctx, const v1::GetOutboxStatsRequest* req,
                              v1::OutboxStats* resp) override;
  // Newest dead letters first; page_size 0 means 50, at most 500; a bad
  // page_size or page_token is INVALID_ARGUMENT.
  grpc::Status ListDeadLetters(grpc::ServerContext* ctx, const v1::ListDeadLettersRequest* req,
                               v1::ListDeadLettersResponse* resp) override;
  // Empty or over-long event_id: INVALID_ARGUMENT; unknown: NOT_FOUND.
  grpc::Status RetryDeadLetter(grpc::ServerContext* ctx, const v1::RetryDeadLetterRequest* req,
                               v1::OutboxEvent* resp) override;

 private:
  OutboxAdminStore& store_;
  Logger& log_;
};

}  // namespace payonce::payment
