// The scheduling service as operators run it: the real mend-scheduling
// binary following real mend-case and mend-consent binaries over gRPC, and
// asking the real contact gate before every booking with a victim. Bookings
// approved and refused (the refusal found in the consent log), the
// withdrawal, pause, resume and closure cascades, double booking across
// cases (also when two cases race for one facilitator), restart and replay,
// SIGKILL during a cascade, bad input and roles. Nothing sleeps: the test
// waits on the health service and on causal tokens.
#include <grpcpp/grpcpp.h>

#include <map>
#include <set>
#include <string>
#include <thread>
#include <vector>

#include "absl/strings/str_cat.h"
#include "absl/time/clock.h"
#include "absl/time/time.h"
#include "gmock/gmock.h"
#include "google/protobuf/util/message_differencer.h"
#include "gtest/gtest.h"
#include "mend/scheduling/v1/events.pb.h"
#include "mend/scheduling/v1/scheduling_service.grpc.pb.h"
#include "tests/support/case_study.h"
#include "tests/support/grpc_client.h"
#include "tests/support/service_processes.h"
#include "tests/support/test_util.h"

namespace mend {
namespace {

namespace case_v1 = ::mend::case_::v1;
namespace common_v1 = ::mend::common::v1;
namespace consent_v1 = ::mend::consent::v1;
namespace scheduling_v1 = ::mend::scheduling::v1;
using ::google::protobuf::util::MessageDifferencer;
using ::mend::testing::Call;
using ::mend::testing::CaseStudy;
using ::mend::testing::IsOk;
using ::mend::testing::LogEvent;
using ::mend::testing::ServiceProcesses;
using ::mend::testing::StatusIs;
using ::testing::HasSubstr;

constexpr const char* kAnn = ServiceProcesses::kAnn;
constexpr char kLondon[] = "Europe/London";

// A date `days` from now, in London.
std::string DateIn(int days) {
  absl::TimeZone london;
  EXPECT_TRUE(absl::LoadTimeZone(kLondon, &london));
  return absl::FormatTime("%Y-%m-%d", absl::Now() + absl::Hours(24 * days), london);
}

scheduling_v1::LocalTime At(int days, const std::string& time) {
  scheduling_v1::LocalTime t;
  t.set_date(DateIn(days));
  t.set_time(time);
  t.set_time_zone(kLondon);
  return t;
}

class SchedulingProcessTest : public ::testing::Test {
 protected:
  SchedulingProcessTest()
      : p_(MEND_CASE_SERVICE, MEND_CONSENT_SERVICE, MEND_SCHEDULING_SERVICE) {}

  void SetUp() override {
    p_.StartCase();
    p_.StartConsent();
    p_.StartScheduling();
  }

  // ReadyCase, assessed again to allow a face-to-face conference too.
  std::string FaceToFaceCase(const std::string& prefix) {
    return study_.FaceToFaceCase(
        prefix, {common_v1::APPROACH_VICTIM, common_v1::LETTER_DELIVERY,
                 common_v1::VIDEO_MEETING, common_v1::FACE_TO_FACE_CONFERENCE});
  }

  // A case command by the manager (pause, resume, close, release).
  template <typename Request>
  void Manage(grpc::Status (case_v1::CaseService::Stub::*method)(grpc::ClientContext*,
                                                                 const Request&,
                                                                 case_v1::CommandResult*),
              Request request) {
    ASSERT_THAT(p_.CaseCommand(method, request, study_.Manager()), IsOk());
  }

  scheduling_v1::PlanProgrammeRequest Plan(const std::string& case_id,
                                           const std::string& request_id, int days,
                                           const std::string& facilitator = kAnn) {
    scheduling_v1::PlanProgrammeRequest r;
    r.set_request_id(request_id);
    r.set_case_id(case_id);
    r.set_facilitator_id(facilitator);
    *r.mutable_first_session() = At(days, "10:00");
    r.set_venue("probation-office-3");
    return r;
  }
  scheduling_v1::BookPreparationMeetingRequest Meeting(const std::string& case_id,
                                                       const std::string& request_id,
                                                       const std::string& participant,
                                                       int days) {
    scheduling_v1::BookPreparationMeetingRequest r;
    r.set_request_id(request_id);
    r.set_case_id(case_id);
    r.set_participant_id(participant);
    r.set_facilitator_id(kAnn);
    *r.mutable_start() = At(days, "14:00");
    r.set_duration_minutes(60);
    r.set_venue("victim-support-hub");
    return r;
  }
  scheduling_v1::BookConferenceRequest Conference(const std::string& case_id,
                                                  const std::string& request_id,
                                                  int days) {
    scheduling_v1::BookConferenceRequest r;
    r.set_request_id(request_id);
    r.set_case_id(case_id);
    r.set_format(scheduling_v1::IN_PERSON);
    *r.mutable_start() = At(days, "11:00");
    r.set_duration_minutes(120);
    r.set_venue("community-centre-2");
    r.add_participant_ids("su-1");
    r.add_participant_ids("v-1");
    r.add_facilitator_ids(kAnn);
    return r;
  }

  absl::StatusOr<scheduling_v1::GetCaseScheduleResponse> CaseSchedule(
      const std::string& case_id) {
    scheduling_v1::GetCaseScheduleRequest r;
    r.set_case_id(case_id);
    *r.mutable_causal_token() = study_.token();
    return Call<scheduling_v1::GetCaseScheduleResponse>(
        study_.Manager(),
        [&](grpc::ClientContext* c, scheduling_v1::GetCaseScheduleResponse* o) {
          return p_.scheduling_stub().GetCaseSchedule(c, r, o);
        });
  }
  absl::StatusOr<scheduling_v1::GetFacilitatorCalendarResponse> Calendar(
      const std::string& facilitator, const std::string& token_text) {
    scheduling_v1::GetFacilitatorCalendarRequest r;
    r.set_facilitator_id(facilitator);
    r.set_from_unix_micros(absl::ToUnixMicros(absl::Now()));
    r.set_to_unix_micros(absl::ToUnixMicros(absl::Now() + absl::Hours(24 * 365)));
    return Call<scheduling_v1::GetFacilitatorCalendarResponse>(
        token_text,
        [&](grpc::ClientContext* c, scheduling_v1::GetFacilitatorCalendarResponse* o) {
          return p_.scheduling_stub().GetFacilitatorCalendar(c, r, o);
        });
  }
  const scheduling_v1::Booking* Find(const scheduling_v1::GetCaseScheduleResponse& s,
                                     const std::string& booking_id) {
    for (const scheduling_v1::Booking& b : s.bookings()) {
      if (b.booking_id() == booking_id) return &b;
    }
    ADD_FAILURE() << "no booking " << booking_id;
    return nullptr;
  }

  ServiceProcesses p_;
  CaseStudy study_{p_};
};

TEST_F(SchedulingProcessTest, MeetingWithTheVictimIsBookedOnlyOnAnApproval) {
  const std::string case_id = p_.ReadyCase("meet");
  ASSERT_THAT(CaseSchedule(case_id), IsOk());  // the case's facts are in
  const uint64_t head = p_.SchedulingHead();

  // No consent yet: the gate refuses, the refusal is in the consent log and
  // nothing is booked.
  auto refused =
      study_.Book(&scheduling_v1::SchedulingService::Stub::BookPreparationMeeting,
                  Meeting(case_id, "meet-1", "v-1", 10), study_.Facilitator());
  ASSERT_THAT(refused, StatusIs(absl::StatusCode::kFailedPrecondition));
  EXPECT_THAT(refused.status().message(), HasSubstr("CONSENT_NOT_RECORDED"));
  EXPECT_THAT(refused.status().message(), HasSubstr("nothing was booked"));
  auto decisions = p_.ListDecisions(case_id);
  ASSERT_THAT(decisions, IsOk());
  ASSERT_EQ(decisions->decisions_size(), 1);
  const consent_v1::ContactDecisionMade& refusal = decisions->decisions(0).decision();
  EXPECT_EQ(refusal.outcome(), consent_v1::REFUSED);
  EXPECT_EQ(refusal.kind(), common_v1::APPROACH_VICTIM);
  EXPECT_EQ(refusal.facilitator_id(), kAnn);
  EXPECT_EQ(refusal.requested_by(), "scheduling");
  EXPECT_THAT(refused.status().message(), HasSubstr(refusal.decision_id()));
  EXPECT_EQ(p_.SchedulingHead(), head) << "a refusal books nothing";

  // With the victim's and the service user's consent to take part: booked,
  // and the booking names the approval and its consent-log position.
  study_.Answer(case_id, "v-1", consent_v1::PARTICIPATE, "meet-v-participate");
  study_.Answer(case_id, "su-1", consent_v1::PARTICIPATE, "meet-su-participate");
  auto booked =
      study_.Book(&scheduling_v1::SchedulingService::Stub::BookPreparationMeeting,
                  Meeting(case_id, "meet-2", "v-1", 10), study_.Facilitator());
  ASSERT_THAT(booked, IsOk());
  ASSERT_EQ(booked->booking_ids_size(), 1);
  const scheduling_v1::Approval& approval = booked->approval();
  EXPECT_EQ(approval.kind(), common_v1::APPROACH_VICTIM);
  EXPECT_EQ(approval.victim_id(), "v-1");
  decisions = p_.ListDecisions(case_id);
  ASSERT_THAT(decisions, IsOk());
  ASSERT_EQ(decisions->decisions_size(), 2);
  EXPECT_EQ(decisions->decisions(1).decision().decision_id(), approval.decision_id());
  EXPECT_EQ(decisions->decisions(1).decision().outcome(), consent_v1::APPROVED);
  EXPECT_EQ(decisions->decisions(1).position(), approval.consent_position());

  // The event records the decision and the upstream positions handled.
  auto events = study_.SchedulingEvents<scheduling_v1::PreparationMeetingBooked>(case_id);
  ASSERT_EQ(events.size(), 1u);
  EXPECT_EQ(events[0].approval().decision_id(), approval.decision_id());
  EXPECT_EQ(events[0].approval().consent_position(), approval.consent_position());
  EXPECT_GE(events[0].handled().case_position(), study_.token().case_position());
  EXPECT_GT(events[0].handled().consent_position(), 0u);

  // A retry is the same answer, with no new decision and no new booking.
  auto retried =
      study_.Book(&scheduling_v1::SchedulingService::Stub::BookPreparationMeeting,
                  Meeting(case_id, "meet-2", "v-1", 10), study_.Facilitator());
  ASSERT_THAT(retried, IsOk());
  EXPECT_TRUE(MessageDifferencer::Equals(*retried, *booked));
  EXPECT_EQ(p_.ListDecisions(case_id)->decisions_size(), 2);

  // The service user's meeting needs no decision.
  auto su = study_.Book(&scheduling_v1::SchedulingService::Stub::BookPreparationMeeting,
                        Meeting(case_id, "meet-3", "su-1", 12), study_.Facilitator());
  ASSERT_THAT(su, IsOk());
  EXPECT_FALSE(su->has_approval());
  EXPECT_EQ(p_.ListDecisions(case_id)->decisions_size(), 2);
}

TEST_F(SchedulingProcessTest,
       ConferenceRestsOnAFaceToFaceApprovalAndAWithdrawalCancelsIt) {
  const std::string case_id = FaceToFaceCase("conf");
  auto refused = study_.Book(&scheduling_v1::SchedulingService::Stub::BookConference,
                             Conference(case_id, "conf-1", 20), study_.Facilitator());
  ASSERT_THAT(refused, StatusIs(absl::StatusCode::kFailedPrecondition));
  EXPECT_THAT(refused.status().message(), HasSubstr("FACE_TO_FACE_CONFERENCE"));

  study_.ConsentToFaceToFace(case_id, "conf");
  auto booked = study_.Book(&scheduling_v1::SchedulingService::Stub::BookConference,
                            Conference(case_id, "conf-2", 20), study_.Facilitator());
  ASSERT_THAT(booked, IsOk());
  EXPECT_EQ(booked->approval().kind(), common_v1::FACE_TO_FACE_CONFERENCE);
  const std::string booking_id = booked->booking_ids(0);
  auto schedule = CaseSchedule(case_id);
  ASSERT_THAT(schedule, IsOk());
  const scheduling_v1::Booking* conference = Find(*schedule, booking_id);
  ASSERT_NE(conference, nullptr);
  EXPECT_EQ(conference->status(), scheduling_v1::SCHEDULED);
  // Staggered arrivals: the service user's side 30 minutes before (twice the
  // default gap), the victim's 15.
  EXPECT_EQ(conference->slot().start_unix_micros() -
                conference->service_user_arrival_unix_micros(),
            absl::ToInt64Microseconds(absl::Minutes(30)));
  EXPECT_EQ(
      conference->slot().start_unix_micros() - conference->victim_arrival_unix_micros(),
      absl::ToInt64Microseconds(absl::Minutes(15)));

  // A withdrawal of something else cancels nothing; the victim's withdrawal
  // of face-to-face contact cancels the conference at once, naming it.
  study_.Withdraw(case_id, "su-1", consent_v1::SHARE_INFORMATION, "conf-w-share");
  schedule = CaseSchedule(case_id);
  ASSERT_THAT(schedule, IsOk());
  EXPECT_EQ(Find(*schedule, booking_id)->status(), scheduling_v1::SCHEDULED);

  const uint64_t withdrawal =
      study_.Withdraw(case_id, "v-1", consent_v1::FACE_TO_FACE, "conf-w");
  schedule = CaseSchedule(case_id);  // waits for the withdrawal (causal token)
  ASSERT_THAT(schedule, IsOk());
  EXPECT_EQ(Find(*schedule, booking_id)->status(), scheduling_v1::CANCELLED);
  EXPECT_EQ(Find(*schedule, booking_id)->cancellation_cause(),
            scheduling_v1::CONSENT_WITHDRAWN);
  auto cancelled = study_.SchedulingEvents<scheduling_v1::BookingCancelled>(case_id);
  ASSERT_EQ(cancelled.size(), 1u);
  EXPECT_EQ(cancelled[0].booking_id(), booking_id);
  EXPECT_EQ(cancelled[0].source(), consent_v1::CONSENT_LOG);
  EXPECT_EQ(cancelled[0].source_position(), withdrawal);
  EXPECT_EQ(cancelled[0].handled().consent_position(), withdrawal);
  EXPECT_EQ(cancelled[0].cancelled_by(), "scheduling");

  // No new conference on the withdrawn consent.
  auto again = study_.Book(&scheduling_v1::SchedulingService::Stub::BookConference,
                           Conference(case_id, "conf-3", 21), study_.Facilitator());
  ASSERT_THAT(again, StatusIs(absl::StatusCode::kFailedPrecondition));
  EXPECT_THAT(again.status().message(), HasSubstr("CONSENT_WITHDRAWN"));
}

TEST_F(SchedulingProcessTest, PauseHoldsResumeDecidesAgainAndClosureCancels) {
  const std::string case_id = p_.ReadyCase("pause");
  study_.Answer(case_id, "v-1", consent_v1::PARTICIPATE, "pause-v");
  study_.Answer(case_id, "su-1", consent_v1::PARTICIPATE, "pause-su");
  auto programme = study_.Book(&scheduling_v1::SchedulingService::Stub::PlanProgramme,
                               Plan(case_id, "pause-plan", 7), study_.Facilitator());
  ASSERT_THAT(programme, IsOk());
  ASSERT_EQ(programme->booking_ids_size(), 12);
  auto meeting =
      study_.Book(&scheduling_v1::SchedulingService::Stub::BookPreparationMeeting,
                  Meeting(case_id, "pause-meet", "v-1", 9), study_.Facilitator());
  ASSERT_THAT(meeting, IsOk());
  const std::string meeting_id = meeting->booking_ids(0);
  const std::string first_decision = meeting->approval().decision_id();

  case_v1::PauseCaseRequest pause;
  pause.set_request_id("pause-pause");
  pause.set_case_id(case_id);
  pause.set_reason("victim-unwell");
  Manage(&case_v1::CaseService::Stub::PauseCase, pause);
  auto schedule = CaseSchedule(case_id);
  ASSERT_THAT(schedule, IsOk());
  EXPECT_TRUE(schedule->paused());
  for (const scheduling_v1::Booking& b : schedule->bookings()) {
    EXPECT_EQ(b.status(), scheduling_v1::HELD) << b.booking_id();
  }
  // Nothing new is booked while paused.
  auto while_paused =
      study_.Book(&scheduling_v1::SchedulingService::Stub::BookPreparationMeeting,
                  Meeting(case_id, "pause-meet-2", "su-1", 11), study_.Facilitator());
  EXPECT_THAT(while_paused, StatusIs(absl::StatusCode::kFailedPrecondition));

  case_v1::ResumeCaseRequest resume;
  resume.set_request_id("pause-resume");
  resume.set_case_id(case_id);
  Manage(&case_v1::CaseService::Stub::ResumeCase, resume);
  schedule = CaseSchedule(case_id);
  ASSERT_THAT(schedule, IsOk());
  EXPECT_FALSE(schedule->paused());
  // The sessions count again. The victim's meeting counts again only on a
  // decision taken at the resume — and under contact-gate/2 the pause lapsed
  // the risk assessment (it is reviewed at each stage), so the gate refuses
  // and the meeting is cancelled, naming the refusal.
  auto decisions = p_.ListDecisions(case_id);
  ASSERT_THAT(decisions, IsOk());
  ASSERT_EQ(decisions->decisions_size(), 2);
  const consent_v1::ContactDecisionMade& again = decisions->decisions(1).decision();
  EXPECT_NE(again.decision_id(), first_decision);
  EXPECT_EQ(again.outcome(), consent_v1::REFUSED);
  EXPECT_EQ(again.purpose(), "scheduling.resume");
  ASSERT_EQ(again.reasons_size(), 1);
  EXPECT_EQ(again.reasons(0).code(), consent_v1::RISK_ASSESSMENT_LAPSED);
  for (const scheduling_v1::Booking& b : schedule->bookings()) {
    if (b.booking_id() == meeting_id) {
      EXPECT_EQ(b.status(), scheduling_v1::CANCELLED);
      EXPECT_EQ(b.cancellation_cause(), scheduling_v1::REFUSED_ON_RESUME);
    } else {
      EXPECT_EQ(b.status(), scheduling_v1::SCHEDULED) << b.booking_id();
    }
  }
  auto refused = study_.SchedulingEvents<scheduling_v1::BookingCancelled>(case_id);
  ASSERT_EQ(refused.size(), 1u);
  EXPECT_EQ(refused[0].decision_id(), again.decision_id());
  EXPECT_EQ(study_.SchedulingEvents<scheduling_v1::BookingReleased>(case_id).size(), 12u);

  case_v1::CloseCaseRequest close;
  close.set_request_id("pause-close");
  close.set_case_id(case_id);
  close.set_reason(case_v1::WITHDRAWN_BY_SERVICE_USER);
  Manage(&case_v1::CaseService::Stub::CloseCase, close);
  schedule = CaseSchedule(case_id);
  ASSERT_THAT(schedule, IsOk());
  EXPECT_TRUE(schedule->closed());
  for (const scheduling_v1::Booking& b : schedule->bookings()) {
    EXPECT_EQ(b.status(), scheduling_v1::CANCELLED) << b.booking_id();
    if (b.booking_id() != meeting_id) {
      EXPECT_EQ(b.cancellation_cause(), scheduling_v1::CASE_CLOSED) << b.booking_id();
    }
  }
  auto calendar = Calendar(kAnn, study_.Facilitator());
  ASSERT_THAT(calendar, IsOk());
  EXPECT_EQ(calendar->bookings_size(), 0) << "cancelled bookings leave the calendar";
}

TEST_F(SchedulingProcessTest, ReleasedFacilitatorsBookingsAreCancelled) {
  const std::string case_id = p_.ReadyCase("release");
  auto programme = study_.Book(&scheduling_v1::SchedulingService::Stub::PlanProgramme,
                               Plan(case_id, "release-plan", 7), study_.Facilitator());
  ASSERT_THAT(programme, IsOk());
  case_v1::ReleaseFacilitatorRequest release;
  release.set_request_id("release-ann");
  release.set_case_id(case_id);
  release.set_facilitator_id(kAnn);
  Manage(&case_v1::CaseService::Stub::ReleaseFacilitator, release);
  auto schedule = CaseSchedule(case_id);
  ASSERT_THAT(schedule, IsOk());
  ASSERT_EQ(schedule->bookings_size(), 12);
  for (const scheduling_v1::Booking& b : schedule->bookings()) {
    EXPECT_EQ(b.cancellation_cause(), scheduling_v1::FACILITATOR_RELEASED);
  }
}

TEST_F(SchedulingProcessTest, AFacilitatorIsNeverDoubleBookedAcrossCases) {
  const std::string one = p_.ReadyCase("one");
  const std::string two = p_.ReadyCase("two");
  ASSERT_THAT(study_.Book(&scheduling_v1::SchedulingService::Stub::PlanProgramme,
                          Plan(one, "one-plan", 7), study_.Facilitator()),
              IsOk());
  ASSERT_THAT(CaseSchedule(two), IsOk());  // the case's facts are in
  const uint64_t head = p_.SchedulingHead();
  auto clash = study_.Book(&scheduling_v1::SchedulingService::Stub::PlanProgramme,
                           Plan(two, "two-plan", 7), study_.Facilitator());
  ASSERT_THAT(clash, StatusIs(absl::StatusCode::kFailedPrecondition));
  EXPECT_THAT(clash.status().message(), HasSubstr("12 clashes"));
  EXPECT_THAT(clash.status().message(), HasSubstr("session 1"));
  EXPECT_THAT(clash.status().message(), HasSubstr("session 12"));
  EXPECT_THAT(clash.status().message(), HasSubstr(one));
  EXPECT_EQ(p_.SchedulingHead(), head) << "a refused plan appends nothing";

  // Two cases racing for one facilitator's free week: exactly one wins.
  const std::string three = p_.ReadyCase("three");
  const std::string four = p_.ReadyCase("four");
  // Both followed before the race, so neither loses for want of facts.
  ASSERT_THAT(CaseSchedule(four), IsOk());
  absl::StatusOr<scheduling_v1::CommandResult> a, b;
  std::thread ta([&] {
    a = study_.Book(&scheduling_v1::SchedulingService::Stub::PlanProgramme,
                    Plan(three, "three-plan", 100), study_.Facilitator());
  });
  std::thread tb([&] {
    b = study_.Book(&scheduling_v1::SchedulingService::Stub::PlanProgramme,
                    Plan(four, "four-plan", 100), study_.Facilitator());
  });
  ta.join();
  tb.join();
  EXPECT_NE(a.ok(), b.ok()) << a.status() << " / " << b.status();
  const absl::Status& lost = a.ok() ? b.status() : a.status();
  EXPECT_EQ(lost.code(), absl::StatusCode::kFailedPrecondition) << lost;
  auto calendar = Calendar(kAnn, study_.Facilitator());
  ASSERT_THAT(calendar, IsOk());
  EXPECT_EQ(calendar->bookings_size(), 24);
}

TEST_F(SchedulingProcessTest, CalendarPagesThroughEveryBookingOnce) {
  const std::string one = p_.ReadyCase("page-1");
  const std::string two = p_.ReadyCase("page-2");
  ASSERT_THAT(study_.Book(&scheduling_v1::SchedulingService::Stub::PlanProgramme,
                          Plan(one, "page-1-plan", 7), study_.Facilitator()),
              IsOk());
  ASSERT_THAT(study_.Book(&scheduling_v1::SchedulingService::Stub::PlanProgramme,
                          Plan(two, "page-2-plan", 200), study_.Facilitator()),
              IsOk());
  scheduling_v1::GetFacilitatorCalendarRequest r;
  r.set_facilitator_id(kAnn);
  r.set_from_unix_micros(absl::ToUnixMicros(absl::Now()));
  r.set_to_unix_micros(absl::ToUnixMicros(absl::Now() + absl::Hours(24 * 365)));
  r.set_page_size(5);
  std::vector<std::string> seen;
  int64_t last_start = 0;
  int pages = 0;
  do {
    auto page = Call<scheduling_v1::GetFacilitatorCalendarResponse>(
        study_.Facilitator(),
        [&](grpc::ClientContext* c, scheduling_v1::GetFacilitatorCalendarResponse* o) {
          return p_.scheduling_stub().GetFacilitatorCalendar(c, r, o);
        });
    ASSERT_THAT(page, IsOk());
    ASSERT_LE(page->bookings_size(), 5);
    for (const scheduling_v1::Booking& b : page->bookings()) {
      EXPECT_GE(b.slot().start_unix_micros(), last_start) << "in start order";
      last_start = b.slot().start_unix_micros();
      seen.push_back(b.booking_id());
    }
    r.set_page_token(page->next_page_token());
    ++pages;
  } while (!r.page_token().empty() && pages < 10);
  EXPECT_EQ(pages, 5);  // 24 bookings, 5 a page
  EXPECT_EQ(seen.size(), 24u);
  EXPECT_EQ(std::set<std::string>(seen.begin(), seen.end()).size(), 24u);
  r.set_page_token("not-a-token");
  EXPECT_THAT(
      Call<scheduling_v1::GetFacilitatorCalendarResponse>(
          study_.Facilitator(),
          [&](grpc::ClientContext* c, scheduling_v1::GetFacilitatorCalendarResponse* o) {
            return p_.scheduling_stub().GetFacilitatorCalendar(c, r, o);
          }),
      StatusIs(absl::StatusCode::kInvalidArgument));
}

TEST_F(SchedulingProcessTest, RestartReplaysTheSameCalendars) {
  const std::string case_id = FaceToFaceCase("replay");
  study_.ConsentToFaceToFace(case_id, "replay");
  ASSERT_THAT(study_.Book(&scheduling_v1::SchedulingService::Stub::PlanProgramme,
                          Plan(case_id, "replay-plan", 7), study_.Facilitator()),
              IsOk());
  auto conference =
      study_.Book(&scheduling_v1::SchedulingService::Stub::BookConference,
                  Conference(case_id, "replay-conf", 120), study_.Facilitator());
  ASSERT_THAT(conference, IsOk());
  scheduling_v1::CancelSessionRequest cancel;
  cancel.set_request_id("replay-cancel");
  cancel.set_case_id(case_id);
  cancel.set_booking_id(CaseSchedule(case_id)->bookings(2).booking_id());
  cancel.set_cause(scheduling_v1::VENUE_UNAVAILABLE);
  cancel.set_reason("flooded");
  ASSERT_THAT(study_.Book(&scheduling_v1::SchedulingService::Stub::CancelSession, cancel,
                          study_.Facilitator()),
              IsOk());

  // Read once the logs have settled: the case service derives
  // CONFERENCE_SCHEDULED from the booking, and this view says how far the
  // service has handled the case and consent logs.
  study_.Settle(case_id);
  auto schedule = CaseSchedule(case_id);
  auto calendar = Calendar(kAnn, study_.Manager());
  ASSERT_THAT(schedule, IsOk());
  ASSERT_THAT(calendar, IsOk());
  EXPECT_EQ(calendar->bookings_size(), 12);  // 11 sessions and the conference
  p_.StopScheduling();
  p_.StartScheduling();
  auto replayed = CaseSchedule(case_id);
  auto replayed_calendar = Calendar(kAnn, study_.Manager());
  ASSERT_THAT(replayed, IsOk());
  ASSERT_THAT(replayed_calendar, IsOk());
  // The followers' positions are the same after a restart too.
  EXPECT_TRUE(MessageDifferencer::Equals(*replayed, *schedule))
      << replayed->DebugString() << "\nvs\n"
      << schedule->DebugString();
  EXPECT_TRUE(MessageDifferencer::Equals(*replayed_calendar, *calendar));
}

TEST_F(SchedulingProcessTest, SigkillDuringCascadesLosesAndRepeatsNothing) {
  // Twelve cases with a programme; the seventh also has a meeting with the
  // victim, whose resume needs the gate.
  constexpr int kCases = 12;
  constexpr int kGated = 6;
  std::vector<std::string> cases;
  for (int i = 0; i < kCases; ++i) {
    const std::string prefix = absl::StrCat("kill-", i);
    const std::string case_id = p_.ReadyCase(prefix);
    auto plan = Plan(case_id, prefix + "-plan", 7 + i * 90);
    ASSERT_THAT(study_.Book(&scheduling_v1::SchedulingService::Stub::PlanProgramme, plan,
                            study_.Facilitator()),
                IsOk());
    if (i == kGated) {
      study_.Answer(case_id, "v-1", consent_v1::PARTICIPATE, prefix + "-v");
      study_.Answer(case_id, "su-1", consent_v1::PARTICIPATE, prefix + "-su");
      ASSERT_THAT(
          study_.Book(&scheduling_v1::SchedulingService::Stub::BookPreparationMeeting,
                      Meeting(case_id, prefix + "-meet", "v-1", 7 + i * 90 + 2),
                      study_.Facilitator()),
          IsOk());
    }
    cases.push_back(case_id);
  }
  // Every case paused, resumed and closed while the service is down, and the
  // gate down too: when the service catches up, the cascades before the
  // seventh resume are written and it stops there (it never skips an event),
  // retrying. It is killed in that state, and again straight after its next
  // start, with the gate back.
  p_.StopScheduling();
  p_.StopConsent();
  uint64_t gated_pause = 0, gated_resume = 0;
  for (int i = 0; i < kCases; ++i) {
    case_v1::PauseCaseRequest pause;
    pause.set_request_id(absl::StrCat("kill-pause-", i));
    pause.set_case_id(cases[i]);
    pause.set_reason("review");
    auto paused =
        p_.CaseCommand(&case_v1::CaseService::Stub::PauseCase, pause, study_.Manager());
    ASSERT_THAT(paused, IsOk());
    case_v1::ResumeCaseRequest resume;
    resume.set_request_id(absl::StrCat("kill-resume-", i));
    resume.set_case_id(cases[i]);
    auto resumed =
        p_.CaseCommand(&case_v1::CaseService::Stub::ResumeCase, resume, study_.Manager());
    ASSERT_THAT(resumed, IsOk());
    if (i == kGated) {
      gated_pause = paused->position();
      gated_resume = resumed->position();
    }
    case_v1::CloseCaseRequest close;
    close.set_request_id(absl::StrCat("kill-close-", i));
    close.set_case_id(cases[i]);
    close.set_reason(case_v1::NO_CONTACT_POSSIBLE);
    Manage(&case_v1::CaseService::Stub::CloseCase, close);
  }
  p_.StartScheduling();
  auto has_fact = [&](uint64_t case_position) {
    for (const LogEvent& e : study_.ReadLog(p_.scheduling_channel())) {
      if (e.envelope.event_id() == absl::StrCat("case@", case_position, "/0"))
        return true;
    }
    return false;
  };
  const absl::Time deadline = absl::Now() + absl::Seconds(30);
  while (!has_fact(gated_pause) && absl::Now() < deadline) {
  }
  ASSERT_TRUE(has_fact(gated_pause))
      << "the catch-up did not reach the seventh pause: " << p_.SchedulingOutput();
  EXPECT_FALSE(has_fact(gated_resume)) << "a resume was handled without the gate";
  p_.KillScheduling();
  p_.StartConsent();
  p_.StartScheduling();
  p_.KillScheduling();
  p_.StartScheduling();

  for (int i = 0; i < kCases; ++i) {
    auto schedule = CaseSchedule(cases[i]);  // waits for the whole case log
    ASSERT_THAT(schedule, IsOk());
    EXPECT_TRUE(schedule->closed());
    ASSERT_EQ(schedule->bookings_size(), i == kGated ? 13 : 12);
    for (const scheduling_v1::Booking& b : schedule->bookings()) {
      EXPECT_EQ(b.status(), scheduling_v1::CANCELLED);
      EXPECT_EQ(b.cancellation_cause(), b.kind() == scheduling_v1::PREPARATION_MEETING
                                            ? scheduling_v1::REFUSED_ON_RESUME
                                            : scheduling_v1::CASE_CLOSED);
    }
  }
  // Each upstream event was handled once: one fact per case event, one hold
  // and one release per session per pause and resume, one cancellation per
  // booking, one decision at the resume however often it was asked.
  std::map<std::string, int> facts;
  std::map<std::string, int> cancellations;
  int holds = 0, releases = 0;
  for (const LogEvent& e : study_.ReadLog(p_.scheduling_channel())) {
    if (e.envelope.event_type() == "mend.scheduling.v1.UpstreamFactRecorded") {
      scheduling_v1::UpstreamFactRecorded f;
      ASSERT_TRUE(f.ParseFromString(e.payload));
      ++facts[absl::StrCat(f.source(), "@", f.position())];
    } else if (e.envelope.event_type() == "mend.scheduling.v1.BookingCancelled") {
      scheduling_v1::BookingCancelled c;
      ASSERT_TRUE(c.ParseFromString(e.payload));
      ++cancellations[c.booking_id()];
    } else if (e.envelope.event_type() == "mend.scheduling.v1.BookingsHeld") {
      ++holds;
    } else if (e.envelope.event_type() == "mend.scheduling.v1.BookingReleased") {
      ++releases;
    }
  }
  for (const auto& [fact, n] : facts) EXPECT_EQ(n, 1) << fact;
  EXPECT_TRUE(facts.contains(absl::StrCat(consent_v1::CASE_LOG, "@", gated_resume)));
  EXPECT_EQ(cancellations.size(), static_cast<size_t>(kCases * 12 + 1));
  for (const auto& [booking, n] : cancellations) EXPECT_EQ(n, 1) << booking;
  EXPECT_EQ(holds, kCases);
  EXPECT_EQ(releases, kCases * 12);
  auto decisions = p_.ListDecisions(cases[kGated]);
  ASSERT_THAT(decisions, IsOk());
  EXPECT_EQ(decisions->decisions_size(), 2) << "the booking's and the resume's";
}

TEST_F(SchedulingProcessTest, BadInputIsInvalidArgumentNamingTheField) {
  const std::string case_id = p_.ReadyCase("bad");
  ASSERT_THAT(CaseSchedule(case_id), IsOk());  // the case's facts are in
  const uint64_t head = p_.SchedulingHead();
  struct Row {
    std::string name;
    std::function<void(scheduling_v1::PlanProgrammeRequest&)> change;
    std::string field;
  };
  const std::vector<Row> rows = {
      {"unknown zone",
       [](auto& r) { r.mutable_first_session()->set_time_zone("Mars/Olympus"); },
       "first_session.time_zone"},
      {"no zone", [](auto& r) { r.mutable_first_session()->clear_time_zone(); },
       "first_session.time_zone"},
      {"time that does not exist",
       [](auto& r) {
         r.mutable_first_session()->set_date("2027-03-28");
         r.mutable_first_session()->set_time("01:30");
       },
       "first_session"},
      {"ambiguous time",
       [](auto& r) {
         r.mutable_first_session()->set_date("2027-10-31");
         r.mutable_first_session()->set_time("01:30");
       },
       "first_session"},
      {"not a date", [](auto& r) { r.mutable_first_session()->set_date("2027-02-30"); },
       "first_session.date"},
      {"not a time", [](auto& r) { r.mutable_first_session()->set_time("25:00"); },
       "first_session.time"},
      {"in the past", [](auto& r) { r.mutable_first_session()->set_date(DateIn(-7)); },
       "first_session"},
      {"cadence", [](auto& r) { r.set_cadence_weeks(9); }, "cadence_weeks"},
      {"venue as free text", [](auto& r) { r.set_venue("the big room, 2nd floor"); },
       "venue"},
      {"eleven modules",
       [](auto& r) {
         for (int i = 0; i < 11; ++i) r.add_modules(scheduling_v1::VICTIM_EMPATHY);
       },
       "modules"},
  };
  for (const Row& row : rows) {
    auto r = Plan(case_id, absl::StrCat("bad-", &row - rows.data()), 7);
    row.change(r);
    auto out = study_.Book(&scheduling_v1::SchedulingService::Stub::PlanProgramme, r,
                           study_.Facilitator());
    ASSERT_THAT(out, StatusIs(absl::StatusCode::kInvalidArgument)) << row.name;
    EXPECT_THAT(out.status().message(), HasSubstr(row.field + ":")) << row.name;
  }
  auto meeting = Meeting(case_id, "bad-meeting", "su-1", 10);
  meeting.set_duration_minutes(24 * 60);
  EXPECT_THAT(study_.Book(&scheduling_v1::SchedulingService::Stub::BookPreparationMeeting,
                          meeting, study_.Facilitator()),
              StatusIs(absl::StatusCode::kInvalidArgument));
  auto conference = Conference(case_id, "bad-conference", 20);
  conference.set_duration_minutes(5);
  auto short_conference =
      study_.Book(&scheduling_v1::SchedulingService::Stub::BookConference, conference,
                  study_.Facilitator());
  ASSERT_THAT(short_conference, StatusIs(absl::StatusCode::kInvalidArgument));
  EXPECT_THAT(short_conference.status().message(), HasSubstr("duration_minutes:"));
  scheduling_v1::GetFacilitatorCalendarRequest backwards;
  backwards.set_facilitator_id(kAnn);
  backwards.set_from_unix_micros(2000);
  backwards.set_to_unix_micros(1000);
  auto calendar = Call<scheduling_v1::GetFacilitatorCalendarResponse>(
      study_.Facilitator(),
      [&](grpc::ClientContext* c, scheduling_v1::GetFacilitatorCalendarResponse* o) {
        return p_.scheduling_stub().GetFacilitatorCalendar(c, backwards, o);
      });
  ASSERT_THAT(calendar, StatusIs(absl::StatusCode::kInvalidArgument));
  EXPECT_THAT(calendar.status().message(), HasSubstr("to_unix_micros:"));
  EXPECT_EQ(p_.SchedulingHead(), head) << "bad input appends nothing";
}

TEST_F(SchedulingProcessTest, RolesAsTheRuntimeDefinesThem) {
  const std::string case_id = p_.ReadyCase("roles");
  ASSERT_THAT(CaseSchedule(case_id), IsOk());  // the case's facts are in
  const uint64_t head = p_.SchedulingHead();
  auto plan = Plan(case_id, "roles-plan", 7);
  EXPECT_THAT(
      study_.Book(&scheduling_v1::SchedulingService::Stub::PlanProgramme, plan, ""),
      StatusIs(absl::StatusCode::kUnauthenticated));
  EXPECT_THAT(study_.Book(&scheduling_v1::SchedulingService::Stub::PlanProgramme, plan,
                          study_.Auditor()),
              StatusIs(absl::StatusCode::kPermissionDenied));
  EXPECT_THAT(study_.Book(&scheduling_v1::SchedulingService::Stub::PlanProgramme, plan,
                          p_.Token(Role::kFacilitator, "facilitator-bo")),
              StatusIs(absl::StatusCode::kPermissionDenied));
  EXPECT_EQ(p_.SchedulingHead(), head);
  // A manager plans for the allocated facilitator; a facilitator reads only
  // their own calendar; an auditor reads any.
  ASSERT_THAT(study_.Book(&scheduling_v1::SchedulingService::Stub::PlanProgramme, plan,
                          study_.Manager()),
              IsOk());
  EXPECT_THAT(Calendar(kAnn, p_.Token(Role::kFacilitator, "facilitator-bo")),
              StatusIs(absl::StatusCode::kPermissionDenied));
  auto own = Calendar(kAnn, study_.Facilitator());
  ASSERT_THAT(own, IsOk());
  EXPECT_EQ(own->bookings_size(), 12);
  EXPECT_THAT(Calendar(kAnn, study_.Auditor()), IsOk());
  scheduling_v1::GetCaseScheduleRequest read;
  read.set_case_id(case_id);
  EXPECT_THAT(Call<scheduling_v1::GetCaseScheduleResponse>(
                  p_.Token(Role::kFacilitator, "facilitator-bo"),
                  [&](grpc::ClientContext* c, scheduling_v1::GetCaseScheduleResponse* o) {
                    return p_.scheduling_stub().GetCaseSchedule(c, read, o);
                  }),
              StatusIs(absl::StatusCode::kPermissionDenied));
}

}  // namespace
}  // namespace mend
