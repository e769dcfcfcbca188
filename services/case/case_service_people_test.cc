// mend.case.v1.CaseService over a real runtime and channel
// (case_service_test_fixture.h): personal data, redaction, erasure under the
// retention rule, and people linked across cases.
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

// --- People across cases ----------------------------------------------------

case_v1::LinkParticipantRequest Link(const std::string& request_id, const std::string& a,
                                     const std::string& pa, const std::string& b,
                                     const std::string& pb) {
  case_v1::LinkParticipantRequest r;
  r.set_request_id(request_id);
  r.set_case_id(a);
  r.set_participant_id(pa);
  r.set_other_case_id(b);
  r.set_other_participant_id(pb);
  r.set_reason("same-dob-and-name");
  return r;
}

TEST_F(CaseServiceTest, ALinkIsRecordedInBothCasesAndAnErasureCoversBoth) {
  const std::string a = AllocatedCase("la", kFacilitatorA);
  const std::string b = AllocatedCase("lb", kFacilitatorB);
  const case_v1::LinkParticipantRequest link = Link("link-1", a, "v-la", b, "v-lb");
  // Only a manager links people across cases.
  uint64_t before = Head();
  EXPECT_THAT(LinkParticipant(link, Token(Role::kFacilitator, kFacilitatorA)),
              StatusIs(absl::StatusCode::kPermissionDenied));
  EXPECT_EQ(Head(), before);
  absl::StatusOr<case_v1::CommandResult> linked = LinkParticipant(link, Manager());
  ASSERT_THAT(linked, IsOk());
  EXPECT_EQ(linked->case_id(), a);
  EXPECT_EQ(Head(), before + 2);  // one ParticipantLinked in each case's stream
  for (const std::string& id : {a, b}) {
    auto records = runtime_->store()->ReadStream(CaseStreamId(id), 1, 100);
    ASSERT_THAT(records, IsOk());
    eventlog::RecordView last;
    ASSERT_THAT(eventlog::DecodeRecord(records->back().bytes, &last), IsOk());
    EXPECT_EQ(last.event_type, "mend.case.v1.ParticipantLinked") << id;
  }
  // A retry is answered from the log; the same id for another link is not.
  before = Head();
  absl::StatusOr<case_v1::CommandResult> again = LinkParticipant(link, Manager());
  ASSERT_THAT(again, IsOk());
  EXPECT_EQ(again->position(), linked->position());
  EXPECT_THAT(LinkParticipant(Link("link-1", a, "su-la", b, "su-lb"), Manager()),
              StatusIs(absl::StatusCode::kAlreadyExists));
  EXPECT_THAT(LinkParticipant(Link("link-2", b, "v-lb", a, "v-la"), Manager()),
              StatusIs(absl::StatusCode::kAlreadyExists));
  EXPECT_EQ(Head(), before);

  // The erasure must be allowed in every case it touches: B is still open.
  ASSERT_THAT(Close(a, "close-la", Manager()), IsOk());
  before = Head();
  EXPECT_THAT(Erase(a, "v-la", "erase-la", Manager()),
              StatusIs(absl::StatusCode::kFailedPrecondition));
  EXPECT_EQ(Head(), before);
  ASSERT_THAT(Close(b, "close-lb", Manager()), IsOk());
  before = Head();
  ASSERT_THAT(Erase(a, "v-la", "erase-la-2", Manager()), IsOk());
  EXPECT_EQ(Head(), before + 2);  // a ParticipantErased in each case
  for (const auto& [id, person] :
       std::vector<std::pair<std::string, std::string>>{{a, "v-la"}, {b, "v-lb"}}) {
    absl::StatusOr<case_v1::CaseView> view = Get(id, Manager());
    ASSERT_THAT(view, IsOk());
    bool erased = false;
    for (const case_v1::ParticipantView& p : view->participants()) {
      if (p.participant_id() == person)
        erased = p.erased() && p.details().full_name().empty();
    }
    EXPECT_TRUE(erased) << id;
    absl::StatusOr<bool> has_key = runtime_->keys()->HasKey(PersonKeyId(id, person));
    ASSERT_THAT(has_key, IsOk());
    EXPECT_FALSE(*has_key) << id;
  }
  // The service users, linked to nobody, keep their keys.
  absl::StatusOr<bool> kept = runtime_->keys()->HasKey(PersonKeyId(a, "su-la"));
  ASSERT_THAT(kept, IsOk());
  EXPECT_TRUE(*kept);
  // A restart replays to the same erasures.
  Restart();
  absl::StatusOr<case_v1::CaseView> view = Get(b, Manager());
  ASSERT_THAT(view, IsOk());
  EXPECT_THAT(view->participants(),
              ::testing::Contains(::testing::AllOf(
                  ::testing::Property(&case_v1::ParticipantView::participant_id, "v-lb"),
                  ::testing::Property(&case_v1::ParticipantView::erased, true))));
}

TEST_F(CaseServiceTest, LinkingNamesBothCasesAndRefusesWhatDoesNotExist) {
  const std::string a = AllocatedCase("lc", kFacilitatorA);
  const std::string b = AllocatedCase("ld", kFacilitatorB);
  const uint64_t before = Head();
  EXPECT_THAT(
      LinkParticipant(Link("link-x", a, "v-lc", "no-such-case", "v-1"), Manager()),
      StatusIs(absl::StatusCode::kNotFound));
  EXPECT_THAT(LinkParticipant(Link("link-y", a, "v-lc", a, "su-lc"), Manager()),
              StatusIs(absl::StatusCode::kInvalidArgument));
  case_v1::LinkParticipantRequest stale = Link("link-z", a, "v-lc", b, "v-ld");
  stale.set_other_expected_version(1);
  EXPECT_THAT(LinkParticipant(stale, Manager()),
              StatusIs(absl::StatusCode::kAborted, HasSubstr("not the expected 1")));
  EXPECT_EQ(Head(), before);
}

}  // namespace
}  // namespace mend::casesvc::service_test
