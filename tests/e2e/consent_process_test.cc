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
#include "tests/support/service_processes.h"
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
using ::mend::testing::ServiceProcesses;
using ::mend::testing::StatusIs;
using ::mend::testing::TempDir;
using ::mend::testing::WaitServing;
using ::testing::ElementsAre;
using ::testing::HasSubstr;

constexpr char kConsentBinary[] = MEND_CONSENT_SERVICE;
constexpr const char* kAnn = ::mend::testing::ServiceProcesses::kAnn;

class ConsentProcessTest : public ::testing::Test {
 protected:
  absl::StatusOr<consent_v1::ContactDecision> Decide(
      const std::string& case_id, const std::string& request_id,
      absl::Duration timeout = absl::Seconds(30)) {
    return p_.Decide(case_id, request_id, common_v1::LETTER_DELIVERY, timeout);
  }

  ServiceProcesses p_{MEND_CASE_SERVICE, MEND_CONSENT_SERVICE};
  const TempDir& dir_ = p_.dir();
  common_v1::CausalToken& token_ = p_.causal_token();
};

TEST_F(ConsentProcessTest, DecidesOnTheCaseServicesFactsAcrossRestartsOfEither) {
  p_.StartCase();
  p_.StartConsent();
  const std::string case_id = p_.ReadyCase("e2e");
  ASSERT_THAT(p_.Consent(case_id, "v-1", consent_v1::PARTICIPATE), IsOk());
  ASSERT_THAT(p_.Consent(case_id, "v-1", consent_v1::RECEIVE_LETTER), IsOk());
  ASSERT_THAT(p_.Consent(case_id, "su-1", consent_v1::RECEIVE_LETTER), IsOk());
  absl::StatusOr<consent_v1::ContactDecision> approved = Decide(case_id, "e2e-decide-1");
  ASSERT_THAT(approved, IsOk()) << p_.ConsentOutput();
  EXPECT_EQ(approved->decision().outcome(), consent_v1::APPROVED);
  EXPECT_GE(approved->decision().case_position(), token_.case_position());

  // The consent service restarts: it replays to the same decisions.
  absl::StatusOr<consent_v1::ListDecisionsResponse> before = p_.ListDecisions(case_id);
  ASSERT_THAT(before, IsOk());
  p_.StopConsent();
  p_.StartConsent();
  absl::StatusOr<consent_v1::ListDecisionsResponse> after = p_.ListDecisions(case_id);
  ASSERT_THAT(after, IsOk());
  EXPECT_TRUE(MessageDifferencer::Equals(*before, *after));

  // The case service goes down: consent keeps serving what it knows, and a
  // decision that needs newer case facts than it has is UNAVAILABLE, not
  // made on older ones.
  p_.StopCase();
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
  p_.StartCase();
  case_v1::PauseCaseRequest pause;
  pause.set_request_id("e2e-pause");
  pause.set_case_id(case_id);
  pause.set_reason("victim-unwell");
  ASSERT_THAT(p_.CaseCommand(&case_v1::CaseService::Stub::PauseCase, pause,
                             p_.Token(Role::kFacilitator, kAnn)),
              IsOk());
  absl::StatusOr<consent_v1::ContactDecision> paused = Decide(case_id, "e2e-decide-4");
  ASSERT_THAT(paused, IsOk()) << p_.ConsentOutput();
  ASSERT_EQ(paused->decision().outcome(), consent_v1::REFUSED);
  EXPECT_EQ(paused->decision().reasons(0).code(), consent_v1::CASE_PAUSED);

  p_.StopConsent();
  p_.StopCase();
}

TEST_F(ConsentProcessTest, RefusesToStartWithoutTheCaseServicesAddress) {
  auto child = ChildProcess::Start(
      kConsentBinary,
      {absl::StrCat("--listen=127.0.0.1:", ::mend::testing::PickFreePort()),
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
