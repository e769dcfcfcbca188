// Durability under SIGKILL: a child process (mend-crash-appender) appends
// from many threads and reports each acknowledgement on a pipe; the test
// kills it with SIGKILL mid-stream, reopens the log, and checks that every
// acknowledged event is present at its acknowledged position and the chain is
// valid. Several rounds run on one log, so recovery is shown to be repeatable
// (each round appends on top of a recovered log).
//
// Set MEND_CRASH_SEED to replay a run's kill points; the seed is printed.
#include <fcntl.h>
#include <poll.h>
#include <signal.h>
#include <spawn.h>
#include <sys/wait.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <chrono>
#include <cstdint>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <memory>
#include <random>
#include <string>
#include <vector>

#include "absl/container/flat_hash_map.h"
#include "absl/container/flat_hash_set.h"
#include "absl/strings/numbers.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_split.h"
#include "common/eventlog/event_store.h"
#include "gmock/gmock.h"
#include "gtest/gtest.h"
#include "mend/eventlog/v1/record.pb.h"
#include "tests/fault/crash_payload.h"
#include "tests/support/test_util.h"

#ifndef MEND_CRASH_APPENDER
#error "MEND_CRASH_APPENDER must name the mend-crash-appender binary"
#endif

extern char** environ;

namespace mend::eventlog {
namespace {

using ::mend::testing::IsOk;
using ::mend::testing::TempDir;

constexpr int kRounds = 3;
constexpr int kThreads = 8;
constexpr int kMinAcksBeforeKill = 500;
constexpr int kMaxAcksBeforeKill = 3000;
constexpr auto kRoundDeadline = std::chrono::seconds(60);
// Acknowledged events re-appended after each recovery, to check that the
// event id index survived too.
constexpr size_t kDedupSamples = 50;

using Clock = std::chrono::steady_clock;

struct Ack {
  std::string event_id;
  uint64_t position = 0;
};

struct RoundOutcome {
  std::vector<Ack> acks;
  size_t acks_at_kill = 0;  // acks read before SIGKILL was sent
};

// Kills (SIGKILL) and reaps the child unless Release()d; closes the pipe.
class ChildGuard {
 public:
  ChildGuard(pid_t pid, int fd) : pid_(pid), fd_(fd) {}
  ~ChildGuard() {
    if (fd_ >= 0) close(fd_);
    if (pid_ > 0) {
      kill(pid_, SIGKILL);
      int status;
      while (waitpid(pid_, &status, 0) < 0 && errno == EINTR) {
      }
    }
  }
  ChildGuard(const ChildGuard&) = delete;
  ChildGuard& operator=(const ChildGuard&) = delete;

  pid_t pid() const { return pid_; }
  int fd() const { return fd_; }
  void Release() { pid_ = -1; }

 private:
  pid_t pid_;
  int fd_;
};

uint64_t Seed() {
  const char* env = std::getenv("MEND_CRASH_SEED");
  uint64_t seed = 0;
  if (env != nullptr && absl::SimpleAtoi(env, &seed)) return seed;
  return std::random_device{}();
}

// Parses "ack <event_id> <position>".
bool ParseAck(const std::string& line, Ack* ack) {
  std::vector<std::string> parts = absl::StrSplit(line, ' ');
  if (parts.size() != 3 || parts[0] != "ack" || parts[1].empty()) return false;
  ack->event_id = parts[1];
  return absl::SimpleAtoi(parts[2], &ack->position) && ack->position > 0;
}

// Starts mend-crash-appender on `log_dir` with its stdout on a pipe, reads
// its acknowledgements, sends SIGKILL once `kill_after` acks have been read,
// then reads the pipe to EOF (lines written before the kill are
// acknowledgements too) and reaps the child, which must have died of SIGKILL.
void RunAndKill(const std::string& log_dir, int round, size_t kill_after,
                RoundOutcome* out) {
  int fds[2];
  ASSERT_EQ(pipe2(fds, O_CLOEXEC), 0) << std::strerror(errno);
  posix_spawn_file_actions_t actions;
  ASSERT_EQ(posix_spawn_file_actions_init(&actions), 0);
  // dup2 clears FD_CLOEXEC on the child's fd 1; both pipe ends close at exec.
  posix_spawn_file_actions_adddup2(&actions, fds[1], STDOUT_FILENO);
  posix_spawn_file_actions_addopen(&actions, STDIN_FILENO, "/dev/null", O_RDONLY, 0);
  std::vector<std::string> args = {MEND_CRASH_APPENDER, "--data_dir=" + log_dir,
                                   absl::StrCat("--threads=", kThreads),
                                   absl::StrCat("--round=", round)};
  std::vector<char*> argv;
  for (std::string& a : args) argv.push_back(a.data());
  argv.push_back(nullptr);
  pid_t pid = -1;
  const int spawn_error =
      posix_spawn(&pid, MEND_CRASH_APPENDER, &actions, nullptr, argv.data(), environ);
  posix_spawn_file_actions_destroy(&actions);
  close(fds[1]);
  if (spawn_error != 0) {
    close(fds[0]);
    FAIL() << "posix_spawn " << MEND_CRASH_APPENDER << ": " << std::strerror(spawn_error);
  }
  ChildGuard child(pid, fds[0]);

  const Clock::time_point deadline = Clock::now() + kRoundDeadline;
  bool ready = false;
  bool killed = false;
  std::string pending;  // bytes after the last newline
  char buf[1 << 16];
  for (;;) {
    const auto left =
        std::chrono::duration_cast<std::chrono::milliseconds>(deadline - Clock::now());
    ASSERT_GT(left.count(), 0) << "round " << round << ": no EOF within "
                               << kRoundDeadline.count() << " s; read "
                               << out->acks.size() << " acks, ready=" << ready
                               << ", killed=" << killed;
    pollfd p{child.fd(), POLLIN, 0};
    const int polled = poll(&p, 1, static_cast<int>(left.count()));
    if (polled < 0 && errno == EINTR) continue;
    ASSERT_GE(polled, 0) << "poll: " << std::strerror(errno);
    if (polled == 0) continue;  // the deadline check above fails the test
    const ssize_t n = read(child.fd(), buf, sizeof(buf));
    if (n < 0 && errno == EINTR) continue;
    ASSERT_GE(n, 0) << "read: " << std::strerror(errno);
    if (n == 0) break;  // EOF: the child is gone
    pending.append(buf, static_cast<size_t>(n));
    size_t start = 0;
    for (size_t nl; (nl = pending.find('\n', start)) != std::string::npos;
         start = nl + 1) {
      const std::string line = pending.substr(start, nl - start);
      if (!ready) {
        ASSERT_EQ(line, "ready") << "round " << round << ": first line";
        ready = true;
        continue;
      }
      Ack ack;
      ASSERT_TRUE(ParseAck(line, &ack))
          << "round " << round << ": bad line '" << line << "'";
      out->acks.push_back(std::move(ack));
    }
    pending.erase(0, start);
    if (!killed && out->acks.size() >= kill_after) {
      ASSERT_EQ(kill(child.pid(), SIGKILL), 0) << std::strerror(errno);
      killed = true;
      out->acks_at_kill = out->acks.size();
    }
  }
  // Each line is one write(2) of less than PIPE_BUF bytes, so it is atomic:
  // a torn line means the child wrote it some other way.
  EXPECT_EQ(pending, "") << "round " << round << ": partial line at EOF";
  ASSERT_TRUE(killed) << "round " << round << ": the child closed stdout after "
                      << out->acks.size() << " acks (ready=" << ready
                      << "), before it was killed; see its stderr above";
  int status = 0;
  pid_t waited;
  while ((waited = waitpid(child.pid(), &status, 0)) < 0 && errno == EINTR) {
  }
  ASSERT_EQ(waited, child.pid()) << "waitpid: " << std::strerror(errno);
  child.Release();
  ASSERT_TRUE(WIFSIGNALED(status)) << "round " << round << ": child exited with status "
                                   << (WIFEXITED(status) ? WEXITSTATUS(status) : -1);
  EXPECT_EQ(WTERMSIG(status), SIGKILL) << "round " << round;
}

// Reopens the log at `log_dir` and checks it against every event acknowledged
// so far (`acked`, event id -> position): the chain verifies, positions run
// 1..head with no gap, every record is a well-formed appender event, each
// acknowledged event sits at its acknowledged position, and re-appending an
// acknowledged event is answered from the event id index.
void CheckRecoveredLog(const std::string& log_dir,
                       const absl::flat_hash_map<std::string, uint64_t>& acked,
                       std::mt19937_64& rng, uint64_t* head_position) {
  auto opened = EventStore::Open({.path = log_dir});
  ASSERT_THAT(opened, IsOk());
  std::unique_ptr<EventStore> store = *std::move(opened);

  const VerifyReport report = store->Verify();
  ASSERT_TRUE(report.ok) << "position " << report.first_bad_position << ": "
                         << report.problem;
  const Head head = store->GetHead();
  *head_position = head.position;
  EXPECT_EQ(report.head.position, head.position);
  EXPECT_EQ(report.head.hash, head.hash);
  EXPECT_EQ(report.events_checked, head.position);
  uint64_t max_acked = 0;
  for (const auto& [id, position] : acked) max_acked = std::max(max_acked, position);
  ASSERT_GE(head.position, max_acked);

  auto records = store->Read(1, SIZE_MAX);
  ASSERT_THAT(records, IsOk());
  ASSERT_EQ(records->size(), head.position);
  std::vector<std::string> id_at(head.position + 1);  // by position
  std::vector<std::string> stream_at(head.position + 1);
  absl::flat_hash_set<std::string> ids;
  for (size_t i = 0; i < records->size(); ++i) {
    const RawRecord& raw = (*records)[i];
    ASSERT_EQ(raw.position, i + 1) << "positions are not contiguous";
    v1::StoredRecord record;
    ASSERT_TRUE(record.ParseFromString(raw.bytes)) << "position " << raw.position;
    const v1::Envelope& env = record.envelope();
    ASSERT_EQ(env.position(), raw.position);
    ASSERT_EQ(env.event_type(), kCrashEventType) << "position " << raw.position;
    ASSERT_EQ(record.payload(), CrashPayload(env.event_id()))
        << "position " << raw.position << " (event " << env.event_id() << ")";
    ASSERT_TRUE(ids.insert(env.event_id()).second)
        << "event id " << env.event_id() << " stored twice, again at " << raw.position;
    id_at[raw.position] = env.event_id();
    stream_at[raw.position] = env.stream_id();
  }

  size_t missing = 0;
  for (const auto& [id, position] : acked) {
    ASSERT_LE(position, head.position);
    if (id_at[position] != id) {
      ADD_FAILURE() << "acknowledged event " << id << " is not at position " << position
                    << " (found '" << id_at[position] << "')";
      if (++missing == 10) FAIL() << "giving up after 10 missing events";
    }
  }

  std::vector<std::pair<std::string, uint64_t>> sample(acked.begin(), acked.end());
  std::shuffle(sample.begin(), sample.end(), rng);
  sample.resize(std::min(sample.size(), kDedupSamples));
  for (const auto& [id, position] : sample) {
    auto again = store->Append(stream_at[position], ExpectedVersion::Any(),
                               {NewEvent{.event_id = id,
                                         .event_type = kCrashEventType,
                                         .payload = CrashPayload(id),
                                         .actor_id = "",
                                         .actor_role = "",
                                         .correlation_id = "",
                                         .causation_id = ""}});
    ASSERT_THAT(again, IsOk()) << "re-append of " << id;
    EXPECT_TRUE(again->deduplicated) << id;
    EXPECT_EQ(again->first_position, position) << id;
  }
  EXPECT_EQ(store->GetHead().position, head.position) << "a re-append wrote something";
}

TEST(CrashDurabilityTest, AcknowledgedEventsSurviveSigkillRepeatedly) {
  const uint64_t seed = Seed();
  std::printf("MEND_CRASH_SEED=%llu\n", static_cast<unsigned long long>(seed));
  std::mt19937_64 rng(seed);
  std::uniform_int_distribution<size_t> kill_after(kMinAcksBeforeKill,
                                                   kMaxAcksBeforeKill);

  TempDir dir;
  const std::string log_dir = dir.Sub("log");
  absl::flat_hash_map<std::string, uint64_t> acked;  // every round's acks
  absl::flat_hash_map<uint64_t, std::string> acked_positions;
  uint64_t head = 0;
  for (int round = 1; round <= kRounds; ++round) {
    SCOPED_TRACE(absl::StrCat("round ", round, ", MEND_CRASH_SEED=", seed));
    const uint64_t head_before = head;
    const size_t target = kill_after(rng);
    const Clock::time_point start = Clock::now();
    RoundOutcome outcome;
    ASSERT_NO_FATAL_FAILURE(RunAndKill(log_dir, round, target, &outcome));
    const Clock::time_point killed = Clock::now();
    for (const Ack& ack : outcome.acks) {
      ASSERT_GT(ack.position, head_before)
          << ack.event_id
          << " acknowledged at a position recovered from an earlier round";
      ASSERT_TRUE(acked.emplace(ack.event_id, ack.position).second)
          << "event " << ack.event_id << " acknowledged twice";
      auto [it, inserted] = acked_positions.emplace(ack.position, ack.event_id);
      ASSERT_TRUE(inserted) << "position " << ack.position << " acknowledged for both "
                            << it->second << " and " << ack.event_id;
    }
    ASSERT_NO_FATAL_FAILURE(CheckRecoveredLog(log_dir, acked, rng, &head));
    const auto ms = [](Clock::duration d) {
      return std::chrono::duration_cast<std::chrono::milliseconds>(d).count();
    };
    std::printf(
        "round %d: kill after %zu acks; read %zu before SIGKILL, %zu in all; head %llu "
        "-> "
        "%llu (%llu durable but unacknowledged); run %lld ms, check %lld ms\n",
        round, target, outcome.acks_at_kill, outcome.acks.size(),
        static_cast<unsigned long long>(head_before),
        static_cast<unsigned long long>(head),
        static_cast<unsigned long long>(head - head_before - outcome.acks.size()),
        static_cast<long long>(ms(killed - start)),
        static_cast<long long>(ms(Clock::now() - killed)));
  }
}

}  // namespace
}  // namespace mend::eventlog
