// reconcile run|anomalies|report: the reconciler's jobs and findings. These
// read the payment database directly (PAYONCE_DATABASE_URL), as the
// reconciler itself does; the order service and the provider are reached
// over gRPC at the global addresses.
#include <CLI/CLI.hpp>
#include <memory>
#include <string>

#include "absl/time/time.h"
#include "services/cli/commands.h"
#include "services/common/outbox_notifier.h"
#include "services/common/pg_pool.h"
#include "services/payment/adapters/clients/provider_gateway_client.h"
#include "services/reconciler/adapters/grpc/reconciler_clients.h"
#include "services/reconciler/adapters/pg/pg_reconcile_store.h"
#include "services/reconciler/app/reconciler.h"

namespace payonce::cli {
namespace {

struct ReconcileFlags {
  std::string database_url = "postgresql://payonce@127.0.0.1:55432/payonce_payment";
  std::string status;
  int limit = 50;
  std::string from;
  std::string to;
};

// Counts nothing: a one-shot run has no /metrics.
class NoMetrics final : public reconciler::ReconcilerObserver {
 public:
  void Run(const std::string&, const std::string&, double) override {}
  void Repair(const std::string&, int64_t) override {}
  void PaidButPending(int64_t) override {}
  void DuplicateCapturesRefunded(int64_t) override {}
  void OpenAnomalies(const std::vector<std::pair<std::string, int64_t>>&) override {}
};

// Everything a reconciliation run needs, wired like the reconciler process.
struct Wiring {
  Wiring(Session& s, const ReconcileFlags& flags)
      : log("payonce", "warn"),
        pool(PgPoolOptions{flags.database_url, 4, std::chrono::milliseconds(2000),
                           std::chrono::milliseconds(30000), std::chrono::seconds(5)},
             log),
        ids(clock),
        outbox_notifier(pool, log),
        provider(s.ChannelTo(s.options().sandbox_addr), s.timeout()),
        settlement(s.ChannelTo(s.options().sandbox_addr), s.timeout()),
        orders(s.ChannelTo(s.options().order_addr), s.timeout()),
        store(pool, ids, outbox_notifier),
        reconciler(reconciler::ReconcilerOptions{}, store, provider, orders, settlement, clock,
                   metrics, log) {}

  Logger log;
  PgPool pool;
  SystemClock clock;
  UuidV7Generator ids;
  OutboxNotifier outbox_notifier;
  payment::ProviderGatewayClient provider;
  reconciler::SettlementClient settlement;
  reconciler::OrderDeskClient orders;
  reconciler::PgReconcileStore store;
  NoMetrics metrics;
  reconciler::Reconciler reconciler;
};

int FailStatus(Session& s, const absl::Status& status) {
  return s.Fail(
      grpc::Status(static_cast<grpc::StatusCode>(status.code()), std::string(status.message())));
}

int RunOnce(Session& s, const ReconcileFlags& flags) {
  Wiring w(s, flags);
  using Job = absl::StatusOr<reconciler::PassReport> (reconciler::Reconciler::*)();
  const std::vector<std::pair<std::string, Job>> jobs = {
      {"stuck_payments", &reconciler::Reconciler::ResolveStuckPayments},
      {"paid_but_pending", &reconciler::Reconciler::RepairPaidButPending},
      {"refund_extra_captures", &reconciler::Reconciler::RefundExtraCaptures},
      {"settlement", &reconciler::Reconciler::CompareSettlement}};
  Table table({"job", "examined", "repaired", "refunds", "anomalies", "deferred", "error"});
  for (size_t c = 1; c <= 5; ++c) table.AlignRight(c);
  Json doc = Json::array();
  int exit_code = 0;
  for (const auto& [name, job] : jobs) {
    auto report = (w.reconciler.*job)();
    if (!report.ok()) {
      exit_code = ExitCodeFor(static_cast<grpc::StatusCode>(report.status().code()));
      table.AddRow({name, "", "", "", "", "", std::string(report.status().message())});
      doc.push_back({{"job", name}, {"error", std::string(report.status().message())}});
      continue;
    }
    table.AddRow({name, std::to_string(report->examined), std::to_string(report->repaired),
                  std::to_string(report->refunds), std::to_string(report->anomalies),
                  std::to_string(report->deferred), ""});
    doc.push_back({{"job", name},
                   {"examined", report->examined},
                   {"repaired", report->repaired},
                   {"refunds", report->refunds},
                   {"anomalies", report->anomalies},
                   {"deferred", report->deferred}});
  }
  if (s.options().json) {
    s.PrintJson(doc);
  } else {
    table.Print(s.out());
  }
  return exit_code;
}

int ListAnomalies(Session& s, const ReconcileFlags& flags) {
  Wiring w(s, flags);
  auto anomalies = w.store.ListAnomalies(flags.status, flags.limit);
  if (!anomalies.ok()) return FailStatus(s, anomalies.status());
  Json doc = Json::array();
  Table table({"id", "kind", "status", "payment", "order", "capture", "detail"});
  for (const auto& a : *anomalies) {
    table.AddRow({std::to_string(a.anomaly_id), a.kind, a.status, OrDash(a.payment_id),
                  OrDash(a.order_id), OrDash(a.provider_txn_id), a.detail});
    doc.push_back({{"anomaly_id", a.anomaly_id},
                   {"kind", a.kind},
                   {"status", a.status},
                   {"payment_id", a.payment_id},
                   {"order_id", a.order_id},
                   {"provider_txn_id", a.provider_txn_id},
                   {"detail", a.detail}});
  }
  if (s.options().json) {
    s.PrintJson(doc);
  } else {
    table.Print(s.out());
  }
  return 0;
}

int Report(Session& s, const ReconcileFlags& flags) {
  absl::Time from;
  absl::Time to;
  std::string error;
  if (!absl::ParseTime(absl::RFC3339_full, flags.from, &from, &error) ||
      !absl::ParseTime(absl::RFC3339_full, flags.to, &to, &error) || to <= from) {
    s.err() << "error: --from and --to must be RFC 3339 times with --from before --to"
            << (error.empty() ? "" : " (" + error + ")") << "\n";
    return kExitUsage;
  }
  Wiring w(s, flags);
  auto found = w.reconciler.ReportSettlement(absl::ToUnixMillis(from), absl::ToUnixMillis(to));
  if (!found.ok()) return FailStatus(s, found.status());
  std::map<std::string, int> by_kind;
  Json doc = Json::array();
  Table table({"kind", "payment", "capture", "detail"});
  for (const auto& d : *found) {
    ++by_kind[d.kind];
    table.AddRow({d.kind, OrDash(d.payment_id), OrDash(d.provider_txn_id), d.detail});
    doc.push_back({{"kind", d.kind},
                   {"payment_id", d.payment_id},
                   {"provider_txn_id", d.provider_txn_id},
                   {"detail", d.detail}});
  }
  if (s.options().json) {
    s.PrintJson(doc);
    return 0;
  }
  s.out() << "Statement " << flags.from << " .. " << flags.to << ": " << found->size()
          << " discrepanc" << (found->size() == 1 ? "y" : "ies") << "\n";
  for (const auto& [kind, n] : by_kind) s.out() << "  " << kind << ": " << n << "\n";
  if (!table.empty()) {
    s.out() << "\n";
    table.Print(s.out());
  }
  return 0;
}

}  // namespace

void AddReconcileCommands(CLI::App& app, Session& session, Action& chosen) {
  auto flags = std::make_shared<ReconcileFlags>();
  auto* rec = app.add_subcommand(
      "reconcile",
      "Reconciliation: run one pass now, list anomalies, compare the provider's statement");
  rec->require_subcommand(1);
  rec->add_option("--database-url", flags->database_url,
                  "The payment database (the reconciler's own) [PAYONCE_DATABASE_URL]")
      ->envname("PAYONCE_DATABASE_URL")
      ->capture_default_str();

  auto* run = rec->add_subcommand("run", "Run every reconciliation job once, now");
  OnChosen(run, chosen, [&session, flags] { return RunOnce(session, *flags); });

  auto* anomalies = rec->add_subcommand("anomalies", "List anomalies, newest first");
  anomalies
      ->add_option("--status", flags->status, "OPEN, AUTO_REPAIRED or NEEDS_REVIEW (default all)")
      ->check(CLI::IsMember({"OPEN", "AUTO_REPAIRED", "NEEDS_REVIEW"}));
  anomalies->add_option("--limit", flags->limit, "At most this many")
      ->capture_default_str()
      ->check(CLI::Range(1, 10000));
  OnChosen(anomalies, chosen, [&session, flags] { return ListAnomalies(session, *flags); });

  auto* report = rec->add_subcommand(
      "report", "Compare the provider's statement for [--from, --to) with the ledger (read-only)");
  report->add_option("--from", flags->from, "RFC 3339 start, e.g. 2025-12-04T00:00:00Z")
      ->required();
  report->add_option("--to", flags->to, "RFC 3339 end (exclusive)")->required();
  OnChosen(report, chosen, [&session, flags] { return Report(session, *flags); });
}

}  // namespace payonce::cli
