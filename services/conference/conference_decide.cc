// The conference service's commands on letters, shuttle messages and
// preparation (conference_decide.h; the conference, the agreement and the
// follow-up are in conference_meeting.cc). Each decide function checks, in
// order: who may act on the case (an unallocated facilitator learns nothing,
// not even whether the case exists; a contact only by an allocated
// facilitator), that the case is known, open and not paused, the command's
// own rules against the state, and — for a contact — the approval the gate
// gave (CheckApproval).
#include "services/conference/conference_decide.h"

#include <set>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

#include "absl/strings/str_cat.h"
#include "common/base/status_macros.h"
#include "common/base/validation.h"

namespace mend::conferencesvc {
namespace {

std::string Quote(std::string_view s) { return absl::StrCat("\"", std::string(s), "\""); }

std::string Utc(absl::Time t) {
  return absl::FormatTime("%Y-%m-%dT%H:%M:%E6SZ", t, absl::UTCTimeZone());
}

std::string ContactKindName(common_v1::ContactKind kind) {
  if (!common_v1::ContactKind_IsValid(kind)) {
    return absl::StrCat("kind ", static_cast<int>(kind));
  }
  return common_v1::ContactKind_Name(kind);
}

std::string ScopeName(consent_v1::ConsentScope scope) {
  if (!consent_v1::ConsentScope_IsValid(scope)) {
    return absl::StrCat("scope ", static_cast<int>(scope));
  }
  return consent_v1::ConsentScope_Name(scope);
}

std::string ParticipantRoleName(case_v1::ParticipantRole role) {
  if (!case_v1::ParticipantRole_IsValid(role)) {
    return absl::StrCat("role ", static_cast<int>(role));
  }
  return case_v1::ParticipantRole_Name(role);
}

std::string VerdictName(conference_v1::LetterVerdict verdict) {
  if (!conference_v1::LetterVerdict_IsValid(verdict)) {
    return absl::StrCat("verdict ", static_cast<int>(verdict));
  }
  return conference_v1::LetterVerdict_Name(verdict);
}

std::string CauseName(conference_v1::CancellationCause cause) {
  if (!conference_v1::CancellationCause_IsValid(cause)) {
    return absl::StrCat("cause ", static_cast<int>(cause));
  }
  return conference_v1::CancellationCause_Name(cause);
}

std::string CaseRef(std::string_view case_id) {
  return absl::StrCat("case ", Quote(case_id));
}

std::string LetterRef(std::string_view letter_id) {
  return absl::StrCat("letter ", Quote(letter_id));
}

std::string VersionRef(std::string_view letter_id, int32_t version) {
  return absl::StrCat("version ", version, " of ", LetterRef(letter_id));
}

absl::Status NotKnown(const ConferenceState& state, std::string_view case_id) {
  return absl::NotFoundError(absl::StrCat(
      CaseRef(case_id),
      " is not known to the conference service (case log handled up to ",
      state.last_case_position, "; pass a causal token if the case is new)"));
}

// Who may act (CheckCanAct), that the case is known and the one named, not
// closed (I4) and not paused: every command waits for a paused case to
// resume.
absl::Status CheckCase(const ConferenceState& state, std::string_view case_id,
                       const CommandContext& ctx, bool contact) {
  MEND_RETURN_IF_ERROR(CheckCanAct(state, case_id, ctx, contact));
  if (!state.case_known) return NotKnown(state, case_id);
  if (state.case_id != case_id) {
    return absl::InternalError(absl::StrCat("command for ", CaseRef(case_id),
                                            " given the conference state of ",
                                            CaseRef(state.case_id)));
  }
  if (state.closed) {
    return absl::FailedPreconditionError(absl::StrCat(CaseRef(case_id), " is closed"));
  }
  if (state.paused) {
    return absl::FailedPreconditionError(
        absl::StrCat(CaseRef(case_id), " is paused: nothing is done until it resumes"));
  }
  return absl::OkStatus();
}

// For the whose-key functions: the case is known (as the commands say).
absl::Status CheckKnown(const ConferenceState& state) {
  if (!state.case_known) return NotKnown(state, state.case_id);
  return absl::OkStatus();
}

absl::Status ErasedError(const ParticipantFacts& p, std::string_view case_id) {
  return absl::FailedPreconditionError(
      absl::StrCat(ParticipantRoleName(p.role), " ", Quote(p.participant_id), " of ",
                   CaseRef(case_id), " was erased; nothing more passes to or from them"));
}

// `sealed` holds text (INVALID_ARGUMENT naming `field` otherwise) sealed with
// `person_id`'s key (INTERNAL otherwise: the layer sealed with another key).
absl::Status CheckSealedFor(std::string_view field, const common_v1::Sealed& sealed,
                            std::string_view person_id) {
  if (sealed.ciphertext().empty()) return Invalid(field, "is required");
  if (sealed.person_id() != person_id) {
    return absl::InternalError(absl::StrCat(std::string(field), " is sealed for ",
                                            Quote(sealed.person_id()), ", not ",
                                            Quote(person_id)));
  }
  return absl::OkStatus();
}

// The same, but empty is allowed.
absl::Status CheckOptionalSealedFor(std::string_view field,
                                    const common_v1::Sealed& sealed,
                                    std::string_view person_id) {
  if (sealed.ciphertext().empty()) return absl::OkStatus();
  return CheckSealedFor(field, sealed, person_id);
}

// The service user of the case, not erased: the author of its letters.
absl::StatusOr<const ParticipantFacts*> LiveServiceUser(const ConferenceState& state) {
  const ParticipantFacts* su = state.ServiceUser();
  if (su == nullptr) {
    return absl::FailedPreconditionError(
        absl::StrCat(CaseRef(state.case_id), " has no service user"));
  }
  if (su->erased) return ErasedError(*su, state.case_id);
  return su;
}

absl::StatusOr<const LetterFacts*> FindLetterOf(const ConferenceState& state,
                                                std::string_view letter_id) {
  const LetterFacts* letter = state.FindLetter(letter_id);
  if (letter == nullptr) {
    return absl::NotFoundError(
        absl::StrCat(CaseRef(state.case_id), " has no ", LetterRef(letter_id)));
  }
  if (letter->latest() == nullptr) {
    return absl::InternalError(absl::StrCat(LetterRef(letter_id), " has no version"));
  }
  return letter;
}

// A participant of the case in a role of victim (VICTIM, CO_VICTIM), not
// erased; INVALID_ARGUMENT naming `field` for anyone else.
absl::StatusOr<const ParticipantFacts*> FindLiveVictim(const ConferenceState& state,
                                                       std::string_view field,
                                                       std::string_view victim_id) {
  const ParticipantFacts* v = state.FindParticipant(victim_id);
  if (v == nullptr) {
    return Invalid(field, absl::StrCat(Quote(victim_id), " is not a participant of ",
                                       CaseRef(state.case_id)));
  }
  if (!IsVictimRole(v->role)) {
    return Invalid(field,
                   absl::StrCat(Quote(victim_id), " is a ", ParticipantRoleName(v->role),
                                ", not a victim or co-victim"));
  }
  if (v->erased) return ErasedError(*v, state.case_id);
  return v;
}

// The author of a letter offered or delivered, not erased: an erased
// author's letter can no longer be read (its key is gone, I6).
absl::Status CheckAuthorLive(const ConferenceState& state, const LetterFacts& letter) {
  const ParticipantFacts* author = state.FindParticipant(letter.author_id);
  if (author == nullptr) {
    return absl::InternalError(absl::StrCat(LetterRef(letter.letter_id), " is by ",
                                            Quote(letter.author_id),
                                            ", who is not a participant of the case"));
  }
  if (author->erased) return ErasedError(*author, state.case_id);
  return absl::OkStatus();
}

absl::Status NeedsApproval(const ContactQuestion& question) {
  return absl::FailedPreconditionError(absl::StrCat(
      "contact with victim ", Quote(question.victim_id), " needs an APPROVED ",
      ContactKindName(question.kind), " contact decision asked by facilitator ",
      Quote(question.facilitator_id)));
}

// The approval a contact rests on: present and passing CheckApproval.
absl::Status CheckGiven(const ConferenceState& state, const ContactQuestion& question,
                        const std::optional<conference_v1::Approval>& approval,
                        const CommandContext& ctx) {
  if (!approval.has_value()) return NeedsApproval(question);
  return CheckApproval(state, question, *approval, ctx);
}

// A booking of the case in scheduling that is a preparation meeting, not
// cancelled, with its participant (participant_ids[0]) of the case.
absl::StatusOr<const SlotFacts*> FindPreparationSlot(const ConferenceState& state,
                                                     std::string_view booking_id) {
  const SlotFacts* slot = state.FindSlot(booking_id);
  if (slot == nullptr) {
    return absl::NotFoundError(absl::StrCat(CaseRef(state.case_id), " has no booking ",
                                            Quote(booking_id), " in scheduling"));
  }
  if (slot->conference) {
    return absl::FailedPreconditionError(absl::StrCat(
        "booking ", Quote(booking_id), " is a conference, not a preparation meeting"));
  }
  if (slot->cancelled) {
    return absl::FailedPreconditionError(absl::StrCat(
        "preparation meeting ", Quote(booking_id), " was cancelled in scheduling"));
  }
  if (slot->participant_ids.empty()) {
    return absl::InternalError(
        absl::StrCat("preparation meeting ", Quote(booking_id), " has no participant"));
  }
  return slot;
}

// The participant of a preparation meeting: of the case, not erased.
absl::StatusOr<const ParticipantFacts*> PreparationPerson(const ConferenceState& state,
                                                          const SlotFacts& slot) {
  const std::string& id = slot.participant_ids[0];
  const ParticipantFacts* p = state.FindParticipant(id);
  if (p == nullptr) {
    return absl::FailedPreconditionError(absl::StrCat(
        "preparation meeting ", Quote(slot.booking_id), " is with ", Quote(id),
        ", who is not a participant of ", CaseRef(state.case_id)));
  }
  if (p->erased) return ErasedError(*p, state.case_id);
  return p;
}

// The victim a letter was delivered to, not erased.
absl::StatusOr<const ParticipantFacts*> DeliveredTo(const ConferenceState& state,
                                                    const LetterFacts& letter) {
  if (!letter.delivery.has_value()) {
    return absl::FailedPreconditionError(
        absl::StrCat(LetterRef(letter.letter_id), " was not delivered"));
  }
  const ParticipantFacts* v = state.FindParticipant(letter.offered_victim_id);
  if (v == nullptr) {
    return absl::InternalError(absl::StrCat(
        LetterRef(letter.letter_id), " was delivered to ",
        Quote(letter.offered_victim_id), ", who is not a participant of the case"));
  }
  if (v->erased) return ErasedError(*v, state.case_id);
  return v;
}

}  // namespace

absl::Status CheckCanAct(const ConferenceState& state, std::string_view case_id,
                         const CommandContext& ctx, bool contact) {
  const bool allocated = ctx.role == Role::kFacilitator && state.case_known &&
                         state.case_id == case_id && state.IsAllocated(ctx.actor_id);
  if (ctx.role == Role::kFacilitator && !allocated) {
    return absl::PermissionDeniedError(absl::StrCat(
        "facilitator ", Quote(ctx.actor_id), " is not allocated to ", CaseRef(case_id)));
  }
  if (contact) {
    if (allocated) return absl::OkStatus();
    return absl::PermissionDeniedError(absl::StrCat(
        "a contact is made by an allocated facilitator, never directly (caller ",
        Quote(ctx.actor_id), " is a ", std::string(mend::RoleName(ctx.role)), ")"));
  }
  switch (ctx.role) {
    case Role::kFacilitator:
    case Role::kManager:
    case Role::kAuditor:
    case Role::kService:
      return absl::OkStatus();
    case Role::kOperator:
      return absl::PermissionDeniedError(
          "the operator role runs the deployment and sees no casework");
  }
  return absl::PermissionDeniedError(
      absl::StrCat("unknown role ", static_cast<int>(ctx.role)));
}

absl::Status CheckApproval(const ConferenceState& state, const ContactQuestion& question,
                           const conference_v1::Approval& approval,
                           const CommandContext& ctx) {
  const conference_v1::Approval& a = approval;
  const std::string decision = absl::StrCat("decision ", Quote(a.decision_id()));
  if (a.kind() != question.kind || a.victim_id() != question.victim_id ||
      a.facilitator_id() != question.facilitator_id) {
    return absl::FailedPreconditionError(
        absl::StrCat(decision, " approved ", ContactKindName(a.kind()), " with victim ",
                     Quote(a.victim_id()), " asked by facilitator ",
                     Quote(a.facilitator_id()), ", not ", ContactKindName(question.kind),
                     " with victim ", Quote(question.victim_id), " asked by facilitator ",
                     Quote(question.facilitator_id)));
  }
  const ParticipantFacts* su = state.ServiceUser();
  if (su == nullptr) {
    return absl::FailedPreconditionError(absl::StrCat(CaseRef(state.case_id),
                                                      " has no service user: ", decision,
                                                      " cannot be about it"));
  }
  if (a.service_user_id() != su->participant_id) {
    return absl::FailedPreconditionError(
        absl::StrCat(decision, " names service user ", Quote(a.service_user_id()),
                     ", not the case's ", Quote(su->participant_id)));
  }
  const absl::Time decided = absl::FromUnixMicros(a.decided_unix_micros());
  if (ctx.now - decided > kApprovalFreshness) {
    return absl::FailedPreconditionError(
        absl::StrCat(decision, " was decided at ", Utc(decided), ", more than ",
                     absl::FormatDuration(kApprovalFreshness), " before now (",
                     Utc(ctx.now), "): ask the gate again"));
  }
  // The consents it relied on (I3).
  const consent_v1::ConsentScope scope = ScopeForKind(question.kind);
  std::vector<std::pair<std::string, consent_v1::ConsentScope>> relied_on = {
      {question.victim_id, consent_v1::PARTICIPATE}};
  if (scope != consent_v1::PARTICIPATE) relied_on.emplace_back(question.victim_id, scope);
  relied_on.emplace_back(su->participant_id, scope);
  for (const auto& [person, s] : relied_on) {
    if (const WithdrawalFacts* w =
            state.WithdrawnSince(person, s, a.consent_position())) {
      return absl::FailedPreconditionError(
          absl::StrCat("consent withdrawn since ", decision, " (consent-log position ",
                       a.consent_position(), "): ", Quote(person), " withdrew ",
                       ScopeName(s), " at consent-log position ", w->consent_position));
    }
  }
  // The case facts it did not know.
  const std::pair<uint64_t, const char*> case_facts[] = {
      {state.last_risk_assessment_position, "the risk assessment"},
      {state.last_pause_position, "the pause"},
      {state.last_closure_position, "the closure"},
      {state.last_release_position, "the facilitator release"},
  };
  for (const auto& [position, what] : case_facts) {
    if (position > a.case_position()) {
      return absl::FailedPreconditionError(
          absl::StrCat(decision, " predates ", what, " at case-log position ", position));
    }
  }
  return absl::OkStatus();
}

// --- Letters ---------------------------------------------------------------

absl::StatusOr<conference_v1::LetterDraftSubmitted> DecideSubmitLetterDraft(
    const ConferenceState& state, const SubmitLetterDraftCommand& command,
    const CommandContext& ctx) {
  MEND_RETURN_IF_ERROR(CheckCase(state, command.case_id, ctx, /*contact=*/false));
  MEND_ASSIGN_OR_RETURN(const ParticipantFacts* su, LiveServiceUser(state));
  int32_t version = 1;
  std::string author_id = su->participant_id;
  if (command.new_letter) {
    if (state.FindLetter(command.letter_id) != nullptr) {
      return absl::InternalError(absl::StrCat("new ", LetterRef(command.letter_id),
                                              " has the id of one already"));
    }
  } else {
    MEND_ASSIGN_OR_RETURN(const LetterFacts* letter,
                          FindLetterOf(state, command.letter_id));
    const LetterVersionFacts& latest = *letter->latest();
    if (latest.verdict != conference_v1::CHANGES_REQUESTED) {
      return absl::FailedPreconditionError(
          absl::StrCat(VersionRef(command.letter_id, latest.version),
                       latest.verdict == conference_v1::LETTER_VERDICT_UNSPECIFIED
                           ? " is not reviewed yet"
                           : absl::StrCat(" was reviewed ", VerdictName(latest.verdict)),
                       ": a next version follows only a review that requested changes"));
    }
    version = latest.version + 1;
    author_id = letter->author_id;
  }
  MEND_RETURN_IF_ERROR(CheckSealedFor("text", command.text, author_id));

  conference_v1::LetterDraftSubmitted event;
  event.set_case_id(command.case_id);
  event.set_letter_id(command.letter_id);
  event.set_version(version);
  event.set_author_id(author_id);
  *event.mutable_text() = command.text;
  event.set_submitted_by(ctx.actor_id);
  *event.mutable_handled() = command.handled;
  return event;
}

absl::StatusOr<conference_v1::LetterReviewed> DecideReviewLetter(
    const ConferenceState& state, const ReviewLetterCommand& command,
    const CommandContext& ctx) {
  MEND_RETURN_IF_ERROR(CheckCase(state, command.case_id, ctx, /*contact=*/false));
  MEND_RETURN_IF_ERROR(
      ValidateEnum("verdict", command.verdict, conference_v1::LetterVerdict_IsValid));
  MEND_ASSIGN_OR_RETURN(const LetterFacts* letter,
                        FindLetterOf(state, command.letter_id));
  const LetterVersionFacts* v = letter->Version(command.version);
  if (v == nullptr) {
    return absl::NotFoundError(
        absl::StrCat(LetterRef(command.letter_id), " has no version ", command.version));
  }
  const LetterVersionFacts& latest = *letter->latest();
  if (v->version != latest.version) {
    return absl::FailedPreconditionError(
        absl::StrCat(VersionRef(command.letter_id, command.version),
                     " is not the latest (", latest.version, ")"));
  }
  if (v->verdict != conference_v1::LETTER_VERDICT_UNSPECIFIED) {
    return absl::FailedPreconditionError(
        absl::StrCat(VersionRef(command.letter_id, command.version),
                     " was reviewed already (", VerdictName(v->verdict), ")"));
  }
  if (command.verdict == conference_v1::CHANGES_REQUESTED) {
    if (command.notes.ciphertext().empty()) {
      return Invalid("notes", "is required with CHANGES_REQUESTED");
    }
    MEND_RETURN_IF_ERROR(CheckSealedFor("notes", command.notes, letter->author_id));
  } else {
    MEND_RETURN_IF_ERROR(
        CheckOptionalSealedFor("notes", command.notes, letter->author_id));
  }

  conference_v1::LetterReviewed event;
  event.set_case_id(command.case_id);
  event.set_letter_id(command.letter_id);
  event.set_version(command.version);
  event.set_verdict(command.verdict);
  if (!command.notes.ciphertext().empty()) *event.mutable_notes() = command.notes;
  event.set_reviewed_by(ctx.actor_id);
  *event.mutable_handled() = command.handled;
  return event;
}

absl::StatusOr<ContactQuestion> OfferLetterQuestion(const ConferenceState& state,
                                                    const OfferLetterCommand& command,
                                                    const CommandContext& ctx) {
  MEND_RETURN_IF_ERROR(CheckCase(state, command.case_id, ctx, /*contact=*/true));
  MEND_ASSIGN_OR_RETURN(const LetterFacts* letter,
                        FindLetterOf(state, command.letter_id));
  const LetterVersionFacts& latest = *letter->latest();
  if (latest.verdict != conference_v1::APPROVED_FOR_OFFER) {
    return absl::FailedPreconditionError(
        absl::StrCat(VersionRef(command.letter_id, latest.version),
                     latest.verdict == conference_v1::LETTER_VERDICT_UNSPECIFIED
                         ? " is not reviewed yet"
                         : absl::StrCat(" was reviewed ", VerdictName(latest.verdict)),
                     ": only a version APPROVED_FOR_OFFER is offered"));
  }
  if (letter->delivery.has_value()) {
    return absl::FailedPreconditionError(
        absl::StrCat(LetterRef(command.letter_id), " was delivered already"));
  }
  if (letter->offer.has_value() &&
      letter->delivery_cancelled == conference_v1::CANCELLATION_CAUSE_UNSPECIFIED) {
    return absl::FailedPreconditionError(
        absl::StrCat(LetterRef(command.letter_id), " was offered already (",
                     VersionRef(command.letter_id, letter->offered_version), " to ",
                     Quote(letter->offered_victim_id), ")"));
  }
  MEND_RETURN_IF_ERROR(CheckAuthorLive(state, *letter));
  std::string victim_id = command.victim_id;
  if (victim_id.empty()) {
    const std::vector<const ParticipantFacts*> victims = state.Victims();
    if (victims.size() != 1) {
      return Invalid("victim_id",
                     absl::StrCat("is required: ", CaseRef(command.case_id), " has ",
                                  victims.size(), " victims and co-victims"));
    }
    victim_id = victims[0]->participant_id;
  }
  MEND_ASSIGN_OR_RETURN(const ParticipantFacts* victim,
                        FindLiveVictim(state, "victim_id", victim_id));
  ContactQuestion q;
  q.kind = common_v1::APPROACH_VICTIM;
  q.victim_id = victim->participant_id;
  q.facilitator_id = ctx.actor_id;
  return q;
}

absl::StatusOr<conference_v1::LetterOffered> DecideOfferLetter(
    const ConferenceState& state, const OfferLetterCommand& command,
    const CommandContext& ctx) {
  MEND_ASSIGN_OR_RETURN(ContactQuestion question,
                        OfferLetterQuestion(state, command, ctx));
  MEND_RETURN_IF_ERROR(CheckGiven(state, question, command.approval, ctx));
  const LetterFacts& letter = *state.FindLetter(command.letter_id);

  conference_v1::LetterOffered event;
  event.set_case_id(command.case_id);
  event.set_letter_id(command.letter_id);
  event.set_version(letter.latest()->version);
  event.set_victim_id(question.victim_id);
  *event.mutable_approval() = *command.approval;
  event.set_offered_by(ctx.actor_id);
  *event.mutable_handled() = command.handled;
  return event;
}

absl::StatusOr<ContactQuestion> DeliverLetterQuestion(const ConferenceState& state,
                                                      const DeliverLetterCommand& command,
                                                      const CommandContext& ctx) {
  MEND_RETURN_IF_ERROR(CheckCase(state, command.case_id, ctx, /*contact=*/true));
  MEND_ASSIGN_OR_RETURN(const LetterFacts* letter,
                        FindLetterOf(state, command.letter_id));
  const LetterVersionFacts* v = letter->Version(command.version);
  if (v == nullptr) {
    return absl::NotFoundError(
        absl::StrCat(LetterRef(command.letter_id), " has no version ", command.version));
  }
  if (!letter->offer.has_value()) {
    return absl::FailedPreconditionError(absl::StrCat(
        LetterRef(command.letter_id), " was not offered: it is offered before delivery"));
  }
  if (letter->delivery.has_value()) {
    return absl::FailedPreconditionError(
        absl::StrCat(LetterRef(command.letter_id), " was delivered already (",
                     VersionRef(command.letter_id, letter->delivered_version), ")"));
  }
  if (letter->delivery_cancelled != conference_v1::CANCELLATION_CAUSE_UNSPECIFIED) {
    return absl::FailedPreconditionError(absl::StrCat(
        "the delivery of ", LetterRef(command.letter_id), " was cancelled (",
        CauseName(letter->delivery_cancelled), "): it must be offered again"));
  }
  if (command.version != letter->offered_version) {
    return absl::FailedPreconditionError(
        absl::StrCat(VersionRef(command.letter_id, command.version),
                     " is not the version offered (", letter->offered_version, ")"));
  }
  if (v->verdict != conference_v1::APPROVED_FOR_OFFER) {
    return absl::FailedPreconditionError(
        absl::StrCat(VersionRef(command.letter_id, command.version),
                     " is not APPROVED_FOR_OFFER (", VerdictName(v->verdict), ")"));
  }
  MEND_RETURN_IF_ERROR(CheckAuthorLive(state, *letter));
  const ParticipantFacts* victim = state.FindParticipant(letter->offered_victim_id);
  if (victim == nullptr) {
    return absl::InternalError(absl::StrCat(
        LetterRef(command.letter_id), " was offered to ",
        Quote(letter->offered_victim_id), ", who is not a participant of the case"));
  }
  if (victim->erased) return ErasedError(*victim, command.case_id);
  ContactQuestion q;
  q.kind = common_v1::LETTER_DELIVERY;
  q.victim_id = victim->participant_id;
  q.facilitator_id = ctx.actor_id;
  return q;
}

absl::StatusOr<conference_v1::LetterDelivered> DecideDeliverLetter(
    const ConferenceState& state, const DeliverLetterCommand& command,
    const CommandContext& ctx) {
  MEND_ASSIGN_OR_RETURN(ContactQuestion question,
                        DeliverLetterQuestion(state, command, ctx));
  MEND_RETURN_IF_ERROR(CheckGiven(state, question, command.approval, ctx));

  conference_v1::LetterDelivered event;
  event.set_case_id(command.case_id);
  event.set_letter_id(command.letter_id);
  event.set_version(command.version);
  event.set_victim_id(question.victim_id);
  *event.mutable_approval() = *command.approval;
  event.set_delivered_by(ctx.actor_id);
  *event.mutable_handled() = command.handled;
  return event;
}

absl::StatusOr<conference_v1::LetterResponseRecorded> DecideRecordLetterResponse(
    const ConferenceState& state, const RecordLetterResponseCommand& command,
    const CommandContext& ctx) {
  MEND_RETURN_IF_ERROR(CheckCase(state, command.case_id, ctx, /*contact=*/false));
  MEND_ASSIGN_OR_RETURN(const LetterFacts* letter,
                        FindLetterOf(state, command.letter_id));
  MEND_ASSIGN_OR_RETURN(const ParticipantFacts* victim, DeliveredTo(state, *letter));
  if (letter->response_recorded) {
    return absl::FailedPreconditionError(absl::StrCat(
        "the response to ", LetterRef(command.letter_id), " was recorded already"));
  }
  MEND_RETURN_IF_ERROR(
      CheckSealedFor("response", command.response, victim->participant_id));
  if (!command.wants_further_contact && !command.further_contact_kinds.empty()) {
    return Invalid("further_contact_kinds", "are given only with wants_further_contact");
  }
  std::set<int> kinds;
  for (common_v1::ContactKind kind : command.further_contact_kinds) {
    MEND_RETURN_IF_ERROR(
        ValidateEnum("further_contact_kinds", kind, common_v1::ContactKind_IsValid));
    if (!kinds.insert(kind).second) {
      return Invalid("further_contact_kinds",
                     absl::StrCat("names ", ContactKindName(kind), " twice"));
    }
  }

  conference_v1::LetterResponseRecorded event;
  event.set_case_id(command.case_id);
  event.set_letter_id(command.letter_id);
  event.set_victim_id(victim->participant_id);
  *event.mutable_response() = command.response;
  event.set_wants_further_contact(command.wants_further_contact);
  for (common_v1::ContactKind kind : command.further_contact_kinds) {
    event.add_further_contact_kinds(kind);
  }
  event.set_recorded_by(ctx.actor_id);
  *event.mutable_handled() = command.handled;
  return event;
}

// --- Shuttle ---------------------------------------------------------------

absl::StatusOr<ContactQuestion> ShuttleQuestion(const ConferenceState& state,
                                                const SendShuttleMessageCommand& command,
                                                const CommandContext& ctx) {
  MEND_RETURN_IF_ERROR(CheckCase(state, command.case_id, ctx, /*contact=*/true));
  const ParticipantFacts* from = state.FindParticipant(command.from_participant_id);
  if (from == nullptr) {
    return Invalid("from_participant_id",
                   absl::StrCat(Quote(command.from_participant_id),
                                " is not a participant of ", CaseRef(command.case_id)));
  }
  const ParticipantFacts* to = state.FindParticipant(command.to_participant_id);
  if (to == nullptr) {
    return Invalid("to_participant_id",
                   absl::StrCat(Quote(command.to_participant_id),
                                " is not a participant of ", CaseRef(command.case_id)));
  }
  if (from == to) {
    return Invalid("to_participant_id",
                   absl::StrCat("is ", Quote(command.to_participant_id),
                                ", the author: a message goes to the other party"));
  }
  const ParticipantFacts* victim = nullptr;
  if (from->role == case_v1::SERVICE_USER && IsVictimRole(to->role)) {
    victim = to;
  } else if (IsVictimRole(from->role) && to->role == case_v1::SERVICE_USER) {
    victim = from;
  } else {
    return Invalid(
        "to_participant_id",
        absl::StrCat("a shuttle message goes between the service user and a "
                     "victim or co-victim, not from ",
                     ParticipantRoleName(from->role), " ", Quote(from->participant_id),
                     " to ", ParticipantRoleName(to->role), " ",
                     Quote(to->participant_id)));
  }
  if (from->erased) return ErasedError(*from, command.case_id);
  if (to->erased) return ErasedError(*to, command.case_id);
  for (const MessageFacts& m : state.messages) {
    if (m.message_id == command.message_id) {
      return absl::InternalError(absl::StrCat("new message ", Quote(command.message_id),
                                              " has the id of one already"));
    }
  }
  ContactQuestion q;
  q.kind = common_v1::SHUTTLE_MESSAGE;
  q.victim_id = victim->participant_id;
  q.facilitator_id = ctx.actor_id;
  return q;
}

absl::StatusOr<conference_v1::ShuttleMessageCarried> DecideSendShuttleMessage(
    const ConferenceState& state, const SendShuttleMessageCommand& command,
    const CommandContext& ctx) {
  MEND_ASSIGN_OR_RETURN(ContactQuestion question, ShuttleQuestion(state, command, ctx));
  // The text is sealed after the question was answered (the pair is checked
  // before anything is sealed for its author).
  MEND_RETURN_IF_ERROR(CheckSealedFor("text", command.text, command.from_participant_id));
  MEND_RETURN_IF_ERROR(CheckGiven(state, question, command.approval, ctx));

  conference_v1::ShuttleMessageCarried event;
  event.set_case_id(command.case_id);
  event.set_message_id(command.message_id);
  event.set_from_participant_id(command.from_participant_id);
  event.set_to_participant_id(command.to_participant_id);
  *event.mutable_text() = command.text;
  *event.mutable_approval() = *command.approval;
  event.set_carried_by(ctx.actor_id);
  *event.mutable_handled() = command.handled;
  return event;
}

// --- Preparation -----------------------------------------------------------

absl::StatusOr<conference_v1::PreparationRecorded> DecideRecordPreparation(
    const ConferenceState& state, const RecordPreparationCommand& command,
    const CommandContext& ctx) {
  MEND_RETURN_IF_ERROR(CheckCase(state, command.case_id, ctx, /*contact=*/false));
  MEND_ASSIGN_OR_RETURN(const SlotFacts* slot,
                        FindPreparationSlot(state, command.booking_id));
  if (state.preparations.contains(command.booking_id)) {
    return absl::FailedPreconditionError(
        absl::StrCat("the outcome of preparation meeting ", Quote(command.booking_id),
                     " was recorded already"));
  }
  MEND_ASSIGN_OR_RETURN(const ParticipantFacts* participant,
                        PreparationPerson(state, *slot));
  MEND_RETURN_IF_ERROR(CheckOptionalSealedFor("support_needs", command.support_needs,
                                              participant->participant_id));
  if (!command.supporter_id.empty()) {
    const ParticipantFacts* supporter = state.FindParticipant(command.supporter_id);
    if (supporter == nullptr) {
      return Invalid("supporter_id",
                     absl::StrCat(Quote(command.supporter_id),
                                  " is not a participant of ", CaseRef(command.case_id)));
    }
    if (supporter->role != case_v1::SUPPORTER) {
      return Invalid("supporter_id", absl::StrCat(Quote(command.supporter_id), " is a ",
                                                  ParticipantRoleName(supporter->role),
                                                  ", not a SUPPORTER"));
    }
    if (supporter->supports_participant_id != participant->participant_id) {
      return Invalid("supporter_id",
                     absl::StrCat(Quote(command.supporter_id), " supports ",
                                  Quote(supporter->supports_participant_id), ", not ",
                                  Quote(participant->participant_id)));
    }
    if (supporter->erased) return ErasedError(*supporter, command.case_id);
  }

  conference_v1::PreparationRecorded event;
  event.set_case_id(command.case_id);
  event.set_booking_id(command.booking_id);
  event.set_participant_id(participant->participant_id);
  event.set_expectations_discussed(command.expectations_discussed);
  if (!command.support_needs.ciphertext().empty()) {
    *event.mutable_support_needs() = command.support_needs;
  }
  event.set_mental_health_support(command.mental_health_support);
  event.set_supporter_id(command.supporter_id);
  event.set_ready(command.ready);
  event.set_recorded_by(ctx.actor_id);
  *event.mutable_handled() = command.handled;
  return event;
}

// --- Whose key -------------------------------------------------------------

absl::StatusOr<std::string> LetterAuthor(const ConferenceState& state) {
  MEND_RETURN_IF_ERROR(CheckKnown(state));
  MEND_ASSIGN_OR_RETURN(const ParticipantFacts* su, LiveServiceUser(state));
  return su->participant_id;
}

absl::StatusOr<std::string> ConferenceVictim(const ConferenceState& state,
                                             std::string_view booking_id) {
  MEND_RETURN_IF_ERROR(CheckKnown(state));
  const SlotFacts* slot = state.FindSlot(booking_id);
  if (slot == nullptr) {
    return absl::NotFoundError(absl::StrCat(CaseRef(state.case_id), " has no booking ",
                                            Quote(booking_id), " in scheduling"));
  }
  if (!slot->conference) {
    return absl::FailedPreconditionError(absl::StrCat(
        "booking ", Quote(booking_id), " is a preparation meeting, not a conference"));
  }
  for (const std::string& id : slot->participant_ids) {
    const ParticipantFacts* p = state.FindParticipant(id);
    if (p == nullptr || !IsVictimRole(p->role)) continue;
    if (p->erased) return ErasedError(*p, state.case_id);
    return p->participant_id;
  }
  return absl::FailedPreconditionError(
      absl::StrCat("conference ", Quote(booking_id), " has no victim or co-victim"));
}

absl::StatusOr<std::string> PreparationParticipant(const ConferenceState& state,
                                                   std::string_view booking_id) {
  MEND_RETURN_IF_ERROR(CheckKnown(state));
  MEND_ASSIGN_OR_RETURN(const SlotFacts* slot, FindPreparationSlot(state, booking_id));
  MEND_ASSIGN_OR_RETURN(const ParticipantFacts* p, PreparationPerson(state, *slot));
  return p->participant_id;
}

absl::StatusOr<std::string> LetterRecipient(const ConferenceState& state,
                                            std::string_view letter_id) {
  MEND_RETURN_IF_ERROR(CheckKnown(state));
  MEND_ASSIGN_OR_RETURN(const LetterFacts* letter, FindLetterOf(state, letter_id));
  MEND_ASSIGN_OR_RETURN(const ParticipantFacts* victim, DeliveredTo(state, *letter));
  return victim->participant_id;
}

}  // namespace mend::conferencesvc
