// The event store's reads: ranges of positions, one stream, the replay scan
// and checkpoints. Each serves durable records only (up to the head).
#include <memory>
#include <string>
#include <vector>

#include "absl/strings/str_cat.h"
#include "common/base/status_macros.h"
#include "common/eventlog/event_store.h"
#include "common/eventlog/rocksdb_status.h"
#include "common/eventlog/store_keys.h"
#include "rocksdb/db.h"

namespace mend::eventlog {
namespace {

using store_internal::CheckId;
using store_internal::GetBe64;
using store_internal::StreamKey;

}  // namespace

absl::StatusOr<std::vector<RawRecord>> EventStore::Read(uint64_t from_position,
                                                        size_t max_count,
                                                        size_t max_bytes) const {
  std::vector<RawRecord> out;
  size_t bytes = 0;
  if (from_position == 0) from_position = 1;
  // Written but not yet synced records are visible in RocksDB: never serve them.
  const std::string upper = PositionKey(GetHead().position + 1);
  rocksdb::Slice upper_slice(upper);
  rocksdb::ReadOptions ro;
  ro.iterate_upper_bound = &upper_slice;
  std::unique_ptr<rocksdb::Iterator> it(db_->NewIterator(ro, events_cf_));
  for (it->Seek(PositionKey(from_position));
       it->Valid() && out.size() < max_count && bytes < max_bytes; it->Next()) {
    if (it->key().size() != 8) {
      return absl::DataLossError("event log holds a key that is not a position");
    }
    out.push_back(RawRecord{GetBe64(it->key().ToStringView()), it->value().ToString()});
    bytes += out.back().bytes.size();
  }
  MEND_RETURN_IF_ERROR(FromRocksDb(it->status(), "read event log"));
  return out;
}

absl::StatusOr<std::vector<RawRecord>> EventStore::ReadStream(std::string_view stream_id,
                                                              uint64_t from_version,
                                                              size_t max_count,
                                                              size_t max_bytes) const {
  MEND_RETURN_IF_ERROR(CheckId("stream id", stream_id));
  if (from_version == 0) from_version = 1;
  std::string prefix(stream_id);
  prefix.push_back('\0');
  std::vector<std::string> position_keys;
  const uint64_t head = GetHead().position;  // serve durable records only
  {
    std::unique_ptr<rocksdb::Iterator> it(db_->NewIterator({}, streams_cf_));
    for (it->Seek(StreamKey(stream_id, from_version));
         it->Valid() && it->key().starts_with(prefix) && position_keys.size() < max_count;
         it->Next()) {
      if (it->value().size() != 8 || GetBe64(it->value().ToStringView()) > head) break;
      position_keys.push_back(it->value().ToString());
    }
    MEND_RETURN_IF_ERROR(FromRocksDb(it->status(), "read stream index"));
  }
  std::vector<RawRecord> out;
  out.reserve(position_keys.size());
  size_t bytes = 0;
  for (const std::string& key : position_keys) {
    if (bytes >= max_bytes) break;
    RawRecord r;
    rocksdb::Status s = db_->Get({}, events_cf_, key, &r.bytes);
    if (s.IsNotFound()) {
      return absl::DataLossError(absl::StrCat("stream ", std::string(stream_id),
                                              " indexes a missing position ",
                                              key.size() == 8 ? GetBe64(key) : 0));
    }
    MEND_RETURN_IF_ERROR(FromRocksDb(s, "read stream event"));
    r.position = GetBe64(key);
    bytes += r.bytes.size();
    out.push_back(std::move(r));
  }
  return out;
}

absl::Status EventStore::Scan(
    uint64_t from_position,
    const std::function<bool(uint64_t, std::string_view)>& fn) const {
  if (from_position == 0) from_position = 1;
  const std::string upper = PositionKey(GetHead().position + 1);
  rocksdb::Slice upper_slice(upper);
  rocksdb::ReadOptions ro;
  ro.iterate_upper_bound = &upper_slice;
  ro.readahead_size = 2 << 20;
  ro.fill_cache = false;
  std::unique_ptr<rocksdb::Iterator> it(db_->NewIterator(ro, events_cf_));
  for (it->Seek(PositionKey(from_position)); it->Valid(); it->Next()) {
    rocksdb::Slice k = it->key();
    if (k.size() != 8) {
      return absl::DataLossError("event log holds a key that is not a position");
    }
    if (!fn(GetBe64(k.ToStringView()), it->value().ToStringView())) break;
  }
  return FromRocksDb(it->status(), "scan event log");
}

absl::StatusOr<uint64_t> EventStore::GetCheckpoint(std::string_view consumer) const {
  MEND_ASSIGN_OR_RETURN(Checkpoint checkpoint, ReadCheckpoint(consumer));
  return checkpoint.position;
}

absl::StatusOr<Checkpoint> EventStore::ReadCheckpoint(std::string_view consumer) const {
  std::string value;
  rocksdb::Status s = db_->Get({}, checkpoints_cf_, consumer, &value);
  Checkpoint checkpoint{.consumer = std::string(consumer)};
  if (s.IsNotFound()) return checkpoint;
  MEND_RETURN_IF_ERROR(FromRocksDb(s, "read checkpoint"));
  // position:be64, then the record's hash (logs written before the hash was
  // kept have the position alone).
  if (value.size() != 8 && value.size() != 8 + 32) {
    return absl::DataLossError(
        absl::StrCat("checkpoint ", std::string(consumer), " is malformed"));
  }
  checkpoint.position = GetBe64(value);
  checkpoint.hash = value.substr(8);
  return checkpoint;
}

}  // namespace mend::eventlog
