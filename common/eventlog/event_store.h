// EventStore: the append-only, hash-chained event log of one mend service,
// on RocksDB.
//
//   MEND_ASSIGN_OR_RETURN(auto store, EventStore::Open({.path = dir}));
//   MEND_ASSIGN_OR_RETURN(AppendResult r,
//       store->Append("case-42", ExpectedVersion::NoStream(), {event}));
//   // r.first_position is durable: it survives a crash from here on.
//
// Every event gets a global position (1, 2, 3, ... with no gap) and a version
// within its stream (1, 2, 3, ...). Each stored record carries the SHA-256 of
// the previous record's stored bytes, so changing, removing or reordering any
// record breaks the chain, and Verify() names where. Replay reads the log
// through ScanVerified(), which checks the chain and the stored head as it
// goes and refuses (DATA_LOSS) a broken log.
//
// Durability: an append returns only after the RocksDB write holding it was
// made durable by an fsync of the write-ahead log. Group commit is a
// three-stage pipeline with one writer:
//   1. callers validate their input, then join the open batch (a short lock
//      that only appends a pointer) and sleep;
//   2. the commit thread takes the open batch, lays every request of it on the
//      chain in arrival order (version checks, idempotency, positions, hashes)
//      and writes it to RocksDB as one WriteBatch (WAL and memtable, no sync);
//   3. the sync thread fsyncs the WAL (DB::SyncWAL), which covers every batch
//      written so far, and then wakes exactly the callers of those batches.
//      Before an fsync it waits -- for at most half the previous fsync's time,
//      2 ms at most -- until as many requests are written as the previous
//      fsync answered: the callers it woke are on their way back, and one
//      fsync for all of them beats one each for the quick and the slow.
// So while one fsync runs, the next batch is laid out and more fill; it is
// written the moment the fsync returns (a write and an fsync never overlap:
// see "A full disk" below), and batches written while the sync thread
// gathers share its next fsync. Reads never return a record before it is
// durable (they stop at the durable head).
// If a write or an fsync fails, every caller in the affected batches, and in
// any batch written after them, gets UNAVAILABLE, and the store refuses
// further appends until it is reopened: the chain built in memory can no
// longer be trusted to match the disk.
//
// A full disk (ENOSPC anywhere: WAL append or sync, memtable flush, MANIFEST)
// is such a failure, reported as UNAVAILABLE "... disk full: ...". Once the
// store has seen a failed write, sync or background flush it calls no
// RocksDB write, SyncWAL or Flush on that database again (each such call
// runs under one lock with the check for a failure, and a failed call
// records the failure before the lock is released, so no call can slip in
// between: RocksDB asserts when a WAL file that saw a failed append is
// synced or written again): Append, Write,
// SaveSnapshot, PutKey and DeleteKey answer with the failure, while reads,
// GetHead, Verify and the counters go on. Closing never flushes memtables
// (every acknowledged append is in the fsynced WAL), so closing a failed store
// writes nothing. RocksDB's info log is the store's own (StoreInfoLog), which
// drops what it cannot write rather than abort, and RocksDB's automatic
// recovery from background errors is off: only a reopen clears a failure.
//
// Thread safety: all methods may be called concurrently from any thread.
#ifndef MEND_COMMON_EVENTLOG_EVENT_STORE_H_
#define MEND_COMMON_EVENTLOG_EVENT_STORE_H_

#include <array>
#include <atomic>
#include <cstddef>
#include <cstdint>
#include <functional>
#include <memory>
#include <optional>
#include <string>
#include <string_view>
#include <thread>
#include <utility>
#include <vector>

#include "absl/base/thread_annotations.h"
#include "absl/container/flat_hash_map.h"
#include "absl/functional/function_ref.h"
#include "absl/status/status.h"
#include "absl/status/statusor.h"
#include "absl/synchronization/mutex.h"
#include "absl/time/time.h"
#include "common/eventlog/event_types.h"
#include "common/eventlog/record_codec.h"
#include "common/merkle/merkle.h"

namespace rocksdb {
class DB;
class ManagedSnapshot;
class Status;
class ColumnFamilyHandle;
class Env;
struct ReadOptions;
}  // namespace rocksdb

namespace mend::eventlog {

struct Snapshot {
  uint64_t position = 0;  // the state includes every event up to here
  std::string state;
};

struct VerifyReport {
  bool ok = true;
  uint64_t events_checked = 0;
  uint64_t first_bad_position = 0;  // 0 when ok
  std::string problem;              // what is wrong there, when not ok
  Head head;                        // the last good record seen
};

// What a pass over a log's records found of them, for the check of what the
// store keeps beside the records (EventStore::CheckStructures): per
// position, what the stream and event-id indexes must say; the Merkle tree's
// nodes the store keeps, as the records hash. Verify() fills it from its own
// pass; an auditor fills it from its own (mend-audit verify), so the records
// are read and hashed once. Distinct positions and nodes may be set from
// different threads.
struct RecordFacts {
  struct At {
    size_t stream_hash = 0;
    uint64_t version = 0;
    size_t event_id_hash = 0;
  };
  // Room for the facts of a log of `size` records.
  explicit RecordFacts(uint64_t size);
  void Set(uint64_t position, const RecordView& view);
  // A node the records' tree completes; those of levels the store does not
  // keep are ignored.
  void SetNode(uint64_t level, uint64_t index, std::string_view hash);

  // Positions 1..good are the records found good (set by the pass), and
  // `complete` if the pass reached the log's head with none found bad.
  uint64_t good = 0;
  bool complete = false;
  Head head;           // the last good record
  std::vector<At> at;  // [position - 1]
  // [level][index]: levels from the lowest stored one up; lower ones empty.
  std::vector<std::vector<std::array<uint8_t, 32>>> nodes;
};

// Counters for metrics. Monotonic; read with relaxed loads.
struct StoreStats {
  std::atomic<uint64_t> events_appended{0};     // durable events
  std::atomic<uint64_t> batches_committed{0};   // durable batches
  std::atomic<uint64_t> requests_committed{0};  // answered requests in them
  std::atomic<uint64_t> write_nanos_total{0};   // RocksDB Write (WAL + memtable)
  std::atomic<uint64_t> syncs{0};               // WAL fsyncs
  std::atomic<uint64_t> sync_nanos_total{0};    // time in them

  // Two histograms with one observation per WAL fsync: how many requests the
  // fsync answered (the group-commit size) and how long it took. Bucket i
  // counts observations in (bound[i-1], bound[i]] -- per bucket, not
  // cumulative; the last bucket counts those above every bound. The sums are
  // sync_requests_total and sync_nanos_total; the counts are the buckets'
  // totals (equal to `syncs` once RecordSync has returned).
  static constexpr std::array<uint64_t, 12> kSyncRequestsBounds = {
      1, 2, 4, 8, 16, 32, 64, 128, 256, 512, 1024, 4096};
  static constexpr std::array<double, 15> kSyncSecondsBounds = {
      0.0001, 0.00025, 0.0005, 0.001, 0.0025, 0.005, 0.01, 0.025,
      0.05,   0.1,     0.25,   0.5,   1,      2.5,   10};
  std::array<std::atomic<uint64_t>, kSyncRequestsBounds.size() + 1>
      sync_requests_buckets{};
  std::atomic<uint64_t> sync_requests_total{0};
  std::array<std::atomic<uint64_t>, kSyncSecondsBounds.size() + 1> sync_seconds_buckets{};

  // Adds one fsync that answered `requests` requests in `nanos` to the two
  // histograms (the caller counts `syncs` and `sync_nanos_total`).
  void RecordSync(uint64_t requests, uint64_t nanos) {
    size_t i = 0;
    while (i < kSyncRequestsBounds.size() && requests > kSyncRequestsBounds[i]) ++i;
    sync_requests_buckets[i].fetch_add(1, std::memory_order_relaxed);
    sync_requests_total.fetch_add(requests, std::memory_order_relaxed);
    const double seconds = static_cast<double>(nanos) * 1e-9;
    i = 0;
    while (i < kSyncSecondsBounds.size() && seconds > kSyncSecondsBounds[i]) ++i;
    sync_seconds_buckets[i].fetch_add(1, std::memory_order_relaxed);
  }
};

class EventStore {
 public:
  struct Options {
    std::string path;
    bool create_if_missing = true;
    // Opens without the write lock, for auditors and tools next to a running
    // service: reads see the log as of Open; every write fails with
    // FAILED_PRECONDITION.
    bool read_only = false;
    // With read_only: opens as a RocksDB secondary instance, which replays
    // the primary's write-ahead log at Open, so reads see every record the
    // running service had written by then, and which stays consistent while
    // the service compacts (a plain read-only open sees the log as of the
    // last flush). The directory holds the secondary's own files (its info
    // log); the service's directory is never written. Empty: a plain
    // read-only open (whose info log is dropped: nothing is written).
    std::string secondary_path{};
    // Upper limits; larger input is INVALID_ARGUMENT.
    size_t max_payload_bytes = 1 << 20;
    size_t max_events_per_append = 1000;
    // Clock for recorded_unix_micros. Defaults to absl::Now.
    std::function<absl::Time()> clock = nullptr;
    // Tests only: a RocksDB Env that injects faults. Not owned.
    rocksdb::Env* env = nullptr;
    // Benchmarks only: false appends without keeping the Merkle tree (to
    // measure what it costs); the tree's functions are then
    // FAILED_PRECONDITION, and a later open with the tree rebuilds it.
    bool maintain_tree = true;
  };

  // Opens (or creates) the log at options.path and recovers its head.
  // INVALID_ARGUMENT for an empty path; UNAVAILABLE if another process holds
  // the write lock, or the disk is full ("disk full") or read-only (opening
  // writes a new WAL and MANIFEST); DATA_LOSS if RocksDB finds corruption.
  static absl::StatusOr<std::unique_ptr<EventStore>> Open(const Options& options);

  // Waits for in-flight appends to finish, then closes the database.
  ~EventStore();

  EventStore(const EventStore&) = delete;
  EventStore& operator=(const EventStore&) = delete;

  // Appends `events` to one stream, all or nothing. Returns once durable.
  //   INVALID_ARGUMENT  bad stream id, no events, too many, missing event id or
  //                     type, payload over the limit, an event id repeated
  //                     within the call. Nothing is written.
  //   ABORTED           `expected` does not hold; the message names the
  //                     stream's current version. Nothing is written.
  //   ALREADY_EXISTS    an event id was appended before with other content,
  //                     or only some of the ids were appended before.
  //   UNAVAILABLE       the write failed (or an earlier one did); retry after
  //                     the service restarts. Whether it was written is not
  //                     known: retry with the same event ids.
  //   FAILED_PRECONDITION  the store was opened read-only.
  // If every event id was appended before with the same content, returns the
  // original result with deduplicated=true and appends nothing.
  absl::StatusOr<AppendResult> Append(std::string_view stream_id,
                                      ExpectedVersion expected,
                                      std::vector<NewEvent> events);

  // Appends to several streams and stores checkpoints, atomically (one
  // WriteBatch). Errors as Append; a checkpoint with an empty consumer name is
  // INVALID_ARGUMENT. A request with only checkpoints is valid.
  absl::StatusOr<WriteResult> Write(WriteRequest request);

  // The last durable position and its record's hash.
  Head GetHead() const;

  // Up to `max_count` records with position >= from_position, in order,
  // stopping early once their bytes reach `max_bytes` (at least one record is
  // returned if any exists). from_position 0 is read as 1.
  absl::StatusOr<std::vector<RawRecord>> Read(uint64_t from_position, size_t max_count,
                                              size_t max_bytes = SIZE_MAX) const;

  // Up to `max_count` records of one stream with version >= from_version.
  // An unknown stream gives an empty result.
  // INVALID_ARGUMENT for a malformed stream id.
  absl::StatusOr<std::vector<RawRecord>> ReadStream(std::string_view stream_id,
                                                    uint64_t from_version,
                                                    size_t max_count,
                                                    size_t max_bytes = SIZE_MAX) const;

  // The fast forward scan for replay: calls `fn(position, stored_bytes)` for
  // every record from `from_position` to the head as of the call, in order,
  // until `fn` returns false. The bytes are valid only during the call.
  absl::Status Scan(uint64_t from_position,
                    const std::function<bool(uint64_t, std::string_view)>& fn) const;

  // Replay's scan, with the hash chain proven on the way: calls
  // `fn(position, stored_bytes, view)` for every record from position 1 to
  // the durable head as of the call, in order, each record decoded once and
  // hashed once (`view` points into the bytes; both are valid only during
  // the call). A record is handed to `fn` only after it is proven: the next
  // record's prev_hash, or for the last record the stored head, equals its
  // hash. So a record whose bytes were changed never reaches `fn`.
  //   OK          every record from 1 to the head was given to `fn`.
  //   DATA_LOSS   the log is broken; the message names the first bad position
  //               and what is wrong there: a key that is not a position, a
  //               missing position, a record that does not decode or names
  //               another position, a record whose bytes do not hash to the
  //               prev_hash its successor stored (or to the stored head), a
  //               log that ends before or after the stored head, a log with
  //               events but no stored head. `fn` may have been given the
  //               records before the bad one: the caller must not use what it
  //               built from them (the operator restores from a backup).
  //   fn's error  stops the scan and is returned unchanged.
  //   UNAVAILABLE RocksDB could not read.
  // The checks cost one SHA-256 per record over bytes already in memory.
  absl::Status ScanVerified(
      const std::function<absl::Status(uint64_t position, std::string_view bytes,
                                       const RecordView& view)>& fn) const;

  // The consumer's last stored checkpoint; 0 if it has none. While a Write
  // carrying a checkpoint is in flight this may already show it; consumers
  // read their checkpoint when they start, before they write.
  absl::StatusOr<uint64_t> GetCheckpoint(std::string_view consumer) const;
  // The same with the upstream record's hash stored with it (empty if the
  // write gave none); position 0 and no hash if the consumer has none.
  absl::StatusOr<Checkpoint> ReadCheckpoint(std::string_view consumer) const;

  // Stores a snapshot of a service's state as of `position` (durable), and
  // keeps only the newest two per name. UNAVAILABLE if the write fails or the
  // store has failed before (see above); FAILED_PRECONDITION when read-only.
  absl::Status SaveSnapshot(std::string_view name, uint64_t position,
                            std::string_view state);
  // The newest snapshot under `name`, or nullopt.
  absl::StatusOr<std::optional<Snapshot>> LoadSnapshot(std::string_view name) const;

  // Per-person data keys (for crypto-shredding, invariant I6) live in their
  // own column family, outside the hash chain, so deleting one never touches
  // the log. The store keeps the bytes it is given (the key store wraps keys
  // before they get here). Writes are durable on return.
  //   PutKey: INVALID_ARGUMENT for a malformed id; ALREADY_EXISTS if the id
  //           has a key (keys are never replaced, or old data would become
  //           unreadable).
  //   PutKey and DeleteKey: UNAVAILABLE if a write fails or the store has
  //           failed before (see above); FAILED_PRECONDITION when read-only.
  //   GetKey: nullopt if there is none (never made, or erased).
  //   DeleteKey: removes the key, flushes every column family (so the WAL
  //           holding the key becomes obsolete), compacts the keys column
  //           family and deletes the obsolete files at once: no file of the
  //           database holds the key's bytes afterwards (what the file system
  //           keeps of deleted blocks is outside RocksDB's reach). Deleting a
  //           missing key is OK.
  absl::Status PutKey(std::string_view key_id, std::string_view wrapped_key);
  absl::StatusOr<std::optional<std::string>> GetKey(std::string_view key_id) const;
  absl::Status DeleteKey(std::string_view key_id);

  // Walks the whole log: every key is a position, positions run 1..N with no
  // gap, every record parses and names its own position, each record's hash
  // equals the prev_hash its successor stored, stream versions run 1..n per
  // stream and the stream index points at them, and the last record matches
  // the stored head. Reports the first bad position.
  VerifyReport Verify() const;
  // The rest of Verify() given the records' facts from a pass that found
  // positions 1..facts.good good: every stream and event-id index entry
  // points at the record it names and every good record has one of each,
  // the stored tree nodes are the records' (every level walked in key
  // order, on two threads), the stored head is the last record, and the
  // newest signed tree head is a head of this tree. The earliest bad
  // position wins; a fact past facts.good is not judged.
  VerifyReport CheckStructures(const RecordFacts& facts) const;

  // The log's RFC 6962 Merkle tree (common/merkle/merkle.h) over its
  // records' stored bytes, one leaf per position (leaf index = position - 1),
  // kept by the commit pipeline in the same WriteBatch as the records. Only
  // durable records are in it.
  //   TreeRoot           the root of the first `tree_size` records (0: the
  //                      empty tree's)
  //   InclusionProof     the audit path of the record at `position`
  //                      (1-based) in the tree of `tree_size` records
  //   ConsistencyProof   that the tree of `to_size` records extends the one
  //                      of `from_size` (0 < from_size <= to_size)
  // INVALID_ARGUMENT for a position 0 or past tree_size, or sizes out of
  // order; OUT_OF_RANGE for a size past the durable head; DATA_LOSS for a
  // node the tree should have and does not (Verify says where).
  absl::StatusOr<std::string> TreeRoot(uint64_t tree_size) const;
  absl::StatusOr<std::vector<std::string>> InclusionProof(uint64_t position,
                                                          uint64_t tree_size) const;
  absl::StatusOr<std::vector<std::string>> ConsistencyProof(uint64_t from_size,
                                                            uint64_t to_size) const;

  // Signed tree heads (a serialised mend.eventlog.v1.SignedTreeHead), kept
  // beside the tree, outside the chain. PutTreeHead stores the head of the
  // tree of `tree_size` records (1..durable head: INVALID_ARGUMENT /
  // OUT_OF_RANGE otherwise) with a synced write; FAILED_PRECONDITION on a
  // read-only store; the same size again replaces it. GetTreeHead: the head
  // saved for `tree_size`, nullopt if none; NewestTreeHead: the one of the
  // largest size, nullopt if none.
  absl::Status PutTreeHead(uint64_t tree_size, std::string_view signed_head);
  absl::StatusOr<std::optional<std::string>> GetTreeHead(uint64_t tree_size) const;
  absl::StatusOr<std::optional<std::pair<uint64_t, std::string>>> NewestTreeHead() const;
  // Every saved head, by tree size ascending.
  absl::StatusOr<std::vector<std::pair<uint64_t, std::string>>> ListTreeHeads() const;

  // A consistent copy of the whole store -- the log and everything kept
  // beside it: indexes, follower checkpoints, snapshots, data keys, the tree
  // and its signed heads -- taken while appends go on, as a RocksDB
  // checkpoint in `dir` (an absolute path that must not exist; its parent
  // must). SST files are hard-linked when `dir` is on the store's file
  // system (copied otherwise); the MANIFEST and the write-ahead log are
  // copied. Nothing is flushed: the store's own files are not written and
  // appends are not held up. The copy is openable as a store (read-only, or
  // as the log of a service restored from it).
  // It holds every append acknowledged before the call began, and possibly
  // batches written while it ran (whole batches, never part of one). Returns
  // the copy's head, read back from the copy.
  //   FAILED_PRECONDITION  a read-only store; `dir`'s parent is not a directory
  //   INVALID_ARGUMENT     `dir` is empty or relative
  //   ALREADY_EXISTS       `dir` exists
  //   UNAVAILABLE          the copy failed ("disk full" for ENOSPC); nothing
  //                        is left at `dir`, and the store goes on serving
  absl::StatusOr<Head> CreateCheckpoint(const std::string& dir) const;

  // Blocks until the durable head passes `position`, the deadline passes or
  // the store closes. Returns the head position at return.
  uint64_t WaitForHeadAbove(uint64_t position, absl::Time deadline) const;

  // Registers `fn` to be called with the new head position after every
  // durable batch. `fn` runs on the commit thread: it must only signal
  // (set a flag, notify a condition), never block or read the store.
  // Returns an id for RemoveHeadListener.
  int AddHeadListener(std::function<void(uint64_t)> fn);
  void RemoveHeadListener(int id);

  const StoreStats& stats() const { return stats_; }
  const Options& options() const { return options_; }

 private:
  struct Batch;
  struct Request;
  struct PriorEvent {  // what the event-id index says about an id
    uint64_t position;
    uint64_t stream_version;
    std::string digest;
  };

  explicit EventStore(const Options& options);
  absl::Status OpenDb();
  absl::Status RecoverHead();
  absl::Status ValidateRequest(const WriteRequest& request) const;

  // The commit thread's work, in order: Prepare lays each request of a batch
  // on the chain (or refuses it) and fills the batch's WriteBatch.
  void CommitLoop();
  void Prepare(Batch& batch);
  absl::StatusOr<WriteResult> PrepareRequest(const Request& request, Batch& batch);
  absl::StatusOr<uint64_t> StreamVersion(const std::string& stream_id);
  absl::StatusOr<std::optional<PriorEvent>> LookupEventId(const std::string& event_id,
                                                          const Batch& batch);
  void SyncLoop();
  // Puts the store in the failed state (first failure wins) and returns it:
  // UNAVAILABLE naming `what` failed and why ("disk full" for ENOSPC).
  absl::Status Fail(const rocksdb::Status& cause, std::string_view what);
  // Runs `call` -- a RocksDB call that may append to or sync the write-ahead
  // log (Write, Put, Delete, SyncWAL, Flush, CompactRange) -- holding wal_mu_,
  // and only if the store has not failed. If `call` fails, the store is put
  // in the failed state before wal_mu_ is released, so no other such call
  // starts between a failed append and the failed state (RocksDB's
  // WritableFileWriter asserts when a file that saw a failed append is
  // written or synced again; a SyncWAL racing a failed Write aborted the
  // process). Returns OK; the failure, without running `call`, once the
  // store has failed; or Fail(what `call` returned, what).
  absl::Status CallWal(std::string_view what, absl::FunctionRef<rocksdb::Status()> call)
      ABSL_LOCKS_EXCLUDED(wal_mu_, queue_mu_);
  // OK if the store may write: FAILED_PRECONDITION when read-only, the
  // failure once one happened.
  absl::Status CheckWritable() const;
  // Whether the record after `position` (or the stored head, for the last
  // record) disagrees with `hash`, the hash of the record at `position`.
  VerifyReport CheckStructures(const RecordFacts& facts,
                               const rocksdb::ReadOptions& snapshot_ro) const;
  bool NextLinkBroken(const rocksdb::ReadOptions& ro, uint64_t position,
                      std::string_view hash) const;
  // The stored hash of the perfect subtree (level, index): DATA_LOSS if it
  // is not there (or malformed).
  absl::StatusOr<std::string> TreeNode(const rocksdb::ReadOptions& ro, uint64_t level,
                                       uint64_t index) const;
  // The tree's right edge at the head, from the stored nodes; a store
  // written before the tree existed gets its nodes built from the records
  // first (and written, unless it is read-only).
  absl::Status RecoverTree(uint64_t head_position);
  // Read options on one consistent view: a snapshot put in `snapshot`, for a
  // store that may be written to while it reads.
  rocksdb::ReadOptions SnapshotRead(
      std::optional<rocksdb::ManagedSnapshot>& snapshot) const;
  // OUT_OF_RANGE past the durable head; the tree's column family present.
  absl::Status CheckTreeSize(uint64_t tree_size) const;

  // Constant after Open.
  const Options options_;
  std::unique_ptr<rocksdb::DB> db_;
  std::vector<rocksdb::ColumnFamilyHandle*> handles_;
  rocksdb::ColumnFamilyHandle* events_cf_ = nullptr;
  rocksdb::ColumnFamilyHandle* streams_cf_ = nullptr;
  rocksdb::ColumnFamilyHandle* ids_cf_ = nullptr;
  rocksdb::ColumnFamilyHandle* checkpoints_cf_ = nullptr;
  rocksdb::ColumnFamilyHandle* snapshots_cf_ = nullptr;
  rocksdb::ColumnFamilyHandle* meta_cf_ = nullptr;
  rocksdb::ColumnFamilyHandle* keys_cf_ = nullptr;
  rocksdb::ColumnFamilyHandle* tree_cf_ = nullptr;  // null: an old read-only log
  StoreStats stats_;
  absl::Mutex keys_mu_;  // makes PutKey's check-then-put atomic
  // Held across every RocksDB call that may append to or sync the WAL, with
  // the check of failed_ (see CallWal). Taken before queue_mu_.
  absl::Mutex wal_mu_ ABSL_ACQUIRED_BEFORE(queue_mu_);

  // Owned by the commit thread (set up by Open before it starts): the chain
  // as written to RocksDB, which runs ahead of the durable head.
  uint64_t next_position_ = 1;
  std::string last_hash_;
  merkle::Frontier frontier_;  // the commit thread's, like next_position_
  // Current version of every stream touched since Open (read from the streams
  // index on first touch).
  absl::flat_hash_map<std::string, uint64_t> stream_versions_;

  // Guarded by queue_mu_: the batch callers are joining. Callers hold it only
  // to add themselves, so they never queue behind each other's work.
  mutable absl::Mutex queue_mu_;
  std::shared_ptr<Batch> open_batch_ ABSL_GUARDED_BY(queue_mu_);
  absl::Status failed_ ABSL_GUARDED_BY(queue_mu_);
  bool closing_ ABSL_GUARDED_BY(queue_mu_) = false;

  // Guarded by head_mu_: the durable head and its listeners.
  mutable absl::Mutex head_mu_;
  Head head_ ABSL_GUARDED_BY(head_mu_);
  bool head_closed_ ABSL_GUARDED_BY(head_mu_) = false;
  int next_listener_id_ ABSL_GUARDED_BY(head_mu_) = 1;
  std::vector<std::pair<int, std::function<void(uint64_t)>>> listeners_
      ABSL_GUARDED_BY(head_mu_);

  // Guarded by sync_mu_: batches written to RocksDB, waiting for the fsync.
  absl::Mutex sync_mu_;
  std::vector<std::shared_ptr<Batch>> sync_queue_ ABSL_GUARDED_BY(sync_mu_);
  uint64_t sync_queue_requests_ ABSL_GUARDED_BY(sync_mu_) = 0;  // in sync_queue_
  bool commit_done_ ABSL_GUARDED_BY(sync_mu_) = false;

  std::thread commit_thread_;
  std::thread sync_thread_;
};

// Names of the RocksDB column families and the key of a record in
// kEventsColumnFamily, for tools and tests that read RocksDB directly.
inline constexpr char kEventsColumnFamily[] = "events";
// The stored head, key kHeadKey of kMetaColumnFamily: position:be64 hash:32,
// written in the same WriteBatch as the records it covers.
inline constexpr char kMetaColumnFamily[] = "meta";
// The Merkle tree's nodes (see store_keys.h for their keys).
inline constexpr char kTreeColumnFamily[] = "tree";
inline constexpr char kHeadKey[] = "head";
std::string PositionKey(uint64_t position);

}  // namespace mend::eventlog

#endif  // MEND_COMMON_EVENTLOG_EVENT_STORE_H_
