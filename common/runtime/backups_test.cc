// Backups: what a backup directory holds, its name and description, the
// pruning beyond `keep`, and what an interrupted backup leaves behind.
#include "common/runtime/backups.h"

#include <filesystem>
#include <fstream>
#include <memory>
#include <string>
#include <utility>
#include <vector>

#include "absl/strings/str_cat.h"
#include "absl/time/time.h"
#include "common/eventlog/event_store.h"
#include "gmock/gmock.h"
#include "gtest/gtest.h"
#include "tests/support/test_util.h"

namespace mend {
namespace {

using ::mend::testing::IsOk;
using ::mend::testing::StatusIs;
using ::mend::testing::TempDir;
using ::mend::testing::TestEvent;
namespace fs = std::filesystem;

class BackupsTest : public ::testing::Test {
 protected:
  void SetUp() override {
    auto store = eventlog::EventStore::Open({.path = dir_.Sub("eventlog")});
    ASSERT_THAT(store, IsOk());
    store_ = *std::move(store);
  }
  void Append(const std::string& id) {
    ASSERT_THAT(store_->Append("s", eventlog::ExpectedVersion::Any(), {TestEvent(id)}),
                IsOk());
  }
  // A clock that moves a second a call, from 2026-12-02T01:30:00Z.
  std::function<absl::Time()> Clock() {
    return [this] { return absl::FromUnixSeconds(1796175000) + absl::Seconds(ticks_++); };
  }

  TempDir dir_;
  std::unique_ptr<eventlog::EventStore> store_;
  int ticks_ = 0;
};

TEST_F(BackupsTest, ABackupIsACompleteDirectoryNamedByTimeAndHead) {
  Append("one");
  Append("two");
  auto backups = Backups::Open(
      store_.get(), {.service = "case", .dir = dir_.Sub("backups"), .clock = Clock()});
  ASSERT_THAT(backups, IsOk());
  auto taken = (*backups)->Take();
  ASSERT_THAT(taken, IsOk());
  const admin::v1::Backup& b = taken->backup();
  EXPECT_EQ(b.name(), "20261202T013000.000Z-2");
  EXPECT_EQ(b.service(), "case");
  EXPECT_EQ(b.path(), dir_.Sub("backups") + "/" + b.name());
  EXPECT_EQ(b.head_position(), 2u);
  EXPECT_EQ(b.head_hash(), store_->GetHead().hash);
  EXPECT_EQ(b.created_unix_micros(), int64_t{1796175000} * 1000000);
  EXPECT_GT(b.size_bytes(), 0u);
  EXPECT_EQ(taken->head_position_at_start(), 2u);
  EXPECT_TRUE(fs::exists(b.path() + "/backup.json"));
  EXPECT_TRUE(fs::exists(b.path() + "/eventlog/CURRENT"));
  // Nothing but the backup is left in the directory.
  std::vector<std::string> names;
  for (const auto& e : fs::directory_iterator(dir_.Sub("backups"))) {
    names.push_back(e.path().filename().string());
  }
  EXPECT_THAT(names, ::testing::ElementsAre(b.name()));

  auto listed = (*backups)->List();
  ASSERT_THAT(listed, IsOk());
  ASSERT_EQ(listed->size(), 1u);
  EXPECT_EQ((*listed)[0].SerializeAsString(), b.SerializeAsString());
}

TEST_F(BackupsTest, KeepsTheNewestAndPrunesTheRest) {
  auto backups = Backups::Open(
      store_.get(),
      {.service = "consent", .dir = dir_.Sub("backups"), .keep = 2, .clock = Clock()});
  ASSERT_THAT(backups, IsOk());
  std::vector<std::string> taken;
  for (int i = 0; i < 4; ++i) {
    Append(absl::StrCat("e", i));
    auto t = (*backups)->Take();
    ASSERT_THAT(t, IsOk());
    taken.push_back(t->backup().name());
    if (i < 2) {
      EXPECT_EQ(t->pruned_size(), 0);
    } else {
      ASSERT_EQ(t->pruned_size(), 1);
      EXPECT_EQ(t->pruned(0), taken[i - 2]);
    }
  }
  auto listed = (*backups)->List();
  ASSERT_THAT(listed, IsOk());
  ASSERT_EQ(listed->size(), 2u);
  EXPECT_EQ((*listed)[0].name(), taken[2]);
  EXPECT_EQ((*listed)[1].name(), taken[3]);
  EXPECT_EQ((*listed)[1].head_position(), 4u);
  EXPECT_FALSE(fs::exists(dir_.Sub("backups") + "/" + taken[0]));
}

TEST_F(BackupsTest, WhatAnInterruptedBackupLeftIsRemovedAndStrangersAreNotListed) {
  fs::create_directories(dir_.Sub("backups/.incomplete-20261201T000000.000Z/eventlog"));
  fs::create_directories(dir_.Sub("backups/lost+found"));
  std::ofstream(dir_.Sub("backups/notes.txt")) << "operator notes";
  auto backups =
      Backups::Open(store_.get(), {.service = "case", .dir = dir_.Sub("backups")});
  ASSERT_THAT(backups, IsOk());
  EXPECT_FALSE(fs::exists(dir_.Sub("backups/.incomplete-20261201T000000.000Z")));
  auto listed = (*backups)->List();
  ASSERT_THAT(listed, IsOk());
  EXPECT_TRUE(listed->empty());
  // What is not a backup is never pruned.
  EXPECT_TRUE(fs::exists(dir_.Sub("backups/lost+found")));
  EXPECT_TRUE(fs::exists(dir_.Sub("backups/notes.txt")));
}

TEST_F(BackupsTest, TellsTheObserverOfEachOutcomeAndOfTheNewestAtOpen) {
  std::vector<std::pair<Backups::Outcome, absl::Time>> seen;
  auto observe = [&](Backups::Outcome o, absl::Time t) { seen.emplace_back(o, t); };
  Append("one");
  {
    auto backups = Backups::Open(store_.get(), {.service = "case",
                                                .dir = dir_.Sub("backups"),
                                                .clock = Clock(),
                                                .observe = observe});
    ASSERT_THAT(backups, IsOk());
    EXPECT_TRUE(seen.empty());  // nothing there yet
    ASSERT_THAT((*backups)->Take(), IsOk());
    ASSERT_THAT((*backups)->Take(), IsOk());
  }
  const absl::Time t0 = absl::FromUnixSeconds(1796175000);
  ASSERT_EQ(seen.size(), 2u);
  EXPECT_EQ(seen[0].first, Backups::Outcome::kTaken);
  EXPECT_EQ(seen[1].second, t0 + absl::Seconds(1));
  // A restart finds the newest one.
  seen.clear();
  auto reopened = Backups::Open(
      store_.get(), {.service = "case", .dir = dir_.Sub("backups"), .observe = observe});
  ASSERT_THAT(reopened, IsOk());
  ASSERT_EQ(seen.size(), 1u);
  EXPECT_EQ(seen[0].first, Backups::Outcome::kFoundAtOpen);
  EXPECT_EQ(seen[0].second, t0 + absl::Seconds(1));
  // A backup that fails (a reader's store cannot be checkpointed) is told
  // and leaves nothing behind.
  store_.reset();
  auto reader =
      eventlog::EventStore::Open({.path = dir_.Sub("eventlog"), .read_only = true});
  ASSERT_THAT(reader, IsOk());
  seen.clear();
  auto failing = Backups::Open(
      reader->get(), {.service = "case", .dir = dir_.Sub("other"), .observe = observe});
  ASSERT_THAT(failing, IsOk());
  EXPECT_THAT((*failing)->Take(), StatusIs(absl::StatusCode::kFailedPrecondition));
  ASSERT_EQ(seen.size(), 1u);
  EXPECT_EQ(seen[0].first, Backups::Outcome::kFailed);
  EXPECT_TRUE(fs::is_empty(dir_.Sub("other")));
}

TEST_F(BackupsTest, RefusesBadOptions) {
  EXPECT_THAT(Backups::Open(store_.get(), {.service = "case", .dir = ""}),
              StatusIs(absl::StatusCode::kInvalidArgument));
  EXPECT_THAT(
      Backups::Open(store_.get(), {.service = "case", .dir = dir_.Sub("b"), .keep = 0}),
      StatusIs(absl::StatusCode::kInvalidArgument));
  std::ofstream(dir_.Sub("a-file")) << "x";
  EXPECT_THAT(Backups::Open(store_.get(), {.service = "case", .dir = dir_.Sub("a-file")}),
              StatusIs(absl::StatusCode::kFailedPrecondition));
}

}  // namespace
}  // namespace mend
