// Ctrl-C and SIGTERM for a command that follows a stream (tail, a streaming
// call): the stream is cancelled and the command ends cleanly (exit 0)
// instead of the process dying in the middle of a line.
//
//   int main() { mend::ctl::StartSignalThread(); ... }   // before any thread
//   ...
//   grpc::ClientContext context;
//   mend::ctl::StopOnSignal stop(&context);
//   while (reader->Read(&response)) { ... }
//   if (stop.stopped()) return kExitOk;
//
// Outside a StopOnSignal the signals end the process at once, as usual
// (exit 128 + the signal's number), so a unary call can be interrupted too.
#ifndef MEND_TOOLS_MENDCTL_STOP_SIGNAL_H_
#define MEND_TOOLS_MENDCTL_STOP_SIGNAL_H_

#include <grpcpp/client_context.h>

#include <atomic>

namespace mend::ctl {

// Blocks SIGINT and SIGTERM in the calling thread, and so in every thread
// started after it (gRPC's), and starts the one thread that takes them.
// Call first in main, before anything starts a thread.
void StartSignalThread();

// While it lives, SIGINT or SIGTERM cancels `context` (TryCancel: a pending
// Read returns false) and sets stopped(). One at a time. Thread-safe.
class StopOnSignal {
 public:
  explicit StopOnSignal(grpc::ClientContext* context);
  ~StopOnSignal();
  StopOnSignal(const StopOnSignal&) = delete;
  StopOnSignal& operator=(const StopOnSignal&) = delete;

  // Whether a signal cancelled the context.
  bool stopped() const { return stopped_.load(); }

 private:
  friend void TakeSignal(int signal);
  std::atomic<bool> stopped_{false};
};

}  // namespace mend::ctl

#endif  // MEND_TOOLS_MENDCTL_STOP_SIGNAL_H_
