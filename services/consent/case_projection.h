// Consent's own projection of a case: the facts about a case that the
// contact rules read, folded by consent code from the mend.case.v1 event
// protos the follower observed (DESIGN, "Cross-service reads are events":
// services share protos, never domain code — a change in the case service's
// code must not change how consent replays or explains a decision).
//
//   ObservedCase c;
//   MEND_ASSIGN_OR_RETURN(CaseEvent e, ParseCaseEvent(type, payload, position));
//   MEND_RETURN_IF_ERROR(FoldCaseEvent(c, e, position));
//
// What it keeps, and which rule versions read it (contact_rule.h):
//   stage, last_stage_change_position                 /1 /2
//   stage_before_pause                                (kept, read by none)
//   offence_category, sensitive                       /1 /2
//   participants: id, role, erased                    /1 /2 (and the
//                 consent commands: a participant exists, is not erased)
//   participants: linked (ParticipantLinked, and ParticipantErased.linked)
//                                                     (kept, read by none:
//                 an erasure is folded from the case's own stream)
//   facilitator_ids                                   /1 /2
//   acknowledged                                      /1 /2
//   suitable, unsuitable_reason                       /2
//   risk_assessments: id, allowed_kinds, requires_approval, approved
//                                                     /1 /2
//   risk_assessments: review_date                     /2
// Versioning: the projection only grows. A fact is folded the same way for
// as long as a rule version that reads it exists; a rule that needs a fact
// folded differently gets a new field (and a new rule version reads it), so
// an old decision re-explains on exactly the projection it was made with.
// The corpus test (contact_gate_corpus_test.cc) holds contact-gate/1's
// answers over recorded case events to the ones the case domain's fold gave.
//
// Every event type of mend.case.v1 (events.proto) is a CaseEvent
// alternative and is folded (FoldCaseEvent does not compile without one
// for each); an unknown type does not parse, which stops the follower: the
// gate fails closed rather than decide on a case it cannot read.
//
// Plain C++: no gRPC, no RocksDB, no clock. Not thread-safe (a value).
#ifndef MEND_SERVICES_CONSENT_CASE_PROJECTION_H_
#define MEND_SERVICES_CONSENT_CASE_PROJECTION_H_

#include <cstdint>
#include <optional>
#include <string>
#include <string_view>
#include <variant>
#include <vector>

#include "absl/status/status.h"
#include "absl/status/statusor.h"
#include "mend/case/v1/events.pb.h"
#include "mend/common/v1/contact.pb.h"

namespace mend::consentsvc {

namespace case_v1 = ::mend::case_::v1;
namespace common_v1 = ::mend::common::v1;

// True for DOMESTIC_ABUSE, SEXUAL_OFFENCE and HATE_CRIME (events.proto).
bool IsSensitiveCategory(case_v1::OffenceCategory category);

// "PREPARING", or "stage 42" for a number events.proto does not name.
std::string CaseStageName(case_v1::Stage stage);

// One event of the case log, by its message type.
using CaseEvent =
    std::variant<case_v1::CaseReferred, case_v1::ParticipantAdded,
                 case_v1::FacilitatorAllocated, case_v1::FacilitatorReleased,
                 case_v1::AcknowledgementRecorded, case_v1::RiskAssessmentRecorded,
                 case_v1::RiskAssessmentApproved, case_v1::SuitabilityRecorded,
                 case_v1::StageChanged, case_v1::CasePaused, case_v1::CaseResumed,
                 case_v1::CaseClosed, case_v1::ParticipantErased,
                 case_v1::ParticipantLinked, case_v1::UpstreamFactRecorded>;

// The event stored as (`event_type`, `payload`) at case-log `position`.
// DATA_LOSS naming the type and position if `event_type` is not a
// mend.case.v1 event this build folds or `payload` does not parse.
absl::StatusOr<CaseEvent> ParseCaseEvent(std::string_view event_type,
                                         std::string_view payload, uint64_t position);

// The fully qualified type name ("mend.case.v1.StageChanged") and case_id
// of an event, and the event as a message (for clearing sealed fields).
const std::string& CaseEventType(const CaseEvent& event);
const std::string& CaseEventCaseId(const CaseEvent& event);
const google::protobuf::Message& CaseEventMessage(const CaseEvent& event);

// Every type CaseEvent has, fully qualified.
std::vector<std::string> CaseEventTypes();

// A participant of another case (ids are per case).
struct LinkedPerson {
  std::string case_id;
  std::string participant_id;

  friend bool operator==(const LinkedPerson&, const LinkedPerson&) = default;
};

struct ObservedParticipant {
  std::string participant_id;
  case_v1::ParticipantRole role = case_v1::PARTICIPANT_ROLE_UNSPECIFIED;
  std::string supports_participant_id;  // SUPPORTER, INTERPRETER
  uint64_t added_position = 0;          // case-log position
  bool erased = false;
  // The same person in other cases, in the order first named (links and
  // erasures that named them); each once.
  std::vector<LinkedPerson> linked;

  friend bool operator==(const ObservedParticipant&,
                         const ObservedParticipant&) = default;
};

struct ObservedRiskAssessment {
  std::string assessment_id;
  std::vector<common_v1::ContactKind> allowed_kinds;
  std::string review_date;  // YYYY-MM-DD, as recorded
  bool requires_approval = false;
  bool approved = false;
  uint64_t position = 0;           // of its RiskAssessmentRecorded
  uint64_t approved_position = 0;  // of its latest RiskAssessmentApproved

  friend bool operator==(const ObservedRiskAssessment&,
                         const ObservedRiskAssessment&) = default;
};

struct ObservedCase {
  std::string case_id;   // empty until CaseReferred
  uint64_t version = 0;  // case events folded (0: not referred)
  case_v1::Stage stage = case_v1::STAGE_UNSPECIFIED;
  case_v1::Stage stage_before_pause = case_v1::STAGE_UNSPECIFIED;  // when PAUSED
  uint64_t last_stage_change_position = 0;
  case_v1::OffenceCategory offence_category = case_v1::OFFENCE_CATEGORY_UNSPECIFIED;
  bool sensitive = false;                         // as the referral recorded it
  std::vector<ObservedParticipant> participants;  // in the order they joined
  std::vector<std::string> facilitator_ids;       // allocation order
  std::optional<bool> acknowledged;               // the latest recording
  std::optional<bool> suitable;                   // the latest finding
  case_v1::UnsuitableReason unsuitable_reason = case_v1::UNSUITABLE_REASON_UNSPECIFIED;
  std::vector<ObservedRiskAssessment> risk_assessments;  // oldest first
  uint64_t last_position = 0;  // case-log position of the last event folded

  bool exists() const { return version > 0; }
  // The participant with that id in this case, or null.
  const ObservedParticipant* FindParticipant(std::string_view participant_id) const;
  // The one SERVICE_USER, or null.
  const ObservedParticipant* service_user() const;
  bool IsAllocated(std::string_view facilitator_id) const;
  // The latest assessment (it supersedes every earlier one), or null.
  const ObservedRiskAssessment* current_risk_assessment() const;
  const ObservedRiskAssessment* FindRiskAssessment(std::string_view assessment_id) const;

  friend bool operator==(const ObservedCase&, const ObservedCase&) = default;
};

// Folds one case event at case-log `position` (deterministic). Checks only
// that the event fits — the case service's decide functions own the rules:
//   DATA_LOSS  a CaseReferred for a case already referred (or naming a
//              participant twice), another event before CaseReferred or for
//              another case_id, a participant / assessment / facilitator the
//              event names that does not exist (or, for additions, already
//              exists), a StageChanged whose `from` is not the current
//              stage, an erasure of an erased participant.
// The message names the event type, the position and the case. On error
// `c` is unchanged.
absl::Status FoldCaseEvent(ObservedCase& c, const CaseEvent& event, uint64_t position);

}  // namespace mend::consentsvc

#endif  // MEND_SERVICES_CONSENT_CASE_PROJECTION_H_
