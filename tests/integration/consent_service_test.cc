// Integration tests of mend.consent.v1.ConsentService: a real case service
// (CaseServiceImpl on its own ServiceRuntime) and a real consent service
// following its log over gRPC, both on 127.0.0.1 with ephemeral ports and
// event logs in a temporary directory, called through the generated stubs
// with signed tokens. Every consent call passes the case position of the
// case command before it as its causal token, as callers must; restarts
// open a new runtime on the same data directory.
//
// Nothing sleeps to let something happen: causal tokens and joined threads
// order everything, and every call has a deadline.
#include "services/consent/consent_service.h"

#include <grpcpp/grpcpp.h>

#include <atomic>
#include <fstream>
#include <memory>
#include <set>
#include <string>
#include <thread>
#include <vector>

#include "absl/strings/str_cat.h"
#include "absl/synchronization/barrier.h"
#include "absl/time/clock.h"
#include "absl/time/time.h"
#include "common/eventlog/event_store.h"
#include "common/security/key_store.h"
#include "gmock/gmock.h"
#include "google/protobuf/util/message_differencer.h"
#include "gtest/gtest.h"
#include "mend/case/v1/case_service.grpc.pb.h"
#include "mend/consent/v1/consent_service.grpc.pb.h"
#include "services/case/case_service.h"
#include "services/consent/contact_rule.h"
#include "tests/support/grpc_client.h"
#include "tests/support/test_util.h"
#include "tests/support/tokens.h"

namespace mend::consentsvc {
namespace {

using ::google::protobuf::util::MessageDifferencer;
using ::mend::testing::Call;
using ::mend::testing::IsOk;
using ::mend::testing::KeyPair;
using ::mend::testing::StatusIs;
using ::mend::testing::TempDir;
using ::testing::Contains;
using ::testing::HasSubstr;
using ::testing::IsEmpty;
using ::testing::SizeIs;

constexpr char kManager[] = "manager-mia";
constexpr char kAnn[] = "facilitator-ann";
constexpr char kBob[] = "facilitator-bob";
constexpr char kLeaflet[] = "RJ-leaflet-2026-03";

const std::vector<common_v1::ContactKind>& AllKinds() {
  static const auto* kinds = new std::vector<common_v1::ContactKind>{
      common_v1::APPROACH_VICTIM, common_v1::LETTER_DELIVERY, common_v1::SHUTTLE_MESSAGE,
      common_v1::VIDEO_MEETING, common_v1::FACE_TO_FACE_CONFERENCE};
  return *kinds;
}

const std::vector<consent_v1::ConsentScope>& AllScopes() {
  static const auto* scopes = new std::vector<consent_v1::ConsentScope>{
      consent_v1::PARTICIPATE, consent_v1::RECEIVE_LETTER, consent_v1::SHUTTLE,
      consent_v1::VIDEO,       consent_v1::FACE_TO_FACE,   consent_v1::SHARE_INFORMATION};
  return *scopes;
}

std::vector<consent_v1::ReasonCode> Codes(const consent_v1::ContactDecision& d) {
  std::vector<consent_v1::ReasonCode> codes;
  for (const auto& r : d.decision().reasons()) codes.push_back(r.code());
  return codes;
}

bool Consulted(const consent_v1::ContactDecision& d, consent_v1::FactSource source,
               uint64_t position) {
  for (const auto& f : d.decision().consulted()) {
    if (f.source() == source && f.position() == position) return true;
  }
  return false;
}

// One running service: its runtime and its implementation.
template <typename Impl>
struct Running {
  std::unique_ptr<ServiceRuntime> runtime;
  std::unique_ptr<Impl> service;
  // The runtime goes first: the service must outlive it.
  void Stop() {
    runtime.reset();
    service.reset();
  }
};

class ConsentServiceTest : public ::testing::Test {
 protected:
  void SetUp() override {
    key_ = ::mend::testing::NewSigningKey();
    Write(dir_.Sub("token.pub"), key_.public_pem);
    Write(dir_.Sub("service.token"), Token(Role::kService, "consent-service"));
    ASSERT_THAT(crypto::KeyStore::WriteNewMasterKey(dir_.Sub("master.key")), IsOk());
    StartCase();
    StartConsent();
  }

  void TearDown() override {
    consent_stub_.reset();
    consent_.Stop();
    case_stub_.reset();
    case_.Stop();
  }

  static void Write(const std::string& path, const std::string& text) {
    std::ofstream out(path);
    out << text;
  }

  ServiceRuntime::Options BaseOptions(const std::string& service) {
    ServiceRuntime::Options options;
    options.service = service;
    options.data_dir = dir_.Sub(service);
    options.token_public_key = dir_.Sub("token.pub");
    options.log_level = "error";
    options.shutdown_grace = absl::Seconds(5);
    return options;
  }

  void StartCase() {
    ServiceRuntime::Options options = BaseOptions("case");
    options.master_key = dir_.Sub("master.key");
    options.policies = {&casesvc::CasePolicy()};
    auto runtime = ServiceRuntime::Create(options);
    ASSERT_THAT(runtime, IsOk());
    case_.runtime = *std::move(runtime);
    case_.service = std::make_unique<casesvc::CaseServiceImpl>(case_.runtime.get());
    case_.runtime->RegisterService(case_.service.get());
    case_.runtime->SetReplay(
        [this](const ReplayedEvent& e) { return case_.service->Apply(e); });
    ASSERT_THAT(case_.runtime->Start(), IsOk());
    case_stub_ = case_v1::CaseService::NewStub(
        grpc::CreateChannel(absl::StrCat("127.0.0.1:", case_.runtime->port()),
                            grpc::InsecureChannelCredentials()));
  }

  void StartConsent() {
    ServiceRuntime::Options options = BaseOptions("consent");
    options.service_token_file = dir_.Sub("service.token");
    options.policies = {&ConsentPolicy()};
    auto runtime = ServiceRuntime::Create(options);
    ASSERT_THAT(runtime, IsOk());
    consent_.runtime = *std::move(runtime);
    consent_.service = std::make_unique<ConsentServiceImpl>(consent_.runtime.get());
    ConsentServiceImpl* service = consent_.service.get();
    consent_.runtime->RegisterService(service);
    consent_.runtime->SetReplay(
        [service](const ReplayedEvent& e) { return service->Apply(e); });
    absl::StatusOr<Follower*> follower = consent_.runtime->AddFollower(
        "case", absl::StrCat("127.0.0.1:", case_.runtime->port()),
        &ConsentServiceImpl::ObserveCase,
        [service](const eventlog::WriteRequest& r, const eventlog::WriteResult& w) {
          service->Observed(r, w);
        });
    ASSERT_THAT(follower, IsOk());
    service->SetCaseFollower(*follower);
    ASSERT_THAT(consent_.runtime->Start(), IsOk());
    consent_stub_ = consent_v1::ConsentService::NewStub(
        grpc::CreateChannel(absl::StrCat("127.0.0.1:", consent_.runtime->port()),
                            grpc::InsecureChannelCredentials()));
  }

  void RestartConsent() {
    consent_stub_.reset();
    consent_.Stop();
    StartConsent();
  }

  std::string Token(Role role, const std::string& subject) {
    return ::mend::testing::TokenFor(role, subject, &key_);
  }
  std::string Manager() { return Token(Role::kManager, kManager); }
  std::string Ann() { return Token(Role::kFacilitator, kAnn); }
  std::string Bob() { return Token(Role::kFacilitator, kBob); }
  std::string Auditor() { return Token(Role::kAuditor, "auditor-al"); }
  std::string ServiceToken() { return Token(Role::kService, "conference-service"); }

  // A case command; remembers its position for the next causal token.
  template <typename Request>
  void CaseCommand(grpc::Status (case_v1::CaseService::Stub::*method)(
                       grpc::ClientContext*, const Request&, case_v1::CommandResult*),
                   const Request& request, const std::string& token) {
    absl::StatusOr<case_v1::CommandResult> r = Call<case_v1::CommandResult>(
        token, [&](grpc::ClientContext* c, case_v1::CommandResult* out) {
          return (case_stub_.get()->*method)(c, request, out);
        });
    ASSERT_THAT(r, IsOk());
    case_id_ = r->case_id();
    // The command's last event: the causal token for everything it did.
    EXPECT_GE(r->last_position(), r->position());
    seen_case_ = std::max(seen_case_, r->last_position());
  }

  common_v1::CausalToken Seen() const {
    common_v1::CausalToken token;
    token.set_case_position(seen_case_);
    return token;
  }

  // A case ready for contact: referred (category), found suitable, `kAnn`
  // allocated, responsibility acknowledged, a risk assessment allowing
  // `kinds` (approved by a manager when the category is sensitive).
  void ReadyCase(const std::string& tag,
                 case_v1::OffenceCategory category = case_v1::ACQUISITIVE,
                 const std::vector<common_v1::ContactKind>& kinds = AllKinds()) {
    case_v1::ReferCaseRequest refer;
    refer.set_request_id("refer-" + tag);
    refer.set_source(case_v1::PROBATION_OFFICER);
    refer.set_referral_date("2026-03-02");
    refer.set_offence_category(category);
    refer.set_offence_summary("Burglary at the victim's home");
    auto* su = refer.add_participants();
    su->set_participant_id(su_ = "su-" + tag);
    su->set_role(case_v1::SERVICE_USER);
    su->mutable_details()->set_full_name("Samuel Offleigh");
    auto* victim = refer.add_participants();
    victim->set_participant_id(victim_ = "v-" + tag);
    victim->set_role(case_v1::VICTIM);
    victim->mutable_details()->set_full_name("Verity Quill");
    CaseCommand(&case_v1::CaseService::Stub::ReferCase, refer, Manager());

    case_v1::RecordSuitabilityRequest suitable;
    suitable.set_request_id("suit-" + tag);
    suitable.set_case_id(case_id_);
    suitable.set_suitable(true);
    CaseCommand(&case_v1::CaseService::Stub::RecordSuitability, suitable, Manager());

    case_v1::AllocateFacilitatorRequest allocate;
    allocate.set_request_id("alloc-" + tag);
    allocate.set_case_id(case_id_);
    allocate.set_facilitator_id(kAnn);
    CaseCommand(&case_v1::CaseService::Stub::AllocateFacilitator, allocate, Manager());

    case_v1::RecordAcknowledgementRequest ack;
    ack.set_request_id("ack-" + tag);
    ack.set_case_id(case_id_);
    ack.set_acknowledged(true);
    CaseCommand(&case_v1::CaseService::Stub::RecordAcknowledgement, ack, Ann());

    Assess("risk-" + tag, kinds);
  }

  void Assess(const std::string& id, const std::vector<common_v1::ContactKind>& kinds) {
    case_v1::RecordRiskAssessmentRequest risk;
    risk.set_request_id(id);
    risk.set_case_id(case_id_);
    risk.set_assessment_id(id);
    risk.set_level(case_v1::MEDIUM);
    for (auto k : kinds) risk.add_allowed_kinds(k);
    // Not due (contact-gate/2 reads it) and within two years (validation).
    risk.set_review_date(absl::FormatTime("%Y-%m-%d", absl::Now() + absl::Hours(24 * 90),
                                          absl::UTCTimeZone()));
    CaseCommand(&case_v1::CaseService::Stub::RecordRiskAssessment, risk, Ann());
  }

  void Approve(const std::string& assessment_id) {
    case_v1::ApproveRiskAssessmentRequest approve;
    approve.set_request_id("approve-" + assessment_id);
    approve.set_case_id(case_id_);
    approve.set_assessment_id(assessment_id);
    CaseCommand(&case_v1::CaseService::Stub::ApproveRiskAssessment, approve, Manager());
  }

  absl::StatusOr<consent_v1::CommandResult> RecordConsent(
      const consent_v1::RecordConsentRequest& r, const std::string& token) {
    return Call<consent_v1::CommandResult>(
        token, [&](grpc::ClientContext* c, consent_v1::CommandResult* out) {
          return consent_stub_->RecordConsent(c, r, out);
        });
  }

  consent_v1::RecordConsentRequest ConsentRequest(
      const std::string& request_id, const std::string& participant,
      consent_v1::ConsentScope scope,
      consent_v1::ConsentAnswer answer = consent_v1::GIVEN, bool asked = false) {
    consent_v1::RecordConsentRequest r;
    r.set_request_id(request_id);
    r.set_case_id(case_id_);
    r.set_participant_id(participant);
    r.set_scope(scope);
    r.set_answer(answer);
    r.mutable_informed()->set_leaflet_version(kLeaflet);
    r.mutable_informed()->set_facilitator_present(true);
    r.mutable_informed()->set_channel(consent_v1::IN_PERSON);
    r.set_requested_by_participant(asked);
    *r.mutable_causal_token() = Seen();
    return r;
  }

  // Records an answer (as the allocated facilitator) and returns its position.
  uint64_t Answer(const std::string& participant, consent_v1::ConsentScope scope,
                  consent_v1::ConsentAnswer answer = consent_v1::GIVEN,
                  bool asked = false) {
    const std::string id = absl::StrCat("consent-", ++counter_);
    absl::StatusOr<consent_v1::CommandResult> r =
        RecordConsent(ConsentRequest(id, participant, scope, answer, asked), Ann());
    EXPECT_THAT(r, IsOk());
    return r.ok() ? r->position() : 0;
  }

  // Both people consent to everything.
  void ConsentToEverything(bool victim_asked = false) {
    for (auto scope : AllScopes()) {
      Answer(victim_, scope, consent_v1::GIVEN, victim_asked);
      Answer(su_, scope);
    }
  }

  absl::StatusOr<consent_v1::CommandResult> Withdraw(const std::string& participant,
                                                     consent_v1::ConsentScope scope,
                                                     bool all = false,
                                                     const std::string& token = "") {
    consent_v1::WithdrawConsentRequest r;
    r.set_request_id(absl::StrCat("withdraw-", ++counter_));
    r.set_case_id(case_id_);
    r.set_participant_id(participant);
    if (all) {
      r.set_all_scopes(true);
    } else {
      r.set_scope(scope);
    }
    r.mutable_informed()->set_channel(consent_v1::PHONE);
    *r.mutable_causal_token() = Seen();
    return Call<consent_v1::CommandResult>(
        token.empty() ? Ann() : token,
        [&](grpc::ClientContext* c, consent_v1::CommandResult* out) {
          return consent_stub_->WithdrawConsent(c, r, out);
        });
  }

  consent_v1::DecideContactRequest DecideRequest(common_v1::ContactKind kind) {
    consent_v1::DecideContactRequest r;
    r.set_request_id(absl::StrCat("decide-", ++counter_));
    r.set_case_id(case_id_);
    r.set_kind(kind);
    r.set_purpose("deliver-apology-letter");
    *r.mutable_causal_token() = Seen();
    return r;
  }

  absl::StatusOr<consent_v1::ContactDecision> Decide(
      const consent_v1::DecideContactRequest& r, const std::string& token) {
    return Call<consent_v1::ContactDecision>(
        token, [&](grpc::ClientContext* c, consent_v1::ContactDecision* out) {
          return consent_stub_->DecideContact(c, r, out);
        });
  }

  // Ann asks about `kind`; the decision must be made (either way).
  consent_v1::ContactDecision Decide(common_v1::ContactKind kind) {
    absl::StatusOr<consent_v1::ContactDecision> d = Decide(DecideRequest(kind), Ann());
    EXPECT_THAT(d, IsOk());
    return d.ok() ? *d : consent_v1::ContactDecision();
  }

  absl::StatusOr<consent_v1::GetConsentsResponse> GetConsents(const std::string& token) {
    consent_v1::GetConsentsRequest r;
    r.set_case_id(case_id_);
    *r.mutable_causal_token() = Seen();
    return Call<consent_v1::GetConsentsResponse>(
        token, [&](grpc::ClientContext* c, consent_v1::GetConsentsResponse* out) {
          return consent_stub_->GetConsents(c, r, out);
        });
  }

  absl::StatusOr<consent_v1::ListDecisionsResponse> ListDecisions(
      const std::string& token, int32_t page_size = 0, const std::string& page = "") {
    consent_v1::ListDecisionsRequest r;
    r.set_case_id(case_id_);
    r.set_page_size(page_size);
    r.set_page_token(page);
    return Call<consent_v1::ListDecisionsResponse>(
        token, [&](grpc::ClientContext* c, consent_v1::ListDecisionsResponse* out) {
          return consent_stub_->ListDecisions(c, r, out);
        });
  }

  absl::StatusOr<consent_v1::ExplainDecisionResponse> Explain(
      const std::string& decision_id, const std::string& token) {
    consent_v1::ExplainDecisionRequest r;
    r.set_decision_id(decision_id);
    return Call<consent_v1::ExplainDecisionResponse>(
        token, [&](grpc::ClientContext* c, consent_v1::ExplainDecisionResponse* out) {
          return consent_stub_->ExplainDecision(c, r, out);
        });
  }

  uint64_t ConsentHead() { return consent_.runtime->store()->GetHead().position; }

  // The consent log's head once every case event seen so far is observed in
  // it (the follower writes one event per case event).
  uint64_t SettledConsentHead() {
    EXPECT_THAT(GetConsents(Manager()), IsOk());  // waits for the causal token
    return ConsentHead();
  }

  TempDir dir_;
  KeyPair key_;
  Running<casesvc::CaseServiceImpl> case_;
  Running<ConsentServiceImpl> consent_;
  std::unique_ptr<case_v1::CaseService::Stub> case_stub_;
  std::unique_ptr<consent_v1::ConsentService::Stub> consent_stub_;
  std::string case_id_;
  std::string su_;
  std::string victim_;
  uint64_t seen_case_ = 0;
  int counter_ = 0;
};

TEST(ConsentPolicyTest, CoversEveryMethodOfTheService) {
  absl::StatusOr<std::unique_ptr<MethodPolicy>> policy =
      MethodPolicy::Create(ConsentPolicy());
  ASSERT_THAT(policy, IsOk());
  const google::protobuf::ServiceDescriptor* service =
      consent_v1::RecordConsentRequest::descriptor()->file()->FindServiceByName(
          "ConsentService");
  ASSERT_NE(service, nullptr);
  EXPECT_THAT((*policy)->MethodsWithoutPolicy(*service), IsEmpty());
  EXPECT_EQ(ConsentPolicy().size(), static_cast<size_t>(service->method_count()));
}

TEST_F(ConsentServiceTest, ApprovesEveryKindWhenEveryConditionHolds) {
  ReadyCase("all-kinds");
  ConsentToEverything();
  for (common_v1::ContactKind kind : AllKinds()) {
    SCOPED_TRACE(common_v1::ContactKind_Name(kind));
    consent_v1::ContactDecision d = Decide(kind);
    EXPECT_EQ(d.decision().outcome(), consent_v1::APPROVED);
    EXPECT_THAT(d.decision().reasons(), IsEmpty());
    EXPECT_EQ(d.decision().policy_version(), kContactPolicyVersion);
    EXPECT_EQ(d.decision().victim_id(), victim_);
    EXPECT_EQ(d.decision().service_user_id(), su_);
    EXPECT_EQ(d.decision().facilitator_id(), kAnn);
    EXPECT_EQ(d.decision().requested_by(), kAnn);
    EXPECT_GE(d.decision().case_position(), seen_case_);
    // It cites the case facts and the consents it rested on.
    bool case_fact = false;
    bool consent_fact = false;
    for (const auto& f : d.decision().consulted()) {
      case_fact |= f.source() == consent_v1::CASE_LOG;
      consent_fact |= f.source() == consent_v1::CONSENT_LOG;
      EXPECT_LT(f.position(),
                f.source() == consent_v1::CONSENT_LOG ? d.position() : UINT64_MAX);
    }
    EXPECT_TRUE(case_fact);
    EXPECT_TRUE(consent_fact);
  }
  absl::StatusOr<consent_v1::ListDecisionsResponse> list = ListDecisions(Auditor());
  ASSERT_THAT(list, IsOk());
  EXPECT_THAT(list->decisions(), SizeIs(AllKinds().size()));
}

TEST_F(ConsentServiceTest, EachKindIsRefusedWithoutItsOwnScope) {
  ReadyCase("scopes");
  Answer(victim_, consent_v1::PARTICIPATE);
  Answer(su_, consent_v1::PARTICIPATE);
  // Only PARTICIPATE: the first approach is possible, nothing else.
  EXPECT_EQ(Decide(common_v1::APPROACH_VICTIM).decision().outcome(),
            consent_v1::APPROVED);
  const std::vector<std::pair<common_v1::ContactKind, consent_v1::ConsentScope>> needs = {
      {common_v1::LETTER_DELIVERY, consent_v1::RECEIVE_LETTER},
      {common_v1::SHUTTLE_MESSAGE, consent_v1::SHUTTLE},
      {common_v1::VIDEO_MEETING, consent_v1::VIDEO},
      {common_v1::FACE_TO_FACE_CONFERENCE, consent_v1::FACE_TO_FACE}};
  for (const auto& [kind, scope] : needs) {
    SCOPED_TRACE(common_v1::ContactKind_Name(kind));
    consent_v1::ContactDecision refused = Decide(kind);
    ASSERT_EQ(refused.decision().outcome(), consent_v1::REFUSED);
    ASSERT_THAT(refused.decision().reasons(), SizeIs(2));  // victim and service user
    for (const auto& r : refused.decision().reasons()) {
      EXPECT_EQ(r.code(), consent_v1::CONSENT_NOT_RECORDED);
      EXPECT_EQ(r.scope(), scope);
    }
    Answer(victim_, scope);
    Answer(su_, scope);
    EXPECT_EQ(Decide(kind).decision().outcome(), consent_v1::APPROVED);
  }
}

TEST_F(ConsentServiceTest, GetConsentsShowsEveryScopeWithItsHistory) {
  ReadyCase("history");
  // The case study's victim: declined, then accepted a letter, then asked to meet.
  const uint64_t declined =
      Answer(victim_, consent_v1::RECEIVE_LETTER, consent_v1::DECLINED);
  const uint64_t given = Answer(victim_, consent_v1::RECEIVE_LETTER, consent_v1::GIVEN);
  const uint64_t asked =
      Answer(victim_, consent_v1::FACE_TO_FACE, consent_v1::GIVEN, true);
  ASSERT_THAT(Withdraw(su_, consent_v1::SHARE_INFORMATION), IsOk());

  absl::StatusOr<consent_v1::GetConsentsResponse> consents = GetConsents(Ann());
  ASSERT_THAT(consents, IsOk());
  EXPECT_EQ(consents->case_id(), case_id_);
  ASSERT_THAT(consents->participants(), SizeIs(2));
  for (const auto& p : consents->participants()) {
    ASSERT_THAT(p.scopes(), SizeIs(AllScopes().size())) << p.participant_id();
    for (size_t i = 0; i < AllScopes().size(); ++i) {
      EXPECT_EQ(p.scopes(i).scope(), AllScopes()[i]);
    }
    if (p.participant_id() == victim_) {
      EXPECT_EQ(p.role(), case_v1::VICTIM);
      const auto& letter = p.scopes(1);
      ASSERT_THAT(letter.history(), SizeIs(2));
      EXPECT_EQ(letter.history(0).status(), consent_v1::CONSENT_STATUS_DECLINED);
      EXPECT_EQ(letter.history(0).position(), declined);
      EXPECT_EQ(letter.history(1).status(), consent_v1::CONSENT_STATUS_GIVEN);
      EXPECT_EQ(letter.history(1).position(), given);
      EXPECT_EQ(letter.history(1).informed().leaflet_version(), kLeaflet);
      EXPECT_EQ(letter.history(1).recorded_by(), kAnn);
      EXPECT_EQ(letter.status(), consent_v1::CONSENT_STATUS_GIVEN);
      const auto& f2f = p.scopes(4);
      EXPECT_EQ(f2f.status(), consent_v1::CONSENT_STATUS_GIVEN);
      EXPECT_TRUE(f2f.history(0).requested_by_participant());
      EXPECT_EQ(f2f.history(0).position(), asked);
      EXPECT_EQ(p.scopes(0).status(), consent_v1::CONSENT_STATUS_UNSPECIFIED);
      EXPECT_THAT(p.scopes(0).history(), IsEmpty());
    } else {
      EXPECT_EQ(p.role(), case_v1::SERVICE_USER);
      EXPECT_EQ(p.scopes(5).status(), consent_v1::CONSENT_STATUS_WITHDRAWN);
    }
  }
}

TEST_F(ConsentServiceTest, DeclineThenConsentThenApproval) {
  ReadyCase("case-study");
  Answer(victim_, consent_v1::PARTICIPATE);
  Answer(su_, consent_v1::RECEIVE_LETTER);
  Answer(victim_, consent_v1::RECEIVE_LETTER, consent_v1::DECLINED);
  consent_v1::ContactDecision refused = Decide(common_v1::LETTER_DELIVERY);
  EXPECT_EQ(refused.decision().outcome(), consent_v1::REFUSED);
  EXPECT_THAT(Codes(refused), ::testing::ElementsAre(consent_v1::CONSENT_DECLINED));
  Answer(victim_, consent_v1::RECEIVE_LETTER, consent_v1::GIVEN);
  EXPECT_EQ(Decide(common_v1::LETTER_DELIVERY).decision().outcome(),
            consent_v1::APPROVED);
}

TEST_F(ConsentServiceTest, WithdrawalThenDecisionIsRefusedCitingTheWithdrawal) {
  ReadyCase("withdraw");
  ConsentToEverything();
  ASSERT_EQ(Decide(common_v1::LETTER_DELIVERY).decision().outcome(),
            consent_v1::APPROVED);
  absl::StatusOr<consent_v1::CommandResult> withdrawn =
      Withdraw(victim_, consent_v1::RECEIVE_LETTER);
  ASSERT_THAT(withdrawn, IsOk());

  consent_v1::ContactDecision d = Decide(common_v1::LETTER_DELIVERY);
  EXPECT_EQ(d.decision().outcome(), consent_v1::REFUSED);
  ASSERT_THAT(d.decision().reasons(), SizeIs(1));
  EXPECT_EQ(d.decision().reasons(0).code(), consent_v1::CONSENT_WITHDRAWN);
  EXPECT_EQ(d.decision().reasons(0).participant_id(), victim_);
  EXPECT_EQ(d.decision().reasons(0).scope(), consent_v1::RECEIVE_LETTER);
  EXPECT_TRUE(Consulted(d, consent_v1::CONSENT_LOG, withdrawn->position()));
  // Other kinds are untouched by a one-scope withdrawal...
  EXPECT_EQ(Decide(common_v1::SHUTTLE_MESSAGE).decision().outcome(),
            consent_v1::APPROVED);
  // ...and a withdrawal of everything refuses every kind.
  ASSERT_THAT(Withdraw(victim_, consent_v1::CONSENT_SCOPE_UNSPECIFIED, /*all=*/true),
              IsOk());
  for (common_v1::ContactKind kind : AllKinds()) {
    SCOPED_TRACE(common_v1::ContactKind_Name(kind));
    EXPECT_THAT(Codes(Decide(kind)), Contains(consent_v1::CONSENT_WITHDRAWN));
  }
}

TEST_F(ConsentServiceTest, AFreshRiskAssessmentThatNoLongerAllowsAKindLapsesIt) {
  ReadyCase("reassess");
  ConsentToEverything();
  ASSERT_EQ(Decide(common_v1::VIDEO_MEETING).decision().outcome(), consent_v1::APPROVED);
  Assess("risk-reassess-2", {common_v1::APPROACH_VICTIM, common_v1::LETTER_DELIVERY});
  consent_v1::ContactDecision video = Decide(common_v1::VIDEO_MEETING);
  EXPECT_EQ(video.decision().outcome(), consent_v1::REFUSED);
  EXPECT_THAT(Codes(video),
              ::testing::ElementsAre(consent_v1::RISK_ASSESSMENT_DISALLOWS_KIND));
  EXPECT_EQ(Decide(common_v1::LETTER_DELIVERY).decision().outcome(),
            consent_v1::APPROVED);
}

TEST_F(ConsentServiceTest, SensitiveCaseNeedsApprovalAndTheVictimsOwnRequest) {
  ReadyCase("da", case_v1::DOMESTIC_ABUSE);
  ConsentToEverything(/*victim_asked=*/false);
  consent_v1::ContactDecision before = Decide(common_v1::LETTER_DELIVERY);
  EXPECT_THAT(Codes(before),
              ::testing::ElementsAre(consent_v1::RISK_ASSESSMENT_NOT_APPROVED));
  Approve("risk-da");
  EXPECT_EQ(Decide(common_v1::LETTER_DELIVERY).decision().outcome(),
            consent_v1::APPROVED);
  EXPECT_THAT(Codes(Decide(common_v1::FACE_TO_FACE_CONFERENCE)),
              ::testing::ElementsAre(consent_v1::NOT_ASKED_BY_VICTIM));
  Answer(victim_, consent_v1::FACE_TO_FACE, consent_v1::GIVEN, /*asked=*/true);
  EXPECT_EQ(Decide(common_v1::FACE_TO_FACE_CONFERENCE).decision().outcome(),
            consent_v1::APPROVED);
}

TEST_F(ConsentServiceTest,
       WithACoVictimTheCallerNamesTheVictimAndEachConsentsForThemselves) {
  ReadyCase("co-victim");
  ConsentToEverything();
  case_v1::AddParticipantRequest add;
  add.set_request_id("add-co-victim");
  add.set_case_id(case_id_);
  add.mutable_participant()->set_participant_id("cv-co-victim");
  add.mutable_participant()->set_role(case_v1::CO_VICTIM);
  add.mutable_participant()->mutable_details()->set_full_name("Cora Quill");
  CaseCommand(&case_v1::CaseService::Stub::AddParticipant, add, Ann());

  // Two victims now: the caller must say which.
  EXPECT_THAT(Decide(DecideRequest(common_v1::LETTER_DELIVERY), Ann()),
              StatusIs(absl::StatusCode::kFailedPrecondition, HasSubstr("cv-co-victim")));
  consent_v1::DecideContactRequest to_co_victim =
      DecideRequest(common_v1::LETTER_DELIVERY);
  to_co_victim.set_victim_id("cv-co-victim");
  absl::StatusOr<consent_v1::ContactDecision> refused = Decide(to_co_victim, Ann());
  ASSERT_THAT(refused, IsOk());
  EXPECT_EQ(refused->decision().victim_id(), "cv-co-victim");
  ASSERT_THAT(refused->decision().reasons(),
              SizeIs(2));  // PARTICIPATE and RECEIVE_LETTER
  for (const auto& r : refused->decision().reasons()) {
    EXPECT_EQ(r.code(), consent_v1::CONSENT_NOT_RECORDED);
    EXPECT_EQ(r.participant_id(), "cv-co-victim");
  }
  // The first victim's consents do not speak for the co-victim; theirs do.
  Answer("cv-co-victim", consent_v1::PARTICIPATE);
  Answer("cv-co-victim", consent_v1::RECEIVE_LETTER);
  to_co_victim.set_request_id("to-co-victim-again");
  *to_co_victim.mutable_causal_token() = Seen();
  absl::StatusOr<consent_v1::ContactDecision> approved = Decide(to_co_victim, Ann());
  ASSERT_THAT(approved, IsOk());
  EXPECT_EQ(approved->decision().outcome(), consent_v1::APPROVED);
  // The service user is not a victim to contact.
  consent_v1::DecideContactRequest to_su = DecideRequest(common_v1::LETTER_DELIVERY);
  to_su.set_victim_id(su_);
  EXPECT_THAT(Decide(to_su, Ann()), StatusIs(absl::StatusCode::kInvalidArgument));
}

TEST_F(ConsentServiceTest, PausedClosedAndUnallocatedAreRefusedAndRecorded) {
  ReadyCase("gates");
  ConsentToEverything();
  // Bob is not allocated: asking himself, he learns nothing and nothing is
  // recorded (I5); a service asking on his behalf gets a recorded refusal.
  const uint64_t head = SettledConsentHead();
  EXPECT_THAT(Decide(DecideRequest(common_v1::LETTER_DELIVERY), Bob()),
              StatusIs(absl::StatusCode::kPermissionDenied, HasSubstr("not allocated")));
  EXPECT_EQ(ConsentHead(), head);
  consent_v1::DecideContactRequest for_bob = DecideRequest(common_v1::LETTER_DELIVERY);
  for_bob.set_facilitator_id(kBob);
  absl::StatusOr<consent_v1::ContactDecision> bob = Decide(for_bob, ServiceToken());
  ASSERT_THAT(bob, IsOk());
  EXPECT_THAT(Codes(*bob), ::testing::ElementsAre(consent_v1::FACILITATOR_NOT_ALLOCATED));

  case_v1::PauseCaseRequest pause;
  pause.set_request_id("pause-gates");
  pause.set_case_id(case_id_);
  pause.set_reason("victim-in-hospital");
  CaseCommand(&case_v1::CaseService::Stub::PauseCase, pause, Ann());
  EXPECT_THAT(Codes(Decide(common_v1::LETTER_DELIVERY)),
              Contains(consent_v1::CASE_PAUSED));

  case_v1::CloseCaseRequest close;
  close.set_request_id("close-gates");
  close.set_case_id(case_id_);
  close.set_reason(case_v1::STOPPED_AS_UNSAFE);
  CaseCommand(&case_v1::CaseService::Stub::CloseCase, close, Manager());
  consent_v1::ContactDecision closed = Decide(common_v1::LETTER_DELIVERY);
  EXPECT_THAT(Codes(closed), Contains(consent_v1::CASE_CLOSED));
  // Closed is closed (I4): no more consents.
  EXPECT_THAT(
      RecordConsent(ConsentRequest("after-close", victim_, consent_v1::VIDEO), Ann()),
      StatusIs(absl::StatusCode::kFailedPrecondition, HasSubstr("CLOSED")));

  absl::StatusOr<consent_v1::ListDecisionsResponse> list = ListDecisions(Manager());
  ASSERT_THAT(list, IsOk());
  EXPECT_THAT(list->decisions(), SizeIs(3));
}

// The causal token: a decision asked right after a case event is never made
// on older facts, however quickly it follows.
TEST_F(ConsentServiceTest, CausalTokenMeansADecisionNeverRestsOnOlderFacts) {
  ReadyCase("causal");
  ConsentToEverything();
  for (int round = 0; round < 10; ++round) {
    SCOPED_TRACE(round);
    case_v1::PauseCaseRequest pause;
    pause.set_request_id(absl::StrCat("pause-", round));
    pause.set_case_id(case_id_);
    pause.set_reason("check-in");
    CaseCommand(&case_v1::CaseService::Stub::PauseCase, pause, Ann());
    consent_v1::ContactDecision paused = Decide(common_v1::LETTER_DELIVERY);
    EXPECT_THAT(Codes(paused), Contains(consent_v1::CASE_PAUSED));
    EXPECT_GE(paused.decision().case_position(), seen_case_);

    case_v1::ResumeCaseRequest resume;
    resume.set_request_id(absl::StrCat("resume-", round));
    resume.set_case_id(case_id_);
    CaseCommand(&case_v1::CaseService::Stub::ResumeCase, resume, Ann());
    consent_v1::ContactDecision resumed = Decide(common_v1::LETTER_DELIVERY);
    // Resumed, but the stage changed after the assessment: it has lapsed.
    EXPECT_THAT(Codes(resumed),
                ::testing::ElementsAre(consent_v1::RISK_ASSESSMENT_LAPSED));
  }
}

TEST_F(ConsentServiceTest, CausalTokenAheadOfTheCaseLogIsUnavailableAtTheDeadline) {
  ReadyCase("ahead");
  consent_v1::DecideContactRequest r = DecideRequest(common_v1::LETTER_DELIVERY);
  r.mutable_causal_token()->set_case_position(seen_case_ + 1000);
  const uint64_t head = SettledConsentHead();
  absl::StatusOr<consent_v1::ContactDecision> d = Call<consent_v1::ContactDecision>(
      Ann(),
      [&](grpc::ClientContext* c, consent_v1::ContactDecision* out) {
        return consent_stub_->DecideContact(c, r, out);
      },
      absl::Milliseconds(300));
  EXPECT_THAT(d, StatusIs(absl::StatusCode::kUnavailable));
  EXPECT_EQ(ConsentHead(), head);
}

// A case event this build cannot read stops the follower there (it never
// skips one): requests that must see past it fail closed, UNAVAILABLE.
TEST_F(ConsentServiceTest, AnUnknownCaseEventStopsTheGateClosed) {
  ReadyCase("unknown");
  ConsentToEverything();
  absl::StatusOr<eventlog::AppendResult> odd = case_.runtime->store()->Append(
      casesvc::CaseStreamId(case_id_), eventlog::ExpectedVersion::Any(),
      {eventlog::NewEvent{.event_id = "odd-1",
                          .event_type = "mend.case.v1.SomethingNewer",
                          .payload = "",
                          .actor_id = "case",
                          .actor_role = "service",
                          .correlation_id = "",
                          .causation_id = ""}});
  ASSERT_THAT(odd, IsOk());
  consent_v1::DecideContactRequest r = DecideRequest(common_v1::LETTER_DELIVERY);
  r.mutable_causal_token()->set_case_position(odd->first_position);
  const uint64_t head = SettledConsentHead();
  EXPECT_THAT(Call<consent_v1::ContactDecision>(
                  Ann(),
                  [&](grpc::ClientContext* c, consent_v1::ContactDecision* out) {
                    return consent_stub_->DecideContact(c, r, out);
                  },
                  absl::Milliseconds(500)),
              StatusIs(absl::StatusCode::kUnavailable));
  EXPECT_EQ(ConsentHead(), head);
  // What it knew before is still served.
  EXPECT_EQ(Decide(common_v1::LETTER_DELIVERY).decision().outcome(),
            consent_v1::APPROVED);
}

TEST_F(ConsentServiceTest, ExplainDecisionReRunsTheRuleOnTheFactsOfTheTime) {
  ReadyCase("explain");
  ConsentToEverything();
  consent_v1::ContactDecision approved = Decide(common_v1::LETTER_DELIVERY);
  ASSERT_EQ(approved.decision().outcome(), consent_v1::APPROVED);
  ASSERT_THAT(Withdraw(victim_, consent_v1::PARTICIPATE), IsOk());
  consent_v1::ContactDecision refused = Decide(common_v1::LETTER_DELIVERY);
  ASSERT_EQ(refused.decision().outcome(), consent_v1::REFUSED);

  for (const consent_v1::ContactDecision* d : {&approved, &refused}) {
    absl::StatusOr<consent_v1::ExplainDecisionResponse> e =
        Explain(d->decision().decision_id(), Auditor());
    ASSERT_THAT(e, IsOk());
    EXPECT_TRUE(MessageDifferencer::Equals(e->decision(), *d));
    EXPECT_TRUE(e->same_outcome());
    EXPECT_TRUE(e->same_reasons());
    EXPECT_TRUE(e->same_consulted());
    EXPECT_TRUE(MessageDifferencer::Equals(e->recomputed(), d->decision()));
    EXPECT_LT(e->facts_until_position(), d->position());
  }
  // (The approval, explained after the withdrawal, still approves: the
  // explanation uses the facts of its time.)
  EXPECT_THAT(Explain("no-such-decision", Auditor()),
              StatusIs(absl::StatusCode::kNotFound));
}

TEST_F(ConsentServiceTest, RestartReplaysTheSameConsentsAndDecisions) {
  ReadyCase("restart");
  ConsentToEverything();
  const consent_v1::DecideContactRequest first =
      DecideRequest(common_v1::LETTER_DELIVERY);
  absl::StatusOr<consent_v1::ContactDecision> d1 = Decide(first, Ann());
  ASSERT_THAT(d1, IsOk());
  ASSERT_THAT(Withdraw(victim_, consent_v1::VIDEO), IsOk());
  consent_v1::ContactDecision d2 = Decide(common_v1::VIDEO_MEETING);
  absl::StatusOr<consent_v1::GetConsentsResponse> consents = GetConsents(Manager());
  absl::StatusOr<consent_v1::ListDecisionsResponse> decisions = ListDecisions(Manager());
  ASSERT_THAT(consents, IsOk());
  ASSERT_THAT(decisions, IsOk());
  const uint64_t head = SettledConsentHead();

  RestartConsent();
  EXPECT_EQ(ConsentHead(), head);
  absl::StatusOr<consent_v1::GetConsentsResponse> consents2 = GetConsents(Manager());
  absl::StatusOr<consent_v1::ListDecisionsResponse> decisions2 = ListDecisions(Manager());
  ASSERT_THAT(consents2, IsOk());
  ASSERT_THAT(decisions2, IsOk());
  EXPECT_TRUE(MessageDifferencer::Equals(*consents, *consents2));
  EXPECT_TRUE(MessageDifferencer::Equals(*decisions, *decisions2));
  absl::StatusOr<consent_v1::ExplainDecisionResponse> e =
      Explain(d2.decision().decision_id(), Auditor());
  ASSERT_THAT(e, IsOk());
  EXPECT_TRUE(e->same_reasons());
  // A decision retried after the restart returns the original, appending nothing.
  absl::StatusOr<consent_v1::ContactDecision> retried = Decide(first, Ann());
  ASSERT_THAT(retried, IsOk());
  EXPECT_TRUE(MessageDifferencer::Equals(*retried, *d1));
  EXPECT_EQ(ConsentHead(), head);
}

TEST_F(ConsentServiceTest, RetriedRequestIdsReturnTheOriginalAndAppendNothing) {
  ReadyCase("retry");
  ConsentToEverything();
  consent_v1::RecordConsentRequest r =
      ConsentRequest("same-consent", victim_, consent_v1::SHUTTLE, consent_v1::DECLINED);
  absl::StatusOr<consent_v1::CommandResult> first = RecordConsent(r, Ann());
  ASSERT_THAT(first, IsOk());
  const uint64_t head = ConsentHead();
  absl::StatusOr<consent_v1::CommandResult> again = RecordConsent(r, Ann());
  ASSERT_THAT(again, IsOk());
  EXPECT_TRUE(MessageDifferencer::Equals(*first, *again));

  consent_v1::DecideContactRequest d = DecideRequest(common_v1::LETTER_DELIVERY);
  absl::StatusOr<consent_v1::ContactDecision> d1 = Decide(d, Ann());
  ASSERT_THAT(d1, IsOk());
  const uint64_t after_decision = ConsentHead();
  EXPECT_EQ(after_decision, head + 1);
  absl::StatusOr<consent_v1::ContactDecision> d2 = Decide(d, Ann());
  ASSERT_THAT(d2, IsOk());
  EXPECT_TRUE(MessageDifferencer::Equals(*d1, *d2));
  EXPECT_EQ(ConsentHead(), after_decision);
  // Counted once, as the decision it was (the retry is not a decision).
  EXPECT_THAT(consent_.runtime->metrics().Render(),
              HasSubstr(absl::StrCat(
                  "mend_contact_decisions_total{kind=\"LETTER_DELIVERY\","
                  "outcome=\"",
                  consent_v1::Outcome_Name(d1->decision().outcome()), "\"} 1\n")));
  // The same request id for another command is refused.
  consent_v1::DecideContactRequest reused = DecideRequest(common_v1::LETTER_DELIVERY);
  reused.set_request_id("same-consent");
  EXPECT_THAT(Decide(reused, Ann()), StatusIs(absl::StatusCode::kAlreadyExists));
  EXPECT_EQ(ConsentHead(), after_decision);
}

TEST_F(ConsentServiceTest, BadInputIsInvalidArgumentAndAppendsNothing) {
  ReadyCase("bad");
  const uint64_t head = SettledConsentHead();
  consent_v1::RecordConsentRequest no_scope =
      ConsentRequest("bad-1", victim_, consent_v1::CONSENT_SCOPE_UNSPECIFIED);
  EXPECT_THAT(RecordConsent(no_scope, Ann()),
              StatusIs(absl::StatusCode::kInvalidArgument, HasSubstr("scope")));
  consent_v1::RecordConsentRequest bad_enum =
      ConsentRequest("bad-2", victim_, consent_v1::VIDEO);
  bad_enum.set_answer(static_cast<consent_v1::ConsentAnswer>(42));
  EXPECT_THAT(RecordConsent(bad_enum, Ann()),
              StatusIs(absl::StatusCode::kInvalidArgument, HasSubstr("answer")));
  consent_v1::RecordConsentRequest no_leaflet =
      ConsentRequest("bad-3", victim_, consent_v1::VIDEO);
  no_leaflet.mutable_informed()->clear_leaflet_version();
  EXPECT_THAT(RecordConsent(no_leaflet, Ann()),
              StatusIs(absl::StatusCode::kInvalidArgument, HasSubstr("leaflet_version")));
  consent_v1::DecideContactRequest no_kind =
      DecideRequest(common_v1::CONTACT_KIND_UNSPECIFIED);
  EXPECT_THAT(Decide(no_kind, Ann()),
              StatusIs(absl::StatusCode::kInvalidArgument, HasSubstr("kind")));
  consent_v1::DecideContactRequest long_purpose =
      DecideRequest(common_v1::LETTER_DELIVERY);
  long_purpose.set_purpose(std::string(5000, 'x'));
  EXPECT_THAT(Decide(long_purpose, Ann()),
              StatusIs(absl::StatusCode::kInvalidArgument, HasSubstr("purpose")));
  consent_v1::DecideContactRequest unknown_victim =
      DecideRequest(common_v1::LETTER_DELIVERY);
  unknown_victim.set_victim_id("nobody");
  EXPECT_THAT(Decide(unknown_victim, Ann()), StatusIs(absl::StatusCode::kNotFound));
  consent_v1::DecideContactRequest su_as_victim =
      DecideRequest(common_v1::LETTER_DELIVERY);
  su_as_victim.set_victim_id(su_);
  EXPECT_THAT(Decide(su_as_victim, Ann()), StatusIs(absl::StatusCode::kInvalidArgument));
  consent_v1::DecideContactRequest unknown_case =
      DecideRequest(common_v1::LETTER_DELIVERY);
  unknown_case.set_case_id("no-such-case");
  // A facilitator hears what she would hear of a case not allocated to her
  // (I5); a service hears that the case is not known.
  EXPECT_THAT(Decide(unknown_case, Ann()),
              StatusIs(absl::StatusCode::kPermissionDenied,
                       absl::StrCat("facilitator \"", kAnn,
                                    "\" is not allocated to case \"no-such-case\"")));
  unknown_case.set_facilitator_id(kAnn);
  EXPECT_THAT(Decide(unknown_case, ServiceToken()),
              StatusIs(absl::StatusCode::kNotFound, HasSubstr("causal token")));
  EXPECT_THAT(RecordConsent(ConsentRequest("bad-4", "nobody", consent_v1::VIDEO), Ann()),
              StatusIs(absl::StatusCode::kNotFound));

  // The other methods too.
  consent_v1::WithdrawConsentRequest both;
  both.set_request_id("bad-5");
  both.set_case_id(case_id_);
  both.set_participant_id(victim_);
  both.set_scope(consent_v1::VIDEO);
  both.set_all_scopes(true);
  both.mutable_informed()->set_channel(consent_v1::PHONE);
  EXPECT_THAT((Call<consent_v1::CommandResult>(
                  Ann(),
                  [&](grpc::ClientContext* c, consent_v1::CommandResult* out) {
                    return consent_stub_->WithdrawConsent(c, both, out);
                  })),
              StatusIs(absl::StatusCode::kInvalidArgument, HasSubstr("all_scopes")));
  consent_v1::GetConsentsRequest no_case;
  EXPECT_THAT((Call<consent_v1::GetConsentsResponse>(
                  Ann(),
                  [&](grpc::ClientContext* c, consent_v1::GetConsentsResponse* out) {
                    return consent_stub_->GetConsents(c, no_case, out);
                  })),
              StatusIs(absl::StatusCode::kInvalidArgument, HasSubstr("case_id")));
  consent_v1::GetDecisionRequest no_decision;
  EXPECT_THAT((Call<consent_v1::ContactDecision>(
                  Auditor(),
                  [&](grpc::ClientContext* c, consent_v1::ContactDecision* out) {
                    return consent_stub_->GetDecision(c, no_decision, out);
                  })),
              StatusIs(absl::StatusCode::kInvalidArgument, HasSubstr("decision_id")));
  consent_v1::ExplainDecisionRequest explain_nothing;
  explain_nothing.set_decision_id(std::string(500, 'd'));
  EXPECT_THAT((Call<consent_v1::ExplainDecisionResponse>(
                  Auditor(),
                  [&](grpc::ClientContext* c, consent_v1::ExplainDecisionResponse* out) {
                    return consent_stub_->ExplainDecision(c, explain_nothing, out);
                  })),
              StatusIs(absl::StatusCode::kInvalidArgument, HasSubstr("decision_id")));
  EXPECT_THAT(ListDecisions(Auditor(), 500),
              StatusIs(absl::StatusCode::kInvalidArgument, HasSubstr("page_size")));
  EXPECT_EQ(ConsentHead(), head);
}

TEST_F(ConsentServiceTest, WrongRolesAreRefusedAsTheRuntimeDefines) {
  ReadyCase("roles");
  const uint64_t head = SettledConsentHead();
  const auto give = ConsentRequest("roles-1", victim_, consent_v1::PARTICIPATE);
  EXPECT_THAT(RecordConsent(give, ""), StatusIs(absl::StatusCode::kUnauthenticated));
  EXPECT_THAT(RecordConsent(give, Auditor()),
              StatusIs(absl::StatusCode::kPermissionDenied));
  EXPECT_THAT(RecordConsent(give, ServiceToken()),
              StatusIs(absl::StatusCode::kPermissionDenied));
  // A facilitator works only on cases allocated to them.
  EXPECT_THAT(RecordConsent(give, Bob()), StatusIs(absl::StatusCode::kPermissionDenied));
  EXPECT_THAT(GetConsents(Bob()), StatusIs(absl::StatusCode::kPermissionDenied));
  // Managers record consents but do not ask for contact; auditors only read.
  EXPECT_THAT(Decide(DecideRequest(common_v1::APPROACH_VICTIM), Manager()),
              StatusIs(absl::StatusCode::kPermissionDenied));
  EXPECT_THAT(Decide(DecideRequest(common_v1::APPROACH_VICTIM), Auditor()),
              StatusIs(absl::StatusCode::kPermissionDenied));
  // A facilitator asks only for themselves; a service must name the facilitator.
  consent_v1::DecideContactRequest for_bob = DecideRequest(common_v1::APPROACH_VICTIM);
  for_bob.set_facilitator_id(kBob);
  EXPECT_THAT(Decide(for_bob, Ann()), StatusIs(absl::StatusCode::kPermissionDenied));
  EXPECT_THAT(Decide(DecideRequest(common_v1::APPROACH_VICTIM), ServiceToken()),
              StatusIs(absl::StatusCode::kInvalidArgument, HasSubstr("facilitator_id")));
  EXPECT_EQ(ConsentHead(), head);

  consent_v1::DecideContactRequest on_behalf = DecideRequest(common_v1::APPROACH_VICTIM);
  on_behalf.set_facilitator_id(kAnn);
  absl::StatusOr<consent_v1::ContactDecision> d = Decide(on_behalf, ServiceToken());
  ASSERT_THAT(d, IsOk());
  EXPECT_EQ(d->decision().facilitator_id(), kAnn);
  EXPECT_EQ(d->decision().requested_by(), "conference-service");
  EXPECT_EQ(d->decision().requested_by_role(), "service");
  EXPECT_THAT(RecordConsent(give, Manager()), IsOk());
}

TEST_F(ConsentServiceTest, ConcurrentConsentsAndWithdrawalsOnOneParticipantAreAllKept) {
  ReadyCase("concurrent");
  constexpr int kEach = 8;
  std::vector<std::thread> threads;
  absl::Barrier* start = new absl::Barrier(2 * kEach);
  std::atomic<int> failures{0};
  std::vector<uint64_t> positions(2 * kEach);
  const common_v1::CausalToken token = Seen();
  for (int i = 0; i < kEach; ++i) {
    threads.emplace_back([&, i] {
      consent_v1::RecordConsentRequest r =
          ConsentRequest(absl::StrCat("c-", i), victim_, consent_v1::VIDEO);
      *r.mutable_causal_token() = token;
      if (start->Block()) delete start;
      absl::StatusOr<consent_v1::CommandResult> result = RecordConsent(r, Ann());
      if (!result.ok())
        ++failures;
      else
        positions[i] = result->position();
    });
    threads.emplace_back([&, i] {
      consent_v1::WithdrawConsentRequest r;
      r.set_request_id(absl::StrCat("w-", i));
      r.set_case_id(case_id_);
      r.set_participant_id(victim_);
      r.set_scope(consent_v1::VIDEO);
      r.mutable_informed()->set_channel(consent_v1::LETTER);
      *r.mutable_causal_token() = token;
      if (start->Block()) delete start;
      absl::StatusOr<consent_v1::CommandResult> result = Call<consent_v1::CommandResult>(
          Ann(), [&](grpc::ClientContext* c, consent_v1::CommandResult* out) {
            return consent_stub_->WithdrawConsent(c, r, out);
          });
      if (!result.ok())
        ++failures;
      else
        positions[kEach + i] = result->position();
    });
  }
  for (std::thread& t : threads) t.join();
  EXPECT_EQ(failures.load(), 0);

  absl::StatusOr<consent_v1::GetConsentsResponse> consents = GetConsents(Manager());
  ASSERT_THAT(consents, IsOk());
  std::set<uint64_t> in_history;
  int given = 0;
  int withdrawn = 0;
  for (const auto& p : consents->participants()) {
    if (p.participant_id() != victim_) continue;
    for (const auto& e : p.scopes(3).history()) {  // VIDEO
      in_history.insert(e.position());
      given += e.status() == consent_v1::CONSENT_STATUS_GIVEN;
      withdrawn += e.status() == consent_v1::CONSENT_STATUS_WITHDRAWN;
    }
  }
  EXPECT_EQ(given, kEach);
  EXPECT_EQ(withdrawn, kEach);
  EXPECT_EQ(in_history, std::set<uint64_t>(positions.begin(), positions.end()));
}

// I3 under concurrency: decisions race a withdrawal. Every approval is
// before the withdrawal in the log, every decision after it is refused
// citing it, and each re-runs to the same answer (I2).
TEST_F(ConsentServiceTest, NoApprovalFollowsAWithdrawalItRacedWith) {
  ReadyCase("race");
  ConsentToEverything();
  constexpr int kDeciders = 4;
  constexpr int kEach = 6;
  std::atomic<int> failures{0};
  absl::Barrier* start = new absl::Barrier(kDeciders + 1);
  std::vector<std::thread> threads;
  for (int t = 0; t < kDeciders; ++t) {
    threads.emplace_back([&, t] {
      if (start->Block()) delete start;
      for (int i = 0; i < kEach; ++i) {
        consent_v1::DecideContactRequest r = DecideRequest(common_v1::LETTER_DELIVERY);
        r.set_request_id(absl::StrCat("race-", t, "-", i));
        if (!Decide(r, Ann()).ok()) ++failures;
      }
    });
  }
  uint64_t withdrawal = 0;
  threads.emplace_back([&] {
    if (start->Block()) delete start;
    absl::StatusOr<consent_v1::CommandResult> w =
        Withdraw(victim_, consent_v1::RECEIVE_LETTER);
    if (w.ok())
      withdrawal = w->position();
    else
      ++failures;
  });
  for (std::thread& t : threads) t.join();
  ASSERT_EQ(failures.load(), 0);
  ASSERT_GT(withdrawal, 0u);

  absl::StatusOr<consent_v1::ListDecisionsResponse> list = ListDecisions(Auditor(), 200);
  ASSERT_THAT(list, IsOk());
  ASSERT_THAT(list->decisions(), SizeIs(kDeciders * kEach));
  for (const consent_v1::ContactDecision& d : list->decisions()) {
    SCOPED_TRACE(d.position());
    if (d.position() < withdrawal) {
      EXPECT_EQ(d.decision().outcome(), consent_v1::APPROVED);
    } else {
      EXPECT_THAT(Codes(d), ::testing::ElementsAre(consent_v1::CONSENT_WITHDRAWN));
      EXPECT_TRUE(Consulted(d, consent_v1::CONSENT_LOG, withdrawal));
    }
    absl::StatusOr<consent_v1::ExplainDecisionResponse> e =
        Explain(d.decision().decision_id(), Auditor());
    ASSERT_THAT(e, IsOk());
    EXPECT_TRUE(e->same_outcome() && e->same_reasons() && e->same_consulted());
  }
}

TEST_F(ConsentServiceTest, ReadsFollowTheCaseAndNeedToKnow) {
  ReadyCase("reads");
  ConsentToEverything();
  consent_v1::ContactDecision d = Decide(common_v1::APPROACH_VICTIM);
  consent_v1::GetDecisionRequest get;
  get.set_decision_id(d.decision().decision_id());
  for (const std::string& token : {Ann(), Manager(), Auditor(), ServiceToken()}) {
    absl::StatusOr<consent_v1::ContactDecision> got = Call<consent_v1::ContactDecision>(
        token, [&](grpc::ClientContext* c, consent_v1::ContactDecision* out) {
          return consent_stub_->GetDecision(c, get, out);
        });
    ASSERT_THAT(got, IsOk());
    EXPECT_TRUE(MessageDifferencer::Equals(*got, d));
  }
  EXPECT_THAT((Call<consent_v1::ContactDecision>(
                  Bob(),
                  [&](grpc::ClientContext* c, consent_v1::ContactDecision* out) {
                    return consent_stub_->GetDecision(c, get, out);
                  })),
              StatusIs(absl::StatusCode::kPermissionDenied));
  // Paging: one at a time, oldest first, to the end.
  Decide(common_v1::LETTER_DELIVERY);
  Decide(common_v1::SHUTTLE_MESSAGE);
  std::vector<std::string> ids;
  std::string page;
  do {
    absl::StatusOr<consent_v1::ListDecisionsResponse> list =
        ListDecisions(Auditor(), 1, page);
    ASSERT_THAT(list, IsOk());
    ASSERT_THAT(list->decisions(), SizeIs(1));
    ids.push_back(list->decisions(0).decision().decision_id());
    page = list->next_page_token();
  } while (!page.empty() && ids.size() < 10);
  ASSERT_THAT(ids, SizeIs(3));
  EXPECT_EQ(ids[0], d.decision().decision_id());
  EXPECT_THAT(ListDecisions(Auditor(), 1, "not-a-token"),
              StatusIs(absl::StatusCode::kInvalidArgument));
}

}  // namespace
}  // namespace mend::consentsvc
