// The case service's commands as decisions: given a case's state, a command
// and who asks, the events to append, or why not.
//
//   CommandContext ctx{.actor_id = caller.subject, .role = caller.role,
//                      .now = absl::Now()};
//   MEND_ASSIGN_OR_RETURN(std::vector<DomainEvent> events,
//                         DecideRecordSuitability(state, command, ctx));
//   // append events (type(), SerializePayload()) to CaseStreamId(case_id)
//   // expecting state.version, then Evolve each (with its real position).
//
// Plain C++: no gRPC, no RocksDB, no clock, no ids or randomness (the handler
// passes the time, makes ids and references, seals personal data). Commands
// carry already-sealed data; a decide function never reads it, it only checks
// which person's key sealed it (see case_state.h). Every function is pure and
// deterministic; thread-safe as long as `state` is not being changed.
//
// What a decide function returns:
//   OK                  the events, in order: the command's own event(s) and
//                       then one StageChanged per stage the case moves
//                       through (ReferCase: (none) → REFERRED). They have
//                       position 0 and recorded_unix_micros = ctx.now.
//   PERMISSION_DENIED   the role may not run the command (auditor, service;
//                       a facilitator for a manager-only command), or a
//                       facilitator is not allocated to the case — also when
//                       no such case exists: `<Command>: facilitator "<id>"
//                       is not allocated to case "<case_id>"` either way.
//                       Checked first, so a refused caller learns nothing
//                       about the case, not even whether it exists.
//   INVALID_ARGUMENT    the command is malformed whatever the state (a
//                       required id or reason missing, a role this command
//                       does not take, data sealed with the wrong person's
//                       key). The handler's validation (case_validation.h)
//                       should have caught the shape errors already.
//   NOT_FOUND           the case does not exist (a manager's answer; a
//                       facilitator's is PERMISSION_DENIED), or a participant
//                       or assessment the command names is not in it.
//   ALREADY_EXISTS      ReferCase for an existing case id; a participant or
//                       assessment id already used in the case.
//   FAILED_PRECONDITION the case's stage or state forbids the command now.
//                       The message names the command, the rule and the
//                       case's stage, e.g. "AllocateFacilitator: the case
//                       has not been found suitable (case "c1" is in stage
//                       SCREENING)".
//   INTERNAL            `state` is of another case than the command names
//                       (a handler bug).
//
// Who may run what (the domain's half of authorization; the runtime's
// method table is the other):
//   manager             every command
//   facilitator         ReferCase; on cases allocated to them every other
//                       command except AllocateFacilitator,
//                       ReleaseFacilitator, ApproveRiskAssessment and
//                       EraseParticipant on a person's own request
//                       (ERASURE_REQUEST) and LinkParticipant (manager
//                       only); an erasure of a person linked across cases
//                       needs allocation to every case it touches. Screening
//                       therefore falls to a manager: a case has no
//                       facilitator until it is found suitable.
//   auditor, service    none (auditors read only; services do not run
//                       caseworkers' commands)
//
// Stages (IsAllowedStageTransition in case_state.h is the full machine):
//   ReferCase                          → REFERRED
//   first acknowledgement/suitability   REFERRED → SCREENING
//   AllocateFacilitator                 requires suitable; SCREENING → ALLOCATED
//   RecordRiskAssessment                requires ALLOCATED or later;
//                                       ALLOCATED → ASSESSING
//   the command after which acknowledged, suitable, a facilitator allocated
//   and a counting current risk assessment all hold: ASSESSING → PREPARING.
//   RecordSuitability(unsuitable)       any open stage → FOUND_UNSUITABLE
//                                       (from REFERRED through SCREENING)
//   RecordSuitability(suitable) on a FOUND_UNSUITABLE case (re-screening)
//                                       → SCREENING, then on as far as the
//                                       facts allow, but PREPARING only once
//                                       a risk assessment is recorded after
//                                       the unsuitable finding.
// Otherwise stages never move back on their own: an acknowledgement
// withdrawn, a facilitator released or a new assessment awaiting approval is
// recorded in the state (and the consent service's gate sees it) but the
// stage stays; a manager decides whether to close.
//   CLOSED   refuses every command but EraseParticipant (I4), which in
//            turn is accepted only on a CLOSED case.
//   PAUSED   accepts ResumeCase, CloseCase, AddParticipant and
//            LinkParticipant (case_people.h) — adding a
//            supporter or interpreter while a case is on hold prepares its
//            resumption and decides nothing about contact; everything else
//            waits for ResumeCase, which returns the case to the stage it
//            was paused in.
//   FOUND_UNSUITABLE  accepts RecordSuitability (a new finding: suitable
//            re-screens, unsuitable records the new reason and stays),
//            RecordAcknowledgement (responsibility may be accepted later,
//            which re-screening weighs), ReleaseFacilitator, CloseCase and
//            LinkParticipant.
//            It refuses everything that leads towards contact —
//            AllocateFacilitator, RecordRiskAssessment,
//            ApproveRiskAssessment, AddParticipant and PauseCase; the
//            facts of other services' logs are kept (DecideUpstreamFact)
//            but move it nowhere.
#ifndef MEND_SERVICES_CASE_CASE_DECIDE_H_
#define MEND_SERVICES_CASE_CASE_DECIDE_H_

#include <string>
#include <vector>

#include "absl/status/status.h"
#include "absl/status/statusor.h"
#include "absl/time/time.h"
#include "common/base/command_context.h"
#include "common/base/role.h"
#include "services/case/case_people.h"  // linking and erasure: people across cases
#include "services/case/case_state.h"

namespace mend::casesvc {

// Who runs the command, and when (now becomes the events'
// recorded_unix_micros).
using ::mend::CommandContext;

// How far after the command's day (UTC) a referral may be dated: a day, for
// a caller whose local date is ahead of UTC. Later is INVALID_ARGUMENT.
inline constexpr int kReferralDateGraceDays = 1;
// How far ahead of the command's day a risk assessment's review may be due:
// two years (731 days). Later is INVALID_ARGUMENT.
inline constexpr int kMaxReviewAheadDays = 731;

// Creates the case. The handler makes case_id and reference (unique) and
// seals: each participant's details and needs with that participant's key,
// the offence summary with the service user's key. referral_date: a real
// date, not after the command's day + kReferralDateGraceDays.
struct ReferCaseCommand {
  std::string case_id;
  std::string reference;
  case_v1::ReferralSource source = case_v1::REFERRAL_SOURCE_UNSPECIFIED;
  std::string referral_date;  // YYYY-MM-DD
  case_v1::OffenceCategory offence_category = case_v1::OFFENCE_CATEGORY_UNSPECIFIED;
  common_v1::Sealed offence_summary;
  // Exactly one SERVICE_USER and one or more VICTIMs, nobody else; ids unique.
  std::vector<case_v1::Participant> participants;
};
// state: CaseState{} when no case has this id. Refuses with ALREADY_EXISTS
// otherwise. Sensitivity follows the category (IsSensitive).
absl::StatusOr<std::vector<DomainEvent>> DecideReferCase(const CaseState& state,
                                                         const ReferCaseCommand& command,
                                                         const CommandContext& ctx);

// A CO_VICTIM, SUPPORTER or INTERPRETER joins. A supporter or interpreter
// names the (existing, not erased) participant they are there for; a
// co-victim names nobody.
struct AddParticipantCommand {
  std::string case_id;
  case_v1::Participant participant;
};
absl::StatusOr<std::vector<DomainEvent>> DecideAddParticipant(
    const CaseState& state, const AddParticipantCommand& command,
    const CommandContext& ctx);

// Manager only. Requires the case found suitable; at most two facilitators,
// each once. SCREENING → ALLOCATED (or, in ASSESSING, PREPARING when this
// completes the conditions).
struct AllocateFacilitatorCommand {
  std::string case_id;
  std::string facilitator_id;
};
absl::StatusOr<std::vector<DomainEvent>> DecideAllocateFacilitator(
    const CaseState& state, const AllocateFacilitatorCommand& command,
    const CommandContext& ctx);

// Manager only. The facilitator must be allocated. The stage stays, even
// with no facilitator left (the contact gate requires one).
struct ReleaseFacilitatorCommand {
  std::string case_id;
  std::string facilitator_id;
};
absl::StatusOr<std::vector<DomainEvent>> DecideReleaseFacilitator(
    const CaseState& state, const ReleaseFacilitatorCommand& command,
    const CommandContext& ctx);

// The service user acknowledges responsibility, or does not. May be recorded
// again (the latest counts). `notes`, if given, sealed with the service
// user's key.
struct RecordAcknowledgementCommand {
  std::string case_id;
  bool acknowledged = false;
  common_v1::Sealed notes;
};
absl::StatusOr<std::vector<DomainEvent>> DecideRecordAcknowledgement(
    const CaseState& state, const RecordAcknowledgementCommand& command,
    const CommandContext& ctx);

// A risk assessment by the caller (the assessor). Requires ALLOCATED or a
// later open stage. It supersedes the current one (supersedes_assessment_id;
// approvals of the old one lapse with it) and requires approval iff the case
// is sensitive. `allowed_kinds`: specified kinds, each at most once (may be
// empty: no contact allowed). review_date: a real date, not after the
// command's day + kMaxReviewAheadDays. `notes`, if given, sealed with the
// service user's key.
struct RecordRiskAssessmentCommand {
  std::string case_id;
  std::string assessment_id;  // made by the handler if the caller gave none
  case_v1::RiskLevel level = case_v1::RISK_LEVEL_UNSPECIFIED;
  std::vector<common_v1::ContactKind> allowed_kinds;
  std::string review_date;  // YYYY-MM-DD
  common_v1::Sealed notes;
};
absl::StatusOr<std::vector<DomainEvent>> DecideRecordRiskAssessment(
    const CaseState& state, const RecordRiskAssessmentCommand& command,
    const CommandContext& ctx);

// Manager only. The assessment must be the current one, require approval
// and not be approved yet (each FAILED_PRECONDITION otherwise).
struct ApproveRiskAssessmentCommand {
  std::string case_id;
  std::string assessment_id;
};
absl::StatusOr<std::vector<DomainEvent>> DecideApproveRiskAssessment(
    const CaseState& state, const ApproveRiskAssessmentCommand& command,
    const CommandContext& ctx);

// Suitable (reason UNSPECIFIED), or unsuitable with a reason. May be recorded
// again (the latest counts). Unsuitable moves an open case to
// FOUND_UNSUITABLE; suitable on a FOUND_UNSUITABLE case re-screens it (see
// Stages above). Refused while PAUSED (resume first) and on CLOSED.
struct RecordSuitabilityCommand {
  std::string case_id;
  bool suitable = false;
  case_v1::UnsuitableReason reason = case_v1::UNSUITABLE_REASON_UNSPECIFIED;
};
absl::StatusOr<std::vector<DomainEvent>> DecideRecordSuitability(
    const CaseState& state, const RecordSuitabilityCommand& command,
    const CommandContext& ctx);

// Puts an open case on hold: X → PAUSED (X remembered).
struct PauseCaseCommand {
  std::string case_id;
  std::string reason;  // a short code or phrase, no personal data
};
absl::StatusOr<std::vector<DomainEvent>> DecidePauseCase(const CaseState& state,
                                                         const PauseCaseCommand& command,
                                                         const CommandContext& ctx);

// PAUSED → the stage the case was paused in.
struct ResumeCaseCommand {
  std::string case_id;
};
absl::StatusOr<std::vector<DomainEvent>> DecideResumeCase(
    const CaseState& state, const ResumeCaseCommand& command, const CommandContext& ctx);

// Any stage but CLOSED → CLOSED, with a reason.
struct CloseCaseCommand {
  std::string case_id;
  case_v1::ClosureReason reason = case_v1::CLOSURE_REASON_UNSPECIFIED;
};
absl::StatusOr<std::vector<DomainEvent>> DecideCloseCase(const CaseState& state,
                                                         const CloseCaseCommand& command,
                                                         const CommandContext& ctx);

// Derived stages. INDIRECT_CONTACT, CONFERENCE_SCHEDULED, CONFERENCE_HELD
// and FOLLOW_UP are entered in reaction to other services' events, which the
// case service's followers turn into UpstreamFactRecorded (scheduling:
// the programme completed, a conference booked or its booking cancelled;
// conference: the conference held, abandoned or stopped, the follow-up
// completed). The stage machine's automatic moves then follow from the
// facts the case holds:
//   PREPARING             → CONFERENCE_SCHEDULED once a conference is booked
//                           (or was held: the conference log may be folded
//                           before the scheduling log's booking), else
//                           → INDIRECT_CONTACT once the programme is complete
//                           (or the follow-up is done)
//   INDIRECT_CONTACT      → CONFERENCE_SCHEDULED likewise; → FOLLOW_UP once
//                           the follow-up is done
//   CONFERENCE_SCHEDULED  → CONFERENCE_HELD once held; → INDIRECT_CONTACT
//                           once no booked conference is left
//   CONFERENCE_HELD       → FOLLOW_UP once the follow-up is done
// A PAUSED case keeps the facts and moves on ResumeCase; a FOUND_UNSUITABLE
// case keeps them and moves only when found suitable and prepared again.
//
// This decides one fact: the fact, then the moves it allows. Nothing (no
// events) when the case does not exist, is CLOSED (I4: closed is closed) or
// has already folded that upstream position (a follower never repeats one;
// this keeps a reset upstream from doing it either), and for the
// cancellation of a booking that is no open conference booking of the case
// (a programme session's, a preparation meeting's). `ctx.now` is the time
// the decided events carry until the store records them. No role check: it
// runs for the service's own followers, never for a caller.
absl::StatusOr<std::vector<DomainEvent>> DecideUpstreamFact(
    const CaseState& state, const case_v1::UpstreamFactRecorded& fact,
    const CommandContext& ctx);

}  // namespace mend::casesvc

#endif  // MEND_SERVICES_CASE_CASE_DECIDE_H_
