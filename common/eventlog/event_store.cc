// The event store: open, recovery, close, the failed state and the head.
// The commit pipeline is in event_store_commit.cc, reads in
// event_store_read.cc, snapshots and keys in event_store_keys.cc, the checks
// of the log in event_store_verify.cc; the on-disk format in store_keys.h.
#include "common/eventlog/event_store.h"

#include <algorithm>
#include <filesystem>
#include <functional>
#include <memory>
#include <string>
#include <utility>

#include "absl/strings/str_cat.h"
#include "common/base/sha256.h"
#include "common/base/status_macros.h"
#include "common/eventlog/event_store_batch.h"
#include "common/eventlog/rocksdb_status.h"
#include "common/eventlog/store_info_log.h"
#include "common/eventlog/store_keys.h"
#include "rocksdb/db.h"
#include "rocksdb/filter_policy.h"
#include "rocksdb/listener.h"
#include "rocksdb/options.h"
#include "rocksdb/table.h"

namespace mend::eventlog {
namespace {

using store_internal::GetBe64;
using store_internal::kCheckpointsCf;
using store_internal::kIdsCf;
using store_internal::kKeysCf;
using store_internal::kSnapshotsCf;
using store_internal::kStreamsCf;
using store_internal::PutBe64;
using store_internal::ZeroHash;

// Puts the store in the failed state when RocksDB's background work (a
// memtable flush, a compaction) fails, and keeps RocksDB from recovering by
// itself: after a failure the store writes nothing until it is reopened.
class FailureListener : public rocksdb::EventListener {
 public:
  explicit FailureListener(std::function<void(const rocksdb::Status&)> fail)
      : fail_(std::move(fail)) {}
  void OnBackgroundError(rocksdb::BackgroundErrorReason,
                         rocksdb::Status* bg_error) override {
    if (bg_error != nullptr && !bg_error->ok()) fail_(*bg_error);
  }
  void OnErrorRecoveryBegin(rocksdb::BackgroundErrorReason, rocksdb::Status,
                            bool* auto_recovery) override {
    if (auto_recovery != nullptr) *auto_recovery = false;
  }

 private:
  const std::function<void(const rocksdb::Status&)> fail_;
};
}  // namespace

std::string PositionKey(uint64_t position) {
  std::string key;
  PutBe64(&key, position);
  return key;
}

EventStore::EventStore(const Options& options) : options_(options) {}

absl::StatusOr<std::unique_ptr<EventStore>> EventStore::Open(const Options& options) {
  if (options.path.empty()) {
    return absl::InvalidArgumentError("event store path is empty");
  }
  if (options.max_payload_bytes == 0 || options.max_events_per_append == 0) {
    return absl::InvalidArgumentError("event store limits must be positive");
  }
  std::unique_ptr<EventStore> store(new EventStore(options));
  MEND_RETURN_IF_ERROR(store->OpenDb());
  MEND_RETURN_IF_ERROR(store->RecoverHead());
  if (!options.read_only) {
    absl::MutexLock lock(&store->queue_mu_);
    store->open_batch_ = std::make_shared<Batch>();
    store->commit_thread_ = std::thread([s = store.get()] { s->CommitLoop(); });
    store->sync_thread_ = std::thread([s = store.get()] { s->SyncLoop(); });
  }
  return store;
}

absl::Status EventStore::OpenDb() {
  rocksdb::DBOptions db_options;
  db_options.create_if_missing = options_.create_if_missing;
  db_options.create_missing_column_families = true;
  db_options.max_background_jobs = 2;
  // Every acknowledged append is in the fsynced WAL, so closing need not
  // flush memtables; and after a failed write (a full disk) the flush would
  // only fail again on a handle that has seen errors.
  db_options.avoid_flush_during_shutdown = true;
  // A WAL file is kept until every column family with writes in it is
  // flushed, and the small ones (the head, checkpoints) fill slowly: left
  // alone (RocksDB's bound is four times all write buffers, over 2 GiB
  // here) the WAL grows to gigabytes that every open -- a restart, an
  // auditor's read -- replays. Past this much, the column families holding
  // the oldest WAL are flushed.
  db_options.max_total_wal_size = 256 << 20;
  // A failed write stops the store until it is reopened (see the header);
  // RocksDB must not resume writing behind its back either.
  db_options.listeners.push_back(std::make_shared<FailureListener>(
      [this](const rocksdb::Status& s) { Fail(s, "background write").IgnoreError(); }));
  if (options_.env != nullptr) db_options.env = options_.env;
  // RocksDB's own info log aborts the process on a full disk (see
  // store_info_log.h); this one drops what it cannot write.
  if (!options_.read_only && options_.create_if_missing) {
    std::error_code ignored;  // RocksDB reports a directory it cannot make
    std::filesystem::create_directory(options_.path, ignored);
  }
  // A reader never writes the service's directory: a secondary keeps its
  // info log in its own, a plain read-only open drops it (a logger whose
  // file cannot be opened drops every line).
  db_options.info_log = std::make_shared<StoreInfoLog>(
      !options_.read_only                ? options_.path + "/LOG"
      : !options_.secondary_path.empty() ? options_.secondary_path + "/LOG"
                                         : std::string());
  if (!options_.secondary_path.empty()) {
    if (!options_.read_only) {
      return absl::InvalidArgumentError("event store: secondary_path needs read_only");
    }
    std::error_code ignored;
    std::filesystem::create_directories(options_.secondary_path, ignored);
    db_options.max_open_files = -1;  // a secondary must keep every file open
  }

  rocksdb::ColumnFamilyOptions plain;
  rocksdb::ColumnFamilyOptions events = plain;
  events.write_buffer_size = 64 << 20;
  // Point lookups (idempotency, stream heads) mostly miss: a bloom filter
  // keeps a miss from touching every SST file.
  rocksdb::ColumnFamilyOptions lookups = plain;
  rocksdb::BlockBasedTableOptions table;
  table.filter_policy.reset(rocksdb::NewBloomFilterPolicy(10));
  lookups.table_factory.reset(rocksdb::NewBlockBasedTableFactory(table));

  std::vector<rocksdb::ColumnFamilyDescriptor> cfs = {
      {rocksdb::kDefaultColumnFamilyName, plain},
      {kEventsColumnFamily, events},
      {kStreamsCf, lookups},
      {kIdsCf, lookups},
      {kCheckpointsCf, plain},
      {kSnapshotsCf, plain},
      {kMetaColumnFamily, plain},
      {kKeysCf, plain},
      {kTreeColumnFamily, plain},
  };
  if (options_.read_only) {
    // A log written before the tree existed has no tree column family, and a
    // read-only open cannot make one: open it without (no proofs then).
    std::vector<std::string> existing;
    if (rocksdb::DB::ListColumnFamilies(db_options, options_.path, &existing).ok() &&
        std::find(existing.begin(), existing.end(), kTreeColumnFamily) ==
            existing.end()) {
      cfs.pop_back();
    }
  }
  rocksdb::DB* raw = nullptr;
  rocksdb::Status s =
      !options_.read_only
          ? rocksdb::DB::Open(db_options, options_.path, cfs, &handles_, &raw)
      : options_.secondary_path.empty()
          ? rocksdb::DB::OpenForReadOnly(db_options, options_.path, cfs, &handles_, &raw)
          : rocksdb::DB::OpenAsSecondary(db_options, options_.path,
                                         options_.secondary_path, cfs, &handles_, &raw);
  if (!s.ok()) return FromRocksDb(s, absl::StrCat("open event log at ", options_.path));
  db_.reset(raw);
  if (!options_.secondary_path.empty()) {
    s = db_->TryCatchUpWithPrimary();
    if (!s.ok()) {
      return FromRocksDb(s,
                         absl::StrCat("catch up with the event log at ", options_.path));
    }
  }
  events_cf_ = handles_[1];
  streams_cf_ = handles_[2];
  ids_cf_ = handles_[3];
  checkpoints_cf_ = handles_[4];
  snapshots_cf_ = handles_[5];
  meta_cf_ = handles_[6];
  keys_cf_ = handles_[7];
  tree_cf_ = handles_.size() > 8 ? handles_[8] : nullptr;
  if (!options_.maintain_tree) tree_cf_ = nullptr;  // benchmarks: no tree kept
  return absl::OkStatus();
}

absl::Status EventStore::RecoverHead() {
  Head head{0, ZeroHash()};
  {
    std::unique_ptr<rocksdb::Iterator> it(db_->NewIterator({}, events_cf_));
    it->SeekToLast();
    if (it->Valid()) {
      if (it->key().size() != 8) {
        return absl::DataLossError("event log: last key is not a position");
      }
      head.position = GetBe64(it->key().ToStringView());
      head.hash = Sha256Bytes(it->value().ToStringView());
    }
    MEND_RETURN_IF_ERROR(FromRocksDb(it->status(), "recover event log head"));
  }
  next_position_ = head.position + 1;  // before the commit thread starts
  last_hash_ = head.hash;
  MEND_RETURN_IF_ERROR(RecoverTree(head.position));
  absl::MutexLock lock(&head_mu_);
  head_ = std::move(head);
  return absl::OkStatus();
}

EventStore::~EventStore() {
  {
    absl::MutexLock lock(&queue_mu_);
    closing_ = true;
  }
  if (commit_thread_.joinable()) commit_thread_.join();
  if (sync_thread_.joinable()) sync_thread_.join();
  {
    absl::MutexLock lock(&head_mu_);
    head_closed_ = true;
  }
  if (db_ != nullptr) {
    for (rocksdb::ColumnFamilyHandle* h : handles_) db_->DestroyColumnFamilyHandle(h);
    handles_.clear();
    db_->Close().PermitUncheckedError();
  }
}

absl::Status EventStore::Fail(const rocksdb::Status& cause, std::string_view what) {
  // UNAVAILABLE whatever RocksDB said: the caller should retry after a
  // restart (and an operator free the disk when it says "disk full").
  const absl::Status described =
      FromRocksDb(cause, absl::StrCat("event log ", std::string(what)));
  absl::Status status = absl::UnavailableError(absl::StrCat(
      described.message(), "; the log refuses appends until the service restarts"));
  absl::MutexLock lock(&queue_mu_);
  if (failed_.ok()) failed_ = status;
  return failed_;
}

absl::Status EventStore::CallWal(std::string_view what,
                                 absl::FunctionRef<rocksdb::Status()> call) {
  absl::MutexLock wal_lock(&wal_mu_);
  {
    absl::MutexLock lock(&queue_mu_);
    if (!failed_.ok()) return failed_;
  }
  // queue_mu_ is not held across the call: callers keep joining the open
  // batch, and the failure listener (run inside RocksDB) can take it.
  rocksdb::Status s = call();
  if (!s.ok()) return Fail(s, what);
  return absl::OkStatus();
}

absl::Status EventStore::CheckWritable() const {
  if (options_.read_only) {
    return absl::FailedPreconditionError("event log was opened read-only");
  }
  absl::MutexLock lock(&queue_mu_);
  return failed_;
}

Head EventStore::GetHead() const {
  absl::MutexLock lock(&head_mu_);
  return head_;
}

uint64_t EventStore::WaitForHeadAbove(uint64_t position, absl::Time deadline) const {
  struct Args {
    const EventStore* store;
    uint64_t position;
  } args{this, position};
  absl::MutexLock lock(&head_mu_);
  head_mu_.AwaitWithDeadline(absl::Condition(
                                 +[](Args* a) ABSL_NO_THREAD_SAFETY_ANALYSIS {
                                   return a->store->head_.position > a->position ||
                                          a->store->head_closed_;
                                 },
                                 &args),
                             deadline);
  return head_.position;
}

int EventStore::AddHeadListener(std::function<void(uint64_t)> fn) {
  absl::MutexLock lock(&head_mu_);
  int id = next_listener_id_++;
  listeners_.emplace_back(id, std::move(fn));
  return id;
}

void EventStore::RemoveHeadListener(int id) {
  absl::MutexLock lock(&head_mu_);
  listeners_.erase(std::remove_if(listeners_.begin(), listeners_.end(),
                                  [id](const auto& l) { return l.first == id; }),
                   listeners_.end());
}

}  // namespace mend::eventlog
