// FastCache on Redis (hiredis). Bounded connection pool, a timeout on every
// command, and a short back-off after a failure so a Redis outage costs one
// timeout, not one per request. Errors are reported, never hidden: callers
// fall back to PostgreSQL.
#pragma once

#include <chrono>
#include <memory>
#include <mutex>
#include <string>
#include <vector>

#include "services/common/log.h"
#include "services/payment/app/ports.h"

struct redisContext;

namespace payonce::payment {

struct RedisOptions {
  std::string addr;  // host:port; empty disables Redis (every call UNAVAILABLE)
  std::chrono::milliseconds timeout{200};
  std::chrono::milliseconds down_backoff{1000};
  int pool_size = 16;
};

class RedisCache final : public FastCache {
 public:
  RedisCache(RedisOptions options, Logger& log);
  ~RedisCache() override;

  absl::StatusOr<bool> SetIfAbsent(const std::string& key, const std::string& value,
                                   std::chrono::milliseconds ttl) override;
  absl::StatusOr<std::optional<std::string>> Get(const std::string& key) override;
  absl::Status Set(const std::string& key, const std::string& value,
                   std::chrono::milliseconds ttl) override;
  absl::Status Delete(const std::string& key) override;

 private:
  struct ContextDeleter {
    void operator()(redisContext* c) const;
  };
  using Context = std::unique_ptr<redisContext, ContextDeleter>;

  // Runs one command; the reply handler reads the reply.
  template <class T, class Handle>
  absl::StatusOr<T> Command(const std::vector<std::string>& args, Handle&& handle);
  absl::StatusOr<Context> Acquire();
  void Release(Context ctx);
  void MarkDown(const std::string& why);

  RedisOptions options_;
  std::string host_;
  int port_ = 0;
  Logger& log_;
  std::mutex mu_;
  std::vector<Context> idle_;
  int open_ = 0;
  std::chrono::steady_clock::time_point down_until_{};
};

}  // namespace payonce::payment
