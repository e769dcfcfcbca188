#include "services/scheduling/schedule_view.h"

#include <algorithm>
#include <string>
#include <tuple>
#include <vector>

namespace mend::schedulingsvc {

scheduling_v1::BookingStatus BookingStatusView(BookingStatus status) {
  switch (status) {
    case BookingStatus::kScheduled:
      return scheduling_v1::SCHEDULED;
    case BookingStatus::kHeld:
      return scheduling_v1::HELD;
    case BookingStatus::kCancelled:
      return scheduling_v1::CANCELLED;
    case BookingStatus::kRecorded:
      return scheduling_v1::RECORDED;
  }
  return scheduling_v1::BOOKING_STATUS_UNSPECIFIED;
}

scheduling_v1::Booking BookingView(std::string_view case_id, const BookingFacts& b) {
  scheduling_v1::Booking out;
  out.set_booking_id(b.booking_id);
  out.set_case_id(std::string(case_id));
  out.set_kind(b.kind);
  out.set_status(BookingStatusView(b.status));
  *out.mutable_slot() = b.slot;
  out.set_venue(b.venue);
  for (const std::string& f : b.facilitator_ids) out.add_facilitator_ids(f);
  for (const scheduling_v1::Attendee& a : b.attendees) *out.add_attendees() = a;
  out.set_session_number(b.session_number);
  out.set_module(b.module);
  out.set_attendance(b.attendance);
  out.set_makes_up_booking_id(b.makes_up_booking_id);
  out.set_made_up_by_booking_id(b.made_up_by_booking_id);
  out.set_cancellation_cause(b.cancellation_cause);
  if (b.approval.has_value()) *out.mutable_approval() = *b.approval;
  out.set_format(b.format);
  out.set_service_user_arrival_unix_micros(b.service_user_arrival_unix_micros);
  out.set_victim_arrival_unix_micros(b.victim_arrival_unix_micros);
  out.set_position(b.position);
  return out;
}

scheduling_v1::GetCaseScheduleResponse ScheduleView(const ScheduleState& s) {
  scheduling_v1::GetCaseScheduleResponse out;
  out.set_case_id(s.case_id);
  out.set_version(s.version);
  out.set_programme_id(s.programme_id);
  out.set_sessions_attended(s.sessions_attended);
  out.set_minutes_attended(s.minutes_attended);
  out.set_programme_completed(s.programme_completed);
  out.set_paused(s.paused);
  out.set_closed(s.closed);
  std::vector<const BookingFacts*> bookings;
  for (const auto& [id, b] : s.bookings) bookings.push_back(&b);
  std::sort(
      bookings.begin(), bookings.end(), [](const BookingFacts* a, const BookingFacts* b) {
        return std::tie(a->start, a->booking_id) < std::tie(b->start, b->booking_id);
      });
  for (const BookingFacts* b : bookings) *out.add_bookings() = BookingView(s.case_id, *b);
  return out;
}

}  // namespace mend::schedulingsvc
