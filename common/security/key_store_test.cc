#include "common/security/key_store.h"

#include <sys/stat.h>

#include <atomic>
#include <filesystem>
#include <fstream>
#include <memory>
#include <string>
#include <thread>
#include <vector>

#include "absl/strings/ascii.h"
#include "absl/strings/str_cat.h"
#include "absl/synchronization/barrier.h"
#include "common/eventlog/event_store.h"
#include "common/security/crypto.h"
#include "gmock/gmock.h"
#include "gtest/gtest.h"
#include "mend/eventlog/v1/record.pb.h"
#include "rocksdb/db.h"
#include "tests/support/test_util.h"

namespace mend::crypto {
namespace {

using ::mend::eventlog::EventStore;
using ::mend::eventlog::ExpectedVersion;
using ::mend::eventlog::NewEvent;
using ::mend::eventlog::RawRecord;
using ::mend::testing::IsOk;
using ::mend::testing::IsOkAndHolds;
using ::mend::testing::StatusIs;
using ::mend::testing::TempDir;
using ::testing::HasSubstr;
using ::testing::Not;

void WriteFile(const std::string& path, const std::string& content, mode_t mode) {
  std::filesystem::remove(path);
  {
    std::ofstream out(path, std::ios::binary);
    out << content;
  }
  ASSERT_EQ(::chmod(path.c_str(), mode), 0);
}

std::string ReadFile(const std::string& path) {
  std::ifstream in(path, std::ios::binary);
  return std::string(std::istreambuf_iterator<char>(in), {});
}

class KeyStoreTest : public ::testing::Test {
 protected:
  void SetUp() override {
    ASSERT_THAT(KeyStore::WriteNewMasterKey(master_path_), IsOk());
    OpenAll();
  }

  void OpenAll(size_t cache_capacity = KeyStore::kDefaultCacheCapacity) {
    keys_.reset();
    store_.reset();
    auto store = EventStore::Open({.path = log_path_});
    ASSERT_THAT(store, IsOk());
    store_ = *std::move(store);
    auto keys = KeyStore::Open(store_.get(), master_path_, cache_capacity);
    ASSERT_THAT(keys, IsOk());
    keys_ = *std::move(keys);
  }

  void CloseAll() {
    keys_.reset();
    store_.reset();
  }

  std::string MustSeal(std::string_view person, std::string_view plaintext,
                       std::string_view context) {
    absl::StatusOr<std::string> sealed = keys_->Seal(person, plaintext, context);
    EXPECT_THAT(sealed, IsOk());
    return sealed.ok() ? *sealed : std::string();
  }

  TempDir dir_;
  const std::string master_path_ = dir_.Sub("master.key");
  const std::string log_path_ = dir_.Sub("log");
  std::unique_ptr<EventStore> store_;
  std::unique_ptr<KeyStore> keys_;
};

TEST_F(KeyStoreTest, SealUnsealRoundTrip) {
  const std::string binary("\0\x01\xff phone", 9);
  for (const std::string& plaintext :
       {std::string(), std::string("+44 7700 900123"), binary, std::string(50000, 'x')}) {
    std::string sealed = MustSeal("victim-1", plaintext, "contact.phone");
    EXPECT_EQ(sealed.size(), plaintext.size() + 29);
    EXPECT_EQ(sealed[0], '\x01');  // format version
    if (plaintext.size() > 4) {
      EXPECT_THAT(sealed, Not(HasSubstr(plaintext)));
    }
    EXPECT_THAT(keys_->Unseal("victim-1", sealed, "contact.phone"),
                IsOkAndHolds(plaintext));
  }
}

TEST_F(KeyStoreTest, FirstSealMakesTheKey) {
  EXPECT_THAT(keys_->HasKey("victim-1"), IsOkAndHolds(false));
  EXPECT_THAT(store_->GetKey("person/victim-1"), IsOkAndHolds(std::nullopt));
  MustSeal("victim-1", "x", "f");
  EXPECT_THAT(keys_->HasKey("victim-1"), IsOkAndHolds(true));
  absl::StatusOr<std::optional<std::string>> wrapped = store_->GetKey("person/victim-1");
  ASSERT_THAT(wrapped, IsOk());
  ASSERT_TRUE(wrapped->has_value());
  EXPECT_EQ((*wrapped)->size(), 1u + 12 + 32 + 16);  // version, nonce, key, tag
  EXPECT_THAT(keys_->HasKey("victim-2"), IsOkAndHolds(false));
}

TEST_F(KeyStoreTest, KeysSurviveReopen) {
  std::string sealed = MustSeal("victim-1", "address", "contact.address");
  OpenAll();
  EXPECT_THAT(keys_->Unseal("victim-1", sealed, "contact.address"),
              IsOkAndHolds(std::string("address")));
}

TEST_F(KeyStoreTest, WrongContextIsDataLoss) {
  std::string sealed = MustSeal("victim-1", "secret", "contact.phone");
  EXPECT_THAT(keys_->Unseal("victim-1", sealed, "contact.email"),
              StatusIs(absl::StatusCode::kDataLoss));
  EXPECT_THAT(keys_->Unseal("victim-1", sealed, ""),
              StatusIs(absl::StatusCode::kDataLoss));
}

TEST_F(KeyStoreTest, WrongPersonIsDataLoss) {
  std::string sealed = MustSeal("victim-1", "secret", "contact.phone");
  MustSeal("victim-2", "other", "contact.phone");
  absl::StatusOr<std::string> moved = keys_->Unseal("victim-2", sealed, "contact.phone");
  EXPECT_THAT(moved, StatusIs(absl::StatusCode::kDataLoss));
  EXPECT_THAT(moved.status().message(), HasSubstr("victim-2"));
}

// The person id and the context are length-delimited in the associated data,
// so moving bytes between them does not authenticate.
TEST_F(KeyStoreTest, ContextBoundaryIsAuthenticated) {
  std::string sealed = MustSeal("ab", "secret", "c");
  MustSeal("a", "other", "bc");
  EXPECT_THAT(keys_->Unseal("ab", sealed, "c"), IsOkAndHolds(std::string("secret")));
  EXPECT_THAT(keys_->Unseal("a", sealed, "bc"), StatusIs(absl::StatusCode::kDataLoss));
}

TEST_F(KeyStoreTest, EveryFlippedByteIsDataLoss) {
  std::string sealed = MustSeal("victim-1", "secret", "f");
  for (size_t i = 0; i < sealed.size(); ++i) {
    std::string changed = sealed;
    changed[i] = static_cast<char>(changed[i] ^ 0x01);
    EXPECT_THAT(keys_->Unseal("victim-1", changed, "f"),
                StatusIs(absl::StatusCode::kDataLoss))
        << "byte " << i;
  }
}

TEST_F(KeyStoreTest, TruncatedOrEmptyIsDataLoss) {
  std::string sealed = MustSeal("victim-1", "secret", "f");
  for (size_t len = 0; len < sealed.size(); ++len) {
    EXPECT_THAT(keys_->Unseal("victim-1", sealed.substr(0, len), "f"),
                StatusIs(absl::StatusCode::kDataLoss))
        << "length " << len;
  }
}

TEST_F(KeyStoreTest, MalformedPersonIdsAreInvalidArgument) {
  const std::string too_long(KeyStore::kMaxPersonIdBytes + 1, 'p');
  for (const std::string& id :
       {std::string(), std::string("has space"), std::string("tab\there"),
        std::string("caf\xc3\xa9"), std::string("nul\0id", 6), too_long}) {
    EXPECT_THAT(keys_->Seal(id, "x", "f"), StatusIs(absl::StatusCode::kInvalidArgument));
    EXPECT_THAT(keys_->Unseal(id, std::string(40, 's'), "f"),
                StatusIs(absl::StatusCode::kInvalidArgument));
    EXPECT_THAT(keys_->Erase(id), StatusIs(absl::StatusCode::kInvalidArgument));
    EXPECT_THAT(keys_->HasKey(id), StatusIs(absl::StatusCode::kInvalidArgument));
  }
  const std::string longest(KeyStore::kMaxPersonIdBytes, 'p');
  std::string sealed = MustSeal(longest, "x", "f");
  EXPECT_THAT(keys_->Unseal(longest, sealed, "f"), IsOkAndHolds(std::string("x")));
  EXPECT_THAT(keys_->Erase(longest), IsOk());
}

TEST_F(KeyStoreTest, UnsealForPersonWithoutKeyIsNotFound) {
  absl::StatusOr<std::string> r = keys_->Unseal("nobody", std::string(40, 's'), "f");
  EXPECT_THAT(r, StatusIs(absl::StatusCode::kNotFound));
  EXPECT_THAT(r.status().message(), HasSubstr("no data key"));
}

TEST_F(KeyStoreTest, EraseMakesSealedFieldsUnreadable) {
  std::string phone = MustSeal("victim-1", "+44 7700 900123", "contact.phone");
  std::string kept = MustSeal("victim-2", "kept", "contact.phone");
  ASSERT_THAT(keys_->Erase("victim-1"), IsOk());

  absl::StatusOr<std::string> r = keys_->Unseal("victim-1", phone, "contact.phone");
  EXPECT_THAT(r, StatusIs(absl::StatusCode::kNotFound));
  EXPECT_THAT(r.status().message(), HasSubstr("erased"));
  EXPECT_THAT(keys_->HasKey("victim-1"), IsOkAndHolds(false));
  EXPECT_THAT(store_->GetKey("person/victim-1"), IsOkAndHolds(std::nullopt));
  // Others are untouched.
  EXPECT_THAT(keys_->Unseal("victim-2", kept, "contact.phone"),
              IsOkAndHolds(std::string("kept")));
  // Idempotent, and for a person who never had a key too.
  EXPECT_THAT(keys_->Erase("victim-1"), IsOk());
  EXPECT_THAT(keys_->Erase("never-sealed"), IsOk());
}

TEST_F(KeyStoreTest, SealAfterEraseIsRefused) {
  MustSeal("victim-1", "x", "f");
  ASSERT_THAT(keys_->Erase("victim-1"), IsOk());
  absl::StatusOr<std::string> r = keys_->Seal("victim-1", "new data", "f");
  EXPECT_THAT(r, StatusIs(absl::StatusCode::kFailedPrecondition));
  EXPECT_THAT(r.status().message(), HasSubstr("erased"));
  EXPECT_THAT(keys_->HasKey("victim-1"), IsOkAndHolds(false));
  ASSERT_THAT(keys_->Erase("never-sealed"), IsOk());
  EXPECT_THAT(keys_->Seal("never-sealed", "x", "f"),
              StatusIs(absl::StatusCode::kFailedPrecondition));
  OpenAll();
  EXPECT_THAT(keys_->Seal("victim-1", "new data", "f"),
              StatusIs(absl::StatusCode::kFailedPrecondition));
}

TEST_F(KeyStoreTest, ErasureSurvivesReopen) {
  std::string erased = MustSeal("victim-1", "secret", "f");
  std::string kept = MustSeal("victim-2", "kept", "f");
  ASSERT_THAT(keys_->Erase("victim-1"), IsOk());
  OpenAll();
  absl::StatusOr<std::string> r = keys_->Unseal("victim-1", erased, "f");
  EXPECT_THAT(r, StatusIs(absl::StatusCode::kNotFound));
  EXPECT_THAT(r.status().message(), HasSubstr("erased"));
  EXPECT_THAT(keys_->Unseal("victim-2", kept, "f"), IsOkAndHolds(std::string("kept")));
}

// I6: events carrying sealed personal data; erasing the person leaves every
// stored byte and the hash chain as they were, and the data unreadable.
TEST_F(KeyStoreTest, EraseKeepsTheLogVerifiable) {
  std::vector<std::string> sealed;
  for (int i = 0; i < 5; ++i) {
    sealed.push_back(MustSeal("victim-1", absl::StrCat("phone ", i), "contact.phone"));
    ASSERT_THAT(store_->Append("case-1", ExpectedVersion::Any(),
                               {NewEvent{.event_id = absl::StrCat("e", i),
                                         .event_type = "mend.test.v1.ContactRecorded",
                                         .payload = sealed.back(),
                                         .actor_id = "facilitator-1",
                                         .actor_role = "facilitator",
                                         .correlation_id = "corr",
                                         .causation_id = ""}}),
                IsOk());
  }
  absl::StatusOr<std::vector<RawRecord>> before = store_->Read(1, 100);
  ASSERT_THAT(before, IsOk());
  ASSERT_EQ(before->size(), 5u);
  const eventlog::Head head_before = store_->GetHead();
  ASSERT_TRUE(store_->Verify().ok);

  ASSERT_THAT(keys_->Erase("victim-1"), IsOk());

  for (bool reopened : {false, true}) {
    SCOPED_TRACE(reopened ? "after reopen" : "before reopen");
    if (reopened) OpenAll();
    eventlog::VerifyReport report = store_->Verify();
    EXPECT_TRUE(report.ok) << report.problem;
    EXPECT_EQ(report.events_checked, 5u);
    EXPECT_EQ(store_->GetHead().hash, head_before.hash);
    absl::StatusOr<std::vector<RawRecord>> after = store_->Read(1, 100);
    ASSERT_THAT(after, IsOk());
    ASSERT_EQ(after->size(), before->size());
    for (size_t i = 0; i < after->size(); ++i) {
      EXPECT_EQ((*after)[i].bytes, (*before)[i].bytes) << "position " << i + 1;
      eventlog::v1::StoredRecord record;
      ASSERT_TRUE(record.ParseFromString((*after)[i].bytes));
      EXPECT_EQ(record.payload(), sealed[i]);
      EXPECT_THAT(keys_->Unseal("victim-1", record.payload(), "contact.phone"),
                  StatusIs(absl::StatusCode::kNotFound));
    }
  }
}

// After Erase returns, while the service still runs, no file of the database
// (WAL, SST, anything) holds the wrapped key's bytes any more.
TEST_F(KeyStoreTest, EraseLeavesNoFileHoldingTheWrappedKey) {
  MustSeal("victim-1", "secret", "f");
  MustSeal("victim-2", "kept", "f");
  absl::StatusOr<std::optional<std::string>> wrapped = store_->GetKey("person/victim-1");
  ASSERT_THAT(wrapped, IsOk());
  ASSERT_TRUE(wrapped->has_value());
  const std::string wrapped_bytes = **wrapped;
  auto files_holding_key = [&] {
    std::vector<std::string> holding;
    for (const auto& entry : std::filesystem::directory_iterator(log_path_)) {
      if (!entry.is_regular_file()) continue;
      std::ifstream in(entry.path(), std::ios::binary);
      std::string bytes((std::istreambuf_iterator<char>(in)),
                        std::istreambuf_iterator<char>());
      if (bytes.find(wrapped_bytes) != std::string::npos) {
        holding.push_back(entry.path().filename().string());
      }
    }
    return holding;
  };
  // Events in the same write-ahead log keep it alive unless every column
  // family is flushed.
  ASSERT_THAT(store_->Append("case-1", eventlog::ExpectedVersion::Any(),
                             {eventlog::NewEvent{.event_id = "e1",
                                                 .event_type = "mend.test.v1.E",
                                                 .payload = "p",
                                                 .actor_id = "",
                                                 .actor_role = "",
                                                 .correlation_id = "",
                                                 .causation_id = ""}}),
              IsOk());
  ASSERT_FALSE(files_holding_key().empty());  // the check can see the key
  ASSERT_THAT(keys_->Erase("victim-1"), IsOk());
  EXPECT_THAT(files_holding_key(), ::testing::IsEmpty());
  EXPECT_THAT(keys_->Unseal("victim-2", MustSeal("victim-2", "still", "f"), "f"), IsOk());
}

// After Erase, the wrapped key is gone from the keys column family as RocksDB
// itself sees it, not just hidden behind the EventStore's API.
TEST_F(KeyStoreTest, EraseRemovesWrappedKeyFromRocksDb) {
  MustSeal("victim-1", "secret", "f");
  MustSeal("victim-2", "kept", "f");
  absl::StatusOr<std::optional<std::string>> wrapped = store_->GetKey("person/victim-1");
  ASSERT_THAT(wrapped, IsOk());
  ASSERT_TRUE(wrapped->has_value());
  const std::string wrapped_bytes = **wrapped;
  ASSERT_THAT(keys_->Erase("victim-1"), IsOk());
  CloseAll();

  std::vector<std::string> names;
  ASSERT_TRUE(rocksdb::DB::ListColumnFamilies({}, log_path_, &names).ok());
  std::vector<rocksdb::ColumnFamilyDescriptor> cfs;
  for (const auto& n : names) cfs.emplace_back(n, rocksdb::ColumnFamilyOptions());
  std::vector<rocksdb::ColumnFamilyHandle*> handles;
  rocksdb::DB* raw = nullptr;
  ASSERT_TRUE(rocksdb::DB::OpenForReadOnly({}, log_path_, cfs, &handles, &raw).ok());
  std::unique_ptr<rocksdb::DB> db(raw);
  bool found_keys_cf = false;
  std::vector<std::string> ids;
  for (size_t i = 0; i < names.size(); ++i) {
    if (names[i] != "keys") continue;
    found_keys_cf = true;
    std::unique_ptr<rocksdb::Iterator> it(db->NewIterator({}, handles[i]));
    for (it->SeekToFirst(); it->Valid(); it->Next()) {
      ids.push_back(it->key().ToString());
      EXPECT_THAT(it->value().ToString(), Not(HasSubstr(wrapped_bytes)))
          << "under " << it->key().ToString();
    }
    EXPECT_TRUE(it->status().ok());
  }
  EXPECT_TRUE(found_keys_cf);
  EXPECT_THAT(ids, ::testing::Contains("person/victim-2"));
  EXPECT_THAT(ids, Not(::testing::Contains("person/victim-1")));
  for (auto* h : handles) ASSERT_TRUE(db->DestroyColumnFamilyHandle(h).ok());
}

TEST_F(KeyStoreTest, WriteNewMasterKeyMakesA0600HexFileAndNeverOverwrites) {
  struct stat st;
  ASSERT_EQ(::stat(master_path_.c_str(), &st), 0);
  EXPECT_EQ(st.st_mode & 07777, 0600u);
  const std::string text = ReadFile(master_path_);
  ASSERT_EQ(text.size(), 65u);
  EXPECT_EQ(text.back(), '\n');
  EXPECT_THAT(HexDecode(text.substr(0, 64)), IsOk());

  absl::Status again = KeyStore::WriteNewMasterKey(master_path_);
  EXPECT_THAT(again, StatusIs(absl::StatusCode::kAlreadyExists));
  EXPECT_THAT(again.message(), HasSubstr(master_path_));
  EXPECT_EQ(ReadFile(master_path_), text);

  const std::string other = dir_.Sub("other.key");
  ASSERT_THAT(KeyStore::WriteNewMasterKey(other), IsOk());
  EXPECT_NE(ReadFile(other), text);
  EXPECT_THAT(KeyStore::WriteNewMasterKey(dir_.Sub("no-such-dir/x.key")),
              StatusIs(absl::StatusCode::kFailedPrecondition));
}

TEST_F(KeyStoreTest, MasterKeyFileIsChecked) {
  const std::string hex = ReadFile(master_path_).substr(0, 64);
  struct Case {
    std::string name;
    std::string content;
    mode_t mode;
    std::string message;  // empty: accepted
  };
  const std::vector<Case> cases = {
      {"trailing newline", hex + "\n", 0600, ""},
      {"no newline", hex, 0600, ""},
      {"upper case", absl::AsciiStrToUpper(hex), 0400, ""},
      {"empty", "", 0600, "exactly 64 hex"},
      {"short", hex.substr(0, 62), 0600, "exactly 64 hex"},
      {"long", hex + "00", 0600, "exactly 64 hex"},
      {"two newlines", hex + "\n\n", 0600, "exactly 64 hex"},
      {"huge", std::string(5000, 'a'), 0600, "exactly 64 hex"},
      {"not hex", "zz" + hex.substr(2), 0600, "not hex"},
      {"readable by others", hex + "\n", 0644, "mode 0644"},
      {"readable by group", hex + "\n", 0640, "mode 0640"},
      {"writable by other", hex + "\n", 0602, "mode 0602"},
  };
  const std::string path = dir_.Sub("case.key");
  for (const Case& c : cases) {
    SCOPED_TRACE(c.name);
    WriteFile(path, c.content, c.mode);
    absl::StatusOr<std::unique_ptr<KeyStore>> keys = KeyStore::Open(store_.get(), path);
    if (c.message.empty()) {
      EXPECT_THAT(keys, IsOk());
      continue;
    }
    EXPECT_THAT(keys, StatusIs(absl::StatusCode::kFailedPrecondition));
    EXPECT_THAT(keys.status().message(), HasSubstr(path));
    EXPECT_THAT(keys.status().message(), HasSubstr(c.message));
    EXPECT_THAT(keys.status().message(), Not(HasSubstr(hex.substr(2))));
  }

  absl::StatusOr<std::unique_ptr<KeyStore>> missing =
      KeyStore::Open(store_.get(), dir_.Sub("missing.key"));
  EXPECT_THAT(missing, StatusIs(absl::StatusCode::kFailedPrecondition));
  EXPECT_THAT(missing.status().message(), HasSubstr(dir_.Sub("missing.key")));
  EXPECT_THAT(missing.status().message(), HasSubstr("does not exist"));

  absl::StatusOr<std::unique_ptr<KeyStore>> directory =
      KeyStore::Open(store_.get(), dir_.path());
  EXPECT_THAT(directory, StatusIs(absl::StatusCode::kFailedPrecondition));
  EXPECT_THAT(directory.status().message(), HasSubstr("not a regular file"));
}

TEST_F(KeyStoreTest, OpenArgumentsAreChecked) {
  EXPECT_THAT(KeyStore::Open(nullptr, master_path_),
              StatusIs(absl::StatusCode::kInvalidArgument));
  EXPECT_THAT(KeyStore::Open(store_.get(), master_path_, 0),
              StatusIs(absl::StatusCode::kInvalidArgument));
}

TEST_F(KeyStoreTest, WrongMasterKeyIsRefusedAtOpen) {
  std::string sealed = MustSeal("victim-1", "secret", "f");
  const std::string other = dir_.Sub("other.key");
  ASSERT_THAT(KeyStore::WriteNewMasterKey(other), IsOk());
  absl::StatusOr<std::unique_ptr<KeyStore>> wrong = KeyStore::Open(store_.get(), other);
  EXPECT_THAT(wrong, StatusIs(absl::StatusCode::kFailedPrecondition));
  EXPECT_THAT(wrong.status().message(), HasSubstr(other));
  EXPECT_THAT(wrong.status().message(), HasSubstr("not the master key"));
  // The right key still works.
  OpenAll();
  EXPECT_THAT(keys_->Unseal("victim-1", sealed, "f"),
              IsOkAndHolds(std::string("secret")));
}

// Without the check record (say it was lost), a wrong master key still never
// yields garbage: the data key fails to unwrap.
TEST_F(KeyStoreTest, WrongMasterKeyFailsToUnwrap) {
  std::string sealed = MustSeal("victim-1", "secret", "f");
  ASSERT_THAT(store_->DeleteKey("master/check"), IsOk());
  const std::string other = dir_.Sub("other.key");
  ASSERT_THAT(KeyStore::WriteNewMasterKey(other), IsOk());
  absl::StatusOr<std::unique_ptr<KeyStore>> wrong = KeyStore::Open(store_.get(), other);
  ASSERT_THAT(wrong, IsOk());
  absl::StatusOr<std::string> r = (*wrong)->Unseal("victim-1", sealed, "f");
  EXPECT_THAT(r, StatusIs(absl::StatusCode::kDataLoss));
  EXPECT_THAT(r.status().message(), HasSubstr("another master key"));
  EXPECT_THAT((*wrong)->Seal("victim-1", "more", "f"),
              StatusIs(absl::StatusCode::kDataLoss));
}

TEST_F(KeyStoreTest, ConcurrentFirstSealsAgreeOnOneKey) {
  constexpr int kThreads = 16;
  for (int round = 0; round < 3; ++round) {
    const std::string person = absl::StrCat("new-person-", round);
    std::vector<std::string> sealed(kThreads);
    std::vector<absl::Status> status(kThreads);
    absl::Barrier* start = new absl::Barrier(kThreads);  // deletes itself
    std::vector<std::thread> threads;
    for (int t = 0; t < kThreads; ++t) {
      threads.emplace_back([&, t] {
        if (start->Block()) delete start;
        absl::StatusOr<std::string> r =
            keys_->Seal(person, absl::StrCat("message ", t), "f");
        status[t] = r.status();
        if (r.ok()) sealed[t] = *r;
      });
    }
    for (auto& th : threads) th.join();
    // A fresh KeyStore has an empty cache: it can only use the stored key.
    OpenAll();
    for (int t = 0; t < kThreads; ++t) {
      ASSERT_THAT(status[t], IsOk());
      EXPECT_THAT(keys_->Unseal(person, sealed[t], "f"),
                  IsOkAndHolds(absl::StrCat("message ", t)));
    }
  }
}

TEST_F(KeyStoreTest, CacheIsBounded) {
  OpenAll(/*cache_capacity=*/4);
  std::vector<std::string> sealed;
  for (int i = 0; i < 20; ++i) {
    sealed.push_back(MustSeal(absl::StrCat("p", i), absl::StrCat("v", i), "f"));
    EXPECT_LE(keys_->cached_keys(), 4u);
  }
  EXPECT_EQ(keys_->cached_keys(), 4u);
  for (int i = 0; i < 20; ++i) {
    EXPECT_THAT(keys_->Unseal(absl::StrCat("p", i), sealed[i], "f"),
                IsOkAndHolds(absl::StrCat("v", i)));
    EXPECT_LE(keys_->cached_keys(), 4u);
  }
  ASSERT_THAT(keys_->Erase("p19"), IsOk());
  EXPECT_THAT(keys_->Unseal("p19", sealed[19], "f"),
              StatusIs(absl::StatusCode::kNotFound));
}

// Readers race an Erase. A read that starts after Erase returned must fail,
// whether the key was cached or being loaded when the erase ran.
TEST_F(KeyStoreTest, NoReadSucceedsAfterEraseReturns) {
  constexpr int kReaders = 4;
  for (int round = 0; round < 6; ++round) {
    // Odd rounds: a one-entry cache that two people fight over, so readers
    // keep loading the key from the store while the erase runs. Even rounds:
    // the key stays cached until the erase.
    OpenAll(round % 2 == 1 ? 1 : KeyStore::kDefaultCacheCapacity);
    const std::string person = absl::StrCat("victim-", round);
    const std::string sealed = MustSeal(person, "secret", "f");
    MustSeal("someone-else", "x", "f");  // competes for the one cache slot
    std::atomic<bool> erased{false};
    std::atomic<int> reads_after_erase{0};
    std::atomic<int> violations{0};
    std::vector<std::thread> readers;
    for (int r = 0; r < kReaders; ++r) {
      readers.emplace_back([&, r] {
        // Bounded: stop once enough reads ran after the erase (or at a cap).
        for (int i = 0; i < 2'000'000 && reads_after_erase.load() < 400; ++i) {
          const bool started_after_erase = erased.load();
          absl::StatusOr<std::string> got =
              (r % 2 == 0) ? keys_->Unseal(person, sealed, "f")
                           : keys_->Unseal("someone-else", sealed, "f");
          if (!started_after_erase || r % 2 != 0) continue;
          reads_after_erase.fetch_add(1);
          if (got.ok() || got.status().code() != absl::StatusCode::kNotFound) {
            violations.fetch_add(1);
          }
        }
      });
    }
    ASSERT_THAT(keys_->Erase(person), IsOk());
    erased.store(true);
    for (auto& th : readers) th.join();
    EXPECT_EQ(violations.load(), 0) << "round " << round;
    EXPECT_GT(reads_after_erase.load(), 0) << "round " << round;
  }
}

TEST_F(KeyStoreTest, ReadOnlyStoreUnsealsButNeverWrites) {
  std::string sealed = MustSeal("victim-1", "secret", "f");
  MustSeal("victim-2", "x", "f");
  CloseAll();
  auto store = EventStore::Open({.path = log_path_, .read_only = true});
  ASSERT_THAT(store, IsOk());
  auto keys = KeyStore::Open(store->get(), master_path_);
  ASSERT_THAT(keys, IsOk());
  EXPECT_THAT((*keys)->Unseal("victim-1", sealed, "f"),
              IsOkAndHolds(std::string("secret")));
  EXPECT_THAT((*keys)->Seal("new-person", "x", "f"),
              StatusIs(absl::StatusCode::kFailedPrecondition));
  EXPECT_THAT((*keys)->Erase("victim-2"),
              StatusIs(absl::StatusCode::kFailedPrecondition));

  // A wrong master key is still caught by the stored check record.
  const std::string other = dir_.Sub("other.key");
  ASSERT_THAT(KeyStore::WriteNewMasterKey(other), IsOk());
  EXPECT_THAT(KeyStore::Open(store->get(), other),
              StatusIs(absl::StatusCode::kFailedPrecondition));
}

}  // namespace
}  // namespace mend::crypto
