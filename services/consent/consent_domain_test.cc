// Domain tests of the consent service: the facts folded by Evolve from real
// serialized events, and the RecordConsent / WithdrawConsent decisions on
// them, without gRPC or RocksDB. ConsentStream plays the consent log: it
// wraps case events as CaseEventObserved (at case-log positions, in the case
// command that recorded them), gives every event a consent-log position and
// stream version, folds it and keeps the stored form for replay.
#include <cstdint>
#include <map>
#include <optional>
#include <string>
#include <utility>
#include <vector>

#include "absl/status/status.h"
#include "absl/strings/str_cat.h"
#include "gmock/gmock.h"
#include "google/protobuf/util/message_differencer.h"
#include "gtest/gtest.h"
#include "services/consent/consent_decide.h"
#include "services/consent/consent_state.h"
#include "tests/support/test_util.h"

namespace mend::consentsvc {
namespace {

using ::google::protobuf::util::MessageDifferencer;
using ::mend::testing::IsOk;
using ::mend::testing::StatusIs;
using ::testing::ElementsAre;
using ::testing::HasSubstr;
using ::testing::IsNull;
using ::testing::NotNull;
using ::testing::Optional;
using ::testing::SizeIs;

constexpr char kCaseId[] = "c1";
constexpr int64_t kCaseEpochMicros = 1'700'000'000'000'000;
constexpr int64_t kConsentEpochMicros = 1'800'000'000'000'000;

MATCHER_P(EqualsProto, expected, "equals the expected message") {
  std::string diff;
  MessageDifferencer differencer;
  differencer.ReportDifferencesToString(&diff);
  if (differencer.Compare(expected, arg)) return true;
  *result_listener << diff;
  return false;
}

CommandContext Manager() { return {"m1", Role::kManager}; }
CommandContext Facilitator() { return {"f1", Role::kFacilitator}; }  // allocated
CommandContext OtherFacilitator() { return {"f9", Role::kFacilitator}; }
CommandContext Auditor() { return {"a1", Role::kAuditor}; }
CommandContext Service() { return {"conference", Role::kService}; }

template <typename T>
std::string TypeOf() {
  return T::descriptor()->full_name();
}

FactRef CaseRef(uint64_t position, const std::string& type) {
  return {consent_v1::CASE_LOG, position, type};
}

// ---------------------------------------------------------------------------
// Case events, as the case service records them (sealed fields left empty:
// the consent log never holds them).

case_v1::Participant Person(const std::string& id, case_v1::ParticipantRole role) {
  case_v1::Participant p;
  p.set_participant_id(id);
  p.set_role(role);
  return p;
}

case_v1::CaseReferred Referred(case_v1::OffenceCategory category) {
  case_v1::CaseReferred e;
  e.set_case_id(kCaseId);
  e.set_reference("RJ-2026-000123");
  e.set_source(case_v1::PROBATION_OFFICER);
  e.set_referral_date("2026-01-15");
  e.set_offence_category(category);
  e.set_sensitive(IsSensitiveCategory(category));
  *e.add_participants() = Person("su1", case_v1::SERVICE_USER);
  *e.add_participants() = Person("v1", case_v1::VICTIM);
  e.set_referred_by("m1");
  return e;
}

case_v1::ParticipantAdded Added(const std::string& id, case_v1::ParticipantRole role) {
  case_v1::ParticipantAdded e;
  e.set_case_id(kCaseId);
  *e.mutable_participant() = Person(id, role);
  return e;
}

case_v1::StageChanged Stage(case_v1::Stage from, case_v1::Stage to) {
  case_v1::StageChanged e;
  e.set_case_id(kCaseId);
  e.set_from(from);
  e.set_to(to);
  return e;
}

case_v1::AcknowledgementRecorded Acknowledgement(bool acknowledged) {
  case_v1::AcknowledgementRecorded e;
  e.set_case_id(kCaseId);
  e.set_acknowledged(acknowledged);
  e.set_recorded_by("m1");
  return e;
}

case_v1::SuitabilityRecorded Suitable() {
  case_v1::SuitabilityRecorded e;
  e.set_case_id(kCaseId);
  e.set_suitable(true);
  e.set_recorded_by("m1");
  return e;
}

case_v1::FacilitatorAllocated Allocated(const std::string& facilitator) {
  case_v1::FacilitatorAllocated e;
  e.set_case_id(kCaseId);
  e.set_facilitator_id(facilitator);
  e.set_allocated_by("m1");
  return e;
}

case_v1::FacilitatorReleased Released(const std::string& facilitator) {
  case_v1::FacilitatorReleased e;
  e.set_case_id(kCaseId);
  e.set_facilitator_id(facilitator);
  e.set_released_by("m1");
  return e;
}

case_v1::RiskAssessmentRecorded Assessment(const std::string& id, bool requires_approval,
                                           const std::string& supersedes = "") {
  case_v1::RiskAssessmentRecorded e;
  e.set_case_id(kCaseId);
  e.set_assessment_id(id);
  e.set_assessor_id("f1");
  e.set_level(case_v1::MEDIUM);
  e.add_allowed_kinds(common_v1::APPROACH_VICTIM);
  e.add_allowed_kinds(common_v1::LETTER_DELIVERY);
  e.set_review_date("2026-03-01");
  e.set_requires_approval(requires_approval);
  e.set_supersedes_assessment_id(supersedes);
  return e;
}

case_v1::RiskAssessmentApproved Approval(const std::string& id) {
  case_v1::RiskAssessmentApproved e;
  e.set_case_id(kCaseId);
  e.set_assessment_id(id);
  e.set_approved_by("m1");
  return e;
}

case_v1::CasePaused Paused() {
  case_v1::CasePaused e;
  e.set_case_id(kCaseId);
  e.set_reason("victim in hospital");
  e.set_paused_by("m1");
  return e;
}

case_v1::CaseResumed Resumed() {
  case_v1::CaseResumed e;
  e.set_case_id(kCaseId);
  e.set_resumed_by("m1");
  return e;
}

case_v1::CaseClosed Closed() {
  case_v1::CaseClosed e;
  e.set_case_id(kCaseId);
  e.set_reason(case_v1::WITHDRAWN_BY_VICTIM);
  e.set_closed_by("m1");
  return e;
}

case_v1::ParticipantErased Erased(const std::string& participant) {
  case_v1::ParticipantErased e;
  e.set_case_id(kCaseId);
  e.set_participant_id(participant);
  e.set_requested_by("m1");
  e.set_basis(case_v1::ERASURE_REQUEST);
  e.set_reason("request ref ER-17");
  return e;
}

// ---------------------------------------------------------------------------
// Consent events and commands.

consent_v1::HowInformed Informed(
    consent_v1::InformedChannel channel = consent_v1::IN_PERSON) {
  consent_v1::HowInformed informed;
  informed.set_leaflet_version("RJ-leaflet-2026-03");
  informed.set_facilitator_present(channel == consent_v1::IN_PERSON);
  informed.set_channel(channel);
  return informed;
}

RecordConsentCommand Consent(const std::string& participant,
                             consent_v1::ConsentScope scope,
                             consent_v1::ConsentAnswer answer, bool requested = false,
                             const std::string& consent_id = "k1") {
  RecordConsentCommand c;
  c.case_id = kCaseId;
  c.consent_id = consent_id;
  c.participant_id = participant;
  c.scope = scope;
  c.answer = answer;
  c.informed = Informed();
  c.requested_by_participant = requested;
  return c;
}

WithdrawConsentCommand Withdrawal(const std::string& participant,
                                  consent_v1::ConsentScope scope) {
  WithdrawConsentCommand c;
  c.case_id = kCaseId;
  c.participant_id = participant;
  c.scope = scope;
  c.informed = Informed(consent_v1::PHONE);
  return c;
}

WithdrawConsentCommand WithdrawAll(const std::string& participant) {
  WithdrawConsentCommand c =
      Withdrawal(participant, consent_v1::CONSENT_SCOPE_UNSPECIFIED);
  c.all_scopes = true;
  return c;
}

consent_v1::ContactDecisionMade Decision(const std::string& id,
                                         consent_v1::Outcome outcome) {
  consent_v1::ContactDecisionMade d;
  d.set_decision_id(id);
  d.set_case_id(kCaseId);
  d.set_kind(common_v1::APPROACH_VICTIM);
  d.set_outcome(outcome);
  d.set_victim_id("v1");
  d.set_service_user_id("su1");
  d.set_facilitator_id("f1");
  d.set_requested_by("f1");
  d.set_requested_by_role("facilitator");
  d.set_purpose("first approach");
  d.set_policy_version("contact-gate/1");
  return d;
}

// ---------------------------------------------------------------------------

// One event as the consent log stores it.
struct StoredEvent {
  uint64_t position = 0;
  uint64_t stream_version = 0;
  std::string event_type;
  std::string payload;
  int64_t recorded_unix_micros = 0;

  ConsentLogEvent view() const {
    return {position, stream_version, event_type, payload, recorded_unix_micros};
  }
};

// The consent log of case c1, with the case log beside it. Case positions
// advance by 3 and consent positions by 2 (other cases' events lie between),
// so a fact cited at the wrong log shows.
class ConsentStream {
 public:
  // Observes the events of one case command (same correlation id), in order;
  // returns the case-log position of each.
  std::vector<uint64_t> Command(const std::string& correlation,
                                const std::vector<CaseEvent>& events) {
    std::vector<uint64_t> positions;
    for (const CaseEvent& event : events) {
      case_position_ += 3;
      consent_v1::CaseEventObserved observed;
      observed.set_case_id(CaseEventCaseId(event));
      observed.set_case_position(case_position_);
      observed.set_case_event_type(CaseEventType(event));
      observed.set_case_event_id(absl::StrCat("ce-", case_position_));
      observed.set_case_correlation_id(correlation);
      observed.set_case_recorded_unix_micros(CaseMicros());
      observed.set_case_record_hash(std::string(32, static_cast<char>(case_position_)));
      observed.set_payload(CaseEventMessage(event).SerializeAsString());
      EXPECT_THAT(Append(kCaseEventObservedType, observed.SerializeAsString()), IsOk())
          << CaseEventType(event) << " at case position " << case_position_;
      positions.push_back(case_position_);
    }
    return positions;
  }

  // Moves the case from its current stage to `to`, in its own command.
  uint64_t ChangeStage(const std::string& correlation, case_v1::Stage to) {
    return Command(correlation, {Stage(facts_.case_state.stage, to)}).front();
  }

  // Appends a consent-log event at the next position and version and folds
  // it; kept for replay only if Evolve accepts it.
  absl::Status Append(const std::string& type, const std::string& payload) {
    return AppendAt(facts_.version + 1, type, payload);
  }

  absl::Status AppendAt(uint64_t stream_version, const std::string& type,
                        const std::string& payload) {
    consent_position_ += 2;
    StoredEvent stored{consent_position_, stream_version, type, payload,
                       kConsentEpochMicros + static_cast<int64_t>(consent_position_)};
    absl::Status status = Evolve(facts_, stored.view());
    if (status.ok()) stored_.push_back(std::move(stored));
    return status;
  }

  // Appends what a decide function returned; returns its consent position.
  template <typename Event>
  uint64_t AppendDecided(const absl::StatusOr<Event>& decided) {
    EXPECT_THAT(decided, IsOk());
    if (!decided.ok()) return 0;
    EXPECT_THAT(Append(TypeOf<Event>(), decided->SerializeAsString()), IsOk());
    return consent_position_;
  }

  // A fresh fold of everything stored.
  absl::StatusOr<CaseFacts> Replay() const {
    CaseFacts facts;
    for (const StoredEvent& e : stored_) {
      if (absl::Status s = Evolve(facts, e.view()); !s.ok()) return s;
    }
    return facts;
  }

  const CaseFacts& facts() const { return facts_; }
  uint64_t consent_position() const { return consent_position_; }
  uint64_t next_consent_position() const { return consent_position_ + 2; }

 private:
  int64_t CaseMicros() const {
    return kCaseEpochMicros + static_cast<int64_t>(case_position_);
  }

  CaseFacts facts_;
  std::vector<StoredEvent> stored_;
  uint64_t case_position_ = 7;
  uint64_t consent_position_ = 1000;
};

// The case study's path to preparation, command by command (the events each
// case command appends, in order).
struct CasePositions {
  uint64_t referral = 0;
  uint64_t acknowledgement = 0;
  uint64_t allocation = 0;
  uint64_t assessment = 0;
  uint64_t assessment_stage_change = 0;  // ALLOCATED → ASSESSING, same command
  uint64_t approval = 0;
  uint64_t last_stage_change = 0;
};

CasePositions PrepareCase(ConsentStream& s, case_v1::OffenceCategory category) {
  CasePositions p;
  const bool sensitive = IsSensitiveCategory(category);
  std::vector<uint64_t> at = s.Command(
      "cmd-refer",
      {Referred(category), Stage(case_v1::STAGE_UNSPECIFIED, case_v1::REFERRED)});
  p.referral = at[0];
  at = s.Command("cmd-ack",
                 {Acknowledgement(true), Stage(case_v1::REFERRED, case_v1::SCREENING)});
  p.acknowledgement = at[0];
  s.Command("cmd-suitable", {Suitable()});
  at = s.Command("cmd-allocate",
                 {Allocated("f1"), Stage(case_v1::SCREENING, case_v1::ALLOCATED)});
  p.allocation = at[0];
  if (sensitive) {
    at = s.Command("cmd-assess", {Assessment("ra1", true),
                                  Stage(case_v1::ALLOCATED, case_v1::ASSESSING)});
    p.assessment = at[0];
    p.assessment_stage_change = at[1];
    at = s.Command("cmd-approve",
                   {Approval("ra1"), Stage(case_v1::ASSESSING, case_v1::PREPARING)});
    p.approval = at[0];
    p.last_stage_change = at[1];
  } else {
    at = s.Command("cmd-assess", {Assessment("ra1", false),
                                  Stage(case_v1::ALLOCATED, case_v1::ASSESSING),
                                  Stage(case_v1::ASSESSING, case_v1::PREPARING)});
    p.assessment = at[0];
    p.assessment_stage_change = at[1];
    p.last_stage_change = at[2];
  }
  return p;
}

// Field by field: CaseFacts has no operator==.
void ExpectSameEntries(const std::vector<ConsentEntryFacts>& a,
                       const std::vector<ConsentEntryFacts>& b) {
  ASSERT_EQ(a.size(), b.size());
  for (size_t i = 0; i < a.size(); ++i) {
    SCOPED_TRACE(absl::StrCat("entry ", i));
    EXPECT_EQ(a[i].status, b[i].status);
    EXPECT_EQ(a[i].consent_id, b[i].consent_id);
    EXPECT_THAT(a[i].informed, EqualsProto(b[i].informed));
    EXPECT_EQ(a[i].requested_by_participant, b[i].requested_by_participant);
    EXPECT_EQ(a[i].recorded_by, b[i].recorded_by);
    EXPECT_EQ(a[i].recorded_unix_micros, b[i].recorded_unix_micros);
    EXPECT_EQ(a[i].position, b[i].position);
    EXPECT_EQ(a[i].event_type, b[i].event_type);
  }
}

void ExpectSameFacts(const CaseFacts& a, const CaseFacts& b) {
  EXPECT_EQ(a.case_id, b.case_id);
  EXPECT_EQ(a.version, b.version);
  EXPECT_TRUE(a.case_state == b.case_state);
  EXPECT_EQ(a.last_case_position, b.last_case_position);
  EXPECT_EQ(a.referral, b.referral);
  EXPECT_EQ(a.allocations, b.allocations);
  EXPECT_EQ(a.acknowledgement, b.acknowledgement);
  EXPECT_EQ(a.erasures, b.erasures);
  EXPECT_EQ(a.suitability, b.suitability);
  EXPECT_EQ(a.links, b.links);
  EXPECT_EQ(a.last_stage_change, b.last_stage_change);
  EXPECT_EQ(a.risk_assessment_recorded, b.risk_assessment_recorded);
  EXPECT_EQ(a.risk_assessment_approved, b.risk_assessment_approved);
  EXPECT_EQ(a.risk_assessment_lapsed_by, b.risk_assessment_lapsed_by);
  ASSERT_EQ(a.consents.size(), b.consents.size());
  for (const auto& [participant, scopes] : a.consents) {
    SCOPED_TRACE(participant);
    auto other = b.consents.find(participant);
    ASSERT_NE(other, b.consents.end());
    ASSERT_EQ(scopes.size(), other->second.size());
    for (const auto& [scope, entries] : scopes) {
      auto other_entries = other->second.find(scope);
      ASSERT_NE(other_entries, other->second.end());
      ExpectSameEntries(entries, other_entries->second);
    }
  }
  ASSERT_EQ(a.decisions.size(), b.decisions.size());
  for (size_t i = 0; i < a.decisions.size(); ++i) {
    EXPECT_THAT(a.decisions[i].decision, EqualsProto(b.decisions[i].decision));
    EXPECT_EQ(a.decisions[i].position, b.decisions[i].position);
    EXPECT_EQ(a.decisions[i].stream_version, b.decisions[i].stream_version);
    EXPECT_EQ(a.decisions[i].decided_unix_micros, b.decisions[i].decided_unix_micros);
  }
}

std::vector<consent_v1::ConsentStatus> History(const CaseFacts& facts,
                                               const std::string& participant,
                                               consent_v1::ConsentScope scope) {
  std::vector<consent_v1::ConsentStatus> statuses;
  auto p = facts.consents.find(participant);
  if (p == facts.consents.end()) return statuses;
  auto s = p->second.find(scope);
  if (s == p->second.end()) return statuses;
  for (const ConsentEntryFacts& e : s->second) statuses.push_back(e.status);
  return statuses;
}

constexpr consent_v1::ConsentScope kSixScopes[] = {
    consent_v1::PARTICIPATE, consent_v1::RECEIVE_LETTER, consent_v1::SHUTTLE,
    consent_v1::VIDEO,       consent_v1::FACE_TO_FACE,   consent_v1::SHARE_INFORMATION};

// ===========================================================================
// Evolve: case facts from observed case events.

TEST(ConsentEvolveTest, NewFactsKnowNoCase) {
  CaseFacts facts;
  EXPECT_FALSE(facts.exists());
  EXPECT_FALSE(facts.case_known());
  EXPECT_THAT(facts.CurrentConsent("v1", consent_v1::PARTICIPATE), IsNull());
  EXPECT_THAT(facts.FindDecision("d1"), IsNull());
  EXPECT_EQ(ConsentStreamId("c1"), "consent-c1");
}

TEST(ConsentEvolveTest, CaseFactsComeFromObservedCaseEvents) {
  ConsentStream s;
  const CasePositions p = PrepareCase(s, case_v1::VIOLENCE);
  const CaseFacts& f = s.facts();

  EXPECT_TRUE(f.exists());
  EXPECT_TRUE(f.case_known());
  EXPECT_EQ(f.case_id, kCaseId);
  EXPECT_EQ(f.version, 10u);  // ten case events observed, one stream event each
  EXPECT_EQ(f.case_state.case_id, kCaseId);
  EXPECT_EQ(f.case_state.stage, case_v1::PREPARING);
  EXPECT_EQ(f.case_state.offence_category, case_v1::VIOLENCE);
  EXPECT_FALSE(f.case_state.sensitive);
  EXPECT_EQ(f.last_case_position, p.last_stage_change);
  EXPECT_EQ(f.case_state.last_stage_change_position, p.last_stage_change);

  const ObservedParticipant* su = f.case_state.FindParticipant("su1");
  const ObservedParticipant* victim = f.case_state.FindParticipant("v1");
  ASSERT_THAT(su, NotNull());
  ASSERT_THAT(victim, NotNull());
  EXPECT_EQ(su->role, case_v1::SERVICE_USER);
  EXPECT_EQ(victim->role, case_v1::VICTIM);
  EXPECT_EQ(victim->added_position, p.referral);  // a case-log position
  EXPECT_TRUE(f.case_state.IsAllocated("f1"));
  EXPECT_EQ(f.case_state.acknowledged, std::optional<bool>(true));

  EXPECT_THAT(f.referral, Optional(CaseRef(p.referral, TypeOf<case_v1::CaseReferred>())));
  EXPECT_EQ(f.allocations,
            (std::map<std::string, FactRef>{
                {"f1", CaseRef(p.allocation, TypeOf<case_v1::FacilitatorAllocated>())}}));
  EXPECT_THAT(
      f.acknowledgement,
      Optional(CaseRef(p.acknowledgement, TypeOf<case_v1::AcknowledgementRecorded>())));
  EXPECT_THAT(f.last_stage_change,
              Optional(CaseRef(p.last_stage_change, TypeOf<case_v1::StageChanged>())));
  EXPECT_THAT(f.risk_assessment_recorded,
              Optional(CaseRef(p.assessment, TypeOf<case_v1::RiskAssessmentRecorded>())));
  EXPECT_EQ(f.risk_assessment_approved, std::nullopt);
  EXPECT_EQ(f.risk_assessment_lapsed_by, std::nullopt);
  EXPECT_TRUE(f.erasures.empty());
  EXPECT_TRUE(f.consents.empty());
  EXPECT_TRUE(f.decisions.empty());
}

TEST(ConsentEvolveTest, AllocationsFollowAllocateAndRelease) {
  ConsentStream s;
  PrepareCase(s, case_v1::VIOLENCE);
  const uint64_t f2 = s.Command("cmd-allocate-2", {Allocated("f2")}).front();
  EXPECT_EQ(s.facts().allocations.at("f2"),
            CaseRef(f2, TypeOf<case_v1::FacilitatorAllocated>()));
  s.Command("cmd-release", {Released("f1")});
  EXPECT_FALSE(s.facts().case_state.IsAllocated("f1"));
  EXPECT_EQ(s.facts().allocations.count("f1"), 0u);
  EXPECT_EQ(s.facts().allocations.size(), 1u);
}

TEST(ConsentEvolveTest, AcknowledgementIsTheLatestRecording) {
  ConsentStream s;
  PrepareCase(s, case_v1::VIOLENCE);
  const uint64_t withdrawn = s.Command("cmd-ack-2", {Acknowledgement(false)}).front();
  EXPECT_THAT(s.facts().acknowledgement,
              Optional(CaseRef(withdrawn, TypeOf<case_v1::AcknowledgementRecorded>())));
  EXPECT_EQ(s.facts().case_state.acknowledged, std::optional<bool>(false));
}

TEST(ConsentEvolveTest, ParticipantsAddedLaterAndErasuresAreKnown) {
  ConsentStream s;
  PrepareCase(s, case_v1::VIOLENCE);
  const uint64_t added = s.Command("cmd-add", {Added("v2", case_v1::CO_VICTIM)}).front();
  ASSERT_THAT(s.facts().case_state.FindParticipant("v2"), NotNull());
  EXPECT_EQ(s.facts().case_state.FindParticipant("v2")->added_position, added);

  s.Command("cmd-close", {Closed(), Stage(case_v1::PREPARING, case_v1::CLOSED)});
  EXPECT_EQ(s.facts().case_state.stage, case_v1::CLOSED);
  const uint64_t erased = s.Command("cmd-erase", {Erased("v1")}).front();
  EXPECT_TRUE(s.facts().case_state.FindParticipant("v1")->erased);
  EXPECT_EQ(s.facts().erasures,
            (std::map<std::string, FactRef>{
                {"v1", CaseRef(erased, TypeOf<case_v1::ParticipantErased>())}}));
}

// ===========================================================================
// Evolve: the risk assessment lapse rule (consent_state.h, "Lapse").

TEST(ConsentLapseTest, TheMovesThatCompleteTheAssessmentDoNotLapse) {
  ConsentStream s;
  const CasePositions p = PrepareCase(s, case_v1::VIOLENCE);
  // cmd-assess moved the case ALLOCATED → ASSESSING → PREPARING itself.
  EXPECT_EQ(s.facts().last_stage_change->position, p.last_stage_change);
  EXPECT_GT(p.last_stage_change, p.assessment);
  EXPECT_EQ(s.facts().risk_assessment_lapsed_by, std::nullopt);
}

TEST(ConsentLapseTest, StageChangeOfTheApprovingCommandDoesNotLapse) {
  ConsentStream s;
  const CasePositions p = PrepareCase(s, case_v1::DOMESTIC_ABUSE);
  EXPECT_TRUE(s.facts().case_state.sensitive);
  EXPECT_THAT(s.facts().risk_assessment_recorded,
              Optional(CaseRef(p.assessment, TypeOf<case_v1::RiskAssessmentRecorded>())));
  EXPECT_THAT(s.facts().risk_assessment_approved,
              Optional(CaseRef(p.approval, TypeOf<case_v1::RiskAssessmentApproved>())));
  EXPECT_EQ(s.facts().risk_assessment_lapsed_by, std::nullopt);
  EXPECT_EQ(s.facts().case_state.stage, case_v1::PREPARING);
}

TEST(ConsentLapseTest, ALaterStageChangeLapsesAndTheFirstIsKept) {
  ConsentStream s;
  PrepareCase(s, case_v1::VIOLENCE);
  const std::vector<uint64_t> pause =
      s.Command("cmd-pause", {Paused(), Stage(case_v1::PREPARING, case_v1::PAUSED)});
  const FactRef lapse = CaseRef(pause[1], TypeOf<case_v1::StageChanged>());
  EXPECT_THAT(s.facts().risk_assessment_lapsed_by, Optional(lapse));

  const std::vector<uint64_t> resume =
      s.Command("cmd-resume", {Resumed(), Stage(case_v1::PAUSED, case_v1::PREPARING)});
  EXPECT_THAT(s.facts().risk_assessment_lapsed_by, Optional(lapse));  // still the first
  EXPECT_THAT(s.facts().last_stage_change,
              Optional(CaseRef(resume[1], TypeOf<case_v1::StageChanged>())));
}

TEST(ConsentLapseTest, AMoveToALaterStageLapses) {
  ConsentStream s;
  PrepareCase(s, case_v1::VIOLENCE);
  const uint64_t moved = s.ChangeStage("cmd-indirect", case_v1::INDIRECT_CONTACT);
  EXPECT_THAT(s.facts().risk_assessment_lapsed_by,
              Optional(CaseRef(moved, TypeOf<case_v1::StageChanged>())));
}

TEST(ConsentLapseTest, AStageChangeWithNoCorrelationLapses) {
  ConsentStream s;
  PrepareCase(s, case_v1::VIOLENCE);
  const uint64_t moved = s.ChangeStage("", case_v1::INDIRECT_CONTACT);
  EXPECT_THAT(s.facts().risk_assessment_lapsed_by,
              Optional(CaseRef(moved, TypeOf<case_v1::StageChanged>())));
}

TEST(ConsentLapseTest, ANewAssessmentStartsAfresh) {
  ConsentStream s;
  PrepareCase(s, case_v1::DOMESTIC_ABUSE);
  s.Command("cmd-pause", {Paused(), Stage(case_v1::PREPARING, case_v1::PAUSED)});
  s.Command("cmd-resume", {Resumed(), Stage(case_v1::PAUSED, case_v1::PREPARING)});
  ASSERT_TRUE(s.facts().risk_assessment_lapsed_by.has_value());
  ASSERT_TRUE(s.facts().risk_assessment_approved.has_value());

  const uint64_t ra2 =
      s.Command("cmd-assess-2", {Assessment("ra2", true, "ra1")}).front();
  EXPECT_THAT(s.facts().risk_assessment_recorded,
              Optional(CaseRef(ra2, TypeOf<case_v1::RiskAssessmentRecorded>())));
  EXPECT_EQ(s.facts().risk_assessment_lapsed_by, std::nullopt);
  EXPECT_EQ(s.facts().risk_assessment_approved, std::nullopt);  // not ra1's approval

  const uint64_t approved = s.Command("cmd-approve-2", {Approval("ra2")}).front();
  EXPECT_THAT(s.facts().risk_assessment_approved,
              Optional(CaseRef(approved, TypeOf<case_v1::RiskAssessmentApproved>())));
  EXPECT_EQ(s.facts().risk_assessment_lapsed_by, std::nullopt);
}

TEST(ConsentLapseTest, TheMoveIntoPreparingByALaterCommandDoesNotLapse) {
  // Assessed before the acknowledgement: the acknowledgement's command is
  // the one that completes preparation, and that move completes the
  // assessment rather than lapsing it.
  ConsentStream s;
  s.Command("cmd-refer", {Referred(case_v1::VIOLENCE),
                          Stage(case_v1::STAGE_UNSPECIFIED, case_v1::REFERRED)});
  s.Command("cmd-suitable", {Suitable(), Stage(case_v1::REFERRED, case_v1::SCREENING)});
  s.Command("cmd-allocate",
            {Allocated("f1"), Stage(case_v1::SCREENING, case_v1::ALLOCATED)});
  s.Command("cmd-assess",
            {Assessment("ra1", false), Stage(case_v1::ALLOCATED, case_v1::ASSESSING)});
  s.Command("cmd-ack",
            {Acknowledgement(true), Stage(case_v1::ASSESSING, case_v1::PREPARING)});
  EXPECT_EQ(s.facts().case_state.stage, case_v1::PREPARING);
  EXPECT_EQ(s.facts().risk_assessment_lapsed_by, std::nullopt);
}

TEST(ConsentLapseTest, AnAssessmentRecordedWhilePausedSurvivesTheResume) {
  ConsentStream s;
  PrepareCase(s, case_v1::VIOLENCE);
  s.Command("cmd-pause", {Paused(), Stage(case_v1::PREPARING, case_v1::PAUSED)});
  ASSERT_TRUE(s.facts().risk_assessment_lapsed_by.has_value());
  s.Command("cmd-assess-2", {Assessment("ra2", false, "ra1")});
  EXPECT_EQ(s.facts().risk_assessment_lapsed_by, std::nullopt);
  s.Command("cmd-resume", {Resumed(), Stage(case_v1::PAUSED, case_v1::PREPARING)});
  EXPECT_EQ(s.facts().risk_assessment_lapsed_by, std::nullopt);
  // The next stage is a new one: reviewed again.
  const uint64_t moved = s.ChangeStage("cmd-indirect", case_v1::INDIRECT_CONTACT);
  EXPECT_THAT(s.facts().risk_assessment_lapsed_by,
              Optional(CaseRef(moved, TypeOf<case_v1::StageChanged>())));
}

TEST(ConsentLapseTest, ApprovingALapsedAssessmentDoesNotReviveIt) {
  ConsentStream s;
  s.Command("cmd-refer", {Referred(case_v1::SEXUAL_OFFENCE),
                          Stage(case_v1::STAGE_UNSPECIFIED, case_v1::REFERRED)});
  s.Command("cmd-ack",
            {Acknowledgement(true), Stage(case_v1::REFERRED, case_v1::SCREENING)});
  s.Command("cmd-suitable", {Suitable()});
  s.Command("cmd-allocate",
            {Allocated("f1"), Stage(case_v1::SCREENING, case_v1::ALLOCATED)});
  s.Command("cmd-assess",
            {Assessment("ra1", true), Stage(case_v1::ALLOCATED, case_v1::ASSESSING)});
  ASSERT_EQ(s.facts().risk_assessment_lapsed_by, std::nullopt);

  // Paused and resumed before the manager approved: the assessment lapsed.
  const std::vector<uint64_t> pause =
      s.Command("cmd-pause", {Paused(), Stage(case_v1::ASSESSING, case_v1::PAUSED)});
  s.Command("cmd-resume", {Resumed(), Stage(case_v1::PAUSED, case_v1::ASSESSING)});
  const FactRef lapse = CaseRef(pause[1], TypeOf<case_v1::StageChanged>());
  ASSERT_THAT(s.facts().risk_assessment_lapsed_by, Optional(lapse));

  const std::vector<uint64_t> approve = s.Command(
      "cmd-approve", {Approval("ra1"), Stage(case_v1::ASSESSING, case_v1::PREPARING)});
  EXPECT_THAT(s.facts().risk_assessment_approved,
              Optional(CaseRef(approve[0], TypeOf<case_v1::RiskAssessmentApproved>())));
  EXPECT_THAT(s.facts().risk_assessment_lapsed_by, Optional(lapse));
}

// ===========================================================================
// Evolve: consents, withdrawals and decisions.

TEST(ConsentEvolveTest, HistoryIsInOrderAndTheLastIsCurrent) {
  ConsentStream s;
  PrepareCase(s, case_v1::VIOLENCE);
  const uint64_t declined = s.AppendDecided(DecideRecordConsent(
      s.facts(),
      Consent("v1", consent_v1::PARTICIPATE, consent_v1::DECLINED, false, "k1"),
      Facilitator()));
  const uint64_t given = s.AppendDecided(DecideRecordConsent(
      s.facts(), Consent("v1", consent_v1::PARTICIPATE, consent_v1::GIVEN, false, "k2"),
      Manager()));

  EXPECT_THAT(
      History(s.facts(), "v1", consent_v1::PARTICIPATE),
      ElementsAre(consent_v1::CONSENT_STATUS_DECLINED, consent_v1::CONSENT_STATUS_GIVEN));
  const ConsentEntryFacts* current =
      s.facts().CurrentConsent("v1", consent_v1::PARTICIPATE);
  ASSERT_THAT(current, NotNull());
  EXPECT_EQ(current->status, consent_v1::CONSENT_STATUS_GIVEN);
  EXPECT_EQ(current->consent_id, "k2");
  EXPECT_EQ(current->recorded_by, "m1");
  EXPECT_EQ(current->position, given);
  EXPECT_EQ(current->event_type, kConsentRecordedType);
  EXPECT_EQ(current->recorded_unix_micros,
            kConsentEpochMicros + static_cast<int64_t>(given));
  EXPECT_THAT(current->informed, EqualsProto(Informed()));
  EXPECT_EQ(current->ref(),
            (FactRef{consent_v1::CONSENT_LOG, given, kConsentRecordedType}));

  const ConsentEntryFacts& first =
      s.facts().consents.at("v1").at(consent_v1::PARTICIPATE)[0];
  EXPECT_EQ(first.position, declined);
  EXPECT_EQ(first.consent_id, "k1");
  EXPECT_EQ(first.recorded_by, "f1");

  // Other scopes and people: never answered.
  EXPECT_THAT(s.facts().CurrentConsent("v1", consent_v1::RECEIVE_LETTER), IsNull());
  EXPECT_THAT(s.facts().CurrentConsent("su1", consent_v1::PARTICIPATE), IsNull());
  EXPECT_THAT(s.facts().CurrentConsent("nobody", consent_v1::PARTICIPATE), IsNull());
}

TEST(ConsentEvolveTest, WithdrawalIsAnEntryOnEachScopeItNames) {
  ConsentStream s;
  PrepareCase(s, case_v1::VIOLENCE);
  s.AppendDecided(DecideRecordConsent(
      s.facts(), Consent("v1", consent_v1::RECEIVE_LETTER, consent_v1::GIVEN),
      Facilitator()));
  const uint64_t one = s.AppendDecided(DecideWithdrawConsent(
      s.facts(), Withdrawal("v1", consent_v1::RECEIVE_LETTER), Facilitator()));
  EXPECT_THAT(History(s.facts(), "v1", consent_v1::RECEIVE_LETTER),
              ElementsAre(consent_v1::CONSENT_STATUS_GIVEN,
                          consent_v1::CONSENT_STATUS_WITHDRAWN));
  const ConsentEntryFacts* current =
      s.facts().CurrentConsent("v1", consent_v1::RECEIVE_LETTER);
  ASSERT_THAT(current, NotNull());
  EXPECT_EQ(current->ref(),
            (FactRef{consent_v1::CONSENT_LOG, one, kConsentWithdrawnType}));
  EXPECT_EQ(current->consent_id, "");
  EXPECT_THAT(current->informed, EqualsProto(Informed(consent_v1::PHONE)));
  EXPECT_THAT(s.facts().CurrentConsent("v1", consent_v1::PARTICIPATE), IsNull());

  const uint64_t all =
      s.AppendDecided(DecideWithdrawConsent(s.facts(), WithdrawAll("v1"), Manager()));
  for (consent_v1::ConsentScope scope : kSixScopes) {
    SCOPED_TRACE(consent_v1::ConsentScope_Name(scope));
    const ConsentEntryFacts* c = s.facts().CurrentConsent("v1", scope);
    ASSERT_THAT(c, NotNull());
    EXPECT_EQ(c->status, consent_v1::CONSENT_STATUS_WITHDRAWN);
    EXPECT_EQ(c->position, all);
    EXPECT_EQ(c->recorded_by, "m1");
  }
  EXPECT_THAT(History(s.facts(), "v1", consent_v1::RECEIVE_LETTER), SizeIs(3));
  EXPECT_THAT(History(s.facts(), "v1", consent_v1::VIDEO), SizeIs(1));
  EXPECT_THAT(s.facts().CurrentConsent("su1", consent_v1::PARTICIPATE), IsNull());
}

TEST(ConsentEvolveTest, DecisionsAreKeptInOrderAndFound) {
  ConsentStream s;
  PrepareCase(s, case_v1::VIOLENCE);
  ASSERT_THAT(s.Append(kContactDecisionMadeType,
                       Decision("d1", consent_v1::REFUSED).SerializeAsString()),
              IsOk());
  const uint64_t d1 = s.consent_position();
  ASSERT_THAT(s.Append(kContactDecisionMadeType,
                       Decision("d2", consent_v1::APPROVED).SerializeAsString()),
              IsOk());
  const uint64_t d2 = s.consent_position();

  ASSERT_THAT(s.facts().decisions, SizeIs(2));
  EXPECT_EQ(s.facts().decisions[0].decision.decision_id(), "d1");
  EXPECT_EQ(s.facts().decisions[1].decision.decision_id(), "d2");
  const DecisionRecord* found = s.facts().FindDecision("d2");
  ASSERT_THAT(found, NotNull());
  EXPECT_EQ(found->position, d2);
  EXPECT_EQ(found->stream_version, s.facts().version);
  EXPECT_EQ(found->decided_unix_micros, kConsentEpochMicros + static_cast<int64_t>(d2));
  EXPECT_THAT(found->decision, EqualsProto(Decision("d2", consent_v1::APPROVED)));
  EXPECT_EQ(s.facts().FindDecision("d1")->position, d1);
  EXPECT_THAT(s.facts().FindDecision("d3"), IsNull());
}

TEST(ConsentEvolveTest, FoldingTheSameEventsTwiceGivesEqualFacts) {
  ConsentStream s;
  PrepareCase(s, case_v1::DOMESTIC_ABUSE);
  s.AppendDecided(DecideRecordConsent(
      s.facts(), Consent("v1", consent_v1::PARTICIPATE, consent_v1::DECLINED),
      Facilitator()));
  s.AppendDecided(DecideRecordConsent(
      s.facts(), Consent("v1", consent_v1::PARTICIPATE, consent_v1::GIVEN, true, "k2"),
      Facilitator()));
  s.AppendDecided(DecideRecordConsent(
      s.facts(), Consent("su1", consent_v1::FACE_TO_FACE, consent_v1::GIVEN, false, "k3"),
      Facilitator()));
  ASSERT_THAT(s.Append(kContactDecisionMadeType,
                       Decision("d1", consent_v1::APPROVED).SerializeAsString()),
              IsOk());
  s.Command("cmd-pause", {Paused(), Stage(case_v1::PREPARING, case_v1::PAUSED)});
  s.AppendDecided(DecideWithdrawConsent(s.facts(), WithdrawAll("su1"), Manager()));
  s.Command("cmd-close", {Closed(), Stage(case_v1::PAUSED, case_v1::CLOSED)});
  s.Command("cmd-erase", {Erased("su1")});

  absl::StatusOr<CaseFacts> first = s.Replay();
  absl::StatusOr<CaseFacts> second = s.Replay();
  ASSERT_THAT(first, IsOk());
  ASSERT_THAT(second, IsOk());
  {
    SCOPED_TRACE("replay vs replay");
    ExpectSameFacts(*first, *second);
  }
  {
    SCOPED_TRACE("replay vs the facts folded as the events were appended");
    ExpectSameFacts(*first, s.facts());
  }
  EXPECT_EQ(first->version, 21u);
}

// ===========================================================================
// Evolve: DATA_LOSS.

TEST(ConsentEvolveDataLossTest, StreamVersionMustBeTheNext) {
  ConsentStream s;
  PrepareCase(s, case_v1::VIOLENCE);
  const std::string payload = Decision("d1", consent_v1::REFUSED).SerializeAsString();
  const uint64_t version = s.facts().version;
  for (uint64_t wrong : {version, version + 2, uint64_t{0}}) {
    SCOPED_TRACE(wrong);
    const uint64_t position = s.next_consent_position();
    const absl::Status st = s.AppendAt(wrong, kContactDecisionMadeType, payload);
    EXPECT_THAT(st, StatusIs(absl::StatusCode::kDataLoss));
    EXPECT_THAT(std::string(st.message()), HasSubstr(kContactDecisionMadeType));
    EXPECT_THAT(std::string(st.message()), HasSubstr(absl::StrCat(position)));
    EXPECT_EQ(s.facts().version, version);
    EXPECT_TRUE(s.facts().decisions.empty());
  }
}

TEST(ConsentEvolveDataLossTest, UnknownEventTypeIsRefused) {
  ConsentStream s;
  PrepareCase(s, case_v1::VIOLENCE);
  const uint64_t position = s.next_consent_position();
  const absl::Status st = s.Append("mend.consent.v1.ConsentForgotten", "");
  EXPECT_THAT(st, StatusIs(absl::StatusCode::kDataLoss));
  EXPECT_THAT(std::string(st.message()), HasSubstr("mend.consent.v1.ConsentForgotten"));
  EXPECT_THAT(std::string(st.message()), HasSubstr(absl::StrCat(position)));
  // A case event type written straight into the consent log is not one either.
  EXPECT_THAT(s.Append(TypeOf<case_v1::CaseReferred>(),
                       Referred(case_v1::VIOLENCE).SerializeAsString()),
              StatusIs(absl::StatusCode::kDataLoss));
}

TEST(ConsentEvolveDataLossTest, PayloadThatDoesNotParseIsRefused) {
  ConsentStream s;
  PrepareCase(s, case_v1::VIOLENCE);
  EXPECT_THAT(s.Append(kConsentRecordedType, "\xff\xff\xff"),
              StatusIs(absl::StatusCode::kDataLoss));
  consent_v1::CaseEventObserved observed;
  observed.set_case_id(kCaseId);
  observed.set_case_position(999);
  observed.set_case_event_type(TypeOf<case_v1::CasePaused>());
  observed.set_payload("\xff\xff\xff");
  EXPECT_THAT(s.Append(kCaseEventObservedType, observed.SerializeAsString()),
              StatusIs(absl::StatusCode::kDataLoss));
}

TEST(ConsentEvolveDataLossTest, ConsentBeforeTheCaseWasObservedIsRefused) {
  ConsentStream s;
  consent_v1::ConsentRecorded recorded;
  recorded.set_case_id(kCaseId);
  recorded.set_consent_id("k1");
  recorded.set_participant_id("v1");
  recorded.set_scope(consent_v1::PARTICIPATE);
  recorded.set_answer(consent_v1::GIVEN);
  const absl::Status st = s.Append(kConsentRecordedType, recorded.SerializeAsString());
  EXPECT_THAT(st, StatusIs(absl::StatusCode::kDataLoss));
  EXPECT_THAT(std::string(st.message()), HasSubstr(kConsentRecordedType));

  consent_v1::ConsentWithdrawn withdrawn;
  withdrawn.set_case_id(kCaseId);
  withdrawn.set_participant_id("v1");
  withdrawn.add_scopes(consent_v1::PARTICIPATE);
  EXPECT_THAT(s.Append(kConsentWithdrawnType, withdrawn.SerializeAsString()),
              StatusIs(absl::StatusCode::kDataLoss));
  EXPECT_THAT(s.Append(kContactDecisionMadeType,
                       Decision("d1", consent_v1::REFUSED).SerializeAsString()),
              StatusIs(absl::StatusCode::kDataLoss));
  EXPECT_FALSE(s.facts().exists());
}

TEST(ConsentEvolveDataLossTest, ConsentForAParticipantTheCaseDoesNotHaveIsRefused) {
  ConsentStream s;
  PrepareCase(s, case_v1::VIOLENCE);
  consent_v1::ConsentRecorded recorded;
  recorded.set_case_id(kCaseId);
  recorded.set_consent_id("k1");
  recorded.set_participant_id("v9");
  recorded.set_scope(consent_v1::PARTICIPATE);
  recorded.set_answer(consent_v1::GIVEN);
  const absl::Status st = s.Append(kConsentRecordedType, recorded.SerializeAsString());
  EXPECT_THAT(st, StatusIs(absl::StatusCode::kDataLoss));
  EXPECT_THAT(std::string(st.message()), HasSubstr("v9"));

  consent_v1::ConsentWithdrawn withdrawn;
  withdrawn.set_case_id(kCaseId);
  withdrawn.set_participant_id("v9");
  withdrawn.add_scopes(consent_v1::PARTICIPATE);
  EXPECT_THAT(s.Append(kConsentWithdrawnType, withdrawn.SerializeAsString()),
              StatusIs(absl::StatusCode::kDataLoss));
  EXPECT_TRUE(s.facts().consents.empty());
}

TEST(ConsentEvolveDataLossTest, AnEventOfAnotherCaseIsRefused) {
  ConsentStream s;
  PrepareCase(s, case_v1::VIOLENCE);
  consent_v1::ConsentRecorded recorded;
  recorded.set_case_id("c2");
  recorded.set_consent_id("k1");
  recorded.set_participant_id("v1");
  recorded.set_scope(consent_v1::PARTICIPATE);
  recorded.set_answer(consent_v1::GIVEN);
  EXPECT_THAT(s.Append(kConsentRecordedType, recorded.SerializeAsString()),
              StatusIs(absl::StatusCode::kDataLoss));
}

TEST(ConsentEvolveDataLossTest, ACaseEventTheCaseDomainRefusesIsRefused) {
  ConsentStream s;
  PrepareCase(s, case_v1::VIOLENCE);
  // The case is in PREPARING, not SCREENING.
  consent_v1::CaseEventObserved observed;
  observed.set_case_id(kCaseId);
  observed.set_case_position(999);
  observed.set_case_event_type(TypeOf<case_v1::StageChanged>());
  observed.set_case_correlation_id("cmd-x");
  observed.set_payload(Stage(case_v1::SCREENING, case_v1::ALLOCATED).SerializeAsString());
  const uint64_t position = s.next_consent_position();
  const absl::Status st = s.Append(kCaseEventObservedType, observed.SerializeAsString());
  EXPECT_THAT(st, StatusIs(absl::StatusCode::kDataLoss));
  EXPECT_THAT(std::string(st.message()), HasSubstr(kCaseEventObservedType));
  EXPECT_THAT(std::string(st.message()), HasSubstr(absl::StrCat(position)));
  EXPECT_EQ(s.facts().case_state.stage, case_v1::PREPARING);
}

// ===========================================================================
// DecideRecordConsent / DecideWithdrawConsent.

class ConsentDecideTest : public ::testing::Test {
 protected:
  void SetUp() override { positions_ = PrepareCase(s_, case_v1::VIOLENCE); }

  ConsentStream s_;
  CasePositions positions_;
};

TEST_F(ConsentDecideTest, RecordConsentRecordsExactlyWhatWasSaid) {
  RecordConsentCommand command =
      Consent("v1", consent_v1::FACE_TO_FACE, consent_v1::GIVEN, true, "k-77");
  command.informed = Informed(consent_v1::LETTER);
  absl::StatusOr<consent_v1::ConsentRecorded> event =
      DecideRecordConsent(s_.facts(), command, Facilitator());
  ASSERT_THAT(event, IsOk());

  consent_v1::ConsentRecorded expected;
  expected.set_case_id(kCaseId);
  expected.set_consent_id("k-77");
  expected.set_participant_id("v1");
  expected.set_scope(consent_v1::FACE_TO_FACE);
  expected.set_answer(consent_v1::GIVEN);
  *expected.mutable_informed() = Informed(consent_v1::LETTER);
  expected.set_requested_by_participant(true);
  expected.set_recorded_by("f1");
  EXPECT_THAT(*event, EqualsProto(expected));
}

TEST_F(ConsentDecideTest, AnyParticipantAnyScopeByFacilitatorOrManager) {
  s_.Command("cmd-add", {Added("sp1", case_v1::SUPPORTER)});
  for (const CommandContext& ctx : {Facilitator(), Manager()}) {
    for (const char* person : {"v1", "su1"}) {
      for (consent_v1::ConsentScope scope : kSixScopes) {
        for (consent_v1::ConsentAnswer answer :
             {consent_v1::GIVEN, consent_v1::DECLINED}) {
          SCOPED_TRACE(absl::StrCat(ctx.actor_id, " ", person, " ",
                                    consent_v1::ConsentScope_Name(scope), " ",
                                    consent_v1::ConsentAnswer_Name(answer)));
          EXPECT_THAT(
              DecideRecordConsent(s_.facts(), Consent(person, scope, answer), ctx),
              IsOk());
        }
      }
    }
  }
}

// The case study's victim declined, then accepted a letter, then asked to meet.
TEST_F(ConsentDecideTest, DeclineThenGiveThenAskToMeet) {
  s_.AppendDecided(DecideRecordConsent(
      s_.facts(),
      Consent("v1", consent_v1::PARTICIPATE, consent_v1::DECLINED, false, "k1"),
      Facilitator()));
  EXPECT_EQ(s_.facts().CurrentConsent("v1", consent_v1::PARTICIPATE)->status,
            consent_v1::CONSENT_STATUS_DECLINED);

  s_.AppendDecided(DecideRecordConsent(
      s_.facts(), Consent("v1", consent_v1::PARTICIPATE, consent_v1::GIVEN, false, "k2"),
      Facilitator()));
  s_.AppendDecided(DecideRecordConsent(
      s_.facts(),
      Consent("v1", consent_v1::RECEIVE_LETTER, consent_v1::GIVEN, false, "k3"),
      Facilitator()));
  s_.AppendDecided(DecideRecordConsent(
      s_.facts(), Consent("v1", consent_v1::FACE_TO_FACE, consent_v1::GIVEN, true, "k4"),
      Facilitator()));

  EXPECT_THAT(
      History(s_.facts(), "v1", consent_v1::PARTICIPATE),
      ElementsAre(consent_v1::CONSENT_STATUS_DECLINED, consent_v1::CONSENT_STATUS_GIVEN));
  EXPECT_EQ(s_.facts().CurrentConsent("v1", consent_v1::RECEIVE_LETTER)->status,
            consent_v1::CONSENT_STATUS_GIVEN);
  const ConsentEntryFacts* meet =
      s_.facts().CurrentConsent("v1", consent_v1::FACE_TO_FACE);
  ASSERT_THAT(meet, NotNull());
  EXPECT_EQ(meet->status, consent_v1::CONSENT_STATUS_GIVEN);
  EXPECT_TRUE(meet->requested_by_participant);
  EXPECT_EQ(meet->consent_id, "k4");

  // And the other way round: a consent may be followed by a decline.
  s_.AppendDecided(DecideRecordConsent(
      s_.facts(),
      Consent("v1", consent_v1::FACE_TO_FACE, consent_v1::DECLINED, false, "k5"),
      Facilitator()));
  EXPECT_EQ(s_.facts().CurrentConsent("v1", consent_v1::FACE_TO_FACE)->status,
            consent_v1::CONSENT_STATUS_DECLINED);
}

TEST_F(ConsentDecideTest, WithdrawOneScope) {
  absl::StatusOr<consent_v1::ConsentWithdrawn> event = DecideWithdrawConsent(
      s_.facts(), Withdrawal("v1", consent_v1::SHUTTLE), Facilitator());
  ASSERT_THAT(event, IsOk());
  consent_v1::ConsentWithdrawn expected;
  expected.set_case_id(kCaseId);
  expected.set_participant_id("v1");
  expected.add_scopes(consent_v1::SHUTTLE);
  expected.set_all_scopes(false);
  *expected.mutable_informed() = Informed(consent_v1::PHONE);
  expected.set_recorded_by("f1");
  EXPECT_THAT(*event, EqualsProto(expected));
}

TEST_F(ConsentDecideTest, WithdrawAllListsTheSixScopesInEnumOrder) {
  // Whatever the current answers: one given, one declined, the rest never.
  s_.AppendDecided(DecideRecordConsent(
      s_.facts(), Consent("su1", consent_v1::PARTICIPATE, consent_v1::GIVEN),
      Facilitator()));
  s_.AppendDecided(DecideRecordConsent(
      s_.facts(), Consent("su1", consent_v1::VIDEO, consent_v1::DECLINED),
      Facilitator()));
  absl::StatusOr<consent_v1::ConsentWithdrawn> event =
      DecideWithdrawConsent(s_.facts(), WithdrawAll("su1"), Manager());
  ASSERT_THAT(event, IsOk());
  EXPECT_TRUE(event->all_scopes());
  EXPECT_THAT(event->scopes(),
              ElementsAre(consent_v1::PARTICIPATE, consent_v1::RECEIVE_LETTER,
                          consent_v1::SHUTTLE, consent_v1::VIDEO,
                          consent_v1::FACE_TO_FACE, consent_v1::SHARE_INFORMATION));
  EXPECT_EQ(event->recorded_by(), "m1");

  const uint64_t position = s_.AppendDecided(event);
  for (consent_v1::ConsentScope scope : kSixScopes) {
    EXPECT_EQ(s_.facts().CurrentConsent("su1", scope)->ref(),
              (FactRef{consent_v1::CONSENT_LOG, position, kConsentWithdrawnType}));
  }
}

TEST_F(ConsentDecideTest, AuditorsAndServicesRecordNothing) {
  for (const CommandContext& ctx : {Auditor(), Service()}) {
    SCOPED_TRACE(std::string(RoleName(ctx.role)));
    EXPECT_THAT(
        DecideRecordConsent(
            s_.facts(), Consent("v1", consent_v1::PARTICIPATE, consent_v1::GIVEN), ctx),
        StatusIs(absl::StatusCode::kPermissionDenied));
    EXPECT_THAT(DecideWithdrawConsent(s_.facts(), WithdrawAll("v1"), ctx),
                StatusIs(absl::StatusCode::kPermissionDenied));
    // The role is checked first: an unknown case tells them nothing.
    EXPECT_THAT(
        DecideRecordConsent(
            CaseFacts{}, Consent("v1", consent_v1::PARTICIPATE, consent_v1::GIVEN), ctx),
        StatusIs(absl::StatusCode::kPermissionDenied));
  }
}

TEST_F(ConsentDecideTest, AFacilitatorNotAllocatedIsRefused) {
  const auto refused = StatusIs(absl::StatusCode::kPermissionDenied, HasSubstr("\"f9\""));
  EXPECT_THAT(DecideRecordConsent(
                  s_.facts(), Consent("v1", consent_v1::PARTICIPATE, consent_v1::GIVEN),
                  OtherFacilitator()),
              refused);
  EXPECT_THAT(DecideWithdrawConsent(s_.facts(), WithdrawAll("v1"), OtherFacilitator()),
              refused);
  // Nor one whose allocation ended; a manager is never allocated and may.
  s_.Command("cmd-release", {Released("f1")});
  EXPECT_THAT(DecideRecordConsent(
                  s_.facts(), Consent("v1", consent_v1::PARTICIPATE, consent_v1::GIVEN),
                  Facilitator()),
              StatusIs(absl::StatusCode::kPermissionDenied));
  EXPECT_THAT(DecideRecordConsent(
                  s_.facts(), Consent("v1", consent_v1::PARTICIPATE, consent_v1::GIVEN),
                  Manager()),
              IsOk());
}

TEST(ConsentDecideUnknownCaseTest, ACaseNeverObservedIsNotFoundAndSaysPassACausalToken) {
  ConsentStream s;  // nothing observed
  // (A facilitator is never allocated to a case never observed: see
  // AnUnallocatedFacilitatorHearsTheSameForAnyCase.)
  for (const CommandContext& ctx : {Manager()}) {
    const absl::Status record =
        DecideRecordConsent(
            s.facts(), Consent("v1", consent_v1::PARTICIPATE, consent_v1::GIVEN), ctx)
            .status();
    EXPECT_THAT(record, StatusIs(absl::StatusCode::kNotFound,
                                 HasSubstr("may not have caught up")));
    EXPECT_THAT(record, StatusIs(absl::StatusCode::kNotFound, HasSubstr("causal token")));
    EXPECT_THAT(record, StatusIs(absl::StatusCode::kNotFound, HasSubstr("\"c1\"")));
    const absl::Status withdraw =
        DecideWithdrawConsent(s.facts(), WithdrawAll("v1"), ctx).status();
    EXPECT_THAT(withdraw, StatusIs(absl::StatusCode::kNotFound,
                                   HasSubstr("may not have caught up")));
    EXPECT_THAT(withdraw,
                StatusIs(absl::StatusCode::kNotFound, HasSubstr("causal token")));
  }
}

// I5: a facilitator not allocated to a case hears exactly the same about it
// whether it exists or not, from every command and read.
TEST_F(ConsentDecideTest, AnUnallocatedFacilitatorHearsTheSameForAnyCase) {
  const ConsentStream never_observed;
  const std::string want = "facilitator \"f9\" is not allocated to case \"c1\"";
  for (const CaseFacts* facts : {&s_.facts(), &never_observed.facts()}) {
    SCOPED_TRACE(facts->case_known() ? "observed" : "never observed");
    const absl::Status record =
        DecideRecordConsent(*facts,
                            Consent("v1", consent_v1::PARTICIPATE, consent_v1::GIVEN),
                            OtherFacilitator())
            .status();
    EXPECT_THAT(record, StatusIs(absl::StatusCode::kPermissionDenied));
    EXPECT_EQ(record.message(), want);
    const absl::Status withdraw =
        DecideWithdrawConsent(*facts, WithdrawAll("v1"), OtherFacilitator()).status();
    EXPECT_THAT(withdraw, StatusIs(absl::StatusCode::kPermissionDenied));
    EXPECT_EQ(withdraw.message(), want);
    const absl::Status read = CheckCanRead(*facts, kCaseId, OtherFacilitator());
    EXPECT_THAT(read, StatusIs(absl::StatusCode::kPermissionDenied));
    EXPECT_EQ(read.message(), want);
  }
}

TEST_F(ConsentDecideTest, AnUnknownParticipantIsNotFoundAndSaysPassACausalToken) {
  const absl::Status record =
      DecideRecordConsent(s_.facts(),
                          Consent("v2", consent_v1::PARTICIPATE, consent_v1::GIVEN),
                          Facilitator())
          .status();
  EXPECT_THAT(record, StatusIs(absl::StatusCode::kNotFound, HasSubstr("\"v2\"")));
  EXPECT_THAT(record,
              StatusIs(absl::StatusCode::kNotFound, HasSubstr("may not have caught up")));
  EXPECT_THAT(record, StatusIs(absl::StatusCode::kNotFound, HasSubstr("causal token")));
  EXPECT_THAT(DecideWithdrawConsent(s_.facts(), WithdrawAll("v2"), Manager()),
              StatusIs(absl::StatusCode::kNotFound, HasSubstr("causal token")));

  // Once the case event that added them is observed, it is accepted.
  s_.Command("cmd-add", {Added("v2", case_v1::CO_VICTIM)});
  EXPECT_THAT(DecideRecordConsent(
                  s_.facts(), Consent("v2", consent_v1::PARTICIPATE, consent_v1::GIVEN),
                  Facilitator()),
              IsOk());
}

TEST_F(ConsentDecideTest, AClosedCaseRefusesAndNamesTheStage) {
  s_.Command("cmd-close", {Closed(), Stage(case_v1::PREPARING, case_v1::CLOSED)});
  EXPECT_THAT(DecideRecordConsent(
                  s_.facts(), Consent("v1", consent_v1::PARTICIPATE, consent_v1::GIVEN),
                  Manager()),
              StatusIs(absl::StatusCode::kFailedPrecondition, HasSubstr("CLOSED")));
  EXPECT_THAT(DecideWithdrawConsent(s_.facts(), WithdrawAll("v1"), Facilitator()),
              StatusIs(absl::StatusCode::kFailedPrecondition, HasSubstr("CLOSED")));
  // An erased participant of a closed case: still refused.
  s_.Command("cmd-erase", {Erased("v1")});
  EXPECT_THAT(DecideWithdrawConsent(s_.facts(), WithdrawAll("v1"), Manager()),
              StatusIs(absl::StatusCode::kFailedPrecondition));
}

TEST_F(ConsentDecideTest, AnErasedParticipantIsRefused) {
  // The case service erases only in CLOSED cases, where CLOSED answers first;
  // to see the erasure rule on its own this log erases in an open case (the
  // case domain's Evolve does not enforce the stage).
  s_.Command("cmd-erase", {Erased("v1")});
  ASSERT_EQ(s_.facts().case_state.stage, case_v1::PREPARING);
  EXPECT_THAT(DecideRecordConsent(
                  s_.facts(), Consent("v1", consent_v1::PARTICIPATE, consent_v1::GIVEN),
                  Manager()),
              StatusIs(absl::StatusCode::kFailedPrecondition, HasSubstr("erased")));
  EXPECT_THAT(DecideWithdrawConsent(s_.facts(), Withdrawal("v1", consent_v1::VIDEO),
                                    Facilitator()),
              StatusIs(absl::StatusCode::kFailedPrecondition, HasSubstr("erased")));
  // The others still answer.
  EXPECT_THAT(DecideRecordConsent(
                  s_.facts(), Consent("su1", consent_v1::PARTICIPATE, consent_v1::GIVEN),
                  Manager()),
              IsOk());
}

TEST_F(ConsentDecideTest, APausedCaseStillRecordsConsentsAndWithdrawals) {
  s_.Command("cmd-pause", {Paused(), Stage(case_v1::PREPARING, case_v1::PAUSED)});
  EXPECT_THAT(DecideRecordConsent(
                  s_.facts(), Consent("v1", consent_v1::PARTICIPATE, consent_v1::GIVEN),
                  Facilitator()),
              IsOk());
  EXPECT_THAT(DecideWithdrawConsent(s_.facts(), WithdrawAll("v1"), Facilitator()),
              IsOk());
}

TEST_F(ConsentDecideTest, CommandForAnotherCaseIsAnInternalError) {
  RecordConsentCommand record = Consent("v1", consent_v1::PARTICIPATE, consent_v1::GIVEN);
  record.case_id = "c2";
  EXPECT_THAT(DecideRecordConsent(s_.facts(), record, Manager()),
              StatusIs(absl::StatusCode::kInternal));
  WithdrawConsentCommand withdraw = WithdrawAll("v1");
  withdraw.case_id = "c2";
  EXPECT_THAT(DecideWithdrawConsent(s_.facts(), withdraw, Manager()),
              StatusIs(absl::StatusCode::kInternal));
}

// Validation should have caught these; decide still refuses to make a
// malformed event of them.
TEST_F(ConsentDecideTest, MalformedCommandsAreInvalid) {
  std::vector<RecordConsentCommand> records(
      7, Consent("v1", consent_v1::VIDEO, consent_v1::GIVEN));
  records[0].case_id.clear();
  records[1].consent_id.clear();
  records[2].participant_id.clear();
  records[3].scope = consent_v1::CONSENT_SCOPE_UNSPECIFIED;
  records[4].scope = static_cast<consent_v1::ConsentScope>(42);
  records[5].answer = consent_v1::CONSENT_ANSWER_UNSPECIFIED;
  records[6].answer = consent_v1::DECLINED;
  records[6].requested_by_participant = true;
  for (size_t i = 0; i < records.size(); ++i) {
    EXPECT_THAT(DecideRecordConsent(s_.facts(), records[i], Manager()),
                StatusIs(absl::StatusCode::kInvalidArgument))
        << "record " << i;
  }

  std::vector<WithdrawConsentCommand> withdrawals(5, Withdrawal("v1", consent_v1::VIDEO));
  withdrawals[0].case_id.clear();
  withdrawals[1].participant_id.clear();
  withdrawals[2].scope = consent_v1::CONSENT_SCOPE_UNSPECIFIED;  // and not all
  withdrawals[3].all_scopes = true;                              // and a scope
  withdrawals[4].scope = static_cast<consent_v1::ConsentScope>(-1);
  for (size_t i = 0; i < withdrawals.size(); ++i) {
    EXPECT_THAT(DecideWithdrawConsent(s_.facts(), withdrawals[i], Manager()),
                StatusIs(absl::StatusCode::kInvalidArgument))
        << "withdrawal " << i;
  }
}

TEST_F(ConsentDecideTest, DecisionsArePure) {
  const RecordConsentCommand command =
      Consent("v1", consent_v1::VIDEO, consent_v1::GIVEN, true);
  absl::StatusOr<consent_v1::ConsentRecorded> a =
      DecideRecordConsent(s_.facts(), command, Facilitator());
  absl::StatusOr<consent_v1::ConsentRecorded> b =
      DecideRecordConsent(s_.facts(), command, Facilitator());
  ASSERT_THAT(a, IsOk());
  ASSERT_THAT(b, IsOk());
  EXPECT_EQ(a->SerializeAsString(), b->SerializeAsString());
  EXPECT_EQ(s_.facts().version, 10u);  // deciding appended nothing
}

// ===========================================================================
// CheckCanRead.

TEST_F(ConsentDecideTest, WhoMayRead) {
  EXPECT_THAT(CheckCanRead(s_.facts(), kCaseId, Manager()), IsOk());
  EXPECT_THAT(CheckCanRead(s_.facts(), kCaseId, Auditor()), IsOk());
  EXPECT_THAT(CheckCanRead(s_.facts(), kCaseId, Service()), IsOk());
  EXPECT_THAT(CheckCanRead(s_.facts(), kCaseId, Facilitator()), IsOk());
  EXPECT_THAT(CheckCanRead(s_.facts(), kCaseId, OtherFacilitator()),
              StatusIs(absl::StatusCode::kPermissionDenied, HasSubstr("\"f9\"")));

  s_.Command("cmd-release", {Released("f1")});
  EXPECT_THAT(CheckCanRead(s_.facts(), kCaseId, Facilitator()),
              StatusIs(absl::StatusCode::kPermissionDenied));
}

TEST(ConsentCheckCanReadTest, UnknownCase) {
  const CaseFacts none;
  EXPECT_THAT(CheckCanRead(none, kCaseId, Manager()), IsOk());
  EXPECT_THAT(CheckCanRead(none, kCaseId, Auditor()), IsOk());
  EXPECT_THAT(CheckCanRead(none, kCaseId, Service()), IsOk());
  EXPECT_THAT(CheckCanRead(none, kCaseId, Facilitator()),
              StatusIs(absl::StatusCode::kPermissionDenied));
}

}  // namespace
}  // namespace mend::consentsvc
