// A bounded pool of libpqxx connections. Broken connections are dropped and
// replaced on demand, so the pool survives a PostgreSQL restart: the call in
// flight gets UNAVAILABLE, later calls get a fresh connection.
#pragma once

#include <chrono>
#include <condition_variable>
#include <exception>
#include <functional>
#include <map>
#include <memory>
#include <mutex>
#include <pqxx/pqxx>
#include <string>
#include <string_view>
#include <type_traits>
#include <vector>

#include "absl/status/status.h"
#include "absl/status/statusor.h"
#include "services/common/log.h"

namespace payonce {

struct PgPoolOptions {
  std::string dsn;
  int size = 8;
  std::chrono::milliseconds acquire_timeout{2000};
  std::chrono::milliseconds statement_timeout{5000};
  std::chrono::seconds connect_timeout{5};
};

// Maps a libpqxx exception to a status: broken_connection -> UNAVAILABLE,
// in_doubt_error / statement_completion_unknown -> UNKNOWN (never blindly
// retried), serialization/deadlock -> ABORTED, unique_violation ->
// ALREADY_EXISTS, statement timeout -> DEADLINE_EXCEEDED, others -> INTERNAL.
absl::Status StatusFromPgException(std::exception_ptr error);

// Runs `attempt` until it succeeds, fails with anything but UNAVAILABLE, or
// `timeout` has passed, 500 ms apart; logs `waiting` (a warning) with the
// error before each new try. For start-up, where the database may not be
// reachable yet. Returns the last attempt's status.
absl::Status RetryWhileUnavailable(std::chrono::milliseconds timeout, Logger& log,
                                   std::string_view waiting,
                                   const std::function<absl::Status()>& attempt);

class PgPool {
 public:
  // Called on each new connection, e.g. to prepare statements.
  using OnConnect = std::function<void(pqxx::connection&)>;

  PgPool(PgPoolOptions options, Logger& log, OnConnect on_connect = {});
  ~PgPool();
  PgPool(const PgPool&) = delete;
  PgPool& operator=(const PgPool&) = delete;

  // Runs `fn(pqxx::connection&)`, which returns absl::Status or
  // absl::StatusOr<T>; exceptions become statuses (see above).
  template <class Fn>
  auto WithConnection(Fn&& fn) -> std::invoke_result_t<Fn, pqxx::connection&> {
    auto lease = Acquire();
    if (!lease.ok()) return lease.status();
    try {
      auto result = fn(*lease->conn);
      Release(std::move(lease->conn), false);
      return result;
    } catch (...) {
      const auto error = std::current_exception();
      Release(std::move(lease->conn), IsBroken(error));
      return StatusFromPgException(error);
    }
  }

  // Runs `fn(pqxx::work&)` in one transaction and commits it if `fn`
  // returns OK; rolls back otherwise.
  template <class Fn>
  auto InTransaction(Fn&& fn) -> std::invoke_result_t<Fn, pqxx::work&> {
    return WithConnection([&](pqxx::connection& c) -> std::invoke_result_t<Fn, pqxx::work&> {
      pqxx::work tx(c);
      auto result = fn(tx);
      if (StatusOf(result).ok()) tx.commit();
      return result;
    });
  }

  // Opens (or reuses) a connection and runs SELECT 1.
  absl::Status Ping();

  // Connections currently open (idle + leased).
  int OpenConnections() const;

  // For the end of a shutdown drain: makes every call in flight fail now
  // (UNAVAILABLE) by shutting down its connection's socket, and every later
  // call at once. libpq has no client-side timeout, so a call waiting on a
  // server that does not answer (stopped, frozen) would otherwise wait
  // forever; the server rolls back whatever such a call had not committed.
  void AbortInFlight();

 private:
  struct Lease {
    std::unique_ptr<pqxx::connection> conn;
  };
  absl::StatusOr<Lease> Acquire();
  void Release(std::unique_ptr<pqxx::connection> conn, bool broken);
  // Opens a connection (bounded by connect_timeout) and prepares its session;
  // the session setup is already abortable.
  std::unique_ptr<pqxx::connection> Connect();
  // Records a connection as leased, with its socket; false once aborted.
  bool Track(const pqxx::connection& conn);
  void Untrack(const pqxx::connection* conn);
  static bool IsBroken(std::exception_ptr error);
  static absl::Status StatusOf(const absl::Status& s) { return s; }
  template <class T>
  static absl::Status StatusOf(const absl::StatusOr<T>& s) {
    return s.status();
  }

  const PgPoolOptions options_;
  const std::string dsn_;
  Logger& log_;
  OnConnect on_connect_;
  mutable std::mutex mu_;
  std::condition_variable cv_;
  std::vector<std::unique_ptr<pqxx::connection>> idle_;
  // Leased connections and their sockets, for AbortInFlight.
  std::map<const pqxx::connection*, int> leased_;
  int open_ = 0;
  bool aborted_ = false;
};

}  // namespace payonce
