#include "services/case/case_people.h"

#include <algorithm>
#include <map>
#include <optional>
#include <set>
#include <string>
#include <string_view>
#include <tuple>
#include <utility>
#include <variant>
#include <vector>

#include "absl/strings/str_cat.h"
#include "absl/time/time.h"
#include "common/base/status_macros.h"
#include "services/case/case_decide_internal.h"

namespace mend::casesvc {

using internal::Access;
using internal::CheckCase;
using internal::CheckRole;
using internal::CheckStageGate;
using internal::DescribePeriod;
using internal::FormatUtc;
using internal::NotAllocated;
using internal::Outcome;
using internal::Quote;
using internal::Refuse;

absl::Status ValidateRetentionPeriod(absl::Duration period) {
  if (period == absl::InfiniteDuration()) {
    return absl::InvalidArgumentError(
        "retention_period must be finite (personal data is not kept for ever)");
  }
  if (period <= absl::ZeroDuration()) {
    return absl::InvalidArgumentError(absl::StrCat(
        "retention_period must be positive, not ", absl::FormatDuration(period)));
  }
  if (period % absl::Seconds(1) != absl::ZeroDuration()) {
    return absl::InvalidArgumentError(
        absl::StrCat("retention_period must be a whole number of seconds, not ",
                     absl::FormatDuration(period)));
  }
  return absl::OkStatus();
}

namespace {

constexpr std::string_view kErase = "EraseParticipant";
constexpr std::string_view kLink = "LinkParticipant";

absl::Status NoParticipant(std::string_view command, const CaseState& state,
                           std::string_view participant_id) {
  return absl::NotFoundError(absl::StrCat(std::string(command), ": no participant ",
                                          Quote(participant_id), " in case ",
                                          Quote(state.case_id)));
}

// The participant the link names on one side, not erased.
absl::StatusOr<const ParticipantState*> LinkSide(const CaseState& state,
                                                 std::string_view participant_id) {
  const ParticipantState* p = state.FindParticipant(participant_id);
  if (p == nullptr) return NoParticipant(kLink, state, participant_id);
  if (p->erased) {
    return Refuse(kLink, state,
                  absl::StrCat("participant ", Quote(participant_id),
                               " is erased; an erased person is linked to nobody"));
  }
  return p;
}

case_v1::ParticipantLinked Linked(const CaseState& state,
                                  const std::string& participant_id,
                                  const CasePerson& other, const CommandContext& ctx,
                                  const std::string& reason) {
  case_v1::ParticipantLinked linked;
  linked.set_case_id(state.case_id);
  linked.set_participant_id(participant_id);
  linked.mutable_other()->set_case_id(other.case_id);
  linked.mutable_other()->set_participant_id(other.participant_id);
  linked.set_linked_by(ctx.actor_id);
  linked.set_reason(reason);
  return linked;
}

// The retention rule for one case of the group; the period applied, in
// seconds (0: none applies).
absl::StatusOr<int64_t> CheckRetention(const CaseState& state,
                                       const EraseParticipantCommand& command,
                                       const CommandContext& ctx) {
  // No stage gate: a closed case accepts erasure (I4), and only a closed one.
  if (state.stage != case_v1::CLOSED) {
    return Refuse(kErase, state,
                  "personal data is erased only once the case is closed; close the "
                  "case first");
  }
  if (command.basis != case_v1::RETENTION_PERIOD_ELAPSED) return 0;
  if (state.closed_unix_micros <= 0) {
    return Refuse(kErase, state,
                  "the case's closure time is not known, so its retention period "
                  "cannot be counted");
  }
  const absl::Time closed_at = absl::FromUnixMicros(state.closed_unix_micros);
  const absl::Time allowed_from = closed_at + command.retention_period;
  if (ctx.now < allowed_from) {
    return Refuse(
        kErase, state,
        absl::StrCat("the retention period of ", DescribePeriod(command.retention_period),
                     " since the case was closed at ", FormatUtc(closed_at),
                     " has not elapsed; erasure on basis "
                     "RETENTION_PERIOD_ELAPSED is allowed from ",
                     FormatUtc(allowed_from),
                     " (a person's own request is basis ERASURE_REQUEST)"));
  }
  return absl::ToInt64Seconds(command.retention_period);
}

absl::Status ValidateErasure(const EraseParticipantCommand& command,
                             const CommandContext& ctx) {
  MEND_RETURN_IF_ERROR(CheckRole(kErase, Access::kCaseworker, ctx));
  if (command.participant_id.empty()) {
    return Invalid(kErase, "participant_id is required");
  }
  if (command.basis == case_v1::ERASURE_BASIS_UNSPECIFIED ||
      !case_v1::ErasureBasis_IsValid(command.basis)) {
    return Invalid(kErase, "basis must be RETENTION_PERIOD_ELAPSED or ERASURE_REQUEST");
  }
  if (command.reason.empty()) {
    return Invalid(kErase, "reason is required (the detail of the erasure's basis)");
  }
  if (absl::Status s = ValidateRetentionPeriod(command.retention_period); !s.ok()) {
    return Invalid(kErase, std::string(s.message()));
  }
  // The person's own request bypasses the retention period, so granting it
  // is a manager's decision.
  if (command.basis == case_v1::ERASURE_REQUEST) {
    MEND_RETURN_IF_ERROR(CheckRole(kErase, Access::kManagerOnly, ctx,
                                   "only a manager may grant a person's own erasure "
                                   "request (basis ERASURE_REQUEST)"));
  }
  return absl::OkStatus();
}

}  // namespace

absl::StatusOr<std::vector<CaseAppend>> DecideLinkParticipant(
    const CaseState& state, const CaseState& other, const LinkParticipantCommand& command,
    const CommandContext& ctx) {
  MEND_RETURN_IF_ERROR(CheckRole(kLink, Access::kManagerOnly, ctx,
                                 "only a manager may link participants across cases"));
  if (command.participant_id.empty()) return Invalid(kLink, "participant_id is required");
  if (command.other_case_id.empty()) return Invalid(kLink, "other_case_id is required");
  if (command.other_participant_id.empty()) {
    return Invalid(kLink, "other_participant_id is required");
  }
  if (command.reason.empty()) return Invalid(kLink, "reason is required");
  if (command.other_case_id == command.case_id) {
    return Invalid(kLink,
                   "a link joins participants of two cases; within a case each "
                   "participant is one person");
  }
  MEND_RETURN_IF_ERROR(CheckCase(kLink, state, command.case_id, ctx));
  MEND_RETURN_IF_ERROR(CheckCase(kLink, other, command.other_case_id, ctx));
  // A link is identity bookkeeping, not casework: any stage but CLOSED.
  constexpr unsigned kAccepted = internal::kWhilePaused | internal::kWhileFoundUnsuitable;
  MEND_RETURN_IF_ERROR(CheckStageGate(kLink, state, kAccepted));
  MEND_RETURN_IF_ERROR(CheckStageGate(kLink, other, kAccepted));
  MEND_ASSIGN_OR_RETURN(const ParticipantState* p,
                        LinkSide(state, command.participant_id));
  MEND_RETURN_IF_ERROR(LinkSide(other, command.other_participant_id).status());
  const CasePerson here{command.case_id, command.participant_id};
  const CasePerson there{command.other_case_id, command.other_participant_id};
  if (std::find(p->linked.begin(), p->linked.end(), there) != p->linked.end()) {
    return absl::AlreadyExistsError(absl::StrCat(
        std::string(kLink), ": participant ", Quote(here.participant_id), " of case ",
        Quote(here.case_id), " is already linked to participant ",
        Quote(there.participant_id), " of case ", Quote(there.case_id)));
  }
  std::vector<CaseAppend> appends;
  for (const auto& [side, person, counterpart] :
       {std::tuple<const CaseState*, const CasePerson*, const CasePerson*>{&state, &here,
                                                                           &there},
        {&other, &there, &here}}) {
    Outcome out(*side, ctx);
    MEND_RETURN_IF_ERROR(out.Add(
        Linked(*side, person->participant_id, *counterpart, ctx, command.reason)));
    MEND_ASSIGN_OR_RETURN(std::vector<DomainEvent> events, std::move(out).Finish());
    appends.push_back({side->case_id, side->version, std::move(events)});
  }
  std::sort(appends.begin(), appends.end(), [](const CaseAppend& a, const CaseAppend& b) {
    return a.case_id < b.case_id;
  });
  return appends;
}

LinkedGroup FindLinkedGroup(const CaseStates& cases, const CasePerson& person) {
  std::set<CasePerson> seen = {person};
  std::set<std::string> missing;
  std::vector<CasePerson> todo = {person};
  while (!todo.empty()) {
    const CasePerson next = std::move(todo.back());
    todo.pop_back();
    auto it = cases.find(next.case_id);
    if (it == cases.end() || it->second == nullptr) {
      missing.insert(next.case_id);
      continue;
    }
    const ParticipantState* p = it->second->FindParticipant(next.participant_id);
    if (p == nullptr) continue;
    for (const CasePerson& linked : p->linked) {
      if (seen.insert(linked).second) todo.push_back(linked);
    }
  }
  return {std::vector<CasePerson>(seen.begin(), seen.end()),
          std::vector<std::string>(missing.begin(), missing.end())};
}

absl::StatusOr<std::vector<CaseAppend>> DecideEraseParticipant(
    const CaseStates& cases, const EraseParticipantCommand& command,
    const CommandContext& ctx) {
  MEND_RETURN_IF_ERROR(ValidateErasure(command, ctx));
  if (command.case_id.empty()) return Invalid(kErase, "case_id is required");
  auto named_it = cases.find(command.case_id);
  if (named_it == cases.end() || named_it->second == nullptr) {
    return absl::InternalError(absl::StrCat(std::string(kErase), ": the state of case ",
                                            Quote(command.case_id), " was not given"));
  }
  const CaseState& named = *named_it->second;
  MEND_RETURN_IF_ERROR(CheckCase(kErase, named, command.case_id, ctx));
  const ParticipantState* p = named.FindParticipant(command.participant_id);
  if (p == nullptr) return NoParticipant(kErase, named, command.participant_id);
  if (p->erased) {
    return Refuse(kErase, named,
                  absl::StrCat("participant ", Quote(command.participant_id),
                               " is already erased (by ", Quote(p->erased_by), ")"));
  }
  const LinkedGroup group =
      FindLinkedGroup(cases, {command.case_id, command.participant_id});
  if (!group.missing_cases.empty()) {
    return absl::InternalError(absl::StrCat(
        std::string(kErase), ": participant ", Quote(command.participant_id), " of case ",
        Quote(command.case_id), " is linked in cases whose state was not given: ",
        Quote(group.missing_cases.front()), " and ", group.missing_cases.size() - 1,
        " more"));
  }
  // Every case touched, each with the group's members in it.
  std::map<std::string, std::vector<const ParticipantState*>> touched;
  for (const CasePerson& person : group.people) {
    const CaseState& state = *cases.find(person.case_id)->second;
    const ParticipantState* member = state.FindParticipant(person.participant_id);
    if (member == nullptr) {
      return absl::InternalError(
          absl::StrCat(std::string(kErase), ": a link names participant ",
                       Quote(person.participant_id), " of case ", Quote(person.case_id),
                       ", which has no such participant"));
    }
    std::vector<const ParticipantState*>& members = touched[person.case_id];
    if (!member->erased) members.push_back(member);
  }
  if (ctx.role == Role::kFacilitator) {
    for (const auto& [case_id, members] : touched) {
      if (!cases.find(case_id)->second->IsAllocated(ctx.actor_id)) {
        return absl::PermissionDeniedError(absl::StrCat(
            std::string(kErase), ": participant ", Quote(command.participant_id),
            " of case ", Quote(command.case_id),
            " is the same person as participants of other cases, and facilitator ",
            Quote(ctx.actor_id),
            " is not allocated to all of them; a manager erases a person linked across "
            "cases"));
      }
    }
  }
  std::map<std::string, int64_t> retention_seconds;
  for (const auto& [case_id, members] : touched) {
    MEND_ASSIGN_OR_RETURN(retention_seconds[case_id],
                          CheckRetention(*cases.find(case_id)->second, command, ctx));
  }
  std::vector<CaseAppend> appends;
  for (const auto& [case_id, members] : touched) {
    if (members.empty()) continue;
    const CaseState& state = *cases.find(case_id)->second;
    Outcome out(state, ctx);
    for (const ParticipantState* member : members) {
      case_v1::ParticipantErased erased;
      erased.set_case_id(case_id);
      erased.set_participant_id(member->participant_id);
      erased.set_requested_by(ctx.actor_id);
      erased.set_reason(command.reason);
      erased.set_basis(command.basis);
      erased.set_retention_period_seconds(retention_seconds[case_id]);
      erased.set_case_closed_unix_micros(state.closed_unix_micros);
      for (const auto& [other_case, other_members] : touched) {
        for (const ParticipantState* o : other_members) {
          if (other_case == case_id && o == member) continue;
          case_v1::PersonRef* ref = erased.add_linked();
          ref->set_case_id(other_case);
          ref->set_participant_id(o->participant_id);
        }
      }
      MEND_RETURN_IF_ERROR(out.Add(std::move(erased)));
    }
    MEND_ASSIGN_OR_RETURN(std::vector<DomainEvent> events, std::move(out).Finish());
    appends.push_back({case_id, state.version, std::move(events)});
  }
  return appends;
}

absl::StatusOr<std::vector<DomainEvent>> DecideEraseParticipant(
    const CaseState& state, const EraseParticipantCommand& command,
    const CommandContext& ctx) {
  MEND_RETURN_IF_ERROR(ValidateErasure(command, ctx));
  MEND_RETURN_IF_ERROR(CheckCase(kErase, state, command.case_id, ctx));
  const CaseStates cases = {{command.case_id, &state}};
  if (!FindLinkedGroup(cases, {command.case_id, command.participant_id})
           .missing_cases.empty()) {
    return Refuse(kErase, state,
                  absl::StrCat("participant ", Quote(command.participant_id),
                               " is linked to participants of other cases; the erasure "
                               "must be decided over every linked case"));
  }
  MEND_ASSIGN_OR_RETURN(std::vector<CaseAppend> appends,
                        DecideEraseParticipant(cases, command, ctx));
  if (appends.size() != 1) {
    return absl::InternalError("EraseParticipant: one case, but not one append");
  }
  return std::move(appends.front().events);
}

std::optional<std::string> ErasedKeyId(const DomainEvent& event) {
  const auto* erased = std::get_if<case_v1::ParticipantErased>(&event.event);
  if (erased == nullptr) return std::nullopt;
  return PersonKeyId(erased->case_id(), erased->participant_id());
}

}  // namespace mend::casesvc
