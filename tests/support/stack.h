// Test support: the real PayOnce processes (order-service, payment-service,
// provider-sandbox, outbox-relays) started on free loopback ports against a
// LocalServers instance, each stoppable, killable and restartable.
#pragma once

#include <map>
#include <memory>
#include <string>
#include <vector>

#include "tests/support/local_servers.h"

namespace payonce::testing {

inline constexpr const char* kStackSecret = "e2e-secret";

class Stack {
 public:
  // `extra_env` is added to every process (e.g. relay timings);
  // `payment_replicas` payment-service processes share one database.
  Stack(LocalServers& servers, std::map<std::string, std::string> extra_env = {},
        int payment_replicas = 1);
  ~Stack();

  // Starts everything with `relays` relay replicas and waits until each
  // gRPC server is SERVING. Fails the test (ADD_FAILURE) if one is not.
  void StartAll(int relays = 1);

  ServiceProcess& order() { return *order_; }
  ServiceProcess& payment(size_t i = 0) { return *payments_.at(i); }
  size_t payment_replicas() const { return payments_.size(); }
  ServiceProcess& sandbox() { return *sandbox_; }
  ServiceProcess& relay(size_t i) { return *relays_.at(i); }
  // Adds and starts one more relay replica with `env` on top; returns its
  // index.
  size_t AddRelay(std::map<std::string, std::string> env = {});
  // Adds and starts one reconciler replica with `env` on top; returns its index.
  size_t AddReconciler(std::map<std::string, std::string> env = {});
  ServiceProcess& reconciler(size_t i) { return *reconcilers_.at(i); }

  const std::string& order_addr() const { return order_addr_; }
  // A gRPC target naming every payment replica ("ipv4:a,b"; round robin).
  const std::string& payment_addr() const { return payment_addr_; }
  // The address of one payment replica.
  const std::string& payment_replica_addr(size_t i) const { return payment_addrs_.at(i); }
  const std::string& sandbox_addr() const { return sandbox_addr_; }

  // Starts a stopped process again and waits for SERVING (if it serves gRPC;
  // else until its metrics endpoint answers). Relays and reconcilers are
  // started the same way by AddRelay/AddReconciler, so a test's SIGTERM never
  // reaches a process before it handles signals.
  bool Restart(ServiceProcess& process, const std::string& grpc_addr = "");
  // Everything the processes logged, for failure messages.
  std::string Logs() const;

 private:
  std::unique_ptr<ServiceProcess> Make(const std::string& name, const std::string& binary,
                                       std::map<std::string, std::string> env);

  LocalServers& servers_;
  std::map<std::string, std::string> extra_env_;
  std::string order_addr_;
  std::string payment_addr_;
  std::string sandbox_addr_;
  std::unique_ptr<ServiceProcess> order_;
  std::vector<std::string> payment_addrs_;
  std::vector<std::unique_ptr<ServiceProcess>> payments_;
  std::unique_ptr<ServiceProcess> sandbox_;
  std::vector<std::unique_ptr<ServiceProcess>> relays_;
  std::vector<std::unique_ptr<ServiceProcess>> reconcilers_;
};

}  // namespace payonce::testing
