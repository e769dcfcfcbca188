// Follower: keeps one mend service following another service's event log.
//
// It subscribes to the upstream's EventLog.Subscribe from the checkpoint
// stored in the local log and hands the service's handler the events of each
// subscription message (up to Options::max_batch) at once, in position order.
// What the handler returns for them -- appends to any number of streams --
// is written together with the new checkpoint in ONE atomic write (one
// fsync for the whole batch). So a crash anywhere neither loses nor repeats
// an effect: after a restart the follower resumes after the last upstream
// position whose effects are durable, and the events it produced are exactly
// those of the positions up to it.
//
//   Follower::Options options{.upstream = "case", .channel = channel};
//   auto follower = Follower::Create(store, options,
//       [&](absl::Span<const UpstreamEvent> events) {
//         return state.Handle(events);   // a BatchEffects (see below)
//       },
//       [&](const WriteRequest& r, const WriteResult& w) { state.Apply(r, w); });
//   (*follower)->Start();
//   ...
//   // The causal token: wait until upstream position 42 has been handled.
//   MEND_RETURN_IF_ERROR((*follower)->WaitForHandled(42, deadline));
//
// A handler whose effects are per event can be written for one event and
// adapted with Follower::PerEvent / HandleEach (they merge the per-event
// writes into one).
//
// Contract for handlers (a batch is the span the handler is called with):
//   - Every effect of the batch's events must be in the returned write: the
//     local log is the only thing a restart rebuilds state from. The handler
//     must not change state itself (it may be called again for the same
//     events: after an ABORTED write, after a crash before the write was
//     durable, after a handler error).
//   - The write must be valid as ONE EventStore::Write: each stream at most
//     once (put all events of a stream, in order, in one StreamAppend, with
//     the expected version of the stream before the batch), within the
//     store's limits. Events that come later in the batch must be decided on
//     the state that includes the effects of the earlier ones, which are not
//     yet in the store while the batch is being handled.
//   - Give returned events deterministic ids (e.g. derived from the consumer
//     and the upstream position) so a write whose outcome was unknown is
//     deduplicated when it is retried. (A retried batch may be cut
//     differently from the first attempt; the atomic checkpoint makes that
//     harmless, since either all of a write is durable and its positions are
//     never handed out again, or none of it is.)
//   - The committed callback gets each write and its WriteResult: an append
//     reported as deduplicated was written before (its effect is already in
//     the state the service replayed), so the callback must not apply it a
//     second time. It runs before handled_position() moves past the write.
//   - An error for an event inside a batch: the handler returns the effects of
//     the events before it (`handled` = its index) with the error. The
//     follower writes that prefix with its checkpoint, then stops at the bad
//     event: it retries after a backoff (from the bad event) and never skips
//     an event. A handler that cannot say which event failed returns
//     handled = 0: then nothing of the batch is written.
//   - A handler may also return handled < events.size() with OK, e.g. to keep
//     one write within the store's limits: the follower writes that part and
//     calls the handler again at once with the rest.
//   - ABORTED from the write (an expected version did not hold because a
//     command appended to the same stream meanwhile) re-runs the handler on
//     the same batch at once. A handler that appends with ExpectedVersion::Any
//     never gets ABORTED; the command that raced with it may.
//
// The follower checks what it receives: positions must continue without gap
// or repeat, and each record's hash must match its bytes and chain to the
// previous record's hash. A bad record drops the connection after the events
// before it are handled and resumes from the last handled position.
// The checkpoint keeps the hash of the last upstream record handled, and a
// session that resumes first reads that record back from the upstream
// (EventLog.Read): an upstream whose log ends before it, or holds another
// record there -- restored from an older backup, or replaced -- is refused
// with DATA_LOSS and retried with the backoff, so the follower never takes
// new events at positions it has handled for ones it has (the stream looks
// disconnected in the metrics; the log says why).
//
// The upstream may be down or restart at any time: the follower reconnects
// with jittered exponential backoff. Its own service keeps serving meanwhile.
//
// A service may follow several upstreams: one Follower each, each with its
// own consumer name (its checkpoint), over one store.
//
// Thread safety: Start and Stop from one thread; the accessors and
// WaitForHandled from any thread. The handler and the committed callback run
// on the follower's own thread, one batch at a time, in position order.
#ifndef MEND_COMMON_RUNTIME_FOLLOWER_H_
#define MEND_COMMON_RUNTIME_FOLLOWER_H_

#include <atomic>
#include <cstdint>
#include <functional>
#include <memory>
#include <optional>
#include <string>
#include <string_view>
#include <thread>
#include <utility>

#include "absl/base/thread_annotations.h"
#include "absl/status/status.h"
#include "absl/status/statusor.h"
#include "absl/strings/str_cat.h"
#include "absl/synchronization/mutex.h"
#include "absl/time/time.h"
#include "absl/types/span.h"
#include "common/eventlog/event_store.h"
#include "common/eventlog/record_codec.h"

namespace grpc {
class Channel;
class ClientContext;
}  // namespace grpc

namespace mend {

// One upstream event as the handler sees it. `view` and `bytes` are valid
// only during the handler's call.
struct UpstreamEvent {
  uint64_t position = 0;
  std::string_view bytes;  // the exact stored record
  const eventlog::RecordView& view;
};

// What a handler made of a batch `events`: the effects of events[0, handled)
// in one write, and, if it stopped early because events[handled] cannot be
// handled now, why.
struct BatchEffects {
  eventlog::WriteRequest write;  // no checkpoints: the follower adds its own
  size_t handled = 0;            // 0 < handled <= events.size() unless `error`
  absl::Status error;            // OK, or why events[handled] failed
};

// The append a handler makes of what one upstream `event` caused in one of
// its service's streams: `events` (each with .type and .payload) in order,
// with the ids "<upstream>@<position>/<index>" — deterministic, so a write
// whose outcome was unknown is deduplicated when it is retried —, `actor`
// (the service's name) as the actor with role "service", and the upstream
// event's correlation id and event id as correlation and causation.
template <typename Events>
eventlog::StreamAppend UpstreamAppend(std::string stream_id,
                                      eventlog::ExpectedVersion expected,
                                      std::string_view upstream,
                                      const UpstreamEvent& event, std::string_view actor,
                                      Events&& events) {
  eventlog::StreamAppend append{
      .stream_id = std::move(stream_id), .expected = expected, .events = {}};
  size_t index = 0;
  for (auto& decided : events) {
    eventlog::NewEvent e;
    e.event_id = absl::StrCat(std::string(upstream), "@", event.position, "/", index++);
    e.event_type = std::move(decided.type);
    e.payload = std::move(decided.payload);
    e.actor_id = std::string(actor);
    e.actor_role = "service";
    e.correlation_id = std::string(event.view.correlation_id);
    e.causation_id = std::string(event.view.event_id);
    append.events.push_back(std::move(e));
  }
  return append;
}

class Follower {
 public:
  struct Options {
    std::string upstream;  // the upstream service's name, e.g. "case"
    // Checkpoint name in the local log; default "follow:<upstream>". Two
    // followers over one store need different names.
    std::string consumer;
    std::shared_ptr<grpc::Channel> channel;
    // Called on every new call's context, e.g. to attach a service token.
    std::function<void(grpc::ClientContext*)> prepare_context;
    // Events a subscription message carries at most: the largest batch. 1..1000.
    int32_t max_batch = 500;
    absl::Duration initial_backoff = absl::Milliseconds(100);
    absl::Duration max_backoff = absl::Seconds(10);
    // Told about connections, disconnections and handler failures (no
    // personal data: upstream name, positions, status codes).
    std::function<void(bool error, const std::string& message)> log;
  };
  // Called with 1..max_batch consecutive upstream events; see the contract above.
  using Handler = std::function<BatchEffects(absl::Span<const UpstreamEvent> events)>;
  // The effects of one upstream event (see HandleEach).
  using EventHandler =
      std::function<absl::StatusOr<eventlog::WriteRequest>(const UpstreamEvent&)>;
  using Committed =
      std::function<void(const eventlog::WriteRequest&, const eventlog::WriteResult&)>;

  // A batch handler from a per-event one: calls `handle` for each event in
  // order and merges the writes -- appends to a stream already in the write
  // join its StreamAppend (the events of each stream stay in upstream order;
  // across streams they are grouped by stream). It cuts the batch before an
  // event whose write cannot be merged: an append whose expected version
  // would no longer hold after the earlier events' appends to that stream
  // (NO_STREAM, or an EXACT version other than the one they lead to; ANY and
  // EXISTS always merge), or that would pass 1000 events in one stream or
  // 8 MiB of payload. The follower then writes the part before it and calls
  // again from there, so `handle` may read the store to decide. An error from
  // `handle` stops the batch at that event (the events before it are kept).
  static BatchEffects HandleEach(absl::Span<const UpstreamEvent> events,
                                 const EventHandler& handle);
  // The aggregate (e.g. the case) an upstream event concerns, nullopt for
  // none; an error stops the batch at that event as `handle`'s would.
  using KeyOf =
      std::function<absl::StatusOr<std::optional<std::string>>(const UpstreamEvent&)>;
  // HandleEach for a handler whose choice to write anything at all depends on
  // the stored state of the event's aggregate (a cancellation that counts
  // only for a booking the state knows): the batch is also cut before an
  // event whose key an earlier event of the batch wrote to, so it is decided
  // on a state that includes that write. (The version rule above cuts only
  // where an append's expected version would fail, which a handler that
  // wrongly decides to write nothing never reaches.)
  static BatchEffects HandleEach(absl::Span<const UpstreamEvent> events,
                                 const EventHandler& handle, const KeyOf& key_of);
  // HandleEach(events, handle) as a Handler.
  static Handler PerEvent(EventHandler handle);

  // INVALID_ARGUMENT without an upstream name, channel or handler, or with
  // max_batch outside 1..1000; errors from reading the checkpoint.
  static absl::StatusOr<std::unique_ptr<Follower>> Create(eventlog::EventStore* store,
                                                          Options options,
                                                          Handler handler,
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
           Committed committed, eventlog::Checkpoint checkpoint);
  void Run();
  // One subscription, until it fails or Stop. Returns why it ended.
  absl::Status FollowOnce(bool* made_progress);
  // Before a session that resumes after `position`: the upstream's record
  // at `position`, read back (EventLog.Read), must be the one handled there
  // (`hash`, when known). Returns that record's hash, for the first record
  // of the session to chain to; DATA_LOSS if the upstream's log ends before
  // `position` or holds another record there (it was restored from an older
  // backup, or replaced); the call's error otherwise.
  absl::StatusOr<std::string> CheckResumePoint(grpc::ClientContext* context,
                                               uint64_t position,
                                               const std::string& hash);
  // Handles `events` (one message's, already checked) to the end: writes
  // each part the handler returns with its checkpoint. Returns the first
  // error (the handler's, the store's), with handled_ at the last durable
  // position.
  absl::Status HandleBatch(absl::Span<const UpstreamEvent> events);
  void Log(bool error, const std::string& message) const;
  bool SleepUnlessStopped(absl::Duration d);

  eventlog::EventStore* const store_;
  const Options options_;
  const Handler handler_;
  const Committed committed_;

  mutable absl::Mutex mu_;
  uint64_t handled_ ABSL_GUARDED_BY(mu_);
  // The hash of the upstream record at handled_ (empty if the checkpoint
  // was stored without one): what a new session checks the upstream against.
  std::string handled_hash_ ABSL_GUARDED_BY(mu_);
  uint64_t upstream_head_ ABSL_GUARDED_BY(mu_) = 0;
  bool connected_ ABSL_GUARDED_BY(mu_) = false;
  bool stopping_ ABSL_GUARDED_BY(mu_) = false;
  grpc::ClientContext* active_call_ ABSL_GUARDED_BY(mu_) = nullptr;

  std::thread thread_;
};

}  // namespace mend

#endif  // MEND_COMMON_RUNTIME_FOLLOWER_H_
