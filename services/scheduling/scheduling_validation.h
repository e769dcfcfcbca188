// Input validation for mend.scheduling.v1.SchedulingService requests: the
// checks that need no state. Each function returns OK or INVALID_ARGUMENT
// naming the field (as the proto names it, e.g. "first_session.time_zone")
// and what is wrong. Rules that depend on the case (its participants,
// bookings, allocations; a time in the past) are the domain's
// (schedule_decide.h) and come after these.
//
// Times: a LocalTime needs a date (YYYY-MM-DD), a time (HH:MM) and a time
// zone the system tz database knows (an IANA name); ResolveStart gives the
// one instant it names, refusing a time that does not exist in the zone or
// is ambiguous there (schedule_time.h), and a year outside 2000..2200 (a
// time in the past is the domain's to refuse: it knows the command's now).
// Durations: preparation meetings 15..240 minutes, conferences 30..480.
// Venues and reasons are codes ([A-Za-z0-9._-]{1,32}): the log is never
// erased, so no free text.
#ifndef MEND_SERVICES_SCHEDULING_SCHEDULING_VALIDATION_H_
#define MEND_SERVICES_SCHEDULING_SCHEDULING_VALIDATION_H_

#include <string_view>

#include "absl/status/status.h"
#include "absl/status/statusor.h"
#include "absl/time/time.h"
#include "mend/scheduling/v1/scheduling_service.pb.h"

namespace mend::schedulingsvc {

inline constexpr int kMaxCalendarPageSize = 500;
inline constexpr int kDefaultCalendarPageSize = 100;
inline constexpr absl::Duration kMaxCalendarWindow = absl::Hours(24 * 366);
inline constexpr int kMinMeetingMinutes = 15;
inline constexpr int kMaxMeetingMinutes = 240;
inline constexpr int kMinConferenceMinutes = 30;
inline constexpr int kMaxConferenceMinutes = 480;

// A LocalTime resolved: the instant and its zone.
struct ResolvedTime {
  absl::Time start;
  absl::TimeZone zone;
};
// INVALID_ARGUMENT "<field>.date/.time/.time_zone: ..." or "<field>: ..."
// (does not exist / is ambiguous in the zone).
absl::StatusOr<ResolvedTime> ResolveStart(std::string_view field,
                                          const scheduling::v1::LocalTime& local);

absl::Status Validate(const scheduling::v1::PlanProgrammeRequest& request);
absl::Status Validate(const scheduling::v1::RescheduleSessionRequest& request);
absl::Status Validate(const scheduling::v1::CancelSessionRequest& request);
absl::Status Validate(const scheduling::v1::BookMakeUpSessionRequest& request);
absl::Status Validate(const scheduling::v1::RecordAttendanceRequest& request);
absl::Status Validate(const scheduling::v1::BookPreparationMeetingRequest& request);
absl::Status Validate(const scheduling::v1::BookConferenceRequest& request);
absl::Status Validate(const scheduling::v1::GetCaseScheduleRequest& request);
absl::Status Validate(const scheduling::v1::GetFacilitatorCalendarRequest& request);

}  // namespace mend::schedulingsvc

#endif  // MEND_SERVICES_SCHEDULING_SCHEDULING_VALIDATION_H_
