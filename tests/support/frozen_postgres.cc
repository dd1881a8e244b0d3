#include "tests/support/frozen_postgres.h"

#include <signal.h>

#include <algorithm>
#include <filesystem>
#include <fstream>
#include <set>
#include <sstream>
#include <stdexcept>
#include <string>

namespace payonce::testing {
namespace {

std::string ReadFile(const std::string& path) {
  std::ifstream in(path);
  std::stringstream ss;
  ss << in.rdbuf();
  return ss.str();
}

// The processes whose parent is `parent` (from /proc/PID/stat).
std::vector<pid_t> ChildrenOf(pid_t parent) {
  std::vector<pid_t> children;
  for (const auto& entry : std::filesystem::directory_iterator("/proc")) {
    const std::string name = entry.path().filename();
    if (name.find_first_not_of("0123456789") != std::string::npos) continue;
    const std::string stat = ReadFile(entry.path().string() + "/stat");
    // "PID (COMM) STATE PPID ...": COMM may hold spaces and parentheses.
    const auto close = stat.rfind(')');
    if (close == std::string::npos) continue;
    std::istringstream rest(stat.substr(close + 1));
    std::string state;
    pid_t ppid = 0;
    if (rest >> state >> ppid && ppid == parent) children.push_back(std::stoi(name));
  }
  return children;
}

// One line of /proc/PID/net/tcp: ports, bytes received and not read yet,
// socket inode.
struct TcpSocket {
  int local_port = 0;
  int remote_port = 0;
  unsigned long unread = 0;
  unsigned long inode = 0;
};

// The IPv4 TCP sockets of the network namespace of process `pid`.
std::vector<TcpSocket> TcpSockets(pid_t pid) {
  std::vector<TcpSocket> sockets;
  std::istringstream table(ReadFile("/proc/" + std::to_string(pid) + "/net/tcp"));
  std::string line;
  std::getline(table, line);  // header
  while (std::getline(table, line)) {
    std::istringstream f(line);
    std::string slot, local, remote, state, queues, timer, retransmits, uid, timeout;
    TcpSocket s;
    if (!(f >> slot >> local >> remote >> state >> queues >> timer >> retransmits >> uid >>
          timeout >> s.inode)) {
      continue;
    }
    s.local_port = std::stoi(local.substr(local.find(':') + 1), nullptr, 16);
    s.remote_port = std::stoi(remote.substr(remote.find(':') + 1), nullptr, 16);
    s.unread = std::stoul(queues.substr(queues.find(':') + 1), nullptr, 16);
    sockets.push_back(s);
  }
  return sockets;
}

// What the backend serving the client at 127.0.0.1:`client_port` is doing,
// from its process title ("postgres: USER DB 127.0.0.1(PORT) STATE"): "idle",
// "idle in transaction", a command tag ("SELECT", ...); "" if none serves it.
// `backend_pid` is set to the backend's pid when one serves it.
std::string BackendState(const std::vector<pid_t>& backends, int client_port,
                         pid_t* backend_pid = nullptr) {
  const std::string needle = std::string("(").append(std::to_string(client_port)).append(") ");
  for (const pid_t backend : backends) {
    std::string title = ReadFile("/proc/" + std::to_string(backend) + "/cmdline");
    std::replace(title.begin(), title.end(), '\0', ' ');
    const auto at = title.find(needle);
    if (at == std::string::npos) continue;
    std::string state = title.substr(at + needle.size());
    state.erase(state.find_last_not_of(' ') + 1);
    if (backend_pid != nullptr) *backend_pid = backend;
    return state;
  }
  return "";
}

// Whether stopped process `pid` was stopped outside a system call, i.e. while
// working (/proc/PID/syscall reads "running" or "-1 ..."). An idle backend
// waits for its client inside a system call (epoll_wait); one stopped after it
// read a query but before its process title said so is caught here.
bool StoppedWhileWorking(pid_t pid) {
  std::istringstream in(ReadFile("/proc/" + std::to_string(pid) + "/syscall"));
  std::string first;
  if (!(in >> first)) return false;
  return first == "running" || first == "-1";
}

// Inodes of the sockets process `pid` has open.
std::set<unsigned long> SocketInodes(pid_t pid) {
  std::set<unsigned long> inodes;
  std::error_code ec;
  for (const auto& fd :
       std::filesystem::directory_iterator("/proc/" + std::to_string(pid) + "/fd", ec)) {
    const std::string target = std::filesystem::read_symlink(fd.path(), ec).string();
    if (target.rfind("socket:[", 0) == 0) inodes.insert(std::stoul(target.substr(8)));
  }
  return inodes;
}

}  // namespace

FrozenPostgres::FrozenPostgres(const LocalServers& servers) : pg_port_(servers.pg_port()) {
  const std::string pid_file = ReadFile(servers.dir() + "/pg/data/postmaster.pid");
  const pid_t postmaster = std::stoi(pid_file.substr(0, pid_file.find('\n')));
  if (kill(postmaster, SIGSTOP) != 0) throw std::runtime_error("cannot stop the postmaster");
  stopped_.push_back(postmaster);
  for (const pid_t child : ChildrenOf(postmaster)) {
    if (kill(child, SIGSTOP) == 0) stopped_.push_back(child);
  }
}

FrozenPostgres::~FrozenPostgres() { Thaw(); }

void FrozenPostgres::Thaw() {
  for (const pid_t pid : stopped_) kill(pid, SIGCONT);
  stopped_.clear();
}

bool FrozenPostgres::Awaits(pid_t pid) const {
  const std::set<unsigned long> inodes = SocketInodes(pid);
  const std::vector<TcpSocket> sockets = TcpSockets(pid);
  // The process's ends of its connections to the server: one whose backend
  // was stopped while working on a request waits for the answer...
  std::set<int> client_ports;
  for (const auto& s : sockets) {
    if (s.remote_port != pg_port_ || inodes.count(s.inode) == 0) continue;
    pid_t backend = 0;
    const std::string state = BackendState(stopped_, s.local_port, &backend);
    if (!state.empty() && state.rfind("idle", 0) != 0) return true;
    if (state == "idle" && StoppedWhileWorking(backend)) return true;
    client_ports.insert(s.local_port);
  }
  // ...and so does one whose request the server has not read yet (a backend
  // waiting for it, or the postmaster for a new connection's first bytes).
  for (const auto& s : sockets) {
    if (s.local_port == pg_port_ && client_ports.count(s.remote_port) > 0 && s.unread > 0) {
      return true;
    }
  }
  return false;
}

}  // namespace payonce::testing
