// Risk assessments: recording, supersession and approval.
#include "services/case/case_domain_test_support.h"

namespace mend::casesvc::test {
namespace {

// ---------------------------------------------------------------------------
// Risk assessments.

TEST(RecordRiskAssessmentTest, FirstAssessmentMovesAllocatedToAssessing) {
  AT_STAGE(s, case_v1::ALLOCATED);
  APPLY(s, DecideRecordRiskAssessment(s.state(), Assessment("r1"), Facilitator()));
  ASSERT_THAT(Types(s.last()), ElementsAre("RiskAssessmentRecorded", "StageChanged"));
  const auto& recorded = Get<case_v1::RiskAssessmentRecorded>(s.last(), 0);
  EXPECT_EQ(recorded.assessment_id(), "r1");
  EXPECT_EQ(recorded.assessor_id(), "f1");
  EXPECT_EQ(recorded.level(), case_v1::MEDIUM);
  EXPECT_THAT(recorded.allowed_kinds(),
              ElementsAre(common_v1::APPROACH_VICTIM, common_v1::LETTER_DELIVERY));
  EXPECT_EQ(recorded.review_date(), "2026-03-01");
  EXPECT_FALSE(recorded.requires_approval());
  EXPECT_EQ(recorded.supersedes_assessment_id(), "");
  EXPECT_EQ(recorded.notes().person_id(), "su1");
  EXPECT_EQ(Get<case_v1::StageChanged>(s.last(), 1).to(), case_v1::ASSESSING);
  const RiskAssessmentState* current = s.state().current_risk_assessment();
  ASSERT_NE(current, nullptr);
  EXPECT_EQ(current->position, s.last().at(0).position);
  EXPECT_TRUE(current->counts());
}

TEST(RecordRiskAssessmentTest, CompletingTheConditionsMovesThroughToPreparing) {
  // Acknowledged and suitable already: the first assessment completes them.
  AT_STAGE(s, case_v1::SCREENING);
  APPLY(s, DecideRecordAcknowledgement(s.state(), {kCaseId, true, {}}, Manager()));
  APPLY(s, DecideAllocateFacilitator(s.state(), {kCaseId, "f1"}, Manager()));
  APPLY(s, DecideRecordRiskAssessment(s.state(), Assessment("r1"), Facilitator()));
  ASSERT_THAT(Types(s.last()),
              ElementsAre("RiskAssessmentRecorded", "StageChanged", "StageChanged"));
  EXPECT_EQ(Get<case_v1::StageChanged>(s.last(), 1).from(), case_v1::ALLOCATED);
  EXPECT_EQ(Get<case_v1::StageChanged>(s.last(), 1).to(), case_v1::ASSESSING);
  EXPECT_EQ(Get<case_v1::StageChanged>(s.last(), 2).from(), case_v1::ASSESSING);
  EXPECT_EQ(Get<case_v1::StageChanged>(s.last(), 2).to(), case_v1::PREPARING);
  EXPECT_EQ(s.state().stage, case_v1::PREPARING);
  EXPECT_EQ(s.state().last_stage_change_position, s.last().at(2).position);
}

TEST(RecordRiskAssessmentTest, RulesAreEnforced) {
  AT_STAGE(s, case_v1::ASSESSING);
  EXPECT_THAT(DecideRecordRiskAssessment(s.state(), Assessment("r1"), Manager()),
              StatusIs(absl::StatusCode::kAlreadyExists, HasSubstr("r1")));
  struct Row {
    std::string name;
    std::function<void(RecordRiskAssessmentCommand&)> change;
    std::string message;
  };
  const std::vector<Row> rows = {
      {"no id", [](auto& c) { c.assessment_id.clear(); }, "assessment_id"},
      {"no level", [](auto& c) { c.level = case_v1::RISK_LEVEL_UNSPECIFIED; }, "level"},
      {"no review date", [](auto& c) { c.review_date.clear(); }, "review_date"},
      {"no real review date", [](auto& c) { c.review_date = "2026-13-01"; },
       "review_date: must be a real date"},
      // Two years (731 days) from the command's day, 2026-02-01.
      {"review absurdly far ahead", [](auto& c) { c.review_date = "9999-12-31"; },
       "review_date: is 9999-12-31, after 2028-02-02 (a risk assessment is reviewed "
       "within two years)"},
      {"review a day too far", [](auto& c) { c.review_date = "2028-02-03"; },
       "after 2028-02-02"},
      {"unspecified kind",
       [](auto& c) { c.allowed_kinds.push_back(common_v1::CONTACT_KIND_UNSPECIFIED); },
       "allowed_kinds[2]"},
      {"repeated kind",
       [](auto& c) { c.allowed_kinds.push_back(common_v1::APPROACH_VICTIM); },
       "repeats APPROACH_VICTIM"},
      {"notes sealed with the victim's key",
       [](auto& c) { c.notes = Seal("v1", kSealedRiskAssessmentNotes, "x"); },
       "notes is sealed"},
  };
  for (const Row& row : rows) {
    SCOPED_TRACE(row.name);
    RecordRiskAssessmentCommand command = Assessment("r2");
    row.change(command);
    EXPECT_THAT(DecideRecordRiskAssessment(s.state(), command, Manager()),
                StatusIs(absl::StatusCode::kInvalidArgument, HasSubstr(row.message)));
  }
  // Two years ahead, to the day, is fine.
  RecordRiskAssessmentCommand far = Assessment("r3");
  far.review_date = "2028-02-02";
  EXPECT_THAT(DecideRecordRiskAssessment(s.state(), far, Manager()), IsOk());
  // An empty list of kinds is an assessment that allows no contact.
  RecordRiskAssessmentCommand none = Assessment("r2");
  none.allowed_kinds.clear();
  APPLY(s, DecideRecordRiskAssessment(s.state(), none, Manager()));
  EXPECT_THAT(s.state().current_risk_assessment()->allowed_kinds, IsEmpty());
}

TEST(RiskAssessmentTest, SensitiveCaseNeedsApprovalBeforePreparing) {
  AT_STAGE(s, case_v1::SCREENING, /*sensitive=*/true);
  APPLY(s, DecideRecordAcknowledgement(s.state(), {kCaseId, true, {}}, Manager()));
  APPLY(s, DecideAllocateFacilitator(s.state(), {kCaseId, "f1"}, Manager()));
  APPLY(s, DecideRecordRiskAssessment(s.state(), Assessment("r1"), Facilitator()));
  EXPECT_THAT(Types(s.last()), ElementsAre("RiskAssessmentRecorded", "StageChanged"));
  EXPECT_TRUE(Get<case_v1::RiskAssessmentRecorded>(s.last(), 0).requires_approval());
  EXPECT_EQ(s.state().stage, case_v1::ASSESSING);
  EXPECT_FALSE(s.state().HasCountingRiskAssessment());

  APPLY(s, DecideApproveRiskAssessment(s.state(), {kCaseId, "r1"}, Manager()));
  ASSERT_THAT(Types(s.last()), ElementsAre("RiskAssessmentApproved", "StageChanged"));
  EXPECT_EQ(Get<case_v1::RiskAssessmentApproved>(s.last(), 0).approved_by(), "m1");
  EXPECT_EQ(Get<case_v1::StageChanged>(s.last(), 1).to(), case_v1::PREPARING);
  EXPECT_TRUE(s.state().current_risk_assessment()->approved);
  EXPECT_EQ(s.state().current_risk_assessment()->approved_position,
            s.last().at(0).position);
}

TEST(RiskAssessmentTest, SupersessionMakesApprovalsLapse) {
  AT_STAGE(s, case_v1::PREPARING, /*sensitive=*/true);
  ASSERT_TRUE(s.state().HasCountingRiskAssessment());
  APPLY(s, DecideRecordRiskAssessment(s.state(), Assessment("r2"), Facilitator()));
  ASSERT_THAT(Types(s.last()), ElementsAre("RiskAssessmentRecorded"));
  const auto& recorded = Get<case_v1::RiskAssessmentRecorded>(s.last(), 0);
  EXPECT_EQ(recorded.supersedes_assessment_id(), "r1");
  EXPECT_TRUE(recorded.requires_approval());
  // The approval of r1 lapsed with it: nothing counts until r2 is approved.
  EXPECT_EQ(s.state().current_risk_assessment()->assessment_id, "r2");
  EXPECT_FALSE(s.state().HasCountingRiskAssessment());
  EXPECT_EQ(s.state().FindRiskAssessment("r1")->superseded_by, "r2");
  EXPECT_EQ(s.state().stage, case_v1::PREPARING);  // stages never move back
  EXPECT_THAT(DecideApproveRiskAssessment(s.state(), {kCaseId, "r1"}, Manager()),
              StatusIs(absl::StatusCode::kFailedPrecondition,
                       HasSubstr("\"r1\" is superseded by \"r2\"")));
  APPLY(s, DecideApproveRiskAssessment(s.state(), {kCaseId, "r2"}, Manager()));
  EXPECT_THAT(Types(s.last()), ElementsAre("RiskAssessmentApproved"));
  EXPECT_TRUE(s.state().HasCountingRiskAssessment());
}

TEST(RiskAssessmentTest, SupersededApprovalInAssessingKeepsTheCaseThere) {
  AT_STAGE(s, case_v1::ASSESSING, /*sensitive=*/true);
  APPLY(s, DecideApproveRiskAssessment(s.state(), {kCaseId, "r1"}, Manager()));
  EXPECT_EQ(s.state().stage, case_v1::ASSESSING);  // not acknowledged yet
  APPLY(s, DecideRecordRiskAssessment(s.state(), Assessment("r2"), Facilitator()));
  APPLY(s, DecideRecordAcknowledgement(s.state(), {kCaseId, true, {}}, Facilitator()));
  EXPECT_THAT(Types(s.last()), ElementsAre("AcknowledgementRecorded"));
  EXPECT_EQ(s.state().stage, case_v1::ASSESSING);  // r2 awaits approval
  APPLY(s, DecideApproveRiskAssessment(s.state(), {kCaseId, "r2"}, Manager()));
  EXPECT_THAT(Types(s.last()), ElementsAre("RiskAssessmentApproved", "StageChanged"));
  EXPECT_EQ(s.state().stage, case_v1::PREPARING);
}

TEST(ApproveRiskAssessmentTest, RulesAreEnforced) {
  AT_STAGE(plain, case_v1::ASSESSING);
  EXPECT_THAT(DecideApproveRiskAssessment(plain.state(), {kCaseId, "r1"}, Manager()),
              StatusIs(absl::StatusCode::kFailedPrecondition,
                       HasSubstr("does not require approval")));

  AT_STAGE(s, case_v1::ASSESSING, /*sensitive=*/true);
  EXPECT_THAT(DecideApproveRiskAssessment(s.state(), {kCaseId, "nope"}, Manager()),
              StatusIs(absl::StatusCode::kNotFound, HasSubstr("\"nope\"")));
  EXPECT_THAT(DecideApproveRiskAssessment(s.state(), {kCaseId, ""}, Manager()),
              StatusIs(absl::StatusCode::kInvalidArgument));
  EXPECT_THAT(DecideApproveRiskAssessment(s.state(), {kCaseId, "r1"}, Facilitator()),
              StatusIs(absl::StatusCode::kPermissionDenied,
                       HasSubstr("only a manager may approve risk assessments")));
  APPLY(s, DecideApproveRiskAssessment(s.state(), {kCaseId, "r1"}, Manager()));
  EXPECT_THAT(DecideApproveRiskAssessment(s.state(), {kCaseId, "r1"}, Manager()),
              StatusIs(absl::StatusCode::kFailedPrecondition,
                       HasSubstr("already approved by \"m1\"")));

  AT_STAGE(paused, case_v1::PAUSED, /*sensitive=*/true);
  EXPECT_THAT(DecideApproveRiskAssessment(paused.state(), {kCaseId, "r1"}, Manager()),
              StatusIs(absl::StatusCode::kFailedPrecondition, HasSubstr("stage PAUSED")));
  AT_STAGE(closed, case_v1::CLOSED, /*sensitive=*/true);
  EXPECT_THAT(DecideApproveRiskAssessment(closed.state(), {kCaseId, "r1"}, Manager()),
              StatusIs(absl::StatusCode::kFailedPrecondition, HasSubstr("stage CLOSED")));
}

}  // namespace
}  // namespace mend::casesvc::test
