#include "services/consent/consent_decide.h"

#include <string_view>

#include "absl/strings/str_cat.h"
#include "common/base/status_macros.h"
#include "common/base/validation.h"

namespace mend::consentsvc {
namespace {

constexpr std::string_view kRecordConsent = "RecordConsent";
constexpr std::string_view kWithdrawConsent = "WithdrawConsent";

// Every scope, in enum order: what "withdraw all" withdraws.
constexpr consent_v1::ConsentScope kAllScopes[] = {
    consent_v1::PARTICIPATE, consent_v1::RECEIVE_LETTER, consent_v1::SHUTTLE,
    consent_v1::VIDEO,       consent_v1::FACE_TO_FACE,   consent_v1::SHARE_INFORMATION,
};

// Appended to every answer that may come from the consent service lagging
// behind the case log.
constexpr std::string_view kMayNotHaveCaughtUp =
    "the consent service may not have caught up with the case log yet: pass a causal "
    "token with the case-log position you have seen";

std::string Quote(std::string_view s) { return absl::StrCat("\"", std::string(s), "\""); }

bool IsKnownScope(consent_v1::ConsentScope scope) {
  return scope != consent_v1::CONSENT_SCOPE_UNSPECIFIED &&
         consent_v1::ConsentScope_IsValid(scope);
}

// Only caseworkers record what people said.
absl::Status CheckRole(std::string_view command, const CommandContext& ctx) {
  switch (ctx.role) {
    case Role::kFacilitator:
    case Role::kManager:
      return absl::OkStatus();
    case Role::kAuditor:
      return absl::PermissionDeniedError(absl::StrCat(
          std::string(command), ": the auditor role reads only and records no consent"));
    case Role::kService:
      return absl::PermissionDeniedError(absl::StrCat(
          std::string(command),
          ": the service role may not record consents (a caseworker records what a "
          "person said)"));
    case Role::kOperator:
      return absl::PermissionDeniedError(
          absl::StrCat(std::string(command),
                       ": the operator role runs the deployment and sees no casework"));
  }
  return absl::PermissionDeniedError(
      absl::StrCat(std::string(command), ": unknown role ", static_cast<int>(ctx.role)));
}

// A facilitator caller is allocated to the case (first, so an unallocated
// one learns nothing, not even whether it exists), the case was observed, is
// the one the command names, and it is not closed; then the participant
// exists and was not erased.
absl::Status CheckCaseAndParticipant(std::string_view command, const CaseFacts& facts,
                                     const std::string& case_id,
                                     const std::string& participant_id,
                                     const CommandContext& ctx) {
  const ObservedCase& state = facts.case_state;
  // Need to know (I5): before anything about the case, even whether it
  // exists.
  if (ctx.role == Role::kFacilitator &&
      !(facts.case_known() && state.IsAllocated(ctx.actor_id))) {
    return FacilitatorNotAllocated(ctx.actor_id, case_id);
  }
  if (!facts.case_known()) {
    return absl::NotFoundError(absl::StrCat(std::string(command), ": no case ",
                                            Quote(case_id), " (",
                                            std::string(kMayNotHaveCaughtUp), ")"));
  }
  if (state.case_id != case_id) {
    return absl::InternalError(absl::StrCat(std::string(command), ": command for case ",
                                            Quote(case_id), " given the facts of case ",
                                            Quote(state.case_id)));
  }
  if (state.stage == case_v1::CLOSED) {
    return absl::FailedPreconditionError(absl::StrCat(
        std::string(command), ": case ", Quote(case_id), " is in stage ",
        CaseStageName(state.stage), " and a closed case records nothing more (I4)"));
  }
  const ObservedParticipant* participant = state.FindParticipant(participant_id);
  if (participant == nullptr) {
    return absl::NotFoundError(absl::StrCat(
        std::string(command), ": case ", Quote(case_id), " has no participant ",
        Quote(participant_id), " (if they joined recently, ",
        std::string(kMayNotHaveCaughtUp), ")"));
  }
  if (participant->erased) {
    return absl::FailedPreconditionError(absl::StrCat(
        std::string(command), ": participant ", Quote(participant_id), " of case ",
        Quote(case_id), " was erased; nothing more is recorded about them"));
  }
  return absl::OkStatus();
}

}  // namespace

absl::StatusOr<consent_v1::ConsentRecorded> DecideRecordConsent(
    const CaseFacts& facts, const RecordConsentCommand& command,
    const CommandContext& ctx) {
  MEND_RETURN_IF_ERROR(CheckRole(kRecordConsent, ctx));
  // The shape is the validation's (consent_validation.h); a command that
  // slipped past it must not become a malformed event.
  if (command.case_id.empty()) return Invalid(kRecordConsent, "case_id is required");
  if (command.consent_id.empty())
    return Invalid(kRecordConsent, "consent_id is required");
  if (command.participant_id.empty()) {
    return Invalid(kRecordConsent, "participant_id is required");
  }
  if (!IsKnownScope(command.scope)) {
    return Invalid(kRecordConsent,
                   absl::StrCat("scope ", command.scope, " is not a scope"));
  }
  if (command.answer != consent_v1::GIVEN && command.answer != consent_v1::DECLINED) {
    return Invalid(kRecordConsent, absl::StrCat("answer ", command.answer,
                                                " is neither GIVEN nor DECLINED"));
  }
  if (command.requested_by_participant && command.answer != consent_v1::GIVEN) {
    return Invalid(kRecordConsent, "requested_by_participant is only for answer GIVEN");
  }
  MEND_RETURN_IF_ERROR(CheckCaseAndParticipant(kRecordConsent, facts, command.case_id,
                                               command.participant_id, ctx));

  consent_v1::ConsentRecorded event;
  event.set_case_id(command.case_id);
  event.set_consent_id(command.consent_id);
  event.set_participant_id(command.participant_id);
  event.set_scope(command.scope);
  event.set_answer(command.answer);
  *event.mutable_informed() = command.informed;
  event.set_requested_by_participant(command.requested_by_participant);
  event.set_recorded_by(ctx.actor_id);
  return event;
}

absl::StatusOr<consent_v1::ConsentWithdrawn> DecideWithdrawConsent(
    const CaseFacts& facts, const WithdrawConsentCommand& command,
    const CommandContext& ctx) {
  MEND_RETURN_IF_ERROR(CheckRole(kWithdrawConsent, ctx));
  if (command.case_id.empty()) return Invalid(kWithdrawConsent, "case_id is required");
  if (command.participant_id.empty()) {
    return Invalid(kWithdrawConsent, "participant_id is required");
  }
  if (command.all_scopes) {
    if (command.scope != consent_v1::CONSENT_SCOPE_UNSPECIFIED) {
      return Invalid(kWithdrawConsent, "a scope and all_scopes are both given");
    }
  } else if (!IsKnownScope(command.scope)) {
    return Invalid(kWithdrawConsent, absl::StrCat("scope ", command.scope,
                                                  " is not a scope (nor all_scopes)"));
  }
  MEND_RETURN_IF_ERROR(CheckCaseAndParticipant(kWithdrawConsent, facts, command.case_id,
                                               command.participant_id, ctx));

  consent_v1::ConsentWithdrawn event;
  event.set_case_id(command.case_id);
  event.set_participant_id(command.participant_id);
  if (command.all_scopes) {
    for (consent_v1::ConsentScope scope : kAllScopes) event.add_scopes(scope);
  } else {
    event.add_scopes(command.scope);
  }
  event.set_all_scopes(command.all_scopes);
  *event.mutable_informed() = command.informed;
  event.set_recorded_by(ctx.actor_id);
  return event;
}

absl::Status CheckCanRead(const CaseFacts& facts, std::string_view case_id,
                          const CommandContext& ctx) {
  switch (ctx.role) {
    case Role::kManager:
    case Role::kAuditor:
    case Role::kService:
      return absl::OkStatus();
    case Role::kFacilitator:
      if (facts.case_known() && facts.case_state.case_id == case_id &&
          facts.case_state.IsAllocated(ctx.actor_id)) {
        return absl::OkStatus();
      }
      return FacilitatorNotAllocated(ctx.actor_id, case_id);
    case Role::kOperator:
      return absl::PermissionDeniedError(
          "the operator role runs the deployment and sees no casework");
  }
  return absl::PermissionDeniedError(
      absl::StrCat("unknown role ", static_cast<int>(ctx.role)));
}

absl::Status FacilitatorNotAllocated(std::string_view facilitator_id,
                                     std::string_view case_id) {
  return absl::PermissionDeniedError(absl::StrCat("facilitator ", Quote(facilitator_id),
                                                  " is not allocated to case ",
                                                  Quote(case_id)));
}

}  // namespace mend::consentsvc
