// health: grpc.health.v1.Health/Check on the PayOnce services.
#include <CLI/CLI.hpp>
#include <memory>
#include <string>
#include <vector>

#include "services/cli/commands.h"
#include "services/cli/health_probe.h"

namespace payonce::cli {
namespace {

struct HealthFlags {
  std::string addr;
  std::string service;
  bool service_given = false;
};

std::vector<HealthTarget> TargetsFor(Session& s, const HealthFlags& flags) {
  if (!flags.addr.empty()) {
    return {{"addr", flags.addr, flags.service, s.ChannelTo(flags.addr)}};
  }
  // Each default address is asked about its own service, which also proves
  // the address points at the right server; --service overrides.
  auto service = [&flags](const std::string& own) {
    return flags.service_given ? flags.service : own;
  };
  const auto& o = s.options();
  return {
      {"order", o.order_addr, service("payonce.order.v1.OrderService"), s.ChannelTo(o.order_addr)},
      {"payment", o.payment_addr, service("payonce.payment.v1.PaymentService"),
       s.ChannelTo(o.payment_addr)},
      {"sandbox", o.sandbox_addr, service("payonce.provider.v1.ProviderSandbox"),
       s.ChannelTo(o.sandbox_addr)},
  };
}

int CheckServices(Session& s, const HealthFlags& flags) {
  const auto targets = TargetsFor(s, flags);
  const auto answers = CheckHealth(targets, s.timeout());

  int exit_code = 0;
  Table table({"TARGET", "ADDRESS", "SERVICE", "STATUS"});
  Json checks = Json::array();
  for (std::size_t i = 0; i < targets.size(); ++i) {
    const auto& target = targets[i];
    const auto& answer = answers[i];
    const std::string status =
        answer.rpc.ok() ? ServingStatusName(answer.status) : CodeName(answer.rpc.error_code());
    table.AddRow({target.name, target.address, OrDash(target.service), status});
    Json check = {{"target", target.name},
                  {"address", target.address},
                  {"service", target.service},
                  {"status", status},
                  {"serving", answer.rpc.ok() && answer.status == ServingStatus::kServing}};
    if (!answer.rpc.ok()) {
      check["error"] = answer.rpc.error_message();
      const int code = s.FailAt(answer.rpc, target.name + " at " + target.address);
      // The first failure decides the exit code.
      if (exit_code == 0) exit_code = code;
    } else if (answer.status != ServingStatus::kServing) {
      s.err() << "error: " << target.name << " at " << target.address << " is "
              << ServingStatusName(answer.status) << '\n';
      if (exit_code == 0) exit_code = kExitCheckFailed;
    }
    checks.push_back(std::move(check));
  }
  if (s.options().json) {
    s.PrintJson({{"healthy", exit_code == 0}, {"checks", checks}});
  } else {
    table.Print(s.out());
  }
  return exit_code;
}

}  // namespace

void AddHealthCommand(CLI::App& app, Session& session, Action& chosen) {
  auto flags = std::make_shared<HealthFlags>();
  auto* cmd = app.add_subcommand(
      "health", "Ask the services whether they are SERVING (grpc.health.v1.Health/Check)");
  cmd->add_option("--addr", flags->addr,
                  "Check only this host:port (default: the order, payment and sandbox addresses)");
  auto* service =
      cmd->add_option("--service", flags->service,
                      "Service name to ask about; \"\" means the whole server (default: with "
                      "--addr the whole server, else each address's own service)");
  cmd->footer(R"(Every check runs concurrently with --timeout-ms as deadline. Exit 0 only if
every check answered SERVING; 1 if one answered anything else; 1 + the gRPC code
if a call failed (15 UNAVAILABLE: nothing listens; 5 DEADLINE_EXCEEDED; 6
NOT_FOUND: the server does not know the service).

Examples:
  payonce health
  payonce health --addr 127.0.0.1:50052 --timeout-ms 1000      (container probe)
  payonce health --addr 127.0.0.1:50052 --service payonce.payment.v1.PaymentService)");
  OnChosen(cmd, chosen, [&session, flags, service] {
    flags->service_given = service->count() > 0;
    return CheckServices(session, *flags);
  });
}

}  // namespace payonce::cli
