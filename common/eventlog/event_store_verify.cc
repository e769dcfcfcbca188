// The event store's checks of its own log: the verified scan replay uses
// (one pass, one hash per record) and the full audit walk, Verify().
#include <algorithm>
#include <array>
#include <functional>
#include <future>
#include <memory>
#include <optional>
#include <string>
#include <utility>
#include <vector>

#include "absl/container/flat_hash_map.h"
#include "absl/hash/hash.h"
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

RecordFacts::RecordFacts(uint64_t size) : at(size) {
  for (uint64_t level = 0; (size >> level) > 0; ++level) {
    nodes.emplace_back();
    if (level >= store_internal::kLowestStoredTreeLevel)
      nodes.back().resize(size >> level);
  }
}

void RecordFacts::Set(uint64_t position, const RecordView& view) {
  const absl::Hash<absl::string_view> hash;
  if (position > at.size()) at.resize(position);  // (growth: one thread only)
  at[position - 1] = {
      hash(absl::string_view(view.stream_id.data(), view.stream_id.size())),
      view.stream_version,
      hash(absl::string_view(view.event_id.data(), view.event_id.size()))};
}

void RecordFacts::SetNode(uint64_t level, uint64_t index, std::string_view hash) {
  if (level < store_internal::kLowestStoredTreeLevel || hash.size() != kSha256Size)
    return;
  if (level >= nodes.size()) nodes.resize(level + 1);  // (growth: one thread only)
  std::vector<std::array<uint8_t, 32>>& row = nodes[level];
  if (index >= row.size()) row.resize(index + 1);
  std::copy(hash.begin(), hash.end(), row[index].begin());
}

namespace {

// The earliest problem found by one walk; walks on two threads merge theirs.
struct Earliest {
  bool ok = true;
  uint64_t position = 0;
  std::string problem;

  void Note(uint64_t at, std::string what) {
    if (ok || at < position) {
      ok = false;
      position = at;
      problem = std::move(what);
    }
  }
  void Into(VerifyReport& report) const {
    if (!ok && (report.ok || position < report.first_bad_position)) {
      report.ok = false;
      report.first_bad_position = position;
      report.problem = problem;
    }
  }
};

}  // namespace

// Verify walks the records once, in order (the pass that fills the facts),
// then CheckStructures walks each index and each level of the stored tree
// once, in its own key order, against them: no point lookup per record, so
// the whole runs near the speed of a scan. The earliest bad position found
// by either is the one reported.
VerifyReport EventStore::Verify() const {
  VerifyReport report;
  report.head = Head{0, ZeroHash()};
  Earliest found;
  // One consistent view of the whole database, even while appends go on.
  std::optional<rocksdb::ManagedSnapshot> snapshot;
  const rocksdb::ReadOptions structures_ro = SnapshotRead(snapshot);
  rocksdb::ReadOptions ro = structures_ro;
  ro.readahead_size = 2 << 20;
  ro.fill_cache = false;

  RecordFacts facts(GetHead().position);
  {
    absl::flat_hash_map<std::string, uint64_t> versions;
    RecordView env;
    merkle::Frontier tree;
    uint64_t expected = 1;
    std::unique_ptr<rocksdb::Iterator> it(db_->NewIterator(ro, events_cf_));
    for (it->SeekToFirst(); it->Valid(); it->Next(), ++expected) {
      if (it->key().size() != 8) {
        found.Note(expected, "a key in the events column family is not a position");
        break;
      }
      const uint64_t position = GetBe64(it->key().ToStringView());
      if (position != expected) {
        found.Note(expected, absl::StrCat("position ", expected,
                                          " is missing (next stored is ", position, ")"));
        break;
      }
      const std::string_view bytes = it->value().ToStringView();
      if (absl::Status s = DecodeRecord(bytes, &env); !s.ok()) {
        found.Note(position, std::string(s.message()));
        break;
      }
      const Sha256Digest record_hash = Sha256(bytes);
      if (env.prev_hash != report.head.hash) {
        // The link between position-1 and position is broken: one of the two
        // records changed. If this record changed, its link to the next
        // record is broken too; if only the previous record changed, it is
        // not.
        if (position == 1 || NextLinkBroken(ro, position, AsStringView(record_hash))) {
          found.Note(position,
                     "record does not hash into the chain: its links to both "
                     "neighbours are broken");
        } else {
          found.Note(position - 1, absl::StrCat("record's bytes no longer hash to the "
                                                "prev_hash stored by position ",
                                                position));
        }
        break;
      }
      if (env.position != position) {
        found.Note(position, absl::StrCat("record names position ", env.position));
        break;
      }
      auto [slot, inserted] = versions.try_emplace(
          absl::string_view(env.stream_id.data(), env.stream_id.size()), 0);
      if (env.stream_version != slot->second + 1) {
        found.Note(position,
                   absl::StrCat("stream ", std::string(env.stream_id), " version ",
                                env.stream_version, " follows version ", slot->second));
        break;
      }
      slot->second = env.stream_version;
      if (tree_cf_ != nullptr) {
        tree.Push(merkle::LeafHash(bytes),
                  [&](uint64_t level, uint64_t index, std::string_view hash) {
                    facts.SetNode(level, index, hash);
                  });
      }
      facts.Set(position, env);
      report.head.position = position;
      report.head.hash.assign(AsStringView(record_hash));
      ++report.events_checked;
    }
    if (found.ok && !it->status().ok()) {
      found.Note(expected, absl::StrCat("RocksDB: ", it->status().ToString()));
    }
  }
  found.Into(report);
  facts.good = report.events_checked;
  facts.head = report.head;
  facts.complete = report.ok;
  const VerifyReport structures = CheckStructures(facts, structures_ro);
  if (!structures.ok) {
    Earliest{false, structures.first_bad_position, structures.problem}.Into(report);
  }
  return report;
}

VerifyReport EventStore::CheckStructures(const RecordFacts& facts) const {
  std::optional<rocksdb::ManagedSnapshot> snapshot;
  return CheckStructures(facts, SnapshotRead(snapshot));
}

VerifyReport EventStore::CheckStructures(const RecordFacts& facts,
                                         const rocksdb::ReadOptions& snapshot_ro) const {
  VerifyReport report;
  report.head = facts.head;
  report.events_checked = facts.good;
  const uint64_t checked = facts.good;  // positions 1..checked are good
  const absl::Hash<absl::string_view> hash;
  auto view_of = [](std::string_view s) { return absl::string_view(s.data(), s.size()); };
  rocksdb::ReadOptions ro = snapshot_ro;
  ro.readahead_size = 2 << 20;
  ro.fill_cache = false;

  // An index entry past the good records is wrong only when nothing is
  // after them: not when the pass stopped early (that is its finding) or
  // the records after are appends since it read.
  std::string stored_head;
  rocksdb::Status head_read = db_->Get(snapshot_ro, meta_cf_, kHeadKey, &stored_head);
  const bool judge_past = facts.complete && head_read.ok() &&
                          stored_head.size() == 8 + kSha256Size &&
                          GetBe64(stored_head) == checked;
  auto record_at = [&](uint64_t position) {
    std::string bytes;
    RecordView view;
    if (!db_->Get(ro, events_cf_, PositionKey(position), &bytes).ok() ||
        !DecodeRecord(bytes, &view).ok()) {
      return std::make_pair(std::string("?"), std::string("?"));
    }
    return std::make_pair(std::string(view.stream_id), std::string(view.event_id));
  };

  // An index of the records, walked in its own key order against the
  // facts: every entry points at a good record and names what that record
  // is, once; every good record has an entry. `parse` reads an entry (nullopt:
  // malformed); `names` says which of a record's facts the entry's name is
  // hashed against; `entry` names an entry in findings, `unseen` a record
  // with none.
  struct IndexEntry {
    uint64_t position = 0;
    uint64_t version = 0;
    std::string_view name;
  };
  struct Index {
    rocksdb::ColumnFamilyHandle* cf;
    std::function<std::optional<IndexEntry>(std::string_view key, std::string_view value)>
        parse;
    size_t RecordFacts::At::*names;
    std::function<std::string(const IndexEntry&)> entry;
    std::function<std::string(std::string_view key)> malformed;
    bool stop_at_malformed;
    std::function<std::string(uint64_t position)> unseen;
  };
  auto walk = [&](const Index& index) {
    Earliest found;
    std::vector<bool> seen(checked, false);
    std::unique_ptr<rocksdb::Iterator> it(db_->NewIterator(ro, index.cf));
    for (it->SeekToFirst(); it->Valid(); it->Next()) {
      const std::string_view key = it->key().ToStringView();
      const std::optional<IndexEntry> e = index.parse(key, it->value().ToStringView());
      if (!e.has_value()) {
        found.Note(checked + 1, index.malformed(key));
        if (index.stop_at_malformed) break;
        continue;
      }
      if (e->position == 0 || e->position > checked) {
        if (e->position == 0 || judge_past) {
          found.Note(e->position == 0 ? 1 : checked + 1,
                     absl::StrCat(index.entry(*e), " points to position ", e->position,
                                  ", past the log"));
        }
        continue;
      }
      const RecordFacts::At& at = facts.at[e->position - 1];
      if (at.*index.names != hash(view_of(e->name)) || at.version != e->version ||
          seen[e->position - 1]) {
        found.Note(e->position,
                   absl::StrCat(index.entry(*e), " points here, to another event"));
        continue;
      }
      seen[e->position - 1] = true;
    }
    if (!it->status().ok()) {
      found.Note(1, absl::StrCat("RocksDB: ", it->status().ToString()));
    }
    if (auto unseen = std::find(seen.begin(), seen.end(), false); unseen != seen.end()) {
      const uint64_t position = static_cast<uint64_t>(unseen - seen.begin()) + 1;
      found.Note(position, index.unseen(position));
    }
    return found;
  };
  // The stream index (key: stream id, 0, version; value: position), on a
  // second thread.
  const Index streams_index{
      .cf = streams_cf_,
      .parse = [](std::string_view key,
                  std::string_view value) -> std::optional<IndexEntry> {
        if (key.size() < 9 || key[key.size() - 9] != '\0' || value.size() != 8) {
          return std::nullopt;
        }
        return IndexEntry{.position = GetBe64(value),
                          .version = GetBe64(key.substr(key.size() - 8)),
                          .name = key.substr(0, key.size() - 9)};
      },
      .names = &RecordFacts::At::stream_hash,
      .entry =
          [](const IndexEntry& e) {
            return absl::StrCat("stream index for ", std::string(e.name), " version ",
                                e.version);
          },
      .malformed =
          [](std::string_view) {
            return std::string("a stream index entry is malformed");
          },
      .stop_at_malformed = true,
      .unseen =
          [&](uint64_t position) {
            return absl::StrCat("stream index for ", record_at(position).first,
                                " version ", facts.at[position - 1].version,
                                " does not point here");
          },
  };
  std::future<Earliest> streams =
      std::async(std::launch::async, [&] { return walk(streams_index); });

  // Each stored level of the tree, in key order, against the records'
  // nodes, on a third thread: a node is judged when the good records
  // complete it, at the position of the record that does. (The tree's
  // iterators read little each: no readahead.)
  auto tree_levels = [&]() {
    Earliest found;
    if (tree_cf_ == nullptr) return found;
    for (uint64_t level = store_internal::kLowestStoredTreeLevel;
         level < facts.nodes.size() && (checked >> level) > 0; ++level) {
      const uint64_t count = checked >> level;
      std::unique_ptr<rocksdb::Iterator> it(db_->NewIterator(snapshot_ro, tree_cf_));
      it->Seek(store_internal::TreeKey(level, 0));
      for (uint64_t index = 0; index < count; ++index, it->Next()) {
        const uint64_t completed_at = (index + 1) << level;
        const std::string key = store_internal::TreeKey(level, index);
        if (!it->Valid() || it->key().ToStringView() != key) {
          found.Note(completed_at, absl::StrCat("Merkle tree node (level ", level,
                                                ", index ", index, ") is missing"));
          break;
        }
        if (it->value().ToStringView() != AsStringView(facts.nodes[level][index])) {
          found.Note(completed_at,
                     absl::StrCat("Merkle tree node (level ", level, ", index ", index,
                                  ") does not match the records"));
          break;
        }
      }
      if (!it->status().ok()) {
        found.Note(checked, absl::StrCat("RocksDB: ", it->status().ToString()));
      }
    }
    return found;
  };
  std::future<Earliest> tree = std::async(std::launch::async, tree_levels);

  // The event-id index (key: event id; value: position, version, digest),
  // on this thread.
  Earliest found = walk(Index{
      .cf = ids_cf_,
      .parse = [](std::string_view key,
                  std::string_view value) -> std::optional<IndexEntry> {
        if (value.size() != 16 + kSha256Size) return std::nullopt;
        return IndexEntry{
            .position = GetBe64(value), .version = GetBe64(value.substr(8)), .name = key};
      },
      .names = &RecordFacts::At::event_id_hash,
      .entry =
          [](const IndexEntry& e) {
            return absl::StrCat("the event-id index entry for ", std::string(e.name));
          },
      .malformed =
          [](std::string_view key) {
            return absl::StrCat("the event-id index entry for ", std::string(key),
                                " is malformed");
          },
      .stop_at_malformed = false,
      .unseen =
          [&](uint64_t position) {
            return absl::StrCat("the event-id index has no entry for ",
                                record_at(position).second, ", the event here");
          },
  });
  found.Into(report);
  streams.get().Into(report);
  tree.get().Into(report);
  if (!report.ok || !facts.complete) return report;

  // --- The stored head, and the newest signed tree head.
  auto note = [&report](uint64_t position, std::string problem) {
    Earliest{false, position, std::move(problem)}.Into(report);
  };
  if (head_read.ok()) {
    if (stored_head.size() != 8 + kSha256Size) {
      note(report.head.position + 1, "stored head record is malformed");
      return report;
    }
    const uint64_t head_position = GetBe64(stored_head);
    if (head_position > report.head.position) {
      note(report.head.position + 1,
           absl::StrCat("log ends at ", report.head.position, " but the stored head is ",
                        head_position));
      return report;
    }
    if (head_position < report.head.position) {
      note(head_position + 1,
           absl::StrCat("records after the stored head ", head_position));
      return report;
    }
    if (std::string_view(stored_head).substr(8) != report.head.hash) {
      note(head_position, "last record does not match the stored head hash");
      return report;
    }
  } else if (!head_read.IsNotFound()) {
    note(report.head.position + 1, absl::StrCat("RocksDB: ", head_read.ToString()));
    return report;
  } else if (report.head.position > 0) {
    note(report.head.position, "log has events but no stored head");
    return report;
  }
  // The newest signed tree head must be a head of this tree: its root the
  // root of the (just checked) nodes at its size.
  absl::StatusOr<std::optional<std::pair<uint64_t, std::string>>> newest =
      NewestTreeHead();
  if (!newest.ok()) {
    note(report.head.position, std::string(newest.status().message()));
    return report;
  }
  if (newest->has_value()) {
    const auto& [size, bytes] = **newest;
    v1::SignedTreeHead signed_head;
    v1::TreeHead head;
    if (!signed_head.ParseFromString(bytes) ||
        !head.ParseFromString(signed_head.head()) || head.tree_size() != size) {
      note(size, absl::StrCat("the signed tree head of size ", size, " is malformed"));
      return report;
    }
    if (size > report.head.position) {
      note(report.head.position + 1,
           absl::StrCat("the newest signed tree head covers ", size,
                        " records; the log ends at ", report.head.position));
      return report;
    }
    absl::StatusOr<std::string> root = merkle::RootFromNodes(
        size, [&](uint64_t level, uint64_t index) { return TreeNode(ro, level, index); });
    if (!root.ok() || *root != head.root_hash()) {
      note(size, absl::StrCat("the signed tree head of size ", size,
                              " does not match the log's Merkle tree"));
    }
  }
  return report;
}

}  // namespace mend::eventlog
