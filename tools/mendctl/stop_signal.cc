#include "tools/mendctl/stop_signal.h"

#include <signal.h>
#include <unistd.h>

#include <thread>

#include "absl/base/const_init.h"
#include "absl/base/thread_annotations.h"
#include "absl/synchronization/mutex.h"

namespace mend::ctl {
namespace {

ABSL_CONST_INIT absl::Mutex mu(absl::kConstInit);
// The stream a signal cancels; null: a signal ends the process.
grpc::ClientContext* current_context ABSL_GUARDED_BY(mu) = nullptr;
StopOnSignal* current_stop ABSL_GUARDED_BY(mu) = nullptr;

sigset_t StopSignals() {
  sigset_t set;
  sigemptyset(&set);
  sigaddset(&set, SIGINT);
  sigaddset(&set, SIGTERM);
  return set;
}

}  // namespace

void TakeSignal(int signal) {
  absl::MutexLock lock(&mu);
  if (current_context == nullptr) {
    // Nothing to end cleanly: as if the signal had not been blocked.
    _exit(128 + signal);
  }
  current_stop->stopped_.store(true);
  current_context->TryCancel();
}

void StartSignalThread() {
  const sigset_t set = StopSignals();
  pthread_sigmask(SIG_BLOCK, &set, nullptr);
  // Detached: it waits for the whole life of the process, and exit() does
  // not wait for it.
  std::thread([set] {
    while (true) {
      int signal = 0;
      if (sigwait(&set, &signal) == 0) TakeSignal(signal);
    }
  }).detach();
}

StopOnSignal::StopOnSignal(grpc::ClientContext* context) {
  absl::MutexLock lock(&mu);
  current_context = context;
  current_stop = this;
}

StopOnSignal::~StopOnSignal() {
  absl::MutexLock lock(&mu);
  current_context = nullptr;
  current_stop = nullptr;
}

}  // namespace mend::ctl
