// The causal-token wait (common/runtime/causal_token.h) over a real follower
// of a real upstream EventLog server: a token's upstream position is waited
// for until the follower has handled it, bounded by the deadline; with
// kUpstreamHeadIfAbsent an omitted position becomes the upstream's head now.
#include "common/runtime/causal_token.h"

#include <grpcpp/grpcpp.h>

#include <memory>

#include "absl/strings/str_cat.h"
#include "absl/synchronization/notification.h"
#include "absl/time/clock.h"
#include "common/eventlog/event_store.h"
#include "common/security/auth.h"
#include "gmock/gmock.h"
#include "gtest/gtest.h"
#include "tests/support/log_server.h"
#include "tests/support/test_util.h"
#include "tests/support/tokens.h"

namespace mend {
namespace {

using eventlog::EventStore;
using eventlog::ExpectedVersion;
using ::mend::testing::IsOk;
using ::mend::testing::StatusIs;
using ::testing::HasSubstr;

class CausalTokenTest : public ::testing::Test {
 protected:
  void SetUp() override {
    auto upstream = EventStore::Open({.path = dir_.Sub("up")});
    ASSERT_THAT(upstream, IsOk());
    upstream_ = *std::move(upstream);
    auto local = EventStore::Open({.path = dir_.Sub("local")});
    ASSERT_THAT(local, IsOk());
    local_ = *std::move(local);
    auto server = testing::LoopbackLogServer::Start({.store = upstream_.get()});
    ASSERT_THAT(server, IsOk());
    server_ = *std::move(server);

    Follower::Options options;
    options.upstream = "case";
    options.channel =
        grpc::CreateChannel(server_->address(), grpc::InsecureChannelCredentials());
    options.prepare_context = [token = testing::TokenFor(Role::kService, "consent")](
                                  grpc::ClientContext* context) {
      AttachBearerToken(context, token);
    };
    options.initial_backoff = absl::Milliseconds(10);
    options.max_backoff = absl::Milliseconds(100);
    // Handles nothing until the gate opens: a wait must really wait.
    auto follower = Follower::Create(
        local_.get(), options,
        Follower::PerEvent(
            [this](const UpstreamEvent&) -> absl::StatusOr<eventlog::WriteRequest> {
              gate_.WaitForNotification();
              return eventlog::WriteRequest();
            }));
    ASSERT_THAT(follower, IsOk());
    follower_ = *std::move(follower);
    waiter_ = std::make_unique<CausalWaiter>("consent", local_.get());
    waiter_->Follow("case", follower_.get());
  }

  void TearDown() override {
    if (!gate_.HasBeenNotified()) gate_.Notify();
    follower_->Stop();
  }

  void AppendUpstream(int n) {
    for (int i = 0; i < n; ++i) {
      ASSERT_THAT(upstream_->Append("case-1", ExpectedVersion::Any(),
                                    {{.event_id = absl::StrCat("e", next_++),
                                      .event_type = "test.Event",
                                      .payload = "x"}}),
                  IsOk());
    }
  }

  static absl::Time Soon() { return absl::Now() + absl::Milliseconds(300); }

  testing::TempDir dir_;
  std::unique_ptr<EventStore> upstream_;
  std::unique_ptr<EventStore> local_;
  std::unique_ptr<testing::LoopbackLogServer> server_;
  std::unique_ptr<Follower> follower_;
  std::unique_ptr<CausalWaiter> waiter_;
  absl::Notification gate_;
  int next_ = 0;
};

TEST_F(CausalTokenTest, WaitsForTheFollowerToHandleTheTokensPosition) {
  AppendUpstream(3);
  follower_->Start();
  common::v1::CausalToken token;
  token.set_case_position(3);
  // Not handled yet: UNAVAILABLE by the deadline, saying how far it got.
  EXPECT_THAT(waiter_->Wait(token, Soon()),
              StatusIs(absl::StatusCode::kUnavailable, HasSubstr("not yet 3")));
  gate_.Notify();
  EXPECT_THAT(waiter_->Wait(token, absl::Now() + absl::Seconds(30)), IsOk());
  EXPECT_GE(follower_->handled_position(), 3u);
}

TEST_F(CausalTokenTest, WithoutAPositionTheUpstreamsHeadNowIsWaitedFor) {
  AppendUpstream(2);
  follower_->Start();
  const common::v1::CausalToken none;
  // The token alone asks for nothing ...
  EXPECT_THAT(waiter_->Wait(none, Soon()), IsOk());
  // ... but "now" is the upstream's head, which is not handled yet.
  EXPECT_THAT(waiter_->Wait(none, Soon(), CausalWaiter::kUpstreamHeadIfAbsent),
              StatusIs(absl::StatusCode::kUnavailable, HasSubstr("not yet 2")));
  gate_.Notify();
  EXPECT_THAT(waiter_->Wait(none, absl::Now() + absl::Seconds(30),
                            CausalWaiter::kUpstreamHeadIfAbsent),
              IsOk());
  EXPECT_GE(follower_->handled_position(), 2u);
}

TEST_F(CausalTokenTest, AnUpstreamThatCannotBeAskedIsUnavailableNotStale) {
  gate_.Notify();
  follower_->Start();
  server_->Stop(absl::ZeroDuration());
  EXPECT_THAT(waiter_->Wait(common::v1::CausalToken(), Soon(),
                            CausalWaiter::kUpstreamHeadIfAbsent),
              StatusIs(absl::StatusCode::kUnavailable, HasSubstr("cannot be learned")));
}

TEST_F(CausalTokenTest, OwnLogPositionsWaitForTheStoreAndOthersAreRefused) {
  common::v1::CausalToken token;
  token.set_consent_position(1);
  EXPECT_THAT(
      waiter_->Wait(token, Soon()),
      StatusIs(absl::StatusCode::kUnavailable, HasSubstr("has not reached position 1")));
  ASSERT_THAT(
      local_->Append("consent-1", ExpectedVersion::Any(),
                     {{.event_id = "c1", .event_type = "test.Event", .payload = "x"}}),
      IsOk());
  EXPECT_THAT(waiter_->Wait(token, Soon()), IsOk());
  common::v1::CausalToken other;
  other.set_scheduling_position(4);
  EXPECT_THAT(waiter_->Wait(other, Soon()),
              StatusIs(absl::StatusCode::kFailedPrecondition,
                       HasSubstr("does not follow the scheduling log")));
}

}  // namespace
}  // namespace mend
