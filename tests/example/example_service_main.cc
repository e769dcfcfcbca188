// mend-example-service: the smallest service built on ServiceRuntime, used by
// the runtime's end-to-end tests. Its domain is raw appends
// (mend.eventlog.v1.EventLogWriter); with --upstream_example it also follows
// another example service and mirrors each upstream event into its own
// stream "mirror" (one event per upstream position, so a lost or repeated
// effect is visible as a gap or a version conflict).
#include <fcntl.h>
#include <unistd.h>

#include <string>

#include "absl/flags/flag.h"
#include "absl/strings/str_cat.h"
#include "common/base/config.h"
#include "common/runtime/service_runtime.h"
#include "tests/support/eventlog_writer_service.h"

ABSL_FLAG(std::string, upstream_example, "",
          "address of another example service to follow and mirror");
ABSL_FLAG(std::string, replay_gate, "",
          "test hook: a FIFO that replay reads one byte from before its first event, "
          "so a test can observe NOT_SERVING during replay");

namespace {

using mend::eventlog::ExpectedVersion;
using mend::eventlog::NewEvent;
using mend::eventlog::WriteRequest;

absl::StatusOr<WriteRequest> Mirror(const mend::UpstreamEvent& e) {
  WriteRequest request;
  request.appends.push_back(
      {"mirror",
       ExpectedVersion::Exact(e.position - 1),
       {NewEvent{.event_id = absl::StrCat("mirror-", e.position),
                 .event_type = "mend.example.v1.Mirrored",
                 .payload = std::string(e.view.event_id),
                 .actor_id = "example",
                 .actor_role = "service",
                 .correlation_id = std::string(e.view.correlation_id),
                 .causation_id = std::string(e.view.event_id)}}});
  return request;
}

absl::Status WaitForGate(const std::string& fifo) {
  const int fd = open(fifo.c_str(), O_RDONLY);  // blocks until a writer opens it
  if (fd < 0) return absl::FailedPreconditionError("--replay_gate: cannot open " + fifo);
  char byte;
  const ssize_t n = read(fd, &byte, 1);
  close(fd);
  if (n != 1) return absl::FailedPreconditionError("--replay_gate: nothing to read");
  return absl::OkStatus();
}

}  // namespace

int main(int argc, char** argv) {
  mend::BlockTerminationSignals();
  mend::ParseFlagsWithEnvironment(argc, argv);
  mend::ServiceRuntime::Options options =
      mend::ServiceRuntime::OptionsFromFlags("example");
  options.policies = {&mend::eventlog::EventLogWriterPolicy()};
  auto runtime = mend::ServiceRuntime::Create(options);
  if (!runtime.ok()) return mend::ExitOnError(runtime.status());

  mend::eventlog::EventLogWriterService writer((*runtime)->store(),
                                               (*runtime)->authorizer());
  (*runtime)->RegisterService(&writer);

  const std::string gate = absl::GetFlag(FLAGS_replay_gate);
  bool gate_passed = gate.empty();
  (*runtime)->SetReplay([&](const mend::ReplayedEvent&) -> absl::Status {
    if (!gate_passed) {
      gate_passed = true;
      return WaitForGate(gate);
    }
    return absl::OkStatus();
  });

  const std::string upstream = absl::GetFlag(FLAGS_upstream_example);
  if (!upstream.empty()) {
    auto follower =
        (*runtime)->AddFollower("example", upstream, mend::Follower::PerEvent(Mirror));
    if (!follower.ok()) return mend::ExitOnError(follower.status());
  }
  if (absl::Status s = (*runtime)->Start(); !s.ok()) return mend::ExitOnError(s);
  (*runtime)->RunUntilSignal();
  return 0;
}
