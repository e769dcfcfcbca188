// The follower against a real upstream: an EventLog gRPC server over loopback.
#include "common/runtime/follower.h"

#include <grpcpp/grpcpp.h>

#include <algorithm>
#include <atomic>
#include <memory>
#include <set>
#include <string>
#include <thread>
#include <tuple>
#include <vector>

#include "absl/strings/str_cat.h"
#include "absl/synchronization/mutex.h"
#include "common/base/sha256.h"
#include "common/runtime/eventlog_service.h"
#include "gmock/gmock.h"
#include "gtest/gtest.h"
#include "tests/support/log_server.h"
#include "tests/support/test_util.h"
#include "tests/support/tokens.h"

namespace mend {
namespace {

using eventlog::EventStore;
using eventlog::ExpectedVersion;
using eventlog::NewEvent;
using eventlog::RecordView;
using eventlog::WriteRequest;
using ::mend::testing::IsOk;
using ::mend::testing::StatusIs;
using ::mend::testing::TempDir;
using ::mend::testing::TestEvent;
using ::testing::HasSubstr;

// An upstream service: a store and an EventLog server on a loopback port.
// Stop() and Start() again on the same port simulate a restart.
class Upstream {
 public:
  explicit Upstream(const std::string& path) {
    auto store = EventStore::Open({.path = path});
    EXPECT_THAT(store, IsOk());
    store_ = *std::move(store);
  }
  ~Upstream() { Stop(); }

  void Start(int port = 0) {
    auto server =
        testing::LoopbackLogServer::Start({.store = store_.get(), .port = port});
    ASSERT_THAT(server, IsOk());
    server_ = *std::move(server);
    port_ = server_->port();
  }

  void Stop() { server_.reset(); }

  void Append(int n, const std::string& prefix) {
    for (int i = 0; i < n; ++i) {
      ASSERT_THAT(store_->Append("up", ExpectedVersion::Any(),
                                 {TestEvent(absl::StrCat(prefix, "-", i))}),
                  IsOk());
    }
  }

  std::string address() const { return absl::StrCat("127.0.0.1:", port_); }
  int port() const { return port_; }
  EventStore* store() { return store_.get(); }

 private:
  std::unique_ptr<EventStore> store_;
  std::unique_ptr<testing::LoopbackLogServer> server_;
  int port_ = 0;
};

// The effect of upstream position P: one "mirror" event with id mirror-P and
// the upstream event id as payload, appended at version P-1 of one stream, so
// a repeated or skipped effect shows up as a version conflict or a gap.
absl::StatusOr<WriteRequest> Mirror(const UpstreamEvent& e) {
  WriteRequest request;
  request.appends.push_back(
      {"mirror",
       ExpectedVersion::Exact(e.position - 1),
       {TestEvent(absl::StrCat("mirror-", e.position), std::string(e.view.event_id))}});
  return request;
}

Follower::Options OptionsFor(const Upstream& upstream) {
  Follower::Options options;
  options.upstream = "up";
  // gRPC's own reconnect backoff (up to two minutes by default) would hide
  // the follower's; keep it short as the runtime does.
  grpc::ChannelArguments args;
  args.SetInt(GRPC_ARG_INITIAL_RECONNECT_BACKOFF_MS, 20);
  args.SetInt(GRPC_ARG_MIN_RECONNECT_BACKOFF_MS, 20);
  args.SetInt(GRPC_ARG_MAX_RECONNECT_BACKOFF_MS, 200);
  options.channel = grpc::CreateCustomChannel(upstream.address(),
                                              grpc::InsecureChannelCredentials(), args);
  options.prepare_context = [token = testing::TokenFor(Role::kService, "follower")](
                                grpc::ClientContext* context) {
    AttachBearerToken(context, token);
  };
  options.initial_backoff = absl::Milliseconds(10);
  options.max_backoff = absl::Milliseconds(200);
  options.max_batch = 7;  // several messages even for short logs
  return options;
}

// Asserts the local log mirrors upstream positions 1..n exactly once, in order.
void ExpectMirrored(EventStore* local, EventStore* upstream, uint64_t n) {
  auto mirrored = local->ReadStream("mirror", 1, 100000);
  ASSERT_THAT(mirrored, IsOk());
  ASSERT_EQ(mirrored->size(), n);
  auto original = upstream->Read(1, 100000);
  ASSERT_THAT(original, IsOk());
  for (uint64_t p = 1; p <= n; ++p) {
    RecordView mine, theirs;
    ASSERT_THAT(eventlog::DecodeRecord((*mirrored)[p - 1].bytes, &mine), IsOk());
    ASSERT_THAT(eventlog::DecodeRecord((*original)[p - 1].bytes, &theirs), IsOk());
    EXPECT_EQ(mine.event_id, absl::StrCat("mirror-", p));
    EXPECT_EQ(mine.payload, theirs.event_id) << "position " << p;
  }
}

class FollowerTest : public ::testing::Test {
 protected:
  void SetUp() override {
    upstream_ = std::make_unique<Upstream>(dir_.Sub("upstream"));
    upstream_->Start();
    OpenLocal();
  }

  void OpenLocal() {
    local_.reset();
    auto store = EventStore::Open({.path = dir_.Sub("local")});
    ASSERT_THAT(store, IsOk());
    local_ = *std::move(store);
  }

  const absl::Time kDeadline = absl::Now() + absl::Seconds(30);
  TempDir dir_;
  std::unique_ptr<Upstream> upstream_;
  std::unique_ptr<EventStore> local_;
};

TEST_F(FollowerTest, CatchesUpThenFollowsLiveWithCheckpointStoredWithEffects) {
  upstream_->Append(40, "a");
  std::atomic<int> committed{0};  // effects the committed callback was told of
  auto follower =
      Follower::Create(local_.get(), OptionsFor(*upstream_), Follower::PerEvent(Mirror),
                       [&](const WriteRequest& r, const eventlog::WriteResult&) {
                         for (const eventlog::StreamAppend& a : r.appends)
                           committed += a.events.size();
                       });
  ASSERT_THAT(follower, IsOk());
  (*follower)->Start();
  ASSERT_THAT((*follower)->WaitForHandled(40, kDeadline), IsOk());
  upstream_->Append(25, "b");  // live
  ASSERT_THAT((*follower)->WaitForHandled(65, kDeadline), IsOk());
  EXPECT_TRUE((*follower)->connected());
  EXPECT_EQ(committed.load(), 65);
  EXPECT_THAT(local_->GetCheckpoint("follow:up"), ::mend::testing::IsOkAndHolds(65u));
  ExpectMirrored(local_.get(), upstream_->store(), 65);
}

TEST_F(FollowerTest, RestartedFollowerResumesFromItsCheckpoint) {
  upstream_->Append(30, "a");
  {
    auto follower = Follower::Create(local_.get(), OptionsFor(*upstream_),
                                     Follower::PerEvent(Mirror));
    ASSERT_THAT(follower, IsOk());
    (*follower)->Start();
    ASSERT_THAT((*follower)->WaitForHandled(30, kDeadline), IsOk());
  }
  upstream_->Append(20, "b");  // while nobody follows
  OpenLocal();                 // the local service restarts too
  auto follower =
      Follower::Create(local_.get(), OptionsFor(*upstream_), Follower::PerEvent(Mirror));
  ASSERT_THAT(follower, IsOk());
  EXPECT_EQ((*follower)->handled_position(), 30u);
  (*follower)->Start();
  ASSERT_THAT((*follower)->WaitForHandled(50, kDeadline), IsOk());
  ExpectMirrored(local_.get(), upstream_->store(), 50);
}

TEST_F(FollowerTest, ReconnectsWhenTheUpstreamRestarts) {
  upstream_->Append(10, "a");
  auto follower =
      Follower::Create(local_.get(), OptionsFor(*upstream_), Follower::PerEvent(Mirror));
  ASSERT_THAT(follower, IsOk());
  (*follower)->Start();
  ASSERT_THAT((*follower)->WaitForHandled(10, kDeadline), IsOk());

  const int port = upstream_->port();
  upstream_->Stop();
  upstream_->Append(15, "while-down");
  // Not handled while the upstream is down: the wait times out, and says how far.
  absl::Status waited =
      (*follower)->WaitForHandled(25, absl::Now() + absl::Milliseconds(50));
  EXPECT_THAT(waited, StatusIs(absl::StatusCode::kUnavailable));
  EXPECT_THAT(waited.message(), HasSubstr("up to position 10"));

  upstream_->Start(port);
  ASSERT_THAT((*follower)->WaitForHandled(25, kDeadline), IsOk());
  upstream_->Append(5, "after");
  ASSERT_THAT((*follower)->WaitForHandled(30, kDeadline), IsOk());
  ExpectMirrored(local_.get(), upstream_->store(), 30);
}

TEST_F(FollowerTest, RefusesAnUpstreamRestoredFromAnOlderBackup) {
  upstream_->Append(20, "a");
  ASSERT_THAT(upstream_->store()->CreateCheckpoint(dir_.Sub("upstream-backup")), IsOk());
  upstream_->Append(10, "b");
  absl::Mutex mu;
  std::vector<std::string> logged;
  Follower::Options options = OptionsFor(*upstream_);
  options.log = [&](bool, const std::string& message) {
    absl::MutexLock lock(&mu);
    logged.push_back(message);
  };
  auto follower = Follower::Create(local_.get(), options, Follower::PerEvent(Mirror));
  ASSERT_THAT(follower, IsOk());
  (*follower)->Start();
  ASSERT_THAT((*follower)->WaitForHandled(30, kDeadline), IsOk());
  // The checkpoint keeps the hash of the record it handled last.
  auto checkpoint = local_->ReadCheckpoint("follow:up");
  ASSERT_THAT(checkpoint, IsOk());
  EXPECT_EQ(checkpoint->position, 30u);
  auto record = upstream_->store()->Read(30, 1);
  ASSERT_THAT(record, IsOk());
  EXPECT_EQ(checkpoint->hash, Sha256Bytes((*record)[0].bytes));

  auto wait_logged = [&](const std::string& what) {
    absl::MutexLock lock(&mu);
    auto seen = [&] {
      return std::any_of(logged.begin(), logged.end(), [&](const std::string& m) {
        return m.find(what) != std::string::npos;
      });
    };
    return mu.AwaitWithTimeout(absl::Condition(&seen), absl::Seconds(30));
  };
  // The upstream comes back restored from the backup taken at 20: its log
  // ends before what the follower has handled.
  const int port = upstream_->port();
  upstream_.reset();
  upstream_ = std::make_unique<Upstream>(dir_.Sub("upstream-backup"));
  upstream_->Start(port);
  EXPECT_TRUE(wait_logged("up's log ends at position 20, before position 30"));
  // It grows past 30 with other events: positions 21..35 are not the ones
  // handled, and the follower still takes none of them.
  upstream_->Append(15, "c");
  EXPECT_TRUE(
      wait_logged("up's record at position 30 is not the one this service handled"));
  EXPECT_EQ((*follower)->handled_position(), 30u);
  EXPECT_THAT((*follower)->WaitForHandled(31, absl::Now() + absl::Milliseconds(100)),
              StatusIs(absl::StatusCode::kUnavailable));
  auto mirrored = local_->ReadStream("mirror", 1, 1000);
  ASSERT_THAT(mirrored, IsOk());
  EXPECT_EQ(mirrored->size(), 30u);
}

TEST_F(FollowerTest, EventsWithoutEffectsStillMoveTheCheckpoint) {
  upstream_->Append(20, "a");
  std::atomic<int> calls{0};
  auto follower = Follower::Create(
      local_.get(), OptionsFor(*upstream_),
      Follower::PerEvent([&](const UpstreamEvent&) -> absl::StatusOr<WriteRequest> {
        ++calls;
        return WriteRequest{};
      }));
  ASSERT_THAT(follower, IsOk());
  (*follower)->Start();
  ASSERT_THAT((*follower)->WaitForHandled(20, kDeadline), IsOk());
  (*follower)->Stop();
  EXPECT_EQ(calls.load(), 20);
  EXPECT_THAT(local_->GetCheckpoint("follow:up"), ::mend::testing::IsOkAndHolds(20u));
  EXPECT_EQ(local_->GetHead().position, 0u);  // no events, only the checkpoint
}

TEST_F(FollowerTest, HandlerFailureStopsAtThatEventAndRetries) {
  upstream_->Append(10, "a");
  std::atomic<int> failures_left{3};
  auto follower = Follower::Create(
      local_.get(), OptionsFor(*upstream_),
      Follower::PerEvent([&](const UpstreamEvent& e) -> absl::StatusOr<WriteRequest> {
        if (e.position == 6 && failures_left.fetch_sub(1) > 0) {
          return absl::UnavailableError("a dependency is down");
        }
        return Mirror(e);
      }));
  ASSERT_THAT(follower, IsOk());
  (*follower)->Start();
  ASSERT_THAT((*follower)->WaitForHandled(10, kDeadline), IsOk());
  EXPECT_LE(failures_left.load(), 0);
  ExpectMirrored(local_.get(), upstream_->store(), 10);
}

TEST_F(FollowerTest, VersionConflictWithACommandReRunsTheHandler) {
  upstream_->Append(5, "a");
  // A command appends to the stream the handler writes, between the handler's
  // decision and its write, once.
  std::atomic<bool> raced{false};
  auto follower = Follower::Create(
      local_.get(), OptionsFor(*upstream_),
      Follower::PerEvent([&](const UpstreamEvent& e) -> absl::StatusOr<WriteRequest> {
        auto current = local_->ReadStream("shared", 1, 1000);
        if (!current.ok()) return current.status();
        if (e.position == 3 && !raced.exchange(true)) {
          auto r =
              local_->Append("shared", ExpectedVersion::Any(), {TestEvent("command")});
          if (!r.ok()) return r.status();
        }
        WriteRequest request;
        request.appends.push_back({"shared",
                                   ExpectedVersion::Exact(current->size()),
                                   {TestEvent(absl::StrCat("effect-", e.position))}});
        return request;
      }));
  ASSERT_THAT(follower, IsOk());
  (*follower)->Start();
  ASSERT_THAT((*follower)->WaitForHandled(5, kDeadline), IsOk());
  auto shared = local_->ReadStream("shared", 1, 1000);
  ASSERT_THAT(shared, IsOk());
  EXPECT_EQ(shared->size(), 6u);  // five effects and the command, none lost
}

// A batch handler: one "mirror" append for the whole batch, mirror-P for
// each upstream position P (what Mirror does per event).
BatchEffects MirrorBatch(absl::Span<const UpstreamEvent> events) {
  BatchEffects out;
  eventlog::StreamAppend append{
      "mirror", ExpectedVersion::Exact(events[0].position - 1), {}};
  for (const UpstreamEvent& e : events) {
    append.events.push_back(
        TestEvent(absl::StrCat("mirror-", e.position), std::string(e.view.event_id)));
  }
  out.write.appends.push_back(std::move(append));
  out.handled = events.size();
  return out;
}

TEST_F(FollowerTest, HandlerGetsEachMessageAsOneBatchAndEachBatchIsOneWrite) {
  upstream_->Append(40, "a");  // before the follower starts: full messages of 7
  absl::Mutex mu;
  std::vector<std::vector<uint64_t>> batches;  // positions of each handler call
  std::vector<uint64_t> checkpoints;           // of each committed write
  auto follower = Follower::Create(
      local_.get(), OptionsFor(*upstream_),
      [&](absl::Span<const UpstreamEvent> events) {
        std::vector<uint64_t> positions;
        for (const UpstreamEvent& e : events) positions.push_back(e.position);
        absl::MutexLock lock(&mu);
        batches.push_back(std::move(positions));
        return MirrorBatch(events);
      },
      [&](const WriteRequest& r, const eventlog::WriteResult& w) {
        absl::MutexLock lock(&mu);
        ASSERT_EQ(r.checkpoints.size(), 1u);
        EXPECT_EQ(r.checkpoints[0].consumer, "follow:up");
        checkpoints.push_back(r.checkpoints[0].position);
        ASSERT_EQ(w.appends.size(), 1u);
        EXPECT_FALSE(w.appends[0].deduplicated);
      });
  ASSERT_THAT(follower, IsOk());
  const uint64_t writes_before = local_->stats().requests_committed.load();
  (*follower)->Start();
  ASSERT_THAT((*follower)->WaitForHandled(40, kDeadline), IsOk());
  (*follower)->Stop();

  absl::MutexLock lock(&mu);
  ASSERT_EQ(batches.size(), 6u);  // 7+7+7+7+7+5: every message is one call
  uint64_t next = 1;
  for (size_t i = 0; i < batches.size(); ++i) {
    EXPECT_EQ(batches[i].size(), i < 5 ? 7u : 5u) << "call " << i;
    for (uint64_t p : batches[i]) EXPECT_EQ(p, next++);
    ASSERT_LT(i, checkpoints.size());
    EXPECT_EQ(checkpoints[i], batches[i].back()) << "the checkpoint rides with the batch";
  }
  // One durable write per batch: the effects and the checkpoint together.
  EXPECT_EQ(local_->stats().requests_committed.load() - writes_before, batches.size());
  EXPECT_THAT(local_->GetCheckpoint("follow:up"), ::mend::testing::IsOkAndHolds(40u));
  ExpectMirrored(local_.get(), upstream_->store(), 40);
}

TEST_F(FollowerTest, AFailingEventInABatchWritesTheEventsBeforeItThenStopsThere) {
  upstream_->Append(7, "a");  // one message of 7
  std::atomic<bool> broken{true};
  std::atomic<int> failures{0};
  auto follower = Follower::Create(
      local_.get(), OptionsFor(*upstream_),
      Follower::PerEvent([&](const UpstreamEvent& e) -> absl::StatusOr<WriteRequest> {
        if (e.position == 5 && broken) {
          ++failures;
          return absl::UnavailableError("a dependency is down");
        }
        return Mirror(e);
      }));
  ASSERT_THAT(follower, IsOk());
  (*follower)->Start();
  ASSERT_THAT((*follower)->WaitForHandled(4, kDeadline), IsOk());
  // Position 5 is never skipped, however often it is retried.
  EXPECT_THAT((*follower)->WaitForHandled(5, absl::Now() + absl::Milliseconds(100)),
              StatusIs(absl::StatusCode::kUnavailable));
  EXPECT_GE(failures.load(), 1);
  EXPECT_EQ((*follower)->handled_position(), 4u);
  EXPECT_THAT(local_->GetCheckpoint("follow:up"), ::mend::testing::IsOkAndHolds(4u));
  EXPECT_EQ(local_->GetHead().position, 4u);  // mirror-1..4, in one write
  broken = false;
  ASSERT_THAT((*follower)->WaitForHandled(7, kDeadline), IsOk());
  ExpectMirrored(local_.get(), upstream_->store(), 7);
}

TEST_F(FollowerTest, AHandlerMayTakePartOfABatchAndIsCalledAgainWithTheRest) {
  upstream_->Append(20, "a");
  absl::Mutex mu;
  std::vector<std::pair<uint64_t, size_t>> calls;  // first position, size
  auto follower = Follower::Create(
      local_.get(), OptionsFor(*upstream_), [&](absl::Span<const UpstreamEvent> events) {
        {
          absl::MutexLock lock(&mu);
          calls.push_back({events[0].position, events.size()});
        }
        return MirrorBatch(events.subspan(0, std::min<size_t>(2, events.size())));
      });
  ASSERT_THAT(follower, IsOk());
  (*follower)->Start();
  ASSERT_THAT((*follower)->WaitForHandled(20, kDeadline), IsOk());
  (*follower)->Stop();
  ExpectMirrored(local_.get(), upstream_->store(), 20);
  absl::MutexLock lock(&mu);
  // Messages of 7: 7, 5, 3, 1 of the first; then 7, 5, 3, 1; then 6, 4, 2.
  const std::vector<std::pair<uint64_t, size_t>> expected = {
      {1, 7},  {3, 5},  {5, 3},  {7, 1},  {8, 7}, {10, 5},
      {12, 3}, {14, 1}, {15, 6}, {17, 4}, {19, 2}};
  EXPECT_EQ(calls.size(), expected.size());
  for (size_t i = 0; i < expected.size() && i < calls.size(); ++i) {
    EXPECT_EQ(calls[i], expected[i]) << "call " << i;
  }
}

TEST_F(FollowerTest, AHandlerThatHandlesNothingWithoutAnErrorStopsTheFollower) {
  upstream_->Append(3, "a");
  absl::Mutex mu;
  std::vector<std::string> errors;
  Follower::Options options = OptionsFor(*upstream_);
  options.log = [&](bool error, const std::string& message) {
    absl::MutexLock lock(&mu);
    if (error) errors.push_back(message);
  };
  auto follower =
      Follower::Create(local_.get(), options, [](absl::Span<const UpstreamEvent>) {
        return BatchEffects{};  // handled 0, no error
      });
  ASSERT_THAT(follower, IsOk());
  (*follower)->Start();
  {
    absl::MutexLock lock(&mu);
    auto logged = [&]() ABSL_NO_THREAD_SAFETY_ANALYSIS { return !errors.empty(); };
    ASSERT_TRUE(mu.AwaitWithDeadline(absl::Condition(&logged), kDeadline));
    EXPECT_THAT(errors[0], HasSubstr("INTERNAL"));
    EXPECT_THAT(errors[0], HasSubstr("without an error"));
  }
  EXPECT_EQ((*follower)->handled_position(), 0u);
  EXPECT_EQ(local_->GetHead().position, 0u);
}

// The effect of position P of upstream `name`: event `name`-P in stream
// "mirror-`name`" at version P-1.
Follower::Handler MirrorOf(const std::string& name) {
  return Follower::PerEvent([name](
                                const UpstreamEvent& e) -> absl::StatusOr<WriteRequest> {
    WriteRequest request;
    request.appends.push_back(
        {absl::StrCat("mirror-", name),
         ExpectedVersion::Exact(e.position - 1),
         {TestEvent(absl::StrCat(name, "-", e.position), std::string(e.view.event_id))}});
    return request;
  });
}

TEST_F(FollowerTest, TwoFollowersOfTwoUpstreamsShareOneStoreWithTheirOwnCheckpoints) {
  Upstream other(dir_.Sub("other"));
  other.Start();
  upstream_->Append(30, "a");
  other.Append(17, "o");
  auto make = [&](const Upstream& up, const std::string& name) {
    Follower::Options options = OptionsFor(up);
    options.upstream = name;
    return Follower::Create(local_.get(), options, MirrorOf(name));
  };
  {
    auto first = make(*upstream_, "up");
    auto second = make(other, "other");
    ASSERT_THAT(first, IsOk());
    ASSERT_THAT(second, IsOk());
    (*first)->Start();
    (*second)->Start();
    std::thread live([&] { other.Append(10, "o-live"); });
    upstream_->Append(5, "a-live");
    live.join();
    ASSERT_THAT((*first)->WaitForHandled(35, kDeadline), IsOk());
    ASSERT_THAT((*second)->WaitForHandled(27, kDeadline), IsOk());
  }
  EXPECT_THAT(local_->GetCheckpoint("follow:up"), ::mend::testing::IsOkAndHolds(35u));
  EXPECT_THAT(local_->GetCheckpoint("follow:other"), ::mend::testing::IsOkAndHolds(27u));

  // Both restart from their own checkpoints and go on without repeating.
  upstream_->Append(3, "b");
  other.Append(4, "p");
  OpenLocal();
  auto first = make(*upstream_, "up");
  auto second = make(other, "other");
  ASSERT_THAT(first, IsOk());
  ASSERT_THAT(second, IsOk());
  EXPECT_EQ((*first)->handled_position(), 35u);
  EXPECT_EQ((*second)->handled_position(), 27u);
  (*first)->Start();
  (*second)->Start();
  ASSERT_THAT((*first)->WaitForHandled(38, kDeadline), IsOk());
  ASSERT_THAT((*second)->WaitForHandled(31, kDeadline), IsOk());
  (*first)->Stop();
  (*second)->Stop();

  for (auto [name, up, n] :
       {std::tuple<std::string, Upstream*, uint64_t>{"up", upstream_.get(), 38},
        {"other", &other, 31}}) {
    auto mirrored = local_->ReadStream(absl::StrCat("mirror-", name), 1, 1000);
    ASSERT_THAT(mirrored, IsOk());
    ASSERT_EQ(mirrored->size(), n) << name;
    auto original = up->store()->Read(1, 1000);
    ASSERT_THAT(original, IsOk());
    for (uint64_t p = 1; p <= n; ++p) {
      RecordView mine, theirs;
      ASSERT_THAT(eventlog::DecodeRecord((*mirrored)[p - 1].bytes, &mine), IsOk());
      ASSERT_THAT(eventlog::DecodeRecord((*original)[p - 1].bytes, &theirs), IsOk());
      EXPECT_EQ(mine.event_id, absl::StrCat(name, "-", p));
      EXPECT_EQ(mine.payload, theirs.event_id) << name << " position " << p;
    }
  }
  EXPECT_EQ(local_->GetHead().position, 38u + 31u);
  EXPECT_TRUE(local_->Verify().ok);
}

TEST_F(FollowerTest, StopWakesWaiters) {
  auto follower =
      Follower::Create(local_.get(), OptionsFor(*upstream_), Follower::PerEvent(Mirror));
  ASSERT_THAT(follower, IsOk());
  (*follower)->Start();
  absl::Status waited;
  std::thread waiter([&] { waited = (*follower)->WaitForHandled(1000, kDeadline); });
  (*follower)->Stop();
  waiter.join();
  EXPECT_THAT(waited, StatusIs(absl::StatusCode::kUnavailable));
  EXPECT_THAT(waited.message(), HasSubstr("shutting down"));
}

TEST(FollowerCreateTest, RefusesMissingParts) {
  TempDir dir;
  auto store = EventStore::Open({.path = dir.Sub("local")});
  ASSERT_THAT(store, IsOk());
  Follower::Options options;
  EXPECT_THAT(Follower::Create(store->get(), options, Follower::PerEvent(Mirror)),
              StatusIs(absl::StatusCode::kInvalidArgument));
  options.upstream = "up";
  EXPECT_THAT(Follower::Create(store->get(), options, Follower::PerEvent(Mirror)),
              StatusIs(absl::StatusCode::kInvalidArgument));
  options.channel =
      grpc::CreateChannel("127.0.0.1:1", grpc::InsecureChannelCredentials());
  EXPECT_THAT(Follower::Create(store->get(), options, nullptr),
              StatusIs(absl::StatusCode::kInvalidArgument));
  options.max_batch = 0;
  EXPECT_THAT(Follower::Create(store->get(), options, Follower::PerEvent(Mirror)),
              StatusIs(absl::StatusCode::kInvalidArgument));
}

// HandleEach over events that exist only in memory.
class HandleEachTest : public ::testing::Test {
 protected:
  HandleEachTest() {
    views_.resize(8);
    for (uint64_t p = 1; p <= 8; ++p) {
      views_[p - 1].position = p;
      events_.push_back(UpstreamEvent{p, "", views_[p - 1]});
    }
  }
  // An append of event `id` to `stream` with `expected`.
  static WriteRequest One(std::string stream, ExpectedVersion expected, std::string id,
                          std::string payload = "p") {
    WriteRequest request;
    request.appends.push_back(
        {std::move(stream), expected, {TestEvent(std::move(id), std::move(payload))}});
    return request;
  }
  static std::vector<std::string> Ids(const eventlog::StreamAppend& a) {
    std::vector<std::string> ids;
    for (const NewEvent& e : a.events) ids.push_back(e.event_id);
    return ids;
  }

  std::vector<RecordView> views_;
  std::vector<UpstreamEvent> events_;
};

TEST_F(HandleEachTest, MergesAppendsPerStreamInUpstreamOrder) {
  BatchEffects out = Follower::HandleEach(
      absl::MakeConstSpan(events_).subspan(0, 4),
      [](const UpstreamEvent& e) -> absl::StatusOr<WriteRequest> {
        return One(e.position % 2 ? "odd" : "even", ExpectedVersion::Any(),
                   absl::StrCat("e", e.position));
      });
  EXPECT_THAT(out.error, IsOk());
  EXPECT_EQ(out.handled, 4u);
  ASSERT_EQ(out.write.appends.size(), 2u);
  EXPECT_EQ(out.write.appends[0].stream_id, "odd");
  EXPECT_THAT(Ids(out.write.appends[0]), ::testing::ElementsAre("e1", "e3"));
  EXPECT_EQ(out.write.appends[1].stream_id, "even");
  EXPECT_THAT(Ids(out.write.appends[1]), ::testing::ElementsAre("e2", "e4"));
  EXPECT_TRUE(out.write.checkpoints.empty());
}

TEST_F(HandleEachTest, ExpectedVersionsMergeOnlyWhenTheyStillHold) {
  struct Case {
    const char* name;
    ExpectedVersion first, second;
    size_t handled;  // 2: merged; 1: cut before the second event
  };
  const Case cases[] = {
      {"any then any", ExpectedVersion::Any(), ExpectedVersion::Any(), 2},
      {"exact then the next exact", ExpectedVersion::Exact(4), ExpectedVersion::Exact(5),
       2},
      {"exact then the same exact", ExpectedVersion::Exact(4), ExpectedVersion::Exact(4),
       1},
      {"no stream then exact 1", ExpectedVersion::NoStream(), ExpectedVersion::Exact(1),
       2},
      {"no stream then no stream", ExpectedVersion::NoStream(),
       ExpectedVersion::NoStream(), 1},
      {"any then exact", ExpectedVersion::Any(), ExpectedVersion::Exact(3), 1},
      {"exact then exists", ExpectedVersion::Exact(4), ExpectedVersion::Exists(), 2},
      {"exact then any", ExpectedVersion::Exact(4), ExpectedVersion::Any(), 2},
  };
  for (const Case& c : cases) {
    BatchEffects out =
        Follower::HandleEach(absl::MakeConstSpan(events_).subspan(0, 2),
                             [&](const UpstreamEvent& e) -> absl::StatusOr<WriteRequest> {
                               return One("s", e.position == 1 ? c.first : c.second,
                                          absl::StrCat("e", e.position));
                             });
    EXPECT_THAT(out.error, IsOk()) << c.name;
    EXPECT_EQ(out.handled, c.handled) << c.name;
    ASSERT_EQ(out.write.appends.size(), 1u) << c.name;
    EXPECT_EQ(out.write.appends[0].events.size(), c.handled) << c.name;
    EXPECT_EQ(out.write.appends[0].expected.kind, c.first.kind) << c.name;
    EXPECT_EQ(out.write.appends[0].expected.version, c.first.version) << c.name;
  }
}

TEST_F(HandleEachTest, WithAKeyCutsBeforeASecondEventOfAnAggregateItWrote) {
  // Events 1..5 of aggregates a, b, a, a, c; a writes only on its first event
  // (as a handler that reads the store would decide), b and c always.
  std::set<uint64_t> asked;
  auto key_of = [](const UpstreamEvent& e) -> absl::StatusOr<std::optional<std::string>> {
    static const char* const kKeys[] = {"", "a", "b", "a", "a", "c"};
    return std::optional<std::string>(kKeys[e.position]);
  };
  auto handle = [&](const UpstreamEvent& e) -> absl::StatusOr<WriteRequest> {
    asked.insert(e.position);
    return One(absl::StrCat("s-", *key_of(e).value()), ExpectedVersion::Any(),
               absl::StrCat("e", e.position));
  };
  BatchEffects out =
      Follower::HandleEach(absl::MakeConstSpan(events_).subspan(0, 5), handle, key_of);
  EXPECT_THAT(out.error, IsOk());
  EXPECT_EQ(out.handled, 2u);  // cut before event 3, a's second
  EXPECT_THAT(asked, ::testing::ElementsAre(1, 2));
  // An aggregate whose event wrote nothing does not cut.
  BatchEffects quiet = Follower::HandleEach(
      absl::MakeConstSpan(events_).subspan(2, 3),
      [](const UpstreamEvent&) -> absl::StatusOr<WriteRequest> { return WriteRequest{}; },
      key_of);
  EXPECT_EQ(quiet.handled, 3u);
  // The key's error stops the batch at that event.
  BatchEffects bad = Follower::HandleEach(
      absl::MakeConstSpan(events_).subspan(0, 3), handle,
      [](const UpstreamEvent& e) -> absl::StatusOr<std::optional<std::string>> {
        if (e.position == 2) return absl::DataLossError("no case");
        return std::optional<std::string>();
      });
  EXPECT_EQ(bad.handled, 1u);
  EXPECT_THAT(bad.error, ::mend::testing::StatusIs(absl::StatusCode::kDataLoss));
}

TEST_F(HandleEachTest, AnErrorKeepsTheEventsBeforeIt) {
  BatchEffects out = Follower::HandleEach(
      events_, [](const UpstreamEvent& e) -> absl::StatusOr<WriteRequest> {
        if (e.position == 4) return absl::FailedPreconditionError("cannot");
        return One("s", ExpectedVersion::Any(), absl::StrCat("e", e.position));
      });
  EXPECT_THAT(out.error, StatusIs(absl::StatusCode::kFailedPrecondition));
  EXPECT_EQ(out.handled, 3u);
  ASSERT_EQ(out.write.appends.size(), 1u);
  EXPECT_THAT(Ids(out.write.appends[0]), ::testing::ElementsAre("e1", "e2", "e3"));
}

TEST_F(HandleEachTest, CutsBeforeAWriteWouldPassThePayloadLimit) {
  const std::string big(3 << 20, 'x');  // three fit under 8 MiB, not four
  BatchEffects out = Follower::HandleEach(
      events_, [&](const UpstreamEvent& e) -> absl::StatusOr<WriteRequest> {
        return One(absl::StrCat("s", e.position), ExpectedVersion::Any(),
                   absl::StrCat("e", e.position), big);
      });
  EXPECT_THAT(out.error, IsOk());
  EXPECT_EQ(out.handled, 2u);
  EXPECT_EQ(out.write.appends.size(), 2u);
}

TEST_F(HandleEachTest, EventsWithoutEffectsAreHandledWithAnEmptyWrite) {
  BatchEffects out = Follower::HandleEach(
      events_, [](const UpstreamEvent&) -> absl::StatusOr<WriteRequest> {
        return WriteRequest{};
      });
  EXPECT_THAT(out.error, IsOk());
  EXPECT_EQ(out.handled, events_.size());
  EXPECT_TRUE(out.write.appends.empty());
}

}  // namespace
}  // namespace mend
