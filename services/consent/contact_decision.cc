#include "services/consent/contact_decision.h"

#include <algorithm>
#include <utility>

#include "absl/strings/str_cat.h"
#include "absl/time/time.h"
#include "common/base/status_macros.h"
#include "google/protobuf/util/message_differencer.h"
#include "services/consent/consent_decide.h"
#include "services/consent/contact_rule.h"

namespace mend::consentsvc {
namespace {

std::string Quote(std::string_view s) { return absl::StrCat("\"", std::string(s), "\""); }

template <typename M>
bool SameRepeated(const google::protobuf::RepeatedPtrField<M>& a,
                  const google::protobuf::RepeatedPtrField<M>& b) {
  if (a.size() != b.size()) return false;
  for (int i = 0; i < a.size(); ++i) {
    if (!google::protobuf::util::MessageDifferencer::Equals(a.Get(i), b.Get(i))) {
      return false;
    }
  }
  return true;
}

void SetRuling(ContactRuling ruling, consent_v1::ContactDecisionMade& d) {
  d.set_outcome(ruling.outcome);
  d.clear_reasons();
  for (consent_v1::Reason& r : ruling.reasons) *d.add_reasons() = std::move(r);
  d.clear_consulted();
  for (consent_v1::ConsultedFact& f : ruling.consulted) *d.add_consulted() = std::move(f);
  d.set_policy_version(std::move(ruling.policy_version));
}

}  // namespace

absl::StatusOr<std::string> AskingFacilitator(const DecideContactCommand& command,
                                              const CommandContext& ctx) {
  switch (ctx.role) {
    case Role::kFacilitator:
      if (!command.facilitator_id.empty() && command.facilitator_id != ctx.actor_id) {
        return absl::PermissionDeniedError(absl::StrCat(
            "a facilitator asks only for themselves: facilitator_id ",
            Quote(command.facilitator_id), " is not the caller ", Quote(ctx.actor_id)));
      }
      return ctx.actor_id;
    case Role::kService:
      if (command.facilitator_id.empty()) {
        return absl::InvalidArgumentError(
            "facilitator_id: required when a service asks on a facilitator's behalf");
      }
      return command.facilitator_id;
    case Role::kManager:
    case Role::kAuditor:
    case Role::kOperator:
      break;
  }
  return absl::PermissionDeniedError(
      absl::StrCat("DecideContact: the ", std::string(RoleName(ctx.role)),
                   " role does not ask for contact decisions (a facilitator or the "
                   "service about to make the contact does)"));
}

absl::StatusOr<consent_v1::ContactDecisionMade> DecideContact(
    const CaseFacts& facts, const DecideContactCommand& command,
    const CommandContext& ctx) {
  if (ctx.role != Role::kFacilitator && ctx.role != Role::kService) {
    return AskingFacilitator(command, ctx).status();
  }
  if (command.case_id.empty()) {
    return absl::InvalidArgumentError("DecideContact: case_id is required");
  }
  if (command.decision_id.empty()) {
    return absl::InvalidArgumentError("DecideContact: decision_id is required");
  }
  if (command.kind == common_v1::CONTACT_KIND_UNSPECIFIED ||
      !common_v1::ContactKind_IsValid(command.kind)) {
    return absl::InvalidArgumentError(
        absl::StrCat("DecideContact: kind ", command.kind, " is not a kind of contact"));
  }
  MEND_ASSIGN_OR_RETURN(const std::string facilitator_id,
                        AskingFacilitator(command, ctx));
  // Need to know (I5): before anything about the case, even whether it
  // exists.
  if (ctx.role == Role::kFacilitator &&
      !(facts.case_known() && facts.case_state.IsAllocated(ctx.actor_id))) {
    return FacilitatorNotAllocated(ctx.actor_id, command.case_id);
  }
  if (!facts.case_known()) {
    return absl::NotFoundError(absl::StrCat(
        "case ", Quote(command.case_id),
        " is not known to the consent service (case log handled up to ",
        command.handled_case_position, "; pass a causal token if the case is new)"));
  }
  if (facts.case_id != command.case_id) {
    return absl::InternalError(
        absl::StrCat("DecideContact: command for case ", Quote(command.case_id),
                     " given the facts of case ", Quote(facts.case_id)));
  }
  MEND_ASSIGN_OR_RETURN(ContactParties parties, ResolveParties(facts, command.victim_id));
  const ContactRule rule = FindContactRule(kContactPolicyVersion);
  if (rule == nullptr) {
    return absl::InternalError(
        absl::StrCat("no rule for the current policy ", kContactPolicyVersion));
  }
  const ContactQuestion question{.kind = command.kind,
                                 .victim_id = parties.victim_id,
                                 .service_user_id = parties.service_user_id,
                                 .facilitator_id = facilitator_id,
                                 .decided_at = ctx.now};

  consent_v1::ContactDecisionMade d;
  d.set_decision_id(command.decision_id);
  d.set_case_id(command.case_id);
  d.set_kind(command.kind);
  SetRuling(rule(facts, question), d);
  d.set_victim_id(parties.victim_id);
  d.set_service_user_id(parties.service_user_id);
  d.set_facilitator_id(facilitator_id);
  d.set_requested_by(ctx.actor_id);
  d.set_requested_by_role(std::string(RoleName(ctx.role)));
  d.set_purpose(command.purpose);
  d.set_case_position(std::max(command.handled_case_position, facts.last_case_position));
  *d.mutable_causal_token() = command.causal_token;
  if (RuleReadsTime(kContactPolicyVersion)) {
    d.set_decided_at_unix_micros(absl::ToUnixMicros(ctx.now));
  }
  return d;
}

absl::StatusOr<Explanation> ExplainDecision(const DecisionRecord& recorded,
                                            absl::Span<const ConsentLogEvent> before) {
  const consent_v1::ContactDecisionMade& decision = recorded.decision;
  const ContactRule rule = FindContactRule(decision.policy_version());
  if (rule == nullptr) {
    return absl::FailedPreconditionError(absl::StrCat(
        "decision ", Quote(decision.decision_id()), " was made by policy ",
        Quote(decision.policy_version()), ", which this build does not have"));
  }
  if (recorded.stream_version < 2) {
    return absl::DataLossError(absl::StrCat("decision ", Quote(decision.decision_id()),
                                            " is the first event of its stream"));
  }
  CaseFacts then;
  Explanation out;
  for (const ConsentLogEvent& event : before) {
    if (event.stream_version >= recorded.stream_version) {
      return absl::InvalidArgumentError(
          absl::StrCat("the event at stream version ", event.stream_version,
                       " is not before decision ", Quote(decision.decision_id()),
                       " at version ", recorded.stream_version));
    }
    MEND_RETURN_IF_ERROR(Evolve(then, event));
    out.facts_until_position = event.position;
  }
  if (then.version + 1 != recorded.stream_version) {
    return absl::DataLossError(absl::StrCat(
        "stream ", Quote(ConsentStreamId(decision.case_id())), " ends at version ",
        then.version, " before its decision at version ", recorded.stream_version));
  }
  if (then.case_id != decision.case_id()) {
    return absl::DataLossError(absl::StrCat(
        "decision ", Quote(decision.decision_id()), " of case ",
        Quote(decision.case_id()), " follows events of case ", Quote(then.case_id)));
  }
  if (RuleReadsTime(decision.policy_version()) &&
      !decision.has_decided_at_unix_micros()) {
    return absl::DataLossError(absl::StrCat("decision ", Quote(decision.decision_id()),
                                            " by ", decision.policy_version(),
                                            " does not record the time its rule used"));
  }
  const ContactRuling ruling = rule(
      then, ContactQuestion{
                .kind = decision.kind(),
                .victim_id = decision.victim_id(),
                .service_user_id = decision.service_user_id(),
                .facilitator_id = decision.facilitator_id(),
                .decided_at = absl::FromUnixMicros(decision.decided_at_unix_micros())});
  out.recomputed = decision;
  SetRuling(ruling, out.recomputed);
  out.same_outcome = out.recomputed.outcome() == decision.outcome();
  out.same_reasons = SameRepeated(out.recomputed.reasons(), decision.reasons());
  out.same_consulted = SameRepeated(out.recomputed.consulted(), decision.consulted());
  return out;
}

}  // namespace mend::consentsvc
