#include "services/case/case_decide.h"

#include <string_view>
#include <utility>

#include "absl/strings/str_cat.h"
#include "absl/time/time.h"
#include "common/base/status_macros.h"
#include "common/base/validation.h"
#include "services/case/case_decide_internal.h"

namespace mend::casesvc {

using internal::Access;
using internal::CheckCase;
using internal::CheckParticipantSealed;
using internal::CheckRole;
using internal::CheckSealedBy;
using internal::CheckServiceUserSealed;
using internal::CheckStageGate;
using internal::Outcome;
using internal::Quote;
using internal::Refuse;

namespace {

constexpr std::string_view kManagerAllocates =
    "only a manager may allocate or release facilitators";

// The command's day, in UTC (the service's zone may be up to a day ahead:
// kReferralDateGraceDays allows for it).
absl::CivilDay Today(const CommandContext& ctx) {
  return absl::ToCivilDay(ctx.now, absl::UTCTimeZone());
}

}  // namespace

absl::StatusOr<std::vector<DomainEvent>> DecideReferCase(const CaseState& state,
                                                         const ReferCaseCommand& command,
                                                         const CommandContext& ctx) {
  constexpr std::string_view kCmd = "ReferCase";
  MEND_RETURN_IF_ERROR(CheckRole(kCmd, Access::kCaseworker, ctx));
  if (command.case_id.empty()) return Invalid(kCmd, "case_id is required");
  if (command.reference.empty()) return Invalid(kCmd, "reference is required");
  if (command.source == case_v1::REFERRAL_SOURCE_UNSPECIFIED ||
      !case_v1::ReferralSource_IsValid(command.source)) {
    return Invalid(kCmd, "source must be a known referral source");
  }
  if (command.offence_category == case_v1::OFFENCE_CATEGORY_UNSPECIFIED ||
      !case_v1::OffenceCategory_IsValid(command.offence_category)) {
    return Invalid(kCmd, "offence_category must be a known category");
  }
  if (command.referral_date.empty()) return Invalid(kCmd, "referral_date is required");
  if (absl::Status s = DateNotAfter("referral_date", command.referral_date,
                                    Today(ctx) + kReferralDateGraceDays,
                                    "a referral is not dated in the future");
      !s.ok()) {
    return Invalid(kCmd, std::string(s.message()));
  }
  const case_v1::Participant* service_user = nullptr;
  int victims = 0;
  for (size_t i = 0; i < command.participants.size(); ++i) {
    const case_v1::Participant& p = command.participants[i];
    const std::string prefix = absl::StrCat("participants[", i, "]");
    if (p.participant_id().empty()) {
      return Invalid(kCmd, absl::StrCat(prefix, ".participant_id is required"));
    }
    // Ids have no '/', so PersonKeyId is one key per case and participant.
    if (absl::Status s =
            ValidateId(absl::StrCat(prefix, ".participant_id"), p.participant_id());
        !s.ok()) {
      return Invalid(kCmd, std::string(s.message()));
    }
    for (size_t j = 0; j < i; ++j) {
      if (command.participants[j].participant_id() == p.participant_id()) {
        return Invalid(kCmd, absl::StrCat(prefix, ".participant_id repeats ",
                                          Quote(p.participant_id())));
      }
    }
    if (p.role() == case_v1::SERVICE_USER) {
      if (service_user != nullptr) {
        return Invalid(kCmd, "a referral names exactly one SERVICE_USER");
      }
      service_user = &p;
    } else if (p.role() == case_v1::VICTIM) {
      ++victims;
    } else {
      return Invalid(kCmd,
                     absl::StrCat(prefix,
                                  ".role must be SERVICE_USER or VICTIM (others join "
                                  "with AddParticipant)"));
    }
    if (!p.supports_participant_id().empty()) {
      return Invalid(kCmd, absl::StrCat(prefix,
                                        ".supports_participant_id is only for "
                                        "SUPPORTER and INTERPRETER"));
    }
    MEND_RETURN_IF_ERROR(CheckParticipantSealed(kCmd, prefix, p));
  }
  if (service_user == nullptr)
    return Invalid(kCmd, "a referral names exactly one SERVICE_USER");
  if (victims == 0) return Invalid(kCmd, "a referral names at least one VICTIM");
  MEND_RETURN_IF_ERROR(CheckSealedBy(kCmd, "offence_summary", command.offence_summary,
                                     service_user->participant_id()));
  if (state.exists()) {
    return absl::AlreadyExistsError(absl::StrCat(
        std::string(kCmd), ": case ", Quote(command.case_id), " already exists"));
  }

  case_v1::CaseReferred referred;
  referred.set_case_id(command.case_id);
  referred.set_reference(command.reference);
  referred.set_source(command.source);
  referred.set_referral_date(command.referral_date);
  referred.set_offence_category(command.offence_category);
  referred.set_sensitive(IsSensitive(command.offence_category));
  *referred.mutable_offence_summary() = command.offence_summary;
  for (const case_v1::Participant& p : command.participants) {
    *referred.add_participants() = p;
  }
  referred.set_referred_by(ctx.actor_id);
  Outcome out(state, ctx);
  MEND_RETURN_IF_ERROR(out.Add(std::move(referred)));
  MEND_RETURN_IF_ERROR(out.ChangeStage(case_v1::REFERRED));
  return std::move(out).Finish();
}

absl::StatusOr<std::vector<DomainEvent>> DecideAddParticipant(
    const CaseState& state, const AddParticipantCommand& command,
    const CommandContext& ctx) {
  constexpr std::string_view kCmd = "AddParticipant";
  MEND_RETURN_IF_ERROR(CheckRole(kCmd, Access::kCaseworker, ctx));
  const case_v1::Participant& p = command.participant;
  if (p.participant_id().empty()) return Invalid(kCmd, "participant_id is required");
  if (absl::Status s = ValidateId("participant_id", p.participant_id()); !s.ok()) {
    return Invalid(kCmd, std::string(s.message()));
  }
  const bool supports =
      p.role() == case_v1::SUPPORTER || p.role() == case_v1::INTERPRETER;
  if (!supports && p.role() != case_v1::CO_VICTIM) {
    return Invalid(
        kCmd,
        "role must be CO_VICTIM, SUPPORTER or INTERPRETER (the service user and "
        "victims are named at referral)");
  }
  if (supports && p.supports_participant_id().empty()) {
    return Invalid(kCmd, "a SUPPORTER or INTERPRETER names supports_participant_id");
  }
  if (!supports && !p.supports_participant_id().empty()) {
    return Invalid(kCmd, "supports_participant_id is only for SUPPORTER and INTERPRETER");
  }
  MEND_RETURN_IF_ERROR(CheckParticipantSealed(kCmd, "participant", p));
  MEND_RETURN_IF_ERROR(CheckCase(kCmd, state, command.case_id, ctx));
  MEND_RETURN_IF_ERROR(CheckStageGate(kCmd, state, internal::kWhilePaused));
  if (state.FindParticipant(p.participant_id()) != nullptr) {
    return absl::AlreadyExistsError(
        absl::StrCat(std::string(kCmd), ": participant ", Quote(p.participant_id()),
                     " already exists in case ", Quote(state.case_id)));
  }
  if (supports) {
    const ParticipantState* supported =
        state.FindParticipant(p.supports_participant_id());
    if (supported == nullptr) {
      return absl::NotFoundError(absl::StrCat(
          std::string(kCmd), ": no participant ", Quote(p.supports_participant_id()),
          " in case ", Quote(state.case_id), " to support"));
    }
    if (supported->erased) {
      return Refuse(kCmd, state,
                    absl::StrCat("participant ", Quote(p.supports_participant_id()),
                                 " is erased and cannot be supported"));
    }
  }
  case_v1::ParticipantAdded added;
  added.set_case_id(state.case_id);
  *added.mutable_participant() = p;
  Outcome out(state, ctx);
  MEND_RETURN_IF_ERROR(out.Add(std::move(added)));
  return std::move(out).Finish();
}

absl::StatusOr<std::vector<DomainEvent>> DecideAllocateFacilitator(
    const CaseState& state, const AllocateFacilitatorCommand& command,
    const CommandContext& ctx) {
  constexpr std::string_view kCmd = "AllocateFacilitator";
  MEND_RETURN_IF_ERROR(CheckRole(kCmd, Access::kManagerOnly, ctx, kManagerAllocates));
  if (command.facilitator_id.empty()) return Invalid(kCmd, "facilitator_id is required");
  MEND_RETURN_IF_ERROR(CheckCase(kCmd, state, command.case_id, ctx));
  MEND_RETURN_IF_ERROR(CheckStageGate(kCmd, state, internal::kOpenStagesOnly));
  if (state.IsAllocated(command.facilitator_id)) {
    return Refuse(kCmd, state,
                  absl::StrCat("facilitator ", Quote(command.facilitator_id),
                               " is already allocated"));
  }
  if (state.facilitator_ids.size() >= 2) {
    return Refuse(kCmd, state, "a case has at most two facilitators; release one first");
  }
  if (!state.suitable.value_or(false)) {
    return Refuse(
        kCmd, state,
        state.suitable.has_value()
            ? "the case was found unsuitable; facilitators are allocated only to "
              "suitable cases"
            : "the case has not been found suitable yet (RecordSuitability first)");
  }
  case_v1::FacilitatorAllocated allocated;
  allocated.set_case_id(state.case_id);
  allocated.set_facilitator_id(command.facilitator_id);
  allocated.set_allocated_by(ctx.actor_id);
  Outcome out(state, ctx);
  MEND_RETURN_IF_ERROR(out.Add(std::move(allocated)));
  return std::move(out).Finish();
}

absl::StatusOr<std::vector<DomainEvent>> DecideReleaseFacilitator(
    const CaseState& state, const ReleaseFacilitatorCommand& command,
    const CommandContext& ctx) {
  constexpr std::string_view kCmd = "ReleaseFacilitator";
  MEND_RETURN_IF_ERROR(CheckRole(kCmd, Access::kManagerOnly, ctx, kManagerAllocates));
  if (command.facilitator_id.empty()) return Invalid(kCmd, "facilitator_id is required");
  MEND_RETURN_IF_ERROR(CheckCase(kCmd, state, command.case_id, ctx));
  MEND_RETURN_IF_ERROR(CheckStageGate(kCmd, state, internal::kWhileFoundUnsuitable));
  if (!state.IsAllocated(command.facilitator_id)) {
    return Refuse(
        kCmd, state,
        absl::StrCat("facilitator ", Quote(command.facilitator_id), " is not allocated"));
  }
  case_v1::FacilitatorReleased released;
  released.set_case_id(state.case_id);
  released.set_facilitator_id(command.facilitator_id);
  released.set_released_by(ctx.actor_id);
  Outcome out(state, ctx);
  MEND_RETURN_IF_ERROR(out.Add(std::move(released)));
  return std::move(out).Finish();
}

absl::StatusOr<std::vector<DomainEvent>> DecideRecordAcknowledgement(
    const CaseState& state, const RecordAcknowledgementCommand& command,
    const CommandContext& ctx) {
  constexpr std::string_view kCmd = "RecordAcknowledgement";
  MEND_RETURN_IF_ERROR(CheckRole(kCmd, Access::kCaseworker, ctx));
  MEND_RETURN_IF_ERROR(CheckCase(kCmd, state, command.case_id, ctx));
  MEND_RETURN_IF_ERROR(CheckServiceUserSealed(kCmd, "notes", state, command.notes));
  MEND_RETURN_IF_ERROR(CheckStageGate(kCmd, state, internal::kWhileFoundUnsuitable));
  case_v1::AcknowledgementRecorded recorded;
  recorded.set_case_id(state.case_id);
  recorded.set_acknowledged(command.acknowledged);
  recorded.set_recorded_by(ctx.actor_id);
  *recorded.mutable_notes() = command.notes;
  Outcome out(state, ctx);
  MEND_RETURN_IF_ERROR(out.Add(std::move(recorded)));
  return std::move(out).Finish();
}

absl::StatusOr<std::vector<DomainEvent>> DecideRecordRiskAssessment(
    const CaseState& state, const RecordRiskAssessmentCommand& command,
    const CommandContext& ctx) {
  constexpr std::string_view kCmd = "RecordRiskAssessment";
  MEND_RETURN_IF_ERROR(CheckRole(kCmd, Access::kCaseworker, ctx));
  if (command.assessment_id.empty()) return Invalid(kCmd, "assessment_id is required");
  if (command.level == case_v1::RISK_LEVEL_UNSPECIFIED ||
      !case_v1::RiskLevel_IsValid(command.level)) {
    return Invalid(kCmd, "level must be a known risk level");
  }
  if (command.review_date.empty()) return Invalid(kCmd, "review_date is required");
  if (absl::Status s = DateNotAfter("review_date", command.review_date,
                                    Today(ctx) + kMaxReviewAheadDays,
                                    "a risk assessment is reviewed within two years");
      !s.ok()) {
    return Invalid(kCmd, std::string(s.message()));
  }
  for (size_t i = 0; i < command.allowed_kinds.size(); ++i) {
    const common_v1::ContactKind kind = command.allowed_kinds[i];
    if (kind == common_v1::CONTACT_KIND_UNSPECIFIED ||
        !common_v1::ContactKind_IsValid(kind)) {
      return Invalid(kCmd,
                     absl::StrCat("allowed_kinds[", i, "] must be a known contact kind"));
    }
    for (size_t j = 0; j < i; ++j) {
      if (command.allowed_kinds[j] == kind) {
        return Invalid(kCmd, absl::StrCat("allowed_kinds[", i, "] repeats ",
                                          common_v1::ContactKind_Name(kind)));
      }
    }
  }
  MEND_RETURN_IF_ERROR(CheckCase(kCmd, state, command.case_id, ctx));
  MEND_RETURN_IF_ERROR(CheckServiceUserSealed(kCmd, "notes", state, command.notes));
  MEND_RETURN_IF_ERROR(CheckStageGate(kCmd, state, internal::kOpenStagesOnly));
  if (state.stage == case_v1::REFERRED || state.stage == case_v1::SCREENING) {
    return Refuse(kCmd, state,
                  "a risk assessment is recorded once a facilitator is allocated");
  }
  if (state.FindRiskAssessment(command.assessment_id) != nullptr) {
    return absl::AlreadyExistsError(absl::StrCat(
        std::string(kCmd), ": risk assessment ", Quote(command.assessment_id),
        " already exists in case ", Quote(state.case_id)));
  }
  case_v1::RiskAssessmentRecorded recorded;
  recorded.set_case_id(state.case_id);
  recorded.set_assessment_id(command.assessment_id);
  recorded.set_assessor_id(ctx.actor_id);
  recorded.set_level(command.level);
  for (common_v1::ContactKind kind : command.allowed_kinds)
    recorded.add_allowed_kinds(kind);
  recorded.set_review_date(command.review_date);
  recorded.set_requires_approval(state.sensitive);
  if (const RiskAssessmentState* current = state.current_risk_assessment()) {
    recorded.set_supersedes_assessment_id(current->assessment_id);
  }
  *recorded.mutable_notes() = command.notes;
  Outcome out(state, ctx);
  MEND_RETURN_IF_ERROR(out.Add(std::move(recorded)));
  return std::move(out).Finish();
}

absl::StatusOr<std::vector<DomainEvent>> DecideApproveRiskAssessment(
    const CaseState& state, const ApproveRiskAssessmentCommand& command,
    const CommandContext& ctx) {
  constexpr std::string_view kCmd = "ApproveRiskAssessment";
  MEND_RETURN_IF_ERROR(CheckRole(kCmd, Access::kManagerOnly, ctx,
                                 "only a manager may approve risk assessments"));
  if (command.assessment_id.empty()) return Invalid(kCmd, "assessment_id is required");
  MEND_RETURN_IF_ERROR(CheckCase(kCmd, state, command.case_id, ctx));
  MEND_RETURN_IF_ERROR(CheckStageGate(kCmd, state, internal::kOpenStagesOnly));
  const RiskAssessmentState* ra = state.FindRiskAssessment(command.assessment_id);
  if (ra == nullptr) {
    return absl::NotFoundError(absl::StrCat(std::string(kCmd), ": no risk assessment ",
                                            Quote(command.assessment_id), " in case ",
                                            Quote(state.case_id)));
  }
  if (!ra->superseded_by.empty()) {
    return Refuse(
        kCmd, state,
        absl::StrCat("risk assessment ", Quote(ra->assessment_id), " is superseded by ",
                     Quote(state.current_risk_assessment()->assessment_id),
                     "; only the current assessment can be approved"));
  }
  if (!ra->requires_approval) {
    return Refuse(kCmd, state,
                  absl::StrCat("risk assessment ", Quote(ra->assessment_id),
                               " does not require approval (the case is not sensitive)"));
  }
  if (ra->approved) {
    return Refuse(kCmd, state,
                  absl::StrCat("risk assessment ", Quote(ra->assessment_id),
                               " is already approved by ", Quote(ra->approved_by)));
  }
  case_v1::RiskAssessmentApproved approved;
  approved.set_case_id(state.case_id);
  approved.set_assessment_id(ra->assessment_id);
  approved.set_approved_by(ctx.actor_id);
  Outcome out(state, ctx);
  MEND_RETURN_IF_ERROR(out.Add(std::move(approved)));
  return std::move(out).Finish();
}

absl::StatusOr<std::vector<DomainEvent>> DecideRecordSuitability(
    const CaseState& state, const RecordSuitabilityCommand& command,
    const CommandContext& ctx) {
  constexpr std::string_view kCmd = "RecordSuitability";
  MEND_RETURN_IF_ERROR(CheckRole(kCmd, Access::kCaseworker, ctx));
  if (command.suitable && command.reason != case_v1::UNSUITABLE_REASON_UNSPECIFIED) {
    return Invalid(kCmd, "reason is only for an unsuitable finding");
  }
  if (!command.suitable && (command.reason == case_v1::UNSUITABLE_REASON_UNSPECIFIED ||
                            !case_v1::UnsuitableReason_IsValid(command.reason))) {
    return Invalid(kCmd, "an unsuitable finding needs a known reason");
  }
  MEND_RETURN_IF_ERROR(CheckCase(kCmd, state, command.case_id, ctx));
  MEND_RETURN_IF_ERROR(CheckStageGate(kCmd, state, internal::kWhileFoundUnsuitable));
  case_v1::SuitabilityRecorded recorded;
  recorded.set_case_id(state.case_id);
  recorded.set_suitable(command.suitable);
  recorded.set_reason(command.reason);
  recorded.set_recorded_by(ctx.actor_id);
  Outcome out(state, ctx);
  MEND_RETURN_IF_ERROR(out.Add(std::move(recorded)));
  if (!command.suitable) {
    // The finding shows in the stage (the consent gate refuses every contact
    // there): a first finding moves REFERRED → SCREENING on the way.
    MEND_RETURN_IF_ERROR(out.Advance());
    if (IsOpenStage(out.state().stage)) {
      MEND_RETURN_IF_ERROR(out.ChangeStage(case_v1::FOUND_UNSUITABLE));
    }
  } else if (state.stage == case_v1::FOUND_UNSUITABLE) {
    // Re-screening: back to SCREENING, and on as far as the facts allow;
    // PREPARING waits for a new risk assessment (reassessment_required).
    MEND_RETURN_IF_ERROR(out.ChangeStage(case_v1::SCREENING));
  }
  return std::move(out).Finish();
}

absl::StatusOr<std::vector<DomainEvent>> DecidePauseCase(const CaseState& state,
                                                         const PauseCaseCommand& command,
                                                         const CommandContext& ctx) {
  constexpr std::string_view kCmd = "PauseCase";
  MEND_RETURN_IF_ERROR(CheckRole(kCmd, Access::kCaseworker, ctx));
  MEND_RETURN_IF_ERROR(CheckCase(kCmd, state, command.case_id, ctx));
  MEND_RETURN_IF_ERROR(CheckStageGate(kCmd, state, internal::kOpenStagesOnly));
  if (!IsOpenStage(state.stage)) {
    return Refuse(kCmd, state, "only an open case can be paused");
  }
  case_v1::CasePaused paused;
  paused.set_case_id(state.case_id);
  paused.set_reason(command.reason);
  paused.set_paused_by(ctx.actor_id);
  Outcome out(state, ctx);
  MEND_RETURN_IF_ERROR(out.Add(std::move(paused)));
  MEND_RETURN_IF_ERROR(out.ChangeStage(case_v1::PAUSED));
  return std::move(out).Finish();
}

absl::StatusOr<std::vector<DomainEvent>> DecideResumeCase(
    const CaseState& state, const ResumeCaseCommand& command, const CommandContext& ctx) {
  constexpr std::string_view kCmd = "ResumeCase";
  MEND_RETURN_IF_ERROR(CheckRole(kCmd, Access::kCaseworker, ctx));
  MEND_RETURN_IF_ERROR(CheckCase(kCmd, state, command.case_id, ctx));
  MEND_RETURN_IF_ERROR(CheckStageGate(kCmd, state, internal::kWhilePaused));
  if (state.stage != case_v1::PAUSED) {
    return Refuse(kCmd, state, "only a paused case can be resumed");
  }
  if (!IsOpenStage(state.stage_before_pause)) {
    return absl::DataLossError(absl::StrCat(
        std::string(kCmd), ": case ", Quote(state.case_id),
        " was paused in no open stage (", StageName(state.stage_before_pause), ")"));
  }
  case_v1::CaseResumed resumed;
  resumed.set_case_id(state.case_id);
  resumed.set_resumed_by(ctx.actor_id);
  Outcome out(state, ctx);
  MEND_RETURN_IF_ERROR(out.Add(std::move(resumed)));
  MEND_RETURN_IF_ERROR(out.ChangeStage(state.stage_before_pause));
  return std::move(out).Finish();
}

absl::StatusOr<std::vector<DomainEvent>> DecideCloseCase(const CaseState& state,
                                                         const CloseCaseCommand& command,
                                                         const CommandContext& ctx) {
  constexpr std::string_view kCmd = "CloseCase";
  MEND_RETURN_IF_ERROR(CheckRole(kCmd, Access::kCaseworker, ctx));
  if (command.reason == case_v1::CLOSURE_REASON_UNSPECIFIED ||
      !case_v1::ClosureReason_IsValid(command.reason)) {
    return Invalid(kCmd, "reason must be a known closure reason");
  }
  MEND_RETURN_IF_ERROR(CheckCase(kCmd, state, command.case_id, ctx));
  MEND_RETURN_IF_ERROR(CheckStageGate(
      kCmd, state, internal::kWhilePaused | internal::kWhileFoundUnsuitable));
  case_v1::CaseClosed closed;
  closed.set_case_id(state.case_id);
  closed.set_reason(command.reason);
  closed.set_closed_by(ctx.actor_id);
  Outcome out(state, ctx);
  MEND_RETURN_IF_ERROR(out.Add(std::move(closed)));
  MEND_RETURN_IF_ERROR(out.ChangeStage(case_v1::CLOSED));
  return std::move(out).Finish();
}

absl::StatusOr<std::vector<DomainEvent>> DecideUpstreamFact(
    const CaseState& state, const case_v1::UpstreamFactRecorded& fact,
    const CommandContext& ctx) {
  if (!state.exists() || state.stage == case_v1::CLOSED) {
    return std::vector<DomainEvent>{};
  }
  const uint64_t folded = fact.source() == consent_v1::SCHEDULING_LOG
                              ? state.scheduling_position
                              : state.conference_position;
  if (fact.position() <= folded) return std::vector<DomainEvent>{};
  // Every booking's cancellation is in the scheduling log, after the
  // booking: one of no conference booking still open is nothing to the case.
  if (fact.has_conference_booking_cancelled() &&
      !state.open_conference_bookings.contains(fact.conference_booking_cancelled())) {
    return std::vector<DomainEvent>{};
  }
  Outcome out(state, ctx);
  MEND_RETURN_IF_ERROR(out.Add(fact));
  return std::move(out).Finish();
}

}  // namespace mend::casesvc
