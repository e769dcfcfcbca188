// CaseView and redaction (I5), erased people (I6).
#include "services/case/case_domain_test_support.h"

namespace mend::casesvc::test {
namespace {

// ---------------------------------------------------------------------------
// CaseView and redaction.

TEST(CaseViewTest, ManagersAndAllocatedFacilitatorsSeePersonalData) {
  AT_STAGE(s, case_v1::PREPARING);
  for (const Caller& caller :
       {Caller{"m1", Role::kManager}, Caller{"f1", Role::kFacilitator}}) {
    SCOPED_TRACE(caller.subject);
    FakeKeys keys;
    EXPECT_THAT(CanRead(kCaseId, s.state(), caller), IsOk());
    EXPECT_TRUE(MaySeePersonalData(s.state(), caller));
    absl::StatusOr<case_v1::CaseView> view = BuildCaseView(s.state(), caller, keys.fn());
    ASSERT_THAT(view, IsOk());
    EXPECT_EQ(view->offence_summary(), "an assault outside a pub");
    const case_v1::ParticipantView* victim = ViewOf(*view, "v1");
    ASSERT_NE(victim, nullptr);
    EXPECT_FALSE(victim->redacted());
    EXPECT_FALSE(victim->erased());
    EXPECT_EQ(victim->role(), case_v1::VICTIM);
    EXPECT_TRUE(MessageDifferencer::Equals(victim->details(), DetailsOf("v1")));
    EXPECT_TRUE(MessageDifferencer::Equals(victim->needs(), NeedsOf("v1")));
    EXPECT_EQ(keys.calls(), 5);  // summary + details and needs of two people
  }
}

TEST(CaseViewTest, CaseFieldsAreCopied) {
  AT_STAGE(s, case_v1::PAUSED, /*sensitive=*/true);
  FakeKeys keys;
  absl::StatusOr<case_v1::CaseView> view =
      BuildCaseView(s.state(), Caller{"a1", Role::kAuditor}, keys.fn());
  ASSERT_THAT(view, IsOk());
  EXPECT_EQ(view->case_id(), kCaseId);
  EXPECT_EQ(view->reference(), "RJ-2026-000123");
  EXPECT_EQ(view->version(), s.state().version);
  EXPECT_EQ(view->stage(), case_v1::PAUSED);
  EXPECT_EQ(view->stage_before_pause(), case_v1::ASSESSING);
  EXPECT_EQ(view->source(), case_v1::PROBATION_OFFICER);
  EXPECT_EQ(view->referral_date(), "2026-01-15");
  EXPECT_EQ(view->offence_category(), case_v1::DOMESTIC_ABUSE);
  EXPECT_TRUE(view->sensitive());
  EXPECT_THAT(view->facilitator_ids(), ElementsAre("f1"));
  EXPECT_FALSE(view->acknowledged());
  EXPECT_TRUE(view->suitability_recorded());
  EXPECT_TRUE(view->suitable());
  const case_v1::RiskAssessmentView& ra = view->current_risk_assessment();
  EXPECT_EQ(ra.assessment_id(), "r1");
  EXPECT_EQ(ra.assessor_id(), "m1");
  EXPECT_EQ(ra.level(), case_v1::MEDIUM);
  EXPECT_THAT(ra.allowed_kinds(),
              ElementsAre(common_v1::APPROACH_VICTIM, common_v1::LETTER_DELIVERY));
  EXPECT_TRUE(ra.requires_approval());
  EXPECT_FALSE(ra.approved());
  EXPECT_EQ(ra.position(), s.state().current_risk_assessment()->position);
  EXPECT_EQ(view->updated_unix_micros(), s.state().updated_unix_micros);
  EXPECT_EQ(view->closure_reason(), case_v1::CLOSURE_REASON_UNSPECIFIED);
  EXPECT_EQ(view->closed_unix_micros(), 0);
}

TEST(CaseViewTest, AuditorsAndServicesGetRedactedViewsWithoutUnsealing) {
  AT_STAGE(s, case_v1::PREPARING);
  for (const Caller& caller :
       {Caller{"a1", Role::kAuditor}, Caller{"consent", Role::kService}}) {
    SCOPED_TRACE(caller.subject);
    FakeKeys keys;
    EXPECT_THAT(CanRead(kCaseId, s.state(), caller), IsOk());
    EXPECT_FALSE(MaySeePersonalData(s.state(), caller));
    absl::StatusOr<case_v1::CaseView> view = BuildCaseView(s.state(), caller, keys.fn());
    ASSERT_THAT(view, IsOk());
    EXPECT_EQ(keys.calls(), 0);
    EXPECT_EQ(view->offence_summary(), "");
    ASSERT_EQ(view->participants_size(), 2);
    for (const case_v1::ParticipantView& p : view->participants()) {
      EXPECT_TRUE(p.redacted());
      EXPECT_FALSE(p.erased());
      EXPECT_FALSE(p.has_details());
      EXPECT_FALSE(p.has_needs());
      EXPECT_NE(p.role(), case_v1::PARTICIPANT_ROLE_UNSPECIFIED);
    }
    // Nothing of the victim's details anywhere in the serialized view.
    const std::string bytes = view->SerializeAsString();
    EXPECT_EQ(bytes.find("0700 v1"), std::string::npos);
    EXPECT_EQ(bytes.find("Full Name"), std::string::npos);
  }
}

TEST(CaseViewTest, OtherFacilitatorsMayNotRead) {
  AT_STAGE(s, case_v1::PREPARING);
  FakeKeys keys;
  const Caller other{"f9", Role::kFacilitator};
  EXPECT_THAT(CanRead(kCaseId, s.state(), other),
              StatusIs(absl::StatusCode::kPermissionDenied, HasSubstr("\"f9\"")));
  EXPECT_FALSE(MaySeePersonalData(s.state(), other));
  EXPECT_THAT(BuildCaseView(s.state(), other, keys.fn()),
              StatusIs(absl::StatusCode::kPermissionDenied));
  EXPECT_EQ(keys.calls(), 0);
  EXPECT_THAT(CanRead(kCaseId, CaseState{}, Caller{"m1", Role::kManager}),
              StatusIs(absl::StatusCode::kNotFound, HasSubstr("no case \"c1\"")));
  EXPECT_THAT(CanRead(kCaseId, CaseState{}, Caller{"a1", Role::kAuditor}),
              StatusIs(absl::StatusCode::kNotFound));
  // A facilitator gets the same answer for a case that does not exist as for
  // one not allocated to them (NOT_FOUND told them which ids are in use).
  const absl::Status unknown = CanRead("c-unknown", CaseState{}, other);
  EXPECT_THAT(
      unknown,
      StatusIs(absl::StatusCode::kPermissionDenied,
               HasSubstr("facilitator \"f9\" is not allocated to case \"c-unknown\"")));
  EXPECT_EQ(CanRead(kCaseId, CaseState{}, other), CanRead(kCaseId, s.state(), other));
  EXPECT_THAT(CanRead("c2", s.state(), Caller{"m1", Role::kManager}),
              StatusIs(absl::StatusCode::kInternal));
  EXPECT_THAT(BuildCaseView(CaseState{}, Caller{"m1", Role::kManager}, keys.fn()),
              StatusIs(absl::StatusCode::kNotFound));
}

TEST(CaseViewTest, ErasedParticipantsShowNoDetails) {
  AT_STAGE(s, case_v1::CLOSED);
  APPLY(s, DecideEraseParticipant(s.state(), ErasureRequest("v1"), Manager()));
  FakeKeys keys;
  keys.Erase("v1");  // the handler deleted the key
  for (const Caller& caller :
       {Caller{"m1", Role::kManager}, Caller{"a1", Role::kAuditor}}) {
    SCOPED_TRACE(caller.subject);
    absl::StatusOr<case_v1::CaseView> view = BuildCaseView(s.state(), caller, keys.fn());
    ASSERT_THAT(view, IsOk());
    const case_v1::ParticipantView* victim = ViewOf(*view, "v1");
    ASSERT_NE(victim, nullptr);
    EXPECT_TRUE(victim->erased());
    EXPECT_FALSE(victim->has_details());
    EXPECT_FALSE(victim->has_needs());
    EXPECT_FALSE(ViewOf(*view, "su1")->erased());
  }
  // The manager still sees the service user.
  absl::StatusOr<case_v1::CaseView> view =
      BuildCaseView(s.state(), Caller{"m1", Role::kManager}, keys.fn());
  ASSERT_THAT(view, IsOk());
  EXPECT_EQ(ViewOf(*view, "su1")->details().full_name(), "Full Name su1");
}

TEST(CaseViewTest, KeyGoneMeansErasedEvenBeforeTheEvent) {
  // A crash between key deletion and the event, or a key erased elsewhere.
  AT_STAGE(s, case_v1::PREPARING);
  FakeKeys keys;
  keys.Erase("v1");
  absl::StatusOr<case_v1::CaseView> view =
      BuildCaseView(s.state(), Caller{"f1", Role::kFacilitator}, keys.fn());
  ASSERT_THAT(view, IsOk());
  EXPECT_TRUE(ViewOf(*view, "v1")->erased());
  EXPECT_FALSE(ViewOf(*view, "v1")->has_details());
  EXPECT_FALSE(ViewOf(*view, "su1")->erased());
}

TEST(CaseViewTest, ErasedServiceUserTakesTheOffenceSummary) {
  AT_STAGE(s, case_v1::CLOSED);
  APPLY(s, DecideEraseParticipant(s.state(), ErasureRequest("su1"), Manager()));
  FakeKeys keys;
  keys.Erase("su1");
  absl::StatusOr<case_v1::CaseView> view =
      BuildCaseView(s.state(), Caller{"m1", Role::kManager}, keys.fn());
  ASSERT_THAT(view, IsOk());
  EXPECT_EQ(view->offence_summary(), "");
  EXPECT_TRUE(ViewOf(*view, "su1")->erased());
  EXPECT_EQ(ViewOf(*view, "v1")->details().full_name(), "Full Name v1");
}

TEST(CaseViewTest, UnsealFailuresFailTheView) {
  AT_STAGE(s, case_v1::PREPARING);
  FakeKeys down;
  down.FailWith(absl::StatusCode::kUnavailable);
  EXPECT_THAT(BuildCaseView(s.state(), Caller{"m1", Role::kManager}, down.fn()),
              StatusIs(absl::StatusCode::kUnavailable));

  // Details that open but are not a PersonalDetails message.
  AT_STAGE(bad, case_v1::REFERRED);
  case_v1::Participant garbage = Person("cv1", case_v1::CO_VICTIM);
  *garbage.mutable_details() = Seal("cv1", kSealedParticipantDetails, "\x0a\xff");
  APPLY(bad, DecideAddParticipant(bad.state(), {kCaseId, garbage}, Manager()));
  FakeKeys keys;
  EXPECT_THAT(BuildCaseView(bad.state(), Caller{"m1", Role::kManager}, keys.fn()),
              StatusIs(absl::StatusCode::kDataLoss, HasSubstr("\"cv1\"")));

  // A field sealed under another field name does not open (the fake checks
  // the name bound into the ciphertext, as AES-GCM's associated data does).
  AT_STAGE(swapped, case_v1::REFERRED);
  case_v1::Participant mixed = Person("cv1", case_v1::CO_VICTIM);
  *mixed.mutable_needs() = Seal("cv1", kSealedParticipantDetails, "");
  APPLY(swapped, DecideAddParticipant(swapped.state(), {kCaseId, mixed}, Manager()));
  EXPECT_THAT(BuildCaseView(swapped.state(), Caller{"m1", Role::kManager}, keys.fn()),
              StatusIs(absl::StatusCode::kDataLoss));
}

}  // namespace
}  // namespace mend::casesvc::test
