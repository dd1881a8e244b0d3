#include "bench/process_memory.h"

#include <dirent.h>

#include <algorithm>
#include <cstdlib>
#include <fstream>
#include <sstream>

namespace payonce::bench {
namespace {

// The parent pid field of /proc/<pid>/stat (after the parenthesised name).
pid_t ParentOf(pid_t pid) {
  std::ifstream in("/proc/" + std::to_string(pid) + "/stat");
  std::string stat;
  std::getline(in, stat);
  const auto close = stat.rfind(')');
  if (close == std::string::npos) return -1;
  std::istringstream rest(stat.substr(close + 2));
  std::string state;
  pid_t ppid = -1;
  rest >> state >> ppid;
  return ppid;
}

std::vector<pid_t> ChildrenOf(pid_t parent) {
  std::vector<pid_t> out;
  DIR* dir = opendir("/proc");
  if (dir == nullptr) return out;
  while (const dirent* entry = readdir(dir)) {
    char* end = nullptr;
    const long pid = std::strtol(entry->d_name, &end, 10);
    if (end == entry->d_name || *end != '\0') continue;
    if (ParentOf(static_cast<pid_t>(pid)) == parent) out.push_back(static_cast<pid_t>(pid));
  }
  closedir(dir);
  return out;
}

}  // namespace

MemoryReading ReadMemory(pid_t pid) {
  MemoryReading r;
  std::ifstream in("/proc/" + std::to_string(pid) + "/status");
  std::string line;
  auto value = [&](const char* key, int64_t* out) {
    const std::string k(key);
    if (line.compare(0, k.size(), k) == 0) *out = std::atoll(line.c_str() + k.size());
  };
  while (std::getline(in, line)) {
    value("VmRSS:", &r.rss_kb);
    value("VmHWM:", &r.hwm_kb);
    value("RssAnon:", &r.anon_kb);
  }
  return r;
}

MemorySampler::MemorySampler(std::vector<std::pair<std::string, pid_t>> processes, pid_t postmaster,
                             std::chrono::milliseconds interval)
    : processes_(std::move(processes)), postmaster_(postmaster), interval_(interval) {
  thread_ = std::thread([this] { Loop(); });
}

MemorySampler::~MemorySampler() {
  stop_ = true;
  thread_.join();
}

void MemorySampler::Loop() {
  while (!stop_) {
    SampleOnce();
    std::this_thread::sleep_for(interval_);
  }
}

void MemorySampler::Record(const std::string& name, const MemoryReading& r) {
  MemoryPeak& p = peaks_[name];
  p.rss_kb = std::max(p.rss_kb, r.rss_kb);
  p.hwm_kb = std::max(p.hwm_kb, r.hwm_kb);
  p.anon_kb = std::max(p.anon_kb, r.anon_kb);
}

void MemorySampler::SampleOnce() {
  std::vector<std::pair<std::string, MemoryReading>> readings;
  for (const auto& [name, pid] : processes_) {
    if (pid > 0) readings.emplace_back(name, ReadMemory(pid));
  }
  if (postmaster_ > 0) {
    readings.emplace_back("postgres: postmaster", ReadMemory(postmaster_));
    MemoryReading largest;
    MemoryReading all;
    for (pid_t child : ChildrenOf(postmaster_)) {
      const MemoryReading r = ReadMemory(child);
      if (r.rss_kb > largest.rss_kb) largest = r;
      all.rss_kb += r.rss_kb;
      all.anon_kb += r.anon_kb;
    }
    readings.emplace_back("postgres: largest child", largest);
    readings.emplace_back("postgres: all children (sum)", all);
  }
  std::lock_guard<std::mutex> lock(mu_);
  for (const auto& [name, r] : readings) Record(name, r);
}

std::map<std::string, MemoryPeak> MemorySampler::Peaks() const {
  std::lock_guard<std::mutex> lock(mu_);
  return peaks_;
}

void MemorySampler::Reset() {
  std::lock_guard<std::mutex> lock(mu_);
  peaks_.clear();
}

nlohmann::json ToJson(const std::map<std::string, MemoryPeak>& peaks) {
  nlohmann::json out = nlohmann::json::object();
  for (const auto& [name, p] : peaks) {
    out[name] = {{"peak_rss_mb", static_cast<double>(p.rss_kb) / 1024.0},
                 {"hwm_mb", static_cast<double>(p.hwm_kb) / 1024.0},
                 {"peak_anon_mb", static_cast<double>(p.anon_kb) / 1024.0}};
  }
  return out;
}

}  // namespace payonce::bench
