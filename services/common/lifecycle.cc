#include "services/common/lifecycle.h"

#include <pthread.h>
#include <signal.h>

#include <cstdlib>
#include <memory>
#include <thread>

namespace payonce {
namespace {
sigset_t ShutdownSignals() {
  sigset_t set;
  sigemptyset(&set);
  sigaddset(&set, SIGTERM);
  sigaddset(&set, SIGINT);
  return set;
}
}  // namespace

void BlockShutdownSignals() {
  const sigset_t set = ShutdownSignals();
  pthread_sigmask(SIG_BLOCK, &set, nullptr);
  signal(SIGPIPE, SIG_IGN);
}

int WaitForShutdownSignal() {
  const sigset_t set = ShutdownSignals();
  int sig = 0;
  while (sigwait(&set, &sig) != 0) {
  }
  return sig;
}

void DrainWithin(Logger& log, std::chrono::milliseconds grace, const std::function<void()>& drain,
                 const std::function<void()>& abort, std::chrono::milliseconds after_abort) {
  // Shared with the drain thread, which outlives this call if it never ends.
  auto done = std::make_shared<StopFlag>();
  std::thread drainer([done, &drain] {
    drain();
    done->Stop();
  });
  if (done->WaitFor(grace)) {
    drainer.join();
    return;
  }
  log.Warn("drain grace period over; aborting the work still in flight",
           {{"grace_ms", grace.count()}});
  abort();
  if (done->WaitFor(after_abort)) {
    drainer.join();
    return;
  }
  log.Error("drain still stuck after aborting the work in flight; exiting without it",
            {{"waited_ms", (grace + after_abort).count()}, {"exit_code", 1}});
  std::_Exit(1);
}

void StopFlag::Stop() {
  {
    std::lock_guard<std::mutex> lock(mu_);
    stopped_ = true;
  }
  cv_.notify_all();
}

bool StopFlag::stopped() const {
  std::lock_guard<std::mutex> lock(mu_);
  return stopped_;
}

bool StopFlag::WaitFor(std::chrono::milliseconds timeout) const {
  std::unique_lock<std::mutex> lock(mu_);
  return cv_.wait_for(lock, timeout, [this] { return stopped_; });
}

}  // namespace payonce
