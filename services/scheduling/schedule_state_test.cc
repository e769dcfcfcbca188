// The fold of a schedule stream (Evolve) and the facilitators' calendar
// index: what each event does to the state, what a damaged stream is
// refused with, and which bookings take up a facilitator's time.
#include "services/scheduling/schedule_state.h"

#include <string>
#include <vector>

#include "absl/status/status.h"
#include "absl/time/civil_time.h"
#include "gmock/gmock.h"
#include "gtest/gtest.h"
#include "tests/support/test_util.h"

namespace mend::schedulingsvc {
namespace {

using ::mend::testing::IsOk;
using ::mend::testing::StatusIs;
using ::testing::ElementsAre;
using ::testing::HasSubstr;

absl::Time Utc(int d, int hh) {
  return absl::FromCivil(absl::CivilHour(2027, 6, d, hh), absl::UTCTimeZone());
}

scheduling_v1::Slot SlotAt(absl::Time start, absl::Duration length) {
  scheduling_v1::Slot s;
  s.set_start_unix_micros(absl::ToUnixMicros(start));
  s.set_end_unix_micros(absl::ToUnixMicros(start + length));
  s.set_time_zone("UTC");
  return s;
}

class Folded {
 public:
  absl::Status Fold(const google::protobuf::Message& m) {
    const ScheduleEvent e = Encode(m);
    return Evolve(state_, ScheduleLogEvent{.position = ++position_,
                                           .stream_version = state_.version + 1,
                                           .event_type = e.type,
                                           .payload = e.payload,
                                           .recorded_unix_micros = 0});
  }
  const ScheduleState& state() const { return state_; }
  uint64_t position() const { return position_; }

 private:
  ScheduleState state_;
  uint64_t position_ = 100;
};

scheduling_v1::UpstreamFactRecorded Referred(const std::string& case_id) {
  scheduling_v1::UpstreamFactRecorded f;
  f.set_case_id(case_id);
  f.set_source(consent_v1::CASE_LOG);
  f.set_position(1);
  f.set_event_type("mend.case.v1.CaseReferred");
  auto* su = f.mutable_participants()->add_participants();
  su->set_participant_id("su-1");
  su->set_role(case_v1::SERVICE_USER);
  auto* v = f.mutable_participants()->add_participants();
  v->set_participant_id("v-1");
  v->set_role(case_v1::VICTIM);
  return f;
}

scheduling_v1::PreparationMeetingBooked Meeting(const std::string& case_id,
                                                const std::string& id, absl::Time start) {
  scheduling_v1::PreparationMeetingBooked m;
  m.set_case_id(case_id);
  m.set_booking_id(id);
  m.mutable_participant()->set_participant_id("su-1");
  m.mutable_participant()->set_role(case_v1::SERVICE_USER);
  m.set_facilitator_id("ann");
  *m.mutable_slot() = SlotAt(start, absl::Hours(1));
  m.set_venue("hub");
  return m;
}

TEST(ScheduleStateTest, FactsFoldIntoTheCase) {
  Folded f;
  ASSERT_THAT(f.Fold(Referred("c-1")), IsOk());
  EXPECT_TRUE(f.state().case_known);
  EXPECT_EQ(f.state().case_id, "c-1");
  ASSERT_NE(f.state().ServiceUser(), nullptr);
  EXPECT_EQ(f.state().ServiceUser()->participant_id, "su-1");
  EXPECT_EQ(f.state().last_case_position, 1u);

  scheduling_v1::UpstreamFactRecorded allocated = Referred("c-1");
  allocated.set_position(4);
  allocated.set_facilitator_allocated("ann");
  ASSERT_THAT(f.Fold(allocated), IsOk());
  EXPECT_TRUE(f.state().IsAllocated("ann"));

  scheduling_v1::UpstreamFactRecorded withdrawn;
  withdrawn.set_case_id("c-1");
  withdrawn.set_source(consent_v1::CONSENT_LOG);
  withdrawn.set_position(9);
  withdrawn.mutable_withdrawal()->set_participant_id("v-1");
  withdrawn.mutable_withdrawal()->add_scopes(consent_v1::FACE_TO_FACE);
  ASSERT_THAT(f.Fold(withdrawn), IsOk());
  EXPECT_EQ(f.state().last_consent_position, 9u);
  EXPECT_EQ(f.state().last_case_position, 4u);
  // Withdrawn since position 8, not since 9; only that person and scope.
  EXPECT_NE(f.state().WithdrawnSince("v-1", consent_v1::FACE_TO_FACE, 8), nullptr);
  EXPECT_EQ(f.state().WithdrawnSince("v-1", consent_v1::FACE_TO_FACE, 9), nullptr);
  EXPECT_EQ(f.state().WithdrawnSince("v-1", consent_v1::VIDEO, 0), nullptr);
  EXPECT_EQ(f.state().WithdrawnSince("su-1", consent_v1::FACE_TO_FACE, 0), nullptr);

  scheduling_v1::UpstreamFactRecorded released = allocated;
  released.set_position(5);
  released.set_facilitator_released("ann");
  ASSERT_THAT(f.Fold(released), IsOk());
  EXPECT_FALSE(f.state().IsAllocated("ann"));
  EXPECT_EQ(f.state().version, 4u);
}

TEST(ScheduleStateTest, BookingsMoveThroughTheirStatuses) {
  Folded f;
  ASSERT_THAT(f.Fold(Referred("c-1")), IsOk());
  ASSERT_THAT(f.Fold(Meeting("c-1", "m-1", Utc(1, 10))), IsOk());
  const BookingFacts* m = f.state().FindBooking("m-1");
  ASSERT_NE(m, nullptr);
  EXPECT_EQ(m->status, BookingStatus::kScheduled);
  EXPECT_EQ(m->start, Utc(1, 10));
  EXPECT_EQ(m->end, Utc(1, 11));
  EXPECT_EQ(m->position, f.position());
  EXPECT_TRUE(m->Books("su-1"));
  EXPECT_FALSE(m->WithVictim());
  EXPECT_THAT(f.state().last_booking_ids, ElementsAre("m-1"));

  scheduling_v1::BookingsHeld held;
  held.set_case_id("c-1");
  held.add_booking_ids("m-1");
  ASSERT_THAT(f.Fold(held), IsOk());
  EXPECT_EQ(f.state().FindBooking("m-1")->status, BookingStatus::kHeld);
  EXPECT_TRUE(f.state().FindBooking("m-1")->live());

  scheduling_v1::BookingReleased released;
  released.set_case_id("c-1");
  released.set_booking_id("m-1");
  ASSERT_THAT(f.Fold(released), IsOk());
  EXPECT_EQ(f.state().FindBooking("m-1")->status, BookingStatus::kScheduled);

  scheduling_v1::BookingCancelled cancelled;
  cancelled.set_case_id("c-1");
  cancelled.set_booking_id("m-1");
  cancelled.set_cause(scheduling_v1::VENUE_UNAVAILABLE);
  ASSERT_THAT(f.Fold(cancelled), IsOk());
  EXPECT_EQ(f.state().FindBooking("m-1")->status, BookingStatus::kCancelled);
  EXPECT_EQ(f.state().FindBooking("m-1")->cancellation_cause,
            scheduling_v1::VENUE_UNAVAILABLE);
  EXPECT_FALSE(f.state().FindBooking("m-1")->live());
}

TEST(ScheduleStateTest, ADamagedStreamIsDataLoss) {
  Folded f;
  ASSERT_THAT(f.Fold(Referred("c-1")), IsOk());
  ASSERT_THAT(f.Fold(Meeting("c-1", "m-1", Utc(1, 10))), IsOk());
  // A booking id used twice.
  EXPECT_THAT(f.Fold(Meeting("c-1", "m-1", Utc(2, 10))),
              StatusIs(absl::StatusCode::kDataLoss));
  // Another case's event in this stream.
  EXPECT_THAT(f.Fold(Meeting("c-2", "m-2", Utc(2, 10))),
              StatusIs(absl::StatusCode::kDataLoss));
  // A change to a booking the stream never made.
  scheduling_v1::BookingCancelled unknown;
  unknown.set_case_id("c-1");
  unknown.set_booking_id("m-9");
  EXPECT_THAT(f.Fold(unknown), StatusIs(absl::StatusCode::kDataLoss));
  // A cancellation of a cancelled booking; a release of one not held.
  scheduling_v1::BookingCancelled cancelled = unknown;
  cancelled.set_booking_id("m-1");
  ASSERT_THAT(f.Fold(cancelled), IsOk());
  EXPECT_THAT(f.Fold(cancelled), StatusIs(absl::StatusCode::kDataLoss));
  scheduling_v1::BookingReleased released;
  released.set_case_id("c-1");
  released.set_booking_id("m-1");
  EXPECT_THAT(f.Fold(released), StatusIs(absl::StatusCode::kDataLoss));
  // A slot that ends before it starts.
  scheduling_v1::PreparationMeetingBooked backwards = Meeting("c-1", "m-3", Utc(3, 10));
  backwards.mutable_slot()->set_end_unix_micros(backwards.slot().start_unix_micros());
  EXPECT_THAT(f.Fold(backwards), StatusIs(absl::StatusCode::kDataLoss));

  // An unknown type, a payload that does not parse, a version out of order.
  ScheduleState s = f.state();
  EXPECT_THAT(Evolve(s, {.position = 1,
                         .stream_version = s.version + 1,
                         .event_type = "mend.scheduling.v1.Unheard",
                         .payload = "",
                         .recorded_unix_micros = 0}),
              StatusIs(absl::StatusCode::kDataLoss));
  EXPECT_THAT(Evolve(s, {.position = 1,
                         .stream_version = s.version + 1,
                         .event_type = kBookingCancelledType,
                         .payload = "\xff\xff",
                         .recorded_unix_micros = 0}),
              StatusIs(absl::StatusCode::kDataLoss));
  const ScheduleEvent e = Encode(Meeting("c-1", "m-4", Utc(4, 10)));
  absl::Status skipped = Evolve(s, {.position = 1,
                                    .stream_version = s.version + 2,
                                    .event_type = e.type,
                                    .payload = e.payload,
                                    .recorded_unix_micros = 0});
  EXPECT_THAT(skipped, StatusIs(absl::StatusCode::kDataLoss));
  EXPECT_THAT(std::string(skipped.message()), HasSubstr("stream version"));
}

TEST(ScheduleStateTest, CalendarIndexHoldsLiveBookingsAcrossCases) {
  Folded one, two;
  ASSERT_THAT(one.Fold(Referred("c-1")), IsOk());
  ASSERT_THAT(one.Fold(Meeting("c-1", "a", Utc(1, 10))), IsOk());
  ASSERT_THAT(one.Fold(Meeting("c-1", "b", Utc(1, 14))), IsOk());
  ASSERT_THAT(two.Fold(Referred("c-2")), IsOk());
  ASSERT_THAT(two.Fold(Meeting("c-2", "c", Utc(1, 12))), IsOk());
  CalendarIndex index;
  index.Replace(one.state());
  index.Replace(two.state());

  auto ids = [](const std::vector<BusySlot>& slots) {
    std::vector<std::string> out;
    for (const BusySlot& s : slots) out.push_back(s.case_id + "/" + s.booking_id);
    return out;
  };
  EXPECT_THAT(ids(index.Overlapping("ann", Utc(1, 0), Utc(2, 0))),
              ElementsAre("c-1/a", "c-2/c", "c-1/b"));
  // Half-open: a window ending at a start or starting at an end misses it.
  EXPECT_THAT(ids(index.Overlapping("ann", Utc(1, 11), Utc(1, 12))), ElementsAre());
  EXPECT_THAT(ids(index.Overlapping("ann", Utc(1, 10), Utc(1, 11))),
              ElementsAre("c-1/a"));
  EXPECT_THAT(ids(index.Overlapping("bo", Utc(1, 0), Utc(2, 0))), ElementsAre());

  // Cancelled bookings leave it; replacing a case keeps the others'.
  scheduling_v1::BookingCancelled cancel;
  cancel.set_case_id("c-1");
  cancel.set_booking_id("a");
  ASSERT_THAT(one.Fold(cancel), IsOk());
  index.Replace(one.state());
  EXPECT_THAT(ids(index.Overlapping("ann", Utc(1, 0), Utc(2, 0))),
              ElementsAre("c-2/c", "c-1/b"));
  // A held booking still takes up the time.
  scheduling_v1::BookingsHeld held;
  held.set_case_id("c-2");
  held.add_booking_ids("c");
  ASSERT_THAT(two.Fold(held), IsOk());
  index.Replace(two.state());
  EXPECT_THAT(ids(index.Overlapping("ann", Utc(1, 0), Utc(2, 0))),
              ElementsAre("c-2/c", "c-1/b"));
}

TEST(ScheduleStateTest, ScopesForKinds) {
  EXPECT_EQ(ScopeForKind(common_v1::APPROACH_VICTIM), consent_v1::PARTICIPATE);
  EXPECT_EQ(ScopeForKind(common_v1::FACE_TO_FACE_CONFERENCE), consent_v1::FACE_TO_FACE);
  EXPECT_EQ(ScopeForKind(common_v1::VIDEO_MEETING), consent_v1::VIDEO);
  EXPECT_EQ(ScopeForKind(common_v1::CONTACT_KIND_UNSPECIFIED),
            consent_v1::CONSENT_SCOPE_UNSPECIFIED);
}

}  // namespace
}  // namespace mend::schedulingsvc
