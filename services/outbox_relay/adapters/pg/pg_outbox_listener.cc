#include "services/outbox_relay/adapters/pg/pg_outbox_listener.h"

#include <sys/socket.h>

#include <algorithm>
#include <pqxx/pqxx>
#include <thread>

namespace payonce::relay {
namespace {

// Bounds the connection attempt, as the pool does for its connections.
std::string WithConnectTimeout(const std::string& dsn) {
  if (dsn.find("connect_timeout") != std::string::npos) return dsn;
  if (dsn.rfind("postgres://", 0) == 0 || dsn.rfind("postgresql://", 0) == 0) {
    return dsn + (dsn.find('?') == std::string::npos ? "?" : "&") + "connect_timeout=5";
  }
  return dsn + " connect_timeout=5";
}

// Sends libpq notices to the JSON log instead of raw stderr lines.
class NoticeToLog final : public pqxx::errorhandler {
 public:
  NoticeToLog(pqxx::connection_base& conn, Logger& log) : pqxx::errorhandler(conn), log_(log) {}
  bool operator()(const char msg[]) noexcept override {
    try {
      log_.Debug("outbox listener notice", {{"notice", std::string(msg)}});
    } catch (...) {
    }
    return false;
  }

 private:
  Logger& log_;
};

// LISTENs on the channel; await_notification counts what arrives, so the
// notification itself (and its payload) needs no handling.
class OutboxReceiver final : public pqxx::notification_receiver {
 public:
  explicit OutboxReceiver(pqxx::connection_base& conn)
      : pqxx::notification_receiver(conn, kOutboxChannel) {}
  void operator()(const std::string&, int) override {}
};

}  // namespace

// The LISTEN connection; members are destroyed receiver first, connection
// last.
class PgOutboxListener::Session {
 public:
  Session(const std::string& dsn, Logger& log)
      : conn_(WithConnectTimeout(dsn)), notices_(conn_, log), receiver_(conn_) {}
  // Ends the session without a round trip: the receiver's destructor sends
  // UNLISTEN and waits for the answer, forever if the server is frozen. The
  // server forgets a closed session's LISTENs by itself.
  ~Session() {
    if (const int socket = conn_.sock(); socket >= 0) ::shutdown(socket, SHUT_RDWR);
  }
  Session(const Session&) = delete;
  Session& operator=(const Session&) = delete;

  pqxx::connection& conn() { return conn_; }

 private:
  pqxx::connection conn_;
  NoticeToLog notices_;
  OutboxReceiver receiver_;
};

PgOutboxListener::PgOutboxListener(std::string dsn, Logger& log, RandomSource& random,
                                   RetryPolicy reconnect)
    : dsn_(std::move(dsn)), log_(log), random_(random), reconnect_(reconnect) {}

PgOutboxListener::~PgOutboxListener() = default;

bool PgOutboxListener::Wait(std::chrono::milliseconds timeout) {
  if (!session_) {
    if (std::chrono::steady_clock::now() >= next_connect_ && Connect()) return true;
    std::this_thread::sleep_for(timeout);
    return false;
  }
  try {
    if (!session_->conn().is_open()) {
      Disconnect("connection closed");
      return false;
    }
    const long ms = static_cast<long>(std::max<int64_t>(timeout.count(), 0));
    return session_->conn().await_notification(ms / 1000, (ms % 1000) * 1000) > 0;
  } catch (const std::exception& e) {
    Disconnect(e.what());
    return false;
  }
}

bool PgOutboxListener::Connect() {
  try {
    session_ = std::make_unique<Session>(dsn_, log_);
    connected_ = true;
    log_.Info(failures_ > 0 ? "outbox listener reconnected" : "outbox listener listening",
              {{"channel", kOutboxChannel}});
    failures_ = 0;
    return true;
  } catch (const std::exception& e) {
    session_.reset();
    ++failures_;
    const auto delay = BackoffDelay(reconnect_, failures_, random_);
    next_connect_ = std::chrono::steady_clock::now() + delay;
    log_.Warn("outbox listener cannot connect; polling meanwhile",
              {{"error", e.what()}, {"retry_in_ms", delay.count()}});
    return false;
  }
}

void PgOutboxListener::Disconnect(const std::string& why) {
  log_.Warn("outbox listener lost its connection; polling meanwhile", {{"error", why}});
  session_.reset();
  connected_ = false;
  ++failures_;
  next_connect_ = std::chrono::steady_clock::now() + BackoffDelay(reconnect_, failures_, random_);
}

}  // namespace payonce::relay
