// The follower against a real upstream: an EventLog gRPC server over loopback.
#include "common/runtime/follower.h"

#include <grpcpp/grpcpp.h>

#include <atomic>
#include <memory>
#include <string>
#include <thread>
#include <vector>

#include "absl/strings/str_cat.h"
#include "absl/synchronization/mutex.h"
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
using ::testing::HasSubstr;

NewEvent Event(std::string id, std::string payload = "p") {
  return NewEvent{.event_id = std::move(id),
                  .event_type = "mend.test.v1.Thing",
                  .payload = std::move(payload),
                  .actor_id = "test",
                  .actor_role = "service",
                  .correlation_id = "",
                  .causation_id = ""};
}

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
                                 {Event(absl::StrCat(prefix, "-", i))}),
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
       {Event(absl::StrCat("mirror-", e.position), std::string(e.view.event_id))}});
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
          auto r = local_->Append("shared", ExpectedVersion::Any(), {Event("command")});
          if (!r.ok()) return r.status();
        }
        WriteRequest request;
        request.appends.push_back({"shared",
                                   ExpectedVersion::Exact(current->size()),
                                   {Event(absl::StrCat("effect-", e.position))}});
        return request;
      }));
  ASSERT_THAT(follower, IsOk());
  (*follower)->Start();
  ASSERT_THAT((*follower)->WaitForHandled(5, kDeadline), IsOk());
  auto shared = local_->ReadStream("shared", 1, 1000);
  ASSERT_THAT(shared, IsOk());
  EXPECT_EQ(shared->size(), 6u);  // five effects and the command, none lost
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

}  // namespace
}  // namespace mend
