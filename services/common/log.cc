#include "services/common/log.h"

#include <spdlog/sinks/stdout_sinks.h>
#include <spdlog/spdlog.h>

#include <chrono>
#include <ctime>

namespace payonce {
namespace {

spdlog::level::level_enum ParseLevel(std::string_view level) {
  if (level == "debug") return spdlog::level::debug;
  if (level == "warn") return spdlog::level::warn;
  if (level == "error") return spdlog::level::err;
  return spdlog::level::info;
}

std::string NowRfc3339() {
  const auto now = std::chrono::system_clock::now();
  const auto secs = std::chrono::system_clock::to_time_t(now);
  const auto millis =
      std::chrono::duration_cast<std::chrono::milliseconds>(now.time_since_epoch()).count() % 1000;
  std::tm tm{};
  gmtime_r(&secs, &tm);
  char buf[96];
  std::snprintf(buf, sizeof buf, "%04d-%02d-%02dT%02d:%02d:%02d.%03dZ", tm.tm_year + 1900,
                tm.tm_mon + 1, tm.tm_mday, tm.tm_hour, tm.tm_min, tm.tm_sec,
                static_cast<int>(millis));
  return buf;
}

}  // namespace

Logger::Logger(std::string service, std::string_view level)
    : service_(std::move(service)),
      sink_(std::make_shared<spdlog::logger>(service_,
                                             std::make_shared<spdlog::sinks::stderr_sink_mt>())) {
  sink_->set_pattern("%v");
  sink_->set_level(ParseLevel(level));
  sink_->flush_on(spdlog::level::trace);
}

Logger::~Logger() = default;

bool Logger::IsValidLevel(std::string_view level) {
  return level == "debug" || level == "info" || level == "warn" || level == "error";
}

void Logger::Debug(std::string_view msg, const Fields& fields) {
  Write(spdlog::level::debug, "debug", msg, fields);
}
void Logger::Info(std::string_view msg, const Fields& fields) {
  Write(spdlog::level::info, "info", msg, fields);
}
void Logger::Warn(std::string_view msg, const Fields& fields) {
  Write(spdlog::level::warn, "warn", msg, fields);
}
void Logger::Error(std::string_view msg, const Fields& fields) {
  Write(spdlog::level::err, "error", msg, fields);
}

void Logger::Write(int level, std::string_view level_name, std::string_view msg,
                   const Fields& fields) {
  const auto lvl = static_cast<spdlog::level::level_enum>(level);
  if (!sink_->should_log(lvl)) return;
  nlohmann::json line = {
      {"ts", NowRfc3339()}, {"level", level_name}, {"service", service_}, {"msg", msg}};
  if (fields.is_object()) {
    for (const auto& [k, v] : fields.items()) line[k] = v;
  }
  sink_->log(lvl, line.dump(-1, ' ', false, nlohmann::json::error_handler_t::replace));
}

}  // namespace payonce
