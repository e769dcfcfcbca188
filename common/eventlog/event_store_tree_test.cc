// The event store's Merkle tree over a real RocksDB: roots at every size
// equal an independent recomputation from the records' stored bytes, proofs
// served verify (and a changed one does not), bad sizes are refused, the tree
// survives a reopen, a log without a tree gets one built at open, a changed
// node is found by Verify, a read-only open serves proofs, a secondary open
// beside a running writer sees its records and writes nothing, and a store
// without the tree (benchmarks) gets it built at the next open.
#include <cstdint>
#include <filesystem>
#include <map>
#include <memory>
#include <string>
#include <thread>
#include <utility>
#include <vector>

#include "absl/strings/str_cat.h"
#include "common/base/sha256.h"
#include "common/eventlog/event_store.h"
#include "common/merkle/merkle.h"
#include "gmock/gmock.h"
#include "gtest/gtest.h"
#include "rocksdb/db.h"
#include "tests/support/test_util.h"

namespace mend::eventlog {
namespace {

using ::mend::testing::IsOk;
using ::mend::testing::StatusIs;
using ::mend::testing::TempDir;
using ::testing::HasSubstr;

// RFC 6962 by hand, over the stored bytes: no mend merkle code.
std::string Sha(std::string_view prefix, std::string_view a, std::string_view b = "") {
  return Sha256Bytes(absl::StrCat(std::string(prefix), std::string(a), std::string(b)));
}
std::string Mth(const std::vector<std::string>& leaves, size_t from, size_t to) {
  if (to - from == 1) return Sha(std::string(1, '\0'), leaves[from]);
  size_t k = 1;
  while (k * 2 < to - from) k *= 2;
  return Sha("\x01", Mth(leaves, from, from + k), Mth(leaves, from + k, to));
}

// Every file of a directory with its size and modification time.
std::map<std::string, std::pair<uintmax_t, std::filesystem::file_time_type>> ListFiles(
    const std::string& dir) {
  std::map<std::string, std::pair<uintmax_t, std::filesystem::file_time_type>> files;
  for (const auto& entry : std::filesystem::directory_iterator(dir)) {
    files[entry.path().filename().string()] = {
        entry.is_regular_file() ? entry.file_size() : 0, entry.last_write_time()};
  }
  return files;
}

class EventStoreTreeTest : public ::testing::Test {
 protected:
  std::string Path() const { return dir_.Sub("log"); }

  void Append(EventStore& store, int n, int from = 0) {
    for (int i = from; i < from + n; ++i) {
      ASSERT_THAT(store.Append(absl::StrCat("s", i % 5), ExpectedVersion::Any(),
                               {{.event_id = absl::StrCat("e", i),
                                 .event_type = "test.Event",
                                 .payload = absl::StrCat("payload-", i),
                                 .actor_id = "",
                                 .actor_role = "",
                                 .correlation_id = "",
                                 .causation_id = ""}}),
                  IsOk());
    }
  }
  // The stored bytes of every record.
  std::vector<std::string> Records(const EventStore& store) {
    std::vector<std::string> out;
    auto records = store.Read(1, 100000);
    EXPECT_THAT(records, IsOk());
    for (const RawRecord& r : *records) out.push_back(r.bytes);
    return out;
  }
  // Every root, and proofs at a spread of sizes, against the recomputation.
  void ExpectTreeMatches(const EventStore& store) {
    const std::vector<std::string> leaves = Records(store);
    ASSERT_THAT(store.TreeRoot(0), IsOk());
    EXPECT_EQ(*store.TreeRoot(0), Sha256Bytes(""));
    for (size_t size = 1; size <= leaves.size(); ++size) {
      absl::StatusOr<std::string> root = store.TreeRoot(size);
      ASSERT_THAT(root, IsOk()) << size;
      ASSERT_EQ(*root, Mth(leaves, 0, size)) << "root at size " << size;
      if (size % 7 != 0 && size != leaves.size()) continue;
      for (uint64_t position = 1; position <= size; position += 3) {
        auto proof = store.InclusionProof(position, size);
        ASSERT_THAT(proof, IsOk());
        EXPECT_THAT(merkle::VerifyInclusion(
                        position - 1, size,
                        Sha(std::string(1, '\0'), leaves[position - 1]), *proof, *root),
                    IsOk())
            << position << "/" << size;
      }
      for (uint64_t from = 1; from <= size; from += 5) {
        auto proof = store.ConsistencyProof(from, size);
        ASSERT_THAT(proof, IsOk());
        EXPECT_THAT(
            merkle::VerifyConsistency(from, size, Mth(leaves, 0, from), *root, *proof),
            IsOk())
            << from << "->" << size;
      }
    }
  }

  TempDir dir_;
};

TEST_F(EventStoreTreeTest, RootsAndProofsMatchTheRecords) {
  auto store = EventStore::Open({.path = Path()});
  ASSERT_THAT(store, IsOk());
  Append(**store, 70);
  ExpectTreeMatches(**store);
}

TEST_F(EventStoreTreeTest, ConcurrentAppendsKeepTheTree) {
  auto store = EventStore::Open({.path = Path()});
  ASSERT_THAT(store, IsOk());
  std::vector<std::thread> threads;
  for (int t = 0; t < 8; ++t) {
    threads.emplace_back([&, t] { Append(**store, 25, t * 1000); });
  }
  for (std::thread& t : threads) t.join();
  EXPECT_EQ((*store)->GetHead().position, 200u);
  ExpectTreeMatches(**store);
  EXPECT_TRUE((*store)->Verify().ok) << (*store)->Verify().problem;
}

TEST_F(EventStoreTreeTest, BadSizesAreRefused) {
  auto store = EventStore::Open({.path = Path()});
  ASSERT_THAT(store, IsOk());
  Append(**store, 10);
  EXPECT_THAT((*store)->TreeRoot(11), StatusIs(absl::StatusCode::kOutOfRange));
  EXPECT_THAT((*store)->InclusionProof(0, 5),
              StatusIs(absl::StatusCode::kInvalidArgument));
  EXPECT_THAT((*store)->InclusionProof(6, 5),
              StatusIs(absl::StatusCode::kInvalidArgument));
  EXPECT_THAT((*store)->InclusionProof(5, 11), StatusIs(absl::StatusCode::kOutOfRange));
  EXPECT_THAT((*store)->ConsistencyProof(0, 5),
              StatusIs(absl::StatusCode::kInvalidArgument));
  EXPECT_THAT((*store)->ConsistencyProof(6, 5),
              StatusIs(absl::StatusCode::kInvalidArgument));
  EXPECT_THAT((*store)->ConsistencyProof(5, 11), StatusIs(absl::StatusCode::kOutOfRange));
  auto same = (*store)->ConsistencyProof(5, 5);
  ASSERT_THAT(same, IsOk());
  EXPECT_TRUE(same->empty());
}

TEST_F(EventStoreTreeTest, TheTreeSurvivesAReopenAndGrowsOn) {
  {
    auto store = EventStore::Open({.path = Path()});
    ASSERT_THAT(store, IsOk());
    Append(**store, 37);
  }
  auto store = EventStore::Open({.path = Path()});
  ASSERT_THAT(store, IsOk());
  Append(**store, 30, 37);
  ExpectTreeMatches(**store);
  EXPECT_TRUE((*store)->Verify().ok) << (*store)->Verify().problem;
}

// Opens the raw database and calls fn with the tree column family.
// Runs `fn` on the column family `cf` of the (closed) store at `path`.
absl::Status EditColumnFamily(
    const std::string& path, const std::string& cf,
    const std::function<void(rocksdb::DB*, rocksdb::ColumnFamilyHandle*)>& fn) {
  std::vector<std::string> names;
  rocksdb::Status s = rocksdb::DB::ListColumnFamilies({}, path, &names);
  if (!s.ok()) return absl::InternalError(s.ToString());
  std::vector<rocksdb::ColumnFamilyDescriptor> cfs;
  for (const auto& n : names) cfs.emplace_back(n, rocksdb::ColumnFamilyOptions());
  std::vector<rocksdb::ColumnFamilyHandle*> handles;
  rocksdb::DB* raw = nullptr;
  s = rocksdb::DB::Open({}, path, cfs, &handles, &raw);
  if (!s.ok()) return absl::InternalError(s.ToString());
  std::unique_ptr<rocksdb::DB> db(raw);
  for (size_t i = 0; i < names.size(); ++i) {
    if (names[i] == cf) fn(db.get(), handles[i]);
  }
  for (auto* h : handles) db->DestroyColumnFamilyHandle(h);
  return absl::OkStatus();
}
absl::Status EditTree(
    const std::string& path,
    const std::function<void(rocksdb::DB*, rocksdb::ColumnFamilyHandle*)>& fn) {
  return EditColumnFamily(path, kTreeColumnFamily, fn);
}

TEST_F(EventStoreTreeTest, ALogWithoutATreeGetsOneBuiltAtOpen) {
  {
    auto store = EventStore::Open({.path = Path()});
    ASSERT_THAT(store, IsOk());
    Append(**store, 45);
  }
  // As a log written before the tree existed: no node at all.
  ASSERT_THAT(EditTree(Path(),
                       [](rocksdb::DB* db, rocksdb::ColumnFamilyHandle* tree) {
                         rocksdb::WriteOptions wo;
                         wo.sync = true;
                         ASSERT_TRUE(db->DeleteRange(wo, tree, std::string(1, '\0'),
                                                     std::string(9, '\xff'))
                                         .ok());
                       }),
              IsOk());
  auto store = EventStore::Open({.path = Path()});
  ASSERT_THAT(store, IsOk());
  ExpectTreeMatches(**store);
  Append(**store, 5, 45);
  ExpectTreeMatches(**store);
  EXPECT_TRUE((*store)->Verify().ok) << (*store)->Verify().problem;
}

TEST_F(EventStoreTreeTest, VerifyFindsAChangedNode) {
  {
    auto store = EventStore::Open({.path = Path()});
    ASSERT_THAT(store, IsOk());
    Append(**store, 16);
  }
  // The node over records 5..8 (level 2, index 1), completed by record 8.
  ASSERT_THAT(EditTree(Path(),
                       [](rocksdb::DB* db, rocksdb::ColumnFamilyHandle* tree) {
                         std::string key(1, '\x02');
                         key.append(std::string(7, '\0')).push_back('\x01');
                         rocksdb::WriteOptions wo;
                         wo.sync = true;
                         ASSERT_TRUE(db->Put(wo, tree, key, std::string(32, 'x')).ok());
                       }),
              IsOk());
  auto store = EventStore::Open({.path = Path()});
  ASSERT_THAT(store, IsOk());
  VerifyReport report = (*store)->Verify();
  EXPECT_FALSE(report.ok);
  EXPECT_EQ(report.first_bad_position, 8u);
  EXPECT_THAT(report.problem, HasSubstr("level 2, index 1"));
}

TEST_F(EventStoreTreeTest, AReadOnlyOpenServesProofs) {
  {
    auto store = EventStore::Open({.path = Path()});
    ASSERT_THAT(store, IsOk());
    Append(**store, 20);
  }
  auto store = EventStore::Open({.path = Path(), .read_only = true});
  ASSERT_THAT(store, IsOk());
  ExpectTreeMatches(**store);
}

// Verify reads each index in its own order against the records: an entry
// pointing at another event, and an event without its entry, are found at
// the event's position.
TEST_F(EventStoreTreeTest, VerifyFindsAStreamIndexEntryThatPointsElsewhere) {
  {
    auto store = EventStore::Open({.path = Path()});
    ASSERT_THAT(store, IsOk());
    Append(**store, 20);  // position p is stream s((p-1) % 5)
    ASSERT_TRUE((*store)->Verify().ok);
  }
  // s2's first event is at position 3; its entry now names position 5.
  ASSERT_THAT(EditColumnFamily(Path(), "streams",
                               [](rocksdb::DB* db, rocksdb::ColumnFamilyHandle* cf) {
                                 std::string key = "s2";
                                 key.push_back('\0');
                                 key.append(std::string(7, '\0')).push_back('\x01');
                                 rocksdb::WriteOptions wo;
                                 wo.sync = true;
                                 ASSERT_TRUE(db->Put(wo, cf, key, PositionKey(5)).ok());
                               }),
              IsOk());
  auto store = EventStore::Open({.path = Path(), .read_only = true});
  ASSERT_THAT(store, IsOk());
  VerifyReport report = (*store)->Verify();
  EXPECT_FALSE(report.ok);
  EXPECT_EQ(report.first_bad_position, 3u);
  EXPECT_THAT(report.problem,
              HasSubstr("stream index for s2 version 1 does not point here"));
}

TEST_F(EventStoreTreeTest, VerifyFindsAnEventMissingFromTheEventIdIndex) {
  {
    auto store = EventStore::Open({.path = Path()});
    ASSERT_THAT(store, IsOk());
    Append(**store, 20);  // position p has event id e(p-1)
  }
  ASSERT_THAT(EditColumnFamily(Path(), "event_ids",
                               [](rocksdb::DB* db, rocksdb::ColumnFamilyHandle* cf) {
                                 rocksdb::WriteOptions wo;
                                 wo.sync = true;
                                 ASSERT_TRUE(db->Delete(wo, cf, "e7").ok());
                               }),
              IsOk());
  auto store = EventStore::Open({.path = Path(), .read_only = true});
  ASSERT_THAT(store, IsOk());
  VerifyReport report = (*store)->Verify();
  EXPECT_FALSE(report.ok);
  EXPECT_EQ(report.first_bad_position, 8u);
  EXPECT_THAT(report.problem, HasSubstr("the event-id index has no entry for e7"));
}

// Only subtrees of four records and more are written; leaves and pairs come
// from the records (and proofs over them still verify: ExpectTreeMatches).
TEST_F(EventStoreTreeTest, NodesBelowLevelTwoAreNotStored) {
  {
    auto store = EventStore::Open({.path = Path()});
    ASSERT_THAT(store, IsOk());
    Append(**store, 16);
    ExpectTreeMatches(**store);
  }
  std::map<int, int> per_level;
  ASSERT_THAT(EditTree(Path(),
                       [&](rocksdb::DB* db, rocksdb::ColumnFamilyHandle* tree) {
                         std::unique_ptr<rocksdb::Iterator> it(db->NewIterator({}, tree));
                         for (it->SeekToFirst(); it->Valid(); it->Next()) {
                           if (it->key().size() == 9) ++per_level[it->key()[0]];
                         }
                       }),
              IsOk());
  // 16 records: four nodes at level 2, two at 3, one at 4; none below.
  EXPECT_EQ(per_level, (std::map<int, int>{{2, 4}, {3, 2}, {4, 1}}));
}

TEST_F(EventStoreTreeTest, ListTreeHeadsGivesEverySavedHeadBySize) {
  auto store = EventStore::Open({.path = Path()});
  ASSERT_THAT(store, IsOk());
  Append(**store, 30);
  ASSERT_THAT((*store)->PutTreeHead(20, "head-20"), IsOk());
  ASSERT_THAT((*store)->PutTreeHead(3, "head-3"), IsOk());
  ASSERT_THAT((*store)->PutTreeHead(30, "head-30"), IsOk());
  auto heads = (*store)->ListTreeHeads();
  ASSERT_THAT(heads, IsOk());
  ASSERT_EQ(heads->size(), 3u);
  EXPECT_EQ((*heads)[0], std::make_pair(uint64_t{3}, std::string("head-3")));
  EXPECT_EQ((*heads)[1], std::make_pair(uint64_t{20}, std::string("head-20")));
  EXPECT_EQ((*heads)[2], std::make_pair(uint64_t{30}, std::string("head-30")));
}

// An auditor next to a running service: a secondary open sees every record
// the service had written (still in its WAL, not flushed), proves the tree,
// and writes nothing in the service's directory.
TEST_F(EventStoreTreeTest, ASecondaryOpenSeesTheRunningServicesWritesAndWritesNothing) {
  auto writer = EventStore::Open({.path = Path()});
  ASSERT_THAT(writer, IsOk());
  Append(**writer, 25);
  auto before = ListFiles(Path());
  auto reader = EventStore::Open(
      {.path = Path(), .read_only = true, .secondary_path = dir_.Sub("secondary")});
  ASSERT_THAT(reader, IsOk());
  EXPECT_EQ((*reader)->GetHead().position, 25u);
  ExpectTreeMatches(**reader);
  VerifyReport report = (*reader)->Verify();
  EXPECT_TRUE(report.ok) << report.first_bad_position << ": " << report.problem;
  EXPECT_THAT((*reader)->Append("s", ExpectedVersion::Any(),
                                {{.event_id = "x",
                                  .event_type = "test.Event",
                                  .payload = "",
                                  .actor_id = "",
                                  .actor_role = "",
                                  .correlation_id = "",
                                  .causation_id = ""}}),
              StatusIs(absl::StatusCode::kFailedPrecondition));
  reader->reset();
  EXPECT_EQ(ListFiles(Path()), before);
  Append(**writer, 5, 25);  // the service goes on
  EXPECT_EQ((*writer)->GetHead().position, 30u);
}

TEST_F(EventStoreTreeTest, APlainReadOnlyOpenWritesNoInfoLog) {
  {
    auto store = EventStore::Open({.path = Path()});
    ASSERT_THAT(store, IsOk());
    Append(**store, 5);
  }
  auto before = ListFiles(Path());
  {
    auto store = EventStore::Open({.path = Path(), .read_only = true});
    ASSERT_THAT(store, IsOk());
    EXPECT_EQ((*store)->GetHead().position, 5u);
  }
  EXPECT_EQ(ListFiles(Path()), before);
}

TEST_F(EventStoreTreeTest, WithoutTheTreeNoProofsAndTheNextOpenBuildsIt) {
  {
    auto store = EventStore::Open({.path = Path(), .maintain_tree = false});
    ASSERT_THAT(store, IsOk());
    Append(**store, 12);
    EXPECT_THAT((*store)->TreeRoot(12), StatusIs(absl::StatusCode::kFailedPrecondition));
  }
  auto store = EventStore::Open({.path = Path()});
  ASSERT_THAT(store, IsOk());
  ExpectTreeMatches(**store);
  EXPECT_TRUE((*store)->Verify().ok);
}

}  // namespace
}  // namespace mend::eventlog
