// The conference service's commands: pure decide functions over one case's
// ConferenceState (conference_state.h). Each returns the event(s) to append,
// or the error that is the command's answer (nothing appended). The gRPC
// layer seals personal text with the right person's key (SealedFor names
// whose), asks the contact gate and makes ids before calling them; nothing
// here reads a clock (CommandContext::now), a key, a store or the network.
//
// A contact (OfferLetter, DeliverLetter, SendShuttleMessage,
// StartConference, InformVictim) is decided in two steps: <Command>Question
// checks everything that can be checked before the gate is asked and says
// what to ask (kind, victim, asking facilitator = the caller); the gRPC layer
// asks DecideContact at that moment; Decide<Command> checks again on the
// state under the case's lock, with the approval, through CheckApproval:
//   - the approval answers the question (kind, victim, facilitator, the
//     case's service user),
//   - it is fresh: decided no more than kApprovalFreshness before ctx.now,
//   - nothing it relied on changed since: no withdrawal of a consent it
//     relied on (the victim's PARTICIPATE and the kind's scope, the service
//     user's scope) after its consent-log position, and no risk assessment,
//     pause, closure or facilitator release after its case-log position.
// So a contact without an approval obtained at that moment is impossible by
// any path (I1).
//
// Who: every contact is made by a facilitator allocated to the case
// (PERMISSION_DENIED for anyone else, even a manager: "delivered by a
// facilitator, never directly"); other commands by an allocated facilitator
// or a manager. A facilitator not allocated gets PERMISSION_DENIED for a
// case that exists and one that does not (I5).
//
// Errors: NOT_FOUND for a case the service has not observed (the message
// says how far it has read the case log) or an unknown letter, booking or
// item; FAILED_PRECONDITION for a closed or paused case and a rule that
// forbids the command now; INVALID_ARGUMENT for a participant who is not of
// the case or of the wrong role.
#ifndef MEND_SERVICES_CONFERENCE_CONFERENCE_DECIDE_H_
#define MEND_SERVICES_CONFERENCE_CONFERENCE_DECIDE_H_

#include <optional>
#include <string>
#include <vector>

#include "absl/status/status.h"
#include "absl/status/statusor.h"
#include "absl/time/time.h"
#include "common/base/command_context.h"
#include "mend/conference/v1/events.pb.h"
#include "services/conference/conference_state.h"

namespace mend::conferencesvc {

// The upstream positions the service had handled when it decided (case,
// consent, scheduling): recorded as `handled` in every event.
using Handled = common_v1::CausalToken;

// How old an approval may be when the contact is recorded.
inline constexpr absl::Duration kApprovalFreshness = absl::Minutes(2);

// What the contact gate is asked.
struct ContactQuestion {
  common_v1::ContactKind kind = common_v1::CONTACT_KIND_UNSPECIFIED;
  std::string victim_id;
  std::string facilitator_id;  // the caller
};

// PERMISSION_DENIED unless the caller may act on / read the case (see the
// header comment). `contact`: only an allocated facilitator.
absl::Status CheckCanAct(const ConferenceState& state, std::string_view case_id,
                         const CommandContext& ctx, bool contact);
// The approval rules above; FAILED_PRECONDITION naming the decision and
// what is wrong.
absl::Status CheckApproval(const ConferenceState& state, const ContactQuestion& question,
                           const conference_v1::Approval& approval,
                           const CommandContext& ctx);

// --- Letters ---------------------------------------------------------------

struct SubmitLetterDraftCommand {
  std::string case_id;
  std::string letter_id;  // a new letter's id (made by the service) or an existing one
  bool new_letter = true;
  common_v1::Sealed text;  // sealed with the service user's key
  Handled handled;
};
// A new letter: the case has a service user (the author). A next version:
// the letter's latest version was reviewed CHANGES_REQUESTED. `text` must be
// sealed for the service user (INTERNAL otherwise: a bug).
absl::StatusOr<conference_v1::LetterDraftSubmitted> DecideSubmitLetterDraft(
    const ConferenceState& state, const SubmitLetterDraftCommand& command,
    const CommandContext& ctx);

struct ReviewLetterCommand {
  std::string case_id;
  std::string letter_id;
  int32_t version = 0;
  conference_v1::LetterVerdict verdict = conference_v1::LETTER_VERDICT_UNSPECIFIED;
  common_v1::Sealed notes;  // the author's key; required with CHANGES_REQUESTED
  Handled handled;
};
// The latest version, not reviewed yet.
absl::StatusOr<conference_v1::LetterReviewed> DecideReviewLetter(
    const ConferenceState& state, const ReviewLetterCommand& command,
    const CommandContext& ctx);

struct OfferLetterCommand {
  std::string case_id;
  std::string letter_id;
  std::string victim_id;  // empty: the case's one victim
  std::optional<conference_v1::Approval> approval;
  Handled handled;
};
// The latest version APPROVED_FOR_OFFER; not offered (or its delivery
// cancelled by a cascade, when it may be offered again); the victim of the
// case and not erased. Asks APPROACH_VICTIM.
absl::StatusOr<ContactQuestion> OfferLetterQuestion(const ConferenceState& state,
                                                    const OfferLetterCommand& command,
                                                    const CommandContext& ctx);
absl::StatusOr<conference_v1::LetterOffered> DecideOfferLetter(
    const ConferenceState& state, const OfferLetterCommand& command,
    const CommandContext& ctx);

struct DeliverLetterCommand {
  std::string case_id;
  std::string letter_id;
  int32_t version = 0;
  std::optional<conference_v1::Approval> approval;
  Handled handled;
};
// The version offered (which was approved), a delivery pending. Asks
// LETTER_DELIVERY with the victim it was offered to.
absl::StatusOr<ContactQuestion> DeliverLetterQuestion(const ConferenceState& state,
                                                      const DeliverLetterCommand& command,
                                                      const CommandContext& ctx);
absl::StatusOr<conference_v1::LetterDelivered> DecideDeliverLetter(
    const ConferenceState& state, const DeliverLetterCommand& command,
    const CommandContext& ctx);

struct RecordLetterResponseCommand {
  std::string case_id;
  std::string letter_id;
  common_v1::Sealed response;  // the victim's key
  bool wants_further_contact = false;
  std::vector<common_v1::ContactKind> further_contact_kinds;
  Handled handled;
};
// A delivered letter, once. Further kinds only with wants_further_contact.
absl::StatusOr<conference_v1::LetterResponseRecorded> DecideRecordLetterResponse(
    const ConferenceState& state, const RecordLetterResponseCommand& command,
    const CommandContext& ctx);

// --- Shuttle ---------------------------------------------------------------

struct SendShuttleMessageCommand {
  std::string case_id;
  std::string message_id;  // made by the service
  std::string from_participant_id;
  std::string to_participant_id;
  common_v1::Sealed text;  // the author's key
  std::optional<conference_v1::Approval> approval;
  Handled handled;
};
// Between the service user and a victim or co-victim, either way, neither
// erased. Asks SHUTTLE_MESSAGE with the victim of the two.
absl::StatusOr<ContactQuestion> ShuttleQuestion(const ConferenceState& state,
                                                const SendShuttleMessageCommand& command,
                                                const CommandContext& ctx);
absl::StatusOr<conference_v1::ShuttleMessageCarried> DecideSendShuttleMessage(
    const ConferenceState& state, const SendShuttleMessageCommand& command,
    const CommandContext& ctx);

// --- Preparation -----------------------------------------------------------

struct RecordPreparationCommand {
  std::string case_id;
  std::string booking_id;
  bool expectations_discussed = false;
  common_v1::Sealed support_needs;  // the participant's key (may be empty)
  bool mental_health_support = false;
  std::string supporter_id;
  bool ready = false;
  Handled handled;
};
// A preparation meeting booked in scheduling for the case, not cancelled,
// recorded once; its participant; the supporter, if named, a SUPPORTER of
// that participant.
absl::StatusOr<conference_v1::PreparationRecorded> DecideRecordPreparation(
    const ConferenceState& state, const RecordPreparationCommand& command,
    const CommandContext& ctx);

// --- The conference --------------------------------------------------------

struct StartConferenceCommand {
  std::string case_id;
  std::string booking_id;
  std::optional<conference_v1::Approval> approval;
  Handled handled;
};
// A conference booked in scheduling, not cancelled, not started; ctx.now
// within [start - 1 hour, end); the service user and the booking's victim
// both prepared, their latest preparation ready. Asks the booking's kind
// with its victim.
absl::StatusOr<ContactQuestion> StartConferenceQuestion(
    const ConferenceState& state, const StartConferenceCommand& command,
    const CommandContext& ctx);
absl::StatusOr<conference_v1::ConferenceStarted> DecideStartConference(
    const ConferenceState& state, const StartConferenceCommand& command,
    const CommandContext& ctx);

struct RecordConferenceHeldCommand {
  std::string case_id;
  std::string booking_id;
  std::vector<std::string> attendee_ids;  // participants of the case
  common_v1::Sealed outline;              // the victim's key
  bool apology_made = false;
  Handled handled;
};
// A conference in progress.
absl::StatusOr<conference_v1::ConferenceHeld> DecideRecordConferenceHeld(
    const ConferenceState& state, const RecordConferenceHeldCommand& command,
    const CommandContext& ctx);

struct AbandonConferenceCommand {
  std::string case_id;
  std::string booking_id;
  std::string reason;
  Handled handled;
};
// A conference booked (started or not), not held, abandoned or stopped.
absl::StatusOr<conference_v1::ConferenceAbandoned> DecideAbandonConference(
    const ConferenceState& state, const AbandonConferenceCommand& command,
    const CommandContext& ctx);

// --- Outcome agreement -----------------------------------------------------

struct RecordOutcomeAgreementCommand {
  std::string case_id;
  std::string agreement_id;  // made by the service
  // Items with ids made by the service and `what` sealed with the owner's key.
  std::vector<conference_v1::AgreementItem> items;
  std::vector<conference_v1::PartyConsent> consents;
  Handled handled;
};
// A conference held; no agreement yet; every item's owner a party of the
// case (the service user, a victim); a due date after ctx.now's day; every
// party of the held conference consented (FAILED_PRECONDITION naming each
// one who did not, or is missing).
absl::StatusOr<conference_v1::OutcomeAgreementRecorded> DecideRecordOutcomeAgreement(
    const ConferenceState& state, const RecordOutcomeAgreementCommand& command,
    const CommandContext& ctx);

struct CompleteItemCommand {
  std::string case_id;
  std::string item_id;
  Handled handled;
};
struct ItemCompleted {
  conference_v1::AgreementItemCompleted completed;
  // When it was the last: appended after it.
  std::optional<conference_v1::AgreementCompleted> agreement_completed;
};
absl::StatusOr<ItemCompleted> DecideCompleteItem(const ConferenceState& state,
                                                 const CompleteItemCommand& command,
                                                 const CommandContext& ctx);

struct InformVictimCommand {
  std::string case_id;
  std::optional<conference_v1::Approval> approval;
  Handled handled;
};
// The agreement completed, the victim (of the held conference) not told yet.
// Asks APPROACH_VICTIM.
absl::StatusOr<ContactQuestion> InformVictimQuestion(const ConferenceState& state,
                                                     const InformVictimCommand& command,
                                                     const CommandContext& ctx);
absl::StatusOr<conference_v1::VictimInformed> DecideInformVictim(
    const ConferenceState& state, const InformVictimCommand& command,
    const CommandContext& ctx);

// --- Follow-up -------------------------------------------------------------

struct RecordFeedbackCommand {
  std::string case_id;
  std::string participant_id;
  int32_t satisfaction = 0;    // 1..5
  common_v1::Sealed comments;  // the participant's key
  bool would_recommend = false;
  Handled handled;
};
// After contact (a letter delivered or a conference held); a party (the
// service user or a victim), once each.
absl::StatusOr<conference_v1::FeedbackRecorded> DecideRecordFeedback(
    const ConferenceState& state, const RecordFeedbackCommand& command,
    const CommandContext& ctx);

struct CompleteFollowUpCommand {
  std::string case_id;
  Handled handled;
};
// Feedback from the service user and from every victim who took part (in a
// held conference or by a delivered letter); once.
absl::StatusOr<conference_v1::FollowUpCompleted> DecideCompleteFollowUp(
    const ConferenceState& state, const CompleteFollowUpCommand& command,
    const CommandContext& ctx);

// Whose key seals a command's text: the service user for a letter draft and
// its review notes; the author for a shuttle message; the victim a letter
// was delivered to for a response; the booking's participant for support
// needs; the conference's victim for an outline; an item's owner; the
// participant for feedback. NOT_FOUND / INVALID_ARGUMENT as the commands
// would answer (so the layer refuses before sealing).
absl::StatusOr<std::string> LetterAuthor(const ConferenceState& state);
absl::StatusOr<std::string> ConferenceVictim(const ConferenceState& state,
                                             std::string_view booking_id);
absl::StatusOr<std::string> PreparationParticipant(const ConferenceState& state,
                                                   std::string_view booking_id);
absl::StatusOr<std::string> LetterRecipient(const ConferenceState& state,
                                            std::string_view letter_id);

}  // namespace mend::conferencesvc

#endif  // MEND_SERVICES_CONFERENCE_CONFERENCE_DECIDE_H_
