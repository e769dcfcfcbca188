// The conference, the outcome agreement and the follow-up
// (conference_decide.h, from "The conference" on). Each decide function
// checks, in order: who may act on the case (CheckCanAct: an unallocated
// facilitator learns nothing, not even whether the case exists), that the
// case is known, open and not paused, the command's rules against the state,
// and — for a contact — the approval last (CheckApproval), so a contact is
// refused on its rules before the gate's answer is looked at.
#include <algorithm>
#include <cstdint>
#include <set>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

#include "absl/strings/str_cat.h"
#include "absl/strings/str_join.h"
#include "absl/time/civil_time.h"
#include "common/base/status_macros.h"
#include "common/base/validation.h"
#include "services/conference/conference_decide.h"

namespace mend::conferencesvc {
namespace {

// Up to 50 items in one outcome agreement.
constexpr size_t kMaxAgreementItems = 50;
// A conference may start from an hour before its booked start.
constexpr absl::Duration kStartEarly = absl::Hours(1);

std::string Quote(std::string_view s) { return absl::StrCat("\"", std::string(s), "\""); }

std::string Utc(absl::Time t) {
  return absl::FormatTime("%Y-%m-%dT%H:%M:%SZ", t, absl::UTCTimeZone());
}

std::string CaseRef(std::string_view case_id) {
  return absl::StrCat("case ", Quote(case_id));
}

std::string ConferenceRef(std::string_view booking_id) {
  return absl::StrCat("conference ", Quote(booking_id));
}

std::string KindName(common_v1::ContactKind kind) {
  if (!common_v1::ContactKind_IsValid(kind)) {
    return absl::StrCat("kind ", static_cast<int>(kind));
  }
  return common_v1::ContactKind_Name(kind);
}

std::string ParticipantRoleName(case_v1::ParticipantRole role) {
  if (!case_v1::ParticipantRole_IsValid(role)) {
    return absl::StrCat("role ", static_cast<int>(role));
  }
  return case_v1::ParticipantRole_Name(role);
}

std::string CauseName(conference_v1::CancellationCause cause) {
  if (!conference_v1::CancellationCause_IsValid(cause)) {
    return absl::StrCat("cause ", static_cast<int>(cause));
  }
  return conference_v1::CancellationCause_Name(cause);
}

// "service user \"su-1\"", "victim \"v-1\"", "co-victim \"v-2\"".
std::string PartyRef(const ParticipantFacts& p) {
  std::string_view what = "participant";
  if (p.role == case_v1::SERVICE_USER) what = "service user";
  if (p.role == case_v1::VICTIM) what = "victim";
  if (p.role == case_v1::CO_VICTIM) what = "co-victim";
  return absl::StrCat(std::string(what), " ", Quote(p.participant_id));
}

bool IsParty(const ParticipantFacts& p) {
  return p.role == case_v1::SERVICE_USER || IsVictimRole(p.role);
}

// CheckCanAct, then the case known, the one named, open and not paused:
// the preamble of every command here.
absl::Status CheckCase(const ConferenceState& state, std::string_view case_id,
                       const CommandContext& ctx, bool contact) {
  MEND_RETURN_IF_ERROR(CheckCanAct(state, case_id, ctx, contact));
  if (!state.case_known) {
    return absl::NotFoundError(absl::StrCat(
        CaseRef(case_id),
        " is not known to the conference service (case log handled up to ",
        state.last_case_position, "; pass a causal token if the case is new)"));
  }
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
        absl::StrCat(CaseRef(case_id), " is paused: nothing happens until it resumes"));
  }
  return absl::OkStatus();
}

// A conference booked in scheduling for the case.
absl::StatusOr<const SlotFacts*> FindConferenceSlot(const ConferenceState& state,
                                                    std::string_view booking_id) {
  const SlotFacts* slot = state.FindSlot(booking_id);
  if (slot == nullptr) {
    return absl::NotFoundError(
        absl::StrCat(CaseRef(state.case_id), " has no booking ", Quote(booking_id)));
  }
  if (!slot->conference) {
    return absl::FailedPreconditionError(absl::StrCat(
        "booking ", Quote(booking_id), " is a preparation meeting, not a conference"));
  }
  return slot;
}

const ConferenceFacts* FindConference(const ConferenceState& state,
                                      std::string_view booking_id) {
  auto it = state.conferences.find(std::string(booking_id));
  return it == state.conferences.end() ? nullptr : &it->second;
}

// The two people a conference is between.
struct Parties {
  const ParticipantFacts* service_user = nullptr;
  const ParticipantFacts* victim = nullptr;
};

// The service user and the one victim or co-victim among the booking's
// participants. FAILED_PRECONDITION when the booking (scheduling's) does not
// name them so.
absl::StatusOr<Parties> PartiesOf(const ConferenceState& state, const SlotFacts& slot) {
  Parties parties;
  const ParticipantFacts* su = state.ServiceUser();
  for (const std::string& id : slot.participant_ids) {
    const ParticipantFacts* p = state.FindParticipant(id);
    if (p == nullptr) continue;
    if (p == su) parties.service_user = p;
    if (!IsVictimRole(p->role)) continue;
    if (parties.victim != nullptr) {
      return absl::FailedPreconditionError(
          absl::StrCat(ConferenceRef(slot.booking_id), " names victims ",
                       Quote(parties.victim->participant_id), " and ", Quote(id),
                       ": a conference is with exactly one"));
    }
    parties.victim = p;
  }
  if (parties.service_user == nullptr) {
    return absl::FailedPreconditionError(
        absl::StrCat(ConferenceRef(slot.booking_id),
                     " does not name the service user of ", CaseRef(state.case_id)));
  }
  if (parties.victim == nullptr) {
    return absl::FailedPreconditionError(
        absl::StrCat(ConferenceRef(slot.booking_id), " names no victim or co-victim"));
  }
  return parties;
}

// The conference held in the case (the latest booked, if more than one),
// or nullptr.
const ConferenceFacts* HeldConference(const ConferenceState& state) {
  const ConferenceFacts* held = nullptr;
  absl::Time held_start = absl::InfinitePast();
  for (const auto& [id, c] : state.conferences) {
    if (!c.held) continue;
    const SlotFacts* slot = state.FindSlot(id);
    const absl::Time start = slot == nullptr ? absl::InfinitePast() : slot->start;
    if (held == nullptr || start > held_start) {
      held = &c;
      held_start = start;
    }
  }
  return held;
}

struct Held {
  const ConferenceFacts* conference = nullptr;
  Parties parties;
};

absl::StatusOr<Held> RequireHeldConference(const ConferenceState& state,
                                           std::string_view what) {
  const ConferenceFacts* held = HeldConference(state);
  if (held == nullptr) {
    return absl::FailedPreconditionError(
        absl::StrCat(CaseRef(state.case_id),
                     " has no conference held: ", std::string(what), " follows one"));
  }
  const SlotFacts* slot = state.FindSlot(held->booking_id);
  if (slot == nullptr) {
    return absl::InternalError(absl::StrCat(ConferenceRef(held->booking_id),
                                            " was held but its booking is not known"));
  }
  MEND_ASSIGN_OR_RETURN(Parties parties, PartiesOf(state, *slot));
  return Held{held, parties};
}

// Why a conference is not in progress (for one that is not).
std::string NotInProgress(const ConferenceFacts* c, std::string_view booking_id) {
  if (c == nullptr || !c->started.has_value()) {
    if (c != nullptr && c->abandoned) {
      return absl::StrCat(ConferenceRef(booking_id), " was abandoned (",
                          c->abandoned_reason, ")");
    }
    return absl::StrCat(ConferenceRef(booking_id), " has not started");
  }
  if (c->held) return absl::StrCat(ConferenceRef(booking_id), " was held already");
  if (c->abandoned) {
    return absl::StrCat(ConferenceRef(booking_id), " was abandoned (",
                        c->abandoned_reason, ")");
  }
  return absl::StrCat(ConferenceRef(booking_id), " was stopped (", CauseName(c->stopped),
                      ")");
}

// `sealed` holds text sealed for `person_id`: INVALID_ARGUMENT "<field>: is
// required" when empty (and `required`), INTERNAL when sealed for another
// (the layer sealed with the wrong key: a bug).
absl::Status CheckSealed(std::string_view field, const common_v1::Sealed& sealed,
                         std::string_view person_id, bool required) {
  if (sealed.ciphertext().empty() && sealed.person_id().empty()) {
    if (required) return Invalid(field, "is required");
    return absl::OkStatus();
  }
  if (sealed.ciphertext().empty() && required) return Invalid(field, "is required");
  if (sealed.person_id() != person_id) {
    return absl::InternalError(absl::StrCat(std::string(field), " is sealed for ",
                                            Quote(sealed.person_id()), ", not for ",
                                            Quote(person_id)));
  }
  return absl::OkStatus();
}

absl::Status MissingApproval(const ContactQuestion& question, std::string_view what) {
  return absl::FailedPreconditionError(absl::StrCat(
      std::string(what), " with victim ", Quote(question.victim_id),
      " needs an APPROVED contact decision (", KindName(question.kind), ")"));
}

// A letter delivered, or a conference held: contact happened.
bool ContactHappened(const ConferenceState& state) {
  if (HeldConference(state) != nullptr) return true;
  for (const auto& [id, letter] : state.letters) {
    if (letter.delivery.has_value()) return true;
  }
  return false;
}

// The victims and co-victims who took part: attended a held conference, or
// were delivered a letter. Ordered by id.
std::set<std::string> VictimsWhoTookPart(const ConferenceState& state) {
  std::set<std::string> ids;
  for (const auto& [booking, c] : state.conferences) {
    if (!c.held) continue;
    for (const std::string& id : c.attendee_ids) {
      const ParticipantFacts* p = state.FindParticipant(id);
      if (p != nullptr && IsVictimRole(p->role)) ids.insert(id);
    }
  }
  for (const auto& [id, letter] : state.letters) {
    if (letter.delivery.has_value() && !letter.offered_victim_id.empty()) {
      ids.insert(letter.offered_victim_id);
    }
  }
  return ids;
}

absl::Status CheckNoContactYet(const ConferenceState& state, std::string_view what) {
  if (ContactHappened(state)) return absl::OkStatus();
  return absl::FailedPreconditionError(
      absl::StrCat(CaseRef(state.case_id),
                   " has had no contact yet (no conference held, no letter delivered): ",
                   std::string(what), " follows contact"));
}

}  // namespace

// --- The conference --------------------------------------------------------

absl::StatusOr<ContactQuestion> StartConferenceQuestion(
    const ConferenceState& state, const StartConferenceCommand& command,
    const CommandContext& ctx) {
  MEND_RETURN_IF_ERROR(CheckCase(state, command.case_id, ctx, /*contact=*/true));
  MEND_ASSIGN_OR_RETURN(const SlotFacts* slot,
                        FindConferenceSlot(state, command.booking_id));
  if (slot->cancelled) {
    return absl::FailedPreconditionError(
        absl::StrCat(ConferenceRef(command.booking_id), " was cancelled in scheduling"));
  }
  if (const ConferenceFacts* c = FindConference(state, command.booking_id)) {
    if (c->started.has_value()) {
      return absl::FailedPreconditionError(absl::StrCat(
          ConferenceRef(command.booking_id), " was started already (decision ",
          Quote(c->started->decision_id()), ")"));
    }
    if (c->abandoned) {
      return absl::FailedPreconditionError(absl::StrCat(ConferenceRef(command.booking_id),
                                                        " was abandoned (",
                                                        c->abandoned_reason, ")"));
    }
  }
  MEND_ASSIGN_OR_RETURN(Parties parties, PartiesOf(state, *slot));
  for (const ParticipantFacts* p : {parties.service_user, parties.victim}) {
    if (p->erased) {
      return absl::FailedPreconditionError(
          absl::StrCat(PartyRef(*p), " was erased; the conference cannot take place"));
    }
  }
  const absl::Time opens = slot->start - kStartEarly;
  if (ctx.now < opens || ctx.now >= slot->end) {
    return absl::FailedPreconditionError(
        absl::StrCat(ConferenceRef(command.booking_id), " may start from ", Utc(opens),
                     " (an hour before its start) until its end at ", Utc(slot->end),
                     "; now is ", Utc(ctx.now)));
  }
  for (const ParticipantFacts* p : {parties.service_user, parties.victim}) {
    const PreparationFacts* prep = state.LatestPreparation(p->participant_id);
    if (prep == nullptr) {
      return absl::FailedPreconditionError(absl::StrCat(
          PartyRef(*p), " is not prepared: no preparation meeting recorded"));
    }
    if (!prep->ready) {
      return absl::FailedPreconditionError(
          absl::StrCat(PartyRef(*p), " is not ready (preparation meeting ",
                       Quote(prep->booking_id), ")"));
    }
  }
  ContactQuestion q;
  q.kind = slot->kind;
  q.victim_id = parties.victim->participant_id;
  q.facilitator_id = ctx.actor_id;
  return q;
}

absl::StatusOr<conference_v1::ConferenceStarted> DecideStartConference(
    const ConferenceState& state, const StartConferenceCommand& command,
    const CommandContext& ctx) {
  MEND_ASSIGN_OR_RETURN(ContactQuestion question,
                        StartConferenceQuestion(state, command, ctx));
  if (!command.approval.has_value()) {
    return MissingApproval(question, ConferenceRef(command.booking_id));
  }
  MEND_RETURN_IF_ERROR(CheckApproval(state, question, *command.approval, ctx));

  conference_v1::ConferenceStarted event;
  event.set_case_id(command.case_id);
  event.set_booking_id(command.booking_id);
  event.set_kind(question.kind);
  *event.mutable_approval() = *command.approval;
  event.set_started_by(ctx.actor_id);
  *event.mutable_handled() = command.handled;
  return event;
}

absl::StatusOr<conference_v1::ConferenceHeld> DecideRecordConferenceHeld(
    const ConferenceState& state, const RecordConferenceHeldCommand& command,
    const CommandContext& ctx) {
  MEND_RETURN_IF_ERROR(CheckCase(state, command.case_id, ctx, /*contact=*/false));
  MEND_ASSIGN_OR_RETURN(const SlotFacts* slot,
                        FindConferenceSlot(state, command.booking_id));
  const ConferenceFacts* c = FindConference(state, command.booking_id);
  if (c == nullptr || !c->in_progress()) {
    return absl::FailedPreconditionError(
        absl::StrCat(NotInProgress(c, command.booking_id),
                     ": only a conference in progress is recorded as held"));
  }
  MEND_ASSIGN_OR_RETURN(Parties parties, PartiesOf(state, *slot));

  std::set<std::string> seen;
  for (const std::string& id : command.attendee_ids) {
    if (!seen.insert(id).second) {
      return Invalid("attendee_ids", absl::StrCat("names ", Quote(id), " twice"));
    }
    if (state.FindParticipant(id) == nullptr) {
      return Invalid("attendee_ids", absl::StrCat(Quote(id), " is not a participant of ",
                                                  CaseRef(command.case_id)));
    }
  }
  for (const ParticipantFacts* p : {parties.service_user, parties.victim}) {
    if (!seen.contains(p->participant_id)) {
      return Invalid("attendee_ids",
                     absl::StrCat("does not include ", PartyRef(*p),
                                  ": a conference is held with both parties (abandon it "
                                  "otherwise)"));
    }
  }
  MEND_RETURN_IF_ERROR(CheckSealed("outline", command.outline,
                                   parties.victim->participant_id, /*required=*/true));

  conference_v1::ConferenceHeld event;
  event.set_case_id(command.case_id);
  event.set_booking_id(command.booking_id);
  for (const std::string& id : command.attendee_ids) event.add_attendee_ids(id);
  *event.mutable_outline() = command.outline;
  event.set_apology_made(command.apology_made);
  event.set_recorded_by(ctx.actor_id);
  *event.mutable_handled() = command.handled;
  return event;
}

absl::StatusOr<conference_v1::ConferenceAbandoned> DecideAbandonConference(
    const ConferenceState& state, const AbandonConferenceCommand& command,
    const CommandContext& ctx) {
  MEND_RETURN_IF_ERROR(CheckCase(state, command.case_id, ctx, /*contact=*/false));
  MEND_RETURN_IF_ERROR(ValidateCode("reason", command.reason));
  MEND_ASSIGN_OR_RETURN(const SlotFacts* slot,
                        FindConferenceSlot(state, command.booking_id));
  const ConferenceFacts* c = FindConference(state, command.booking_id);
  if (c != nullptr && (c->held || c->abandoned ||
                       c->stopped != conference_v1::CANCELLATION_CAUSE_UNSPECIFIED)) {
    return absl::FailedPreconditionError(
        absl::StrCat(NotInProgress(c, command.booking_id), ": nothing to abandon"));
  }
  const bool started = c != nullptr && c->started.has_value();
  if (!started && slot->cancelled) {
    return absl::FailedPreconditionError(
        absl::StrCat(ConferenceRef(command.booking_id),
                     " was cancelled in scheduling: nothing to abandon"));
  }

  conference_v1::ConferenceAbandoned event;
  event.set_case_id(command.case_id);
  event.set_booking_id(command.booking_id);
  event.set_reason(command.reason);
  event.set_abandoned_by(ctx.actor_id);
  *event.mutable_handled() = command.handled;
  return event;
}

// --- Outcome agreement -----------------------------------------------------

absl::StatusOr<conference_v1::OutcomeAgreementRecorded> DecideRecordOutcomeAgreement(
    const ConferenceState& state, const RecordOutcomeAgreementCommand& command,
    const CommandContext& ctx) {
  MEND_RETURN_IF_ERROR(CheckCase(state, command.case_id, ctx, /*contact=*/false));
  MEND_ASSIGN_OR_RETURN(Held held, RequireHeldConference(state, "an outcome agreement"));
  if (state.agreement.has_value()) {
    return absl::FailedPreconditionError(
        absl::StrCat(CaseRef(command.case_id), " has an outcome agreement already (",
                     Quote(state.agreement->agreement_id), ")"));
  }
  if (command.agreement_id.empty()) {
    return absl::InternalError("the outcome agreement has no id");
  }
  if (command.items.empty() || command.items.size() > kMaxAgreementItems) {
    return Invalid("items", absl::StrCat("has ", command.items.size(), " items, not 1..",
                                         kMaxAgreementItems));
  }

  const absl::CivilDay today = absl::ToCivilDay(ctx.now, absl::UTCTimeZone());
  std::set<std::string> item_ids;
  for (size_t i = 0; i < command.items.size(); ++i) {
    const conference_v1::AgreementItem& item = command.items[i];
    const std::string field = absl::StrCat("items[", i, "]");
    if (item.item_id().empty() || !item_ids.insert(item.item_id()).second) {
      return absl::InternalError(absl::StrCat(field, " has an empty or repeated item id ",
                                              Quote(item.item_id())));
    }
    const std::string owner_field = absl::StrCat(field, ".owner_id");
    const ParticipantFacts* owner = state.FindParticipant(item.owner_id());
    if (owner == nullptr) {
      return Invalid(owner_field,
                     absl::StrCat(Quote(item.owner_id()), " is not a participant of ",
                                  CaseRef(command.case_id)));
    }
    if (!IsParty(*owner)) {
      return Invalid(
          owner_field,
          absl::StrCat(Quote(item.owner_id()), " is a ", ParticipantRoleName(owner->role),
                       ", not a party (the service user or a victim)"));
    }
    if (owner->erased) {
      return absl::FailedPreconditionError(
          absl::StrCat(PartyRef(*owner), " was erased; nothing more is agreed for them"));
    }
    const std::string due_field = absl::StrCat(field, ".due_date");
    MEND_ASSIGN_OR_RETURN(absl::CivilDay due, ParseDate(due_field, item.due_date()));
    if (due <= today) {
      return Invalid(due_field,
                     absl::StrCat("is ", item.due_date(), ", not after today (",
                                  absl::FormatCivilTime(today), ")"));
    }
    MEND_RETURN_IF_ERROR(CheckSealed(absl::StrCat(field, ".what"), item.what(),
                                     owner->participant_id, /*required=*/true));
  }

  // Every party of the held conference consented: the parties are the only
  // ones asked, and each is asked once.
  const std::vector<const ParticipantFacts*> parties = {held.parties.service_user,
                                                        held.parties.victim};
  std::set<std::string> answered;
  for (const conference_v1::PartyConsent& consent : command.consents) {
    const std::string& id = consent.participant_id();
    const bool is_party = std::any_of(parties.begin(), parties.end(), [&](const auto* p) {
      return p->participant_id == id;
    });
    if (!is_party) {
      return Invalid("consents", absl::StrCat(Quote(id), " is not a party of ",
                                              ConferenceRef(held.conference->booking_id),
                                              " (the service user and the victim)"));
    }
    if (!answered.insert(id).second) {
      return Invalid("consents", absl::StrCat("names ", Quote(id), " twice"));
    }
  }
  std::vector<std::string> lacking;
  for (const ParticipantFacts* p : parties) {
    auto it = std::find_if(command.consents.begin(), command.consents.end(),
                           [&](const conference_v1::PartyConsent& c) {
                             return c.participant_id() == p->participant_id;
                           });
    if (it == command.consents.end()) {
      lacking.push_back(absl::StrCat(PartyRef(*p), " has not consented"));
    } else if (!it->consented()) {
      lacking.push_back(absl::StrCat(PartyRef(*p), " declined"));
    }
  }
  if (!lacking.empty()) {
    return absl::FailedPreconditionError(absl::StrCat(
        "an outcome agreement needs the consent of every party of ",
        ConferenceRef(held.conference->booking_id), ": ", absl::StrJoin(lacking, "; ")));
  }

  conference_v1::OutcomeAgreementRecorded event;
  event.set_case_id(command.case_id);
  event.set_agreement_id(command.agreement_id);
  for (const conference_v1::AgreementItem& item : command.items)
    *event.add_items() = item;
  for (const conference_v1::PartyConsent& c : command.consents) *event.add_consents() = c;
  event.set_recorded_by(ctx.actor_id);
  *event.mutable_handled() = command.handled;
  return event;
}

absl::StatusOr<ItemCompleted> DecideCompleteItem(const ConferenceState& state,
                                                 const CompleteItemCommand& command,
                                                 const CommandContext& ctx) {
  MEND_RETURN_IF_ERROR(CheckCase(state, command.case_id, ctx, /*contact=*/false));
  if (!state.agreement.has_value()) {
    return absl::NotFoundError(absl::StrCat(CaseRef(command.case_id),
                                            " has no outcome agreement, so no item ",
                                            Quote(command.item_id)));
  }
  const AgreementFacts& agreement = *state.agreement;
  auto it = std::find_if(
      agreement.items.begin(), agreement.items.end(),
      [&](const AgreementItemFacts& item) { return item.item_id == command.item_id; });
  if (it == agreement.items.end()) {
    return absl::NotFoundError(absl::StrCat("outcome agreement ",
                                            Quote(agreement.agreement_id),
                                            " has no item ", Quote(command.item_id)));
  }
  if (it->completed) {
    return absl::FailedPreconditionError(
        absl::StrCat("item ", Quote(command.item_id), " is completed already"));
  }

  ItemCompleted decided;
  conference_v1::AgreementItemCompleted& completed = decided.completed;
  completed.set_case_id(command.case_id);
  completed.set_agreement_id(agreement.agreement_id);
  completed.set_item_id(command.item_id);
  completed.set_completed_by(ctx.actor_id);
  *completed.mutable_handled() = command.handled;

  const bool last =
      std::all_of(agreement.items.begin(), agreement.items.end(),
                  [&](const AgreementItemFacts& item) {
                    return item.completed || item.item_id == command.item_id;
                  });
  if (last && !agreement.completed) {
    conference_v1::AgreementCompleted& done = decided.agreement_completed.emplace();
    done.set_case_id(command.case_id);
    done.set_agreement_id(agreement.agreement_id);
    *done.mutable_handled() = command.handled;
  }
  return decided;
}

absl::StatusOr<ContactQuestion> InformVictimQuestion(const ConferenceState& state,
                                                     const InformVictimCommand& command,
                                                     const CommandContext& ctx) {
  MEND_RETURN_IF_ERROR(CheckCase(state, command.case_id, ctx, /*contact=*/true));
  if (!state.agreement.has_value()) {
    return absl::FailedPreconditionError(
        absl::StrCat(CaseRef(command.case_id), " has no outcome agreement"));
  }
  const AgreementFacts& agreement = *state.agreement;
  if (!agreement.completed) {
    const auto done =
        std::count_if(agreement.items.begin(), agreement.items.end(),
                      [](const AgreementItemFacts& i) { return i.completed; });
    return absl::FailedPreconditionError(absl::StrCat(
        "outcome agreement ", Quote(agreement.agreement_id), " is not completed (", done,
        " of ", agreement.items.size(), " items done): the victim is told when it is"));
  }
  if (agreement.victim_informed.has_value()) {
    return absl::FailedPreconditionError(
        absl::StrCat("victim ", Quote(agreement.informed_victim_id),
                     " was told already that outcome agreement ",
                     Quote(agreement.agreement_id), " is completed (decision ",
                     Quote(agreement.victim_informed->decision_id()), ")"));
  }
  MEND_ASSIGN_OR_RETURN(Held held, RequireHeldConference(state, "an outcome agreement"));
  if (held.parties.victim->erased) {
    return absl::FailedPreconditionError(
        absl::StrCat(PartyRef(*held.parties.victim), " was erased; nobody is told"));
  }
  ContactQuestion q;
  q.kind = common_v1::APPROACH_VICTIM;
  q.victim_id = held.parties.victim->participant_id;
  q.facilitator_id = ctx.actor_id;
  return q;
}

absl::StatusOr<conference_v1::VictimInformed> DecideInformVictim(
    const ConferenceState& state, const InformVictimCommand& command,
    const CommandContext& ctx) {
  MEND_ASSIGN_OR_RETURN(ContactQuestion question,
                        InformVictimQuestion(state, command, ctx));
  if (!command.approval.has_value()) {
    return MissingApproval(question, "telling the victim the agreement is completed");
  }
  MEND_RETURN_IF_ERROR(CheckApproval(state, question, *command.approval, ctx));

  conference_v1::VictimInformed event;
  event.set_case_id(command.case_id);
  event.set_agreement_id(state.agreement->agreement_id);
  event.set_victim_id(question.victim_id);
  *event.mutable_approval() = *command.approval;
  event.set_informed_by(ctx.actor_id);
  *event.mutable_handled() = command.handled;
  return event;
}

// --- Follow-up -------------------------------------------------------------

absl::StatusOr<conference_v1::FeedbackRecorded> DecideRecordFeedback(
    const ConferenceState& state, const RecordFeedbackCommand& command,
    const CommandContext& ctx) {
  MEND_RETURN_IF_ERROR(CheckCase(state, command.case_id, ctx, /*contact=*/false));
  if (command.satisfaction < 1 || command.satisfaction > 5) {
    return Invalid("satisfaction",
                   absl::StrCat("is ", command.satisfaction, ", not 1..5"));
  }
  if (state.follow_up_completed) {
    return absl::FailedPreconditionError(
        absl::StrCat("the follow-up of ", CaseRef(command.case_id), " is completed"));
  }
  MEND_RETURN_IF_ERROR(CheckNoContactYet(state, "feedback"));
  const ParticipantFacts* p = state.FindParticipant(command.participant_id);
  if (p == nullptr) {
    return Invalid("participant_id",
                   absl::StrCat(Quote(command.participant_id),
                                " is not a participant of ", CaseRef(command.case_id)));
  }
  if (!IsParty(*p)) {
    return Invalid("participant_id",
                   absl::StrCat(Quote(command.participant_id), " is a ",
                                ParticipantRoleName(p->role),
                                ", not a party (the service user or a victim)"));
  }
  if (IsVictimRole(p->role) && !VictimsWhoTookPart(state).contains(p->participant_id)) {
    return absl::FailedPreconditionError(
        absl::StrCat(PartyRef(*p),
                     " took part in no contact (attended no conference held, was "
                     "delivered no letter)"));
  }
  if (state.feedback.contains(command.participant_id)) {
    return absl::FailedPreconditionError(
        absl::StrCat("feedback from ", PartyRef(*p), " is recorded already: once each"));
  }
  MEND_RETURN_IF_ERROR(
      CheckSealed("comments", command.comments, p->participant_id, /*required=*/false));

  conference_v1::FeedbackRecorded event;
  event.set_case_id(command.case_id);
  event.set_participant_id(command.participant_id);
  event.set_satisfaction(command.satisfaction);
  *event.mutable_comments() = command.comments;
  event.set_would_recommend(command.would_recommend);
  event.set_recorded_by(ctx.actor_id);
  *event.mutable_handled() = command.handled;
  return event;
}

absl::StatusOr<conference_v1::FollowUpCompleted> DecideCompleteFollowUp(
    const ConferenceState& state, const CompleteFollowUpCommand& command,
    const CommandContext& ctx) {
  MEND_RETURN_IF_ERROR(CheckCase(state, command.case_id, ctx, /*contact=*/false));
  if (state.follow_up_completed) {
    return absl::FailedPreconditionError(absl::StrCat(
        "the follow-up of ", CaseRef(command.case_id), " is completed already"));
  }
  MEND_RETURN_IF_ERROR(CheckNoContactYet(state, "the follow-up"));
  std::vector<std::string> missing;
  if (const ParticipantFacts* su = state.ServiceUser();
      su != nullptr && !state.feedback.contains(su->participant_id)) {
    missing.push_back(PartyRef(*su));
  }
  for (const std::string& id : VictimsWhoTookPart(state)) {
    if (state.feedback.contains(id)) continue;
    const ParticipantFacts* p = state.FindParticipant(id);
    missing.push_back(p == nullptr ? Quote(id) : PartyRef(*p));
  }
  if (!missing.empty()) {
    return absl::FailedPreconditionError(absl::StrCat(
        "the follow-up needs feedback from every party who took part; none yet "
        "from ",
        absl::StrJoin(missing, ", ")));
  }

  conference_v1::FollowUpCompleted event;
  event.set_case_id(command.case_id);
  event.set_completed_by(ctx.actor_id);
  *event.mutable_handled() = command.handled;
  return event;
}

}  // namespace mend::conferencesvc
