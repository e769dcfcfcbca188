// Follower: keeps one mend service following another service's event log.
//
// It subscribes to the upstream's EventLog.Subscribe from the checkpoint
// stored in the local log, hands every upstream event to the service's
// handler, and appends what the handler returns together with the new
// checkpoint in one atomic write. So a crash anywhere neither loses nor
// repeats an effect: after a restart the follower resumes after the last
// upstream position whose effects are durable, and the events it produced
// are exactly those of the positions before it.
//
//   Follower::Options options{.upstream = "case", .channel = channel};
//   auto follower = Follower::Create(store, options,
//       [&](const UpstreamEvent& e) -> absl::StatusOr<WriteRequest> {
//         return state.Handle(e);   // events that record the effect, or none
//       },
//       [&](const WriteRequest& r, const WriteResult& w) { state.Apply(r, w); });
//   (*follower)->Start();
//   ...
//   // The causal token: wait until upstream position 42 has been handled.
//   MEND_RETURN_IF_ERROR((*follower)->WaitForHandled(42, deadline));
//
// Contract for handlers:
//   - Every effect of an upstream event must be in the events the handler
//     returns: the local log is the only thing a restart rebuilds state from.
//     A handler that returns no events may be called again for the same
//     event after a restart (its checkpoint is written lazily), so it must
//     not change state.
//   - Give returned events deterministic ids (e.g. derived from the consumer
//     and the upstream position) so a write whose outcome was unknown is
//     deduplicated when it is retried.
//   - The committed callback gets the WriteResult: an append reported as
//     deduplicated was written before (its effect is already in the state the
//     service replayed), so the callback must not apply it a second time.
//   - A handler error stops the follower at that event: it retries after a
//     backoff and never skips an event. ABORTED from the write (a command
//     raced on the same stream) re-runs the handler at once.
//
// The follower checks what it receives: positions must continue without gap
// or repeat, and each record's hash must match its bytes and chain to the
// previous record's hash. Anything else drops the connection and resumes from
// the last handled position.
//
// The upstream may be down or restart at any time: the follower reconnects
// with jittered exponential backoff. Its own service keeps serving meanwhile.
//
// Thread safety: Start and Stop from one thread; the accessors and
// WaitForHandled from any thread. The handler and the committed callback run
// on the follower's own thread, one event at a time, in position order.
#ifndef MEND_COMMON_RUNTIME_FOLLOWER_H_
#define MEND_COMMON_RUNTIME_FOLLOWER_H_

#include <atomic>
#include <cstdint>
#include <functional>
#include <memory>
#include <string>
#include <thread>

#include "absl/base/thread_annotations.h"
#include "absl/status/status.h"
#include "absl/status/statusor.h"
#include "absl/synchronization/mutex.h"
#include "absl/time/time.h"
#include "common/eventlog/event_store.h"
#include "common/eventlog/record_codec.h"

namespace grpc {
class Channel;
class ClientContext;
}  // namespace grpc

namespace mend {

// One upstream event as the handler sees it. `view` and `bytes` are valid
// only during the call.
struct UpstreamEvent {
  uint64_t position = 0;
  std::string_view bytes;  // the exact stored record
  const eventlog::RecordView& view;
};

class Follower {
 public:
  struct Options {
    std::string upstream;  // the upstream service's name, e.g. "case"
    // Checkpoint name in the local log; default "follow:<upstream>".
    std::string consumer;
    std::shared_ptr<grpc::Channel> channel;
    // Called on every new call's context, e.g. to attach a service token.
    std::function<void(grpc::ClientContext*)> prepare_context;
    int32_t max_batch = 500;
    absl::Duration initial_backoff = absl::Milliseconds(100);
    absl::Duration max_backoff = absl::Seconds(10);
    // Told about connections, disconnections and handler failures (no
    // personal data: upstream name, positions, status codes).
    std::function<void(bool error, const std::string& message)> log;
  };
  using Handler = std::function<absl::StatusOr<eventlog::WriteRequest>(const UpstreamEvent&)>;
  using Committed =
      std::function<void(const eventlog::WriteRequest&, const eventlog::WriteResult&)>;

  // INVALID_ARGUMENT without an upstream name, channel or handler; errors
  // from reading the checkpoint.
  static absl::StatusOr<std::unique_ptr<Follower>> Create(eventlog::EventStore* store,
                                                         Options options, Handler handler,
                                                         Committed committed = nullptr);
  ~Follower();  // Stop()

  void Start();
  // Cancels the subscription, wakes waiters (they get UNAVAILABLE), joins.
  // Idempotent.
  void Stop();

  // Last upstream position whose handling is complete (effects durable).
  uint64_t handled_position() const;
  // The upstream's head as last reported, and whether a stream is open.
  uint64_t upstream_head() const;
  bool connected() const;
  // upstream_head - handled_position, or 0.
  uint64_t lag() const;
  const std::string& upstream() const { return options_.upstream; }
  const std::string& consumer() const { return options_.consumer; }

  // The causal token: returns OK once upstream position `position` has been
  // handled; UNAVAILABLE, saying how far the follower has got, if that has
  // not happened by `deadline` or the follower stops.
  absl::Status WaitForHandled(uint64_t position, absl::Time deadline) const;

  // Asks the upstream for its head now (one EventLog.GetHead on the
  // follower's channel, prepared as its subscription is): the causal token
  // of a caller who brought none. The call's error as an absl::Status
  // (UNAVAILABLE while the upstream is down; DEADLINE_EXCEEDED at
  // `deadline`). Thread-safe.
  absl::StatusOr<uint64_t> FetchUpstreamHead(absl::Time deadline) const;

 private:
  Follower(eventlog::EventStore* store, Options options, Handler handler,
           Committed committed, uint64_t checkpoint);
  void Run();
  // One subscription, until it fails or Stop. Returns why it ended.
  absl::Status FollowOnce(bool* made_progress);
  absl::Status HandleEvent(uint64_t position, std::string_view bytes,
                           const eventlog::RecordView& view, bool* wrote);
  void Log(bool error, const std::string& message) const;
  bool SleepUnlessStopped(absl::Duration d);

  eventlog::EventStore* const store_;
  const Options options_;
  const Handler handler_;
  const Committed committed_;

  mutable absl::Mutex mu_;
  uint64_t handled_ ABSL_GUARDED_BY(mu_);
  uint64_t upstream_head_ ABSL_GUARDED_BY(mu_) = 0;
  bool connected_ ABSL_GUARDED_BY(mu_) = false;
  bool stopping_ ABSL_GUARDED_BY(mu_) = false;
  grpc::ClientContext* active_call_ ABSL_GUARDED_BY(mu_) = nullptr;

  // Owned by the follower thread.
  uint64_t persisted_checkpoint_ = 0;
  std::thread thread_;
};

}  // namespace mend

#endif  // MEND_COMMON_RUNTIME_FOLLOWER_H_
