// Process configuration: PAYONCE_* environment variables, each overridable by
// a command-line flag derived from its name (PAYONCE_GRPC_LISTEN_ADDR ->
// --grpc-listen-addr). Bad values stop the process at start with one clear
// log line naming the variable and exit code 2.
#pragma once

#include <cstdint>
#include <functional>
#include <memory>
#include <string>
#include <vector>

namespace CLI {
class App;
}

namespace payonce {

class ConfigParser {
 public:
  // Returns an error message, or "" when the value is acceptable.
  using Check = std::function<std::string(const std::string&)>;

  ConfigParser(std::string program, std::string description);
  ~ConfigParser();

  // A text setting; `*target` holds the default.
  void String(const std::string& env, std::string* target, const std::string& help,
              Check check = {});
  // An integer setting in [min, max]; `*target` holds the default.
  void Int(const std::string& env, int64_t* target, int64_t min, int64_t max,
           const std::string& help);

  // Parses flags and environment. --help prints usage and exits 0; a bad
  // value prints one JSON line naming the variable and exits 2.
  void ParseOrExit(int argc, char** argv);

  // For a setting that contradicts another, after ParseOrExit: one clear log
  // line naming `variable`, exit code 2.
  [[noreturn]] void Fail(const std::string& variable, const std::string& error) const;

  // The flag for an environment variable name.
  static std::string FlagFor(const std::string& env);

 private:
  struct Setting {
    std::string env;
    std::string flag;
  };
  std::string program_;
  std::unique_ptr<CLI::App> app_;
  std::vector<Setting> settings_;
};

// Checks for common setting shapes.
namespace checks {
// "host:port" with a port in 1..65535 (host may be empty, an IP or a name).
std::string HostPort(const std::string& value);
// Not empty.
std::string NonEmpty(const std::string& value);
// debug|info|warn|error.
std::string LogLevel(const std::string& value);
}  // namespace checks

}  // namespace payonce
