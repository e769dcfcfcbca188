// The case service as operators run it: the real mend-case binary with a
// master key file and a token verification key, a case's whole life over
// gRPC (referral to erasure), SIGTERM, and a restart that must answer exactly
// as before. Nothing sleeps: the test waits on the health service's Watch
// stream and on the process's exit.
#include <grpcpp/grpcpp.h>
#include <signal.h>
#include <sys/stat.h>
#include <sys/wait.h>

#include <fstream>
#include <memory>
#include <optional>
#include <string>
#include <vector>

#include "absl/strings/match.h"
#include "absl/strings/str_cat.h"
#include "absl/time/clock.h"
#include "absl/time/time.h"
#include "common/eventlog/event_store.h"
#include "common/security/auth.h"
#include "common/security/key_store.h"
#include "gmock/gmock.h"
#include "grpc/health/v1/health.grpc.pb.h"
#include "gtest/gtest.h"
#include "mend/case/v1/case_service.grpc.pb.h"
#include "mend/eventlog/v1/eventlog_service.grpc.pb.h"
#include "tests/support/grpc_client.h"
#include "tests/support/process.h"
#include "tests/support/test_util.h"
#include "tests/support/tokens.h"

namespace mend {
namespace {

namespace case_v1 = ::mend::case_::v1;
using ::grpc::health::v1::HealthCheckRequest;
using ::grpc::health::v1::HealthCheckResponse;
using ::mend::testing::Call;
using ::mend::testing::ChildProcess;
using ::mend::testing::Connect;
using ::mend::testing::IsOk;
using ::mend::testing::KeyPair;
using ::mend::testing::StatusIs;
using ::mend::testing::TempDir;
using ::mend::testing::WaitServing;
using ::testing::HasSubstr;

constexpr char kBinary[] = MEND_CASE_SERVICE;
constexpr char kVictimName[] = "Verity Quillfeather-Plaintext";
constexpr char kVictimPhone[] = "+44 7700 900461";
constexpr char kServiceUserName[] = "Samuel Offleigh-Plaintext";
constexpr char kManager[] = "manager-mia";
constexpr char kFacilitator[] = "facilitator-ann";

// A referral of a burglary: service user "su-1", victim "v-1".
case_v1::ReferCaseRequest Referral() {
  case_v1::ReferCaseRequest r;
  r.set_request_id("e2e-refer");
  r.set_source(case_v1::PROBATION_OFFICER);
  r.set_referral_date("2026-03-02");
  r.set_offence_category(case_v1::ACQUISITIVE);
  r.set_offence_summary("Burglary at the victim's home in Lewisham");
  auto* su = r.add_participants();
  su->set_participant_id("su-1");
  su->set_role(case_v1::SERVICE_USER);
  su->mutable_details()->set_full_name(kServiceUserName);
  auto* victim = r.add_participants();
  victim->set_participant_id("v-1");
  victim->set_role(case_v1::VICTIM);
  victim->mutable_details()->set_full_name(kVictimName);
  victim->mutable_details()->set_phone(kVictimPhone);
  victim->mutable_needs()->set_language("pl");
  return r;
}

class CaseProcessTest : public ::testing::Test {
 protected:
  void SetUp() override {
    key_ = ::mend::testing::NewSigningKey();
    {
      std::ofstream out(dir_.Sub("token.pub"));
      out << key_.public_pem;
    }
    ASSERT_THAT(crypto::KeyStore::WriteNewMasterKey(dir_.Sub("master.key")), IsOk());
    struct stat st;
    ASSERT_EQ(::stat(dir_.Sub("master.key").c_str(), &st), 0);
    ASSERT_EQ(st.st_mode & 0777, 0600u);
  }

  // mend-case on `port` with a token key and the master key; the retention
  // period comes from the environment, as an operator's manifest sets it.
  absl::StatusOr<ChildProcess> Start(int port, const std::string& log_name) {
    return ChildProcess::Start(
        kBinary,
        {absl::StrCat("--listen=127.0.0.1:", port), "--data_dir=" + dir_.Sub("data"),
         "--master_key=" + dir_.Sub("master.key"),
         "--token_public_key=" + dir_.Sub("token.pub"), "--shutdown_grace=5s",
         "--log_level=warn"},
        dir_.Sub(log_name), {"MEND_RETENTION_PERIOD=1000h"});
  }

  std::string Token(Role role, const std::string& subject) {
    return ::mend::testing::TokenFor(role, subject, &key_);
  }

  TempDir dir_;
  KeyPair key_;
};

TEST_F(CaseProcessTest, WholeLifecycleThenRestartAnswersExactlyAsBefore) {
  const int port = ::mend::testing::PickFreePort();
  absl::StatusOr<ChildProcess> child = Start(port, "case-1");
  ASSERT_THAT(child, IsOk());
  std::shared_ptr<grpc::Channel> channel = Connect(port);
  ASSERT_TRUE(WaitServing(channel)) << child->Output();
  auto stub = case_v1::CaseService::NewStub(channel);
  auto log = eventlog::v1::EventLog::NewStub(channel);
  const std::string manager = Token(Role::kManager, kManager);
  const std::string ann = Token(Role::kFacilitator, kFacilitator);
  const std::string auditor = Token(Role::kAuditor, "auditor-al");

  // Referral, by the facilitator.
  absl::StatusOr<case_v1::CommandResult> r = Call<case_v1::CommandResult>(
      ann, [&](auto* c, auto* out) { return stub->ReferCase(c, Referral(), out); });
  ASSERT_THAT(r, IsOk()) << child->Output();
  EXPECT_EQ(r->stage(), case_v1::REFERRED);
  const std::string case_id = r->case_id();

  // Screening falls to a manager (no facilitator is allocated yet), and so
  // does allocation: suitable first, then allocated.
  case_v1::RecordSuitabilityRequest suitable;
  suitable.set_request_id("e2e-suitable");
  suitable.set_case_id(case_id);
  suitable.set_suitable(true);
  r = Call<case_v1::CommandResult>(manager, [&](auto* c, auto* out) {
    return stub->RecordSuitability(c, suitable, out);
  });
  ASSERT_THAT(r, IsOk());
  EXPECT_EQ(r->stage(), case_v1::SCREENING);

  case_v1::AllocateFacilitatorRequest allocate;
  allocate.set_request_id("e2e-allocate");
  allocate.set_case_id(case_id);
  allocate.set_facilitator_id(kFacilitator);
  EXPECT_THAT((Call<case_v1::CommandResult>(ann,
                                            [&](auto* c, auto* out) {
                                              return stub->AllocateFacilitator(
                                                  c, allocate, out);
                                            })),
              StatusIs(absl::StatusCode::kPermissionDenied));
  r = Call<case_v1::CommandResult>(manager, [&](auto* c, auto* out) {
    return stub->AllocateFacilitator(c, allocate, out);
  });
  ASSERT_THAT(r, IsOk());
  EXPECT_EQ(r->stage(), case_v1::ALLOCATED);

  // The allocated facilitator: acknowledgement, then a risk assessment,
  // which completes what preparation needs.
  case_v1::RecordAcknowledgementRequest acknowledge;
  acknowledge.set_request_id("e2e-ack");
  acknowledge.set_case_id(case_id);
  acknowledge.set_expected_version(r->version());
  acknowledge.set_acknowledged(true);
  acknowledge.set_notes("Accepts responsibility; wants to write a letter.");
  r = Call<case_v1::CommandResult>(ann, [&](auto* c, auto* out) {
    return stub->RecordAcknowledgement(c, acknowledge, out);
  });
  ASSERT_THAT(r, IsOk());
  EXPECT_EQ(r->stage(), case_v1::ALLOCATED);

  case_v1::RecordRiskAssessmentRequest risk;
  risk.set_request_id("e2e-risk");
  risk.set_case_id(case_id);
  risk.set_level(case_v1::LOW);
  risk.add_allowed_kinds(common::v1::APPROACH_VICTIM);
  risk.add_allowed_kinds(common::v1::LETTER_DELIVERY);
  risk.set_review_date("2026-06-30");
  r = Call<case_v1::CommandResult>(
      ann, [&](auto* c, auto* out) { return stub->RecordRiskAssessment(c, risk, out); });
  ASSERT_THAT(r, IsOk());
  EXPECT_EQ(r->stage(), case_v1::PREPARING);

  // Closure, then erasure of the victim on their own request.
  case_v1::CloseCaseRequest close;
  close.set_request_id("e2e-close");
  close.set_case_id(case_id);
  close.set_reason(case_v1::WITHDRAWN_BY_VICTIM);
  r = Call<case_v1::CommandResult>(
      ann, [&](auto* c, auto* out) { return stub->CloseCase(c, close, out); });
  ASSERT_THAT(r, IsOk());
  EXPECT_EQ(r->stage(), case_v1::CLOSED);

  case_v1::EraseParticipantRequest erase;
  erase.set_request_id("e2e-erase-retention");
  erase.set_case_id(case_id);
  erase.set_participant_id("v-1");
  erase.set_basis(case_v1::RETENTION_PERIOD_ELAPSED);
  erase.set_reason("retention-R7");
  // MEND_RETENTION_PERIOD=1000h reached the service: not elapsed yet.
  absl::StatusOr<case_v1::CommandResult> early = Call<case_v1::CommandResult>(
      ann, [&](auto* c, auto* out) { return stub->EraseParticipant(c, erase, out); });
  EXPECT_THAT(early, StatusIs(absl::StatusCode::kFailedPrecondition));
  EXPECT_THAT(early.status().message(), HasSubstr("retention period of 1000h"));
  EXPECT_THAT(early.status().message(), HasSubstr("allowed from"));

  erase.set_request_id("e2e-erase");
  erase.set_basis(case_v1::ERASURE_REQUEST);
  erase.set_reason("SAR-0042");
  EXPECT_THAT((Call<case_v1::CommandResult>(
                  ann, [&](auto* c,
                           auto* out) { return stub->EraseParticipant(c, erase, out); })),
              StatusIs(absl::StatusCode::kPermissionDenied));
  absl::StatusOr<case_v1::CommandResult> erased = Call<case_v1::CommandResult>(
      manager, [&](auto* c, auto* out) { return stub->EraseParticipant(c, erase, out); });
  ASSERT_THAT(erased, IsOk());
  EXPECT_EQ(erased->stage(), case_v1::CLOSED);

  case_v1::GetCaseRequest get;
  get.set_case_id(case_id);
  absl::StatusOr<case_v1::CaseView> before = Call<case_v1::CaseView>(
      manager, [&](auto* c, auto* out) { return stub->GetCase(c, get, out); });
  ASSERT_THAT(before, IsOk());
  EXPECT_EQ(before->stage(), case_v1::CLOSED);
  EXPECT_EQ(before->closure_reason(), case_v1::WITHDRAWN_BY_VICTIM);
  EXPECT_GT(before->closed_unix_micros(), 0);
  ASSERT_EQ(before->participants_size(), 2);
  EXPECT_EQ(before->participants(0).details().full_name(), kServiceUserName);
  EXPECT_TRUE(before->participants(1).erased());
  EXPECT_FALSE(before->participants(1).has_details());
  EXPECT_FALSE(absl::StrContains(before->SerializeAsString(), kVictimName));
  absl::StatusOr<eventlog::v1::GetHeadResponse> head_before =
      Call<eventlog::v1::GetHeadResponse>(auditor, [&](auto* c, auto* out) {
        return log->GetHead(c, eventlog::v1::GetHeadRequest(), out);
      });
  ASSERT_THAT(head_before, IsOk());
  EXPECT_EQ(head_before->position(), erased->position());

  ASSERT_EQ(::mend::testing::StopCleanly(*child), "");

  // Restart on the same data directory and port.
  child = Start(port, "case-2");
  ASSERT_THAT(child, IsOk());
  ASSERT_TRUE(WaitServing(channel)) << child->Output();
  {
    auto health = grpc::health::v1::Health::NewStub(channel);
    grpc::ClientContext context;
    context.set_deadline(absl::ToChronoTime(absl::Now() + absl::Seconds(30)));
    HealthCheckResponse response;
    ASSERT_TRUE(health->Check(&context, HealthCheckRequest(), &response).ok());
    EXPECT_EQ(response.status(), HealthCheckResponse::SERVING);
  }
  absl::StatusOr<case_v1::CaseView> after = Call<case_v1::CaseView>(
      manager, [&](auto* c, auto* out) { return stub->GetCase(c, get, out); });
  ASSERT_THAT(after, IsOk());
  EXPECT_EQ(after->SerializeAsString(), before->SerializeAsString())
      << "before:\n"
      << before->DebugString() << "after:\n"
      << after->DebugString();
  absl::StatusOr<eventlog::v1::GetHeadResponse> head_after =
      Call<eventlog::v1::GetHeadResponse>(auditor, [&](auto* c, auto* out) {
        return log->GetHead(c, eventlog::v1::GetHeadRequest(), out);
      });
  ASSERT_THAT(head_after, IsOk());
  EXPECT_EQ(head_after->position(), head_before->position());
  EXPECT_EQ(head_after->hash(), head_before->hash());
  // A retried erasure answers as the original did, and appends nothing.
  absl::StatusOr<case_v1::CommandResult> retried = Call<case_v1::CommandResult>(
      manager, [&](auto* c, auto* out) { return stub->EraseParticipant(c, erase, out); });
  ASSERT_THAT(retried, IsOk());
  EXPECT_EQ(retried->SerializeAsString(), erased->SerializeAsString());
  ASSERT_EQ(::mend::testing::StopCleanly(*child), "");

  // The log, read offline: the chain verifies and the victim's data is in it
  // only sealed, with their key gone (I6).
  absl::StatusOr<std::unique_ptr<eventlog::EventStore>> store =
      eventlog::EventStore::Open(
          {.path = dir_.Sub("data") + "/eventlog", .read_only = true});
  ASSERT_THAT(store, IsOk());
  const eventlog::VerifyReport report = (*store)->Verify();
  EXPECT_TRUE(report.ok) << report.problem;
  EXPECT_EQ((*store)->GetHead().position, head_before->position());
  ASSERT_THAT((*store)->Scan(1,
                             [&](uint64_t position, std::string_view bytes) {
                               const absl::string_view record(bytes.data(), bytes.size());
                               EXPECT_FALSE(absl::StrContains(record, kVictimName))
                                   << "position " << position;
                               EXPECT_FALSE(absl::StrContains(record, kVictimPhone))
                                   << "position " << position;
                               return true;
                             }),
              IsOk());
}

TEST_F(CaseProcessTest, BadRetentionPeriodExitsWithStatus2) {
  struct Row {
    std::string name;
    std::vector<std::string> args;
    std::vector<std::string> env;
    std::string message;
    int exit_status = 2;
  };
  const std::vector<Row> rows = {
      {"zero", {"--retention_period=0s"}, {}, "must be positive"},
      {"negative", {"--retention_period=-24h"}, {}, "must be positive"},
      {"infinite", {"--retention_period=inf"}, {}, "must be finite"},
      {"fraction of a second",
       {"--retention_period=1500ms"},
       {},
       "whole number of seconds"},
      {"zero from the environment", {}, {"MEND_RETENTION_PERIOD=0s"}, "must be positive"},
      {"not a duration in the environment",
       {},
       {"MEND_RETENTION_PERIOD=six years"},
       "MEND_RETENTION_PERIOD"},
      // A value absl cannot parse: refused before absl's parse (which would
      // exit 1), status 2 like every usage error, naming the flag.
      {"not a duration", {"--retention_period=six years"}, {}, "retention_period", 2},
  };
  for (size_t i = 0; i < rows.size(); ++i) {
    const Row& row = rows[i];
    SCOPED_TRACE(row.name);
    std::vector<std::string> args = {"--listen=127.0.0.1:0",
                                     "--data_dir=" + dir_.Sub("data"),
                                     "--master_key=" + dir_.Sub("master.key")};
    args.insert(args.end(), row.args.begin(), row.args.end());
    absl::StatusOr<ChildProcess> child =
        ChildProcess::Start(kBinary, args, dir_.Sub(absl::StrCat("bad-", i)), row.env);
    ASSERT_THAT(child, IsOk());
    std::optional<int> status = child->Wait(absl::Seconds(30));
    ASSERT_TRUE(status.has_value()) << child->Output();
    ASSERT_TRUE(WIFEXITED(*status)) << child->Output();
    EXPECT_EQ(WEXITSTATUS(*status), row.exit_status) << child->Output();
    EXPECT_THAT(child->Output(), HasSubstr("retention_period"));
    EXPECT_THAT(child->Output(), HasSubstr(row.message));
  }
}

}  // namespace
}  // namespace mend
