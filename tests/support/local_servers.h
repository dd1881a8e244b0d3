// Test support: a private PostgreSQL and Redis on free loopback ports in a
// temporary folder (never the dev stack), real service processes, and
// polling with deadlines instead of sleeps.
#pragma once

#include <sys/types.h>

#include <chrono>
#include <functional>
#include <map>
#include <string>
#include <vector>

namespace payonce::testing {

// A TCP port on 127.0.0.1 for a test's server, free now and held for this
// test process. It lies below Linux's ephemeral range (32768-60999), so no
// outgoing connection's source port takes it while its server starts or is
// down for a restart, and no other test process picks it: each port is
// reserved by an exclusive lock on /tmp/payonce-test-ports/PORT, released
// when the process exits. scripts/lib/localdb.sh's take_port does the same.
int FreePort();

// Polls `condition` every `interval` until it holds or `timeout` passes.
// Returns whether it held.
bool WaitUntil(const std::function<bool()>& condition, std::chrono::milliseconds timeout,
               std::chrono::milliseconds interval = std::chrono::milliseconds(20));

// PostgreSQL 15 (databases payonce_order, payonce_payment, payonce_provider,
// all migrated) and Redis, started by scripts/lib/localdb.sh.
class LocalServers {
 public:
  LocalServers();
  ~LocalServers();
  LocalServers(const LocalServers&) = delete;
  LocalServers& operator=(const LocalServers&) = delete;

  // Connection string of one database: "order", "payment" or "provider".
  std::string Dsn(const std::string& database) const;
  std::string RedisAddr() const;
  int pg_port() const { return pg_port_; }
  int redis_port() const { return redis_port_; }
  const std::string& dir() const { return dir_; }

  // Fast shutdown + start of PostgreSQL on the same port.
  void RestartPostgres();
  // A crash, not a shutdown: SIGKILL of the postmaster (`sigkill`) or
  // `pg_ctl -m immediate`; then started again through crash recovery.
  // Throws if it does not come back.
  void CrashPostgres(bool sigkill);
  void StopPostgres();
  void StartPostgres();
  void StopRedis();
  void StartRedis();

  // Runs SQL on a database and returns the first column of the first row
  // ("" if no row).
  std::string Query(const std::string& database, const std::string& sql) const;

 private:
  void Run(const std::string& args) const;

  std::string dir_;
  int pg_port_ = 0;
  int redis_port_ = 0;
};

// A real service binary started with an environment, its stderr in a file.
class ServiceProcess {
 public:
  ServiceProcess(std::string name, std::string binary, std::map<std::string, std::string> env,
                 std::string log_path);
  ~ServiceProcess();
  ServiceProcess(const ServiceProcess&) = delete;
  ServiceProcess& operator=(const ServiceProcess&) = delete;

  void Start();
  // SIGTERM and wait; returns the exit code (or 128+signal).
  int Terminate(std::chrono::milliseconds timeout = std::chrono::milliseconds(15000));
  // Sends SIGTERM without waiting (Terminate() then waits).
  void SendTerm();
  // SIGKILL and reap.
  void Kill();
  // False once the process has ended (it is reaped; last_exit() says how).
  bool running();
  // How the process last ended: its exit code, or 128+signal; -1 if unknown.
  int last_exit() const { return last_exit_; }
  pid_t pid() const { return pid_; }
  const std::string& name() const { return name_; }
  const std::map<std::string, std::string>& env() const { return env_; }
  std::string Log() const;

 private:
  std::string name_;
  std::string binary_;
  std::map<std::string, std::string> env_;
  std::string log_path_;
  pid_t pid_ = -1;
  int last_exit_ = -1;
};

// Path of a built binary, e.g. BinaryPath("services/order/order-service").
std::string BinaryPath(const std::string& relative);

// True once a gRPC server at `addr` answers SERVING for `service` ("" = server).
bool IsServing(const std::string& addr, const std::string& service = "");

// The body of an HTTP/1.0 GET of `path` at `addr` (host:port, IPv4), e.g. a
// process's /metrics; "" if it cannot be fetched within `timeout`.
std::string HttpGet(const std::string& addr, const std::string& path,
                    std::chrono::milliseconds timeout = std::chrono::milliseconds(2000));

// The sum of the samples of metric `name` in a Prometheus text `page` whose
// line contains `filter` (e.g. "result=\"retry\""; "" = every sample); 0 if
// none. `name` matches whole: "a_total" is not "a_total_bucket".
double MetricSum(const std::string& page, const std::string& name, const std::string& filter = "");

}  // namespace payonce::testing
