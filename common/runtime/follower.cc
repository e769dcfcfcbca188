#include "common/runtime/follower.h"

#include <grpcpp/grpcpp.h>

#include <algorithm>
#include <optional>
#include <utility>
#include <vector>

#include "absl/container/flat_hash_map.h"
#include "absl/container/flat_hash_set.h"
#include "absl/random/random.h"
#include "absl/strings/str_cat.h"
#include "common/base/sha256.h"
#include "common/base/status_macros.h"
#include "common/rpc/status_convert.h"
#include "mend/eventlog/v1/eventlog_service.grpc.pb.h"

namespace mend {

using eventlog::ExpectedVersion;
using eventlog::RecordView;
using eventlog::StreamAppend;
using eventlog::WriteRequest;
using eventlog::WriteResult;

namespace {

constexpr int kMaxAbortedRetries = 20;
// HandleEach keeps a merged write well inside the store's limits (1000 events
// an append, 16 MiB of payload a write, by default).
constexpr size_t kMaxMergedEventsPerStream = 1000;
constexpr size_t kMaxMergedPayloadBytes = 8 << 20;

// The stream's version after `append`, when its expected version says it.
std::optional<uint64_t> VersionAfter(const StreamAppend& append) {
  switch (append.expected.kind) {
    case ExpectedVersion::Kind::kExact:
      return append.expected.version + append.events.size();
    case ExpectedVersion::Kind::kNoStream:
      return append.events.size();
    default:
      return std::nullopt;
  }
}

// Whether `next` may join `merged` (an append to the same stream written
// before it in the same write) without changing what it expects.
bool Mergeable(const StreamAppend& merged, const StreamAppend& next) {
  if (merged.events.size() + next.events.size() > kMaxMergedEventsPerStream) return false;
  switch (next.expected.kind) {
    case ExpectedVersion::Kind::kAny:
    case ExpectedVersion::Kind::kExists:  // `merged` made the stream exist
      return true;
    case ExpectedVersion::Kind::kExact: {
      const std::optional<uint64_t> after = VersionAfter(merged);
      return after.has_value() && *after == next.expected.version;
    }
    case ExpectedVersion::Kind::kNoStream:
    default:
      return false;
  }
}

}  // namespace

BatchEffects Follower::HandleEach(absl::Span<const UpstreamEvent> events,
                                  const EventHandler& handle) {
  return HandleEach(events, handle, nullptr);
}

BatchEffects Follower::HandleEach(absl::Span<const UpstreamEvent> events,
                                  const EventHandler& handle, const KeyOf& key_of) {
  BatchEffects out;
  absl::flat_hash_map<std::string, size_t> stream_index;  // -> out.write.appends
  absl::flat_hash_set<std::string> written_keys;
  size_t payload_bytes = 0;
  for (size_t i = 0; i < events.size(); ++i) {
    std::optional<std::string> key;
    if (key_of) {
      absl::StatusOr<std::optional<std::string>> k = key_of(events[i]);
      if (!k.ok()) {
        out.error = k.status();
        return out;
      }
      key = *std::move(k);
      if (key.has_value() && written_keys.contains(*key)) return out;  // cut here
    }
    absl::StatusOr<WriteRequest> produced = handle(events[i]);
    if (!produced.ok()) {
      out.error = produced.status();
      return out;  // handled == i: the events before it are kept
    }
    size_t added_bytes = 0;
    bool fits = true;
    for (const StreamAppend& append : produced->appends) {
      for (const eventlog::NewEvent& e : append.events) added_bytes += e.payload.size();
      auto it = stream_index.find(append.stream_id);
      if (it != stream_index.end() && !Mergeable(out.write.appends[it->second], append)) {
        fits = false;
      }
    }
    if (i > 0 && (!fits || payload_bytes + added_bytes > kMaxMergedPayloadBytes)) {
      return out;  // cut here: the follower writes the part before, then goes on
    }
    for (StreamAppend& append : produced->appends) {
      auto [it, inserted] = stream_index.try_emplace(append.stream_id, 0);
      if (inserted) {
        it->second = out.write.appends.size();
        out.write.appends.push_back(std::move(append));
      } else {
        std::vector<eventlog::NewEvent>& into = out.write.appends[it->second].events;
        into.insert(into.end(), std::make_move_iterator(append.events.begin()),
                    std::make_move_iterator(append.events.end()));
      }
    }
    for (eventlog::Checkpoint& c : produced->checkpoints) {
      auto same = std::find_if(
          out.write.checkpoints.begin(), out.write.checkpoints.end(),
          [&](const eventlog::Checkpoint& have) { return have.consumer == c.consumer; });
      if (same != out.write.checkpoints.end()) {
        *same = std::move(c);
      } else {
        out.write.checkpoints.push_back(std::move(c));
      }
    }
    payload_bytes += added_bytes;
    if (key.has_value() && !produced->appends.empty()) written_keys.insert(*key);
    out.handled = i + 1;
  }
  return out;
}

Follower::Handler Follower::PerEvent(EventHandler handle) {
  return [handle = std::move(handle)](absl::Span<const UpstreamEvent> events) {
    return HandleEach(events, handle);
  };
}

absl::StatusOr<std::unique_ptr<Follower>> Follower::Create(eventlog::EventStore* store,
                                                           Options options,
                                                           Handler handler,
                                                           Committed committed) {
  if (store == nullptr) return absl::InvalidArgumentError("follower needs a store");
  if (options.upstream.empty()) {
    return absl::InvalidArgumentError("follower needs an upstream name");
  }
  if (options.channel == nullptr) {
    return absl::InvalidArgumentError(
        absl::StrCat("follower of ", options.upstream, " needs a channel"));
  }
  if (!handler) return absl::InvalidArgumentError("follower needs a handler");
  if (options.max_batch <= 0 || options.max_batch > 1000) {
    return absl::InvalidArgumentError("follower max_batch must be 1..1000");
  }
  if (options.consumer.empty())
    options.consumer = absl::StrCat("follow:", options.upstream);
  MEND_ASSIGN_OR_RETURN(eventlog::Checkpoint checkpoint,
                        store->ReadCheckpoint(options.consumer));
  return std::unique_ptr<Follower>(new Follower(store, std::move(options),
                                                std::move(handler), std::move(committed),
                                                std::move(checkpoint)));
}

Follower::Follower(eventlog::EventStore* store, Options options, Handler handler,
                   Committed committed, eventlog::Checkpoint checkpoint)
    : store_(store),
      options_(std::move(options)),
      handler_(std::move(handler)),
      committed_(std::move(committed)),
      handled_(checkpoint.position),
      handled_hash_(std::move(checkpoint.hash)) {}

Follower::~Follower() { Stop(); }

void Follower::Start() {
  if (!thread_.joinable()) thread_ = std::thread([this] { Run(); });
}

void Follower::Stop() {
  {
    absl::MutexLock lock(&mu_);
    stopping_ = true;
    if (active_call_ != nullptr) active_call_->TryCancel();
  }
  if (thread_.joinable()) thread_.join();
}

uint64_t Follower::handled_position() const {
  absl::MutexLock lock(&mu_);
  return handled_;
}

uint64_t Follower::upstream_head() const {
  absl::MutexLock lock(&mu_);
  return upstream_head_;
}

bool Follower::connected() const {
  absl::MutexLock lock(&mu_);
  return connected_;
}

uint64_t Follower::lag() const {
  absl::MutexLock lock(&mu_);
  return upstream_head_ > handled_ ? upstream_head_ - handled_ : 0;
}

absl::Status Follower::WaitForHandled(uint64_t position, absl::Time deadline) const {
  struct Args {
    const Follower* f;
    uint64_t position;
  } args{this, position};
  absl::MutexLock lock(&mu_);
  mu_.AwaitWithDeadline(absl::Condition(
                            +[](Args* a) ABSL_NO_THREAD_SAFETY_ANALYSIS {
                              return a->f->handled_ >= a->position || a->f->stopping_;
                            },
                            &args),
                        deadline);
  if (handled_ >= position) return absl::OkStatus();
  return absl::UnavailableError(absl::StrCat(
      "this service has handled ", options_.upstream, " events up to position ", handled_,
      ", not yet ", position, (stopping_ ? " (shutting down)" : ""), "; retry shortly"));
}

void Follower::Log(bool error, const std::string& message) const {
  if (options_.log) options_.log(error, message);
}

bool Follower::SleepUnlessStopped(absl::Duration d) {
  absl::MutexLock lock(&mu_);
  mu_.AwaitWithTimeout(absl::Condition(&stopping_), d);
  return !stopping_;
}

void Follower::Run() {
  absl::BitGen random;
  absl::Duration backoff = options_.initial_backoff;
  for (;;) {
    {
      absl::MutexLock lock(&mu_);
      if (stopping_) return;
    }
    bool made_progress = false;
    absl::Status ended = FollowOnce(&made_progress);
    {
      absl::MutexLock lock(&mu_);
      connected_ = false;
      if (stopping_) return;
    }
    if (made_progress) backoff = options_.initial_backoff;
    // Full jitter: a uniformly random wait up to the current backoff, so that
    // many followers of one restarted upstream do not reconnect in step.
    const absl::Duration wait = absl::Nanoseconds(
        absl::Uniform<int64_t>(random, absl::ToInt64Nanoseconds(backoff) / 2,
                               absl::ToInt64Nanoseconds(backoff) + 1));
    Log(true, absl::StrCat("following ", options_.upstream, " stopped at position ",
                           handled_position(), ": ", ended.ToString(), "; retrying in ",
                           absl::FormatDuration(wait)));
    if (!SleepUnlessStopped(wait)) return;
    backoff = std::min(backoff * 2, options_.max_backoff);
  }
}

absl::Status Follower::FollowOnce(bool* made_progress) {
  eventlog::v1::EventLog::Stub stub(options_.channel);
  grpc::ClientContext context;
  if (options_.prepare_context) options_.prepare_context(&context);
  eventlog::v1::SubscribeRequest request;
  uint64_t from;
  std::string from_hash;
  {
    absl::MutexLock lock(&mu_);
    if (stopping_) return absl::CancelledError("stopping");
    from = handled_;
    from_hash = handled_hash_;
  }
  std::string last_hash;  // hash of the previous record in this session
  if (from > 0) {
    grpc::ClientContext check;
    {
      absl::MutexLock lock(&mu_);
      if (stopping_) return absl::CancelledError("stopping");
      active_call_ = &check;
    }
    absl::StatusOr<std::string> resume = CheckResumePoint(&check, from, from_hash);
    {
      absl::MutexLock lock(&mu_);
      active_call_ = nullptr;
    }
    if (!resume.ok()) return resume.status();
    last_hash = *std::move(resume);
  }
  {
    absl::MutexLock lock(&mu_);
    if (stopping_) return absl::CancelledError("stopping");
    active_call_ = &context;
  }
  request.set_after_position(static_cast<int64_t>(from));
  request.set_max_batch(options_.max_batch);
  std::unique_ptr<grpc::ClientReader<eventlog::v1::SubscribeResponse>> reader =
      stub.Subscribe(&context, request);

  absl::Status status;
  eventlog::v1::SubscribeResponse response;
  std::vector<RecordView> views;
  std::vector<UpstreamEvent> events;
  bool announced = false;
  while (status.ok() && reader->Read(&response)) {
    {
      absl::MutexLock lock(&mu_);
      connected_ = true;
      upstream_head_ = std::max(upstream_head_, response.head_position());
    }
    if (!announced) {
      announced = true;
      Log(false,
          absl::StrCat("following ", options_.upstream, " from position ", from + 1));
    }
    // Check the whole message first; the events up to a bad record are
    // still handled, then the connection drops.
    views.assign(response.events_size(), RecordView{});
    events.clear();
    uint64_t expected = handled_position() + 1;
    for (int i = 0; i < response.events_size(); ++i, ++expected) {
      const eventlog::v1::RecordedEvent& e = response.events(i);
      if (e.position() != expected) {
        status = absl::DataLossError(absl::StrCat("upstream sent position ", e.position(),
                                                  " where ", expected, " was next"));
        break;
      }
      if (Sha256Bytes(e.record()) != e.hash()) {
        status = absl::DataLossError(
            absl::StrCat("upstream record ", e.position(), " does not match its hash"));
        break;
      }
      RecordView& view = views[i];
      if (absl::Status s = eventlog::DecodeRecord(e.record(), &view); !s.ok()) {
        status = absl::DataLossError(
            absl::StrCat("upstream record ", e.position(), ": ", s.message()));
        break;
      }
      if (view.position != e.position() ||
          (!last_hash.empty() && view.prev_hash != last_hash)) {
        status = absl::DataLossError(absl::StrCat(
            "upstream record ", e.position(), " does not chain to the record before it"));
        break;
      }
      last_hash = e.hash();
      events.push_back(UpstreamEvent{e.position(), e.record(), view});
    }
    if (events.empty()) continue;
    const uint64_t before = handled_position();
    absl::Status handled = HandleBatch(events);
    if (handled_position() > before) *made_progress = true;
    if (!handled.ok()) status = handled;  // it concerns an earlier event
  }
  if (status.ok()) {
    status = FromGrpc(reader->Finish());
    if (status.ok()) status = absl::UnavailableError("upstream ended the subscription");
  } else {
    context.TryCancel();
    reader->Finish().IgnoreError();
  }
  absl::MutexLock lock(&mu_);
  active_call_ = nullptr;
  return status;
}

absl::Status Follower::HandleBatch(absl::Span<const UpstreamEvent> events) {
  size_t done = 0;
  while (done < events.size()) {
    const absl::Span<const UpstreamEvent> rest = events.subspan(done);
    BatchEffects effects;
    WriteRequest write;
    std::string last_hash;  // of the last upstream record the write handles
    absl::StatusOr<WriteResult> result;
    for (int attempt = 0;; ++attempt) {
      effects = handler_(rest);
      const bool sound = effects.error.ok()
                             ? effects.handled > 0 && effects.handled <= rest.size()
                             : effects.handled < rest.size();
      if (!sound) {
        return absl::InternalError(absl::StrCat(
            "handler of ", options_.upstream, " reported ", effects.handled, " of ",
            rest.size(), " events from position ", rest.front().position, " handled ",
            effects.error.ok() ? "without" : "with", " an error"));
      }
      if (effects.handled == 0) break;  // the first event failed: nothing to write
      write = std::move(effects.write);
      last_hash = Sha256Bytes(rest[effects.handled - 1].bytes);
      write.checkpoints.push_back(
          {options_.consumer, rest[effects.handled - 1].position, last_hash});
      // Keep the request for the committed callback only when there is one.
      result = committed_ ? store_->Write(write) : store_->Write(std::move(write));
      if (result.status().code() == absl::StatusCode::kAborted &&
          attempt < kMaxAbortedRetries) {
        continue;  // a command changed a stream meanwhile: decide again
      }
      if (!result.ok()) {
        return absl::Status(
            result.status().code(),
            absl::StrCat("writing the effects of ", options_.upstream, " positions ",
                         rest.front().position, "..", rest[effects.handled - 1].position,
                         ": ", result.status().message()));
      }
      break;
    }
    if (effects.handled > 0) {
      if (committed_ && !write.appends.empty()) committed_(write, *result);
      done += effects.handled;
      absl::MutexLock lock(&mu_);
      handled_ = rest[effects.handled - 1].position;
      handled_hash_ = std::move(last_hash);
    }
    if (!effects.error.ok()) {
      return absl::Status(
          effects.error.code(),
          absl::StrCat("handler failed on ", options_.upstream, " position ",
                       rest[effects.handled].position, ": ", effects.error.message()));
    }
  }
  return absl::OkStatus();
}

absl::StatusOr<std::string> Follower::CheckResumePoint(grpc::ClientContext* context,
                                                       uint64_t position,
                                                       const std::string& hash) {
  eventlog::v1::EventLog::Stub stub(options_.channel);
  if (options_.prepare_context) options_.prepare_context(context);
  context->set_deadline(absl::ToChronoTime(absl::Now() + absl::Seconds(30)));
  eventlog::v1::ReadRequest request;
  request.set_from_position(static_cast<int64_t>(position));
  request.set_max_count(1);
  eventlog::v1::ReadResponse response;
  const grpc::Status status = stub.Read(context, request, &response);
  if (!status.ok()) {
    return absl::Status(
        FromGrpc(status).code(),
        absl::StrCat("reading ", options_.upstream, " position ", position,
                     " to resume after it: ", status.error_message()));
  }
  {
    absl::MutexLock lock(&mu_);
    upstream_head_ = std::max(upstream_head_, response.head_position());
  }
  const std::string not_followed = absl::StrCat(
      "; it is not the log this service followed (the upstream was restored from an "
      "older backup, or replaced): this service follows it no further until it is "
      "itself restored from a backup taken before the upstream's (README, \"Backup and "
      "restore\")");
  if (response.events_size() == 0 || response.events(0).position() != position) {
    return absl::DataLossError(absl::StrCat(
        options_.upstream, "'s log ends at position ", response.head_position(),
        ", before position ", position, " which this service has handled", not_followed));
  }
  const eventlog::v1::RecordedEvent& e = response.events(0);
  if (Sha256Bytes(e.record()) != e.hash() || (!hash.empty() && e.hash() != hash)) {
    return absl::DataLossError(
        absl::StrCat(options_.upstream, "'s record at position ", position,
                     " is not the one this service handled", not_followed));
  }
  return e.hash();
}

absl::StatusOr<uint64_t> Follower::FetchUpstreamHead(absl::Time deadline) const {
  eventlog::v1::EventLog::Stub stub(options_.channel);
  grpc::ClientContext context;
  if (options_.prepare_context) options_.prepare_context(&context);
  context.set_deadline(absl::ToChronoTime(deadline));
  eventlog::v1::GetHeadResponse response;
  const grpc::Status status =
      stub.GetHead(&context, eventlog::v1::GetHeadRequest(), &response);
  if (!status.ok()) {
    return absl::Status(FromGrpc(status).code(),
                        absl::StrCat("asking ", options_.upstream,
                                     " for its head: ", status.error_message()));
  }
  return response.position();
}

}  // namespace mend
