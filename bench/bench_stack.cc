#include "bench/bench_stack.h"

#include <sys/stat.h>
#include <unistd.h>

#include <chrono>
#include <ctime>
#include <fstream>
#include <stdexcept>

#include "tests/support/local_servers.h"
#include "tests/support/stack.h"

namespace payonce::bench {
namespace {

// The first number in a pid file (postmaster.pid, redis.pid), or 0.
pid_t PidFromFile(const std::string& path) {
  std::ifstream in(path);
  long pid = 0;
  in >> pid;
  return static_cast<pid_t>(pid);
}

}  // namespace

BenchTarget::BenchTarget() = default;

BenchTarget::~BenchTarget() {
  stack_.reset();
  servers_.reset();
}

std::unique_ptr<BenchTarget> BenchTarget::StartOwn(const std::map<std::string, std::string>& env) {
  std::unique_ptr<BenchTarget> t(new BenchTarget());
  t->servers_ = std::make_unique<testing::LocalServers>();
  t->stack_ = std::make_unique<testing::Stack>(*t->servers_, env, /*payment_replicas=*/1);
  t->stack_->StartAll(/*relays=*/1);
  for (const std::string& addr :
       {t->stack_->order_addr(), t->stack_->payment_addr(), t->stack_->sandbox_addr()}) {
    if (!testing::WaitUntil([&] { return testing::IsServing(addr); }, std::chrono::seconds(5))) {
      throw std::runtime_error(addr + " is not serving:\n" + t->stack_->Logs());
    }
  }
  TargetInfo& i = t->info_;
  i.order_addr = t->stack_->order_addr();
  i.payment_addr = t->stack_->payment_addr();
  i.sandbox_addr = t->stack_->sandbox_addr();
  i.order_dsn = t->servers_->Dsn("order");
  i.payment_dsn = t->servers_->Dsn("payment");
  i.callback_secret = testing::kStackSecret;
  i.processes = {{"order-service", t->stack_->order().pid()},
                 {"payment-service", t->stack_->payment().pid()},
                 {"provider-sandbox", t->stack_->sandbox().pid()},
                 {"outbox-relay", t->stack_->relay(0).pid()},
                 {"redis-server", PidFromFile(t->servers_->dir() + "/redis/redis.pid")},
                 {"payonce-bench", getpid()}};
  i.postmaster = PidFromFile(t->servers_->dir() + "/pg/data/postmaster.pid");
  i.pg_port = t->servers_->pg_port();
  return t;
}

std::unique_ptr<BenchTarget> BenchTarget::External(TargetInfo info) {
  std::unique_ptr<BenchTarget> t(new BenchTarget());
  t->info_ = std::move(info);
  return t;
}

std::map<std::string, std::string> BenchTarget::BinaryVersions() const {
  std::map<std::string, std::string> out;
  for (const char* relative :
       {"services/order/order-service", "services/payment/payment-service",
        "services/provider_sandbox/provider-sandbox", "services/outbox_relay/outbox-relay"}) {
    const std::string path = testing::BinaryPath(relative);
    struct stat st {};
    char when[32] = "missing";
    if (stat(path.c_str(), &st) == 0) {
      std::strftime(when, sizeof when, "%Y-%m-%dT%H:%M:%SZ", std::gmtime(&st.st_mtime));
    }
    out[path] = when;
  }
  return out;
}

void BenchTarget::StopServices() { stack_.reset(); }

void BenchTarget::Exec(const std::string& database, const std::string& sql) const {
  if (servers_) servers_->Query(database, sql);
}

}  // namespace payonce::bench
