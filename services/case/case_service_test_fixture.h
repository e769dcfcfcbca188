// The fixture of the case service's integration tests: a real
// ServiceRuntime (event log and key store in a temporary directory, a master
// key, a token verification key) serving CaseServiceImpl on 127.0.0.1 and an
// ephemeral port, called through the generated stub over a real channel with
// signed tokens. Restarts open a new runtime on the same data directory.
//
// Nothing sleeps to let something happen: concurrent calls are joined, and
// every call has a deadline.
#ifndef MEND_SERVICES_CASE_CASE_SERVICE_TEST_FIXTURE_H_
#define MEND_SERVICES_CASE_CASE_SERVICE_TEST_FIXTURE_H_

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
#include "services/case/case_service.h"
#include "services/case/case_validation.h"
#include "tests/support/grpc_client.h"
#include "tests/support/process.h"
#include "tests/support/test_util.h"
#include "tests/support/tokens.h"

namespace mend::casesvc::service_test {

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

inline constexpr char kVictimName[] = "Verity Quillfeather-Plaintext";
inline constexpr char kVictimPhone[] = "+44 7700 900461";
inline constexpr char kServiceUserName[] = "Samuel Offleigh-Plaintext";
inline constexpr char kSummary[] = "Burglary at the victim's home in Lewisham";
inline constexpr char kManager[] = "manager-mia";
inline constexpr char kFacilitatorA[] = "facilitator-ann";
inline constexpr char kFacilitatorB[] = "facilitator-bob";

// A referral with one service user "su-<tag>" and one victim "v-<tag>".
inline case_v1::ReferCaseRequest Referral(
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

  // The runtime goes first (its destructor shuts it down): the service
  // stays alive until then (service_runtime.h, "Lifetime").
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
  MEND_CASE_RPC(LinkParticipant, LinkParticipantRequest, CommandResult)
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

}  // namespace mend::casesvc::service_test

#endif  // MEND_SERVICES_CASE_CASE_SERVICE_TEST_FIXTURE_H_
