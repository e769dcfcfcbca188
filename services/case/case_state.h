// The state of one case, folded from the events of its stream ("case-<id>"),
// and the events themselves as the domain handles them.
//
//   CaseState state;                                   // a case that does not exist
//   for (const RawRecord& r : records) {               // the stream, in order
//     MEND_ASSIGN_OR_RETURN(DomainEvent e, ParseDomainEvent(type, payload,
//                                                           position, micros));
//     MEND_RETURN_IF_ERROR(Evolve(state, e));
//   }
//
// The stage is changed only by StageChanged events: every command that moves
// the case emits one (after the events that caused the move), so the stage
// is never re-derived on replay and followers see every change of stage.
//
// Personal data is opaque here: each mend.common.v1.Sealed is kept exactly as
// stored. A Sealed with empty ciphertext means "not given".
//
// Which key seals what (checked by the decide functions, relied upon by
// erasure, I6). People are per case: a participant id names a person within
// one case, and the same id in another case is another person (DESIGN,
// "People across cases"). So every key is a case's key for one of its
// participants:
//   key id          PersonKeyId(case_id, participant_id), the case being the
//                   one whose stream holds the event. Nothing in an event
//                   can name another case's key.
//   Sealed.person_id  the participant (of that case) whose key sealed it:
//   Participant.details, Participant.needs          the participant itself
//   CaseReferred.offence_summary,
//   AcknowledgementRecorded.notes,
//   RiskAssessmentRecorded.notes                    the service user
// A manager may link a participant to a participant of another case as the
// same person (ParticipantLinked, in both streams). Linking shares no key:
// it makes an erasure of either cover both (case_people.h), each case's
// ParticipantErased deleting that case's key.
// The field name bound into each ciphertext is one of the kSealed* constants
// below (the handler seals with them, case_view unseals with them).
//
// Plain C++: no gRPC, no RocksDB, no clock. Not thread-safe (a CaseState is a
// value; the handler guards its map of them).
#ifndef MEND_SERVICES_CASE_CASE_STATE_H_
#define MEND_SERVICES_CASE_CASE_STATE_H_

#include <cstdint>
#include <optional>
#include <set>
#include <string>
#include <string_view>
#include <variant>
#include <vector>

#include "absl/status/status.h"
#include "absl/status/statusor.h"
#include "common/eventlog/record_codec.h"
#include "mend/case/v1/events.pb.h"
#include "mend/common/v1/contact.pb.h"

namespace mend::casesvc {

namespace case_v1 = ::mend::case_::v1;
namespace common_v1 = ::mend::common::v1;
namespace consent_v1 = ::mend::consent::v1;

// Field names bound into sealed ciphertexts (KeyStore::Seal's `field`).
inline constexpr std::string_view kSealedParticipantDetails =
    "mend.case.v1.Participant.details";  // a serialized PersonalDetails
inline constexpr std::string_view kSealedParticipantNeeds =
    "mend.case.v1.Participant.needs";  // a serialized Needs
inline constexpr std::string_view kSealedOffenceSummary =
    "mend.case.v1.CaseReferred.offence_summary";  // UTF-8 text
inline constexpr std::string_view kSealedAcknowledgementNotes =
    "mend.case.v1.AcknowledgementRecorded.notes";  // UTF-8 text
inline constexpr std::string_view kSealedRiskAssessmentNotes =
    "mend.case.v1.RiskAssessmentRecorded.notes";  // UTF-8 text

// "case-<case_id>": the stream a case's events are appended to.
std::string CaseStreamId(std::string_view case_id);

// "<case_id>/<participant_id>": the KeyStore person id of a participant's
// data key in a case. Distinct for every (case, participant) pair, because
// case ids never contain '/' (they are server-made UUIDs, and ids follow
// mend::ValidateId's pattern, which has no '/'). 165 bytes at most for a
// UUID case id and a 128-byte participant id, within KeyStore's 249.
std::string PersonKeyId(std::string_view case_id, std::string_view participant_id);

// A participant of a case: how a link names the same person elsewhere.
struct CasePerson {
  std::string case_id;
  std::string participant_id;

  friend bool operator==(const CasePerson& a, const CasePerson& b) {
    return a.case_id == b.case_id && a.participant_id == b.participant_id;
  }
  friend bool operator<(const CasePerson& a, const CasePerson& b) {
    return a.case_id != b.case_id ? a.case_id < b.case_id
                                  : a.participant_id < b.participant_id;
  }
};

// True for DOMESTIC_ABUSE, SEXUAL_OFFENCE and HATE_CRIME.
bool IsSensitive(case_v1::OffenceCategory category);

// "REFERRED", "PAUSED", ...: the name error messages use.
std::string StageName(case_v1::Stage stage);

// The stage machine. True if a StageChanged from `from` to `to` is a move the
// domain makes:
//   (none) → REFERRED → SCREENING → ALLOCATED → ASSESSING → PREPARING
//   PREPARING → INDIRECT_CONTACT | CONFERENCE_SCHEDULED
//   INDIRECT_CONTACT ⇄ CONFERENCE_SCHEDULED
//   INDIRECT_CONTACT → FOLLOW_UP, CONFERENCE_SCHEDULED → CONFERENCE_HELD
//   CONFERENCE_HELD → FOLLOW_UP
//   any open stage → PAUSED | CLOSED | FOUND_UNSUITABLE
//   PAUSED → CLOSED | the stage before it
//   FOUND_UNSUITABLE → CLOSED | SCREENING (re-screening)
// (for PAUSED → X this says whether X is an open stage; ResumeCase checks it
// is the stage before the pause). Evolve does not enforce this table — a
// later change of the rules must not make old logs unreadable — only that
// each StageChanged starts from the current stage.
bool IsAllowedStageTransition(case_v1::Stage from, case_v1::Stage to);

// REFERRED .. FOLLOW_UP: the stages in which a case is worked (not PAUSED,
// not FOUND_UNSUITABLE — no work towards contact goes on there —, not CLOSED,
// not UNSPECIFIED).
bool IsOpenStage(case_v1::Stage stage);

// One event of a case stream. The alternatives are every event type of
// mend.case.v1 (events.proto); a type not listed cannot be represented, so
// parsing an unknown type fails rather than being skipped.
using CaseEvent =
    std::variant<case_v1::CaseReferred, case_v1::ParticipantAdded,
                 case_v1::FacilitatorAllocated, case_v1::FacilitatorReleased,
                 case_v1::AcknowledgementRecorded, case_v1::RiskAssessmentRecorded,
                 case_v1::RiskAssessmentApproved, case_v1::SuitabilityRecorded,
                 case_v1::StageChanged, case_v1::CasePaused, case_v1::CaseResumed,
                 case_v1::CaseClosed, case_v1::ParticipantErased,
                 case_v1::ParticipantLinked, case_v1::UpstreamFactRecorded>;

// An event with where and when the log recorded it. Events returned by the
// decide functions have position 0 (not yet appended) and the command's time;
// the handler sets `position` (first_position + index: one append is
// contiguous) and, ideally, the time the store recorded, before Evolve — see
// the note on replay equality at Evolve.
struct DomainEvent {
  CaseEvent event;
  uint64_t position = 0;
  int64_t recorded_unix_micros = 0;

  // The fully qualified proto name: the record's event_type, e.g.
  // "mend.case.v1.CaseReferred".
  const std::string& type() const;
  // The payload as a message (for logging field names, never values).
  const google::protobuf::Message& message() const;
  // The case the event belongs to (every case event carries case_id).
  const std::string& case_id() const;
  // The payload bytes to append. Deterministic for a given event.
  std::string SerializePayload() const;
};

// The event stored as (`event_type`, `payload`) at `position`, recorded at
// `recorded_unix_micros`. DATA_LOSS naming the position if `event_type` is not
// a mend.case.v1 event or `payload` does not parse as that message.
absl::StatusOr<DomainEvent> ParseDomainEvent(std::string_view event_type,
                                             std::string_view payload, uint64_t position,
                                             int64_t recorded_unix_micros);

// The fully qualified names of every case event type.
std::vector<std::string> CaseEventTypes();

struct ParticipantState {
  std::string participant_id;
  case_v1::ParticipantRole role = case_v1::PARTICIPANT_ROLE_UNSPECIFIED;
  std::string supports_participant_id;  // SUPPORTER, INTERPRETER
  common_v1::Sealed details;            // PersonalDetails, as stored
  common_v1::Sealed needs;              // Needs, as stored
  bool erased = false;
  std::string erased_by;  // who asked (ParticipantErased.requested_by)
  case_v1::ErasureBasis erasure_basis = case_v1::ERASURE_BASIS_UNSPECIFIED;
  std::string erasure_reason;  // the basis's free-text detail
  uint64_t added_position = 0;
  // The same person in other cases (ParticipantLinked), in link order.
  std::vector<CasePerson> linked;

  friend bool operator==(const ParticipantState& a, const ParticipantState& b);
};

struct RiskAssessmentState {
  std::string assessment_id;
  std::string assessor_id;
  case_v1::RiskLevel level = case_v1::RISK_LEVEL_UNSPECIFIED;
  std::vector<common_v1::ContactKind> allowed_kinds;
  std::string review_date;
  bool requires_approval = false;
  bool approved = false;
  std::string approved_by;
  std::string supersedes_assessment_id;
  std::string superseded_by;  // empty while it is the current one
  common_v1::Sealed notes;
  uint64_t position = 0;  // log position of its RiskAssessmentRecorded
  uint64_t approved_position = 0;
  int64_t recorded_unix_micros = 0;

  // It may be relied upon: approved, or approval not required.
  bool counts() const { return !requires_approval || approved; }

  friend bool operator==(const RiskAssessmentState& a, const RiskAssessmentState& b);
};

struct CaseState {
  std::string case_id;    // empty until CaseReferred
  std::string reference;  // RJ-YYYY-NNNNNN
  uint64_t version = 0;   // events folded; the stream's version (0: no case)
  case_v1::Stage stage = case_v1::STAGE_UNSPECIFIED;
  case_v1::Stage stage_before_pause = case_v1::STAGE_UNSPECIFIED;  // when PAUSED
  uint64_t last_stage_change_position = 0;
  bool sensitive = false;
  case_v1::OffenceCategory offence_category = case_v1::OFFENCE_CATEGORY_UNSPECIFIED;
  case_v1::ReferralSource source = case_v1::REFERRAL_SOURCE_UNSPECIFIED;
  std::string referral_date;
  std::string referred_by;
  common_v1::Sealed offence_summary;           // as stored
  std::vector<ParticipantState> participants;  // in the order they joined
  std::vector<std::string> facilitator_ids;    // at most two, allocation order
  std::optional<bool> acknowledged;            // unset: not recorded yet
  common_v1::Sealed acknowledgement_notes;     // of the latest recording
  std::optional<bool> suitable;                // unset: not recorded yet
  case_v1::UnsuitableReason unsuitable_reason = case_v1::UNSUITABLE_REASON_UNSPECIFIED;
  std::vector<RiskAssessmentState> risk_assessments;  // oldest first; back() current
  // Set when the case is found unsuitable (StageChanged to FOUND_UNSUITABLE),
  // cleared by the next RiskAssessmentRecorded: a case re-screened as
  // suitable reaches PREPARING only on risk assessed after the finding.
  bool reassessment_required = false;
  std::string pause_reason;  // when PAUSED
  case_v1::ClosureReason closure_reason = case_v1::CLOSURE_REASON_UNSPECIFIED;
  // When the case was closed: the recorded time of its CaseClosed event (0
  // while it is open). The retention rule for erasure counts from it.
  int64_t closed_unix_micros = 0;
  uint64_t last_position = 0;       // position of the last event folded
  int64_t updated_unix_micros = 0;  // recorded time of the last event folded

  // What the case knows of the other services' logs (UpstreamFactRecorded):
  // the later stages follow from these (case_decide.h, "Derived stages").
  bool programme_completed = false;
  // Conference bookings made and not yet cancelled, held or ended unheld;
  // and those that have ended (a booking fact that arrives after its end,
  // from a follower that lags behind the other, opens nothing).
  std::set<std::string> open_conference_bookings;
  std::set<std::string> ended_conference_bookings;
  bool conference_held = false;
  bool follow_up_completed = false;
  // The last position folded from each upstream log (0: none yet).
  uint64_t scheduling_position = 0;
  uint64_t conference_position = 0;

  bool exists() const { return version > 0; }
  // The participant with that id, or null.
  const ParticipantState* FindParticipant(std::string_view participant_id) const;
  // The one SERVICE_USER, or null (only before CaseReferred).
  const ParticipantState* service_user() const;
  bool IsAllocated(std::string_view facilitator_id) const;
  // The latest assessment (it supersedes all earlier ones), or null.
  const RiskAssessmentState* current_risk_assessment() const;
  const RiskAssessmentState* FindRiskAssessment(std::string_view assessment_id) const;
  // A current risk assessment that may be relied upon (approved by a manager
  // if the case is sensitive).
  bool HasCountingRiskAssessment() const;
  // Everything preparation needs: responsibility acknowledged, found
  // suitable, a facilitator allocated and a counting risk assessment (made
  // after the case was last found unsuitable, if it ever was). The case
  // moves ASSESSING → PREPARING when this becomes true.
  bool ReadyForPreparation() const;

  friend bool operator==(const CaseState& a, const CaseState& b);
};

// Applies one event to `state` (deterministic: the same events in the same
// order give the same state). Business rules are the decide functions'; this
// checks only that the event fits the state, and otherwise changes nothing:
//   DATA_LOSS  a CaseReferred for a case that exists, another event before
//              CaseReferred, an event for another case_id, a participant /
//              assessment / facilitator the event names that does not exist
//              (or, for additions, already exists), a StageChanged whose
//              `from` is not the current stage, a ParticipantLinked naming
//              no other case, this case, or a person already linked.
// The message names the event type and position. On replay that means the
// log is not one the decide functions wrote.
//
// Replay equality: the state depends on each event's position and
// recorded_unix_micros, so a handler that evolves freshly decided events must
// give them the values the store recorded (or re-read the appended records)
// for a restarted process to fold exactly the same state.
absl::Status Evolve(CaseState& state, const DomainEvent& event);

// One record of the case log folded as the case service folds its log (at
// start, and after each append): the record's event parsed
// (ParseDomainEvent, with the record's position and recorded time), checked
// to be in its case's stream, then Evolve. The event, for what the caller
// keeps beside the state (e.g. the reference counter). DATA_LOSS as
// ParseDomainEvent and Evolve, and for an event of case X in a stream other
// than CaseStreamId(X) (the message names the event, position and stream).
absl::StatusOr<DomainEvent> EvolveRecord(CaseState& state, uint64_t position,
                                         const eventlog::RecordView& record);

}  // namespace mend::casesvc

#endif  // MEND_SERVICES_CASE_CASE_STATE_H_
