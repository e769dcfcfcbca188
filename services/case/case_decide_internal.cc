#include "services/case/case_decide_internal.h"

#include <string>

#include "absl/strings/str_cat.h"
#include "absl/time/time.h"
#include "common/base/role.h"
#include "common/base/validation.h"

namespace mend::casesvc::internal {

std::string Quote(std::string_view s) { return absl::StrCat("\"", std::string(s), "\""); }

std::string InStage(const CaseState& state) {
  return absl::StrCat(" (case ", Quote(state.case_id), " is in stage ",
                      StageName(state.stage), ")");
}

absl::Status Refuse(std::string_view command, const CaseState& state,
                    std::string_view rule) {
  return absl::FailedPreconditionError(
      absl::StrCat(std::string(command), ": ", std::string(rule), InStage(state)));
}

absl::Status CheckRole(std::string_view command, Access access, const CommandContext& ctx,
                       std::string_view manager_rule) {
  switch (ctx.role) {
    case Role::kManager:
      return absl::OkStatus();
    case Role::kFacilitator:
      if (access == Access::kManagerOnly) {
        return absl::PermissionDeniedError(
            absl::StrCat(std::string(command), ": ", std::string(manager_rule)));
      }
      return absl::OkStatus();
    case Role::kAuditor:
      return absl::PermissionDeniedError(
          absl::StrCat(std::string(command),
                       ": the auditor role reads only and runs no case command"));
    case Role::kService:
      return absl::PermissionDeniedError(absl::StrCat(
          std::string(command), ": the service role may not run case commands"));
    case Role::kOperator:
      return absl::PermissionDeniedError(
          absl::StrCat(std::string(command),
                       ": the operator role runs the deployment and sees no casework"));
  }
  return absl::PermissionDeniedError(
      absl::StrCat(std::string(command), ": unknown role ", static_cast<int>(ctx.role)));
}

absl::Status NotAllocated(std::string_view command, const CommandContext& ctx,
                          std::string_view case_id) {
  return absl::PermissionDeniedError(
      absl::StrCat(std::string(command), ": facilitator ", Quote(ctx.actor_id),
                   " is not allocated to case ", Quote(case_id)));
}

absl::Status CheckCase(std::string_view command, const CaseState& state,
                       const std::string& case_id, const CommandContext& ctx) {
  if (case_id.empty()) return Invalid(command, "case_id is required");
  if (!state.exists()) {
    // A facilitator gets the answer an existing case not allocated to them
    // gets, so refusals do not tell them which case ids exist.
    if (ctx.role == Role::kFacilitator) return NotAllocated(command, ctx, case_id);
    return absl::NotFoundError(
        absl::StrCat(std::string(command), ": no case ", Quote(case_id)));
  }
  if (state.case_id != case_id) {
    return absl::InternalError(absl::StrCat(std::string(command), ": command for case ",
                                            Quote(case_id), " given the state of case ",
                                            Quote(state.case_id)));
  }
  if (ctx.role == Role::kFacilitator && !state.IsAllocated(ctx.actor_id)) {
    return NotAllocated(command, ctx, case_id);
  }
  return absl::OkStatus();
}

absl::Status CheckStageGate(std::string_view command, const CaseState& state,
                            unsigned accepted) {
  if (state.stage == case_v1::CLOSED) {
    return Refuse(command, state, "a closed case accepts only EraseParticipant (I4)");
  }
  if (state.stage == case_v1::PAUSED && (accepted & kWhilePaused) == 0) {
    return Refuse(command, state,
                  "a paused case accepts only ResumeCase, CloseCase, AddParticipant and "
                  "LinkParticipant");
  }
  if (state.stage == case_v1::FOUND_UNSUITABLE &&
      (accepted & kWhileFoundUnsuitable) == 0) {
    return Refuse(command, state,
                  "a case found unsuitable accepts only RecordSuitability "
                  "(re-screening), RecordAcknowledgement, ReleaseFacilitator, CloseCase "
                  "and LinkParticipant; nothing that leads to contact");
  }
  return absl::OkStatus();
}

absl::Status CheckSealedBy(std::string_view command, std::string_view field,
                           const common_v1::Sealed& sealed, std::string_view person_id) {
  if (sealed.ciphertext().empty()) return absl::OkStatus();
  if (sealed.person_id() != person_id) {
    return Invalid(
        command, absl::StrCat(std::string(field), " is sealed with the key of ",
                              Quote(sealed.person_id()), ", not of ", Quote(person_id)));
  }
  return absl::OkStatus();
}

absl::Status CheckServiceUserSealed(std::string_view command, std::string_view field,
                                    const CaseState& state,
                                    const common_v1::Sealed& sealed) {
  const ParticipantState* su = state.service_user();
  return CheckSealedBy(command, field, sealed, su == nullptr ? "" : su->participant_id);
}

absl::Status CheckParticipantSealed(std::string_view command, std::string_view prefix,
                                    const case_v1::Participant& p) {
  MEND_RETURN_IF_ERROR(CheckSealedBy(command,
                                     absl::StrCat(std::string(prefix), ".details"),
                                     p.details(), p.participant_id()));
  return CheckSealedBy(command, absl::StrCat(std::string(prefix), ".needs"), p.needs(),
                       p.participant_id());
}

namespace {

// The stage the automatic moves of the machine take `s` to next (its own
// stage when there is none).
case_v1::Stage NextStage(const CaseState& s) {
  const bool conference = !s.open_conference_bookings.empty() || s.conference_held;
  switch (s.stage) {
    case case_v1::REFERRED:
      return s.acknowledged.has_value() || s.suitable.has_value() ? case_v1::SCREENING
                                                                  : s.stage;
    case case_v1::SCREENING:
      return s.suitable.value_or(false) && !s.facilitator_ids.empty() ? case_v1::ALLOCATED
                                                                      : s.stage;
    case case_v1::ALLOCATED:
      return s.risk_assessments.empty() ? s.stage : case_v1::ASSESSING;
    case case_v1::ASSESSING:
      return s.ReadyForPreparation() ? case_v1::PREPARING : s.stage;
    // The derived stages (case_decide.h): what the other services' logs say.
    case case_v1::PREPARING:
      if (conference) return case_v1::CONFERENCE_SCHEDULED;
      return s.programme_completed || s.follow_up_completed ? case_v1::INDIRECT_CONTACT
                                                            : s.stage;
    case case_v1::INDIRECT_CONTACT:
      if (conference) return case_v1::CONFERENCE_SCHEDULED;
      return s.follow_up_completed ? case_v1::FOLLOW_UP : s.stage;
    case case_v1::CONFERENCE_SCHEDULED:
      if (s.conference_held) return case_v1::CONFERENCE_HELD;
      return s.open_conference_bookings.empty() ? case_v1::INDIRECT_CONTACT : s.stage;
    case case_v1::CONFERENCE_HELD:
      return s.follow_up_completed ? case_v1::FOLLOW_UP : s.stage;
    default:
      return s.stage;
  }
}

}  // namespace

absl::Status Outcome::ChangeStage(case_v1::Stage to) {
  case_v1::StageChanged changed;
  changed.set_case_id(scratch_.case_id);
  changed.set_from(scratch_.stage);
  changed.set_to(to);
  // Every move into these stages is the machine's reaction to an upstream
  // fact (case_decide.h, "Derived stages"), but a resume's.
  changed.set_derived(scratch_.stage != case_v1::PAUSED &&
                      (to == case_v1::INDIRECT_CONTACT ||
                       to == case_v1::CONFERENCE_SCHEDULED ||
                       to == case_v1::CONFERENCE_HELD || to == case_v1::FOLLOW_UP));
  return Add(std::move(changed));
}

absl::Status Outcome::Advance() {
  for (;;) {
    const case_v1::Stage next = NextStage(scratch_);
    if (next == scratch_.stage) return absl::OkStatus();
    MEND_RETURN_IF_ERROR(ChangeStage(next));
  }
}

absl::StatusOr<std::vector<DomainEvent>> Outcome::Finish() && {
  MEND_RETURN_IF_ERROR(Advance());
  return std::move(events_);
}

std::string FormatUtc(absl::Time t) {
  return absl::FormatTime(absl::RFC3339_full, t, absl::UTCTimeZone());
}

std::string DescribePeriod(absl::Duration period) {
  const absl::Duration day = absl::Hours(24);
  if (period % day == absl::ZeroDuration()) {
    return absl::StrCat(absl::IDivDuration(period, day, &period), " days");
  }
  return absl::FormatDuration(period);
}

}  // namespace mend::casesvc::internal
