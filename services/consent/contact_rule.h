// The contact gate's rule (DESIGN, invariants I1 and I3): may this victim be
// contacted in this way now? One pure function of the case's facts
// (consent_state.h) and the question, with a version string that every
// decision records, so an auditor can re-run it (I2).
//
//   MEND_ASSIGN_OR_RETURN(ContactParties parties, ResolveParties(facts, victim_id));
//   ContactRuling r = FindContactRule(kContactPolicyVersion)(facts,
//       ContactQuestion{.kind = kind, .victim_id = parties.victim_id,
//                       .service_user_id = parties.service_user_id,
//                       .facilitator_id = who, .decided_at = ctx.now});
//   // r.outcome, r.reasons, r.consulted → ContactDecisionMade
//
// Rule "contact-gate/1". Every check runs; a refusal lists every reason that
// applies, in this order (REFUSED iff at least one):
//   1. CASE_CLOSED          the stage is CLOSED.
//   2. CASE_PAUSED          the stage is PAUSED.
//   3. FACILITATOR_NOT_ALLOCATED
//                           the asking facilitator is not allocated now.
//   4. RESPONSIBILITY_NOT_ACKNOWLEDGED
//                           no acknowledgement recorded, or the latest one
//                           records that the service user does not accept
//                           responsibility.
//   5. Risk assessment (the current one, i.e. the latest):
//      NO_RISK_ASSESSMENT   none recorded;
//      RISK_ASSESSMENT_NOT_APPROVED   it has no manager approval and it
//                           requires one or the case is sensitive (the two
//                           agree on every log the case service writes);
//      RISK_ASSESSMENT_LAPSED   a change of stage came after it
//                           (consent_state.h, "Lapse");
//      RISK_ASSESSMENT_DISALLOWS_KIND   the kind is not among its allowed
//                           kinds. (Each that applies.)
//   6. PARTICIPANT_ERASED   the victim, or the service user, was erased
//                           (participant_id says who).
//   7. Consent, for each (person, scope) the kind needs, in this order:
//      the victim's PARTICIPATE, the victim's ScopeForKind(kind) (if not
//      PARTICIPATE), the service user's ScopeForKind(kind). The person's
//      current answer on that scope must be GIVEN; otherwise
//      CONSENT_NOT_RECORDED (never answered), CONSENT_DECLINED or
//      CONSENT_WITHDRAWN, with participant_id and scope.
//   8. NOT_ASKED_BY_VICTIM  the offence category is DOMESTIC_ABUSE or
//                           SEXUAL_OFFENCE, the kind is VIDEO_MEETING or
//                           FACE_TO_FACE_CONFERENCE, and the victim's current
//                           answer on that scope is not a GIVEN that the
//                           victim asked for (requested_by_participant).
// Facts it reads (case_projection.h): stage, allocations, acknowledgement,
// the current assessment (allowed kinds, requires_approval, approval) and
// its lapse, category and sensitivity, participants (role, erased), the
// consents. It does not read suitability nor review dates (defect D2: a case
// found unsuitable is approved; kept, so its decisions re-explain).
//
// Rule "contact-gate/2", for new decisions: contact-gate/1 and, in order,
//   2a. CASE_UNSUITABLE     (after CASE_PAUSED) the latest suitability
//                           finding is "not suitable", or the stage is
//                           FOUND_UNSUITABLE — whatever the stage.
//   5.  RISK_ASSESSMENT_REVIEW_OVERDUE   (after RISK_ASSESSMENT_LAPSED) the
//                           current assessment's review date (YYYY-MM-DD)
//                           is before the decision's day, in UTC, at
//                           ContactQuestion::decided_at; a review date that
//                           does not parse is overdue too (fail closed).
// It reads what contact-gate/1 reads, the suitability finding and the
// current assessment's review date; its citation of the assessment names the
// review date, and it cites the suitability finding (if any). Erasure is per
// case: a participant is erased when their own case's stream recorded a
// ParticipantErased (the case service records one in each linked case); the
// same participant id in another case is another person.
//
// Consulted facts: every recorded fact the checks looked at, whether it
// allowed or refused — the referral (category, sensitivity), the latest
// change of stage, the asking facilitator's allocation (if any), the
// acknowledgement (if any), the current assessment's recording and approval
// and the change of stage that lapsed it (if any), the erasures of the two
// people (if any), and the current answer of each (person, scope) checked
// (if any). Each once, ordered by (source, position); `fact` says in a short
// phrase what it established (ids, enum names; never personal data).
//
// Deterministic: the same facts and question give the same ruling, byte for
// byte. Thread-safe (pure).
#ifndef MEND_SERVICES_CONSENT_CONTACT_RULE_H_
#define MEND_SERVICES_CONSENT_CONTACT_RULE_H_

#include <string>
#include <string_view>
#include <vector>

#include "absl/status/statusor.h"
#include "absl/time/time.h"
#include "mend/common/v1/contact.pb.h"
#include "mend/consent/v1/events.pb.h"
#include "services/consent/consent_state.h"

namespace mend::consentsvc {

inline constexpr char kContactGateV1[] = "contact-gate/1";
inline constexpr char kContactGateV2[] = "contact-gate/2";
// The version new decisions are made by (DecideContact).
inline constexpr char kContactPolicyVersion[] = "contact-gate/2";

// The scope a kind of contact needs: APPROACH_VICTIM → PARTICIPATE,
// LETTER_DELIVERY → RECEIVE_LETTER, SHUTTLE_MESSAGE → SHUTTLE,
// VIDEO_MEETING → VIDEO, FACE_TO_FACE_CONFERENCE → FACE_TO_FACE;
// CONSENT_SCOPE_UNSPECIFIED for anything else.
consent_v1::ConsentScope ScopeForKind(common_v1::ContactKind kind);

// Who a contact is between.
struct ContactParties {
  std::string victim_id;
  std::string service_user_id;
};

// The parties of a contact in a known case (facts.case_known()):
// `victim_id` must name a VICTIM or CO_VICTIM of the case; empty means the
// case's only VICTIM/CO_VICTIM.
//   NOT_FOUND            no participant with that id in the case
//   INVALID_ARGUMENT     the participant is not a victim or co-victim
//   FAILED_PRECONDITION  empty victim_id and the case has several victims
//                        (the message lists their ids)
// An erased victim is returned (the rule refuses with PARTICIPANT_ERASED).
absl::StatusOr<ContactParties> ResolveParties(const CaseFacts& facts,
                                              std::string_view victim_id);

struct ContactQuestion {
  common_v1::ContactKind kind = common_v1::CONTACT_KIND_UNSPECIFIED;
  std::string victim_id;        // resolved (ResolveParties)
  std::string service_user_id;  // resolved
  std::string facilitator_id;   // who asks
  // The decision's time: the "now" of a rule that reads time (RuleReadsTime).
  absl::Time decided_at = absl::UnixEpoch();
};

struct ContactRuling {
  consent_v1::Outcome outcome = consent_v1::OUTCOME_UNSPECIFIED;
  std::vector<consent_v1::Reason> reasons;  // empty iff APPROVED
  std::vector<consent_v1::ConsultedFact> consulted;
  std::string policy_version;
};

// The rules above, on a known case (facts.case_known()) with a resolved
// question and a kind that is not CONTACT_KIND_UNSPECIFIED (anything else
// is refused, never approved).
ContactRuling DecideContactRuleV1(const CaseFacts& facts,
                                  const ContactQuestion& question);
ContactRuling DecideContactRuleV2(const CaseFacts& facts,
                                  const ContactQuestion& question);

// The rule of a recorded policy version, for re-running old decisions; null
// for a version this build does not have.
using ContactRule = ContactRuling (*)(const CaseFacts&, const ContactQuestion&);
ContactRule FindContactRule(std::string_view policy_version);

// True if the rule of `policy_version` reads ContactQuestion::decided_at (a
// decision by it then records decided_at_unix_micros).
bool RuleReadsTime(std::string_view policy_version);

}  // namespace mend::consentsvc

#endif  // MEND_SERVICES_CONSENT_CONTACT_RULE_H_
