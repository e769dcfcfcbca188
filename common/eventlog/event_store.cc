// The event store: open, recovery, the commit pipeline, reads, keys and
// verification. The on-disk format is written out in store_keys.h.
#include "common/eventlog/event_store.h"

#include <algorithm>
#include <atomic>
#include <cstring>
#include <filesystem>

#include "absl/container/flat_hash_set.h"
#include "absl/strings/str_cat.h"
#include "common/base/sha256.h"
#include "common/base/status_macros.h"
#include "common/eventlog/record_codec.h"
#include "common/eventlog/rocksdb_status.h"
#include "common/eventlog/store_info_log.h"
#include "common/eventlog/store_keys.h"
#include "mend/eventlog/v1/record.pb.h"
#include "rocksdb/db.h"
#include "rocksdb/filter_policy.h"
#include "rocksdb/listener.h"
#include "rocksdb/options.h"
#include "rocksdb/snapshot.h"
#include "rocksdb/table.h"
#include "rocksdb/write_batch.h"

namespace mend::eventlog {
namespace {

using store_internal::GetBe64;
using store_internal::kCheckpointsCf;
using store_internal::kIdsCf;
using store_internal::kKeysCf;
using store_internal::kSnapshotsCf;
using store_internal::kStreamsCf;
using store_internal::PutBe64;
using store_internal::SnapshotKey;
using store_internal::StreamKey;
using store_internal::ZeroHash;

constexpr uint32_t kSchemaVersion = 1;
constexpr size_t kMaxIdBytes = 256;
constexpr size_t kMaxRequestBytes = 16 << 20;
// The longest the sync thread waits for more writes before an fsync.
constexpr absl::Duration kMaxSyncGatherWait = absl::Milliseconds(2);

bool IsPrintableAscii(std::string_view s) {
  return std::all_of(s.begin(), s.end(), [](char c) { return c > 0x20 && c < 0x7f; });
}

absl::Status CheckId(std::string_view what, std::string_view value) {
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

absl::Status CheckOptional(std::string_view what, std::string_view value) {
  if (value.size() > kMaxIdBytes) {
    return absl::InvalidArgumentError(absl::StrCat(
        std::string(what), " is ", value.size(), " bytes; the limit is ", kMaxIdBytes));
  }
  return absl::OkStatus();
}

std::string DescribeExpected(const ExpectedVersion& e) {
  switch (e.kind) {
    case ExpectedVersion::Kind::kAny:
      return "any";
    case ExpectedVersion::Kind::kNoStream:
      return "no stream";
    case ExpectedVersion::Kind::kExists:
      return "an existing stream";
    case ExpectedVersion::Kind::kExact:
      return absl::StrCat("version ", e.version);
  }
  return "unknown";
}

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

// The batch being filled by callers while the previous one is synced.
// One caller's write, waiting in a batch.
struct EventStore::Request {
  const WriteRequest* request;
  const std::vector<std::string>* digests;  // content digest of every event
  absl::StatusOr<WriteResult> result;       // set by the commit thread
};

// The requests that share one RocksDB write. Callers join the open batch;
// the commit thread lays it out and writes it; the sync thread fsyncs it and
// wakes its callers.
struct EventStore::Batch {
  std::vector<Request*> requests;  // in arrival order (= chain order)
  rocksdb::WriteBatch wb;
  size_t events = 0;
  uint64_t last_position = 0;  // head after this batch, if events > 0
  std::string last_hash;
  // Event ids laid out in this batch and not yet in RocksDB, for idempotency
  // between requests of the same batch.
  absl::flat_hash_map<std::string, PriorEvent> ids;
  absl::Status status;  // written before `durable` is set

  // The callers of a batch sleep on this one word, and a single futex wake
  // rouses exactly them (not the callers of other batches).
  void Wait() {
    while (durable.load(std::memory_order_acquire) == 0) {
      durable.wait(0, std::memory_order_acquire);
    }
  }
  void WakeAll() {
    durable.store(1, std::memory_order_release);
    durable.notify_all();
  }

 private:
  std::atomic<uint32_t> durable{0};
};

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
  // A failed write stops the store until it is reopened (see the header);
  // RocksDB must not resume writing behind its back either.
  db_options.listeners.push_back(std::make_shared<FailureListener>(
      [this](const rocksdb::Status& s) { Fail(s, "background write"); }));
  if (options_.env != nullptr) db_options.env = options_.env;
  // RocksDB's own info log aborts the process on a full disk (see
  // store_info_log.h); this one drops what it cannot write.
  if (!options_.read_only && options_.create_if_missing) {
    std::error_code ignored;  // Open reports a directory it cannot make
    std::filesystem::create_directories(options_.path, ignored);
  }
  db_options.info_log = std::make_shared<StoreInfoLog>(options_.path + "/LOG");

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
  };
  rocksdb::DB* raw = nullptr;
  rocksdb::Status s =
      options_.read_only
          ? rocksdb::DB::OpenForReadOnly(db_options, options_.path, cfs, &handles_, &raw)
          : rocksdb::DB::Open(db_options, options_.path, cfs, &handles_, &raw);
  if (!s.ok()) return FromRocksDb(s, absl::StrCat("open event log at ", options_.path));
  db_.reset(raw);
  events_cf_ = handles_[1];
  streams_cf_ = handles_[2];
  ids_cf_ = handles_[3];
  checkpoints_cf_ = handles_[4];
  snapshots_cf_ = handles_[5];
  meta_cf_ = handles_[6];
  keys_cf_ = handles_[7];
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

absl::StatusOr<AppendResult> EventStore::Append(std::string_view stream_id,
                                                ExpectedVersion expected,
                                                std::vector<NewEvent> events) {
  WriteRequest request;
  request.appends.push_back(
      StreamAppend{std::string(stream_id), expected, std::move(events)});
  MEND_ASSIGN_OR_RETURN(WriteResult result, Write(std::move(request)));
  return result.appends.front();
}

absl::Status EventStore::ValidateRequest(const WriteRequest& request) const {
  if (request.appends.empty() && request.checkpoints.empty()) {
    return absl::InvalidArgumentError("nothing to write: no events and no checkpoints");
  }
  absl::flat_hash_set<std::string_view> streams;
  absl::flat_hash_set<std::string_view> ids;
  size_t total_bytes = 0;
  for (const StreamAppend& append : request.appends) {
    MEND_RETURN_IF_ERROR(CheckId("stream id", append.stream_id));
    if (!streams.insert(append.stream_id).second) {
      return absl::InvalidArgumentError(
          absl::StrCat("stream ", append.stream_id, " appears twice in one write"));
    }
    switch (append.expected.kind) {
      case ExpectedVersion::Kind::kAny:
      case ExpectedVersion::Kind::kNoStream:
      case ExpectedVersion::Kind::kExists:
      case ExpectedVersion::Kind::kExact:
        break;
      default:
        return absl::InvalidArgumentError("unknown expected-version form");
    }
    if (append.events.empty()) {
      return absl::InvalidArgumentError(
          absl::StrCat("append to ", append.stream_id, " has no events"));
    }
    if (append.events.size() > options_.max_events_per_append) {
      return absl::InvalidArgumentError(absl::StrCat("append has ", append.events.size(),
                                                     " events; the limit is ",
                                                     options_.max_events_per_append));
    }
    for (const NewEvent& e : append.events) {
      MEND_RETURN_IF_ERROR(CheckId("event id", e.event_id));
      MEND_RETURN_IF_ERROR(CheckId("event type", e.event_type));
      MEND_RETURN_IF_ERROR(CheckOptional("actor id", e.actor_id));
      MEND_RETURN_IF_ERROR(CheckOptional("actor role", e.actor_role));
      MEND_RETURN_IF_ERROR(CheckOptional("correlation id", e.correlation_id));
      MEND_RETURN_IF_ERROR(CheckOptional("causation id", e.causation_id));
      if (e.payload.size() > options_.max_payload_bytes) {
        return absl::InvalidArgumentError(
            absl::StrCat("payload of event ", e.event_id, " is ", e.payload.size(),
                         " bytes; the limit is ", options_.max_payload_bytes));
      }
      if (!ids.insert(e.event_id).second) {
        return absl::InvalidArgumentError(
            absl::StrCat("event id ", e.event_id, " appears twice in one write"));
      }
      total_bytes += e.payload.size();
    }
  }
  if (total_bytes > kMaxRequestBytes) {
    return absl::InvalidArgumentError(absl::StrCat("write carries ", total_bytes,
                                                   " payload bytes; the limit is ",
                                                   kMaxRequestBytes));
  }
  absl::flat_hash_set<std::string_view> consumers;
  for (const Checkpoint& c : request.checkpoints) {
    MEND_RETURN_IF_ERROR(CheckId("checkpoint consumer", c.consumer));
    if (!consumers.insert(c.consumer).second) {
      return absl::InvalidArgumentError(
          absl::StrCat("checkpoint ", c.consumer, " appears twice in one write"));
    }
  }
  return absl::OkStatus();
}

absl::StatusOr<WriteResult> EventStore::Write(WriteRequest request) {
  if (options_.read_only) {
    return absl::FailedPreconditionError("event log was opened read-only");
  }
  MEND_RETURN_IF_ERROR(ValidateRequest(request));
  // Content digests (for idempotency) are computed before taking the lock.
  std::vector<std::string> digests;
  for (const StreamAppend& append : request.appends) {
    for (const NewEvent& e : append.events) {
      Sha256Digest d = Sha256({append.stream_id, std::string_view("\0", 1), e.event_type,
                               std::string_view("\0", 1), e.payload});
      digests.emplace_back(AsStringView(d));
    }
  }
  Request pending{&request, &digests, absl::UnknownError("not yet prepared")};
  std::shared_ptr<Batch> batch;
  {
    absl::MutexLock lock(&queue_mu_);
    if (closing_) return absl::UnavailableError("event log is closing");
    if (!failed_.ok()) return failed_;
    batch = open_batch_;
    batch->requests.push_back(&pending);
  }
  // Every answer, refusals included, waits for the batch to be durable: a
  // conflict or a deduplicated retry is then reported against durable state.
  batch->Wait();
  if (!batch->status.ok()) return batch->status;
  return std::move(pending.result);
}

absl::StatusOr<uint64_t> EventStore::StreamVersion(const std::string& stream_id) {
  auto it = stream_versions_.find(stream_id);
  if (it != stream_versions_.end()) return it->second;
  std::string prefix = stream_id;
  prefix.push_back('\0');
  std::unique_ptr<rocksdb::Iterator> iter(db_->NewIterator({}, streams_cf_));
  iter->SeekForPrev(StreamKey(stream_id, UINT64_MAX));
  uint64_t version = 0;
  if (iter->Valid() && iter->key().starts_with(prefix) &&
      iter->key().size() == prefix.size() + 8) {
    version = GetBe64(iter->key().ToStringView().substr(prefix.size()));
  }
  MEND_RETURN_IF_ERROR(FromRocksDb(iter->status(), "read stream version"));
  stream_versions_.emplace(stream_id, version);
  return version;
}

absl::StatusOr<std::optional<EventStore::PriorEvent>> EventStore::LookupEventId(
    const std::string& event_id, const Batch& batch) {
  // Earlier batches are already written to RocksDB (durable or not yet);
  // earlier requests of this batch are only in `batch.ids`.
  auto it = batch.ids.find(event_id);
  if (it != batch.ids.end()) return it->second;
  std::string value;
  rocksdb::Status s = db_->Get({}, ids_cf_, event_id, &value);
  if (s.IsNotFound()) return std::nullopt;
  MEND_RETURN_IF_ERROR(FromRocksDb(s, "read event id index"));
  if (value.size() != 16 + kSha256Size) {
    return absl::DataLossError(absl::StrCat("event id index entry for ", event_id,
                                            " has ", value.size(), " bytes"));
  }
  return PriorEvent{GetBe64(value), GetBe64(std::string_view(value).substr(8)),
                    value.substr(16)};
}

void EventStore::Prepare(Batch& batch) {
  for (Request* request : batch.requests) {
    request->result = PrepareRequest(*request, batch);
  }
}

absl::StatusOr<WriteResult> EventStore::PrepareRequest(const Request& pending,
                                                       Batch& batch) {
  const WriteRequest& request = *pending.request;
  const std::vector<std::string>& digests = *pending.digests;
  WriteResult out;
  out.appends.resize(request.appends.size());
  // Phase 1: decide every append (dedup or version check) before writing any.
  std::vector<bool> deduplicated(request.appends.size(), false);
  std::vector<uint64_t> base_versions(request.appends.size(), 0);
  size_t digest_index = 0;
  for (size_t i = 0; i < request.appends.size(); ++i) {
    const StreamAppend& append = request.appends[i];
    size_t seen = 0;
    std::optional<PriorEvent> first, last;
    for (size_t j = 0; j < append.events.size(); ++j) {
      const NewEvent& e = append.events[j];
      MEND_ASSIGN_OR_RETURN(std::optional<PriorEvent> prior,
                            LookupEventId(e.event_id, batch));
      if (!prior.has_value()) continue;
      if (prior->digest != digests[digest_index + j]) {
        return absl::AlreadyExistsError(absl::StrCat(
            "event id ", e.event_id, " was appended before (position ", prior->position,
            ") with different content; use a new event id"));
      }
      ++seen;
      if (j == 0) first = prior;
      if (j + 1 == append.events.size()) last = prior;
    }
    digest_index += append.events.size();
    if (seen == append.events.size()) {
      deduplicated[i] = true;
      out.appends[i] = AppendResult{first->position, last->stream_version, true};
      continue;
    }
    if (seen > 0) {
      return absl::AlreadyExistsError(absl::StrCat(
          "append to ", append.stream_id, ": ", seen, " of its ", append.events.size(),
          " event ids were appended before; a retry must repeat the same events"));
    }
    MEND_ASSIGN_OR_RETURN(uint64_t current, StreamVersion(append.stream_id));
    bool ok = true;
    switch (append.expected.kind) {
      case ExpectedVersion::Kind::kAny:
        break;
      case ExpectedVersion::Kind::kNoStream:
        ok = current == 0;
        break;
      case ExpectedVersion::Kind::kExists:
        ok = current > 0;
        break;
      case ExpectedVersion::Kind::kExact:
        ok = current == append.expected.version;
        break;
    }
    if (!ok) {
      return absl::AbortedError(absl::StrCat(
          "version conflict on stream ", append.stream_id, ": expected ",
          DescribeExpected(append.expected), ", current version is ", current));
    }
    base_versions[i] = current;
  }

  // Phase 2: lay the records on the chain.
  const int64_t now_micros =
      absl::ToUnixMicros(options_.clock ? options_.clock() : absl::Now());
  v1::StoredRecord record;
  std::string value;
  std::string id_value;
  size_t first_digest = 0;  // index in `digests` of this append's first event
  for (size_t i = 0; i < request.appends.size();
       first_digest += request.appends[i].events.size(), ++i) {
    if (deduplicated[i]) continue;
    const StreamAppend& append = request.appends[i];
    uint64_t version = base_versions[i];
    out.appends[i].first_position = next_position_;
    for (size_t j = 0; j < append.events.size(); ++j) {
      const NewEvent& e = append.events[j];
      const uint64_t position = next_position_++;
      ++version;
      v1::Envelope* env = record.mutable_envelope();
      env->set_position(position);
      env->set_stream_id(append.stream_id);
      env->set_stream_version(version);
      env->set_event_type(e.event_type);
      env->set_event_id(e.event_id);
      env->set_recorded_unix_micros(now_micros);
      env->mutable_actor()->set_id(e.actor_id);
      env->mutable_actor()->set_role(e.actor_role);
      env->set_correlation_id(e.correlation_id);
      env->set_causation_id(e.causation_id);
      env->set_schema_version(kSchemaVersion);
      record.set_payload(e.payload);
      record.set_prev_hash(last_hash_);
      value.clear();
      record.SerializeToString(&value);
      last_hash_ = Sha256Bytes(value);

      const std::string pos_key = PositionKey(position);
      batch.wb.Put(events_cf_, pos_key, value).PermitUncheckedError();
      batch.wb.Put(streams_cf_, StreamKey(append.stream_id, version), pos_key)
          .PermitUncheckedError();
      const std::string& digest = digests[first_digest + j];
      id_value.clear();
      PutBe64(&id_value, position);
      PutBe64(&id_value, version);
      id_value.append(digest);
      batch.wb.Put(ids_cf_, e.event_id, id_value).PermitUncheckedError();
      batch.ids[e.event_id] = PriorEvent{position, version, digest};
      ++batch.events;
    }
    stream_versions_[append.stream_id] = version;
    out.appends[i].stream_version = version;
    batch.last_position = next_position_ - 1;
    batch.last_hash = last_hash_;
  }
  for (const Checkpoint& c : request.checkpoints) {
    batch.wb.Put(checkpoints_cf_, c.consumer, PositionKey(c.position))
        .PermitUncheckedError();
  }
  return out;
}

void EventStore::CommitLoop() {
  // Not synced here: the sync thread makes every written batch durable, and
  // the callers hear back only then. Laying out and writing the next batch
  // while the previous fsync runs lets one fsync serve as many callers as
  // possible.
  rocksdb::WriteOptions write;
  write.sync = false;
  for (;;) {
    std::shared_ptr<Batch> batch;
    absl::Status status;
    {
      queue_mu_.LockWhen(absl::Condition(
          +[](EventStore* s) ABSL_NO_THREAD_SAFETY_ANALYSIS {
            return !s->open_batch_->requests.empty() || s->closing_;
          },
          this));
      if (open_batch_->requests.empty()) {  // closing and drained
        queue_mu_.Unlock();
        break;
      }
      batch = std::move(open_batch_);
      open_batch_ = std::make_shared<Batch>();
      status = failed_;
      queue_mu_.Unlock();
    }
    if (status.ok()) {
      const absl::Time start = absl::Now();
      Prepare(*batch);
      if (batch->wb.Count() > 0) {
        if (batch->events > 0) {
          std::string head_value = PositionKey(batch->last_position);
          head_value.append(batch->last_hash);
          batch->wb.Put(meta_cf_, kHeadKey, head_value).PermitUncheckedError();
        }
        rocksdb::Status s = db_->Write(write, &batch->wb);
        if (!s.ok()) status = Fail(s, "write");
      }
      stats_.write_nanos_total.fetch_add(absl::ToInt64Nanoseconds(absl::Now() - start),
                                         std::memory_order_relaxed);
    }
    batch->status = status;
    batch->ids.clear();  // in RocksDB now
    absl::MutexLock lock(&sync_mu_);
    sync_queue_requests_ += batch->requests.size();
    sync_queue_.push_back(std::move(batch));
  }
  absl::MutexLock lock(&sync_mu_);
  commit_done_ = true;
}

void EventStore::SyncLoop() {
  // What the previous fsync answered and how long it took: the callers it
  // woke are on their way back with their next appends.
  uint64_t last_answered = 0;
  absl::Duration last_sync;
  for (;;) {
    std::vector<std::shared_ptr<Batch>> batches;
    {
      sync_mu_.LockWhen(absl::Condition(
          +[](EventStore* s) ABSL_NO_THREAD_SAFETY_ANALYSIS {
            return !s->sync_queue_.empty() || s->commit_done_;
          },
          this));
      // An fsync started the moment the first of them is written answers only
      // the quickest, and the rest wait a whole further fsync (on a disk whose
      // fsync is slow, several such cohorts form and each pays for its own).
      // So wait, for at most half the last fsync's time, until as many
      // requests are written as the last fsync answered.
      if (last_answered > 1 && sync_queue_requests_ < last_answered && !commit_done_) {
        struct Args {
          EventStore* store;
          uint64_t want;
        } args{this, last_answered};
        sync_mu_.AwaitWithTimeout(absl::Condition(
                                      +[](Args* a) ABSL_NO_THREAD_SAFETY_ANALYSIS {
                                        return a->store->sync_queue_requests_ >=
                                                   a->want ||
                                               a->store->commit_done_;
                                      },
                                      &args),
                                  std::min(last_sync / 2, kMaxSyncGatherWait));
      }
      batches.swap(sync_queue_);
      sync_queue_requests_ = 0;
      sync_mu_.Unlock();
    }
    if (batches.empty()) return;  // commit thread finished and all is synced
    // One fsync covers every batch written so far, in WAL order.
    bool need_sync = false;
    uint64_t requests = 0;  // answered by this round's fsync, for the histogram
    for (const auto& b : batches) {
      need_sync |= b->status.ok() && b->wb.Count() > 0;
      if (b->status.ok()) requests += b->requests.size();
    }
    absl::Status sync_status;
    {
      absl::MutexLock lock(&queue_mu_);
      sync_status = failed_;  // after a failure nothing more is acknowledged
    }
    if (need_sync && sync_status.ok()) {
      const absl::Time start = absl::Now();
      rocksdb::Status s = db_->SyncWAL();
      last_sync = absl::Now() - start;
      last_answered = requests;
      const int64_t sync_nanos = absl::ToInt64Nanoseconds(last_sync);
      stats_.sync_nanos_total.fetch_add(sync_nanos, std::memory_order_relaxed);
      stats_.syncs.fetch_add(1, std::memory_order_relaxed);
      stats_.RecordSync(requests,
                        static_cast<uint64_t>(std::max<int64_t>(sync_nanos, 0)));
      if (!s.ok()) sync_status = Fail(s, "fsync");
    }
    const Batch* last_with_events = nullptr;
    for (const auto& b : batches) {
      // Every batch of a failed round fails, even one that wrote nothing: its
      // answers (a deduplicated retry, a conflict) may rest on a batch of
      // this round that is not durable.
      if (b->status.ok() && !sync_status.ok()) b->status = sync_status;
      if (!b->status.ok()) continue;
      stats_.batches_committed.fetch_add(1, std::memory_order_relaxed);
      stats_.requests_committed.fetch_add(b->requests.size(), std::memory_order_relaxed);
      stats_.events_appended.fetch_add(b->events, std::memory_order_relaxed);
      if (b->events > 0) last_with_events = b.get();
    }
    if (last_with_events != nullptr) {
      absl::MutexLock lock(&head_mu_);
      head_.position = last_with_events->last_position;
      head_.hash = last_with_events->last_hash;
      for (auto& [id, fn] : listeners_) fn(head_.position);
    }
    // Wake only the callers whose batches are durable now.
    for (const auto& b : batches) b->WakeAll();
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
  std::string value;
  rocksdb::Status s = db_->Get({}, checkpoints_cf_, consumer, &value);
  if (s.IsNotFound()) return 0;
  MEND_RETURN_IF_ERROR(FromRocksDb(s, "read checkpoint"));
  if (value.size() != 8) {
    return absl::DataLossError(
        absl::StrCat("checkpoint ", std::string(consumer), " is malformed"));
  }
  return GetBe64(value);
}

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
  if (rocksdb::Status s = db_->Write(wo, &wb); !s.ok()) return Fail(s, "save snapshot");
  return absl::OkStatus();
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
  if (s = db_->Put(wo, keys_cf_, key_id, wrapped_key); !s.ok())
    return Fail(s, "store key");
  return absl::OkStatus();
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
  if (rocksdb::Status s = db_->Delete(wo, keys_cf_, key_id); !s.ok()) {
    return Fail(s, "delete key");
  }
  // The key's bytes are still in the write-ahead log (shared by every column
  // family) and in the keys column family's SST files. Flushing every column
  // family makes the WAL that holds them obsolete; compacting the keys column
  // family rewrites its SSTs without them; purging deletes the obsolete files
  // now rather than at some later background run.
  if (rocksdb::Status s = db_->Flush({}, handles_); !s.ok()) {
    return Fail(s, "flush before erasure");
  }
  rocksdb::CompactRangeOptions compact;
  compact.bottommost_level_compaction = rocksdb::BottommostLevelCompaction::kForce;
  if (rocksdb::Status s = db_->CompactRange(compact, keys_cf_, nullptr, nullptr);
      !s.ok()) {
    return Fail(s, "compact keys");
  }
  MEND_RETURN_IF_ERROR(FromRocksDb(db_->DisableFileDeletions(), "purge obsolete files"));
  return FromRocksDb(db_->EnableFileDeletions(/*force=*/true), "purge obsolete files");
}

}  // namespace mend::eventlog
