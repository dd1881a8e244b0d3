// payonce-storm: replays the 4 Dec 2025 outage against a real PayOnce stack
// and checks every invariant of CONTRACT §5 against ground truth.
//
// It starts its own stack (private PostgreSQL and Redis, order-service, two
// payment-service replicas, provider-sandbox, two outbox-relays, two
// reconcilers), turns on every sandbox fault at once (wrong-amount and late
// captures included), sends customers who create an order and pay (30% press
// "pay" again while the first is still in flight, 8% cancel the order while
// it is in flight, 5% ask for a refund and pay again), takes components down
// in the middle of the load (SIGKILL of order-service, 10 s down; Redis 10 s;
// SIGKILL of a payment replica and a relay; both relays 7 s; PostgreSQL
// crashed by `-m immediate` and by SIGKILL of its postmaster), keeps one relay
// dying between the order service's commit and MarkDelivered (a failpoint of
// test builds), waits for quiescence, lets customers whose payment failed pay
// again, and prints a report. Exit code 1 on any violation.
//
// The seed drives the customers, the sandbox's fault schedule (Debit call n
// draws its faults from the sandbox seed and n alone) and the chaos plan; the
// report prints a digest of both and checks that the sandbox followed its
// schedule. Money invariants are judged from the sandbox's own ledger, which
// PayOnce cannot write.
#include <openssl/sha.h>

#include <CLI/CLI.hpp>
#include <algorithm>
#include <atomic>
#include <chrono>
#include <cstdio>
#include <future>
#include <iostream>
#include <map>
#include <mutex>
#include <pqxx/pqxx>
#include <random>
#include <set>
#include <thread>
#include <unordered_map>

#include "payonce/order/v1/order_service.grpc.pb.h"
#include "payonce/payment/v1/payment_service.grpc.pb.h"
#include "payonce/provider/v1/provider_sandbox.grpc.pb.h"
#include "services/common/grpc_server.h"
#include "services/provider_sandbox/adapters/grpc/provider_grpc_service.h"
#include "services/provider_sandbox/domain/faults.h"
#include "services/provider_sandbox/domain/random_source.h"
#include "tests/support/stack.h"

namespace payonce::storm {
namespace {

namespace orderpb = payonce::order::v1;
namespace paypb = payonce::payment::v1;
namespace sandboxpb = payonce::provider::v1;
using Clock = std::chrono::steady_clock;
using std::chrono::milliseconds;
using std::chrono::seconds;

struct Options {
  int customers = 2000;
  uint64_t seed = 0;
  double base_rate = 40;  // customers per second outside the burst
  int workers = 48;
  int quiesce_timeout_s = 180;
  bool chaos = true;
  // Breaks one guarantee on purpose (the storm must then fail): see main().
  std::string sabotage;
};

constexpr const char* kNoReconciler = "no-reconciler";
constexpr const char* kForgetNonces = "forget-nonces";
constexpr const char* kFailedIsFinal = "failed-is-final";
constexpr const char* kAnswerBeforeCommit = "answer-before-commit";

// One way to break a guarantee on purpose, and the check that must then
// fail. The storm applies the database ones itself; the others are
// PAYONCE_SABOTAGE values of test builds (services/common/sabotage.h).
struct Sabotage {
  const char* name;
  const char* what;
  const char* caught_by;  // the id of the check that must fail ("1", "L1")
  bool payonce_sabotage;  // set PAYONCE_SABOTAGE=name
  const char* db;         // "payment" or "order": where `sql` runs
  const char* sql;        // run before the stack starts
};

constexpr Sabotage kSabotages[] = {
    {"disable-live-index",
     "new payments are no longer \"live\": the one-live-payment index never fires, only the "
     "application's own check stands between concurrent presses and a second debit",
     "1", false, "payment", "ALTER TABLE payments ALTER COLUMN live SET DEFAULT false"},
    {"skip-outbox", "a payment's state changes commit without their outbox event", "6", false,
     "payment",
     "CREATE FUNCTION storm_skip_outbox() RETURNS trigger LANGUAGE plpgsql AS "
     "$$ BEGIN RETURN NULL; END $$; "
     "CREATE TRIGGER storm_skip_outbox BEFORE INSERT ON outbox FOR EACH ROW "
     "EXECUTE FUNCTION storm_skip_outbox()"},
    {"forget-events",
     "order-service's inbox forgets every payment event (a trigger drops its rows), so a "
     "redelivered event is applied again",
     "3", false, "order",
     "CREATE FUNCTION storm_forget_events() RETURNS trigger LANGUAGE plpgsql AS "
     "$$ BEGIN RETURN NULL; END $$; "
     "CREATE TRIGGER storm_forget_events BEFORE INSERT ON payment_event_inbox FOR EACH ROW "
     "EXECUTE FUNCTION storm_forget_events()"},
    {kForgetNonces,
     "PostgreSQL forgets callback nonces (a trigger deletes the old row before each insert): "
     "only Redis refuses a replay, and Redis goes down and comes back empty",
     "7", false, "payment",
     "CREATE FUNCTION storm_forget_nonces() RETURNS trigger LANGUAGE plpgsql AS "
     "$$ BEGIN DELETE FROM callback_nonces WHERE nonce = NEW.nonce; RETURN NEW; END $$; "
     "CREATE TRIGGER storm_forget_nonces BEFORE INSERT ON callback_nonces FOR EACH ROW "
     "EXECUTE FUNCTION storm_forget_nonces()"},
    {"lose-paid-orders",
     "order-service's database silently drops every move of an order to PAID (a trigger "
     "skips the update) while the service answers APPLIED",
     "2", false, "order",
     "CREATE FUNCTION storm_lose_paid() RETURNS trigger LANGUAGE plpgsql AS "
     "$$ BEGIN IF NEW.status = 'PAID' AND OLD.status <> 'PAID' THEN RETURN NULL; END IF; "
     "RETURN NEW; END $$; "
     "CREATE TRIGGER storm_lose_paid BEFORE UPDATE ON orders FOR EACH ROW "
     "EXECUTE FUNCTION storm_lose_paid()"},
    {kFailedIsFinal,
     "payment-service's database keeps a FAILED payment FAILED (a trigger skips the update), so "
     "a capture that appears after the payment failed is never taken as a late success",
     "10", false, "payment",
     "CREATE FUNCTION storm_failed_is_final() RETURNS trigger LANGUAGE plpgsql AS "
     "$$ BEGIN IF OLD.status = 'FAILED' AND NEW.status <> 'FAILED' THEN RETURN NULL; END IF; "
     "RETURN NEW; END $$; "
     "CREATE TRIGGER storm_failed_is_final BEFORE UPDATE ON payments FOR EACH ROW "
     "EXECUTE FUNCTION storm_failed_is_final()"},
    {kNoReconciler,
     "no reconciler runs: nothing refunds a second capture, a capture for a cancelled order or a "
     "late capture of a failed payment",
     "9", false, nullptr, nullptr},
    {"reopen-cancelled",
     "order-service decides payment events as if a cancelled order were still payable, so a "
     "late success reopens it",
     "4", true, nullptr, nullptr},
    {kAnswerBeforeCommit,
     "payment-service answers a callback OK at once and commits it 2 s later, so a crash in "
     "between loses what the provider was told is stored",
     "6", true, nullptr, nullptr},
    {"accept-any-signature", "payment-service accepts callbacks whatever their signature", "5",
     true, nullptr, nullptr},
    {"refuse-payments",
     "payment-service sees every order as cancelled (CreatePayment and RefundPayment refused "
     "with FAILED_PRECONDITION)",
     "L1", true, nullptr, nullptr},
};

const Sabotage* FindSabotage(const std::string& name) {
  for (const auto& s : kSabotages) {
    if (name == s.name) return &s;
  }
  return nullptr;
}

// Attempts a customer whose payment failed makes after the load, each once
// the system is quiet again; then the customer cancels the order.
constexpr int kReturnRounds = 2;

// A late capture appears this long after its debit: after the reconciler's
// not-found grace (30 s here), so the payment is FAILED by then.
constexpr int kLateCaptureDelayMs = 40000;
// The failing relay exits before its N-th MarkDelivered, every life.
constexpr int kRelayExitOnMarkDelivered = 15;
// Exit code of the relay's failpoint (ExitBeforeMarkDelivered).
constexpr int kFailpointExitCode = 86;

// What a customer does besides paying.
enum class Role { kPay, kCancelWhilePaying, kRefundThenPayAgain };

// One customer of the load, drawn from the seed.
struct Plan {
  double start_at_s = 0;  // from the start of the load
  int extra_presses = 0;  // "pay" pressed again while the first is in flight
  Role role = Role::kPay;
};

// What became of one customer's order, as the customer saw it.
struct CustomerRecord {
  Role role = Role::kPay;
  int refused_presses = 0;
  bool cancelled_after_failures = false;
  // CancelOrder answered OK: the customer was told the order is cancelled.
  bool cancel_confirmed = false;
};

enum class Fault {
  kKillOrderService,
  kStopRedis,
  kRestartOrderService,
  kKillPaymentAndRelay,
  kRestartRedisPaymentAndRelay,
  kRelaysDown,
  kCrashPostgresImmediate,
  kRelaysUp,
  kCrashPostgresKill,
};

// One step of the chaos plan.
struct ChaosStep {
  double at_s = 0;  // from the start of the load
  Fault fault = Fault::kStopRedis;
  std::string what;
  size_t victim = 0;  // the payment replica killed
};

// How many customer calls were answered OK while one fault lasted.
struct FaultWindow {
  std::string name;
  int64_t served = 0;
  double seconds = 0;
};

std::string Hex(const unsigned char* bytes, size_t n) {
  static const char* digits = "0123456789abcdef";
  std::string out;
  for (size_t i = 0; i < n; ++i) {
    out += digits[bytes[i] >> 4];
    out += digits[bytes[i] & 15];
  }
  return out;
}

// One invariant's result in the report.
struct Check {
  explicit Check(std::string n) : name(std::move(n)) {}
  std::string name;
  int64_t checked = 0;
  int64_t violations = 0;
  std::vector<std::string> examples;
  void Violation(const std::string& example) {
    ++violations;
    if (examples.size() < 3) examples.push_back(example);
  }
};

std::string Now() {
  const auto t = std::chrono::system_clock::now();
  const auto s = std::chrono::system_clock::to_time_t(t);
  char buf[32];
  std::strftime(buf, sizeof buf, "%H:%M:%S", std::gmtime(&s));
  return buf;
}

void Say(const std::string& msg) { std::cout << "[storm " << Now() << "] " << msg << std::endl; }

// A call retried the way a real client retries: same idempotency key, on
// UNAVAILABLE, DEADLINE_EXCEEDED, ABORTED, CANCELLED (a server shutting
// down), UNKNOWN and INTERNAL, with backoff, for a while.
template <class Call>
grpc::Status Retry(Call&& call, Clock::duration budget = seconds(90)) {
  const auto deadline = Clock::now() + budget;
  auto backoff = milliseconds(50);
  while (true) {
    grpc::Status s = call();
    const auto code = s.error_code();
    const bool retry = code == grpc::StatusCode::UNAVAILABLE ||
                       code == grpc::StatusCode::DEADLINE_EXCEEDED ||
                       code == grpc::StatusCode::ABORTED || code == grpc::StatusCode::UNKNOWN ||
                       code == grpc::StatusCode::CANCELLED || code == grpc::StatusCode::INTERNAL;
    if (!retry || Clock::now() + backoff > deadline) return s;
    std::this_thread::sleep_for(backoff);
    backoff = std::min(backoff * 2, milliseconds(2000));
  }
}

class Storm {
 public:
  explicit Storm(Options o) : o_(std::move(o)), rng_(o_.seed) {}

  int Run() {
    Say("seed " + std::to_string(o_.seed) + ", " + std::to_string(o_.customers) + " customers");
    servers_ = std::make_unique<testing::LocalServers>();
    Say("PostgreSQL on " + std::to_string(servers_->pg_port()) + ", Redis on " +
        std::to_string(servers_->redis_port()) + ", state in " + servers_->dir());
    const Sabotage* sabotage = FindSabotage(o_.sabotage);
    if (sabotage != nullptr && sabotage->sql != nullptr)
      servers_->Query(sabotage->db, sabotage->sql);
    std::map<std::string, std::string> env = {
        {"PAYONCE_LOG_LEVEL", "warn"},
        {"PAYONCE_RELAY_LEASE_MS", "4000"},
        {"PAYONCE_RELAY_DELIVERY_TIMEOUT_MS", "2000"},
        {"PAYONCE_RELAY_BACKOFF_MAX_MS", "2000"},
        {"PAYONCE_DB_POOL_SIZE", "12"},
        {"PAYONCE_SANDBOX_SEED", std::to_string(SandboxSeed())}};
    if (sabotage != nullptr) {
      if (sabotage->payonce_sabotage) env["PAYONCE_SABOTAGE"] = sabotage->name;
      Say(std::string("SABOTAGE ") + sabotage->name + ": " + sabotage->what + "; check " +
          sabotage->caught_by + " must fail");
    }
    stack_ = std::make_unique<testing::Stack>(*servers_, env, /*payment_replicas=*/2);
    stack_->StartAll(/*relays=*/1);
    // Relay 1 dies between the order service's commit and MarkDelivered,
    // again and again; the supervisor starts it again each time.
    stack_->AddRelay({{"PAYONCE_FAILPOINT_RELAY_EXIT_BEFORE_MARK_DELIVERED",
                       std::to_string(kRelayExitOnMarkDelivered)}});
    const std::map<std::string, std::string> reconciler_env = {
        {"PAYONCE_RECONCILER_INTERVAL_MS", "5000"},
        {"PAYONCE_RECONCILER_STUCK_AFTER_MS", "8000"},
        {"PAYONCE_RECONCILER_NOT_FOUND_GRACE_MS", "30000"},
        {"PAYONCE_RECONCILER_UNCONFIRMED_AFTER_MS", "5000"},
        {"PAYONCE_RECONCILER_SETTLEMENT_LAG_MS", "10000"}};
    if (o_.sabotage != kNoReconciler) {
      stack_->AddReconciler(reconciler_env);
      stack_->AddReconciler(reconciler_env);
    }
    Connect();
    SetFaults();
    PlanLoad();
    PlanChaos();
    Say("fault schedule digest " + ScheduleDigest() + " (sandbox seed " +
        std::to_string(SandboxSeed()) + ", " + std::to_string(o_.customers) +
        " first debits and the chaos plan)");

    const auto start = Clock::now();
    std::thread chaos;
    if (o_.chaos) chaos = std::thread([&] { Chaos(start); });
    std::atomic<bool> supervising{true};
    std::thread supervisor([&] { SuperviseFailingRelay(supervising); });
    Load();
    if (chaos.joinable()) chaos.join();
    Say("load done in " + std::to_string(Elapsed(start)) + " s; " + std::to_string(orders_made_) +
        " orders, " + std::to_string(pay_presses_) + " pay presses, " +
        std::to_string(client_errors_) + " client calls that gave up");
    Say("customer calls by final code: " + AnswersByCode());

    bool quiet = WaitForQuiescence();
    if (quiet) quiet = CustomersComeBack();
    supervising = false;
    supervisor.join();
    Say("relay deaths at the failpoint (between the order commit and MarkDelivered): " +
        std::to_string(failpoint_exits_));
    try {
      Say("anomalies by kind: " +
          Sql("payment",
              "SELECT coalesce(string_agg(kind || ' ' || n, ', ' ORDER BY kind), 'none') FROM "
              "(SELECT kind, count(*) AS n FROM anomalies GROUP BY kind) k"));
    } catch (const std::exception& e) {
      Say(std::string("anomalies by kind: unavailable: ") + e.what());
    }
    std::vector<Check> checks = CheckInvariants();
    for (auto& c : CheckTheRun()) checks.push_back(std::move(c));
    return Report(checks, quiet);
  }

 private:
  // Starts relay 1 again whenever its failpoint ended it (not while the
  // chaos holds the relays down).
  void SuperviseFailingRelay(const std::atomic<bool>& supervising) {
    while (supervising) {
      {
        std::lock_guard<std::mutex> lock(relay_mu_);
        auto& relay = stack_->relay(1);
        if (!relays_held_down_ && !relay.running()) {
          if (relay.last_exit() == kFailpointExitCode) {
            ++failpoint_exits_;
          } else {
            Say("relay 1 ended with code " + std::to_string(relay.last_exit()) +
                " (not the failpoint); starting it again");
          }
          stack_->Restart(relay);
        }
      }
      std::this_thread::sleep_for(milliseconds(200));
    }
  }

  static int Elapsed(Clock::time_point start) {
    return static_cast<int>(std::chrono::duration_cast<seconds>(Clock::now() - start).count());
  }

  void Connect() {
    auto args = DefaultChannelArguments();
    orders_ = orderpb::OrderService::NewStub(
        grpc::CreateCustomChannel(stack_->order_addr(), grpc::InsecureChannelCredentials(), args));
    payments_ = paypb::PaymentService::NewStub(grpc::CreateCustomChannel(
        stack_->payment_addr(), grpc::InsecureChannelCredentials(), args));
    sandbox_ = sandboxpb::ProviderSandbox::NewStub(grpc::CreateCustomChannel(
        stack_->sandbox_addr(), grpc::InsecureChannelCredentials(), args));
  }

  void SetFaults() {
    provider::FaultConfig& d = faults_;
    d.duplicate_callback_rate = 0.3;
    d.max_duplicates = 5;
    d.drop_callback_rate = 0.10;
    d.min_delay_ms = 0;
    d.max_delay_ms = 3000;
    d.reorder = true;
    // Enough double charges for a small run without reconcilers to keep one.
    d.double_charge_rate = o_.sabotage == kNoReconciler ? 0.2 : 0.02;
    // Enough forgeries for a small sabotaged run to meet some.
    const bool forgeries_matter = o_.sabotage == "accept-any-signature";
    d.forge_rate = forgeries_matter ? 0.2 : 0.01;
    // Enough replays while Redis is down for PostgreSQL's nonce record to
    // matter.
    d.replay_rate = o_.sabotage == kForgetNonces ? 0.3 : forgeries_matter ? 0.05 : 0.01;
    d.callback_target_down_retry_ms = 500;
    d.wrong_amount_rate = 0.02;
    // A sabotaged run without the chaos is short: no late captures, whose
    // 40 s would make every quiescence wait a minute.
    // (failed-is-final is about late captures: more of them.)
    d.late_capture_rate = o_.sabotage == kFailedIsFinal                       ? 0.2
                          : FindSabotage(o_.sabotage) != nullptr && !o_.chaos ? 0
                                                                              : 0.02;
    d.late_capture_delay_ms = kLateCaptureDelayMs;
    sandboxpb::FaultConfig f;
    provider::ToProto(d, &f);
    sandboxpb::FaultConfig out;
    grpc::ClientContext ctx;
    ctx.set_deadline(DeadlineAfter(seconds(5)));
    const auto s = sandbox_->SetFaults(&ctx, f, &out);
    if (!s.ok()) throw std::runtime_error("SetFaults: " + s.error_message());
    if (!(provider::FromProto(out) == faults_)) {
      throw std::runtime_error("SetFaults stored another configuration than the storm's");
    }
    Say("faults: duplicates 30% (up to 5), drops 10%, delays 0-3 s, reorder, double charges 2%, "
        "forged " +
        std::to_string(static_cast<int>(d.forge_rate * 100)) + "%, replayed " +
        std::to_string(static_cast<int>(d.replay_rate * 100)) +
        "%, wrong-amount captures 2%, late captures 2% (" +
        std::to_string(kLateCaptureDelayMs / 1000) + " s)");
  }

  // Customers arrive at the base rate, then a burst at 10x, then base again;
  // each one's patience, extra presses and role are drawn from the seed.
  void PlanLoad() {
    const int burst_from = o_.customers * 4 / 10;
    const int burst_to = o_.customers * 8 / 10;
    double t = 0;
    std::uniform_real_distribution<double> u(0, 1);
    std::uniform_int_distribution<int> presses(1, 3);
    for (int i = 0; i < o_.customers; ++i) {
      Plan plan;
      plan.start_at_s = t;
      t += 1.0 / (i >= burst_from && i < burst_to ? o_.base_rate * 10 : o_.base_rate);
      const double impatience = u(rng_);
      const int extra = presses(rng_);
      plan.extra_presses = impatience < 0.3 ? extra : 0;
      const double r = u(rng_);
      plan.role = r < 0.08   ? Role::kCancelWhilePaying
                  : r < 0.13 ? Role::kRefundThenPayAgain
                             : Role::kPay;
      plans_.push_back(plan);
    }
    load_seconds_ = t;
  }

  void Load() {
    std::atomic<int> next{0};
    const auto load_start = Clock::now();
    std::vector<std::thread> workers;
    for (int w = 0; w < o_.workers; ++w) {
      workers.emplace_back([&, w] {
        std::mt19937_64 local(o_.seed * 1000003 + static_cast<uint64_t>(w));
        while (true) {
          const int i = next.fetch_add(1);
          if (i >= o_.customers) return;
          std::this_thread::sleep_until(load_start +
                                        std::chrono::duration_cast<Clock::duration>(
                                            std::chrono::duration<double>(plans_[i].start_at_s)));
          Customer(i, plans_[i], local);
        }
      });
    }
    for (auto& th : workers) th.join();
  }

  // One press of "pay" for `order` with `key`: the payment it got, or an
  // empty one if the press was refused.
  paypb::Payment Press(const orderpb::Order& order, const std::string& key) {
    paypb::CreatePaymentRequest pay;
    pay.set_idempotency_key(key);
    pay.set_order_id(order.order_id());
    pay.set_amount_minor(order.amount_minor());
    pay.set_currency(order.currency());
    paypb::Payment payment;
    ++pay_presses_;
    last_press_at_ = Clock::now().time_since_epoch().count();
    const auto s = Retry([&] {
      grpc::ClientContext ctx;
      ctx.set_deadline(DeadlineAfter(seconds(5)));
      return payments_->CreatePayment(&ctx, pay, &payment);
    });
    Answer("CreatePayment", s);
    if (!s.ok()) {
      std::lock_guard<std::mutex> lock(mu_);
      ++customers_[order.order_id()].refused_presses;
      return paypb::Payment{};
    }
    return payment;
  }

  void Customer(int i, const Plan& plan, std::mt19937_64& rng) {
    orderpb::CreateOrderRequest req;
    req.set_request_id("storm-" + std::to_string(o_.seed) + "-" + std::to_string(i));
    req.set_customer_id("customer-" + std::to_string(i));
    req.set_amount_minor(100 + static_cast<int64_t>(i % 9900));
    req.set_currency(i % 5 == 0 ? "CNY" : "EUR");
    orderpb::Order order;
    const auto created = Retry([&] {
      grpc::ClientContext ctx;
      ctx.set_deadline(DeadlineAfter(seconds(5)));
      return orders_->CreateOrder(&ctx, req, &order);
    });
    Answer("CreateOrder", created);
    if (!created.ok()) return;
    ++orders_made_;
    {
      std::lock_guard<std::mutex> lock(mu_);
      order_ids_.push_back(order.order_id());
      customers_[order.order_id()].role = plan.role;
      orders_by_id_[order.order_id()] = order;
    }
    // The impatient press "pay" again, with new keys, while the first
    // request is still in flight.
    std::vector<std::thread> presses;
    std::uniform_int_distribution<int> delay(0, 300);
    for (int k = 0; k < plan.extra_presses; ++k) {
      const int wait_ms = delay(rng);
      presses.emplace_back([&, k, wait_ms] {
        std::this_thread::sleep_for(milliseconds(wait_ms));
        Press(order, req.request_id() + "-again-" + std::to_string(k));
      });
    }
    if (plan.role == Role::kCancelWhilePaying) {
      // The customer gives up while the payment is still in flight.
      const int wait_ms = std::uniform_int_distribution<int>(0, 400)(rng);
      presses.emplace_back([&, wait_ms] {
        std::this_thread::sleep_for(milliseconds(wait_ms));
        Cancel(order.order_id(), "customer gave up waiting");
      });
    }
    const paypb::Payment paid = Press(order, req.request_id() + "-pay");
    for (auto& th : presses) th.join();
    if (plan.role == Role::kRefundThenPayAgain && !paid.payment_id().empty()) {
      // Once the payment succeeded, asks for the money back at once
      // (answered FAILED_PRECONDITION while the order is not PAID yet, e.g.
      // while the relays are down), then pays again.
      if (AwaitOutcome(paid.payment_id()) == paypb::PAYMENT_STATUS_SUCCEEDED) {
        AskRefund(paid.payment_id(), req.request_id() + "-refund");
      }
      Press(order, req.request_id() + "-pay-after-refund");
    }
  }

  // After the storm has quieted: a customer whose order is still waiting for
  // its money (every payment failed: declined, not found, wrong amount) pays
  // again, once per round; whoever still cannot pay after the last round
  // cancels the order. Each round ends quiet again. False if it does not.
  bool CustomersComeBack() {
    for (int round = 1; round <= kReturnRounds + 1; ++round) {
      std::vector<std::string> waiting;
      {
        const auto pending = Rows(
            "order", "SELECT order_id FROM orders WHERE status = 'PENDING_PAYMENT' ORDER BY 1");
        std::lock_guard<std::mutex> lock(mu_);
        for (const auto& id : pending) {
          if (orders_by_id_.count(id)) waiting.push_back(id);
        }
      }
      if (waiting.empty()) return true;
      const bool last = round > kReturnRounds;
      Say(std::to_string(waiting.size()) + " orders still wait for their money: " +
          (last ? "their customers cancel them" : "their customers pay again"));
      std::atomic<size_t> next{0};
      std::vector<std::thread> workers;
      for (int w = 0; w < std::min<int>(o_.workers, static_cast<int>(waiting.size())); ++w) {
        workers.emplace_back([&] {
          for (size_t i = next++; i < waiting.size(); i = next++) {
            const std::string& id = waiting[i];
            if (last) {
              Cancel(id, "customer gave up: every payment failed");
              std::lock_guard<std::mutex> lock(mu_);
              customers_[id].cancelled_after_failures = true;
              continue;
            }
            orderpb::Order order;
            {
              std::lock_guard<std::mutex> lock(mu_);
              order = orders_by_id_.at(id);
            }
            Press(order, "storm-" + std::to_string(o_.seed) + "-" + id + "-return-" +
                             std::to_string(round));
          }
        });
      }
      for (auto& th : workers) th.join();
      if (!WaitForQuiescence()) return false;
    }
    return true;
  }

  // The payment's status once it left PENDING, polled for at most 15 s.
  paypb::PaymentStatus AwaitOutcome(const std::string& payment_id) {
    const auto deadline = Clock::now() + seconds(15);
    paypb::GetPaymentRequest get;
    get.set_payment_id(payment_id);
    while (Clock::now() < deadline) {
      paypb::Payment payment;
      grpc::ClientContext ctx;
      ctx.set_deadline(DeadlineAfter(seconds(2)));
      if (payments_->GetPayment(&ctx, get, &payment).ok() &&
          payment.status() != paypb::PAYMENT_STATUS_PENDING) {
        return payment.status();
      }
      std::this_thread::sleep_for(milliseconds(200));
    }
    return paypb::PAYMENT_STATUS_PENDING;
  }

  void Cancel(const std::string& order_id, const std::string& reason) {
    orderpb::CancelOrderRequest cancel;
    cancel.set_order_id(order_id);
    cancel.set_reason(reason);
    orderpb::Order out;
    const auto s = Retry([&] {
      grpc::ClientContext ctx;
      ctx.set_deadline(DeadlineAfter(seconds(5)));
      return orders_->CancelOrder(&ctx, cancel, &out);
    });
    Answer("CancelOrder", s);
    if (s.ok()) {
      std::lock_guard<std::mutex> lock(mu_);
      customers_[order_id].cancel_confirmed = true;
    }
  }

  void AskRefund(const std::string& payment_id, const std::string& key) {
    paypb::RefundPaymentRequest refund;
    refund.set_idempotency_key(key);
    refund.set_payment_id(payment_id);
    refund.set_reason("customer asked");
    paypb::Payment out;
    const auto s = Retry([&] {
      grpc::ClientContext ctx;
      ctx.set_deadline(DeadlineAfter(seconds(10)));
      return payments_->RefundPayment(&ctx, refund, &out);
    });
    Answer("RefundPayment", s);
  }

  // Counts a customer's call by its final code. FAILED_PRECONDITION is a
  // documented refusal of CreatePayment (another payment is live, the order
  // is not payable), CancelOrder (already paid) and RefundPayment (the order
  // is not PAID yet); any other failure, after the client's retries, is a
  // customer the system let down.
  void Answer(const std::string& call, const grpc::Status& s) {
    if (s.ok()) ++answered_ok_;
    const bool documented = s.ok() || (s.error_code() == grpc::StatusCode::FAILED_PRECONDITION &&
                                       call != "CreateOrder");
    std::lock_guard<std::mutex> lock(mu_);
    ++answers_[call][s.error_code()];
    if (!documented && ++client_errors_ <= 5) {
      Say("client gave up on " + call + ": code " + std::to_string(s.error_code()) + " " +
          s.error_message());
    }
  }

  // "CreateOrder: OK 2000; CreatePayment: OK 2410, FAILED_PRECONDITION 310".
  std::string AnswersByCode() const {
    static const std::map<grpc::StatusCode, std::string> names = {
        {grpc::StatusCode::OK, "OK"},
        {grpc::StatusCode::CANCELLED, "CANCELLED"},
        {grpc::StatusCode::UNKNOWN, "UNKNOWN"},
        {grpc::StatusCode::INVALID_ARGUMENT, "INVALID_ARGUMENT"},
        {grpc::StatusCode::DEADLINE_EXCEEDED, "DEADLINE_EXCEEDED"},
        {grpc::StatusCode::NOT_FOUND, "NOT_FOUND"},
        {grpc::StatusCode::ALREADY_EXISTS, "ALREADY_EXISTS"},
        {grpc::StatusCode::RESOURCE_EXHAUSTED, "RESOURCE_EXHAUSTED"},
        {grpc::StatusCode::FAILED_PRECONDITION, "FAILED_PRECONDITION"},
        {grpc::StatusCode::ABORTED, "ABORTED"},
        {grpc::StatusCode::INTERNAL, "INTERNAL"},
        {grpc::StatusCode::UNAVAILABLE, "UNAVAILABLE"}};
    std::lock_guard<std::mutex> lock(mu_);
    std::string out;
    for (const auto& [call, codes] : answers_) {
      out += (out.empty() ? "" : "; ") + call + ":";
      bool first = true;
      for (const auto& [code, n] : codes) {
        const auto name = names.count(code) ? names.at(code) : "code " + std::to_string(code);
        out += (first ? " " : ", ") + name + " " + std::to_string(n);
        first = false;
      }
    }
    return out;
  }

  // The seed of the sandbox's fault schedule (PAYONCE_SANDBOX_SEED: > 0).
  int64_t SandboxSeed() const {
    return static_cast<int64_t>(provider::DrawSeed(o_.seed, -1) >> 1) | 1;
  }

  // The outages, at times scaled to the load's length (the default load
  // lasts about 32 s, the plan's unit) and shifted by up to a quarter second
  // (scaled) each, drawn from the seed, so that every fault overlaps the load.
  void PlanChaos() {
    if (!o_.chaos) return;
    const double scale = std::max(0.3, load_seconds_ / 32.0);
    std::mt19937_64 rng(o_.seed ^ 0xc4a05ULL);
    std::uniform_real_distribution<double> jitter(-0.25, 0.25);
    const size_t victim = std::uniform_int_distribution<size_t>(0, 1)(rng);
    auto at = [&](double s) { return (s + jitter(rng)) * scale; };
    const std::string replica = "payment-service replica " + std::to_string(victim);
    chaos_ = {
        {at(4), Fault::kKillOrderService, "SIGKILL order-service", victim},
        {at(9), Fault::kStopRedis, "Redis down", victim},
        {at(14), Fault::kRestartOrderService, "order-service back", victim},
        {at(16), Fault::kKillPaymentAndRelay, "SIGKILL " + replica + " and outbox-relay 0", victim},
        {at(19), Fault::kRestartRedisPaymentAndRelay,
         "Redis, " + replica + " and outbox-relay 0 back", victim},
        {at(21), Fault::kRelaysDown, "both outbox-relays down (refunds asked meanwhile)", victim},
        {at(24), Fault::kCrashPostgresImmediate, "PostgreSQL crash (-m immediate) and recovery",
         victim},
        {at(28), Fault::kRelaysUp, "outbox-relays back", victim},
        {at(30), Fault::kCrashPostgresKill,
         "PostgreSQL crash (SIGKILL of the postmaster) and recovery", victim},
    };
  }

  // Runs the chaos plan; records what each fault window served and whether
  // every restart came back.
  void Chaos(Clock::time_point start) {
    std::map<std::string, int64_t> open_windows;  // name -> answers when opened
    auto open = [&](const std::string& name) { open_windows[name] = answered_ok_.load(); };
    auto close = [&](const std::string& name, Clock::time_point opened) {
      windows_.push_back({name, answered_ok_.load() - open_windows[name],
                          std::chrono::duration<double>(Clock::now() - opened).count()});
    };
    std::map<std::string, Clock::time_point> opened_at;
    auto begin = [&](const std::string& name) {
      open(name);
      opened_at[name] = Clock::now();
    };
    auto end = [&](const std::string& name) { close(name, opened_at[name]); };
    auto check = [&](bool ok, const std::string& what) {
      if (!ok) chaos_failures_.push_back(what);
    };
    for (const ChaosStep& step : chaos_) {
      std::this_thread::sleep_until(start + std::chrono::duration_cast<Clock::duration>(
                                                std::chrono::duration<double>(step.at_s)));
      Say("chaos: " + step.what);
      try {
        switch (step.fault) {
          case Fault::kKillOrderService:
            begin("order-service down");
            stack_->order().Kill();
            check(true, step.what);
            break;
          case Fault::kStopRedis:
            begin("Redis down");
            servers_->StopRedis();
            check(true, step.what);
            break;
          case Fault::kRestartOrderService:
            check(stack_->Restart(stack_->order(), stack_->order_addr()), step.what);
            end("order-service down");
            break;
          case Fault::kKillPaymentAndRelay:
            begin("a payment replica and a relay killed");
            stack_->payment(step.victim).Kill();
            stack_->relay(0).Kill();
            check(true, step.what);
            break;
          case Fault::kRestartRedisPaymentAndRelay:
            servers_->StartRedis();
            end("Redis down");
            check(stack_->Restart(stack_->payment(step.victim),
                                  stack_->payment_replica_addr(step.victim)),
                  step.what + " (payment replica)");
            check(stack_->Restart(stack_->relay(0)), step.what + " (relay)");
            end("a payment replica and a relay killed");
            break;
          case Fault::kRelaysDown: {
            begin("both relays down");
            std::lock_guard<std::mutex> lock(relay_mu_);
            relays_held_down_ = true;
            stack_->relay(0).Terminate();
            if (stack_->relay(1).running()) stack_->relay(1).Terminate();
            check(true, step.what);
            break;
          }
          case Fault::kRelaysUp: {
            std::lock_guard<std::mutex> lock(relay_mu_);
            check(stack_->Restart(stack_->relay(0)), step.what + " (relay 0)");
            check(stack_->Restart(stack_->relay(1)), step.what + " (relay 1)");
            relays_held_down_ = false;
            end("both relays down");
            break;
          }
          case Fault::kCrashPostgresImmediate:
          case Fault::kCrashPostgresKill: {
            const std::string name = step.fault == Fault::kCrashPostgresKill
                                         ? "PostgreSQL killed until recovered"
                                         : "PostgreSQL crashed until recovered";
            begin(name);
            servers_->CrashPostgres(step.fault == Fault::kCrashPostgresKill);
            end(name);
            check(true, step.what);
            break;
          }
        }
      } catch (const std::exception& e) {
        check(false, step.what + ": " + e.what());
      }
    }
  }

  std::string Sql(const std::string& db, const std::string& q) { return servers_->Query(db, q); }

  // Quiet: no PENDING payment, every outbox row delivered, no open refund
  // work, and the provider's captures agree with the ledger.
  bool WaitForQuiescence() {
    Say("waiting for quiescence (at most " + std::to_string(o_.quiesce_timeout_s) + " s)");
    const auto quiesce_start = Clock::now();
    const auto deadline = quiesce_start + seconds(o_.quiesce_timeout_s);
    // Not before the last late capture has appeared and the statement
    // (settlement lag 10 s, interval 5 s) could have shown it.
    const auto last_press = Clock::time_point(Clock::duration(last_press_at_.load()));
    const auto earliest = last_press +
                          milliseconds(faults_.late_capture_rate > 0 ? kLateCaptureDelayMs : 0) +
                          seconds(20);
    std::string last;
    while (Clock::now() < deadline) {
      if (Clock::now() < earliest) {
        std::this_thread::sleep_for(seconds(2));
        continue;
      }
      try {
        const std::string pending =
            Sql("payment", "SELECT count(*) FROM payments WHERE status = 'PENDING'");
        const std::string undelivered = Sql(
            "payment",
            "SELECT count(*) FROM outbox WHERE delivered_at IS NULL AND dead_lettered_at IS NULL");
        const std::string open =
            Sql("payment",
                "SELECT count(*) FROM anomalies WHERE status = 'OPEN' AND kind IN "
                "('duplicate_capture', 'refund_required', 'late_success', "
                "'capture_amount_mismatch')");
        const std::string unconfirmed = Sql(
            "payment",
            "SELECT count(*) FROM payments p WHERE status = 'SUCCEEDED' AND NOT EXISTS ("
            "SELECT 1 FROM outbox o WHERE o.payment_id = p.payment_id AND o.status = 'SUCCEEDED' "
            "AND o.delivered_at IS NOT NULL) AND order_confirmed_at IS NULL");
        last = "pending payments " + pending + ", undelivered events " + undelivered +
               ", open refund work " + open + ", unconfirmed successes " + unconfirmed;
        if (pending == "0" && undelivered == "0" && open == "0" && unconfirmed == "0") {
          if (ProviderAgrees()) {
            Say("quiet after " + std::to_string(Elapsed(quiesce_start)) + " s: " + last);
            return true;
          }
          last += ", but the provider's money and the ledgers disagree";
        }
      } catch (const std::exception& e) {
        last = e.what();
      }
      std::this_thread::sleep_for(seconds(2));
    }
    Say("NOT quiet after the timeout: " + last);
    return false;
  }

  // The provider's money and the ledgers have converged: every order holds
  // at most one standing capture, no order that is not PAID holds one, and
  // no FAILED payment holds one. (A late capture that appeared after its
  // payment failed or its order was cancelled is repaired by its callback or
  // by the settlement statement, tens of seconds later; a system that never
  // repairs it never quiets within the timeout, and the report fails.)
  bool ProviderAgrees() {
    const auto truth = Truth();
    if (!truth.ok) return false;
    for (const auto& [order, standing] : truth.standing_per_order) {
      if (standing > 1) return false;
    }
    for (const auto& r :
         Rows("payment", "SELECT payment_id FROM payments WHERE status = 'FAILED'")) {
      const auto it = truth.standing_per_payment.find(r);
      if (it != truth.standing_per_payment.end() && it->second != 0) return false;
    }
    // Orders not PAID (pending or cancelled) hold nothing.
    for (const auto& r : Rows("order", "SELECT order_id FROM orders WHERE status <> 'PAID'")) {
      const auto it = truth.standing_per_order.find(r);
      if (it != truth.standing_per_order.end() && it->second != 0) return false;
    }
    return true;
  }

  // The first column of every row of `q`.
  std::vector<std::string> Rows(const std::string& db, const std::string& q) {
    pqxx::connection conn(servers_->Dsn(db));
    pqxx::nontransaction tx(conn);
    std::vector<std::string> out;
    for (const auto& r : tx.exec(q)) out.push_back(r[0].as<std::string>());
    return out;
  }

  struct ProviderTruth {
    bool ok = false;
    std::map<std::string, int64_t> standing_per_order;   // captures - refunds
    std::map<std::string, int64_t> net_minor_per_order;  // captured - refunded amounts
    std::map<std::string, std::set<std::string>> currencies_per_order;
    std::map<std::string, int64_t> standing_per_payment;
    std::map<std::string, int64_t> captures_per_payment;
    std::map<std::string, int64_t> debits_per_payment;
    // Payments the provider debited that PayOnce has no record of, and their
    // standing captures.
    std::map<std::string, int64_t> unknown_payments;
    sandboxpb::ProviderStats stats;
  };

  ProviderTruth Truth() {
    ProviderTruth t;
    pqxx::connection conn(servers_->Dsn("payment"));
    pqxx::nontransaction tx(conn);
    std::map<std::string, std::string> order_of;
    for (const auto& r : tx.exec("SELECT payment_id, order_id FROM payments")) {
      order_of[r[0].as<std::string>()] = r[1].as<std::string>();
    }
    // Every payment the provider knows, not only those PayOnce knows.
    sandboxpb::GetStatsRequest req;
    grpc::ClientContext ctx;
    ctx.set_deadline(DeadlineAfter(seconds(20)));
    if (!sandbox_->GetStats(&ctx, req, &t.stats).ok()) return t;
    for (const auto& p : t.stats.payments()) {
      const auto known = order_of.find(p.merchant_payment_id());
      if (known == order_of.end()) {
        t.unknown_payments[p.merchant_payment_id()] = p.captures() - p.refunds();
        continue;
      }
      const std::string& order = known->second;
      t.standing_per_order[order] += p.captures() - p.refunds();
      t.net_minor_per_order[order] += p.net_captured_minor();
      if (p.captures() > p.refunds()) t.currencies_per_order[order].insert(p.currency());
      t.standing_per_payment[p.merchant_payment_id()] = p.captures() - p.refunds();
      t.captures_per_payment[p.merchant_payment_id()] = p.captures();
      t.debits_per_payment[p.merchant_payment_id()] = p.debits();
    }
    t.ok = true;
    return t;
  }

  std::vector<Check> CheckInvariants() {
    std::vector<Check> checks;
    const ProviderTruth truth = Truth();
    pqxx::connection pay(servers_->Dsn("payment"));
    pqxx::connection ord(servers_->Dsn("order"));
    pqxx::nontransaction ptx(pay);
    pqxx::nontransaction otx(ord);

    // 1. No duplicate debit left standing, and PayOnce itself never debited
    //    an order twice (a new payment only after the previous one failed).
    Check c1{"1. no duplicate debit left standing"};
    if (!truth.ok) c1.Violation("the provider's ledger (GetStats) could not be read");
    for (const auto& [payment, standing] : truth.unknown_payments) {
      ++c1.checked;
      c1.Violation("the provider debited payment " + payment + " (" + std::to_string(standing) +
                   " standing captures) that PayOnce has no record of");
    }
    for (const auto& [order, standing] : truth.standing_per_order) {
      ++c1.checked;
      if (standing > 1)
        c1.Violation("order " + order + " has " + std::to_string(standing) + " standing captures");
    }
    for (const auto& r : ptx.exec(
             "SELECT a.order_id, a.payment_id, b.payment_id FROM payments a JOIN payments b "
             "ON a.order_id = b.order_id AND a.created_at < b.created_at "
             "WHERE NOT EXISTS (SELECT 1 FROM payment_history h WHERE h.payment_id = a.payment_id "
             "AND h.new_status = 'FAILED' AND h.old_status = 'PENDING' AND h.at <= "
             "b.created_at)")) {
      c1.Violation("order " + r[0].as<std::string>() + ": payment " + r[2].as<std::string>() +
                   " created while " + r[1].as<std::string>() +
                   " was live (PayOnce debited twice)");
    }
    checks.push_back(c1);

    // 2. No paid order left pending (and no PAID order without money).
    // (A CANCELLED order holding money is invariant 8's; a PAID one without
    // exactly one capture of its amount, invariant 9's.)
    Check c2{"2. no paid order left pending"};
    struct OrderRow {
      std::string status;
      int64_t amount_minor = 0;
      std::string currency;
    };
    std::map<std::string, OrderRow> order_of;
    for (const auto& r : otx.exec("SELECT order_id, status, amount_minor, currency FROM orders")) {
      order_of[r[0].as<std::string>()] = {r[1].as<std::string>(), r[2].as<int64_t>(),
                                          r[3].as<std::string>()};
    }
    auto standing_of = [&](const std::string& order) {
      const auto it = truth.standing_per_order.find(order);
      return it == truth.standing_per_order.end() ? int64_t{0} : it->second;
    };
    for (const auto& id : order_ids_) {
      ++c2.checked;
      const std::string& status = order_of[id].status;
      if (standing_of(id) > 0 && status == "PENDING_PAYMENT") {
        c2.Violation("order " + id + " captured at the provider but " + status);
      }
    }
    checks.push_back(c2);

    // 3. Exactly one effect per event.
    Check c3{"3. exactly one effect per event"};
    c3.checked = std::stoll(Sql("payment", "SELECT count(*) FROM provider_callbacks"));
    for (const auto& r : ptx.exec(
             "SELECT payment_id, new_status, count(*) FROM payment_history WHERE new_status IS "
             "DISTINCT FROM old_status AND old_status IS NOT NULL GROUP BY 1, 2 HAVING count(*) > "
             "1")) {
      c3.Violation("payment " + r[0].as<std::string>() + " moved to " + r[1].as<std::string>() +
                   " " + r[2].as<std::string>() + " times");
    }
    for (const auto& r : ptx.exec(
             "SELECT payment_id, status, count(*) FROM outbox GROUP BY 1, 2 HAVING count(*) > 1")) {
      c3.Violation("payment " + r[0].as<std::string>() + " has " + r[2].as<std::string>() + " " +
                   r[1].as<std::string>() + " outbox events");
    }
    // An order is paid once, and moved by the refund of its paying payment
    // at most once more (PAID -> CANCELLED).
    for (const auto& r :
         otx.exec("SELECT order_id, payment_status, count(*) FROM order_timeline WHERE outcome = "
                  "'APPLIED' GROUP BY 1, 2 HAVING count(*) > 1")) {
      c3.Violation("order " + r[0].as<std::string>() + " applied " + r[2].as<std::string>() + " " +
                   r[1].as<std::string>() + " payment events");
    }
    // Each payment event is decided once by the order; its redeliveries are
    // DUPLICATE (the inbox's dedupe), and every event the relay delivered
    // was decided.
    std::set<std::string> decided;
    for (const auto& r :
         otx.exec("SELECT event_id, count(*) FROM order_timeline WHERE kind = 'payment_event' AND "
                  "event_id IS NOT NULL AND outcome IS DISTINCT FROM 'DUPLICATE' GROUP BY 1")) {
      decided.insert(r[0].as<std::string>());
      if (r[1].as<int64_t>() > 1) {
        c3.Violation("event " + r[0].as<std::string>() + " decided " + r[1].as<std::string>() +
                     " times by the order service");
      }
    }
    for (const auto& r :
         ptx.exec("SELECT event_id, payment_id FROM outbox WHERE delivered_at IS NOT NULL")) {
      if (!decided.count(r[0].as<std::string>())) {
        c3.Violation("event " + r[0].as<std::string>() + " of payment " + r[1].as<std::string>() +
                     " delivered but never decided by the order");
      }
    }
    checks.push_back(c3);

    // 4. Monotonic states.
    Check c4{"4. monotonic states"};
    c4.checked = std::stoll(Sql("payment", "SELECT count(*) FROM payment_history")) +
                 std::stoll(Sql("order", "SELECT count(*) FROM order_timeline"));
    for (const auto& r :
         ptx.exec("SELECT payment_id, old_status, new_status FROM payment_history WHERE "
                  "(new_status = 'PENDING' AND old_status IS NOT NULL) OR "
                  "(old_status = 'SUCCEEDED' AND new_status = 'FAILED') OR "
                  "(old_status = 'REFUNDED' AND new_status IS DISTINCT FROM 'REFUNDED')")) {
      c4.Violation("payment " + r[0].as<std::string>() + ": " + r[1].as<std::string>() + " -> " +
                   r[2].as<std::string>());
    }
    for (const auto& r : otx.exec(
             "SELECT order_id, old_status, new_status FROM order_timeline WHERE "
             "old_status IS NOT NULL AND new_status IS NOT NULL AND old_status <> new_status AND "
             "NOT (old_status = 'PENDING_PAYMENT' AND new_status IN ('PAID', 'CANCELLED')) AND "
             // The payment that paid the order was refunded: forward, never back.
             "NOT (old_status = 'PAID' AND new_status = 'CANCELLED' AND kind = 'payment_event' "
             "AND payment_status = 'REFUNDED')")) {
      c4.Violation("order " + r[0].as<std::string>() + ": " + r[1].as<std::string>() + " -> " +
                   r[2].as<std::string>());
    }
    // What a customer was told stays true: an order whose cancellation
    // CancelOrder confirmed never leaves CANCELLED (the timeline cannot vouch
    // for this: it is written by the code under test).
    {
      std::lock_guard<std::mutex> lock(mu_);
      for (const auto& [id, customer] : customers_) {
        if (!customer.cancel_confirmed) continue;
        ++c4.checked;
        if (order_of[id].status != "CANCELLED") {
          c4.Violation("order " + id + " was confirmed CANCELLED to its customer but ended " +
                       order_of[id].status);
        }
      }
    }
    // The row says what its history last recorded.
    auto row_is_last_entry = [&](pqxx::transaction_base& tx, const std::string& what,
                                 const std::string& table, const std::string& key,
                                 const std::string& history, const std::string& history_name) {
      for (const auto& r :
           tx.exec("SELECT x." + key + ", x.status, h.new_status FROM " + table +
                   " x LEFT JOIN LATERAL (SELECT new_status FROM " + history + " WHERE " + key +
                   " = x." + key +
                   " AND new_status IS NOT NULL ORDER BY entry_id DESC LIMIT 1) h ON true "
                   "WHERE h.new_status IS DISTINCT FROM x.status")) {
        c4.Violation(what + " " + r[0].as<std::string>() + " is " + r[1].as<std::string>() +
                     " but its " + history_name + " last says " +
                     (r[2].is_null() ? std::string("nothing") : r[2].as<std::string>()));
      }
    };
    row_is_last_entry(ptx, "payment", "payments", "payment_id", "payment_history", "history");
    row_is_last_entry(otx, "order", "orders", "order_id", "order_timeline", "timeline");
    checks.push_back(c4);

    // 5. Nothing forged gets in.
    Check c5{"5. nothing forged gets in"};
    c5.checked = truth.stats.callbacks_forged() + truth.stats.callbacks_replayed();
    if (truth.stats.callbacks_forged_accepted() > 0) {
      c5.Violation(std::to_string(truth.stats.callbacks_forged_accepted()) +
                   " forged callbacks acknowledged");
    }
    if (truth.stats.callbacks_replayed_accepted() > 0) {
      c5.Violation(std::to_string(truth.stats.callbacks_replayed_accepted()) +
                   " replayed callbacks acknowledged");
    }
    // A payment that succeeded names a capture the provider made for it.
    std::set<std::pair<std::string, std::string>> provider_captures;  // (payment, txn)
    for (const auto& r : RowPairs("provider",
                                  "SELECT merchant_payment_id, provider_txn_id FROM captures "
                                  "WHERE status IN ('SUCCEEDED', 'REFUNDED')")) {
      provider_captures.insert(r);
    }
    for (const auto& r : ptx.exec("SELECT payment_id, coalesce(provider_txn_id, '') FROM "
                                  "payments WHERE status IN ('SUCCEEDED', 'REFUNDED')")) {
      const auto id = r[0].as<std::string>();
      if (!provider_captures.count({id, r[1].as<std::string>()})) {
        c5.Violation("payment " + id + " succeeded with capture '" + r[1].as<std::string>() +
                     "', which the provider never made for it");
      }
    }
    double rejected = 0;
    for (size_t i = 0; i < stack_->payment_replicas(); ++i) {
      rejected += testing::MetricSum(
          testing::HttpGet(stack_->payment(i).env().at("PAYONCE_METRICS_LISTEN_ADDR"), "/metrics"),
          "payonce_callbacks_total", "outcome=\"unauthenticated\"");
    }
    if (c5.checked > 0 && rejected == 0 && o_.chaos) {
      // Replicas restarted by the chaos lose their counters; only flag when
      // nothing at all was seen.
      c5.examples.push_back("note: payonce_callbacks_total{outcome=unauthenticated} reads 0");
    }
    checks.push_back(c5);

    // 6. Nothing lost on a crash: every delivery the provider saw
    //    acknowledged is stored (the sandbox's record, callbacks.acked_at),
    //    and every event delivered or repaired.
    Check c6{"6. nothing lost on a crash"};
    std::set<std::string> stored;
    for (const auto& r : ptx.exec("SELECT event_id FROM provider_callbacks")) {
      stored.insert(r[0].as<std::string>());
    }
    for (const auto& r : RowPairs("provider",
                                  "SELECT cb.event_id, c.merchant_payment_id FROM callbacks cb "
                                  "JOIN captures c USING (provider_txn_id) "
                                  "WHERE cb.acked_at IS NOT NULL")) {
      ++c6.checked;
      if (!stored.count(r.first)) {
        c6.Violation("callback " + r.first + " of payment " + r.second +
                     " was acknowledged to the provider but is not stored");
      }
    }
    c6.checked += std::stoll(Sql("payment", "SELECT count(*) FROM outbox"));
    // Every state change committed its outbox event with it (the
    // transactional outbox): a change without one reaches the order only if
    // something else repairs it.
    for (const auto& r : ptx.exec(
             "SELECT h.payment_id, h.new_status FROM payment_history h WHERE h.new_status IN "
             "('SUCCEEDED', 'FAILED', 'REFUNDED') AND h.old_status IS DISTINCT FROM h.new_status "
             "AND NOT EXISTS (SELECT 1 FROM outbox o WHERE o.payment_id = h.payment_id AND "
             "o.status = h.new_status)")) {
      ++c6.checked;
      c6.Violation("payment " + r[0].as<std::string>() + " became " + r[1].as<std::string>() +
                   " without its outbox event");
    }
    const std::string undelivered =
        Sql("payment", "SELECT count(*) FROM outbox WHERE delivered_at IS NULL");
    if (undelivered != "0") c6.Violation(undelivered + " outbox events never delivered");
    const std::string stuck =
        Sql("payment", "SELECT count(*) FROM payments WHERE status = 'PENDING'");
    if (stuck != "0") c6.Violation(stuck + " payments still PENDING");
    checks.push_back(c6);

    // 8. Every CANCELLED order holds no money at the provider.
    Check c8{"8. cancelled orders hold no money"};
    // 9. Every PAID order holds exactly one capture, of its amount and
    //    currency.
    Check c9{"9. paid order: one capture of its amount"};
    for (const auto& id : order_ids_) {
      const OrderRow& order = order_of[id];
      const int64_t standing = standing_of(id);
      if (order.status == "CANCELLED") {
        ++c8.checked;
        if (standing != 0) {
          c8.Violation("order " + id + " CANCELLED with " + std::to_string(standing) +
                       " standing capture(s) at the provider");
          if (c8.violations <= 3) ExplainOrder(id);
        }
      } else if (order.status == "PAID") {
        ++c9.checked;
        const int64_t net =
            truth.net_minor_per_order.count(id) ? truth.net_minor_per_order.at(id) : 0;
        const auto found = truth.currencies_per_order.find(id);
        const std::set<std::string> currencies =
            found == truth.currencies_per_order.end() ? std::set<std::string>{} : found->second;
        if (standing != 1) {
          c9.Violation("order " + id + " PAID with " + std::to_string(standing) +
                       " standing captures");
        } else if (net != order.amount_minor ||
                   currencies != std::set<std::string>{order.currency}) {
          c9.Violation("order " + id + " PAID for " + std::to_string(order.amount_minor) + " " +
                       order.currency + " but the provider holds " + std::to_string(net));
        }
      }
    }
    // 10. No payment says FAILED while the provider holds its money.
    Check c10{"10. no FAILED payment holds money"};
    for (const auto& r : ptx.exec("SELECT payment_id FROM payments WHERE status = 'FAILED'")) {
      ++c10.checked;
      const auto id = r[0].as<std::string>();
      const auto it = truth.standing_per_payment.find(id);
      if (it != truth.standing_per_payment.end() && it->second != 0) {
        c10.Violation("payment " + id + " FAILED while the provider holds " +
                      std::to_string(it->second) + " capture(s) of it");
        if (c10.violations <= 3) Explain(id);
      }
    }

    // 7. Redis is an accelerator: every other invariant held although Redis
    //    was down.
    Check c7{"7. Redis down: still correct"};
    c7.checked = o_.chaos ? 1 : 0;
    for (const auto& c : checks) {
      if (c.violations > 0)
        c7.Violation("invariant \"" + c.name + "\" broke with Redis down in the run");
    }
    for (const Check* c : {&c8, &c9, &c10}) {
      if (c->violations > 0)
        c7.Violation("invariant \"" + c->name + "\" broke with Redis down in the run");
    }
    // (Without chaos Redis never goes down: there is nothing to judge.)
    if (o_.chaos) checks.push_back(c7);
    checks.push_back(c8);
    checks.push_back(c9);
    checks.push_back(c10);
    return checks;
  }

  // Explains every payment of an order, after its timeline.
  void ExplainOrder(const std::string& order_id) {
    try {
      Say("order " + order_id + " timeline: " +
          Sql("order",
              "SELECT string_agg(concat_ws(' ', at, source, kind, old_status, '->', new_status, "
              "payment_id, outcome, payment_status, detail), E'\n    ' ORDER BY entry_id) FROM "
              "order_timeline WHERE order_id = '" +
                  order_id + "'"));
      for (const auto& p :
           Rows("payment", "SELECT payment_id FROM payments WHERE order_id = '" + order_id + "'")) {
        Explain(p);
      }
    } catch (const std::exception& e) {
      Say("order " + order_id + ": cannot explain: " + e.what());
    }
  }

  // Prints what both sides know of one payment, for a violation's reader.
  void Explain(const std::string& payment_id) {
    try {
      Say("payment " + payment_id + ":\n  ledger: " +
          Sql("payment",
              "SELECT concat_ws(' ', status, provider_txn_id, failure_reason, 'late=' || "
              "late_success, 'rank=' || evidence_rank, created_at, updated_at) FROM payments "
              "WHERE payment_id = '" +
                  payment_id + "'") +
          "\n  history: " +
          Sql("payment",
              "SELECT string_agg(concat_ws(' ', at, source, old_status, '->', new_status, "
              "event_id, detail), E'\n    ' ORDER BY at) FROM payment_history WHERE "
              "payment_id = '" +
                  payment_id + "'") +
          "\n  anomalies: " +
          Sql("payment",
              "SELECT string_agg(concat_ws(' ', kind, status, provider_txn_id, detail), "
              "E'\n    ') FROM anomalies WHERE payment_id = '" +
                  payment_id + "'") +
          "\n  callbacks: " +
          Sql("payment",
              "SELECT string_agg(concat_ws(' ', received_at, event_id, provider_txn_id, status, "
              "outcome), E'\n    ') FROM provider_callbacks WHERE payment_id = '" +
                  payment_id + "'") +
          "\n  provider: " +
          Sql("provider",
              "SELECT string_agg(concat_ws(' ', provider_txn_id, status, amount_minor, "
              "captured_at, refunded_at), E'\n    ') FROM captures WHERE merchant_payment_id = '" +
                  payment_id + "'") +
          "\n  provider callbacks: " +
          Sql("provider",
              "SELECT string_agg(concat_ws(' ', cb.event_id, cb.status, 'dropped=' || cb.dropped, "
              "'attempts=' || cb.attempts, 'acked=' || cb.acked_at, 'given_up=' || cb.given_up_at, "
              "cb.last_result, cb.last_error), E'\n    ') FROM callbacks cb JOIN "
              "captures c USING (provider_txn_id) WHERE c.merchant_payment_id = '" +
                  payment_id + "'"));
    } catch (const std::exception& e) {
      Say("payment " + payment_id + ": cannot explain: " + e.what());
    }
  }

  int Report(std::vector<Check> checks, bool quiet) {
    std::printf("\nPayOnce storm report (seed %llu, %d customers, %lld orders)\n",
                static_cast<unsigned long long>(o_.seed), o_.customers,
                static_cast<long long>(orders_made_.load()));
    std::printf("fault schedule digest %s\n", ScheduleDigest().c_str());
    std::printf("customer calls by final code: %s\n", AnswersByCode().c_str());
    if (!windows_.empty()) {
      std::printf("%-45s %8s %10s\n", "fault window", "seconds", "served OK");
      for (const auto& w : windows_) {
        std::printf("%-45s %8.1f %10lld\n", w.name.c_str(), w.seconds,
                    static_cast<long long>(w.served));
      }
    }
    // A check that looked at nothing proves nothing.
    for (auto& c : checks) {
      if (c.checked == 0) c.Violation("checked nothing");
    }
    std::printf("%-40s %10s %10s  %s\n", "invariant", "checked", "violations", "examples");
    int64_t total = 0;
    for (const auto& c : checks) {
      std::string examples;
      for (const auto& e : c.examples) examples += (examples.empty() ? "" : "; ") + e;
      std::printf("%-40s %10lld %10lld  %s\n", c.name.c_str(), static_cast<long long>(c.checked),
                  static_cast<long long>(c.violations), examples.c_str());
      total += c.violations;
    }
    if (const Sabotage* sabotage = FindSabotage(o_.sabotage)) {
      // Caught: the check the sabotage breaks found a real violation (more
      // may fail as a consequence; they are in the table above).
      bool caught = false;
      for (const auto& c : checks) {
        const bool named = c.name.rfind(std::string(sabotage->caught_by) + ". ", 0) == 0;
        const bool real = c.violations > (c.checked == 0 ? 1 : 0);
        if (named && real) caught = true;
      }
      std::printf("\n%s: %lld violation(s)%s\nSABOTAGE %s %s: check %s %s\n",
                  total == 0 && quiet ? "PASS" : "FAIL", static_cast<long long>(total),
                  quiet ? "" : ", the system did not quiesce", sabotage->name,
                  caught ? "CAUGHT" : "MISSED", sabotage->caught_by,
                  caught ? "failed" : "did not fail");
      return caught ? 0 : 1;
    }
    const bool pass = total == 0 && quiet;
    std::printf("\n%s: %lld violation(s)%s\n", pass ? "PASS" : "FAIL",
                static_cast<long long>(total), quiet ? "" : ", the system did not quiesce");
    return pass ? 0 : 1;
  }

  // The fault schedule and chaos plan, as one digest: SHA-256 over the
  // decisions of draws 1..customers (each as a first debit of 400) under the
  // storm's faults and sandbox seed, then the chaos plan. A function of the
  // seed (and of this program): two runs with one seed print the same one;
  // CheckTheRun checks that the sandbox followed the schedule.
  std::string ScheduleDigest() const {
    std::string text;
    auto add = [&](const std::string& line) { text += line + "\n"; };
    for (int64_t n = 1; n <= o_.customers; ++n) {
      provider::SeededRandomSource rng(provider::DrawSeed(static_cast<uint64_t>(SandboxSeed()), n));
      add(std::to_string(n) + " " +
          provider::DescribeDecisions(provider::DecideDebit(faults_, true, 400, rng), 400));
    }
    for (const auto& step : chaos_) {
      char at[32];
      std::snprintf(at, sizeof at, "%.3f", step.at_s);
      add(std::string(at) + " " + step.what);
    }
    unsigned char digest[SHA256_DIGEST_LENGTH];
    SHA256(reinterpret_cast<const unsigned char*>(text.data()), text.size(), digest);
    return Hex(digest, 8);
  }

  // What the run itself must show besides the invariants: customers were
  // served and could pay, the sandbox followed its schedule, every fault was
  // injected and recovered, and no check passed by checking nothing.
  std::vector<Check> CheckTheRun() {
    std::vector<Check> checks;
    // L1. Every order ends PAID or CANCELLED, and a customer who only wanted
    //     to pay ends PAID unless every payment it made failed.
    Check l1{"L1. every order ends PAID or CANCELLED"};
    std::map<std::string, std::string> status;
    for (const auto& r : RowPairs("order", "SELECT order_id, status FROM orders")) {
      status[r.first] = r.second;
    }
    std::map<std::string, int64_t> payments_made;
    for (const auto& r :
         RowPairs("payment", "SELECT order_id, count(*)::text FROM payments GROUP BY order_id")) {
      payments_made[r.first] = std::stoll(r.second);
    }
    {
      std::lock_guard<std::mutex> lock(mu_);
      for (const auto& id : order_ids_) {
        ++l1.checked;
        const CustomerRecord& c = customers_[id];
        const std::string& st = status[id];
        if (st != "PAID" && st != "CANCELLED") {
          l1.Violation("order " + id + " ended " + st);
        } else if (c.role == Role::kPay && st == "CANCELLED" &&
                   (!c.cancelled_after_failures || payments_made[id] == 0)) {
          l1.Violation("order " + id + ": its customer could not pay (" +
                       std::to_string(c.refused_presses) + " presses refused, " +
                       std::to_string(payments_made[id]) + " payments made)");
        }
      }
    }
    checks.push_back(l1);

    // L2. No customer call failed other than by a documented refusal.
    Check l2{"L2. every customer call answered"};
    {
      std::lock_guard<std::mutex> lock(mu_);
      for (const auto& [call, codes] : answers_) {
        for (const auto& [code, n] : codes) {
          l2.checked += n;
          const bool documented =
              code == grpc::StatusCode::OK ||
              (code == grpc::StatusCode::FAILED_PRECONDITION && call != "CreateOrder");
          if (!documented) {
            for (int64_t k = 0; k < n; ++k) {
              l2.Violation(call + " gave up with code " + std::to_string(code));
            }
          }
        }
      }
    }
    checks.push_back(l2);

    // S. The sandbox drew every Debit call's faults from its seed and draw
    //    number: recomputed here, call by call.
    Check sched{"S. the sandbox followed its fault schedule"};
    try {
      pqxx::connection conn(servers_->Dsn("provider"));
      pqxx::nontransaction tx(conn);
      for (const auto& r :
           tx.exec("SELECT draw, first_call, asked_minor, decisions FROM fault_draws")) {
        ++sched.checked;
        const auto draw = r[0].as<int64_t>();
        const auto asked = r[2].as<int64_t>();
        provider::SeededRandomSource rng(
            provider::DrawSeed(static_cast<uint64_t>(SandboxSeed()), draw));
        const std::string want = provider::DescribeDecisions(
            provider::DecideDebit(faults_, r[1].as<bool>(), asked, rng), asked);
        if (want != r[3].as<std::string>()) {
          sched.Violation("draw " + std::to_string(draw) + ": recorded \"" +
                          r[3].as<std::string>() + "\", the seed gives \"" + want + "\"");
        }
      }
    } catch (const std::exception& e) {
      sched.Violation(std::string("cannot read the sandbox's fault draws: ") + e.what());
    }
    checks.push_back(sched);

    // C. Every fault of the chaos plan was injected and what it stopped came
    //    back.
    if (o_.chaos) {
      Check chaos{"C. every fault injected and recovered"};
      chaos.checked = static_cast<int64_t>(chaos_.size());
      for (const auto& f : chaos_failures_) chaos.Violation(f);
      checks.push_back(chaos);
    }
    return checks;
  }

  // Both columns of every row of `q`, as text.
  std::vector<std::pair<std::string, std::string>> RowPairs(const std::string& db,
                                                            const std::string& q) {
    pqxx::connection conn(servers_->Dsn(db));
    pqxx::nontransaction tx(conn);
    std::vector<std::pair<std::string, std::string>> out;
    for (const auto& r : tx.exec(q)) {
      out.emplace_back(r[0].as<std::string>(), r[1].is_null() ? "" : r[1].as<std::string>());
    }
    return out;
  }

  Options o_;
  std::mt19937_64 rng_;
  provider::FaultConfig faults_;
  std::vector<Plan> plans_;
  double load_seconds_ = 0;
  std::vector<ChaosStep> chaos_;
  std::vector<FaultWindow> windows_;
  std::vector<std::string> chaos_failures_;
  std::map<std::string, CustomerRecord> customers_;
  std::map<std::string, orderpb::Order> orders_by_id_;
  std::map<std::string, std::map<grpc::StatusCode, int64_t>> answers_;
  std::atomic<int64_t> answered_ok_{0};
  std::unique_ptr<testing::LocalServers> servers_;
  std::unique_ptr<testing::Stack> stack_;
  std::unique_ptr<orderpb::OrderService::Stub> orders_;
  std::unique_ptr<paypb::PaymentService::Stub> payments_;
  std::unique_ptr<sandboxpb::ProviderSandbox::Stub> sandbox_;
  mutable std::mutex mu_;
  std::vector<std::string> order_ids_;
  std::atomic<int64_t> orders_made_{0};
  std::atomic<int64_t> pay_presses_{0};
  std::atomic<int64_t> client_errors_{0};
  std::atomic<Clock::rep> last_press_at_{0};
  // Guards relay 1 between the supervisor and the chaos.
  std::mutex relay_mu_;
  bool relays_held_down_ = false;
  int64_t failpoint_exits_ = 0;
};

}  // namespace
}  // namespace payonce::storm

int main(int argc, char** argv) {
  payonce::storm::Options o;
  CLI::App app(
      "payonce-storm: replays the 4 Dec 2025 outage against a fresh PayOnce stack and "
      "checks the invariants of CONTRACT §5");
  app.add_option("--customers", o.customers, "Customers, each creating one order and paying")
      ->capture_default_str()
      ->check(CLI::Range(1, 1000000));
  app.add_option("--seed", o.seed, "Seed of every random choice (0: pick one and print it)");
  app.add_option("--base-rate", o.base_rate, "Customers per second outside the 10x burst")
      ->capture_default_str()
      ->check(CLI::Range(1.0, 10000.0));
  app.add_option("--workers", o.workers, "Concurrent customers at most")
      ->capture_default_str()
      ->check(CLI::Range(1, 1024));
  app.add_option("--quiesce-timeout-s", o.quiesce_timeout_s, "How long to wait for quiescence")
      ->capture_default_str()
      ->check(CLI::Range(10, 3600));
  app.add_flag("!--no-chaos", o.chaos, "Skip the outages (faults stay on)");
  std::string sabotages;
  std::vector<std::string> sabotage_names;
  for (const auto& s : payonce::storm::kSabotages) {
    sabotages += std::string("\n  ") + s.name + " (check " + s.caught_by + "): " + s.what;
    sabotage_names.push_back(s.name);
  }
  app.add_option("--sabotage", o.sabotage,
                 "Break one guarantee on purpose; the exit code is then 0 only if the check it "
                 "breaks failed (accept-any-signature and refuse-payments need a build with "
                 "PAYONCE_FAILPOINTS):" +
                     sabotages)
      ->check(CLI::IsMember(sabotage_names));
  app.footer(
      "The stack runs on free loopback ports with its own PostgreSQL and Redis in a "
      "temporary folder; nothing is left running. Exit code 0 = every invariant held.");
  CLI11_PARSE(app, argc, argv);
  if (o.seed == 0) o.seed = std::random_device{}() | 1;
  try {
    payonce::storm::Storm storm(o);
    return storm.Run();
  } catch (const std::exception& e) {
    std::cerr << "storm failed to run: " << e.what() << std::endl;
    return 2;
  }
}
