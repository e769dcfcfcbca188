// CommandPath: the one way a command of any mend service is carried out, from
// the aggregate's lock to the answer, and the in-memory aggregates it works
// on. A service gives it how to fold its events (Hooks) and, per command, a
// pure decide function; the gRPC side (authenticate, authorize, validate,
// reply) is CommandHandler's (command_handler.h).
//
//   CommandPath<CaseState, case_v1::CommandResult> path(store, {
//       .stream_prefix = "case-",
//       .evolve = [](CaseState& s, const ReplayedEvent& e) { ... },
//       .version = [](const CaseState& s) { return s.version; },
//       .answer = [](const CommandRecord& r, const CaseState& s) { ... }});
//   runtime->SetReplay([&](const ReplayedEvent& e) { return path.Apply(e); });
//   ...
//   absl::StatusOr<CommandOutcome<case_v1::CommandResult>> outcome = path.Execute(
//       {.method = "PauseCase", .request_id = r.request_id(), .aggregate_id =
//       r.case_id(),
//        .digest = RequestDigest(r), .caller = caller, .deadline = deadline},
//       [&](const CaseState& state, const CommandContext& ctx, const std::string& id)
//           -> absl::StatusOr<std::vector<DecidedEvent>> { ... });
//
// Execute, in order:
//   1. Requests: a request id being carried out makes a second call with it
//      wait for the first (until the deadline: DEADLINE_EXCEEDED). A request
//      id carried out before, for the same method, aggregate and content
//      (digest), is answered with the original answer and appends nothing;
//      for another method, aggregate or content it is ALREADY_EXISTS naming
//      the request id and what it was used for. Never a silent success.
//   2. The aggregate (made by `new_id` when the command has none: a create)
//      is locked — one command per aggregate at a time, different aggregates
//      in parallel — and caught up with its stream in the store (a record
//      appended but not folded, or written by a follower, is folded now).
//      Step 1's check is repeated on the caught-up state.
//   3. expected_version, if given, must be the aggregate's version: else
//      ABORTED naming both.
//   4. decide(state, {caller, now = clock()}, aggregate_id): pure; its
//      errors are the command's answer, nothing is appended.
//   5. The events are appended to stream_prefix + aggregate_id expecting
//      exactly the version decided on (NO_STREAM for a new aggregate), with
//      ids FormatCommandEventId({method, index, digest, request_id}), the
//      caller as actor, the request id as correlation id. ABORTED from the
//      store means another writer (a follower) appended to the stream
//      meanwhile: without expected_version the command is decided again on
//      the new state (step 2) until the deadline; with one, the caller gets
//      ABORTED. Other store errors (UNAVAILABLE: retry with the same request
//      id) are the answer.
//   6. The appended records are folded from the store (as recorded: the same
//      positions and times a restart replays), and the request's answer —
//      Hooks::answer on the state after its last event — is returned.
//      INTERNAL if the append is not found in the fold (a bug).
//
// Apply folds one record of the service's log: the runtime's replay, and
// Sync after a follower's write. It keeps the request index: every record
// whose event id is a command's (command_event_id.h) updates that request's
// CommandRecord and answer. DATA_LOSS for a record outside the service's
// streams, one whose stream version is not its aggregate's next, or
// whatever Hooks::evolve refuses.
//
// Reads: Read runs a function on one aggregate under the path's lock;
// ForEachAfter walks aggregates in id order. Both see only folded state.
//
// Thread safety: Execute, Sync and the reads from any thread. Apply before
// the service serves, or with the aggregate's lock held (Sync, Execute).
// Hooks are called with the path's lock held: they must not call back in.
#ifndef MEND_COMMON_RUNTIME_COMMAND_PATH_H_
#define MEND_COMMON_RUNTIME_COMMAND_PATH_H_

#include <algorithm>
#include <cstdint>
#include <functional>
#include <map>
#include <memory>
#include <optional>
#include <set>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

#include "absl/base/thread_annotations.h"
#include "absl/container/flat_hash_map.h"
#include "absl/container/flat_hash_set.h"
#include "absl/functional/function_ref.h"
#include "absl/status/status.h"
#include "absl/status/statusor.h"
#include "absl/strings/str_cat.h"
#include "absl/synchronization/mutex.h"
#include "absl/time/time.h"
#include "common/base/command_context.h"
#include "common/base/command_event_id.h"
#include "common/base/keyed_mutex.h"
#include "common/base/role.h"
#include "common/base/status_macros.h"
#include "common/eventlog/event_store.h"
#include "common/eventlog/record_codec.h"
#include "common/eventlog/stream_records.h"
#include "common/runtime/replayed_event.h"

namespace mend {

// One event a decide function returns: its type (the payload's full proto
// name) and payload bytes.
struct DecidedEvent {
  std::string type;
  std::string payload;
};

// What the log says one request did (rebuilt from event ids on replay).
struct CommandRecord {
  std::string method;
  std::string aggregate_id;
  std::string digest;
  uint64_t first_position = 0;  // of its first event
  uint64_t last_position = 0;   // of its last event
  uint64_t version = 0;         // the aggregate's version after it
};

template <typename Answer>
struct CommandOutcome {
  Answer answer;
  CommandRecord record;
  bool appended = false;  // false: a retry answered from the log
};

// One command for Execute.
struct Command {
  std::string_view method;  // "ReferCase": part of every event id
  std::string request_id;
  std::string aggregate_id;  // empty: a new aggregate, id made by new_id
  std::optional<uint64_t> expected_version;
  std::string digest;  // RequestDigest of the request
  Caller caller;
  absl::Time deadline = absl::InfiniteFuture();
  std::string causation_id;  // e.g. a decision id the command rests on
};

// "\"s\"": how messages quote ids.
inline std::string Quoted(std::string_view s) {
  return absl::StrCat("\"", std::string(s), "\"");
}

template <typename State, typename Answer>
class CommandPath {
 public:
  struct Hooks {
    std::string stream_prefix;  // "case-": stream = prefix + aggregate id
    // Folds one record of the aggregate's stream into `state`; afterwards
    // version(state) must be the record's stream version.
    std::function<absl::Status(State& state, const ReplayedEvent& event)> evolve;
    std::function<uint64_t(const State& state)> version;
    // A request's answer from the state after its last event.
    std::function<Answer(const CommandRecord& record, const State& state)> answer;
  };
  using Decide = absl::FunctionRef<absl::StatusOr<std::vector<DecidedEvent>>(
      const State& state, const CommandContext& ctx, const std::string& aggregate_id)>;

  // `store` must outlive the path. `new_id` makes aggregate ids for creates
  // (a UUID); `clock` is the commands' now.
  CommandPath(eventlog::EventStore* store, Hooks hooks,
              std::function<std::string()> new_id, std::function<absl::Time()> clock)
      : store_(store),
        hooks_(std::move(hooks)),
        new_id_(std::move(new_id)),
        clock_(std::move(clock)) {}

  absl::Status Apply(const ReplayedEvent& event) {
    absl::MutexLock lock(&mu_);
    return ApplyLocked(event);
  }

  // Locks the aggregate and folds what its stream holds beyond the folded
  // state (after a follower wrote to it).
  absl::Status Sync(const std::string& aggregate_id) {
    std::shared_ptr<absl::Mutex> m = locks_.For(aggregate_id);
    absl::MutexLock lock(m.get());
    return CatchUp(aggregate_id);
  }

  // Step 1 alone, for a handler that must do something before Execute that
  // a retry must not do again or be refused by -- ask the contact gate,
  // whose question the first call's own effect now fails ("delivered
  // already"): the original answer to a request id carried out before (a
  // retry whose first answer was lost), ALREADY_EXISTS for one used
  // otherwise, nullopt for a new or in-flight one (Execute checks again).
  absl::StatusOr<std::optional<CommandOutcome<Answer>>> Answered(const Command& command) {
    absl::MutexLock lock(&mu_);
    return Retried(command);
  }

  absl::StatusOr<CommandOutcome<Answer>> Execute(const Command& command, Decide decide) {
    return Once(command, [&]() -> absl::StatusOr<CommandOutcome<Answer>> {
      const std::string aggregate_id =
          command.aggregate_id.empty() ? new_id_() : command.aggregate_id;
      std::shared_ptr<absl::Mutex> m = locks_.For(aggregate_id);
      absl::MutexLock lock(m.get());
      return ExecuteLocked(command, aggregate_id, decide);
    });
  }

  // A command that appends to several aggregates in one atomic write (a link
  // between two cases, an erasure across linked cases). As Execute, except:
  // the command names its primary aggregate (INVALID_ARGUMENT otherwise),
  // whose events answer it; the aggregates are locked in id order, caught
  // up, and `reach(states)` names any further aggregate the decision needs
  // (they are added, and everything is locked and read again, until nothing
  // is missing); `decide(states, ctx)` returns the events for each
  // aggregate, each appended expecting the version decided on; the
  // primary's events come first and number from 0 on across all of them.
  struct AggregateAppend {
    std::string aggregate_id;
    std::vector<DecidedEvent> events;
  };
  using States = std::map<std::string, const State*, std::less<>>;
  using Reach = absl::FunctionRef<std::vector<std::string>(const States& states)>;
  using DecideAcross = absl::FunctionRef<absl::StatusOr<std::vector<AggregateAppend>>(
      const States& states, const CommandContext& ctx)>;
  absl::StatusOr<CommandOutcome<Answer>> ExecuteAcross(const Command& command,
                                                       Reach reach, DecideAcross decide) {
    if (command.aggregate_id.empty()) {
      return absl::InvalidArgumentError(
          absl::StrCat(std::string(command.method), " names no aggregate"));
    }
    return Once(command, [&]() -> absl::StatusOr<CommandOutcome<Answer>> {
      std::set<std::string> ids = {command.aggregate_id};
      for (;;) {
        LockSet held(locks_, ids);
        absl::StatusOr<std::optional<CommandOutcome<Answer>>> done =
            ExecuteAcrossLocked(command, ids, reach, decide);
        if (!done.ok()) return done.status();
        if (done->has_value()) return **std::move(done);
        // `ids` grew, or another writer appended meanwhile: again, with the
        // locks of every aggregate it needs.
      }
    });
  }

  // Runs `read(state)` on the folded state of `aggregate_id` under the path's
  // lock; NOT_FOUND (`missing`) if it has none.
  absl::Status Read(const std::string& aggregate_id,
                    absl::FunctionRef<absl::Status(const State& state)> read,
                    absl::FunctionRef<absl::Status()> missing) const {
    absl::MutexLock lock(&mu_);
    auto it = aggregates_.find(aggregate_id);
    if (it == aggregates_.end()) return missing();
    return read(it->second);
  }

  // Calls `visit(id, state)` for aggregates with ids after `after` (all for
  // ""), in id order, until it returns false. Under the path's lock.
  void ForEachAfter(
      const std::string& after,
      absl::FunctionRef<bool(const std::string& id, const State& state)> visit) const {
    absl::MutexLock lock(&mu_);
    for (auto it = after.empty() ? aggregates_.begin() : aggregates_.upper_bound(after);
         it != aggregates_.end(); ++it) {
      if (!visit(it->first, it->second)) return;
    }
  }

  // The folded state of an aggregate whose lock the caller holds through the
  // command path (a decide function's `state` is this): only holders of the
  // aggregate's lock change it, so it can be read without the path's lock.
  const State* LockedState(const std::string& aggregate_id) const
      ABSL_NO_THREAD_SAFETY_ANALYSIS {
    absl::MutexLock lock(&mu_);
    auto it = aggregates_.find(aggregate_id);
    return it == aggregates_.end() ? nullptr : &it->second;
  }

 private:
  // Step 1 of every command: waits out a call with the same request id,
  // answers a retry, or marks the id in flight and runs `body`.
  absl::StatusOr<CommandOutcome<Answer>> Once(
      const Command& command,
      absl::FunctionRef<absl::StatusOr<CommandOutcome<Answer>>()> body) {
    {
      absl::MutexLock lock(&mu_);
      struct Waiting {
        const absl::flat_hash_set<std::string>* in_flight;
        const std::string* request_id;
      } waiting{&in_flight_, &command.request_id};
      if (!mu_.AwaitWithDeadline(
              absl::Condition(
                  +[](Waiting* w) { return !w->in_flight->contains(*w->request_id); },
                  &waiting),
              command.deadline)) {
        return absl::DeadlineExceededError(absl::StrCat(
            "request ", Quoted(command.request_id), " is still being carried out"));
      }
      absl::StatusOr<std::optional<CommandOutcome<Answer>>> done = Retried(command);
      if (!done.ok()) return done.status();
      if (done->has_value()) return **std::move(done);
      in_flight_.insert(command.request_id);
    }
    absl::StatusOr<CommandOutcome<Answer>> outcome = body();
    absl::MutexLock lock(&mu_);
    in_flight_.erase(command.request_id);
    return outcome;
  }

  // One round of ExecuteAcross with the locks of `ids` held: the outcome, or
  // nullopt to go again (with `ids` grown, or after another writer's append).
  absl::StatusOr<std::optional<CommandOutcome<Answer>>> ExecuteAcrossLocked(
      const Command& command, std::set<std::string>& ids, Reach reach,
      DecideAcross decide) {
    for (const std::string& id : ids) MEND_RETURN_IF_ERROR(CatchUp(id));
    {
      absl::MutexLock lock(&mu_);
      absl::StatusOr<std::optional<CommandOutcome<Answer>>> done = Retried(command);
      if (!done.ok() || done->has_value()) return done;
    }
    static const State* const kNone = new State();
    States states;
    for (const std::string& id : ids) {
      const State* found = LockedState(id);
      states.emplace(id, found == nullptr ? kNone : found);
    }
    bool grew = false;
    for (std::string& more : reach(states)) grew |= ids.insert(std::move(more)).second;
    if (grew) return std::nullopt;
    const uint64_t version = hooks_.version(*states.at(command.aggregate_id));
    if (command.expected_version.has_value() && *command.expected_version != version) {
      return absl::AbortedError(absl::StrCat(
          std::string(command.method), ": ", Quoted(command.aggregate_id),
          " is at version ", version, ", not the expected ", *command.expected_version));
    }
    const CommandContext ctx{
        .actor_id = command.caller.subject, .role = command.caller.role, .now = clock_()};
    MEND_ASSIGN_OR_RETURN(std::vector<AggregateAppend> appends, decide(states, ctx));
    std::stable_partition(appends.begin(), appends.end(), [&](const AggregateAppend& a) {
      return a.aggregate_id == command.aggregate_id;
    });
    if (appends.empty() || appends[0].aggregate_id != command.aggregate_id ||
        appends[0].events.empty()) {
      return absl::InternalError(
          absl::StrCat(std::string(command.method),
                       " decided no event for its own aggregate (a bug)"));
    }
    eventlog::WriteRequest write;
    uint32_t index = 0;
    for (AggregateAppend& a : appends) {
      auto it = states.find(a.aggregate_id);
      if (it == states.end()) {
        return absl::InternalError(absl::StrCat(std::string(command.method),
                                                " decided events for an aggregate it did "
                                                "not read (a bug)"));
      }
      const uint64_t v = hooks_.version(*it->second);
      write.appends.push_back({hooks_.stream_prefix + a.aggregate_id,
                               v == 0 ? eventlog::ExpectedVersion::NoStream()
                                      : eventlog::ExpectedVersion::Exact(v),
                               Events(command, index, std::move(a.events))});
      index += write.appends.back().events.size();
    }
    absl::StatusOr<eventlog::WriteResult> written = store_->Write(std::move(write));
    if (absl::IsAborted(written.status()) && !command.expected_version.has_value() &&
        clock_() < command.deadline) {
      return std::nullopt;  // another writer appended meanwhile: decide again
    }
    if (!written.ok()) return written.status();
    for (const std::string& id : ids) MEND_RETURN_IF_ERROR(CatchUp(id));
    bool deduplicated = true;
    for (const eventlog::AppendResult& r : written->appends) {
      deduplicated = deduplicated && r.deduplicated;
    }
    return Folded(command, command.aggregate_id, !deduplicated);
  }

  // The command's events, with ids numbered from `first_index`.
  static std::vector<eventlog::NewEvent> Events(const Command& command,
                                                uint32_t first_index,
                                                std::vector<DecidedEvent> decided) {
    std::vector<eventlog::NewEvent> events;
    events.reserve(decided.size());
    const std::string role(RoleName(command.caller.role));
    for (size_t i = 0; i < decided.size(); ++i) {
      events.push_back(eventlog::NewEvent{
          .event_id =
              FormatCommandEventId({.method = std::string(command.method),
                                    .index = first_index + static_cast<uint32_t>(i),
                                    .digest = command.digest,
                                    .request_id = command.request_id}),
          .event_type = std::move(decided[i].type),
          .payload = std::move(decided[i].payload),
          .actor_id = command.caller.subject,
          .actor_role = role,
          .correlation_id = command.request_id,
          .causation_id = command.causation_id});
    }
    return events;
  }

  // The request's outcome once its events are folded; INTERNAL if they are
  // not (a bug).
  absl::StatusOr<CommandOutcome<Answer>> Folded(const Command& command,
                                                const std::string& aggregate_id,
                                                bool appended) {
    absl::MutexLock lock(&mu_);
    auto it = requests_.find(command.request_id);
    if (it == requests_.end() || it->second.first.aggregate_id != aggregate_id) {
      return absl::InternalError(absl::StrCat("request ", Quoted(command.request_id),
                                              " was appended but not folded"));
    }
    return CommandOutcome<Answer>{it->second.second, it->second.first, appended};
  }

  // Step 1 under mu_: the answer to a retry, ALREADY_EXISTS, or nullopt for a
  // request id not used before.
  absl::StatusOr<std::optional<CommandOutcome<Answer>>> Retried(const Command& command)
      ABSL_EXCLUSIVE_LOCKS_REQUIRED(mu_) {
    auto it = requests_.find(command.request_id);
    if (it == requests_.end()) return std::nullopt;
    const auto& [record, answer] = it->second;
    if (record.method != command.method ||
        (!command.aggregate_id.empty() && record.aggregate_id != command.aggregate_id) ||
        record.digest != command.digest) {
      const char* what =
          record.method != command.method ? "another command"
          : !command.aggregate_id.empty() && record.aggregate_id != command.aggregate_id
              ? "another aggregate"
              : "a request with other content";
      return absl::AlreadyExistsError(
          absl::StrCat("request_id ", Quoted(command.request_id), " was used for ", what,
                       " (", record.method, " on ", Quoted(record.aggregate_id),
                       "); a new command needs a new request_id"));
    }
    return CommandOutcome<Answer>{answer, record, /*appended=*/false};
  }

  absl::StatusOr<CommandOutcome<Answer>> ExecuteLocked(const Command& command,
                                                       const std::string& aggregate_id,
                                                       Decide decide) {
    for (;;) {
      MEND_RETURN_IF_ERROR(CatchUp(aggregate_id));
      {
        absl::MutexLock lock(&mu_);
        absl::StatusOr<std::optional<CommandOutcome<Answer>>> done = Retried(command);
        if (!done.ok()) return done.status();
        if (done->has_value()) return **std::move(done);
      }
      static const State* const kNone = new State();
      const State* found = LockedState(aggregate_id);
      const State& state = found == nullptr ? *kNone : *found;
      const uint64_t version = hooks_.version(state);
      if (command.expected_version.has_value() && *command.expected_version != version) {
        return absl::AbortedError(absl::StrCat(
            std::string(command.method), ": ", Quoted(aggregate_id), " is at version ",
            version, ", not the expected ", *command.expected_version));
      }
      const CommandContext ctx{.actor_id = command.caller.subject,
                               .role = command.caller.role,
                               .now = clock_()};
      MEND_ASSIGN_OR_RETURN(std::vector<DecidedEvent> decided,
                            decide(state, ctx, aggregate_id));
      if (decided.empty()) {
        return absl::InternalError(absl::StrCat(std::string(command.method),
                                                " decided no event (a domain bug)"));
      }
      std::vector<eventlog::NewEvent> events = Events(command, 0, std::move(decided));
      const eventlog::ExpectedVersion expected =
          version == 0 ? eventlog::ExpectedVersion::NoStream()
                       : eventlog::ExpectedVersion::Exact(version);
      absl::StatusOr<eventlog::AppendResult> appended = store_->Append(
          hooks_.stream_prefix + aggregate_id, expected, std::move(events));
      if (absl::IsAborted(appended.status()) && !command.expected_version.has_value() &&
          clock_() < command.deadline) {
        continue;  // another writer appended meanwhile: decide again on it
      }
      if (!appended.ok()) return appended.status();
      MEND_RETURN_IF_ERROR(CatchUp(aggregate_id));
      return Folded(command, aggregate_id, /*appended=*/!appended->deduplicated);
    }
  }

  // Folds the aggregate's stream beyond its folded version. The caller holds
  // the aggregate's lock.
  absl::Status CatchUp(const std::string& aggregate_id) {
    uint64_t version = 0;
    if (const State* state = LockedState(aggregate_id)) version = hooks_.version(*state);
    return eventlog::ForEachStreamRecord(
        *store_, hooks_.stream_prefix + aggregate_id, version + 1, /*to_version=*/0,
        [&](const eventlog::RawRecord& record, const eventlog::RecordView& view) {
          return Apply(ReplayedEvent{record.position, record.bytes, view});
        });
  }

  absl::Status ApplyLocked(const ReplayedEvent& event)
      ABSL_EXCLUSIVE_LOCKS_REQUIRED(mu_) {
    const eventlog::RecordView& view = event.view;
    if (!view.stream_id.starts_with(hooks_.stream_prefix) ||
        view.stream_id.size() == hooks_.stream_prefix.size()) {
      return absl::DataLossError(absl::StrCat("position ", event.position, ": stream ",
                                              Quoted(view.stream_id), " is not a ",
                                              Quoted(hooks_.stream_prefix), " stream"));
    }
    // (A replay folds every record here: no copy of the id, no state made,
    // unless the aggregate is new.)
    const std::string_view aggregate_id =
        view.stream_id.substr(hooks_.stream_prefix.size());
    auto it = aggregates_.find(aggregate_id);
    const bool fresh = it == aggregates_.end();
    std::optional<State> scratch;
    State& state = fresh ? scratch.emplace() : it->second;
    const uint64_t before = hooks_.version(state);
    if (view.stream_version != before + 1) {
      return absl::DataLossError(absl::StrCat(
          "position ", event.position, " is version ", view.stream_version, " of ",
          Quoted(view.stream_id), ", but the folded stream is at version ", before));
    }
    MEND_RETURN_IF_ERROR(hooks_.evolve(state, event));
    if (hooks_.version(state) != view.stream_version) {
      return absl::DataLossError(
          absl::StrCat("position ", event.position, " did not fold to version ",
                       view.stream_version, " of ", Quoted(view.stream_id)));
    }
    if (fresh)
      it = aggregates_.emplace(std::string(aggregate_id), *std::move(scratch)).first;
    if (std::optional<CommandEventId> id = ParseCommandEventId(view.event_id)) {
      // A request's record starts at its first event (index 0, always in
      // its own aggregate and first in the log); its later events in that
      // aggregate move it on. Events of the request in other aggregates
      // (ExecuteAcross) do not: the request answers with its own.
      auto found = requests_.find(id->request_id);
      if (id->index == 0) {
        found =
            requests_.insert_or_assign(id->request_id, std::pair<CommandRecord, Answer>())
                .first;
        found->second.first = CommandRecord{.method = id->method,
                                            .aggregate_id = std::string(aggregate_id),
                                            .digest = id->digest,
                                            .first_position = event.position};
      }
      if (found != requests_.end()) {
        auto& [record, answer] = found->second;
        if (record.aggregate_id == aggregate_id && record.digest == id->digest) {
          record.last_position = event.position;
          record.version = view.stream_version;
          answer = hooks_.answer(record, it->second);
        }
      }
    }
    return absl::OkStatus();
  }

  // Constant after construction.
  eventlog::EventStore* const store_;
  const Hooks hooks_;
  const std::function<std::string()> new_id_;
  const std::function<absl::Time()> clock_;

  KeyedMutexes locks_;  // one per aggregate, held across a command

  mutable absl::Mutex mu_;
  std::map<std::string, State, std::less<>> aggregates_
      ABSL_GUARDED_BY(mu_);  // ordered: pages
  absl::flat_hash_map<std::string, std::pair<CommandRecord, Answer>> requests_
      ABSL_GUARDED_BY(mu_);
  absl::flat_hash_set<std::string> in_flight_ ABSL_GUARDED_BY(mu_);
};

}  // namespace mend

#endif  // MEND_COMMON_RUNTIME_COMMAND_PATH_H_
