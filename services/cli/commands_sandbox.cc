// sandbox faults|stats: payonce.provider.v1.ProviderSandbox.
#include <CLI/CLI.hpp>
#include <memory>
#include <string>
#include <vector>

#include "payonce/provider/v1/provider_sandbox.grpc.pb.h"
#include "services/cli/commands.h"
#include "services/cli/views.h"

namespace payonce::cli {
namespace {

namespace v1 = payonce::provider::v1;

// FaultConfig's fields, as flags.
struct FaultFlags {
  double fail_rate = 0;
  double drop_callback_rate = 0;
  double duplicate_callback_rate = 0;
  int max_duplicates = 0;
  int min_delay_ms = 0;
  int max_delay_ms = 0;
  bool reorder = false;
  double double_charge_rate = 0;
  double replay_rate = 0;
  double forge_rate = 0;
  int callback_target_down_retry_ms = 0;
  double wrong_amount_rate = 0;
  double late_capture_rate = 0;
  int late_capture_delay_ms = 0;
  bool clear = false;
  // Every fault option, to tell whether any was given.
  std::vector<CLI::Option*> options;
};

struct StatsFlags {
  std::vector<std::string> payment_ids;
};

int SetFaults(Session& s, const FaultFlags& flags) {
  bool any = flags.clear;
  for (const auto* option : flags.options) any = any || option->count() > 0;
  if (!any) {
    s.err() << "The sandbox has no way to read its faults back: `sandbox faults` sets them.\n"
               "Give the whole configuration (unset flags become 0/false), e.g.\n"
               "  payonce sandbox faults --fail-rate 0.1 --duplicate-callback-rate 0.5 "
               "--max-duplicates 3\n"
               "or switch every fault off with\n"
               "  payonce sandbox faults --clear\n"
               "See payonce sandbox faults --help for every flag.\n";
    return kExitUsage;
  }
  // --clear and the fault flags exclude each other, so with --clear these are all zero.
  v1::FaultConfig req;
  req.set_fail_rate(flags.fail_rate);
  req.set_drop_callback_rate(flags.drop_callback_rate);
  req.set_duplicate_callback_rate(flags.duplicate_callback_rate);
  req.set_max_duplicates(flags.max_duplicates);
  req.set_min_delay_ms(flags.min_delay_ms);
  req.set_max_delay_ms(flags.max_delay_ms);
  req.set_reorder(flags.reorder);
  req.set_double_charge_rate(flags.double_charge_rate);
  req.set_replay_rate(flags.replay_rate);
  req.set_forge_rate(flags.forge_rate);
  req.set_callback_target_down_retry_ms(flags.callback_target_down_retry_ms);
  req.set_wrong_amount_rate(flags.wrong_amount_rate);
  req.set_late_capture_rate(flags.late_capture_rate);
  req.set_late_capture_delay_ms(flags.late_capture_delay_ms);
  auto stub = v1::ProviderSandbox::NewStub(s.ChannelTo(s.options().sandbox_addr));
  v1::FaultConfig stored;
  const auto status = s.Call(*stub, &v1::ProviderSandbox::Stub::SetFaults, req, &stored);
  if (!status.ok()) return s.Fail(status, s.options().sandbox_addr);
  return Show(s, stored, FaultRecord(stored));
}

int ShowStats(Session& s, const StatsFlags& flags) {
  v1::GetStatsRequest req;
  for (const auto& id : flags.payment_ids) req.add_merchant_payment_ids(id);
  auto stub = v1::ProviderSandbox::NewStub(s.ChannelTo(s.options().sandbox_addr));
  v1::ProviderStats stats;
  const auto status = s.Call(*stub, &v1::ProviderSandbox::Stub::GetStats, req, &stats);
  if (!status.ok()) return s.Fail(status, s.options().sandbox_addr);
  if (s.options().json) {
    s.PrintJson(ToJson(stats));
    return 0;
  }
  ProviderTotalsRecord(stats).Print(s.out());
  s.out() << '\n';
  if (stats.payments().empty()) {
    s.out() << "no payments\n";
  } else {
    PaymentTruthRows(stats.payments()).Print(s.out());
  }
  return 0;
}

}  // namespace

void AddSandboxCommands(CLI::App& app, Session& session, Action& chosen) {
  auto* sandbox = app.add_subcommand(
      "sandbox", "Drive the sandbox payment provider: inject faults, read its ground truth");
  sandbox->footer(R"(Examples:
  payonce sandbox faults --duplicate-callback-rate 0.5 --max-duplicates 3 --reorder
  payonce sandbox faults --clear
  payonce sandbox stats --payment-id 0193a1c4-...)");
  {
    auto flags = std::make_shared<FaultFlags>();
    auto* cmd = sandbox->add_subcommand(
        "faults", "Replace the sandbox's whole fault configuration and print what it stored");
    const auto rate = CLI::Range(0.0, 1.0);
    const auto non_negative = CLI::NonNegativeNumber;
    auto& opts = flags->options;
    opts.push_back(cmd->add_option("--fail-rate", flags->fail_rate,
                                   "Probability a debit is declined (a FAILED callback follows)")
                       ->check(rate));
    opts.push_back(cmd->add_option("--drop-callback-rate", flags->drop_callback_rate,
                                   "Probability a callback is never sent, not even retried")
                       ->check(rate));
    opts.push_back(cmd->add_option("--duplicate-callback-rate", flags->duplicate_callback_rate,
                                   "Probability a callback is sent more than once")
                       ->check(rate));
    opts.push_back(cmd->add_option("--max-duplicates", flags->max_duplicates,
                                   "Extra copies of a duplicated callback, at most")
                       ->check(non_negative));
    opts.push_back(cmd->add_option("--min-delay-ms", flags->min_delay_ms,
                                   "Shortest delay before the first callback")
                       ->check(non_negative));
    opts.push_back(cmd->add_option("--max-delay-ms", flags->max_delay_ms,
                                   "Longest delay before the first callback")
                       ->check(non_negative));
    opts.push_back(
        cmd->add_flag("--reorder", flags->reorder, "Deliver due callbacks in shuffled order"));
    opts.push_back(cmd->add_option("--double-charge-rate", flags->double_charge_rate,
                                   "Probability a debit makes a second, separate capture")
                       ->check(rate));
    opts.push_back(cmd->add_option("--replay-rate", flags->replay_rate,
                                   "Probability a callback is followed by a verbatim replay")
                       ->check(rate));
    opts.push_back(cmd->add_option("--forge-rate", flags->forge_rate,
                                   "Probability a forged (badly signed) callback is sent as well")
                       ->check(rate));
    opts.push_back(cmd->add_option("--callback-target-down-retry-ms",
                                   flags->callback_target_down_retry_ms,
                                   "Delay before retrying when the callback target is unreachable")
                       ->check(non_negative));
    opts.push_back(cmd->add_option("--wrong-amount-rate", flags->wrong_amount_rate,
                                   "Probability a debit captures a quarter less or more than asked")
                       ->check(rate));
    opts.push_back(cmd->add_option("--late-capture-rate", flags->late_capture_rate,
                                   "Probability a debit answers UNAVAILABLE and its capture "
                                   "appears only after --late-capture-delay-ms")
                       ->check(rate));
    opts.push_back(cmd->add_option("--late-capture-delay-ms", flags->late_capture_delay_ms,
                                   "How long a late capture stays invisible (\"not found\")")
                       ->check(non_negative));
    auto* clear = cmd->add_flag("--clear", flags->clear, "Switch every fault off (all zero)");
    for (auto* option : opts) clear->excludes(option);
    cmd->footer(R"(There is no way to read the faults back: every call sets the whole
configuration, and flags not given are 0/false. The stored configuration is printed.

Examples:
  payonce sandbox faults --fail-rate 0.1
  payonce sandbox faults --duplicate-callback-rate 0.5 --max-duplicates 3 --reorder \
      --min-delay-ms 0 --max-delay-ms 200
  payonce sandbox faults --double-charge-rate 0.05 --json
  payonce sandbox faults --clear)");
    OnChosen(cmd, chosen, [&session, flags] { return SetFaults(session, *flags); });
  }
  {
    auto flags = std::make_shared<StatsFlags>();
    auto* cmd = sandbox->add_subcommand(
        "stats", "The provider's ground truth: totals, and debits/captures/refunds per payment");
    cmd->add_option("--payment-id", flags->payment_ids,
                    "Only these payments (repeatable); default: every payment");
    cmd->footer(R"(Examples:
  payonce sandbox stats
  payonce sandbox stats --payment-id 0193a1c4-... --payment-id 0193a1c5-... --json)");
    OnChosen(cmd, chosen, [&session, flags] { return ShowStats(session, *flags); });
  }
}

}  // namespace payonce::cli
