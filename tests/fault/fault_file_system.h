// Tests and benchmarks only: a RocksDB FileSystem that passes everything to
// the real one, and on demand
//   - fails writes or syncs of one kind of file with ENOSPC ("No space left
//     on device", as a full disk does), or fails WAL syncs with a plain I/O
//     error;
//   - makes every WAL sync slower, by a fixed time plus a time per byte
//     written since the file's last sync (a slow disk, on any machine), or
//     free (no fsync at all, as on tmpfs).
//
//   auto fs = std::make_shared<FaultFileSystem>(rocksdb::FileSystem::Default());
//   std::unique_ptr<rocksdb::Env> env = rocksdb::NewCompositeEnv(fs);
//   auto store = EventStore::Open({.path = dir, .env = env.get()});
//   fs->FailWithNoSpace(FaultFileSystem::kWalAppend);
//
// Files are told apart by name: *.log is the WAL, *.sst a table (memtable
// flush or compaction output), MANIFEST-* the manifest. Only files created
// through this FileSystem are affected (the event store's own info log,
// StoreInfoLog, writes with write(2) directly).
//
// Thread safety: the switches may be flipped from any thread while RocksDB
// uses the file system.
#ifndef MEND_TESTS_FAULT_FAULT_FILE_SYSTEM_H_
#define MEND_TESTS_FAULT_FAULT_FILE_SYSTEM_H_

#include <unistd.h>

#include <atomic>
#include <cstdint>
#include <memory>
#include <string>

#include "rocksdb/file_system.h"
#include "rocksdb/io_status.h"

namespace mend::eventlog {

class FaultFileSystem : public rocksdb::FileSystemWrapper {
 public:
  // What a failure hits, as bits of a mask.
  enum Fault : uint32_t {
    kWalAppend = 1 << 0,
    kWalSync = 1 << 1,
    kSstWrite = 1 << 2,       // append, sync or close of a table file
    kManifestWrite = 1 << 3,  // append or sync of the manifest
    kOtherWrite = 1 << 4,     // any other file (OPTIONS, CURRENT, ...)
    kEverything = (1 << 5) - 1,
  };

  explicit FaultFileSystem(std::shared_ptr<rocksdb::FileSystem> target)
      : FileSystemWrapper(std::move(target)) {}
  const char* Name() const override { return "FaultFileSystem"; }

  // From now on, the operations in `faults` (a mask of Fault) fail with
  // ENOSPC; 0 stops the failures.
  void FailWithNoSpace(uint32_t faults) { no_space_.store(faults); }
  // WAL syncs fail with a plain I/O error while set.
  std::atomic<bool> fail_syncs{false};
  // Each WAL sync sleeps this long first, plus sync_nanos_per_byte for every
  // byte appended to the file since its previous sync.
  std::atomic<int64_t> sync_delay_micros{0};
  std::atomic<int64_t> sync_nanos_per_byte{0};
  // WAL syncs succeed at once without reaching the disk while set: an fsync
  // that costs nothing, as on tmpfs (nothing survives a crash then).
  std::atomic<bool> skip_wal_syncs{false};
  // How many operations were failed with ENOSPC.
  std::atomic<uint64_t> no_space_failures{0};

  rocksdb::IOStatus NewWritableFile(const std::string& name,
                                    const rocksdb::FileOptions& options,
                                    std::unique_ptr<rocksdb::FSWritableFile>* result,
                                    rocksdb::IODebugContext* dbg) override {
    rocksdb::IOStatus s = target()->NewWritableFile(name, options, result, dbg);
    if (s.ok()) *result = std::make_unique<File>(std::move(*result), this, KindOf(name));
    return s;
  }
  rocksdb::IOStatus ReopenWritableFile(const std::string& name,
                                       const rocksdb::FileOptions& options,
                                       std::unique_ptr<rocksdb::FSWritableFile>* result,
                                       rocksdb::IODebugContext* dbg) override {
    rocksdb::IOStatus s = target()->ReopenWritableFile(name, options, result, dbg);
    if (s.ok()) *result = std::make_unique<File>(std::move(*result), this, KindOf(name));
    return s;
  }

 private:
  enum class Kind { kWal, kSst, kManifest, kOther };

  static Kind KindOf(const std::string& name) {
    const std::string base = name.substr(name.find_last_of('/') + 1);
    if (base.size() > 4 && base.compare(base.size() - 4, 4, ".log") == 0)
      return Kind::kWal;
    if (base.size() > 4 && base.compare(base.size() - 4, 4, ".sst") == 0)
      return Kind::kSst;
    if (base.rfind("MANIFEST-", 0) == 0) return Kind::kManifest;
    return Kind::kOther;
  }

  bool Fails(uint32_t fault) {
    if ((no_space_.load() & fault) == 0) return false;
    no_space_failures.fetch_add(1);
    return true;
  }
  static rocksdb::IOStatus NoSpace() {
    return rocksdb::IOStatus::NoSpace("injected", "No space left on device");
  }

  class File : public rocksdb::FSWritableFileOwnerWrapper {
   public:
    File(std::unique_ptr<rocksdb::FSWritableFile> f, FaultFileSystem* fs, Kind kind)
        : FSWritableFileOwnerWrapper(std::move(f)), fs_(fs), kind_(kind) {}

    rocksdb::IOStatus Append(const rocksdb::Slice& data, const rocksdb::IOOptions& o,
                             rocksdb::IODebugContext* d) override {
      if (FailsWrite()) return NoSpace();
      unsynced_ += data.size();
      return FSWritableFileOwnerWrapper::Append(data, o, d);
    }
    rocksdb::IOStatus Append(const rocksdb::Slice& data, const rocksdb::IOOptions& o,
                             const rocksdb::DataVerificationInfo& info,
                             rocksdb::IODebugContext* d) override {
      if (FailsWrite()) return NoSpace();
      unsynced_ += data.size();
      return FSWritableFileOwnerWrapper::Append(data, o, info, d);
    }
    rocksdb::IOStatus PositionedAppend(const rocksdb::Slice& data, uint64_t offset,
                                       const rocksdb::IOOptions& o,
                                       rocksdb::IODebugContext* d) override {
      if (FailsWrite()) return NoSpace();
      unsynced_ += data.size();
      return FSWritableFileOwnerWrapper::PositionedAppend(data, offset, o, d);
    }
    rocksdb::IOStatus Sync(const rocksdb::IOOptions& o,
                           rocksdb::IODebugContext* d) override {
      if (rocksdb::IOStatus s = BeforeSync(); !s.ok()) return s;
      if (SkipsSync()) return rocksdb::IOStatus::OK();
      return FSWritableFileOwnerWrapper::Sync(o, d);
    }
    rocksdb::IOStatus Fsync(const rocksdb::IOOptions& o,
                            rocksdb::IODebugContext* d) override {
      if (rocksdb::IOStatus s = BeforeSync(); !s.ok()) return s;
      if (SkipsSync()) return rocksdb::IOStatus::OK();
      return FSWritableFileOwnerWrapper::Fsync(o, d);
    }
    rocksdb::IOStatus RangeSync(uint64_t offset, uint64_t nbytes,
                                const rocksdb::IOOptions& o,
                                rocksdb::IODebugContext* d) override {
      if (rocksdb::IOStatus s = BeforeSync(); !s.ok()) return s;
      return FSWritableFileOwnerWrapper::RangeSync(offset, nbytes, o, d);
    }

   private:
    bool SkipsSync() const { return kind_ == Kind::kWal && fs_->skip_wal_syncs.load(); }
    bool FailsWrite() {
      switch (kind_) {
        case Kind::kWal:
          return fs_->Fails(kWalAppend);
        case Kind::kSst:
          return fs_->Fails(kSstWrite);
        case Kind::kManifest:
          return fs_->Fails(kManifestWrite);
        case Kind::kOther:
          return fs_->Fails(kOtherWrite);
      }
      return false;
    }
    rocksdb::IOStatus BeforeSync() {
      switch (kind_) {
        case Kind::kWal: {
          if (fs_->Fails(kWalSync)) return NoSpace();
          if (fs_->fail_syncs) return rocksdb::IOStatus::IOError("injected sync failure");
          const int64_t nanos = fs_->sync_delay_micros.load() * 1000 +
                                fs_->sync_nanos_per_byte.load() *
                                    static_cast<int64_t>(unsynced_.exchange(0));
          if (nanos > 0) usleep(static_cast<useconds_t>(nanos / 1000));
          return rocksdb::IOStatus::OK();
        }
        case Kind::kSst:
          return fs_->Fails(kSstWrite) ? NoSpace() : rocksdb::IOStatus::OK();
        case Kind::kManifest:
          return fs_->Fails(kManifestWrite) ? NoSpace() : rocksdb::IOStatus::OK();
        case Kind::kOther:
          return fs_->Fails(kOtherWrite) ? NoSpace() : rocksdb::IOStatus::OK();
      }
      return rocksdb::IOStatus::OK();
    }

    FaultFileSystem* fs_;
    const Kind kind_;
    std::atomic<uint64_t> unsynced_{0};  // bytes appended since the last sync
  };

  std::atomic<uint32_t> no_space_{0};
};

}  // namespace mend::eventlog

#endif  // MEND_TESTS_FAULT_FAULT_FILE_SYSTEM_H_
