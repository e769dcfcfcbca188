// The event store's Merkle tree: recovery at open (and building it for a log
// written before it existed), the stored nodes, roots and proofs. The
// commit pipeline (event_store_commit.cc) appends the leaves.
#include <memory>
#include <optional>
#include <string>
#include <utility>
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

using store_internal::GetBe64;
using store_internal::TreeKey;

// Nodes written per WriteBatch while a tree is built for an old log.
constexpr size_t kBuildBatchNodes = 20000;

}  // namespace

absl::StatusOr<std::string> EventStore::TreeNode(const rocksdb::ReadOptions& ro,
                                                 uint64_t level, uint64_t index) const {
  if (level < store_internal::kLowestStoredTreeLevel) {
    // Not stored: hashed from the records it covers, positions
    // index·2^level + 1 .. (index+1)·2^level.
    auto leaf = [&](uint64_t position) -> absl::StatusOr<std::string> {
      std::string bytes;
      rocksdb::Status s = db_->Get(ro, events_cf_, PositionKey(position), &bytes);
      if (s.IsNotFound()) {
        return absl::DataLossError(absl::StrCat("Merkle tree leaf ", position - 1,
                                                ": record ", position, " is missing"));
      }
      if (!s.ok()) return FromRocksDb(s, "read a record for the Merkle tree");
      return merkle::LeafHash(bytes);
    };
    if (level == 0) return leaf(index + 1);
    MEND_ASSIGN_OR_RETURN(std::string left, leaf(2 * index + 1));
    MEND_ASSIGN_OR_RETURN(std::string right, leaf(2 * index + 2));
    return merkle::NodeHash(left, right);
  }
  std::string hash;
  rocksdb::Status s = db_->Get(ro, tree_cf_, TreeKey(level, index), &hash);
  if (s.IsNotFound()) {
    return absl::DataLossError(absl::StrCat("Merkle tree node (level ", level, ", index ",
                                            index, ") is missing"));
  }
  if (!s.ok()) return FromRocksDb(s, "read a Merkle tree node");
  if (hash.size() != merkle::kHashSize) {
    return absl::DataLossError(absl::StrCat("Merkle tree node (level ", level, ", index ",
                                            index, ") is malformed"));
  }
  return hash;
}

absl::Status EventStore::RecoverTree(uint64_t head_position) {
  if (tree_cf_ == nullptr) return absl::OkStatus();  // an old log, read-only
  const rocksdb::ReadOptions ro;
  absl::StatusOr<merkle::Frontier> frontier = merkle::Frontier::FromNodes(
      head_position,
      [&](uint64_t level, uint64_t index) { return TreeNode(ro, level, index); });
  if (frontier.ok()) {
    frontier_ = *std::move(frontier);
    return absl::OkStatus();
  }
  if (!absl::IsDataLoss(frontier.status())) return frontier.status();
  // A log from before the tree (or a build cut short): build it from the
  // records, in order.
  merkle::Frontier built;
  rocksdb::WriteBatch wb;
  rocksdb::WriteOptions write;
  write.sync = true;
  absl::Status status = absl::OkStatus();
  std::unique_ptr<rocksdb::Iterator> it(db_->NewIterator(ro, events_cf_));
  for (it->SeekToFirst(); it->Valid() && built.size() < head_position; it->Next()) {
    if (it->key().size() != 8 || GetBe64(it->key().ToStringView()) != built.size() + 1) {
      return absl::DataLossError(absl::StrCat("building the Merkle tree: position ",
                                              built.size() + 1, " is missing"));
    }
    for (const merkle::Frontier::Node& node :
         built.Append(merkle::LeafHash(it->value().ToStringView()))) {
      if (node.level < store_internal::kLowestStoredTreeLevel) continue;
      wb.Put(tree_cf_, TreeKey(node.level, node.index), node.hash).PermitUncheckedError();
    }
    if (!options_.read_only && static_cast<size_t>(wb.Count()) >= kBuildBatchNodes) {
      MEND_RETURN_IF_ERROR(FromRocksDb(db_->Write(write, &wb), "build the Merkle tree"));
      wb.Clear();
    }
  }
  MEND_RETURN_IF_ERROR(FromRocksDb(it->status(), "build the Merkle tree"));
  if (built.size() != head_position) {
    return absl::DataLossError(absl::StrCat("building the Merkle tree: the log ends at ",
                                            built.size(), ", its head is ",
                                            head_position));
  }
  if (!options_.read_only && wb.Count() > 0) {
    MEND_RETURN_IF_ERROR(FromRocksDb(db_->Write(write, &wb), "build the Merkle tree"));
  }
  frontier_ = std::move(built);
  return absl::OkStatus();
}

absl::Status EventStore::CheckTreeSize(uint64_t tree_size) const {
  if (tree_cf_ == nullptr) {
    return absl::FailedPreconditionError(
        "this log was written before it kept a Merkle tree: open it for writing once to "
        "build the tree");
  }
  const uint64_t head = GetHead().position;
  if (tree_size > head) {
    return absl::OutOfRangeError(
        absl::StrCat("tree size ", tree_size, " is past the log's head (", head, ")"));
  }
  return absl::OkStatus();
}

absl::StatusOr<std::string> EventStore::TreeRoot(uint64_t tree_size) const {
  MEND_RETURN_IF_ERROR(CheckTreeSize(tree_size));
  const rocksdb::ReadOptions ro;
  return merkle::RootFromNodes(tree_size, [&](uint64_t level, uint64_t index) {
    return TreeNode(ro, level, index);
  });
}

absl::StatusOr<std::vector<std::string>> EventStore::InclusionProof(
    uint64_t position, uint64_t tree_size) const {
  if (position == 0) {
    return absl::InvalidArgumentError("position: positions start at 1");
  }
  if (position > tree_size) {
    return absl::InvalidArgumentError(absl::StrCat(
        "position ", position, " is not in a tree of ", tree_size, " records"));
  }
  MEND_RETURN_IF_ERROR(CheckTreeSize(tree_size));
  const rocksdb::ReadOptions ro;
  return merkle::InclusionProof(
      position - 1, tree_size,
      [&](uint64_t level, uint64_t index) { return TreeNode(ro, level, index); });
}

absl::StatusOr<std::vector<std::string>> EventStore::ConsistencyProof(
    uint64_t from_size, uint64_t to_size) const {
  if (from_size == 0) {
    return absl::InvalidArgumentError(
        "from_size: must be at least 1 (every tree extends the empty one)");
  }
  if (from_size > to_size) {
    return absl::InvalidArgumentError(
        absl::StrCat("from_size ", from_size, " is after to_size ", to_size));
  }
  MEND_RETURN_IF_ERROR(CheckTreeSize(to_size));
  const rocksdb::ReadOptions ro;
  return merkle::ConsistencyProof(
      from_size, to_size,
      [&](uint64_t level, uint64_t index) { return TreeNode(ro, level, index); });
}

absl::Status EventStore::PutTreeHead(uint64_t tree_size, std::string_view signed_head) {
  MEND_RETURN_IF_ERROR(CheckWritable());
  if (tree_size == 0) {
    return absl::InvalidArgumentError(
        "tree_size: a signed head covers at least 1 record");
  }
  MEND_RETURN_IF_ERROR(CheckTreeSize(tree_size));
  rocksdb::WriteOptions wo;
  wo.sync = true;
  return CallWal("store a signed tree head", [&] {
    return db_->Put(wo, tree_cf_, store_internal::TreeHeadKey(tree_size), signed_head);
  });
}

absl::StatusOr<std::optional<std::string>> EventStore::GetTreeHead(
    uint64_t tree_size) const {
  if (tree_cf_ == nullptr) return std::nullopt;
  std::string value;
  rocksdb::Status s =
      db_->Get({}, tree_cf_, store_internal::TreeHeadKey(tree_size), &value);
  if (s.IsNotFound()) return std::nullopt;
  MEND_RETURN_IF_ERROR(FromRocksDb(s, "read a signed tree head"));
  return value;
}

absl::StatusOr<std::optional<std::pair<uint64_t, std::string>>>
EventStore::NewestTreeHead() const {
  if (tree_cf_ == nullptr) return std::nullopt;
  std::unique_ptr<rocksdb::Iterator> it(db_->NewIterator({}, tree_cf_));
  it->SeekToLast();
  if (!it->Valid()) {
    MEND_RETURN_IF_ERROR(FromRocksDb(it->status(), "read the signed tree heads"));
    return std::nullopt;
  }
  const std::string_view key = it->key().ToStringView();
  const std::string_view prefix = store_internal::kTreeHeadPrefix;
  if (!key.starts_with(prefix)) return std::nullopt;  // only nodes so far
  if (key.size() != prefix.size() + 8) {
    return absl::DataLossError("a signed tree head's key is malformed");
  }
  return std::make_pair(GetBe64(key.substr(prefix.size())), it->value().ToString());
}

absl::StatusOr<std::vector<std::pair<uint64_t, std::string>>> EventStore::ListTreeHeads()
    const {
  std::vector<std::pair<uint64_t, std::string>> heads;
  if (tree_cf_ == nullptr) return heads;
  const std::string_view prefix = store_internal::kTreeHeadPrefix;
  std::unique_ptr<rocksdb::Iterator> it(db_->NewIterator({}, tree_cf_));
  for (it->Seek(rocksdb::Slice(prefix.data(), prefix.size()));
       it->Valid() && it->key().ToStringView().starts_with(prefix); it->Next()) {
    const std::string_view key = it->key().ToStringView();
    if (key.size() != prefix.size() + 8) {
      return absl::DataLossError("a signed tree head's key is malformed");
    }
    heads.emplace_back(GetBe64(key.substr(prefix.size())), it->value().ToString());
  }
  MEND_RETURN_IF_ERROR(FromRocksDb(it->status(), "read the signed tree heads"));
  return heads;
}

}  // namespace mend::eventlog
