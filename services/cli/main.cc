// payonce: the command line of PayOnce for operators and scripts, a gRPC
// client of the order service, the payment service and the sandbox provider.
#include <CLI/CLI.hpp>
#include <exception>
#include <iostream>
#include <string>
#include <string_view>

#include "services/cli/commands.h"
#include "services/cli/session.h"

namespace {

constexpr std::string_view kFooter =
    R"(Output: aligned tables for people; with --json one JSON document on stdout
(the proto3 JSON mapping: field names as in the .proto files, int64 values as
strings, enums by full name, times in RFC 3339 UTC). Money is always integer
minor units plus currency, e.g. 1999 EUR. Errors go to stderr as
"error: <GRPC_CODE>: <message>".

Exit codes:
  0      success
  1      the command's own check failed (pay --wait-paid: the order is not PAID
         in time; health: a service is not SERVING)
  2      usage error: unknown command, bad or missing flag or argument
  1 + N  a call failed with gRPC status code N:
            4 INVALID_ARGUMENT     5 DEADLINE_EXCEEDED     6 NOT_FOUND
            7 ALREADY_EXISTS      10 FAILED_PRECONDITION  11 ABORTED
           13 UNIMPLEMENTED       14 INTERNAL             15 UNAVAILABLE
           17 UNAUTHENTICATED
         (CANCELLED would be 2 too; only a server shutting down sends it)

Examples:
  payonce health
  payonce order create --customer alice --amount-minor 1999 --currency EUR
  payonce pay 0193a1b2-... --wait-paid 10
  payonce order timeline 0193a1b2-...
  payonce --json order list --status pending --all
  PAYONCE_ORDER_SERVICE_TARGET=10.0.0.5:50051 payonce order get 0193a1b2-...

Run "payonce <command> --help" for each command's flags.)";

// Every command's help points at the global options, which CLI11 shows only
// in the top-level help.
void MentionGlobalOptions(CLI::App& command) {
  for (CLI::App* sub : command.get_subcommands([](CLI::App*) { return true; })) {
    sub->footer(sub->get_footer() +
                "\n\nGlobal options (--json, --timeout-ms, --order-addr, --payment-addr,\n"
                "--sandbox-addr) go before or after the command; they and the exit codes\n"
                "are described in \"payonce --help\".");
    MentionGlobalOptions(*sub);
  }
}

// Declares the command line, parses it and runs the chosen command.
int Run(int argc, char** argv) {
  using namespace payonce::cli;

  GlobalOptions options;
  Session session(options, std::cout, std::cerr);
  Action chosen;

  CLI::App app("PayOnce command line: orders, payments, the outbox and the sandbox provider",
               "payonce");
  app.set_help_flag("-h,--help", "Print this help and exit");
  app.set_version_flag("--version", PAYONCE_VERSION);
  app.get_formatter()->column_width(34);
  app.fallthrough();  // Global options may also follow the command.
  app.add_option("--order-addr", options.order_addr, "host:port of the order service")
      ->envname("PAYONCE_ORDER_SERVICE_TARGET")
      ->capture_default_str();
  app.add_option("--payment-addr", options.payment_addr,
                 "host:port of the payment service (and OutboxAdmin)")
      ->envname("PAYONCE_PAYMENT_SERVICE_TARGET")
      ->capture_default_str();
  app.add_option("--sandbox-addr", options.sandbox_addr, "host:port of the sandbox provider")
      ->envname("PAYONCE_PROVIDER_TARGET")
      ->capture_default_str();
  app.add_option("--timeout-ms", options.timeout_ms, "Deadline of every call, in milliseconds")
      ->capture_default_str()
      ->check(CLI::Range(1, 600000));
  app.add_flag("--json", options.json, "Print one JSON document on stdout instead of tables");

  AddOrderCommands(app, session, chosen);
  AddPaymentCommands(app, session, chosen);
  AddSandboxCommands(app, session, chosen);
  AddReconcileCommands(app, session, chosen);
  AddHealthCommand(app, session, chosen);
  MentionGlobalOptions(app);
  // Set last: subcommands inherit the footer of their parent when created.
  app.footer(std::string(kFooter));

  try {
    app.parse(argc, argv);
  } catch (const CLI::ParseError& e) {
    // --help and --version exit 0; everything else is a usage error.
    return app.exit(e) == 0 ? 0 : kExitUsage;
  }
  if (chosen) return chosen();
  // A command group without its command (`payonce order`): show its help.
  const CLI::App* group = &app;
  std::string parents;
  while (!group->get_subcommands().empty()) {
    parents += (parents.empty() ? "" : " ") + group->get_name();
    group = group->get_subcommands().front();
  }
  std::cerr << "error: a command is required"
            << (group == &app ? std::string() : " after \"" + group->get_name() + "\"") << "\n\n"
            << group->help(parents);
  return kExitUsage;
}

}  // namespace

int main(int argc, char** argv) {
  try {
    return Run(argc, argv);
  } catch (const std::exception& e) {
    // Only a bug gets here: failed calls are statuses, bad flags ParseErrors.
    std::cerr << "error: " << e.what() << '\n';
    return 1;
  }
}
