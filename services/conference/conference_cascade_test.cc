#include "services/conference/conference_cascade.h"

#include <functional>
#include <memory>
#include <optional>
#include <string>
#include <vector>

#include "absl/strings/str_cat.h"
#include "absl/time/civil_time.h"
#include "absl/time/time.h"
#include "common/base/sha256.h"
#include "common/eventlog/record_codec.h"
#include "gmock/gmock.h"
#include "google/protobuf/descriptor.h"
#include "google/protobuf/message.h"
#include "gtest/gtest.h"
#include "mend/eventlog/v1/record.pb.h"
#include "mend/scheduling/v1/events.pb.h"
#include "tests/support/test_util.h"

namespace mend::conferencesvc {
namespace {

namespace scheduling_v1 = ::mend::scheduling::v1;
using ::google::protobuf::Message;
using ::mend::testing::IsOk;
using ::mend::testing::StatusIs;
using ::testing::ElementsAre;
using ::testing::HasSubstr;
using ::testing::IsEmpty;
using Fact = conference_v1::UpstreamFactRecorded;

// ---------------------------------------------------------------------------
// Helpers.

absl::Time Utc(int y, int m, int d, int hh, int mm = 0) {
  return absl::FromCivil(absl::CivilMinute(y, m, d, hh, mm), absl::UTCTimeZone());
}

// An event as "<type> <text format>", so a failure shows what differs.
std::string Describe(const ConferenceEvent& e) {
  const google::protobuf::Descriptor* d =
      google::protobuf::DescriptorPool::generated_pool()->FindMessageTypeByName(e.type);
  if (d == nullptr) return absl::StrCat(e.type, " (unknown type)");
  std::unique_ptr<Message> m(
      google::protobuf::MessageFactory::generated_factory()->GetPrototype(d)->New());
  if (!m->ParseFromString(e.payload)) return absl::StrCat(e.type, " (does not parse)");
  return absl::StrCat(e.type, " { ", m->ShortDebugString(), " }");
}
std::vector<std::string> Describe(const std::vector<ConferenceEvent>& events) {
  std::vector<std::string> out;
  for (const ConferenceEvent& e : events) out.push_back(Describe(e));
  return out;
}
template <typename... E>
std::vector<std::string> Expect(const E&... events) {
  return Describe(std::vector<ConferenceEvent>{events...});
}

Handled HandledToken() {
  Handled h;
  h.set_case_position(95);
  h.set_consent_position(81);
  h.set_scheduling_position(64);
  return h;
}

common_v1::Sealed SealedFor(const std::string& person, const std::string& what) {
  common_v1::Sealed s;
  s.set_person_id(person);
  s.set_ciphertext(absl::StrCat("SEALED-", what, "-", person));
  return s;
}

conference_v1::Approval ApprovalOf(std::string decision_id, uint64_t consent_position,
                                   common_v1::ContactKind kind, std::string victim) {
  conference_v1::Approval a;
  a.set_decision_id(std::move(decision_id));
  a.set_consent_position(consent_position);
  a.set_kind(kind);
  a.set_victim_id(std::move(victim));
  a.set_service_user_id("su-1");
  a.set_facilitator_id("f-1");
  a.set_policy_version("contact-rule/2");
  a.set_decided_unix_micros(absl::ToUnixMicros(Utc(2027, 4, 1, 9)));
  a.set_case_position(20);
  return a;
}

// The events a cascade should produce.
ConferenceEvent DeliveryCancelled(const std::string& letter_id, int32_t version,
                                  conference_v1::CancellationCause cause,
                                  consent_v1::FactSource source,
                                  uint64_t source_position) {
  conference_v1::LetterDeliveryCancelled e;
  e.set_case_id("c-1");
  e.set_letter_id(letter_id);
  e.set_version(version);
  e.set_cause(cause);
  e.set_source(source);
  e.set_source_position(source_position);
  *e.mutable_handled() = HandledToken();
  return Encode(e);
}
ConferenceEvent Stopped(const std::string& booking_id,
                        conference_v1::CancellationCause cause,
                        consent_v1::FactSource source, uint64_t source_position) {
  conference_v1::ConferenceStopped e;
  e.set_case_id("c-1");
  e.set_booking_id(booking_id);
  e.set_cause(cause);
  e.set_source(source);
  e.set_source_position(source_position);
  *e.mutable_handled() = HandledToken();
  return Encode(e);
}

Fact FactAt(consent_v1::FactSource source, uint64_t position, std::string event_type) {
  Fact f;
  f.set_case_id("c-1");
  f.set_source(source);
  f.set_position(position);
  f.set_event_type(std::move(event_type));
  f.set_event_id(absl::StrCat("up-", position));
  f.set_record_hash(std::string(32, 'x'));
  f.set_recorded_unix_micros(absl::ToUnixMicros(Utc(2027, 4, 1, 10)));
  return f;
}
Fact CaseFactAt(uint64_t position, std::string event_type) {
  return FactAt(consent_v1::CASE_LOG, position, std::move(event_type));
}
Fact WithdrawalAt(uint64_t position, const std::string& participant,
                  std::vector<consent_v1::ConsentScope> scopes) {
  Fact f = FactAt(consent_v1::CONSENT_LOG, position, "mend.consent.v1.ConsentWithdrawn");
  f.mutable_withdrawal()->set_participant_id(participant);
  for (consent_v1::ConsentScope s : scopes) f.mutable_withdrawal()->add_scopes(s);
  return f;
}
Fact PausedAt(uint64_t position) {
  Fact f = CaseFactAt(position, "mend.case.v1.CasePaused");
  f.set_paused(true);
  return f;
}
Fact ClosedAt(uint64_t position) {
  Fact f = CaseFactAt(position, "mend.case.v1.CaseClosed");
  f.set_closed(case_v1::STOPPED_AS_UNSAFE);
  return f;
}
Fact BookingCancelledAt(uint64_t position, const std::string& booking_id) {
  Fact f =
      FactAt(consent_v1::SCHEDULING_LOG, position, "mend.scheduling.v1.BookingCancelled");
  f.set_booking_cancelled(booking_id);
  return f;
}
conference_v1::Participant ParticipantFact(const std::string& id,
                                           case_v1::ParticipantRole role,
                                           const std::string& supports = "") {
  conference_v1::Participant p;
  p.set_participant_id(id);
  p.set_role(role);
  p.set_supports_participant_id(supports);
  return p;
}
Fact SlotBookedAt(uint64_t position, const std::string& booking_id,
                  common_v1::ContactKind kind, const std::string& victim) {
  Fact f =
      FactAt(consent_v1::SCHEDULING_LOG, position, "mend.scheduling.v1.ConferenceBooked");
  conference_v1::SlotBooked* s = f.mutable_slot_booked();
  s->set_booking_id(booking_id);
  s->set_conference(true);
  s->set_kind(kind);
  s->set_start_unix_micros(absl::ToUnixMicros(Utc(2027, 5, 1, 10)));
  s->set_end_unix_micros(absl::ToUnixMicros(Utc(2027, 5, 1, 12)));
  s->add_participant_ids("su-1");
  s->add_participant_ids(victim);
  s->add_facilitator_ids("f-1");
  return f;
}

// The case: service user su-1, victim v-1 (with supporter s-1) and co-victim
// v-2; facilitator f-1. The service user's letters, in the order first
// submitted: "l-b" offered to v-1 (pending), "l-a" offered to v-2 (pending),
// "l-c" delivered to v-1, "l-d" approved and never offered. Conferences:
// "conf-b" face to face with v-1 and "conf-a" by video with v-2, both in
// progress; "conf-c" held; "conf-d" booked, never started.
class CascadeTest : public ::testing::Test {
 protected:
  void SetUp() override {
    Fact referral = CaseFactAt(3, "mend.case.v1.CaseReferred");
    conference_v1::Participants* ps = referral.mutable_participants();
    *ps->add_participants() = ParticipantFact("su-1", case_v1::SERVICE_USER);
    *ps->add_participants() = ParticipantFact("v-1", case_v1::VICTIM);
    *ps->add_participants() = ParticipantFact("s-1", case_v1::SUPPORTER, "v-1");
    *ps->add_participants() = ParticipantFact("v-2", case_v1::CO_VICTIM);
    Fold(referral);
    Fact allocated = CaseFactAt(5, "mend.case.v1.FacilitatorAllocated");
    allocated.set_facilitator_allocated("f-1");
    Fold(allocated);

    // Letters.
    SubmitApproved("l-b", 1);
    SubmitApproved("l-a", 1);
    SubmitApproved("l-c", 1);
    SubmitApproved("l-d", 1);
    // l-b's second version is the one offered.
    Submit("l-b", 2);
    Review("l-b", 2, conference_v1::APPROVED_FOR_OFFER);
    Offer("l-b", 2, "v-1", 30);
    Offer("l-a", 1, "v-2", 31);
    Offer("l-c", 1, "v-1", 32);
    conference_v1::LetterDelivered delivered;
    delivered.set_case_id("c-1");
    delivered.set_letter_id("l-c");
    delivered.set_version(1);
    delivered.set_victim_id("v-1");
    *delivered.mutable_approval() =
        ApprovalOf("d-deliver-c", 33, common_v1::LETTER_DELIVERY, "v-1");
    delivered.set_delivered_by("f-1");
    Fold(delivered);

    // Conferences.
    Fold(SlotBookedAt(40, "conf-b", common_v1::FACE_TO_FACE_CONFERENCE, "v-1"));
    Fold(SlotBookedAt(41, "conf-a", common_v1::VIDEO_MEETING, "v-2"));
    Fold(SlotBookedAt(42, "conf-c", common_v1::FACE_TO_FACE_CONFERENCE, "v-1"));
    Fold(SlotBookedAt(43, "conf-d", common_v1::FACE_TO_FACE_CONFERENCE, "v-1"));
    Start("conf-b", common_v1::FACE_TO_FACE_CONFERENCE, "v-1", 50);
    Start("conf-a", common_v1::VIDEO_MEETING, "v-2", 51);
    Start("conf-c", common_v1::FACE_TO_FACE_CONFERENCE, "v-1", 52);
    conference_v1::ConferenceHeld held;
    held.set_case_id("c-1");
    held.set_booking_id("conf-c");
    held.add_attendee_ids("su-1");
    held.add_attendee_ids("v-1");
    *held.mutable_outline() = SealedFor("v-1", "outline");
    held.set_apology_made(true);
    held.set_recorded_by("f-1");
    Fold(held);
  }

  void Submit(const std::string& letter_id, int32_t version) {
    conference_v1::LetterDraftSubmitted e;
    e.set_case_id("c-1");
    e.set_letter_id(letter_id);
    e.set_version(version);
    e.set_author_id("su-1");
    *e.mutable_text() = SealedFor("su-1", absl::StrCat(letter_id, "-", version));
    e.set_submitted_by("f-1");
    Fold(e);
  }
  void Review(const std::string& letter_id, int32_t version,
              conference_v1::LetterVerdict verdict) {
    conference_v1::LetterReviewed e;
    e.set_case_id("c-1");
    e.set_letter_id(letter_id);
    e.set_version(version);
    e.set_verdict(verdict);
    e.set_reviewed_by("f-1");
    Fold(e);
  }
  void SubmitApproved(const std::string& letter_id, int32_t version) {
    Submit(letter_id, version);
    Review(letter_id, version, conference_v1::APPROVED_FOR_OFFER);
  }
  void Offer(const std::string& letter_id, int32_t version, const std::string& victim,
             uint64_t consent_position) {
    conference_v1::LetterOffered e;
    e.set_case_id("c-1");
    e.set_letter_id(letter_id);
    e.set_version(version);
    e.set_victim_id(victim);
    *e.mutable_approval() =
        ApprovalOf(absl::StrCat("d-offer-", letter_id), consent_position,
                   common_v1::APPROACH_VICTIM, victim);
    e.set_offered_by("f-1");
    Fold(e);
  }
  void Start(const std::string& booking_id, common_v1::ContactKind kind,
             const std::string& victim, uint64_t consent_position) {
    conference_v1::ConferenceStarted e;
    e.set_case_id("c-1");
    e.set_booking_id(booking_id);
    e.set_kind(kind);
    *e.mutable_approval() =
        ApprovalOf(absl::StrCat("d-start-", booking_id), consent_position, kind, victim);
    e.set_started_by("f-1");
    Fold(e);
  }

  void Fold(const Message& m) { FoldEvent(Encode(m)); }
  void FoldEvent(const ConferenceEvent& e) {
    ASSERT_THAT(Evolve(state_, ConferenceLogEvent{.position = ++position_,
                                                  .stream_version = state_.version + 1,
                                                  .event_type = e.type,
                                                  .payload = e.payload,
                                                  .recorded_unix_micros = 0}),
                IsOk())
        << Describe(e);
  }
  // What a cascade appends must fold, after its fact.
  void FoldAll(const Fact& fact, const std::vector<ConferenceEvent>& events) {
    Fold(fact);
    for (const ConferenceEvent& e : events) FoldEvent(e);
  }

  std::vector<ConferenceEvent> Events(const Fact& fact) {
    absl::StatusOr<std::vector<ConferenceEvent>> events =
        Cascade(state_, fact, HandledToken());
    EXPECT_THAT(events, IsOk());
    if (!events.ok()) return {};
    return *events;
  }
  std::vector<std::string> Run(const Fact& fact) { return Describe(Events(fact)); }

  const LetterFacts& Letter(const std::string& id) const {
    const LetterFacts* l = state_.FindLetter(id);
    EXPECT_NE(l, nullptr) << id;
    static const LetterFacts kNone;
    return l == nullptr ? kNone : *l;
  }
  const ConferenceFacts& Conference(const std::string& id) const {
    auto it = state_.conferences.find(id);
    EXPECT_NE(it, state_.conferences.end()) << id;
    static const ConferenceFacts kNone;
    return it == state_.conferences.end() ? kNone : it->second;
  }

  ConferenceState state_;
  uint64_t position_ = 1000;  // in the conference log
};

TEST_F(CascadeTest, TheCaseIsAsDescribed) {
  EXPECT_EQ(state_.letter_order, (std::vector<std::string>{"l-b", "l-a", "l-c", "l-d"}));
  EXPECT_TRUE(Letter("l-b").pending_delivery());
  EXPECT_EQ(Letter("l-b").offered_version, 2);
  EXPECT_TRUE(Letter("l-a").pending_delivery());
  EXPECT_FALSE(Letter("l-c").pending_delivery());
  EXPECT_FALSE(Letter("l-d").pending_delivery());
  EXPECT_TRUE(Conference("conf-a").in_progress());
  EXPECT_TRUE(Conference("conf-b").in_progress());
  EXPECT_FALSE(Conference("conf-c").in_progress());
  EXPECT_EQ(state_.conferences.count("conf-d"), 0u);
}

// ---------------------------------------------------------------------------
// Withdrawals.

TEST_F(CascadeTest, VictimWithdrawingParticipateCancelsHerLetterAndStopsHerConference) {
  const Fact w =
      WithdrawalAt(77, "v-1", {consent_v1::SHARE_INFORMATION, consent_v1::PARTICIPATE});
  const std::vector<ConferenceEvent> events = Events(w);
  EXPECT_EQ(Describe(events),
            Expect(DeliveryCancelled("l-b", 2, conference_v1::CONSENT_WITHDRAWN,
                                     consent_v1::CONSENT_LOG, 77),
                   Stopped("conf-b", conference_v1::CONSENT_WITHDRAWN,
                           consent_v1::CONSENT_LOG, 77)));
  FoldAll(w, events);
  EXPECT_FALSE(Letter("l-b").pending_delivery());
  EXPECT_EQ(Letter("l-b").delivery_cancelled, conference_v1::CONSENT_WITHDRAWN);
  EXPECT_TRUE(Letter("l-a").pending_delivery());
  EXPECT_EQ(Conference("conf-b").stopped, conference_v1::CONSENT_WITHDRAWN);
  EXPECT_FALSE(Conference("conf-b").in_progress());
  EXPECT_TRUE(Conference("conf-a").in_progress());

  // Once done, the same withdrawal again sets off nothing.
  EXPECT_THAT(Run(WithdrawalAt(78, "v-1", {consent_v1::PARTICIPATE})), IsEmpty());
}

TEST_F(CascadeTest, VictimWithdrawingReceiveLetterCancelsOnlyHerLetter) {
  EXPECT_EQ(Run(WithdrawalAt(77, "v-1", {consent_v1::RECEIVE_LETTER})),
            Expect(DeliveryCancelled("l-b", 2, conference_v1::CONSENT_WITHDRAWN,
                                     consent_v1::CONSENT_LOG, 77)));
  EXPECT_EQ(Run(WithdrawalAt(78, "v-2", {consent_v1::RECEIVE_LETTER})),
            Expect(DeliveryCancelled("l-a", 1, conference_v1::CONSENT_WITHDRAWN,
                                     consent_v1::CONSENT_LOG, 78)));
}

TEST_F(CascadeTest, VictimWithdrawingTheKindsScopeStopsOnlyTheConferenceRelyingOnIt) {
  // conf-b relied on v-1's FACE_TO_FACE; no letter relies on it.
  EXPECT_EQ(Run(WithdrawalAt(77, "v-1", {consent_v1::FACE_TO_FACE})),
            Expect(Stopped("conf-b", conference_v1::CONSENT_WITHDRAWN,
                           consent_v1::CONSENT_LOG, 77)));
  // conf-a is v-2's, by video.
  EXPECT_EQ(Run(WithdrawalAt(78, "v-2", {consent_v1::VIDEO})),
            Expect(Stopped("conf-a", conference_v1::CONSENT_WITHDRAWN,
                           consent_v1::CONSENT_LOG, 78)));
  // v-1's VIDEO and v-2's FACE_TO_FACE: relied on by no conference.
  EXPECT_THAT(Run(WithdrawalAt(79, "v-1", {consent_v1::VIDEO})), IsEmpty());
  EXPECT_THAT(Run(WithdrawalAt(80, "v-2", {consent_v1::FACE_TO_FACE})), IsEmpty());
}

TEST_F(CascadeTest, ServiceUserWithdrawalCancelsTheirLettersAndStopsByTheKindsScope) {
  // The author's PARTICIPATE or RECEIVE_LETTER: every pending delivery of
  // theirs, in the order first submitted; a conference relies on the service
  // user's scope of its kind only.
  for (consent_v1::ConsentScope scope :
       {consent_v1::PARTICIPATE, consent_v1::RECEIVE_LETTER}) {
    SCOPED_TRACE(consent_v1::ConsentScope_Name(scope));
    EXPECT_EQ(Run(WithdrawalAt(77, "su-1", {scope})),
              Expect(DeliveryCancelled("l-b", 2, conference_v1::CONSENT_WITHDRAWN,
                                       consent_v1::CONSENT_LOG, 77),
                     DeliveryCancelled("l-a", 1, conference_v1::CONSENT_WITHDRAWN,
                                       consent_v1::CONSENT_LOG, 77)));
  }
  EXPECT_EQ(Run(WithdrawalAt(78, "su-1", {consent_v1::VIDEO})),
            Expect(Stopped("conf-a", conference_v1::CONSENT_WITHDRAWN,
                           consent_v1::CONSENT_LOG, 78)));
  EXPECT_EQ(Run(WithdrawalAt(79, "su-1", {consent_v1::FACE_TO_FACE})),
            Expect(Stopped("conf-b", conference_v1::CONSENT_WITHDRAWN,
                           consent_v1::CONSENT_LOG, 79)));
}

TEST_F(CascadeTest, EveryScopeAtOnceCancelsAndStopsInOrder) {
  const Fact w = WithdrawalAt(
      77, "su-1",
      {consent_v1::PARTICIPATE, consent_v1::RECEIVE_LETTER, consent_v1::SHUTTLE,
       consent_v1::VIDEO, consent_v1::FACE_TO_FACE, consent_v1::SHARE_INFORMATION});
  const std::vector<ConferenceEvent> events = Events(w);
  // Letters in letter order, then conferences by booking id.
  EXPECT_EQ(Describe(events),
            Expect(DeliveryCancelled("l-b", 2, conference_v1::CONSENT_WITHDRAWN,
                                     consent_v1::CONSENT_LOG, 77),
                   DeliveryCancelled("l-a", 1, conference_v1::CONSENT_WITHDRAWN,
                                     consent_v1::CONSENT_LOG, 77),
                   Stopped("conf-a", conference_v1::CONSENT_WITHDRAWN,
                           consent_v1::CONSENT_LOG, 77),
                   Stopped("conf-b", conference_v1::CONSENT_WITHDRAWN,
                           consent_v1::CONSENT_LOG, 77)));
  FoldAll(w, events);
  // Decided the same on the same state, and nothing left to do after.
  EXPECT_THAT(Run(WithdrawalAt(78, "su-1", {consent_v1::PARTICIPATE})), IsEmpty());
}

TEST_F(CascadeTest, AnUnrelatedWithdrawalSetsOffNothing) {
  // Scopes no letter or conference relied on.
  EXPECT_THAT(
      Run(WithdrawalAt(77, "v-1", {consent_v1::SHUTTLE, consent_v1::SHARE_INFORMATION})),
      IsEmpty());
  EXPECT_THAT(Run(WithdrawalAt(78, "su-1", {consent_v1::SHUTTLE})), IsEmpty());
  // A supporter is no party to a letter or a decision.
  EXPECT_THAT(
      Run(WithdrawalAt(79, "s-1", {consent_v1::PARTICIPATE, consent_v1::FACE_TO_FACE})),
      IsEmpty());
  // Nobody, or no scope.
  EXPECT_THAT(Run(WithdrawalAt(80, "", {consent_v1::PARTICIPATE})), IsEmpty());
  EXPECT_THAT(Run(WithdrawalAt(81, "v-1", {})), IsEmpty());
}

TEST_F(CascadeTest, ADeliveredLetterAndAHeldConferenceAreLeftAlone) {
  // l-c was delivered to v-1 and conf-c held with her: a withdrawal now
  // undoes neither.
  const std::vector<std::string> events = Run(WithdrawalAt(
      77, "v-1",
      {consent_v1::PARTICIPATE, consent_v1::RECEIVE_LETTER, consent_v1::FACE_TO_FACE}));
  EXPECT_THAT(
      events,
      ElementsAre(Describe(DeliveryCancelled("l-b", 2, conference_v1::CONSENT_WITHDRAWN,
                                             consent_v1::CONSENT_LOG, 77)),
                  Describe(Stopped("conf-b", conference_v1::CONSENT_WITHDRAWN,
                                   consent_v1::CONSENT_LOG, 77))));
}

TEST_F(CascadeTest, AnAbandonedConferenceIsNotStopped) {
  conference_v1::ConferenceAbandoned abandoned;
  abandoned.set_case_id("c-1");
  abandoned.set_booking_id("conf-b");
  abandoned.set_reason("victim-unwell");
  abandoned.set_abandoned_by("f-1");
  Fold(abandoned);
  EXPECT_THAT(Run(WithdrawalAt(77, "v-1", {consent_v1::FACE_TO_FACE})), IsEmpty());
  EXPECT_THAT(Run(BookingCancelledAt(65, "conf-b")), IsEmpty());
}

// ---------------------------------------------------------------------------
// Pause, closure, cancelled bookings.

TEST_F(CascadeTest, APauseCancelsEveryPendingDeliveryAndStopsEveryConference) {
  const Fact paused = PausedAt(90);
  const std::vector<ConferenceEvent> events = Events(paused);
  EXPECT_EQ(
      Describe(events),
      Expect(DeliveryCancelled("l-b", 2, conference_v1::CASE_PAUSED, consent_v1::CASE_LOG,
                               90),
             DeliveryCancelled("l-a", 1, conference_v1::CASE_PAUSED, consent_v1::CASE_LOG,
                               90),
             Stopped("conf-a", conference_v1::CASE_PAUSED, consent_v1::CASE_LOG, 90),
             Stopped("conf-b", conference_v1::CASE_PAUSED, consent_v1::CASE_LOG, 90)));
  FoldAll(paused, events);
  EXPECT_EQ(Letter("l-a").delivery_cancelled, conference_v1::CASE_PAUSED);
  EXPECT_EQ(Letter("l-c").delivery_cancelled,
            conference_v1::CANCELLATION_CAUSE_UNSPECIFIED);  // delivered
  EXPECT_EQ(Conference("conf-a").stopped, conference_v1::CASE_PAUSED);
  EXPECT_EQ(Conference("conf-c").stopped,
            conference_v1::CANCELLATION_CAUSE_UNSPECIFIED);  // held

  // Resuming brings nothing back; a closure then finds nothing to do.
  Fact resumed = CaseFactAt(91, "mend.case.v1.CaseResumed");
  resumed.set_resumed(true);
  EXPECT_THAT(Run(resumed), IsEmpty());
  Fold(resumed);
  EXPECT_THAT(Run(ClosedAt(92)), IsEmpty());
}

TEST_F(CascadeTest, AClosureCancelsEveryPendingDeliveryAndStopsEveryConference) {
  const Fact closed = ClosedAt(91);
  const std::vector<ConferenceEvent> events = Events(closed);
  EXPECT_EQ(
      Describe(events),
      Expect(DeliveryCancelled("l-b", 2, conference_v1::CASE_CLOSED, consent_v1::CASE_LOG,
                               91),
             DeliveryCancelled("l-a", 1, conference_v1::CASE_CLOSED, consent_v1::CASE_LOG,
                               91),
             Stopped("conf-a", conference_v1::CASE_CLOSED, consent_v1::CASE_LOG, 91),
             Stopped("conf-b", conference_v1::CASE_CLOSED, consent_v1::CASE_LOG, 91)));
  FoldAll(closed, events);
  EXPECT_EQ(Letter("l-b").delivery_cancelled, conference_v1::CASE_CLOSED);
  EXPECT_EQ(Conference("conf-b").stopped, conference_v1::CASE_CLOSED);
}

TEST_F(CascadeTest, AWithdrawalAfterAPauseFindsNothingLeft) {
  const Fact paused = PausedAt(90);
  FoldAll(paused, Events(paused));
  EXPECT_THAT(Run(WithdrawalAt(77, "v-1", {consent_v1::PARTICIPATE})), IsEmpty());
}

TEST_F(CascadeTest, ACancelledBookingStopsItsConferenceOnly) {
  const Fact cancelled = BookingCancelledAt(65, "conf-a");
  const std::vector<ConferenceEvent> events = Events(cancelled);
  EXPECT_EQ(Describe(events), Expect(Stopped("conf-a", conference_v1::BOOKING_CANCELLED,
                                             consent_v1::SCHEDULING_LOG, 65)));
  FoldAll(cancelled, events);
  EXPECT_EQ(Conference("conf-a").stopped, conference_v1::BOOKING_CANCELLED);
  EXPECT_TRUE(Conference("conf-b").in_progress());
  EXPECT_TRUE(Letter("l-a").pending_delivery());

  // A held conference, or a booking never started: nothing to stop.
  EXPECT_THAT(Run(BookingCancelledAt(66, "conf-c")), IsEmpty());
  EXPECT_THAT(Run(BookingCancelledAt(67, "conf-d")), IsEmpty());
}

TEST_F(CascadeTest, TheOtherFactsSetOffNothing) {
  std::vector<Fact> facts;
  Fact added = CaseFactAt(96, "mend.case.v1.ParticipantAdded");
  *added.mutable_participants()->add_participants() =
      ParticipantFact("i-1", case_v1::INTERPRETER, "v-1");
  facts.push_back(added);
  Fact allocated = CaseFactAt(97, "mend.case.v1.FacilitatorAllocated");
  allocated.set_facilitator_allocated("f-2");
  facts.push_back(allocated);
  Fact released = CaseFactAt(98, "mend.case.v1.FacilitatorReleased");
  released.set_facilitator_released("f-1");
  facts.push_back(released);
  Fact assessed = CaseFactAt(99, "mend.case.v1.RiskAssessmentRecorded");
  assessed.set_risk_assessed("ra-2");
  facts.push_back(assessed);
  Fact resumed = CaseFactAt(100, "mend.case.v1.CaseResumed");
  resumed.set_resumed(true);
  facts.push_back(resumed);
  Fact erased = CaseFactAt(101, "mend.case.v1.ParticipantErased");
  erased.set_participant_erased("v-1");
  facts.push_back(erased);
  facts.push_back(SlotBookedAt(68, "conf-e", common_v1::VIDEO_MEETING, "v-1"));
  for (const Fact& f : facts) {
    SCOPED_TRACE(f.event_type());
    EXPECT_THAT(Run(f), IsEmpty());
  }
}

TEST_F(CascadeTest, AFactWithoutAFactIsRefused) {
  EXPECT_THAT(
      Cascade(state_, CaseFactAt(98, "mend.case.v1.CasePaused"), HandledToken()),
      StatusIs(absl::StatusCode::kInvalidArgument, HasSubstr("case-log position 98")));
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
std::unique_ptr<Record> RecordOf(uint64_t position, const std::string& stream_id,
                                 const Message& event) {
  return StoredRecord(position, stream_id, event.GetDescriptor()->full_name(),
                      event.SerializeAsString());
}
std::unique_ptr<Record> CaseRecord(uint64_t position, const Message& event) {
  return RecordOf(position, "case-c-1", event);
}
std::unique_ptr<Record> SchedulingRecord(uint64_t position, const Message& event) {
  return RecordOf(position, "schedule-c-1", event);
}

case_v1::Participant CaseParticipant(const std::string& id, case_v1::ParticipantRole role,
                                     const std::string& supports = "") {
  case_v1::Participant p;
  p.set_participant_id(id);
  p.set_role(role);
  p.set_supports_participant_id(supports);
  *p.mutable_details() = SealedFor(id, "details");
  *p.mutable_needs() = SealedFor(id, "needs");
  return p;
}

// The fact's envelope fields for `record`.
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

// Folds `fact` into `state` as the next event of its stream.
absl::Status FoldFact(ConferenceState& state, const Fact& fact) {
  const ConferenceEvent e = Encode(fact);
  return Evolve(state, ConferenceLogEvent{.position = state.version + 1,
                                          .stream_version = state.version + 1,
                                          .event_type = e.type,
                                          .payload = e.payload});
}

TEST(CaseFactTest, AReferralKeepsTheParticipantsIdsAndRolesOnly) {
  case_v1::CaseReferred referral;
  referral.set_case_id("c-1");
  referral.set_reference("RJ-2027-000001");
  referral.set_offence_category(case_v1::ACQUISITIVE);
  *referral.mutable_offence_summary() = SealedFor("su-1", "summary");
  *referral.add_participants() = CaseParticipant("su-1", case_v1::SERVICE_USER);
  *referral.add_participants() = CaseParticipant("v-1", case_v1::VICTIM);
  *referral.add_participants() = CaseParticipant("s-1", case_v1::SUPPORTER, "v-1");
  referral.set_referred_by("officer-1");
  std::unique_ptr<Record> record = CaseRecord(12, referral);

  absl::StatusOr<std::optional<Fact>> fact = CaseFact(12, record->bytes, record->view);
  ASSERT_THAT(fact, IsOk());
  ASSERT_TRUE(fact->has_value());
  Fact expected =
      ExpectedEnvelope(*record, consent_v1::CASE_LOG, 12, "mend.case.v1.CaseReferred");
  conference_v1::Participants* ps = expected.mutable_participants();
  *ps->add_participants() = ParticipantFact("su-1", case_v1::SERVICE_USER);
  *ps->add_participants() = ParticipantFact("v-1", case_v1::VICTIM);
  *ps->add_participants() = ParticipantFact("s-1", case_v1::SUPPORTER, "v-1");
  EXPECT_EQ(Describe(Encode(**fact)), Describe(Encode(expected)));
  EXPECT_EQ((*fact)->record_hash().size(), kSha256Size);

  // No sealed byte survives, not even as an unknown field.
  const std::string serialized = (*fact)->SerializeAsString();
  EXPECT_EQ(serialized.find("SEALED-"), std::string::npos);
  EXPECT_EQ(serialized, expected.SerializeAsString());

  // It folds into the facts.
  ConferenceState state;
  ASSERT_THAT(FoldFact(state, **fact), IsOk());
  EXPECT_TRUE(state.case_known);
  EXPECT_EQ(state.case_id, "c-1");
  EXPECT_EQ(state.last_case_position, 12u);
  ASSERT_EQ(state.participants.size(), 3u);
  EXPECT_EQ(state.participants[2].supports_participant_id, "v-1");
  ASSERT_NE(state.ServiceUser(), nullptr);
  EXPECT_EQ(state.ServiceUser()->participant_id, "su-1");
}

TEST(CaseFactTest, AnAddedParticipantIsOneParticipant) {
  case_v1::ParticipantAdded added;
  added.set_case_id("c-1");
  *added.mutable_participant() = CaseParticipant("i-1", case_v1::INTERPRETER, "v-1");
  std::unique_ptr<Record> record = CaseRecord(13, added);
  absl::StatusOr<std::optional<Fact>> fact = CaseFact(13, record->bytes, record->view);
  ASSERT_THAT(fact, IsOk());
  ASSERT_TRUE(fact->has_value());
  Fact expected = ExpectedEnvelope(*record, consent_v1::CASE_LOG, 13,
                                   "mend.case.v1.ParticipantAdded");
  *expected.mutable_participants()->add_participants() =
      ParticipantFact("i-1", case_v1::INTERPRETER, "v-1");
  EXPECT_EQ(Describe(Encode(**fact)), Describe(Encode(expected)));
  EXPECT_EQ((*fact)->SerializeAsString().find("SEALED-"), std::string::npos);
}

TEST(CaseFactTest, EachCaseEventTheServiceDependsOnIsAFact) {
  case_v1::FacilitatorAllocated allocated;
  allocated.set_case_id("c-1");
  allocated.set_facilitator_id("f-1");
  allocated.set_allocated_by("m-1");
  case_v1::FacilitatorReleased released;
  released.set_case_id("c-1");
  released.set_facilitator_id("f-2");
  released.set_released_by("m-1");
  case_v1::RiskAssessmentRecorded assessed;
  assessed.set_case_id("c-1");
  assessed.set_assessment_id("ra-1");
  assessed.set_assessor_id("f-1");
  assessed.set_level(case_v1::MEDIUM);
  assessed.add_allowed_kinds(common_v1::LETTER_DELIVERY);
  *assessed.mutable_notes() = SealedFor("su-1", "risk");
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
      {&assessed, [](Fact& f) { f.set_risk_assessed("ra-1"); }},
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
    EXPECT_EQ((*fact)->SerializeAsString().find("SEALED-"), std::string::npos);
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
      StoredRecord(31, "case-c-1", "mend.case.v1.RiskAssessmentApproved", "\xff\xff");
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
  record = StoredRecord(41, "case-c-1", "mend.case.v1.RiskAssessmentRecorded",
                        std::string("\x0a\x64zz", 4));
  EXPECT_THAT(CaseFact(41, record->bytes, record->view),
              StatusIs(absl::StatusCode::kDataLoss,
                       HasSubstr("RiskAssessmentRecorded at case-log position 41")));

  case_v1::CasePaused paused;  // no case_id
  paused.set_reason("illness");
  record = CaseRecord(42, paused);
  EXPECT_THAT(CaseFact(42, record->bytes, record->view),
              StatusIs(absl::StatusCode::kDataLoss,
                       HasSubstr("mend.case.v1.CasePaused at case-log position 42")));
  EXPECT_THAT(CaseFact(42, record->bytes, record->view),
              StatusIs(absl::StatusCode::kDataLoss, HasSubstr("case_id")));
}

TEST(ConsentFactTest, AWithdrawalIsAFact) {
  consent_v1::ConsentWithdrawn withdrawn;
  withdrawn.set_case_id("c-1");
  withdrawn.set_participant_id("v-1");
  withdrawn.add_scopes(consent_v1::PARTICIPATE);
  withdrawn.add_scopes(consent_v1::RECEIVE_LETTER);
  withdrawn.set_recorded_by("f-2");
  std::unique_ptr<Record> record = RecordOf(77, "consent-c-1", withdrawn);

  absl::StatusOr<std::optional<Fact>> fact = ConsentFact(77, record->bytes, record->view);
  ASSERT_THAT(fact, IsOk());
  ASSERT_TRUE(fact->has_value());
  Fact expected = ExpectedEnvelope(*record, consent_v1::CONSENT_LOG, 77,
                                   "mend.consent.v1.ConsentWithdrawn");
  expected.mutable_withdrawal()->set_participant_id("v-1");
  expected.mutable_withdrawal()->add_scopes(consent_v1::PARTICIPATE);
  expected.mutable_withdrawal()->add_scopes(consent_v1::RECEIVE_LETTER);
  EXPECT_EQ(Describe(Encode(**fact)), Describe(Encode(expected)));
}

TEST(ConsentFactTest, OtherConsentEventsAreNoFact) {
  consent_v1::ConsentRecorded recorded;
  recorded.set_case_id("c-1");
  std::unique_ptr<Record> record = RecordOf(78, "consent-c-1", recorded);
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
  record = RecordOf(81, "consent-c-1", no_case);
  EXPECT_THAT(
      ConsentFact(81, record->bytes, record->view),
      StatusIs(absl::StatusCode::kDataLoss, HasSubstr("consent-log position 81")));
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
scheduling_v1::ConferenceBooked ConferenceBookedOf(
    const std::string& booking_id, scheduling_v1::ConferenceFormat format) {
  scheduling_v1::ConferenceBooked c;
  c.set_case_id("c-1");
  c.set_booking_id(booking_id);
  c.set_format(format);
  *c.mutable_slot() = SlotOf(Utc(2027, 5, 1, 10), absl::Hours(2));
  c.set_venue("hall-2");
  *c.add_attendees() = AttendeeOf("su-1", case_v1::SERVICE_USER);
  *c.add_attendees() = AttendeeOf("v-1", case_v1::VICTIM);
  *c.add_attendees() = AttendeeOf("s-1", case_v1::SUPPORTER, "v-1");
  c.add_facilitator_ids("f-2");
  c.add_facilitator_ids("f-1");
  scheduling_v1::Approval* a = c.mutable_approval();
  a->set_decision_id("d-book");
  a->set_victim_id("v-1");
  c.set_booked_by("f-2");
  return c;
}

TEST(SchedulingFactTest, AConferenceBookingIsASlotOfItsFormatsKind) {
  const ConferenceState state;
  struct Row {
    scheduling_v1::ConferenceFormat format;
    common_v1::ContactKind kind;
  };
  uint64_t position = 60;
  for (const Row& row :
       {Row{scheduling_v1::IN_PERSON, common_v1::FACE_TO_FACE_CONFERENCE},
        Row{scheduling_v1::VIDEO, common_v1::VIDEO_MEETING}}) {
    ++position;
    SCOPED_TRACE(scheduling_v1::ConferenceFormat_Name(row.format));
    std::unique_ptr<Record> record =
        SchedulingRecord(position, ConferenceBookedOf("conf", row.format));
    absl::StatusOr<std::optional<Fact>> fact =
        SchedulingFact(position, record->bytes, record->view, state);
    ASSERT_THAT(fact, IsOk());
    ASSERT_TRUE(fact->has_value());
    Fact expected = ExpectedEnvelope(*record, consent_v1::SCHEDULING_LOG, position,
                                     "mend.scheduling.v1.ConferenceBooked");
    conference_v1::SlotBooked* s = expected.mutable_slot_booked();
    s->set_booking_id("conf");
    s->set_conference(true);
    s->set_kind(row.kind);
    s->set_start_unix_micros(absl::ToUnixMicros(Utc(2027, 5, 1, 10)));
    s->set_end_unix_micros(absl::ToUnixMicros(Utc(2027, 5, 1, 12)));
    s->add_participant_ids("su-1");
    s->add_participant_ids("v-1");
    s->add_participant_ids("s-1");
    s->add_facilitator_ids("f-2");
    s->add_facilitator_ids("f-1");
    EXPECT_EQ(Describe(Encode(**fact)), Describe(Encode(expected)));
  }
}

TEST(SchedulingFactTest, APreparationMeetingIsASlotOfOneParticipant) {
  scheduling_v1::PreparationMeetingBooked meeting;
  meeting.set_case_id("c-1");
  meeting.set_booking_id("pm-v");
  *meeting.mutable_participant() = AttendeeOf("v-1", case_v1::VICTIM);
  meeting.set_facilitator_id("f-2");
  *meeting.mutable_slot() = SlotOf(Utc(2027, 3, 20, 14), absl::Hours(1));
  meeting.set_venue("room-2");
  meeting.set_booked_by("f-2");
  std::unique_ptr<Record> record = SchedulingRecord(62, meeting);

  ConferenceState state;
  absl::StatusOr<std::optional<Fact>> fact =
      SchedulingFact(62, record->bytes, record->view, state);
  ASSERT_THAT(fact, IsOk());
  ASSERT_TRUE(fact->has_value());
  Fact expected = ExpectedEnvelope(*record, consent_v1::SCHEDULING_LOG, 62,
                                   "mend.scheduling.v1.PreparationMeetingBooked");
  conference_v1::SlotBooked* s = expected.mutable_slot_booked();
  s->set_booking_id("pm-v");
  s->set_conference(false);
  s->set_start_unix_micros(absl::ToUnixMicros(Utc(2027, 3, 20, 14)));
  s->set_end_unix_micros(absl::ToUnixMicros(Utc(2027, 3, 20, 15)));
  s->add_participant_ids("v-1");
  s->add_facilitator_ids("f-2");
  EXPECT_EQ(Describe(Encode(**fact)), Describe(Encode(expected)));
  EXPECT_EQ((*fact)->slot_booked().kind(), common_v1::CONTACT_KIND_UNSPECIFIED);

  // It folds into the facts.
  ASSERT_THAT(FoldFact(state, **fact), IsOk());
  const SlotFacts* slot = state.FindSlot("pm-v");
  ASSERT_NE(slot, nullptr);
  EXPECT_FALSE(slot->conference);
  EXPECT_EQ(slot->start, Utc(2027, 3, 20, 14));
  EXPECT_EQ(slot->participant_ids, std::vector<std::string>{"v-1"});
  EXPECT_EQ(state.last_scheduling_position, 62u);
}

TEST(SchedulingFactTest, ACancellationIsAFactOnlyForABookingTheServiceKnows) {
  ConferenceState state;
  std::unique_ptr<Record> booked =
      SchedulingRecord(61, ConferenceBookedOf("conf", scheduling_v1::VIDEO));
  absl::StatusOr<std::optional<Fact>> fact =
      SchedulingFact(61, booked->bytes, booked->view, state);
  ASSERT_THAT(fact, IsOk());
  ASSERT_TRUE(fact->has_value());
  ASSERT_THAT(FoldFact(state, **fact), IsOk());
  ASSERT_NE(state.FindSlot("conf"), nullptr);
  EXPECT_EQ(state.FindSlot("conf")->kind, common_v1::VIDEO_MEETING);

  scheduling_v1::BookingCancelled cancelled;
  cancelled.set_case_id("c-1");
  cancelled.set_booking_id("conf");
  cancelled.set_cause(scheduling_v1::VENUE_UNAVAILABLE);
  cancelled.set_cancelled_by("f-2");
  std::unique_ptr<Record> record = SchedulingRecord(63, cancelled);
  fact = SchedulingFact(63, record->bytes, record->view, state);
  ASSERT_THAT(fact, IsOk());
  ASSERT_TRUE(fact->has_value());
  Fact expected = ExpectedEnvelope(*record, consent_v1::SCHEDULING_LOG, 63,
                                   "mend.scheduling.v1.BookingCancelled");
  expected.set_booking_cancelled("conf");
  EXPECT_EQ(Describe(Encode(**fact)), Describe(Encode(expected)));
  ASSERT_THAT(FoldFact(state, **fact), IsOk());
  EXPECT_TRUE(state.FindSlot("conf")->cancelled);

  // A programme session's cancellation: not this service's.
  cancelled.set_booking_id("s03");
  record = SchedulingRecord(64, cancelled);
  fact = SchedulingFact(64, record->bytes, record->view, state);
  ASSERT_THAT(fact, IsOk());
  EXPECT_FALSE(fact->has_value());
}

TEST(SchedulingFactTest, OtherSchedulingEventsAreNoFact) {
  const ConferenceState state;
  scheduling_v1::ProgrammePlanned programme;
  programme.set_case_id("c-1");
  programme.set_programme_id("p-1");
  std::unique_ptr<Record> record = SchedulingRecord(65, programme);
  absl::StatusOr<std::optional<Fact>> fact =
      SchedulingFact(65, record->bytes, record->view, state);
  ASSERT_THAT(fact, IsOk());
  EXPECT_FALSE(fact->has_value());

  record = StoredRecord(66, "schedule-c-1", "mend.scheduling.v1.BookingsHeld", "\xff");
  fact = SchedulingFact(66, record->bytes, record->view, state);
  ASSERT_THAT(fact, IsOk());
  EXPECT_FALSE(fact->has_value());
}

TEST(SchedulingFactTest, ABadBookingIsDataLoss) {
  const ConferenceState state;
  for (const char* type : {"mend.scheduling.v1.ConferenceBooked",
                           "mend.scheduling.v1.PreparationMeetingBooked",
                           "mend.scheduling.v1.BookingCancelled"}) {
    SCOPED_TRACE(type);
    std::unique_ptr<Record> record =
        StoredRecord(70, "schedule-c-1", type, std::string("\x0a\x64zz", 4));
    EXPECT_THAT(
        SchedulingFact(70, record->bytes, record->view, state),
        StatusIs(absl::StatusCode::kDataLoss,
                 HasSubstr(absl::StrCat(type, " at scheduling-log position 70"))));
  }
  scheduling_v1::ConferenceBooked no_case =
      ConferenceBookedOf("conf", scheduling_v1::IN_PERSON);
  no_case.clear_case_id();
  std::unique_ptr<Record> record = SchedulingRecord(71, no_case);
  EXPECT_THAT(SchedulingFact(71, record->bytes, record->view, state),
              StatusIs(absl::StatusCode::kDataLoss, HasSubstr("no case_id")));
}

}  // namespace
}  // namespace mend::conferencesvc
