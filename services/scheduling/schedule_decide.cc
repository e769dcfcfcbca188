// The scheduling commands (schedule_decide.h). Each decide function checks,
// in order: who may act on the case (an unallocated facilitator learns
// nothing, not even whether the case exists), that the case is known and
// open, the command's rules against the state, times in the past, and last
// the clashes (a booking that breaks a rule is not looked up in calendars).
#include "services/scheduling/schedule_decide.h"

#include <algorithm>
#include <set>
#include <string>
#include <string_view>
#include <tuple>
#include <utility>
#include <vector>

#include "absl/strings/str_cat.h"
#include "absl/strings/str_join.h"
#include "common/base/status_macros.h"
#include "common/base/validation.h"
#include "services/scheduling/schedule_time.h"

namespace mend::schedulingsvc {
namespace {

std::string Quote(std::string_view s) { return absl::StrCat("\"", std::string(s), "\""); }

std::string Utc(absl::Time t) {
  return absl::FormatTime("%Y-%m-%dT%H:%M:%SZ", t, absl::UTCTimeZone());
}

// "2027-03-16T10:00:00Z–2027-03-16T13:00:00Z"
std::string Span(absl::Time start, absl::Time end) {
  return absl::StrCat(Utc(start), "\u2013", Utc(end));
}

// "1 hour", "2 hours", "90 minutes".
std::string Hours(absl::Duration d) {
  const int64_t minutes = absl::ToInt64Minutes(d);
  if (minutes % 60 != 0) return absl::StrCat(minutes, " minutes");
  return absl::StrCat(minutes / 60, minutes == 60 ? " hour" : " hours");
}

std::string KindName(scheduling_v1::BookingKind kind) {
  if (!scheduling_v1::BookingKind_IsValid(kind)) {
    return absl::StrCat("kind ", static_cast<int>(kind));
  }
  return scheduling_v1::BookingKind_Name(kind);
}

std::string ContactKindName(common_v1::ContactKind kind) {
  if (!common_v1::ContactKind_IsValid(kind)) {
    return absl::StrCat("kind ", static_cast<int>(kind));
  }
  return common_v1::ContactKind_Name(kind);
}

std::string ScopeName(consent_v1::ConsentScope scope) {
  if (!consent_v1::ConsentScope_IsValid(scope)) {
    return absl::StrCat("scope ", static_cast<int>(scope));
  }
  return consent_v1::ConsentScope_Name(scope);
}

std::string CaseRef(std::string_view case_id) {
  return absl::StrCat("case ", Quote(case_id));
}

// Who may act, that the case is known and the one named, not closed, and —
// for anything that books — not paused.
enum class WhilePaused { kRefuse, kAllow };

absl::Status CheckCase(const ScheduleState& state, std::string_view case_id,
                       const CommandContext& ctx, WhilePaused while_paused) {
  MEND_RETURN_IF_ERROR(CheckCanAct(state, case_id, ctx));
  if (!state.case_known) {
    return absl::NotFoundError(absl::StrCat(
        CaseRef(case_id),
        " is not known to the scheduling service (case log handled up to ",
        state.last_case_position, "; pass a causal token if the case is new)"));
  }
  if (state.case_id != case_id) {
    return absl::InternalError(absl::StrCat("command for ", CaseRef(case_id),
                                            " given the schedule of ",
                                            CaseRef(state.case_id)));
  }
  if (state.closed) {
    return absl::FailedPreconditionError(absl::StrCat(CaseRef(case_id), " is closed"));
  }
  if (state.paused && while_paused == WhilePaused::kRefuse) {
    return absl::FailedPreconditionError(
        absl::StrCat(CaseRef(case_id), " is paused: bookings wait for it to resume"));
  }
  return absl::OkStatus();
}

absl::Status CheckAllocated(const ScheduleState& state, std::string_view facilitator_id) {
  if (state.IsAllocated(facilitator_id)) return absl::OkStatus();
  return absl::FailedPreconditionError(absl::StrCat("facilitator ", Quote(facilitator_id),
                                                    " is not allocated to ",
                                                    CaseRef(state.case_id)));
}

// `field` (a start) is after ctx.now.
absl::Status CheckFuture(std::string_view field, absl::Time start,
                         const CommandContext& ctx, std::string_view what = "starts") {
  if (start > ctx.now) return absl::OkStatus();
  return Invalid(field, absl::StrCat(std::string(what), " at ", Utc(start),
                                     ", which is not after now (", Utc(ctx.now), ")"));
}

scheduling_v1::Attendee AttendeeOf(const ParticipantFacts& p) {
  scheduling_v1::Attendee a;
  a.set_participant_id(p.participant_id);
  a.set_role(p.role);
  a.set_supports_participant_id(p.supports_participant_id);
  return a;
}

// The service user, for a session: known and not erased.
absl::StatusOr<scheduling_v1::Attendee> ServiceUserAttendee(const ScheduleState& state) {
  const ParticipantFacts* su = state.ServiceUser();
  if (su == nullptr) {
    return absl::FailedPreconditionError(
        absl::StrCat(CaseRef(state.case_id), " has no service user"));
  }
  if (su->erased) {
    return absl::FailedPreconditionError(absl::StrCat(
        "service user ", Quote(su->participant_id), " of ", CaseRef(state.case_id),
        " was erased; nothing more is booked for them"));
  }
  return AttendeeOf(*su);
}

// A participant of the case (INVALID_ARGUMENT naming `field` otherwise), not
// erased.
absl::StatusOr<const ParticipantFacts*> FindLiveParticipant(
    const ScheduleState& state, std::string_view field, std::string_view participant_id) {
  const ParticipantFacts* p = state.FindParticipant(participant_id);
  if (p == nullptr) {
    return Invalid(field, absl::StrCat(Quote(participant_id), " is not a participant of ",
                                       CaseRef(state.case_id)));
  }
  if (p->erased) {
    return absl::FailedPreconditionError(absl::StrCat(
        "participant ", Quote(participant_id), " of ", CaseRef(state.case_id),
        " was erased; nothing more is booked for them"));
  }
  return p;
}

absl::StatusOr<const BookingFacts*> FindBookingOf(const ScheduleState& state,
                                                  std::string_view booking_id) {
  const BookingFacts* b = state.FindBooking(booking_id);
  if (b == nullptr) {
    return absl::NotFoundError(
        absl::StrCat(CaseRef(state.case_id), " has no booking ", Quote(booking_id)));
  }
  return b;
}

std::string SessionRef(const BookingFacts& b) {
  return absl::StrCat("session ", b.session_number, " (", Quote(b.booking_id), ")");
}

absl::StatusOr<const BookingFacts*> FindSession(const ScheduleState& state,
                                                std::string_view booking_id) {
  MEND_ASSIGN_OR_RETURN(const BookingFacts* b, FindBookingOf(state, booking_id));
  if (!b->is_session()) {
    return absl::FailedPreconditionError(absl::StrCat("booking ", Quote(booking_id),
                                                      " is a ", KindName(b->kind),
                                                      ", not a programme session"));
  }
  return b;
}

// A session that is scheduled: not held, cancelled or recorded.
absl::Status CheckScheduled(const BookingFacts& b) {
  switch (b.status) {
    case BookingStatus::kScheduled:
      return absl::OkStatus();
    case BookingStatus::kHeld:
      return absl::FailedPreconditionError(
          absl::StrCat(SessionRef(b), " is held while the case is paused"));
    case BookingStatus::kCancelled:
      return absl::FailedPreconditionError(absl::StrCat(SessionRef(b), " is cancelled"));
    case BookingStatus::kRecorded:
      return absl::FailedPreconditionError(
          absl::StrCat(SessionRef(b), " has its attendance recorded already (",
                       scheduling_v1::Attendance_Name(b.attendance), ")"));
  }
  return absl::InternalError("unknown booking status");
}

// --- Clashes -----------------------------------------------------------

bool Overlaps(absl::Time a_start, absl::Time a_end, absl::Time b_start,
              absl::Time b_end) {
  return a_start < b_end && b_start < a_end;  // half-open
}

enum Side : unsigned { kNoSide = 0, kVictimSide = 1, kServiceUserSide = 2 };

unsigned RoleSide(case_v1::ParticipantRole role) {
  if (IsVictimRole(role)) return kVictimSide;
  if (role == case_v1::SERVICE_USER) return kServiceUserSide;
  return kNoSide;
}

// The sides a booking's attendees are on: a victim, co-victim or their
// supporter or interpreter is the victim's side; the service user or theirs
// the service user's.
unsigned SidesOf(const ScheduleState& state,
                 const std::vector<scheduling_v1::Attendee>& attendees) {
  unsigned sides = kNoSide;
  for (const scheduling_v1::Attendee& a : attendees) {
    unsigned side = RoleSide(a.role());
    if (side == kNoSide && !a.supports_participant_id().empty()) {
      if (const ParticipantFacts* p =
              state.FindParticipant(a.supports_participant_id())) {
        side = RoleSide(p->role);
      } else {
        for (const scheduling_v1::Attendee& other : attendees) {
          if (other.participant_id() == a.supports_participant_id()) {
            side = RoleSide(other.role());
          }
        }
      }
    }
    sides |= side;
  }
  return sides;
}

// This case's live bookings other than the one `p` replaces.
std::vector<const BookingFacts*> LiveBookings(const ScheduleState& state,
                                              const ProposedBooking& p) {
  std::vector<const BookingFacts*> live;
  for (const auto& [id, b] : state.bookings) {
    if (b.live() && id != p.replaces_booking_id) live.push_back(&b);
  }
  return live;
}

Clash MakeClash(const ProposedBooking& p, std::string who, std::string other_case_id,
                std::string other_booking_id, scheduling_v1::BookingKind other_kind,
                int32_t other_session_number, absl::Time overlap_start,
                absl::Time overlap_end) {
  Clash c;
  c.what = p.what;
  c.start = p.start;
  c.end = p.end;
  c.who = std::move(who);
  c.other_case_id = std::move(other_case_id);
  c.other_booking_id = std::move(other_booking_id);
  c.other_kind = other_kind;
  c.other_session_number = other_session_number;
  c.overlap_start = overlap_start;
  c.overlap_end = overlap_end;
  return c;
}

Clash OverlapClash(const ProposedBooking& p, std::string who, std::string other_case_id,
                   std::string other_booking_id, scheduling_v1::BookingKind other_kind,
                   int32_t other_session_number, absl::Time other_start,
                   absl::Time other_end) {
  return MakeClash(p, std::move(who), std::move(other_case_id),
                   std::move(other_booking_id), other_kind, other_session_number,
                   std::max(p.start, other_start), std::min(p.end, other_end));
}

// By the other's start (the overlap starts with it or with `p`), then the
// other's case and booking id.
void SortGroup(std::vector<std::pair<absl::Time, Clash>>& group,
               std::vector<Clash>& out) {
  std::sort(group.begin(), group.end(), [](const auto& a, const auto& b) {
    return std::tie(a.first, a.second.other_case_id, a.second.other_booking_id) <
           std::tie(b.first, b.second.other_case_id, b.second.other_booking_id);
  });
  for (auto& [start, clash] : group) out.push_back(std::move(clash));
  group.clear();
}

}  // namespace

absl::Status CheckCanAct(const ScheduleState& state, std::string_view case_id,
                         const CommandContext& ctx) {
  switch (ctx.role) {
    case Role::kManager:
    case Role::kAuditor:
    case Role::kService:
      return absl::OkStatus();
    case Role::kFacilitator:
      if (state.case_known && state.case_id == case_id &&
          state.IsAllocated(ctx.actor_id)) {
        return absl::OkStatus();
      }
      return absl::PermissionDeniedError(absl::StrCat("facilitator ", Quote(ctx.actor_id),
                                                      " is not allocated to ",
                                                      CaseRef(case_id)));
    case Role::kOperator:
      return absl::PermissionDeniedError(
          "the operator role runs the deployment and sees no casework");
  }
  return absl::PermissionDeniedError(
      absl::StrCat("unknown role ", static_cast<int>(ctx.role)));
}

std::vector<Clash> FindClashes(const ScheduleState& state,
                               const std::vector<BusySlot>& others,
                               const ProposedBooking& p) {
  std::vector<Clash> clashes;
  const std::vector<const BookingFacts*> live = LiveBookings(state, p);
  std::vector<std::pair<absl::Time, Clash>> group;

  for (const std::string& f : p.facilitator_ids) {
    const std::string who = absl::StrCat("facilitator ", f);
    for (const BookingFacts* b : live) {
      if (b->HasFacilitator(f) && Overlaps(p.start, p.end, b->start, b->end)) {
        group.emplace_back(b->start,
                           OverlapClash(p, who, state.case_id, b->booking_id, b->kind,
                                        b->session_number, b->start, b->end));
      }
    }
    for (const BusySlot& o : others) {
      if (o.case_id == state.case_id) continue;  // this case's are in `state`
      if (Overlaps(p.start, p.end, o.start, o.end)) {
        group.emplace_back(o.start, OverlapClash(p, who, o.case_id, o.booking_id, o.kind,
                                                 o.session_number, o.start, o.end));
      }
    }
    SortGroup(group, clashes);
  }

  for (const scheduling_v1::Attendee& a : p.attendees) {
    const std::string who = absl::StrCat("participant ", a.participant_id());
    for (const BookingFacts* b : live) {
      if (b->Books(a.participant_id()) && Overlaps(p.start, p.end, b->start, b->end)) {
        group.emplace_back(b->start,
                           OverlapClash(p, who, state.case_id, b->booking_id, b->kind,
                                        b->session_number, b->start, b->end));
      }
    }
    SortGroup(group, clashes);
  }

  // The venue rule: the parties never meet by chance at a venue. The
  // conference, where they meet by design, is outside it.
  if (p.kind != scheduling_v1::CONFERENCE && !p.venue.empty()) {
    const unsigned p_sides = SidesOf(state, p.attendees);
    for (const BookingFacts* b : live) {
      if (b->kind == scheduling_v1::CONFERENCE || b->venue != p.venue) continue;
      const unsigned b_sides = SidesOf(state, b->attendees);
      const bool opposite = ((p_sides & kVictimSide) && (b_sides & kServiceUserSide)) ||
                            ((p_sides & kServiceUserSide) && (b_sides & kVictimSide));
      if (!opposite) continue;
      if (!Overlaps(p.start - kVenueSeparation, p.end + kVenueSeparation, b->start,
                    b->end)) {
        continue;
      }
      Clash c = MakeClash(
          p,
          absl::StrCat("venue ", p.venue,
                       ": a victim-side and a service-user-side booking less than ",
                       Hours(kVenueSeparation), " apart"),
          state.case_id, b->booking_id, b->kind, b->session_number,
          std::min(p.start, b->start), std::max(p.end, b->end));
      c.venue_rule = true;
      group.emplace_back(b->start, std::move(c));
    }
    SortGroup(group, clashes);
  }
  return clashes;
}

absl::Status ClashError(const std::vector<Clash>& clashes) {
  if (clashes.empty()) return absl::OkStatus();
  std::vector<std::string> parts;
  parts.reserve(clashes.size());
  for (const Clash& c : clashes) {
    std::string other = absl::StrCat(KindName(c.other_kind));
    if (c.other_session_number > 0) {
      absl::StrAppend(&other, " session ", c.other_session_number);
    }
    absl::StrAppend(&other, " ", c.other_booking_id, " of case ", c.other_case_id);
    if (c.venue_rule) {
      parts.push_back(absl::StrCat(c.what, " ", Span(c.start, c.end), " UTC: ", c.who,
                                   ": ", other, ", together spanning ",
                                   Span(c.overlap_start, c.overlap_end), " UTC"));
    } else {
      parts.push_back(absl::StrCat(c.what, " ", Span(c.start, c.end), " UTC: ", c.who,
                                   " is booked for ", other, ", overlapping ",
                                   Span(c.overlap_start, c.overlap_end), " UTC"));
    }
  }
  return absl::FailedPreconditionError(absl::StrCat(
      clashes.size(),
      clashes.size() == 1 ? " clash: " : " clashes: ", absl::StrJoin(parts, "; ")));
}

// --- The programme -----------------------------------------------------

absl::StatusOr<scheduling_v1::ProgrammePlanned> DecidePlanProgramme(
    const ScheduleState& state, const PlanProgrammeCommand& command,
    const std::vector<BusySlot>& others, const CommandContext& ctx) {
  MEND_RETURN_IF_ERROR(CheckCase(state, command.case_id, ctx, WhilePaused::kRefuse));
  if (!state.programme_id.empty()) {
    return absl::FailedPreconditionError(absl::StrCat(
        CaseRef(command.case_id), " has a programme already (", Quote(state.programme_id),
        "): one programme per case; reschedule or make up its sessions instead"));
  }
  if (command.booking_ids.size() != kProgrammeSessions ||
      command.starts.size() != kProgrammeSessions ||
      command.modules.size() != kProgrammeSessions) {
    return absl::InvalidArgumentError(absl::StrCat(
        "PlanProgramme: ", kProgrammeSessions, " sessions are planned, given ",
        command.booking_ids.size(), " booking ids, ", command.starts.size(),
        " starts and ", command.modules.size(), " modules"));
  }
  MEND_RETURN_IF_ERROR(CheckAllocated(state, command.facilitator_id));
  MEND_ASSIGN_OR_RETURN(scheduling_v1::Attendee service_user, ServiceUserAttendee(state));
  MEND_RETURN_IF_ERROR(
      CheckFuture("first_session", command.starts[0], ctx, "session 1 starts"));

  std::vector<Clash> clashes;
  for (int i = 0; i < kProgrammeSessions; ++i) {
    ProposedBooking p;
    p.what = absl::StrCat("session ", i + 1);
    p.kind = scheduling_v1::PROGRAMME_SESSION;
    p.start = command.starts[i];
    p.end = command.starts[i] + kSessionLength;
    p.venue = command.venue;
    p.facilitator_ids = {command.facilitator_id};
    p.attendees = {service_user};
    std::vector<Clash> found = FindClashes(state, others, p);
    clashes.insert(clashes.end(), found.begin(), found.end());
  }
  MEND_RETURN_IF_ERROR(ClashError(clashes));

  scheduling_v1::ProgrammePlanned event;
  event.set_case_id(command.case_id);
  event.set_programme_id(command.programme_id);
  event.set_facilitator_id(command.facilitator_id);
  event.set_service_user_id(service_user.participant_id());
  event.set_time_zone(command.zone.name());
  event.set_cadence_weeks(command.cadence_weeks);
  event.set_venue(command.venue);
  for (int i = 0; i < kProgrammeSessions; ++i) {
    scheduling_v1::ProgrammeSession* s = event.add_sessions();
    s->set_booking_id(command.booking_ids[i]);
    s->set_number(i + 1);
    s->set_module(command.modules[i]);
    *s->mutable_slot() = MakeSlot(command.starts[i], kSessionLength, command.zone);
  }
  event.set_planned_by(ctx.actor_id);
  *event.mutable_handled() = command.handled;
  return event;
}

absl::StatusOr<scheduling_v1::SessionRescheduled> DecideRescheduleSession(
    const ScheduleState& state, const RescheduleSessionCommand& command,
    const std::vector<BusySlot>& others, const CommandContext& ctx) {
  MEND_RETURN_IF_ERROR(CheckCase(state, command.case_id, ctx, WhilePaused::kRefuse));
  MEND_ASSIGN_OR_RETURN(const BookingFacts* b, FindSession(state, command.booking_id));
  MEND_RETURN_IF_ERROR(CheckScheduled(*b));
  if (b->start <= ctx.now) {
    return absl::FailedPreconditionError(
        absl::StrCat(SessionRef(*b), " started at ", Utc(b->start),
                     ": a session under way or over is not rescheduled (record its "
                     "attendance, or cancel it and book a make-up)"));
  }
  MEND_RETURN_IF_ERROR(CheckFuture("start", command.start, ctx));

  const std::string venue = command.venue.empty() ? b->venue : command.venue;
  ProposedBooking p;
  p.what = absl::StrCat("session ", b->session_number);
  p.kind = b->kind;
  p.start = command.start;
  p.end = command.start + kSessionLength;
  p.venue = venue;
  p.facilitator_ids = b->facilitator_ids;
  p.attendees = b->attendees;
  p.replaces_booking_id = b->booking_id;
  MEND_RETURN_IF_ERROR(ClashError(FindClashes(state, others, p)));

  scheduling_v1::SessionRescheduled event;
  event.set_case_id(command.case_id);
  event.set_booking_id(command.booking_id);
  *event.mutable_from() = b->slot;
  *event.mutable_to() = MakeSlot(command.start, kSessionLength, command.zone);
  event.set_venue(venue);
  event.set_rescheduled_by(ctx.actor_id);
  event.set_reason(command.reason);
  *event.mutable_handled() = command.handled;
  return event;
}

absl::StatusOr<scheduling_v1::BookingCancelled> DecideCancelBooking(
    const ScheduleState& state, const CancelBookingCommand& command,
    const CommandContext& ctx) {
  // A paused case's held bookings may still be called off.
  MEND_RETURN_IF_ERROR(CheckCase(state, command.case_id, ctx, WhilePaused::kAllow));
  if (command.cause == scheduling_v1::CANCELLATION_CAUSE_UNSPECIFIED) {
    return Invalid("cause", "is required");
  }
  if (!scheduling_v1::CancellationCause_IsValid(command.cause)) {
    return Invalid("cause", absl::StrCat("has unknown value ", command.cause));
  }
  if (command.cause > scheduling_v1::OTHER_CAUSE) {
    return Invalid("cause",
                   absl::StrCat(scheduling_v1::CancellationCause_Name(command.cause),
                                " is set by the service itself"));
  }
  MEND_ASSIGN_OR_RETURN(const BookingFacts* b, FindBookingOf(state, command.booking_id));
  if (b->status == BookingStatus::kCancelled) {
    return absl::FailedPreconditionError(
        absl::StrCat("booking ", Quote(b->booking_id), " is cancelled already"));
  }
  if (b->status == BookingStatus::kRecorded) {
    return absl::FailedPreconditionError(
        absl::StrCat(SessionRef(*b), " has its attendance recorded (",
                     scheduling_v1::Attendance_Name(b->attendance),
                     "): it is not cancelled after the fact"));
  }

  scheduling_v1::BookingCancelled event;
  event.set_case_id(command.case_id);
  event.set_booking_id(command.booking_id);
  event.set_cause(command.cause);
  event.set_reason(command.reason);
  event.set_cancelled_by(ctx.actor_id);
  *event.mutable_handled() = command.handled;
  return event;
}

absl::StatusOr<scheduling_v1::MakeUpSessionBooked> DecideBookMakeUpSession(
    const ScheduleState& state, const BookMakeUpSessionCommand& command,
    const std::vector<BusySlot>& others, const CommandContext& ctx) {
  MEND_RETURN_IF_ERROR(CheckCase(state, command.case_id, ctx, WhilePaused::kRefuse));
  if (state.programme_completed) {
    return absl::FailedPreconditionError(
        absl::StrCat("the programme of ", CaseRef(command.case_id),
                     " is completed: nothing to make up"));
  }
  MEND_ASSIGN_OR_RETURN(const BookingFacts* missed,
                        FindSession(state, command.makes_up_booking_id));
  const bool needs_make_up = missed->status == BookingStatus::kCancelled ||
                             (missed->status == BookingStatus::kRecorded &&
                              (missed->attendance == scheduling_v1::MISSED ||
                               missed->attendance == scheduling_v1::EXCUSED));
  if (!needs_make_up) {
    return absl::FailedPreconditionError(absl::StrCat(
        SessionRef(*missed),
        " needs no make-up: only a session cancelled, or recorded MISSED or EXCUSED, is "
        "made up"));
  }
  if (!missed->made_up_by_booking_id.empty()) {
    return absl::FailedPreconditionError(
        absl::StrCat(SessionRef(*missed), " is made up already by ",
                     Quote(missed->made_up_by_booking_id)));
  }
  const std::string facilitator_id = command.facilitator_id.empty()
                                         ? state.programme_facilitator_id
                                         : command.facilitator_id;
  MEND_RETURN_IF_ERROR(CheckAllocated(state, facilitator_id));
  MEND_ASSIGN_OR_RETURN(scheduling_v1::Attendee service_user, ServiceUserAttendee(state));
  MEND_RETURN_IF_ERROR(CheckFuture("start", command.start, ctx));

  const std::string venue = command.venue.empty() ? state.programme_venue : command.venue;
  ProposedBooking p;
  p.what = absl::StrCat("make-up session ", missed->session_number);
  p.kind = scheduling_v1::PROGRAMME_SESSION;
  p.start = command.start;
  p.end = command.start + kSessionLength;
  p.venue = venue;
  p.facilitator_ids = {facilitator_id};
  p.attendees = {service_user};
  MEND_RETURN_IF_ERROR(ClashError(FindClashes(state, others, p)));

  scheduling_v1::MakeUpSessionBooked event;
  event.set_case_id(command.case_id);
  event.set_booking_id(command.booking_id);
  event.set_makes_up_booking_id(command.makes_up_booking_id);
  event.set_number(missed->session_number);
  event.set_module(missed->module);
  *event.mutable_slot() = MakeSlot(command.start, kSessionLength, command.zone);
  event.set_venue(venue);
  event.set_facilitator_id(facilitator_id);
  event.set_booked_by(ctx.actor_id);
  *event.mutable_handled() = command.handled;
  return event;
}

absl::StatusOr<AttendanceDecided> DecideRecordAttendance(
    const ScheduleState& state, const RecordAttendanceCommand& command,
    const CommandContext& ctx) {
  // A session held before the pause may still have its attendance recorded.
  MEND_RETURN_IF_ERROR(CheckCase(state, command.case_id, ctx, WhilePaused::kAllow));
  if (command.attendance == scheduling_v1::ATTENDANCE_UNSPECIFIED) {
    return Invalid("attendance", "is required");
  }
  if (!scheduling_v1::Attendance_IsValid(command.attendance)) {
    return Invalid("attendance", absl::StrCat("has unknown value ", command.attendance));
  }
  MEND_ASSIGN_OR_RETURN(const BookingFacts* b, FindSession(state, command.booking_id));
  MEND_RETURN_IF_ERROR(CheckScheduled(*b));
  if (b->start > ctx.now + command.before_start) {
    return absl::FailedPreconditionError(
        absl::StrCat("session ", b->session_number, " starts at ", Utc(b->start),
                     command.before_start == absl::ZeroDuration()
                         ? ": attendance is recorded once it has started"
                         : absl::StrCat(": attendance is recorded from ",
                                        Utc(b->start - command.before_start))));
  }

  AttendanceDecided decided;
  scheduling_v1::AttendanceRecorded& recorded = decided.recorded;
  recorded.set_case_id(command.case_id);
  recorded.set_booking_id(command.booking_id);
  recorded.set_attendance(command.attendance);
  recorded.set_recorded_by(ctx.actor_id);
  recorded.set_reason(command.reason);
  *recorded.mutable_handled() = command.handled;

  if (command.attendance == scheduling_v1::ATTENDED && !state.programme_completed &&
      state.sessions_attended + 1 == kProgrammeSessions) {
    std::vector<const BookingFacts*> attended = {b};
    for (const auto& [id, other] : state.bookings) {
      if (other.is_session() && other.status == BookingStatus::kRecorded &&
          other.attendance == scheduling_v1::ATTENDED) {
        attended.push_back(&other);
      }
    }
    std::sort(attended.begin(), attended.end(),
              [](const BookingFacts* x, const BookingFacts* y) {
                return std::tie(x->session_number, x->start, x->booking_id) <
                       std::tie(y->session_number, y->start, y->booking_id);
              });
    scheduling_v1::ProgrammeCompleted& completed = decided.completed.emplace();
    completed.set_case_id(command.case_id);
    completed.set_programme_id(state.programme_id);
    completed.set_sessions_attended(kProgrammeSessions);
    completed.set_minutes_attended(kProgrammeSessions *
                                   absl::ToInt64Minutes(kSessionLength));
    for (const BookingFacts* a : attended)
      completed.add_attended_booking_ids(a->booking_id);
    *completed.mutable_handled() = command.handled;
  }
  return decided;
}

// --- Bookings with a victim ----------------------------------------------

namespace {

// `approval` present exactly when `question` is, answering it, and no
// consent it relied on withdrawn since it was decided (I3).
absl::Status CheckApproval(const ScheduleState& state,
                           const std::optional<ContactQuestion>& question,
                           const std::optional<scheduling_v1::Approval>& approval) {
  if (!question.has_value()) {
    if (approval.has_value()) {
      return absl::InternalError(
          absl::StrCat("an approval (decision ", Quote(approval->decision_id()),
                       ") was passed for a booking that needs none"));
    }
    return absl::OkStatus();
  }
  if (!approval.has_value()) {
    return absl::FailedPreconditionError(absl::StrCat(
        "a booking with victim ", Quote(question->victim_id),
        " needs an APPROVED contact decision (", ContactKindName(question->kind), ")"));
  }
  const scheduling_v1::Approval& a = *approval;
  if (a.kind() != question->kind || a.victim_id() != question->victim_id ||
      a.facilitator_id() != question->facilitator_id) {
    return absl::FailedPreconditionError(absl::StrCat(
        "decision ", Quote(a.decision_id()), " approved ", ContactKindName(a.kind()),
        " with victim ", Quote(a.victim_id()), " asked by facilitator ",
        Quote(a.facilitator_id()), ", not ", ContactKindName(question->kind),
        " with victim ", Quote(question->victim_id), " asked by facilitator ",
        Quote(question->facilitator_id)));
  }
  const ParticipantFacts* su = state.ServiceUser();
  if (su != nullptr && !a.service_user_id().empty() &&
      a.service_user_id() != su->participant_id) {
    return absl::FailedPreconditionError(
        absl::StrCat("decision ", Quote(a.decision_id()), " names service user ",
                     Quote(a.service_user_id()), ", not ", Quote(su->participant_id)));
  }
  const consent_v1::ConsentScope scope = ScopeForKind(question->kind);
  std::vector<std::pair<std::string, consent_v1::ConsentScope>> relied_on = {
      {question->victim_id, consent_v1::PARTICIPATE}};
  if (scope != consent_v1::PARTICIPATE)
    relied_on.emplace_back(question->victim_id, scope);
  if (su != nullptr) relied_on.emplace_back(su->participant_id, scope);
  for (const auto& [person, s] : relied_on) {
    if (const WithdrawalFacts* w =
            state.WithdrawnSince(person, s, a.consent_position())) {
      return absl::FailedPreconditionError(absl::StrCat(
          "consent withdrawn since decision ", Quote(a.decision_id()), ": ", person,
          " withdrew ", ScopeName(s), " at consent-log position ", w->consent_position));
    }
  }
  return absl::OkStatus();
}

absl::Status CheckSpan(absl::Time start, absl::Time end, const CommandContext& ctx) {
  MEND_RETURN_IF_ERROR(CheckFuture("start", start, ctx));
  if (end <= start) {
    return Invalid("end",
                   absl::StrCat("is ", Utc(end), ", not after start (", Utc(start), ")"));
  }
  return absl::OkStatus();
}

}  // namespace

absl::StatusOr<std::optional<ContactQuestion>> PreparationQuestion(
    const ScheduleState& state, const BookPreparationMeetingCommand& command,
    const CommandContext& ctx) {
  MEND_RETURN_IF_ERROR(CheckCase(state, command.case_id, ctx, WhilePaused::kRefuse));
  MEND_ASSIGN_OR_RETURN(
      const ParticipantFacts* p,
      FindLiveParticipant(state, "participant_id", command.participant_id));
  MEND_RETURN_IF_ERROR(CheckAllocated(state, command.facilitator_id));
  MEND_RETURN_IF_ERROR(CheckSpan(command.start, command.end, ctx));
  if (!IsVictimRole(p->role)) return std::optional<ContactQuestion>();
  ContactQuestion q;
  q.kind = common_v1::APPROACH_VICTIM;
  q.victim_id = p->participant_id;
  q.facilitator_id = command.facilitator_id;
  return std::optional<ContactQuestion>(std::move(q));
}

absl::StatusOr<scheduling_v1::PreparationMeetingBooked> DecideBookPreparationMeeting(
    const ScheduleState& state, const BookPreparationMeetingCommand& command,
    const std::vector<BusySlot>& others, const CommandContext& ctx) {
  MEND_ASSIGN_OR_RETURN(std::optional<ContactQuestion> question,
                        PreparationQuestion(state, command, ctx));
  MEND_RETURN_IF_ERROR(CheckApproval(state, question, command.approval));
  const ParticipantFacts* participant = state.FindParticipant(command.participant_id);

  ProposedBooking p;
  p.what = "the preparation meeting";
  p.kind = scheduling_v1::PREPARATION_MEETING;
  p.start = command.start;
  p.end = command.end;
  p.venue = command.venue;
  p.facilitator_ids = {command.facilitator_id};
  p.attendees = {AttendeeOf(*participant)};
  MEND_RETURN_IF_ERROR(ClashError(FindClashes(state, others, p)));

  scheduling_v1::PreparationMeetingBooked event;
  event.set_case_id(command.case_id);
  event.set_booking_id(command.booking_id);
  *event.mutable_participant() = AttendeeOf(*participant);
  event.set_facilitator_id(command.facilitator_id);
  *event.mutable_slot() =
      MakeSlot(command.start, command.end - command.start, command.zone);
  event.set_venue(command.venue);
  if (command.approval.has_value()) *event.mutable_approval() = *command.approval;
  event.set_booked_by(ctx.actor_id);
  *event.mutable_handled() = command.handled;
  return event;
}

absl::StatusOr<ContactQuestion> ConferenceQuestion(const ScheduleState& state,
                                                   const BookConferenceCommand& command,
                                                   const CommandContext& ctx) {
  MEND_RETURN_IF_ERROR(CheckCase(state, command.case_id, ctx, WhilePaused::kRefuse));
  if (command.format != scheduling_v1::IN_PERSON &&
      command.format != scheduling_v1::VIDEO) {
    return Invalid("format", absl::StrCat("is ", static_cast<int>(command.format),
                                          ", neither IN_PERSON nor VIDEO"));
  }
  if (command.facilitator_ids.empty() || command.facilitator_ids.size() > 2) {
    return Invalid("facilitator_ids",
                   absl::StrCat("names ", command.facilitator_ids.size(),
                                " facilitators, not one or two"));
  }
  if (command.facilitator_ids.size() == 2 &&
      command.facilitator_ids[0] == command.facilitator_ids[1]) {
    return Invalid("facilitator_ids",
                   absl::StrCat("names ", Quote(command.facilitator_ids[0]), " twice"));
  }

  std::set<std::string> seen;
  const ParticipantFacts* victim = nullptr;
  const ParticipantFacts* service_user = nullptr;
  std::vector<const ParticipantFacts*> attendees;
  for (const std::string& id : command.participant_ids) {
    if (!seen.insert(id).second) {
      return Invalid("participant_ids", absl::StrCat("names ", Quote(id), " twice"));
    }
    MEND_ASSIGN_OR_RETURN(const ParticipantFacts* p,
                          FindLiveParticipant(state, "participant_ids", id));
    attendees.push_back(p);
    if (p->role == case_v1::SERVICE_USER) {
      service_user = p;
    } else if (IsVictimRole(p->role)) {
      if (victim != nullptr) {
        return Invalid(
            "participant_ids",
            absl::StrCat("names victims ", Quote(victim->participant_id), " and ",
                         Quote(id), ": a conference is with exactly one"));
      }
      victim = p;
    }
  }
  if (service_user == nullptr) {
    return Invalid("participant_ids", "does not name the service user");
  }
  if (victim == nullptr) {
    return Invalid("participant_ids", "names no victim or co-victim");
  }
  for (const ParticipantFacts* p : attendees) {
    if (p->role != case_v1::SUPPORTER && p->role != case_v1::INTERPRETER) continue;
    if (!seen.contains(p->supports_participant_id)) {
      return Invalid(
          "participant_ids",
          absl::StrCat(case_v1::ParticipantRole_Name(p->role), " ",
                       Quote(p->participant_id), " is there for ",
                       Quote(p->supports_participant_id), ", who does not attend"));
    }
  }
  for (const std::string& f : command.facilitator_ids) {
    MEND_RETURN_IF_ERROR(CheckAllocated(state, f));
  }
  for (const auto& [id, b] : state.bookings) {
    if (b.kind == scheduling_v1::CONFERENCE && b.live()) {
      return absl::FailedPreconditionError(
          absl::StrCat(CaseRef(command.case_id), " has a conference booked already (",
                       Quote(id), " at ", Utc(b.start), "): cancel it first"));
    }
  }
  MEND_RETURN_IF_ERROR(CheckSpan(command.start, command.end, ctx));

  ContactQuestion q;
  q.kind = command.format == scheduling_v1::IN_PERSON ? common_v1::FACE_TO_FACE_CONFERENCE
                                                      : common_v1::VIDEO_MEETING;
  q.victim_id = victim->participant_id;
  q.facilitator_id = command.facilitator_ids[0];
  return q;
}

absl::StatusOr<scheduling_v1::ConferenceBooked> DecideBookConference(
    const ScheduleState& state, const BookConferenceCommand& command,
    const std::vector<BusySlot>& others, const CommandContext& ctx) {
  MEND_ASSIGN_OR_RETURN(ContactQuestion question,
                        ConferenceQuestion(state, command, ctx));
  if (command.arrival_gap < absl::ZeroDuration()) {
    return absl::InternalError(absl::StrCat(
        "arrival gap ", absl::FormatDuration(command.arrival_gap), " is negative"));
  }
  MEND_RETURN_IF_ERROR(CheckApproval(state, question, command.approval));

  ProposedBooking p;
  p.what = "the conference";
  p.kind = scheduling_v1::CONFERENCE;
  p.start = command.start;
  p.end = command.end;
  p.venue = command.venue;
  p.facilitator_ids = command.facilitator_ids;
  for (const std::string& id : command.participant_ids) {
    p.attendees.push_back(AttendeeOf(*state.FindParticipant(id)));
  }
  MEND_RETURN_IF_ERROR(ClashError(FindClashes(state, others, p)));

  scheduling_v1::ConferenceBooked event;
  event.set_case_id(command.case_id);
  event.set_booking_id(command.booking_id);
  event.set_format(command.format);
  *event.mutable_slot() =
      MakeSlot(command.start, command.end - command.start, command.zone);
  event.set_venue(command.venue);
  for (const scheduling_v1::Attendee& a : p.attendees) *event.add_attendees() = a;
  for (const std::string& f : command.facilitator_ids) event.add_facilitator_ids(f);
  event.set_service_user_arrival_unix_micros(
      absl::ToUnixMicros(command.start - 2 * command.arrival_gap));
  event.set_victim_arrival_unix_micros(
      absl::ToUnixMicros(command.start - command.arrival_gap));
  *event.mutable_approval() = *command.approval;
  event.set_booked_by(ctx.actor_id);
  *event.mutable_handled() = command.handled;
  return event;
}

}  // namespace mend::schedulingsvc
