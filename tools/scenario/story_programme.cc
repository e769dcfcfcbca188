// The programme: twelve weekly three-hour sessions planned with Ann, each
// attended, the fourth missed and made up; its completion moves the case to
// INDIRECT_CONTACT.
#include <map>

#include "absl/strings/match.h"
#include "absl/time/clock.h"
#include "absl/time/time.h"
#include "common/base/status_macros.h"
#include "tools/scenario/story.h"

namespace mend::scenario {
namespace {

constexpr int kMissedSession = 4;

// What the scheduling service says when a session is still to come, and what
// lets a case study through its twelve weeks in minutes.
constexpr char kNotStarted[] = "attendance is recorded";
constexpr char kAllowanceHint[] =
    "; to run the case study's twelve weeks in minutes, start mend-scheduling with "
    "--attendance_before_start=2400h (a training environment's allowance)";

}  // namespace

absl::StatusOr<scheduling_v1::GetCaseScheduleResponse> CaseStory::Schedule() {
  scheduling_v1::GetCaseScheduleRequest r;
  r.set_case_id(record_.case_id);
  *r.mutable_causal_token() = ForScheduling();
  absl::StatusOr<scheduling_v1::GetCaseScheduleResponse> out =
      clients_.Call<scheduling_v1::GetCaseScheduleResponse>(
          ann_, [&](grpc::ClientContext* c, scheduling_v1::GetCaseScheduleResponse* o) {
            return clients_.scheduling().GetCaseSchedule(c, r, o);
          });
  if (!out.ok()) return Named("GetCaseSchedule", out.status());
  return out;
}

absl::Status CaseStory::PlanProgramme() {
  scheduling_v1::PlanProgrammeRequest r;
  r.set_request_id(RequestId("plan"));
  r.set_case_id(record_.case_id);
  r.set_facilitator_id(ann_.subject());
  // Tomorrow at 10:00, then weekly.
  *r.mutable_first_session() = LondonAt(absl::Now() + absl::Hours(24));
  r.mutable_first_session()->set_time("10:00");
  r.set_venue("probation-office-3");
  MEND_RETURN_IF_ERROR(
      SchedulingCommand("PlanProgramme",
                        &scheduling_v1::SchedulingService::Stub::PlanProgramme, r, ann_)
          .status());
  Say("scheduling", absl::StrCat("PlanProgramme: twelve weekly three-hour sessions with ",
                                 ann_.subject(), " from ", r.first_session().date(),
                                 " 10:00 Europe/London"));
  return absl::OkStatus();
}

absl::StatusOr<scheduling_v1::CommandResult> CaseStory::Attend(
    const std::string& booking_id, scheduling_v1::Attendance attendance) {
  scheduling_v1::RecordAttendanceRequest r;
  r.set_request_id(RequestId(absl::StrCat("attend-", booking_id)));
  r.set_case_id(record_.case_id);
  r.set_booking_id(booking_id);
  r.set_attendance(attendance);
  if (attendance != scheduling_v1::ATTENDED) r.set_reason("unwell");
  absl::StatusOr<scheduling_v1::CommandResult> out = SchedulingCommand(
      "RecordAttendance", &scheduling_v1::SchedulingService::Stub::RecordAttendance, r,
      ann_);
  if (!out.ok() && absl::IsFailedPrecondition(out.status()) &&
      absl::StrContains(out.status().message(), kNotStarted)) {
    return absl::FailedPreconditionError(
        absl::StrCat(out.status().message(), kAllowanceHint));
  }
  return out;
}

absl::Status CaseStory::AttendProgramme() {
  MEND_ASSIGN_OR_RETURN(scheduling_v1::GetCaseScheduleResponse schedule, Schedule());
  std::map<int, const scheduling_v1::Booking*> sessions;
  for (const scheduling_v1::Booking& b : schedule.bookings()) {
    if (b.kind() == scheduling_v1::PROGRAMME_SESSION && b.makes_up_booking_id().empty()) {
      sessions[b.session_number()] = &b;
    }
  }
  if (sessions.size() != 12) {
    return absl::FailedPreconditionError(absl::StrCat(
        "GetCaseSchedule: the programme has ", sessions.size(), " sessions, not twelve"));
  }
  bool completed = false;
  for (const auto& [number, session] : sessions) {
    const std::string module = scheduling_v1::Module_Name(session->module());
    if (number != kMissedSession) {
      MEND_ASSIGN_OR_RETURN(scheduling_v1::CommandResult attended,
                            Attend(session->booking_id(), scheduling_v1::ATTENDED));
      completed = attended.programme_completed();
      Say("scheduling",
          absl::StrCat("RecordAttendance: session ", number, " (", module, ") attended"));
      continue;
    }
    MEND_RETURN_IF_ERROR(Attend(session->booking_id(), scheduling_v1::MISSED).status());
    Say("scheduling", absl::StrCat("RecordAttendance: session ", number, " (", module,
                                   ") missed: unwell"));
    // Made up two days later, at the same hour.
    scheduling_v1::BookMakeUpSessionRequest make_up;
    make_up.set_request_id(RequestId("make-up"));
    make_up.set_case_id(record_.case_id);
    make_up.set_makes_up_booking_id(session->booking_id());
    *make_up.mutable_start() = LondonAt(
        absl::FromUnixMicros(session->slot().start_unix_micros()) + absl::Hours(48));
    MEND_ASSIGN_OR_RETURN(
        scheduling_v1::CommandResult booked,
        SchedulingCommand("BookMakeUpSession",
                          &scheduling_v1::SchedulingService::Stub::BookMakeUpSession,
                          make_up, ann_));
    if (booked.booking_ids().empty()) {
      return absl::InternalError("BookMakeUpSession: the answer names no booking");
    }
    Say("scheduling", absl::StrCat("BookMakeUpSession: session ", number, " made up on ",
                                   make_up.start().date(), " ", make_up.start().time()));
    MEND_RETURN_IF_ERROR(Attend(booked.booking_ids(0), scheduling_v1::ATTENDED).status());
    Say("scheduling", absl::StrCat("RecordAttendance: make-up session ", number, " (",
                                   module, ") attended"));
  }
  if (!completed) {
    return absl::FailedPreconditionError(
        "RecordAttendance: twelve sessions attended, but the scheduling service did not "
        "report the programme completed");
  }
  Say("scheduling", "ProgrammeCompleted: twelve sessions, 36 hours");
  return AwaitStage(case_v1::INDIRECT_CONTACT, "ProgrammeCompleted");
}

}  // namespace mend::scenario
