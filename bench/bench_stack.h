// What the bench measures: a PayOnce stack it starts itself (private
// PostgreSQL and Redis, order-service, payment-service, provider-sandbox,
// outbox-relay, through tests/support), or one already running whose
// addresses it is given.
#pragma once

#include <sys/types.h>

#include <map>
#include <memory>
#include <string>
#include <utility>
#include <vector>

namespace payonce::testing {
class LocalServers;
class Stack;
}  // namespace payonce::testing

namespace payonce::bench {

struct TargetInfo {
  std::string order_addr;
  std::string payment_addr;
  std::string sandbox_addr;
  // Connection strings of the order and payment databases; empty when
  // unknown (then relay lag and wait events are not measured).
  std::string order_dsn;
  std::string payment_dsn;
  // The first of payment-service's PAYONCE_CALLBACK_SECRETS.
  std::string callback_secret;
  // Processes whose memory is sampled, and the PostgreSQL postmaster (its
  // children are sampled too); 0 when unknown.
  std::vector<std::pair<std::string, pid_t>> processes;
  pid_t postmaster = 0;
  // The PostgreSQL port when the bench started PostgreSQL itself, else 0.
  int pg_port = 0;
};

class BenchTarget {
 public:
  // Starts PostgreSQL, Redis and the services with `env` added to every
  // service's environment; throws std::runtime_error if one does not serve.
  static std::unique_ptr<BenchTarget> StartOwn(const std::map<std::string, std::string>& env);
  // A stack somebody else runs.
  static std::unique_ptr<BenchTarget> External(TargetInfo info);
  ~BenchTarget();
  BenchTarget(const BenchTarget&) = delete;
  BenchTarget& operator=(const BenchTarget&) = delete;

  const TargetInfo& info() const { return info_; }
  bool own() const { return servers_ != nullptr; }
  // Stops the services (SIGTERM, drain) and leaves PostgreSQL running.
  void StopServices();
  // Each service binary started: {"path", "modified"} (the build folder is
  // shared, so a run records which build it measured).
  std::map<std::string, std::string> BinaryVersions() const;
  // Runs one SQL statement on a database of the own stack ("payment").
  void Exec(const std::string& database, const std::string& sql) const;

 private:
  BenchTarget();

  TargetInfo info_;
  std::unique_ptr<testing::LocalServers> servers_;
  std::unique_ptr<testing::Stack> stack_;
};

}  // namespace payonce::bench
