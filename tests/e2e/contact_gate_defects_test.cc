// The defects an independent test of the case and consent services found
// (issue "Defects in the contact gate and the command path"), each driven
// over gRPC against the real mend-case and mend-consent processes, each
// refusal checked to leave both logs unchanged.
#include <grpcpp/grpcpp.h>
#include <sys/wait.h>

#include <string>

#include "absl/strings/str_cat.h"
#include "gmock/gmock.h"
#include "gtest/gtest.h"
#include "tests/fault/raw_log.h"
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
  ASSERT_THAT(
      p_.CaseCommand(&case_v1::CaseService::Stub::RecordAcknowledgement, ack, ann_),
      IsOk());
  heads = Heads(case_id);
  ack.set_acknowledged(false);
  EXPECT_THAT(
      p_.CaseCommand(&case_v1::CaseService::Stub::RecordAcknowledgement, ack, ann_),
      StatusIs(absl::StatusCode::kAlreadyExists, HasSubstr("other content")));
  EXPECT_EQ(Heads(case_id), heads);
  auto view = p_.GetCase(case_id, manager_);
  ASSERT_THAT(view, IsOk());
  EXPECT_TRUE(view->acknowledged());
}

// D1 on the consent service: withdrawing one scope and then "all scopes"
// under one id, a consent GIVEN then DECLINED, a decision for one kind then
// another — each second request is ALREADY_EXISTS and appends nothing.
TEST_F(ContactGateDefectsTest,
       ReusedRequestIdWithOtherContentIsRefusedOnTheConsentService) {
  const std::string case_id = p_.ReadyCase("d1c");
  p_.ConsentToLetters(case_id);

  consent_v1::WithdrawConsentRequest withdraw;
  withdraw.set_request_id("w");
  withdraw.set_case_id(case_id);
  withdraw.set_participant_id("v-1");
  withdraw.set_scope(consent_v1::VIDEO);
  withdraw.mutable_informed()->set_leaflet_version("RJ-leaflet-2026-03");
  withdraw.mutable_informed()->set_channel(consent_v1::PHONE);
  auto withdraw_as_ann = [&](const consent_v1::WithdrawConsentRequest& r) {
    return Call<consent_v1::CommandResult>(
        ann_, [&](grpc::ClientContext* c, consent_v1::CommandResult* out) {
          return p_.consent_stub().WithdrawConsent(c, r, out);
        });
  };
  auto first = withdraw_as_ann(withdraw);
  ASSERT_THAT(first, IsOk());
  auto heads = Heads(case_id);
  auto retry = withdraw_as_ann(withdraw);  // the same request: a retry
  ASSERT_THAT(retry, IsOk());
  EXPECT_EQ(retry->position(), first->position());
  withdraw.clear_scope();
  withdraw.set_all_scopes(true);
  EXPECT_THAT(withdraw_as_ann(withdraw),
              StatusIs(absl::StatusCode::kAlreadyExists, HasSubstr("\"w\"")));
  EXPECT_EQ(Heads(case_id), heads);
  // Nobody was told "withdraw all" succeeded, and the letter is still allowed.
  auto letter = p_.Decide(case_id, "d1c-letter", common_v1::LETTER_DELIVERY);
  ASSERT_THAT(letter, IsOk());
  EXPECT_EQ(letter->decision().outcome(), consent_v1::APPROVED);

  consent_v1::RecordConsentRequest consent;
  consent.set_request_id("d1c-consent");
  consent.set_case_id(case_id);
  consent.set_participant_id("v-1");
  consent.set_scope(consent_v1::SHUTTLE);
  consent.set_answer(consent_v1::GIVEN);
  consent.mutable_informed()->set_leaflet_version("RJ-leaflet-2026-03");
  consent.mutable_informed()->set_channel(consent_v1::PHONE);
  auto consent_as_ann = [&](const consent_v1::RecordConsentRequest& r) {
    return Call<consent_v1::CommandResult>(
        ann_, [&](grpc::ClientContext* c, consent_v1::CommandResult* out) {
          return p_.consent_stub().RecordConsent(c, r, out);
        });
  };
  ASSERT_THAT(consent_as_ann(consent), IsOk());
  heads = Heads(case_id);
  consent.set_answer(consent_v1::DECLINED);
  EXPECT_THAT(consent_as_ann(consent), StatusIs(absl::StatusCode::kAlreadyExists));
  EXPECT_EQ(Heads(case_id), heads);

  auto approach = p_.Decide(case_id, "d1c-decide", common_v1::APPROACH_VICTIM);
  ASSERT_THAT(approach, IsOk());
  heads = Heads(case_id);
  EXPECT_THAT(p_.Decide(case_id, "d1c-decide", common_v1::VIDEO_MEETING),
              StatusIs(absl::StatusCode::kAlreadyExists, HasSubstr("other content")));
  EXPECT_EQ(Heads(case_id), heads);
  // The retry of the first still gets the first decision back.
  auto again = p_.Decide(case_id, "d1c-decide", common_v1::APPROACH_VICTIM);
  ASSERT_THAT(again, IsOk());
  EXPECT_EQ(again->decision().decision_id(), approach->decision().decision_id());
}

// "At that moment": a decision without a causal token right after a
// facilitator's release is decided on the case log's head, never on stale
// facts.
TEST_F(ContactGateDefectsTest, ADecisionWithoutACausalTokenSeesTheCaseLogAsItIsNow) {
  const std::string case_id = p_.ReadyCase("fresh");
  p_.ConsentToLetters(case_id);
  for (int i = 0; i < 5; ++i) {
    const std::string n = absl::StrCat(i);
    case_v1::AllocateFacilitatorRequest allocate;
    allocate.set_request_id("fresh-allocate-" + n);
    allocate.set_case_id(case_id);
    allocate.set_facilitator_id(ServiceProcesses::kAnn);
    if (i > 0) {
      ASSERT_THAT(p_.CaseCommand(&case_v1::CaseService::Stub::AllocateFacilitator,
                                 allocate, manager_),
                  IsOk());
    }
    p_.causal_token().Clear();  // the caller brings no token
    auto allowed = p_.Decide(case_id, "fresh-allowed-" + n, common_v1::LETTER_DELIVERY);
    ASSERT_THAT(allowed, IsOk());
    EXPECT_EQ(allowed->decision().outcome(), consent_v1::APPROVED);
    case_v1::ReleaseFacilitatorRequest release;
    release.set_request_id("fresh-release-" + n);
    release.set_case_id(case_id);
    release.set_facilitator_id(ServiceProcesses::kAnn);
    ASSERT_THAT(p_.CaseCommand(&case_v1::CaseService::Stub::ReleaseFacilitator, release,
                               manager_),
                IsOk());
    p_.causal_token().Clear();
    auto refused = p_.Decide(case_id, "fresh-refused-" + n, common_v1::LETTER_DELIVERY);
    ASSERT_THAT(refused, IsOk());
    ASSERT_EQ(refused->decision().outcome(), consent_v1::REFUSED) << "try " << i;
    EXPECT_EQ(refused->decision().reasons(0).code(),
              consent_v1::FACILITATOR_NOT_ALLOCATED);
  }
}

// A facilitator not allocated to a case hears the same for a case that
// exists and one that does not, from both services.
TEST_F(ContactGateDefectsTest, AnUnallocatedFacilitatorCannotTellWhetherACaseExists) {
  const std::string case_id = p_.ReadyCase("same");
  p_.WaitConsentCaughtUp(case_id);
  const std::string bo = p_.Token(Role::kFacilitator, "facilitator-bo");
  for (const std::string& id : {case_id, std::string("no-such-case")}) {
    const std::string message = absl::StrCat(
        "facilitator \"facilitator-bo\" is not allocated to case \"", id, "\"");
    EXPECT_THAT(p_.GetCase(id, bo),
                StatusIs(absl::StatusCode::kPermissionDenied, message))
        << id;
    consent_v1::GetConsentsRequest r;
    r.set_case_id(id);
    EXPECT_THAT(Call<consent_v1::GetConsentsResponse>(
                    bo,
                    [&](grpc::ClientContext* c, consent_v1::GetConsentsResponse* out) {
                      return p_.consent_stub().GetConsents(c, r, out);
                    }),
                StatusIs(absl::StatusCode::kPermissionDenied, message))
        << id;
  }
}

// D6: a consent log changed on disk — one byte of a recorded consent — is
// never served: the service exits non-zero naming DATA_LOSS and the position.
TEST_F(ContactGateDefectsTest, AConsentLogChangedOnDiskIsNotServed) {
  const std::string case_id = p_.ReadyCase("d6");
  auto consent = p_.Consent(case_id, "v-1", consent_v1::PARTICIPATE);
  ASSERT_THAT(consent, IsOk());
  p_.StopConsent();
  ASSERT_THAT(eventlog::raw_log::FlipByte(p_.ConsentLogPath(), consent->position(),
                                          "RJ-leaflet-2026-03", 3),
              IsOk());
  std::string output;
  const std::optional<int> status = p_.ConsentExitStatus(&output);
  ASSERT_TRUE(status.has_value()) << "the consent service served a tampered log";
  EXPECT_TRUE(WIFEXITED(*status) && WEXITSTATUS(*status) != 0) << output;
  EXPECT_THAT(output, HasSubstr("DATA_LOSS"));
  EXPECT_THAT(output, HasSubstr(absl::StrCat("position ", consent->position())));
}

// D2: a case found unsuitable shows it in its stage, and no contact of any
// kind is approved: CASE_UNSUITABLE.
TEST_F(ContactGateDefectsTest, ACaseFoundUnsuitableRefusesEveryContact) {
  const std::string case_id = p_.ReadyCase("d2");
  p_.ConsentToLetters(case_id);
  ASSERT_EQ(
      p_.Decide(case_id, "d2-before", common_v1::LETTER_DELIVERY)->decision().outcome(),
      consent_v1::APPROVED);
  case_v1::RecordSuitabilityRequest unsuitable;
  unsuitable.set_request_id("d2-unsuitable");
  unsuitable.set_case_id(case_id);
  unsuitable.set_suitable(false);
  unsuitable.set_reason(case_v1::RISK_TOO_HIGH);
  ASSERT_THAT(p_.CaseCommand(&case_v1::CaseService::Stub::RecordSuitability, unsuitable,
                             manager_),
              IsOk());
  auto view = p_.GetCase(case_id, manager_);
  ASSERT_THAT(view, IsOk());
  EXPECT_EQ(view->stage(), case_v1::FOUND_UNSUITABLE);
  for (common_v1::ContactKind kind :
       {common_v1::APPROACH_VICTIM, common_v1::LETTER_DELIVERY,
        common_v1::SHUTTLE_MESSAGE, common_v1::VIDEO_MEETING,
        common_v1::FACE_TO_FACE_CONFERENCE}) {
    auto d = p_.Decide(case_id, absl::StrCat("d2-", kind), kind);
    ASSERT_THAT(d, IsOk());
    EXPECT_EQ(d->decision().outcome(), consent_v1::REFUSED) << kind;
    bool unsuitable_reason = false;
    for (const consent_v1::Reason& r : d->decision().reasons()) {
      unsuitable_reason |= r.code() == consent_v1::CASE_UNSUITABLE;
    }
    EXPECT_TRUE(unsuitable_reason) << kind;
    EXPECT_EQ(d->decision().policy_version(), "contact-gate/2");
  }
}

// D3: a participant id reused in another case is another person: erasing
// them there leaves the first case's victim whole, and the gate still
// decides on them as they are.
TEST_F(ContactGateDefectsTest, AnErasureInOneCaseNeverReachesANamesakeInAnother) {
  const std::string case_a = p_.ReadyCase("d3a");
  p_.ConsentToLetters(case_a);
  // A facilitator not allocated to A refers case B naming the same ids.
  const std::string bo = p_.Token(Role::kFacilitator, "facilitator-bo");
  auto referred =
      p_.CaseCommand(&case_v1::CaseService::Stub::ReferCase, p_.Referral("d3b"), bo);
  ASSERT_THAT(referred, IsOk());
  const std::string case_b = referred->case_id();
  case_v1::CloseCaseRequest close;
  close.set_request_id("d3b-close");
  close.set_case_id(case_b);
  close.set_reason(case_v1::NO_CONTACT_POSSIBLE);
  ASSERT_THAT(p_.CaseCommand(&case_v1::CaseService::Stub::CloseCase, close, manager_),
              IsOk());
  case_v1::EraseParticipantRequest erase;
  erase.set_request_id("d3b-erase");
  erase.set_case_id(case_b);
  erase.set_participant_id("v-1");
  erase.set_basis(case_v1::ERASURE_REQUEST);
  erase.set_reason("SAR-0042");
  ASSERT_THAT(
      p_.CaseCommand(&case_v1::CaseService::Stub::EraseParticipant, erase, manager_),
      IsOk());

  auto b = p_.GetCase(case_b, manager_);
  ASSERT_THAT(b, IsOk());
  auto a = p_.GetCase(case_a, manager_);
  ASSERT_THAT(a, IsOk());
  EXPECT_THAT(b->participants(),
              ::testing::Contains(::testing::AllOf(
                  ::testing::Property(&case_v1::ParticipantView::participant_id, "v-1"),
                  ::testing::Property(&case_v1::ParticipantView::erased, true))));
  bool seen = false;
  for (const case_v1::ParticipantView& v : a->participants()) {
    if (v.participant_id() != "v-1") continue;
    seen = true;
    EXPECT_FALSE(v.erased());
    EXPECT_EQ(v.details().full_name(), "Verity Quill");
  }
  EXPECT_TRUE(seen);
  auto d = p_.Decide(case_a, "d3a-letter", common_v1::LETTER_DELIVERY);
  ASSERT_THAT(d, IsOk());
  EXPECT_EQ(d->decision().outcome(), consent_v1::APPROVED);
}

// D4: a request that does not parse is INVALID_ARGUMENT with a message the
// caller can act on (not UNIMPLEMENTED), even without a token, and protobuf
// writes nothing of its own to stderr.
TEST_F(ContactGateDefectsTest, ARequestThatDoesNotParseIsInvalidArgument) {
  const uint64_t before = p_.CaseHead();
  // ReferCaseRequest.request_id (field 1) holding bytes that are not UTF-8.
  const std::string bad_utf8 = std::string("\x0a\x02\xc3\x28", 4);
  for (const std::string& bytes :
       {bad_utf8, std::string("\xff\xff\xff\xff\xff", 5), std::string("\x0a\x7f", 2)}) {
    const grpc::Status s =
        testing::CallRaw(p_.case_channel(), "/mend.case.v1.CaseService/ReferCase", bytes);
    EXPECT_EQ(s.error_code(), grpc::StatusCode::INVALID_ARGUMENT) << s.error_message();
    EXPECT_THAT(s.error_message(), HasSubstr("request does not parse"));
  }
  EXPECT_EQ(p_.CaseHead(), before);
  EXPECT_THAT(p_.CaseOutput(), ::testing::Not(HasSubstr("[libprotobuf")));
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
  for (const std::string& bad :
       {std::string("garbage"), std::string("YzE"), first->next_page_token() + "x"}) {
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
