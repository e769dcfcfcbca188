#include "common/runtime/follower.h"

#include <grpcpp/grpcpp.h>

#include <algorithm>
#include <utility>

#include "absl/random/random.h"
#include "absl/strings/str_cat.h"
#include "common/base/sha256.h"
#include "common/rpc/status_convert.h"
#include "common/base/status_macros.h"
#include "mend/eventlog/v1/eventlog_service.grpc.pb.h"

namespace mend {

using eventlog::RecordView;
using eventlog::WriteRequest;
using eventlog::WriteResult;

namespace {

constexpr int kMaxAbortedRetries = 20;

}  // namespace

absl::StatusOr<std::unique_ptr<Follower>> Follower::Create(eventlog::EventStore* store,
                                                          Options options, Handler handler,
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
  if (options.consumer.empty()) options.consumer = absl::StrCat("follow:", options.upstream);
  MEND_ASSIGN_OR_RETURN(uint64_t checkpoint, store->GetCheckpoint(options.consumer));
  return std::unique_ptr<Follower>(new Follower(store, std::move(options), std::move(handler),
                                                std::move(committed), checkpoint));
}

Follower::Follower(eventlog::EventStore* store, Options options, Handler handler,
                   Committed committed, uint64_t checkpoint)
    : store_(store),
      options_(std::move(options)),
      handler_(std::move(handler)),
      committed_(std::move(committed)),
      handled_(checkpoint),
      persisted_checkpoint_(checkpoint) {}

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
      ", not yet ", position, (stopping_ ? " (shutting down)" : ""),
      "; retry shortly"));
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
    const absl::Duration wait = absl::Nanoseconds(absl::Uniform<int64_t>(
        random, absl::ToInt64Nanoseconds(backoff) / 2, absl::ToInt64Nanoseconds(backoff) + 1));
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
  {
    absl::MutexLock lock(&mu_);
    if (stopping_) return absl::CancelledError("stopping");
    from = handled_;
    active_call_ = &context;
  }
  request.set_after_position(static_cast<int64_t>(from));
  request.set_max_batch(options_.max_batch);
  std::unique_ptr<grpc::ClientReader<eventlog::v1::SubscribeResponse>> reader =
      stub.Subscribe(&context, request);

  absl::Status status;
  std::string last_hash;  // hash of the previous record in this session
  eventlog::v1::SubscribeResponse response;
  bool announced = false;
  while (status.ok() && reader->Read(&response)) {
    {
      absl::MutexLock lock(&mu_);
      connected_ = true;
      upstream_head_ = std::max(upstream_head_, response.head_position());
    }
    if (!announced) {
      announced = true;
      Log(false, absl::StrCat("following ", options_.upstream, " from position ", from + 1));
    }
    uint64_t pending_checkpoint = 0;
    for (const eventlog::v1::RecordedEvent& e : response.events()) {
      const uint64_t expected = handled_position() + 1;
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
      RecordView view;
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
      bool wrote = false;
      status = HandleEvent(e.position(), e.record(), view, &wrote);
      if (!status.ok()) break;
      last_hash = e.hash();
      pending_checkpoint = wrote ? 0 : e.position();
      *made_progress = true;
    }
    // Events that produced nothing advance the stored checkpoint once per
    // message rather than once each.
    if (pending_checkpoint > persisted_checkpoint_) {
      eventlog::WriteRequest checkpoint_only;
      checkpoint_only.checkpoints.push_back({options_.consumer, pending_checkpoint});
      absl::StatusOr<WriteResult> r = store_->Write(std::move(checkpoint_only));
      if (r.ok()) {
        persisted_checkpoint_ = pending_checkpoint;
      } else if (status.ok()) {
        status = r.status();
      }
    }
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

absl::Status Follower::HandleEvent(uint64_t position, std::string_view bytes,
                                   const RecordView& view, bool* wrote) {
  for (int attempt = 0;; ++attempt) {
    UpstreamEvent event{position, bytes, view};
    absl::StatusOr<WriteRequest> produced = handler_(event);
    if (!produced.ok()) {
      return absl::Status(produced.status().code(),
                          absl::StrCat("handler failed on ", options_.upstream, " position ",
                                       position, ": ", produced.status().message()));
    }
    *wrote = !produced->appends.empty();
    if (*wrote) {
      WriteRequest request = *std::move(produced);
      request.checkpoints.push_back({options_.consumer, position});
      absl::StatusOr<WriteResult> result = store_->Write(request);
      if (result.status().code() == absl::StatusCode::kAborted &&
          attempt < kMaxAbortedRetries) {
        continue;  // a command changed the stream meanwhile: decide again
      }
      if (!result.ok()) return result.status();
      persisted_checkpoint_ = position;
      if (committed_) committed_(request, *result);
    }
    absl::MutexLock lock(&mu_);
    handled_ = position;
    return absl::OkStatus();
  }
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
