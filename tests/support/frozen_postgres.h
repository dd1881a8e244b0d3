// Test support: a LocalServers' PostgreSQL frozen with SIGSTOP. Its sockets
// stay open and the kernel keeps accepting bytes, but nothing answers, like a
// frozen host or a stopped VM: the case where no timeout of the server's own
// (statement_timeout) fires and TCP keepalives are still answered.
#pragma once

#include <sys/types.h>

#include <vector>

#include "tests/support/local_servers.h"

namespace payonce::testing {

class FrozenPostgres {
 public:
  // Stops the postmaster (first, so that it starts no backend that would
  // escape) and every backend.
  explicit FrozenPostgres(const LocalServers& servers);
  // Thaws it, if Thaw() was not called.
  ~FrozenPostgres();
  FrozenPostgres(const FrozenPostgres&) = delete;
  FrozenPostgres& operator=(const FrozenPostgres&) = delete;

  // SIGCONT to every process stopped.
  void Thaw();

  // True when process `pid` has a TCP connection to this PostgreSQL whose
  // request the server has not read: the process is waiting on it.
  bool Awaits(pid_t pid) const;

 private:
  int pg_port_;
  std::vector<pid_t> stopped_;
};

}  // namespace payonce::testing
