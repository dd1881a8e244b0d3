#include "services/payment/adapters/redis/redis_cache.h"

#include <hiredis/hiredis.h>
#include <sys/time.h>

namespace payonce::payment {
namespace {

timeval ToTimeval(std::chrono::milliseconds ms) {
  timeval tv{};
  tv.tv_sec = static_cast<time_t>(ms.count() / 1000);
  tv.tv_usec = static_cast<suseconds_t>((ms.count() % 1000) * 1000);
  return tv;
}

}  // namespace

void RedisCache::ContextDeleter::operator()(redisContext* c) const { redisFree(c); }

RedisCache::RedisCache(RedisOptions options, Logger& log)
    : options_(std::move(options)), log_(log) {
  const auto colon = options_.addr.rfind(':');
  if (colon != std::string::npos) {
    host_ = options_.addr.substr(0, colon);
    port_ = std::stoi(options_.addr.substr(colon + 1));
  }
}

RedisCache::~RedisCache() = default;

absl::StatusOr<RedisCache::Context> RedisCache::Acquire() {
  {
    std::lock_guard<std::mutex> lock(mu_);
    if (host_.empty()) return absl::UnavailableError("redis disabled");
    if (std::chrono::steady_clock::now() < down_until_) {
      return absl::UnavailableError("redis marked down; backing off");
    }
    if (!idle_.empty()) {
      Context ctx = std::move(idle_.back());
      idle_.pop_back();
      return ctx;
    }
    if (open_ >= options_.pool_size) return absl::UnavailableError("redis pool exhausted");
    ++open_;
  }
  const timeval tv = ToTimeval(options_.timeout);
  Context ctx(redisConnectWithTimeout(host_.c_str(), port_, tv));
  if (!ctx || ctx->err) {
    const std::string why = ctx ? ctx->errstr : "allocation failed";
    {
      std::lock_guard<std::mutex> lock(mu_);
      --open_;
    }
    MarkDown(why);
    return absl::UnavailableError("redis connect failed: " + why);
  }
  redisSetTimeout(ctx.get(), tv);
  return ctx;
}

void RedisCache::Release(Context ctx) {
  std::lock_guard<std::mutex> lock(mu_);
  idle_.push_back(std::move(ctx));
}

void RedisCache::MarkDown(const std::string& why) {
  std::lock_guard<std::mutex> lock(mu_);
  const auto now = std::chrono::steady_clock::now();
  if (now >= down_until_) log_.Warn("redis unavailable; using PostgreSQL only", {{"error", why}});
  down_until_ = now + options_.down_backoff;
  // Idle connections are likely dead too.
  open_ -= static_cast<int>(idle_.size());
  idle_.clear();
}

template <class T, class Handle>
absl::StatusOr<T> RedisCache::Command(const std::vector<std::string>& args, Handle&& handle) {
  auto ctx = Acquire();
  if (!ctx.ok()) return ctx.status();
  std::vector<const char*> argv;
  std::vector<size_t> argl;
  for (const auto& a : args) {
    argv.push_back(a.data());
    argl.push_back(a.size());
  }
  auto* reply = static_cast<redisReply*>(
      redisCommandArgv(ctx->get(), static_cast<int>(args.size()), argv.data(), argl.data()));
  if (reply == nullptr) {
    const std::string why = (*ctx)->errstr;
    {
      std::lock_guard<std::mutex> lock(mu_);
      --open_;
    }
    ctx->reset();
    MarkDown(why);
    return absl::UnavailableError("redis command failed: " + why);
  }
  std::unique_ptr<redisReply, void (*)(void*)> owned(reply, freeReplyObject);
  Release(std::move(*ctx));
  if (reply->type == REDIS_REPLY_ERROR) {
    return absl::InternalError("redis error: " + std::string(reply->str, reply->len));
  }
  return handle(*reply);
}

absl::StatusOr<bool> RedisCache::SetIfAbsent(const std::string& key, const std::string& value,
                                             std::chrono::milliseconds ttl) {
  return Command<bool>({"SET", key, value, "NX", "PX", std::to_string(ttl.count())},
                       [](const redisReply& r) -> absl::StatusOr<bool> {
                         return r.type == REDIS_REPLY_STATUS;  // "OK"; nil when it existed
                       });
}

absl::StatusOr<std::optional<std::string>> RedisCache::Get(const std::string& key) {
  return Command<std::optional<std::string>>(
      {"GET", key}, [](const redisReply& r) -> absl::StatusOr<std::optional<std::string>> {
        if (r.type == REDIS_REPLY_STRING)
          return std::optional<std::string>(std::string(r.str, r.len));
        return std::optional<std::string>();
      });
}

absl::Status RedisCache::Set(const std::string& key, const std::string& value,
                             std::chrono::milliseconds ttl) {
  return Command<bool>({"SET", key, value, "PX", std::to_string(ttl.count())},
                       [](const redisReply&) -> absl::StatusOr<bool> { return true; })
      .status();
}

absl::Status RedisCache::Delete(const std::string& key) {
  return Command<bool>({"DEL", key}, [](const redisReply&) -> absl::StatusOr<bool> { return true; })
      .status();
}

}  // namespace payonce::payment
