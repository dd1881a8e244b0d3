#include "bench/scenarios.h"

#include <mutex>
#include <pqxx/pqxx>
#include <stdexcept>
#include <thread>
#include <unordered_map>

#include "services/common/domain/callback_signature.h"
#include "services/common/grpc_server.h"

namespace payonce::bench {
namespace {

namespace orderpb = payonce::order::v1;
namespace paypb = payonce::payment::v1;
namespace sandboxpb = payonce::provider::v1;

constexpr const char* kProvider = "sandbox";
constexpr const char* kSucceeded = "PAYMENT_STATUS_SUCCEEDED";

constexpr const char* kCountPaid =
    "SELECT count(*) FROM orders WHERE order_id = ANY($1::text[]) AND status = 'PAID'";
constexpr const char* kOrdersPaidAt =
    "SELECT order_id, (extract(epoch FROM updated_at) * 1000000)::bigint FROM orders "
    "WHERE order_id = ANY($1::text[]) AND status = 'PAID'";
constexpr const char* kOutboxCreatedAt =
    "SELECT order_id, (extract(epoch FROM created_at) * 1000000)::bigint FROM outbox "
    "WHERE payment_id = ANY($1::text[]) AND status = 'SUCCEEDED'";

int64_t NowUnixUs() {
  return std::chrono::duration_cast<std::chrono::microseconds>(
             std::chrono::system_clock::now().time_since_epoch())
      .count();
}

// A PostgreSQL text[] literal of identifiers (UUID text: no quoting needed).
std::string TextArray(const std::vector<std::string>& items) {
  std::string out = "{";
  for (size_t i = 0; i < items.size(); ++i) {
    if (i > 0) out += ',';
    out += items[i];
  }
  return out + "}";
}

}  // namespace

Scenarios::Scenarios(const TargetInfo& target, ScenarioOptions options)
    : target_(target), options_(options) {
  auto channel = [](const std::string& addr) {
    return grpc::CreateCustomChannel(addr, grpc::InsecureChannelCredentials(),
                                     DefaultChannelArguments());
  };
  orders_ = orderpb::OrderService::NewStub(channel(target_.order_addr));
  payments_ = paypb::PaymentService::NewStub(channel(target_.payment_addr));
  sandbox_ = sandboxpb::ProviderSandbox::NewStub(channel(target_.sandbox_addr));
  run_tag_ = ids_.NewId();
}

LoadOptions Scenarios::Load(size_t calls, int concurrency, double rate_per_s) const {
  LoadOptions o;
  o.calls = calls;
  o.concurrency = concurrency;
  o.rate_per_s = rate_per_s;
  o.call_timeout = options_.call_timeout;
  o.max_duration = options_.max_duration;
  o.cancel = options_.cancel;
  return o;
}

void Scenarios::SilenceSandbox() {
  sandboxpb::FaultConfig faults;
  faults.set_drop_callback_rate(1.0);
  sandboxpb::FaultConfig answer;
  grpc::ClientContext ctx;
  ctx.set_deadline(DeadlineAfter(std::chrono::seconds(5)));
  const auto s = sandbox_->SetFaults(&ctx, faults, &answer);
  if (!s.ok()) throw std::runtime_error("sandbox SetFaults: " + s.error_message());
}

std::vector<OrderRef> Scenarios::CreateOrders(size_t n, LoadResult* load) {
  std::vector<OrderRef> out;
  out.reserve(n);
  const std::string prefix = "bench-" + run_tag_ + "-" + ids_.NewId() + "-";
  *load = RunLoad(Load(n, options_.prepare_concurrency), [&](size_t i) {
    orderpb::CreateOrderRequest req;
    req.set_request_id(prefix + std::to_string(i));
    req.set_customer_id("bench-customer-" + std::to_string(i % 1000));
    req.set_amount_minor(1000 + static_cast<int64_t>(i % 9000));
    req.set_currency("EUR");
    return std::make_unique<UnaryCall<orderpb::Order>>(
        [this, req](grpc::ClientContext* ctx, grpc::CompletionQueue* cq) {
          return orders_->PrepareAsyncCreateOrder(ctx, req, cq);
        },
        [&out](const grpc::Status& s, const orderpb::Order& o) {
          if (s.ok()) out.push_back({o.order_id(), o.amount_minor(), o.currency()});
        });
  });
  return out;
}

std::vector<PreparedPayment> Scenarios::CreatePayments(const std::vector<OrderRef>& orders,
                                                       int concurrency, LoadResult* load) {
  std::vector<PreparedPayment> out;
  out.reserve(orders.size());
  const int64_t occurred = clock_.NowUnixMs();
  *load = RunLoad(Load(orders.size(), concurrency), [&](size_t i) {
    paypb::CreatePaymentRequest req;
    req.set_idempotency_key("bench-pay-" + orders[i].order_id);
    req.set_order_id(orders[i].order_id);
    req.set_amount_minor(orders[i].amount_minor);
    req.set_currency(orders[i].currency);
    return std::make_unique<UnaryCall<paypb::Payment>>(
        [this, req](grpc::ClientContext* ctx, grpc::CompletionQueue* cq) {
          return payments_->PrepareAsyncCreatePayment(ctx, req, cq);
        },
        [&, occurred](const grpc::Status& s, const paypb::Payment& p) {
          if (!s.ok() || p.status() != paypb::PAYMENT_STATUS_PENDING ||
              p.provider_txn_id().empty()) {
            return;
          }
          out.push_back({p.payment_id(), p.order_id(), p.provider_txn_id(), p.amount_minor(),
                         p.currency(), ids_.NewId(), occurred, 0});
        });
  });
  return out;
}

CallbackRun Scenarios::SendCallbacks(std::vector<PreparedPayment>& payments, int concurrency,
                                     double rate_per_s, bool redeliver) {
  CallbackRun run;
  const std::string& secret = target_.callback_secret;
  run.load = RunLoad(Load(payments.size(), concurrency, rate_per_s), [&](size_t i) {
    PreparedPayment& p = payments[i];
    CallbackFields f;
    f.provider = kProvider;
    f.event_id = p.event_id;
    f.payment_id = p.payment_id;
    f.provider_txn_id = p.provider_txn_id;
    f.status_name = kSucceeded;
    f.amount_minor = p.amount_minor;
    f.currency = p.currency;
    f.occurred_at_unix_ms = p.occurred_at_unix_ms;
    f.timestamp_unix_ms = clock_.NowUnixMs();
    f.nonce = ids_.NewId();
    paypb::ProviderCallback cb;
    cb.set_provider(f.provider);
    cb.set_event_id(f.event_id);
    cb.set_payment_id(f.payment_id);
    cb.set_provider_txn_id(f.provider_txn_id);
    cb.set_status(paypb::PAYMENT_STATUS_SUCCEEDED);
    cb.set_amount_minor(f.amount_minor);
    cb.set_currency(f.currency);
    cb.set_occurred_at_unix_ms(f.occurred_at_unix_ms);
    cb.set_timestamp_unix_ms(f.timestamp_unix_ms);
    cb.set_nonce(f.nonce);
    cb.set_signature(SignCallback(secret, f));
    return std::make_unique<UnaryCall<paypb::CallbackAck>>(
        [this, cb](grpc::ClientContext* ctx, grpc::CompletionQueue* cq) {
          return payments_->PrepareAsyncHandleProviderCallback(ctx, cb, cq);
        },
        [&run, &p, redeliver](const grpc::Status& s, const paypb::CallbackAck& ack) {
          if (!s.ok()) return;
          ++run.outcomes[paypb::CallbackOutcome_Name(ack.outcome())];
          if (!redeliver) p.acked_unix_us = NowUnixUs();
        });
  });
  return run;
}

NonceTableSize Scenarios::ReadNonceTable() const {
  pqxx::connection db(target_.payment_dsn);
  pqxx::nontransaction tx(db);
  const auto r = tx.exec1(
      "SELECT count(*), count(*) FILTER (WHERE expires_at < clock_timestamp()) "
      "FROM callback_nonces");
  return {r[0].as<int64_t>(), r[1].as<int64_t>()};
}

void Scenarios::SeedExpiredNonces(int64_t n) const {
  pqxx::connection db(target_.payment_dsn);
  pqxx::work tx(db);
  tx.exec_params(
      "INSERT INTO callback_nonces (nonce, expires_at) "
      "SELECT 'bench-expired-' || md5(random()::text) || '-' || g, now() - interval '1 second' "
      "FROM generate_series(1, $1::bigint) AS g",
      n);
  tx.exec("ANALYZE callback_nonces");
  tx.commit();
}

RelayLag Scenarios::MeasureRelayLag(const std::vector<PreparedPayment>& payments,
                                    std::chrono::milliseconds timeout) {
  RelayLag lag;
  std::vector<std::string> order_ids;
  std::vector<std::string> payment_ids;
  std::unordered_map<std::string, const PreparedPayment*> by_order;
  for (const auto& p : payments) {
    if (p.acked_unix_us == 0) continue;
    order_ids.push_back(p.order_id);
    payment_ids.push_back(p.payment_id);
    by_order[p.order_id] = &p;
  }
  lag.expected = order_ids.size();
  if (order_ids.empty()) return lag;
  const std::string orders_array = TextArray(order_ids);
  pqxx::connection orders_db(target_.order_dsn);
  const auto start = std::chrono::steady_clock::now();
  while (true) {
    pqxx::nontransaction tx(orders_db);
    lag.paid = tx.exec_params1(kCountPaid, orders_array)[0].as<size_t>();
    const bool cancelled = options_.cancel != nullptr && options_.cancel->load();
    if (lag.paid >= lag.expected || cancelled ||
        std::chrono::steady_clock::now() - start >= timeout) {
      break;
    }
    std::this_thread::sleep_for(std::chrono::milliseconds(50));
  }
  lag.waited_s = std::chrono::duration<double>(std::chrono::steady_clock::now() - start).count();

  std::unordered_map<std::string, int64_t> outbox_at;
  {
    pqxx::connection payments_db(target_.payment_dsn);
    pqxx::nontransaction tx(payments_db);
    for (const auto& r : tx.exec_params(kOutboxCreatedAt, TextArray(payment_ids))) {
      outbox_at[r[0].as<std::string>()] = r[1].as<int64_t>();
    }
  }
  std::vector<double> from_ack;
  std::vector<double> from_outbox;
  pqxx::nontransaction tx(orders_db);
  for (const auto& r : tx.exec_params(kOrdersPaidAt, orders_array)) {
    const std::string order_id = r[0].as<std::string>();
    const int64_t paid_at = r[1].as<int64_t>();
    from_ack.push_back(static_cast<double>(paid_at - by_order.at(order_id)->acked_unix_us) / 1e3);
    if (auto it = outbox_at.find(order_id); it != outbox_at.end()) {
      from_outbox.push_back(static_cast<double>(paid_at - it->second) / 1e3);
    }
  }
  lag.from_ack_ms = Summarize(std::move(from_ack));
  lag.from_outbox_ms = Summarize(std::move(from_outbox));
  return lag;
}

}  // namespace payonce::bench
