// contact-gate/2 as a decision table (contact_rule.h): on every row of
// contact-gate/1's table it gives /1's reasons (nothing it adds applies
// there), and it adds CASE_UNSUITABLE and RISK_ASSESSMENT_REVIEW_OVERDUE —
// each alone for each kind, and with others.
#include <string>
#include <vector>

#include "absl/strings/str_cat.h"
#include "absl/time/civil_time.h"
#include "absl/time/time.h"
#include "gmock/gmock.h"
#include "gtest/gtest.h"
#include "services/consent/consent_state.h"
#include "services/consent/contact_rule.h"
#include "services/consent/contact_rule_test_fixtures.h"
#include "services/consent/contact_rule_v1_rows.h"

namespace mend::consentsvc {
namespace {

using namespace ::mend::consentsvc::rule_testing;  // NOLINT: the fixtures
using ::testing::HasSubstr;

// Approvable()'s assessment is due for review by 2026-06-01.
absl::Time Day(int year, int month, int day, int hour = 12) {
  return absl::FromCivil(absl::CivilHour(year, month, day, hour), absl::UTCTimeZone());
}
const absl::Time kBeforeReview = Day(2026, 5, 1);

ContactQuestion AskV2(ContactKind kind) {
  ContactQuestion q = Ask(kind);
  q.decided_at = kBeforeReview;
  return q;
}

void FindUnsuitable(CaseFacts& f) {
  f.case_state.suitable = false;
  f.case_state.unsuitable_reason = case_v1::RISK_TOO_HIGH;
  f.suitability = FactRef{consent_v1::CASE_LOG, 30, "mend.case.v1.SuitabilityRecorded"};
}

class ContactRuleV2SameAsV1Test : public ::testing::TestWithParam<Row> {};

TEST_P(ContactRuleV2SameAsV1Test, GivesTheV1Reasons) {
  const Row& row = GetParam();
  CaseFacts facts = Approvable(row.category);
  ContactQuestion q = AskV2(row.kind);
  row.change(facts, q);
  const ContactRuling ruling = DecideContactRuleV2(facts, q);
  EXPECT_EQ(Reasons(ruling), row.want);
  CheckWellFormed(facts, q, ruling, kContactGateV2);
}

INSTANTIATE_TEST_SUITE_P(V1Rows, ContactRuleV2SameAsV1Test,
                         ::testing::ValuesIn(AllRows()),
                         [](const ::testing::TestParamInfo<Row>& info) {
                           return info.param.name;
                         });

std::vector<Row> V2Rows() {
  using namespace consent_v1;  // NOLINT: reason codes read better bare here
  std::vector<Row> rows;
  for (ContactKind kind : kKinds) {
    const std::string k = Short(kind);
    rows.push_back({k + "_Approved", kind, case_v1::VIOLENCE, [](auto&, auto&) {}, {}});
    rows.push_back({k + "_FoundUnsuitable",
                    kind,
                    case_v1::VIOLENCE,
                    [](CaseFacts& f, auto&) { FindUnsuitable(f); },
                    {{CASE_UNSUITABLE}}});
    rows.push_back({k + "_FoundUnsuitableAndMovedToItsStage",
                    kind,
                    case_v1::VIOLENCE,
                    [](CaseFacts& f, auto&) {
                      FindUnsuitable(f);
                      MoveStage(f, case_v1::FOUND_UNSUITABLE);
                    },
                    {{CASE_UNSUITABLE}}});
    rows.push_back({k + "_InStageFoundUnsuitable",
                    kind,
                    case_v1::VIOLENCE,
                    [](CaseFacts& f, auto&) { MoveStage(f, case_v1::FOUND_UNSUITABLE); },
                    {{CASE_UNSUITABLE}}});
    rows.push_back({k + "_FoundSuitableAgain",
                    kind,
                    case_v1::VIOLENCE,
                    [](CaseFacts& f, auto&) {
                      FindUnsuitable(f);
                      f.case_state.suitable = true;
                      f.case_state.unsuitable_reason =
                          case_v1::UNSUITABLE_REASON_UNSPECIFIED;
                    },
                    {}});
    rows.push_back({k + "_NoSuitabilityFindingYet",
                    kind,
                    case_v1::VIOLENCE,
                    [](CaseFacts& f, auto&) {
                      f.case_state.suitable.reset();
                      f.suitability.reset();
                    },
                    {}});
    rows.push_back({k + "_ReviewOverdue",
                    kind,
                    case_v1::VIOLENCE,
                    [](auto&, ContactQuestion& q) { q.decided_at = Day(2026, 6, 2, 0); },
                    {{RISK_ASSESSMENT_REVIEW_OVERDUE}}});
    rows.push_back({k + "_ReviewDueToday",
                    kind,
                    case_v1::VIOLENCE,
                    [](auto&, ContactQuestion& q) { q.decided_at = Day(2026, 6, 1, 23); },
                    {}});
    rows.push_back({k + "_ReviewDateUnreadable",
                    kind,
                    case_v1::VIOLENCE,
                    [](CaseFacts& f, auto&) {
                      f.case_state.risk_assessments.back().review_date = "01/06/2026";
                    },
                    {{RISK_ASSESSMENT_REVIEW_OVERDUE}}});
    rows.push_back({k + "_NoReviewDate",
                    kind,
                    case_v1::HATE_CRIME,
                    [](CaseFacts& f, auto&) {
                      f.case_state.risk_assessments.back().review_date.clear();
                    },
                    {{RISK_ASSESSMENT_REVIEW_OVERDUE}}});
  }
  rows.push_back({"UnsuitableAndPaused",
                  common_v1::LETTER_DELIVERY,
                  case_v1::VIOLENCE,
                  [](CaseFacts& f, auto&) {
                    FindUnsuitable(f);
                    Pause(f);
                  },
                  {{CASE_PAUSED}, {CASE_UNSUITABLE}}});
  rows.push_back({"UnsuitableClosedAndOverdue",
                  common_v1::APPROACH_VICTIM,
                  case_v1::VIOLENCE,
                  [](CaseFacts& f, ContactQuestion& q) {
                    FindUnsuitable(f);
                    Close(f);
                    q.decided_at = Day(2027, 1, 1);
                  },
                  {{CASE_CLOSED}, {CASE_UNSUITABLE}, {RISK_ASSESSMENT_REVIEW_OVERDUE}}});
  rows.push_back({"EveryAssessmentReasonAtOnce",
                  common_v1::VIDEO_MEETING,
                  case_v1::HATE_CRIME,
                  [](CaseFacts& f, ContactQuestion& q) {
                    Unapprove(f);
                    Lapse(f);
                    Disallow(f, common_v1::VIDEO_MEETING);
                    q.decided_at = Day(2026, 7, 1);
                  },
                  {{RISK_ASSESSMENT_NOT_APPROVED},
                   {RISK_ASSESSMENT_LAPSED},
                   {RISK_ASSESSMENT_REVIEW_OVERDUE},
                   {RISK_ASSESSMENT_DISALLOWS_KIND}}});
  rows.push_back({"UnsuitableErasedAndWithdrawn",
                  common_v1::SHUTTLE_MESSAGE,
                  case_v1::DOMESTIC_ABUSE,
                  [](CaseFacts& f, auto&) {
                    FindUnsuitable(f);
                    Erase(f, kVictim);
                    Withdraw(f, kServiceUser, {SHUTTLE});
                  },
                  {{CASE_UNSUITABLE},
                   {PARTICIPANT_ERASED, kVictim},
                   {CONSENT_WITHDRAWN, kServiceUser, SHUTTLE}}});
  rows.push_back({"NoAssessmentIsNotOverdue",
                  common_v1::LETTER_DELIVERY,
                  case_v1::VIOLENCE,
                  [](CaseFacts& f, ContactQuestion& q) {
                    NoRiskAssessment(f);
                    q.decided_at = Day(2030, 1, 1);
                  },
                  {{NO_RISK_ASSESSMENT}}});
  return rows;
}

class ContactRuleV2TableTest : public ::testing::TestWithParam<Row> {};

TEST_P(ContactRuleV2TableTest, GivesExactlyTheListedReasons) {
  const Row& row = GetParam();
  CaseFacts facts = Approvable(row.category);
  ContactQuestion q = AskV2(row.kind);
  row.change(facts, q);
  const ContactRuling ruling = DecideContactRuleV2(facts, q);
  EXPECT_EQ(ruling.outcome,
            row.want.empty() ? consent_v1::APPROVED : consent_v1::REFUSED);
  EXPECT_EQ(Reasons(ruling), row.want);
  CheckWellFormed(facts, q, ruling, kContactGateV2);
}

INSTANTIATE_TEST_SUITE_P(Rows, ContactRuleV2TableTest, ::testing::ValuesIn(V2Rows()),
                         [](const ::testing::TestParamInfo<Row>& info) {
                           return info.param.name;
                         });

// Defect D2 as contact-gate/1 recorded it: a case found unsuitable, or one
// whose review is overdue, was approved — and re-explains so.
TEST(ContactRuleV2Test, V1StillApprovesWhatV2Refuses) {
  CaseFacts facts = Approvable();
  FindUnsuitable(facts);
  ContactQuestion q = AskV2(common_v1::LETTER_DELIVERY);
  q.decided_at = Day(2027, 1, 1);
  EXPECT_EQ(DecideContactRuleV1(facts, q).outcome, consent_v1::APPROVED);
  EXPECT_EQ(DecideContactRuleV1(facts, q).policy_version, kContactGateV1);
  EXPECT_EQ(Reasons(DecideContactRuleV2(facts, q)),
            (std::vector<R>{{consent_v1::CASE_UNSUITABLE},
                            {consent_v1::RISK_ASSESSMENT_REVIEW_OVERDUE}}));
}

TEST(ContactRuleV2Test, CitesTheSuitabilityFindingAndTheReviewDate) {
  CaseFacts facts = Approvable();
  ContactRuling ruling = DecideContactRuleV2(facts, AskV2(common_v1::LETTER_DELIVERY));
  ASSERT_EQ(ruling.outcome, consent_v1::APPROVED);
  const consent_v1::ConsultedFact* suitable =
      CitationAt(ruling, consent_v1::CASE_LOG, kSuitabilityPos);
  ASSERT_NE(suitable, nullptr);
  EXPECT_EQ(suitable->event_type(), "mend.case.v1.SuitabilityRecorded");
  EXPECT_EQ(suitable->fact(), "found suitable");
  const consent_v1::ConsultedFact* assessment =
      CitationAt(ruling, consent_v1::CASE_LOG, kRiskRecordedPos);
  ASSERT_NE(assessment, nullptr);
  EXPECT_THAT(assessment->fact(), HasSubstr("review by 2026-06-01"));

  FindUnsuitable(facts);
  ruling = DecideContactRuleV2(facts, AskV2(common_v1::LETTER_DELIVERY));
  const consent_v1::ConsultedFact* unsuitable =
      CitationAt(ruling, consent_v1::CASE_LOG, 30);
  ASSERT_NE(unsuitable, nullptr);
  EXPECT_THAT(unsuitable->fact(), HasSubstr("RISK_TOO_HIGH"));
  ASSERT_EQ(ruling.reasons.size(), 1u);
  EXPECT_THAT(ruling.reasons[0].detail(), HasSubstr("RISK_TOO_HIGH"));
}

// The ruling depends on the time only through the review date, and the same
// time gives the same bytes.
TEST(ContactRuleV2Test, TimeMattersOnlyForTheReview) {
  const CaseFacts facts = Approvable();
  ContactQuestion early = AskV2(common_v1::SHUTTLE_MESSAGE);
  ContactQuestion later = early;
  later.decided_at = Day(2026, 5, 31);
  EXPECT_EQ(Serialized(DecideContactRuleV2(facts, early)),
            Serialized(DecideContactRuleV2(facts, later)));
  EXPECT_EQ(Serialized(DecideContactRuleV2(facts, later)),
            Serialized(DecideContactRuleV2(facts, later)));
  EXPECT_TRUE(RuleReadsTime(kContactGateV2));
  EXPECT_EQ(std::string(kContactPolicyVersion), kContactGateV2);
}

}  // namespace
}  // namespace mend::consentsvc
