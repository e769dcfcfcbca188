// The four services wired as DESIGN's subscription table has them, as real
// processes: the case service follows scheduling and conference and derives
// the stages after PREPARING from their logs, while they follow it (the cycle
// case ⇄ conference). The conference path moves the case to FOLLOW_UP and it
// closes as completed; a withdrawal after the booking cancels it and returns
// the case to INDIRECT_CONTACT, and the conference cannot start; a case
// service down while the others work catches up once, with no repeated
// effect; every read answers the same after all four restart, in the
// reverse order. Nothing sleeps: waits are on health and causal tokens.
#include <set>
#include <string>
#include <vector>

#include "absl/strings/str_cat.h"
#include "absl/time/clock.h"
#include "gmock/gmock.h"
#include "google/protobuf/util/message_differencer.h"
#include "gtest/gtest.h"
#include "tests/support/case_study.h"
#include "tests/support/process.h"
#include "tests/support/service_processes.h"
#include "tests/support/test_util.h"

namespace mend {
namespace {

namespace case_v1 = ::mend::case_::v1;
namespace common_v1 = ::mend::common::v1;
namespace consent_v1 = ::mend::consent::v1;
namespace scheduling_v1 = ::mend::scheduling::v1;
namespace conference_v1 = ::mend::conference::v1;
using ::google::protobuf::util::MessageDifferencer;
using ::mend::testing::CaseStudy;
using ::mend::testing::IsOk;
using ::mend::testing::LogEvent;
using ::mend::testing::RunTool;
using ::mend::testing::ServiceProcesses;
using ::mend::testing::StatusIs;
using ::mend::testing::ToolResult;
using ::testing::ElementsAre;
using ::testing::HasSubstr;

// Equal, or the differences.
::testing::AssertionResult Same(const google::protobuf::Message& a,
                                const google::protobuf::Message& b) {
  std::string diff;
  MessageDifferencer d;
  d.ReportDifferencesToString(&diff);
  if (d.Compare(a, b)) return ::testing::AssertionSuccess();
  return ::testing::AssertionFailure() << diff;
}

class CaseStagesTest : public ::testing::Test {
 protected:
  CaseStagesTest()
      : p_(MEND_CASE_SERVICE, MEND_CONSENT_SERVICE, MEND_SCHEDULING_SERVICE,
           MEND_CONFERENCE_SERVICE) {}

  void SetUp() override {
    p_.StartCase();
    p_.StartConsent();
    p_.StartScheduling();
    p_.StartConferenceService();
  }

  case_v1::Stage StageOf(const std::string& case_id) {
    absl::StatusOr<case_v1::CaseView> view = study_.Case(case_id);
    EXPECT_THAT(view, IsOk());
    return view.ok() ? view->stage() : case_v1::STAGE_UNSPECIFIED;
  }

  // Once scheduling has handled the case and consent logs as far as the
  // causal token: the token then takes scheduling's head, so that what it
  // did in cascade (cancellations) is waited for by the next read.
  void SchedulingCaughtUp(const std::string& case_id) {
    scheduling_v1::GetCaseScheduleRequest r;
    r.set_case_id(case_id);
    *r.mutable_causal_token() = study_.Without(true, false);
    ASSERT_THAT(testing::Call<scheduling_v1::GetCaseScheduleResponse>(
                    study_.Facilitator(),
                    [&](grpc::ClientContext* ctx, auto* out) {
                      return p_.scheduling_stub().GetCaseSchedule(ctx, r, out);
                    }),
                IsOk());
    study_.token().set_scheduling_position(p_.SchedulingHead());
  }

  // The case log's StageChanged events of `case_id`, as (to, derived).
  std::vector<std::pair<case_v1::Stage, bool>> Moves(const std::string& case_id) {
    std::vector<std::pair<case_v1::Stage, bool>> out;
    for (const case_v1::StageChanged& e :
         study_.Events<case_v1::StageChanged>(p_.case_channel(), "case-" + case_id)) {
      out.emplace_back(e.to(), e.derived());
    }
    return out;
  }

  ServiceProcesses p_;
  CaseStudy study_{p_};
};

TEST_F(CaseStagesTest, TheConferencePathTakesTheCaseToFollowUpAndItClosesCompleted) {
  const std::string case_id = study_.FaceToFaceCase("path");
  EXPECT_EQ(StageOf(case_id), case_v1::PREPARING);
  study_.ConsentToFaceToFace(case_id, "path");
  const CaseStudy::Booked booked = study_.BookConferenceFor(case_id, "path");
  ASSERT_FALSE(booked.conference.empty());
  EXPECT_EQ(StageOf(case_id), case_v1::CONFERENCE_SCHEDULED);

  // The move to CONFERENCE_SCHEDULED lapses nothing: the conference starts
  // on the assessment it was booked on.
  study_.Prepare(case_id, booked, "path");
  ASSERT_THAT(study_.Start(case_id, booked.conference, "path-start"), IsOk());
  study_.HoldAndFollowUp(case_id, booked.conference, "path");
  EXPECT_EQ(StageOf(case_id), case_v1::FOLLOW_UP);

  case_v1::CloseCaseRequest close;
  close.set_request_id("path-close");
  close.set_case_id(case_id);
  close.set_reason(case_v1::COMPLETED);
  *close.mutable_causal_token() = study_.token();
  absl::StatusOr<case_v1::CommandResult> closed =
      p_.CaseCommand(&case_v1::CaseService::Stub::CloseCase, close, study_.Manager());
  ASSERT_THAT(closed, IsOk());
  EXPECT_EQ(closed->stage(), case_v1::CLOSED);

  using Move = std::pair<case_v1::Stage, bool>;
  EXPECT_THAT(
      Moves(case_id),
      ElementsAre(Move{case_v1::REFERRED, false}, Move{case_v1::SCREENING, false},
                  Move{case_v1::ALLOCATED, false}, Move{case_v1::ASSESSING, false},
                  Move{case_v1::PREPARING, false},
                  Move{case_v1::CONFERENCE_SCHEDULED, true},
                  Move{case_v1::CONFERENCE_HELD, true}, Move{case_v1::FOLLOW_UP, true},
                  Move{case_v1::CLOSED, false}));
  // Each derived move follows the fact it derives from, in one write, caused
  // by the upstream event.
  const std::vector<case_v1::UpstreamFactRecorded> facts =
      study_.Events<case_v1::UpstreamFactRecorded>(p_.case_channel(), "case-" + case_id);
  ASSERT_EQ(facts.size(), 3u);
  EXPECT_EQ(facts[0].conference_booked(), booked.conference);
  EXPECT_EQ(facts[0].source(), consent_v1::SCHEDULING_LOG);
  EXPECT_EQ(facts[1].conference_held(), booked.conference);
  EXPECT_EQ(facts[1].source(), consent_v1::CONFERENCE_LOG);
  EXPECT_TRUE(facts[2].follow_up_completed());
}

TEST_F(CaseStagesTest, AWithdrawalAfterTheBookingCancelsItAndTheConferenceCannotStart) {
  const std::string case_id = study_.FaceToFaceCase("cascade");
  study_.ConsentToFaceToFace(case_id, "cascade");
  const CaseStudy::Booked booked = study_.BookConferenceFor(case_id, "cascade");
  ASSERT_FALSE(booked.conference.empty());
  study_.Prepare(case_id, booked, "cascade");
  EXPECT_EQ(StageOf(case_id), case_v1::CONFERENCE_SCHEDULED);

  const uint64_t withdrawn =
      study_.Withdraw(case_id, "v-1", consent_v1::FACE_TO_FACE, "cascade-withdraw");
  ASSERT_GT(withdrawn, 0u);
  // Scheduling cancels the booking (its own event, caused by the
  // withdrawal); the case learns of the cancellation from scheduling's log.
  SchedulingCaughtUp(case_id);
  std::vector<scheduling_v1::BookingCancelled> cancelled;
  for (const auto& e :
       study_.SchedulingEvents<scheduling_v1::BookingCancelled>(case_id)) {
    if (e.booking_id() == booked.conference) cancelled.push_back(e);
  }
  ASSERT_EQ(cancelled.size(), 1u);
  EXPECT_EQ(cancelled[0].cause(), scheduling_v1::CONSENT_WITHDRAWN);
  EXPECT_EQ(cancelled[0].source_position(), withdrawn);
  EXPECT_EQ(StageOf(case_id), case_v1::INDIRECT_CONTACT);

  auto started = study_.Start(case_id, booked.conference, "cascade-start");
  EXPECT_THAT(started, StatusIs(absl::StatusCode::kFailedPrecondition));
  // Asked now, the gate refuses, and says why.
  absl::StatusOr<consent_v1::ContactDecision> decision =
      p_.Decide(case_id, "cascade-decide", common_v1::FACE_TO_FACE_CONFERENCE);
  ASSERT_THAT(decision, IsOk());
  EXPECT_EQ(decision->decision().outcome(), consent_v1::REFUSED);
  EXPECT_THAT(decision->DebugString(), HasSubstr("WITHDRAWN"));

  // The audit shows the approvals, the refusal, and no contact on them.
  ToolResult audit =
      RunTool(MEND_AUDIT_BINARY,
              {"decisions", "--case=" + case_id, "--case_log=" + p_.CaseLogPath(),
               "--consent_log=" + p_.ConsentLogPath(),
               "--scheduling_log=" + p_.SchedulingLogPath(),
               "--conference_log=" + p_.ConferenceLogPath()},
              p_.dir().Sub("audit-decisions"));
  EXPECT_EQ(audit.exit_code, 0) << audit.out << audit.err;
  EXPECT_THAT(audit.out, HasSubstr(decision->decision().decision_id()));
  EXPECT_THAT(audit.out, HasSubstr("REFUSED"));
}

TEST_F(CaseStagesTest, ACaseServiceThatMissedManyUpstreamEventsCatchesUpOnce) {
  constexpr int kCases = 4;
  std::vector<std::string> cases;
  for (int i = 0; i < kCases; ++i) {
    const std::string prefix = absl::StrCat("catch-", i);
    cases.push_back(study_.FaceToFaceCase(prefix));
    study_.ConsentToFaceToFace(cases.back(), prefix);
  }
  // Scheduling has handled the case log this far before the case service
  // goes away (its bookings need the cases' participants).
  SchedulingCaughtUp(cases.back());
  p_.StopCase();
  // With the case service down, the others go on: every case's conference
  // booked (Ann's, three hours apart), every other one cancelled by a
  // withdrawal.
  for (int i = 0; i < kCases; ++i) {
    scheduling_v1::BookConferenceRequest c;
    c.set_request_id(absl::StrCat("catch-conference-", i));
    c.set_case_id(cases[i]);
    c.set_format(scheduling_v1::IN_PERSON);
    *c.mutable_start() = testing::LondonAt(absl::Now() + absl::Hours(1 + 3 * i));
    c.set_duration_minutes(120);
    c.set_venue("community-centre-2");
    c.add_participant_ids("su-1");
    c.add_participant_ids("v-1");
    c.add_facilitator_ids(ServiceProcesses::kAnn);
    ASSERT_THAT(study_.Book(&scheduling_v1::SchedulingService::Stub::BookConference, c,
                            study_.Facilitator()),
                IsOk());
    if (i % 2 == 1) {
      ASSERT_GT(study_.Withdraw(cases[i], "v-1", consent_v1::FACE_TO_FACE,
                                absl::StrCat("catch-withdraw-", i)),
                0u);
    }
  }
  SchedulingCaughtUp(cases.back());
  p_.StartCase();
  for (int i = 0; i < kCases; ++i) {
    EXPECT_EQ(StageOf(cases[i]),
              i % 2 == 1 ? case_v1::INDIRECT_CONTACT : case_v1::CONFERENCE_SCHEDULED)
        << "case " << i;
  }
  // Once each: one fact per upstream event, every event id once.
  const uint64_t head = p_.CaseHead();
  std::set<std::string> ids;
  std::set<uint64_t> positions;
  for (const LogEvent& e : study_.ReadLog(p_.case_channel())) {
    EXPECT_TRUE(ids.insert(e.envelope.event_id()).second) << e.envelope.event_id();
    if (e.envelope.event_type() != "mend.case.v1.UpstreamFactRecorded") continue;
    case_v1::UpstreamFactRecorded fact;
    ASSERT_TRUE(fact.ParseFromString(e.payload));
    EXPECT_TRUE(positions.insert(fact.position()).second) << fact.position();
  }
  EXPECT_EQ(positions.size(), static_cast<size_t>(kCases + kCases / 2));

  // Again from its checkpoint: nothing is repeated.
  p_.StopCase();
  p_.StartCase();
  EXPECT_EQ(StageOf(cases[0]), case_v1::CONFERENCE_SCHEDULED);
  EXPECT_EQ(p_.CaseHead(), head);
}

TEST_F(CaseStagesTest, AfterAllFourRestartInAnyOrderEveryReadAnswersAsBefore) {
  const std::string meet = study_.FaceToFaceCase("same");
  study_.ConsentToFaceToFace(meet, "same");
  const CaseStudy::Booked booked = study_.BookConferenceFor(meet, "same");
  ASSERT_FALSE(booked.conference.empty());
  study_.Prepare(meet, booked, "same");
  ASSERT_THAT(study_.Start(meet, booked.conference, "same-start"), IsOk());
  study_.HoldAndFollowUp(meet, booked.conference, "same");
  const std::string letter = p_.ReadyCase("same-letter");
  ASSERT_FALSE(study_.ApprovedLetter(letter).empty());

  struct Reads {
    std::vector<case_v1::CaseView> cases;
    std::vector<consent_v1::GetConsentsResponse> consents;
    std::vector<consent_v1::ListDecisionsResponse> decisions;
    std::vector<scheduling_v1::GetCaseScheduleResponse> schedules;
    std::vector<conference_v1::CaseContactView> contacts;
  };
  // Read as of every log's head, once the logs have settled: the case
  // service first handles the scheduling and conference heads (the stages
  // it derives are case-log events no command of this test returned a
  // position for), then consent the case head (it records what it observes
  // in its own log), then every read waits for the heads of the logs its
  // service follows.
  auto read_all = [&] {
    study_.token().set_scheduling_position(p_.SchedulingHead());
    study_.token().set_conference_position(p_.ConferenceHead());
    study_.Settle(meet);
    Reads r;
    for (const std::string& id : {meet, letter}) {
      absl::StatusOr<case_v1::CaseView> c = study_.Case(id);
      EXPECT_THAT(c, IsOk());
      r.cases.push_back(c.value_or(case_v1::CaseView()));
      consent_v1::GetConsentsRequest gc;
      gc.set_case_id(id);
      *gc.mutable_causal_token() = p_.ConsentToken();
      absl::StatusOr<consent_v1::GetConsentsResponse> consents =
          testing::Call<consent_v1::GetConsentsResponse>(
              study_.Auditor(), [&](grpc::ClientContext* ctx, auto* out) {
                return p_.consent_stub().GetConsents(ctx, gc, out);
              });
      EXPECT_THAT(consents, IsOk());
      r.consents.push_back(consents.value_or(consent_v1::GetConsentsResponse()));
      absl::StatusOr<consent_v1::ListDecisionsResponse> d = p_.ListDecisions(id);
      EXPECT_THAT(d, IsOk());
      r.decisions.push_back(d.value_or(consent_v1::ListDecisionsResponse()));
      scheduling_v1::GetCaseScheduleRequest gs;
      gs.set_case_id(id);
      *gs.mutable_causal_token() = study_.Without(true, false);
      absl::StatusOr<scheduling_v1::GetCaseScheduleResponse> schedule =
          testing::Call<scheduling_v1::GetCaseScheduleResponse>(
              study_.Facilitator(), [&](grpc::ClientContext* ctx, auto* out) {
                return p_.scheduling_stub().GetCaseSchedule(ctx, gs, out);
              });
      EXPECT_THAT(schedule, IsOk());
      r.schedules.push_back(schedule.value_or(scheduling_v1::GetCaseScheduleResponse()));
      absl::StatusOr<conference_v1::CaseContactView> contact =
          study_.Contact(id, study_.Facilitator());
      EXPECT_THAT(contact, IsOk());
      r.contacts.push_back(contact.value_or(conference_v1::CaseContactView()));
    }
    return r;
  };
  const Reads before = read_all();
  EXPECT_EQ(before.cases[0].stage(), case_v1::FOLLOW_UP);
  const uint64_t heads_before[] = {p_.CaseHead(), p_.ConsentHead(), p_.SchedulingHead(),
                                   p_.ConferenceHead()};

  p_.StopCase();
  p_.StopConsent();
  p_.StopScheduling();
  p_.StopConferenceService();
  // Downstream first: each follows an upstream that is not there yet.
  p_.StartConferenceService();
  p_.StartScheduling();
  p_.StartConsent();
  p_.StartCase();

  const Reads after = read_all();
  for (size_t i = 0; i < 2; ++i) {
    SCOPED_TRACE(i == 0 ? "the conference case" : "the letter case");
    EXPECT_TRUE(Same(after.cases[i], before.cases[i]));
    EXPECT_TRUE(Same(after.consents[i], before.consents[i]));
    EXPECT_TRUE(Same(after.decisions[i], before.decisions[i]));
    EXPECT_TRUE(Same(after.schedules[i], before.schedules[i]));
    EXPECT_TRUE(Same(after.contacts[i], before.contacts[i]));
  }
  const uint64_t heads_after[] = {p_.CaseHead(), p_.ConsentHead(), p_.SchedulingHead(),
                                  p_.ConferenceHead()};
  EXPECT_THAT(heads_after, ::testing::ElementsAreArray(heads_before));
}

}  // namespace
}  // namespace mend
