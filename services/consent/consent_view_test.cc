// The consent reads' views (consent_view.h) over facts folded from a consent
// stream (fixtures: consent_domain_test_fixtures.h): GetConsents lists every
// participant and scope with its history, ListDecisions pages by consent-log
// position, and the decision and explanation answers copy the record.
#include "services/consent/consent_view.h"

#include <cstdint>
#include <string>
#include <vector>

#include "common/base/page_token.h"
#include "gmock/gmock.h"
#include "gtest/gtest.h"
#include "services/consent/consent_decide.h"
#include "services/consent/consent_domain_test_fixtures.h"
#include "tests/support/test_util.h"

namespace mend::consentsvc {
namespace {

using namespace ::mend::consentsvc::domain_testing;  // NOLINT: the fixtures

// The scopes a view lists, in enum order (UNSPECIFIED aside).
std::vector<consent_v1::ConsentScope> AllScopes() {
  std::vector<consent_v1::ConsentScope> out;
  for (int s = consent_v1::ConsentScope_MIN; s <= consent_v1::ConsentScope_MAX; ++s) {
    if (s != consent_v1::CONSENT_SCOPE_UNSPECIFIED &&
        consent_v1::ConsentScope_IsValid(s)) {
      out.push_back(static_cast<consent_v1::ConsentScope>(s));
    }
  }
  return out;
}

class ConsentViewTest : public ::testing::Test {
 protected:
  void SetUp() override { PrepareCase(s_, case_v1::VIOLENCE); }

  // Appends decision `id`; returns its consent-log position.
  uint64_t Decide(const std::string& id, consent_v1::Outcome outcome) {
    EXPECT_THAT(
        s_.Append(kContactDecisionMadeType, Decision(id, outcome).SerializeAsString()),
        IsOk());
    return s_.consent_position();
  }

  std::vector<std::string> Ids(const consent_v1::ListDecisionsResponse& page) {
    std::vector<std::string> out;
    for (const consent_v1::ContactDecision& d : page.decisions()) {
      out.push_back(d.decision().decision_id());
    }
    return out;
  }

  ConsentStream s_;
};

TEST_F(ConsentViewTest, ConsentsListEveryParticipantEveryScopeAndTheHistory) {
  const uint64_t declined = s_.AppendDecided(DecideRecordConsent(
      s_.facts(), Consent("v1", consent_v1::PARTICIPATE, consent_v1::DECLINED),
      Facilitator()));
  const uint64_t given = s_.AppendDecided(DecideRecordConsent(
      s_.facts(), Consent("v1", consent_v1::PARTICIPATE, consent_v1::GIVEN, true, "k2"),
      Manager()));

  const consent_v1::GetConsentsResponse view = ConsentsView(s_.facts());
  EXPECT_EQ(view.case_id(), kCaseId);
  EXPECT_EQ(view.version(), s_.facts().version);
  EXPECT_EQ(view.case_position(), s_.facts().last_case_position);
  ASSERT_EQ(view.participants_size(), 2);
  const std::vector<consent_v1::ConsentScope> scopes = AllScopes();
  for (const consent_v1::ParticipantConsents& p : view.participants()) {
    SCOPED_TRACE(p.participant_id());
    EXPECT_FALSE(p.erased());
    ASSERT_EQ(p.scopes_size(), static_cast<int>(scopes.size()));
    for (size_t i = 0; i < scopes.size(); ++i) EXPECT_EQ(p.scopes(i).scope(), scopes[i]);
  }
  EXPECT_EQ(view.participants(0).participant_id(), "su1");
  EXPECT_EQ(view.participants(0).role(), case_v1::SERVICE_USER);
  const consent_v1::ParticipantConsents& victim = view.participants(1);
  EXPECT_EQ(victim.participant_id(), "v1");
  EXPECT_EQ(victim.role(), case_v1::VICTIM);
  for (const consent_v1::ScopeConsents& sc : victim.scopes()) {
    SCOPED_TRACE(consent_v1::ConsentScope_Name(sc.scope()));
    if (sc.scope() != consent_v1::PARTICIPATE) {
      EXPECT_EQ(sc.status(), consent_v1::CONSENT_STATUS_UNSPECIFIED);
      EXPECT_EQ(sc.history_size(), 0);
      continue;
    }
    // The current status is the last answer's; the history is every answer.
    EXPECT_EQ(sc.status(), consent_v1::CONSENT_STATUS_GIVEN);
    ASSERT_EQ(sc.history_size(), 2);
    const consent_v1::ConsentEntry& first = sc.history(0);
    EXPECT_EQ(first.status(), consent_v1::CONSENT_STATUS_DECLINED);
    EXPECT_EQ(first.consent_id(), "k1");
    EXPECT_THAT(first.informed(), EqualsProto(Informed()));
    EXPECT_FALSE(first.requested_by_participant());
    EXPECT_EQ(first.recorded_by(), "f1");
    EXPECT_EQ(first.recorded_unix_micros(),
              kConsentEpochMicros + static_cast<int64_t>(declined));
    EXPECT_EQ(first.position(), declined);
    const consent_v1::ConsentEntry& second = sc.history(1);
    EXPECT_EQ(second.status(), consent_v1::CONSENT_STATUS_GIVEN);
    EXPECT_EQ(second.consent_id(), "k2");
    EXPECT_TRUE(second.requested_by_participant());
    EXPECT_EQ(second.recorded_by(), "m1");
    EXPECT_EQ(second.position(), given);
  }
}

TEST_F(ConsentViewTest, AnErasedParticipantIsListedAsErased) {
  s_.Command("cmd-erase", {Erased("su1")});
  const consent_v1::GetConsentsResponse view = ConsentsView(s_.facts());
  ASSERT_EQ(view.participants_size(), 2);
  EXPECT_EQ(view.participants(0).participant_id(), "su1");
  EXPECT_TRUE(view.participants(0).erased());
  EXPECT_FALSE(view.participants(1).erased());
  EXPECT_EQ(view.case_position(), s_.facts().last_case_position);
}

TEST_F(ConsentViewTest, ADecisionIsTheRecordAsRecorded) {
  const uint64_t at = Decide("d1", consent_v1::APPROVED);
  const DecisionRecord& record = s_.facts().decisions.back();
  const consent_v1::ContactDecision view = DecisionView(record);
  EXPECT_THAT(view.decision(), EqualsProto(Decision("d1", consent_v1::APPROVED)));
  EXPECT_EQ(view.position(), at);
  EXPECT_EQ(view.decided_unix_micros(), kConsentEpochMicros + static_cast<int64_t>(at));
}

TEST_F(ConsentViewTest, DecisionsArePagedByPositionWithATokenOnlyWhenMoreFollow) {
  const uint64_t d1 = Decide("d1", consent_v1::REFUSED);
  const uint64_t d2 = Decide("d2", consent_v1::APPROVED);
  Decide("d3", consent_v1::APPROVED);

  const consent_v1::ListDecisionsResponse all = DecisionsPage(s_.facts(), 0, 50);
  EXPECT_THAT(Ids(all), ElementsAre("d1", "d2", "d3"));
  EXPECT_EQ(all.next_page_token(), "");
  // Exactly a page: nothing follows, so no token.
  EXPECT_EQ(DecisionsPage(s_.facts(), 0, 3).next_page_token(), "");

  const consent_v1::ListDecisionsResponse first = DecisionsPage(s_.facts(), 0, 2);
  EXPECT_THAT(Ids(first), ElementsAre("d1", "d2"));
  absl::StatusOr<uint64_t> after =
      DecodePositionPageToken(kListDecisionsMethod, first.next_page_token());
  ASSERT_THAT(after, IsOk());
  EXPECT_EQ(*after, d2);
  EXPECT_THAT(Ids(DecisionsPage(s_.facts(), *after, 2)), ElementsAre("d3"));
  // A key between positions starts after it.
  EXPECT_THAT(Ids(DecisionsPage(s_.facts(), d1 + 1, 50)), ElementsAre("d2", "d3"));
  EXPECT_EQ(DecisionsPage(CaseFacts(), 0, 50).decisions_size(), 0);
}

TEST_F(ConsentViewTest, AnExplanationCopiesTheRecordAndTheComparison) {
  Decide("d1", consent_v1::APPROVED);
  const DecisionRecord& record = s_.facts().decisions.back();
  Explanation explained;
  explained.recomputed = Decision("d1", consent_v1::REFUSED);
  explained.same_outcome = false;
  explained.same_reasons = true;
  explained.same_consulted = true;
  explained.facts_until_position = 77;
  const consent_v1::ExplainDecisionResponse view = ExplanationView(record, explained);
  EXPECT_THAT(view.decision(), EqualsProto(DecisionView(record)));
  EXPECT_THAT(view.recomputed(), EqualsProto(Decision("d1", consent_v1::REFUSED)));
  EXPECT_FALSE(view.same_outcome());
  EXPECT_TRUE(view.same_reasons());
  EXPECT_TRUE(view.same_consulted());
  EXPECT_EQ(view.facts_until_position(), 77u);
}

}  // namespace
}  // namespace mend::consentsvc
