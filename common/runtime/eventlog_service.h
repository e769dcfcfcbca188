// EventLogService: serves mend.eventlog.v1.EventLog over one EventStore.
//
//   MEND_ASSIGN_OR_RETURN(auto policy, MethodPolicy::Create(EventLogPolicy()));
//   Authorizer authorizer(verifier.get(), policy.get());
//   EventLogService log_service(store.get(), &authorizer);
//   builder.RegisterService(&log_service);
//   ...
//   log_service.Shutdown();   // ends every Subscribe with UNAVAILABLE
//   server->Shutdown();
//
// Subscribe keeps at most one message per subscriber in flight: the next batch
// is read from the store only when the client has taken the previous one, so a
// slow client costs one message of memory, never a growing queue. Subscribers
// waiting at the head are woken by one notifier thread when a batch becomes
// durable.
//
// Every call is authorized first (common/auth.h): UNAUTHENTICATED without a
// valid bearer token, PERMISSION_DENIED for a role EventLogPolicy() does not
// allow. Only auditors and other services read raw logs; facilitators and
// managers see cases through the case service (invariant I5). A Subscribe is
// authorized when it starts and then runs until it ends, even past its
// token's expiry.
//
// Thread safety: gRPC calls the handlers from its threads; Shutdown may be
// called from any thread, once. The store and the authorizer must outlive
// the service.
#ifndef MEND_COMMON_RUNTIME_EVENTLOG_SERVICE_H_
#define MEND_COMMON_RUNTIME_EVENTLOG_SERVICE_H_

#include <cstdint>
#include <string>
#include <thread>

#include "absl/base/thread_annotations.h"
#include "absl/container/flat_hash_set.h"
#include "absl/synchronization/mutex.h"
#include "common/eventlog/event_store.h"
#include "common/security/auth.h"
#include "mend/eventlog/v1/eventlog_service.grpc.pb.h"

namespace mend::eventlog {

// Full gRPC names of EventLog's methods, as its policy table names them.
inline constexpr char kEventLogReadMethod[] = "/mend.eventlog.v1.EventLog/Read";
inline constexpr char kEventLogReadStreamMethod[] =
    "/mend.eventlog.v1.EventLog/ReadStream";
inline constexpr char kEventLogSubscribeMethod[] = "/mend.eventlog.v1.EventLog/Subscribe";
inline constexpr char kEventLogGetHeadMethod[] = "/mend.eventlog.v1.EventLog/GetHead";
inline constexpr char kEventLogGetTreeHeadMethod[] =
    "/mend.eventlog.v1.EventLog/GetTreeHead";
inline constexpr char kEventLogGetInclusionProofMethod[] =
    "/mend.eventlog.v1.EventLog/GetInclusionProof";
inline constexpr char kEventLogGetConsistencyProofMethod[] =
    "/mend.eventlog.v1.EventLog/GetConsistencyProof";

// Who may call EventLog: every method for auditors and services only. A
// server serving EventLog adds this table to its MethodPolicy.
const MethodPolicy::Table& EventLogPolicy();

class EventLogService final : public v1::EventLog::CallbackService {
 public:
  static constexpr int32_t kDefaultMaxCount = 100;
  static constexpr int32_t kMaxCount = 1000;
  // A response stops growing past this many record bytes (gRPC's default
  // message limit is 4 MiB).
  static constexpr size_t kMaxResponseBytes = 2 << 20;

  // `authorizer` must not be null; it decides every call (see above).
  // `tree_head_public_key`: the PEM public key the service signs its tree
  // heads with (served by GetTreeHead); empty if it signs none.
  EventLogService(EventStore* store, const Authorizer* authorizer,
                  std::string tree_head_public_key = "");
  ~EventLogService() override;

  // Ends every open subscription with UNAVAILABLE and refuses new ones.
  void Shutdown();

  grpc::ServerUnaryReactor* Read(grpc::CallbackServerContext* context,
                                 const v1::ReadRequest* request,
                                 v1::ReadResponse* response) override;
  grpc::ServerUnaryReactor* ReadStream(grpc::CallbackServerContext* context,
                                       const v1::ReadStreamRequest* request,
                                       v1::ReadResponse* response) override;
  grpc::ServerWriteReactor<v1::SubscribeResponse>* Subscribe(
      grpc::CallbackServerContext* context, const v1::SubscribeRequest* request) override;
  grpc::ServerUnaryReactor* GetHead(grpc::CallbackServerContext* context,
                                    const v1::GetHeadRequest* request,
                                    v1::GetHeadResponse* response) override;
  grpc::ServerUnaryReactor* GetTreeHead(grpc::CallbackServerContext* context,
                                        const v1::GetTreeHeadRequest* request,
                                        v1::GetTreeHeadResponse* response) override;
  grpc::ServerUnaryReactor* GetInclusionProof(
      grpc::CallbackServerContext* context, const v1::GetInclusionProofRequest* request,
      v1::GetInclusionProofResponse* response) override;
  grpc::ServerUnaryReactor* GetConsistencyProof(
      grpc::CallbackServerContext* context, const v1::GetConsistencyProofRequest* request,
      v1::GetConsistencyProofResponse* response) override;

  // Open subscriptions, for metrics and tests.
  size_t subscriber_count() const;

 private:
  class Subscription;
  void NotifierLoop();
  void Remove(Subscription* s);

  // OK, or the status the call must finish with.
  absl::Status Authorize(const grpc::CallbackServerContext& context,
                         const char* full_method) const;

  EventStore* const store_;
  const Authorizer* const authorizer_;
  const std::string tree_head_public_key_;
  int listener_id_ = 0;

  mutable absl::Mutex mu_;
  absl::flat_hash_set<Subscription*> subscriptions_ ABSL_GUARDED_BY(mu_);
  bool shutdown_ ABSL_GUARDED_BY(mu_) = false;

  // The head listener runs on the store's commit thread under the store's
  // head lock, so it takes only notify_mu_, which is never held while taking
  // another lock. (Taking mu_ there closed a cycle: mu_ -> a subscription's
  // lock -> the store's head lock -> mu_.)
  absl::Mutex notify_mu_;
  uint64_t notified_head_ ABSL_GUARDED_BY(notify_mu_) = 0;
  bool stop_notifier_ ABSL_GUARDED_BY(notify_mu_) = false;
  std::thread notifier_;
};

// Fills `out` from a stored record: position, the exact bytes, their hash.
void ToRecordedEvent(const RawRecord& record, v1::RecordedEvent* out);

}  // namespace mend::eventlog

#endif  // MEND_COMMON_RUNTIME_EVENTLOG_SERVICE_H_
