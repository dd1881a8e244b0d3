#include "services/provider_sandbox/adapters/grpc/provider_grpc_service.h"

#include <google/protobuf/util/time_util.h>

#include "services/common/status.h"

namespace payonce::provider {
namespace {

using google::protobuf::util::TimeUtil;
namespace paymentv1 = payonce::payment::v1;

paymentv1::PaymentStatus ToProto(CaptureStatus s) {
  switch (s) {
    case CaptureStatus::kSucceeded:
      return paymentv1::PAYMENT_STATUS_SUCCEEDED;
    case CaptureStatus::kFailed:
      return paymentv1::PAYMENT_STATUS_FAILED;
    case CaptureStatus::kRefunded:
      return paymentv1::PAYMENT_STATUS_REFUNDED;
  }
  return paymentv1::PAYMENT_STATUS_UNSPECIFIED;
}

void ToProto(const Capture& c, v1::Capture* out) {
  out->set_provider_txn_id(c.provider_txn_id);
  out->set_status(ToProto(c.status));
  out->set_amount_minor(c.amount_minor);
  out->set_currency(c.currency);
  *out->mutable_captured_at() = TimeUtil::MillisecondsToTimestamp(c.captured_at_ms);
  out->set_merchant_payment_id(c.merchant_payment_id);
  if (c.refunded_at_ms) {
    *out->mutable_refunded_at() = TimeUtil::MillisecondsToTimestamp(*c.refunded_at_ms);
  }
}

}  // namespace

FaultConfig FromProto(const v1::FaultConfig& p) {
  FaultConfig f;
  f.fail_rate = p.fail_rate();
  f.drop_callback_rate = p.drop_callback_rate();
  f.duplicate_callback_rate = p.duplicate_callback_rate();
  f.max_duplicates = p.max_duplicates();
  f.min_delay_ms = p.min_delay_ms();
  f.max_delay_ms = p.max_delay_ms();
  f.reorder = p.reorder();
  f.double_charge_rate = p.double_charge_rate();
  f.replay_rate = p.replay_rate();
  f.forge_rate = p.forge_rate();
  f.callback_target_down_retry_ms = p.callback_target_down_retry_ms();
  f.wrong_amount_rate = p.wrong_amount_rate();
  f.late_capture_rate = p.late_capture_rate();
  f.late_capture_delay_ms = p.late_capture_delay_ms();
  return f;
}

void ToProto(const FaultConfig& f, v1::FaultConfig* out) {
  out->set_fail_rate(f.fail_rate);
  out->set_drop_callback_rate(f.drop_callback_rate);
  out->set_duplicate_callback_rate(f.duplicate_callback_rate);
  out->set_max_duplicates(f.max_duplicates);
  out->set_min_delay_ms(f.min_delay_ms);
  out->set_max_delay_ms(f.max_delay_ms);
  out->set_reorder(f.reorder);
  out->set_double_charge_rate(f.double_charge_rate);
  out->set_replay_rate(f.replay_rate);
  out->set_forge_rate(f.forge_rate);
  out->set_callback_target_down_retry_ms(f.callback_target_down_retry_ms);
  out->set_wrong_amount_rate(f.wrong_amount_rate);
  out->set_late_capture_rate(f.late_capture_rate);
  out->set_late_capture_delay_ms(f.late_capture_delay_ms);
}

grpc::Status ProviderGrpcService::Debit(grpc::ServerContext*, const v1::DebitRequest* req,
                                        v1::DebitResponse* resp) {
  auto answer = app_.Debit({req->merchant_payment_id(), req->amount_minor(), req->currency()});
  if (!answer.ok()) return ToGrpcStatus(answer.status());
  resp->set_provider_txn_id(answer->provider_txn_id);
  resp->set_status(ToProto(answer->status));
  if (answer->new_captures > 0) {
    log_.Info("debit captured", {{"merchant_payment_id", req->merchant_payment_id()},
                                 {"provider_txn_id", answer->provider_txn_id},
                                 {"status", std::string(ToString(answer->status))},
                                 {"new_captures", answer->new_captures}});
  }
  return grpc::Status::OK;
}

grpc::Status ProviderGrpcService::QueryTransaction(grpc::ServerContext*,
                                                   const v1::QueryTransactionRequest* req,
                                                   v1::QueryTransactionResponse* resp) {
  auto captures = app_.QueryTransaction(req->merchant_payment_id());
  if (!captures.ok()) return ToGrpcStatus(captures.status());
  for (const auto& c : *captures) ToProto(c, resp->add_captures());
  return grpc::Status::OK;
}

grpc::Status ProviderGrpcService::Refund(grpc::ServerContext*, const v1::ProviderRefundRequest* req,
                                         v1::ProviderRefundResponse* resp) {
  auto refund = app_.RefundCapture({req->provider_txn_id(), req->idempotency_key()});
  if (!refund.ok()) return ToGrpcStatus(refund.status());
  resp->set_refund_id(refund->refund_id);
  resp->set_provider_txn_id(refund->provider_txn_id);
  resp->set_amount_minor(refund->amount_minor);
  resp->set_currency(refund->currency);
  *resp->mutable_refunded_at() = TimeUtil::MillisecondsToTimestamp(refund->refunded_at_ms);
  return grpc::Status::OK;
}

grpc::Status ProviderGrpcService::SetFaults(grpc::ServerContext*, const v1::FaultConfig* req,
                                            v1::FaultConfig* resp) {
  auto stored = app_.SetFaults(FromProto(*req));
  if (!stored.ok()) return ToGrpcStatus(stored.status());
  ToProto(*stored, resp);
  log_.Info("faults set", {{"faults", resp->ShortDebugString()}});
  return grpc::Status::OK;
}

grpc::Status ProviderGrpcService::GetStats(grpc::ServerContext*, const v1::GetStatsRequest* req,
                                           v1::ProviderStats* resp) {
  const std::vector<std::string> ids(req->merchant_payment_ids().begin(),
                                     req->merchant_payment_ids().end());
  auto stats = app_.Stats(ids);
  if (!stats.ok()) return ToGrpcStatus(stats.status());
  resp->set_debits_total(stats->debits_total);
  resp->set_captures_total(stats->captures_total);
  resp->set_refunds_total(stats->refunds_total);
  const CallbackTally& cb = stats->callbacks;
  resp->set_callbacks_sent_total(cb.Sent());
  resp->set_callbacks_acknowledged(cb.acknowledged);
  resp->set_callbacks_rejected(cb.rejected);
  resp->set_callbacks_dropped(cb.dropped);
  resp->set_callbacks_forged(cb.forged);
  resp->set_callbacks_replayed(cb.replayed);
  resp->set_callbacks_unreachable(cb.unreachable);
  resp->set_callbacks_forged_accepted(cb.forged_accepted);
  resp->set_callbacks_replayed_accepted(cb.replayed_accepted);
  resp->set_callbacks_given_up(cb.given_up);
  for (const auto& p : stats->payments) {
    auto* out = resp->add_payments();
    out->set_merchant_payment_id(p.merchant_payment_id);
    out->set_debits(p.debits);
    out->set_captures(p.captures);
    out->set_refunds(p.refunds);
    out->set_net_captured_minor(p.net_captured_minor);
    out->set_currency(p.currency);
  }
  return grpc::Status::OK;
}

grpc::Status ProviderGrpcService::GetSettlement(grpc::ServerContext* ctx,
                                                const v1::GetSettlementRequest* req,
                                                grpc::ServerWriter<v1::SettlementLine>* writer) {
  SettlementWindow window;
  if (req->has_from()) window.from_us = TimeUtil::TimestampToMicroseconds(req->from());
  if (req->has_to()) window.to_us = TimeUtil::TimestampToMicroseconds(req->to());
  auto lines = app_.Settlement(window);
  if (!lines.ok()) return ToGrpcStatus(lines.status());
  v1::SettlementLine out;
  for (const auto& l : *lines) {
    if (ctx->IsCancelled()) return {grpc::StatusCode::CANCELLED, "client cancelled"};
    out.Clear();
    out.set_kind(l.kind == SettlementLine::Kind::kRefund ? v1::SettlementLine::KIND_REFUND
                                                         : v1::SettlementLine::KIND_CAPTURE);
    out.set_provider_txn_id(l.provider_txn_id);
    out.set_merchant_payment_id(l.merchant_payment_id);
    out.set_amount_minor(l.amount_minor);
    out.set_currency(l.currency);
    *out.mutable_at() = TimeUtil::MillisecondsToTimestamp(l.at_ms);
    out.set_refund_id(l.refund_id);
    if (!writer->Write(out)) return {grpc::StatusCode::CANCELLED, "stream closed by the client"};
  }
  return grpc::Status::OK;
}

}  // namespace payonce::provider
