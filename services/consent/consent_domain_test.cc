// Domain tests of the consent service's folding: the facts Evolve gives from
// real serialized events (case events observed, consents, withdrawals,
// decisions), the lapse rule, and what does not fold — without gRPC or
// RocksDB (fixtures: consent_domain_test_fixtures.h).
#include <cstdint>
#include <map>
#include <optional>
#include <string>
#include <utility>
#include <vector>

#include "absl/status/status.h"
#include "absl/strings/str_cat.h"
#include "gmock/gmock.h"
#include "gtest/gtest.h"
#include "services/consent/consent_decide.h"
#include "services/consent/consent_domain_test_fixtures.h"
#include "services/consent/consent_state.h"
#include "tests/support/test_util.h"

namespace mend::consentsvc {
namespace {

using namespace ::mend::consentsvc::domain_testing;  // NOLINT: the fixtures

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

TEST(ConsentLapseTest, AMoveDerivedFromAnotherLogDoesNotLapse) {
  // The case moves to CONFERENCE_SCHEDULED because scheduling booked the
  // conference, through the gate, on this assessment: were that to lapse
  // it, the conference could never start.
  ConsentStream s;
  PrepareCase(s, case_v1::VIOLENCE);
  case_v1::StageChanged booked = Stage(case_v1::PREPARING, case_v1::CONFERENCE_SCHEDULED);
  booked.set_derived(true);
  s.Command("scheduling@12/0", {booked});
  EXPECT_EQ(s.facts().risk_assessment_lapsed_by, std::nullopt);
  EXPECT_EQ(s.facts().case_state.stage, case_v1::CONFERENCE_SCHEDULED);
  // The same move not marked derived (as every move recorded before the
  // field) lapses it, as contact-gate/1 and /2 always did.
  ConsentStream old;
  PrepareCase(old, case_v1::VIOLENCE);
  const uint64_t moved = old.ChangeStage("cmd-booked", case_v1::CONFERENCE_SCHEDULED);
  EXPECT_THAT(old.facts().risk_assessment_lapsed_by,
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

}  // namespace
}  // namespace mend::consentsvc
