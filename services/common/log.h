// Structured logging: one JSON object per line on stderr.
#pragma once

#include <memory>
#include <nlohmann/json.hpp>
#include <string>
#include <string_view>

namespace spdlog {
class logger;
}

namespace payonce {

// Writes {"ts","level","service","msg",...fields} lines to stderr. Thread-safe.
// Passed by reference to whatever needs it; there is no global logger.
class Logger {
 public:
  using Fields = nlohmann::json;

  // `service` names the process in every line; `level` is one of
  // debug|info|warn|error.
  Logger(std::string service, std::string_view level);
  ~Logger();
  Logger(const Logger&) = delete;
  Logger& operator=(const Logger&) = delete;

  // Whether `level` is a level name this logger understands.
  static bool IsValidLevel(std::string_view level);

  void Debug(std::string_view msg, const Fields& fields = Fields::object());
  void Info(std::string_view msg, const Fields& fields = Fields::object());
  void Warn(std::string_view msg, const Fields& fields = Fields::object());
  void Error(std::string_view msg, const Fields& fields = Fields::object());

  const std::string& service() const { return service_; }

 private:
  void Write(int level, std::string_view level_name, std::string_view msg, const Fields& fields);

  std::string service_;
  std::shared_ptr<spdlog::logger> sink_;
};

}  // namespace payonce
