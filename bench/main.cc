// payonce-bench: how many provider callbacks, duplicate callbacks and
// CreatePayment calls per second a PayOnce stack sustains at 1, 4, 16 and 64
// calls in flight, with latency percentiles, the relay's lag from callback to
// PAID order, every process's memory, and the pgbench ceiling of the same SQL
// on the same PostgreSQL (bench/pg_ceiling.sh). `payonce-bench --help`;
// docs/benchmarks.md explains the method and records the results.
#include <CLI/CLI.hpp>
#include <algorithm>
#include <atomic>
#include <chrono>
#include <csignal>
#include <ctime>
#include <fstream>
#include <iostream>
#include <map>
#include <memory>
#include <optional>
#include <string>
#include <thread>
#include <unordered_set>
#include <vector>

#include "bench/bench_stack.h"
#include "bench/pg_ceiling.h"
#include "bench/pg_wait_sampler.h"
#include "bench/process_memory.h"
#include "bench/report.h"
#include "bench/scenarios.h"

namespace payonce::bench {
namespace {

using nlohmann::json;

// Set by SIGINT/SIGTERM: rows stop starting calls and the stack is stopped.
std::atomic<bool> g_cancel{false};

void OnSignal(int) { g_cancel = true; }

struct Options {
  std::vector<int> levels{1, 4, 16, 64};
  size_t per_row = 2000;
  size_t warmup = 300;
  std::string group_commit = "both";
  int64_t group_max = 0;
  int64_t group_window_us = 0;
  std::vector<std::string> env;
  std::string json_path;
  std::string pg_ceiling_file;
  bool no_pg_ceiling = false;
  int pg_seconds = 10;
  size_t pg_payments = 20000;
  double lag_rate = 0;
  size_t lag_calls = 0;
  int max_row_seconds = 120;
  int lag_timeout_s = 60;
  int call_timeout_ms = 10000;
  bool skip_duplicates = false;
  // The nonce-table row: how long it runs (0 = not run).
  int nonce_seconds = 0;
  std::string report_from;
  std::vector<std::string> compare;
  // An external stack.
  TargetInfo external;
  std::vector<std::string> pids;
};

void Say(const std::string& msg) {
  const auto t = std::chrono::system_clock::to_time_t(std::chrono::system_clock::now());
  char buf[16];
  std::strftime(buf, sizeof buf, "%H:%M:%S", std::localtime(&t));
  std::cerr << "[bench " << buf << "] " << msg << std::endl;
}

std::string Fixed(double v, int digits = 1) {
  char buf[64];
  std::snprintf(buf, sizeof buf, "%.*f", digits, v);
  return buf;
}

// The machine's state when a row starts; Row() records what changed.
struct RowStart {
  std::string load = LoadAverage();
  CpuTicks cpu = ReadCpuTicks();
};

json Row(const std::string& scenario, int concurrency, const LoadResult& r, const RowStart& start) {
  json row;
  row["scenario"] = scenario;
  row["concurrency"] = concurrency;
  row["calls"] = r.started;
  row["ok"] = r.ok;
  row["errors"] = r.errors;
  row["seconds"] = r.seconds;
  row["rate_per_s"] = r.ok_per_s();
  row["latency_ms"] = ToJson(Summarize(r.latency_us), 1e-3);
  row["truncated"] = r.truncated;
  row["load_before"] = start.load;
  row["load_after"] = LoadAverage();
  row["cpu"] = CpuShare(start.cpu, ReadCpuTicks());
  return row;
}

void SayRow(const std::string& mode, const json& row) {
  Say(mode + " C=" + std::to_string(row["concurrency"].get<int>()) + " " +
      row["scenario"].get<std::string>() + ": " + std::to_string(row["ok"].get<size_t>()) +
      " ok in " + Fixed(row["seconds"].get<double>(), 2) +
      " s = " + Fixed(row["rate_per_s"].get<double>()) + "/s, p50 " +
      Fixed(row["latency_ms"]["p50"].get<double>(), 2) + " ms, p99 " +
      Fixed(row["latency_ms"]["p99"].get<double>(), 2) + " ms, errors " + row["errors"].dump());
}

json LagJson(const std::string& during, double rate, const RelayLag& lag) {
  return {{"during", during},
          {"callback_rate_per_s", rate},
          {"paid", lag.paid},
          {"expected", lag.expected},
          {"waited_s", lag.waited_s},
          {"from_ack_ms", ToJson(lag.from_ack_ms)},
          {"from_outbox_ms", ToJson(lag.from_outbox_ms)}};
}

void SayLag(const std::string& mode, const json& lag) {
  Say(mode + " relay lag (" + lag["during"].get<std::string>() +
      "): " + std::to_string(lag["paid"].get<size_t>()) + "/" +
      std::to_string(lag["expected"].get<size_t>()) + " PAID, answer->PAID p50 " +
      Fixed(lag["from_ack_ms"]["p50"].get<double>(), 1) + " ms p99 " +
      Fixed(lag["from_ack_ms"]["p99"].get<double>(), 1) + " ms");
}

std::map<std::string, std::string> ServiceEnv(const Options& o, bool group_commit) {
  std::map<std::string, std::string> env = {
      {"PAYONCE_LOG_LEVEL", "warn"},
      {"PAYONCE_CALLBACK_GROUP_COMMIT", group_commit ? "true" : "false"}};
  if (o.group_max > 0) env["PAYONCE_CALLBACK_GROUP_MAX"] = std::to_string(o.group_max);
  if (o.group_window_us > 0) {
    env["PAYONCE_CALLBACK_GROUP_WINDOW_US"] = std::to_string(o.group_window_us);
  }
  for (const auto& kv : o.env) {
    const auto eq = kv.find('=');
    if (eq != std::string::npos) env[kv.substr(0, eq)] = kv.substr(eq + 1);
  }
  return env;
}

// Where pg_ceiling.sh writes its JSON for one mode's levels.
std::string CeilingPath(const Options& o, const std::string& mode_name) {
  return (o.json_path.empty() ? std::string("/tmp/payonce-bench") : o.json_path) + ".pg_ceiling-" +
         mode_name + ".json";
}

void MergePeaks(std::map<std::string, MemoryPeak>& into,
                const std::map<std::string, MemoryPeak>& more) {
  for (const auto& [name, p] : more) {
    MemoryPeak& q = into[name];
    q.rss_kb = std::max(q.rss_kb, p.rss_kb);
    q.hwm_kb = std::max(q.hwm_kb, p.hwm_kb);
    q.anon_kb = std::max(q.anon_kb, p.anon_kb);
  }
}

// The payment service's sweep interval as the bench set it (--env), else its
// default.
int64_t SweepIntervalMs(const Options& o) {
  const std::string key = "PAYONCE_SWEEP_INTERVAL_MS=";
  int64_t ms = 60000;
  for (const auto& kv : o.env) {
    if (kv.rfind(key, 0) == 0) ms = std::stoll(kv.substr(key.size()));
  }
  return ms;
}

// Whether callback_nonces stays bounded at the peak: a whole nonce TTL of
// nonces at `peak_rate` is seeded already expired (what ten minutes at the
// peak leave the sweep), then the same events are delivered again with fresh
// nonces at `concurrency` in flight (each stores a nonce) for `seconds`,
// while the table is sampled. Bounded when the sweep removes the seeded
// backlog while nonces keep arriving at the peak: each sweep then removes
// everything expired, and the table holds at most rate x (TTL + interval).
json NonceTableRow(Scenarios& sc, std::vector<PreparedPayment>& payments, double peak_rate,
                   int concurrency, int seconds, int64_t sweep_interval_ms) {
  using Clock = std::chrono::steady_clock;
  constexpr int64_t kNonceTtlS = 600;  // kNonceTtl, services/payment/domain/payment.h
  const auto seeded = static_cast<int64_t>(peak_rate * kNonceTtlS);
  Say("nonce table: seeding " + std::to_string(seeded) + " expired nonces (" + Fixed(peak_rate, 0) +
      "/s for " + std::to_string(kNonceTtlS) + " s)");
  sc.SeedExpiredNonces(seeded);

  json samples = json::array();
  std::atomic<bool> done{false};
  const auto start = Clock::now();
  auto sample = [&] {
    const NonceTableSize n = sc.ReadNonceTable();
    samples.push_back(
        {std::chrono::duration<double>(Clock::now() - start).count(), n.rows, n.expired});
  };
  sample();
  std::thread sampler([&] {
    while (!done) {
      for (int i = 0; i < 20 && !done; ++i)
        std::this_thread::sleep_for(std::chrono::milliseconds(100));
      if (!done) sample();
    }
  });
  size_t sent = 0;
  std::map<std::string, size_t> errors;
  while (!g_cancel && Clock::now() - start < std::chrono::seconds(seconds)) {
    const CallbackRun run = sc.SendCallbacks(payments, concurrency, 0, true);
    sent += run.load.ok;
    for (const auto& [code, n] : run.load.errors) errors[code] += n;
  }
  const double elapsed = std::chrono::duration<double>(Clock::now() - start).count();
  done = true;
  sampler.join();
  sample();

  int64_t rows_max = 0;
  std::optional<double> drained_after_s;
  double sweeping_s = 0;
  for (size_t i = 0; i < samples.size(); ++i) {
    rows_max = std::max(rows_max, samples[i][1].get<int64_t>());
    if (!drained_after_s && samples[i][2].get<int64_t>() == 0) {
      drained_after_s = samples[i][0].get<double>();
    }
    if (i > 0 && samples[i][2].get<int64_t>() < samples[i - 1][2].get<int64_t>()) {
      sweeping_s += samples[i][0].get<double>() - samples[i - 1][0].get<double>();
    }
  }
  const int64_t expired_start = samples.front()[2].get<int64_t>();
  const int64_t expired_end = samples.back()[2].get<int64_t>();
  const double rate = elapsed > 0 ? static_cast<double>(sent) / elapsed : 0;
  json row;
  row["seconds"] = elapsed;
  row["concurrency"] = concurrency;
  row["nonces_per_s"] = rate;
  row["errors"] = errors;
  row["seeded_expired"] = seeded;
  row["sweep_interval_ms"] = sweep_interval_ms;
  row["rows_start"] = samples.front()[1];
  row["rows_max"] = rows_max;
  row["rows_end"] = samples.back()[1];
  row["expired_start"] = expired_start;
  row["expired_end"] = expired_end;
  row["drained_after_s"] = drained_after_s ? json(*drained_after_s) : json();
  // Sampled every 2 s: the time in which the expired count fell, an upper
  // bound of the time the sweep spent.
  row["sweep_rows_per_s"] =
      sweeping_s > 0 ? static_cast<double>(expired_start - expired_end) / sweeping_s : 0.0;
  row["steady_bound_rows"] =
      static_cast<int64_t>(rate * (kNonceTtlS + static_cast<double>(sweep_interval_ms) / 1000));
  row["bounded"] = expired_end == 0;
  row["samples"] = samples;
  return row;
}

// One group-commit mode: every row at every concurrency level, then the
// relay lag at half the best callback rate. Leaves the stack in `target`.
json RunMode(const Options& o, const std::string& mode_name, std::unique_ptr<BenchTarget>& target) {
  const bool group_commit = mode_name == "on";
  json mode;
  mode["group_commit"] = mode_name;
  mode["rows"] = json::array();
  mode["relay_lag"] = json::array();
  const bool own = o.external.payment_addr.empty();
  if (own) {
    const auto env = ServiceEnv(o, group_commit);
    mode["env"] = env;
    Say("group commit " + mode_name + ": starting PostgreSQL, Redis and the services");
    target = BenchTarget::StartOwn(env);
    mode["binaries"] = target->BinaryVersions();
  } else {
    mode["note"] =
        "external stack: its payment-service's PAYONCE_CALLBACK_GROUP_COMMIT decides the mode; "
        "this run is labelled " +
        mode_name;
    target = BenchTarget::External(o.external);
  }
  const TargetInfo& info = target->info();
  if (!info.payment_dsn.empty()) mode["pg_settings"] = PgSettings(info.payment_dsn);

  ScenarioOptions so;
  so.call_timeout = std::chrono::milliseconds(o.call_timeout_ms);
  so.max_duration = std::chrono::seconds(o.max_row_seconds);
  so.cancel = &g_cancel;
  Scenarios sc(info, so);
  sc.SilenceSandbox();
  MemorySampler memory(info.processes, info.postmaster);
  std::unique_ptr<PgWaitSampler> waits;
  if (!info.payment_dsn.empty()) waits = std::make_unique<PgWaitSampler>(info.payment_dsn);
  auto take_waits = [&] { return waits ? waits->Take() : json::object(); };
  const auto lag_timeout = std::chrono::seconds(o.lag_timeout_s);
  // Every timed row starts from the same database state: tables just
  // vacuumed and analysed (nothing for autovacuum to start during the row)
  // and a checkpoint just taken (no dirty buffers for it to write during the
  // row, and the same full-page-write cost on both sides of the ratio:
  // pg_ceiling.sh does the same before pgbench). The wait sampler's window
  // starts after it.
  auto settle = [&] {
    for (const char* database : {"payment", "order", "provider"}) {
      target->Exec(database, "VACUUM (ANALYZE)");
    }
    target->Exec("payment", "CHECKPOINT");
    take_waits();
  };

  if (o.warmup > 0) {
    LoadResult ignored;
    auto orders = sc.CreateOrders(o.warmup, &ignored);
    auto payments = sc.CreatePayments(orders, 16, &ignored);
    sc.SendCallbacks(payments, 16, 0, false);
    if (sc.can_measure_lag()) sc.MeasureRelayLag(payments, lag_timeout);
    Say(mode_name + " warm-up: " + std::to_string(payments.size()) + " payments paid");
  }

  // One closed-loop row of callbacks; returns its rate.
  auto callback_row = [&](const std::string& scenario, int c,
                          std::vector<PreparedPayment>& payments, bool redeliver) {
    settle();
    const RowStart start;
    CallbackRun run = sc.SendCallbacks(payments, c, 0, redeliver);
    json row = Row(scenario, c, run.load, start);
    row["outcomes"] = run.outcomes;
    row["pg_waits"] = take_waits();
    SayRow(mode_name, row);
    mode["rows"].push_back(row);
    return run.load.ok_per_s();
  };

  const bool run_ceiling = o.pg_ceiling_file.empty() && !o.no_pg_ceiling && info.pg_port > 0;
  int ceiling_calls = 0;
  double best_rate = 0;
  // For the nonce-table row: the fastest duplicate row and its payments.
  double best_duplicate_rate = 0;
  int best_duplicate_level = 0;
  std::vector<PreparedPayment> duplicate_payments;
  for (int c : o.levels) {
    if (g_cancel) break;
    LoadResult prepared;
    auto orders = sc.CreateOrders(o.per_row, &prepared);
    Say(mode_name + " C=" + std::to_string(c) + ": " + std::to_string(orders.size()) +
        " orders created (" + Fixed(prepared.ok_per_s()) + "/s at C=32, untimed)");

    settle();
    const RowStart start;
    LoadResult created;
    auto payments = sc.CreatePayments(orders, c, &created);
    json row = Row("CreatePayment", c, created, start);
    row["pg_waits"] = take_waits();
    SayRow(mode_name, row);
    mode["rows"].push_back(row);
    if (payments.size() < orders.size()) {
      // Calls the service refused (e.g. RESOURCE_EXHAUSTED at 64 in flight)
      // are made again at a concurrency it takes, so the callback rows still
      // get --per-row payments; untimed.
      std::unordered_set<std::string> paid_for;
      for (const auto& p : payments) paid_for.insert(p.order_id);
      std::vector<OrderRef> missing;
      for (const auto& order : orders) {
        if (!paid_for.count(order.order_id)) missing.push_back(order);
      }
      LoadResult ignored;
      auto more = sc.CreatePayments(missing, std::min(c, 16), &ignored);
      payments.insert(payments.end(), more.begin(), more.end());
      take_waits();
    }

    const double rate = callback_row("new callbacks", c, payments, false);
    best_rate = std::max(best_rate, rate);
    if (sc.can_measure_lag()) {
      const RelayLag lag = sc.MeasureRelayLag(payments, lag_timeout);
      json lj = LagJson("closed loop C=" + std::to_string(c) + " (saturated)", rate, lag);
      SayLag(mode_name, lj);
      mode["relay_lag"].push_back(lj);
    }
    take_waits();
    if (!o.skip_duplicates) {
      const double duplicates = callback_row("duplicate callbacks", c, payments, true);
      if (duplicates > best_duplicate_rate) {
        best_duplicate_rate = duplicates;
        best_duplicate_level = c;
        duplicate_payments = payments;
      }
    }
    if (run_ceiling && !g_cancel) {
      // pgbench at the same concurrency right after this level's rows, so
      // the ratio's two sides see the same machine load.
      CeilingRun run;
      run.pg_port = info.pg_port;
      run.levels = {c};
      run.seconds = o.pg_seconds;
      run.payments = o.pg_payments;
      run.json_path = CeilingPath(o, mode_name);
      run.reuse = true;
      run.run_base = 10 + 10 * ceiling_calls++;
      json level = RunPgCeiling(run);
      json& ceiling = mode["pg_ceiling"];
      ceiling["settings"] = level["settings"];
      ceiling["seconds_per_level"] = level["seconds_per_level"];
      ceiling["payments_prefilled"] = level["payments_prefilled"];
      for (const char* variant : {"per_callback", "batch16"}) {
        for (auto& l : level.value(variant, json::array())) {
          l["load_before"] = level["load_before"];
          l["load_after"] = level["load_after"];
          ceiling[variant].push_back(l);
        }
      }
      take_waits();
    }
  }

  auto peaks = memory.Peaks();
  if (sc.can_measure_lag() && !g_cancel && best_rate > 0) {
    const double rate = o.lag_rate > 0 ? o.lag_rate : best_rate / 2;
    const size_t calls = o.lag_calls > 0 ? o.lag_calls : o.per_row;
    LoadResult ignored;
    auto orders = sc.CreateOrders(calls, &ignored);
    auto payments = sc.CreatePayments(orders, 16, &ignored);
    settle();
    MergePeaks(peaks, memory.Peaks());
    memory.Reset();
    const RowStart start;
    CallbackRun run = sc.SendCallbacks(payments, 256, rate, false);
    json row = Row("new callbacks @rate", 256, run.load, start);
    row["target_rate_per_s"] = rate;
    row["outcomes"] = run.outcomes;
    const RelayLag lag = sc.MeasureRelayLag(payments, lag_timeout);
    row["pg_waits"] = take_waits();
    SayRow(mode_name, row);
    mode["rows"].push_back(row);
    json lj =
        LagJson("open loop at " + Fixed(rate, 0) + "/s (half the best)", run.load.ok_per_s(), lag);
    SayLag(mode_name, lj);
    mode["relay_lag"].push_back(lj);
    mode["memory_at_half_rate"] = ToJson(memory.Peaks());
  }
  MergePeaks(peaks, memory.Peaks());
  mode["memory"] = ToJson(peaks);
  if (o.nonce_seconds > 0 && sc.can_measure_lag() && !g_cancel && best_duplicate_rate > 0) {
    mode["nonce_table"] = NonceTableRow(sc, duplicate_payments, best_duplicate_rate,
                                        best_duplicate_level, o.nonce_seconds, SweepIntervalMs(o));
  }
  return mode;
}

std::vector<std::string> Modes(const Options& o) {
  if (o.group_commit == "both") return {"off", "on"};
  return {o.group_commit};
}

int Main(int argc, char** argv) {
  Options o;
  CLI::App app{
      "payonce-bench: callbacks/s, duplicate callbacks/s, CreatePayment/s and relay lag "
      "at 1/4/16/64 calls in flight, against pgbench's ceiling of the same SQL. Starts "
      "its own stack (private PostgreSQL and Redis, the real services) unless "
      "--payment-addr names a running one."};
  app.add_option("--levels", o.levels, "Calls in flight per row")->delimiter(',');
  app.add_option("--per-row", o.per_row, "Calls per row (payments prepared per level)");
  app.add_option("--warmup", o.warmup, "Callbacks applied before the first row (untimed)");
  app.add_option("--group-commit", o.group_commit,
                 "off|on|both: PAYONCE_CALLBACK_GROUP_COMMIT of the payment-service started")
      ->check(CLI::IsMember({"off", "on", "both"}));
  app.add_option("--group-max", o.group_max, "PAYONCE_CALLBACK_GROUP_MAX (unset: the default)");
  app.add_option("--group-window-us", o.group_window_us,
                 "PAYONCE_CALLBACK_GROUP_WINDOW_US (unset: the default)");
  app.add_option("--env", o.env, "KEY=VALUE added to every service started (repeatable)");
  app.add_option("--json", o.json_path, "Write the results as JSON to this file");
  app.add_option("--pg-ceiling", o.pg_ceiling_file,
                 "Read pg_ceiling.sh's JSON from this file instead of running it after each "
                 "level on the bench's PostgreSQL");
  app.add_flag("--no-pg-ceiling", o.no_pg_ceiling, "Neither run nor read the pgbench ceiling");
  app.add_option("--pg-seconds", o.pg_seconds, "pg_ceiling.sh --seconds (per level and variant)");
  app.add_option("--pg-payments", o.pg_payments,
                 "pg_ceiling.sh --payments (PENDING payments prefilled)");
  app.add_option("--lag-rate", o.lag_rate,
                 "Callbacks/s of the open-loop relay-lag run (default: half the best rate)");
  app.add_option("--lag-calls", o.lag_calls, "Callbacks of that run (default: --per-row)");
  app.add_option("--max-row-seconds", o.max_row_seconds, "No row starts calls after this long");
  app.add_option("--lag-timeout-s", o.lag_timeout_s, "Longest wait for orders to become PAID");
  app.add_option("--call-timeout-ms", o.call_timeout_ms, "Deadline of every call");
  app.add_flag("--skip-duplicates", o.skip_duplicates, "No duplicate-callback rows");
  app.add_option("--nonce-seconds", o.nonce_seconds,
                 "Run the nonce-table row this long (0: not run): a nonce TTL of expired nonces "
                 "at the best duplicate rate is seeded, then duplicates at that rate's level "
                 "store fresh nonces while the table is sampled; cover two sweep intervals");
  app.add_option("--compare", o.compare,
                 "Compare earlier runs' --json files (rates, ratios, spread) and exit");
  app.add_option("--report", o.report_from,
                 "Print the tables of an earlier run's --json file and exit (runs nothing)");
  app.add_option("--order-addr", o.external.order_addr, "External stack: order-service");
  app.add_option("--payment-addr", o.external.payment_addr,
                 "External stack: payment-service (setting it selects an external stack)");
  app.add_option("--sandbox-addr", o.external.sandbox_addr, "External stack: provider-sandbox");
  app.add_option("--order-dsn", o.external.order_dsn, "External stack: order database");
  app.add_option("--payment-dsn", o.external.payment_dsn, "External stack: payment database");
  app.add_option("--secret", o.external.callback_secret,
                 "External stack: a secret of PAYONCE_CALLBACK_SECRETS");
  app.add_option("--pid", o.pids, "External stack: NAME=PID of a process to sample (repeatable)");
  app.add_option("--postmaster-pid", o.external.postmaster, "External stack: PostgreSQL's pid");
  app.add_option("--pg-port", o.external.pg_port,
                 "External stack: its PostgreSQL on 127.0.0.1:PORT (user payonce), where "
                 "pg_ceiling.sh runs next to each level");
  CLI11_PARSE(app, argc, argv);

  if (!o.compare.empty()) {
    std::vector<json> runs;
    for (const auto& path : o.compare) {
      runs.push_back(ReadJsonFile(path));
      AttachCeiling(runs.back());
    }
    PrintComparison(runs, std::cout);
    return 0;
  }
  if (!o.report_from.empty()) {
    json earlier = ReadJsonFile(o.report_from);
    AttachCeiling(earlier);
    PrintReport(earlier, std::cout);
    return 0;
  }
  const bool own = o.external.payment_addr.empty();
  if (!own) {
    if (o.external.order_addr.empty() || o.external.sandbox_addr.empty() ||
        o.external.callback_secret.empty()) {
      std::cerr << "an external stack needs --order-addr, --sandbox-addr and --secret\n";
      return 2;
    }
    if (o.group_commit == "both") {
      std::cerr << "an external stack runs in one mode: say --group-commit off|on (it only "
                   "labels the run; set PAYONCE_CALLBACK_GROUP_COMMIT on its payment-service)\n";
      return 2;
    }
    for (const auto& kv : o.pids) {
      const auto eq = kv.find('=');
      if (eq == std::string::npos) continue;
      o.external.processes.emplace_back(kv.substr(0, eq), std::stoi(kv.substr(eq + 1)));
    }
  }

  struct sigaction sa {};
  sa.sa_handler = OnSignal;
  sa.sa_flags = SA_RESETHAND;
  sigaction(SIGINT, &sa, nullptr);
  sigaction(SIGTERM, &sa, nullptr);

  json result;
  result["machine"] = MachineInfo();
  result["load_start"] = LoadAverage();
  std::string command;
  for (int i = 0; i < argc; ++i) {
    if (i > 0) command += ' ';
    command += argv[i];
  }
  result["command"] = command;
  result["options"] = {
      {"levels", o.levels}, {"per_row", o.per_row}, {"warmup", o.warmup}, {"own_stack", own}};
  result["modes"] = json::array();

  std::unique_ptr<BenchTarget> target;
  const auto modes = Modes(o);
  for (size_t i = 0; i < modes.size() && !g_cancel; ++i) {
    target.reset();
    result["modes"].push_back(RunMode(o, modes[i], target));
  }
  if (!o.pg_ceiling_file.empty()) {
    result["pg_ceiling"] = ReadJsonFile(o.pg_ceiling_file);
  }
  target.reset();
  result["load_end"] = LoadAverage();
  result["cancelled"] = g_cancel.load();
  AttachCeiling(result);
  PrintReport(result, std::cout);
  if (!o.json_path.empty()) {
    std::ofstream out(o.json_path);
    out << result.dump(2) << "\n";
    Say("results in " + o.json_path);
  }
  return g_cancel ? 130 : 0;
}

}  // namespace
}  // namespace payonce::bench

int main(int argc, char** argv) {
  try {
    return payonce::bench::Main(argc, argv);
  } catch (const std::exception& e) {
    std::cerr << "payonce-bench: " << e.what() << "\n";
    return 1;
  }
}
