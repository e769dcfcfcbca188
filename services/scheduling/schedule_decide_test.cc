// Domain tests of the scheduling commands (schedule_decide.h), on states
// folded through Evolve from the events the commands decide.
#include "services/scheduling/schedule_decide.h"

#include <cstdint>
#include <optional>
#include <string>
#include <tuple>
#include <utility>
#include <vector>

#include "absl/status/status.h"
#include "absl/strings/str_cat.h"
#include "absl/time/civil_time.h"
#include "absl/time/time.h"
#include "gmock/gmock.h"
#include "google/protobuf/util/message_differencer.h"
#include "gtest/gtest.h"
#include "services/scheduling/schedule_state.h"
#include "services/scheduling/schedule_time.h"
#include "tests/support/test_util.h"

namespace mend::schedulingsvc {
namespace {

using ::google::protobuf::util::MessageDifferencer;
using ::mend::testing::IsOk;
using ::mend::testing::StatusIs;
using ::testing::ElementsAre;
using ::testing::HasSubstr;
using ::testing::StartsWith;

MATCHER_P(EqualsProto, expected, "equals the expected message") {
  std::string diff;
  MessageDifferencer differencer;
  differencer.ReportDifferencesToString(&diff);
  if (differencer.Compare(expected, arg)) return true;
  *result_listener << diff;
  return false;
}

constexpr char kCase[] = "c-1";

absl::Time Utc(int y, int m, int d, int hh, int mm) {
  return absl::FromCivil(absl::CivilMinute(y, m, d, hh, mm), absl::UTCTimeZone());
}

absl::TimeZone London() {
  absl::TimeZone zone;
  EXPECT_TRUE(absl::LoadTimeZone("Europe/London", &zone));
  return zone;
}

// Before the programme: 1 March 2027.
const absl::Time kNow = Utc(2027, 3, 1, 9, 0);

CommandContext Manager(absl::Time now = kNow) { return {"m-1", Role::kManager, now}; }
CommandContext Facilitator(std::string id, absl::Time now = kNow) {
  return {std::move(id), Role::kFacilitator, now};
}

scheduling_v1::Attendee Person(std::string id, case_v1::ParticipantRole role,
                               std::string supports = "") {
  scheduling_v1::Attendee a;
  a.set_participant_id(std::move(id));
  a.set_role(role);
  a.set_supports_participant_id(std::move(supports));
  return a;
}

Handled Token(uint64_t case_position) {
  Handled h;
  h.set_case_position(case_position);
  h.set_consent_position(7);
  return h;
}

// A case's schedule stream, folded as it is appended.
class Stream {
 public:
  ScheduleState state;

  void Append(const google::protobuf::Message& m) {
    const ScheduleEvent e = Encode(m);
    ScheduleLogEvent log;
    log.position = ++position_;
    log.stream_version = state.version + 1;
    log.event_type = e.type;
    log.payload = e.payload;
    absl::Status s = Evolve(state, log);
    ASSERT_TRUE(s.ok()) << s;
  }

  scheduling_v1::UpstreamFactRecorded Fact(std::string event_type) {
    scheduling_v1::UpstreamFactRecorded f;
    f.set_case_id(kCase);
    f.set_source(consent_v1::CASE_LOG);
    f.set_position(++case_position_);
    f.set_event_type(std::move(event_type));
    return f;
  }
  void Referred(const std::vector<scheduling_v1::Attendee>& people) {
    scheduling_v1::UpstreamFactRecorded f = Fact("mend.case.v1.CaseReferred");
    for (const auto& p : people) *f.mutable_participants()->add_participants() = p;
    Append(f);
  }
  void Allocated(const std::string& facilitator) {
    scheduling_v1::UpstreamFactRecorded f = Fact("mend.case.v1.FacilitatorAllocated");
    f.set_facilitator_allocated(facilitator);
    Append(f);
  }
  void Paused() {
    scheduling_v1::UpstreamFactRecorded f = Fact("mend.case.v1.CasePaused");
    f.set_paused(true);
    Append(f);
  }
  void Resumed() {
    scheduling_v1::UpstreamFactRecorded f = Fact("mend.case.v1.CaseResumed");
    f.set_resumed(true);
    Append(f);
  }
  void Closed() {
    scheduling_v1::UpstreamFactRecorded f = Fact("mend.case.v1.CaseClosed");
    f.set_closed(case_v1::ClosureReason(1));
    Append(f);
  }
  void Erased(const std::string& participant) {
    scheduling_v1::UpstreamFactRecorded f = Fact("mend.case.v1.ParticipantErased");
    f.set_participant_erased(participant);
    Append(f);
  }
  void Withdrew(const std::string& participant, consent_v1::ConsentScope scope,
                uint64_t consent_position) {
    scheduling_v1::UpstreamFactRecorded f;
    f.set_case_id(kCase);
    f.set_source(consent_v1::CONSENT_LOG);
    f.set_position(consent_position);
    f.set_event_type("mend.consent.v1.ConsentWithdrawn");
    f.mutable_withdrawal()->set_participant_id(participant);
    f.mutable_withdrawal()->add_scopes(scope);
    Append(f);
  }
  void Held(const std::vector<std::string>& ids) {
    scheduling_v1::BookingsHeld h;
    h.set_case_id(kCase);
    for (const auto& id : ids) h.add_booking_ids(id);
    Append(h);
  }

 private:
  uint64_t position_ = 0;
  uint64_t case_position_ = 0;
};

scheduling_v1::Approval MakeApproval(common_v1::ContactKind kind, std::string victim,
                                     std::string facilitator,
                                     uint64_t consent_position = 40) {
  scheduling_v1::Approval a;
  a.set_decision_id("d-1");
  a.set_consent_position(consent_position);
  a.set_kind(kind);
  a.set_victim_id(std::move(victim));
  a.set_service_user_id("su-1");
  a.set_facilitator_id(std::move(facilitator));
  a.set_policy_version("contact-gate/2");
  a.set_decided_unix_micros(absl::ToUnixMicros(kNow));
  return a;
}

class ScheduleDecideTest : public ::testing::Test {
 protected:
  // su-1 with their supporter sup-2 and interpreter int-1; victim v-1 with
  // supporter sup-1; co-victim v-2; f-1 and f-2 allocated.
  void SetUp() override {
    s_.Referred({Person("su-1", case_v1::SERVICE_USER), Person("v-1", case_v1::VICTIM),
                 Person("v-2", case_v1::CO_VICTIM),
                 Person("sup-1", case_v1::SUPPORTER, "v-1"),
                 Person("sup-2", case_v1::SUPPORTER, "su-1"),
                 Person("int-1", case_v1::INTERPRETER, "su-1")});
    s_.Allocated("f-1");
    s_.Allocated("f-2");
  }

  const ScheduleState& state() const { return s_.state; }

  // Tuesdays at 10:00 London time from 16 March 2027 at hall-1 with f-1.
  PlanProgrammeCommand Plan(std::string first_date = "2027-03-16") {
    PlanProgrammeCommand c;
    c.case_id = kCase;
    c.programme_id = "prog-1";
    for (int i = 1; i <= kProgrammeSessions; ++i) {
      c.booking_ids.push_back(absl::StrCat("s-", i));
      c.modules.push_back(static_cast<scheduling_v1::Module>(i));
    }
    c.facilitator_id = "f-1";
    c.zone = London();
    c.starts = *WeeklyStarts("first_session", {first_date, "10:00"}, c.zone, 1,
                             kProgrammeSessions);
    c.cadence_weeks = 1;
    c.venue = "hall-1";
    c.handled = Token(3);
    return c;
  }
  void Planned() {
    absl::StatusOr<scheduling_v1::ProgrammePlanned> e =
        DecidePlanProgramme(state(), Plan(), {}, Manager());
    ASSERT_THAT(e, IsOk());
    s_.Append(*e);
  }

  BookPreparationMeetingCommand Meeting(std::string booking_id, std::string participant,
                                        std::string facilitator, absl::Time start,
                                        absl::Duration length, std::string venue) {
    BookPreparationMeetingCommand c;
    c.case_id = kCase;
    c.booking_id = std::move(booking_id);
    c.participant_id = participant;
    c.facilitator_id = facilitator;
    c.start = start;
    c.end = start + length;
    c.zone = London();
    c.venue = std::move(venue);
    const ParticipantFacts* p = state().FindParticipant(participant);
    if (p != nullptr && IsVictimRole(p->role)) {
      c.approval = MakeApproval(common_v1::APPROACH_VICTIM, participant, facilitator);
    }
    c.handled = Token(4);
    return c;
  }
  void Met(const BookPreparationMeetingCommand& c) {
    absl::StatusOr<scheduling_v1::PreparationMeetingBooked> e =
        DecideBookPreparationMeeting(state(), c, {}, Manager());
    ASSERT_THAT(e, IsOk());
    s_.Append(*e);
  }

  BookConferenceCommand Conference(absl::Time start = Utc(2027, 7, 6, 13, 0)) {
    BookConferenceCommand c;
    c.case_id = kCase;
    c.booking_id = "conf-1";
    c.format = scheduling_v1::IN_PERSON;
    c.start = start;
    c.end = start + absl::Hours(2);
    c.zone = London();
    c.venue = "hall-1";
    c.participant_ids = {"su-1", "v-1", "sup-1", "int-1"};
    c.facilitator_ids = {"f-1", "f-2"};
    c.arrival_gap = absl::Minutes(15);
    c.approval = MakeApproval(common_v1::FACE_TO_FACE_CONFERENCE, "v-1", "f-1");
    c.handled = Token(5);
    return c;
  }

  void Record(const std::string& booking, scheduling_v1::Attendance attendance) {
    RecordAttendanceCommand c{kCase, booking, attendance, "", Token(6)};
    const BookingFacts* b = state().FindBooking(booking);
    ASSERT_NE(b, nullptr);
    absl::StatusOr<AttendanceDecided> d =
        DecideRecordAttendance(state(), c, Manager(b->end));
    ASSERT_THAT(d, IsOk());
    s_.Append(d->recorded);
    if (d->completed.has_value()) s_.Append(*d->completed);
  }
  void Cancel(const std::string& booking) {
    absl::StatusOr<scheduling_v1::BookingCancelled> e = DecideCancelBooking(
        state(),
        {kCase, booking, scheduling_v1::PARTICIPANT_UNAVAILABLE, "ill", Token(6)},
        Manager());
    ASSERT_THAT(e, IsOk());
    s_.Append(*e);
  }
  BookMakeUpSessionCommand MakeUp(std::string booking_id, std::string makes_up,
                                  absl::Time start) {
    BookMakeUpSessionCommand c;
    c.case_id = kCase;
    c.booking_id = std::move(booking_id);
    c.makes_up_booking_id = std::move(makes_up);
    c.start = start;
    c.zone = London();
    c.handled = Token(7);
    return c;
  }

  Stream s_;
};

// ===========================================================================
// PlanProgramme.

TEST_F(ScheduleDecideTest, PlanProgrammeBooksTwelveThreeHourSessions) {
  absl::StatusOr<scheduling_v1::ProgrammePlanned> e =
      DecidePlanProgramme(state(), Plan(), {}, Manager());
  ASSERT_THAT(e, IsOk());

  scheduling_v1::ProgrammePlanned expected;
  expected.set_case_id(kCase);
  expected.set_programme_id("prog-1");
  expected.set_facilitator_id("f-1");
  expected.set_service_user_id("su-1");
  expected.set_time_zone("Europe/London");
  expected.set_cadence_weeks(1);
  expected.set_venue("hall-1");
  for (int i = 0; i < kProgrammeSessions; ++i) {
    const absl::CivilDay day = absl::CivilDay(2027, 3, 16) + 7 * i;
    // 10:00 London: GMT before 28 March, BST after.
    const absl::Time start = Utc(day.year(), day.month(), day.day(),
                                 day < absl::CivilDay(2027, 3, 28) ? 10 : 9, 0);
    scheduling_v1::ProgrammeSession* s = expected.add_sessions();
    s->set_booking_id(absl::StrCat("s-", i + 1));
    s->set_number(i + 1);
    s->set_module(static_cast<scheduling_v1::Module>(i + 1));
    s->mutable_slot()->set_start_unix_micros(absl::ToUnixMicros(start));
    s->mutable_slot()->set_end_unix_micros(absl::ToUnixMicros(start + absl::Hours(3)));
    s->mutable_slot()->set_time_zone("Europe/London");
    s->mutable_slot()->set_local_start(
        absl::StrCat(absl::FormatCivilTime(day), "T10:00"));
  }
  expected.set_planned_by("m-1");
  *expected.mutable_handled() = Token(3);
  EXPECT_THAT(*e, EqualsProto(expected));

  // Folded: each session books the service user with the facilitator.
  s_.Append(*e);
  const BookingFacts* s3 = state().FindBooking("s-3");
  ASSERT_NE(s3, nullptr);
  EXPECT_EQ(s3->start, Utc(2027, 3, 30, 9, 0));
  EXPECT_EQ(s3->end, Utc(2027, 3, 30, 12, 0));
  EXPECT_THAT(s3->facilitator_ids, ElementsAre("f-1"));
  ASSERT_EQ(s3->attendees.size(), 1u);
  EXPECT_THAT(s3->attendees[0], EqualsProto(Person("su-1", case_v1::SERVICE_USER)));
  EXPECT_EQ(s3->module, scheduling_v1::VICTIM_EMPATHY);
}

TEST_F(ScheduleDecideTest, PlanProgrammeFirstSessionMustBeAfterNow) {
  EXPECT_THAT(
      DecidePlanProgramme(state(), Plan(), {}, Manager(Utc(2027, 3, 16, 10, 0))),
      StatusIs(absl::StatusCode::kInvalidArgument,
               "first_session: session 1 starts at 2027-03-16T10:00:00Z, which is not "
               "after now (2027-03-16T10:00:00Z)"));
  EXPECT_THAT(
      DecidePlanProgramme(state(), Plan(), {}, Manager(Utc(2027, 4, 1, 0, 0))),
      StatusIs(absl::StatusCode::kInvalidArgument, StartsWith("first_session: ")));
  EXPECT_THAT(DecidePlanProgramme(state(), Plan(), {}, Manager(Utc(2027, 3, 16, 9, 59))),
              IsOk());
}

TEST_F(ScheduleDecideTest, OneProgrammePerCase) {
  Planned();
  PlanProgrammeCommand again = Plan("2027-09-07");
  again.programme_id = "prog-2";
  for (auto& id : again.booking_ids) id += "b";
  EXPECT_THAT(DecidePlanProgramme(state(), again, {}, Manager()),
              StatusIs(absl::StatusCode::kFailedPrecondition,
                       HasSubstr("has a programme already (\"prog-1\")")));
}

TEST_F(ScheduleDecideTest, PlanProgrammeNeedsAnAllocatedFacilitator) {
  PlanProgrammeCommand c = Plan();
  c.facilitator_id = "f-3";
  EXPECT_THAT(DecidePlanProgramme(state(), c, {}, Manager()),
              StatusIs(absl::StatusCode::kFailedPrecondition,
                       "facilitator \"f-3\" is not allocated to case \"c-1\""));
}

TEST_F(ScheduleDecideTest, UnknownCaseIsNotFoundButAFacilitatorLearnsNothing) {
  ScheduleState unknown;
  EXPECT_THAT(
      DecidePlanProgramme(unknown, Plan(), {}, Manager()),
      StatusIs(absl::StatusCode::kNotFound,
               "case \"c-1\" is not known to the scheduling service (case log handled "
               "up to 0; pass a causal token if the case is new)"));
  EXPECT_THAT(DecidePlanProgramme(unknown, Plan(), {}, Facilitator("f-1")),
              StatusIs(absl::StatusCode::kPermissionDenied,
                       "facilitator \"f-1\" is not allocated to case \"c-1\""));
  EXPECT_THAT(CheckCanAct(unknown, kCase, Facilitator("f-1")),
              StatusIs(absl::StatusCode::kPermissionDenied));
  EXPECT_THAT(CheckCanAct(unknown, kCase, Manager()), IsOk());
  EXPECT_THAT(
      DecideCancelBooking(
          unknown, {kCase, "s-1", scheduling_v1::OTHER_CAUSE, "x", Token(1)}, Manager()),
      StatusIs(absl::StatusCode::kNotFound));
}

TEST_F(ScheduleDecideTest, AFacilitatorCallerMustBeAllocated) {
  EXPECT_THAT(DecidePlanProgramme(state(), Plan(), {}, Facilitator("f-3")),
              StatusIs(absl::StatusCode::kPermissionDenied,
                       "facilitator \"f-3\" is not allocated to case \"c-1\""));
  EXPECT_THAT(CheckCanAct(state(), kCase, Facilitator("f-3")),
              StatusIs(absl::StatusCode::kPermissionDenied));
  EXPECT_THAT(CheckCanAct(state(), "c-2", Facilitator("f-1")),
              StatusIs(absl::StatusCode::kPermissionDenied));
  for (Role role : {Role::kManager, Role::kAuditor, Role::kService}) {
    EXPECT_THAT(CheckCanAct(state(), kCase, {"x", role, kNow}), IsOk());
  }
  absl::StatusOr<scheduling_v1::ProgrammePlanned> e =
      DecidePlanProgramme(state(), Plan(), {}, Facilitator("f-2"));
  ASSERT_THAT(e, IsOk());
  EXPECT_EQ(e->planned_by(), "f-2");
}

TEST_F(ScheduleDecideTest, ClosedAndPausedCasesBookNothing) {
  Stream paused = s_;
  paused.Paused();
  EXPECT_THAT(DecidePlanProgramme(paused.state, Plan(), {}, Manager()),
              StatusIs(absl::StatusCode::kFailedPrecondition,
                       "case \"c-1\" is paused: bookings wait for it to resume"));
  paused.Resumed();
  EXPECT_THAT(DecidePlanProgramme(paused.state, Plan(), {}, Manager()), IsOk());

  s_.Closed();
  EXPECT_THAT(DecidePlanProgramme(state(), Plan(), {}, Manager()),
              StatusIs(absl::StatusCode::kFailedPrecondition, "case \"c-1\" is closed"));
  EXPECT_THAT(PreparationQuestion(state(),
                                  Meeting("p-1", "su-1", "f-1", Utc(2027, 3, 2, 10, 0),
                                          absl::Hours(1), "room-1"),
                                  Manager()),
              StatusIs(absl::StatusCode::kFailedPrecondition, "case \"c-1\" is closed"));
}

// ===========================================================================
// Clashes.

TEST_F(ScheduleDecideTest, ClashWithTheFacilitatorInAnotherCase) {
  const std::vector<BusySlot> others = {
      {"c-2", "x-1", scheduling_v1::PROGRAMME_SESSION, 4, Utc(2027, 3, 23, 11, 0),
       Utc(2027, 3, 23, 14, 0)},
      // This case's own entries in the index are ignored (the state has them).
      {kCase, "ghost", scheduling_v1::PREPARATION_MEETING, 0, Utc(2027, 3, 30, 9, 0),
       Utc(2027, 3, 30, 10, 0)},
  };
  EXPECT_THAT(
      DecidePlanProgramme(state(), Plan(), others, Manager()),
      StatusIs(
          absl::StatusCode::kFailedPrecondition,
          "1 clash: session 2 2027-03-23T10:00:00Z\u20132027-03-23T13:00:00Z UTC: "
          "facilitator f-1 is booked for PROGRAMME_SESSION session 4 x-1 of case c-2, "
          "overlapping 2027-03-23T11:00:00Z\u20132027-03-23T13:00:00Z UTC"));
}

TEST_F(ScheduleDecideTest, ClashWithTheFacilitatorInThisCase) {
  // f-1 meets su-1's supporter elsewhere during session 1.
  Met(Meeting("p-1", "sup-2", "f-1", Utc(2027, 3, 16, 12, 0), absl::Hours(2), "room-9"));
  EXPECT_THAT(
      DecidePlanProgramme(state(), Plan(), {}, Manager()),
      StatusIs(absl::StatusCode::kFailedPrecondition,
               "1 clash: session 1 2027-03-16T10:00:00Z\u20132027-03-16T13:00:00Z UTC: "
               "facilitator f-1 is booked for PREPARATION_MEETING p-1 of case c-1, "
               "overlapping 2027-03-16T12:00:00Z\u20132027-03-16T13:00:00Z UTC"));
}

TEST_F(ScheduleDecideTest, ClashWithTheServiceUser) {
  Met(Meeting("p-1", "su-1", "f-2", Utc(2027, 4, 6, 8, 0), absl::Hours(2), "room-9"));
  EXPECT_THAT(
      DecidePlanProgramme(state(), Plan(), {}, Manager()),
      StatusIs(absl::StatusCode::kFailedPrecondition,
               "1 clash: session 4 2027-04-06T09:00:00Z\u20132027-04-06T12:00:00Z UTC: "
               "participant su-1 is booked for PREPARATION_MEETING p-1 of case c-1, "
               "overlapping 2027-04-06T09:00:00Z\u20132027-04-06T10:00:00Z UTC"));
}

TEST_F(ScheduleDecideTest, ClashWithAParticipant) {
  Met(Meeting("p-1", "v-1", "f-1", Utc(2027, 3, 2, 10, 0), absl::Hours(1), "room-9"));
  BookPreparationMeetingCommand second =
      Meeting("p-2", "v-1", "f-2", Utc(2027, 3, 2, 10, 30), absl::Hours(1), "room-8");
  EXPECT_THAT(
      DecideBookPreparationMeeting(state(), second, {}, Manager()),
      StatusIs(absl::StatusCode::kFailedPrecondition,
               "1 clash: the preparation meeting "
               "2027-03-02T10:30:00Z\u20132027-03-02T11:30:00Z UTC: participant v-1 is "
               "booked for PREPARATION_MEETING p-1 of case c-1, overlapping "
               "2027-03-02T10:30:00Z\u20132027-03-02T11:00:00Z UTC"));
}

TEST_F(ScheduleDecideTest, VenueRuleAVictimMeetingNearASession) {
  Planned();
  // Session 1 at hall-1 ends 13:00Z; a victim's meeting there at 13:30.
  BookPreparationMeetingCommand near =
      Meeting("p-1", "v-1", "f-2", Utc(2027, 3, 16, 13, 30), absl::Hours(1), "hall-1");
  EXPECT_THAT(
      DecideBookPreparationMeeting(state(), near, {}, Manager()),
      StatusIs(absl::StatusCode::kFailedPrecondition,
               "1 clash: the preparation meeting "
               "2027-03-16T13:30:00Z\u20132027-03-16T14:30:00Z UTC: venue hall-1: a "
               "victim-side and a service-user-side booking less than 1 hour apart: "
               "PROGRAMME_SESSION session 1 s-1 of case c-1, together spanning "
               "2027-03-16T10:00:00Z\u20132027-03-16T14:30:00Z UTC"));
  // Before the session too, and for the victim's supporter.
  BookPreparationMeetingCommand before =
      Meeting("p-1", "sup-1", "f-2", Utc(2027, 3, 16, 8, 30), absl::Hours(1), "hall-1");
  EXPECT_THAT(DecideBookPreparationMeeting(state(), before, {}, Manager()),
              StatusIs(absl::StatusCode::kFailedPrecondition,
                       HasSubstr("venue hall-1: a victim-side and a service-user-side")));
  // An hour apart exactly, or at another venue: no clash.
  near.start = Utc(2027, 3, 16, 14, 0);
  near.end = near.start + absl::Hours(1);
  EXPECT_THAT(DecideBookPreparationMeeting(state(), near, {}, Manager()), IsOk());
  BookPreparationMeetingCommand elsewhere =
      Meeting("p-1", "v-1", "f-2", Utc(2027, 3, 16, 13, 30), absl::Hours(1), "hall-2");
  EXPECT_THAT(DecideBookPreparationMeeting(state(), elsewhere, {}, Manager()), IsOk());
  // The service user's own side is not kept apart from itself.
  BookPreparationMeetingCommand same_side =
      Meeting("p-1", "sup-2", "f-2", Utc(2027, 3, 16, 13, 0), absl::Hours(1), "hall-1");
  EXPECT_THAT(DecideBookPreparationMeeting(state(), same_side, {}, Manager()), IsOk());
}

TEST_F(ScheduleDecideTest, VenueRuleASessionNearAVictimMeeting) {
  Met(Meeting("p-1", "v-2", "f-2", Utc(2027, 3, 30, 12, 30), absl::Minutes(30),
              "hall-1"));
  EXPECT_THAT(
      DecidePlanProgramme(state(), Plan(), {}, Manager()),
      StatusIs(absl::StatusCode::kFailedPrecondition,
               "1 clash: session 3 2027-03-30T09:00:00Z\u20132027-03-30T12:00:00Z UTC: "
               "venue hall-1: a victim-side and a service-user-side booking less than 1 "
               "hour apart: PREPARATION_MEETING p-1 of case c-1, together spanning "
               "2027-03-30T09:00:00Z\u20132027-03-30T13:00:00Z UTC"));
}

TEST_F(ScheduleDecideTest, TheConferenceIsOutsideTheVenueRule) {
  Planned();
  // Proposed: a conference at hall-1 starting 30 minutes after session 1.
  BookConferenceCommand c = Conference(Utc(2027, 3, 16, 13, 30));
  absl::StatusOr<scheduling_v1::ConferenceBooked> booked =
      DecideBookConference(state(), c, {}, Manager());
  ASSERT_THAT(booked, IsOk());
  s_.Append(*booked);
  // As the other: a victim's meeting at hall-1 30 minutes after the
  // conference (which books the service user) is no clash.
  EXPECT_THAT(
      DecideBookPreparationMeeting(
          state(),
          Meeting("p-1", "v-2", "f-2", Utc(2027, 3, 16, 16, 0), absl::Hours(1), "hall-1"),
          {}, Manager()),
      IsOk());
}

TEST_F(ScheduleDecideTest, BackToBackIsNoClash) {
  Planned();
  BookPreparationMeetingCommand after =
      Meeting("p-1", "su-1", "f-1", Utc(2027, 3, 16, 13, 0), absl::Hours(1), "room-9");
  EXPECT_THAT(DecideBookPreparationMeeting(state(), after, {}, Manager()), IsOk());
  BookPreparationMeetingCommand before =
      Meeting("p-1", "su-1", "f-1", Utc(2027, 3, 16, 9, 0), absl::Hours(1), "room-9");
  EXPECT_THAT(DecideBookPreparationMeeting(state(), before, {}, Manager()), IsOk());
  after.start = Utc(2027, 3, 16, 12, 59);
  EXPECT_THAT(DecideBookPreparationMeeting(state(), after, {}, Manager()),
              StatusIs(absl::StatusCode::kFailedPrecondition, StartsWith("2 clashes: ")));
}

TEST_F(ScheduleDecideTest, HeldBookingsClashCancelledOnesDoNot) {
  Planned();
  s_.Paused();
  s_.Held({"s-2"});
  ProposedBooking p;
  p.what = "the preparation meeting";
  p.kind = scheduling_v1::PREPARATION_MEETING;
  p.start = Utc(2027, 3, 23, 11, 0);
  p.end = Utc(2027, 3, 23, 12, 0);
  p.venue = "room-9";
  p.facilitator_ids = {"f-2"};
  p.attendees = {Person("su-1", case_v1::SERVICE_USER)};
  std::vector<Clash> clashes = FindClashes(state(), {}, p);
  ASSERT_EQ(clashes.size(), 1u);
  EXPECT_EQ(clashes[0].who, "participant su-1");
  EXPECT_EQ(clashes[0].other_booking_id, "s-2");
  EXPECT_EQ(clashes[0].other_session_number, 2);
  EXPECT_EQ(clashes[0].overlap_start, Utc(2027, 3, 23, 11, 0));
  EXPECT_EQ(clashes[0].overlap_end, Utc(2027, 3, 23, 12, 0));

  // Cancelled (here while paused: a held booking may be called off).
  absl::StatusOr<scheduling_v1::BookingCancelled> e = DecideCancelBooking(
      state(), {kCase, "s-2", scheduling_v1::VENUE_UNAVAILABLE, "flood", Token(6)},
      Manager());
  ASSERT_THAT(e, IsOk());
  s_.Append(*e);
  EXPECT_THAT(FindClashes(state(), {}, p), ::testing::IsEmpty());
}

TEST_F(ScheduleDecideTest, ClashesInADeterministicOrder) {
  Met(Meeting("p-1", "su-1", "f-2", Utc(2027, 3, 16, 12, 0), absl::Hours(2), "room-9"));
  const std::vector<BusySlot> others = {
      {"c-3", "y-2", scheduling_v1::CONFERENCE, 0, Utc(2027, 3, 16, 11, 0),
       Utc(2027, 3, 16, 12, 0)},
      {"c-2", "x-2", scheduling_v1::PREPARATION_MEETING, 0, Utc(2027, 3, 16, 9, 0),
       Utc(2027, 3, 16, 10, 30)},
      {"c-2", "x-1", scheduling_v1::PREPARATION_MEETING, 0, Utc(2027, 3, 16, 9, 0),
       Utc(2027, 3, 16, 10, 30)},
  };
  ProposedBooking p;
  p.what = "session 1";
  p.kind = scheduling_v1::PROGRAMME_SESSION;
  p.start = Utc(2027, 3, 16, 10, 0);
  p.end = Utc(2027, 3, 16, 13, 0);
  p.venue = "hall-1";
  p.facilitator_ids = {"f-1"};
  p.attendees = {Person("su-1", case_v1::SERVICE_USER)};
  std::vector<std::tuple<std::string, std::string>> got;
  for (const Clash& c : FindClashes(state(), others, p)) {
    got.emplace_back(c.who, c.other_booking_id);
  }
  EXPECT_THAT(got, ElementsAre(std::make_tuple("facilitator f-1", "x-1"),
                               std::make_tuple("facilitator f-1", "x-2"),
                               std::make_tuple("facilitator f-1", "y-2"),
                               std::make_tuple("participant su-1", "p-1")));
  EXPECT_THAT(ClashError(FindClashes(state(), others, p)),
              StatusIs(absl::StatusCode::kFailedPrecondition, StartsWith("4 clashes: ")));
  EXPECT_THAT(ClashError({}), IsOk());
}

// ===========================================================================
// RescheduleSession.

TEST_F(ScheduleDecideTest, RescheduleMovesASessionKeepingItsThreeHours) {
  Planned();
  const scheduling_v1::Slot old_slot = state().FindBooking("s-3")->slot;
  RescheduleSessionCommand c{kCase,   "s-3",   Utc(2027, 3, 31, 13, 0), London(), "",
                             "clash", Token(8)};
  absl::StatusOr<scheduling_v1::SessionRescheduled> e =
      DecideRescheduleSession(state(), c, {}, Manager());
  ASSERT_THAT(e, IsOk());
  scheduling_v1::SessionRescheduled expected;
  expected.set_case_id(kCase);
  expected.set_booking_id("s-3");
  *expected.mutable_from() = old_slot;
  *expected.mutable_to() = MakeSlot(Utc(2027, 3, 31, 13, 0), absl::Hours(3), London());
  expected.set_venue("hall-1");
  expected.set_rescheduled_by("m-1");
  expected.set_reason("clash");
  *expected.mutable_handled() = Token(8);
  EXPECT_THAT(*e, EqualsProto(expected));
  EXPECT_EQ(e->to().local_start(), "2027-03-31T14:00");

  // A new venue; and overlapping its own old time is no clash.
  c.start = Utc(2027, 3, 30, 10, 0);
  c.venue = "hall-2";
  e = DecideRescheduleSession(state(), c, {}, Manager());
  ASSERT_THAT(e, IsOk());
  EXPECT_EQ(e->venue(), "hall-2");
}

TEST_F(ScheduleDecideTest, RescheduleRules) {
  Planned();
  RescheduleSessionCommand c{kCase,   "s-3",   Utc(2027, 4, 6, 11, 0), London(), "",
                             "clash", Token(8)};
  // Onto session 4.
  EXPECT_THAT(
      DecideRescheduleSession(state(), c, {}, Manager()),
      StatusIs(absl::StatusCode::kFailedPrecondition,
               HasSubstr("session 3 2027-04-06T11:00:00Z\u20132027-04-06T14:00:00Z "
                         "UTC: facilitator f-1 is booked for PROGRAMME_SESSION "
                         "session 4 s-4 of case c-1")));
  // To the past.
  c.start = Utc(2027, 2, 28, 10, 0);
  EXPECT_THAT(DecideRescheduleSession(state(), c, {}, Manager()),
              StatusIs(absl::StatusCode::kInvalidArgument, StartsWith("start: ")));
  c.start = Utc(2027, 4, 1, 10, 0);
  // A session under way.
  EXPECT_THAT(DecideRescheduleSession(state(), c, {}, Manager(Utc(2027, 3, 30, 9, 30))),
              StatusIs(absl::StatusCode::kFailedPrecondition, HasSubstr("started at")));
  // Unknown, not a session.
  c.booking_id = "nope";
  EXPECT_THAT(
      DecideRescheduleSession(state(), c, {}, Manager()),
      StatusIs(absl::StatusCode::kNotFound, "case \"c-1\" has no booking \"nope\""));
  Met(Meeting("p-1", "su-1", "f-2", Utc(2027, 3, 2, 10, 0), absl::Hours(1), "room-9"));
  c.booking_id = "p-1";
  EXPECT_THAT(DecideRescheduleSession(state(), c, {}, Manager()),
              StatusIs(absl::StatusCode::kFailedPrecondition,
                       HasSubstr("is a PREPARATION_MEETING, not a programme session")));
  // Recorded, cancelled.
  Record("s-1", scheduling_v1::ATTENDED);
  c.booking_id = "s-1";
  c.start = Utc(2027, 6, 10, 10, 0);
  EXPECT_THAT(DecideRescheduleSession(state(), c, {}, Manager()),
              StatusIs(absl::StatusCode::kFailedPrecondition,
                       HasSubstr("has its attendance recorded already")));
  Cancel("s-2");
  c.booking_id = "s-2";
  EXPECT_THAT(DecideRescheduleSession(state(), c, {}, Manager()),
              StatusIs(absl::StatusCode::kFailedPrecondition,
                       "session 2 (\"s-2\") is cancelled"));
  // Held (the case paused and resumed before the hold is released).
  s_.Paused();
  s_.Held({"s-5"});
  c.booking_id = "s-5";
  EXPECT_THAT(DecideRescheduleSession(state(), c, {}, Manager()),
              StatusIs(absl::StatusCode::kFailedPrecondition, HasSubstr("is paused")));
  s_.Resumed();
  EXPECT_THAT(DecideRescheduleSession(state(), c, {}, Manager()),
              StatusIs(absl::StatusCode::kFailedPrecondition,
                       "session 5 (\"s-5\") is held while the case is paused"));
}

// ===========================================================================
// CancelBooking.

TEST_F(ScheduleDecideTest, CancelBookingRules) {
  Planned();
  CancelBookingCommand c{kCase, "s-4", scheduling_v1::FACILITATOR_UNAVAILABLE, "leave",
                         Token(9)};
  absl::StatusOr<scheduling_v1::BookingCancelled> e =
      DecideCancelBooking(state(), c, Facilitator("f-1"));
  ASSERT_THAT(e, IsOk());
  scheduling_v1::BookingCancelled expected;
  expected.set_case_id(kCase);
  expected.set_booking_id("s-4");
  expected.set_cause(scheduling_v1::FACILITATOR_UNAVAILABLE);
  expected.set_reason("leave");
  expected.set_cancelled_by("f-1");
  *expected.mutable_handled() = Token(9);
  EXPECT_THAT(*e, EqualsProto(expected));

  for (int cause = 1; cause <= 5; ++cause) {
    c.cause = static_cast<scheduling_v1::CancellationCause>(cause);
    EXPECT_THAT(DecideCancelBooking(state(), c, Manager()), IsOk()) << cause;
  }
  c.cause = scheduling_v1::CONSENT_WITHDRAWN;
  EXPECT_THAT(DecideCancelBooking(state(), c, Manager()),
              StatusIs(absl::StatusCode::kInvalidArgument,
                       "cause: CONSENT_WITHDRAWN is set by the service itself"));
  c.cause = scheduling_v1::PASSED_WHILE_HELD;
  EXPECT_THAT(
      DecideCancelBooking(state(), c, Manager()),
      StatusIs(absl::StatusCode::kInvalidArgument, HasSubstr("by the service itself")));
  c.cause = scheduling_v1::CANCELLATION_CAUSE_UNSPECIFIED;
  EXPECT_THAT(DecideCancelBooking(state(), c, Manager()),
              StatusIs(absl::StatusCode::kInvalidArgument, "cause: is required"));
  c.cause = scheduling_v1::OTHER_CAUSE;

  Cancel("s-4");
  EXPECT_THAT(DecideCancelBooking(state(), c, Manager()),
              StatusIs(absl::StatusCode::kFailedPrecondition,
                       "booking \"s-4\" is cancelled already"));
  Record("s-1", scheduling_v1::MISSED);
  c.booking_id = "s-1";
  EXPECT_THAT(DecideCancelBooking(state(), c, Manager()),
              StatusIs(absl::StatusCode::kFailedPrecondition,
                       HasSubstr("has its attendance recorded (MISSED)")));
  c.booking_id = "none";
  EXPECT_THAT(DecideCancelBooking(state(), c, Manager()),
              StatusIs(absl::StatusCode::kNotFound));
  s_.Closed();
  c.booking_id = "s-6";
  EXPECT_THAT(DecideCancelBooking(state(), c, Manager()),
              StatusIs(absl::StatusCode::kFailedPrecondition, "case \"c-1\" is closed"));
}

// ===========================================================================
// RecordAttendance and completion.

TEST_F(ScheduleDecideTest, AttendanceIsRecordedOnceASessionHasStarted) {
  Planned();
  RecordAttendanceCommand c{kCase, "s-1", scheduling_v1::ATTENDED, "", Token(10)};
  EXPECT_THAT(DecideRecordAttendance(state(), c, Manager(Utc(2027, 3, 16, 9, 59))),
              StatusIs(absl::StatusCode::kFailedPrecondition,
                       "session 1 starts at 2027-03-16T10:00:00Z: attendance is recorded "
                       "once it has started"));
  absl::StatusOr<AttendanceDecided> d =
      DecideRecordAttendance(state(), c, Facilitator("f-1", Utc(2027, 3, 16, 10, 0)));
  ASSERT_THAT(d, IsOk());
  scheduling_v1::AttendanceRecorded expected;
  expected.set_case_id(kCase);
  expected.set_booking_id("s-1");
  expected.set_attendance(scheduling_v1::ATTENDED);
  expected.set_recorded_by("f-1");
  *expected.mutable_handled() = Token(10);
  EXPECT_THAT(d->recorded, EqualsProto(expected));
  EXPECT_FALSE(d->completed.has_value());

  s_.Append(d->recorded);
  EXPECT_THAT(DecideRecordAttendance(state(), c, Manager(Utc(2027, 3, 17, 0, 0))),
              StatusIs(absl::StatusCode::kFailedPrecondition,
                       HasSubstr("has its attendance recorded already (ATTENDED)")));
  c.attendance = scheduling_v1::ATTENDANCE_UNSPECIFIED;
  c.booking_id = "s-2";
  EXPECT_THAT(DecideRecordAttendance(state(), c, Manager(Utc(2027, 3, 24, 0, 0))),
              StatusIs(absl::StatusCode::kInvalidArgument, "attendance: is required"));
}

// A training environment's allowance (--attendance_before_start): a session
// still to come within it may have its attendance recorded; beyond it not,
// and the refusal says from when.
TEST_F(ScheduleDecideTest, AttendanceBeforeTheStartOnlyWithinTheAllowance) {
  Planned();
  RecordAttendanceCommand c{kCase, "s-12", scheduling_v1::ATTENDED, "", Token(10)};
  c.before_start = absl::Hours(24 * 7 * 12);
  EXPECT_THAT(DecideRecordAttendance(state(), c, Manager(Utc(2027, 3, 15, 10, 0))),
              IsOk());
  c.before_start = absl::Hours(24 * 7);
  EXPECT_THAT(DecideRecordAttendance(state(), c, Manager(Utc(2027, 3, 15, 10, 0))),
              StatusIs(absl::StatusCode::kFailedPrecondition,
                       "session 12 starts at 2027-06-01T09:00:00Z: attendance is "
                       "recorded from 2027-05-25T09:00:00Z"));
}

TEST_F(ScheduleDecideTest, TwelveAttendedCompleteTheProgramme) {
  Planned();
  for (int i = 1; i < kProgrammeSessions; ++i) {
    Record(absl::StrCat("s-", i), scheduling_v1::ATTENDED);
    EXPECT_FALSE(state().programme_completed);
  }
  EXPECT_EQ(state().sessions_attended, 11);
  RecordAttendanceCommand c{kCase, "s-12", scheduling_v1::ATTENDED, "", Token(11)};
  absl::StatusOr<AttendanceDecided> d =
      DecideRecordAttendance(state(), c, Manager(Utc(2027, 6, 1, 12, 0)));
  ASSERT_THAT(d, IsOk());
  ASSERT_TRUE(d->completed.has_value());
  scheduling_v1::ProgrammeCompleted expected;
  expected.set_case_id(kCase);
  expected.set_programme_id("prog-1");
  expected.set_sessions_attended(12);
  expected.set_minutes_attended(2160);
  for (int i = 1; i <= kProgrammeSessions; ++i) {
    expected.add_attended_booking_ids(absl::StrCat("s-", i));
  }
  *expected.mutable_handled() = Token(11);
  EXPECT_THAT(*d->completed, EqualsProto(expected));
}

TEST_F(ScheduleDecideTest, MissedAndCancelledSessionsMadeUpThenCompleted) {
  Planned();
  for (int i = 1; i <= kProgrammeSessions; ++i) {
    const std::string id = absl::StrCat("s-", i);
    if (i == 2) {
      Record(id, scheduling_v1::MISSED);
    } else if (i == 5) {
      Record(id, scheduling_v1::EXCUSED);
    } else if (i == 7) {
      Cancel(id);
    } else {
      Record(id, scheduling_v1::ATTENDED);
    }
  }
  EXPECT_EQ(state().sessions_attended, 9);
  const absl::Time after = Utc(2027, 6, 2, 0, 0);
  int day = 8;
  for (const char* missed : {"s-2", "s-5", "s-7"}) {
    absl::StatusOr<scheduling_v1::MakeUpSessionBooked> e = DecideBookMakeUpSession(
        state(), MakeUp(absl::StrCat("m", missed), missed, Utc(2027, 6, day++, 9, 0)), {},
        Manager(after));
    ASSERT_THAT(e, IsOk()) << missed;
    s_.Append(*e);
  }
  Record("ms-7", scheduling_v1::ATTENDED);
  Record("ms-2", scheduling_v1::ATTENDED);
  RecordAttendanceCommand c{kCase, "ms-5", scheduling_v1::ATTENDED, "", Token(12)};
  absl::StatusOr<AttendanceDecided> d =
      DecideRecordAttendance(state(), c, Manager(Utc(2027, 6, 30, 0, 0)));
  ASSERT_THAT(d, IsOk());
  ASSERT_TRUE(d->completed.has_value());
  EXPECT_EQ(d->completed->sessions_attended(), 12);
  EXPECT_EQ(d->completed->minutes_attended(), 2160);
  EXPECT_THAT(d->completed->attended_booking_ids(),
              ElementsAre("s-1", "ms-2", "s-3", "s-4", "ms-5", "s-6", "ms-7", "s-8",
                          "s-9", "s-10", "s-11", "s-12"));
  s_.Append(d->recorded);
  s_.Append(*d->completed);
  EXPECT_TRUE(state().programme_completed);
}

TEST_F(ScheduleDecideTest, AMissedAttendanceDoesNotComplete) {
  Planned();
  for (int i = 1; i < kProgrammeSessions; ++i) {
    Record(absl::StrCat("s-", i), scheduling_v1::ATTENDED);
  }
  RecordAttendanceCommand c{kCase, "s-12", scheduling_v1::MISSED, "ill", Token(11)};
  absl::StatusOr<AttendanceDecided> d =
      DecideRecordAttendance(state(), c, Manager(Utc(2027, 6, 1, 12, 0)));
  ASSERT_THAT(d, IsOk());
  EXPECT_FALSE(d->completed.has_value());
  EXPECT_EQ(d->recorded.reason(), "ill");
}

// ===========================================================================
// BookMakeUpSession.

TEST_F(ScheduleDecideTest, MakeUpTakesTheNumberAndModuleOfTheMissedSession) {
  Planned();
  Record("s-3", scheduling_v1::MISSED);
  const absl::Time start = Utc(2027, 4, 1, 9, 0);
  absl::StatusOr<scheduling_v1::MakeUpSessionBooked> e =
      DecideBookMakeUpSession(state(), MakeUp("m-3", "s-3", start), {}, Manager());
  ASSERT_THAT(e, IsOk());
  scheduling_v1::MakeUpSessionBooked expected;
  expected.set_case_id(kCase);
  expected.set_booking_id("m-3");
  expected.set_makes_up_booking_id("s-3");
  expected.set_number(3);
  expected.set_module(scheduling_v1::VICTIM_EMPATHY);
  *expected.mutable_slot() = MakeSlot(start, absl::Hours(3), London());
  expected.set_venue("hall-1");
  expected.set_facilitator_id("f-1");
  expected.set_booked_by("m-1");
  *expected.mutable_handled() = Token(7);
  EXPECT_THAT(*e, EqualsProto(expected));

  BookMakeUpSessionCommand other = MakeUp("m-3", "s-3", start);
  other.facilitator_id = "f-2";
  other.venue = "hall-2";
  e = DecideBookMakeUpSession(state(), other, {}, Manager());
  ASSERT_THAT(e, IsOk());
  EXPECT_EQ(e->facilitator_id(), "f-2");
  EXPECT_EQ(e->venue(), "hall-2");
  other.facilitator_id = "f-3";
  EXPECT_THAT(DecideBookMakeUpSession(state(), other, {}, Manager()),
              StatusIs(absl::StatusCode::kFailedPrecondition,
                       "facilitator \"f-3\" is not allocated to case \"c-1\""));
}

TEST_F(ScheduleDecideTest, MakeUpRules) {
  Planned();
  const absl::Time start = Utc(2027, 4, 1, 9, 0);
  // Scheduled, attended: nothing to make up.
  EXPECT_THAT(
      DecideBookMakeUpSession(state(), MakeUp("m-1", "s-1", start), {}, Manager()),
      StatusIs(absl::StatusCode::kFailedPrecondition, HasSubstr("needs no make-up")));
  Record("s-1", scheduling_v1::ATTENDED);
  EXPECT_THAT(
      DecideBookMakeUpSession(state(), MakeUp("m-1", "s-1", start), {}, Manager()),
      StatusIs(absl::StatusCode::kFailedPrecondition, HasSubstr("needs no make-up")));
  // Excused and cancelled ones are made up; not twice.
  Record("s-2", scheduling_v1::EXCUSED);
  Cancel("s-4");
  EXPECT_THAT(
      DecideBookMakeUpSession(state(), MakeUp("m-4", "s-4", start), {}, Manager()),
      IsOk());
  absl::StatusOr<scheduling_v1::MakeUpSessionBooked> e =
      DecideBookMakeUpSession(state(), MakeUp("m-2", "s-2", start), {}, Manager());
  ASSERT_THAT(e, IsOk());
  s_.Append(*e);
  EXPECT_THAT(DecideBookMakeUpSession(
                  state(), MakeUp("m-2b", "s-2", start + absl::Hours(24)), {}, Manager()),
              StatusIs(absl::StatusCode::kFailedPrecondition,
                       "session 2 (\"s-2\") is made up already by \"m-2\""));
  // The make-up clashes like any session: with the one just booked.
  EXPECT_THAT(
      DecideBookMakeUpSession(state(), MakeUp("m-4", "s-4", start), {}, Manager()),
      StatusIs(absl::StatusCode::kFailedPrecondition,
               HasSubstr("make-up session 4 2027-04-01T09:00:00Z")));
  // In the past.
  EXPECT_THAT(DecideBookMakeUpSession(
                  state(), MakeUp("m-4", "s-4", Utc(2027, 2, 1, 9, 0)), {}, Manager()),
              StatusIs(absl::StatusCode::kInvalidArgument, StartsWith("start: ")));
  // Not a session.
  Met(Meeting("p-1", "su-1", "f-2", Utc(2027, 3, 2, 10, 0), absl::Hours(1), "room-9"));
  EXPECT_THAT(
      DecideBookMakeUpSession(state(), MakeUp("m-9", "p-1", start), {}, Manager()),
      StatusIs(absl::StatusCode::kFailedPrecondition,
               HasSubstr("not a programme session")));
}

TEST_F(ScheduleDecideTest, NoMakeUpOnceCompleted) {
  Planned();
  Cancel("s-12");
  for (int i = 1; i < kProgrammeSessions; ++i) {
    Record(absl::StrCat("s-", i), scheduling_v1::ATTENDED);
  }
  absl::StatusOr<scheduling_v1::MakeUpSessionBooked> e =
      DecideBookMakeUpSession(state(), MakeUp("m-12", "s-12", Utc(2027, 6, 8, 9, 0)), {},
                              Manager(Utc(2027, 6, 1, 0, 0)));
  ASSERT_THAT(e, IsOk());
  s_.Append(*e);
  Record("m-12", scheduling_v1::ATTENDED);
  ASSERT_TRUE(state().programme_completed);
  EXPECT_THAT(
      DecideBookMakeUpSession(state(), MakeUp("m-11", "s-11", Utc(2027, 7, 1, 9, 0)), {},
                              Manager(Utc(2027, 6, 20, 0, 0))),
      StatusIs(absl::StatusCode::kFailedPrecondition, HasSubstr("is completed")));
}

// ===========================================================================
// Preparation meetings and the contact gate.

TEST_F(ScheduleDecideTest, AMeetingWithoutAVictimAsksNothing) {
  BookPreparationMeetingCommand c =
      Meeting("p-1", "sup-2", "f-2", Utc(2027, 3, 2, 10, 0), absl::Minutes(45), "room-9");
  absl::StatusOr<std::optional<ContactQuestion>> q =
      PreparationQuestion(state(), c, Manager());
  ASSERT_THAT(q, IsOk());
  EXPECT_FALSE(q->has_value());
  absl::StatusOr<scheduling_v1::PreparationMeetingBooked> e =
      DecideBookPreparationMeeting(state(), c, {}, Manager());
  ASSERT_THAT(e, IsOk());
  scheduling_v1::PreparationMeetingBooked expected;
  expected.set_case_id(kCase);
  expected.set_booking_id("p-1");
  *expected.mutable_participant() = Person("sup-2", case_v1::SUPPORTER, "su-1");
  expected.set_facilitator_id("f-2");
  *expected.mutable_slot() =
      MakeSlot(Utc(2027, 3, 2, 10, 0), absl::Minutes(45), London());
  expected.set_venue("room-9");
  expected.set_booked_by("m-1");
  *expected.mutable_handled() = Token(4);
  EXPECT_THAT(*e, EqualsProto(expected));

  // An approval where none is needed is the service's own mistake.
  c.approval = MakeApproval(common_v1::APPROACH_VICTIM, "v-1", "f-2");
  EXPECT_THAT(DecideBookPreparationMeeting(state(), c, {}, Manager()),
              StatusIs(absl::StatusCode::kInternal));
}

TEST_F(ScheduleDecideTest, AMeetingWithAVictimNeedsTheApproachApproved) {
  BookPreparationMeetingCommand c =
      Meeting("p-1", "v-2", "f-1", Utc(2027, 3, 2, 10, 0), absl::Hours(1), "room-9");
  absl::StatusOr<std::optional<ContactQuestion>> q =
      PreparationQuestion(state(), c, Manager());
  ASSERT_THAT(q, IsOk());
  ASSERT_TRUE(q->has_value());
  EXPECT_EQ((*q)->kind, common_v1::APPROACH_VICTIM);
  EXPECT_EQ((*q)->victim_id, "v-2");
  EXPECT_EQ((*q)->facilitator_id, "f-1");

  absl::StatusOr<scheduling_v1::PreparationMeetingBooked> e =
      DecideBookPreparationMeeting(state(), c, {}, Manager());
  ASSERT_THAT(e, IsOk());
  EXPECT_THAT(e->approval(), EqualsProto(*c.approval));
  EXPECT_THAT(e->participant(), EqualsProto(Person("v-2", case_v1::CO_VICTIM)));

  BookPreparationMeetingCommand missing = c;
  missing.approval.reset();
  EXPECT_THAT(
      DecideBookPreparationMeeting(state(), missing, {}, Manager()),
      StatusIs(absl::StatusCode::kFailedPrecondition,
               HasSubstr("needs an APPROVED contact decision (APPROACH_VICTIM)")));
  BookPreparationMeetingCommand wrong = c;
  wrong.approval->set_kind(common_v1::LETTER_DELIVERY);
  EXPECT_THAT(DecideBookPreparationMeeting(state(), wrong, {}, Manager()),
              StatusIs(absl::StatusCode::kFailedPrecondition,
                       HasSubstr("decision \"d-1\" approved LETTER_DELIVERY")));
  wrong = c;
  wrong.approval->set_victim_id("v-1");
  EXPECT_THAT(
      DecideBookPreparationMeeting(state(), wrong, {}, Manager()),
      StatusIs(absl::StatusCode::kFailedPrecondition, HasSubstr("decision \"d-1\"")));
  wrong = c;
  wrong.approval->set_facilitator_id("f-2");
  EXPECT_THAT(
      DecideBookPreparationMeeting(state(), wrong, {}, Manager()),
      StatusIs(absl::StatusCode::kFailedPrecondition, HasSubstr("decision \"d-1\"")));
}

TEST_F(ScheduleDecideTest, AWithdrawalSinceTheDecisionUndoesIt) {
  BookPreparationMeetingCommand c =
      Meeting("p-1", "v-1", "f-1", Utc(2027, 3, 2, 10, 0), absl::Hours(1), "room-9");
  // Withdrawn before the decision (position 40): the decision knew.
  s_.Withdrew("v-1", consent_v1::PARTICIPATE, 30);
  EXPECT_THAT(DecideBookPreparationMeeting(state(), c, {}, Manager()), IsOk());
  // An unrelated scope since: no matter.
  s_.Withdrew("v-1", consent_v1::RECEIVE_LETTER, 45);
  EXPECT_THAT(DecideBookPreparationMeeting(state(), c, {}, Manager()), IsOk());
  Stream su = s_;
  s_.Withdrew("v-1", consent_v1::PARTICIPATE, 50);
  EXPECT_THAT(
      DecideBookPreparationMeeting(state(), c, {}, Manager()),
      StatusIs(absl::StatusCode::kFailedPrecondition,
               "consent withdrawn since decision \"d-1\": v-1 withdrew PARTICIPATE at "
               "consent-log position 50"));
  su.Withdrew("su-1", consent_v1::PARTICIPATE, 41);
  EXPECT_THAT(
      DecideBookPreparationMeeting(su.state, c, {}, Manager()),
      StatusIs(absl::StatusCode::kFailedPrecondition,
               "consent withdrawn since decision \"d-1\": su-1 withdrew PARTICIPATE at "
               "consent-log position 41"));
}

TEST_F(ScheduleDecideTest, MeetingParticipantAndTimeRules) {
  BookPreparationMeetingCommand c =
      Meeting("p-1", "x-9", "f-1", Utc(2027, 3, 2, 10, 0), absl::Hours(1), "room-9");
  EXPECT_THAT(PreparationQuestion(state(), c, Manager()),
              StatusIs(absl::StatusCode::kInvalidArgument,
                       "participant_id: \"x-9\" is not a participant of case \"c-1\""));
  c = Meeting("p-1", "sup-2", "f-3", Utc(2027, 3, 2, 10, 0), absl::Hours(1), "room-9");
  EXPECT_THAT(PreparationQuestion(state(), c, Manager()),
              StatusIs(absl::StatusCode::kFailedPrecondition,
                       HasSubstr("\"f-3\" is not allocated")));
  c = Meeting("p-1", "sup-2", "f-1", Utc(2027, 3, 1, 9, 0), absl::Hours(1), "room-9");
  EXPECT_THAT(PreparationQuestion(state(), c, Manager()),
              StatusIs(absl::StatusCode::kInvalidArgument, StartsWith("start: ")));
  c = Meeting("p-1", "sup-2", "f-1", Utc(2027, 3, 2, 10, 0), absl::ZeroDuration(),
              "room-9");
  EXPECT_THAT(PreparationQuestion(state(), c, Manager()),
              StatusIs(absl::StatusCode::kInvalidArgument, StartsWith("end: ")));
  s_.Erased("sup-2");
  c = Meeting("p-1", "sup-2", "f-1", Utc(2027, 3, 2, 10, 0), absl::Hours(1), "room-9");
  EXPECT_THAT(PreparationQuestion(state(), c, Manager()),
              StatusIs(absl::StatusCode::kFailedPrecondition, HasSubstr("was erased")));
  EXPECT_THAT(PreparationQuestion(state(), c, Facilitator("f-3")),
              StatusIs(absl::StatusCode::kPermissionDenied));
}

// ===========================================================================
// Conferences.

TEST_F(ScheduleDecideTest, ConferenceQuestionByFormat) {
  BookConferenceCommand c = Conference();
  absl::StatusOr<ContactQuestion> q = ConferenceQuestion(state(), c, Manager());
  ASSERT_THAT(q, IsOk());
  EXPECT_EQ(q->kind, common_v1::FACE_TO_FACE_CONFERENCE);
  EXPECT_EQ(q->victim_id, "v-1");
  EXPECT_EQ(q->facilitator_id, "f-1");
  c.format = scheduling_v1::VIDEO;
  c.facilitator_ids = {"f-2"};
  q = ConferenceQuestion(state(), c, Manager());
  ASSERT_THAT(q, IsOk());
  EXPECT_EQ(q->kind, common_v1::VIDEO_MEETING);
  EXPECT_EQ(q->facilitator_id, "f-2");
}

TEST_F(ScheduleDecideTest, ConferenceBookedWithStaggeredArrivals) {
  BookConferenceCommand c = Conference(Utc(2027, 7, 6, 13, 0));
  absl::StatusOr<scheduling_v1::ConferenceBooked> e =
      DecideBookConference(state(), c, {}, Facilitator("f-2"));
  ASSERT_THAT(e, IsOk());
  scheduling_v1::ConferenceBooked expected;
  expected.set_case_id(kCase);
  expected.set_booking_id("conf-1");
  expected.set_format(scheduling_v1::IN_PERSON);
  *expected.mutable_slot() = MakeSlot(Utc(2027, 7, 6, 13, 0), absl::Hours(2), London());
  expected.set_venue("hall-1");
  *expected.add_attendees() = Person("su-1", case_v1::SERVICE_USER);
  *expected.add_attendees() = Person("v-1", case_v1::VICTIM);
  *expected.add_attendees() = Person("sup-1", case_v1::SUPPORTER, "v-1");
  *expected.add_attendees() = Person("int-1", case_v1::INTERPRETER, "su-1");
  expected.add_facilitator_ids("f-1");
  expected.add_facilitator_ids("f-2");
  expected.set_service_user_arrival_unix_micros(
      absl::ToUnixMicros(Utc(2027, 7, 6, 12, 30)));
  expected.set_victim_arrival_unix_micros(absl::ToUnixMicros(Utc(2027, 7, 6, 12, 45)));
  *expected.mutable_approval() = *c.approval;
  expected.set_booked_by("f-2");
  *expected.mutable_handled() = Token(5);
  EXPECT_THAT(*e, EqualsProto(expected));
  EXPECT_EQ(e->slot().local_start(), "2027-07-06T14:00");

  // One live conference at a time; another once it is cancelled.
  s_.Append(*e);
  BookConferenceCommand again = Conference(Utc(2027, 8, 3, 13, 0));
  again.booking_id = "conf-2";
  EXPECT_THAT(ConferenceQuestion(state(), again, Manager()),
              StatusIs(absl::StatusCode::kFailedPrecondition,
                       HasSubstr("has a conference booked already (\"conf-1\"")));
  Cancel("conf-1");
  EXPECT_THAT(DecideBookConference(state(), again, {}, Manager()), IsOk());
}

TEST_F(ScheduleDecideTest, ConferenceAttendeeRules) {
  struct Row {
    std::vector<std::string> participants;
    std::string message;
  };
  const std::vector<Row> rows = {
      {{"v-1", "sup-1"}, "participant_ids: does not name the service user"},
      {{"su-1", "int-1"}, "participant_ids: names no victim or co-victim"},
      {{"su-1", "v-1", "v-2"},
       "participant_ids: names victims \"v-1\" and \"v-2\": a conference is with exactly "
       "one"},
      {{"su-1", "v-2", "sup-1"},
       "participant_ids: SUPPORTER \"sup-1\" is there for \"v-1\", who does not attend"},
      {{"su-1", "v-1", "su-1"}, "participant_ids: names \"su-1\" twice"},
      {{"su-1", "v-1", "x-9"},
       "participant_ids: \"x-9\" is not a participant of case \"c-1\""},
  };
  for (const Row& row : rows) {
    BookConferenceCommand c = Conference();
    c.participant_ids = row.participants;
    EXPECT_THAT(ConferenceQuestion(state(), c, Manager()),
                StatusIs(absl::StatusCode::kInvalidArgument, row.message))
        << row.message;
  }
  BookConferenceCommand c = Conference();
  c.participant_ids = {"su-1", "v-2"};  // the co-victim alone is the victim
  c.approval = MakeApproval(common_v1::FACE_TO_FACE_CONFERENCE, "v-2", "f-1");
  EXPECT_THAT(DecideBookConference(state(), c, {}, Manager()), IsOk());

  for (const std::vector<std::string>& fs :
       std::vector<std::vector<std::string>>{{}, {"f-1", "f-2", "f-3"}, {"f-1", "f-1"}}) {
    c = Conference();
    c.facilitator_ids = fs;
    EXPECT_THAT(
        ConferenceQuestion(state(), c, Manager()),
        StatusIs(absl::StatusCode::kInvalidArgument, StartsWith("facilitator_ids: ")));
  }
  c = Conference();
  c.facilitator_ids = {"f-1", "f-3"};
  EXPECT_THAT(ConferenceQuestion(state(), c, Manager()),
              StatusIs(absl::StatusCode::kFailedPrecondition,
                       "facilitator \"f-3\" is not allocated to case \"c-1\""));
  c = Conference(Utc(2027, 2, 1, 10, 0));
  EXPECT_THAT(ConferenceQuestion(state(), c, Manager()),
              StatusIs(absl::StatusCode::kInvalidArgument, StartsWith("start: ")));
  s_.Erased("sup-1");
  c = Conference();
  EXPECT_THAT(ConferenceQuestion(state(), c, Manager()),
              StatusIs(absl::StatusCode::kFailedPrecondition, HasSubstr("\"sup-1\"")));
}

TEST_F(ScheduleDecideTest, ConferenceApprovalRules) {
  BookConferenceCommand c = Conference();
  BookConferenceCommand missing = c;
  missing.approval.reset();
  EXPECT_THAT(
      DecideBookConference(state(), missing, {}, Manager()),
      StatusIs(
          absl::StatusCode::kFailedPrecondition,
          HasSubstr("needs an APPROVED contact decision (FACE_TO_FACE_CONFERENCE)")));
  BookConferenceCommand video_approval = c;
  video_approval.approval->set_kind(common_v1::VIDEO_MEETING);
  EXPECT_THAT(DecideBookConference(state(), video_approval, {}, Manager()),
              StatusIs(absl::StatusCode::kFailedPrecondition,
                       HasSubstr("decision \"d-1\" approved VIDEO_MEETING")));

  // The service user's VIDEO does not matter to an in-person conference;
  // their FACE_TO_FACE does, as do the victim's PARTICIPATE and FACE_TO_FACE.
  s_.Withdrew("su-1", consent_v1::VIDEO, 41);
  EXPECT_THAT(DecideBookConference(state(), c, {}, Manager()), IsOk());
  for (const auto& [who, scope] :
       std::vector<std::pair<std::string, consent_v1::ConsentScope>>{
           {"su-1", consent_v1::FACE_TO_FACE},
           {"v-1", consent_v1::FACE_TO_FACE},
           {"v-1", consent_v1::PARTICIPATE}}) {
    Stream s = s_;
    s.Withdrew(who, scope, 42);
    EXPECT_THAT(DecideBookConference(s.state, c, {}, Manager()),
                StatusIs(absl::StatusCode::kFailedPrecondition,
                         absl::StrCat("consent withdrawn since decision \"d-1\": ", who,
                                      " withdrew ", consent_v1::ConsentScope_Name(scope),
                                      " at consent-log position 42")))
        << who;
  }
}

TEST_F(ScheduleDecideTest, ConferenceClashesWithItsPeople) {
  Planned();
  // During session 4 (2027-04-06 09:00Z–12:00Z): f-1 and su-1 are busy.
  BookConferenceCommand c = Conference(Utc(2027, 4, 6, 11, 0));
  EXPECT_THAT(
      DecideBookConference(state(), c, {}, Manager()),
      StatusIs(
          absl::StatusCode::kFailedPrecondition,
          "2 clashes: the conference 2027-04-06T11:00:00Z\u20132027-04-06T13:00:00Z UTC: "
          "facilitator f-1 is booked for PROGRAMME_SESSION session 4 s-4 of case c-1, "
          "overlapping 2027-04-06T11:00:00Z\u20132027-04-06T12:00:00Z UTC; the "
          "conference "
          "2027-04-06T11:00:00Z\u20132027-04-06T13:00:00Z UTC: participant su-1 is "
          "booked "
          "for PROGRAMME_SESSION session 4 s-4 of case c-1, overlapping "
          "2027-04-06T11:00:00Z\u20132027-04-06T12:00:00Z UTC"));
}

}  // namespace
}  // namespace mend::schedulingsvc
