#include "common/runtime/eventlog_service.h"

#include <algorithm>
#include <optional>
#include <string>
#include <utility>
#include <vector>

#include "absl/strings/str_cat.h"
#include "common/base/sha256.h"
#include "common/base/status_macros.h"
#include "common/merkle/merkle.h"
#include "common/rpc/status_convert.h"

namespace mend::eventlog {
namespace {

// Checks a requested count: negative or above the limit is INVALID_ARGUMENT;
// zero means the default.
absl::StatusOr<size_t> CheckCount(std::string_view field, int32_t value) {
  if (value < 0) {
    return absl::InvalidArgumentError(
        absl::StrCat(std::string(field), " must not be negative"));
  }
  if (value > EventLogService::kMaxCount) {
    return absl::InvalidArgumentError(absl::StrCat(std::string(field), " is ", value,
                                                   "; the limit is ",
                                                   EventLogService::kMaxCount));
  }
  return value == 0 ? EventLogService::kDefaultMaxCount : static_cast<size_t>(value);
}

absl::Status CheckNotNegative(std::string_view field, int64_t value) {
  if (value < 0) {
    return absl::InvalidArgumentError(
        absl::StrCat(std::string(field), " must not be negative"));
  }
  return absl::OkStatus();
}

// The head to report with `records`: never below a record in the same
// response. (A store may make a durable record readable a moment before its
// head moves past it; the committed EventStore did.)
uint64_t HeadCovering(const EventStore& store, const std::vector<RawRecord>& records) {
  uint64_t head = store.GetHead().position;
  for (const RawRecord& r : records) head = std::max(head, r.position);
  return head;
}

void FillResponse(const std::vector<RawRecord>& records, uint64_t head,
                  v1::ReadResponse* response) {
  response->mutable_events()->Reserve(static_cast<int>(records.size()));
  for (const RawRecord& r : records) ToRecordedEvent(r, response->add_events());
  response->set_head_position(head);
}

}  // namespace

const MethodPolicy::Table& EventLogPolicy() {
  static const MethodPolicy::Table* const table = new MethodPolicy::Table{
      {kEventLogReadMethod, {Role::kAuditor, Role::kService}},
      {kEventLogReadStreamMethod, {Role::kAuditor, Role::kService}},
      {kEventLogSubscribeMethod, {Role::kAuditor, Role::kService}},
      {kEventLogGetHeadMethod, {Role::kAuditor, Role::kService}},
      {kEventLogGetTreeHeadMethod, {Role::kAuditor, Role::kService}},
      {kEventLogGetInclusionProofMethod, {Role::kAuditor, Role::kService}},
      {kEventLogGetConsistencyProofMethod, {Role::kAuditor, Role::kService}},
  };
  return *table;
}

void ToRecordedEvent(const RawRecord& record, v1::RecordedEvent* out) {
  out->set_position(record.position);
  out->set_record(record.bytes);
  out->set_hash(Sha256Bytes(record.bytes));
}

// One Subscribe call. Owned by gRPC: deleted in OnDone, after the service has
// forgotten it. `mu_` orders OnWriteDone, Wake, Stop and OnCancel.
class EventLogService::Subscription final
    : public grpc::ServerWriteReactor<v1::SubscribeResponse> {
 public:
  Subscription(EventLogService* service, uint64_t after_position, size_t max_batch)
      : service_(service), next_position_(after_position + 1), max_batch_(max_batch) {}

  void Start() {
    absl::MutexLock lock(&mu_);
    SendNextLocked();
  }

  // The head moved: if this subscriber was waiting at the head, send.
  void Wake() {
    absl::MutexLock lock(&mu_);
    if (waiting_ && !finished_) {
      waiting_ = false;
      SendNextLocked();
    }
  }

  // Ends the stream with `status` once any write in flight completes.
  void Stop(const grpc::Status& status) {
    absl::MutexLock lock(&mu_);
    FinishLocked(status);
  }

  void OnWriteDone(bool ok) override {
    absl::MutexLock lock(&mu_);
    write_in_flight_ = false;
    if (!ok) {
      FinishLocked(grpc::Status(grpc::StatusCode::CANCELLED, "client stream broken"));
      return;
    }
    if (pending_finish_.has_value()) {
      FinishLocked(*pending_finish_);
      return;
    }
    SendNextLocked();
  }

  void OnCancel() override {
    absl::MutexLock lock(&mu_);
    FinishLocked(grpc::Status::CANCELLED);
  }

  void OnDone() override {
    service_->Remove(this);
    delete this;
  }

 private:
  void SendNextLocked() ABSL_EXCLUSIVE_LOCKS_REQUIRED(mu_) {
    if (finished_ || write_in_flight_) return;
    absl::StatusOr<std::vector<RawRecord>> records =
        service_->store_->Read(next_position_, max_batch_, kMaxResponseBytes);
    if (!records.ok()) {
      FinishLocked(ToGrpc(records.status()));
      return;
    }
    if (records->empty()) {
      waiting_ = true;
      // Close the race with a batch that became durable after the read: the
      // notifier only wakes subscribers already marked waiting.
      if (service_->store_->GetHead().position >= next_position_) {
        waiting_ = false;
        SendNextLocked();
      }
      return;
    }
    response_.Clear();
    for (const RawRecord& r : *records) ToRecordedEvent(r, response_.add_events());
    response_.set_head_position(HeadCovering(*service_->store_, *records));
    next_position_ = records->back().position + 1;
    write_in_flight_ = true;
    StartWrite(&response_);
  }

  void FinishLocked(const grpc::Status& status) ABSL_EXCLUSIVE_LOCKS_REQUIRED(mu_) {
    if (finished_) return;
    if (write_in_flight_) {  // finish after the write completes
      if (!pending_finish_.has_value()) pending_finish_ = status;
      return;
    }
    finished_ = true;
    Finish(status);
  }

  EventLogService* const service_;
  absl::Mutex mu_;
  uint64_t next_position_ ABSL_GUARDED_BY(mu_);
  const size_t max_batch_;
  v1::SubscribeResponse response_ ABSL_GUARDED_BY(mu_);
  bool write_in_flight_ ABSL_GUARDED_BY(mu_) = false;
  bool waiting_ ABSL_GUARDED_BY(mu_) = false;
  bool finished_ ABSL_GUARDED_BY(mu_) = false;
  std::optional<grpc::Status> pending_finish_ ABSL_GUARDED_BY(mu_);
};

EventLogService::EventLogService(EventStore* store, const Authorizer* authorizer,
                                 std::string tree_head_public_key)
    : store_(store),
      authorizer_(authorizer),
      tree_head_public_key_(std::move(tree_head_public_key)) {
  listener_id_ = store_->AddHeadListener([this](uint64_t head) {
    absl::MutexLock lock(&notify_mu_);
    notified_head_ = std::max(notified_head_, head);
  });
  notifier_ = std::thread([this] { NotifierLoop(); });
}

EventLogService::~EventLogService() {
  Shutdown();
  store_->RemoveHeadListener(listener_id_);
  // gRPC deletes reactors in OnDone; the server must have been shut down (so
  // every subscription is done) before the service is destroyed.
  absl::MutexLock lock(&mu_);
  mu_.Await(absl::Condition(
      +[](EventLogService* s)
           ABSL_NO_THREAD_SAFETY_ANALYSIS { return s->subscriptions_.empty(); },
      this));
}

void EventLogService::Shutdown() {
  std::vector<Subscription*> open;
  {
    absl::MutexLock lock(&mu_);
    if (shutdown_) return;
    shutdown_ = true;
    open.assign(subscriptions_.begin(), subscriptions_.end());
    // Stop under mu_: a subscription cannot reach OnDone (and be deleted)
    // while we hold mu_, because Remove takes it.
    for (Subscription* s : open) {
      s->Stop(grpc::Status(grpc::StatusCode::UNAVAILABLE, "server is shutting down"));
    }
  }
  {
    absl::MutexLock lock(&notify_mu_);
    stop_notifier_ = true;
  }
  if (notifier_.joinable()) notifier_.join();
}

size_t EventLogService::subscriber_count() const {
  absl::MutexLock lock(&mu_);
  return subscriptions_.size();
}

void EventLogService::Remove(Subscription* s) {
  absl::MutexLock lock(&mu_);
  subscriptions_.erase(s);
}

void EventLogService::NotifierLoop() {
  uint64_t handled_head = 0;
  for (;;) {
    {
      absl::MutexLock lock(&notify_mu_);
      auto ready = [this, &handled_head]() ABSL_NO_THREAD_SAFETY_ANALYSIS {
        return stop_notifier_ || notified_head_ > handled_head;
      };
      notify_mu_.Await(absl::Condition(&ready));
      if (stop_notifier_) return;
      handled_head = notified_head_;
    }
    absl::MutexLock lock(&mu_);
    if (shutdown_) return;
    // Wake under mu_ so no subscription is deleted meanwhile (see Shutdown).
    for (Subscription* s : subscriptions_) s->Wake();
  }
}

absl::Status EventLogService::Authorize(const grpc::CallbackServerContext& context,
                                        const char* full_method) const {
  if (authorizer_ == nullptr) {  // fail closed
    return absl::InternalError("EventLog service has no authorizer");
  }
  return authorizer_->Authorize(context, full_method).status();
}

grpc::ServerUnaryReactor* EventLogService::Read(grpc::CallbackServerContext* context,
                                                const v1::ReadRequest* request,
                                                v1::ReadResponse* response) {
  grpc::ServerUnaryReactor* reactor = context->DefaultReactor();
  if (absl::Status auth = Authorize(*context, kEventLogReadMethod); !auth.ok()) {
    reactor->Finish(ToGrpc(auth));
    return reactor;
  }
  absl::Status status = CheckNotNegative("from_position", request->from_position());
  absl::StatusOr<size_t> count = CheckCount("max_count", request->max_count());
  if (status.ok()) status = count.status();
  if (status.ok()) {
    const uint64_t head = store_->GetHead().position;
    absl::StatusOr<std::vector<RawRecord>> records = store_->Read(
        static_cast<uint64_t>(request->from_position()), *count, kMaxResponseBytes);
    status = records.status();
    if (status.ok()) {
      FillResponse(*records, std::max(head, HeadCovering(*store_, *records)), response);
    }
  }
  reactor->Finish(ToGrpc(status));
  return reactor;
}

grpc::ServerUnaryReactor* EventLogService::ReadStream(
    grpc::CallbackServerContext* context, const v1::ReadStreamRequest* request,
    v1::ReadResponse* response) {
  grpc::ServerUnaryReactor* reactor = context->DefaultReactor();
  if (absl::Status auth = Authorize(*context, kEventLogReadStreamMethod); !auth.ok()) {
    reactor->Finish(ToGrpc(auth));
    return reactor;
  }
  absl::Status status = CheckNotNegative("from_version", request->from_version());
  absl::StatusOr<size_t> count = CheckCount("max_count", request->max_count());
  if (status.ok()) status = count.status();
  if (status.ok()) {
    absl::StatusOr<std::vector<RawRecord>> records = store_->ReadStream(
        request->stream_id(), static_cast<uint64_t>(request->from_version()), *count,
        kMaxResponseBytes);
    status = records.status();
    if (status.ok()) FillResponse(*records, HeadCovering(*store_, *records), response);
  }
  reactor->Finish(ToGrpc(status));
  return reactor;
}

grpc::ServerWriteReactor<v1::SubscribeResponse>* EventLogService::Subscribe(
    grpc::CallbackServerContext* context, const v1::SubscribeRequest* request) {
  // A refused caller gets a stream that ends at once with the refusal.
  absl::Status status = Authorize(*context, kEventLogSubscribeMethod);
  absl::StatusOr<size_t> batch = CheckCount("max_batch", request->max_batch());
  if (status.ok()) status = CheckNotNegative("after_position", request->after_position());
  if (status.ok()) status = batch.status();
  auto* subscription = new Subscription(
      this, static_cast<uint64_t>(std::max<int64_t>(0, request->after_position())),
      batch.ok() ? *batch : 1);
  {
    absl::MutexLock lock(&mu_);
    if (status.ok() && shutdown_) {
      status = absl::UnavailableError("server is shutting down");
    }
    subscriptions_.insert(subscription);
  }
  if (!status.ok()) {
    subscription->Stop(ToGrpc(status));
  } else {
    subscription->Start();
  }
  return subscription;
}

grpc::ServerUnaryReactor* EventLogService::GetHead(grpc::CallbackServerContext* context,
                                                   const v1::GetHeadRequest* request,
                                                   v1::GetHeadResponse* response) {
  grpc::ServerUnaryReactor* reactor = context->DefaultReactor();
  if (absl::Status auth = Authorize(*context, kEventLogGetHeadMethod); !auth.ok()) {
    reactor->Finish(ToGrpc(auth));
    return reactor;
  }
  Head head = store_->GetHead();
  response->set_position(head.position);
  response->set_hash(head.hash);
  reactor->Finish(grpc::Status::OK);
  return reactor;
}

namespace {

// Runs `body` for an authorized unary call and finishes the reactor.
template <typename Body>
grpc::ServerUnaryReactor* Unary(grpc::CallbackServerContext* context, absl::Status auth,
                                Body body) {
  grpc::ServerUnaryReactor* reactor = context->DefaultReactor();
  reactor->Finish(ToGrpc(auth.ok() ? body() : auth));
  return reactor;
}

}  // namespace

grpc::ServerUnaryReactor* EventLogService::GetTreeHead(
    grpc::CallbackServerContext* context, const v1::GetTreeHeadRequest* request,
    v1::GetTreeHeadResponse* response) {
  return Unary(
      context, Authorize(*context, kEventLogGetTreeHeadMethod), [&]() -> absl::Status {
        uint64_t size = request->tree_size();
        std::optional<std::string> signed_bytes;
        if (size == 0) {
          MEND_ASSIGN_OR_RETURN(auto newest, store_->NewestTreeHead());
          if (!newest.has_value()) {
            return absl::FailedPreconditionError(
                tree_head_public_key_.empty()
                    ? "this service signs no tree heads (it runs without "
                      "--tree_head_key); "
                      "ask for a tree_size"
                    : "no tree head has been signed yet; ask for a tree_size");
          }
          size = newest->first;
          signed_bytes = std::move(newest->second);
        } else {
          MEND_ASSIGN_OR_RETURN(signed_bytes, store_->GetTreeHead(size));
        }
        MEND_ASSIGN_OR_RETURN(std::string root, store_->TreeRoot(size));
        if (signed_bytes.has_value()) {
          if (!response->mutable_signed_head()->ParseFromString(*signed_bytes) ||
              !response->mutable_head()->ParseFromString(
                  response->signed_head().head())) {
            return absl::DataLossError(
                absl::StrCat("the signed tree head of size ", size, " is malformed"));
          }
          if (response->head().root_hash() != root) {
            return absl::DataLossError(absl::StrCat("the signed tree head of size ", size,
                                                    " does not match the log's tree"));
          }
        } else {
          response->mutable_head()->set_tree_size(size);
          response->mutable_head()->set_root_hash(root);
        }
        response->set_public_key_pem(tree_head_public_key_);
        return absl::OkStatus();
      });
}

grpc::ServerUnaryReactor* EventLogService::GetInclusionProof(
    grpc::CallbackServerContext* context, const v1::GetInclusionProofRequest* request,
    v1::GetInclusionProofResponse* response) {
  return Unary(context, Authorize(*context, kEventLogGetInclusionProofMethod),
               [&]() -> absl::Status {
                 MEND_ASSIGN_OR_RETURN(
                     std::vector<std::string> proof,
                     store_->InclusionProof(request->position(), request->tree_size()));
                 MEND_ASSIGN_OR_RETURN(std::string root,
                                       store_->TreeRoot(request->tree_size()));
                 MEND_ASSIGN_OR_RETURN(std::vector<RawRecord> record,
                                       store_->Read(request->position(), 1));
                 if (record.size() != 1) {
                   return absl::DataLossError(
                       absl::StrCat("record ", request->position(), " is missing"));
                 }
                 response->set_position(request->position());
                 response->set_tree_size(request->tree_size());
                 response->set_leaf_hash(merkle::LeafHash(record[0].bytes));
                 for (std::string& h : proof) response->add_proof(std::move(h));
                 response->set_root_hash(std::move(root));
                 return absl::OkStatus();
               });
}

grpc::ServerUnaryReactor* EventLogService::GetConsistencyProof(
    grpc::CallbackServerContext* context, const v1::GetConsistencyProofRequest* request,
    v1::GetConsistencyProofResponse* response) {
  return Unary(context, Authorize(*context, kEventLogGetConsistencyProofMethod),
               [&]() -> absl::Status {
                 MEND_ASSIGN_OR_RETURN(
                     std::vector<std::string> proof,
                     store_->ConsistencyProof(request->from_size(), request->to_size()));
                 MEND_ASSIGN_OR_RETURN(std::string from_root,
                                       store_->TreeRoot(request->from_size()));
                 MEND_ASSIGN_OR_RETURN(std::string to_root,
                                       store_->TreeRoot(request->to_size()));
                 response->set_from_size(request->from_size());
                 response->set_to_size(request->to_size());
                 for (std::string& h : proof) response->add_proof(std::move(h));
                 response->set_from_root(std::move(from_root));
                 response->set_to_root(std::move(to_root));
                 return absl::OkStatus();
               });
}

}  // namespace mend::eventlog
