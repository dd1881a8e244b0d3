#include "tests/support/local_servers.h"

#include <arpa/inet.h>
#include <fcntl.h>
#include <grpcpp/generic/generic_stub.h>
#include <grpcpp/grpcpp.h>
#include <grpcpp/health_check_service_interface.h>
#include <netinet/in.h>
#include <signal.h>
#include <sys/file.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#include <condition_variable>
#include <cstdio>
#include <cstdlib>
#include <fstream>
#include <mutex>
#include <pqxx/pqxx>
#include <random>
#include <sstream>
#include <stdexcept>
#include <thread>

#include "services/common/log.h"
#include "services/common/migration_set.h"
#include "services/common/migrator.h"

#ifndef PAYONCE_SOURCE_DIR
#error "PAYONCE_SOURCE_DIR must be defined"
#endif
#ifndef PAYONCE_BINARY_DIR
#error "PAYONCE_BINARY_DIR must be defined"
#endif

namespace payonce::testing {
namespace {

std::string LocalDb() { return std::string(PAYONCE_SOURCE_DIR) + "/scripts/lib/localdb.sh"; }

std::string ReadFile(const std::string& path) {
  std::ifstream in(path);
  std::stringstream ss;
  ss << in.rdbuf();
  return ss.str();
}

}  // namespace

int FreePort() {
  // The ports test servers use: below the ephemeral range, above the usual
  // services (scripts/lib/localdb.sh uses the same range and lock files).
  constexpr int kFirst = 20000;
  constexpr int kLast = 32767;
  static std::mutex mu;
  static std::mt19937 random(std::random_device{}());
  std::lock_guard<std::mutex> lock(mu);
  mkdir("/tmp/payonce-test-ports", 0777);
  for (int attempt = 0; attempt < 1000; ++attempt) {
    const int port = std::uniform_int_distribution<int>(kFirst, kLast)(random);
    const std::string path = "/tmp/payonce-test-ports/" + std::to_string(port);
    const int lock_fd = open(path.c_str(), O_CREAT | O_RDWR | O_CLOEXEC, 0666);
    if (lock_fd < 0) continue;
    if (flock(lock_fd, LOCK_EX | LOCK_NB) != 0) {  // another test process holds it
      close(lock_fd);
      continue;
    }
    const int fd = socket(AF_INET, SOCK_STREAM, 0);
    sockaddr_in addr{};
    addr.sin_family = AF_INET;
    addr.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    addr.sin_port = htons(static_cast<uint16_t>(port));
    const bool free = bind(fd, reinterpret_cast<sockaddr*>(&addr), sizeof addr) == 0;
    close(fd);
    if (!free) {  // something outside the tests listens there
      close(lock_fd);
      continue;
    }
    return port;  // lock_fd stays open: the port is this process's until it exits
  }
  throw std::runtime_error("no free port in 20000-32767");
}

bool WaitUntil(const std::function<bool()>& condition, std::chrono::milliseconds timeout,
               std::chrono::milliseconds interval) {
  const auto deadline = std::chrono::steady_clock::now() + timeout;
  while (true) {
    if (condition()) return true;
    if (std::chrono::steady_clock::now() >= deadline) return false;
    std::this_thread::sleep_for(interval);
  }
}

LocalServers::LocalServers() {
  char tmpl[] = "/tmp/payonce-test-XXXXXX";
  if (mkdtemp(tmpl) == nullptr) throw std::runtime_error("mkdtemp failed");
  dir_ = tmpl;
  pg_port_ = FreePort();
  redis_port_ = FreePort();
  Run("pg-start " + dir_ + " " + std::to_string(pg_port_));
  Run("redis-start " + dir_ + " " + std::to_string(redis_port_));
  Logger log("test-migrate", "warn");
  for (const MigrationSet* set :
       {&migrations::order(), &migrations::payment(), &migrations::provider()}) {
    pqxx::connection conn(Dsn(set->database));
    const auto status = ApplyMigrations(conn, *set, log);
    if (!status.ok())
      throw std::runtime_error("migration failed: " + std::string(status.message()));
  }
}

LocalServers::~LocalServers() {
  try {
    Run("redis-stop " + dir_);
    Run("pg-stop " + dir_);
  } catch (...) {
  }
  if (std::getenv("PAYONCE_KEEP_TEST_DIR") == nullptr) {
    std::system(("rm -rf " + dir_).c_str());
  }
}

void LocalServers::Run(const std::string& args) const {
  const std::string cmd = LocalDb() + " " + args + " >>" + dir_ + "/localdb.log 2>&1";
  if (std::system(cmd.c_str()) != 0) {
    throw std::runtime_error("localdb.sh " + args + " failed:\n" + ReadFile(dir_ + "/localdb.log"));
  }
}

std::string LocalServers::Dsn(const std::string& database) const {
  return "postgresql://payonce@127.0.0.1:" + std::to_string(pg_port_) + "/payonce_" + database;
}

std::string LocalServers::RedisAddr() const { return "127.0.0.1:" + std::to_string(redis_port_); }

void LocalServers::RestartPostgres() { Run("pg-restart " + dir_); }
void LocalServers::CrashPostgres(bool sigkill) {
  Run("pg-crash " + dir_ + (sigkill ? " kill9" : " immediate"));
}
void LocalServers::StopPostgres() { Run("pg-stop " + dir_); }
void LocalServers::StartPostgres() { Run("pg-start " + dir_ + " " + std::to_string(pg_port_)); }
void LocalServers::StopRedis() { Run("redis-stop " + dir_); }
void LocalServers::StartRedis() { Run("redis-start " + dir_ + " " + std::to_string(redis_port_)); }

std::string LocalServers::Query(const std::string& database, const std::string& sql) const {
  pqxx::connection conn(Dsn(database));
  pqxx::nontransaction tx(conn);
  const auto r = tx.exec(sql);
  if (r.empty() || r[0][0].is_null()) return "";
  return r[0][0].as<std::string>();
}

ServiceProcess::ServiceProcess(std::string name, std::string binary,
                               std::map<std::string, std::string> env, std::string log_path)
    : name_(std::move(name)),
      binary_(std::move(binary)),
      env_(std::move(env)),
      log_path_(std::move(log_path)) {}

ServiceProcess::~ServiceProcess() {
  if (pid_ > 0) Kill();
}

void ServiceProcess::Start() {
  const pid_t pid = fork();
  if (pid < 0) throw std::runtime_error("fork failed");
  if (pid == 0) {
    // Child: fresh signal mask, env, stderr/stdout to the log.
    sigset_t none;
    sigemptyset(&none);
    sigprocmask(SIG_SETMASK, &none, nullptr);
    for (const auto& [k, v] : env_) setenv(k.c_str(), v.c_str(), 1);
    const int fd = open(log_path_.c_str(), O_WRONLY | O_CREAT | O_APPEND, 0644);
    if (fd >= 0) {
      dup2(fd, 1);
      dup2(fd, 2);
      close(fd);
    }
    execl(binary_.c_str(), binary_.c_str(), static_cast<char*>(nullptr));
    _exit(127);
  }
  pid_ = pid;
}

int ServiceProcess::Terminate(std::chrono::milliseconds timeout) {
  if (pid_ <= 0) return -1;
  kill(pid_, SIGTERM);
  int status = 0;
  const bool exited = WaitUntil([&] { return waitpid(pid_, &status, WNOHANG) == pid_; }, timeout);
  if (!exited) {
    kill(pid_, SIGKILL);
    waitpid(pid_, &status, 0);
  }
  pid_ = -1;
  if (WIFEXITED(status)) return WEXITSTATUS(status);
  if (WIFSIGNALED(status)) return 128 + WTERMSIG(status);
  return -1;
}

void ServiceProcess::SendTerm() {
  if (pid_ > 0) kill(pid_, SIGTERM);
}

void ServiceProcess::Kill() {
  if (pid_ <= 0) return;
  kill(pid_, SIGKILL);
  int status = 0;
  waitpid(pid_, &status, 0);
  pid_ = -1;
}

bool ServiceProcess::running() {
  if (pid_ <= 0) return false;
  int status = 0;
  if (waitpid(pid_, &status, WNOHANG) == pid_) {
    pid_ = -1;
    last_exit_ = WIFEXITED(status) ? WEXITSTATUS(status) : 128 + WTERMSIG(status);
    return false;
  }
  return true;
}

std::string ServiceProcess::Log() const { return ReadFile(log_path_); }

std::string BinaryPath(const std::string& relative) {
  return std::string(PAYONCE_BINARY_DIR) + "/" + relative;
}

bool IsServing(const std::string& addr, const std::string& service) {
  auto channel = grpc::CreateChannel(addr, grpc::InsecureChannelCredentials());
  grpc::ClientContext ctx;
  ctx.set_deadline(std::chrono::system_clock::now() + std::chrono::milliseconds(500));
  // grpc.health.v1.HealthCheckRequest{service} / HealthCheckResponse{status},
  // encoded by hand: field 1, length-delimited / varint.
  grpc::ByteBuffer request;
  std::string payload;
  if (!service.empty()) {
    payload.push_back(0x0A);
    payload.push_back(static_cast<char>(service.size()));
    payload += service;
  }
  grpc::Slice slice(payload);
  request = grpc::ByteBuffer(&slice, 1);
  grpc::GenericStub stub(channel);
  grpc::ByteBuffer response;
  std::mutex mu;
  std::condition_variable cv;
  bool done = false;
  grpc::Status result;
  stub.UnaryCall(&ctx, "/grpc.health.v1.Health/Check", grpc::StubOptions(), &request, &response,
                 [&](grpc::Status s) {
                   std::lock_guard<std::mutex> lock(mu);
                   result = std::move(s);
                   done = true;
                   cv.notify_one();
                 });
  std::unique_lock<std::mutex> lock(mu);
  cv.wait(lock, [&] { return done; });
  if (!result.ok()) return false;
  std::vector<grpc::Slice> slices;
  response.Dump(&slices);
  std::string bytes;
  for (const auto& s : slices) bytes.append(reinterpret_cast<const char*>(s.begin()), s.size());
  return bytes == std::string("\x08\x01", 2);
}

std::string HttpGet(const std::string& addr, const std::string& path,
                    std::chrono::milliseconds timeout) {
  const auto colon = addr.rfind(':');
  if (colon == std::string::npos) return "";
  sockaddr_in sa{};
  sa.sin_family = AF_INET;
  sa.sin_port = htons(static_cast<uint16_t>(std::stoi(addr.substr(colon + 1))));
  if (inet_pton(AF_INET, addr.substr(0, colon).c_str(), &sa.sin_addr) != 1) return "";
  const int fd = socket(AF_INET, SOCK_STREAM, 0);
  if (fd < 0) return "";
  timeval tv{};
  tv.tv_sec = static_cast<time_t>(timeout.count() / 1000);
  tv.tv_usec = static_cast<suseconds_t>((timeout.count() % 1000) * 1000);
  setsockopt(fd, SOL_SOCKET, SO_RCVTIMEO, &tv, sizeof tv);
  setsockopt(fd, SOL_SOCKET, SO_SNDTIMEO, &tv, sizeof tv);
  std::string response;
  if (connect(fd, reinterpret_cast<sockaddr*>(&sa), sizeof sa) == 0) {
    const std::string request = "GET " + path + " HTTP/1.0\r\nHost: " + addr + "\r\n\r\n";
    if (send(fd, request.data(), request.size(), MSG_NOSIGNAL) ==
        static_cast<ssize_t>(request.size())) {
      char buf[8192];
      ssize_t n = 0;
      while ((n = recv(fd, buf, sizeof buf, 0)) > 0) response.append(buf, static_cast<size_t>(n));
    }
  }
  close(fd);
  const auto body = response.find("\r\n\r\n");
  return body == std::string::npos ? "" : response.substr(body + 4);
}

double MetricSum(const std::string& page, const std::string& name, const std::string& filter) {
  double total = 0;
  std::istringstream lines(page);
  std::string line;
  while (std::getline(lines, line)) {
    if (line.rfind(name, 0) != 0 || line.size() <= name.size()) continue;
    if (line[name.size()] != '{' && line[name.size()] != ' ') continue;
    if (line.find(filter) == std::string::npos) continue;
    total += std::stod(line.substr(line.rfind(' ') + 1));
  }
  return total;
}

}  // namespace payonce::testing
