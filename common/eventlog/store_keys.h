// Keys and values of the event store's RocksDB column families, and the
// checks of ids, shared by the store's source files (event_store*.cc). Internal to the
// store: tools and tests use the names exported by event_store.h.
//
// On-disk format (one RocksDB database per service):
//
//   column family  key                                  value
//   -------------  -----------------------------------  ----------------------------
//   events         position:be64                        StoredRecord (protobuf)
//   streams        stream_id '\0' version:be64          position:be64
//   event_ids      event_id                             position:be64 version:be64
//                                                       content_digest:32
//   checkpoints    consumer                             position:be64
//   snapshots      name '\0' position:be64              state bytes
//   meta           "head"                               position:be64 hash:32
//   keys           (per-person data keys; owned by the key store)
//   tree           level:u8 index:be64                  node hash:32
//                  0xff "head" tree_size:be64           SignedTreeHead (protobuf)
//
//   hash(record)          = SHA-256(stored bytes of the record)
//   record(p).prev_hash   = hash(record(p-1)); 32 zero bytes for p = 1
//   content_digest        = SHA-256(stream_id '\0' event_type '\0' payload)
//   tree(level, index)    = RFC 6962 MTH of the records at positions
//                           [index·2^level + 1, (index+1)·2^level]: every
//                           perfect subtree of the log's Merkle tree from
//                           level kLowestStoredTreeLevel up, leaf hash
//                           SHA-256(0x00 ‖ stored bytes); written in the
//                           WriteBatch of the append that completes it.
//                           The levels below are hashed from the records
//                           when a proof needs them (one to four records),
//                           which keeps an append to half a node write
//
// Positions start at 1 and have no gaps; versions start at 1 per stream. All
// keys of one append (and the checkpoints written with it) go into one
// WriteBatch, so indexes never disagree with the events after a crash.
// Stream ids are printable ASCII, so '\0' ends them unambiguously.
#ifndef MEND_COMMON_EVENTLOG_STORE_KEYS_H_
#define MEND_COMMON_EVENTLOG_STORE_KEYS_H_

#include <algorithm>
#include <cstddef>
#include <cstdint>
#include <string>
#include <string_view>

#include "absl/status/status.h"
#include "absl/strings/str_cat.h"
#include "common/base/sha256.h"

namespace mend::eventlog::store_internal {

inline constexpr char kStreamsCf[] = "streams";
inline constexpr char kIdsCf[] = "event_ids";
inline constexpr char kCheckpointsCf[] = "checkpoints";
inline constexpr char kSnapshotsCf[] = "snapshots";
inline constexpr char kKeysCf[] = "keys";

// Appends `v` as 8 big-endian bytes.
inline void PutBe64(std::string* out, uint64_t v) {
  char buf[8];
  for (int i = 7; i >= 0; --i) {
    buf[i] = static_cast<char>(v & 0xff);
    v >>= 8;
  }
  out->append(buf, 8);
}

// The big-endian number in the first 8 bytes of `in` (which must have them).
inline uint64_t GetBe64(std::string_view in) {
  uint64_t v = 0;
  for (int i = 0; i < 8; ++i) v = (v << 8) | static_cast<uint8_t>(in[i]);
  return v;
}

inline std::string StreamKey(std::string_view stream_id, uint64_t version) {
  std::string key;
  key.reserve(stream_id.size() + 9);
  key.append(stream_id);
  key.push_back('\0');
  PutBe64(&key, version);
  return key;
}

inline std::string TreeKey(uint64_t level, uint64_t index) {
  std::string key(1, static_cast<char>(level));
  PutBe64(&key, index);
  return key;
}

// Tree nodes below this level are not stored: a leaf is its record's hash,
// a level-1 node its two records' (logs written before kept them all; those
// are not read).
inline constexpr uint64_t kLowestStoredTreeLevel = 2;

// Signed tree heads sort after every node (levels are below 64).
inline constexpr char kTreeHeadPrefix[] = "\xffhead";
inline std::string TreeHeadKey(uint64_t tree_size) {
  std::string key(kTreeHeadPrefix);
  PutBe64(&key, tree_size);
  return key;
}

inline std::string SnapshotKey(std::string_view name, uint64_t position) {
  return StreamKey(name, position);  // same shape: name '\0' be64
}

// Ids (stream, event, consumer, snapshot and key ids) are at most this long.
inline constexpr size_t kMaxIdBytes = 256;

inline bool IsPrintableAscii(std::string_view s) {
  return std::all_of(s.begin(), s.end(), [](char c) { return c > 0x20 && c < 0x7f; });
}

// INVALID_ARGUMENT naming `what` unless `value` is 1..kMaxIdBytes bytes of
// printable ASCII without spaces.
inline absl::Status CheckId(std::string_view what, std::string_view value) {
  if (value.empty())
    return absl::InvalidArgumentError(absl::StrCat(std::string(what), " is empty"));
  if (value.size() > kMaxIdBytes) {
    return absl::InvalidArgumentError(absl::StrCat(
        std::string(what), " is ", value.size(), " bytes; the limit is ", kMaxIdBytes));
  }
  if (!IsPrintableAscii(value)) {
    return absl::InvalidArgumentError(
        absl::StrCat(std::string(what), " must be printable ASCII without spaces"));
  }
  return absl::OkStatus();
}

// INVALID_ARGUMENT naming `what` if `value` is over kMaxIdBytes.
inline absl::Status CheckOptional(std::string_view what, std::string_view value) {
  if (value.size() > kMaxIdBytes) {
    return absl::InvalidArgumentError(absl::StrCat(
        std::string(what), " is ", value.size(), " bytes; the limit is ", kMaxIdBytes));
  }
  return absl::OkStatus();
}

// The prev_hash of record 1 and the hash of the empty log's head.
inline std::string ZeroHash() { return std::string(kSha256Size, '\0'); }

}  // namespace mend::eventlog::store_internal

#endif  // MEND_COMMON_EVENTLOG_STORE_KEYS_H_
