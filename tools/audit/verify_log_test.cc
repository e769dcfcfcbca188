// VerifyLog checks a long log in chunks on every core: every finding,
// the count of good records, and the roots at every size must be those of
// one pass over the whole (LogVerifier alone), wherever the change is --
// most of all on either side of where two chunks meet. A real log (the
// store, RocksDB), changed on copies the way the audit's tamper tests do.
#include "tools/audit/verify_log.h"

#include <gmock/gmock.h>
#include <gtest/gtest.h>

#include <filesystem>
#include <functional>
#include <memory>
#include <string>
#include <vector>

#include "absl/strings/str_cat.h"
#include "common/base/sha256.h"
#include "mend/eventlog/v1/record.pb.h"
#include "mend/eventlog/v1/tree.pb.h"
#include "tests/support/raw_db.h"
#include "tests/support/test_util.h"

namespace mend::audit {
namespace {

namespace fs = std::filesystem;
using ::mend::testing::IsOk;
using ::mend::testing::RawDb;
using ::mend::testing::TempDir;

// Checked in chunks of 2^14 (two: the second shorter) and of 2^10 (nineteen
// joins); the changes are made on either side of kSplit, where the first
// two chunks meet.
constexpr uint64_t kSplit = uint64_t{1} << 14;
constexpr uint64_t kSmallChunk = uint64_t{1} << 10;
constexpr uint64_t kRecords = kSplit + 3000;
constexpr int kStreams = 50;  // each with records in both parts

std::string Be64(uint64_t v) {
  std::string out(8, '\0');
  for (int i = 7; i >= 0; --i, v >>= 8) out[i] = static_cast<char>(v & 0xff);
  return out;
}

class VerifyLogTest : public ::testing::Test {
 protected:
  static void SetUpTestSuite() {
    dir_ = new TempDir();
    auto store = eventlog::EventStore::Open({.path = dir_->Sub("log")});
    ASSERT_THAT(store, IsOk());
    uint64_t n = 0;
    while (n < kRecords) {
      eventlog::WriteRequest request;
      for (int s = 0; s < kStreams && n < kRecords; ++s) {
        eventlog::StreamAppend append{.stream_id = absl::StrCat("case-", s),
                                      .expected = eventlog::ExpectedVersion::Any(),
                                      .events = {}};
        for (int e = 0; e < 4 && n < kRecords; ++e, ++n) {
          eventlog::v1::TreeHead payload;  // any message mend's schemas hold
          payload.set_tree_size(n);
          payload.set_service(absl::StrCat("s", n));
          append.events.push_back({.event_id = absl::StrCat("e-", n),
                                   .event_type = "mend.eventlog.v1.TreeHead",
                                   .payload = payload.SerializeAsString(),
                                   .actor_id = "test",
                                   .actor_role = "service",
                                   .correlation_id = "",
                                   .causation_id = ""});
        }
        request.appends.push_back(std::move(append));
      }
      ASSERT_THAT((*store)->Write(std::move(request)), IsOk());
    }
  }
  static void TearDownTestSuite() {
    delete dir_;
    dir_ = nullptr;
  }

  // A copy of the log to change.
  std::string Copy(const std::string& name) {
    const std::string copy = dir_->Sub(name);
    fs::copy(dir_->Sub("log"), copy, fs::copy_options::recursive);
    return copy;
  }

  // Both ways of checking `path`: one pass, and VerifyLog in chunks (of
  // 2^14, and of 2^10), each the same as the one pass.
  struct Both {
    std::optional<Finding> one_pass;
    uint64_t one_pass_records = 0;
    VerifiedLog split;
  };
  Both Check(const std::string& path) {
    Both both;
    auto log = OpenAuditLog(path, ConnectOptions{});
    EXPECT_THAT(log, IsOk());
    if (!log.ok()) return both;
    auto head = (*log)->GetHead();
    EXPECT_THAT(head, IsOk());
    LogVerifier::Options options{.root_sizes = RootSizes()};
    LogVerifier one("case", options);
    EXPECT_THAT(
        (*log)->Scan(1, head->position,
                     [&](uint64_t p, std::string_view b) { return one.Add(p, b); }),
        IsOk());
    one.Finish(*head);
    both.one_pass = one.finding();
    both.one_pass_records = one.records();
    for (uint64_t chunk : {kSmallChunk, kSplit}) {
      SCOPED_TRACE(absl::StrCat("chunks of ", chunk));
      auto split = VerifyLog(**log, "case", *head, options, nullptr, nullptr, chunk);
      EXPECT_THAT(split, IsOk());
      if (!split.ok()) return both;
      EXPECT_EQ(split->records, one.records());
      EXPECT_EQ(split->roots, one.roots());
      EXPECT_EQ(split->finding.has_value(), one.finding().has_value());
      if (split->finding.has_value() && one.finding().has_value()) {
        EXPECT_EQ(split->finding->position, one.finding()->position);
        EXPECT_EQ(split->finding->problem, one.finding()->problem);
      } else {
        EXPECT_EQ(split->root, one.Root());
        EXPECT_EQ(split->last_hash, one.last_hash());
      }
      both.split = *std::move(split);  // (the 2^14 one is kept)
    }
    return both;
  }

  static std::vector<uint64_t> RootSizes() {
    return {1, 1000, kSplit - 1, kSplit, kSplit + 1, kSplit + 2, kRecords - 1, kRecords};
  }

  // The same finding, at `position`.
  static void ExpectSameFinding(const Both& both, uint64_t position) {
    ASSERT_TRUE(both.one_pass.has_value());
    ASSERT_TRUE(both.split.finding.has_value()) << "one pass: " << both.one_pass->problem;
    EXPECT_EQ(both.one_pass->position, position) << both.one_pass->problem;
    EXPECT_EQ(both.split.finding->position, both.one_pass->position);
    EXPECT_EQ(both.split.finding->problem, both.one_pass->problem);
  }

  static TempDir* dir_;
};

TempDir* VerifyLogTest::dir_ = nullptr;

TEST_F(VerifyLogTest, AnIntactLogHasTheSameRootsInChunksAsInOnePass) {
  const Both both = Check(dir_->Sub("log"));
  EXPECT_FALSE(both.one_pass.has_value());
  EXPECT_FALSE(both.split.finding.has_value());
  EXPECT_EQ(both.split.records, kRecords);
  EXPECT_EQ(both.split.roots.size(), RootSizes().size());
}

TEST_F(VerifyLogTest, AChangedRecordIsFoundWhereOnePassFindsIt) {
  for (uint64_t at : {kSplit - 1, kSplit, kSplit + 1, kSplit + 2, kRecords}) {
    SCOPED_TRACE(at);
    const std::string copy = Copy(absl::StrCat("changed-", at));
    {
      RawDb raw(copy);
      std::string bytes = raw.Record(at);
      bytes[bytes.size() / 2] ^= 0x01;
      raw.PutRecord(at, bytes);
    }
    const Both both = Check(copy);
    // A changed record breaks its successor's link (or, the last, the head).
    ExpectSameFinding(both, at);
  }
}

TEST_F(VerifyLogTest, ARemovedRecordIsFoundWhereOnePassFindsIt) {
  for (uint64_t at : {kSplit - 1, kSplit, kSplit + 1, kSplit + 2}) {
    SCOPED_TRACE(at);
    const std::string copy = Copy(absl::StrCat("removed-", at));
    RawDb(copy).DeleteRecord(at);
    ExpectSameFinding(Check(copy), at);
  }
  {
    // Two where the parts meet: the first part ends short, the second
    // starts late.
    const std::string copy = Copy("removed-both");
    {
      RawDb raw(copy);
      raw.DeleteRecord(kSplit);
      raw.DeleteRecord(kSplit + 1);
    }
    const Both both = Check(copy);
    ExpectSameFinding(both, kSplit);
    EXPECT_THAT(both.split.finding->problem,
                ::testing::HasSubstr(absl::StrCat("the next record is at ", kSplit + 2)));
  }
}

// The last record removed: the records alone end well (nothing follows it
// to miss it), in one pass and in two; the stored head, which the store's
// check compares, names it.
TEST_F(VerifyLogTest, ARemovedLastRecordIsLeftToTheStoredHead) {
  const std::string copy = Copy("removed-last");
  RawDb(copy).DeleteRecord(kRecords);
  const Both both = Check(copy);
  EXPECT_FALSE(both.one_pass.has_value());
  EXPECT_FALSE(both.split.finding.has_value());
  EXPECT_EQ(both.split.records, kRecords - 1);
}

TEST_F(VerifyLogTest, APairSwappedWhereThePartsMeetIsFoundAtTheFirst) {
  const std::string copy = Copy("swapped");
  {
    RawDb raw(copy);
    const std::string a = raw.Record(kSplit);
    const std::string b = raw.Record(kSplit + 1);
    raw.PutRecord(kSplit, b);
    raw.PutRecord(kSplit + 1, a);
  }
  ExpectSameFinding(Check(copy), kSplit);
}

// A record's stream version changed and every later record chained onto it
// again (and the head): only the versions show it -- where the parts meet
// (the stream's first record in the second part) and inside the second.
TEST_F(VerifyLogTest, AStreamVersionOutOfOrderIsFoundInEitherPart) {
  for (uint64_t at : {kSplit + 1, kSplit + 4 * kStreams + 1}) {
    SCOPED_TRACE(at);
    const std::string copy = Copy(absl::StrCat("version-", at));
    {
      RawDb raw(copy);
      std::string prev_hash = Sha256Bytes(raw.Record(at - 1));
      for (uint64_t p = at; p <= kRecords; ++p) {
        eventlog::v1::StoredRecord record;
        ASSERT_TRUE(record.ParseFromString(raw.Record(p)));
        if (p == at) {
          record.mutable_envelope()->set_stream_version(
              record.envelope().stream_version() + 1);
        }
        record.set_prev_hash(prev_hash);
        const std::string bytes = record.SerializeAsString();
        prev_hash = Sha256Bytes(bytes);
        raw.PutRecord(p, bytes);
      }
      raw.Put(eventlog::kMetaColumnFamily, eventlog::kHeadKey,
              Be64(kRecords) + prev_hash);
    }
    const Both both = Check(copy);
    ExpectSameFinding(both, at);
    EXPECT_THAT(both.split.finding->problem, ::testing::HasSubstr("is at version"));
  }
}

// The store's structural check on the facts of the chunked pass finds what
// the store's own Verify() finds, at the same position.
TEST_F(VerifyLogTest, TheFactsOfTheChunkedPassServeTheStoresCheck) {
  const std::string copy = Copy("index");
  const uint64_t at = kSplit + 7;
  std::string stream_key;
  {
    RawDb raw(copy);
    eventlog::v1::StoredRecord record;
    ASSERT_TRUE(record.ParseFromString(raw.Record(at)));
    stream_key = absl::StrCat(record.envelope().stream_id(), std::string(1, '\0'),
                              Be64(record.envelope().stream_version()));
    raw.Put("streams", stream_key, Be64(at + 1));  // points at another event
  }
  auto log = OpenAuditLog(copy, ConnectOptions{});
  ASSERT_THAT(log, IsOk());
  auto head = (*log)->GetHead();
  ASSERT_THAT(head, IsOk());
  eventlog::RecordFacts facts(head->position);
  auto verified = VerifyLog(**log, "case", *head, {}, nullptr, &facts, kSmallChunk);
  ASSERT_THAT(verified, IsOk());
  EXPECT_FALSE(verified->finding.has_value()) << "the records themselves are good";
  EXPECT_EQ(facts.good, kRecords);
  EXPECT_TRUE(facts.complete);
  std::optional<eventlog::VerifyReport> from_facts = (*log)->CheckStructures(facts);
  ASSERT_TRUE(from_facts.has_value());
  EXPECT_FALSE(from_facts->ok);

  auto store = eventlog::EventStore::Open(
      {.path = copy, .create_if_missing = false, .read_only = true});
  ASSERT_THAT(store, IsOk());
  const eventlog::VerifyReport own = (*store)->Verify();
  EXPECT_FALSE(own.ok);
  EXPECT_EQ(from_facts->first_bad_position, own.first_bad_position);
  EXPECT_EQ(from_facts->problem, own.problem);
  // The record whose entry was moved has none; the one it points at, two.
  EXPECT_EQ(own.first_bad_position, at) << own.problem;
}

}  // namespace
}  // namespace mend::audit
