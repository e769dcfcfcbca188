// Fixtures of the contact rules' table tests (contact_rule_test.cc for
// contact-gate/1, contact_rule_v2_test.cc for contact-gate/2): Approvable()
// is a case every kind of contact may go ahead on, the breakers change one
// fact each, and the rows list exactly the reasons contact-gate/1 gives.
// Test-only.
#ifndef MEND_SERVICES_CONSENT_CONTACT_RULE_TEST_FIXTURES_H_
#define MEND_SERVICES_CONSENT_CONTACT_RULE_TEST_FIXTURES_H_

#include <algorithm>
#include <cstdint>
#include <functional>
#include <ostream>
#include <string>
#include <string_view>
#include <tuple>
#include <utility>
#include <vector>

#include "absl/strings/str_cat.h"
#include "absl/strings/str_join.h"
#include "gmock/gmock.h"
#include "google/protobuf/io/coded_stream.h"
#include "google/protobuf/io/zero_copy_stream_impl_lite.h"
#include "gtest/gtest.h"
#include "services/consent/consent_state.h"
#include "services/consent/contact_rule.h"
#include "tests/support/test_util.h"

namespace mend::consentsvc::rule_testing {

using ::mend::testing::StatusIs;
using ::testing::AllOf;
using ::testing::ElementsAre;
using ::testing::HasSubstr;
using ::testing::IsEmpty;
using ::testing::Not;

using common_v1::ContactKind;
using consent_v1::ConsentScope;
using consent_v1::ReasonCode;

constexpr char kCase[] = "c1";
constexpr char kVictim[] = "v1";
constexpr char kServiceUser[] = "s1";
constexpr char kFacilitator[] = "f1";
constexpr char kAssessment[] = "ra1";
// Personal data: consent's projection holds none (sealed fields are not
// folded), and no reason or consulted fact may carry it.
constexpr char kSecret[] = "SECRET-PERSONAL";

// Case-log positions of Approvable()'s facts.
constexpr uint64_t kReferralPos = 1;
constexpr uint64_t kSuitabilityPos = 2;  // contact-gate/2 cites it
constexpr uint64_t kAllocationPos = 3;
constexpr uint64_t kAckPos = 4;
constexpr uint64_t kStagePos = 5;
constexpr uint64_t kRiskRecordedPos = 6;
constexpr uint64_t kRiskApprovedPos = 7;  // sensitive cases only
// Case-log positions of facts the rows add later.
constexpr uint64_t kLaterStagePos = 20;
constexpr uint64_t kVictimErasedPos = 21;
constexpr uint64_t kServiceUserErasedPos = 22;
// Consent-log positions start here (Approvable's consents: 101..110).
constexpr uint64_t kFirstConsentPos = 101;

const std::vector<ContactKind> kKinds = {
    common_v1::APPROACH_VICTIM, common_v1::LETTER_DELIVERY, common_v1::SHUTTLE_MESSAGE,
    common_v1::VIDEO_MEETING, common_v1::FACE_TO_FACE_CONFERENCE};
// The scopes the five kinds need, in enum order.
const std::vector<ConsentScope> kKindScopes = {
    consent_v1::PARTICIPATE, consent_v1::RECEIVE_LETTER, consent_v1::SHUTTLE,
    consent_v1::VIDEO, consent_v1::FACE_TO_FACE};

// ----- Building facts -------------------------------------------------------

template <typename Event>
FactRef CaseRef(uint64_t position) {
  return FactRef{consent_v1::CASE_LOG, position, Event::descriptor()->full_name()};
}

inline ObservedParticipant Person(const std::string& id, case_v1::ParticipantRole role) {
  ObservedParticipant p;
  p.participant_id = id;
  p.role = role;
  p.added_position = kReferralPos;
  return p;
}

inline uint64_t NextConsentPosition(const CaseFacts& facts) {
  uint64_t next = kFirstConsentPos;
  for (const auto& [person, scopes] : facts.consents) {
    for (const auto& [scope, entries] : scopes) {
      for (const ConsentEntryFacts& e : entries) next = std::max(next, e.position + 1);
    }
  }
  return next;
}

inline ConsentEntryFacts Entry(consent_v1::ConsentStatus status, uint64_t position,
                               bool requested = false) {
  ConsentEntryFacts e;
  e.status = status;
  const bool withdrawal = status == consent_v1::CONSENT_STATUS_WITHDRAWN;
  e.consent_id = withdrawal ? "" : absl::StrCat("k", position);
  e.informed.set_leaflet_version("RJ-leaflet-2026-03");
  e.informed.set_facilitator_present(true);
  e.informed.set_channel(consent_v1::IN_PERSON);
  e.requested_by_participant = requested;
  e.recorded_by = kFacilitator;
  e.recorded_unix_micros = 1'700'000'000'000'000 + static_cast<int64_t>(position);
  e.position = position;
  e.event_type = withdrawal ? kConsentWithdrawnType : kConsentRecordedType;
  return e;
}

// Each appends one consent-log event and returns its position.
inline uint64_t Answer(CaseFacts& facts, const std::string& who, ConsentScope scope,
                       consent_v1::ConsentStatus status, bool requested = false) {
  const uint64_t position = NextConsentPosition(facts);
  facts.consents[who][scope].push_back(Entry(status, position, requested));
  ++facts.version;
  return position;
}
inline uint64_t Give(CaseFacts& facts, const std::string& who, ConsentScope scope,
                     bool requested = false) {
  return Answer(facts, who, scope, consent_v1::CONSENT_STATUS_GIVEN, requested);
}
inline uint64_t Decline(CaseFacts& facts, const std::string& who, ConsentScope scope) {
  return Answer(facts, who, scope, consent_v1::CONSENT_STATUS_DECLINED);
}
// One ConsentWithdrawn naming every scope in `scopes`.
inline uint64_t Withdraw(CaseFacts& facts, const std::string& who,
                         std::vector<ConsentScope> scopes) {
  const uint64_t position = NextConsentPosition(facts);
  for (ConsentScope scope : scopes) {
    facts.consents[who][scope].push_back(
        Entry(consent_v1::CONSENT_STATUS_WITHDRAWN, position));
  }
  ++facts.version;
  return position;
}
inline uint64_t WithdrawAll(CaseFacts& facts, const std::string& who) {
  return Withdraw(
      facts, who,
      {consent_v1::PARTICIPATE, consent_v1::RECEIVE_LETTER, consent_v1::SHUTTLE,
       consent_v1::VIDEO, consent_v1::FACE_TO_FACE, consent_v1::SHARE_INFORMATION});
}
// Forget every answer of `who` on `scope` (never answered).
inline void Unanswer(CaseFacts& facts, const std::string& who, ConsentScope scope) {
  facts.consents[who].erase(scope);
}

// A referred case in `category` with service user s1 and victim v1,
// facilitator f1 allocated, responsibility acknowledged, a current risk
// assessment allowing every kind (manager-approved when sensitive), and
// every consent the five kinds need GIVEN by both (the victim asked for
// VIDEO and FACE_TO_FACE herself). Every fact at its own position.
inline CaseFacts Approvable(case_v1::OffenceCategory category = case_v1::VIOLENCE) {
  CaseFacts f;
  f.case_id = kCase;
  ObservedCase& c = f.case_state;
  c.case_id = kCase;
  c.version = 7;
  c.stage = case_v1::PREPARING;
  c.last_stage_change_position = kStagePos;
  c.offence_category = category;
  c.sensitive = IsSensitiveCategory(category);
  c.participants = {Person(kServiceUser, case_v1::SERVICE_USER),
                    Person(kVictim, case_v1::VICTIM)};
  c.facilitator_ids = {kFacilitator};
  c.acknowledged = true;
  c.suitable = true;

  ObservedRiskAssessment ra;
  ra.assessment_id = kAssessment;
  ra.allowed_kinds = kKinds;
  ra.review_date = "2026-06-01";
  ra.requires_approval = c.sensitive;
  ra.approved = c.sensitive;
  ra.position = kRiskRecordedPos;
  ra.approved_position = c.sensitive ? kRiskApprovedPos : 0;
  c.risk_assessments = {ra};
  c.last_position = c.sensitive ? kRiskApprovedPos : kRiskRecordedPos;

  f.last_case_position = c.last_position;
  f.referral = CaseRef<case_v1::CaseReferred>(kReferralPos);
  f.allocations[kFacilitator] = CaseRef<case_v1::FacilitatorAllocated>(kAllocationPos);
  f.acknowledgement = CaseRef<case_v1::AcknowledgementRecorded>(kAckPos);
  f.suitability = CaseRef<case_v1::SuitabilityRecorded>(kSuitabilityPos);
  f.last_stage_change = CaseRef<case_v1::StageChanged>(kStagePos);
  f.risk_assessment_recorded = CaseRef<case_v1::RiskAssessmentRecorded>(kRiskRecordedPos);
  if (c.sensitive) {
    f.risk_assessment_approved =
        CaseRef<case_v1::RiskAssessmentApproved>(kRiskApprovedPos);
  }
  f.version = 7;  // the observed case events

  for (ConsentScope scope : kKindScopes) {
    const bool victim_asked =
        scope == consent_v1::VIDEO || scope == consent_v1::FACE_TO_FACE;
    Give(f, kVictim, scope, victim_asked);
    Give(f, kServiceUser, scope);
  }
  return f;
}

inline ContactQuestion Ask(ContactKind kind) {
  return ContactQuestion{.kind = kind,
                         .victim_id = kVictim,
                         .service_user_id = kServiceUser,
                         .facilitator_id = kFacilitator};
}

// Breakers used by the table.
inline void MoveStage(CaseFacts& f, case_v1::Stage to) {
  f.case_state.stage = to;
  f.case_state.last_stage_change_position = kLaterStagePos;
  f.last_stage_change = CaseRef<case_v1::StageChanged>(kLaterStagePos);
}
inline void Close(CaseFacts& f) { MoveStage(f, case_v1::CLOSED); }
inline void Pause(CaseFacts& f) { MoveStage(f, case_v1::PAUSED); }
inline void Lapse(CaseFacts& f) {
  MoveStage(f, case_v1::INDIRECT_CONTACT);
  f.risk_assessment_lapsed_by = CaseRef<case_v1::StageChanged>(kLaterStagePos);
}
inline void ReleaseFacilitator(CaseFacts& f) {
  f.case_state.facilitator_ids.clear();
  f.allocations.clear();
}
inline void NoAcknowledgement(CaseFacts& f) {
  f.case_state.acknowledged.reset();
  f.acknowledgement.reset();
}
inline void AcknowledgedNot(CaseFacts& f) { f.case_state.acknowledged = false; }
inline void NoRiskAssessment(CaseFacts& f) {
  f.case_state.risk_assessments.clear();
  f.risk_assessment_recorded.reset();
  f.risk_assessment_approved.reset();
  f.risk_assessment_lapsed_by.reset();
}
inline void Unapprove(CaseFacts& f) {
  ObservedRiskAssessment& ra = f.case_state.risk_assessments.back();
  ra.approved = false;
  ra.approved_position = 0;
  f.risk_assessment_approved.reset();
}
inline void Disallow(CaseFacts& f, ContactKind kind) {
  auto& kinds = f.case_state.risk_assessments.back().allowed_kinds;
  kinds.erase(std::remove(kinds.begin(), kinds.end(), kind), kinds.end());
}
inline void Erase(CaseFacts& f, const std::string& who) {
  for (ObservedParticipant& p : f.case_state.participants) {
    if (p.participant_id == who) p.erased = true;
  }
  f.erasures[who] = CaseRef<case_v1::ParticipantErased>(
      who == kVictim ? kVictimErasedPos : kServiceUserErasedPos);
}

// ----- Reading rulings ------------------------------------------------------

// A reason as the table lists it (detail is checked separately).
struct R {
  R(ReasonCode code, std::string participant_id = {},  // NOLINT: implicit in tables
    ConsentScope scope = consent_v1::CONSENT_SCOPE_UNSPECIFIED)
      : code(code), participant_id(std::move(participant_id)), scope(scope) {}

  ReasonCode code;
  std::string participant_id;
  ConsentScope scope;

  friend bool operator==(const R& a, const R& b) {
    return std::tie(a.code, a.participant_id, a.scope) ==
           std::tie(b.code, b.participant_id, b.scope);
  }
  friend void PrintTo(const R& r, std::ostream* os) {
    *os << consent_v1::ReasonCode_Name(r.code);
    if (!r.participant_id.empty()) *os << "(" << r.participant_id;
    if (r.scope != consent_v1::CONSENT_SCOPE_UNSPECIFIED) {
      *os << " " << consent_v1::ConsentScope_Name(r.scope);
    }
    if (!r.participant_id.empty()) *os << ")";
  }
};

inline std::vector<R> Reasons(const ContactRuling& ruling) {
  std::vector<R> out;
  for (const consent_v1::Reason& r : ruling.reasons) {
    out.push_back(R{r.code(), r.participant_id(), r.scope()});
  }
  return out;
}

using Cited = std::tuple<consent_v1::FactSource, uint64_t, std::string>;  // + event type

inline std::vector<Cited> Consulted(const ContactRuling& ruling) {
  std::vector<Cited> out;
  for (const consent_v1::ConsultedFact& f : ruling.consulted) {
    out.emplace_back(f.source(), f.position(), f.event_type());
  }
  return out;
}

inline bool Cites(const ContactRuling& ruling, const FactRef& ref) {
  return std::any_of(ruling.consulted.begin(), ruling.consulted.end(),
                     [&](const consent_v1::ConsultedFact& f) {
                       return f.source() == ref.source && f.position() == ref.position &&
                              f.event_type() == ref.event_type;
                     });
}

inline const consent_v1::ConsultedFact* CitationAt(const ContactRuling& ruling,
                                                   consent_v1::FactSource source,
                                                   uint64_t position) {
  for (const consent_v1::ConsultedFact& f : ruling.consulted) {
    if (f.source() == source && f.position() == position) return &f;
  }
  return nullptr;
}

inline std::string Serialized(const ContactRuling& ruling) {
  consent_v1::ContactDecisionMade d;
  d.set_outcome(ruling.outcome);
  for (const auto& r : ruling.reasons) *d.add_reasons() = r;
  for (const auto& c : ruling.consulted) *d.add_consulted() = c;
  d.set_policy_version(ruling.policy_version);
  std::string bytes;
  {
    google::protobuf::io::StringOutputStream stream(&bytes);
    google::protobuf::io::CodedOutputStream coded(&stream);
    coded.SetSerializationDeterministic(true);
    d.SerializeToCodedStream(&coded);
  }
  return bytes;
}

// What holds for every ruling of the rule `version`: the version; consulted
// facts each once, sorted by (source, position), named; details short and
// free of personal data; every refusal cites the recorded fact that caused
// it; the same input gives the same bytes.
inline void CheckWellFormed(const CaseFacts& facts, const ContactQuestion& q,
                            const ContactRuling& ruling,
                            std::string_view version = kContactGateV1) {
  EXPECT_EQ(ruling.policy_version, version);
  const ContactRule rule = FindContactRule(version);
  ASSERT_NE(rule, nullptr) << version;
  EXPECT_EQ(ruling.outcome,
            ruling.reasons.empty() ? consent_v1::APPROVED : consent_v1::REFUSED);
  for (size_t i = 0; i < ruling.consulted.size(); ++i) {
    const consent_v1::ConsultedFact& f = ruling.consulted[i];
    EXPECT_NE(f.source(), consent_v1::FACT_SOURCE_UNSPECIFIED);
    EXPECT_FALSE(f.event_type().empty()) << f.ShortDebugString();
    EXPECT_FALSE(f.fact().empty()) << f.ShortDebugString();
    EXPECT_THAT(f.fact(), Not(HasSubstr(kSecret)));
    if (i > 0) {
      const consent_v1::ConsultedFact& prev = ruling.consulted[i - 1];
      EXPECT_LT(std::make_pair(prev.source(), prev.position()),
                std::make_pair(f.source(), f.position()))
          << "not sorted or cited twice: " << prev.ShortDebugString() << " then "
          << f.ShortDebugString();
    }
  }
  for (const consent_v1::Reason& r : ruling.reasons) {
    EXPECT_FALSE(r.detail().empty()) << r.ShortDebugString();
    EXPECT_LE(r.detail().size(), 100u) << r.ShortDebugString();
    EXPECT_THAT(r.detail(), Not(HasSubstr(kSecret)));
    switch (r.code()) {
      case consent_v1::CONSENT_DECLINED:
      case consent_v1::CONSENT_WITHDRAWN: {
        const ConsentEntryFacts* e = facts.CurrentConsent(r.participant_id(), r.scope());
        ASSERT_NE(e, nullptr) << r.ShortDebugString();
        EXPECT_TRUE(Cites(ruling, e->ref())) << r.ShortDebugString();
        break;
      }
      case consent_v1::RISK_ASSESSMENT_LAPSED:
        ASSERT_TRUE(facts.risk_assessment_lapsed_by.has_value());
        EXPECT_TRUE(Cites(ruling, *facts.risk_assessment_lapsed_by));
        break;
      case consent_v1::PARTICIPANT_ERASED:
        EXPECT_TRUE(Cites(ruling, facts.erasures.at(r.participant_id())));
        break;
      case consent_v1::CASE_CLOSED:
      case consent_v1::CASE_PAUSED:
        EXPECT_TRUE(Cites(ruling, *facts.last_stage_change));
        break;
      case consent_v1::CASE_UNSUITABLE:
        EXPECT_TRUE(Cites(ruling, facts.suitability.has_value()
                                      ? *facts.suitability
                                      : *facts.last_stage_change));
        break;
      case consent_v1::RISK_ASSESSMENT_REVIEW_OVERDUE:
        ASSERT_TRUE(facts.risk_assessment_recorded.has_value());
        EXPECT_TRUE(Cites(ruling, *facts.risk_assessment_recorded));
        break;
      default:
        break;
    }
  }
  // The same facts and question give the same ruling, byte for byte.
  const CaseFacts copy = facts;
  EXPECT_EQ(Serialized(rule(copy, q)), Serialized(ruling));
}

}  // namespace mend::consentsvc::rule_testing

#endif  // MEND_SERVICES_CONSENT_CONTACT_RULE_TEST_FIXTURES_H_
