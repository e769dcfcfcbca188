// The defects an independent test of the case and consent services found
// (issue "Defects in the contact gate and the command path"), each driven
// over gRPC against the real mend-case and mend-consent processes, each
// refusal checked to leave both logs unchanged.
#include <grpcpp/grpcpp.h>

#include <string>

#include "absl/strings/str_cat.h"
#include "gmock/gmock.h"
#include "gtest/gtest.h"
#include "tests/support/service_processes.h"

namespace mend {
namespace {

namespace case_v1 = ::mend::case_::v1;
namespace common_v1 = ::mend::common::v1;
namespace consent_v1 = ::mend::consent::v1;
using ::mend::testing::Call;
using ::mend::testing::IsOk;
using ::mend::testing::ServiceProcesses;
using ::mend::testing::StatusIs;
using ::testing::HasSubstr;

class ContactGateDefectsTest : public ::testing::Test {
 protected:
  void SetUp() override {
    p_.StartCase();
    p_.StartConsent();
    manager_ = p_.Token(Role::kManager, ServiceProcesses::kManager);
    ann_ = p_.Token(Role::kFacilitator, ServiceProcesses::kAnn);
  }

  // Both logs' heads once the consent service has caught up with the case
  // log (through `case_id`), to check a refusal appended nothing.
  std::pair<uint64_t, uint64_t> Heads(const std::string& case_id) {
    p_.WaitConsentCaughtUp(case_id);
    return {p_.CaseHead(), p_.ConsentHead()};
  }

  ServiceProcesses p_{MEND_CASE_SERVICE, MEND_CONSENT_SERVICE};
  std::string manager_;
  std::string ann_;
};

// D1: a reused request_id with other content is ALREADY_EXISTS, never OK.
TEST_F(ContactGateDefectsTest, ReusedRequestIdWithOtherContentIsRefusedOnTheCaseService) {
  case_v1::ReferCaseRequest refer = p_.Referral("d1");
  auto referred = p_.CaseCommand(&case_v1::CaseService::Stub::ReferCase, refer, manager_);
  ASSERT_THAT(referred, IsOk());
  const std::string first_case = referred->case_id();
  // The same request again is a retry: the same answer, nothing appended.
  auto heads = Heads(first_case);
  ASSERT_THAT(p_.CaseCommand(&case_v1::CaseService::Stub::ReferCase, refer, manager_),
              IsOk());
  EXPECT_EQ(Heads(first_case), heads);
  // Other people and category under the same id.
  refer.mutable_participants(1)->set_participant_id("v-2");
  refer.set_offence_category(case_v1::VIOLENCE);
  EXPECT_THAT(p_.CaseCommand(&case_v1::CaseService::Stub::ReferCase, refer, manager_),
              StatusIs(absl::StatusCode::kAlreadyExists, HasSubstr("\"d1-refer\"")));
  EXPECT_EQ(Heads(first_case), heads);

  const std::string case_id = p_.ReadyCase("d1b");
  case_v1::RecordAcknowledgementRequest ack;
  ack.set_request_id("d1-ack");
  ack.set_case_id(case_id);
  ack.set_acknowledged(true);
  ASSERT_THAT(p_.CaseCommand(&case_v1::CaseService::Stub::RecordAcknowledgement, ack, ann_),
              IsOk());
  heads = Heads(case_id);
  ack.set_acknowledged(false);
  EXPECT_THAT(p_.CaseCommand(&case_v1::CaseService::Stub::RecordAcknowledgement, ack, ann_),
              StatusIs(absl::StatusCode::kAlreadyExists, HasSubstr("other content")));
  EXPECT_EQ(Heads(case_id), heads);
  auto view = p_.GetCase(case_id, manager_);
  ASSERT_THAT(view, IsOk());
  EXPECT_TRUE(view->acknowledged());
}

// D5: a page token that ListCases did not make is INVALID_ARGUMENT.
TEST_F(ContactGateDefectsTest, ListCasesRefusesPageTokensItDidNotMake) {
  p_.ReadyCase("d5a");
  p_.ReadyCase("d5b");
  case_v1::ListCasesRequest list;
  list.set_page_size(1);
  auto first = Call<case_v1::ListCasesResponse>(
      manager_, [&](grpc::ClientContext* c, case_v1::ListCasesResponse* out) {
        return p_.case_stub().ListCases(c, list, out);
      });
  ASSERT_THAT(first, IsOk());
  ASSERT_EQ(first->cases_size(), 1);
  ASSERT_FALSE(first->next_page_token().empty());
  for (const std::string bad : {std::string("garbage"), std::string("YzE"),
                                first->next_page_token() + "x"}) {
    list.set_page_token(bad);
    EXPECT_THAT(Call<case_v1::ListCasesResponse>(
                    manager_,
                    [&](grpc::ClientContext* c, case_v1::ListCasesResponse* out) {
                      return p_.case_stub().ListCases(c, list, out);
                    }),
                StatusIs(absl::StatusCode::kInvalidArgument, HasSubstr("page_token")))
        << bad;
  }
  list.set_page_token(first->next_page_token());
  auto second = Call<case_v1::ListCasesResponse>(
      manager_, [&](grpc::ClientContext* c, case_v1::ListCasesResponse* out) {
        return p_.case_stub().ListCases(c, list, out);
      });
  ASSERT_THAT(second, IsOk());
  ASSERT_EQ(second->cases_size(), 1);
  EXPECT_NE(second->cases(0).case_id(), first->cases(0).case_id());
}

}  // namespace
}  // namespace mend
