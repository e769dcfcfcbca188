// The consent service as operators run it: the real mend-consent binary
// following the real mend-case binary over gRPC (a service token, a token
// verification key, causal tokens), a contact decision on a case made in the
// case service, restarts of either process, and the case service down while
// the consent service keeps serving what it knows. Nothing sleeps: the test
// waits on the health service and on causal tokens.
#include <grpcpp/grpcpp.h>
#include <signal.h>
#include <sys/wait.h>

#include <fstream>
#include <memory>
#include <optional>
#include <string>
#include <vector>

#include "absl/strings/str_cat.h"
#include "absl/time/time.h"
#include "common/security/auth.h"
#include "common/security/key_store.h"
#include "gmock/gmock.h"
#include "google/protobuf/util/message_differencer.h"
#include "gtest/gtest.h"
#include "mend/case/v1/case_service.grpc.pb.h"
#include "mend/consent/v1/consent_service.grpc.pb.h"
#include "tests/support/grpc_client.h"
#include "tests/support/process.h"
#include "tests/support/test_util.h"
#include "tests/support/tokens.h"

namespace mend {
namespace {

namespace case_v1 = ::mend::case_::v1;
namespace common_v1 = ::mend::common::v1;
namespace consent_v1 = ::mend::consent::v1;
using ::google::protobuf::util::MessageDifferencer;
using ::mend::testing::Call;
using ::mend::testing::ChildProcess;
using ::mend::testing::Connect;
using ::mend::testing::IsOk;
using ::mend::testing::KeyPair;
using ::mend::testing::StatusIs;
using ::mend::testing::TempDir;
using ::mend::testing::WaitServing;
using ::testing::ElementsAre;
using ::testing::HasSubstr;

constexpr char kCaseBinary[] = MEND_CASE_SERVICE;
constexpr char kConsentBinary[] = MEND_CONSENT_SERVICE;
constexpr char kAnn[] = "facilitator-ann";

class ConsentProcessTest : public ::testing::Test {
 protected:
  void SetUp() override {
    key_ = ::mend::testing::NewSigningKey();
    Write(dir_.Sub("token.pub"), key_.public_pem);
    Write(dir_.Sub("consent.token"), Token(Role::kService, "consent"));
    ASSERT_THAT(crypto::KeyStore::WriteNewMasterKey(dir_.Sub("master.key")), IsOk());
    case_port_ = ::mend::testing::PickFreePort();
    consent_port_ = ::mend::testing::PickFreePort();
  }

  static void Write(const std::string& path, const std::string& text) {
    std::ofstream out(path);
    out << text;
  }

  std::string Token(Role role, const std::string& subject) {
    return ::mend::testing::TokenFor(role, subject, &key_);
  }

  void StartCase() {
    auto child = ChildProcess::Start(
        kCaseBinary,
        {absl::StrCat("--listen=127.0.0.1:", case_port_),
         "--data_dir=" + dir_.Sub("case"), "--token_public_key=" + dir_.Sub("token.pub"),
         "--master_key=" + dir_.Sub("master.key"), "--log_level=warn"},
        dir_.Sub(absl::StrCat("case-", ++starts_)));
    ASSERT_THAT(child, IsOk());
    case_ = *std::move(child);
    case_channel_ = Connect(case_port_);
    ASSERT_TRUE(WaitServing(case_channel_)) << case_->Output();
    case_stub_ = case_v1::CaseService::NewStub(case_channel_);
  }

  // The operator's configuration comes from the environment here, as a
  // manifest would set it.
  void StartConsent() {
    auto child =
        ChildProcess::Start(kConsentBinary, {"--log_level=warn"},
                            dir_.Sub(absl::StrCat("consent-", ++starts_)),
                            {absl::StrCat("MEND_LISTEN=127.0.0.1:", consent_port_),
                             "MEND_DATA_DIR=" + dir_.Sub("consent"),
                             "MEND_TOKEN_PUBLIC_KEY=" + dir_.Sub("token.pub"),
                             "MEND_SERVICE_TOKEN_FILE=" + dir_.Sub("consent.token"),
                             absl::StrCat("MEND_UPSTREAM_CASE=127.0.0.1:", case_port_)});
    ASSERT_THAT(child, IsOk());
    consent_ = *std::move(child);
    consent_channel_ = Connect(consent_port_);
    ASSERT_TRUE(WaitServing(consent_channel_)) << consent_->Output();
    consent_stub_ = consent_v1::ConsentService::NewStub(consent_channel_);
  }

  // SIGTERM: the process drains and exits 0.
  static void Stop(std::optional<ChildProcess>& child) {
    child->Signal(SIGTERM);
    std::optional<int> status = child->Wait(absl::Seconds(30));
    ASSERT_TRUE(status.has_value()) << child->Output();
    EXPECT_TRUE(WIFEXITED(*status) && WEXITSTATUS(*status) == 0) << child->Output();
    child.reset();
  }

  // A case command; returns its result and remembers its causal token.
  template <typename Request>
  case_v1::CommandResult CaseCommand(grpc::Status (case_v1::CaseService::Stub::*method)(
                                         grpc::ClientContext*, const Request&,
                                         case_v1::CommandResult*),
                                     const Request& request, const std::string& token) {
    absl::StatusOr<case_v1::CommandResult> r = Call<case_v1::CommandResult>(
        token, [&](grpc::ClientContext* c, case_v1::CommandResult* out) {
          return (case_stub_.get()->*method)(c, request, out);
        });
    EXPECT_THAT(r, IsOk());
    if (!r.ok()) return {};
    token_.set_case_position(std::max(token_.case_position(), r->last_position()));
    return *r;
  }

  // Referred, suitable, Ann allocated, acknowledged, assessed for letters.
  std::string ReadyCase() {
    const std::string manager = Token(Role::kManager, "manager-mia");
    const std::string ann = Token(Role::kFacilitator, kAnn);
    case_v1::ReferCaseRequest refer;
    refer.set_request_id("e2e-refer");
    refer.set_source(case_v1::VICTIM_SERVICE);
    refer.set_referral_date("2026-02-10");
    refer.set_offence_category(case_v1::ACQUISITIVE);
    refer.set_offence_summary("Street robbery");
    auto* su = refer.add_participants();
    su->set_participant_id("su-1");
    su->set_role(case_v1::SERVICE_USER);
    su->mutable_details()->set_full_name("Samuel Offleigh");
    auto* v = refer.add_participants();
    v->set_participant_id("v-1");
    v->set_role(case_v1::VICTIM);
    v->mutable_details()->set_full_name("Verity Quill");
    const std::string case_id =
        CaseCommand(&case_v1::CaseService::Stub::ReferCase, refer, manager).case_id();
    case_v1::RecordSuitabilityRequest suitable;
    suitable.set_request_id("e2e-suitable");
    suitable.set_case_id(case_id);
    suitable.set_suitable(true);
    CaseCommand(&case_v1::CaseService::Stub::RecordSuitability, suitable, manager);
    case_v1::AllocateFacilitatorRequest allocate;
    allocate.set_request_id("e2e-allocate");
    allocate.set_case_id(case_id);
    allocate.set_facilitator_id(kAnn);
    CaseCommand(&case_v1::CaseService::Stub::AllocateFacilitator, allocate, manager);
    case_v1::RecordAcknowledgementRequest ack;
    ack.set_request_id("e2e-ack");
    ack.set_case_id(case_id);
    ack.set_acknowledged(true);
    CaseCommand(&case_v1::CaseService::Stub::RecordAcknowledgement, ack, ann);
    case_v1::RecordRiskAssessmentRequest risk;
    risk.set_request_id("e2e-risk");
    risk.set_case_id(case_id);
    risk.set_level(case_v1::LOW);
    risk.add_allowed_kinds(common_v1::APPROACH_VICTIM);
    risk.add_allowed_kinds(common_v1::LETTER_DELIVERY);
    risk.set_review_date("2026-08-01");
    CaseCommand(&case_v1::CaseService::Stub::RecordRiskAssessment, risk, ann);
    return case_id;
  }

  absl::StatusOr<consent_v1::CommandResult> Consent(const std::string& case_id,
                                                    const std::string& participant,
                                                    consent_v1::ConsentScope scope) {
    consent_v1::RecordConsentRequest r;
    r.set_request_id(absl::StrCat("e2e-consent-", participant, "-", scope));
    r.set_case_id(case_id);
    r.set_participant_id(participant);
    r.set_scope(scope);
    r.set_answer(consent_v1::GIVEN);
    r.mutable_informed()->set_leaflet_version("RJ-leaflet-2026-03");
    r.mutable_informed()->set_channel(consent_v1::PHONE);
    *r.mutable_causal_token() = token_;
    return Call<consent_v1::CommandResult>(
        Token(Role::kFacilitator, kAnn),
        [&](grpc::ClientContext* c, consent_v1::CommandResult* out) {
          return consent_stub_->RecordConsent(c, r, out);
        });
  }

  // The conference service asks on Ann's behalf, as it will.
  absl::StatusOr<consent_v1::ContactDecision> Decide(
      const std::string& case_id, const std::string& request_id,
      absl::Duration timeout = absl::Seconds(30)) {
    consent_v1::DecideContactRequest r;
    r.set_request_id(request_id);
    r.set_case_id(case_id);
    r.set_kind(common_v1::LETTER_DELIVERY);
    r.set_facilitator_id(kAnn);
    r.set_purpose("deliver-apology-letter");
    *r.mutable_causal_token() = token_;
    return Call<consent_v1::ContactDecision>(
        Token(Role::kService, "conference"),
        [&](grpc::ClientContext* c, consent_v1::ContactDecision* out) {
          return consent_stub_->DecideContact(c, r, out);
        },
        timeout);
  }

  absl::StatusOr<consent_v1::ListDecisionsResponse> List(const std::string& case_id) {
    consent_v1::ListDecisionsRequest r;
    r.set_case_id(case_id);
    return Call<consent_v1::ListDecisionsResponse>(
        Token(Role::kAuditor, "auditor-al"),
        [&](grpc::ClientContext* c, consent_v1::ListDecisionsResponse* out) {
          return consent_stub_->ListDecisions(c, r, out);
        });
  }

  TempDir dir_;
  KeyPair key_;
  int case_port_ = 0;
  int consent_port_ = 0;
  int starts_ = 0;
  std::optional<ChildProcess> case_;
  std::optional<ChildProcess> consent_;
  std::shared_ptr<grpc::Channel> case_channel_;
  std::shared_ptr<grpc::Channel> consent_channel_;
  std::unique_ptr<case_v1::CaseService::Stub> case_stub_;
  std::unique_ptr<consent_v1::ConsentService::Stub> consent_stub_;
  common_v1::CausalToken token_;
};

TEST_F(ConsentProcessTest, DecidesOnTheCaseServicesFactsAcrossRestartsOfEither) {
  StartCase();
  StartConsent();
  const std::string case_id = ReadyCase();
  ASSERT_THAT(Consent(case_id, "v-1", consent_v1::PARTICIPATE), IsOk());
  ASSERT_THAT(Consent(case_id, "v-1", consent_v1::RECEIVE_LETTER), IsOk());
  ASSERT_THAT(Consent(case_id, "su-1", consent_v1::RECEIVE_LETTER), IsOk());
  absl::StatusOr<consent_v1::ContactDecision> approved = Decide(case_id, "e2e-decide-1");
  ASSERT_THAT(approved, IsOk()) << consent_->Output();
  EXPECT_EQ(approved->decision().outcome(), consent_v1::APPROVED);
  EXPECT_GE(approved->decision().case_position(), token_.case_position());

  // The consent service restarts: it replays to the same decisions.
  absl::StatusOr<consent_v1::ListDecisionsResponse> before = List(case_id);
  ASSERT_THAT(before, IsOk());
  Stop(consent_);
  StartConsent();
  absl::StatusOr<consent_v1::ListDecisionsResponse> after = List(case_id);
  ASSERT_THAT(after, IsOk());
  EXPECT_TRUE(MessageDifferencer::Equals(*before, *after));

  // The case service goes down: consent keeps serving what it knows, and a
  // decision that needs newer case facts than it has is UNAVAILABLE, not
  // made on older ones.
  Stop(case_);
  absl::StatusOr<consent_v1::ContactDecision> known = Decide(case_id, "e2e-decide-2");
  ASSERT_THAT(known, IsOk());
  EXPECT_EQ(known->decision().outcome(), consent_v1::APPROVED);
  common_v1::CausalToken seen = token_;
  token_.set_case_position(token_.case_position() + 1);
  EXPECT_THAT(Decide(case_id, "e2e-decide-3", absl::Milliseconds(500)),
              StatusIs(absl::StatusCode::kUnavailable));
  token_ = seen;

  // The case service comes back; the case is paused there; the next
  // decision, with the pause's causal token, sees it.
  StartCase();
  case_v1::PauseCaseRequest pause;
  pause.set_request_id("e2e-pause");
  pause.set_case_id(case_id);
  pause.set_reason("victim-unwell");
  CaseCommand(&case_v1::CaseService::Stub::PauseCase, pause,
              Token(Role::kFacilitator, kAnn));
  absl::StatusOr<consent_v1::ContactDecision> paused = Decide(case_id, "e2e-decide-4");
  ASSERT_THAT(paused, IsOk()) << consent_->Output();
  ASSERT_EQ(paused->decision().outcome(), consent_v1::REFUSED);
  EXPECT_EQ(paused->decision().reasons(0).code(), consent_v1::CASE_PAUSED);

  Stop(consent_);
  Stop(case_);
}

TEST_F(ConsentProcessTest, RefusesToStartWithoutTheCaseServicesAddress) {
  auto child = ChildProcess::Start(kConsentBinary,
                                   {absl::StrCat("--listen=127.0.0.1:", consent_port_),
                                    "--data_dir=" + dir_.Sub("consent")},
                                   dir_.Sub("no-upstream"));
  ASSERT_THAT(child, IsOk());
  std::optional<int> status = child->Wait(absl::Seconds(30));
  ASSERT_TRUE(status.has_value());
  EXPECT_TRUE(WIFEXITED(*status));
  EXPECT_EQ(WEXITSTATUS(*status), 2);
  EXPECT_THAT(child->Output(), HasSubstr("upstream_case"));
}

}  // namespace
}  // namespace mend
