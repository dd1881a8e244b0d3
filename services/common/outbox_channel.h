// The PostgreSQL NOTIFY channel that wakes the outbox relay. Every
// transaction that adds an outbox row (or re-queues a dead letter) notifies
// it; the relay LISTENs on it and polls anyway, so a lost wake-up only costs
// latency.
#pragma once

namespace payonce {

inline constexpr const char* kOutboxChannel = "payonce_outbox";

}  // namespace payonce
