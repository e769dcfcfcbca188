// What the consent service knows about one case: the case facts it learned
// by following the case log, every consent and withdrawal, and every contact
// decision — folded from the events of the case's consent stream
// ("consent-<case_id>") in the consent log.
//
//   CaseFacts facts;                                 // a case not heard of
//   for (const RawRecord& r : records) {             // the stream, in order
//     MEND_RETURN_IF_ERROR(Evolve(facts, ConsentLogEvent{...}));
//   }
//
// Case facts are consent's own projection of the case (case_projection.h),
// folded by consent code from the observed case events (CaseEventObserved:
// the case event with its sealed fields cleared, at its case-log position),
// so consent replays and explains its decisions with code the rule's policy
// version pins, whatever the case service's code does. Beside it, what the
// contact rules cite: where the referral, each allocation, the
// acknowledgement, the suitability finding, each erasure and each link was
// recorded, and whether the current risk assessment lapsed.
//
// Lapse: a risk assessment is reviewed at each stage (DESIGN), so a change of
// stage after it lapses it — except the moves that complete the assessment
// itself (into ASSESSING and into PREPARING, whichever command makes them:
// the case moves to PREPARING when the last of acknowledgement, suitability,
// allocation and a counting assessment arrives) and a resume out of PAUSED
// (the pause already lapsed any assessment older than it; one recorded while
// paused is for the stage the case returns to) — and a move marked
// `derived` (StageChanged.derived: the case service's reaction to the
// scheduling or conference log — a programme completed, a conference booked,
// cancelled or held, the follow-up done). Those record what was done under
// the assessment, already through this gate, not anything new about risk:
// were a booking to lapse the assessment the conference was booked on, the
// conference could never start. No move recorded before the field existed
// is marked, so contact-gate/1 and /2 answer every earlier log as they did.
// A new assessment starts afresh; approving an assessment that has lapsed
// does not revive it.
//
// Plain C++: no gRPC, no RocksDB, no clock. Not thread-safe (a value).
#ifndef MEND_SERVICES_CONSENT_CONSENT_STATE_H_
#define MEND_SERVICES_CONSENT_CONSENT_STATE_H_

#include <cstdint>
#include <map>
#include <optional>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

#include "absl/status/status.h"
#include "common/eventlog/record_codec.h"
#include "mend/common/v1/contact.pb.h"
#include "mend/consent/v1/events.pb.h"
#include "services/consent/case_projection.h"

namespace mend::consentsvc {

namespace case_v1 = ::mend::case_::v1;
namespace common_v1 = ::mend::common::v1;
namespace consent_v1 = ::mend::consent::v1;

// "consent-<case_id>": the stream of one case in the consent log.
std::string ConsentStreamId(std::string_view case_id);

// Fully qualified event type names of the consent log.
inline constexpr char kConsentRecordedType[] = "mend.consent.v1.ConsentRecorded";
inline constexpr char kConsentWithdrawnType[] = "mend.consent.v1.ConsentWithdrawn";
inline constexpr char kCaseEventObservedType[] = "mend.consent.v1.CaseEventObserved";
inline constexpr char kContactDecisionMadeType[] = "mend.consent.v1.ContactDecisionMade";

// Where a fact is recorded: a position in the case log or the consent log,
// and the event type there.
struct FactRef {
  consent_v1::FactSource source = consent_v1::FACT_SOURCE_UNSPECIFIED;
  uint64_t position = 0;
  std::string event_type;

  friend bool operator==(const FactRef& a, const FactRef& b) = default;
};

// One answer of one person on one scope (a ConsentRecorded, or a
// ConsentWithdrawn that named the scope).
struct ConsentEntryFacts {
  consent_v1::ConsentStatus status = consent_v1::CONSENT_STATUS_UNSPECIFIED;
  std::string consent_id;  // ConsentRecorded only
  consent_v1::HowInformed informed;
  bool requested_by_participant = false;  // GIVEN only
  std::string recorded_by;
  int64_t recorded_unix_micros = 0;
  uint64_t position = 0;   // in the consent log
  std::string event_type;  // kConsentRecordedType or kConsentWithdrawnType

  FactRef ref() const { return {consent_v1::CONSENT_LOG, position, event_type}; }
};

// A decision as recorded.
struct DecisionRecord {
  consent_v1::ContactDecisionMade decision;
  uint64_t position = 0;        // in the consent log
  uint64_t stream_version = 0;  // in the case's consent stream
  int64_t decided_unix_micros = 0;
};

struct CaseFacts {
  std::string case_id;   // empty until the first event of the stream
  uint64_t version = 0;  // events folded: the consent stream's version

  // The case as consent projects it; exists() once its CaseReferred was
  // observed.
  ObservedCase case_state;
  uint64_t last_case_position = 0;  // highest case-log position observed

  // Where the case facts the rule cites were recorded (all CASE_LOG).
  std::optional<FactRef> referral;             // CaseReferred
  std::map<std::string, FactRef> allocations;  // facilitator → allocation
  std::optional<FactRef> acknowledgement;      // the latest recording
  std::map<std::string, FactRef> erasures;     // participant → erasure
  std::optional<FactRef> suitability;          // the latest finding
  // participant → every ParticipantLinked naming them, oldest first.
  std::map<std::string, std::vector<FactRef>> links;
  std::optional<FactRef> last_stage_change;         // latest StageChanged
  std::optional<FactRef> risk_assessment_recorded;  // of the current one
  std::optional<FactRef> risk_assessment_approved;  // of the current one
  // The first change of stage that lapsed the current assessment, if any.
  std::optional<FactRef> risk_assessment_lapsed_by;

  // participant → scope → every answer, oldest first (the last is current).
  std::map<std::string,
           std::map<consent_v1::ConsentScope, std::vector<ConsentEntryFacts>>>
      consents;

  std::vector<DecisionRecord> decisions;  // oldest first

  // Stream events folded (any kind).
  bool exists() const { return version > 0; }
  // A CaseReferred was observed.
  bool case_known() const { return case_state.exists(); }
  // The current answer of `participant_id` on `scope`, or null if never.
  const ConsentEntryFacts* CurrentConsent(std::string_view participant_id,
                                          consent_v1::ConsentScope scope) const;
  // The decision with that id, or null.
  const DecisionRecord* FindDecision(std::string_view decision_id) const;
};

// One event of the consent log, as Evolve needs it (all from the record).
struct ConsentLogEvent {
  uint64_t position = 0;
  uint64_t stream_version = 0;
  std::string_view event_type;
  std::string_view payload;
  int64_t recorded_unix_micros = 0;

  // The record at `position` of the log, as the service folds it (at start,
  // after each append; the audit tool's replay too). Views into `record`.
  static ConsentLogEvent Of(uint64_t position, const eventlog::RecordView& record) {
    return {.position = position,
            .stream_version = record.stream_version,
            .event_type = record.event_type,
            .payload = record.payload,
            .recorded_unix_micros = record.recorded_unix_micros};
  }
};

// Applies one event of the case's consent stream (deterministic: the same
// events in the same order give the same facts). Business rules are the
// decide functions'; this checks only that the event fits:
//   DATA_LOSS  an unknown event type, a payload that does not parse, a
//              stream version that is not version + 1, an event of another
//              case, an observed case event of a type this build does not
//              fold or that FoldCaseEvent refuses (its message), one whose
//              case-log position is not after
//              the last observed, a consent or decision before the case was
//              observed or for a participant the case does not have, a
//              decision id recorded before.
// The message names the event type and the consent-log position. After an
// error `facts` may be partly changed: discard it (a log that does not fold
// cannot be served from).
absl::Status Evolve(CaseFacts& facts, const ConsentLogEvent& event);

}  // namespace mend::consentsvc

#endif  // MEND_SERVICES_CONSENT_CONSENT_STATE_H_
