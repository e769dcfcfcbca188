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
#include "services/consent/contact_rule_test_fixtures.h"
#include "services/consent/contact_rule_v1_rows.h"
#include "tests/support/test_util.h"

namespace mend::consentsvc {
namespace {

using namespace ::mend::consentsvc::rule_testing;  // NOLINT: the fixtures

class ContactRuleTableTest : public ::testing::TestWithParam<Row> {};

TEST_P(ContactRuleTableTest, GivesExactlyTheListedReasons) {
  const Row& row = GetParam();
  CaseFacts facts = Approvable(row.category);
  ContactQuestion q = Ask(row.kind);
  row.change(facts, q);

  const ContactRuling ruling = DecideContactRuleV1(facts, q);

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
    const ContactRuling ruling = DecideContactRuleV1(facts, Ask(kind));
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
    const ContactRuling ruling = DecideContactRuleV1(facts, Ask(kind));
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
  const ContactRuling ruling =
      DecideContactRuleV1(facts, Ask(common_v1::LETTER_DELIVERY));
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

  ContactRuling ruling = DecideContactRuleV1(facts, Ask(common_v1::LETTER_DELIVERY));
  EXPECT_EQ(Reasons(ruling),
            (std::vector<R>{
                {consent_v1::CONSENT_DECLINED, kVictim, consent_v1::PARTICIPATE},
                {consent_v1::CONSENT_DECLINED, kVictim, consent_v1::RECEIVE_LETTER}}));
  EXPECT_NE(CitationAt(ruling, consent_v1::CONSENT_LOG, declined_participate), nullptr);
  EXPECT_NE(CitationAt(ruling, consent_v1::CONSENT_LOG, declined_letter), nullptr);

  const uint64_t gave_participate = Give(facts, kVictim, consent_v1::PARTICIPATE);
  const uint64_t gave_letter = Give(facts, kVictim, consent_v1::RECEIVE_LETTER);
  ruling = DecideContactRuleV1(facts, Ask(common_v1::LETTER_DELIVERY));
  EXPECT_EQ(ruling.outcome, consent_v1::APPROVED);
  EXPECT_THAT(ruling.reasons, IsEmpty());
  EXPECT_NE(CitationAt(ruling, consent_v1::CONSENT_LOG, gave_participate), nullptr);
  EXPECT_NE(CitationAt(ruling, consent_v1::CONSENT_LOG, gave_letter), nullptr);
  EXPECT_EQ(CitationAt(ruling, consent_v1::CONSENT_LOG, declined_participate), nullptr);
  EXPECT_EQ(CitationAt(ruling, consent_v1::CONSENT_LOG, declined_letter), nullptr);

  // Then she asks to meet: not yet answered, then given at her request.
  ruling = DecideContactRuleV1(facts, Ask(common_v1::FACE_TO_FACE_CONFERENCE));
  EXPECT_EQ(Reasons(ruling), (std::vector<R>{{consent_v1::CONSENT_NOT_RECORDED, kVictim,
                                              consent_v1::FACE_TO_FACE}}));
  Give(facts, kVictim, consent_v1::FACE_TO_FACE, /*requested=*/true);
  EXPECT_EQ(DecideContactRuleV1(facts, Ask(common_v1::FACE_TO_FACE_CONFERENCE)).outcome,
            consent_v1::APPROVED);
}

// I3: a withdrawal refuses at once and is cited; consenting again approves
// and the new consent, not the withdrawal, is cited.
TEST(ContactRuleHistoryTest, WithdrawalThenReconsent) {
  CaseFacts facts = Approvable();
  ASSERT_EQ(DecideContactRuleV1(facts, Ask(common_v1::VIDEO_MEETING)).outcome,
            consent_v1::APPROVED);

  const uint64_t withdrawn = Withdraw(facts, kVictim, {consent_v1::VIDEO});
  ContactRuling ruling = DecideContactRuleV1(facts, Ask(common_v1::VIDEO_MEETING));
  EXPECT_EQ(
      Reasons(ruling),
      (std::vector<R>{{consent_v1::CONSENT_WITHDRAWN, kVictim, consent_v1::VIDEO}}));
  const consent_v1::ConsultedFact* cited =
      CitationAt(ruling, consent_v1::CONSENT_LOG, withdrawn);
  ASSERT_NE(cited, nullptr);
  EXPECT_EQ(cited->event_type(), kConsentWithdrawnType);
  EXPECT_THAT(cited->fact(), AllOf(HasSubstr(kVictim), HasSubstr("VIDEO")));

  // Other kinds that do not need VIDEO are unaffected.
  EXPECT_EQ(DecideContactRuleV1(facts, Ask(common_v1::LETTER_DELIVERY)).outcome,
            consent_v1::APPROVED);

  const uint64_t again = Give(facts, kVictim, consent_v1::VIDEO);
  ruling = DecideContactRuleV1(facts, Ask(common_v1::VIDEO_MEETING));
  EXPECT_EQ(ruling.outcome, consent_v1::APPROVED);
  EXPECT_NE(CitationAt(ruling, consent_v1::CONSENT_LOG, again), nullptr);
  EXPECT_EQ(CitationAt(ruling, consent_v1::CONSENT_LOG, withdrawn), nullptr);
}

// A withdrawal of every scope is one event: cited once, saying each scope it
// answered for.
TEST(ContactRuleHistoryTest, WithdrawingEverythingIsCitedOnce) {
  CaseFacts facts = Approvable();
  const uint64_t withdrawn = WithdrawAll(facts, kVictim);
  const ContactRuling ruling =
      DecideContactRuleV1(facts, Ask(common_v1::SHUTTLE_MESSAGE));
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
  EXPECT_EQ(Reasons(DecideContactRuleV1(facts, Ask(common_v1::LETTER_DELIVERY))),
            (std::vector<R>{{consent_v1::RISK_ASSESSMENT_NOT_APPROVED}}));
}

// An assessment that requires approval needs it even in a case not (or no
// longer) recorded as sensitive.
TEST(ContactRuleSensitiveTest, AssessmentRequiringApprovalNeedsIt) {
  CaseFacts facts = Approvable(case_v1::VIOLENCE);
  facts.case_state.risk_assessments.back().requires_approval = true;
  EXPECT_EQ(Reasons(DecideContactRuleV1(facts, Ask(common_v1::APPROACH_VICTIM))),
            (std::vector<R>{{consent_v1::RISK_ASSESSMENT_NOT_APPROVED}}));
}

TEST(ContactRuleSensitiveTest, HateCrimeHasNoNotAskedByVictimRule) {
  CaseFacts facts = Approvable(case_v1::HATE_CRIME);
  Give(facts, kVictim, consent_v1::VIDEO, /*requested=*/false);
  Give(facts, kVictim, consent_v1::FACE_TO_FACE, /*requested=*/false);
  EXPECT_EQ(DecideContactRuleV1(facts, Ask(common_v1::VIDEO_MEETING)).outcome,
            consent_v1::APPROVED);
  EXPECT_EQ(DecideContactRuleV1(facts, Ask(common_v1::FACE_TO_FACE_CONFERENCE)).outcome,
            consent_v1::APPROVED);
}

// Only the victim's asking counts: the service user's request flag does not
// stand in for hers.
TEST(ContactRuleSensitiveTest, ServiceUserAskingDoesNotCount) {
  CaseFacts facts = Approvable(case_v1::DOMESTIC_ABUSE);
  Give(facts, kVictim, consent_v1::VIDEO, /*requested=*/false);
  Give(facts, kServiceUser, consent_v1::VIDEO, /*requested=*/true);
  EXPECT_EQ(
      Reasons(DecideContactRuleV1(facts, Ask(common_v1::VIDEO_MEETING))),
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

  const ContactRuling ruling =
      DecideContactRuleV1(facts, Ask(common_v1::LETTER_DELIVERY));
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
  const ContactRuling ruling =
      DecideContactRuleV1(facts, Ask(common_v1::APPROACH_VICTIM));
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

  const ContactRuling ruling =
      DecideContactRuleV1(facts, Ask(common_v1::APPROACH_VICTIM));
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
  const ContactRuling ruling =
      DecideContactRuleV1(facts, Ask(common_v1::APPROACH_VICTIM));
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
    const std::string first = Serialized(DecideContactRuleV1(a, qa));
    EXPECT_EQ(Serialized(DecideContactRuleV1(a, qa)), first);
    EXPECT_EQ(Serialized(DecideContactRuleV1(b, qb)), first);
  }
}

TEST(ContactRuleTest, NeverApprovesOnBadInput) {
  // A case never observed: no crash, refused.
  const CaseFacts unknown;
  ContactRuling ruling = DecideContactRuleV1(unknown, Ask(common_v1::LETTER_DELIVERY));
  EXPECT_EQ(ruling.outcome, consent_v1::REFUSED);
  EXPECT_THAT(ruling.consulted, IsEmpty());
  // No kind.
  ruling = DecideContactRuleV1(Approvable(), Ask(common_v1::CONTACT_KIND_UNSPECIFIED));
  EXPECT_EQ(ruling.outcome, consent_v1::REFUSED);
  EXPECT_THAT(Reasons(ruling),
              ::testing::Contains(R{consent_v1::RISK_ASSESSMENT_DISALLOWS_KIND}));
  // Parties that are not in the case.
  ContactQuestion q = Ask(common_v1::LETTER_DELIVERY);
  q.victim_id = "nobody";
  q.service_user_id = "";
  ruling = DecideContactRuleV1(Approvable(), q);
  EXPECT_EQ(ruling.outcome, consent_v1::REFUSED);
  CheckWellFormed(Approvable(), q, ruling);
}

// Each recorded version finds its own rule (decisions made by v1 keep
// explaining with v1); nothing else is a version.
TEST(FindContactRuleTest, KnowsEachVersionItHas) {
  EXPECT_EQ(std::string(kContactGateV1), "contact-gate/1");
  const ContactRule rule = FindContactRule(kContactGateV1);
  ASSERT_NE(rule, nullptr);
  EXPECT_EQ(rule, &DecideContactRuleV1);
  CaseFacts facts = Approvable();
  Withdraw(facts, kVictim, {consent_v1::SHUTTLE});
  EXPECT_EQ(Serialized(rule(facts, Ask(common_v1::SHUTTLE_MESSAGE))),
            Serialized(DecideContactRuleV1(facts, Ask(common_v1::SHUTTLE_MESSAGE))));
  EXPECT_EQ(FindContactRule("contact-gate/2"), &DecideContactRuleV2);
  EXPECT_EQ(FindContactRule("contact-gate/3"), nullptr);
  EXPECT_EQ(FindContactRule("contact-gate/1 "), nullptr);
  EXPECT_EQ(FindContactRule(""), nullptr);
  EXPECT_FALSE(RuleReadsTime(kContactGateV1));
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
