// Tables for the messages of PayOnce's APIs: what a person reads when the
// CLI runs without --json.
#pragma once

#include <google/protobuf/repeated_ptr_field.h>

#include "payonce/order/v1/order_service.pb.h"
#include "payonce/payment/v1/payment_service.pb.h"
#include "payonce/provider/v1/provider_sandbox.pb.h"
#include "services/cli/output.h"

namespace payonce::cli {

template <typename T>
using Repeated = google::protobuf::RepeatedPtrField<T>;

// One order, field by field.
Table OrderRecord(const payonce::order::v1::Order& order);
// Orders, one per line.
Table OrderRows(const Repeated<payonce::order::v1::Order>& orders);
// An order's timeline, oldest first.
Table TimelineRows(const payonce::order::v1::OrderTimeline& timeline);

// One payment, field by field.
Table PaymentRecord(const payonce::payment::v1::Payment& payment);
// Payments, one per line.
Table PaymentRows(const Repeated<payonce::payment::v1::Payment>& payments);

// The outbox counters.
Table OutboxStatsRecord(const payonce::payment::v1::OutboxStats& stats);
// One outbox event, field by field.
Table OutboxEventRecord(const payonce::payment::v1::OutboxEvent& event);
// Outbox events (dead letters), one per line.
Table OutboxEventRows(const Repeated<payonce::payment::v1::OutboxEvent>& events);

// The sandbox's fault configuration.
Table FaultRecord(const payonce::provider::v1::FaultConfig& faults);
// The sandbox's totals.
Table ProviderTotalsRecord(const payonce::provider::v1::ProviderStats& stats);
// The sandbox's ground truth per payment.
Table PaymentTruthRows(const Repeated<payonce::provider::v1::PaymentTruth>& payments);

}  // namespace payonce::cli
