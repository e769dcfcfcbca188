// The contact gate's command and its explanation as pure functions of the
// consent domain: what DecideContact records (I1, I2) and what re-running a
// recorded decision gives (ExplainDecision). The gRPC handler and the audit
// tool call these; neither decides anything itself.
//
//   // Handler: authorize, validate, wait for the causal token, read the
//   // follower's handled position, then under the case lock (retrying on
//   // ABORTED as for every command):
//   DecideContactCommand command{.case_id = request.case_id(),
//                                .decision_id = NewUuid(),
//                                .kind = request.kind(),
//                                .victim_id = request.victim_id(),
//                                .facilitator_id = request.facilitator_id(),
//                                .purpose = request.purpose(),
//                                .handled_case_position = handled,
//                                .causal_token = request.causal_token()};
//   CommandContext ctx{.actor_id = caller.subject, .role = caller.role,
//                      .now = absl::Now()};
//   MEND_ASSIGN_OR_RETURN(consent_v1::ContactDecisionMade d,
//                         DecideContact(facts, command, ctx));
//   // append d to ConsentStreamId(command.case_id) expecting facts.version.
//
//   // ExplainDecision (handler or audit tool): the stream's events from
//   // version 1 to recorded.stream_version - 1, as ConsentLogEvents.
//   MEND_ASSIGN_OR_RETURN(Explanation e, ExplainDecision(recorded, before));
//
// DecideContact, checked in this order:
//   PERMISSION_DENIED    a role other than facilitator or service
//   INVALID_ARGUMENT     no case_id, no decision_id, no (or an unknown) kind
//   PERMISSION_DENIED    a facilitator naming another facilitator_id (a
//                        facilitator asks only for themselves; an empty
//                        facilitator_id means the caller)
//   INVALID_ARGUMENT     a service naming no facilitator_id
//   PERMISSION_DENIED    a facilitator caller not allocated to the case, with
//                        the message `facilitator "<id>" is not allocated to
//                        case "<case_id>"` — the same whether or not the case
//                        was observed (I5: nothing about a case reaches a
//                        facilitator who may not see it), and nothing is
//                        recorded
//   NOT_FOUND            the case was never observed (the message says to
//                        pass a causal token)
//   INTERNAL             facts of another case
//   ResolveParties' outcomes (contact_rule.h) for victim_id
// Otherwise the decision, APPROVED or REFUSED, by the rule of
// kContactPolicyVersion at ctx.now. A service asking for an unallocated
// facilitator gets the recorded refusal FACILITATOR_NOT_ALLOCATED.
// The decision's case_position is the larger of handled_case_position (what
// the follower had handled when the handler read it, before the facts) and
// the last case-log position folded into the facts.
//
// ExplainDecision re-runs a recorded decision's own rule version on the
// facts folded from exactly the events before it in its stream:
//   FAILED_PRECONDITION  the decision's policy version is not in this build
//   DATA_LOSS            the decision is its stream's first event; the
//                        events do not fold (Evolve's message); they stop
//                        before the decision's version or are of another
//                        case; a rule that reads the decision's time and a
//                        decision that does not record one
//   INVALID_ARGUMENT     events at or past the decision's stream version
//
// Pure and deterministic; thread-safe (no shared state).
#ifndef MEND_SERVICES_CONSENT_CONTACT_DECISION_H_
#define MEND_SERVICES_CONSENT_CONTACT_DECISION_H_

#include <cstdint>
#include <string>

#include "absl/status/statusor.h"
#include "absl/types/span.h"
#include "common/base/command_context.h"
#include "mend/common/v1/contact.pb.h"
#include "mend/consent/v1/events.pb.h"
#include "services/consent/consent_state.h"

namespace mend::consentsvc {

using ::mend::CommandContext;

struct DecideContactCommand {
  std::string case_id;
  std::string decision_id;  // made by the handler (a UUID)
  common_v1::ContactKind kind = common_v1::CONTACT_KIND_UNSPECIFIED;
  std::string victim_id;       // empty: the case's only victim
  std::string facilitator_id;  // empty from a facilitator: the caller
  std::string purpose;
  uint64_t handled_case_position = 0;
  common_v1::CausalToken causal_token;  // what the caller had seen
};

// Who the decision is for: the facilitator caller, or the facilitator a
// service names. The role and facilitator checks of DecideContact above
// (PERMISSION_DENIED, INVALID_ARGUMENT), without the case: a handler may
// call it before waiting for the causal token.
absl::StatusOr<std::string> AskingFacilitator(const DecideContactCommand& command,
                                              const CommandContext& ctx);

absl::StatusOr<consent_v1::ContactDecisionMade> DecideContact(
    const CaseFacts& facts, const DecideContactCommand& command,
    const CommandContext& ctx);

struct Explanation {
  // The recorded decision with outcome, reasons, consulted facts and policy
  // version as the rule gives them again.
  consent_v1::ContactDecisionMade recomputed;
  bool same_outcome = false;
  bool same_reasons = false;
  bool same_consulted = false;
  // Consent-log position of the last event folded (0 if none).
  uint64_t facts_until_position = 0;
};

// `before`: the decision's stream from version 1 up to the version before
// the decision's, in order.
absl::StatusOr<Explanation> ExplainDecision(const DecisionRecord& recorded,
                                            absl::Span<const ConsentLogEvent> before);

}  // namespace mend::consentsvc

#endif  // MEND_SERVICES_CONSENT_CONTACT_DECISION_H_
