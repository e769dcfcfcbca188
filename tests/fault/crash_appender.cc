// mend-crash-appender: the child process of crash_durability_test. Opens an
// EventStore and appends from many threads, reporting every acknowledged event
// on stdout, until it is killed (or each thread has appended
// --events_per_thread events).
//
//   mend-crash-appender --data_dir DIR --threads N [--events_per_thread M]
//                       [--round R]
//
// Output, one whole line per write(2) on fd 1:
//   ready                        the store is open
//   ack <event_id> <position>    Append returned OK: the event is durable at
//                                <position>
// A line is written only after its Append returned, so every line the parent
// reads is an acknowledgement that really happened, even if the process is
// killed right after. Exits 1 with a message on stderr if Open or any Append
// fails.
//
// Event ids are "r<R>-t<thread>-<i>". Each thread cycles through three kinds
// of append: to its own stream with ExpectedVersion::NoStream / Exact (one
// event), and to one of four shared streams with ExpectedVersion::Any (one
// event, or two in one append, which share the append's fate). An append of
// two events reports two lines, at first_position and first_position + 1.
#include <unistd.h>

#include <cerrno>
#include <cstdint>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <memory>
#include <string>
#include <thread>
#include <vector>

#include "absl/flags/flag.h"
#include "absl/flags/parse.h"
#include "absl/strings/str_cat.h"
#include "absl/synchronization/mutex.h"
#include "common/eventlog/event_store.h"
#include "tests/fault/crash_payload.h"

ABSL_FLAG(std::string, data_dir, "", "directory of the event log (created if missing)");
ABSL_FLAG(int, threads, 8, "number of appending threads");
ABSL_FLAG(uint64_t, events_per_thread, 0, "events per thread; 0 runs until killed");
ABSL_FLAG(int, round, 0, "prefix of event ids, so rounds on one log never collide");

namespace mend::eventlog {
namespace {

constexpr int kSharedStreams = 4;

absl::Mutex stdout_mu;

// Writes all of `text` to fd 1 with write(2), under stdout_mu so that lines
// from different threads never interleave.
void WriteOut(const std::string& text) {
  absl::MutexLock lock(&stdout_mu);
  size_t done = 0;
  while (done < text.size()) {
    ssize_t n = write(STDOUT_FILENO, text.data() + done, text.size() - done);
    if (n < 0 && errno == EINTR) continue;
    if (n <= 0) {
      std::fprintf(stderr, "mend-crash-appender: write to stdout failed: %s\n",
                   std::strerror(errno));
      _exit(1);
    }
    done += static_cast<size_t>(n);
  }
}

[[noreturn]] void Fail(const std::string& message) {
  std::fprintf(stderr, "mend-crash-appender: %s\n", message.c_str());
  std::fflush(stderr);
  // Other threads are still appending: skip static destructors.
  _exit(1);
}

NewEvent MakeEvent(std::string id) {
  std::string payload = CrashPayload(id);
  return NewEvent{.event_id = std::move(id),
                  .event_type = kCrashEventType,
                  .payload = std::move(payload),
                  .actor_id = "mend-crash-appender",
                  .actor_role = "service",
                  .correlation_id = "",
                  .causation_id = ""};
}

void AppendLoop(EventStore* store, int round, int thread, uint64_t max_events) {
  const std::string id_prefix = absl::StrCat("r", round, "-t", thread, "-");
  const std::string own_stream = absl::StrCat("own-r", round, "-t", thread);
  uint64_t own_version = 0;
  uint64_t next = 0;  // index of the next event id
  for (uint64_t append = 0; max_events == 0 || next < max_events; ++append) {
    std::string stream;
    ExpectedVersion expected;
    size_t count = 1;
    switch (append % 3) {
      case 0:
        stream = own_stream;
        expected = own_version == 0 ? ExpectedVersion::NoStream()
                                    : ExpectedVersion::Exact(own_version);
        break;
      case 1:
        stream = absl::StrCat("shared-", (thread + append) % kSharedStreams);
        expected = ExpectedVersion::Any();
        break;
      case 2:
        stream = absl::StrCat("shared-", (thread + append) % kSharedStreams);
        expected = ExpectedVersion::Any();
        count = (max_events == 0 || next + 2 <= max_events) ? 2 : 1;
        break;
    }
    std::vector<std::string> ids;
    std::vector<NewEvent> events;
    for (size_t k = 0; k < count; ++k) {
      ids.push_back(absl::StrCat(id_prefix, next++));
      events.push_back(MakeEvent(ids.back()));
    }
    absl::StatusOr<AppendResult> result =
        store->Append(stream, expected, std::move(events));
    if (!result.ok()) {
      Fail(absl::StrCat("append of ", ids.front(), " to ", stream,
                        " failed: ", result.status().ToString()));
    }
    if (result->deduplicated || result->first_position == 0) {
      Fail(absl::StrCat("append of new event ", ids.front(), " to ", stream,
                        " returned deduplicated=", result->deduplicated,
                        " first_position=", result->first_position));
    }
    if (stream == own_stream) own_version = result->stream_version;
    std::string lines;
    for (size_t k = 0; k < ids.size(); ++k) {
      absl::StrAppend(&lines, "ack ", ids[k], " ", result->first_position + k, "\n");
    }
    WriteOut(lines);
  }
}

int Main(int argc, char** argv) {
  absl::ParseCommandLine(argc, argv);
  const std::string data_dir = absl::GetFlag(FLAGS_data_dir);
  const int threads = absl::GetFlag(FLAGS_threads);
  const uint64_t max_events = absl::GetFlag(FLAGS_events_per_thread);
  const int round = absl::GetFlag(FLAGS_round);
  if (data_dir.empty()) Fail("--data_dir is required");
  if (threads < 1) Fail("--threads must be at least 1");
  if (round < 0) Fail("--round must not be negative");

  absl::StatusOr<std::unique_ptr<EventStore>> store =
      EventStore::Open({.path = data_dir});
  if (!store.ok()) {
    Fail(absl::StrCat("open ", data_dir, " failed: ", store.status().ToString()));
  }
  WriteOut("ready\n");

  std::vector<std::thread> workers;
  workers.reserve(threads);
  for (int t = 0; t < threads; ++t) {
    workers.emplace_back(AppendLoop, store->get(), round, t, max_events);
  }
  for (std::thread& w : workers) w.join();
  store->reset();
  return 0;
}

}  // namespace
}  // namespace mend::eventlog

int main(int argc, char** argv) { return mend::eventlog::Main(argc, argv); }
