// EventStore::ScanVerified over a real RocksDB in a temp dir: an intact log is
// given whole, in order; a changed byte, a cut tail or a changed stored head
// is DATA_LOSS naming the first bad position, and no changed record ever
// reaches the caller.
#include <atomic>
#include <cstdint>
#include <memory>
#include <string>
#include <thread>
#include <vector>

#include "absl/strings/str_cat.h"
#include "common/eventlog/event_store.h"
#include "common/eventlog/record_codec.h"
#include "gmock/gmock.h"
#include "gtest/gtest.h"
#include "tests/fault/raw_log.h"
#include "tests/support/test_util.h"

namespace mend::eventlog {
namespace {

using ::mend::testing::IsOk;
using ::mend::testing::StatusIs;
using ::mend::testing::TempDir;
using ::testing::AllOf;
using ::testing::HasSubstr;

constexpr int kEvents = 269;  // as in the report that found the gap

class ScanVerifiedTest : public ::testing::Test {
 protected:
  std::string Path() const { return dir_.Sub("log"); }

  // Appends `n` events, payload "payload-<i>" at position i+1, then closes.
  void Fill(int n) {
    auto store = EventStore::Open({.path = Path()});
    ASSERT_THAT(store, IsOk());
    for (int i = 0; i < n; ++i) {
      ASSERT_THAT((*store)->Append(absl::StrCat("s", i % 4), ExpectedVersion::Any(),
                                   {NewEvent{.event_id = absl::StrCat("e", i),
                                             .event_type = "mend.test.v1.Thing",
                                             .payload = absl::StrCat("payload-", i),
                                             .actor_id = "tester",
                                             .actor_role = "service",
                                             .correlation_id = "",
                                             .causation_id = ""}}),
                  IsOk());
    }
  }

  // Opens the log and scans it, recording every position given.
  absl::Status Scan() {
    given_.clear();
    auto store = EventStore::Open({.path = Path()});
    if (!store.ok()) return store.status();
    return (*store)->ScanVerified(
        [&](uint64_t position, std::string_view bytes, const RecordView& view) {
          EXPECT_EQ(view.position, position);
          EXPECT_FALSE(bytes.empty());
          given_.push_back(position);
          return absl::OkStatus();
        });
  }

  // Whether the positions given were exactly 1..n, in order.
  bool GivenOneThrough(uint64_t n) const {
    if (given_.size() != n) return false;
    for (uint64_t i = 0; i < n; ++i) {
      if (given_[i] != i + 1) return false;
    }
    return true;
  }

  TempDir dir_;
  std::vector<uint64_t> given_;
};

TEST_F(ScanVerifiedTest, IntactLogIsGivenWholeAndInOrder) {
  Fill(kEvents);
  ASSERT_THAT(Scan(), IsOk());
  EXPECT_TRUE(GivenOneThrough(kEvents)) << given_.size() << " records given";
}

TEST_F(ScanVerifiedTest, EmptyLogIsOk) {
  Fill(0);
  ASSERT_THAT(Scan(), IsOk());
  EXPECT_TRUE(given_.empty());
}

TEST_F(ScanVerifiedTest, FlippedPayloadByteInTheMiddleNamesThatPosition) {
  Fill(kEvents);
  for (uint64_t position : {60u, 150u}) {
    SCOPED_TRACE(position);
    std::string original;
    ASSERT_THAT(
        raw_log::ChangeRecord(Path(), position, [&](std::string& v) { original = v; }),
        IsOk());
    ASSERT_THAT(
        raw_log::FlipByte(Path(), position, absl::StrCat("payload-", position - 1), 3),
        IsOk());
    EXPECT_THAT(Scan(), StatusIs(absl::StatusCode::kDataLoss,
                                 HasSubstr(absl::StrCat("at position ", position, ":"))));
    // The changed record never reached the caller; those before it did.
    EXPECT_TRUE(GivenOneThrough(position - 1)) << given_.size() << " records given";
    ASSERT_THAT(
        raw_log::ChangeRecord(Path(), position, [&](std::string& v) { v = original; }),
        IsOk());  // undo
    ASSERT_THAT(Scan(), IsOk());
  }
}

TEST_F(ScanVerifiedTest, FlippedByteAnywhereInARecordNamesThatPosition) {
  Fill(6);
  std::string original;
  ASSERT_THAT(raw_log::ChangeRecord(Path(), 3, [&](std::string& v) { original = v; }),
              IsOk());
  // Every fifth byte (each costs two opens of the database), the last one
  // included: envelope, payload and prev_hash all get their turn.
  std::vector<size_t> offsets;
  for (size_t i = 0; i < original.size(); i += 5) offsets.push_back(i);
  offsets.push_back(original.size() - 1);
  for (size_t i : offsets) {
    ASSERT_THAT(raw_log::ChangeRecord(Path(), 3,
                                      [&](std::string& v) {
                                        v = original;
                                        v[i] ^= 0x20;
                                      }),
                IsOk());
    EXPECT_THAT(Scan(),
                StatusIs(absl::StatusCode::kDataLoss, HasSubstr("at position 3:")))
        << "byte " << i;
    // Record 3 never reaches the caller (record 2 may not either: it waits
    // for record 3 to prove it).
    EXPECT_TRUE(given_.size() <= 2 && GivenOneThrough(given_.size()))
        << "byte " << i << ": " << given_.size() << " given";
  }
}

TEST_F(ScanVerifiedTest, ChangedLastRecordIsFoundThroughTheStoredHead) {
  Fill(kEvents);
  ASSERT_THAT(raw_log::FlipByte(Path(), kEvents, absl::StrCat("payload-", kEvents - 1)),
              IsOk());
  EXPECT_THAT(Scan(),
              StatusIs(absl::StatusCode::kDataLoss,
                       AllOf(HasSubstr(absl::StrCat("at position ", kEvents, ":")),
                             HasSubstr("stored head"))));
  EXPECT_TRUE(GivenOneThrough(kEvents - 1));
}

TEST_F(ScanVerifiedTest, TailCutWhileTheStoredHeadStaysNamesTheFirstMissingPosition) {
  Fill(kEvents);
  ASSERT_THAT(raw_log::DeleteRecords(Path(), kEvents - 9, kEvents), IsOk());
  EXPECT_THAT(Scan(),
              StatusIs(absl::StatusCode::kDataLoss,
                       AllOf(HasSubstr(absl::StrCat("at position ", kEvents - 9, ":")),
                             HasSubstr(absl::StrCat("stored head is ", kEvents)))));
  // The last record left cannot be proven: nothing links to it any more.
  EXPECT_TRUE(GivenOneThrough(kEvents - 11)) << given_.size() << " records given";
}

TEST_F(ScanVerifiedTest, MissingMiddleRecordNamesItsPosition) {
  Fill(20);
  ASSERT_THAT(raw_log::DeleteRecords(Path(), 7, 7), IsOk());
  EXPECT_THAT(Scan(), StatusIs(absl::StatusCode::kDataLoss,
                               AllOf(HasSubstr("at position 7:"), HasSubstr("missing"))));
}

TEST_F(ScanVerifiedTest, ChangedStoredHeadHashNamesTheLastPosition) {
  Fill(kEvents);
  ASSERT_THAT(raw_log::ChangeStoredHead(Path(), [](std::string& v) { v.back() ^= 0x01; }),
              IsOk());
  EXPECT_THAT(Scan(), StatusIs(absl::StatusCode::kDataLoss,
                               HasSubstr(absl::StrCat("at position ", kEvents, ":"))));
  EXPECT_TRUE(GivenOneThrough(kEvents - 1));
}

TEST_F(ScanVerifiedTest, StoredHeadMovedBackNamesTheFirstRecordAfterIt) {
  Fill(kEvents);
  ASSERT_THAT(raw_log::ChangeStoredHead(Path(),
                                        [](std::string& v) {
                                          v[7] = static_cast<char>(200);  // be64 200
                                          v[6] = 0;
                                        }),
              IsOk());
  EXPECT_THAT(Scan(), StatusIs(absl::StatusCode::kDataLoss,
                               AllOf(HasSubstr("at position 201:"),
                                     HasSubstr("after the stored head 200"))));
}

TEST_F(ScanVerifiedTest, MissingStoredHeadIsDataLoss) {
  Fill(5);
  ASSERT_THAT(raw_log::Edit(Path(),
                            [](rocksdb::DB* db, rocksdb::ColumnFamilyHandle*,
                               rocksdb::ColumnFamilyHandle* meta) {
                              return db->Delete(raw_log::Synced(), meta, kHeadKey).ok()
                                         ? absl::OkStatus()
                                         : absl::InternalError("delete head");
                            }),
              IsOk());
  EXPECT_THAT(Scan(),
              StatusIs(absl::StatusCode::kDataLoss,
                       AllOf(HasSubstr("at position 5:"), HasSubstr("no stored head"))));
}

TEST_F(ScanVerifiedTest, CallersErrorStopsTheScanAndIsReturnedUnchanged) {
  Fill(10);
  auto store = EventStore::Open({.path = Path()});
  ASSERT_THAT(store, IsOk());
  uint64_t last = 0;
  absl::Status s =
      (*store)->ScanVerified([&](uint64_t position, std::string_view, const RecordView&) {
        last = position;
        return position == 4 ? absl::InvalidArgumentError("cannot fold 4")
                             : absl::OkStatus();
      });
  EXPECT_THAT(s,
              StatusIs(absl::StatusCode::kInvalidArgument, HasSubstr("cannot fold 4")));
  EXPECT_EQ(last, 4u);
}

TEST_F(ScanVerifiedTest, SeesOnlyDurableRecordsWhileAppendsGoOn) {
  auto store = EventStore::Open({.path = Path()});
  ASSERT_THAT(store, IsOk());
  std::atomic<bool> stop{false};
  std::thread writer([&] {
    for (int i = 0; !stop.load(); ++i) {
      ASSERT_THAT((*store)->Append("s", ExpectedVersion::Any(),
                                   {NewEvent{.event_id = absl::StrCat("w", i),
                                             .event_type = "mend.test.v1.Thing",
                                             .payload = "p",
                                             .actor_id = "",
                                             .actor_role = "",
                                             .correlation_id = "",
                                             .causation_id = ""}}),
                  IsOk());
    }
  });
  for (int round = 0; round < 20; ++round) {
    uint64_t count = 0;
    ASSERT_THAT((*store)->ScanVerified(
                    [&](uint64_t position, std::string_view, const RecordView&) {
                      EXPECT_EQ(position, ++count);
                      return absl::OkStatus();
                    }),
                IsOk())
        << "round " << round;
    EXPECT_LE(count, (*store)->GetHead().position);
  }
  stop = true;
  writer.join();
}

}  // namespace
}  // namespace mend::eventlog
