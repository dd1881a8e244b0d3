#include "tests/support/stack.h"

#include <gtest/gtest.h>

namespace payonce::testing {
namespace {

std::string Local(int port) { return "127.0.0.1:" + std::to_string(port); }

// True once the process serves its metrics endpoint: it has reached main and
// blocked the shutdown signals (the first thing every PayOnce main does), so a
// SIGTERM from now on drains it instead of killing it. False if it exited or
// 30 s passed.
bool AwaitMetrics(ServiceProcess& process) {
  const std::string addr = process.env().at("PAYONCE_METRICS_LISTEN_ADDR");
  return WaitUntil(
             [&] {
               return !process.running() ||
                      !HttpGet(addr, "/metrics", std::chrono::milliseconds(500)).empty();
             },
             std::chrono::seconds(30)) &&
         process.running();
}

}  // namespace

Stack::Stack(LocalServers& servers, std::map<std::string, std::string> extra_env,
             int payment_replicas)
    : servers_(servers),
      extra_env_(std::move(extra_env)),
      order_addr_(Local(FreePort())),
      sandbox_addr_(Local(FreePort())) {
  for (int i = 0; i < payment_replicas; ++i) payment_addrs_.push_back(Local(FreePort()));
  payment_addr_ = payment_addrs_.size() == 1 ? payment_addrs_[0] : "ipv4:";
  if (payment_addrs_.size() > 1) {
    for (size_t i = 0; i < payment_addrs_.size(); ++i) {
      payment_addr_ += (i ? "," : "") + payment_addrs_[i];
    }
  }
  order_ = Make(
      "order-service", "services/order/order-service",
      {{"PAYONCE_DATABASE_URL", servers_.Dsn("order")}, {"PAYONCE_GRPC_LISTEN_ADDR", order_addr_}});
  for (size_t i = 0; i < payment_addrs_.size(); ++i) {
    payments_.push_back(Make(i == 0 ? "payment-service" : "payment-service-" + std::to_string(i),
                             "services/payment/payment-service",
                             {{"PAYONCE_DATABASE_URL", servers_.Dsn("payment")},
                              {"PAYONCE_GRPC_LISTEN_ADDR", payment_addrs_[i]},
                              {"PAYONCE_REDIS_ADDR", servers_.RedisAddr()},
                              {"PAYONCE_ORDER_SERVICE_TARGET", order_addr_},
                              {"PAYONCE_PROVIDER_TARGET", sandbox_addr_},
                              {"PAYONCE_CALLBACK_SECRETS", kStackSecret}}));
  }
  sandbox_ = Make("provider-sandbox", "services/provider_sandbox/provider-sandbox",
                  {{"PAYONCE_DATABASE_URL", servers_.Dsn("provider")},
                   {"PAYONCE_GRPC_LISTEN_ADDR", sandbox_addr_},
                   {"PAYONCE_PAYMENT_SERVICE_TARGET", payment_addr_},
                   {"PAYONCE_CALLBACK_SECRETS", kStackSecret}});
}

Stack::~Stack() {
  // Stop in parallel: each process drains on its own.
  for (auto& r : reconcilers_) r->SendTerm();
  for (auto& r : relays_) r->SendTerm();
  sandbox_->SendTerm();
  for (auto& p : payments_) p->SendTerm();
  order_->SendTerm();
  for (auto& r : reconcilers_) r->Terminate();
  for (auto& r : relays_) r->Terminate();
  sandbox_->Terminate();
  for (auto& p : payments_) p->Terminate();
  order_->Terminate();
}

std::unique_ptr<ServiceProcess> Stack::Make(const std::string& name, const std::string& binary,
                                            std::map<std::string, std::string> env) {
  env["PAYONCE_METRICS_LISTEN_ADDR"] = Local(FreePort());
  env.emplace("PAYONCE_LOG_LEVEL", "info");
  env.emplace("PAYONCE_SHUTDOWN_GRACE_MS", "2000");
  for (const auto& [k, v] : extra_env_) env[k] = v;
  return std::make_unique<ServiceProcess>(name, BinaryPath(binary), std::move(env),
                                          servers_.dir() + "/" + name + ".log");
}

void Stack::StartAll(int relays) {
  order_->Start();
  for (auto& p : payments_) p->Start();
  sandbox_->Start();
  for (int i = 0; i < relays; ++i) AddRelay();
  std::vector<std::string> addrs = payment_addrs_;
  addrs.push_back(order_addr_);
  addrs.push_back(sandbox_addr_);
  for (const auto& addr : addrs) {
    if (!WaitUntil([&] { return IsServing(addr); }, std::chrono::seconds(30))) {
      ADD_FAILURE() << addr << " is not SERVING\n" << Logs();
    }
  }
}

size_t Stack::AddRelay(std::map<std::string, std::string> env) {
  const size_t index = relays_.size();
  env["PAYONCE_DATABASE_URL"] = servers_.Dsn("payment");
  env["PAYONCE_ORDER_SERVICE_TARGET"] = order_addr_;
  relays_.push_back(Make("outbox-relay-" + std::to_string(index),
                         "services/outbox_relay/outbox-relay", std::move(env)));
  relays_.back()->Start();
  // Serves no gRPC: ready (signals handled) once its metrics answer.
  if (!AwaitMetrics(*relays_.back())) ADD_FAILURE() << "outbox-relay did not start\n" << Logs();
  return index;
}

size_t Stack::AddReconciler(std::map<std::string, std::string> env) {
  const size_t index = reconcilers_.size();
  env["PAYONCE_DATABASE_URL"] = servers_.Dsn("payment");
  env["PAYONCE_ORDER_SERVICE_TARGET"] = order_addr_;
  env["PAYONCE_PROVIDER_TARGET"] = sandbox_addr_;
  reconcilers_.push_back(Make("reconciler-" + std::to_string(index),
                              "services/reconciler/reconciler", std::move(env)));
  reconcilers_.back()->Start();
  if (!AwaitMetrics(*reconcilers_.back())) ADD_FAILURE() << "reconciler did not start\n" << Logs();
  return index;
}

bool Stack::Restart(ServiceProcess& process, const std::string& grpc_addr) {
  process.Start();
  if (grpc_addr.empty()) return AwaitMetrics(process);
  return WaitUntil([&] { return IsServing(grpc_addr); }, std::chrono::seconds(30));
}

std::string Stack::Logs() const {
  std::string out;
  auto add = [&](const ServiceProcess& p) {
    const std::string log = p.Log();
    out += "---- " + p.name() + " (last 3000 bytes)\n" +
           (log.size() > 3000 ? log.substr(log.size() - 3000) : log) + "\n";
  };
  add(*order_);
  for (const auto& p : payments_) add(*p);
  add(*sandbox_);
  for (const auto& r : relays_) add(*r);
  for (const auto& r : reconcilers_) add(*r);
  return out;
}

}  // namespace payonce::testing
