#include "services/common/pg_pool.h"

#include <sys/socket.h>

#include <string>
#include <thread>

namespace payonce {
namespace {

// pqxx 6 silently reconnects a connection that broke, on its next use. That
// loses the session settings made in Connect(), opens a socket AbortInFlight
// does not know, and, with the database frozen, blocks in the reconnect (a
// rollback after a broken call would wait connect_timeout). The pool replaces
// broken connections itself, so a broken connection must just fail.
void DisableSilentReconnect(pqxx::connection& conn) {
#pragma GCC diagnostic push
#pragma GCC diagnostic ignored "-Wdeprecated-declarations"
  conn.inhibit_reactivation(true);
#pragma GCC diagnostic pop
}

// Adds connect_timeout to a key=value or URI connection string.
std::string WithConnectTimeout(const std::string& dsn, std::chrono::seconds timeout) {
  if (dsn.find("connect_timeout") != std::string::npos) return dsn;
  const std::string value = std::to_string(timeout.count());
  if (dsn.rfind("postgres://", 0) == 0 || dsn.rfind("postgresql://", 0) == 0) {
    return dsn + (dsn.find('?') == std::string::npos ? "?" : "&") + "connect_timeout=" + value;
  }
  return dsn + " connect_timeout=" + value;
}

}  // namespace

absl::Status RetryWhileUnavailable(std::chrono::milliseconds timeout, Logger& log,
                                   std::string_view waiting,
                                   const std::function<absl::Status()>& attempt) {
  const auto deadline = std::chrono::steady_clock::now() + timeout;
  while (true) {
    absl::Status status = attempt();
    if (status.ok() || status.code() != absl::StatusCode::kUnavailable ||
        std::chrono::steady_clock::now() >= deadline) {
      return status;
    }
    log.Warn(waiting, {{"error", std::string(status.message())}});
    std::this_thread::sleep_for(std::chrono::milliseconds(500));
  }
}

absl::Status StatusFromPgException(std::exception_ptr error) {
  try {
    std::rethrow_exception(error);
  } catch (const pqxx::broken_connection& e) {
    return absl::UnavailableError(std::string("database unavailable: ") + e.what());
  } catch (const pqxx::in_doubt_error& e) {
    return absl::UnknownError(std::string("database commit outcome unknown: ") + e.what());
  } catch (const pqxx::statement_completion_unknown& e) {
    return absl::UnknownError(std::string("database statement outcome unknown: ") + e.what());
  } catch (const pqxx::transaction_rollback& e) {
    return absl::AbortedError(std::string("database conflict, retry: ") + e.what());
  } catch (const pqxx::unique_violation& e) {
    return absl::AlreadyExistsError(std::string("already exists: ") + e.what());
  } catch (const pqxx::sql_error& e) {
    if (e.sqlstate() == "57014") {
      return absl::DeadlineExceededError(std::string("database statement timeout: ") + e.what());
    }
    if (e.sqlstate().rfind("57P", 0) == 0 || e.sqlstate().rfind("08", 0) == 0) {
      // admin_shutdown, crash_shutdown, cannot_connect_now, connection errors.
      return absl::UnavailableError(std::string("database unavailable: ") + e.what());
    }
    return absl::InternalError(std::string("database error: ") + e.what());
  } catch (const std::exception& e) {
    return absl::InternalError(std::string("database error: ") + e.what());
  } catch (...) {
    return absl::InternalError("database error: unknown exception");
  }
}

bool PgPool::IsBroken(std::exception_ptr error) {
  try {
    std::rethrow_exception(error);
  } catch (const pqxx::broken_connection&) {
    return true;
  } catch (const pqxx::in_doubt_error&) {
    return true;
  } catch (const pqxx::sql_error& e) {
    return e.sqlstate().rfind("57P", 0) == 0 || e.sqlstate().rfind("08", 0) == 0;
  } catch (...) {
    return false;
  }
}

PgPool::PgPool(PgPoolOptions options, Logger& log, OnConnect on_connect)
    : options_(std::move(options)),
      dsn_(WithConnectTimeout(options_.dsn, options_.connect_timeout)),
      log_(log),
      on_connect_(std::move(on_connect)) {}

PgPool::~PgPool() = default;

std::unique_ptr<pqxx::connection> PgPool::Connect() {
  auto conn = std::make_unique<pqxx::connection>(dsn_);
  DisableSilentReconnect(*conn);
  if (!Track(*conn)) throw pqxx::broken_connection("database calls aborted: shutting down");
  try {
    pqxx::nontransaction tx(*conn);
    tx.exec("SET statement_timeout = " + std::to_string(options_.statement_timeout.count()));
    tx.exec("SET idle_in_transaction_session_timeout = " +
            std::to_string(4 * options_.statement_timeout.count()));
    if (on_connect_) on_connect_(*conn);
  } catch (...) {
    Untrack(conn.get());
    throw;
  }
  return conn;
}

bool PgPool::Track(const pqxx::connection& conn) {
  std::lock_guard<std::mutex> lock(mu_);
  if (aborted_) return false;
  leased_[&conn] = conn.sock();
  return true;
}

void PgPool::Untrack(const pqxx::connection* conn) {
  std::lock_guard<std::mutex> lock(mu_);
  leased_.erase(conn);
}

absl::StatusOr<PgPool::Lease> PgPool::Acquire() {
  std::unique_lock<std::mutex> lock(mu_);
  const auto deadline = std::chrono::steady_clock::now() + options_.acquire_timeout;
  while (!aborted_ && idle_.empty() && open_ >= options_.size) {
    if (cv_.wait_until(lock, deadline) == std::cv_status::timeout && !aborted_ && idle_.empty() &&
        open_ >= options_.size) {
      return absl::UnavailableError("database pool exhausted: no connection within " +
                                    std::to_string(options_.acquire_timeout.count()) + " ms");
    }
  }
  if (aborted_) return absl::UnavailableError("database calls aborted: shutting down");
  if (!idle_.empty()) {
    Lease lease{std::move(idle_.back())};
    idle_.pop_back();
    leased_[lease.conn.get()] = lease.conn->sock();
    return lease;
  }
  ++open_;
  lock.unlock();
  try {
    return Lease{Connect()};
  } catch (...) {
    const auto status = StatusFromPgException(std::current_exception());
    {
      std::lock_guard<std::mutex> relock(mu_);
      --open_;
    }
    cv_.notify_one();
    log_.Warn("database connection failed", {{"error", std::string(status.message())}});
    return absl::UnavailableError(status.message());
  }
}

void PgPool::Release(std::unique_ptr<pqxx::connection> conn, bool broken) {
  {
    std::lock_guard<std::mutex> lock(mu_);
    leased_.erase(conn.get());
    if (broken || conn == nullptr || !conn->is_open()) {
      --open_;
      if (broken) {
        // A broken connection usually means the server restarted: the idle
        // ones are broken too, so replace them all instead of failing one
        // call per idle connection.
        open_ -= static_cast<int>(idle_.size());
        idle_.clear();
        log_.Warn("dropped broken database connections", {{"open", open_}});
      }
    } else {
      idle_.push_back(std::move(conn));
    }
  }
  cv_.notify_one();
}

absl::Status PgPool::Ping() {
  return WithConnection([](pqxx::connection& c) -> absl::Status {
    pqxx::nontransaction tx(c);
    tx.exec("SELECT 1");
    return absl::OkStatus();
  });
}

void PgPool::AbortInFlight() {
  {
    std::lock_guard<std::mutex> lock(mu_);
    if (!aborted_) log_.Warn("aborting database calls in flight", {{"in_flight", leased_.size()}});
    aborted_ = true;
    // libpq closes a leased connection's socket only after an error on it,
    // and its caller then releases it as broken; in between, the number could
    // be another socket's of this process, which is shutting down anyway.
    for (const auto& [conn, socket] : leased_) {
      if (socket >= 0) ::shutdown(socket, SHUT_RDWR);
    }
  }
  cv_.notify_all();
}

int PgPool::OpenConnections() const {
  std::lock_guard<std::mutex> lock(mu_);
  return open_;
}

}  // namespace payonce
