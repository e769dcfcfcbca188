// What the scheduling service's reads answer, built from the folded state:
// a booking as GetCaseSchedule and GetFacilitatorCalendar list it, and the
// GetCaseSchedule response. The gRPC handlers (authorize, validate, wait,
// read the state under the case's lock) and the audit tool's replay (the
// state folded from a log) both call these, so a replayed case reads
// exactly as the service answers it.
//
//   scheduling_v1::GetCaseScheduleResponse out = ScheduleView(state);
//   *out.mutable_handled() = followers_handled_now;  // the handler's to add
//
// Nothing here is personal data (bookings name people by id only), so every
// reader who may read a case sees the same view of it; who may read is the
// handler's check (CheckCanAct).
//
// Plain C++: no gRPC, no RocksDB, no clock. Thread-safe (pure functions).
#ifndef MEND_SERVICES_SCHEDULING_SCHEDULE_VIEW_H_
#define MEND_SERVICES_SCHEDULING_SCHEDULE_VIEW_H_

#include <string_view>

#include "mend/scheduling/v1/scheduling_service.pb.h"
#include "services/scheduling/schedule_state.h"

namespace mend::schedulingsvc {

// The wire status of a booking.
scheduling_v1::BookingStatus BookingStatusView(BookingStatus status);

// Booking `b` of case `case_id`, every fact the state keeps of it.
scheduling_v1::Booking BookingView(std::string_view case_id, const BookingFacts& b);

// The case's programme and every booking (cancelled ones too), in start
// order (then booking id). `handled` is left empty: the followers' progress
// is the service's, not the state's.
scheduling_v1::GetCaseScheduleResponse ScheduleView(const ScheduleState& state);

}  // namespace mend::schedulingsvc

#endif  // MEND_SERVICES_SCHEDULING_SCHEDULE_VIEW_H_
