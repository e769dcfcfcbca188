#include "services/scheduling/schedule_time.h"

#include <string>
#include <vector>

#include "absl/time/civil_time.h"
#include "absl/time/time.h"
#include "gmock/gmock.h"
#include "gtest/gtest.h"
#include "tests/support/test_util.h"

namespace mend::schedulingsvc {
namespace {

using ::mend::testing::IsOk;
using ::mend::testing::StatusIs;
using ::testing::ElementsAreArray;
using ::testing::HasSubstr;

absl::TimeZone Zone(const std::string& name) {
  absl::TimeZone zone;
  EXPECT_TRUE(absl::LoadTimeZone(name, &zone)) << name;
  return zone;
}

absl::Time Utc(int y, int m, int d, int hh, int mm) {
  return absl::FromCivil(absl::CivilMinute(y, m, d, hh, mm), absl::UTCTimeZone());
}

TEST(ParseLocalMinuteTest, ParsesDateAndTime) {
  absl::StatusOr<absl::CivilMinute> m =
      ParseLocalMinute("first_session", {"2027-03-16", "10:00"});
  ASSERT_THAT(m, IsOk());
  EXPECT_EQ(*m, absl::CivilMinute(2027, 3, 16, 10, 0));
  EXPECT_EQ(*ParseLocalMinute("f", {"2027-12-31", "00:00"}),
            absl::CivilMinute(2027, 12, 31, 0, 0));
  EXPECT_EQ(*ParseLocalMinute("f", {"2028-02-29", "23:59"}),
            absl::CivilMinute(2028, 2, 29, 23, 59));
}

TEST(ParseLocalMinuteTest, MalformedDatesNameTheDateField) {
  for (const char* date : {"2027-02-30", "2027-02-29", "2027-3-16", "16/03/2027", "",
                           "2027-03-16T10:00", "2027-13-01"}) {
    EXPECT_THAT(ParseLocalMinute("first_session", {date, "10:00"}),
                StatusIs(absl::StatusCode::kInvalidArgument,
                         "first_session.date: must be a real date written YYYY-MM-DD"))
        << date;
  }
}

TEST(ParseLocalMinuteTest, MalformedTimesNameTheTimeField) {
  for (const char* time : {"24:00", "10:60", "9:00", "10:0", "10.00", "10:00:00", "",
                           " 10:00", "-1:00", "ab:cd"}) {
    EXPECT_THAT(
        ParseLocalMinute("first_session", {"2027-03-16", time}),
        StatusIs(absl::StatusCode::kInvalidArgument,
                 "first_session.time: must be a time written HH:MM, 00:00 to 23:59"))
        << "'" << time << "'";
  }
}

TEST(ResolveLocalTest, UniqueTimes) {
  const absl::TimeZone london = Zone("Europe/London");
  EXPECT_EQ(*ResolveLocal("start", absl::CivilMinute(2027, 3, 16, 10, 0), london),
            Utc(2027, 3, 16, 10, 0));  // GMT
  EXPECT_EQ(*ResolveLocal("start", absl::CivilMinute(2027, 7, 1, 10, 0), london),
            Utc(2027, 7, 1, 9, 0));  // BST
  // Just either side of the gaps.
  EXPECT_EQ(*ResolveLocal("start", absl::CivilMinute(2027, 3, 28, 0, 59), london),
            Utc(2027, 3, 28, 0, 59));
  EXPECT_EQ(*ResolveLocal("start", absl::CivilMinute(2027, 3, 28, 2, 0), london),
            Utc(2027, 3, 28, 1, 0));
  EXPECT_EQ(*ResolveLocal("start", absl::CivilMinute(2027, 10, 31, 2, 0), london),
            Utc(2027, 10, 31, 2, 0));
}

TEST(ResolveLocalTest, SkippedTimeIsInvalidNamingTheField) {
  EXPECT_THAT(ResolveLocal("first_session", absl::CivilMinute(2027, 3, 28, 1, 30),
                           Zone("Europe/London")),
              StatusIs(absl::StatusCode::kInvalidArgument,
                       "first_session: 2027-03-28T01:30 does not exist in Europe/London "
                       "(the clocks go forward over it)"));
  EXPECT_THAT(
      ResolveLocal("start", absl::CivilMinute(2027, 3, 28, 1, 0), Zone("Europe/London")),
      StatusIs(absl::StatusCode::kInvalidArgument,
               HasSubstr("start: 2027-03-28T01:00 does not exist")));
}

TEST(ResolveLocalTest, AmbiguousTimeIsInvalidNamingTheField) {
  EXPECT_THAT(
      ResolveLocal("first_session", absl::CivilMinute(2027, 10, 31, 1, 30),
                   Zone("Europe/London")),
      StatusIs(absl::StatusCode::kInvalidArgument,
               "first_session: 2027-10-31T01:30 is ambiguous in Europe/London (the "
               "clocks go back over it: it happens twice)"));
}

TEST(ResolveLocalTest, OtherZones) {
  // New York springs forward at 02:00 on 2027-03-14 and falls back at 02:00
  // on 2027-11-07.
  const absl::TimeZone ny = Zone("America/New_York");
  EXPECT_THAT(ResolveLocal("start", absl::CivilMinute(2027, 3, 14, 2, 30), ny),
              StatusIs(absl::StatusCode::kInvalidArgument,
                       "start: 2027-03-14T02:30 does not exist in America/New_York (the "
                       "clocks go forward over it)"));
  EXPECT_THAT(
      ResolveLocal("start", absl::CivilMinute(2027, 11, 7, 1, 30), ny),
      StatusIs(absl::StatusCode::kInvalidArgument,
               "start: 2027-11-07T01:30 is ambiguous in America/New_York (the clocks "
               "go back over it: it happens twice)"));
  // Sydney: back at 03:00 on 2027-04-04, forward at 02:00 on 2027-10-03.
  const absl::TimeZone sydney = Zone("Australia/Sydney");
  EXPECT_THAT(ResolveLocal("start", absl::CivilMinute(2027, 4, 4, 2, 30), sydney),
              StatusIs(absl::StatusCode::kInvalidArgument,
                       HasSubstr("is ambiguous in Australia/Sydney")));
  EXPECT_THAT(ResolveLocal("start", absl::CivilMinute(2027, 10, 3, 2, 30), sydney),
              StatusIs(absl::StatusCode::kInvalidArgument,
                       HasSubstr("does not exist in Australia/Sydney")));
  // A zone without daylight saving has neither.
  EXPECT_EQ(
      *ResolveLocal("start", absl::CivilMinute(2027, 3, 28, 1, 30), absl::UTCTimeZone()),
      Utc(2027, 3, 28, 1, 30));
}

TEST(WeeklyStartsTest, LondonProgrammeAcrossTheSpringChange) {
  // Tuesdays at 10:00 London time; the clocks go forward on Sunday 28 March.
  absl::StatusOr<std::vector<absl::Time>> starts = WeeklyStarts(
      "first_session", {"2027-03-16", "10:00"}, Zone("Europe/London"), 1, 12);
  ASSERT_THAT(starts, IsOk());
  EXPECT_THAT(*starts, ElementsAreArray({
                           Utc(2027, 3, 16, 10, 0),  // GMT
                           Utc(2027, 3, 23, 10, 0),
                           Utc(2027, 3, 30, 9, 0),  // BST from here
                           Utc(2027, 4, 6, 9, 0),
                           Utc(2027, 4, 13, 9, 0),
                           Utc(2027, 4, 20, 9, 0),
                           Utc(2027, 4, 27, 9, 0),
                           Utc(2027, 5, 4, 9, 0),
                           Utc(2027, 5, 11, 9, 0),
                           Utc(2027, 5, 18, 9, 0),
                           Utc(2027, 5, 25, 9, 0),
                           Utc(2027, 6, 1, 9, 0),
                       }));
}

TEST(WeeklyStartsTest, LondonProgrammeAcrossTheAutumnChange) {
  // The clocks go back on Sunday 31 October: 10:00 local is 10:00Z again.
  absl::StatusOr<std::vector<absl::Time>> starts =
      WeeklyStarts("first_session", {"2027-10-19", "10:00"}, Zone("Europe/London"), 1, 4);
  ASSERT_THAT(starts, IsOk());
  EXPECT_THAT(*starts, ElementsAreArray({
                           Utc(2027, 10, 19, 9, 0),
                           Utc(2027, 10, 26, 9, 0),
                           Utc(2027, 11, 2, 10, 0),
                           Utc(2027, 11, 9, 10, 0),
                       }));
}

TEST(WeeklyStartsTest, FortnightlyAcrossBothChangesInNewYork) {
  // Every two weeks from Tuesday 2 March 2027, 18:00 New York time.
  absl::StatusOr<std::vector<absl::Time>> starts = WeeklyStarts(
      "first_session", {"2027-03-02", "18:00"}, Zone("America/New_York"), 2, 2);
  ASSERT_THAT(starts, IsOk());
  EXPECT_THAT(*starts, ElementsAreArray({Utc(2027, 3, 2, 23, 0),      // EST
                                         Utc(2027, 3, 16, 22, 0)}));  // EDT
  starts = WeeklyStarts("first_session", {"2027-10-26", "18:00"},
                        Zone("America/New_York"), 2, 2);
  ASSERT_THAT(starts, IsOk());
  EXPECT_THAT(*starts, ElementsAreArray({Utc(2027, 10, 26, 22, 0),    // EDT
                                         Utc(2027, 11, 9, 23, 0)}));  // EST
}

TEST(WeeklyStartsTest, SydneyChangesTheOtherWayRound) {
  // Sydney leaves daylight saving (UTC+11 → +10) on 4 April and enters it
  // on 3 October 2027.
  absl::StatusOr<std::vector<absl::Time>> starts = WeeklyStarts(
      "first_session", {"2027-03-30", "10:00"}, Zone("Australia/Sydney"), 1, 2);
  ASSERT_THAT(starts, IsOk());
  EXPECT_THAT(*starts, ElementsAreArray({Utc(2027, 3, 29, 23, 0),   // AEDT
                                         Utc(2027, 4, 6, 0, 0)}));  // AEST
  starts = WeeklyStarts("first_session", {"2027-09-28", "10:00"},
                        Zone("Australia/Sydney"), 1, 2);
  ASSERT_THAT(starts, IsOk());
  EXPECT_THAT(*starts, ElementsAreArray({Utc(2027, 9, 28, 0, 0),      // AEST
                                         Utc(2027, 10, 4, 23, 0)}));  // AEDT
}

TEST(WeeklyStartsTest, ASessionOnASkippedTimeNamesItsNumber) {
  // 01:30 on Sundays from 28 February: the fifth is 28 March, which has no
  // 01:30 in London.
  EXPECT_THAT(
      WeeklyStarts("first_session", {"2027-02-28", "01:30"}, Zone("Europe/London"), 1,
                   12),
      StatusIs(absl::StatusCode::kInvalidArgument,
               "first_session: session 5 falls on 2027-03-28T01:30, which does not "
               "exist in Europe/London (the clocks go forward over it)"));
  // Only four sessions: none lands on it.
  EXPECT_THAT(
      WeeklyStarts("first_session", {"2027-02-28", "01:30"}, Zone("Europe/London"), 1, 4),
      IsOk());
}

TEST(WeeklyStartsTest, ASessionOnARepeatedTimeNamesItsNumber) {
  EXPECT_THAT(
      WeeklyStarts("first_session", {"2027-10-03", "01:30"}, Zone("Europe/London"), 2,
                   12),
      StatusIs(absl::StatusCode::kInvalidArgument,
               "first_session: session 3 falls on 2027-10-31T01:30, which is ambiguous "
               "in Europe/London (the clocks go back over it: it happens twice)"));
}

TEST(WeeklyStartsTest, TheFirstSessionItselfSkipped) {
  EXPECT_THAT(WeeklyStarts("first_session", {"2027-03-28", "01:30"},
                           Zone("Europe/London"), 1, 12),
              StatusIs(absl::StatusCode::kInvalidArgument,
                       HasSubstr("first_session: session 1 falls on 2027-03-28T01:30")));
}

TEST(WeeklyStartsTest, MalformedFirstSession) {
  EXPECT_THAT(
      WeeklyStarts("first_session", {"2027-02-30", "10:00"}, Zone("Europe/London"), 1,
                   12),
      StatusIs(absl::StatusCode::kInvalidArgument, HasSubstr("first_session.date: ")));
  EXPECT_THAT(
      WeeklyStarts("first_session", {"2027-03-16", "25:00"}, Zone("Europe/London"), 1,
                   12),
      StatusIs(absl::StatusCode::kInvalidArgument, HasSubstr("first_session.time: ")));
}

TEST(WeeklyStartsTest, CadenceAndCountOutOfRange) {
  const absl::TimeZone london = Zone("Europe/London");
  for (int cadence : {0, 5, -1}) {
    EXPECT_THAT(
        WeeklyStarts("first_session", {"2027-03-16", "10:00"}, london, cadence, 12),
        StatusIs(absl::StatusCode::kInvalidArgument, HasSubstr("cadence_weeks")))
        << cadence;
  }
  EXPECT_THAT(WeeklyStarts("first_session", {"2027-03-16", "10:00"}, london, 1, 0),
              StatusIs(absl::StatusCode::kInvalidArgument, HasSubstr("count")));
  absl::StatusOr<std::vector<absl::Time>> four_weekly =
      WeeklyStarts("first_session", {"2027-01-05", "10:00"}, london, 4, 3);
  ASSERT_THAT(four_weekly, IsOk());
  EXPECT_THAT(*four_weekly,
              ElementsAreArray({Utc(2027, 1, 5, 10, 0), Utc(2027, 2, 2, 10, 0),
                                Utc(2027, 3, 2, 10, 0)}));
}

TEST(TimeZoneTest, AnUnknownZoneDoesNotLoad) {
  // The validation layer relies on this to reject a zone before anything
  // here sees it.
  absl::TimeZone zone;
  EXPECT_FALSE(absl::LoadTimeZone("Mars/Olympus", &zone));
  EXPECT_TRUE(absl::LoadTimeZone("Europe/London", &zone));
  EXPECT_EQ(zone.name(), "Europe/London");
}

TEST(MakeSlotTest, HoldsTheUtcIntervalZoneAndLocalStart) {
  const scheduling_v1::Slot slot =
      MakeSlot(Utc(2027, 3, 30, 9, 0), absl::Hours(3), Zone("Europe/London"));
  EXPECT_EQ(slot.start_unix_micros(), absl::ToUnixMicros(Utc(2027, 3, 30, 9, 0)));
  EXPECT_EQ(slot.end_unix_micros(), absl::ToUnixMicros(Utc(2027, 3, 30, 12, 0)));
  EXPECT_EQ(slot.time_zone(), "Europe/London");
  EXPECT_EQ(slot.local_start(), "2027-03-30T10:00");

  const scheduling_v1::Slot winter =
      MakeSlot(Utc(2027, 3, 23, 10, 0), absl::Minutes(90), Zone("Europe/London"));
  EXPECT_EQ(winter.local_start(), "2027-03-23T10:00");
  EXPECT_EQ(winter.end_unix_micros() - winter.start_unix_micros(),
            int64_t{90} * 60 * 1000000);
}

TEST(FormatLocalMinuteTest, Format) {
  EXPECT_EQ(FormatLocalMinute(absl::CivilMinute(2027, 3, 23, 10, 0)), "2027-03-23T10:00");
  EXPECT_EQ(FormatLocalMinute(absl::CivilMinute(2027, 1, 2, 3, 4)), "2027-01-02T03:04");
}

}  // namespace
}  // namespace mend::schedulingsvc
