// A consistent copy of a store while it serves: a RocksDB checkpoint.
#include <filesystem>
#include <memory>
#include <string>
#include <system_error>

#include "absl/strings/str_cat.h"
#include "common/eventlog/event_store.h"
#include "common/eventlog/rocksdb_status.h"
#include "rocksdb/db.h"
#include "rocksdb/utilities/checkpoint.h"

namespace mend::eventlog {

absl::StatusOr<Head> EventStore::CreateCheckpoint(const std::string& dir) const {
  if (options_.read_only) {
    return absl::FailedPreconditionError(
        "event store: a checkpoint is taken of the writer's store, not a read-only one");
  }
  const std::filesystem::path path(dir);
  if (dir.empty() || !path.is_absolute()) {
    return absl::InvalidArgumentError(
        absl::StrCat("checkpoint directory must be an absolute path, got '", dir, "'"));
  }
  std::error_code ec;
  if (std::filesystem::symlink_status(path, ec).type() !=
      std::filesystem::file_type::not_found) {
    return absl::AlreadyExistsError(
        absl::StrCat("checkpoint directory ", dir, " already exists"));
  }
  if (!std::filesystem::is_directory(path.parent_path(), ec)) {
    return absl::FailedPreconditionError(absl::StrCat("checkpoint directory's parent ",
                                                      path.parent_path().string(),
                                                      " is not a directory"));
  }
  rocksdb::Checkpoint* raw = nullptr;
  rocksdb::Status s = rocksdb::Checkpoint::Create(db_.get(), &raw);
  if (!s.ok()) return FromRocksDb(s, "checkpoint");
  std::unique_ptr<rocksdb::Checkpoint> checkpoint(raw);
  // Never flush (a log size for flushing no log reaches): the copy takes the
  // write-ahead log as it is (it holds every record not yet in an SST file,
  // and every acknowledged one is synced to it), so the store's own files
  // are never written here and appends go on meanwhile. RocksDB stops
  // deleting obsolete files while it lists and copies, and copies each WAL
  // file up to the length it had when the live files were listed: a prefix
  // of the log's batches (a batch's records, index entries and head are one
  // write), whatever the commit thread does meanwhile.
  s = checkpoint->CreateCheckpoint(dir, /*log_size_for_flush=*/UINT64_MAX);
  if (!s.ok()) {
    std::filesystem::remove_all(path, ec);
    return FromRocksDb(s, absl::StrCat("checkpoint to ", dir));
  }
  // The head the copy holds, as the copy says (a read-only open replays the
  // copied WAL and writes nothing).
  absl::StatusOr<std::unique_ptr<EventStore>> copy =
      Open({.path = dir, .create_if_missing = false, .read_only = true});
  if (!copy.ok()) {
    std::filesystem::remove_all(path, ec);
    return absl::Status(
        copy.status().code(),
        absl::StrCat("checkpoint at ", dir, " does not open: ", copy.status().message()));
  }
  return (*copy)->GetHead();
}

}  // namespace mend::eventlog
