// The event store's commit pipeline: callers validate and join the open
// batch (Write), the commit thread lays each batch on the chain and writes it
// (CommitLoop, Prepare), the sync thread fsyncs and answers (SyncLoop). See
// event_store.h for the contract.
#include <algorithm>
#include <memory>
#include <optional>
#include <string>
#include <utility>
#include <vector>

#include "absl/container/flat_hash_set.h"
#include "absl/strings/str_cat.h"
#include "absl/time/clock.h"
#include "absl/time/time.h"
#include "common/base/sha256.h"
#include "common/base/status_macros.h"
#include "common/eventlog/event_store.h"
#include "common/eventlog/event_store_batch.h"
#include "common/eventlog/rocksdb_status.h"
#include "common/eventlog/store_keys.h"
#include "mend/eventlog/v1/record.pb.h"
#include "rocksdb/db.h"
#include "rocksdb/write_batch.h"

namespace mend::eventlog {
namespace {

using store_internal::CheckId;
using store_internal::CheckOptional;
using store_internal::GetBe64;
using store_internal::PutBe64;
using store_internal::StreamKey;

constexpr uint32_t kSchemaVersion = 1;
constexpr size_t kMaxRequestBytes = 16 << 20;
// The longest the sync thread waits for more writes before an fsync.
constexpr absl::Duration kMaxSyncGatherWait = absl::Milliseconds(2);

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

}  // namespace

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
    if (!c.hash.empty() && c.hash.size() != 32) {
      return absl::InvalidArgumentError(absl::StrCat(
          "checkpoint ", c.consumer, ": a record hash is 32 bytes, not ", c.hash.size()));
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
      // The Merkle tree's new nodes go in the same WriteBatch: a crash never
      // leaves records and tree apart.
      if (tree_cf_ != nullptr) {
        for (const merkle::Frontier::Node& node :
             frontier_.Append(merkle::LeafHash(value))) {
          if (node.level < store_internal::kLowestStoredTreeLevel) continue;
          batch.wb
              .Put(tree_cf_, store_internal::TreeKey(node.level, node.index), node.hash)
              .PermitUncheckedError();
        }
      }
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
    batch.wb.Put(checkpoints_cf_, c.consumer, PositionKey(c.position) + c.hash)
        .PermitUncheckedError();
  }
  return out;
}

void EventStore::CommitLoop() {
  // Not synced here: the sync thread makes every written batch durable, and
  // the callers hear back only then. Laying out the next batch while the
  // previous fsync runs, and writing it as soon as the fsync returns (the
  // write waits for wal_mu_), lets one fsync serve as many callers as
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
      // The work, not the wait for wal_mu_ (an fsync may hold it).
      const absl::Time start = absl::Now();
      Prepare(*batch);
      absl::Duration took = absl::Now() - start;
      if (batch->wb.Count() > 0) {
        if (batch->events > 0) {
          std::string head_value = PositionKey(batch->last_position);
          head_value.append(batch->last_hash);
          batch->wb.Put(meta_cf_, kHeadKey, head_value).PermitUncheckedError();
        }
        status = CallWal("write", [&] {
          const absl::Time write_start = absl::Now();
          rocksdb::Status s = db_->Write(write, &batch->wb);
          took += absl::Now() - write_start;
          return s;
        });
      }
      stats_.write_nanos_total.fetch_add(absl::ToInt64Nanoseconds(took),
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
    // After a failure nothing more is acknowledged, and the WAL is not synced
    // (CallWal checks and syncs under one lock: a failed write of the commit
    // thread cannot come between).
    absl::Status sync_status;
    if (need_sync) {
      std::optional<absl::Duration> took;  // set when the fsync ran
      sync_status = CallWal("fsync", [&] {
        const absl::Time start = absl::Now();
        rocksdb::Status s = db_->SyncWAL();
        took = absl::Now() - start;
        return s;
      });
      if (took.has_value()) {
        last_sync = *took;
        last_answered = requests;
        const int64_t sync_nanos = absl::ToInt64Nanoseconds(last_sync);
        stats_.sync_nanos_total.fetch_add(sync_nanos, std::memory_order_relaxed);
        stats_.syncs.fetch_add(1, std::memory_order_relaxed);
        stats_.RecordSync(requests,
                          static_cast<uint64_t>(std::max<int64_t>(sync_nanos, 0)));
      }
    } else {
      absl::MutexLock lock(&queue_mu_);
      sync_status = failed_;
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

}  // namespace mend::eventlog
