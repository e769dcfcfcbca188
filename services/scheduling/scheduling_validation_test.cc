// Request validation of mend.scheduling.v1.SchedulingService: every rule
// names the field it refuses, and a well-formed request passes.
#include "services/scheduling/scheduling_validation.h"

#include <functional>
#include <string>
#include <vector>

#include "gmock/gmock.h"
#include "gtest/gtest.h"

namespace mend::schedulingsvc {
namespace {

namespace v1 = ::mend::scheduling::v1;
using ::testing::HasSubstr;
using ::testing::StartsWith;

v1::LocalTime Local(const std::string& date, const std::string& time,
                    const std::string& zone = "Europe/London") {
  v1::LocalTime t;
  t.set_date(date);
  t.set_time(time);
  t.set_time_zone(zone);
  return t;
}

v1::PlanProgrammeRequest Plan() {
  v1::PlanProgrammeRequest r;
  r.set_request_id("r-1");
  r.set_case_id("case-1");
  r.set_facilitator_id("facilitator-ann");
  *r.mutable_first_session() = Local("2027-03-16", "10:00");
  r.set_venue("probation-office-3");
  return r;
}

v1::BookConferenceRequest Conference() {
  v1::BookConferenceRequest r;
  r.set_request_id("r-2");
  r.set_case_id("case-1");
  r.set_format(v1::IN_PERSON);
  *r.mutable_start() = Local("2027-06-01", "11:00");
  r.set_duration_minutes(120);
  r.set_venue("community-centre-2");
  r.add_participant_ids("su-1");
  r.add_participant_ids("v-1");
  r.add_facilitator_ids("facilitator-ann");
  return r;
}

template <typename Request>
void ExpectRefused(const Request& request, const std::string& field) {
  absl::Status s = Validate(request);
  EXPECT_EQ(s.code(), absl::StatusCode::kInvalidArgument) << field << ": " << s;
  EXPECT_THAT(std::string(s.message()), StartsWith(field + ":")) << s;
}

TEST(SchedulingValidationTest, WellFormedRequestsPass) {
  EXPECT_TRUE(Validate(Plan()).ok()) << Validate(Plan());
  EXPECT_TRUE(Validate(Conference()).ok()) << Validate(Conference());
}

TEST(SchedulingValidationTest, PlanProgrammeNamesEachField) {
  struct Row {
    std::function<void(v1::PlanProgrammeRequest&)> change;
    std::string field;
  };
  const std::vector<Row> rows = {
      {[](auto& r) { r.clear_request_id(); }, "request_id"},
      {[](auto& r) { r.set_case_id("has space"); }, "case_id"},
      {[](auto& r) { r.set_expected_version(0); }, "expected_version"},
      {[](auto& r) { r.clear_facilitator_id(); }, "facilitator_id"},
      {[](auto& r) { r.mutable_first_session()->clear_time_zone(); },
       "first_session.time_zone"},
      {[](auto& r) { r.mutable_first_session()->set_time_zone("Mars/Olympus"); },
       "first_session.time_zone"},
      {[](auto& r) { r.mutable_first_session()->set_date("2027-13-01"); },
       "first_session.date"},
      {[](auto& r) { r.mutable_first_session()->set_time("10:60"); },
       "first_session.time"},
      {[](auto& r) { r.mutable_first_session()->set_date("1999-12-31"); },
       "first_session.date"},
      {[](auto& r) { *r.mutable_first_session() = Local("2027-03-28", "01:30"); },
       "first_session"},
      {[](auto& r) { *r.mutable_first_session() = Local("2027-10-31", "01:30"); },
       "first_session"},
      {[](auto& r) { r.set_cadence_weeks(-1); }, "cadence_weeks"},
      {[](auto& r) { r.set_cadence_weeks(5); }, "cadence_weeks"},
      {[](auto& r) { r.clear_venue(); }, "venue"},
      {[](auto& r) { r.set_venue("Room 4, 2nd floor"); }, "venue"},
      {[](auto& r) { r.add_modules(v1::VICTIM_EMPATHY); }, "modules"},
      {[](auto& r) {
         for (int i = 0; i < 12; ++i) r.add_modules(v1::VICTIM_EMPATHY);
         r.set_modules(4, static_cast<v1::Module>(99));
       },
       "modules[4]"},
  };
  for (const Row& row : rows) {
    v1::PlanProgrammeRequest r = Plan();
    row.change(r);
    ExpectRefused(r, row.field);
  }
}

TEST(SchedulingValidationTest, SkippedAndRepeatedTimesSayWhich) {
  absl::StatusOr<ResolvedTime> skipped =
      ResolveStart("start", Local("2027-03-28", "01:30"));
  ASSERT_FALSE(skipped.ok());
  EXPECT_THAT(std::string(skipped.status().message()), HasSubstr("does not exist"));
  absl::StatusOr<ResolvedTime> repeated =
      ResolveStart("start", Local("2027-10-31", "01:30"));
  ASSERT_FALSE(repeated.ok());
  EXPECT_THAT(std::string(repeated.status().message()), HasSubstr("ambiguous"));
  absl::StatusOr<ResolvedTime> fine = ResolveStart("start", Local("2027-07-01", "10:00"));
  ASSERT_TRUE(fine.ok()) << fine.status();
  EXPECT_EQ(fine->start,
            absl::FromCivil(absl::CivilSecond(2027, 7, 1, 9, 0, 0), absl::UTCTimeZone()));
}

TEST(SchedulingValidationTest, DurationsAndAttendeesAreBounded) {
  v1::BookPreparationMeetingRequest m;
  m.set_request_id("r");
  m.set_case_id("c");
  m.set_participant_id("v-1");
  m.set_facilitator_id("f");
  *m.mutable_start() = Local("2027-06-01", "14:00");
  m.set_venue("hub");
  for (int minutes : {0, 14, 241, -30}) {
    m.set_duration_minutes(minutes);
    ExpectRefused(m, "duration_minutes");
  }
  m.set_duration_minutes(240);
  EXPECT_TRUE(Validate(m).ok());

  v1::BookConferenceRequest c = Conference();
  c.set_duration_minutes(481);
  ExpectRefused(c, "duration_minutes");
  c = Conference();
  c.clear_format();
  ExpectRefused(c, "format");
  c = Conference();
  c.add_participant_ids("su-1");
  ExpectRefused(c, "participant_ids[2]");
  c = Conference();
  c.add_facilitator_ids("facilitator-ann");
  ExpectRefused(c, "facilitator_ids[1]");
  c = Conference();
  c.add_facilitator_ids("b");
  c.add_facilitator_ids("c");
  ExpectRefused(c, "facilitator_ids");
}

TEST(SchedulingValidationTest, CallersGiveOnlyTheirOwnCancellationCauses) {
  v1::CancelSessionRequest r;
  r.set_request_id("r");
  r.set_case_id("c");
  r.set_booking_id("b");
  r.set_cause(v1::CASE_CLOSED);
  r.set_reason("x");
  ExpectRefused(r, "cause");
  r.set_cause(v1::VENUE_UNAVAILABLE);
  EXPECT_TRUE(Validate(r).ok());
  r.clear_reason();
  ExpectRefused(r, "reason");
}

TEST(SchedulingValidationTest, AttendanceNeedsAReasonWhenAbsent) {
  v1::RecordAttendanceRequest r;
  r.set_request_id("r");
  r.set_case_id("c");
  r.set_booking_id("b");
  r.set_attendance(v1::ATTENDED);
  EXPECT_TRUE(Validate(r).ok());
  r.set_attendance(v1::MISSED);
  ExpectRefused(r, "reason");
  r.set_reason("did-not-attend");
  EXPECT_TRUE(Validate(r).ok());
  r.clear_attendance();
  ExpectRefused(r, "attendance");
}

TEST(SchedulingValidationTest, CalendarWindowIsForwardAndBounded) {
  v1::GetFacilitatorCalendarRequest r;
  r.set_facilitator_id("f");
  r.set_from_unix_micros(1000);
  r.set_to_unix_micros(1000);
  ExpectRefused(r, "to_unix_micros");
  r.set_to_unix_micros(1000 + absl::ToInt64Microseconds(absl::Hours(24 * 367)));
  ExpectRefused(r, "to_unix_micros");
  r.set_to_unix_micros(2000);
  EXPECT_TRUE(Validate(r).ok());
  r.set_page_size(501);
  ExpectRefused(r, "page_size");
}

}  // namespace
}  // namespace mend::schedulingsvc
