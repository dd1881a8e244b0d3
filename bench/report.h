// The bench's results: one JSON document (machine, settings, rows per
// group-commit mode, relay lag, memory, the pgbench ceiling and the ratios)
// and the tables printed from it.
#pragma once

#include <nlohmann/json.hpp>
#include <ostream>
#include <string>
#include <vector>

namespace payonce::bench {

// nproc, CPU model, memory, kernel.
nlohmann::json MachineInfo();

// /proc/loadavg's first three fields ("0.52 1.10 1.33").
std::string LoadAverage();

// The machine-wide CPU counters of /proc/stat's "cpu" line (USER_HZ ticks).
struct CpuTicks {
  unsigned long long user = 0, nice = 0, system = 0, idle = 0, iowait = 0, irq = 0, softirq = 0,
                     steal = 0;
};
CpuTicks ReadCpuTicks();

// What the CPUs did between two readings, in % of all their time: user
// (with nice), system (with irq and softirq), idle, iowait and steal (time
// the hypervisor gave this guest's vCPUs to someone else: host noise).
nlohmann::json CpuShare(const CpuTicks& from, const CpuTicks& to);

// The PostgreSQL settings that bound commit throughput, read through `dsn`.
nlohmann::json PgSettings(const std::string& dsn);

// Adds to each row of `result` the pgbench figures of the same concurrency
// from result["pg_ceiling"] (pg_ceiling.sh's JSON) and PayOnce ÷ pgbench.
void AttachCeiling(nlohmann::json& result);

// The tables: rows per mode, relay lag, memory, wait events, ceiling.
void PrintReport(const nlohmann::json& result, std::ostream& out);

// Compares runs (their --json documents): per mode, scenario and
// concurrency, each run's rate and PayOnce ÷ pgbench, and the spread
// (largest deviation of a run from the mean, in %) the reproducibility
// criterion (±15%) is about.
void PrintComparison(const std::vector<nlohmann::json>& runs, std::ostream& out);

}  // namespace payonce::bench
