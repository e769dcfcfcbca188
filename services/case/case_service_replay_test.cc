// mend.case.v1.CaseService over a real runtime and channel
// (case_service_test_fixture.h): retried requests, restarts that replay to
// the same answers, listing, and the mend-case binary itself.
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
}  // namespace mend::casesvc::service_test
