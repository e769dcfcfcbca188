// The event store's state beside the chain: snapshots of a service's state
// and per-person data keys.
#include <memory>
#include <optional>
#include <string>
#include <vector>

#include "absl/strings/str_cat.h"
#include "common/base/status_macros.h"
#include "common/eventlog/event_store.h"
#include "common/eventlog/rocksdb_status.h"
#include "common/eventlog/store_keys.h"
#include "rocksdb/db.h"
#include "rocksdb/write_batch.h"

namespace mend::eventlog {
namespace {

using store_internal::CheckId;
using store_internal::GetBe64;
using store_internal::SnapshotKey;

}  // namespace

absl::Status EventStore::SaveSnapshot(std::string_view name, uint64_t position,
                                      std::string_view state) {
  MEND_RETURN_IF_ERROR(CheckWritable());
  MEND_RETURN_IF_ERROR(CheckId("snapshot name", name));
  rocksdb::WriteBatch wb;
  wb.Put(snapshots_cf_, SnapshotKey(name, position), state).PermitUncheckedError();
  // Keep the newest two: the one written now and the newest older one.
  std::string prefix(name);
  prefix.push_back('\0');
  {
    std::unique_ptr<rocksdb::Iterator> it(db_->NewIterator({}, snapshots_cf_));
    std::vector<std::string> older;
    for (it->Seek(prefix); it->Valid() && it->key().starts_with(prefix); it->Next()) {
      if (GetBe64(it->key().ToStringView().substr(prefix.size())) < position) {
        older.push_back(it->key().ToString());
      }
    }
    MEND_RETURN_IF_ERROR(FromRocksDb(it->status(), "list snapshots"));
    if (older.size() > 1) {
      for (size_t i = 0; i + 1 < older.size(); ++i) {
        wb.Delete(snapshots_cf_, older[i]).PermitUncheckedError();
      }
    }
  }
  rocksdb::WriteOptions wo;
  wo.sync = true;
  return CallWal("save snapshot", [&] { return db_->Write(wo, &wb); });
}

absl::StatusOr<std::optional<Snapshot>> EventStore::LoadSnapshot(
    std::string_view name) const {
  MEND_RETURN_IF_ERROR(CheckId("snapshot name", name));
  std::string prefix(name);
  prefix.push_back('\0');
  std::unique_ptr<rocksdb::Iterator> it(db_->NewIterator({}, snapshots_cf_));
  it->SeekForPrev(SnapshotKey(name, UINT64_MAX));
  std::optional<Snapshot> out;
  if (it->Valid() && it->key().starts_with(prefix) &&
      it->key().size() == prefix.size() + 8) {
    out = Snapshot{GetBe64(it->key().ToStringView().substr(prefix.size())),
                   it->value().ToString()};
  }
  MEND_RETURN_IF_ERROR(FromRocksDb(it->status(), "load snapshot"));
  return out;
}

absl::Status EventStore::PutKey(std::string_view key_id, std::string_view wrapped_key) {
  MEND_RETURN_IF_ERROR(CheckWritable());
  MEND_RETURN_IF_ERROR(CheckId("key id", key_id));
  absl::MutexLock lock(&keys_mu_);
  std::string existing;
  rocksdb::Status s = db_->Get({}, keys_cf_, key_id, &existing);
  if (s.ok()) {
    return absl::AlreadyExistsError(absl::StrCat("key ", std::string(key_id), " exists"));
  }
  if (!s.IsNotFound()) return FromRocksDb(s, "read key");
  rocksdb::WriteOptions wo;
  wo.sync = true;
  return CallWal("store key",
                 [&] { return db_->Put(wo, keys_cf_, key_id, wrapped_key); });
}

absl::StatusOr<std::optional<std::string>> EventStore::GetKey(
    std::string_view key_id) const {
  MEND_RETURN_IF_ERROR(CheckId("key id", key_id));
  std::string value;
  rocksdb::Status s = db_->Get({}, keys_cf_, key_id, &value);
  if (s.IsNotFound()) return std::nullopt;
  MEND_RETURN_IF_ERROR(FromRocksDb(s, "read key"));
  return value;
}

absl::Status EventStore::DeleteKey(std::string_view key_id) {
  MEND_RETURN_IF_ERROR(CheckWritable());
  MEND_RETURN_IF_ERROR(CheckId("key id", key_id));
  absl::MutexLock lock(&keys_mu_);
  rocksdb::WriteOptions wo;
  wo.sync = true;
  MEND_RETURN_IF_ERROR(
      CallWal("delete key", [&] { return db_->Delete(wo, keys_cf_, key_id); }));
  // The key's bytes are still in the write-ahead log (shared by every column
  // family) and in the keys column family's SST files. Flushing every column
  // family makes the WAL that holds them obsolete; compacting the keys column
  // family rewrites its SSTs without them; purging deletes the obsolete files
  // now rather than at some later background run.
  // Both switch memtables (a new WAL, the old one synced) when there is
  // something to flush, so they go through CallWal like a write.
  MEND_RETURN_IF_ERROR(
      CallWal("flush before erasure", [&] { return db_->Flush({}, handles_); }));
  rocksdb::CompactRangeOptions compact;
  compact.bottommost_level_compaction = rocksdb::BottommostLevelCompaction::kForce;
  MEND_RETURN_IF_ERROR(CallWal("compact keys", [&] {
    return db_->CompactRange(compact, keys_cf_, nullptr, nullptr);
  }));
  MEND_RETURN_IF_ERROR(FromRocksDb(db_->DisableFileDeletions(), "purge obsolete files"));
  return FromRocksDb(db_->EnableFileDeletions(/*force=*/true), "purge obsolete files");
}

}  // namespace mend::eventlog
