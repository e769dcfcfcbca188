// EventStore::CreateCheckpoint: a consistent copy taken while appends go on
// holds every append acknowledged before it began, whole batches only, and
// opens as a store whose chain, indexes and tree verify.
#include <atomic>
#include <cstdint>
#include <filesystem>
#include <memory>
#include <string>
#include <thread>
#include <utility>
#include <vector>

#include "absl/strings/str_cat.h"
#include "absl/synchronization/mutex.h"
#include "common/eventlog/event_store.h"
#include "gmock/gmock.h"
#include "gtest/gtest.h"
#include "mend/eventlog/v1/record.pb.h"
#include "tests/support/test_util.h"

namespace mend::eventlog {
namespace {

using ::mend::testing::IsOk;
using ::mend::testing::StatusIs;
using ::mend::testing::TempDir;

struct Acked {
  std::string event_id;
  uint64_t position;
};

// A 200-byte payload, the size of a small real event.
eventlog::NewEvent BigEvent(std::string id) {
  return ::mend::testing::TestEvent(std::move(id), std::string(200, 'p'));
}

TEST(EventStoreCheckpointTest, CopyUnderLoadHoldsEveryAppendAckedBeforeIt) {
  TempDir dir;
  auto store = EventStore::Open({.path = dir.Sub("log")});
  ASSERT_THAT(store, IsOk());
  ASSERT_THAT((*store)->PutKey("person-1", "wrapped-key"), IsOk());

  // Eight appenders, each two events a call, until told to stop; every
  // acknowledged append is recorded with its position.
  absl::Mutex mu;
  std::vector<Acked> acked;
  std::atomic<bool> stop{false};
  std::vector<std::thread> appenders;
  for (int t = 0; t < 8; ++t) {
    appenders.emplace_back([&, t] {
      for (int i = 0; !stop.load(); ++i) {
        const std::string a = absl::StrCat("e-", t, "-", i, "-a");
        const std::string b = absl::StrCat("e-", t, "-", i, "-b");
        auto r = (*store)->Append(absl::StrCat("stream-", t % 3), ExpectedVersion::Any(),
                                  {BigEvent(a), BigEvent(b)});
        ASSERT_THAT(r, IsOk());
        absl::MutexLock lock(&mu);
        acked.push_back({a, r->first_position});
        acked.push_back({b, r->first_position + 1});
      }
    });
  }
  // Wait until some appends are in, then take the copy among them.
  while ((*store)->GetHead().position < 2000) {
    (*store)->WaitForHeadAbove((*store)->GetHead().position,
                               absl::Now() + absl::Seconds(5));
  }
  std::vector<Acked> before;
  {
    absl::MutexLock lock(&mu);
    before = acked;
  }
  const uint64_t head_before = (*store)->GetHead().position;
  const std::string copy_dir = dir.Sub("backup");
  absl::StatusOr<Head> copied = (*store)->CreateCheckpoint(copy_dir);
  ASSERT_THAT(copied, IsOk());
  // Appends go on after the copy.
  const uint64_t head_after_copy = (*store)->GetHead().position;
  while ((*store)->GetHead().position < head_after_copy + 500) {
    (*store)->WaitForHeadAbove((*store)->GetHead().position,
                               absl::Now() + absl::Seconds(5));
  }
  stop = true;
  for (auto& t : appenders) t.join();
  ASSERT_GE(copied->position, head_before);
  ASSERT_GT((*store)->GetHead().position, copied->position);

  // The copy opens as a writable store (as a restored service opens it)...
  auto restored = EventStore::Open({.path = copy_dir, .create_if_missing = false});
  ASSERT_THAT(restored, IsOk());
  EXPECT_EQ((*restored)->GetHead().position, copied->position);
  EXPECT_EQ((*restored)->GetHead().hash, copied->hash);
  // ...whose head is the original's record at that position: the copy is a
  // prefix of the log, not a log of its own.
  auto original_at = (*store)->Read(copied->position, 1);
  ASSERT_THAT(original_at, IsOk());
  ASSERT_EQ(original_at->size(), 1u);
  auto restored_at = (*restored)->Read(copied->position, 1);
  ASSERT_THAT(restored_at, IsOk());
  ASSERT_EQ(restored_at->size(), 1u);
  EXPECT_EQ((*restored_at)[0].bytes, (*original_at)[0].bytes);
  // Whole batches: the copy ends on the second event of an append.
  EXPECT_EQ(copied->position % 2, 0u);

  VerifyReport report = (*restored)->Verify();
  EXPECT_TRUE(report.ok) << report.problem << " at " << report.first_bad_position;
  EXPECT_EQ(report.events_checked, copied->position);

  // Every append acknowledged before the copy began is in it, at its position.
  for (const Acked& a : before) {
    ASSERT_LE(a.position, copied->position);
    auto records = (*restored)->Read(a.position, 1);
    ASSERT_THAT(records, IsOk());
    ASSERT_EQ(records->size(), 1u);
    v1::StoredRecord record;
    ASSERT_TRUE(record.ParseFromString((*records)[0].bytes));
    EXPECT_EQ(record.envelope().event_id(), a.event_id) << "position " << a.position;
  }
  // The data keys and the tree are in the copy too.
  auto key = (*restored)->GetKey("person-1");
  ASSERT_THAT(key, IsOk());
  EXPECT_EQ(key->value_or(""), "wrapped-key");
  auto root = (*restored)->TreeRoot(copied->position);
  auto original_root = (*store)->TreeRoot(copied->position);
  ASSERT_THAT(root, IsOk());
  ASSERT_THAT(original_root, IsOk());
  EXPECT_EQ(*root, *original_root);

  // The restored store appends after its head, on the chain it holds.
  auto next =
      (*restored)->Append("stream-0", ExpectedVersion::Any(), {BigEvent("after")});
  ASSERT_THAT(next, IsOk());
  EXPECT_EQ(next->first_position, copied->position + 1);
  EXPECT_TRUE((*restored)->Verify().ok);
}

TEST(EventStoreCheckpointTest, RefusesWhatItCannotCopyTo) {
  TempDir dir;
  auto store = EventStore::Open({.path = dir.Sub("log")});
  ASSERT_THAT(store, IsOk());
  ASSERT_THAT((*store)->Append("s", ExpectedVersion::Any(), {BigEvent("one")}), IsOk());
  EXPECT_THAT((*store)->CreateCheckpoint(""),
              StatusIs(absl::StatusCode::kInvalidArgument));
  EXPECT_THAT((*store)->CreateCheckpoint("relative/dir"),
              StatusIs(absl::StatusCode::kInvalidArgument));
  std::filesystem::create_directories(dir.Sub("taken"));
  EXPECT_THAT((*store)->CreateCheckpoint(dir.Sub("taken")),
              StatusIs(absl::StatusCode::kAlreadyExists));
  EXPECT_THAT((*store)->CreateCheckpoint(dir.Sub("missing/parent/copy")),
              StatusIs(absl::StatusCode::kFailedPrecondition));
  EXPECT_FALSE(std::filesystem::exists(dir.Sub("missing")));

  // An empty log copies to an empty log.
  auto empty = EventStore::Open({.path = dir.Sub("empty")});
  ASSERT_THAT(empty, IsOk());
  auto copied = (*empty)->CreateCheckpoint(dir.Sub("empty-copy"));
  ASSERT_THAT(copied, IsOk());
  EXPECT_EQ(copied->position, 0u);

  // A reader cannot take one.
  store->reset();
  auto reader = EventStore::Open({.path = dir.Sub("log"), .read_only = true});
  ASSERT_THAT(reader, IsOk());
  EXPECT_THAT((*reader)->CreateCheckpoint(dir.Sub("from-reader")),
              StatusIs(absl::StatusCode::kFailedPrecondition));
  EXPECT_FALSE(std::filesystem::exists(dir.Sub("from-reader")));
}

}  // namespace
}  // namespace mend::eventlog
