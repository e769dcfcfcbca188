#include "services/case/case_validation.h"

#include <functional>
#include <string>
#include <vector>

#include "gmock/gmock.h"
#include "gtest/gtest.h"
#include "tests/support/test_util.h"

namespace mend::casesvc {
namespace {

using ::mend::testing::IsOk;
using ::mend::testing::StatusIs;
using ::testing::HasSubstr;
namespace v1 = ::mend::case_::v1;

v1::ReferCaseRequest GoodReferral() {
  v1::ReferCaseRequest r;
  r.set_request_id("req-1");
  r.set_source(v1::PROBATION_OFFICER);
  r.set_referral_date("2026-03-14");
  r.set_offence_category(v1::ACQUISITIVE);
  r.set_offence_summary("Burglary of a dwelling; items returned.");
  auto* su = r.add_participants();
  su->set_role(v1::SERVICE_USER);
  su->mutable_details()->set_full_name("Sam Example");
  auto* victim = r.add_participants();
  victim->set_role(v1::VICTIM);
  victim->mutable_details()->set_full_name("Vic Example");
  victim->mutable_details()->set_date_of_birth("1970-02-28");
  victim->mutable_needs()->set_language("pl");
  return r;
}

TEST(CaseValidationTest, GoodReferralIsValid) {
  EXPECT_THAT(Validate(GoodReferral()), IsOk());
}

// Each row breaks one thing in an otherwise good referral; the message must
// name the field.
TEST(CaseValidationTest, EachBrokenReferralFieldIsNamed) {
  struct Row {
    std::string field;
    std::function<void(v1::ReferCaseRequest&)> Break;
  };
  const std::vector<Row> rows = {
      {"request_id", [](auto& r) { r.clear_request_id(); }},
      {"request_id", [](auto& r) { r.set_request_id("has space"); }},
      {"request_id", [](auto& r) { r.set_request_id(std::string(129, 'x')); }},
      {"source", [](auto& r) { r.clear_source(); }},
      {"source", [](auto& r) { r.set_source(static_cast<v1::ReferralSource>(99)); }},
      {"referral_date", [](auto& r) { r.clear_referral_date(); }},
      {"referral_date", [](auto& r) { r.set_referral_date("2026-02-30"); }},
      {"referral_date", [](auto& r) { r.set_referral_date("14/03/2026"); }},
      {"referral_date", [](auto& r) { r.set_referral_date("2026-3-14"); }},
      {"offence_category", [](auto& r) { r.clear_offence_category(); }},
      {"offence_category",
       [](auto& r) { r.set_offence_category(static_cast<v1::OffenceCategory>(-3)); }},
      {"offence_summary", [](auto& r) { r.clear_offence_summary(); }},
      {"offence_summary", [](auto& r) { r.set_offence_summary(std::string(4001, 'a')); }},
      {"participants", [](auto& r) { r.mutable_participants()->RemoveLast(); }},
      {"participants",
       [](auto& r) { r.mutable_participants(1)->set_role(v1::SERVICE_USER); }},
      {"participants[0].role", [](auto& r) { r.mutable_participants(0)->clear_role(); }},
      {"participants[1].details.full_name",
       [](auto& r) { r.mutable_participants(1)->mutable_details()->clear_full_name(); }},
      {"participants[1].details.full_name",
       [](auto& r) {
         r.mutable_participants(1)->mutable_details()->set_full_name("Vic\nExample");
       }},
      {"participants[1].details.date_of_birth",
       [](auto& r) {
         r.mutable_participants(1)->mutable_details()->set_date_of_birth("1970-13-01");
       }},
      {"participants[1].participant_id",
       [](auto& r) { r.mutable_participants(1)->set_participant_id("a b"); }},
      {"participants[1].supports_participant_id",
       [](auto& r) { r.mutable_participants(1)->set_supports_participant_id("p-1"); }},
      {"participants[1].needs.notes",
       [](auto& r) {
         r.mutable_participants(1)->mutable_needs()->set_notes(std::string(5000, 'n'));
       }},
  };
  for (const Row& row : rows) {
    v1::ReferCaseRequest r = GoodReferral();
    row.Break(r);
    absl::Status s = Validate(r);
    EXPECT_THAT(s, StatusIs(absl::StatusCode::kInvalidArgument)) << row.field;
    EXPECT_THAT(s.message(), HasSubstr(row.field)) << s;
  }
}

TEST(CaseValidationTest, TooManyParticipantsIsRefused) {
  v1::ReferCaseRequest r = GoodReferral();
  for (int i = 0; i < kMaxParticipantsPerReferral; ++i) {
    auto* v = r.add_participants();
    v->set_role(v1::VICTIM);
    v->mutable_details()->set_full_name("Another");
  }
  EXPECT_THAT(Validate(r), StatusIs(absl::StatusCode::kInvalidArgument));
}

TEST(CaseValidationTest, AddParticipantOnlyForLaterRoles) {
  v1::AddParticipantRequest r;
  r.set_request_id("req-2");
  r.set_case_id("case-1");
  r.mutable_participant()->set_role(v1::SUPPORTER);
  r.mutable_participant()->set_supports_participant_id("p-victim");
  r.mutable_participant()->mutable_details()->set_full_name("Supporter");
  EXPECT_THAT(Validate(r), IsOk());
  r.mutable_participant()->clear_supports_participant_id();
  EXPECT_THAT(Validate(r).message(), HasSubstr("participant.supports_participant_id"));
  r.mutable_participant()->set_role(v1::VICTIM);
  EXPECT_THAT(Validate(r).message(), HasSubstr("participant.role"));
  r.clear_participant();
  EXPECT_THAT(Validate(r).message(), HasSubstr("participant"));
}

TEST(CaseValidationTest, CommandsNeedRequestAndCaseIdsAndAPositiveExpectedVersion) {
  v1::AllocateFacilitatorRequest r;
  r.set_request_id("req-3");
  r.set_case_id("case-1");
  r.set_facilitator_id("fac-1");
  EXPECT_THAT(Validate(r), IsOk());
  r.set_expected_version(0);
  EXPECT_THAT(Validate(r).message(), HasSubstr("expected_version"));
  r.set_expected_version(4);
  EXPECT_THAT(Validate(r), IsOk());
  r.clear_case_id();
  EXPECT_THAT(Validate(r).message(), HasSubstr("case_id"));
  r.set_case_id("case-1");
  r.clear_facilitator_id();
  EXPECT_THAT(Validate(r).message(), HasSubstr("facilitator_id"));
}

TEST(CaseValidationTest, RiskAssessmentKindsMustBeKnownAndDistinct) {
  v1::RecordRiskAssessmentRequest r;
  r.set_request_id("req-4");
  r.set_case_id("case-1");
  r.set_level(v1::MEDIUM);
  r.add_allowed_kinds(mend::common::v1::APPROACH_VICTIM);
  r.add_allowed_kinds(mend::common::v1::LETTER_DELIVERY);
  r.set_review_date("2026-06-01");
  EXPECT_THAT(Validate(r), IsOk());
  r.add_allowed_kinds(mend::common::v1::LETTER_DELIVERY);
  EXPECT_THAT(Validate(r).message(), HasSubstr("allowed_kinds[2]"));
  r.mutable_allowed_kinds()->RemoveLast();
  r.add_allowed_kinds(static_cast<mend::common::v1::ContactKind>(77));
  EXPECT_THAT(Validate(r).message(), HasSubstr("allowed_kinds[2]"));
  r.mutable_allowed_kinds()->RemoveLast();
  r.clear_level();
  EXPECT_THAT(Validate(r).message(), HasSubstr("level"));
}

TEST(CaseValidationTest, SuitabilityReasonOnlyWhenUnsuitable) {
  v1::RecordSuitabilityRequest r;
  r.set_request_id("req-5");
  r.set_case_id("case-1");
  r.set_suitable(true);
  EXPECT_THAT(Validate(r), IsOk());
  r.set_reason(v1::RISK_TOO_HIGH);
  EXPECT_THAT(Validate(r).message(), HasSubstr("reason"));
  r.set_suitable(false);
  EXPECT_THAT(Validate(r), IsOk());
  r.clear_reason();
  EXPECT_THAT(Validate(r).message(), HasSubstr("reason"));
}

TEST(CaseValidationTest, CloseEraseAndPauseNeedTheirReasons) {
  v1::CloseCaseRequest close;
  close.set_request_id("r");
  close.set_case_id("c");
  EXPECT_THAT(Validate(close).message(), HasSubstr("reason"));
  close.set_reason(v1::COMPLETED);
  EXPECT_THAT(Validate(close), IsOk());

  v1::EraseParticipantRequest erase;
  erase.set_request_id("r");
  erase.set_case_id("c");
  erase.set_participant_id("p");
  erase.set_basis(v1::RETENTION_PERIOD_ELAPSED);
  EXPECT_THAT(Validate(erase).message(), HasSubstr("reason"));
  erase.set_reason("retention-R7");
  EXPECT_THAT(Validate(erase), IsOk());
  erase.set_reason(std::string(kMaxCodeLength + 1, 'r'));
  EXPECT_THAT(Validate(erase), StatusIs(absl::StatusCode::kInvalidArgument));
  // The reason is stored in plain text: a code, never a phrase. (This
  // accepted "retention period ended" and "request ref ER-17" before.)
  erase.set_reason("retention period ended");
  EXPECT_THAT(Validate(erase), StatusIs(absl::StatusCode::kInvalidArgument,
                                        HasSubstr("reason: must be a short code")));
  erase.set_reason("ER-17");
  erase.set_basis(v1::ERASURE_REQUEST);
  EXPECT_THAT(Validate(erase), IsOk());

  v1::PauseCaseRequest pause;
  pause.set_request_id("r");
  pause.set_case_id("c");
  EXPECT_THAT(Validate(pause).message(), HasSubstr("reason"));
}

TEST(CaseValidationTest, ErasureNeedsAKnownBasis) {
  v1::EraseParticipantRequest erase;
  erase.set_request_id("r");
  erase.set_case_id("c");
  erase.set_participant_id("p");
  erase.set_reason("ER-17");
  // Unspecified: the rule to apply is unknown.
  EXPECT_THAT(Validate(erase), StatusIs(absl::StatusCode::kInvalidArgument));
  EXPECT_THAT(Validate(erase).message(), HasSubstr("basis: is required"));
  erase.set_basis(static_cast<v1::ErasureBasis>(7));
  EXPECT_THAT(Validate(erase), StatusIs(absl::StatusCode::kInvalidArgument));
  EXPECT_THAT(Validate(erase).message(), HasSubstr("basis: has unknown value 7"));
  erase.set_basis(v1::ERASURE_REQUEST);
  EXPECT_THAT(Validate(erase), IsOk());
}

// Every plain-text string a command stores is an id or a code; each row
// puts free text (a sentence, a phone number) or a malformed value in one
// such field of an otherwise valid request.
TEST(CaseValidationTest, StoredPlainTextIsAnIdOrACode) {
  struct Row {
    std::string field;
    std::function<absl::Status(const std::string&)> validate;
  };
  const std::vector<Row> rows = {
      {"request_id",
       [](const std::string& v) {
         v1::ResumeCaseRequest r;
         r.set_request_id(v);
         r.set_case_id("c1");
         return Validate(r);
       }},
      {"case_id",
       [](const std::string& v) {
         v1::ResumeCaseRequest r;
         r.set_request_id("r1");
         r.set_case_id(v);
         return Validate(r);
       }},
      {"facilitator_id",
       [](const std::string& v) {
         v1::AllocateFacilitatorRequest r;
         r.set_request_id("r1");
         r.set_case_id("c1");
         r.set_facilitator_id(v);
         return Validate(r);
       }},
      {"assessment_id",
       [](const std::string& v) {
         v1::ApproveRiskAssessmentRequest r;
         r.set_request_id("r1");
         r.set_case_id("c1");
         r.set_assessment_id(v);
         return Validate(r);
       }},
      {"participant_id",
       [](const std::string& v) {
         v1::EraseParticipantRequest r;
         r.set_request_id("r1");
         r.set_case_id("c1");
         r.set_participant_id(v);
         r.set_basis(v1::ERASURE_REQUEST);
         r.set_reason("ER-17");
         return Validate(r);
       }},
      {"reason",
       [](const std::string& v) {
         v1::PauseCaseRequest r;
         r.set_request_id("r1");
         r.set_case_id("c1");
         r.set_reason(v);
         return Validate(r);
       }},
      {"reason",
       [](const std::string& v) {
         v1::LinkParticipantRequest r;
         r.set_request_id("r1");
         r.set_case_id("c1");
         r.set_participant_id("v1");
         r.set_other_case_id("c2");
         r.set_other_participant_id("v9");
         r.set_reason(v);
         return Validate(r);
       }},
      {"participant.supports_participant_id",
       [](const std::string& v) {
         v1::AddParticipantRequest r;
         r.set_request_id("r1");
         r.set_case_id("c1");
         r.mutable_participant()->set_role(v1::SUPPORTER);
         r.mutable_participant()->set_supports_participant_id(v);
         r.mutable_participant()->mutable_details()->set_full_name("Sam Supporter");
         return Validate(r);
       }},
  };
  for (const Row& row : rows) {
    SCOPED_TRACE(row.field);
    EXPECT_THAT(row.validate("ok-1"), IsOk());
    for (const std::string& bad : std::vector<std::string>{
             "+44 7700 900000", "victim in hospital", "a/b", "", std::string(129, 'x')}) {
      SCOPED_TRACE(bad);
      EXPECT_THAT(row.validate(bad), StatusIs(absl::StatusCode::kInvalidArgument,
                                              HasSubstr(row.field + ": ")));
    }
  }
}

TEST(CaseValidationTest, LinkParticipantRequest) {
  v1::LinkParticipantRequest r;
  r.set_request_id("r1");
  r.set_case_id("c1");
  r.set_participant_id("v1");
  r.set_other_case_id("c2");
  r.set_other_participant_id("su9");
  r.set_reason("same-dob-and-name");
  EXPECT_THAT(Validate(r), IsOk());
  r.set_other_expected_version(0);
  EXPECT_THAT(Validate(r), StatusIs(absl::StatusCode::kInvalidArgument,
                                    HasSubstr("expected_version")));
  r.set_other_expected_version(3);
  r.set_other_case_id("c1");
  EXPECT_THAT(Validate(r), StatusIs(absl::StatusCode::kInvalidArgument,
                                    HasSubstr("other_case_id: must be another case")));
  r.set_other_case_id("c2");
  r.clear_other_participant_id();
  EXPECT_THAT(Validate(r), StatusIs(absl::StatusCode::kInvalidArgument,
                                    HasSubstr("other_participant_id: is required")));
}

TEST(CaseValidationTest, ListCasesBounds) {
  v1::ListCasesRequest r;
  EXPECT_THAT(Validate(r), IsOk());
  r.set_page_size(201);
  EXPECT_THAT(Validate(r).message(), HasSubstr("page_size"));
  r.set_page_size(-1);
  EXPECT_THAT(Validate(r).message(), HasSubstr("page_size"));
  r.set_page_size(10);
  r.set_stage(static_cast<v1::Stage>(42));
  EXPECT_THAT(Validate(r).message(), HasSubstr("stage"));
  r.set_stage(v1::PREPARING);
  r.set_updated_since_unix_micros(-5);
  EXPECT_THAT(Validate(r).message(), HasSubstr("updated_since_unix_micros"));
}

TEST(CaseValidationTest, DatesMustBeRealCalendarDates) {
  EXPECT_THAT(ValidateDate("d", "2024-02-29"), IsOk());
  EXPECT_THAT(ValidateDate("d", "2023-02-29"),
              StatusIs(absl::StatusCode::kInvalidArgument));
  EXPECT_THAT(ValidateDate("d", "2024-2-9"),
              StatusIs(absl::StatusCode::kInvalidArgument));
  EXPECT_THAT(ValidateDate("d", "20240229"),
              StatusIs(absl::StatusCode::kInvalidArgument));
  EXPECT_THAT(ValidateDate("d", ""), StatusIs(absl::StatusCode::kInvalidArgument));
  EXPECT_THAT(ValidateDate("d", "2024-02-29T00:00"),
              StatusIs(absl::StatusCode::kInvalidArgument));
}

}  // namespace
}  // namespace mend::casesvc
