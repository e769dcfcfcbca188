#include "services/scheduling/scheduling_validation.h"

#include <set>
#include <string>

#include "absl/strings/str_cat.h"
#include "common/base/status_macros.h"
#include "common/base/validation.h"
#include "services/scheduling/schedule_state.h"
#include "services/scheduling/schedule_time.h"

namespace mend::schedulingsvc {
namespace {

namespace v1 = ::mend::scheduling::v1;

// request_id, case_id and expected_version: every command has them.
template <typename Request>
absl::Status ValidateCommand(const Request& request) {
  MEND_RETURN_IF_ERROR(ValidateId("request_id", request.request_id()));
  MEND_RETURN_IF_ERROR(ValidateId("case_id", request.case_id()));
  return ValidateExpectedVersion(request.has_expected_version(),
                                 request.expected_version(), "a case's schedule stream");
}

absl::Status ValidateLocal(std::string_view field, const v1::LocalTime& local) {
  return ResolveStart(field, local).status();
}

absl::Status ValidateMinutes(std::string_view field, int32_t minutes, int32_t min,
                             int32_t max) {
  if (minutes < min || minutes > max) {
    return Invalid(field,
                   absl::StrCat("must be ", min, "..", max, " minutes, not ", minutes));
  }
  return absl::OkStatus();
}

}  // namespace

absl::StatusOr<ResolvedTime> ResolveStart(std::string_view field,
                                          const v1::LocalTime& local) {
  const std::string f(field);
  if (local.time_zone().empty()) return Invalid(f + ".time_zone", "is required");
  ResolvedTime out;
  if (local.time_zone().size() > 64 ||
      !absl::LoadTimeZone(local.time_zone(), &out.zone)) {
    return Invalid(f + ".time_zone",
                   absl::StrCat("unknown time zone \"", local.time_zone().substr(0, 64),
                                "\" (an IANA name, e.g. Europe/London)"));
  }
  MEND_ASSIGN_OR_RETURN(absl::CivilMinute minute,
                        ParseLocalMinute(field, {local.date(), local.time()}));
  MEND_ASSIGN_OR_RETURN(out.start, ResolveLocal(field, minute, out.zone));
  // Far-off years are a typo; the past is the domain's to judge (it knows now).
  if (minute.year() < 2000 || minute.year() > 2200) {
    return Invalid(f + ".date", absl::StrCat("year ", minute.year(), " is out of range"));
  }
  return out;
}

absl::Status Validate(const v1::PlanProgrammeRequest& request) {
  MEND_RETURN_IF_ERROR(ValidateCommand(request));
  MEND_RETURN_IF_ERROR(ValidateId("facilitator_id", request.facilitator_id()));
  MEND_RETURN_IF_ERROR(ValidateLocal("first_session", request.first_session()));
  if (request.cadence_weeks() < 0 || request.cadence_weeks() > 4) {
    return Invalid("cadence_weeks", absl::StrCat("must be 1..4 (0 means 1), not ",
                                                 request.cadence_weeks()));
  }
  MEND_RETURN_IF_ERROR(ValidateCode("venue", request.venue()));
  if (request.modules_size() != 0 && request.modules_size() != kProgrammeSessions) {
    return Invalid("modules", absl::StrCat("must name all ", kProgrammeSessions,
                                           " sessions' modules, or none for the standard "
                                           "order; not ",
                                           request.modules_size()));
  }
  for (int i = 0; i < request.modules_size(); ++i) {
    MEND_RETURN_IF_ERROR(ValidateEnum(absl::StrCat("modules[", i, "]"),
                                      request.modules(i), v1::Module_IsValid));
  }
  return absl::OkStatus();
}

absl::Status Validate(const v1::RescheduleSessionRequest& request) {
  MEND_RETURN_IF_ERROR(ValidateCommand(request));
  MEND_RETURN_IF_ERROR(ValidateId("booking_id", request.booking_id()));
  MEND_RETURN_IF_ERROR(ValidateLocal("start", request.start()));
  MEND_RETURN_IF_ERROR(ValidateCode("venue", request.venue(), /*required=*/false));
  return ValidateCode("reason", request.reason());
}

absl::Status Validate(const v1::CancelSessionRequest& request) {
  MEND_RETURN_IF_ERROR(ValidateCommand(request));
  MEND_RETURN_IF_ERROR(ValidateId("booking_id", request.booking_id()));
  MEND_RETURN_IF_ERROR(
      ValidateEnum("cause", request.cause(), v1::CancellationCause_IsValid));
  if (request.cause() > v1::OTHER_CAUSE) {
    return Invalid("cause", absl::StrCat(v1::CancellationCause_Name(request.cause()),
                                         " is set by the service itself; give one of "
                                         "FACILITATOR_UNAVAILABLE..OTHER_CAUSE"));
  }
  return ValidateCode("reason", request.reason());
}

absl::Status Validate(const v1::BookMakeUpSessionRequest& request) {
  MEND_RETURN_IF_ERROR(ValidateCommand(request));
  MEND_RETURN_IF_ERROR(ValidateId("makes_up_booking_id", request.makes_up_booking_id()));
  MEND_RETURN_IF_ERROR(ValidateLocal("start", request.start()));
  MEND_RETURN_IF_ERROR(ValidateCode("venue", request.venue(), /*required=*/false));
  return ValidateOptionalId("facilitator_id", request.facilitator_id());
}

absl::Status Validate(const v1::RecordAttendanceRequest& request) {
  MEND_RETURN_IF_ERROR(ValidateCommand(request));
  MEND_RETURN_IF_ERROR(ValidateId("booking_id", request.booking_id()));
  MEND_RETURN_IF_ERROR(
      ValidateEnum("attendance", request.attendance(), v1::Attendance_IsValid));
  const bool absent = request.attendance() != v1::ATTENDED;
  MEND_RETURN_IF_ERROR(ValidateCode("reason", request.reason(), /*required=*/absent));
  return absl::OkStatus();
}

absl::Status Validate(const v1::BookPreparationMeetingRequest& request) {
  MEND_RETURN_IF_ERROR(ValidateCommand(request));
  MEND_RETURN_IF_ERROR(ValidateId("participant_id", request.participant_id()));
  MEND_RETURN_IF_ERROR(ValidateId("facilitator_id", request.facilitator_id()));
  MEND_RETURN_IF_ERROR(ValidateLocal("start", request.start()));
  MEND_RETURN_IF_ERROR(ValidateMinutes("duration_minutes", request.duration_minutes(),
                                       kMinMeetingMinutes, kMaxMeetingMinutes));
  return ValidateCode("venue", request.venue());
}

absl::Status Validate(const v1::BookConferenceRequest& request) {
  MEND_RETURN_IF_ERROR(ValidateCommand(request));
  MEND_RETURN_IF_ERROR(
      ValidateEnum("format", request.format(), v1::ConferenceFormat_IsValid));
  MEND_RETURN_IF_ERROR(ValidateLocal("start", request.start()));
  MEND_RETURN_IF_ERROR(ValidateMinutes("duration_minutes", request.duration_minutes(),
                                       kMinConferenceMinutes, kMaxConferenceMinutes));
  MEND_RETURN_IF_ERROR(ValidateCode("venue", request.venue()));
  if (request.participant_ids_size() < 2 || request.participant_ids_size() > 20) {
    return Invalid("participant_ids",
                   "must name 2..20 participants (the service user, the victim, "
                   "their supporters and interpreters)");
  }
  std::set<std::string> seen;
  for (int i = 0; i < request.participant_ids_size(); ++i) {
    const std::string field = absl::StrCat("participant_ids[", i, "]");
    MEND_RETURN_IF_ERROR(ValidateId(field, request.participant_ids(i)));
    if (!seen.insert(request.participant_ids(i)).second) {
      return Invalid(field,
                     absl::StrCat("\"", request.participant_ids(i), "\" is named twice"));
    }
  }
  if (request.facilitator_ids_size() < 1 || request.facilitator_ids_size() > 2) {
    return Invalid("facilitator_ids", "must name one or two facilitators");
  }
  for (int i = 0; i < request.facilitator_ids_size(); ++i) {
    MEND_RETURN_IF_ERROR(
        ValidateId(absl::StrCat("facilitator_ids[", i, "]"), request.facilitator_ids(i)));
  }
  if (request.facilitator_ids_size() == 2 &&
      request.facilitator_ids(0) == request.facilitator_ids(1)) {
    return Invalid("facilitator_ids[1]", "is the same facilitator as facilitator_ids[0]");
  }
  return absl::OkStatus();
}

absl::Status Validate(const v1::GetCaseScheduleRequest& request) {
  return ValidateId("case_id", request.case_id());
}

absl::Status Validate(const v1::GetFacilitatorCalendarRequest& request) {
  MEND_RETURN_IF_ERROR(ValidateId("facilitator_id", request.facilitator_id()));
  if (request.to_unix_micros() <= request.from_unix_micros()) {
    return Invalid("to_unix_micros", "must be after from_unix_micros");
  }
  const absl::Duration window = absl::Microseconds(request.to_unix_micros()) -
                                absl::Microseconds(request.from_unix_micros());
  if (window > kMaxCalendarWindow) {
    return Invalid("to_unix_micros", "the window is at most 366 days");
  }
  if (request.page_size() < 0 || request.page_size() > kMaxCalendarPageSize) {
    return Invalid("page_size", absl::StrCat("must be 0..", kMaxCalendarPageSize));
  }
  if (request.page_token().size() > 256) return Invalid("page_token", "is too long");
  return absl::OkStatus();
}

}  // namespace mend::schedulingsvc
