// The `payonce` commands. Each Add*Commands declares its subcommands, flags
// and --help text on `app`; the subcommand given on the command line stores
// what to run in `chosen`, which main runs once parsing succeeded.
#pragma once

#include <google/protobuf/message.h>

#include <functional>

#include "services/cli/output.h"
#include "services/cli/session.h"

namespace CLI {
class App;
}

namespace payonce::cli {

// The work of the parsed command; returns the process exit code.
using Action = std::function<int()>;

// Makes `command` store `action` in `chosen` when it is the command given.
void OnChosen(CLI::App* command, Action& chosen, Action action);

// Prints `message` as JSON with --json, else `table`; returns exit code 0.
int Show(Session& session, const google::protobuf::Message& message, const Table& table);

// order create|get|list|cancel|timeline (OrderService).
void AddOrderCommands(CLI::App& app, Session& session, Action& chosen);

// pay, payment get|list|refund (PaymentService) and outbox stats|dead-letters|retry (OutboxAdmin).
void AddPaymentCommands(CLI::App& app, Session& session, Action& chosen);

// sandbox faults|stats (ProviderSandbox).
void AddSandboxCommands(CLI::App& app, Session& session, Action& chosen);

// reconcile run|anomalies|report (the reconciler's jobs, on the payment database).
void AddReconcileCommands(CLI::App& app, Session& session, Action& chosen);

// health (grpc.health.v1.Health/Check on every service, or one address).
void AddHealthCommand(CLI::App& app, Session& session, Action& chosen);

}  // namespace payonce::cli
