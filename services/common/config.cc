#include "services/common/config.h"

#include <CLI/CLI.hpp>
#include <cctype>
#include <cstdlib>
#include <iostream>
#include <nlohmann/json.hpp>

#include "services/common/log.h"

namespace payonce {

ConfigParser::ConfigParser(std::string program, std::string description)
    : program_(std::move(program)), app_(std::make_unique<CLI::App>(std::move(description))) {
  app_->name(program_);
  app_->set_help_flag("-h,--help", "Print this help and exit");
  app_->footer("Every setting is read from its PAYONCE_* environment variable; the flag wins.");
}

ConfigParser::~ConfigParser() = default;

std::string ConfigParser::FlagFor(const std::string& env) {
  std::string name = env.rfind("PAYONCE_", 0) == 0 ? env.substr(8) : env;
  std::string flag = "--";
  for (char c : name) flag += c == '_' ? '-' : static_cast<char>(std::tolower(c));
  return flag;
}

void ConfigParser::String(const std::string& env, std::string* target, const std::string& help,
                          Check check) {
  const std::string flag = FlagFor(env);
  auto* opt =
      app_->add_option(flag, *target, help + " [" + env + "]")->envname(env)->capture_default_str();
  if (check) {
    opt->check(CLI::Validator([check](std::string& value) { return check(value); }, "", ""));
  }
  settings_.push_back({env, flag});
}

void ConfigParser::Int(const std::string& env, int64_t* target, int64_t min, int64_t max,
                       const std::string& help) {
  const std::string flag = FlagFor(env);
  app_->add_option(flag, *target, help + " [" + env + "]")
      ->envname(env)
      ->capture_default_str()
      ->check(CLI::Range(min, max));
  settings_.push_back({env, flag});
}

void ConfigParser::ParseOrExit(int argc, char** argv) {
  try {
    app_->parse(argc, argv);
  } catch (const CLI::CallForHelp& e) {
    std::exit(app_->exit(e));
  } catch (const CLI::ParseError& e) {
    const std::string what = e.what();
    std::string variable;
    for (const auto& s : settings_) {
      if (what.find(s.flag) != std::string::npos) {
        variable = s.env;
        break;
      }
    }
    Fail(variable, what);
  }
}

void ConfigParser::Fail(const std::string& variable, const std::string& error) const {
  Logger log(program_, "info");
  nlohmann::json fields = {{"error", error}, {"exit_code", 2}};
  if (!variable.empty()) fields["variable"] = variable;
  log.Error(variable.empty() ? "invalid configuration" : "invalid configuration: " + variable,
            fields);
  std::exit(2);
}

namespace checks {

std::string HostPort(const std::string& value) {
  const auto colon = value.rfind(':');
  if (colon == std::string::npos) return "expected host:port";
  const std::string port = value.substr(colon + 1);
  if (port.empty() || port.size() > 5) return "expected host:port with a port 1..65535";
  for (char c : port) {
    if (!std::isdigit(static_cast<unsigned char>(c))) return "port must be a number";
  }
  const long p = std::strtol(port.c_str(), nullptr, 10);
  if (p < 1 || p > 65535) return "port must be in 1..65535";
  return "";
}

std::string NonEmpty(const std::string& value) { return value.empty() ? "must not be empty" : ""; }

std::string LogLevel(const std::string& value) {
  return Logger::IsValidLevel(value) ? "" : "must be one of debug, info, warn, error";
}

}  // namespace checks
}  // namespace payonce
