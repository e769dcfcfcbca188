// What the conference service knows about one case: the upstream facts it
// learned (participants and roles, allocations, risk assessments, pause,
// closure, erasures from the case log; withdrawals from the consent log; the
// conference and preparation bookings from the scheduling log) and
// everything that passed between the parties — folded from the events of
// the case's conference stream ("conference-<case_id>").
//
//   ConferenceState state;                        // a case not heard of
//   for (const RawRecord& r : records) {          // the stream, in order
//     MEND_RETURN_IF_ERROR(Evolve(state, ConferenceLogEvent{...}));
//   }
//
// The facts are the conference service's own projection, folded by its own
// code from its UpstreamFactRecorded events. Sealed fields stay sealed here:
// the state holds ciphertext (sealed under the kSealed* names below); only
// the gRPC layer unseals, for readers who may see the words (ContactView's
// ShowFn, conference_view.h).
//
// Plain C++: no gRPC, no RocksDB, no clock. Not thread-safe (a value).
#ifndef MEND_SERVICES_CONFERENCE_CONFERENCE_STATE_H_
#define MEND_SERVICES_CONFERENCE_CONFERENCE_STATE_H_

#include <cstdint>
#include <map>
#include <optional>
#include <set>
#include <string>
#include <string_view>
#include <vector>

#include "absl/status/status.h"
#include "absl/time/time.h"
#include "common/eventlog/record_codec.h"
#include "google/protobuf/message.h"
#include "mend/case/v1/events.pb.h"
#include "mend/common/v1/contact.pb.h"
#include "mend/conference/v1/events.pb.h"
#include "mend/consent/v1/events.pb.h"

namespace mend::conferencesvc {

namespace case_v1 = ::mend::case_::v1;
namespace common_v1 = ::mend::common::v1;
namespace consent_v1 = ::mend::consent::v1;
namespace conference_v1 = ::mend::conference::v1;

// "conference-<case_id>": the stream of one case in the conference log.
inline constexpr char kConferenceStreamPrefix[] = "conference-";
std::string ConferenceStreamId(std::string_view case_id);

// Field names bound into sealed ciphertexts (KeyStore::Seal's `field`): the
// gRPC layer seals each request's words under one and unseals with the same
// (the field name is authenticated, not stored, so a reader must know it).
// Short names of this service's own, not the proto field names; each is
// for the event field the Sealed ends up in, all UTF-8 text.
inline constexpr std::string_view kSealedLetterText =
    "letter.text";  // LetterDraftSubmitted.text
inline constexpr std::string_view kSealedLetterReviewNotes =
    "letter.review_notes";  // LetterReviewed.notes
inline constexpr std::string_view kSealedLetterResponse =
    "letter.response";  // LetterResponseRecorded.response
inline constexpr std::string_view kSealedShuttleText =
    "shuttle.text";  // ShuttleMessageCarried.text
inline constexpr std::string_view kSealedPreparationSupportNeeds =
    "preparation.support_needs";  // PreparationRecorded.support_needs
inline constexpr std::string_view kSealedConferenceOutline =
    "conference.outline";  // ConferenceHeld.outline
inline constexpr std::string_view kSealedAgreementItem =
    "agreement.item";  // AgreementItem.what (in OutcomeAgreementRecorded)
inline constexpr std::string_view kSealedFeedbackComments =
    "feedback.comments";  // FeedbackRecorded.comments

// One event a decide or cascade function returns: its type (the payload's
// full proto name, e.g. "mend.conference.v1.LetterDelivered") and bytes.
struct ConferenceEvent {
  std::string type;
  std::string payload;
};
ConferenceEvent Encode(const google::protobuf::Message& event);

// One record of a conference stream, as Evolve folds it.
struct ConferenceLogEvent {
  uint64_t position = 0;
  uint64_t stream_version = 0;
  std::string_view event_type;
  std::string_view payload;
  int64_t recorded_unix_micros = 0;

  // The record at `position` of the log, as the service folds it (at start,
  // after each append; the audit tool's replay too). Views into `record`.
  static ConferenceLogEvent Of(uint64_t position, const eventlog::RecordView& record) {
    return {.position = position,
            .stream_version = record.stream_version,
            .event_type = record.event_type,
            .payload = record.payload,
            .recorded_unix_micros = record.recorded_unix_micros};
  }
};

bool IsVictimRole(case_v1::ParticipantRole role);  // VICTIM, CO_VICTIM

// The consent scope a contact of `kind` needs (for APPROACH_VICTIM:
// PARTICIPATE). A decision relies on the victim's PARTICIPATE and that
// scope, and the service user's scope.
consent_v1::ConsentScope ScopeForKind(common_v1::ContactKind kind);

struct ParticipantFacts {
  std::string participant_id;
  case_v1::ParticipantRole role = case_v1::PARTICIPANT_ROLE_UNSPECIFIED;
  std::string supports_participant_id;
  bool erased = false;
};

struct WithdrawalFacts {
  std::string participant_id;
  std::vector<consent_v1::ConsentScope> scopes;
  uint64_t consent_position = 0;
};

// A booking of the scheduling service this service acts on.
struct SlotFacts {
  std::string booking_id;
  bool conference = false;  // else a preparation meeting
  common_v1::ContactKind kind = common_v1::CONTACT_KIND_UNSPECIFIED;  // conferences
  absl::Time start, end;
  std::vector<std::string> participant_ids;
  std::vector<std::string> facilitator_ids;
  bool cancelled = false;
  uint64_t scheduling_position = 0;
};

struct LetterVersionFacts {
  int32_t version = 0;
  common_v1::Sealed text;
  conference_v1::LetterVerdict verdict = conference_v1::LETTER_VERDICT_UNSPECIFIED;
  common_v1::Sealed review_notes;
  uint64_t position = 0;  // of its LetterDraftSubmitted
};

struct LetterFacts {
  std::string letter_id;
  std::string author_id;                     // the service user
  std::vector<LetterVersionFacts> versions;  // version i+1 at [i]
  // The offer (LetterOffered) and the delivery (LetterDelivered).
  std::optional<conference_v1::Approval> offer;
  int32_t offered_version = 0;
  std::string offered_victim_id;
  std::optional<conference_v1::Approval> delivery;
  int32_t delivered_version = 0;
  // Set when a cascade cancelled an offered delivery.
  conference_v1::CancellationCause delivery_cancelled =
      conference_v1::CANCELLATION_CAUSE_UNSPECIFIED;
  bool response_recorded = false;
  common_v1::Sealed response;
  bool wants_further_contact = false;
  std::vector<common_v1::ContactKind> further_contact_kinds;

  const LetterVersionFacts* latest() const {
    return versions.empty() ? nullptr : &versions.back();
  }
  const LetterVersionFacts* Version(int32_t version) const;
  // Offered, not delivered, not cancelled.
  bool pending_delivery() const {
    return offer.has_value() && !delivery.has_value() &&
           delivery_cancelled == conference_v1::CANCELLATION_CAUSE_UNSPECIFIED;
  }
};

struct MessageFacts {
  std::string message_id;
  std::string from_participant_id;
  std::string to_participant_id;
  common_v1::Sealed text;
  conference_v1::Approval approval;
  uint64_t position = 0;
};

struct PreparationFacts {
  std::string booking_id;
  std::string participant_id;
  bool expectations_discussed = false;
  common_v1::Sealed support_needs;
  bool mental_health_support = false;
  std::string supporter_id;
  bool ready = false;
  uint64_t position = 0;
};

struct ConferenceFacts {
  std::string booking_id;
  std::optional<conference_v1::Approval> started;  // ConferenceStarted
  bool held = false;
  std::vector<std::string> attendee_ids;
  common_v1::Sealed outline;
  bool apology_made = false;
  bool abandoned = false;
  std::string abandoned_reason;
  conference_v1::CancellationCause stopped =
      conference_v1::CANCELLATION_CAUSE_UNSPECIFIED;  // a cascade stopped it

  // Started and neither held, abandoned nor stopped.
  bool in_progress() const {
    return started.has_value() && !held && !abandoned &&
           stopped == conference_v1::CANCELLATION_CAUSE_UNSPECIFIED;
  }
};

struct AgreementItemFacts {
  std::string item_id;
  common_v1::Sealed what;
  std::string owner_id;
  std::string due_date;
  bool completed = false;
};

struct AgreementFacts {
  std::string agreement_id;
  std::vector<AgreementItemFacts> items;
  std::vector<conference_v1::PartyConsent> consents;
  bool completed = false;
  std::optional<conference_v1::Approval> victim_informed;
  std::string informed_victim_id;
};

struct FeedbackFacts {
  std::string participant_id;
  int32_t satisfaction = 0;
  common_v1::Sealed comments;
  bool would_recommend = false;
};

struct ConferenceState {
  std::string case_id;
  uint64_t version = 0;  // of the conference stream

  // From the case log.
  bool case_known = false;                     // CaseReferred observed
  std::vector<ParticipantFacts> participants;  // in the order they joined
  std::set<std::string> facilitators;          // allocated now
  bool paused = false;
  bool closed = false;
  // Case-log positions of the facts a contact decision must not predate: the
  // newest risk assessment, pause, closure and facilitator release.
  uint64_t last_risk_assessment_position = 0;
  uint64_t last_pause_position = 0;
  uint64_t last_closure_position = 0;
  uint64_t last_release_position = 0;
  uint64_t last_case_position = 0;
  // From the consent log: every withdrawal, oldest first.
  std::vector<WithdrawalFacts> withdrawals;
  uint64_t last_consent_position = 0;
  // From the scheduling log: the case's conference and preparation bookings.
  std::map<std::string, SlotFacts> slots;  // by booking id
  uint64_t last_scheduling_position = 0;

  // Own.
  std::map<std::string, LetterFacts> letters;            // by letter id
  std::vector<std::string> letter_order;                 // in the order first submitted
  std::vector<MessageFacts> messages;                    // oldest first
  std::map<std::string, PreparationFacts> preparations;  // by booking id
  std::map<std::string, ConferenceFacts> conferences;    // by booking id
  std::optional<AgreementFacts> agreement;
  std::map<std::string, FeedbackFacts> feedback;  // by participant id
  bool follow_up_completed = false;

  // What the newest event of each kind named: what a command's answer
  // reports (Hooks::answer).
  std::string last_letter_id;
  int32_t last_letter_version = 0;
  std::string last_message_id;
  std::optional<conference_v1::Approval> last_approval;  // of the newest contact event
  uint64_t last_approval_position = 0;
  uint64_t agreement_completed_position = 0;

  const ParticipantFacts* FindParticipant(std::string_view participant_id) const;
  const ParticipantFacts* ServiceUser() const;           // nullptr before the referral
  std::vector<const ParticipantFacts*> Victims() const;  // VICTIM and CO_VICTIM
  bool IsAllocated(std::string_view facilitator_id) const {
    return facilitators.contains(std::string(facilitator_id));
  }
  const LetterFacts* FindLetter(std::string_view letter_id) const;
  const SlotFacts* FindSlot(std::string_view booking_id) const;
  // The newest preparation recorded for `participant_id` (any booking), or
  // nullptr.
  const PreparationFacts* LatestPreparation(std::string_view participant_id) const;
  // The newest withdrawal by `participant_id` of `scope` at a consent-log
  // position after `after`, or nullptr.
  const WithdrawalFacts* WithdrawnSince(std::string_view participant_id,
                                        consent_v1::ConsentScope scope,
                                        uint64_t after) const;
};

// Folds one record of the case's conference stream. DATA_LOSS for a type
// this build does not know, a payload that does not parse, another case's
// event, or an event the state cannot take (an id used twice, a change to
// an unknown letter, version, booking or item).
absl::Status Evolve(ConferenceState& state, const ConferenceLogEvent& event);

}  // namespace mend::conferencesvc

#endif  // MEND_SERVICES_CONFERENCE_CONFERENCE_STATE_H_
