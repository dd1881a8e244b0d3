#include "bench/report.h"

#include <sys/utsname.h>

#include <algorithm>
#include <cmath>
#include <cstdio>
#include <fstream>
#include <map>
#include <pqxx/pqxx>
#include <thread>

namespace payonce::bench {
namespace {

using nlohmann::json;

constexpr const char* kSelectPgSettings =
    "SELECT name, setting || coalesce(' ' || unit, '') FROM pg_settings WHERE name IN "
    "('server_version', 'shared_buffers', 'fsync', 'synchronous_commit', 'wal_sync_method', "
    "'full_page_writes', 'wal_level', 'wal_buffers', 'max_wal_size', 'checkpoint_timeout', "
    "'commit_delay', 'max_connections', 'work_mem') ORDER BY name";

std::string Format(const char* fmt, double v) {
  char buf[64];
  std::snprintf(buf, sizeof buf, fmt, v);
  return buf;
}

// A number with a precision that suits its size; "-" when absent.
std::string Num(const json& v) {
  if (!v.is_number()) return "-";
  const double d = v.get<double>();
  if (d >= 1000) return Format("%.0f", d);
  if (d >= 100) return Format("%.1f", d);
  return Format("%.2f", d);
}

std::string Pad(const std::string& s, size_t width) {
  return s.size() >= width ? s + " " : s + std::string(width - s.size(), ' ');
}

std::string ErrorsText(const json& errors) {
  std::string out;
  for (const auto& [code, n] : errors.items()) {
    if (!out.empty()) out += ',';
    out += code + "=" + std::to_string(n.get<size_t>());
  }
  return out.empty() ? "0" : out;
}

const json* FindLevel(const json& ceiling, const char* variant, int clients) {
  if (!ceiling.is_object() || !ceiling.contains(variant)) return nullptr;
  for (const auto& level : ceiling[variant]) {
    if (level.value("clients", -1) == clients) return &level;
  }
  return nullptr;
}

std::string FirstLine(const std::string& path, const std::string& key) {
  std::ifstream in(path);
  std::string line;
  while (std::getline(in, line)) {
    if (line.compare(0, key.size(), key) == 0) {
      const auto colon = line.find(':');
      return colon == std::string::npos ? line
                                        : line.substr(line.find_first_not_of(" \t", colon + 1));
    }
  }
  return "";
}

void PrintRows(const json& mode, std::ostream& out) {
  out << Pad("scenario", 21) << Pad("C", 4) << Pad("calls", 7) << Pad("ok/s", 9) << Pad("p50 ms", 8)
      << Pad("p99 ms", 8) << Pad("p999 ms", 9) << Pad("pg tx/s", 9) << Pad("÷pg tx", 8)
      << Pad("pg b16 cb/s", 12) << Pad("÷pg b16", 9) << Pad("load1", 7) << "errors\n";
  for (const auto& row : mode["rows"]) {
    const json& lat = row["latency_ms"];
    out << Pad(row["scenario"].get<std::string>(), 21)
        << Pad(std::to_string(row["concurrency"].get<int>()), 4)
        << Pad(std::to_string(row["calls"].get<size_t>()), 7) << Pad(Num(row["rate_per_s"]), 9)
        << Pad(Num(lat["p50"]), 8) << Pad(Num(lat["p99"]), 8) << Pad(Num(lat["p999"]), 9)
        << Pad(Num(row.value("pgbench_tx_per_s", json())), 9)
        << Pad(Num(row.value("ratio_vs_pgbench_tx", json())), 8)
        << Pad(Num(row.value("pgbench_batch16_callbacks_per_s", json())), 12)
        << Pad(Num(row.value("ratio_vs_pgbench_batch16", json())), 9)
        << Pad(row.value("load_before", std::string()).substr(0, 5), 7) << ErrorsText(row["errors"])
        << (row.value("truncated", false) ? " (cut short)" : "") << "\n";
  }
}

void PrintLag(const json& mode, std::ostream& out) {
  if (!mode.contains("relay_lag") || mode["relay_lag"].empty()) return;
  out << "relay lag (callback -> order PAID), ms\n";
  out << Pad("during", 36) << Pad("cb/s", 8) << Pad("paid", 12) << Pad("ack p50", 9)
      << Pad("ack p99", 9) << Pad("ack max", 9) << Pad("outbox p50", 11) << Pad("outbox p99", 11)
      << "\n";
  for (const auto& lag : mode["relay_lag"]) {
    out << Pad(lag["during"].get<std::string>(), 36) << Pad(Num(lag["callback_rate_per_s"]), 8)
        << Pad(std::to_string(lag["paid"].get<size_t>()) + "/" +
                   std::to_string(lag["expected"].get<size_t>()),
               12)
        << Pad(Num(lag["from_ack_ms"]["p50"]), 9) << Pad(Num(lag["from_ack_ms"]["p99"]), 9)
        << Pad(Num(lag["from_ack_ms"]["max"]), 9) << Pad(Num(lag["from_outbox_ms"]["p50"]), 11)
        << Pad(Num(lag["from_outbox_ms"]["p99"]), 11) << "\n";
  }
}

void PrintNonceTable(const json& mode, std::ostream& out) {
  if (!mode.contains("nonce_table")) return;
  const json& n = mode["nonce_table"];
  out << "nonce table at the peak (callback_nonces; " << Num(n["nonces_per_s"])
      << " new nonces/s at C=" << n["concurrency"].get<int>() << " for " << Num(n["seconds"])
      << " s, sweep every " << n["sweep_interval_ms"].get<int64_t>() / 1000 << " s)\n";
  out << "  seeded expired " << n["seeded_expired"].get<int64_t>() << "; rows "
      << n["rows_start"].get<int64_t>() << " -> max " << n["rows_max"].get<int64_t>() << " -> "
      << n["rows_end"].get<int64_t>() << "; expired " << n["expired_start"].get<int64_t>() << " -> "
      << n["expired_end"].get<int64_t>() << "; drained after "
      << (n["drained_after_s"].is_null() ? std::string("never") : Num(n["drained_after_s"]) + " s")
      << "; sweep >= " << Num(n["sweep_rows_per_s"]) << " rows/s\n";
  out << "  " << (n["bounded"].get<bool>() ? "bounded" : "NOT bounded")
      << ": steady size at this rate <= " << n["steady_bound_rows"].get<int64_t>()
      << " rows (rate x (TTL + sweep interval))\n";
}

void PrintMemory(const json& memory, const std::string& title, std::ostream& out) {
  if (!memory.is_object() || memory.empty()) return;
  out << title << "\n";
  out << Pad("process", 32) << Pad("peak RSS MB", 13) << Pad("VmHWM MB", 10) << "peak anon MB\n";
  for (const auto& [name, m] : memory.items()) {
    const bool has_hwm = m["hwm_mb"].get<double>() > 0;  // a sum has none
    out << Pad(name, 32) << Pad(Num(m["peak_rss_mb"]), 13)
        << Pad(has_hwm ? Num(m["hwm_mb"]) : "-", 10) << Num(m["peak_anon_mb"]) << "\n";
  }
}

// The top `n` items of a sampled list as "name avg, ...".
std::string Top(const json& items, const char* label, size_t n) {
  std::string line;
  size_t shown = 0;
  for (const auto& item : items) {
    if (shown++ == n) break;
    if (shown > 1) line += ", ";
    line += item[label].get<std::string>() + " " + Num(item["avg_processes"]);
  }
  return line;
}

void PrintWaits(const json& mode, std::ostream& out) {
  bool header = false;
  for (const auto& row : mode["rows"]) {
    json waits = row.value("pg_waits", json::object());
    if (waits.is_array()) waits = json{{"states", waits}};  // runs before statements were sampled
    if (!waits.is_object() || !waits.contains("states") || waits["states"].empty()) continue;
    if (!header) {
      out << "PostgreSQL processes by state, and active statements (average count while the row "
             "ran)\n";
      header = true;
    }
    const std::string name =
        row["scenario"].get<std::string>() + " C=" + std::to_string(row["concurrency"].get<int>());
    out << "  " << name << ": " << Top(waits["states"], "state", 4) << "\n";
    if (row["scenario"] != "CreatePayment") {
      for (const auto& s : waits.value("statements", json::array())) {
        if (s["avg_processes"].get<double>() < 0.05) break;
        out << "      " << Num(s["avg_processes"]) << "  " << s["statement"].get<std::string>()
            << "\n";
      }
    }
  }
}

void PrintCeiling(const json& ceiling, const std::string& title, std::ostream& out) {
  if (!ceiling.is_object() || !ceiling.contains("per_callback")) return;
  out << title << "\n";
  out << Pad("clients", 9) << Pad("per-callback tx/s", 19) << Pad("lat ms", 8)
      << Pad("batch16 tx/s", 14) << Pad("batch16 cb/s", 14) << Pad("lat ms", 8) << "load\n";
  for (const auto& level : ceiling["per_callback"]) {
    const int c = level["clients"].get<int>();
    const json* batch = FindLevel(ceiling, "batch16", c);
    out << Pad(std::to_string(c), 9) << Pad(Num(level["tps"]), 19)
        << Pad(Num(level["latency_avg_ms"]), 8) << Pad(batch ? Num((*batch)["tps"]) : "-", 14)
        << Pad(batch ? Num((*batch)["callbacks_per_s"]) : "-", 14)
        << Pad(batch ? Num((*batch)["latency_avg_ms"]) : "-", 8)
        << level.value("load_before", ceiling.value("load_before", std::string())) << "\n";
  }
}

}  // namespace

json MachineInfo() {
  json m;
  m["nproc"] = std::thread::hardware_concurrency();
  m["cpu_model"] = FirstLine("/proc/cpuinfo", "model name");
  m["mem_total"] = FirstLine("/proc/meminfo", "MemTotal");
  utsname u{};
  if (uname(&u) == 0) m["kernel"] = std::string(u.sysname) + " " + u.release;
  return m;
}

std::string LoadAverage() {
  std::ifstream in("/proc/loadavg");
  std::string a, b, c;
  in >> a >> b >> c;
  return a + " " + b + " " + c;
}

CpuTicks ReadCpuTicks() {
  std::ifstream in("/proc/stat");
  std::string label;
  CpuTicks t;
  in >> label >> t.user >> t.nice >> t.system >> t.idle >> t.iowait >> t.irq >> t.softirq >>
      t.steal;
  return t;
}

json CpuShare(const CpuTicks& from, const CpuTicks& to) {
  const double user = double(to.user + to.nice) - double(from.user + from.nice);
  const double system =
      double(to.system + to.irq + to.softirq) - double(from.system + from.irq + from.softirq);
  const double idle = double(to.idle) - double(from.idle);
  const double iowait = double(to.iowait) - double(from.iowait);
  const double steal = double(to.steal) - double(from.steal);
  const double total = user + system + idle + iowait + steal;
  if (total <= 0) return json::object();
  auto pct = [&](double v) { return std::round(1000.0 * v / total) / 10.0; };
  return {{"user_pct", pct(user)},
          {"system_pct", pct(system)},
          {"idle_pct", pct(idle)},
          {"iowait_pct", pct(iowait)},
          {"steal_pct", pct(steal)}};
}

json PgSettings(const std::string& dsn) {
  json out = json::object();
  try {
    pqxx::connection conn(dsn);
    pqxx::nontransaction tx(conn);
    for (const auto& r : tx.exec(kSelectPgSettings)) {
      out[r[0].as<std::string>()] = r[1].as<std::string>();
    }
  } catch (const std::exception& e) {
    out["error"] = e.what();
  }
  return out;
}

void AttachCeiling(json& result) {
  const json global = result.value("pg_ceiling", json());
  for (auto& mode : result["modes"]) {
    const json ceiling = mode.contains("pg_ceiling") ? mode["pg_ceiling"] : global;
    if (!ceiling.is_object()) continue;
    for (auto& row : mode["rows"]) {
      if (row["scenario"] != "new callbacks") continue;
      const int c = row["concurrency"].get<int>();
      const double rate = row["rate_per_s"].get<double>();
      if (const json* tx = FindLevel(ceiling, "per_callback", c)) {
        const double tps = (*tx)["tps"].get<double>();
        row["pgbench_tx_per_s"] = tps;
        if (tps > 0) row["ratio_vs_pgbench_tx"] = rate / tps;
      }
      if (const json* batch = FindLevel(ceiling, "batch16", c)) {
        const double cbs = (*batch)["callbacks_per_s"].get<double>();
        row["pgbench_batch16_callbacks_per_s"] = cbs;
        if (cbs > 0) row["ratio_vs_pgbench_batch16"] = rate / cbs;
      }
    }
  }
}

void PrintReport(const json& result, std::ostream& out) {
  const json& m = result["machine"];
  out << "\n== payonce-bench: " << m.value("nproc", 0) << " cores, "
      << m.value("cpu_model", std::string()) << ", " << m.value("mem_total", std::string())
      << "; load " << result.value("load_start", std::string()) << " -> "
      << result.value("load_end", std::string()) << "\n";
  for (const auto& mode : result["modes"]) {
    out << "\n-- group commit " << mode["group_commit"].get<std::string>();
    if (mode.contains("note")) out << " (" << mode["note"].get<std::string>() << ")";
    out << "\n";
    PrintRows(mode, out);
    PrintLag(mode, out);
    PrintWaits(mode, out);
    PrintNonceTable(mode, out);
    PrintMemory(mode.value("memory", json()), "memory over the whole mode", out);
    PrintMemory(mode.value("memory_at_half_rate", json()),
                "memory during the half-rate relay-lag run", out);
    PrintCeiling(mode.value("pg_ceiling", json()),
                 "pgbench ceiling (bench/pg_ceiling.sh, run after each level's rows)", out);
  }
  PrintCeiling(result.value("pg_ceiling", json()), "pgbench ceiling (--pg-ceiling file)", out);
  out.flush();
}

void PrintComparison(const std::vector<json>& runs, std::ostream& out) {
  struct Series {
    std::vector<double> rate;
    std::vector<double> ratio;
  };
  // (mode, scenario, concurrency) in first-seen order.
  std::vector<std::string> keys;
  std::map<std::string, Series> series;
  for (const auto& run : runs) {
    for (const auto& mode : run["modes"]) {
      for (const auto& row : mode["rows"]) {
        const std::string key = mode["group_commit"].get<std::string>() + "|" +
                                row["scenario"].get<std::string>() + "|" +
                                std::to_string(row["concurrency"].get<int>());
        if (!series.count(key)) keys.push_back(key);
        series[key].rate.push_back(row["rate_per_s"].get<double>());
        if (row.contains("ratio_vs_pgbench_tx")) {
          series[key].ratio.push_back(row["ratio_vs_pgbench_tx"].get<double>());
        }
      }
    }
  }
  // The largest deviation of a run from the mean, in % of the mean ("±x%").
  auto spread = [](const std::vector<double>& v) -> json {
    if (v.size() < 2) return json();
    double mean = 0;
    for (double x : v) mean += x;
    mean /= static_cast<double>(v.size());
    double worst = 0;
    for (double x : v) worst = std::max(worst, std::abs(x - mean));
    return mean > 0 ? json(worst / mean * 100.0) : json();
  };
  auto list = [](const std::vector<double>& v) {
    std::string s;
    for (double x : v) {
      if (!s.empty()) s += " / ";
      s += Num(x);
    }
    return s.empty() ? std::string("-") : s;
  };
  out << Pad("gc", 4) << Pad("scenario", 21) << Pad("C", 5) << Pad("ok/s per run", 26)
      << Pad("±% of mean", 12) << Pad("÷pg tx per run", 22) << "±% of mean\n";
  for (const auto& key : keys) {
    const auto a = key.find('|');
    const auto b = key.find('|', a + 1);
    const Series& s = series[key];
    out << Pad(key.substr(0, a), 4) << Pad(key.substr(a + 1, b - a - 1), 21)
        << Pad(key.substr(b + 1), 5) << Pad(list(s.rate), 26) << Pad(Num(spread(s.rate)), 12)
        << Pad(list(s.ratio), 22) << Num(spread(s.ratio)) << "\n";
  }
}

}  // namespace payonce::bench
