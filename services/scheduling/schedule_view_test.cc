// The scheduling reads' views (schedule_view.h): a booking carries every fact
// the state keeps of it, and a case's schedule lists its programme and every
// booking in start order, with nothing of the followers' progress.
#include "services/scheduling/schedule_view.h"

#include <string>

#include "absl/time/time.h"
#include "gmock/gmock.h"
#include "google/protobuf/util/message_differencer.h"
#include "gtest/gtest.h"

namespace mend::schedulingsvc {
namespace {

using ::google::protobuf::util::MessageDifferencer;
using ::testing::ElementsAre;

const absl::Time kMonday = absl::FromUnixSeconds(1'811'664'000);  // 2027-05-31

BookingFacts Booking(const std::string& id, absl::Time start) {
  BookingFacts b;
  b.booking_id = id;
  b.kind = scheduling_v1::PROGRAMME_SESSION;
  b.start = start;
  b.end = start + absl::Hours(1);
  b.slot.set_start_unix_micros(absl::ToUnixMicros(b.start));
  b.slot.set_end_unix_micros(absl::ToUnixMicros(b.end));
  b.slot.set_time_zone("Europe/London");
  return b;
}

TEST(BookingStatusViewTest, EveryStatusHasItsWireValue) {
  EXPECT_EQ(BookingStatusView(BookingStatus::kScheduled), scheduling_v1::SCHEDULED);
  EXPECT_EQ(BookingStatusView(BookingStatus::kHeld), scheduling_v1::HELD);
  EXPECT_EQ(BookingStatusView(BookingStatus::kCancelled), scheduling_v1::CANCELLED);
  EXPECT_EQ(BookingStatusView(BookingStatus::kRecorded), scheduling_v1::RECORDED);
}

TEST(BookingViewTest, EveryFactOfTheBookingIsCopied) {
  BookingFacts b = Booking("b-1", kMonday);
  b.kind = scheduling_v1::CONFERENCE;
  b.status = BookingStatus::kHeld;
  b.venue = "community hall";
  b.facilitator_ids = {"ann", "bob"};
  scheduling_v1::Attendee su;
  su.set_participant_id("su-1");
  su.set_role(case_v1::SERVICE_USER);
  scheduling_v1::Attendee v;
  v.set_participant_id("v-1");
  v.set_role(case_v1::VICTIM);
  b.attendees = {su, v};
  b.session_number = 3;
  b.module = scheduling_v1::VICTIM_EMPATHY;
  b.attendance = scheduling_v1::MISSED;
  b.makes_up_booking_id = "b-0";
  b.made_up_by_booking_id = "b-2";
  b.cancellation_cause = scheduling_v1::VENUE_UNAVAILABLE;
  scheduling_v1::Approval approval;
  approval.set_decision_id("d-1");
  approval.set_consent_position(41);
  b.approval = approval;
  b.format = scheduling_v1::IN_PERSON;
  b.service_user_arrival_unix_micros = 11;
  b.victim_arrival_unix_micros = 22;
  b.position = 99;

  const scheduling_v1::Booking view = BookingView("c-1", b);
  EXPECT_EQ(view.booking_id(), "b-1");
  EXPECT_EQ(view.case_id(), "c-1");
  EXPECT_EQ(view.kind(), scheduling_v1::CONFERENCE);
  EXPECT_EQ(view.status(), scheduling_v1::HELD);
  EXPECT_TRUE(MessageDifferencer::Equals(view.slot(), b.slot));
  EXPECT_EQ(view.venue(), "community hall");
  EXPECT_THAT(view.facilitator_ids(), ElementsAre("ann", "bob"));
  ASSERT_EQ(view.attendees_size(), 2);
  EXPECT_TRUE(MessageDifferencer::Equals(view.attendees(0), su));
  EXPECT_TRUE(MessageDifferencer::Equals(view.attendees(1), v));
  EXPECT_EQ(view.session_number(), 3);
  EXPECT_EQ(view.module(), scheduling_v1::VICTIM_EMPATHY);
  EXPECT_EQ(view.attendance(), scheduling_v1::MISSED);
  EXPECT_EQ(view.makes_up_booking_id(), "b-0");
  EXPECT_EQ(view.made_up_by_booking_id(), "b-2");
  EXPECT_EQ(view.cancellation_cause(), scheduling_v1::VENUE_UNAVAILABLE);
  EXPECT_TRUE(MessageDifferencer::Equals(view.approval(), approval));
  EXPECT_EQ(view.format(), scheduling_v1::IN_PERSON);
  EXPECT_EQ(view.service_user_arrival_unix_micros(), 11);
  EXPECT_EQ(view.victim_arrival_unix_micros(), 22);
  EXPECT_EQ(view.position(), 99u);
}

TEST(BookingViewTest, NoApprovalIsNoApproval) {
  EXPECT_FALSE(BookingView("c-1", Booking("b-1", kMonday)).has_approval());
}

TEST(ScheduleViewTest, TheProgrammeAndEveryBookingInStartOrder) {
  ScheduleState s;
  s.case_id = "c-1";
  s.version = 17;
  s.programme_id = "p-1";
  s.sessions_attended = 4;
  s.minutes_attended = 240;
  s.programme_completed = false;
  s.paused = true;
  s.closed = false;
  // Booked in another order than they start; two at the same time go by id.
  for (const auto& [id, start] :
       {std::pair<std::string, absl::Time>{"b-late", kMonday + absl::Hours(48)},
        {"b-z", kMonday},
        {"b-a", kMonday},
        {"b-mid", kMonday + absl::Hours(24)}}) {
    s.bookings.emplace(id, Booking(id, start));
    s.booking_order.push_back(id);
  }
  s.bookings.at("b-mid").status = BookingStatus::kCancelled;

  const scheduling_v1::GetCaseScheduleResponse view = ScheduleView(s);
  EXPECT_EQ(view.case_id(), "c-1");
  EXPECT_EQ(view.version(), 17u);
  EXPECT_EQ(view.programme_id(), "p-1");
  EXPECT_EQ(view.sessions_attended(), 4);
  EXPECT_EQ(view.minutes_attended(), 240);
  EXPECT_FALSE(view.programme_completed());
  EXPECT_TRUE(view.paused());
  EXPECT_FALSE(view.closed());
  std::vector<std::string> ids;
  for (const scheduling_v1::Booking& b : view.bookings()) {
    EXPECT_EQ(b.case_id(), "c-1");
    ids.push_back(b.booking_id());
  }
  EXPECT_THAT(ids, ElementsAre("b-a", "b-z", "b-mid", "b-late"));
  EXPECT_EQ(view.bookings(2).status(), scheduling_v1::CANCELLED);
  EXPECT_FALSE(view.has_handled());
}

TEST(ScheduleViewTest, ACaseWithNoBookingsListsNone) {
  ScheduleState s;
  s.case_id = "c-2";
  const scheduling_v1::GetCaseScheduleResponse view = ScheduleView(s);
  EXPECT_EQ(view.case_id(), "c-2");
  EXPECT_EQ(view.version(), 0u);
  EXPECT_EQ(view.bookings_size(), 0);
}

}  // namespace
}  // namespace mend::schedulingsvc
