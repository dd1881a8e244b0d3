// Resident memory of the processes under test, sampled from
// /proc/<pid>/status (VmRSS, VmHWM, RssAnon) on a background thread.
#pragma once

#include <sys/types.h>

#include <atomic>
#include <chrono>
#include <map>
#include <mutex>
#include <nlohmann/json.hpp>
#include <string>
#include <thread>
#include <vector>

namespace payonce::bench {

// One process's memory as /proc/<pid>/status reports it, in KiB.
struct MemoryReading {
  int64_t rss_kb = 0;
  int64_t hwm_kb = 0;
  int64_t anon_kb = 0;
};

// Reads /proc/<pid>/status; zeros if the process is gone.
MemoryReading ReadMemory(pid_t pid);

// Peak resident memory per named process over a window.
struct MemoryPeak {
  int64_t rss_kb = 0;   // highest VmRSS sampled
  int64_t hwm_kb = 0;   // VmHWM (lifetime peak) at the last sample
  int64_t anon_kb = 0;  // highest RssAnon (private memory) sampled
};

class MemorySampler {
 public:
  // Watches `processes` (name, pid). If `postmaster` > 0, its children (the
  // PostgreSQL backends and helpers) are found anew at every sample and
  // reported as "postgres: largest child" and "postgres: all" (sums; VmRSS
  // counts shared buffers once per process that touched them, RssAnon does
  // not).
  MemorySampler(std::vector<std::pair<std::string, pid_t>> processes, pid_t postmaster,
                std::chrono::milliseconds interval = std::chrono::milliseconds(250));
  ~MemorySampler();
  MemorySampler(const MemorySampler&) = delete;
  MemorySampler& operator=(const MemorySampler&) = delete;

  // Peaks since the last Reset (or start), by name.
  std::map<std::string, MemoryPeak> Peaks() const;
  void Reset();

 private:
  void Loop();
  void SampleOnce();
  void Record(const std::string& name, const MemoryReading& r);

  std::vector<std::pair<std::string, pid_t>> processes_;
  pid_t postmaster_;
  std::chrono::milliseconds interval_;
  mutable std::mutex mu_;
  std::map<std::string, MemoryPeak> peaks_;
  std::atomic<bool> stop_{false};
  std::thread thread_;
};

// {"name": {"peak_rss_mb", "hwm_mb", "peak_anon_mb"}}.
nlohmann::json ToJson(const std::map<std::string, MemoryPeak>& peaks);

}  // namespace payonce::bench
