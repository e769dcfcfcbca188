#include "common/runtime/causal_token.h"

#include <algorithm>

#include "absl/strings/str_cat.h"
#include "absl/time/clock.h"
#include "common/base/status_macros.h"

namespace mend {
namespace {

// The token's positions by log name, in field order.
std::vector<std::pair<std::string, uint64_t>> Positions(
    const common::v1::CausalToken& token) {
  return {{"case", token.case_position()},
          {"consent", token.consent_position()},
          {"scheduling", token.scheduling_position()},
          {"conference", token.conference_position()}};
}

}  // namespace

absl::Status CausalWaiter::Wait(const common::v1::CausalToken& token,
                                absl::Time call_deadline, Freshness freshness) const {
  const absl::Duration remaining = call_deadline - absl::Now();
  const absl::Time deadline =
      call_deadline -
      std::clamp(remaining / 10, absl::ZeroDuration(), absl::Milliseconds(100));
  for (const auto& [log, given] : Positions(token)) {
    uint64_t position = given;
    const Follower* follower = nullptr;
    for (const auto& [name, f] : followers_) {
      if (name == log) follower = f;
    }
    if (follower != nullptr && position == 0 && freshness == kUpstreamHeadIfAbsent) {
      absl::StatusOr<uint64_t> head = follower->FetchUpstreamHead(deadline);
      if (!head.ok()) {
        return absl::UnavailableError(
            absl::StrCat("no causal token was given for the ", log,
                         " log and its current head cannot be learned (",
                         head.status().message(), "); retry, or pass a causal token"));
      }
      position = *head;
    }
    if (position == 0) continue;
    if (follower != nullptr) {
      MEND_RETURN_IF_ERROR(follower->WaitForHandled(position, deadline));
    } else if (log == own_log_) {
      const uint64_t head = store_->WaitForHeadAbove(position - 1, deadline);
      if (head < position) {
        return absl::UnavailableError(
            absl::StrCat("the ", log, " log has not reached position ", position,
                         " (its head is ", head, "); retry"));
      }
    } else {
      return absl::FailedPreconditionError(absl::StrCat(
          "the causal token names ", log, " position ", position, ", but the ", own_log_,
          " service does not follow the ", log, " log"));
    }
  }
  return absl::OkStatus();
}

}  // namespace mend
