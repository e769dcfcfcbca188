// The causal token (mend.common.v1.CausalToken): the log positions a caller
// has seen, which a service must have handled before it answers, so nothing
// is decided on older facts than the caller's (DESIGN, "The contact gate is
// synchronous").
//
//   CausalWaiter waiter("consent", runtime->store());
//   waiter.Follow("case", case_follower);
//   MEND_RETURN_IF_ERROR(waiter.Wait(request.causal_token(), call.deadline,
//                                    CausalWaiter::kUpstreamHeadIfAbsent));
//
// Each field of the token names one log: case_position, consent_position,
// scheduling_position, conference_position. A position in an upstream the
// service follows is waited for on its Follower (handled: its effects are
// in this service's log); one in the service's own log on the store (durable
// there). A position > 0 in a log the service neither follows nor is, is
// FAILED_PRECONDITION (the caller has the wrong service).
//
// With kUpstreamHeadIfAbsent, an upstream the token gives no position for is
// asked for its head now (Follower::FetchUpstreamHead) and that is waited
// for: "at that moment" never depends on the caller remembering a token. If
// the upstream cannot be asked, the wait is UNAVAILABLE (decide nothing on
// facts that may be stale).
//
// The wait gives up a little before the call's deadline (a tenth of the time
// left, at most 100 ms) so the caller hears UNAVAILABLE and how far the log
// has got rather than DEADLINE_EXCEEDED.
//
// Thread safety: Follow before use; Wait from any thread.
#ifndef MEND_COMMON_RUNTIME_CAUSAL_TOKEN_H_
#define MEND_COMMON_RUNTIME_CAUSAL_TOKEN_H_

#include <cstdint>
#include <string>
#include <utility>
#include <vector>

#include "absl/status/status.h"
#include "absl/time/time.h"
#include "common/eventlog/event_store.h"
#include "common/runtime/follower.h"
#include "mend/common/v1/contact.pb.h"

namespace mend {

class CausalWaiter {
 public:
  enum Freshness {
    kTokenOnly,             // wait for what the token names
    kUpstreamHeadIfAbsent,  // and for the head of every upstream it omits
  };

  // `own_log`: this service's name ("case", "consent", "scheduling",
  // "conference"). `store` must outlive the waiter.
  CausalWaiter(std::string own_log, const eventlog::EventStore* store)
      : own_log_(std::move(own_log)), store_(store) {}

  // Positions of log `upstream` are waited for on `follower` (which must
  // outlive the waiter).
  void Follow(std::string upstream, const Follower* follower) {
    followers_.emplace_back(std::move(upstream), follower);
  }

  // OK once every position is handled; UNAVAILABLE (saying how far the log
  // has got) if not by the deadline; FAILED_PRECONDITION as above.
  absl::Status Wait(const common::v1::CausalToken& token, absl::Time call_deadline,
                    Freshness freshness = kTokenOnly) const;

 private:
  const std::string own_log_;
  const eventlog::EventStore* const store_;
  std::vector<std::pair<std::string, const Follower*>> followers_;
};

}  // namespace mend

#endif  // MEND_COMMON_RUNTIME_CAUSAL_TOKEN_H_
