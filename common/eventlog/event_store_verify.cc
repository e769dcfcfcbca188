// The event store's checks of its own log: the verified scan replay uses
// (one pass, one hash per record) and the full audit walk, Verify().
#include <array>
#include <optional>
#include <string>
#include <utility>

#include "absl/container/flat_hash_map.h"
#include "absl/strings/str_cat.h"
#include "common/base/sha256.h"
#include "common/base/status_macros.h"
#include "common/eventlog/event_store.h"
#include "common/eventlog/record_codec.h"
#include "common/eventlog/rocksdb_status.h"
#include "common/eventlog/store_keys.h"
#include "mend/eventlog/v1/tree.pb.h"
#include "rocksdb/db.h"
#include "rocksdb/snapshot.h"

namespace mend::eventlog {
namespace {

using store_internal::GetBe64;
using store_internal::StreamKey;
using store_internal::ZeroHash;

absl::Status Broken(uint64_t position, const std::string& what) {
  return absl::DataLossError(
      absl::StrCat("event log is broken at position ", position, ": ", what,
                   "; the service must not serve it: restore the log from a backup"));
}

}  // namespace

bool EventStore::NextLinkBroken(const rocksdb::ReadOptions& ro, uint64_t position,
                                std::string_view hash) const {
  std::string next;
  rocksdb::Status s = db_->Get(ro, events_cf_, PositionKey(position + 1), &next);
  if (s.ok()) {
    RecordView view;
    return DecodeRecord(next, &view).ok() && view.prev_hash != hash;
  }
  std::string stored_head;
  if (db_->Get(ro, meta_cf_, kHeadKey, &stored_head).ok() &&
      stored_head.size() == 8 + kSha256Size && GetBe64(stored_head) == position) {
    return std::string_view(stored_head).substr(8) != hash;
  }
  return false;
}

rocksdb::ReadOptions EventStore::SnapshotRead(
    std::optional<rocksdb::ManagedSnapshot>& snapshot) const {
  rocksdb::ReadOptions ro;
  // A read-only store does not change after Open (a secondary catches up
  // only there), and a secondary has no snapshots.
  if (!options_.read_only) ro.snapshot = snapshot.emplace(db_.get()).snapshot();
  return ro;
}

absl::Status EventStore::ScanVerified(
    const std::function<absl::Status(uint64_t, std::string_view, const RecordView&)>& fn)
    const {
  // The durable head first, then the snapshot: the snapshot holds at least
  // every durable record, and the stored head in it is at or past them.
  const uint64_t durable = GetHead().position;
  std::optional<rocksdb::ManagedSnapshot> snapshot;
  rocksdb::ReadOptions ro = SnapshotRead(snapshot);
  const std::string upper = PositionKey(durable + 1);
  rocksdb::Slice upper_slice(upper);
  rocksdb::ReadOptions scan_ro = ro;
  scan_ro.iterate_upper_bound = &upper_slice;
  scan_ro.readahead_size = 2 << 20;
  scan_ro.fill_cache = false;

  // The record waiting for its proof is kept in one of two buffers (the
  // iterator's bytes are gone after Next), its view pointing into it.
  std::array<std::string, 2> bytes;
  std::array<RecordView, 2> views;
  uint64_t pending = 0;         // position of the record waiting; 0: none yet
  Sha256Digest pending_hash{};  // its hash; zeros before position 1
  uint64_t expected = 1;
  {
    std::unique_ptr<rocksdb::Iterator> it(db_->NewIterator(scan_ro, events_cf_));
    for (it->SeekToFirst(); it->Valid(); it->Next(), ++expected) {
      const rocksdb::Slice key = it->key();
      if (key.size() != 8) {
        return Broken(expected, "a key in the events column family is not a position");
      }
      const uint64_t position = GetBe64(key.ToStringView());
      if (position != expected) {
        return Broken(expected, absl::StrCat("the record is missing (the next stored is ",
                                             position, ")"));
      }
      std::string& current = bytes[position & 1];
      RecordView& view = views[position & 1];
      current.assign(it->value().data(), it->value().size());
      if (absl::Status s = DecodeRecord(current, &view); !s.ok()) {
        return Broken(position, std::string(s.message()));
      }
      if (view.position != position) {
        return Broken(position,
                      absl::StrCat("the record names position ", view.position));
      }
      const Sha256Digest hash = Sha256(current);
      if (view.prev_hash != AsStringView(pending_hash)) {
        if (position == 1) {
          return Broken(1, "the first record's prev_hash is not zero");
        }
        // The link between position-1 and position is broken: one of the two
        // records changed. If this one changed, its link onward is broken too.
        if (NextLinkBroken(ro, position, AsStringView(hash))) {
          return Broken(position,
                        "the record does not hash into the chain: its links to both "
                        "neighbours are broken");
        }
        return Broken(position - 1,
                      absl::StrCat("the record's bytes no longer hash to the prev_hash "
                                   "stored by position ",
                                   position));
      }
      if (pending > 0) {
        MEND_RETURN_IF_ERROR(fn(pending, bytes[pending & 1], views[pending & 1]));
      }
      pending = position;
      pending_hash = hash;
    }
    MEND_RETURN_IF_ERROR(FromRocksDb(it->status(), "scan event log"));
  }

  // The last record against the stored head.
  const uint64_t last = pending;
  std::string stored_head;
  rocksdb::Status s = db_->Get(ro, meta_cf_, kHeadKey, &stored_head);
  if (s.IsNotFound()) {
    if (last == 0) return absl::OkStatus();
    return Broken(last, "the log has events but no stored head");
  }
  MEND_RETURN_IF_ERROR(FromRocksDb(s, "read the stored head"));
  if (stored_head.size() != 8 + kSha256Size) {
    return Broken(last + 1, "the stored head is malformed");
  }
  const uint64_t head_position = GetBe64(stored_head);
  const std::string_view head_hash = std::string_view(stored_head).substr(8);
  if (head_position < last) {
    return Broken(head_position + 1,
                  absl::StrCat("the record is after the stored head ", head_position));
  }
  if (head_position == last) {
    if (head_hash != AsStringView(pending_hash)) {
      return Broken(last, "the last record does not match the stored head's hash");
    }
  } else {
    // The stored head is further on: only right if the records after `last`
    // are appends in flight (written, not yet durable) that link to it.
    std::string next;
    rocksdb::Status n = db_->Get(ro, events_cf_, PositionKey(last + 1), &next);
    if (n.IsNotFound() || last < durable) {
      return Broken(last + 1,
                    absl::StrCat("the record is missing: the log ends at ", last,
                                 " but the stored head is ", head_position));
    }
    MEND_RETURN_IF_ERROR(FromRocksDb(n, "read the event after the head"));
    RecordView next_view;
    if (!DecodeRecord(next, &next_view).ok() ||
        next_view.prev_hash != AsStringView(pending_hash)) {
      return Broken(last, absl::StrCat("the record's bytes no longer hash to the "
                                       "prev_hash stored by position ",
                                       last + 1));
    }
  }
  if (last > 0) MEND_RETURN_IF_ERROR(fn(last, bytes[last & 1], views[last & 1]));
  return absl::OkStatus();
}

VerifyReport EventStore::Verify() const {
  VerifyReport report;
  report.head = Head{0, ZeroHash()};
  auto fail = [&report](uint64_t position, std::string problem) {
    report.ok = false;
    report.first_bad_position = position;
    report.problem = std::move(problem);
    return report;
  };
  absl::flat_hash_map<std::string, uint64_t> versions;
  RecordView env;
  std::string index_value;
  uint64_t expected = 1;
  // One consistent view of the whole database, even while appends go on.
  std::optional<rocksdb::ManagedSnapshot> snapshot;
  rocksdb::ReadOptions ro = SnapshotRead(snapshot);
  // The Merkle tree is recomputed alongside and every node it should have
  // compared with the stored one.
  merkle::Frontier tree;
  std::unique_ptr<rocksdb::Iterator> it(db_->NewIterator(ro, events_cf_));
  for (it->SeekToFirst(); it->Valid(); it->Next(), ++expected) {
    if (it->key().size() != 8) {
      return fail(expected, "a key in the events column family is not a position");
    }
    const uint64_t position = GetBe64(it->key().ToStringView());
    if (position != expected) {
      return fail(expected, absl::StrCat("position ", expected,
                                         " is missing (next stored is ", position, ")"));
    }
    const std::string_view bytes = it->value().ToStringView();
    if (absl::Status s = DecodeRecord(bytes, &env); !s.ok()) {
      return fail(position, std::string(s.message()));
    }
    if (env.prev_hash != report.head.hash) {
      // The link between position-1 and position is broken: one of the two
      // records changed. If this record changed, its link to the next record
      // is broken too; if only the previous record changed, it is not.
      if (position == 1 || NextLinkBroken(ro, position, Sha256Bytes(bytes))) {
        return fail(position, absl::StrCat("record does not hash into the chain: "
                                           "its links to both neighbours are broken"));
      }
      return fail(position - 1,
                  absl::StrCat("record's bytes no longer hash to the prev_hash stored "
                               "by position ",
                               position));
    }
    if (env.position != position) {
      return fail(position, absl::StrCat("record names position ", env.position));
    }
    uint64_t& version = versions[std::string(env.stream_id)];
    if (env.stream_version != version + 1) {
      return fail(position,
                  absl::StrCat("stream ", std::string(env.stream_id), " version ",
                               env.stream_version, " follows version ", version));
    }
    version = env.stream_version;
    rocksdb::Status s =
        db_->Get(ro, streams_cf_, StreamKey(env.stream_id, version), &index_value);
    if (!s.ok() || index_value != it->key().ToStringView()) {
      return fail(position, absl::StrCat("stream index for ", std::string(env.stream_id),
                                         " version ", version, " does not point here"));
    }
    if (tree_cf_ != nullptr) {
      for (const merkle::Frontier::Node& node : tree.Append(merkle::LeafHash(bytes))) {
        absl::StatusOr<std::string> stored = TreeNode(ro, node.level, node.index);
        if (!stored.ok()) return fail(position, std::string(stored.status().message()));
        if (*stored != node.hash) {
          return fail(position,
                      absl::StrCat("Merkle tree node (level ", node.level, ", index ",
                                   node.index, ") does not match the records"));
        }
      }
    }
    report.head = Head{position, Sha256Bytes(bytes)};
    ++report.events_checked;
  }
  if (!it->status().ok()) {
    return fail(expected, absl::StrCat("RocksDB: ", it->status().ToString()));
  }
  std::string stored_head;
  rocksdb::Status s = db_->Get(ro, meta_cf_, kHeadKey, &stored_head);
  if (s.ok()) {
    if (stored_head.size() != 8 + kSha256Size) {
      return fail(report.head.position + 1, "stored head record is malformed");
    }
    const uint64_t head_position = GetBe64(stored_head);
    if (head_position > report.head.position) {
      return fail(report.head.position + 1,
                  absl::StrCat("log ends at ", report.head.position,
                               " but the stored head is ", head_position));
    }
    if (head_position < report.head.position) {
      return fail(head_position + 1,
                  absl::StrCat("records after the stored head ", head_position));
    }
    if (head_position == report.head.position &&
        std::string_view(stored_head).substr(8) != report.head.hash) {
      return fail(head_position, "last record does not match the stored head hash");
    }
  } else if (!s.IsNotFound()) {
    return fail(report.head.position + 1, absl::StrCat("RocksDB: ", s.ToString()));
  } else if (report.head.position > 0) {
    return fail(report.head.position, "log has events but no stored head");
  }
  // The newest signed tree head must be a head of this tree: its root the
  // root of the (just checked) nodes at its size.
  absl::StatusOr<std::optional<std::pair<uint64_t, std::string>>> newest =
      NewestTreeHead();
  if (!newest.ok())
    return fail(report.head.position, std::string(newest.status().message()));
  if (newest->has_value()) {
    const auto& [size, bytes] = **newest;
    v1::SignedTreeHead signed_head;
    v1::TreeHead head;
    if (!signed_head.ParseFromString(bytes) ||
        !head.ParseFromString(signed_head.head()) || head.tree_size() != size) {
      return fail(size,
                  absl::StrCat("the signed tree head of size ", size, " is malformed"));
    }
    if (size > report.head.position) {
      return fail(report.head.position + 1,
                  absl::StrCat("the newest signed tree head covers ", size,
                               " records; the log ends at ", report.head.position));
    }
    absl::StatusOr<std::string> root = merkle::RootFromNodes(
        size, [&](uint64_t level, uint64_t index) { return TreeNode(ro, level, index); });
    if (!root.ok() || *root != head.root_hash()) {
      return fail(size, absl::StrCat("the signed tree head of size ", size,
                                     " does not match the log's Merkle tree"));
    }
  }
  return report;
}

}  // namespace mend::eventlog
