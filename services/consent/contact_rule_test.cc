// The contact gate's rule as a decision table (contact_rule.h). Facts are
// built directly: Approvable() is a case every kind of contact may go ahead
// on, and each row breaks one or more things and lists exactly the reasons
// the rule must give, in the documented order.
#include "services/consent/contact_rule.h"

#include <algorithm>
#include <cstdint>
#include <functional>
#include <ostream>
#include <string>
#include <tuple>
#include <utility>
#include <vector>

#include "absl/status/status.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_join.h"
#include "gmock/gmock.h"
#include "google/protobuf/io/coded_stream.h"
#include "google/protobuf/io/zero_copy_stream_impl_lite.h"
#include "gtest/gtest.h"
#include "services/consent/consent_state.h"
#include "tests/support/test_util.h"

namespace mend::consentsvc {
namespace {

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

ObservedParticipant Person(const std::string& id, case_v1::ParticipantRole role) {
  ObservedParticipant p;
  p.participant_id = id;
  p.role = role;
  p.added_position = kReferralPos;
  return p;
}

uint64_t NextConsentPosition(const CaseFacts& facts) {
  uint64_t next = kFirstConsentPos;
  for (const auto& [person, scopes] : facts.consents) {
    for (const auto& [scope, entries] : scopes) {
      for (const ConsentEntryFacts& e : entries) next = std::max(next, e.position + 1);
    }
  }
  return next;
}

ConsentEntryFacts Entry(consent_v1::ConsentStatus status, uint64_t position,
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
uint64_t Answer(CaseFacts& facts, const std::string& who, ConsentScope scope,
                consent_v1::ConsentStatus status, bool requested = false) {
  const uint64_t position = NextConsentPosition(facts);
  facts.consents[who][scope].push_back(Entry(status, position, requested));
  ++facts.version;
  return position;
}
uint64_t Give(CaseFacts& facts, const std::string& who, ConsentScope scope,
              bool requested = false) {
  return Answer(facts, who, scope, consent_v1::CONSENT_STATUS_GIVEN, requested);
}
uint64_t Decline(CaseFacts& facts, const std::string& who, ConsentScope scope) {
  return Answer(facts, who, scope, consent_v1::CONSENT_STATUS_DECLINED);
}
// One ConsentWithdrawn naming every scope in `scopes`.
uint64_t Withdraw(CaseFacts& facts, const std::string& who,
                  std::vector<ConsentScope> scopes) {
  const uint64_t position = NextConsentPosition(facts);
  for (ConsentScope scope : scopes) {
    facts.consents[who][scope].push_back(
        Entry(consent_v1::CONSENT_STATUS_WITHDRAWN, position));
  }
  ++facts.version;
  return position;
}
uint64_t WithdrawAll(CaseFacts& facts, const std::string& who) {
  return Withdraw(
      facts, who,
      {consent_v1::PARTICIPATE, consent_v1::RECEIVE_LETTER, consent_v1::SHUTTLE,
       consent_v1::VIDEO, consent_v1::FACE_TO_FACE, consent_v1::SHARE_INFORMATION});
}
// Forget every answer of `who` on `scope` (never answered).
void Unanswer(CaseFacts& facts, const std::string& who, ConsentScope scope) {
  facts.consents[who].erase(scope);
}

// A referred case in `category` with service user s1 and victim v1,
// facilitator f1 allocated, responsibility acknowledged, a current risk
// assessment allowing every kind (manager-approved when sensitive), and
// every consent the five kinds need GIVEN by both (the victim asked for
// VIDEO and FACE_TO_FACE herself). Every fact at its own position.
CaseFacts Approvable(case_v1::OffenceCategory category = case_v1::VIOLENCE) {
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

ContactQuestion Ask(ContactKind kind) {
  return ContactQuestion{.kind = kind,
                         .victim_id = kVictim,
                         .service_user_id = kServiceUser,
                         .facilitator_id = kFacilitator};
}

// Breakers used by the table.
void MoveStage(CaseFacts& f, case_v1::Stage to) {
  f.case_state.stage = to;
  f.case_state.last_stage_change_position = kLaterStagePos;
  f.last_stage_change = CaseRef<case_v1::StageChanged>(kLaterStagePos);
}
void Close(CaseFacts& f) { MoveStage(f, case_v1::CLOSED); }
void Pause(CaseFacts& f) { MoveStage(f, case_v1::PAUSED); }
void Lapse(CaseFacts& f) {
  MoveStage(f, case_v1::INDIRECT_CONTACT);
  f.risk_assessment_lapsed_by = CaseRef<case_v1::StageChanged>(kLaterStagePos);
}
void ReleaseFacilitator(CaseFacts& f) {
  f.case_state.facilitator_ids.clear();
  f.allocations.clear();
}
void NoAcknowledgement(CaseFacts& f) {
  f.case_state.acknowledged.reset();
  f.acknowledgement.reset();
}
void AcknowledgedNot(CaseFacts& f) { f.case_state.acknowledged = false; }
void NoRiskAssessment(CaseFacts& f) {
  f.case_state.risk_assessments.clear();
  f.risk_assessment_recorded.reset();
  f.risk_assessment_approved.reset();
  f.risk_assessment_lapsed_by.reset();
}
void Unapprove(CaseFacts& f) {
  ObservedRiskAssessment& ra = f.case_state.risk_assessments.back();
  ra.approved = false;
  ra.approved_position = 0;
  f.risk_assessment_approved.reset();
}
void Disallow(CaseFacts& f, ContactKind kind) {
  auto& kinds = f.case_state.risk_assessments.back().allowed_kinds;
  kinds.erase(std::remove(kinds.begin(), kinds.end(), kind), kinds.end());
}
void Erase(CaseFacts& f, const std::string& who) {
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

std::vector<R> Reasons(const ContactRuling& ruling) {
  std::vector<R> out;
  for (const consent_v1::Reason& r : ruling.reasons) {
    out.push_back(R{r.code(), r.participant_id(), r.scope()});
  }
  return out;
}

using Cited = std::tuple<consent_v1::FactSource, uint64_t, std::string>;  // + event type

std::vector<Cited> Consulted(const ContactRuling& ruling) {
  std::vector<Cited> out;
  for (const consent_v1::ConsultedFact& f : ruling.consulted) {
    out.emplace_back(f.source(), f.position(), f.event_type());
  }
  return out;
}

bool Cites(const ContactRuling& ruling, const FactRef& ref) {
  return std::any_of(ruling.consulted.begin(), ruling.consulted.end(),
                     [&](const consent_v1::ConsultedFact& f) {
                       return f.source() == ref.source && f.position() == ref.position &&
                              f.event_type() == ref.event_type;
                     });
}

const consent_v1::ConsultedFact* CitationAt(const ContactRuling& ruling,
                                            consent_v1::FactSource source,
                                            uint64_t position) {
  for (const consent_v1::ConsultedFact& f : ruling.consulted) {
    if (f.source() == source && f.position() == position) return &f;
  }
  return nullptr;
}

std::string Serialized(const ContactRuling& ruling) {
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

// What holds for every ruling: the version; consulted facts each once,
// sorted by (source, position), named; details short and free of personal
// data; every refusal cites the recorded fact that caused it.
void CheckWellFormed(const CaseFacts& facts, const ContactQuestion& q,
                     const ContactRuling& ruling) {
  EXPECT_EQ(ruling.policy_version, kContactPolicyVersion);
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
      default:
        break;
    }
  }
  // The same facts and question give the same ruling, byte for byte.
  const CaseFacts copy = facts;
  EXPECT_EQ(Serialized(DecideContactRule(copy, q)), Serialized(ruling));
}

// ----- The table ------------------------------------------------------------

struct Row {
  std::string name;
  ContactKind kind;
  case_v1::OffenceCategory category = case_v1::VIOLENCE;
  std::function<void(CaseFacts&, ContactQuestion&)> change;
  std::vector<R> want;  // empty: APPROVED

  friend void PrintTo(const Row& row, std::ostream* os) { *os << row.name; }
};

std::string Short(ContactKind kind) {
  switch (kind) {
    case common_v1::APPROACH_VICTIM:
      return "Approach";
    case common_v1::LETTER_DELIVERY:
      return "Letter";
    case common_v1::SHUTTLE_MESSAGE:
      return "Shuttle";
    case common_v1::VIDEO_MEETING:
      return "Video";
    case common_v1::FACE_TO_FACE_CONFERENCE:
      return "FaceToFace";
    default:
      return "Unspecified";
  }
}

std::string Short(ConsentScope scope) {
  std::string name = consent_v1::ConsentScope_Name(scope);
  name.erase(std::remove(name.begin(), name.end(), '_'), name.end());
  return name;
}

std::string Short(case_v1::OffenceCategory category) {
  std::string name = case_v1::OffenceCategory_Name(category);
  name.erase(std::remove(name.begin(), name.end(), '_'), name.end());
  return name;
}

bool VictimMustAsk(case_v1::OffenceCategory category, ContactKind kind) {
  return (category == case_v1::DOMESTIC_ABUSE || category == case_v1::SEXUAL_OFFENCE) &&
         (kind == common_v1::VIDEO_MEETING || kind == common_v1::FACE_TO_FACE_CONFERENCE);
}

// The (person, scope) pairs a kind needs, in the rule's order.
std::vector<std::pair<std::string, ConsentScope>> NeededConsents(ContactKind kind) {
  const ConsentScope scope = ScopeForKind(kind);
  std::vector<std::pair<std::string, ConsentScope>> needed = {
      {kVictim, consent_v1::PARTICIPATE}};
  if (scope != consent_v1::PARTICIPATE) needed.emplace_back(kVictim, scope);
  needed.emplace_back(kServiceUser, scope);
  return needed;
}

std::vector<Row> SingleReasonRows() {
  std::vector<Row> rows;
  for (ContactKind kind : kKinds) {
    const std::string k = Short(kind);
    rows.push_back({k + "_Approved", kind, case_v1::VIOLENCE, [](auto&, auto&) {}, {}});
    rows.push_back({k + "_CaseClosed",
                    kind,
                    case_v1::VIOLENCE,
                    [](CaseFacts& f, auto&) { Close(f); },
                    {{consent_v1::CASE_CLOSED}}});
    rows.push_back({k + "_CasePaused",
                    kind,
                    case_v1::VIOLENCE,
                    [](CaseFacts& f, auto&) { Pause(f); },
                    {{consent_v1::CASE_PAUSED}}});
    rows.push_back({k + "_AskedByAnotherFacilitator",
                    kind,
                    case_v1::VIOLENCE,
                    [](auto&, ContactQuestion& q) { q.facilitator_id = "f9"; },
                    {{consent_v1::FACILITATOR_NOT_ALLOCATED}}});
    rows.push_back({k + "_FacilitatorReleased",
                    kind,
                    case_v1::VIOLENCE,
                    [](CaseFacts& f, auto&) { ReleaseFacilitator(f); },
                    {{consent_v1::FACILITATOR_NOT_ALLOCATED}}});
    rows.push_back({k + "_NoAcknowledgement",
                    kind,
                    case_v1::VIOLENCE,
                    [](CaseFacts& f, auto&) { NoAcknowledgement(f); },
                    {{consent_v1::RESPONSIBILITY_NOT_ACKNOWLEDGED}}});
    rows.push_back({k + "_ResponsibilityNotAccepted",
                    kind,
                    case_v1::VIOLENCE,
                    [](CaseFacts& f, auto&) { AcknowledgedNot(f); },
                    {{consent_v1::RESPONSIBILITY_NOT_ACKNOWLEDGED}}});
    rows.push_back({k + "_NoRiskAssessment",
                    kind,
                    case_v1::VIOLENCE,
                    [](CaseFacts& f, auto&) { NoRiskAssessment(f); },
                    {{consent_v1::NO_RISK_ASSESSMENT}}});
    rows.push_back({k + "_RiskAssessmentNotApproved",
                    kind,
                    case_v1::HATE_CRIME,
                    [](CaseFacts& f, auto&) { Unapprove(f); },
                    {{consent_v1::RISK_ASSESSMENT_NOT_APPROVED}}});
    rows.push_back({k + "_RiskAssessmentLapsed",
                    kind,
                    case_v1::VIOLENCE,
                    [](CaseFacts& f, auto&) { Lapse(f); },
                    {{consent_v1::RISK_ASSESSMENT_LAPSED}}});
    rows.push_back({k + "_RiskAssessmentDisallowsKind",
                    kind,
                    case_v1::VIOLENCE,
                    [kind](CaseFacts& f, auto&) { Disallow(f, kind); },
                    {{consent_v1::RISK_ASSESSMENT_DISALLOWS_KIND}}});
    rows.push_back({k + "_VictimErased",
                    kind,
                    case_v1::VIOLENCE,
                    [](CaseFacts& f, auto&) { Erase(f, kVictim); },
                    {{consent_v1::PARTICIPANT_ERASED, kVictim}}});
    rows.push_back({k + "_ServiceUserErased",
                    kind,
                    case_v1::VIOLENCE,
                    [](CaseFacts& f, auto&) { Erase(f, kServiceUser); },
                    {{consent_v1::PARTICIPANT_ERASED, kServiceUser}}});
    for (const auto& [who, scope] : NeededConsents(kind)) {
      const std::string tag =
          absl::StrCat(who == kVictim ? "Victim" : "ServiceUser", Short(scope));
      rows.push_back({absl::StrCat(k, "_", tag, "NotRecorded"),
                      kind,
                      case_v1::VIOLENCE,
                      [who, scope](CaseFacts& f, auto&) { Unanswer(f, who, scope); },
                      {{consent_v1::CONSENT_NOT_RECORDED, who, scope}}});
      rows.push_back({absl::StrCat(k, "_", tag, "Declined"),
                      kind,
                      case_v1::VIOLENCE,
                      [who, scope](CaseFacts& f, auto&) { Decline(f, who, scope); },
                      {{consent_v1::CONSENT_DECLINED, who, scope}}});
      rows.push_back({absl::StrCat(k, "_", tag, "Withdrawn"),
                      kind,
                      case_v1::VIOLENCE,
                      [who, scope](CaseFacts& f, auto&) { Withdraw(f, who, {scope}); },
                      {{consent_v1::CONSENT_WITHDRAWN, who, scope}}});
    }
    // Scopes a kind does not need do not matter to it.
    for (ConsentScope other : kKindScopes) {
      if (other == ScopeForKind(kind) || other == consent_v1::PARTICIPATE) continue;
      rows.push_back({absl::StrCat(k, "_OtherScope", Short(other), "WithdrawnByBoth"),
                      kind,
                      case_v1::VIOLENCE,
                      [other](CaseFacts& f, auto&) {
                        Withdraw(f, kVictim, {other});
                        Withdraw(f, kServiceUser, {other});
                      },
                      {}});
    }
    rows.push_back({k + "_ShareInformationDeclinedByBoth",
                    kind,
                    case_v1::VIOLENCE,
                    [](CaseFacts& f, auto&) {
                      Decline(f, kVictim, consent_v1::SHARE_INFORMATION);
                      Decline(f, kServiceUser, consent_v1::SHARE_INFORMATION);
                    },
                    {}});
  }
  return rows;
}

// Sensitivity: every sensitive category needs the assessment approved; only
// domestic abuse and sexual offences need the victim to have asked, and only
// for video and face to face.
std::vector<Row> SensitiveRows() {
  std::vector<Row> rows;
  for (case_v1::OffenceCategory category :
       {case_v1::VIOLENCE, case_v1::DOMESTIC_ABUSE, case_v1::SEXUAL_OFFENCE,
        case_v1::HATE_CRIME}) {
    const bool sensitive = IsSensitiveCategory(category);
    for (ContactKind kind : kKinds) {
      const std::string name = absl::StrCat(Short(category), "_", Short(kind));
      const ConsentScope scope = ScopeForKind(kind);
      rows.push_back({name + "_Approved", kind, category, [](auto&, auto&) {}, {}});
      // The victim's current answer is a GIVEN she did not ask for.
      std::vector<R> not_asked;
      if (VictimMustAsk(category, kind)) {
        not_asked.push_back({consent_v1::NOT_ASKED_BY_VICTIM, kVictim, scope});
      }
      rows.push_back({name + "_VictimGaveWithoutAsking", kind, category,
                      [scope](CaseFacts& f, auto&) { Give(f, kVictim, scope, false); },
                      not_asked});
      // Having asked on PARTICIPATE is not having asked for the meeting.
      rows.push_back({name + "_VictimAskedOnlyToParticipate", kind, category,
                      [scope](CaseFacts& f, auto&) {
                        Give(f, kVictim, consent_v1::PARTICIPATE, true);
                        if (scope != consent_v1::PARTICIPATE)
                          Give(f, kVictim, scope, false);
                      },
                      not_asked});
      // A declined meeting is a consent reason and, where the victim must
      // ask, also not asked for.
      std::vector<R> declined = {{consent_v1::CONSENT_DECLINED, kVictim, scope}};
      if (VictimMustAsk(category, kind)) {
        declined.push_back({consent_v1::NOT_ASKED_BY_VICTIM, kVictim, scope});
      }
      rows.push_back({name + "_VictimDeclined", kind, category,
                      [scope](CaseFacts& f, auto&) { Decline(f, kVictim, scope); },
                      declined});
      // An unapproved assessment counts only outside sensitive cases.
      std::vector<R> unapproved;
      if (sensitive) unapproved.push_back({consent_v1::RISK_ASSESSMENT_NOT_APPROVED});
      rows.push_back({name + "_AssessmentUnapproved", kind, category,
                      [](CaseFacts& f, auto&) { Unapprove(f); }, unapproved});
    }
  }
  return rows;
}

std::vector<Row> CombinationRows() {
  using namespace consent_v1;  // NOLINT: reason codes read better bare here
  std::vector<Row> rows;
  rows.push_back({"PausedWithdrawnLapsed",
                  common_v1::LETTER_DELIVERY,
                  case_v1::VIOLENCE,
                  [](CaseFacts& f, auto&) {
                    Lapse(f);
                    Pause(f);  // the same change of stage paused and lapsed
                    f.risk_assessment_lapsed_by = f.last_stage_change;
                    WithdrawAll(f, kVictim);
                  },
                  {{CASE_PAUSED},
                   {RISK_ASSESSMENT_LAPSED},
                   {CONSENT_WITHDRAWN, kVictim, PARTICIPATE},
                   {CONSENT_WITHDRAWN, kVictim, RECEIVE_LETTER}}});
  rows.push_back({"ClosedAndBothWithdrewEverything",
                  common_v1::SHUTTLE_MESSAGE,
                  case_v1::VIOLENCE,
                  [](CaseFacts& f, auto&) {
                    Close(f);
                    WithdrawAll(f, kVictim);
                    WithdrawAll(f, kServiceUser);
                  },
                  {{CASE_CLOSED},
                   {CONSENT_WITHDRAWN, kVictim, PARTICIPATE},
                   {CONSENT_WITHDRAWN, kVictim, SHUTTLE},
                   {CONSENT_WITHDRAWN, kServiceUser, SHUTTLE}}});
  rows.push_back({"EveryCaseCheckFails",
                  common_v1::APPROACH_VICTIM,
                  case_v1::VIOLENCE,
                  [](CaseFacts& f, ContactQuestion& q) {
                    Close(f);
                    q.facilitator_id = "f9";
                    NoAcknowledgement(f);
                    NoRiskAssessment(f);
                  },
                  {{CASE_CLOSED},
                   {FACILITATOR_NOT_ALLOCATED},
                   {RESPONSIBILITY_NOT_ACKNOWLEDGED},
                   {NO_RISK_ASSESSMENT}}});
  rows.push_back({"EveryAssessmentReasonAtOnce",
                  common_v1::VIDEO_MEETING,
                  case_v1::HATE_CRIME,
                  [](CaseFacts& f, auto&) {
                    Unapprove(f);
                    Lapse(f);
                    Disallow(f, common_v1::VIDEO_MEETING);
                  },
                  {{RISK_ASSESSMENT_NOT_APPROVED},
                   {RISK_ASSESSMENT_LAPSED},
                   {RISK_ASSESSMENT_DISALLOWS_KIND}}});
  rows.push_back({"BothErasedAndNoConsentsLeft",
                  common_v1::LETTER_DELIVERY,
                  case_v1::VIOLENCE,
                  [](CaseFacts& f, auto&) {
                    Erase(f, kServiceUser);
                    Erase(f, kVictim);
                    f.consents.clear();
                  },
                  {{PARTICIPANT_ERASED, kVictim},
                   {PARTICIPANT_ERASED, kServiceUser},
                   {CONSENT_NOT_RECORDED, kVictim, PARTICIPATE},
                   {CONSENT_NOT_RECORDED, kVictim, RECEIVE_LETTER},
                   {CONSENT_NOT_RECORDED, kServiceUser, RECEIVE_LETTER}}});
  rows.push_back({"ThreeDifferentConsentReasons",
                  common_v1::FACE_TO_FACE_CONFERENCE,
                  case_v1::VIOLENCE,
                  [](CaseFacts& f, auto&) {
                    Withdraw(f, kServiceUser, {FACE_TO_FACE});
                    Unanswer(f, kVictim, FACE_TO_FACE);
                    Decline(f, kVictim, PARTICIPATE);
                  },
                  {{CONSENT_DECLINED, kVictim, PARTICIPATE},
                   {CONSENT_NOT_RECORDED, kVictim, FACE_TO_FACE},
                   {CONSENT_WITHDRAWN, kServiceUser, FACE_TO_FACE}}});
  rows.push_back(
      {"DomesticAbuseVideoNeverAnswered",
       common_v1::VIDEO_MEETING,
       case_v1::DOMESTIC_ABUSE,
       [](CaseFacts& f, auto&) { Unanswer(f, kVictim, VIDEO); },
       {{CONSENT_NOT_RECORDED, kVictim, VIDEO}, {NOT_ASKED_BY_VICTIM, kVictim, VIDEO}}});
  rows.push_back({"SexualOffenceFaceToFaceWithdrawn",
                  common_v1::FACE_TO_FACE_CONFERENCE,
                  case_v1::SEXUAL_OFFENCE,
                  [](CaseFacts& f, auto&) { Withdraw(f, kVictim, {FACE_TO_FACE}); },
                  {{CONSENT_WITHDRAWN, kVictim, FACE_TO_FACE},
                   {NOT_ASKED_BY_VICTIM, kVictim, FACE_TO_FACE}}});
  // Every reason the rule has, at once (PAUSED and CLOSED exclude each other).
  rows.push_back({"EverythingWrong",
                  common_v1::VIDEO_MEETING,
                  case_v1::DOMESTIC_ABUSE,
                  [](CaseFacts& f, ContactQuestion& q) {
                    Lapse(f);
                    Close(f);
                    f.risk_assessment_lapsed_by = f.last_stage_change;
                    q.facilitator_id = "f9";
                    AcknowledgedNot(f);
                    Unapprove(f);
                    Disallow(f, common_v1::VIDEO_MEETING);
                    Erase(f, kVictim);
                    Erase(f, kServiceUser);
                    Decline(f, kVictim, PARTICIPATE);
                    Unanswer(f, kVictim, VIDEO);
                    Withdraw(f, kServiceUser, {VIDEO});
                  },
                  {{CASE_CLOSED},
                   {FACILITATOR_NOT_ALLOCATED},
                   {RESPONSIBILITY_NOT_ACKNOWLEDGED},
                   {RISK_ASSESSMENT_NOT_APPROVED},
                   {RISK_ASSESSMENT_LAPSED},
                   {RISK_ASSESSMENT_DISALLOWS_KIND},
                   {PARTICIPANT_ERASED, kVictim},
                   {PARTICIPANT_ERASED, kServiceUser},
                   {CONSENT_DECLINED, kVictim, PARTICIPATE},
                   {CONSENT_NOT_RECORDED, kVictim, VIDEO},
                   {CONSENT_WITHDRAWN, kServiceUser, VIDEO},
                   {NOT_ASKED_BY_VICTIM, kVictim, VIDEO}}});
  return rows;
}

std::vector<Row> AllRows() {
  std::vector<Row> rows = SingleReasonRows();
  for (auto more : {SensitiveRows(), CombinationRows()}) {
    rows.insert(rows.end(), more.begin(), more.end());
  }
  return rows;
}

class ContactRuleTableTest : public ::testing::TestWithParam<Row> {};

TEST_P(ContactRuleTableTest, GivesExactlyTheListedReasons) {
  const Row& row = GetParam();
  CaseFacts facts = Approvable(row.category);
  ContactQuestion q = Ask(row.kind);
  row.change(facts, q);

  const ContactRuling ruling = DecideContactRule(facts, q);

  EXPECT_EQ(ruling.outcome,
            row.want.empty() ? consent_v1::APPROVED : consent_v1::REFUSED);
  EXPECT_EQ(Reasons(ruling), row.want);
  CheckWellFormed(facts, q, ruling);
}

INSTANTIATE_TEST_SUITE_P(Rows, ContactRuleTableTest, ::testing::ValuesIn(AllRows()),
                         [](const ::testing::TestParamInfo<Row>& info) {
                           return info.param.name;
                         });

// ----- Scopes ---------------------------------------------------------------

TEST(ScopeForKindTest, MapsEachKindToItsScope) {
  EXPECT_EQ(ScopeForKind(common_v1::APPROACH_VICTIM), consent_v1::PARTICIPATE);
  EXPECT_EQ(ScopeForKind(common_v1::LETTER_DELIVERY), consent_v1::RECEIVE_LETTER);
  EXPECT_EQ(ScopeForKind(common_v1::SHUTTLE_MESSAGE), consent_v1::SHUTTLE);
  EXPECT_EQ(ScopeForKind(common_v1::VIDEO_MEETING), consent_v1::VIDEO);
  EXPECT_EQ(ScopeForKind(common_v1::FACE_TO_FACE_CONFERENCE), consent_v1::FACE_TO_FACE);
  EXPECT_EQ(ScopeForKind(common_v1::CONTACT_KIND_UNSPECIFIED),
            consent_v1::CONSENT_SCOPE_UNSPECIFIED);
  EXPECT_EQ(ScopeForKind(static_cast<ContactKind>(99)),
            consent_v1::CONSENT_SCOPE_UNSPECIFIED);
}

// With no consents at all, the reasons name exactly the (person, scope)
// pairs each kind needs: the victim's PARTICIPATE, the victim's kind scope
// and the service user's kind scope — PARTICIPATE only once from the victim
// for an approach.
TEST(ContactRuleScopeTest, EachKindAsksForExactlyItsConsents) {
  const std::vector<std::pair<ContactKind, std::vector<R>>> table = {
      {common_v1::APPROACH_VICTIM,
       {{consent_v1::CONSENT_NOT_RECORDED, kVictim, consent_v1::PARTICIPATE},
        {consent_v1::CONSENT_NOT_RECORDED, kServiceUser, consent_v1::PARTICIPATE}}},
      {common_v1::LETTER_DELIVERY,
       {{consent_v1::CONSENT_NOT_RECORDED, kVictim, consent_v1::PARTICIPATE},
        {consent_v1::CONSENT_NOT_RECORDED, kVictim, consent_v1::RECEIVE_LETTER},
        {consent_v1::CONSENT_NOT_RECORDED, kServiceUser, consent_v1::RECEIVE_LETTER}}},
      {common_v1::SHUTTLE_MESSAGE,
       {{consent_v1::CONSENT_NOT_RECORDED, kVictim, consent_v1::PARTICIPATE},
        {consent_v1::CONSENT_NOT_RECORDED, kVictim, consent_v1::SHUTTLE},
        {consent_v1::CONSENT_NOT_RECORDED, kServiceUser, consent_v1::SHUTTLE}}},
      {common_v1::VIDEO_MEETING,
       {{consent_v1::CONSENT_NOT_RECORDED, kVictim, consent_v1::PARTICIPATE},
        {consent_v1::CONSENT_NOT_RECORDED, kVictim, consent_v1::VIDEO},
        {consent_v1::CONSENT_NOT_RECORDED, kServiceUser, consent_v1::VIDEO}}},
      {common_v1::FACE_TO_FACE_CONFERENCE,
       {{consent_v1::CONSENT_NOT_RECORDED, kVictim, consent_v1::PARTICIPATE},
        {consent_v1::CONSENT_NOT_RECORDED, kVictim, consent_v1::FACE_TO_FACE},
        {consent_v1::CONSENT_NOT_RECORDED, kServiceUser, consent_v1::FACE_TO_FACE}}},
  };
  for (const auto& [kind, want] : table) {
    SCOPED_TRACE(common_v1::ContactKind_Name(kind));
    CaseFacts facts = Approvable();
    facts.consents.clear();
    const ContactRuling ruling = DecideContactRule(facts, Ask(kind));
    EXPECT_EQ(ruling.outcome, consent_v1::REFUSED);
    EXPECT_EQ(Reasons(ruling), want);
  }
}

// Exactly the needed consents, and no others, are enough.
TEST(ContactRuleScopeTest, TheNeededConsentsAloneApprove) {
  for (ContactKind kind : kKinds) {
    SCOPED_TRACE(common_v1::ContactKind_Name(kind));
    CaseFacts facts = Approvable();
    facts.consents.clear();
    for (const auto& [who, scope] : NeededConsents(kind)) Give(facts, who, scope);
    const ContactRuling ruling = DecideContactRule(facts, Ask(kind));
    EXPECT_EQ(ruling.outcome, consent_v1::APPROVED);
    EXPECT_THAT(ruling.reasons, IsEmpty());
  }
}

// The service user's consent to PARTICIPATE is not what a letter needs: a
// service user who gave only PARTICIPATE is asked for RECEIVE_LETTER.
TEST(ContactRuleScopeTest, ServiceUserNeedsTheKindScopeNotParticipate) {
  CaseFacts facts = Approvable();
  facts.consents.clear();
  Give(facts, kVictim, consent_v1::PARTICIPATE);
  Give(facts, kVictim, consent_v1::RECEIVE_LETTER);
  Give(facts, kServiceUser, consent_v1::PARTICIPATE);
  const ContactRuling ruling = DecideContactRule(facts, Ask(common_v1::LETTER_DELIVERY));
  EXPECT_EQ(Reasons(ruling),
            (std::vector<R>{{consent_v1::CONSENT_NOT_RECORDED, kServiceUser,
                             consent_v1::RECEIVE_LETTER}}));
}

// ----- Consent histories ----------------------------------------------------

// The case study: the victim first declined, later accepted a letter, then
// asked to meet. Only her current answer counts, and it is the one cited.
TEST(ContactRuleHistoryTest, DeclineThenGiveApproves) {
  CaseFacts facts = Approvable();
  facts.consents.erase(kVictim);
  const uint64_t declined_participate = Decline(facts, kVictim, consent_v1::PARTICIPATE);
  const uint64_t declined_letter = Decline(facts, kVictim, consent_v1::RECEIVE_LETTER);

  ContactRuling ruling = DecideContactRule(facts, Ask(common_v1::LETTER_DELIVERY));
  EXPECT_EQ(Reasons(ruling),
            (std::vector<R>{
                {consent_v1::CONSENT_DECLINED, kVictim, consent_v1::PARTICIPATE},
                {consent_v1::CONSENT_DECLINED, kVictim, consent_v1::RECEIVE_LETTER}}));
  EXPECT_NE(CitationAt(ruling, consent_v1::CONSENT_LOG, declined_participate), nullptr);
  EXPECT_NE(CitationAt(ruling, consent_v1::CONSENT_LOG, declined_letter), nullptr);

  const uint64_t gave_participate = Give(facts, kVictim, consent_v1::PARTICIPATE);
  const uint64_t gave_letter = Give(facts, kVictim, consent_v1::RECEIVE_LETTER);
  ruling = DecideContactRule(facts, Ask(common_v1::LETTER_DELIVERY));
  EXPECT_EQ(ruling.outcome, consent_v1::APPROVED);
  EXPECT_THAT(ruling.reasons, IsEmpty());
  EXPECT_NE(CitationAt(ruling, consent_v1::CONSENT_LOG, gave_participate), nullptr);
  EXPECT_NE(CitationAt(ruling, consent_v1::CONSENT_LOG, gave_letter), nullptr);
  EXPECT_EQ(CitationAt(ruling, consent_v1::CONSENT_LOG, declined_participate), nullptr);
  EXPECT_EQ(CitationAt(ruling, consent_v1::CONSENT_LOG, declined_letter), nullptr);

  // Then she asks to meet: not yet answered, then given at her request.
  ruling = DecideContactRule(facts, Ask(common_v1::FACE_TO_FACE_CONFERENCE));
  EXPECT_EQ(Reasons(ruling), (std::vector<R>{{consent_v1::CONSENT_NOT_RECORDED, kVictim,
                                              consent_v1::FACE_TO_FACE}}));
  Give(facts, kVictim, consent_v1::FACE_TO_FACE, /*requested=*/true);
  EXPECT_EQ(DecideContactRule(facts, Ask(common_v1::FACE_TO_FACE_CONFERENCE)).outcome,
            consent_v1::APPROVED);
}

// I3: a withdrawal refuses at once and is cited; consenting again approves
// and the new consent, not the withdrawal, is cited.
TEST(ContactRuleHistoryTest, WithdrawalThenReconsent) {
  CaseFacts facts = Approvable();
  ASSERT_EQ(DecideContactRule(facts, Ask(common_v1::VIDEO_MEETING)).outcome,
            consent_v1::APPROVED);

  const uint64_t withdrawn = Withdraw(facts, kVictim, {consent_v1::VIDEO});
  ContactRuling ruling = DecideContactRule(facts, Ask(common_v1::VIDEO_MEETING));
  EXPECT_EQ(
      Reasons(ruling),
      (std::vector<R>{{consent_v1::CONSENT_WITHDRAWN, kVictim, consent_v1::VIDEO}}));
  const consent_v1::ConsultedFact* cited =
      CitationAt(ruling, consent_v1::CONSENT_LOG, withdrawn);
  ASSERT_NE(cited, nullptr);
  EXPECT_EQ(cited->event_type(), kConsentWithdrawnType);
  EXPECT_THAT(cited->fact(), AllOf(HasSubstr(kVictim), HasSubstr("VIDEO")));

  // Other kinds that do not need VIDEO are unaffected.
  EXPECT_EQ(DecideContactRule(facts, Ask(common_v1::LETTER_DELIVERY)).outcome,
            consent_v1::APPROVED);

  const uint64_t again = Give(facts, kVictim, consent_v1::VIDEO);
  ruling = DecideContactRule(facts, Ask(common_v1::VIDEO_MEETING));
  EXPECT_EQ(ruling.outcome, consent_v1::APPROVED);
  EXPECT_NE(CitationAt(ruling, consent_v1::CONSENT_LOG, again), nullptr);
  EXPECT_EQ(CitationAt(ruling, consent_v1::CONSENT_LOG, withdrawn), nullptr);
}

// A withdrawal of every scope is one event: cited once, saying each scope it
// answered for.
TEST(ContactRuleHistoryTest, WithdrawingEverythingIsCitedOnce) {
  CaseFacts facts = Approvable();
  const uint64_t withdrawn = WithdrawAll(facts, kVictim);
  const ContactRuling ruling = DecideContactRule(facts, Ask(common_v1::SHUTTLE_MESSAGE));
  EXPECT_EQ(
      Reasons(ruling),
      (std::vector<R>{{consent_v1::CONSENT_WITHDRAWN, kVictim, consent_v1::PARTICIPATE},
                      {consent_v1::CONSENT_WITHDRAWN, kVictim, consent_v1::SHUTTLE}}));
  const auto n = std::count_if(ruling.consulted.begin(), ruling.consulted.end(),
                               [&](const consent_v1::ConsultedFact& f) {
                                 return f.source() == consent_v1::CONSENT_LOG &&
                                        f.position() == withdrawn;
                               });
  EXPECT_EQ(n, 1);
  const consent_v1::ConsultedFact* cited =
      CitationAt(ruling, consent_v1::CONSENT_LOG, withdrawn);
  ASSERT_NE(cited, nullptr);
  EXPECT_THAT(cited->fact(), AllOf(HasSubstr("PARTICIPATE"), HasSubstr("SHUTTLE")));
  CheckWellFormed(facts, Ask(common_v1::SHUTTLE_MESSAGE), ruling);
}

// ----- Sensitive cases ------------------------------------------------------

// I1: a sensitive case needs a manager-approved assessment even if the
// assessment did not record that it requires approval.
TEST(ContactRuleSensitiveTest, SensitiveCaseNeedsApprovalWhateverTheAssessmentSays) {
  CaseFacts facts = Approvable(case_v1::HATE_CRIME);
  Unapprove(facts);
  facts.case_state.risk_assessments.back().requires_approval = false;
  EXPECT_EQ(Reasons(DecideContactRule(facts, Ask(common_v1::LETTER_DELIVERY))),
            (std::vector<R>{{consent_v1::RISK_ASSESSMENT_NOT_APPROVED}}));
}

// An assessment that requires approval needs it even in a case not (or no
// longer) recorded as sensitive.
TEST(ContactRuleSensitiveTest, AssessmentRequiringApprovalNeedsIt) {
  CaseFacts facts = Approvable(case_v1::VIOLENCE);
  facts.case_state.risk_assessments.back().requires_approval = true;
  EXPECT_EQ(Reasons(DecideContactRule(facts, Ask(common_v1::APPROACH_VICTIM))),
            (std::vector<R>{{consent_v1::RISK_ASSESSMENT_NOT_APPROVED}}));
}

TEST(ContactRuleSensitiveTest, HateCrimeHasNoNotAskedByVictimRule) {
  CaseFacts facts = Approvable(case_v1::HATE_CRIME);
  Give(facts, kVictim, consent_v1::VIDEO, /*requested=*/false);
  Give(facts, kVictim, consent_v1::FACE_TO_FACE, /*requested=*/false);
  EXPECT_EQ(DecideContactRule(facts, Ask(common_v1::VIDEO_MEETING)).outcome,
            consent_v1::APPROVED);
  EXPECT_EQ(DecideContactRule(facts, Ask(common_v1::FACE_TO_FACE_CONFERENCE)).outcome,
            consent_v1::APPROVED);
}

// Only the victim's asking counts: the service user's request flag does not
// stand in for hers.
TEST(ContactRuleSensitiveTest, ServiceUserAskingDoesNotCount) {
  CaseFacts facts = Approvable(case_v1::DOMESTIC_ABUSE);
  Give(facts, kVictim, consent_v1::VIDEO, /*requested=*/false);
  Give(facts, kServiceUser, consent_v1::VIDEO, /*requested=*/true);
  EXPECT_EQ(
      Reasons(DecideContactRule(facts, Ask(common_v1::VIDEO_MEETING))),
      (std::vector<R>{{consent_v1::NOT_ASKED_BY_VICTIM, kVictim, consent_v1::VIDEO}}));
}

// ----- Consulted facts ------------------------------------------------------

// An approval cites every fact it relied on, and only those.
TEST(ContactRuleConsultedTest, ApprovalCitesEveryFactItReliedOn) {
  CaseFacts facts = Approvable(case_v1::HATE_CRIME);
  // Facts the rule must not cite for this question: another facilitator's
  // allocation, answers on scopes a letter does not need, a second victim's.
  facts.case_state.facilitator_ids.push_back("f2");
  facts.allocations["f2"] = CaseRef<case_v1::FacilitatorAllocated>(2);
  facts.case_state.participants.push_back(Person("v2", case_v1::CO_VICTIM));
  Give(facts, "v2", consent_v1::RECEIVE_LETTER);        // 111
  Give(facts, kVictim, consent_v1::SHARE_INFORMATION);  // 112

  const ContactRuling ruling = DecideContactRule(facts, Ask(common_v1::LETTER_DELIVERY));
  ASSERT_EQ(ruling.outcome, consent_v1::APPROVED);
  const std::string recorded = kConsentRecordedType;
  EXPECT_THAT(
      Consulted(ruling),
      ElementsAre(
          Cited{consent_v1::CASE_LOG, kReferralPos, "mend.case.v1.CaseReferred"},
          Cited{consent_v1::CASE_LOG, kAllocationPos,
                "mend.case.v1.FacilitatorAllocated"},
          Cited{consent_v1::CASE_LOG, kAckPos, "mend.case.v1.AcknowledgementRecorded"},
          Cited{consent_v1::CASE_LOG, kStagePos, "mend.case.v1.StageChanged"},
          Cited{consent_v1::CASE_LOG, kRiskRecordedPos,
                "mend.case.v1.RiskAssessmentRecorded"},
          Cited{consent_v1::CASE_LOG, kRiskApprovedPos,
                "mend.case.v1.RiskAssessmentApproved"},
          Cited{consent_v1::CONSENT_LOG, 101, recorded},    // v1 PARTICIPATE
          Cited{consent_v1::CONSENT_LOG, 103, recorded},    // v1 RECEIVE_LETTER
          Cited{consent_v1::CONSENT_LOG, 104, recorded}));  // s1 RECEIVE_LETTER
  // Each says what it established, by ids and enum names.
  EXPECT_THAT(ruling.consulted[0].fact(),
              AllOf(HasSubstr(kCase), HasSubstr("HATE_CRIME")));
  EXPECT_THAT(ruling.consulted[1].fact(), HasSubstr(kFacilitator));
  EXPECT_THAT(ruling.consulted[3].fact(), HasSubstr("PREPARING"));
  EXPECT_THAT(ruling.consulted[4].fact(),
              AllOf(HasSubstr(kAssessment), HasSubstr("LETTER_DELIVERY")));
  EXPECT_THAT(ruling.consulted[6].fact(),
              AllOf(HasSubstr(kVictim), HasSubstr("PARTICIPATE")));
  EXPECT_THAT(ruling.consulted[7].fact(),
              AllOf(HasSubstr(kVictim), HasSubstr("RECEIVE_LETTER")));
  EXPECT_THAT(ruling.consulted[8].fact(),
              AllOf(HasSubstr(kServiceUser), HasSubstr("RECEIVE_LETTER")));
  CheckWellFormed(facts, Ask(common_v1::LETTER_DELIVERY), ruling);
}

// A refusal cites what refused it: the lapsing change of stage, the
// erasure, an acknowledgement that says no.
TEST(ContactRuleConsultedTest, RefusalCitesTheFactsThatRefused) {
  CaseFacts facts = Approvable();
  Lapse(facts);
  Erase(facts, kVictim);
  AcknowledgedNot(facts);
  const ContactRuling ruling = DecideContactRule(facts, Ask(common_v1::APPROACH_VICTIM));
  EXPECT_EQ(Reasons(ruling),
            (std::vector<R>{{consent_v1::RESPONSIBILITY_NOT_ACKNOWLEDGED},
                            {consent_v1::RISK_ASSESSMENT_LAPSED},
                            {consent_v1::PARTICIPANT_ERASED, kVictim}}));
  const consent_v1::ConsultedFact* lapse =
      CitationAt(ruling, consent_v1::CASE_LOG, kLaterStagePos);
  ASSERT_NE(lapse, nullptr);
  EXPECT_EQ(lapse->event_type(), "mend.case.v1.StageChanged");
  EXPECT_THAT(lapse->fact(),
              AllOf(HasSubstr("INDIRECT_CONTACT"), HasSubstr(kAssessment)));
  const consent_v1::ConsultedFact* erased =
      CitationAt(ruling, consent_v1::CASE_LOG, kVictimErasedPos);
  ASSERT_NE(erased, nullptr);
  EXPECT_EQ(erased->event_type(), "mend.case.v1.ParticipantErased");
  const consent_v1::ConsultedFact* ack =
      CitationAt(ruling, consent_v1::CASE_LOG, kAckPos);
  ASSERT_NE(ack, nullptr);
  EXPECT_THAT(ack->fact(), HasSubstr("not"));
  // The lapsed assessment itself was consulted too.
  EXPECT_NE(CitationAt(ruling, consent_v1::CASE_LOG, kRiskRecordedPos), nullptr);
}

// Sorted by source first: every case-log fact before every consent-log fact,
// and the same number in both logs is two facts.
TEST(ContactRuleConsultedTest, SortedBySourceThenPosition) {
  CaseFacts facts = Approvable();
  facts.consents.clear();
  Give(facts, kServiceUser, consent_v1::PARTICIPATE);  // 101
  Give(facts, kVictim, consent_v1::PARTICIPATE);       // 102
  // Renumber the consents below and onto the case-log positions.
  facts.consents[kServiceUser][consent_v1::PARTICIPATE].back().position = kAckPos;
  facts.consents[kVictim][consent_v1::PARTICIPATE].back().position = 2;

  const ContactRuling ruling = DecideContactRule(facts, Ask(common_v1::APPROACH_VICTIM));
  ASSERT_EQ(ruling.outcome, consent_v1::APPROVED);
  const std::string recorded = kConsentRecordedType;
  EXPECT_THAT(
      Consulted(ruling),
      ElementsAre(
          Cited{consent_v1::CASE_LOG, kReferralPos, "mend.case.v1.CaseReferred"},
          Cited{consent_v1::CASE_LOG, kAllocationPos,
                "mend.case.v1.FacilitatorAllocated"},
          Cited{consent_v1::CASE_LOG, kAckPos, "mend.case.v1.AcknowledgementRecorded"},
          Cited{consent_v1::CASE_LOG, kStagePos, "mend.case.v1.StageChanged"},
          Cited{consent_v1::CASE_LOG, kRiskRecordedPos,
                "mend.case.v1.RiskAssessmentRecorded"},
          Cited{consent_v1::CONSENT_LOG, 2, recorded},
          Cited{consent_v1::CONSENT_LOG, kAckPos, recorded}));
}

// Nothing recorded is nothing cited (and nothing crashes).
TEST(ContactRuleConsultedTest, AbsentFactsAreNotCited) {
  CaseFacts facts = Approvable();
  NoAcknowledgement(facts);
  NoRiskAssessment(facts);
  ReleaseFacilitator(facts);
  facts.consents.clear();
  const ContactRuling ruling = DecideContactRule(facts, Ask(common_v1::APPROACH_VICTIM));
  EXPECT_THAT(
      Consulted(ruling),
      ElementsAre(Cited{consent_v1::CASE_LOG, kReferralPos, "mend.case.v1.CaseReferred"},
                  Cited{consent_v1::CASE_LOG, kStagePos, "mend.case.v1.StageChanged"}));
}

// ----- Determinism, bad input, versions --------------------------------------

TEST(ContactRuleTest, SameInputGivesIdenticalBytes) {
  for (const Row& row : AllRows()) {
    SCOPED_TRACE(row.name);
    CaseFacts a = Approvable(row.category);
    ContactQuestion qa = Ask(row.kind);
    row.change(a, qa);
    CaseFacts b = Approvable(row.category);
    ContactQuestion qb = Ask(row.kind);
    row.change(b, qb);
    const std::string first = Serialized(DecideContactRule(a, qa));
    EXPECT_EQ(Serialized(DecideContactRule(a, qa)), first);
    EXPECT_EQ(Serialized(DecideContactRule(b, qb)), first);
  }
}

TEST(ContactRuleTest, NeverApprovesOnBadInput) {
  // A case never observed: no crash, refused.
  const CaseFacts unknown;
  ContactRuling ruling = DecideContactRule(unknown, Ask(common_v1::LETTER_DELIVERY));
  EXPECT_EQ(ruling.outcome, consent_v1::REFUSED);
  EXPECT_THAT(ruling.consulted, IsEmpty());
  // No kind.
  ruling = DecideContactRule(Approvable(), Ask(common_v1::CONTACT_KIND_UNSPECIFIED));
  EXPECT_EQ(ruling.outcome, consent_v1::REFUSED);
  EXPECT_THAT(Reasons(ruling),
              ::testing::Contains(R{consent_v1::RISK_ASSESSMENT_DISALLOWS_KIND}));
  // Parties that are not in the case.
  ContactQuestion q = Ask(common_v1::LETTER_DELIVERY);
  q.victim_id = "nobody";
  q.service_user_id = "";
  ruling = DecideContactRule(Approvable(), q);
  EXPECT_EQ(ruling.outcome, consent_v1::REFUSED);
  CheckWellFormed(Approvable(), q, ruling);
}

TEST(FindContactRuleTest, KnowsOnlyItsOwnVersion) {
  EXPECT_EQ(std::string(kContactPolicyVersion), "contact-gate/1");
  const ContactRule rule = FindContactRule(kContactPolicyVersion);
  ASSERT_NE(rule, nullptr);
  EXPECT_EQ(rule, &DecideContactRule);
  CaseFacts facts = Approvable();
  Withdraw(facts, kVictim, {consent_v1::SHUTTLE});
  EXPECT_EQ(Serialized(rule(facts, Ask(common_v1::SHUTTLE_MESSAGE))),
            Serialized(DecideContactRule(facts, Ask(common_v1::SHUTTLE_MESSAGE))));
  EXPECT_EQ(FindContactRule("contact-gate/2"), nullptr);
  EXPECT_EQ(FindContactRule("contact-gate/1 "), nullptr);
  EXPECT_EQ(FindContactRule(""), nullptr);
}

// ----- ResolveParties -------------------------------------------------------

TEST(ResolvePartiesTest, EmptyVictimIdMeansTheOnlyVictim) {
  const absl::StatusOr<ContactParties> parties = ResolveParties(Approvable(), "");
  ASSERT_TRUE(parties.ok()) << parties.status();
  EXPECT_EQ(parties->victim_id, kVictim);
  EXPECT_EQ(parties->service_user_id, kServiceUser);
}

TEST(ResolvePartiesTest, NamedVictimOrCoVictim) {
  CaseFacts facts = Approvable();
  facts.case_state.participants.push_back(Person("v2", case_v1::CO_VICTIM));
  absl::StatusOr<ContactParties> parties = ResolveParties(facts, kVictim);
  ASSERT_TRUE(parties.ok()) << parties.status();
  EXPECT_EQ(parties->victim_id, kVictim);
  parties = ResolveParties(facts, "v2");
  ASSERT_TRUE(parties.ok()) << parties.status();
  EXPECT_EQ(parties->victim_id, "v2");
  EXPECT_EQ(parties->service_user_id, kServiceUser);
}

TEST(ResolvePartiesTest, SeveralVictimsMustBeNamed) {
  CaseFacts facts = Approvable();
  facts.case_state.participants.push_back(Person("v2", case_v1::CO_VICTIM));
  const absl::StatusOr<ContactParties> parties = ResolveParties(facts, "");
  EXPECT_THAT(parties, StatusIs(absl::StatusCode::kFailedPrecondition));
  EXPECT_THAT(std::string(parties.status().message()),
              AllOf(HasSubstr("v1"), HasSubstr("v2"), Not(HasSubstr(kSecret))));
}

TEST(ResolvePartiesTest, UnknownParticipantIsNotFound) {
  const absl::StatusOr<ContactParties> parties = ResolveParties(Approvable(), "v9");
  EXPECT_THAT(parties, StatusIs(absl::StatusCode::kNotFound));
  EXPECT_THAT(std::string(parties.status().message()), HasSubstr("v9"));
}

TEST(ResolvePartiesTest, NonVictimIsInvalidArgument) {
  CaseFacts facts = Approvable();
  facts.case_state.participants.push_back(Person("sup1", case_v1::SUPPORTER));
  for (const std::string id : {kServiceUser, "sup1"}) {
    SCOPED_TRACE(id);
    const absl::StatusOr<ContactParties> parties = ResolveParties(facts, id);
    EXPECT_THAT(parties, StatusIs(absl::StatusCode::kInvalidArgument));
    EXPECT_THAT(std::string(parties.status().message()), HasSubstr(id));
  }
}

// The rule, not the resolution, refuses an erased victim.
TEST(ResolvePartiesTest, ErasedVictimIsReturned) {
  CaseFacts facts = Approvable();
  Erase(facts, kVictim);
  for (std::string_view id : {std::string_view(""), std::string_view(kVictim)}) {
    const absl::StatusOr<ContactParties> parties = ResolveParties(facts, id);
    ASSERT_TRUE(parties.ok()) << parties.status();
    EXPECT_EQ(parties->victim_id, kVictim);
  }
}

TEST(ResolvePartiesTest, CaseWithoutVictimsOrNotObserved) {
  CaseFacts facts = Approvable();
  facts.case_state.participants = {Person(kServiceUser, case_v1::SERVICE_USER)};
  EXPECT_THAT(ResolveParties(facts, ""), StatusIs(absl::StatusCode::kFailedPrecondition));
  EXPECT_THAT(ResolveParties(CaseFacts{}, ""), StatusIs(absl::StatusCode::kNotFound));
  EXPECT_THAT(ResolveParties(CaseFacts{}, kVictim),
              StatusIs(absl::StatusCode::kNotFound));
}

}  // namespace
}  // namespace mend::consentsvc
