// Consent's projection of a case (case_projection.h): every case event type
// folds, each fact as documented, and what does not fit is refused without
// changing the projection.
#include "services/consent/case_projection.h"

#include <algorithm>
#include <set>
#include <string>
#include <vector>

#include "gmock/gmock.h"
#include "gtest/gtest.h"
#include "mend/case/v1/events.pb.h"
#include "tests/support/test_util.h"

namespace mend::consentsvc {
namespace {

using ::mend::testing::IsOk;
using ::mend::testing::StatusIs;
using ::testing::ElementsAre;
using ::testing::HasSubstr;
using ::testing::IsEmpty;

constexpr char kCase[] = "c1";

case_v1::CaseReferred Referral() {
  case_v1::CaseReferred e;
  e.set_case_id(kCase);
  e.set_offence_category(case_v1::HATE_CRIME);
  e.set_sensitive(true);
  for (auto [id, role] :
       {std::pair{"su1", case_v1::SERVICE_USER}, std::pair{"v1", case_v1::VICTIM}}) {
    case_v1::Participant* p = e.add_participants();
    p->set_participant_id(id);
    p->set_role(role);
    p->mutable_details()->set_ciphertext("SECRET");
  }
  return e;
}

case_v1::StageChanged Stage(case_v1::Stage from, case_v1::Stage to) {
  case_v1::StageChanged e;
  e.set_case_id(kCase);
  e.set_from(from);
  e.set_to(to);
  return e;
}

case_v1::ParticipantErased Erased(
    const std::string& who, std::vector<std::pair<std::string, std::string>> linked) {
  case_v1::ParticipantErased e;
  e.set_case_id(kCase);
  e.set_participant_id(who);
  e.set_basis(case_v1::ERASURE_REQUEST);
  for (const auto& [case_id, participant_id] : linked) {
    case_v1::PersonRef* ref = e.add_linked();
    ref->set_case_id(case_id);
    ref->set_participant_id(participant_id);
  }
  return e;
}

case_v1::ParticipantLinked Linked(const std::string& who, const std::string& other_case,
                                  const std::string& other) {
  case_v1::ParticipantLinked e;
  e.set_case_id(kCase);
  e.set_participant_id(who);
  e.mutable_other()->set_case_id(other_case);
  e.mutable_other()->set_participant_id(other);
  e.set_linked_by("m1");
  return e;
}

// A referred case at positions 1 (referral) and 2 (REFERRED).
ObservedCase Referred() {
  ObservedCase c;
  EXPECT_THAT(FoldCaseEvent(c, Referral(), 1), IsOk());
  EXPECT_THAT(FoldCaseEvent(c, Stage(case_v1::STAGE_UNSPECIFIED, case_v1::REFERRED), 2),
              IsOk());
  return c;
}

// The messages of events.proto that are not events (parts of events).
const std::set<std::string> kNotEvents = {
    "mend.case.v1.PersonalDetails", "mend.case.v1.Needs", "mend.case.v1.Participant",
    "mend.case.v1.PersonRef"};

// Every event type of events.proto is folded: a type added there without a
// fold here fails this test (and would stop the follower in production).
TEST(CaseProjectionTest, EveryCaseEventTypeIsFolded) {
  const google::protobuf::FileDescriptor* file =
      case_v1::CaseReferred::descriptor()->file();
  std::vector<std::string> events;
  for (int i = 0; i < file->message_type_count(); ++i) {
    const std::string& name = file->message_type(i)->full_name();
    if (kNotEvents.count(name) == 0) events.push_back(name);
  }
  std::vector<std::string> folded = CaseEventTypes();
  std::sort(events.begin(), events.end());
  std::sort(folded.begin(), folded.end());
  EXPECT_EQ(folded, events);
  EXPECT_EQ(folded.size(), 15u);
}

TEST(CaseProjectionTest, UnknownTypeOrBadPayloadDoesNotParse) {
  EXPECT_THAT(
      ParseCaseEvent("mend.case.v1.CaseRenamed", "", 9),
      StatusIs(absl::StatusCode::kDataLoss, HasSubstr("mend.case.v1.CaseRenamed")));
  EXPECT_THAT(ParseCaseEvent("mend.case.v1.StageChanged", "\xff\xff", 9),
              StatusIs(absl::StatusCode::kDataLoss, HasSubstr("9")));
  const absl::StatusOr<CaseEvent> linked = ParseCaseEvent(
      "mend.case.v1.ParticipantLinked", Linked("v1", "c2", "p7").SerializeAsString(), 9);
  ASSERT_THAT(linked, IsOk());
  EXPECT_EQ(CaseEventType(*linked), "mend.case.v1.ParticipantLinked");
  EXPECT_EQ(CaseEventCaseId(*linked), kCase);
}

TEST(CaseProjectionTest, ReferralKeepsCategoryAndParticipantsButNoPersonalData) {
  const ObservedCase c = Referred();
  EXPECT_TRUE(c.exists());
  EXPECT_EQ(c.case_id, kCase);
  EXPECT_EQ(c.version, 2u);
  EXPECT_EQ(c.last_position, 2u);
  EXPECT_EQ(c.stage, case_v1::REFERRED);
  EXPECT_EQ(c.last_stage_change_position, 2u);
  EXPECT_EQ(c.offence_category, case_v1::HATE_CRIME);
  EXPECT_TRUE(c.sensitive);
  ASSERT_EQ(c.participants.size(), 2u);
  EXPECT_EQ(c.service_user()->participant_id, "su1");
  EXPECT_EQ(c.FindParticipant("v1")->role, case_v1::VICTIM);
  EXPECT_EQ(c.FindParticipant("v1")->added_position, 1u);
  EXPECT_EQ(c.FindParticipant("v9"), nullptr);
}

TEST(CaseProjectionTest, FoundUnsuitableIsAStageAndAFinding) {
  ObservedCase c = Referred();
  case_v1::SuitabilityRecorded unsuitable;
  unsuitable.set_case_id(kCase);
  unsuitable.set_suitable(false);
  unsuitable.set_reason(case_v1::RISK_TOO_HIGH);
  ASSERT_THAT(FoldCaseEvent(c, unsuitable, 3), IsOk());
  ASSERT_THAT(FoldCaseEvent(c, Stage(case_v1::REFERRED, case_v1::FOUND_UNSUITABLE), 4),
              IsOk());
  EXPECT_EQ(c.suitable, std::optional<bool>(false));
  EXPECT_EQ(c.unsuitable_reason, case_v1::RISK_TOO_HIGH);
  EXPECT_EQ(c.stage, case_v1::FOUND_UNSUITABLE);
  EXPECT_EQ(CaseStageName(c.stage), "FOUND_UNSUITABLE");
  // A new finding of suitability returns it to screening.
  unsuitable.set_suitable(true);
  ASSERT_THAT(FoldCaseEvent(c, unsuitable, 5), IsOk());
  ASSERT_THAT(FoldCaseEvent(c, Stage(case_v1::FOUND_UNSUITABLE, case_v1::SCREENING), 6),
              IsOk());
  EXPECT_EQ(c.suitable, std::optional<bool>(true));
  EXPECT_EQ(c.unsuitable_reason, case_v1::UNSUITABLE_REASON_UNSPECIFIED);
  EXPECT_EQ(c.stage, case_v1::SCREENING);
}

TEST(CaseProjectionTest, PauseKeepsTheStageBefore) {
  ObservedCase c = Referred();
  ASSERT_THAT(FoldCaseEvent(c, Stage(case_v1::REFERRED, case_v1::PAUSED), 3), IsOk());
  EXPECT_EQ(c.stage_before_pause, case_v1::REFERRED);
  ASSERT_THAT(FoldCaseEvent(c, Stage(case_v1::PAUSED, case_v1::REFERRED), 4), IsOk());
  EXPECT_EQ(c.stage_before_pause, case_v1::STAGE_UNSPECIFIED);
}

TEST(CaseProjectionTest, RiskAssessmentsKeepWhatTheRulesRead) {
  ObservedCase c = Referred();
  case_v1::RiskAssessmentRecorded ra;
  ra.set_case_id(kCase);
  ra.set_assessment_id("ra1");
  ra.add_allowed_kinds(common_v1::LETTER_DELIVERY);
  ra.set_review_date("2027-01-31");
  ra.set_requires_approval(true);
  ASSERT_THAT(FoldCaseEvent(c, ra, 3), IsOk());
  ra.set_assessment_id("ra2");
  ra.set_supersedes_assessment_id("ra1");
  ASSERT_THAT(FoldCaseEvent(c, ra, 4), IsOk());
  case_v1::RiskAssessmentApproved approved;
  approved.set_case_id(kCase);
  approved.set_assessment_id("ra1");  // superseded: marked, not current
  ASSERT_THAT(FoldCaseEvent(c, approved, 5), IsOk());
  const ObservedRiskAssessment* current = c.current_risk_assessment();
  ASSERT_NE(current, nullptr);
  EXPECT_EQ(current->assessment_id, "ra2");
  EXPECT_FALSE(current->approved);
  EXPECT_EQ(current->review_date, "2027-01-31");
  EXPECT_TRUE(current->requires_approval);
  EXPECT_THAT(current->allowed_kinds, ElementsAre(common_v1::LETTER_DELIVERY));
  EXPECT_TRUE(c.FindRiskAssessment("ra1")->approved);
  EXPECT_EQ(c.FindRiskAssessment("ra1")->approved_position, 5u);
}

// An erasure recorded in this case's stream marks the participant erased and
// keeps the other cases it named; a link is kept the same way.
TEST(CaseProjectionTest, ErasureAndLinksOfAParticipant) {
  ObservedCase c = Referred();
  ASSERT_THAT(FoldCaseEvent(c, Linked("v1", "c2", "p7"), 3), IsOk());
  ASSERT_THAT(FoldCaseEvent(c, Linked("v1", "c2", "p7"), 4), IsOk());  // once
  ASSERT_THAT(FoldCaseEvent(c, Erased("v1", {{"c2", "p7"}, {"c3", "v1"}}), 5), IsOk());
  const ObservedParticipant* v1 = c.FindParticipant("v1");
  ASSERT_NE(v1, nullptr);
  EXPECT_TRUE(v1->erased);
  EXPECT_THAT(v1->linked,
              ElementsAre(LinkedPerson{"c2", "p7"}, LinkedPerson{"c3", "v1"}));
  EXPECT_FALSE(c.FindParticipant("su1")->erased);
  EXPECT_THAT(c.FindParticipant("su1")->linked, IsEmpty());
}

// What does not fit is DATA_LOSS, names the event, and changes nothing.
TEST(CaseProjectionTest, MisfitsAreRefusedAndChangeNothing) {
  const ObservedCase before = [] {
    ObservedCase c = Referred();
    EXPECT_THAT(FoldCaseEvent(c, Erased("su1", {}), 3), IsOk());
    return c;
  }();
  case_v1::FacilitatorReleased released;
  released.set_case_id(kCase);
  released.set_facilitator_id("f1");
  case_v1::RiskAssessmentApproved approved;
  approved.set_case_id(kCase);
  approved.set_assessment_id("ra9");
  case_v1::ParticipantAdded added;
  added.set_case_id(kCase);
  added.mutable_participant()->set_participant_id("v1");
  case_v1::AcknowledgementRecorded other_case;
  other_case.set_case_id("c2");
  const std::vector<std::pair<CaseEvent, std::string>> misfits = {
      {Referral(), "already exists"},
      {Stage(case_v1::SCREENING, case_v1::ALLOCATED), "SCREENING"},
      {released, "f1"},
      {approved, "ra9"},
      {added, "v1"},
      {Erased("su1", {}), "already erased"},
      {Erased("v9", {}), "v9"},
      {Linked("v9", "c2", "p1"), "v9"},
      {other_case, "c2"},
  };
  for (const auto& [event, says] : misfits) {
    SCOPED_TRACE(CaseEventType(event));
    ObservedCase c = before;
    EXPECT_THAT(FoldCaseEvent(c, event, 10),
                StatusIs(absl::StatusCode::kDataLoss, HasSubstr(says)));
    EXPECT_TRUE(c == before);
  }
  ObservedCase empty;
  EXPECT_THAT(
      FoldCaseEvent(empty, Stage(case_v1::STAGE_UNSPECIFIED, case_v1::REFERRED), 1),
      StatusIs(absl::StatusCode::kDataLoss, HasSubstr("not been referred")));
  EXPECT_FALSE(empty.exists());
}

}  // namespace
}  // namespace mend::consentsvc
