// EventStore durability: a failed fsync fails every caller waiting on it and
// later appends, and every acknowledged append survives a power cut (each
// file cut back to what was fsynced).
#include <algorithm>
#include <atomic>
#include <filesystem>
#include <fstream>
#include <map>
#include <memory>
#include <optional>
#include <string>
#include <thread>
#include <vector>

#include "absl/strings/str_cat.h"
#include "absl/synchronization/mutex.h"
#include "common/eventlog/event_store.h"
#include "gmock/gmock.h"
#include "gtest/gtest.h"
#include "mend/eventlog/v1/record.pb.h"
#include "rocksdb/env.h"
#include "rocksdb/file_system.h"
#include "tests/fault/fault_file_system.h"
#include "tests/support/test_util.h"

namespace mend::eventlog {
namespace {

using ::mend::testing::IsOk;
using ::mend::testing::StatusIs;
using ::mend::testing::TempDir;
using ::mend::testing::TestEvent;

v1::StoredRecord Parse(const RawRecord& r) {
  v1::StoredRecord record;
  EXPECT_TRUE(record.ParseFromString(r.bytes));
  return record;
}

TEST(EventStoreFaultTest, FailedSyncFailsEveryCallerAndLaterAppends) {
  TempDir dir;
  auto fs = std::make_shared<FaultFileSystem>(rocksdb::FileSystem::Default());
  std::unique_ptr<rocksdb::Env> env = rocksdb::NewCompositeEnv(fs);
  auto store = EventStore::Open({.path = dir.Sub("log"), .env = env.get()});
  ASSERT_THAT(store, IsOk());
  ASSERT_THAT((*store)->Append("s", ExpectedVersion::Any(), {TestEvent("before")}),
              IsOk());

  fs->fail_syncs = true;
  constexpr int kThreads = 8;
  std::vector<absl::Status> results(kThreads);
  std::vector<std::thread> threads;
  for (int t = 0; t < kThreads; ++t) {
    threads.emplace_back([&, t] {
      results[t] = (*store)
                       ->Append(absl::StrCat("s", t), ExpectedVersion::Any(),
                                {TestEvent(absl::StrCat("during-", t))})
                       .status();
    });
  }
  for (auto& th : threads) th.join();
  for (const absl::Status& s : results) {
    EXPECT_THAT(s, StatusIs(absl::StatusCode::kUnavailable));
  }
  fs->fail_syncs = false;
  // The store stays failed until reopened; nothing acknowledged was lost.
  EXPECT_THAT((*store)->Append("s", ExpectedVersion::Any(), {TestEvent("after")}),
              StatusIs(absl::StatusCode::kUnavailable));
  EXPECT_EQ((*store)->GetHead().position, 1u);
  store->reset();
  auto reopened = EventStore::Open({.path = dir.Sub("log")});
  ASSERT_THAT(reopened, IsOk());
  auto first = (*reopened)->Read(1, 1);
  ASSERT_THAT(first, IsOk());
  ASSERT_EQ(first->size(), 1u);
  EXPECT_EQ(Parse(first->front()).envelope().event_id(), "before");
  VerifyReport report = (*reopened)->Verify();
  EXPECT_TRUE(report.ok) << report.problem;
  // Whatever reached the disk before the failed sync is a valid chain; appends
  // work again after the reopen.
  EXPECT_THAT(
      (*reopened)->Append("s", ExpectedVersion::Any(), {TestEvent("after-reopen")}),
      IsOk());
}

// A file system that remembers, for every file written through it, how many
// bytes had been fsynced. CopySyncedState copies a directory as a power cut
// would leave it: each such file cut back to its synced length.
class SyncTrackingFileSystem : public rocksdb::FileSystemWrapper {
 public:
  explicit SyncTrackingFileSystem(std::shared_ptr<rocksdb::FileSystem> target)
      : FileSystemWrapper(std::move(target)) {}
  const char* Name() const override { return "SyncTrackingFileSystem"; }

  rocksdb::IOStatus NewWritableFile(const std::string& name,
                                    const rocksdb::FileOptions& options,
                                    std::unique_ptr<rocksdb::FSWritableFile>* result,
                                    rocksdb::IODebugContext* dbg) override {
    rocksdb::IOStatus s = target()->NewWritableFile(name, options, result, dbg);
    if (s.ok()) {
      const std::string key = std::filesystem::path(name).lexically_normal().string();
      {
        absl::MutexLock lock(&mu_);
        files_[key] = Lengths{};
      }
      *result = std::make_unique<File>(std::move(*result), this, key);
    }
    return s;
  }

  // Copies every regular file of `from` into `to`; a file this file system
  // wrote is cut to the bytes that were synced when it was copied.
  void CopySyncedState(const std::string& from, const std::string& to) {
    std::filesystem::create_directories(to);
    for (const auto& entry : std::filesystem::directory_iterator(from)) {
      if (!entry.is_regular_file()) continue;
      const std::string key = entry.path().lexically_normal().string();
      std::optional<uint64_t> synced;
      {
        absl::MutexLock lock(&mu_);
        auto it = files_.find(key);
        if (it != files_.end()) synced = it->second.synced;
      }
      std::ifstream in(entry.path(), std::ios::binary);
      std::string bytes((std::istreambuf_iterator<char>(in)),
                        std::istreambuf_iterator<char>());
      if (synced.has_value() && bytes.size() > *synced) bytes.resize(*synced);
      std::ofstream out(to + "/" + entry.path().filename().string(), std::ios::binary);
      out.write(bytes.data(), static_cast<std::streamsize>(bytes.size()));
    }
  }

 private:
  struct Lengths {
    uint64_t appended = 0;
    uint64_t synced = 0;
  };

  class File : public rocksdb::FSWritableFileOwnerWrapper {
   public:
    File(std::unique_ptr<rocksdb::FSWritableFile> f, SyncTrackingFileSystem* fs,
         std::string key)
        : FSWritableFileOwnerWrapper(std::move(f)), fs_(fs), key_(std::move(key)) {}
    rocksdb::IOStatus Append(const rocksdb::Slice& data, const rocksdb::IOOptions& o,
                             rocksdb::IODebugContext* d) override {
      rocksdb::IOStatus s = FSWritableFileOwnerWrapper::Append(data, o, d);
      if (s.ok()) fs_->Appended(key_, data.size());
      return s;
    }
    rocksdb::IOStatus Append(const rocksdb::Slice& data, const rocksdb::IOOptions& o,
                             const rocksdb::DataVerificationInfo& info,
                             rocksdb::IODebugContext* d) override {
      rocksdb::IOStatus s = FSWritableFileOwnerWrapper::Append(data, o, info, d);
      if (s.ok()) fs_->Appended(key_, data.size());
      return s;
    }
    rocksdb::IOStatus Sync(const rocksdb::IOOptions& o,
                           rocksdb::IODebugContext* d) override {
      // Whatever was appended before the sync began is durable after it.
      const uint64_t before = fs_->AppendedSoFar(key_);
      rocksdb::IOStatus s = FSWritableFileOwnerWrapper::Sync(o, d);
      if (s.ok()) fs_->Synced(key_, before);
      return s;
    }
    rocksdb::IOStatus Fsync(const rocksdb::IOOptions& o,
                            rocksdb::IODebugContext* d) override {
      const uint64_t before = fs_->AppendedSoFar(key_);
      rocksdb::IOStatus s = FSWritableFileOwnerWrapper::Fsync(o, d);
      if (s.ok()) fs_->Synced(key_, before);
      return s;
    }

   private:
    SyncTrackingFileSystem* fs_;
    std::string key_;
  };

  void Appended(const std::string& key, uint64_t n) {
    absl::MutexLock lock(&mu_);
    files_[key].appended += n;
  }
  uint64_t AppendedSoFar(const std::string& key) {
    absl::MutexLock lock(&mu_);
    return files_[key].appended;
  }
  void Synced(const std::string& key, uint64_t length) {
    absl::MutexLock lock(&mu_);
    files_[key].synced = std::max(files_[key].synced, length);
  }

  absl::Mutex mu_;
  std::map<std::string, Lengths> files_ ABSL_GUARDED_BY(mu_);
};

TEST(EventStorePowerLossTest, EveryAcknowledgedAppendWasFsyncedFirst) {
  TempDir dir;
  auto fs = std::make_shared<SyncTrackingFileSystem>(rocksdb::FileSystem::Default());
  std::unique_ptr<rocksdb::Env> env = rocksdb::NewCompositeEnv(fs);
  auto store = EventStore::Open({.path = dir.Sub("log"), .env = env.get()});
  ASSERT_THAT(store, IsOk());

  absl::Mutex mu;
  std::map<std::string, uint64_t> acked;  // event id -> position
  constexpr int kThreads = 16;
  constexpr int kPerThread = 150;
  std::atomic<bool> cut{false};
  std::map<std::string, uint64_t> acked_at_cut;
  std::vector<std::thread> threads;
  for (int t = 0; t < kThreads; ++t) {
    threads.emplace_back([&, t] {
      for (int i = 0; i < kPerThread; ++i) {
        const std::string id = absl::StrCat("p", t, "-", i);
        auto r = (*store)->Append(absl::StrCat("s", t % 4), ExpectedVersion::Any(),
                                  {TestEvent(id)});
        ASSERT_THAT(r, IsOk());
        absl::MutexLock lock(&mu);
        acked[id] = r->first_position;
        // Cut the power once, while appends are in flight on every thread.
        if (acked.size() == kThreads * kPerThread / 2 && !cut.exchange(true)) {
          acked_at_cut = acked;
          fs->CopySyncedState(dir.Sub("log"), dir.Sub("after-power-cut"));
        }
      }
    });
  }
  for (auto& th : threads) th.join();
  ASSERT_TRUE(cut.load());

  // The copy holds only what was fsynced: every acknowledged event must be in it.
  auto recovered = EventStore::Open({.path = dir.Sub("after-power-cut")});
  ASSERT_THAT(recovered, IsOk());
  VerifyReport report = (*recovered)->Verify();
  EXPECT_TRUE(report.ok) << report.problem;
  EXPECT_GE((*recovered)->GetHead().position, acked_at_cut.size());
  for (const auto& [id, position] : acked_at_cut) {
    auto record = (*recovered)->Read(position, 1);
    ASSERT_THAT(record, IsOk());
    ASSERT_EQ(record->size(), 1u) << id << " at " << position << " was lost";
    EXPECT_EQ(Parse(record->front()).envelope().event_id(), id);
  }
}

}  // namespace
}  // namespace mend::eventlog
