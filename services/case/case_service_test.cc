// Integration tests of mend.case.v1.CaseService: a real ServiceRuntime (event
// log and key store in a temporary directory, a master key, a token
// verification key) serving CaseServiceImpl on 127.0.0.1 and an ephemeral
// port, called through the generated stub over a real channel with signed
// tokens. Restarts open a new runtime on the same data directory.
//
// Nothing sleeps to let something happen: concurrent calls are joined, and
// every call has a deadline.
#include "services/case/case_service.h"

#include <grpcpp/grpcpp.h>
#include <signal.h>
#include <sys/wait.h>

#include <atomic>
#include <fstream>
#include <functional>
#include <memory>
#include <set>
#include <string>
#include <thread>
#include <vector>

#include "absl/strings/match.h"
#include "absl/strings/str_cat.h"
#include "absl/synchronization/barrier.h"
#include "absl/time/clock.h"
#include "absl/time/time.h"
#include "common/eventlog/event_store.h"
#include "common/eventlog/record_codec.h"
#include "common/security/key_store.h"
#include "gmock/gmock.h"
#include "google/protobuf/util/message_differencer.h"
#include "grpc/health/v1/health.grpc.pb.h"
#include "gtest/gtest.h"
#include "mend/case/v1/case_service.grpc.pb.h"
#include "services/case/case_validation.h"
#include "tests/support/grpc_client.h"
#include "tests/support/process.h"
#include "tests/support/test_util.h"
#include "tests/support/tokens.h"

namespace mend::casesvc {
namespace {

using ::google::protobuf::util::MessageDifferencer;
using ::mend::testing::Call;
using ::mend::testing::IsOk;
using ::mend::testing::KeyPair;
using ::mend::testing::StatusIs;
using ::mend::testing::TempDir;
using ::testing::ElementsAre;
using ::testing::HasSubstr;
using ::testing::IsEmpty;
using ::testing::Not;
using ::testing::SizeIs;

constexpr char kVictimName[] = "Verity Quillfeather-Plaintext";
constexpr char kVictimPhone[] = "+44 7700 900461";
constexpr char kServiceUserName[] = "Samuel Offleigh-Plaintext";
constexpr char kSummary[] = "Burglary at the victim's home in Lewisham";
constexpr char kManager[] = "manager-mia";
constexpr char kFacilitatorA[] = "facilitator-ann";
constexpr char kFacilitatorB[] = "facilitator-bob";

// A referral with one service user "su-<tag>" and one victim "v-<tag>".
case_v1::ReferCaseRequest Referral(
    const std::string& tag, case_v1::OffenceCategory category = case_v1::ACQUISITIVE) {
  case_v1::ReferCaseRequest r;
  r.set_request_id("refer-" + tag);
  r.set_source(case_v1::PROBATION_OFFICER);
  r.set_referral_date("2026-03-02");
  r.set_offence_category(category);
  r.set_offence_summary(kSummary);
  auto* su = r.add_participants();
  su->set_participant_id("su-" + tag);
  su->set_role(case_v1::SERVICE_USER);
  su->mutable_details()->set_full_name(kServiceUserName);
  su->mutable_needs()->set_language("en");
  auto* victim = r.add_participants();
  victim->set_participant_id("v-" + tag);
  victim->set_role(case_v1::VICTIM);
  victim->mutable_details()->set_full_name(kVictimName);
  victim->mutable_details()->set_phone(kVictimPhone);
  victim->mutable_needs()->set_mental_health_support(true);
  return r;
}

class CaseServiceTest : public ::testing::Test {
 protected:
  void SetUp() override {
    key_ = ::mend::testing::NewSigningKey();
    {
      std::ofstream out(dir_.Sub("token.pub"));
      out << key_.public_pem;
    }
    ASSERT_THAT(crypto::KeyStore::WriteNewMasterKey(dir_.Sub("master.key")), IsOk());
    StartServer();
  }

  void TearDown() override { StopServer(); }

  void StartServer(bool with_master_key = true) {
    ServiceRuntime::Options options;
    options.service = "case";
    options.data_dir = dir_.Sub("data");
    options.token_public_key = dir_.Sub("token.pub");
    if (with_master_key) options.master_key = dir_.Sub("master.key");
    options.log_level = "error";
    options.shutdown_grace = absl::Seconds(5);
    options.policies = {&CasePolicy()};
    absl::StatusOr<std::unique_ptr<ServiceRuntime>> runtime =
        ServiceRuntime::Create(options);
    ASSERT_THAT(runtime, IsOk());
    runtime_ = *std::move(runtime);
    service_ = std::make_unique<CaseServiceImpl>(runtime_.get(), service_options_);
    runtime_->RegisterService(service_.get());
    runtime_->SetReplay([this](const ReplayedEvent& e) { return service_->Apply(e); });
    ASSERT_THAT(runtime_->Start(), IsOk());
    channel_ = grpc::CreateChannel(absl::StrCat("127.0.0.1:", runtime_->port()),
                                   grpc::InsecureChannelCredentials());
    stub_ = case_v1::CaseService::NewStub(channel_);
  }

  // The runtime goes first: the service must outlive it.
  void StopServer() {
    stub_.reset();
    channel_.reset();
    runtime_.reset();
    service_.reset();
  }

  void Restart() {
    StopServer();
    StartServer();
  }

  std::string Token(Role role, const std::string& subject) {
    return ::mend::testing::TokenFor(role, subject, &key_);
  }
  std::string Manager() { return Token(Role::kManager, kManager); }
  std::string Auditor() { return Token(Role::kAuditor, "auditor-al"); }

#define MEND_CASE_RPC(Method, Request, Response)                                       \
  absl::StatusOr<case_v1::Response> Method(const case_v1::Request& request,            \
                                           const std::string& token) {                 \
    return Call<case_v1::Response>(token,                                              \
                                   [&](grpc::ClientContext* c, case_v1::Response* r) { \
                                     return stub_->Method(c, request, r);              \
                                   });                                                 \
  }
  MEND_CASE_RPC(ReferCase, ReferCaseRequest, CommandResult)
  MEND_CASE_RPC(AddParticipant, AddParticipantRequest, CommandResult)
  MEND_CASE_RPC(AllocateFacilitator, AllocateFacilitatorRequest, CommandResult)
  MEND_CASE_RPC(ReleaseFacilitator, ReleaseFacilitatorRequest, CommandResult)
  MEND_CASE_RPC(RecordAcknowledgement, RecordAcknowledgementRequest, CommandResult)
  MEND_CASE_RPC(RecordRiskAssessment, RecordRiskAssessmentRequest, CommandResult)
  MEND_CASE_RPC(ApproveRiskAssessment, ApproveRiskAssessmentRequest, CommandResult)
  MEND_CASE_RPC(RecordSuitability, RecordSuitabilityRequest, CommandResult)
  MEND_CASE_RPC(PauseCase, PauseCaseRequest, CommandResult)
  MEND_CASE_RPC(ResumeCase, ResumeCaseRequest, CommandResult)
  MEND_CASE_RPC(CloseCase, CloseCaseRequest, CommandResult)
  MEND_CASE_RPC(EraseParticipant, EraseParticipantRequest, CommandResult)
  MEND_CASE_RPC(GetCase, GetCaseRequest, CaseView)
  MEND_CASE_RPC(ListCases, ListCasesRequest, ListCasesResponse)
#undef MEND_CASE_RPC

  absl::StatusOr<case_v1::CaseView> Get(const std::string& case_id,
                                        const std::string& token) {
    case_v1::GetCaseRequest request;
    request.set_case_id(case_id);
    return GetCase(request, token);
  }

  absl::StatusOr<case_v1::CommandResult> Suitable(const std::string& case_id,
                                                  const std::string& request_id) {
    case_v1::RecordSuitabilityRequest r;
    r.set_request_id(request_id);
    r.set_case_id(case_id);
    r.set_suitable(true);
    return RecordSuitability(r, Manager());
  }

  absl::StatusOr<case_v1::CommandResult> Allocate(const std::string& case_id,
                                                  const std::string& facilitator,
                                                  const std::string& request_id,
                                                  const std::string& token) {
    case_v1::AllocateFacilitatorRequest r;
    r.set_request_id(request_id);
    r.set_case_id(case_id);
    r.set_facilitator_id(facilitator);
    return AllocateFacilitator(r, token);
  }

  absl::StatusOr<case_v1::CommandResult> Acknowledge(
      const std::string& case_id, const std::string& request_id, const std::string& token,
      std::optional<uint64_t> expected = {}) {
    case_v1::RecordAcknowledgementRequest r;
    r.set_request_id(request_id);
    r.set_case_id(case_id);
    r.set_acknowledged(true);
    r.set_notes("Accepts responsibility; remorseful.");
    if (expected.has_value()) r.set_expected_version(*expected);
    return RecordAcknowledgement(r, token);
  }

  absl::StatusOr<case_v1::CommandResult> Close(const std::string& case_id,
                                               const std::string& request_id,
                                               const std::string& token) {
    case_v1::CloseCaseRequest r;
    r.set_request_id(request_id);
    r.set_case_id(case_id);
    r.set_reason(case_v1::COMPLETED);
    return CloseCase(r, token);
  }

  absl::StatusOr<case_v1::CommandResult> Erase(
      const std::string& case_id, const std::string& participant_id,
      const std::string& request_id, const std::string& token,
      case_v1::ErasureBasis basis = case_v1::ERASURE_REQUEST) {
    case_v1::EraseParticipantRequest r;
    r.set_request_id(request_id);
    r.set_case_id(case_id);
    r.set_participant_id(participant_id);
    r.set_basis(basis);
    r.set_reason(basis == case_v1::ERASURE_REQUEST ? "SAR-0042" : "retention-R7");
    return EraseParticipant(r, token);
  }

  // A case referred and then found suitable and allocated to `facilitator`.
  std::string AllocatedCase(const std::string& tag, const std::string& facilitator) {
    absl::StatusOr<case_v1::CommandResult> referred = ReferCase(Referral(tag), Manager());
    EXPECT_THAT(referred, IsOk());
    if (!referred.ok()) return "";
    EXPECT_THAT(Suitable(referred->case_id(), "suit-" + tag), IsOk());
    EXPECT_THAT(Allocate(referred->case_id(), facilitator, "alloc-" + tag, Manager()),
                IsOk());
    return referred->case_id();
  }

  uint64_t Head() { return runtime_->store()->GetHead().position; }

  // Every stored record's bytes.
  std::vector<std::string> AllRecordBytes() {
    std::vector<std::string> out;
    absl::Status s = runtime_->store()->Scan(1, [&](uint64_t, std::string_view bytes) {
      out.emplace_back(bytes);
      return true;
    });
    EXPECT_THAT(s, IsOk());
    return out;
  }

  bool LogContains(const std::string& needle) {
    for (const std::string& bytes : AllRecordBytes()) {
      if (absl::StrContains(bytes, needle)) return true;
    }
    return false;
  }

  // The CaseReferred event of `case_id`, from the log.
  case_v1::CaseReferred StoredReferral(const std::string& case_id) {
    case_v1::CaseReferred referred;
    absl::StatusOr<std::vector<eventlog::RawRecord>> records =
        runtime_->store()->ReadStream(CaseStreamId(case_id), 1, 1);
    EXPECT_THAT(records, IsOk());
    if (!records.ok() || records->empty()) return referred;
    eventlog::RecordView view;
    EXPECT_THAT(eventlog::DecodeRecord((*records)[0].bytes, &view), IsOk());
    EXPECT_EQ(view.event_type, "mend.case.v1.CaseReferred");
    EXPECT_TRUE(referred.ParseFromArray(view.payload.data(),
                                        static_cast<int>(view.payload.size())));
    return referred;
  }

  TempDir dir_;
  KeyPair key_;
  CaseServiceImpl::Options service_options_;  // StartServer's
  std::unique_ptr<CaseServiceImpl> service_;
  std::unique_ptr<ServiceRuntime> runtime_;
  std::shared_ptr<grpc::Channel> channel_;
  std::unique_ptr<case_v1::CaseService::Stub> stub_;
};

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

TEST_F(CaseServiceTest, OnlyManagersAndAllocatedFacilitatorsSeePersonalData) {
  const std::string case_id = AllocatedCase("red", kFacilitatorA);
  auto victim_of = [](const case_v1::CaseView& view) {
    for (const auto& p : view.participants()) {
      if (p.role() == case_v1::VICTIM) return p;
    }
    return case_v1::ParticipantView();
  };
  for (const std::string& token : {Manager(), Token(Role::kFacilitator, kFacilitatorA)}) {
    absl::StatusOr<case_v1::CaseView> view = Get(case_id, token);
    ASSERT_THAT(view, IsOk());
    const case_v1::ParticipantView victim = victim_of(*view);
    EXPECT_FALSE(victim.redacted());
    EXPECT_EQ(victim.details().full_name(), kVictimName);
    EXPECT_EQ(victim.details().phone(), kVictimPhone);
    EXPECT_TRUE(victim.needs().mental_health_support());
    EXPECT_EQ(view->offence_summary(), kSummary);
  }
  for (const std::string& token : {Auditor(), Token(Role::kService, "consent")}) {
    absl::StatusOr<case_v1::CaseView> view = Get(case_id, token);
    ASSERT_THAT(view, IsOk());
    ASSERT_THAT(view->participants(), SizeIs(2));
    for (const auto& p : view->participants()) {
      EXPECT_TRUE(p.redacted());
      EXPECT_FALSE(p.has_details());
      EXPECT_FALSE(p.has_needs());
    }
    EXPECT_EQ(view->offence_summary(), "");
    const std::string bytes = view->SerializeAsString();
    EXPECT_FALSE(absl::StrContains(bytes, kVictimPhone));
    EXPECT_FALSE(absl::StrContains(bytes, kVictimName));
    // The list shows the same.
    absl::StatusOr<case_v1::ListCasesResponse> listed =
        ListCases(case_v1::ListCasesRequest(), token);
    ASSERT_THAT(listed, IsOk());
    EXPECT_FALSE(absl::StrContains(listed->SerializeAsString(), kVictimPhone));
  }
  // Personal data is never in the log in plain text.
  EXPECT_FALSE(LogContains(kVictimName));
  EXPECT_FALSE(LogContains(kVictimPhone));
  EXPECT_FALSE(LogContains(kSummary));
  EXPECT_FALSE(LogContains("Accepts responsibility"));
}

// --- Erasure (I6) ----------------------------------------------------------

TEST_F(CaseServiceTest, ErasureShredsTheParticipantAndKeepsTheChain) {
  const std::string case_id = AllocatedCase("er", kFacilitatorA);
  const std::string manager = Manager();
  EXPECT_FALSE(LogContains(kVictimName));
  const case_v1::CaseReferred stored = StoredReferral(case_id);
  ASSERT_THAT(stored.participants(), SizeIs(2));
  const common_v1::Sealed victim_details = stored.participants(1).details();
  ASSERT_EQ(victim_details.person_id(), "v-er");
  // Keys are per case: the case's key for its participant "v-er".
  absl::StatusOr<std::string> opened =
      runtime_->keys()->Unseal(PersonKeyId(case_id, "v-er"), victim_details.ciphertext(),
                               kSealedParticipantDetails);
  ASSERT_THAT(opened, IsOk());
  EXPECT_THAT(*opened, HasSubstr(kVictimName));

  ASSERT_THAT(Close(case_id, "er-close", manager), IsOk());
  case_v1::EraseParticipantRequest erase;
  erase.set_request_id("er-erase");
  erase.set_case_id(case_id);
  erase.set_participant_id("v-er");
  erase.set_basis(case_v1::ERASURE_REQUEST);
  erase.set_reason("SAR-0042");
  ASSERT_THAT(EraseParticipant(erase, manager), IsOk());

  absl::StatusOr<case_v1::CaseView> view = Get(case_id, manager);
  ASSERT_THAT(view, IsOk());
  for (const auto& p : view->participants()) {
    if (p.participant_id() == "v-er") {
      EXPECT_TRUE(p.erased());
      EXPECT_FALSE(p.has_details());
      EXPECT_FALSE(p.has_needs());
    } else {
      EXPECT_FALSE(p.erased());
      EXPECT_EQ(p.details().full_name(), kServiceUserName);
    }
  }
  EXPECT_FALSE(absl::StrContains(view->SerializeAsString(), kVictimName));
  EXPECT_THAT(
      runtime_->keys()->Unseal(PersonKeyId(case_id, "v-er"), victim_details.ciphertext(),
                               kSealedParticipantDetails),
      StatusIs(absl::StatusCode::kNotFound));
  const eventlog::VerifyReport report = runtime_->store()->Verify();
  EXPECT_TRUE(report.ok) << report.problem;
  EXPECT_FALSE(LogContains(kVictimName));
  EXPECT_FALSE(LogContains(kVictimPhone));
  // Twice is refused by the domain; a retry of the same request is not.
  EXPECT_THAT(EraseParticipant(erase, manager), IsOk());
  erase.set_request_id("er-erase-2");
  EXPECT_THAT(EraseParticipant(erase, manager),
              StatusIs(absl::StatusCode::kFailedPrecondition));

  // Erasing the service user takes the offence summary with them.
  erase.set_request_id("er-erase-su");
  erase.set_participant_id("su-er");
  ASSERT_THAT(EraseParticipant(erase, manager), IsOk());
  view = Get(case_id, manager);
  ASSERT_THAT(view, IsOk());
  EXPECT_EQ(view->offence_summary(), "");
  // Participant ids are per case (so are keys): "su-er" in a new case is
  // another person, sealed with the new case's key, and this case's su-er
  // stays erased. (This asserted the old model — ids were person ids and the
  // new referral was refused — under which an erasure in one case erased a
  // namesake in another: the bug D3.)
  case_v1::ReferCaseRequest again_referred = Referral("er-again");
  again_referred.mutable_participants(0)->set_participant_id("su-er");
  absl::StatusOr<case_v1::CommandResult> referred_again =
      ReferCase(again_referred, manager);
  ASSERT_THAT(referred_again, IsOk());
  absl::StatusOr<case_v1::CaseView> again_view = Get(referred_again->case_id(), manager);
  ASSERT_THAT(again_view, IsOk());
  EXPECT_FALSE(again_view->participants(0).erased());
  EXPECT_EQ(again_view->participants(0).details().full_name(), kServiceUserName);
  view = Get(case_id, manager);
  ASSERT_THAT(view, IsOk());
  EXPECT_EQ(view->offence_summary(), "");

  // And after a restart the erased stay erased.
  Restart();
  absl::StatusOr<case_v1::CaseView> again = Get(case_id, manager);
  ASSERT_THAT(again, IsOk());
  EXPECT_TRUE(MessageDifferencer::Equals(*view, *again));
}

TEST_F(CaseServiceTest, ErasureFollowsTheRetentionRule) {
  const std::string case_id = AllocatedCase("rt", kFacilitatorA);
  const std::string manager = Manager();
  const std::string ann = Token(Role::kFacilitator, kFacilitatorA);
  const uint64_t open_head = Head();
  // An open case: close it first, whatever the basis.
  for (case_v1::ErasureBasis basis :
       {case_v1::ERASURE_REQUEST, case_v1::RETENTION_PERIOD_ELAPSED}) {
    absl::StatusOr<case_v1::CommandResult> r = Erase(
        case_id, "v-rt", "rt-open-" + case_v1::ErasureBasis_Name(basis), manager, basis);
    EXPECT_THAT(r, StatusIs(absl::StatusCode::kFailedPrecondition));
    EXPECT_THAT(r.status().message(), HasSubstr("stage ALLOCATED"));
  }
  EXPECT_EQ(Head(), open_head);

  ASSERT_THAT(Close(case_id, "rt-close", ann), IsOk());
  absl::StatusOr<case_v1::CaseView> closed = Get(case_id, manager);
  ASSERT_THAT(closed, IsOk());
  ASSERT_GT(closed->closed_unix_micros(), 0);
  const absl::Time allowed_from =
      absl::FromUnixMicros(closed->closed_unix_micros()) + kDefaultRetentionPeriod;
  const uint64_t head = Head();
  // The default period (six years) has not run: refused, naming the date.
  absl::StatusOr<case_v1::CommandResult> early =
      Erase(case_id, "v-rt", "rt-early", ann, case_v1::RETENTION_PERIOD_ELAPSED);
  EXPECT_THAT(early, StatusIs(absl::StatusCode::kFailedPrecondition));
  EXPECT_THAT(early.status().message(),
              HasSubstr(absl::StrCat("allowed from ",
                                     absl::FormatTime(absl::RFC3339_full, allowed_from,
                                                      absl::UTCTimeZone()))));
  // The person's own request: not for a facilitator...
  EXPECT_THAT(Erase(case_id, "v-rt", "rt-fac", ann),
              StatusIs(absl::StatusCode::kPermissionDenied));
  EXPECT_EQ(Head(), head);
  // ...but for a manager, at once.
  ASSERT_THAT(Erase(case_id, "v-rt", "rt-mgr", manager), IsOk());
  absl::StatusOr<case_v1::CaseView> erased = Get(case_id, manager);
  ASSERT_THAT(erased, IsOk());
  EXPECT_EQ(erased->closed_unix_micros(), closed->closed_unix_micros());

  // The event records the basis, the rule and the closure time.
  absl::StatusOr<std::vector<eventlog::RawRecord>> records =
      runtime_->store()->ReadStream(CaseStreamId(case_id), erased->version(), 1);
  ASSERT_THAT(records, IsOk());
  ASSERT_THAT(*records, SizeIs(1));
  eventlog::RecordView record;
  ASSERT_THAT(eventlog::DecodeRecord((*records)[0].bytes, &record), IsOk());
  ASSERT_EQ(record.event_type, "mend.case.v1.ParticipantErased");
  case_v1::ParticipantErased event;
  ASSERT_TRUE(event.ParseFromArray(record.payload.data(),
                                   static_cast<int>(record.payload.size())));
  EXPECT_EQ(event.basis(), case_v1::ERASURE_REQUEST);
  EXPECT_EQ(event.reason(), "SAR-0042");
  EXPECT_EQ(event.requested_by(), kManager);
  EXPECT_EQ(event.retention_period_seconds(), 0);
  EXPECT_EQ(event.case_closed_unix_micros(), closed->closed_unix_micros());
}

TEST_F(CaseServiceTest, RetentionPeriodIsTheServiceOption) {
  StopServer();
  service_options_.retention_period = absl::Hours(1000);
  StartServer();
  const std::string case_id = AllocatedCase("opt", kFacilitatorA);
  const std::string manager = Manager();
  ASSERT_THAT(Close(case_id, "opt-close", manager), IsOk());
  absl::StatusOr<case_v1::CaseView> closed = Get(case_id, manager);
  ASSERT_THAT(closed, IsOk());
  const absl::Time allowed_from =
      absl::FromUnixMicros(closed->closed_unix_micros()) + absl::Hours(1000);
  absl::StatusOr<case_v1::CommandResult> early =
      Erase(case_id, "v-opt", "opt-early", manager, case_v1::RETENTION_PERIOD_ELAPSED);
  EXPECT_THAT(early, StatusIs(absl::StatusCode::kFailedPrecondition));
  EXPECT_THAT(early.status().message(), HasSubstr("retention period of 1000h"));
  EXPECT_THAT(
      early.status().message(),
      HasSubstr(absl::FormatTime(absl::RFC3339_full, allowed_from, absl::UTCTimeZone())));
}

// --- Idempotency -----------------------------------------------------------

TEST_F(CaseServiceTest, RetriedReferralReturnsTheSameCase) {
  const std::string manager = Manager();
  absl::StatusOr<case_v1::CommandResult> first = ReferCase(Referral("idem"), manager);
  ASSERT_THAT(first, IsOk());
  const uint64_t head = Head();
  absl::StatusOr<case_v1::CommandResult> retry = ReferCase(Referral("idem"), manager);
  ASSERT_THAT(retry, IsOk());
  EXPECT_TRUE(MessageDifferencer::Equals(*first, *retry));
  EXPECT_EQ(Head(), head);
  absl::StatusOr<case_v1::ListCasesResponse> listed =
      ListCases(case_v1::ListCasesRequest(), manager);
  ASSERT_THAT(listed, IsOk());
  EXPECT_THAT(listed->cases(), SizeIs(1));

  // Concurrent retries of a new referral agree on one case.
  constexpr int kRetries = 4;
  std::vector<absl::StatusOr<case_v1::CommandResult>> results(kRetries);
  std::vector<std::thread> callers;
  for (int i = 0; i < kRetries; ++i) {
    callers.emplace_back([&, i] { results[i] = ReferCase(Referral("idem2"), manager); });
  }
  for (std::thread& t : callers) t.join();
  for (const auto& r : results) {
    ASSERT_THAT(r, IsOk());
    EXPECT_EQ(r->case_id(), results[0]->case_id());
    EXPECT_EQ(r->position(), results[0]->position());
  }
  EXPECT_EQ(Head(), head + 2);  // CaseReferred, StageChanged
}

TEST_F(CaseServiceTest, RetriedCommandReturnsTheOriginalResult) {
  const std::string case_id = AllocatedCase("rc", kFacilitatorA);
  const std::string ann = Token(Role::kFacilitator, kFacilitatorA);
  absl::StatusOr<case_v1::CaseView> before = Get(case_id, ann);
  ASSERT_THAT(before, IsOk());
  absl::StatusOr<case_v1::CommandResult> first =
      Acknowledge(case_id, "rc-ack", ann, before->version());
  ASSERT_THAT(first, IsOk());
  ASSERT_THAT(Acknowledge(case_id, "rc-ack-2", ann), IsOk());
  const uint64_t head = Head();
  // The retry carries the now stale expected version: still the original.
  absl::StatusOr<case_v1::CommandResult> retry =
      Acknowledge(case_id, "rc-ack", ann, before->version());
  ASSERT_THAT(retry, IsOk());
  EXPECT_TRUE(MessageDifferencer::Equals(*first, *retry));
  EXPECT_EQ(Head(), head);
  // The same request id for another command, or another case, is refused.
  case_v1::PauseCaseRequest pause;
  pause.set_request_id("rc-ack");
  pause.set_case_id(case_id);
  pause.set_reason("holiday");
  EXPECT_THAT(PauseCase(pause, ann), StatusIs(absl::StatusCode::kAlreadyExists));
  EXPECT_EQ(Head(), head);
  // After a restart too.
  Restart();
  retry = Acknowledge(case_id, "rc-ack", ann, before->version());
  ASSERT_THAT(retry, IsOk());
  EXPECT_TRUE(MessageDifferencer::Equals(*first, *retry));
  absl::StatusOr<case_v1::CommandResult> refer_retry =
      ReferCase(Referral("rc"), Manager());
  ASSERT_THAT(refer_retry, IsOk());
  EXPECT_EQ(refer_retry->case_id(), case_id);
  EXPECT_EQ(Head(), head);
}

// --- Replay ----------------------------------------------------------------

TEST_F(CaseServiceTest, RestartedServiceAnswersExactlyAsBefore) {
  const std::string manager = Manager();
  const std::string ann = Token(Role::kFacilitator, kFacilitatorA);
  std::vector<std::string> ids;
  ids.push_back(AllocatedCase("rp1", kFacilitatorA));
  ids.push_back(AllocatedCase("rp2", kFacilitatorB));
  ASSERT_THAT(Acknowledge(ids[0], "rp1-ack", ann), IsOk());
  case_v1::RecordRiskAssessmentRequest ra;
  ra.set_request_id("rp1-risk");
  ra.set_case_id(ids[0]);
  ra.set_level(case_v1::HIGH);
  ra.add_allowed_kinds(common_v1::LETTER_DELIVERY);
  ra.set_review_date("2026-09-30");
  ra.set_notes("Letters only.");
  ASSERT_THAT(RecordRiskAssessment(ra, ann), IsOk());
  case_v1::AddParticipantRequest add;
  add.set_request_id("rp1-add");
  add.set_case_id(ids[0]);
  add.mutable_participant()->set_role(case_v1::SUPPORTER);
  add.mutable_participant()->set_supports_participant_id("v-rp1");
  add.mutable_participant()->mutable_details()->set_full_name("Sue Porter");
  add.mutable_participant()->mutable_needs()->set_access("wheelchair access");
  ASSERT_THAT(AddParticipant(add, ann), IsOk());
  absl::StatusOr<case_v1::CommandResult> third = ReferCase(Referral("rp3"), manager);
  ASSERT_THAT(third, IsOk());
  ids.push_back(third->case_id());
  case_v1::PauseCaseRequest pause;
  pause.set_request_id("rp3-pause");
  pause.set_case_id(ids[2]);
  pause.set_reason("awaiting-trial");
  ASSERT_THAT(PauseCase(pause, manager), IsOk());
  ASSERT_THAT(Close(ids[1], "rp2-close", manager), IsOk());
  ASSERT_THAT(Erase(ids[1], "v-rp2", "rp2-erase", manager), IsOk());

  std::vector<case_v1::CaseView> before;
  std::vector<case_v1::CaseView> before_audited;
  for (const std::string& id : ids) {
    absl::StatusOr<case_v1::CaseView> v = Get(id, manager);
    ASSERT_THAT(v, IsOk());
    before.push_back(*v);
    v = Get(id, Auditor());
    ASSERT_THAT(v, IsOk());
    before_audited.push_back(*v);
  }
  absl::StatusOr<case_v1::ListCasesResponse> list_before =
      ListCases(case_v1::ListCasesRequest(), manager);
  ASSERT_THAT(list_before, IsOk());
  const uint64_t head = Head();

  Restart();
  EXPECT_EQ(Head(), head);
  EXPECT_GT(before[1].closed_unix_micros(), 0);  // and it survives the restart
  for (size_t i = 0; i < ids.size(); ++i) {
    absl::StatusOr<case_v1::CaseView> v = Get(ids[i], manager);
    ASSERT_THAT(v, IsOk());
    EXPECT_TRUE(MessageDifferencer::Equals(before[i], *v))
        << "before:\n"
        << before[i].DebugString() << "after:\n"
        << v->DebugString();
    v = Get(ids[i], Auditor());
    ASSERT_THAT(v, IsOk());
    EXPECT_TRUE(MessageDifferencer::Equals(before_audited[i], *v));
  }
  absl::StatusOr<case_v1::ListCasesResponse> list_after =
      ListCases(case_v1::ListCasesRequest(), manager);
  ASSERT_THAT(list_after, IsOk());
  EXPECT_TRUE(MessageDifferencer::Equals(*list_before, *list_after));

  // The reference counter was rebuilt: a new referral gets a new reference.
  absl::StatusOr<case_v1::CommandResult> fourth = ReferCase(Referral("rp4"), manager);
  ASSERT_THAT(fourth, IsOk());
  absl::StatusOr<case_v1::CaseView> v4 = Get(fourth->case_id(), manager);
  ASSERT_THAT(v4, IsOk());
  std::set<std::string> references = {v4->reference()};
  for (const auto& v : before) references.insert(v.reference());
  EXPECT_THAT(references, SizeIs(4));
}

// --- Listing ---------------------------------------------------------------

TEST_F(CaseServiceTest, ListCasesFiltersAndPages) {
  const std::string manager = Manager();
  std::set<std::string> all;
  for (int i = 0; i < 5; ++i) {
    absl::StatusOr<case_v1::CommandResult> r =
        ReferCase(Referral(absl::StrCat("ls", i)), manager);
    ASSERT_THAT(r, IsOk());
    all.insert(r->case_id());
  }
  const std::string allocated = AllocatedCase("ls-alloc", kFacilitatorA);
  all.insert(allocated);

  // Pages of two, in case id order, covering every case once.
  std::vector<std::string> seen;
  case_v1::ListCasesRequest request;
  request.set_page_size(2);
  int pages = 0;
  do {
    absl::StatusOr<case_v1::ListCasesResponse> page = ListCases(request, manager);
    ASSERT_THAT(page, IsOk());
    ASSERT_LE(page->cases_size(), 2);
    for (const auto& c : page->cases()) seen.push_back(c.case_id());
    request.set_page_token(page->next_page_token());
    ASSERT_LT(++pages, 10);
  } while (!request.page_token().empty());
  EXPECT_EQ(pages, 3);
  EXPECT_TRUE(std::is_sorted(seen.begin(), seen.end()));
  EXPECT_EQ(std::set<std::string>(seen.begin(), seen.end()), all);
  EXPECT_THAT(seen, SizeIs(all.size()));

  case_v1::ListCasesRequest by_stage;
  by_stage.set_stage(case_v1::ALLOCATED);
  absl::StatusOr<case_v1::ListCasesResponse> allocated_only =
      ListCases(by_stage, manager);
  ASSERT_THAT(allocated_only, IsOk());
  ASSERT_THAT(allocated_only->cases(), SizeIs(1));
  EXPECT_EQ(allocated_only->cases(0).case_id(), allocated);

  case_v1::ListCasesRequest by_facilitator;
  by_facilitator.set_facilitator_id(kFacilitatorA);
  absl::StatusOr<case_v1::ListCasesResponse> anns = ListCases(by_facilitator, manager);
  ASSERT_THAT(anns, IsOk());
  ASSERT_THAT(anns->cases(), SizeIs(1));
  EXPECT_EQ(anns->cases(0).case_id(), allocated);

  absl::StatusOr<case_v1::CaseView> latest = Get(allocated, manager);
  ASSERT_THAT(latest, IsOk());
  case_v1::ListCasesRequest since;
  since.set_updated_since_unix_micros(latest->updated_unix_micros());
  absl::StatusOr<case_v1::ListCasesResponse> recent = ListCases(since, manager);
  ASSERT_THAT(recent, IsOk());
  ASSERT_THAT(recent->cases(), Not(IsEmpty()));
  for (const auto& c : recent->cases()) {
    EXPECT_GE(c.updated_unix_micros(), latest->updated_unix_micros());
  }
  since.set_updated_since_unix_micros(latest->updated_unix_micros() + 3600LL * 1000000);
  recent = ListCases(since, manager);
  ASSERT_THAT(recent, IsOk());
  EXPECT_THAT(recent->cases(), IsEmpty());
}

// --- Without a key store ---------------------------------------------------

TEST_F(CaseServiceTest, WithoutAMasterKeyNothingPersonalIsStored) {
  StopServer();
  StartServer(/*with_master_key=*/false);
  const uint64_t head = Head();
  EXPECT_THAT(ReferCase(Referral("nokey"), Manager()),
              StatusIs(absl::StatusCode::kFailedPrecondition));
  EXPECT_EQ(Head(), head);
}

// --- The binary --------------------------------------------------------------

TEST(CaseBinaryTest, RefusesToStartWithoutAMasterKey) {
  TempDir dir;
  absl::StatusOr<::mend::testing::ChildProcess> child =
      ::mend::testing::ChildProcess::Start(
          MEND_CASE_BINARY, {"--listen=127.0.0.1:0", "--data_dir=" + dir.Sub("data")},
          dir.Sub("case"));
  ASSERT_THAT(child, IsOk());
  std::optional<int> status = child->Wait(absl::Seconds(30));
  ASSERT_TRUE(status.has_value());
  ASSERT_TRUE(WIFEXITED(*status));
  EXPECT_NE(WEXITSTATUS(*status), 0);
  EXPECT_THAT(child->Output(), HasSubstr("--master_key"));
}

TEST(CaseBinaryTest, ServesAfterReplayAndDrainsOnSigterm) {
  TempDir dir;
  ASSERT_THAT(crypto::KeyStore::WriteNewMasterKey(dir.Sub("master.key")), IsOk());
  const int port = ::mend::testing::PickFreePort();
  auto start = [&] {
    return ::mend::testing::ChildProcess::Start(
        MEND_CASE_BINARY,
        {absl::StrCat("--listen=127.0.0.1:", port), "--data_dir=" + dir.Sub("data"),
         "--master_key=" + dir.Sub("master.key"), "--shutdown_grace=2s"},
        dir.Sub("case"));
  };
  absl::StatusOr<::mend::testing::ChildProcess> child = start();
  ASSERT_THAT(child, IsOk());
  grpc::ChannelArguments args;  // reconnect quickly while the process starts
  args.SetInt(GRPC_ARG_INITIAL_RECONNECT_BACKOFF_MS, 20);
  args.SetInt(GRPC_ARG_MIN_RECONNECT_BACKOFF_MS, 20);
  args.SetInt(GRPC_ARG_MAX_RECONNECT_BACKOFF_MS, 200);
  auto channel = grpc::CreateCustomChannel(absl::StrCat("127.0.0.1:", port),
                                           grpc::InsecureChannelCredentials(), args);
  // Health.Watch streams each change of status (NOT_SERVING during replay,
  // then SERVING): waiting on it needs no polling.
  auto wait_serving = [&] {
    auto health = grpc::health::v1::Health::NewStub(channel);
    grpc::ClientContext context;
    context.set_wait_for_ready(true);
    context.set_deadline(absl::ToChronoTime(absl::Now() + absl::Seconds(30)));
    auto reader = health->Watch(&context, grpc::health::v1::HealthCheckRequest());
    grpc::health::v1::HealthCheckResponse response;
    while (reader->Read(&response)) {
      if (response.status() == grpc::health::v1::HealthCheckResponse::SERVING) {
        context.TryCancel();
        reader->Finish();
        return true;
      }
    }
    reader->Finish();
    return false;
  };
  ASSERT_TRUE(wait_serving()) << child->Output();
  // Development mode (no --token_public_key): claims are checked, signatures not.
  auto stub = case_v1::CaseService::NewStub(channel);
  case_v1::CommandResult referred;
  {
    grpc::ClientContext context;
    AttachBearerToken(&context, ::mend::testing::TokenFor(Role::kManager, kManager));
    context.set_deadline(absl::ToChronoTime(absl::Now() + absl::Seconds(30)));
    grpc::Status s = stub->ReferCase(&context, Referral("bin"), &referred);
    ASSERT_TRUE(s.ok()) << s.error_message() << child->Output();
  }
  child->Signal(SIGTERM);
  std::optional<int> status = child->Wait(absl::Seconds(30));
  ASSERT_TRUE(status.has_value());
  ASSERT_TRUE(WIFEXITED(*status));
  EXPECT_EQ(WEXITSTATUS(*status), 0);

  child = start();
  ASSERT_THAT(child, IsOk());
  ASSERT_TRUE(wait_serving()) << child->Output();
  grpc::ClientContext context;
  AttachBearerToken(&context, ::mend::testing::TokenFor(Role::kManager, kManager));
  context.set_deadline(absl::ToChronoTime(absl::Now() + absl::Seconds(30)));
  case_v1::GetCaseRequest get;
  get.set_case_id(referred.case_id());
  case_v1::CaseView view;
  grpc::Status s = stub->GetCase(&context, get, &view);
  ASSERT_TRUE(s.ok()) << s.error_message();
  EXPECT_EQ(view.version(), referred.version());
  EXPECT_EQ(view.participants(1).details().phone(), kVictimPhone);
  child->Signal(SIGTERM);
  EXPECT_TRUE(child->Wait(absl::Seconds(30)).has_value());
}

}  // namespace
}  // namespace mend::casesvc
