// mend.case.v1.CaseService over a real runtime and channel
// (case_service_test_fixture.h): the method table, validation, stages,
// concurrency, roles and tokens.
#include <grpcpp/grpcpp.h>
#include <signal.h>
#include <sys/wait.h>

#include <atomic>
#include <string>
#include <thread>
#include <vector>

#include "absl/synchronization/barrier.h"
#include "services/case/case_service_test_fixture.h"

namespace mend::casesvc::service_test {
namespace {

// --- The method table ------------------------------------------------------

TEST(CasePolicyTest, CoversEveryMethodOfTheService) {
  absl::StatusOr<std::unique_ptr<MethodPolicy>> policy =
      MethodPolicy::Create(CasePolicy());
  ASSERT_THAT(policy, IsOk());
  const google::protobuf::ServiceDescriptor* service =
      case_v1::ReferCaseRequest::descriptor()->file()->FindServiceByName("CaseService");
  ASSERT_NE(service, nullptr);
  EXPECT_THAT((*policy)->MethodsWithoutPolicy(*service), IsEmpty());
  EXPECT_EQ(CasePolicy().size(), static_cast<size_t>(service->method_count()));
}

TEST(CasePolicyTest, CommandsForCaseworkersReadsAlsoForAuditorsAndServices) {
  absl::StatusOr<std::unique_ptr<MethodPolicy>> policy =
      MethodPolicy::Create(CasePolicy());
  ASSERT_THAT(policy, IsOk());
  const google::protobuf::ServiceDescriptor* service =
      case_v1::ReferCaseRequest::descriptor()->file()->FindServiceByName("CaseService");
  ASSERT_NE(service, nullptr);
  for (int i = 0; i < service->method_count(); ++i) {
    const std::string method = FullMethodName(*service->method(i));
    const bool read = service->method(i)->name() == "GetCase" ||
                      service->method(i)->name() == "ListCases";
    SCOPED_TRACE(method);
    EXPECT_THAT((*policy)->Check(method, Role::kManager), IsOk());
    EXPECT_THAT((*policy)->Check(method, Role::kFacilitator), IsOk());
    for (Role role : {Role::kAuditor, Role::kService}) {
      if (read) {
        EXPECT_THAT((*policy)->Check(method, role), IsOk());
      } else {
        EXPECT_THAT((*policy)->Check(method, role),
                    StatusIs(absl::StatusCode::kPermissionDenied));
      }
    }
  }
}

// --- Validation ------------------------------------------------------------

TEST_F(CaseServiceTest, InvalidReferralsAreRefusedAndAppendNothing) {
  struct Case {
    std::string name;
    std::function<void(case_v1::ReferCaseRequest&)> spoil;
    std::string field;
  };
  const std::vector<Case> cases = {
      {"no request_id", [](auto& r) { r.clear_request_id(); }, "request_id"},
      {"request_id with a space", [](auto& r) { r.set_request_id("a b"); }, "request_id"},
      {"no source", [](auto& r) { r.clear_source(); }, "source"},
      {"unknown source",
       [](auto& r) { r.set_source(static_cast<case_v1::ReferralSource>(77)); }, "source"},
      {"no referral_date", [](auto& r) { r.clear_referral_date(); }, "referral_date"},
      {"impossible referral_date", [](auto& r) { r.set_referral_date("2026-02-30"); },
       "referral_date"},
      {"no offence_category", [](auto& r) { r.clear_offence_category(); },
       "offence_category"},
      {"unknown offence_category",
       [](auto& r) { r.set_offence_category(static_cast<case_v1::OffenceCategory>(99)); },
       "offence_category"},
      {"no offence_summary", [](auto& r) { r.clear_offence_summary(); },
       "offence_summary"},
      {"oversize offence_summary",
       [](auto& r) { r.set_offence_summary(std::string(kMaxLongText + 1, 'x')); },
       "offence_summary"},
      {"no participant name",
       [](auto& r) { r.mutable_participants(1)->mutable_details()->clear_full_name(); },
       "participants[1].details.full_name"},
      {"oversize participant name",
       [](auto& r) {
         r.mutable_participants(0)->mutable_details()->set_full_name(
             std::string(kMaxShortText + 1, 'n'));
       },
       "participants[0].details.full_name"},
      {"no participant role", [](auto& r) { r.mutable_participants(1)->clear_role(); },
       "participants[1].role"},
      {"unknown participant role",
       [](auto& r) {
         r.mutable_participants(1)->set_role(static_cast<case_v1::ParticipantRole>(42));
       },
       "participants[1].role"},
  };
  const uint64_t head = Head();
  for (const Case& c : cases) {
    SCOPED_TRACE(c.name);
    case_v1::ReferCaseRequest request = Referral("bad");
    c.spoil(request);
    absl::StatusOr<case_v1::CommandResult> result = ReferCase(request, Manager());
    EXPECT_THAT(result, StatusIs(absl::StatusCode::kInvalidArgument));
    EXPECT_THAT(result.status().message(), HasSubstr(c.field));
  }
  EXPECT_EQ(Head(), head);
  // Nothing sealed either: no key was made for the referral's people.
  EXPECT_THAT(runtime_->keys()->HasKey("v-bad"), ::mend::testing::IsOkAndHolds(false));
}

TEST_F(CaseServiceTest, InvalidCommandsAreRefusedAndAppendNothing) {
  const std::string case_id = AllocatedCase("c1", kFacilitatorA);
  const uint64_t head = Head();
  const std::string manager = Manager();
  auto expect_invalid = [&](const absl::Status& s, const std::string& field) {
    EXPECT_THAT(s, StatusIs(absl::StatusCode::kInvalidArgument));
    EXPECT_THAT(s.message(), HasSubstr(field));
  };
  {
    case_v1::AllocateFacilitatorRequest r;
    r.set_case_id(case_id);
    r.set_facilitator_id(kFacilitatorB);
    expect_invalid(AllocateFacilitator(r, manager).status(), "request_id");
    r.set_request_id("x1");
    r.clear_case_id();
    expect_invalid(AllocateFacilitator(r, manager).status(), "case_id");
    r.set_case_id(case_id);
    r.clear_facilitator_id();
    expect_invalid(AllocateFacilitator(r, manager).status(), "facilitator_id");
    r.set_facilitator_id(kFacilitatorB);
    r.set_expected_version(0);
    expect_invalid(AllocateFacilitator(r, manager).status(), "expected_version");
  }
  {
    case_v1::RecordRiskAssessmentRequest r;
    r.set_request_id("x2");
    r.set_case_id(case_id);
    r.set_review_date("2026-06-01");
    expect_invalid(RecordRiskAssessment(r, manager).status(), "level");
    r.set_level(static_cast<case_v1::RiskLevel>(9));
    expect_invalid(RecordRiskAssessment(r, manager).status(), "level");
    r.set_level(case_v1::LOW);
    r.add_allowed_kinds(static_cast<common_v1::ContactKind>(77));
    expect_invalid(RecordRiskAssessment(r, manager).status(), "allowed_kinds");
    r.clear_allowed_kinds();
    r.set_notes(std::string(kMaxLongText + 1, 'n'));
    expect_invalid(RecordRiskAssessment(r, manager).status(), "notes");
    r.clear_notes();
    r.set_review_date("01/06/2026");
    expect_invalid(RecordRiskAssessment(r, manager).status(), "review_date");
  }
  {
    case_v1::RecordSuitabilityRequest r;
    r.set_request_id("x3");
    r.set_case_id(case_id);
    r.set_suitable(false);  // unsuitable needs a reason
    expect_invalid(RecordSuitability(r, manager).status(), "reason");
  }
  {
    case_v1::CloseCaseRequest r;
    r.set_request_id("x4");
    r.set_case_id(case_id);
    expect_invalid(CloseCase(r, manager).status(), "reason");
  }
  {
    case_v1::EraseParticipantRequest r;
    r.set_request_id("x5");
    r.set_case_id(case_id);
    r.set_participant_id("v-c1");
    r.set_reason("SAR-0042");
    expect_invalid(EraseParticipant(r, manager).status(), "basis");
    r.set_basis(static_cast<case_v1::ErasureBasis>(12));
    expect_invalid(EraseParticipant(r, manager).status(), "basis");
    r.set_basis(case_v1::ERASURE_REQUEST);
    r.clear_reason();
    expect_invalid(EraseParticipant(r, manager).status(), "reason");
  }
  {
    case_v1::AddParticipantRequest r;
    r.set_request_id("x6");
    r.set_case_id(case_id);
    r.mutable_participant()->set_role(case_v1::SUPPORTER);
    r.mutable_participant()->mutable_details()->set_full_name("Sue Porter");
    expect_invalid(AddParticipant(r, manager).status(), "supports_participant_id");
  }
  {
    case_v1::GetCaseRequest r;
    expect_invalid(GetCase(r, manager).status(), "case_id");
    case_v1::ListCasesRequest l;
    l.set_page_size(201);
    expect_invalid(ListCases(l, manager).status(), "page_size");
    l.set_page_size(0);
    l.set_page_token("not base64!");
    expect_invalid(ListCases(l, manager).status(), "page_token");
  }
  EXPECT_EQ(Head(), head);
}

// --- The happy path and the stage machine ---------------------------------

TEST_F(CaseServiceTest, SensitiveCaseNeedsApprovalBeforePreparing) {
  const std::string manager = Manager();
  const std::string ann = Token(Role::kFacilitator, kFacilitatorA);

  absl::StatusOr<case_v1::CommandResult> referred =
      ReferCase(Referral("da", case_v1::DOMESTIC_ABUSE), ann);  // a facilitator refers
  ASSERT_THAT(referred, IsOk());
  EXPECT_EQ(referred->stage(), case_v1::REFERRED);
  EXPECT_EQ(referred->version(), 2u);  // CaseReferred, StageChanged
  const std::string case_id = referred->case_id();
  EXPECT_THAT(case_id, SizeIs(36));  // a UUID

  absl::StatusOr<case_v1::CommandResult> step = Suitable(case_id, "da-suit");
  ASSERT_THAT(step, IsOk());
  EXPECT_EQ(step->stage(), case_v1::SCREENING);
  step = Allocate(case_id, kFacilitatorA, "da-alloc", manager);
  ASSERT_THAT(step, IsOk());
  EXPECT_EQ(step->stage(), case_v1::ALLOCATED);
  step = Acknowledge(case_id, "da-ack", ann);
  ASSERT_THAT(step, IsOk());
  EXPECT_EQ(step->stage(), case_v1::ALLOCATED);

  case_v1::RecordRiskAssessmentRequest ra;
  ra.set_request_id("da-risk");
  ra.set_case_id(case_id);
  ra.set_assessment_id("ra-1");
  ra.set_level(case_v1::MEDIUM);
  ra.add_allowed_kinds(common_v1::APPROACH_VICTIM);
  ra.add_allowed_kinds(common_v1::LETTER_DELIVERY);
  ra.set_review_date("2026-06-01");
  ra.set_notes("Low risk of further harm; victim lives far away.");
  step = RecordRiskAssessment(ra, ann);
  ASSERT_THAT(step, IsOk());
  EXPECT_EQ(step->stage(), case_v1::ASSESSING);  // waits for a manager's approval

  // Only a manager approves.
  case_v1::ApproveRiskAssessmentRequest approve;
  approve.set_request_id("da-approve");
  approve.set_case_id(case_id);
  approve.set_assessment_id("ra-1");
  EXPECT_THAT(ApproveRiskAssessment(approve, ann),
              StatusIs(absl::StatusCode::kPermissionDenied));
  step = ApproveRiskAssessment(approve, manager);
  ASSERT_THAT(step, IsOk());
  EXPECT_EQ(step->stage(), case_v1::PREPARING);

  absl::StatusOr<case_v1::CaseView> view = Get(case_id, ann);
  ASSERT_THAT(view, IsOk());
  EXPECT_EQ(view->stage(), case_v1::PREPARING);
  EXPECT_TRUE(view->sensitive());
  EXPECT_TRUE(view->acknowledged());
  EXPECT_TRUE(view->current_risk_assessment().approved());
  EXPECT_EQ(view->current_risk_assessment().approved_by(), kManager);
  EXPECT_EQ(view->current_risk_assessment().assessor_id(), kFacilitatorA);
  EXPECT_THAT(view->facilitator_ids(), ElementsAre(kFacilitatorA));
  EXPECT_EQ(view->version(), step->version());
  EXPECT_THAT(view->reference(), ::testing::MatchesRegex("RJ-[0-9]{4}-[0-9]{6}"));
  EXPECT_EQ(view->offence_summary(), kSummary);
}

TEST_F(CaseServiceTest, NonSensitiveCaseGoesStraightToPreparing) {
  const std::string case_id = AllocatedCase("plain", kFacilitatorA);
  const std::string ann = Token(Role::kFacilitator, kFacilitatorA);
  ASSERT_THAT(Acknowledge(case_id, "plain-ack", ann), IsOk());
  case_v1::RecordRiskAssessmentRequest ra;
  ra.set_request_id("plain-risk");
  ra.set_case_id(case_id);
  ra.set_level(case_v1::LOW);
  ra.add_allowed_kinds(common_v1::APPROACH_VICTIM);
  ra.set_review_date("2026-06-01");
  absl::StatusOr<case_v1::CommandResult> step = RecordRiskAssessment(ra, ann);
  ASSERT_THAT(step, IsOk());
  EXPECT_EQ(step->stage(), case_v1::PREPARING);
  // The server made the assessment id.
  absl::StatusOr<case_v1::CaseView> view = Get(case_id, ann);
  ASSERT_THAT(view, IsOk());
  EXPECT_THAT(view->current_risk_assessment().assessment_id(), SizeIs(36));
}

TEST_F(CaseServiceTest, StageForbiddenCommandsNameTheStage) {
  const std::string manager = Manager();
  absl::StatusOr<case_v1::CommandResult> referred = ReferCase(Referral("st"), manager);
  ASSERT_THAT(referred, IsOk());
  const std::string case_id = referred->case_id();
  // Allocation before the case was found suitable.
  absl::StatusOr<case_v1::CommandResult> early =
      Allocate(case_id, kFacilitatorA, "st-alloc", manager);
  EXPECT_THAT(early, StatusIs(absl::StatusCode::kFailedPrecondition));
  EXPECT_THAT(early.status().message(), HasSubstr("REFERRED"));
  // Erasure before the case is closed.
  absl::StatusOr<case_v1::CommandResult> early_erase =
      Erase(case_id, "v-st", "st-erase-early", manager);
  EXPECT_THAT(early_erase, StatusIs(absl::StatusCode::kFailedPrecondition));
  EXPECT_THAT(early_erase.status().message(), HasSubstr("stage REFERRED"));
  EXPECT_THAT(early_erase.status().message(), HasSubstr("close the case first"));

  case_v1::CloseCaseRequest close;
  close.set_request_id("st-close");
  close.set_case_id(case_id);
  close.set_reason(case_v1::NO_CONTACT_POSSIBLE);
  absl::StatusOr<case_v1::CommandResult> closed = CloseCase(close, manager);
  ASSERT_THAT(closed, IsOk());
  EXPECT_EQ(closed->stage(), case_v1::CLOSED);
  const uint64_t head = Head();
  absl::StatusOr<case_v1::CommandResult> after = Suitable(case_id, "st-suit");
  EXPECT_THAT(after, StatusIs(absl::StatusCode::kFailedPrecondition));
  EXPECT_THAT(after.status().message(), HasSubstr("CLOSED"));
  EXPECT_EQ(Head(), head);

  // Erasure works on a closed case (I4).
  EXPECT_THAT(Erase(case_id, "v-st", "st-erase", manager), IsOk());
}

TEST_F(CaseServiceTest, PauseAndResume) {
  const std::string case_id = AllocatedCase("pz", kFacilitatorA);
  const std::string ann = Token(Role::kFacilitator, kFacilitatorA);
  case_v1::PauseCaseRequest pause;
  pause.set_request_id("pz-pause");
  pause.set_case_id(case_id);
  pause.set_reason("su-in-hospital");
  absl::StatusOr<case_v1::CommandResult> paused = PauseCase(pause, ann);
  ASSERT_THAT(paused, IsOk());
  EXPECT_EQ(paused->stage(), case_v1::PAUSED);
  absl::StatusOr<case_v1::CommandResult> refused = Acknowledge(case_id, "pz-ack", ann);
  EXPECT_THAT(refused, StatusIs(absl::StatusCode::kFailedPrecondition));
  EXPECT_THAT(refused.status().message(), HasSubstr("PAUSED"));
  case_v1::ResumeCaseRequest resume;
  resume.set_request_id("pz-resume");
  resume.set_case_id(case_id);
  absl::StatusOr<case_v1::CommandResult> resumed = ResumeCase(resume, ann);
  ASSERT_THAT(resumed, IsOk());
  EXPECT_EQ(resumed->stage(), case_v1::ALLOCATED);
}

// --- Conflicts -------------------------------------------------------------

TEST_F(CaseServiceTest, TwoConcurrentWritersWithOneExpectedVersionOneIsAborted) {
  const std::string case_id = AllocatedCase("cc", kFacilitatorA);
  const std::string ann = Token(Role::kFacilitator, kFacilitatorA);
  for (int round = 0; round < 5; ++round) {
    SCOPED_TRACE(round);
    absl::StatusOr<case_v1::CaseView> before = Get(case_id, ann);
    ASSERT_THAT(before, IsOk());
    const uint64_t version = before->version();
    absl::StatusOr<case_v1::CommandResult> results[2];
    absl::Barrier* barrier = new absl::Barrier(2);  // freed by the last Block()
    std::vector<std::thread> writers;
    for (int w = 0; w < 2; ++w) {
      writers.emplace_back([&, w] {
        if (barrier->Block()) delete barrier;
        results[w] =
            Acknowledge(case_id, absl::StrCat("cc-", round, "-", w), ann, version);
      });
    }
    for (std::thread& t : writers) t.join();
    int ok = 0;
    int aborted = 0;
    for (const auto& r : results) {
      if (r.ok()) ++ok;
      if (absl::IsAborted(r.status())) {
        ++aborted;
        EXPECT_THAT(r.status().message(),
                    HasSubstr(absl::StrCat("version ", version + 1)));
      }
    }
    EXPECT_EQ(ok, 1);
    EXPECT_EQ(aborted, 1);
    absl::StatusOr<case_v1::CaseView> after = Get(case_id, ann);
    ASSERT_THAT(after, IsOk());
    EXPECT_EQ(after->version(), version + 1);
  }
}

TEST_F(CaseServiceTest, ConcurrentWritersWithoutExpectedVersionAreSerialized) {
  const std::string case_id = AllocatedCase("ser", kFacilitatorA);
  const std::string ann = Token(Role::kFacilitator, kFacilitatorA);
  absl::StatusOr<case_v1::CaseView> before = Get(case_id, ann);
  ASSERT_THAT(before, IsOk());
  constexpr int kWriters = 8;
  std::vector<absl::StatusOr<case_v1::CommandResult>> results(kWriters);
  std::vector<std::thread> writers;
  for (int w = 0; w < kWriters; ++w) {
    writers.emplace_back(
        [&, w] { results[w] = Acknowledge(case_id, absl::StrCat("ser-", w), ann); });
  }
  for (std::thread& t : writers) t.join();
  std::set<uint64_t> versions;
  for (const auto& r : results) {
    ASSERT_THAT(r, IsOk());
    versions.insert(r->version());
  }
  EXPECT_THAT(versions, SizeIs(kWriters));
  absl::StatusOr<case_v1::CaseView> after = Get(case_id, ann);
  ASSERT_THAT(after, IsOk());
  EXPECT_EQ(after->version(), before->version() + kWriters);
  EXPECT_EQ(*versions.rbegin(), after->version());
  EXPECT_TRUE(runtime_->store()->Verify().ok);
}

// --- Authorization ---------------------------------------------------------

TEST_F(CaseServiceTest, FacilitatorsReachOnlyTheirOwnCases) {
  const std::string case_id = AllocatedCase("auth", kFacilitatorA);
  const std::string ann = Token(Role::kFacilitator, kFacilitatorA);
  const std::string bob = Token(Role::kFacilitator, kFacilitatorB);
  EXPECT_THAT(Get(case_id, ann), IsOk());
  absl::StatusOr<case_v1::CaseView> other = Get(case_id, bob);
  EXPECT_THAT(other, StatusIs(absl::StatusCode::kPermissionDenied));
  EXPECT_THAT(other.status().message(), HasSubstr(kFacilitatorB));
  // Not in Bob's list either, even when he asks for Ann's cases.
  case_v1::ListCasesRequest list;
  absl::StatusOr<case_v1::ListCasesResponse> listed = ListCases(list, bob);
  ASSERT_THAT(listed, IsOk());
  EXPECT_THAT(listed->cases(), IsEmpty());
  list.set_facilitator_id(kFacilitatorA);
  listed = ListCases(list, bob);
  ASSERT_THAT(listed, IsOk());
  EXPECT_THAT(listed->cases(), IsEmpty());
  listed = ListCases(case_v1::ListCasesRequest(), ann);
  ASSERT_THAT(listed, IsOk());
  ASSERT_THAT(listed->cases(), SizeIs(1));
  EXPECT_EQ(listed->cases(0).case_id(), case_id);
  // Nor may Bob act on it.
  const uint64_t head = Head();
  EXPECT_THAT(Acknowledge(case_id, "auth-ack-bob", bob),
              StatusIs(absl::StatusCode::kPermissionDenied));
  EXPECT_EQ(Head(), head);
}

TEST_F(CaseServiceTest, RolesAndTokensAreChecked) {
  const std::string case_id = AllocatedCase("roles", kFacilitatorA);
  const std::string ann = Token(Role::kFacilitator, kFacilitatorA);
  const uint64_t head = Head();
  // A facilitator may not allocate, even on their own case.
  EXPECT_THAT(Allocate(case_id, kFacilitatorB, "roles-alloc", ann),
              StatusIs(absl::StatusCode::kPermissionDenied));
  // Auditors and services run no command.
  EXPECT_THAT(ReferCase(Referral("roles2"), Auditor()),
              StatusIs(absl::StatusCode::kPermissionDenied));
  EXPECT_THAT(Acknowledge(case_id, "roles-ack-aud", Auditor()),
              StatusIs(absl::StatusCode::kPermissionDenied));
  EXPECT_THAT(Acknowledge(case_id, "roles-ack-svc", Token(Role::kService, "consent")),
              StatusIs(absl::StatusCode::kPermissionDenied));
  // No token, or one signed by another key.
  EXPECT_THAT(ReferCase(Referral("roles3"), ""),
              StatusIs(absl::StatusCode::kUnauthenticated));
  EXPECT_THAT(Get(case_id, ""), StatusIs(absl::StatusCode::kUnauthenticated));
  EXPECT_THAT(Get(case_id, ::mend::testing::TokenFor(Role::kManager, kManager)),
              StatusIs(absl::StatusCode::kUnauthenticated));
  // Invalid input without a token is still UNAUTHENTICATED: strangers learn
  // nothing about the validation rules.
  case_v1::ReferCaseRequest bad = Referral("roles4");
  bad.clear_source();
  EXPECT_THAT(ReferCase(bad, ""), StatusIs(absl::StatusCode::kUnauthenticated));
  EXPECT_EQ(Head(), head);
  // Services and auditors read.
  EXPECT_THAT(Get(case_id, Token(Role::kService, "consent")), IsOk());
  EXPECT_THAT(Get(case_id, Auditor()), IsOk());
  EXPECT_THAT(Get("no-such-case", Manager()), StatusIs(absl::StatusCode::kNotFound));
}

// --- Redaction (I5) --------------------------------------------------------

}  // namespace
}  // namespace mend::casesvc::service_test
