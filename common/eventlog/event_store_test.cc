#include "common/eventlog/event_store.h"

#include <atomic>
#include <filesystem>
#include <fstream>
#include <map>
#include <memory>
#include <set>
#include <string>
#include <thread>
#include <vector>

#include "absl/strings/str_cat.h"
#include "common/base/sha256.h"
#include "gmock/gmock.h"
#include "gtest/gtest.h"
#include "mend/eventlog/v1/record.pb.h"
#include "rocksdb/db.h"
#include "rocksdb/env.h"
#include "rocksdb/file_system.h"
#include "tests/support/test_util.h"

namespace mend::eventlog {
namespace {

using ::mend::testing::IsOk;
using ::mend::testing::IsOkAndHolds;
using ::mend::testing::StatusIs;
using ::mend::testing::TempDir;
using ::mend::testing::TestEvent;
using ::testing::ElementsAre;
using ::testing::HasSubstr;

v1::StoredRecord Parse(const RawRecord& r) {
  v1::StoredRecord record;
  EXPECT_TRUE(record.ParseFromString(r.bytes));
  return record;
}

class EventStoreTest : public ::testing::Test {
 protected:
  void SetUp() override { Reopen(); }

  void Reopen() {
    store_.reset();
    auto store = EventStore::Open({.path = dir_.Sub("log")});
    ASSERT_THAT(store, IsOk());
    store_ = *std::move(store);
  }

  TempDir dir_;
  std::unique_ptr<EventStore> store_;
};

TEST_F(EventStoreTest, EmptyLogHasZeroHead) {
  Head head = store_->GetHead();
  EXPECT_EQ(head.position, 0u);
  EXPECT_EQ(head.hash, std::string(32, '\0'));
  EXPECT_TRUE(store_->Verify().ok);
}

TEST_F(EventStoreTest, AppendAssignsPositionsVersionsAndEnvelope) {
  auto first = store_->Append("case-1", ExpectedVersion::NoStream(),
                              {TestEvent("e1"), TestEvent("e2")});
  ASSERT_THAT(first, IsOk());
  EXPECT_EQ(first->first_position, 1u);
  EXPECT_EQ(first->stream_version, 2u);
  EXPECT_FALSE(first->deduplicated);

  auto second = store_->Append("case-2", ExpectedVersion::Any(), {TestEvent("e3")});
  ASSERT_THAT(second, IsOk());
  EXPECT_EQ(second->first_position, 3u);
  EXPECT_EQ(second->stream_version, 1u);

  auto records = store_->Read(1, 10);
  ASSERT_THAT(records, IsOk());
  ASSERT_EQ(records->size(), 3u);
  v1::StoredRecord r2 = Parse((*records)[1]);
  EXPECT_EQ(r2.envelope().position(), 2u);
  EXPECT_EQ(r2.envelope().stream_id(), "case-1");
  EXPECT_EQ(r2.envelope().stream_version(), 2u);
  EXPECT_EQ(r2.envelope().event_id(), "e2");
  EXPECT_EQ(r2.envelope().event_type(), "mend.test.v1.Thing");
  EXPECT_EQ(r2.envelope().actor().id(), "tester");
  EXPECT_EQ(r2.envelope().actor().role(), "service");
  EXPECT_EQ(r2.envelope().correlation_id(), "corr");
  EXPECT_EQ(r2.envelope().schema_version(), 1u);
  EXPECT_EQ(r2.payload(), "payload");
  // The chain: each record stores the hash of the previous stored bytes.
  EXPECT_EQ(Parse((*records)[0]).prev_hash(), std::string(32, '\0'));
  EXPECT_EQ(r2.prev_hash(), Sha256Bytes((*records)[0].bytes));
  EXPECT_EQ(store_->GetHead().hash, Sha256Bytes((*records)[2].bytes));
  EXPECT_EQ(store_->GetHead().position, 3u);
}

TEST_F(EventStoreTest, ExpectedVersionForms) {
  EXPECT_THAT(store_->Append("s", ExpectedVersion::Exists(), {TestEvent("a")}),
              StatusIs(absl::StatusCode::kAborted));
  EXPECT_THAT(store_->Append("s", ExpectedVersion::Exact(1), {TestEvent("a")}),
              StatusIs(absl::StatusCode::kAborted));
  ASSERT_THAT(store_->Append("s", ExpectedVersion::Exact(0), {TestEvent("a")}), IsOk());
  ASSERT_THAT(store_->Append("s", ExpectedVersion::Exists(), {TestEvent("b")}), IsOk());
  ASSERT_THAT(store_->Append("s", ExpectedVersion::Exact(2), {TestEvent("c")}), IsOk());
  ASSERT_THAT(store_->Append("s", ExpectedVersion::Any(), {TestEvent("d")}), IsOk());
  auto conflict = store_->Append("s", ExpectedVersion::NoStream(), {TestEvent("e")});
  EXPECT_THAT(conflict, StatusIs(absl::StatusCode::kAborted));
  EXPECT_THAT(conflict.status().message(), HasSubstr("current version is 4"));
  auto stale = store_->Append("s", ExpectedVersion::Exact(3), {TestEvent("e")});
  EXPECT_THAT(stale, StatusIs(absl::StatusCode::kAborted));
  EXPECT_THAT(stale.status().message(), HasSubstr("current version is 4"));
}

TEST_F(EventStoreTest, ConflictWritesNothing) {
  ASSERT_THAT(store_->Append("s", ExpectedVersion::NoStream(), {TestEvent("a")}), IsOk());
  Head before = store_->GetHead();
  EXPECT_THAT(
      store_->Append("s", ExpectedVersion::Exact(7), {TestEvent("b"), TestEvent("c")}),
      StatusIs(absl::StatusCode::kAborted));
  EXPECT_EQ(store_->GetHead().position, before.position);
  EXPECT_EQ(store_->GetHead().hash, before.hash);
  // The refused ids were not recorded: they can be used now.
  auto ok =
      store_->Append("s", ExpectedVersion::Exact(1), {TestEvent("b"), TestEvent("c")});
  ASSERT_THAT(ok, IsOk());
  EXPECT_FALSE(ok->deduplicated);
  EXPECT_EQ(ok->stream_version, 3u);
}

TEST_F(EventStoreTest, RetryWithSameEventIdsIsIdempotent) {
  auto original =
      store_->Append("s", ExpectedVersion::NoStream(), {TestEvent("a"), TestEvent("b")});
  ASSERT_THAT(original, IsOk());
  ASSERT_THAT(store_->Append("t", ExpectedVersion::Any(), {TestEvent("c")}), IsOk());
  // A retry whose expected version no longer holds still returns the original.
  auto retry =
      store_->Append("s", ExpectedVersion::NoStream(), {TestEvent("a"), TestEvent("b")});
  ASSERT_THAT(retry, IsOk());
  EXPECT_TRUE(retry->deduplicated);
  EXPECT_EQ(retry->first_position, original->first_position);
  EXPECT_EQ(retry->stream_version, original->stream_version);
  EXPECT_EQ(store_->GetHead().position, 3u);

  EXPECT_THAT(
      store_->Append("s", ExpectedVersion::Any(), {TestEvent("a", "other payload")}),
      StatusIs(absl::StatusCode::kAlreadyExists));
  EXPECT_THAT(
      store_->Append("s", ExpectedVersion::Any(), {TestEvent("a"), TestEvent("new")}),
      StatusIs(absl::StatusCode::kAlreadyExists));
  EXPECT_EQ(store_->GetHead().position, 3u);

  // Idempotency survives a restart.
  Reopen();
  auto after_restart =
      store_->Append("s", ExpectedVersion::Any(), {TestEvent("a"), TestEvent("b")});
  ASSERT_THAT(after_restart, IsOk());
  EXPECT_TRUE(after_restart->deduplicated);
  EXPECT_EQ(after_restart->first_position, 1u);
  EXPECT_EQ(store_->GetHead().position, 3u);
}

TEST_F(EventStoreTest, BadInputIsInvalidArgumentAndWritesNothing) {
  const auto kInvalid = absl::StatusCode::kInvalidArgument;
  EXPECT_THAT(store_->Append("", ExpectedVersion::Any(), {TestEvent("a")}),
              StatusIs(kInvalid));
  EXPECT_THAT(store_->Append("has space", ExpectedVersion::Any(), {TestEvent("a")}),
              StatusIs(kInvalid));
  EXPECT_THAT(
      store_->Append(std::string(300, 's'), ExpectedVersion::Any(), {TestEvent("a")}),
      StatusIs(kInvalid));
  EXPECT_THAT(store_->Append("s", ExpectedVersion::Any(), {}), StatusIs(kInvalid));
  EXPECT_THAT(store_->Append("s", ExpectedVersion::Any(), {TestEvent("")}),
              StatusIs(kInvalid));
  EXPECT_THAT(
      store_->Append("s", ExpectedVersion::Any(), {TestEvent("a"), TestEvent("a")}),
      StatusIs(kInvalid));
  NewEvent untyped = TestEvent("a");
  untyped.event_type.clear();
  EXPECT_THAT(store_->Append("s", ExpectedVersion::Any(), {untyped}), StatusIs(kInvalid));
  auto oversize = store_->Append("s", ExpectedVersion::Any(),
                                 {TestEvent("a", std::string((1 << 20) + 1, 'x'))});
  EXPECT_THAT(oversize, StatusIs(kInvalid));
  EXPECT_THAT(oversize.status().message(), HasSubstr("limit"));
  ExpectedVersion bogus;
  bogus.kind = static_cast<ExpectedVersion::Kind>(42);
  EXPECT_THAT(store_->Append("s", bogus, {TestEvent("a")}), StatusIs(kInvalid));
  EXPECT_THAT(store_->Write({}), StatusIs(kInvalid));
  EXPECT_EQ(store_->GetHead().position, 0u);
}

TEST_F(EventStoreTest, ReopenKeepsHeadAndContinuesChain) {
  for (int i = 0; i < 20; ++i) {
    ASSERT_THAT(store_->Append(absl::StrCat("s", i % 3), ExpectedVersion::Any(),
                               {TestEvent(absl::StrCat("e", i))}),
                IsOk());
  }
  Head before = store_->GetHead();
  Reopen();
  Head after = store_->GetHead();
  EXPECT_EQ(after.position, before.position);
  EXPECT_EQ(after.hash, before.hash);
  auto next = store_->Append("s0", ExpectedVersion::Exact(7), {TestEvent("after")});
  ASSERT_THAT(next, IsOk());
  EXPECT_EQ(next->first_position, 21u);
  EXPECT_EQ(next->stream_version, 8u);
  auto last = store_->Read(21, 1);
  ASSERT_THAT(last, IsOk());
  EXPECT_EQ(Parse(last->front()).prev_hash(), before.hash);
  EXPECT_TRUE(store_->Verify().ok);
}

TEST_F(EventStoreTest, ReadStreamAndScan) {
  for (int i = 0; i < 10; ++i) {
    ASSERT_THAT(store_->Append(i % 2 ? "odd" : "even", ExpectedVersion::Any(),
                               {TestEvent(absl::StrCat("e", i))}),
                IsOk());
  }
  auto odd = store_->ReadStream("odd", 2, 2);
  ASSERT_THAT(odd, IsOk());
  ASSERT_EQ(odd->size(), 2u);
  EXPECT_EQ((*odd)[0].position, 4u);
  EXPECT_EQ((*odd)[1].position, 6u);
  EXPECT_EQ(Parse((*odd)[1]).envelope().stream_version(), 3u);
  // A stream id that is a prefix of another is its own stream.
  auto none = store_->ReadStream("od", 0, 100);
  ASSERT_THAT(none, IsOk());
  EXPECT_TRUE(none->empty());
  EXPECT_THAT(store_->ReadStream("", 0, 1), StatusIs(absl::StatusCode::kInvalidArgument));

  std::vector<uint64_t> seen;
  ASSERT_THAT(store_->Scan(3,
                           [&](uint64_t p, std::string_view) {
                             seen.push_back(p);
                             return p < 6;
                           }),
              IsOk());
  EXPECT_THAT(seen, ElementsAre(3, 4, 5, 6));

  auto limited = store_->Read(1, 100, 1);  // byte limit: still one record
  ASSERT_THAT(limited, IsOk());
  EXPECT_EQ(limited->size(), 1u);
}

TEST_F(EventStoreTest, CheckpointIsWrittenWithTheEvents) {
  EXPECT_THAT(store_->GetCheckpoint("consent<-case"), IsOkAndHolds(0u));
  WriteRequest request;
  request.appends.push_back(
      {"consent-1", ExpectedVersion::NoStream(), {TestEvent("h1")}});
  request.appends.push_back(
      {"consent-2", ExpectedVersion::NoStream(), {TestEvent("h2")}});
  request.checkpoints.push_back({"consent<-case", 17});
  auto result = store_->Write(request);
  ASSERT_THAT(result, IsOk());
  ASSERT_EQ(result->appends.size(), 2u);
  EXPECT_EQ(result->appends[1].first_position, 2u);
  EXPECT_THAT(store_->GetCheckpoint("consent<-case"), IsOkAndHolds(17u));

  // A conflict in one append refuses the checkpoint and the other append too.
  WriteRequest conflicting;
  conflicting.appends.push_back(
      {"consent-3", ExpectedVersion::NoStream(), {TestEvent("h3")}});
  conflicting.appends.push_back(
      {"consent-1", ExpectedVersion::NoStream(), {TestEvent("h4")}});
  conflicting.checkpoints.push_back({"consent<-case", 18});
  EXPECT_THAT(store_->Write(conflicting), StatusIs(absl::StatusCode::kAborted));
  EXPECT_THAT(store_->GetCheckpoint("consent<-case"), IsOkAndHolds(17u));
  EXPECT_EQ(store_->GetHead().position, 2u);

  // An upstream event that produced nothing still moves the checkpoint.
  WriteRequest only_checkpoint;
  only_checkpoint.checkpoints.push_back({"consent<-case", 19});
  ASSERT_THAT(store_->Write(only_checkpoint), IsOk());
  Reopen();
  EXPECT_THAT(store_->GetCheckpoint("consent<-case"), IsOkAndHolds(19u));
  EXPECT_EQ(store_->GetHead().position, 2u);
}

TEST_F(EventStoreTest, SnapshotsKeepTheNewestTwo) {
  auto none = store_->LoadSnapshot("state");
  ASSERT_THAT(none, IsOk());
  EXPECT_FALSE(none->has_value());
  ASSERT_THAT(store_->SaveSnapshot("state", 10, "ten"), IsOk());
  ASSERT_THAT(store_->SaveSnapshot("state", 20, "twenty"), IsOk());
  ASSERT_THAT(store_->SaveSnapshot("state", 30, "thirty"), IsOk());
  ASSERT_THAT(store_->SaveSnapshot("statex", 99, "other name"), IsOk());
  auto snap = store_->LoadSnapshot("state");
  ASSERT_THAT(snap, IsOk());
  ASSERT_TRUE(snap->has_value());
  EXPECT_EQ((*snap)->position, 30u);
  EXPECT_EQ((*snap)->state, "thirty");
  store_.reset();
  // Inspect the column family directly: the oldest snapshot was deleted.
  std::vector<rocksdb::ColumnFamilyDescriptor> cfs;
  std::vector<std::string> names;
  ASSERT_TRUE(rocksdb::DB::ListColumnFamilies({}, dir_.Sub("log"), &names).ok());
  for (const auto& n : names) cfs.emplace_back(n, rocksdb::ColumnFamilyOptions());
  std::vector<rocksdb::ColumnFamilyHandle*> handles;
  rocksdb::DB* db = nullptr;
  ASSERT_TRUE(rocksdb::DB::OpenForReadOnly({}, dir_.Sub("log"), cfs, &handles, &db).ok());
  int count = 0;
  for (size_t i = 0; i < names.size(); ++i) {
    if (names[i] != "snapshots") continue;
    std::unique_ptr<rocksdb::Iterator> it(db->NewIterator({}, handles[i]));
    for (it->Seek("state");
         it->Valid() && it->key().starts_with(std::string("state\0", 6)); it->Next()) {
      ++count;
    }
  }
  EXPECT_EQ(count, 2);
  for (auto* h : handles) db->DestroyColumnFamilyHandle(h);
  delete db;
}

TEST_F(EventStoreTest, WaitForHeadAboveWakesOnAppendAndTimesOut) {
  EXPECT_EQ(store_->WaitForHeadAbove(0, absl::Now() + absl::Milliseconds(20)), 0u);
  std::atomic<uint64_t> woke_with{0};
  std::thread waiter(
      [&] { woke_with = store_->WaitForHeadAbove(0, absl::Now() + absl::Seconds(30)); });
  ASSERT_THAT(store_->Append("s", ExpectedVersion::Any(), {TestEvent("a")}), IsOk());
  waiter.join();
  EXPECT_EQ(woke_with.load(), 1u);
}

TEST_F(EventStoreTest, HeadListenersHearEveryDurableBatch) {
  std::atomic<uint64_t> last{0};
  int id = store_->AddHeadListener([&](uint64_t head) { last = head; });
  ASSERT_THAT(
      store_->Append("s", ExpectedVersion::Any(), {TestEvent("a"), TestEvent("b")}),
      IsOk());
  EXPECT_EQ(last.load(), 2u);
  store_->RemoveHeadListener(id);
  ASSERT_THAT(store_->Append("s", ExpectedVersion::Any(), {TestEvent("c")}), IsOk());
  EXPECT_EQ(last.load(), 2u);
}

TEST_F(EventStoreTest, ConcurrentAppendersToOneStream) {
  constexpr int kThreads = 16;
  constexpr int kPerThread = 40;
  std::vector<std::thread> threads;
  std::vector<std::vector<AppendResult>> acked(kThreads);
  for (int t = 0; t < kThreads; ++t) {
    threads.emplace_back([&, t] {
      for (int i = 0; i < kPerThread; ++i) {
        auto r = store_->Append("hot", ExpectedVersion::Any(),
                                {TestEvent(absl::StrCat("t", t, "-", i))});
        ASSERT_THAT(r, IsOk());
        acked[t].push_back(*r);
      }
    });
  }
  for (auto& th : threads) th.join();
  constexpr uint64_t kTotal = kThreads * kPerThread;
  EXPECT_EQ(store_->GetHead().position, kTotal);
  std::set<uint64_t> positions, versions;
  for (const auto& list : acked) {
    uint64_t last = 0;
    for (const AppendResult& r : list) {
      EXPECT_GT(r.first_position, last);  // one thread's appends stay in order
      last = r.first_position;
      positions.insert(r.first_position);
      versions.insert(r.stream_version);
    }
  }
  EXPECT_EQ(positions.size(), kTotal);
  EXPECT_EQ(*positions.rbegin(), kTotal);
  EXPECT_EQ(versions.size(), kTotal);
  auto stream = store_->ReadStream("hot", 1, kTotal + 1);
  ASSERT_THAT(stream, IsOk());
  ASSERT_EQ(stream->size(), kTotal);
  for (uint64_t v = 1; v <= kTotal; ++v) {
    v1::StoredRecord r = Parse((*stream)[v - 1]);
    EXPECT_EQ(r.envelope().stream_version(), v);
    EXPECT_EQ(r.envelope().position(), (*stream)[v - 1].position);
  }
  VerifyReport report = store_->Verify();
  EXPECT_TRUE(report.ok) << report.problem;
  EXPECT_EQ(report.events_checked, kTotal);
}

TEST_F(EventStoreTest, ConcurrentAppendersToManyStreamsWithExactVersions) {
  constexpr int kThreads = 12;
  constexpr int kPerThread = 30;
  std::vector<std::thread> threads;
  for (int t = 0; t < kThreads; ++t) {
    threads.emplace_back([&, t] {
      const std::string stream = absl::StrCat("stream-", t);
      for (int i = 0; i < kPerThread; ++i) {
        auto r = store_->Append(stream, ExpectedVersion::Exact(i),
                                {TestEvent(absl::StrCat(stream, "-", i))});
        ASSERT_THAT(r, IsOk());
        EXPECT_EQ(r->stream_version, static_cast<uint64_t>(i + 1));
      }
    });
  }
  for (auto& th : threads) th.join();
  EXPECT_EQ(store_->GetHead().position, static_cast<uint64_t>(kThreads * kPerThread));
  for (int t = 0; t < kThreads; ++t) {
    auto stream = store_->ReadStream(absl::StrCat("stream-", t), 1, 1000);
    ASSERT_THAT(stream, IsOk());
    ASSERT_EQ(stream->size(), static_cast<size_t>(kPerThread));
    for (int i = 0; i < kPerThread; ++i) {
      EXPECT_EQ(Parse((*stream)[i]).envelope().event_id(),
                absl::StrCat("stream-", t, "-", i));
    }
  }
  EXPECT_TRUE(store_->Verify().ok);
}

TEST_F(EventStoreTest, OptimisticWritersOnOneStreamNeverLoseAnUpdate) {
  constexpr int kThreads = 8;
  constexpr int kWins = 15;
  std::atomic<int> conflicts{0};
  std::vector<std::thread> threads;
  for (int t = 0; t < kThreads; ++t) {
    threads.emplace_back([&, t] {
      for (int won = 0; won < kWins;) {
        auto events = store_->ReadStream("counter", 1, 10000);
        ASSERT_THAT(events, IsOk());
        auto r = store_->Append("counter", ExpectedVersion::Exact(events->size()),
                                {TestEvent(absl::StrCat("w", t, "-", won))});
        if (r.ok()) {
          ++won;
        } else {
          ASSERT_THAT(r, StatusIs(absl::StatusCode::kAborted));
          ++conflicts;
        }
      }
    });
  }
  for (auto& th : threads) th.join();
  auto all = store_->ReadStream("counter", 1, 10000);
  ASSERT_THAT(all, IsOk());
  EXPECT_EQ(all->size(), static_cast<size_t>(kThreads * kWins));
  EXPECT_EQ(store_->GetHead().position, static_cast<uint64_t>(kThreads * kWins));
}

// Rewrites one stored record with RocksDB directly, as an attacker with disk
// access would.
void TamperWithRecord(const std::string& path, uint64_t position,
                      const std::function<void(std::string&)>& change) {
  std::vector<std::string> names;
  ASSERT_TRUE(rocksdb::DB::ListColumnFamilies({}, path, &names).ok());
  std::vector<rocksdb::ColumnFamilyDescriptor> cfs;
  for (const auto& n : names) cfs.emplace_back(n, rocksdb::ColumnFamilyOptions());
  std::vector<rocksdb::ColumnFamilyHandle*> handles;
  rocksdb::DB* db = nullptr;
  ASSERT_TRUE(rocksdb::DB::Open({}, path, cfs, &handles, &db).ok());
  rocksdb::ColumnFamilyHandle* events = nullptr;
  for (size_t i = 0; i < names.size(); ++i) {
    if (names[i] == kEventsColumnFamily) events = handles[i];
  }
  ASSERT_NE(events, nullptr);
  std::string value;
  ASSERT_TRUE(db->Get({}, events, PositionKey(position), &value).ok());
  change(value);
  rocksdb::WriteOptions wo;
  wo.sync = true;
  ASSERT_TRUE(db->Put(wo, events, PositionKey(position), value).ok());
  for (auto* h : handles) db->DestroyColumnFamilyHandle(h);
  delete db;
}

class VerifyTamperTest : public EventStoreTest {
 protected:
  void Fill(int n) {
    for (int i = 0; i < n; ++i) {
      ASSERT_THAT(
          store_->Append(absl::StrCat("s", i % 4), ExpectedVersion::Any(),
                         {TestEvent(absl::StrCat("e", i), absl::StrCat("payload-", i))}),
          IsOk());
    }
    VerifyReport clean = store_->Verify();
    ASSERT_TRUE(clean.ok) << clean.problem;
    EXPECT_EQ(clean.events_checked, static_cast<uint64_t>(n));
    EXPECT_EQ(clean.head.hash, store_->GetHead().hash);
    store_.reset();
  }
};

TEST_F(VerifyTamperTest, FlippedPayloadByteNamesThatPosition) {
  Fill(30);
  // The payload is the record's tail region; flip a byte inside "payload-12".
  TamperWithRecord(dir_.Sub("log"), 13, [](std::string& v) {
    size_t at = v.find("payload-12");
    ASSERT_NE(at, std::string::npos);
    v[at + 3] ^= 0x01;
  });
  Reopen();
  VerifyReport report = store_->Verify();
  EXPECT_FALSE(report.ok);
  EXPECT_EQ(report.first_bad_position, 13u) << report.problem;
}

TEST_F(VerifyTamperTest, FlippedByteInEveryPositionOfARecordIsFound) {
  Fill(6);
  // Every byte of record 3, one at a time: whatever the byte, Verify names 3.
  std::string original;
  {
    auto store = EventStore::Open({.path = dir_.Sub("log")});
    ASSERT_THAT(store, IsOk());
    original = (*store)->Read(3, 1)->front().bytes;
  }
  for (size_t i = 0; i < original.size(); ++i) {
    TamperWithRecord(dir_.Sub("log"), 3, [&](std::string& v) {
      v = original;
      v[i] ^= 0x20;
    });
    auto store = EventStore::Open({.path = dir_.Sub("log"), .read_only = true});
    ASSERT_THAT(store, IsOk());
    VerifyReport report = (*store)->Verify();
    EXPECT_FALSE(report.ok) << "byte " << i;
    EXPECT_EQ(report.first_bad_position, 3u) << "byte " << i << ": " << report.problem;
  }
}

TEST_F(VerifyTamperTest, TamperedLastRecordIsFoundThroughTheStoredHead) {
  Fill(10);
  TamperWithRecord(dir_.Sub("log"), 10, [](std::string& v) {
    size_t at = v.find("payload-9");
    ASSERT_NE(at, std::string::npos);
    v[at] = 'P';
  });
  Reopen();
  VerifyReport report = store_->Verify();
  EXPECT_FALSE(report.ok);
  EXPECT_EQ(report.first_bad_position, 10u) << report.problem;
}

TEST_F(EventStoreTest, ReadOnlyOpenReadsButRefusesWrites) {
  ASSERT_THAT(store_->Append("s", ExpectedVersion::Any(), {TestEvent("a")}), IsOk());
  auto reader = EventStore::Open({.path = dir_.Sub("log"), .read_only = true});
  ASSERT_THAT(reader, IsOk());
  EXPECT_EQ((*reader)->GetHead().position, 1u);
  EXPECT_EQ((*reader)->GetHead().hash, store_->GetHead().hash);
  EXPECT_TRUE((*reader)->Verify().ok);
  EXPECT_THAT((*reader)->Append("s", ExpectedVersion::Any(), {TestEvent("b")}),
              StatusIs(absl::StatusCode::kFailedPrecondition));
}

TEST_F(EventStoreTest, SecondWriterOnTheSameDirectoryIsRefused) {
  auto second = EventStore::Open({.path = dir_.Sub("log")});
  EXPECT_THAT(second, StatusIs(absl::StatusCode::kUnavailable));
}

}  // namespace
}  // namespace mend::eventlog
