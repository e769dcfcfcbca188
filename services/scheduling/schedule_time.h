// Local wall-clock times in a named IANA time zone, and the weekly cadence
// of the programme: pure functions over absl::TimeZone (the caller loads the
// zone from the system tz database; nothing here reads a clock).
//
//   absl::TimeZone london;
//   absl::LoadTimeZone("Europe/London", &london);
//   auto starts = WeeklyStarts("first_session", {"2027-03-23", "10:00"}, london,
//                              /*cadence_weeks=*/1, /*count=*/12);
//   // every Tuesday at 10:00 London time: 09:00 UTC in summer, 10:00 in winter
#ifndef MEND_SERVICES_SCHEDULING_SCHEDULE_TIME_H_
#define MEND_SERVICES_SCHEDULING_SCHEDULE_TIME_H_

#include <string>
#include <string_view>
#include <vector>

#include "absl/status/statusor.h"
#include "absl/time/civil_time.h"
#include "absl/time/time.h"
#include "mend/scheduling/v1/events.pb.h"

namespace mend::schedulingsvc {

namespace scheduling_v1 = ::mend::scheduling::v1;

// A wall-clock minute: a date (YYYY-MM-DD) and a time (HH:MM).
struct LocalMinute {
  std::string date;
  std::string time;
};

// Parses date and time: INVALID_ARGUMENT "<field>.date: ..." /
// "<field>.time: ..." for a malformed or impossible one.
absl::StatusOr<absl::CivilMinute> ParseLocalMinute(std::string_view field,
                                                   const LocalMinute& local);

// The one instant `minute` names in `zone`. INVALID_ARGUMENT naming `field`
// if it does not exist there (skipped: the clocks go forward over it) or is
// ambiguous (repeated: the clocks go back over it), saying which and the
// zone's name.
absl::StatusOr<absl::Time> ResolveLocal(std::string_view field, absl::CivilMinute minute,
                                        const absl::TimeZone& zone);

// "2027-03-23T10:00": how a Slot shows its local start.
std::string FormatLocalMinute(absl::CivilMinute minute);

// The starts of `count` sessions: `first`, then every `cadence_weeks` weeks
// at the same local time (so the UTC instant moves across daylight-saving
// changes). INVALID_ARGUMENT naming `field` and the session number if one of
// them does not exist or is ambiguous in the zone.
absl::StatusOr<std::vector<absl::Time>> WeeklyStarts(std::string_view field,
                                                     const LocalMinute& first,
                                                     const absl::TimeZone& zone,
                                                     int cadence_weeks, int count);

// The Slot [start, start + length) with its zone and local start.
scheduling_v1::Slot MakeSlot(absl::Time start, absl::Duration length,
                             const absl::TimeZone& zone);

}  // namespace mend::schedulingsvc

#endif  // MEND_SERVICES_SCHEDULING_SCHEDULE_TIME_H_
