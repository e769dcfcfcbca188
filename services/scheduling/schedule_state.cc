#include "services/scheduling/schedule_state.h"

#include <algorithm>
#include <utility>

#include "absl/status/statusor.h"
#include "absl/strings/str_cat.h"
#include "absl/time/time.h"

namespace mend::schedulingsvc {
namespace {

std::string Quoted(std::string_view s) {
  return absl::StrCat("\"", std::string(s), "\"");
}

absl::Status Loss(const ScheduleLogEvent& e, std::string_view what) {
  return absl::DataLossError(absl::StrCat("position ", e.position, " (",
                                          std::string(e.event_type),
                                          "): ", std::string(what)));
}

// Parses the payload; the stream's first event names its case.
template <typename Message>
absl::Status Parse(ScheduleState& s, const ScheduleLogEvent& e, Message& out) {
  if (!out.ParseFromArray(e.payload.data(), static_cast<int>(e.payload.size()))) {
    return Loss(e, "the payload does not parse");
  }
  if (out.case_id().empty()) return Loss(e, "no case_id");
  if (s.case_id.empty()) s.case_id = out.case_id();
  if (out.case_id() != s.case_id) {
    return Loss(e, absl::StrCat("case_id ", Quoted(out.case_id()), " in the stream of ",
                                Quoted(s.case_id)));
  }
  return absl::OkStatus();
}

absl::Time FromMicros(int64_t micros) { return absl::FromUnixMicros(micros); }

// A new booking of the stream: DATA_LOSS if its id is taken or the slot is
// empty.
absl::Status AddBooking(ScheduleState& s, const ScheduleLogEvent& e, BookingFacts b) {
  if (b.booking_id.empty()) return Loss(e, "a booking without an id");
  if (s.bookings.contains(b.booking_id)) {
    return Loss(e, absl::StrCat("booking ", Quoted(b.booking_id), " is booked already"));
  }
  b.start = FromMicros(b.slot.start_unix_micros());
  b.end = FromMicros(b.slot.end_unix_micros());
  if (b.end <= b.start) {
    return Loss(e,
                absl::StrCat("booking ", Quoted(b.booking_id), " ends before it starts"));
  }
  b.position = e.position;
  s.booking_order.push_back(b.booking_id);
  std::string id = b.booking_id;
  s.bookings.emplace(std::move(id), std::move(b));
  return absl::OkStatus();
}

absl::StatusOr<BookingFacts*> Existing(ScheduleState& s, const ScheduleLogEvent& e,
                                       const std::string& booking_id) {
  auto it = s.bookings.find(booking_id);
  if (it == s.bookings.end()) {
    return Loss(e, absl::StrCat("no booking ", Quoted(booking_id)));
  }
  return &it->second;
}

void FoldFact(ScheduleState& s, const scheduling_v1::UpstreamFactRecorded& f) {
  if (f.source() == consent_v1::CONSENT_LOG) {
    s.last_consent_position = std::max(s.last_consent_position, f.position());
  } else {
    s.last_case_position = std::max(s.last_case_position, f.position());
  }
  switch (f.fact_case()) {
    case scheduling_v1::UpstreamFactRecorded::kParticipants:
      if (f.event_type() == "mend.case.v1.CaseReferred") s.case_known = true;
      for (const scheduling_v1::Attendee& a : f.participants().participants()) {
        auto it = std::find_if(s.participants.begin(), s.participants.end(),
                               [&](const ParticipantFacts& p) {
                                 return p.participant_id == a.participant_id();
                               });
        if (it == s.participants.end()) {
          s.participants.push_back(
              {.participant_id = a.participant_id(),
               .role = a.role(),
               .supports_participant_id = a.supports_participant_id(),
               .erased = false});
        }
      }
      break;
    case scheduling_v1::UpstreamFactRecorded::kFacilitatorAllocated:
      s.facilitators.insert(f.facilitator_allocated());
      break;
    case scheduling_v1::UpstreamFactRecorded::kFacilitatorReleased:
      s.facilitators.erase(f.facilitator_released());
      break;
    case scheduling_v1::UpstreamFactRecorded::kPaused:
      s.paused = true;
      break;
    case scheduling_v1::UpstreamFactRecorded::kResumed:
      s.paused = false;
      break;
    case scheduling_v1::UpstreamFactRecorded::kClosed:
      s.closed = true;
      break;
    case scheduling_v1::UpstreamFactRecorded::kParticipantErased:
      for (ParticipantFacts& p : s.participants) {
        if (p.participant_id == f.participant_erased()) p.erased = true;
      }
      break;
    case scheduling_v1::UpstreamFactRecorded::kWithdrawal: {
      WithdrawalFacts w;
      w.participant_id = f.withdrawal().participant_id();
      for (int scope : f.withdrawal().scopes()) {
        w.scopes.push_back(static_cast<consent_v1::ConsentScope>(scope));
      }
      w.consent_position = f.position();
      s.withdrawals.push_back(std::move(w));
      break;
    }
    case scheduling_v1::UpstreamFactRecorded::FACT_NOT_SET:
      break;
  }
}

absl::Status FoldEvent(ScheduleState& s, const ScheduleLogEvent& e) {
  const std::string_view type = e.event_type;
  if (type == kUpstreamFactRecordedType) {
    scheduling_v1::UpstreamFactRecorded f;
    if (absl::Status st = Parse(s, e, f); !st.ok()) return st;
    FoldFact(s, f);
    return absl::OkStatus();
  }
  if (type == kProgrammePlannedType) {
    scheduling_v1::ProgrammePlanned p;
    if (absl::Status st = Parse(s, e, p); !st.ok()) return st;
    if (!s.programme_id.empty()) return Loss(e, "a second programme");
    s.programme_id = p.programme_id();
    s.programme_facilitator_id = p.facilitator_id();
    s.programme_venue = p.venue();
    s.time_zone = p.time_zone();
    s.cadence_weeks = p.cadence_weeks();
    for (const scheduling_v1::ProgrammeSession& session : p.sessions()) {
      BookingFacts b;
      b.booking_id = session.booking_id();
      b.kind = scheduling_v1::PROGRAMME_SESSION;
      b.slot = session.slot();
      b.venue = p.venue();
      b.facilitator_ids = {p.facilitator_id()};
      scheduling_v1::Attendee su;
      su.set_participant_id(p.service_user_id());
      su.set_role(case_v1::SERVICE_USER);
      b.attendees = {su};
      b.session_number = session.number();
      b.module = session.module();
      if (absl::Status st = AddBooking(s, e, std::move(b)); !st.ok()) return st;
    }
    s.last_booking_ids.clear();
    for (const scheduling_v1::ProgrammeSession& session : p.sessions()) {
      s.last_booking_ids.push_back(session.booking_id());
    }
    return absl::OkStatus();
  }
  if (type == kMakeUpSessionBookedType) {
    scheduling_v1::MakeUpSessionBooked m;
    if (absl::Status st = Parse(s, e, m); !st.ok()) return st;
    absl::StatusOr<BookingFacts*> original = Existing(s, e, m.makes_up_booking_id());
    if (!original.ok()) return original.status();
    BookingFacts b;
    b.booking_id = m.booking_id();
    b.kind = scheduling_v1::PROGRAMME_SESSION;
    b.slot = m.slot();
    b.venue = m.venue();
    b.facilitator_ids = {m.facilitator_id()};
    b.attendees = (*original)->attendees;
    b.session_number = m.number();
    b.module = m.module();
    b.makes_up_booking_id = m.makes_up_booking_id();
    (*original)->made_up_by_booking_id = m.booking_id();
    s.last_booking_ids = {m.booking_id()};
    return AddBooking(s, e, std::move(b));
  }
  if (type == kSessionRescheduledType) {
    scheduling_v1::SessionRescheduled r;
    if (absl::Status st = Parse(s, e, r); !st.ok()) return st;
    absl::StatusOr<BookingFacts*> b = Existing(s, e, r.booking_id());
    if (!b.ok()) return b.status();
    (*b)->slot = r.to();
    (*b)->start = FromMicros(r.to().start_unix_micros());
    (*b)->end = FromMicros(r.to().end_unix_micros());
    if (!r.venue().empty()) (*b)->venue = r.venue();
    s.last_booking_ids = {r.booking_id()};
    return absl::OkStatus();
  }
  if (type == kAttendanceRecordedType) {
    scheduling_v1::AttendanceRecorded a;
    if (absl::Status st = Parse(s, e, a); !st.ok()) return st;
    absl::StatusOr<BookingFacts*> b = Existing(s, e, a.booking_id());
    if (!b.ok()) return b.status();
    (*b)->status = BookingStatus::kRecorded;
    (*b)->attendance = a.attendance();
    if (a.attendance() == scheduling_v1::ATTENDED) {
      ++s.sessions_attended;
      s.minutes_attended += absl::ToInt64Minutes((*b)->end - (*b)->start);
    }
    s.last_booking_ids = {a.booking_id()};
    return absl::OkStatus();
  }
  if (type == kProgrammeCompletedType) {
    scheduling_v1::ProgrammeCompleted c;
    if (absl::Status st = Parse(s, e, c); !st.ok()) return st;
    s.programme_completed = true;
    s.programme_completed_position = e.position;
    return absl::OkStatus();
  }
  if (type == kPreparationMeetingBookedType) {
    scheduling_v1::PreparationMeetingBooked m;
    if (absl::Status st = Parse(s, e, m); !st.ok()) return st;
    BookingFacts b;
    b.booking_id = m.booking_id();
    b.kind = scheduling_v1::PREPARATION_MEETING;
    b.slot = m.slot();
    b.venue = m.venue();
    b.facilitator_ids = {m.facilitator_id()};
    b.attendees = {m.participant()};
    if (m.has_approval()) b.approval = m.approval();
    s.last_booking_ids = {m.booking_id()};
    return AddBooking(s, e, std::move(b));
  }
  if (type == kConferenceBookedType) {
    scheduling_v1::ConferenceBooked c;
    if (absl::Status st = Parse(s, e, c); !st.ok()) return st;
    BookingFacts b;
    b.booking_id = c.booking_id();
    b.kind = scheduling_v1::CONFERENCE;
    b.slot = c.slot();
    b.venue = c.venue();
    b.facilitator_ids.assign(c.facilitator_ids().begin(), c.facilitator_ids().end());
    b.attendees.assign(c.attendees().begin(), c.attendees().end());
    if (c.has_approval()) b.approval = c.approval();
    b.format = c.format();
    b.service_user_arrival_unix_micros = c.service_user_arrival_unix_micros();
    b.victim_arrival_unix_micros = c.victim_arrival_unix_micros();
    s.last_booking_ids = {c.booking_id()};
    return AddBooking(s, e, std::move(b));
  }
  if (type == kBookingCancelledType) {
    scheduling_v1::BookingCancelled c;
    if (absl::Status st = Parse(s, e, c); !st.ok()) return st;
    absl::StatusOr<BookingFacts*> b = Existing(s, e, c.booking_id());
    if (!b.ok()) return b.status();
    if (!(*b)->live()) {
      return Loss(e, absl::StrCat("booking ", Quoted(c.booking_id()), " is not live"));
    }
    (*b)->status = BookingStatus::kCancelled;
    (*b)->cancellation_cause = c.cause();
    s.last_booking_ids = {c.booking_id()};
    return absl::OkStatus();
  }
  if (type == kBookingsHeldType) {
    scheduling_v1::BookingsHeld h;
    if (absl::Status st = Parse(s, e, h); !st.ok()) return st;
    for (const std::string& id : h.booking_ids()) {
      absl::StatusOr<BookingFacts*> b = Existing(s, e, id);
      if (!b.ok()) return b.status();
      if ((*b)->status != BookingStatus::kScheduled) {
        return Loss(e, absl::StrCat("booking ", Quoted(id), " is not scheduled"));
      }
      (*b)->status = BookingStatus::kHeld;
    }
    s.last_booking_ids.assign(h.booking_ids().begin(), h.booking_ids().end());
    return absl::OkStatus();
  }
  if (type == kBookingReleasedType) {
    scheduling_v1::BookingReleased r;
    if (absl::Status st = Parse(s, e, r); !st.ok()) return st;
    absl::StatusOr<BookingFacts*> b = Existing(s, e, r.booking_id());
    if (!b.ok()) return b.status();
    if ((*b)->status != BookingStatus::kHeld) {
      return Loss(e, absl::StrCat("booking ", Quoted(r.booking_id()), " is not held"));
    }
    (*b)->status = BookingStatus::kScheduled;
    if (r.has_approval()) (*b)->approval = r.approval();
    s.last_booking_ids = {r.booking_id()};
    return absl::OkStatus();
  }
  return Loss(e, "not an event type of the scheduling log");
}

}  // namespace

std::string ScheduleStreamId(std::string_view case_id) {
  return absl::StrCat(kScheduleStreamPrefix, std::string(case_id));
}

ScheduleEvent Encode(const google::protobuf::Message& event) {
  ScheduleEvent out;
  out.type = event.GetDescriptor()->full_name();
  event.SerializeToString(&out.payload);
  return out;
}

bool IsVictimRole(case_v1::ParticipantRole role) {
  return role == case_v1::VICTIM || role == case_v1::CO_VICTIM;
}

bool BookingFacts::Books(std::string_view participant_id) const {
  return std::any_of(attendees.begin(), attendees.end(),
                     [&](const scheduling_v1::Attendee& a) {
                       return a.participant_id() == participant_id;
                     });
}

bool BookingFacts::HasFacilitator(std::string_view facilitator_id) const {
  return std::find(facilitator_ids.begin(), facilitator_ids.end(), facilitator_id) !=
         facilitator_ids.end();
}

bool BookingFacts::WithVictim() const {
  if (kind == scheduling_v1::CONFERENCE) return true;
  if (kind != scheduling_v1::PREPARATION_MEETING) return false;
  return std::any_of(
      attendees.begin(), attendees.end(),
      [](const scheduling_v1::Attendee& a) { return IsVictimRole(a.role()); });
}

const ParticipantFacts* ScheduleState::FindParticipant(
    std::string_view participant_id) const {
  for (const ParticipantFacts& p : participants) {
    if (p.participant_id == participant_id) return &p;
  }
  return nullptr;
}

const ParticipantFacts* ScheduleState::ServiceUser() const {
  for (const ParticipantFacts& p : participants) {
    if (p.role == case_v1::SERVICE_USER) return &p;
  }
  return nullptr;
}

const BookingFacts* ScheduleState::FindBooking(std::string_view booking_id) const {
  auto it = bookings.find(std::string(booking_id));
  return it == bookings.end() ? nullptr : &it->second;
}

const WithdrawalFacts* ScheduleState::WithdrawnSince(std::string_view participant_id,
                                                     consent_v1::ConsentScope scope,
                                                     uint64_t after) const {
  for (auto it = withdrawals.rbegin(); it != withdrawals.rend(); ++it) {
    if (it->consent_position <= after) break;
    if (it->participant_id == participant_id &&
        std::find(it->scopes.begin(), it->scopes.end(), scope) != it->scopes.end()) {
      return &*it;
    }
  }
  return nullptr;
}

absl::Status Evolve(ScheduleState& state, const ScheduleLogEvent& event) {
  if (event.stream_version != state.version + 1) {
    return Loss(event, absl::StrCat("stream version ", event.stream_version,
                                    " follows version ", state.version));
  }
  if (absl::Status s = FoldEvent(state, event); !s.ok()) return s;
  state.version = event.stream_version;
  return absl::OkStatus();
}

consent_v1::ConsentScope ScopeForKind(common_v1::ContactKind kind) {
  switch (kind) {
    case common_v1::APPROACH_VICTIM:
      return consent_v1::PARTICIPATE;
    case common_v1::LETTER_DELIVERY:
      return consent_v1::RECEIVE_LETTER;
    case common_v1::SHUTTLE_MESSAGE:
      return consent_v1::SHUTTLE;
    case common_v1::VIDEO_MEETING:
      return consent_v1::VIDEO;
    case common_v1::FACE_TO_FACE_CONFERENCE:
      return consent_v1::FACE_TO_FACE;
    default:
      return consent_v1::CONSENT_SCOPE_UNSPECIFIED;
  }
}

void CalendarIndex::Replace(const ScheduleState& state) {
  // Out with the case's old entries.
  if (auto it = case_facilitators_.find(state.case_id); it != case_facilitators_.end()) {
    for (const std::string& f : it->second) {
      auto fit = by_facilitator_.find(f);
      if (fit == by_facilitator_.end()) continue;
      for (auto e = fit->second.begin(); e != fit->second.end();) {
        e = std::get<1>(e->first) == state.case_id ? fit->second.erase(e) : std::next(e);
      }
      if (fit->second.empty()) by_facilitator_.erase(fit);
    }
    case_facilitators_.erase(it);
  }
  std::set<std::string> facilitators;
  for (const auto& [id, b] : state.bookings) {
    if (!b.live()) continue;
    for (const std::string& f : b.facilitator_ids) {
      by_facilitator_[f].emplace(std::make_tuple(b.start, state.case_id, id),
                                 BusySlot{.case_id = state.case_id,
                                          .booking_id = id,
                                          .kind = b.kind,
                                          .session_number = b.session_number,
                                          .start = b.start,
                                          .end = b.end});
      facilitators.insert(f);
    }
  }
  if (!facilitators.empty()) case_facilitators_[state.case_id] = std::move(facilitators);
}

std::vector<BusySlot> CalendarIndex::Overlapping(std::string_view facilitator_id,
                                                 absl::Time from, absl::Time to) const {
  std::vector<BusySlot> out;
  auto it = by_facilitator_.find(facilitator_id);
  if (it == by_facilitator_.end()) return out;
  for (const auto& [key, slot] : it->second) {
    if (slot.start >= to) break;  // ordered by start
    if (slot.end > from) out.push_back(slot);
  }
  return out;
}

}  // namespace mend::schedulingsvc
