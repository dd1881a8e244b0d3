// The PayOnce side of the benchmark: orders and PENDING payments prepared
// through the real API, signed provider callbacks sent as the provider would
// (new ones, and the same events again with fresh nonces), and the relay lag
// read back from both databases.
#pragma once

#include <atomic>
#include <cstdint>
#include <map>
#include <memory>
#include <string>
#include <vector>

#include "bench/async_load.h"
#include "bench/bench_stack.h"
#include "bench/latency.h"
#include "payonce/order/v1/order_service.grpc.pb.h"
#include "payonce/payment/v1/payment_service.grpc.pb.h"
#include "payonce/provider/v1/provider_sandbox.grpc.pb.h"
#include "services/common/clock.h"

namespace payonce::bench {

// An order waiting for payment.
struct OrderRef {
  std::string order_id;
  int64_t amount_minor = 0;
  std::string currency;
};

// A PENDING payment with its capture at the provider, and the provider event
// that will report the capture.
struct PreparedPayment {
  std::string payment_id;
  std::string order_id;
  std::string provider_txn_id;
  int64_t amount_minor = 0;
  std::string currency;
  std::string event_id;
  int64_t occurred_at_unix_ms = 0;
  // When the OK answer to the first (applying) delivery arrived, Unix µs.
  int64_t acked_unix_us = 0;
};

struct CallbackRun {
  LoadResult load;
  // Accepted callbacks by outcome (APPLIED, DUPLICATE, IGNORED_STALE).
  std::map<std::string, size_t> outcomes;
};

struct RelayLag {
  // Orders PAID when the wait ended, of those expected.
  size_t paid = 0;
  size_t expected = 0;
  double waited_s = 0;
  // Callback answer received by the bench -> orders.updated_at of PAID.
  Percentiles from_ack_ms;
  // outbox.created_at (inside the callback's transaction) -> orders.updated_at.
  Percentiles from_outbox_ms;
};

// payment's callback_nonces: every row, and the rows already expired (what
// the payment service's sweep deletes).
struct NonceTableSize {
  int64_t rows = 0;
  int64_t expired = 0;
};

struct ScenarioOptions {
  std::chrono::milliseconds call_timeout{10000};
  std::chrono::milliseconds max_duration{120000};
  // Concurrency of the untimed preparation (CreateOrder).
  int prepare_concurrency = 32;
  // Set by a signal: no new call starts, the run unwinds.
  const std::atomic<bool>* cancel = nullptr;
};

class Scenarios {
 public:
  Scenarios(const TargetInfo& target, ScenarioOptions options);

  // The sandbox drops every callback it would send, so the bench is the only
  // sender of callbacks (FaultConfig.drop_callback_rate = 1).
  void SilenceSandbox();

  // Creates `n` orders (untimed preparation).
  std::vector<OrderRef> CreateOrders(size_t n, LoadResult* load);

  // CreatePayment for every order at `concurrency` in flight; the PENDING
  // payments that came back with a provider capture.
  std::vector<PreparedPayment> CreatePayments(const std::vector<OrderRef>& orders, int concurrency,
                                              LoadResult* load);

  // Sends each payment's SUCCEEDED callback, correctly signed with a fresh
  // nonce, at `concurrency` in flight (closed loop) or at `rate_per_s`
  // (open loop, at most `concurrency` in flight). The first delivery records
  // the answer time in the payment; `redeliver` sends the same events again.
  CallbackRun SendCallbacks(std::vector<PreparedPayment>& payments, int concurrency,
                            double rate_per_s, bool redeliver);

  // Waits (up to `timeout`) until every payment's order is PAID and reads
  // the lag from both databases. Needs the DSNs.
  RelayLag MeasureRelayLag(const std::vector<PreparedPayment>& payments,
                           std::chrono::milliseconds timeout);

  // The size of callback_nonces now. Needs the payment DSN.
  NonceTableSize ReadNonceTable() const;
  // Inserts `n` nonces that expired a second ago (what a whole nonce TTL of
  // callbacks leaves for the sweep). Needs the payment DSN.
  void SeedExpiredNonces(int64_t n) const;

  bool can_measure_lag() const {
    return !target_.order_dsn.empty() && !target_.payment_dsn.empty();
  }

 private:
  LoadOptions Load(size_t calls, int concurrency, double rate_per_s = 0) const;

  TargetInfo target_;
  ScenarioOptions options_;
  std::unique_ptr<order::v1::OrderService::Stub> orders_;
  std::unique_ptr<payment::v1::PaymentService::Stub> payments_;
  std::unique_ptr<provider::v1::ProviderSandbox::Stub> sandbox_;
  SystemClock clock_;
  UuidV7Generator ids_{clock_};
  std::string run_tag_;
};

}  // namespace payonce::bench
