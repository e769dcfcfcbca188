#include "services/scheduling/schedule_time.h"

#include <optional>
#include <string>

#include "absl/status/status.h"
#include "absl/strings/str_cat.h"
#include "common/base/status_macros.h"
#include "common/base/validation.h"

namespace mend::schedulingsvc {
namespace {

bool IsDigit(char c) { return c >= '0' && c <= '9'; }

// "HH:MM", 00:00..23:59, exactly five characters.
std::optional<std::pair<int, int>> ParseHourMinute(std::string_view s) {
  if (s.size() != 5 || !IsDigit(s[0]) || !IsDigit(s[1]) || s[2] != ':' ||
      !IsDigit(s[3]) || !IsDigit(s[4])) {
    return std::nullopt;
  }
  const int hour = (s[0] - '0') * 10 + (s[1] - '0');
  const int minute = (s[3] - '0') * 10 + (s[4] - '0');
  if (hour > 23 || minute > 59) return std::nullopt;
  return std::make_pair(hour, minute);
}

// Why `minute` names no single instant in `zone` ("does not exist in
// Europe/London (...)"), or nullopt with the instant in *out.
std::optional<std::string> Unresolvable(absl::CivilMinute minute,
                                        const absl::TimeZone& zone, absl::Time* out) {
  const absl::TimeZone::TimeInfo info = zone.At(absl::CivilSecond(minute));
  switch (info.kind) {
    case absl::TimeZone::TimeInfo::UNIQUE:
      *out = info.pre;
      return std::nullopt;
    case absl::TimeZone::TimeInfo::SKIPPED:
      return absl::StrCat("does not exist in ", zone.name(),
                          " (the clocks go forward over it)");
    case absl::TimeZone::TimeInfo::REPEATED:
      return absl::StrCat("is ambiguous in ", zone.name(),
                          " (the clocks go back over it: it happens twice)");
  }
  return absl::StrCat("cannot be resolved in ", zone.name());
}

}  // namespace

absl::StatusOr<absl::CivilMinute> ParseLocalMinute(std::string_view field,
                                                   const LocalMinute& local) {
  MEND_ASSIGN_OR_RETURN(absl::CivilDay day,
                        ParseDate(absl::StrCat(std::string(field), ".date"), local.date));
  const std::optional<std::pair<int, int>> hm = ParseHourMinute(local.time);
  if (!hm.has_value()) {
    return Invalid(absl::StrCat(std::string(field), ".time"),
                   "must be a time written HH:MM, 00:00 to 23:59");
  }
  return absl::CivilMinute(day.year(), day.month(), day.day(), hm->first, hm->second);
}

absl::StatusOr<absl::Time> ResolveLocal(std::string_view field, absl::CivilMinute minute,
                                        const absl::TimeZone& zone) {
  absl::Time t;
  if (std::optional<std::string> why = Unresolvable(minute, zone, &t)) {
    return Invalid(field, absl::StrCat(FormatLocalMinute(minute), " ", *why));
  }
  return t;
}

std::string FormatLocalMinute(absl::CivilMinute minute) {
  return absl::FormatCivilTime(minute);  // "2027-03-23T10:00"
}

absl::StatusOr<std::vector<absl::Time>> WeeklyStarts(std::string_view field,
                                                     const LocalMinute& first,
                                                     const absl::TimeZone& zone,
                                                     int cadence_weeks, int count) {
  if (cadence_weeks < 1 || cadence_weeks > 4) {
    return absl::InvalidArgumentError(
        absl::StrCat("cadence_weeks: is ", cadence_weeks, ", not 1 to 4"));
  }
  if (count < 1) {
    return absl::InvalidArgumentError(
        absl::StrCat("WeeklyStarts: count is ", count, ", not at least 1"));
  }
  MEND_ASSIGN_OR_RETURN(absl::CivilMinute first_minute, ParseLocalMinute(field, first));
  const absl::CivilDay first_day(first_minute);
  std::vector<absl::Time> starts;
  starts.reserve(count);
  for (int i = 0; i < count; ++i) {
    // The same wall-clock time on the day, so the UTC instant follows the
    // zone's offset on that day.
    const absl::CivilDay day = first_day + 7 * cadence_weeks * i;
    const absl::CivilMinute minute(day.year(), day.month(), day.day(),
                                   first_minute.hour(), first_minute.minute());
    absl::Time t;
    if (std::optional<std::string> why = Unresolvable(minute, zone, &t)) {
      return Invalid(field, absl::StrCat("session ", i + 1, " falls on ",
                                         FormatLocalMinute(minute), ", which ", *why));
    }
    starts.push_back(t);
  }
  return starts;
}

scheduling_v1::Slot MakeSlot(absl::Time start, absl::Duration length,
                             const absl::TimeZone& zone) {
  scheduling_v1::Slot slot;
  slot.set_start_unix_micros(absl::ToUnixMicros(start));
  slot.set_end_unix_micros(absl::ToUnixMicros(start + length));
  slot.set_time_zone(zone.name());
  slot.set_local_start(FormatLocalMinute(absl::CivilMinute(zone.At(start).cs)));
  return slot;
}

}  // namespace mend::schedulingsvc
