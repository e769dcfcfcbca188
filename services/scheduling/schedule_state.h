// What the scheduling service knows about one case: the upstream facts it
// learned (participants and roles, allocated facilitators, pause, closure,
// erasures from the case log; withdrawals from the consent log) and every
// booking of the case with what happened to it — folded from the events of
// the case's schedule stream ("schedule-<case_id>") in the scheduling log.
//
//   ScheduleState state;                            // a case not heard of
//   for (const RawRecord& r : records) {            // the stream, in order
//     MEND_RETURN_IF_ERROR(Evolve(state, ScheduleLogEvent{...}));
//   }
//
// The facts are scheduling's own projection, folded by scheduling code from
// its UpstreamFactRecorded events (never with another service's domain
// code). Across cases, a facilitator's bookings are indexed by
// CalendarIndex (below), built from the states.
//
// Plain C++: no gRPC, no RocksDB, no clock. Not thread-safe (values).
#ifndef MEND_SERVICES_SCHEDULING_SCHEDULE_STATE_H_
#define MEND_SERVICES_SCHEDULING_SCHEDULE_STATE_H_

#include <cstdint>
#include <map>
#include <optional>
#include <set>
#include <string>
#include <string_view>
#include <tuple>
#include <vector>

#include "absl/status/status.h"
#include "absl/time/time.h"
#include "common/eventlog/record_codec.h"
#include "google/protobuf/message.h"
#include "mend/case/v1/events.pb.h"
#include "mend/common/v1/contact.pb.h"
#include "mend/consent/v1/events.pb.h"
#include "mend/scheduling/v1/events.pb.h"

namespace mend::schedulingsvc {

namespace case_v1 = ::mend::case_::v1;
namespace common_v1 = ::mend::common::v1;
namespace consent_v1 = ::mend::consent::v1;
namespace scheduling_v1 = ::mend::scheduling::v1;

// "schedule-<case_id>": the stream of one case in the scheduling log.
inline constexpr char kScheduleStreamPrefix[] = "schedule-";
std::string ScheduleStreamId(std::string_view case_id);

// Fully qualified event type names of the scheduling log.
inline constexpr char kProgrammePlannedType[] = "mend.scheduling.v1.ProgrammePlanned";
inline constexpr char kSessionRescheduledType[] = "mend.scheduling.v1.SessionRescheduled";
inline constexpr char kMakeUpSessionBookedType[] =
    "mend.scheduling.v1.MakeUpSessionBooked";
inline constexpr char kAttendanceRecordedType[] = "mend.scheduling.v1.AttendanceRecorded";
inline constexpr char kProgrammeCompletedType[] = "mend.scheduling.v1.ProgrammeCompleted";
inline constexpr char kPreparationMeetingBookedType[] =
    "mend.scheduling.v1.PreparationMeetingBooked";
inline constexpr char kConferenceBookedType[] = "mend.scheduling.v1.ConferenceBooked";
inline constexpr char kBookingCancelledType[] = "mend.scheduling.v1.BookingCancelled";
inline constexpr char kBookingsHeldType[] = "mend.scheduling.v1.BookingsHeld";
inline constexpr char kBookingReleasedType[] = "mend.scheduling.v1.BookingReleased";
inline constexpr char kUpstreamFactRecordedType[] =
    "mend.scheduling.v1.UpstreamFactRecorded";

// The programme: twelve sessions of three hours.
inline constexpr int kProgrammeSessions = 12;
inline constexpr absl::Duration kSessionLength = absl::Hours(3);
// A victim's meeting and a service-user booking (outside the conference)
// are never at the same venue within this of each other.
inline constexpr absl::Duration kVenueSeparation = absl::Hours(1);

// One event a decide or cascade function returns: its type (the payload's
// full proto name) and payload bytes — what the command path appends.
struct ScheduleEvent {
  std::string type;
  std::string payload;
};
// Encodes a scheduling event message (type = its full proto name).
ScheduleEvent Encode(const google::protobuf::Message& event);

// One record of a schedule stream, as Evolve folds it.
struct ScheduleLogEvent {
  uint64_t position = 0;
  uint64_t stream_version = 0;
  std::string_view event_type;
  std::string_view payload;
  int64_t recorded_unix_micros = 0;

  // The record at `position` of the log, as the service folds it (at start,
  // after each append; the audit tool's replay too). Views into `record`.
  static ScheduleLogEvent Of(uint64_t position, const eventlog::RecordView& record) {
    return {.position = position,
            .stream_version = record.stream_version,
            .event_type = record.event_type,
            .payload = record.payload,
            .recorded_unix_micros = record.recorded_unix_micros};
  }
};

enum class BookingStatus {
  kScheduled,  // counts
  kHeld,       // the case is paused: does not count until released
  kCancelled,
  kRecorded,  // a session whose attendance is recorded
};

struct BookingFacts {
  std::string booking_id;
  scheduling_v1::BookingKind kind = scheduling_v1::BOOKING_KIND_UNSPECIFIED;
  BookingStatus status = BookingStatus::kScheduled;
  scheduling_v1::Slot slot;
  absl::Time start, end;  // from slot: [start, end)
  std::string venue;
  std::vector<std::string> facilitator_ids;
  // Everyone booked: the service user for a session; the one participant of
  // a preparation meeting; every attendee of a conference.
  std::vector<scheduling_v1::Attendee> attendees;
  int32_t session_number = 0;  // sessions and make-ups: 1..12
  scheduling_v1::Module module = scheduling_v1::MODULE_UNSPECIFIED;
  scheduling_v1::Attendance attendance = scheduling_v1::ATTENDANCE_UNSPECIFIED;
  std::string makes_up_booking_id;
  std::string made_up_by_booking_id;
  scheduling_v1::CancellationCause cancellation_cause =
      scheduling_v1::CANCELLATION_CAUSE_UNSPECIFIED;
  // The decision it rests on now (bookings with a victim); replaced by the
  // fresh one when a hold is released.
  std::optional<scheduling_v1::Approval> approval;
  scheduling_v1::ConferenceFormat format = scheduling_v1::CONFERENCE_FORMAT_UNSPECIFIED;
  int64_t service_user_arrival_unix_micros = 0;
  int64_t victim_arrival_unix_micros = 0;
  uint64_t position = 0;  // of the event that booked it

  bool is_session() const { return kind == scheduling_v1::PROGRAMME_SESSION; }
  // A booking that still takes up time: scheduled or held.
  bool live() const {
    return status == BookingStatus::kScheduled || status == BookingStatus::kHeld;
  }
  bool Books(std::string_view participant_id) const;
  bool HasFacilitator(std::string_view facilitator_id) const;
  // A preparation meeting with a victim or co-victim, or a conference.
  bool WithVictim() const;
};

struct ParticipantFacts {
  std::string participant_id;
  case_v1::ParticipantRole role = case_v1::PARTICIPANT_ROLE_UNSPECIFIED;
  std::string supports_participant_id;
  bool erased = false;
};

struct WithdrawalFacts {
  std::string participant_id;
  std::vector<consent_v1::ConsentScope> scopes;
  uint64_t consent_position = 0;
};

bool IsVictimRole(case_v1::ParticipantRole role);  // VICTIM, CO_VICTIM

struct ScheduleState {
  std::string case_id;
  uint64_t version = 0;  // of the schedule stream

  // From the case log.
  bool case_known = false;                     // CaseReferred observed
  std::vector<ParticipantFacts> participants;  // in the order they joined
  std::set<std::string> facilitators;          // allocated now
  bool paused = false;
  bool closed = false;
  uint64_t last_case_position = 0;  // of the newest case fact folded
  // From the consent log: every withdrawal, oldest first.
  std::vector<WithdrawalFacts> withdrawals;
  uint64_t last_consent_position = 0;

  // The programme (empty programme_id: none planned).
  std::string programme_id;
  std::string programme_facilitator_id;
  std::string programme_venue;
  std::string time_zone;
  int32_t cadence_weeks = 0;
  int32_t sessions_attended = 0;
  int64_t minutes_attended = 0;
  bool programme_completed = false;

  std::map<std::string, BookingFacts> bookings;  // by booking id
  std::vector<std::string> booking_order;        // in the order booked
  // The bookings the newest booking event made or changed, and where the
  // programme completed (0: not yet): what a command's answer reports.
  std::vector<std::string> last_booking_ids;
  uint64_t programme_completed_position = 0;

  const ParticipantFacts* FindParticipant(std::string_view participant_id) const;
  const ParticipantFacts* ServiceUser() const;  // nullptr before the referral
  bool IsAllocated(std::string_view facilitator_id) const {
    return facilitators.contains(std::string(facilitator_id));
  }
  const BookingFacts* FindBooking(std::string_view booking_id) const;
  // The newest withdrawal by `participant_id` of `scope` at a consent-log
  // position after `after`, or nullptr.
  const WithdrawalFacts* WithdrawnSince(std::string_view participant_id,
                                        consent_v1::ConsentScope scope,
                                        uint64_t after) const;
};

// Folds one record of the case's schedule stream. DATA_LOSS for a type this
// build does not know, a payload that does not parse, or an event the state
// cannot take (a booking id used twice, a change to an unknown booking).
absl::Status Evolve(ScheduleState& state, const ScheduleLogEvent& event);

// The consent scopes a decision of `kind` relies on: the victim's
// PARTICIPATE and the kind's scope, the service user's scope of the kind
// (for APPROACH_VICTIM: PARTICIPATE).
consent_v1::ConsentScope ScopeForKind(common_v1::ContactKind kind);

// One live booking of one facilitator, in any case.
struct BusySlot {
  std::string case_id;
  std::string booking_id;
  scheduling_v1::BookingKind kind = scheduling_v1::BOOKING_KIND_UNSPECIFIED;
  int32_t session_number = 0;
  absl::Time start, end;
};

// Every facilitator's live bookings across cases (a value; the service
// guards it). Replace(state) after each fold of a case's stream.
class CalendarIndex {
 public:
  // Makes the index's entries for `state.case_id` those of `state`'s live
  // bookings (removing the case's old ones).
  void Replace(const ScheduleState& state);
  // `facilitator_id`'s live bookings overlapping [from, to), by start (then
  // case and booking id).
  std::vector<BusySlot> Overlapping(std::string_view facilitator_id, absl::Time from,
                                    absl::Time to) const;

 private:
  // facilitator → (start, case, booking) → slot
  std::map<std::string,
           std::map<std::tuple<absl::Time, std::string, std::string>, BusySlot>,
           std::less<>>
      by_facilitator_;
  // case → facilitators it has entries for
  std::map<std::string, std::set<std::string>, std::less<>> case_facilitators_;
};

}  // namespace mend::schedulingsvc

#endif  // MEND_SERVICES_SCHEDULING_SCHEDULE_STATE_H_
