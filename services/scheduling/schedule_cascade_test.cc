#include "services/scheduling/schedule_cascade.h"

#include <functional>
#include <memory>
#include <optional>
#include <string>
#include <vector>

#include "absl/strings/str_cat.h"
#include "absl/strings/str_format.h"
#include "absl/time/civil_time.h"
#include "absl/time/time.h"
#include "common/base/sha256.h"
#include "common/eventlog/record_codec.h"
#include "gmock/gmock.h"
#include "google/protobuf/descriptor.h"
#include "google/protobuf/message.h"
#include "gtest/gtest.h"
#include "mend/eventlog/v1/record.pb.h"
#include "tests/support/test_util.h"

namespace mend::schedulingsvc {
namespace {

using ::google::protobuf::Message;
using ::mend::testing::IsOk;
using ::mend::testing::StatusIs;
using ::testing::ElementsAre;
using ::testing::HasSubstr;
using ::testing::IsEmpty;
using Fact = scheduling_v1::UpstreamFactRecorded;

// ---------------------------------------------------------------------------
// Helpers.

absl::Time Utc(int y, int m, int d, int hh, int mm = 0) {
  return absl::FromCivil(absl::CivilMinute(y, m, d, hh, mm), absl::UTCTimeZone());
}

scheduling_v1::Slot SlotOf(absl::Time start, absl::Duration length) {
  scheduling_v1::Slot slot;
  slot.set_start_unix_micros(absl::ToUnixMicros(start));
  slot.set_end_unix_micros(absl::ToUnixMicros(start + length));
  slot.set_time_zone("UTC");
  slot.set_local_start(absl::FormatTime("%Y-%m-%dT%H:%M", start, absl::UTCTimeZone()));
  return slot;
}

scheduling_v1::Attendee AttendeeOf(std::string id, case_v1::ParticipantRole role,
                                   std::string supports = "") {
  scheduling_v1::Attendee a;
  a.set_participant_id(std::move(id));
  a.set_role(role);
  a.set_supports_participant_id(std::move(supports));
  return a;
}

scheduling_v1::Approval ApprovalOf(std::string decision_id, uint64_t consent_position,
                                   common_v1::ContactKind kind, std::string facilitator) {
  scheduling_v1::Approval a;
  a.set_decision_id(std::move(decision_id));
  a.set_consent_position(consent_position);
  a.set_kind(kind);
  a.set_victim_id("v-1");
  a.set_service_user_id("su-1");
  a.set_facilitator_id(std::move(facilitator));
  a.set_policy_version("contact-rule/2");
  a.set_decided_unix_micros(absl::ToUnixMicros(Utc(2027, 2, 20, 9)));
  return a;
}

// An event as "<type> <text format>", so a failure shows what differs.
std::string Describe(const ScheduleEvent& e) {
  const google::protobuf::Descriptor* d =
      google::protobuf::DescriptorPool::generated_pool()->FindMessageTypeByName(e.type);
  if (d == nullptr) return absl::StrCat(e.type, " (unknown type)");
  std::unique_ptr<Message> m(
      google::protobuf::MessageFactory::generated_factory()->GetPrototype(d)->New());
  if (!m->ParseFromString(e.payload)) return absl::StrCat(e.type, " (does not parse)");
  return absl::StrCat(e.type, " { ", m->ShortDebugString(), " }");
}
std::vector<std::string> Describe(const std::vector<ScheduleEvent>& events) {
  std::vector<std::string> out;
  for (const ScheduleEvent& e : events) out.push_back(Describe(e));
  return out;
}

Handled HandledToken() {
  Handled h;
  h.set_case_position(95);
  h.set_consent_position(81);
  return h;
}

// The events a cascade should produce.
ScheduleEvent Cancelled(const std::string& booking_id,
                        scheduling_v1::CancellationCause cause,
                        consent_v1::FactSource source, uint64_t source_position,
                        const std::string& decision_id = "") {
  scheduling_v1::BookingCancelled e;
  e.set_case_id("c-1");
  e.set_booking_id(booking_id);
  e.set_cause(cause);
  e.set_cancelled_by("scheduling");
  e.set_source(source);
  e.set_source_position(source_position);
  e.set_decision_id(decision_id);
  *e.mutable_handled() = HandledToken();
  return Encode(e);
}
ScheduleEvent Released(const std::string& booking_id, uint64_t case_position,
                       const std::optional<scheduling_v1::Approval>& approval) {
  scheduling_v1::BookingReleased e;
  e.set_case_id("c-1");
  e.set_booking_id(booking_id);
  e.set_case_position(case_position);
  if (approval.has_value()) *e.mutable_approval() = *approval;
  *e.mutable_handled() = HandledToken();
  return Encode(e);
}
ScheduleEvent Held(const std::vector<std::string>& ids, uint64_t case_position) {
  scheduling_v1::BookingsHeld e;
  e.set_case_id("c-1");
  for (const std::string& id : ids) e.add_booking_ids(id);
  e.set_case_position(case_position);
  *e.mutable_handled() = HandledToken();
  return Encode(e);
}

std::string SessionId(int n) { return absl::StrFormat("s%02d", n); }
std::vector<std::string> Sessions(int from, int to) {
  std::vector<std::string> ids;
  for (int n = from; n <= to; ++n) ids.push_back(SessionId(n));
  return ids;
}

Fact FactAt(consent_v1::FactSource source, uint64_t position, std::string event_type,
            absl::Time at) {
  Fact f;
  f.set_case_id("c-1");
  f.set_source(source);
  f.set_position(position);
  f.set_event_type(std::move(event_type));
  f.set_event_id(absl::StrCat("up-", position));
  f.set_record_hash(std::string(32, 'x'));
  f.set_recorded_unix_micros(absl::ToUnixMicros(at));
  return f;
}
Fact CaseFactAt(uint64_t position, std::string event_type, absl::Time at) {
  return FactAt(consent_v1::CASE_LOG, position, std::move(event_type), at);
}
Fact PausedAt(uint64_t position, absl::Time at) {
  Fact f = CaseFactAt(position, "mend.case.v1.CasePaused", at);
  f.set_paused(true);
  return f;
}
Fact ResumedAt(uint64_t position, absl::Time at) {
  Fact f = CaseFactAt(position, "mend.case.v1.CaseResumed", at);
  f.set_resumed(true);
  return f;
}
Fact WithdrawalAt(uint64_t position, absl::Time at, const std::string& participant,
                  std::vector<consent_v1::ConsentScope> scopes) {
  Fact f =
      FactAt(consent_v1::CONSENT_LOG, position, "mend.consent.v1.ConsentWithdrawn", at);
  f.mutable_withdrawal()->set_participant_id(participant);
  for (consent_v1::ConsentScope s : scopes) f.mutable_withdrawal()->add_scopes(s);
  return f;
}

// The case: service user su-1, victim v-1 and her supporter s-1; f-1 runs the
// programme (twelve Tuesday sessions s01..s12 from 2 March 2027, 10:00-13:00
// UTC), f-2 holds the preparation meetings (su-1 on 10 March, v-1 on 20 March,
// 14:00-15:00) and leads the in-person conference on 1 May (10:00-12:00) with
// f-1, attended by su-1, v-1 and s-1.
const absl::Time kSessionOne = Utc(2027, 3, 2, 10);
const absl::Time kServiceUserMeeting = Utc(2027, 3, 10, 14);
const absl::Time kVictimMeeting = Utc(2027, 3, 20, 14);
const absl::Time kConference = Utc(2027, 5, 1, 10);
// During session 2.
const absl::Time kDuringSessionTwo = Utc(2027, 3, 9, 11);
// During session 3 (the service user's meeting has passed; the victim's has
// not).
const absl::Time kDuringSessionThree = Utc(2027, 3, 16, 12);

const scheduling_v1::Approval kApproach =
    ApprovalOf("d-approach", 40, common_v1::APPROACH_VICTIM, "f-2");
const scheduling_v1::Approval kFaceToFace =
    ApprovalOf("d-f2f", 50, common_v1::FACE_TO_FACE_CONFERENCE, "f-2");

class CascadeTest : public ::testing::Test {
 protected:
  void SetUp() override {
    Fact referral = CaseFactAt(3, "mend.case.v1.CaseReferred", Utc(2027, 2, 1, 9));
    *referral.mutable_participants()->add_participants() =
        AttendeeOf("su-1", case_v1::SERVICE_USER);
    *referral.mutable_participants()->add_participants() =
        AttendeeOf("v-1", case_v1::VICTIM);
    *referral.mutable_participants()->add_participants() =
        AttendeeOf("s-1", case_v1::SUPPORTER, "v-1");
    Fold(referral);
    for (const auto& [pos, f] : {std::pair{5, "f-1"}, std::pair{6, "f-2"}}) {
      Fact allocated =
          CaseFactAt(pos, "mend.case.v1.FacilitatorAllocated", Utc(2027, 2, 2, 9));
      allocated.set_facilitator_allocated(f);
      Fold(allocated);
    }

    scheduling_v1::ProgrammePlanned programme;
    programme.set_case_id("c-1");
    programme.set_programme_id("p-1");
    programme.set_facilitator_id("f-1");
    programme.set_service_user_id("su-1");
    programme.set_time_zone("UTC");
    programme.set_cadence_weeks(1);
    programme.set_venue("hall-1");
    for (int n = 1; n <= kProgrammeSessions; ++n) {
      scheduling_v1::ProgrammeSession* s = programme.add_sessions();
      s->set_booking_id(SessionId(n));
      s->set_number(n);
      s->set_module(static_cast<scheduling_v1::Module>(n));
      *s->mutable_slot() =
          SlotOf(kSessionOne + absl::Hours(24 * 7 * (n - 1)), kSessionLength);
    }
    programme.set_planned_by("f-1");
    Fold(programme);

    scheduling_v1::PreparationMeetingBooked victim_meeting;
    victim_meeting.set_case_id("c-1");
    victim_meeting.set_booking_id("pm-v");
    *victim_meeting.mutable_participant() = AttendeeOf("v-1", case_v1::VICTIM);
    victim_meeting.set_facilitator_id("f-2");
    *victim_meeting.mutable_slot() = SlotOf(kVictimMeeting, absl::Hours(1));
    victim_meeting.set_venue("room-2");
    *victim_meeting.mutable_approval() = kApproach;
    victim_meeting.set_booked_by("f-2");
    Fold(victim_meeting);

    scheduling_v1::PreparationMeetingBooked su_meeting;
    su_meeting.set_case_id("c-1");
    su_meeting.set_booking_id("pm-su");
    *su_meeting.mutable_participant() = AttendeeOf("su-1", case_v1::SERVICE_USER);
    su_meeting.set_facilitator_id("f-2");
    *su_meeting.mutable_slot() = SlotOf(kServiceUserMeeting, absl::Hours(1));
    su_meeting.set_venue("room-3");
    su_meeting.set_booked_by("f-2");
    Fold(su_meeting);

    scheduling_v1::ConferenceBooked conference;
    conference.set_case_id("c-1");
    conference.set_booking_id("conf");
    conference.set_format(scheduling_v1::IN_PERSON);
    *conference.mutable_slot() = SlotOf(kConference, absl::Hours(2));
    conference.set_venue("hall-2");
    *conference.add_attendees() = AttendeeOf("su-1", case_v1::SERVICE_USER);
    *conference.add_attendees() = AttendeeOf("v-1", case_v1::VICTIM);
    *conference.add_attendees() = AttendeeOf("s-1", case_v1::SUPPORTER, "v-1");
    conference.add_facilitator_ids("f-2");
    conference.add_facilitator_ids("f-1");
    conference.set_service_user_arrival_unix_micros(
        absl::ToUnixMicros(kConference - absl::Minutes(30)));
    conference.set_victim_arrival_unix_micros(
        absl::ToUnixMicros(kConference - absl::Minutes(15)));
    *conference.mutable_approval() = kFaceToFace;
    conference.set_booked_by("f-2");
    Fold(conference);
  }

  void Fold(const Message& m) { FoldEvent(Encode(m)); }
  void FoldEvent(const ScheduleEvent& e) {
    ASSERT_THAT(Evolve(state_, ScheduleLogEvent{.position = ++position_,
                                                .stream_version = state_.version + 1,
                                                .event_type = e.type,
                                                .payload = e.payload,
                                                .recorded_unix_micros = 0}),
                IsOk())
        << Describe(e);
  }
  // What a cascade appends must fold.
  void FoldAll(const std::vector<ScheduleEvent>& events) {
    for (const ScheduleEvent& e : events) FoldEvent(e);
  }

  void CancelByHand(const std::string& booking_id) {
    scheduling_v1::BookingCancelled c;
    c.set_case_id("c-1");
    c.set_booking_id(booking_id);
    c.set_cause(scheduling_v1::PARTICIPANT_REQUEST);
    c.set_cancelled_by("f-1");
    Fold(c);
  }

  std::vector<std::string> Run(const Fact& fact,
                               const std::vector<ResumeAnswer>& answers = {}) {
    absl::StatusOr<std::vector<ScheduleEvent>> events =
        Cascade(state_, fact, HandledToken(), answers);
    EXPECT_THAT(events, IsOk());
    if (!events.ok()) return {"error"};
    return Describe(*events);
  }

  // Holds what the pause during session 2 holds: s03..s12, pm-v, pm-su, conf.
  void Pause() {
    absl::StatusOr<std::vector<ScheduleEvent>> held =
        Cascade(state_, PausedAt(90, kDuringSessionTwo), HandledToken(), {});
    ASSERT_THAT(held, IsOk());
    FoldAll(*held);
  }

  BookingStatus StatusOf(const std::string& id) const {
    const BookingFacts* b = state_.FindBooking(id);
    EXPECT_NE(b, nullptr) << id;
    return b == nullptr ? BookingStatus::kCancelled : b->status;
  }

  ScheduleState state_;
  uint64_t position_ = 1000;  // in the scheduling log
};

// Describes each expected event.
template <typename... E>
std::vector<std::string> Expect(const E&... events) {
  return Describe(std::vector<ScheduleEvent>{events...});
}
std::vector<std::string> CancelledAll(const std::vector<std::string>& ids,
                                      scheduling_v1::CancellationCause cause,
                                      consent_v1::FactSource source, uint64_t position) {
  std::vector<std::string> out;
  for (const std::string& id : ids)
    out.push_back(Describe(Cancelled(id, cause, source, position)));
  return out;
}

// ---------------------------------------------------------------------------
// Withdrawals.

TEST_F(CascadeTest, WithdrawingTheKindsScopeCancelsOnlyTheBookingsRelyingOnIt) {
  // The conference's decision relied on v-1's FACE_TO_FACE; the victim's
  // preparation meeting did not (APPROACH_VICTIM: PARTICIPATE).
  const Fact w = WithdrawalAt(77, kDuringSessionTwo, "v-1", {consent_v1::FACE_TO_FACE});
  EXPECT_THAT(Run(w),
              ElementsAre(Describe(Cancelled("conf", scheduling_v1::CONSENT_WITHDRAWN,
                                             consent_v1::CONSENT_LOG, 77))));
}

TEST_F(CascadeTest, VictimWithdrawingParticipateCancelsEveryBookingWithHer) {
  const Fact w = WithdrawalAt(78, kDuringSessionTwo, "v-1",
                              {consent_v1::SHARE_INFORMATION, consent_v1::PARTICIPATE});
  std::vector<ScheduleEvent> events = *Cascade(state_, w, HandledToken(), {});
  EXPECT_EQ(Describe(events), Expect(Cancelled("pm-v", scheduling_v1::CONSENT_WITHDRAWN,
                                               consent_v1::CONSENT_LOG, 78),
                                     Cancelled("conf", scheduling_v1::CONSENT_WITHDRAWN,
                                               consent_v1::CONSENT_LOG, 78)));
  FoldAll(events);
  EXPECT_EQ(StatusOf("pm-v"), BookingStatus::kCancelled);
  EXPECT_EQ(state_.FindBooking("conf")->cancellation_cause,
            scheduling_v1::CONSENT_WITHDRAWN);
  EXPECT_EQ(StatusOf("pm-su"), BookingStatus::kScheduled);
  EXPECT_EQ(StatusOf("s03"), BookingStatus::kScheduled);
}

TEST_F(CascadeTest, ServiceUserWithdrawalCancelsTheBookingsOfTheKindsScopeOnly) {
  // The service user's consent a decision relies on is the kind's scope:
  // PARTICIPATE for APPROACH_VICTIM, FACE_TO_FACE for the conference.
  EXPECT_EQ(Run(WithdrawalAt(79, kDuringSessionTwo, "su-1", {consent_v1::PARTICIPATE})),
            Expect(Cancelled("pm-v", scheduling_v1::CONSENT_WITHDRAWN,
                             consent_v1::CONSENT_LOG, 79)));
  EXPECT_EQ(Run(WithdrawalAt(80, kDuringSessionTwo, "su-1", {consent_v1::FACE_TO_FACE})),
            Expect(Cancelled("conf", scheduling_v1::CONSENT_WITHDRAWN,
                             consent_v1::CONSENT_LOG, 80)));
}

TEST_F(CascadeTest, WithdrawalOfAnUnrelatedScopeCancelsNothing) {
  EXPECT_THAT(Run(WithdrawalAt(77, kDuringSessionTwo, "v-1",
                               {consent_v1::RECEIVE_LETTER, consent_v1::SHUTTLE,
                                consent_v1::VIDEO, consent_v1::SHARE_INFORMATION})),
              IsEmpty());
  EXPECT_THAT(Run(WithdrawalAt(77, kDuringSessionTwo, "su-1", {consent_v1::VIDEO})),
              IsEmpty());
  // The supporter's consent is no decision's.
  EXPECT_THAT(Run(WithdrawalAt(77, kDuringSessionTwo, "s-1",
                               {consent_v1::PARTICIPATE, consent_v1::FACE_TO_FACE})),
              IsEmpty());
}

TEST_F(CascadeTest, WithdrawalSparesBookingsOverOrCancelled) {
  CancelByHand("conf");
  // In progress: not over yet.
  EXPECT_EQ(Run(WithdrawalAt(77, kVictimMeeting + absl::Minutes(30), "v-1",
                             {consent_v1::PARTICIPATE})),
            Expect(Cancelled("pm-v", scheduling_v1::CONSENT_WITHDRAWN,
                             consent_v1::CONSENT_LOG, 77)));
  // Over at its end.
  EXPECT_THAT(Run(WithdrawalAt(77, kVictimMeeting + absl::Hours(1), "v-1",
                               {consent_v1::PARTICIPATE})),
              IsEmpty());
}

// ---------------------------------------------------------------------------
// Pause and resume.

TEST_F(CascadeTest, PauseHoldsOnlyTheScheduledBookingsStillToStart) {
  CancelByHand("s05");
  std::vector<ScheduleEvent> events =
      *Cascade(state_, PausedAt(90, kDuringSessionTwo), HandledToken(), {});
  // Not s01 (over), s02 (in progress) or s05 (cancelled).
  std::vector<std::string> held = {"s03", "s04"};
  for (const std::string& id : Sessions(6, 12)) held.push_back(id);
  for (const char* id : {"pm-v", "pm-su", "conf"}) held.push_back(id);
  EXPECT_EQ(Describe(events), Expect(Held(held, 90)));
  FoldAll(events);
  EXPECT_EQ(StatusOf("s02"), BookingStatus::kScheduled);
  EXPECT_EQ(StatusOf("s03"), BookingStatus::kHeld);
  EXPECT_EQ(StatusOf("s05"), BookingStatus::kCancelled);
  EXPECT_EQ(StatusOf("conf"), BookingStatus::kHeld);
}

TEST_F(CascadeTest, PauseWithNothingToHoldAppendsNothing) {
  EXPECT_THAT(Run(PausedAt(90, Utc(2027, 6, 1, 9))), IsEmpty());
}

TEST_F(CascadeTest, QuestionsOnResumeAskAgainForTheHeldVictimBookingsStillToCome) {
  Pause();
  std::vector<ResumeQuestion> questions = QuestionsOnResume(state_, kDuringSessionThree);
  ASSERT_EQ(questions.size(), 2u);
  EXPECT_EQ(questions[0].booking_id, "pm-v");
  EXPECT_EQ(questions[0].question.kind, common_v1::APPROACH_VICTIM);
  EXPECT_EQ(questions[0].question.victim_id, "v-1");
  EXPECT_EQ(questions[0].question.facilitator_id, "f-2");
  EXPECT_EQ(questions[1].booking_id, "conf");
  EXPECT_EQ(questions[1].question.kind, common_v1::FACE_TO_FACE_CONFERENCE);
  EXPECT_EQ(questions[1].question.victim_id, "v-1");
  EXPECT_EQ(questions[1].question.facilitator_id, "f-2");
  // After the victim's meeting has started, only the conference.
  questions = QuestionsOnResume(state_, kVictimMeeting);
  ASSERT_EQ(questions.size(), 1u);
  EXPECT_EQ(questions[0].booking_id, "conf");
}

TEST(QuestionsOnResumeTest, WithoutARecordedApprovalTheKindComesFromTheBooking) {
  ScheduleState state;
  state.case_id = "c-2";
  const absl::Time at = Utc(2027, 4, 1, 9);
  auto add = [&](std::string id, scheduling_v1::BookingKind kind, BookingStatus status,
                 absl::Time start, std::vector<scheduling_v1::Attendee> attendees,
                 std::vector<std::string> facilitators) {
    BookingFacts b;
    b.booking_id = id;
    b.kind = kind;
    b.status = status;
    b.start = start;
    b.end = start + absl::Hours(1);
    b.attendees = std::move(attendees);
    b.facilitator_ids = std::move(facilitators);
    if (kind == scheduling_v1::CONFERENCE) b.format = scheduling_v1::VIDEO;
    state.booking_order.push_back(id);
    state.bookings.emplace(id, std::move(b));
  };
  const auto su = AttendeeOf("su-2", case_v1::SERVICE_USER);
  const auto cv = AttendeeOf("cv-2", case_v1::CO_VICTIM);
  add("video", scheduling_v1::CONFERENCE, BookingStatus::kHeld, at + absl::Hours(48),
      {su, cv}, {"f-3", "f-4"});
  add("su-meeting", scheduling_v1::PREPARATION_MEETING, BookingStatus::kHeld,
      at + absl::Hours(24), {su}, {"f-3"});
  add("cv-meeting", scheduling_v1::PREPARATION_MEETING, BookingStatus::kHeld,
      at + absl::Hours(24), {cv}, {"f-4"});
  add("scheduled", scheduling_v1::PREPARATION_MEETING, BookingStatus::kScheduled,
      at + absl::Hours(24), {cv}, {"f-4"});
  add("passed", scheduling_v1::PREPARATION_MEETING, BookingStatus::kHeld, at, {cv},
      {"f-4"});

  std::vector<ResumeQuestion> questions = QuestionsOnResume(state, at);
  ASSERT_EQ(questions.size(), 2u);
  EXPECT_EQ(questions[0].booking_id, "video");
  EXPECT_EQ(questions[0].question.kind, common_v1::VIDEO_MEETING);
  EXPECT_EQ(questions[0].question.victim_id, "cv-2");
  EXPECT_EQ(questions[0].question.facilitator_id, "f-3");
  EXPECT_EQ(questions[1].booking_id, "cv-meeting");
  EXPECT_EQ(questions[1].question.kind, common_v1::APPROACH_VICTIM);
  EXPECT_EQ(questions[1].question.victim_id, "cv-2");
  EXPECT_EQ(questions[1].question.facilitator_id, "f-4");
}

TEST_F(CascadeTest, ResumeReleasesOnApprovalAndCancelsRefusedAndPassedBookings) {
  Pause();
  const scheduling_v1::Approval fresh =
      ApprovalOf("d-approach-2", 81, common_v1::APPROACH_VICTIM, "f-2");
  scheduling_v1::Approval refusal =
      ApprovalOf("d-f2f-2", 82, common_v1::FACE_TO_FACE_CONFERENCE, "f-2");
  const std::vector<ResumeAnswer> answers = {
      {.booking_id = "conf", .approved = false, .approval = refusal},
      {.booking_id = "pm-v", .approved = true, .approval = fresh},
  };
  std::vector<ScheduleEvent> events =
      *Cascade(state_, ResumedAt(96, kDuringSessionThree), HandledToken(), answers);

  std::vector<ScheduleEvent> expected;
  expected.push_back(
      Cancelled("s03", scheduling_v1::PASSED_WHILE_HELD, consent_v1::CASE_LOG, 96));
  for (const std::string& id : Sessions(4, 12))
    expected.push_back(Released(id, 96, std::nullopt));
  expected.push_back(Released("pm-v", 96, fresh));
  expected.push_back(
      Cancelled("pm-su", scheduling_v1::PASSED_WHILE_HELD, consent_v1::CASE_LOG, 96));
  expected.push_back(Cancelled("conf", scheduling_v1::REFUSED_ON_RESUME,
                               consent_v1::CASE_LOG, 96, "d-f2f-2"));
  EXPECT_EQ(Describe(events), Describe(expected));

  FoldAll(events);
  EXPECT_EQ(StatusOf("s04"), BookingStatus::kScheduled);
  EXPECT_EQ(StatusOf("pm-v"), BookingStatus::kScheduled);
  ASSERT_TRUE(state_.FindBooking("pm-v")->approval.has_value());
  EXPECT_EQ(state_.FindBooking("pm-v")->approval->decision_id(), "d-approach-2");
  EXPECT_EQ(state_.FindBooking("conf")->cancellation_cause,
            scheduling_v1::REFUSED_ON_RESUME);
  EXPECT_EQ(state_.FindBooking("s03")->cancellation_cause,
            scheduling_v1::PASSED_WHILE_HELD);
}

TEST_F(CascadeTest, ResumeWithoutAnAnswerForAHeldVictimBookingIsInternal) {
  Pause();
  const std::vector<ResumeAnswer> answers = {
      {.booking_id = "pm-v",
       .approved = true,
       .approval = ApprovalOf("d-approach-2", 81, common_v1::APPROACH_VICTIM, "f-2")},
      {.booking_id = "s04", .approved = true, .approval = {}},
  };
  EXPECT_THAT(
      Cascade(state_, ResumedAt(96, kDuringSessionThree), HandledToken(), answers),
      StatusIs(absl::StatusCode::kInternal, HasSubstr("conf")));
  EXPECT_THAT(Cascade(state_, ResumedAt(96, kDuringSessionThree), HandledToken(), {}),
              StatusIs(absl::StatusCode::kInternal, HasSubstr("pm-v")));
}

TEST_F(CascadeTest, ResumeAfterEveryHeldBookingPassedNeedsNoAnswer) {
  Pause();
  const absl::Time late = Utc(2027, 6, 1, 9);
  EXPECT_THAT(QuestionsOnResume(state_, late), IsEmpty());
  std::vector<std::string> held = Sessions(3, 12);
  for (const char* id : {"pm-v", "pm-su", "conf"}) held.push_back(id);
  EXPECT_EQ(Run(ResumedAt(96, late)), CancelledAll(held, scheduling_v1::PASSED_WHILE_HELD,
                                                   consent_v1::CASE_LOG, 96));
}

// ---------------------------------------------------------------------------
// Closure, release, erasure.

TEST_F(CascadeTest, ClosureCancelsEveryLiveBookingNotOver) {
  CancelByHand("s07");
  Fact closed = CaseFactAt(91, "mend.case.v1.CaseClosed", kDuringSessionTwo);
  closed.set_closed(case_v1::WITHDRAWN_BY_SERVICE_USER);
  std::vector<std::string> ids = Sessions(2, 6);  // s02 is in progress
  for (const std::string& id : Sessions(8, 12)) ids.push_back(id);
  for (const char* id : {"pm-v", "pm-su", "conf"}) ids.push_back(id);
  std::vector<ScheduleEvent> events = *Cascade(state_, closed, HandledToken(), {});
  EXPECT_EQ(Describe(events),
            CancelledAll(ids, scheduling_v1::CASE_CLOSED, consent_v1::CASE_LOG, 91));
  FoldAll(events);
  EXPECT_EQ(StatusOf("s01"), BookingStatus::kScheduled);  // over, never recorded
}

TEST_F(CascadeTest, ClosureOfAPausedCaseCancelsTheHeldBookings) {
  Pause();
  Fact closed = CaseFactAt(91, "mend.case.v1.CaseClosed", Utc(2027, 3, 12, 9));
  closed.set_closed(case_v1::STOPPED_AS_UNSAFE);
  // s02 and pm-su are over.
  std::vector<std::string> ids = Sessions(3, 12);
  for (const char* id : {"pm-v", "conf"}) ids.push_back(id);
  EXPECT_EQ(Run(closed),
            CancelledAll(ids, scheduling_v1::CASE_CLOSED, consent_v1::CASE_LOG, 91));
}

TEST_F(CascadeTest, FacilitatorReleasedCancelsTheirBookingsOnly) {
  Fact f2 = CaseFactAt(92, "mend.case.v1.FacilitatorReleased", kDuringSessionTwo);
  f2.set_facilitator_released("f-2");
  EXPECT_EQ(Run(f2),
            CancelledAll({"pm-v", "pm-su", "conf"}, scheduling_v1::FACILITATOR_RELEASED,
                         consent_v1::CASE_LOG, 92));

  // The programme's facilitator: the sessions still to end, and the conference
  // they co-facilitate.
  Fact f1 = CaseFactAt(93, "mend.case.v1.FacilitatorReleased", kDuringSessionTwo);
  f1.set_facilitator_released("f-1");
  std::vector<std::string> ids = Sessions(2, 12);
  ids.push_back("conf");
  EXPECT_EQ(Run(f1), CancelledAll(ids, scheduling_v1::FACILITATOR_RELEASED,
                                  consent_v1::CASE_LOG, 93));

  Fact other = CaseFactAt(94, "mend.case.v1.FacilitatorReleased", kDuringSessionTwo);
  other.set_facilitator_released("f-9");
  EXPECT_THAT(Run(other), IsEmpty());
}

TEST_F(CascadeTest, ParticipantErasedCancelsTheirBookingsOnly) {
  auto erased = [](const std::string& who) {
    Fact f = CaseFactAt(97, "mend.case.v1.ParticipantErased", kDuringSessionTwo);
    f.set_participant_erased(who);
    return f;
  };
  EXPECT_EQ(Run(erased("v-1")),
            CancelledAll({"pm-v", "conf"}, scheduling_v1::PARTICIPANT_ERASED,
                         consent_v1::CASE_LOG, 97));
  EXPECT_EQ(Run(erased("s-1")), CancelledAll({"conf"}, scheduling_v1::PARTICIPANT_ERASED,
                                             consent_v1::CASE_LOG, 97));
  std::vector<std::string> ids = Sessions(2, 12);
  for (const char* id : {"pm-su", "conf"}) ids.push_back(id);
  EXPECT_EQ(Run(erased("su-1")), CancelledAll(ids, scheduling_v1::PARTICIPANT_ERASED,
                                              consent_v1::CASE_LOG, 97));
}

TEST_F(CascadeTest, ParticipantsAndAllocationsSetOffNothing) {
  Fact added = CaseFactAt(98, "mend.case.v1.ParticipantAdded", kDuringSessionTwo);
  *added.mutable_participants()->add_participants() =
      AttendeeOf("i-1", case_v1::INTERPRETER, "v-1");
  EXPECT_THAT(Run(added), IsEmpty());
  Fact allocated = CaseFactAt(99, "mend.case.v1.FacilitatorAllocated", kDuringSessionTwo);
  allocated.set_facilitator_allocated("f-3");
  EXPECT_THAT(Run(allocated), IsEmpty());
}

TEST_F(CascadeTest, AFactWithoutAFactIsRefused) {
  EXPECT_THAT(
      Cascade(state_, CaseFactAt(98, "mend.case.v1.CasePaused", kDuringSessionTwo),
              HandledToken(), {}),
      StatusIs(absl::StatusCode::kInvalidArgument));
}

// ---------------------------------------------------------------------------
// Facts from upstream records.

struct Record {
  std::string bytes;
  eventlog::RecordView view;
};

// A stored record as the upstream log holds it, decoded by eventlog's codec.
std::unique_ptr<Record> StoredRecord(uint64_t position, const std::string& stream_id,
                                     const std::string& type,
                                     const std::string& payload) {
  eventlog::v1::StoredRecord r;
  r.mutable_envelope()->set_position(position);
  r.mutable_envelope()->set_stream_id(stream_id);
  r.mutable_envelope()->set_stream_version(4);
  r.mutable_envelope()->set_event_type(type);
  r.mutable_envelope()->set_event_id(absl::StrCat("ev-", position));
  r.mutable_envelope()->set_recorded_unix_micros(
      absl::ToUnixMicros(Utc(2027, 3, 1, 9, 30)));
  r.mutable_envelope()->set_correlation_id("req-1");
  r.mutable_envelope()->set_schema_version(1);
  r.set_payload(payload);
  r.set_prev_hash(std::string(32, '\x07'));
  auto out = std::make_unique<Record>();
  r.SerializeToString(&out->bytes);
  EXPECT_THAT(eventlog::DecodeRecord(out->bytes, &out->view), IsOk());
  return out;
}
std::unique_ptr<Record> CaseRecord(uint64_t position, const Message& event) {
  return StoredRecord(position, "case-c-1", event.GetDescriptor()->full_name(),
                      event.SerializeAsString());
}

common_v1::Sealed SealedFor(const std::string& person, const std::string& what) {
  common_v1::Sealed s;
  s.set_person_id(person);
  s.set_ciphertext(absl::StrCat("SEALED-", what, "-", person));
  return s;
}

case_v1::Participant ParticipantOf(const std::string& id, case_v1::ParticipantRole role,
                                   const std::string& supports = "") {
  case_v1::Participant p;
  p.set_participant_id(id);
  p.set_role(role);
  p.set_supports_participant_id(supports);
  *p.mutable_details() = SealedFor(id, "details");
  *p.mutable_needs() = SealedFor(id, "needs");
  return p;
}

// The fact's envelope fields for `record` at case-log position 12.
Fact ExpectedEnvelope(const Record& record, consent_v1::FactSource source,
                      uint64_t position, const std::string& type) {
  Fact f;
  f.set_case_id("c-1");
  f.set_source(source);
  f.set_position(position);
  f.set_event_type(type);
  f.set_event_id(absl::StrCat("ev-", position));
  f.set_record_hash(Sha256Bytes(record.bytes));
  f.set_recorded_unix_micros(absl::ToUnixMicros(Utc(2027, 3, 1, 9, 30)));
  return f;
}

TEST(CaseFactTest, AReferralKeepsTheParticipantsIdsAndRolesOnly) {
  case_v1::CaseReferred referral;
  referral.set_case_id("c-1");
  referral.set_reference("RJ-2027-000001");
  referral.set_offence_category(case_v1::ACQUISITIVE);
  *referral.mutable_offence_summary() = SealedFor("su-1", "summary");
  *referral.add_participants() = ParticipantOf("su-1", case_v1::SERVICE_USER);
  *referral.add_participants() = ParticipantOf("v-1", case_v1::VICTIM);
  *referral.add_participants() = ParticipantOf("s-1", case_v1::SUPPORTER, "v-1");
  referral.set_referred_by("officer-1");
  std::unique_ptr<Record> record = CaseRecord(12, referral);

  absl::StatusOr<std::optional<Fact>> fact = CaseFact(12, record->bytes, record->view);
  ASSERT_THAT(fact, IsOk());
  ASSERT_TRUE(fact->has_value());
  Fact expected =
      ExpectedEnvelope(*record, consent_v1::CASE_LOG, 12, "mend.case.v1.CaseReferred");
  *expected.mutable_participants()->add_participants() =
      AttendeeOf("su-1", case_v1::SERVICE_USER);
  *expected.mutable_participants()->add_participants() =
      AttendeeOf("v-1", case_v1::VICTIM);
  *expected.mutable_participants()->add_participants() =
      AttendeeOf("s-1", case_v1::SUPPORTER, "v-1");
  EXPECT_EQ(Describe(Encode(**fact)), Describe(Encode(expected)));
  EXPECT_EQ((*fact)->record_hash().size(), kSha256Size);

  // No sealed byte survives, not even as an unknown field.
  const std::string serialized = (*fact)->SerializeAsString();
  EXPECT_EQ(serialized.find("SEALED-"), std::string::npos);
  EXPECT_EQ(serialized, expected.SerializeAsString());

  // It folds into the facts the bookings depend on.
  ScheduleState state;
  const ScheduleEvent e = Encode(**fact);
  ASSERT_THAT(Evolve(state, ScheduleLogEvent{.position = 1,
                                             .stream_version = 1,
                                             .event_type = e.type,
                                             .payload = e.payload}),
              IsOk());
  EXPECT_TRUE(state.case_known);
  EXPECT_EQ(state.last_case_position, 12u);
  ASSERT_EQ(state.participants.size(), 3u);
  EXPECT_EQ(state.participants[2].supports_participant_id, "v-1");
}

TEST(CaseFactTest, AnAddedParticipantIsOneAttendee) {
  case_v1::ParticipantAdded added;
  added.set_case_id("c-1");
  *added.mutable_participant() = ParticipantOf("i-1", case_v1::INTERPRETER, "v-1");
  std::unique_ptr<Record> record = CaseRecord(13, added);
  absl::StatusOr<std::optional<Fact>> fact = CaseFact(13, record->bytes, record->view);
  ASSERT_THAT(fact, IsOk());
  ASSERT_TRUE(fact->has_value());
  Fact expected = ExpectedEnvelope(*record, consent_v1::CASE_LOG, 13,
                                   "mend.case.v1.ParticipantAdded");
  *expected.mutable_participants()->add_participants() =
      AttendeeOf("i-1", case_v1::INTERPRETER, "v-1");
  EXPECT_EQ(Describe(Encode(**fact)), Describe(Encode(expected)));
  EXPECT_EQ((*fact)->SerializeAsString().find("SEALED-"), std::string::npos);
}

TEST(CaseFactTest, EachCaseEventTheBookingsDependOnIsAFact) {
  case_v1::FacilitatorAllocated allocated;
  allocated.set_case_id("c-1");
  allocated.set_facilitator_id("f-1");
  allocated.set_allocated_by("m-1");
  case_v1::FacilitatorReleased released;
  released.set_case_id("c-1");
  released.set_facilitator_id("f-2");
  released.set_released_by("m-1");
  case_v1::CasePaused paused;
  paused.set_case_id("c-1");
  paused.set_reason("illness");
  case_v1::CaseResumed resumed;
  resumed.set_case_id("c-1");
  case_v1::CaseClosed closed;
  closed.set_case_id("c-1");
  closed.set_reason(case_v1::WITHDRAWN_BY_VICTIM);
  case_v1::ParticipantErased erased;
  erased.set_case_id("c-1");
  erased.set_participant_id("v-1");
  erased.set_basis(case_v1::ERASURE_REQUEST);

  struct Row {
    const Message* event;
    std::function<void(Fact&)> fill;
  };
  const std::vector<Row> rows = {
      {&allocated, [](Fact& f) { f.set_facilitator_allocated("f-1"); }},
      {&released, [](Fact& f) { f.set_facilitator_released("f-2"); }},
      {&paused, [](Fact& f) { f.set_paused(true); }},
      {&resumed, [](Fact& f) { f.set_resumed(true); }},
      {&closed, [](Fact& f) { f.set_closed(case_v1::WITHDRAWN_BY_VICTIM); }},
      {&erased, [](Fact& f) { f.set_participant_erased("v-1"); }},
  };
  uint64_t position = 20;
  for (const Row& row : rows) {
    ++position;
    SCOPED_TRACE(row.event->GetDescriptor()->full_name());
    std::unique_ptr<Record> record = CaseRecord(position, *row.event);
    absl::StatusOr<std::optional<Fact>> fact =
        CaseFact(position, record->bytes, record->view);
    ASSERT_THAT(fact, IsOk());
    ASSERT_TRUE(fact->has_value());
    Fact expected = ExpectedEnvelope(*record, consent_v1::CASE_LOG, position,
                                     row.event->GetDescriptor()->full_name());
    row.fill(expected);
    EXPECT_EQ(Describe(Encode(**fact)), Describe(Encode(expected)));
  }
}

TEST(CaseFactTest, OtherCaseEventsAreNoFact) {
  case_v1::AcknowledgementRecorded ack;
  ack.set_case_id("c-1");
  ack.set_acknowledged(true);
  *ack.mutable_notes() = SealedFor("su-1", "notes");
  std::unique_ptr<Record> record = CaseRecord(30, ack);
  absl::StatusOr<std::optional<Fact>> fact = CaseFact(30, record->bytes, record->view);
  ASSERT_THAT(fact, IsOk());
  EXPECT_FALSE(fact->has_value());

  // Not even parsed.
  record =
      StoredRecord(31, "case-c-1", "mend.case.v1.RiskAssessmentRecorded", "\xff\xff");
  fact = CaseFact(31, record->bytes, record->view);
  ASSERT_THAT(fact, IsOk());
  EXPECT_FALSE(fact->has_value());

  // A consent event is no case fact.
  record = StoredRecord(32, "case-c-1", "mend.consent.v1.ConsentWithdrawn", "");
  fact = CaseFact(32, record->bytes, record->view);
  ASSERT_THAT(fact, IsOk());
  EXPECT_FALSE(fact->has_value());
}

TEST(CaseFactTest, APayloadThatDoesNotParseOrNamesNoCaseIsDataLoss) {
  // Field 1, length 100, then 2 bytes: truncated.
  std::unique_ptr<Record> record = StoredRecord(40, "case-c-1", "mend.case.v1.CaseClosed",
                                                std::string("\x0a\x64zz", 4));
  EXPECT_THAT(CaseFact(40, record->bytes, record->view),
              StatusIs(absl::StatusCode::kDataLoss,
                       HasSubstr("mend.case.v1.CaseClosed at case-log position 40")));

  case_v1::CasePaused paused;  // no case_id
  paused.set_reason("illness");
  record = CaseRecord(41, paused);
  EXPECT_THAT(CaseFact(41, record->bytes, record->view),
              StatusIs(absl::StatusCode::kDataLoss,
                       HasSubstr("mend.case.v1.CasePaused at case-log position 41")));
  EXPECT_THAT(CaseFact(41, record->bytes, record->view),
              StatusIs(absl::StatusCode::kDataLoss, HasSubstr("case_id")));
}

TEST(ConsentFactTest, AWithdrawalIsAFact) {
  consent_v1::ConsentWithdrawn withdrawn;
  withdrawn.set_case_id("c-1");
  withdrawn.set_participant_id("v-1");
  withdrawn.add_scopes(consent_v1::PARTICIPATE);
  withdrawn.add_scopes(consent_v1::FACE_TO_FACE);
  withdrawn.set_recorded_by("f-2");
  std::unique_ptr<Record> record =
      StoredRecord(77, "consent-c-1", "mend.consent.v1.ConsentWithdrawn",
                   withdrawn.SerializeAsString());

  absl::StatusOr<std::optional<Fact>> fact = ConsentFact(77, record->bytes, record->view);
  ASSERT_THAT(fact, IsOk());
  ASSERT_TRUE(fact->has_value());
  Fact expected = ExpectedEnvelope(*record, consent_v1::CONSENT_LOG, 77,
                                   "mend.consent.v1.ConsentWithdrawn");
  expected.mutable_withdrawal()->set_participant_id("v-1");
  expected.mutable_withdrawal()->add_scopes(consent_v1::PARTICIPATE);
  expected.mutable_withdrawal()->add_scopes(consent_v1::FACE_TO_FACE);
  EXPECT_EQ(Describe(Encode(**fact)), Describe(Encode(expected)));
}

TEST(ConsentFactTest, OtherConsentEventsAreNoFact) {
  consent_v1::ConsentRecorded recorded;
  recorded.set_case_id("c-1");
  std::unique_ptr<Record> record = StoredRecord(
      78, "consent-c-1", "mend.consent.v1.ConsentRecorded", recorded.SerializeAsString());
  absl::StatusOr<std::optional<Fact>> fact = ConsentFact(78, record->bytes, record->view);
  ASSERT_THAT(fact, IsOk());
  EXPECT_FALSE(fact->has_value());

  record = StoredRecord(79, "consent-c-1", "mend.consent.v1.ContactDecisionMade", "\xff");
  fact = ConsentFact(79, record->bytes, record->view);
  ASSERT_THAT(fact, IsOk());
  EXPECT_FALSE(fact->has_value());
}

TEST(ConsentFactTest, ABadWithdrawalIsDataLoss) {
  std::unique_ptr<Record> record =
      StoredRecord(80, "consent-c-1", "mend.consent.v1.ConsentWithdrawn",
                   std::string("\x0a\x64zz", 4));
  EXPECT_THAT(
      ConsentFact(80, record->bytes, record->view),
      StatusIs(absl::StatusCode::kDataLoss,
               HasSubstr("mend.consent.v1.ConsentWithdrawn at consent-log position 80")));

  consent_v1::ConsentWithdrawn no_case;
  no_case.set_participant_id("v-1");
  no_case.add_scopes(consent_v1::PARTICIPATE);
  record = StoredRecord(81, "consent-c-1", "mend.consent.v1.ConsentWithdrawn",
                        no_case.SerializeAsString());
  EXPECT_THAT(
      ConsentFact(81, record->bytes, record->view),
      StatusIs(absl::StatusCode::kDataLoss, HasSubstr("consent-log position 81")));
}

}  // namespace
}  // namespace mend::schedulingsvc
