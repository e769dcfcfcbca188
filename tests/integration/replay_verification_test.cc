// ServiceRuntime::Start() on a log whose chain is broken: it fails with
// DATA_LOSS naming the first bad position, never reports SERVING, and the
// service's replay function never sees the changed record. On an intact log
// it serves.
#include <cstdint>
#include <filesystem>
#include <memory>
#include <string>
#include <vector>

#include "absl/strings/str_cat.h"
#include "common/eventlog/event_store.h"
#include "common/runtime/service_runtime.h"
#include "gmock/gmock.h"
#include "gtest/gtest.h"
#include "tests/fault/raw_log.h"
#include "tests/support/test_util.h"

namespace mend {
namespace {

using ::mend::testing::IsOk;
using ::mend::testing::StatusIs;
using ::mend::testing::TempDir;
using ::testing::HasSubstr;

constexpr int kEvents = 269;

class ReplayVerificationTest : public ::testing::Test {
 protected:
  void SetUp() override {
    std::filesystem::create_directories(dir_.Sub("data"));
    auto store = eventlog::EventStore::Open({.path = LogPath()});
    ASSERT_THAT(store, IsOk());
    for (int i = 0; i < kEvents; ++i) {
      ASSERT_THAT((*store)->Append(
                      absl::StrCat("consent-", i % 7), eventlog::ExpectedVersion::Any(),
                      {eventlog::NewEvent{.event_id = absl::StrCat("e", i),
                                          .event_type = "mend.test.v1.Decided",
                                          .payload = absl::StrCat("DECLINED-", i),
                                          .actor_id = "worker",
                                          .actor_role = "caseworker",
                                          .correlation_id = "",
                                          .causation_id = ""}}),
                  IsOk());
    }
  }

  std::string LogPath() const { return dir_.Sub("data") + "/eventlog"; }

  // Creates a runtime on the data directory and starts it, recording the
  // positions its replay function is given.
  absl::Status Start() {
    ServiceRuntime::Options options;
    options.service = "replay-test";
    options.data_dir = dir_.Sub("data");
    options.log_level = "error";
    options.shutdown_grace = absl::Seconds(1);
    auto runtime = ServiceRuntime::Create(options);
    if (!runtime.ok()) return runtime.status();
    runtime_ = *std::move(runtime);
    runtime_->SetReplay([this](const ReplayedEvent& e) {
      replayed_.push_back(e.position);
      return absl::OkStatus();
    });
    return runtime_->Start();
  }

  TempDir dir_;
  std::unique_ptr<ServiceRuntime> runtime_;
  std::vector<uint64_t> replayed_;
};

TEST_F(ReplayVerificationTest, IntactLogIsReplayedAndServed) {
  ASSERT_THAT(Start(), IsOk());
  EXPECT_TRUE(runtime_->serving());
  EXPECT_EQ(replayed_.size(), static_cast<size_t>(kEvents));
}

TEST_F(ReplayVerificationTest, FlippedPayloadByteRefusesToServe) {
  ASSERT_THAT(eventlog::raw_log::FlipByte(LogPath(), 60, "DECLINED-59", 0), IsOk());
  EXPECT_THAT(Start(),
              StatusIs(absl::StatusCode::kDataLoss, HasSubstr("at position 60:")));
  EXPECT_FALSE(runtime_->serving());
  ASSERT_FALSE(replayed_.empty());
  EXPECT_LT(replayed_.back(), 60u);  // the changed decision was never folded
}

TEST_F(ReplayVerificationTest, TailCutUnderTheStoredHeadRefusesToServe) {
  ASSERT_THAT(eventlog::raw_log::DeleteRecords(LogPath(), kEvents - 9, kEvents), IsOk());
  EXPECT_THAT(Start(),
              StatusIs(absl::StatusCode::kDataLoss,
                       HasSubstr(absl::StrCat("at position ", kEvents - 9, ":"))));
  EXPECT_FALSE(runtime_->serving());
}

TEST_F(ReplayVerificationTest, ChangedStoredHeadRefusesToServe) {
  ASSERT_THAT(eventlog::raw_log::ChangeStoredHead(LogPath(),
                                                  [](std::string& v) { v[20] ^= 0x40; }),
              IsOk());
  EXPECT_THAT(Start(), StatusIs(absl::StatusCode::kDataLoss,
                                HasSubstr(absl::StrCat("at position ", kEvents, ":"))));
  EXPECT_FALSE(runtime_->serving());
}

}  // namespace
}  // namespace mend
