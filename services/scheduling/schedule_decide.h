// The scheduling service's commands: pure decide functions over one case's
// ScheduleState (schedule_state.h). Each returns the event(s) to append, or
// the error that is the command's answer (nothing appended). The gRPC layer
// resolves local times (schedule_time.h), makes ids, asks the contact gate
// and reads the facilitators' other bookings before calling them; nothing
// here reads a clock (CommandContext::now), a store or the network.
//
// Errors (the first below is answered before anything else; every clash is
// looked for last, once the command is otherwise acceptable):
//   PERMISSION_DENIED    a facilitator caller not allocated to the case
//                        (first, even for an unknown case: they learn nothing)
//   NOT_FOUND            the case is not known to the service (the message
//                        says so; pass a causal token if it is new); a
//                        booking id the case does not have
//   FAILED_PRECONDITION  the case is closed, or paused (for a command that
//                        books or moves a booking); the rule that forbids
//                        it now (a facilitator not allocated, a session
//                        already recorded, the programme planned already,
//                        a withdrawal since the decision, ...); every clash
//   INVALID_ARGUMENT     a time in the past where one is not allowed
//                        (naming the field), a participant who is not of
//                        the case or of the wrong role
#ifndef MEND_SERVICES_SCHEDULING_SCHEDULE_DECIDE_H_
#define MEND_SERVICES_SCHEDULING_SCHEDULE_DECIDE_H_

#include <optional>
#include <string>
#include <vector>

#include "absl/status/status.h"
#include "absl/status/statusor.h"
#include "absl/time/time.h"
#include "common/base/command_context.h"
#include "mend/common/v1/contact.pb.h"
#include "mend/scheduling/v1/events.pb.h"
#include "services/scheduling/schedule_state.h"

namespace mend::schedulingsvc {

// The upstream positions the service had handled when it decided: recorded
// as `handled` in every event.
using Handled = common_v1::CausalToken;

// PERMISSION_DENIED unless the caller may act on / read the case: managers,
// auditors (reads) and services always; a facilitator only when allocated
// to it. (Who may call which method at all is the method table's.)
absl::Status CheckCanAct(const ScheduleState& state, std::string_view case_id,
                         const CommandContext& ctx);

// One clash: what was proposed, with whom, against which booking, and the
// overlap.
struct Clash {
  std::string what;         // "session 3", "the preparation meeting", "the conference"
  absl::Time start, end;    // the proposed booking's [start, end)
  std::string who;          // "facilitator f-1", "participant su-1", "venue hall-2 ..."
  bool venue_rule = false;  // a clash of the venue rule, not of a person's time
  std::string other_case_id;
  std::string other_booking_id;
  scheduling_v1::BookingKind other_kind = scheduling_v1::BOOKING_KIND_UNSPECIFIED;
  int32_t other_session_number = 0;
  absl::Time overlap_start, overlap_end;  // the venue rule: the two bookings' span
};

// A booking a command proposes, for clash checks.
struct ProposedBooking {
  std::string what;  // as Clash::what
  scheduling_v1::BookingKind kind = scheduling_v1::BOOKING_KIND_UNSPECIFIED;
  absl::Time start, end;
  std::string venue;
  std::vector<std::string> facilitator_ids;
  std::vector<scheduling_v1::Attendee> attendees;
  std::string replaces_booking_id;  // a reschedule: the booking's old time is free
};

// Every clash of `p`: a facilitator of it with a live booking overlapping it
// (in this case from `state`; in others from `others`, the facilitators'
// bookings from CalendarIndex — entries of state.case_id there are ignored);
// a person it books with a live booking of theirs in this case overlapping
// it; and, outside a conference, a victim-side booking (a victim, co-victim
// or their supporter) and a service-user-side booking at the same venue less
// than kVenueSeparation apart. In `p`'s order, then by the other's start.
std::vector<Clash> FindClashes(const ScheduleState& state,
                               const std::vector<BusySlot>& others,
                               const ProposedBooking& p);
// FAILED_PRECONDITION naming every clash (what, who, the other booking —
// its case, id, kind, session number — and the overlap in UTC), or OK.
absl::Status ClashError(const std::vector<Clash>& clashes);

struct PlanProgrammeCommand {
  std::string case_id;
  std::string programme_id;              // made by the service
  std::vector<std::string> booking_ids;  // kProgrammeSessions, made by the service
  std::string facilitator_id;
  std::vector<absl::Time> starts;  // kProgrammeSessions (WeeklyStarts)
  absl::TimeZone zone;
  int32_t cadence_weeks = 1;
  std::string venue;
  std::vector<scheduling_v1::Module> modules;  // kProgrammeSessions
  Handled handled;
};
// The first session must be after ctx.now (INVALID_ARGUMENT
// "first_session: ..."); one programme per case; the facilitator allocated;
// no clash for any session.
absl::StatusOr<scheduling_v1::ProgrammePlanned> DecidePlanProgramme(
    const ScheduleState& state, const PlanProgrammeCommand& command,
    const std::vector<BusySlot>& others, const CommandContext& ctx);

struct RescheduleSessionCommand {
  std::string case_id;
  std::string booking_id;
  absl::Time start;  // the session keeps its three hours
  absl::TimeZone zone;
  std::string venue;  // empty: unchanged
  std::string reason;
  Handled handled;
};
// A scheduled (not held, not recorded) session still to come, to a time
// after ctx.now ("start: ..."), without a clash.
absl::StatusOr<scheduling_v1::SessionRescheduled> DecideRescheduleSession(
    const ScheduleState& state, const RescheduleSessionCommand& command,
    const std::vector<BusySlot>& others, const CommandContext& ctx);

struct CancelBookingCommand {
  std::string case_id;
  std::string booking_id;
  scheduling_v1::CancellationCause cause;  // one a caller may give
  std::string reason;
  Handled handled;
};
// Any live booking whose attendance is not recorded.
absl::StatusOr<scheduling_v1::BookingCancelled> DecideCancelBooking(
    const ScheduleState& state, const CancelBookingCommand& command,
    const CommandContext& ctx);

struct BookMakeUpSessionCommand {
  std::string case_id;
  std::string booking_id;  // made by the service
  std::string makes_up_booking_id;
  absl::Time start;
  absl::TimeZone zone;
  std::string venue;           // empty: the programme's
  std::string facilitator_id;  // empty: the programme's; allocated
  Handled handled;
};
// makes_up: a session cancelled, or recorded MISSED or EXCUSED, that no
// make-up replaces yet; the make-up has its number and module, three hours
// after ctx.now, without a clash; not once the programme is completed.
absl::StatusOr<scheduling_v1::MakeUpSessionBooked> DecideBookMakeUpSession(
    const ScheduleState& state, const BookMakeUpSessionCommand& command,
    const std::vector<BusySlot>& others, const CommandContext& ctx);

struct RecordAttendanceCommand {
  std::string case_id;
  std::string booking_id;
  scheduling_v1::Attendance attendance;
  std::string reason;
  Handled handled;
  // How long before its start a session's attendance may already be
  // recorded: the service's --attendance_before_start, zero (once it has
  // started) except where a training or demonstration environment runs a
  // twelve-week programme through in minutes (mend-scenario).
  absl::Duration before_start{};
};
struct AttendanceDecided {
  scheduling_v1::AttendanceRecorded recorded;
  // When this attendance is the twelfth: appended after it.
  std::optional<scheduling_v1::ProgrammeCompleted> completed;
};
// A scheduled (not held) session that has started by ctx.now +
// command.before_start (else FAILED_PRECONDITION), not recorded yet.
absl::StatusOr<AttendanceDecided> DecideRecordAttendance(
    const ScheduleState& state, const RecordAttendanceCommand& command,
    const CommandContext& ctx);

// What the contact gate is asked before a booking with a victim.
struct ContactQuestion {
  common_v1::ContactKind kind = common_v1::CONTACT_KIND_UNSPECIFIED;
  std::string victim_id;
  std::string facilitator_id;  // who asks (the booking's first facilitator)
};

struct BookPreparationMeetingCommand {
  std::string case_id;
  std::string booking_id;  // made by the service
  std::string participant_id;
  std::string facilitator_id;
  absl::Time start, end;
  absl::TimeZone zone;
  std::string venue;
  // The APPROVED decision, for a victim or co-victim (nullopt otherwise).
  std::optional<scheduling_v1::Approval> approval;
  Handled handled;
};
// The checks that come before asking the gate (case known, not closed or
// paused, the caller may act, the participant of the case and not erased,
// the facilitator allocated, start after ctx.now), then what to ask:
// APPROACH_VICTIM for a victim or co-victim, nullopt for anyone else.
absl::StatusOr<std::optional<ContactQuestion>> PreparationQuestion(
    const ScheduleState& state, const BookPreparationMeetingCommand& command,
    const CommandContext& ctx);
// As PreparationQuestion, and: an approval exactly when one is needed,
// APPROVED for this victim, kind and facilitator, not undone by a
// withdrawal recorded since its consent-log position (FAILED_PRECONDITION
// naming the withdrawal); no clash.
absl::StatusOr<scheduling_v1::PreparationMeetingBooked> DecideBookPreparationMeeting(
    const ScheduleState& state, const BookPreparationMeetingCommand& command,
    const std::vector<BusySlot>& others, const CommandContext& ctx);

struct BookConferenceCommand {
  std::string case_id;
  std::string booking_id;  // made by the service
  scheduling_v1::ConferenceFormat format;
  absl::Time start, end;
  absl::TimeZone zone;
  std::string venue;
  std::vector<std::string> participant_ids;
  std::vector<std::string> facilitator_ids;  // one or two
  absl::Duration arrival_gap;                // the service's setting
  std::optional<scheduling_v1::Approval> approval;
  Handled handled;
};
// Before the gate: as for a meeting, and the attendees are the service user,
// exactly one victim or co-victim, and supporters and interpreters of
// attendees; one or two allocated facilitators; no other live conference.
// The question: FACE_TO_FACE_CONFERENCE (IN_PERSON) or VIDEO_MEETING (VIDEO)
// with that victim, asked by the first facilitator.
absl::StatusOr<ContactQuestion> ConferenceQuestion(const ScheduleState& state,
                                                   const BookConferenceCommand& command,
                                                   const CommandContext& ctx);
// As ConferenceQuestion, the approval as for a meeting, no clash; arrivals:
// the service user's side 2 × arrival_gap before the start, the victim's
// side arrival_gap before.
absl::StatusOr<scheduling_v1::ConferenceBooked> DecideBookConference(
    const ScheduleState& state, const BookConferenceCommand& command,
    const std::vector<BusySlot>& others, const CommandContext& ctx);

}  // namespace mend::schedulingsvc

#endif  // MEND_SERVICES_SCHEDULING_SCHEDULE_DECIDE_H_
