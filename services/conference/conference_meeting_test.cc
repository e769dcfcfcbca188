// Domain tests of the conference, the outcome agreement and the follow-up
// (conference_decide.h, conference_meeting.cc), on states folded through
// Evolve from upstream facts and from the events the commands decide.
#include <cstdint>
#include <optional>
#include <string>
#include <utility>
#include <vector>

#include "absl/status/status.h"
#include "absl/strings/str_cat.h"
#include "absl/time/civil_time.h"
#include "absl/time/time.h"
#include "gmock/gmock.h"
#include "google/protobuf/util/message_differencer.h"
#include "gtest/gtest.h"
#include "services/conference/conference_decide.h"
#include "services/conference/conference_state.h"
#include "tests/support/test_util.h"

namespace mend::conferencesvc {
namespace {

using ::google::protobuf::util::MessageDifferencer;
using ::mend::testing::IsOk;
using ::mend::testing::StatusIs;
using ::testing::AllOf;
using ::testing::HasSubstr;

MATCHER_P(EqualsProto, expected, "equals the expected message") {
  std::string diff;
  MessageDifferencer differencer;
  differencer.ReportDifferencesToString(&diff);
  if (differencer.Compare(expected, arg)) return true;
  *result_listener << diff;
  return false;
}

constexpr char kCase[] = "c-1";

absl::Time Utc(int y, int m, int d, int hh, int mm) {
  return absl::FromCivil(absl::CivilMinute(y, m, d, hh, mm), absl::UTCTimeZone());
}

// The conference: 6 July 2027, 13:00-15:00 UTC; now is half an hour before.
const absl::Time kStart = Utc(2027, 7, 6, 13, 0);
const absl::Time kEnd = kStart + absl::Hours(2);
const absl::Time kNow = kStart - absl::Minutes(30);

CommandContext Facilitator(std::string id = "f-1", absl::Time now = kNow) {
  return {std::move(id), Role::kFacilitator, now};
}
CommandContext Manager(absl::Time now = kNow) { return {"m-1", Role::kManager, now}; }

Handled Token(uint64_t case_position) {
  Handled h;
  h.set_case_position(case_position);
  h.set_consent_position(11);
  h.set_scheduling_position(21);
  return h;
}

common_v1::Sealed SealedFor(std::string person, std::string bytes = "ciphertext") {
  common_v1::Sealed s;
  s.set_person_id(std::move(person));
  s.set_ciphertext(std::move(bytes));
  return s;
}

conference_v1::Participant Person(std::string id, case_v1::ParticipantRole role,
                                  std::string supports = "") {
  conference_v1::Participant p;
  p.set_participant_id(std::move(id));
  p.set_role(role);
  p.set_supports_participant_id(std::move(supports));
  return p;
}

// A case's conference stream, folded as it is appended.
class Stream {
 public:
  ConferenceState state;

  void Append(const google::protobuf::Message& m) {
    const ConferenceEvent e = Encode(m);
    ConferenceLogEvent log;
    log.position = ++position_;
    log.stream_version = state.version + 1;
    log.event_type = e.type;
    log.payload = e.payload;
    absl::Status s = Evolve(state, log);
    ASSERT_TRUE(s.ok()) << s;
  }

  conference_v1::UpstreamFactRecorded Fact(consent_v1::FactSource source,
                                           std::string event_type) {
    conference_v1::UpstreamFactRecorded f;
    f.set_case_id(kCase);
    f.set_source(source);
    uint64_t& position = source == consent_v1::CONSENT_LOG      ? consent_position_
                         : source == consent_v1::SCHEDULING_LOG ? scheduling_position_
                                                                : case_position_;
    f.set_position(++position);
    f.set_event_type(std::move(event_type));
    return f;
  }
  void Referred(const std::vector<conference_v1::Participant>& people) {
    auto f = Fact(consent_v1::CASE_LOG, "mend.case.v1.CaseReferred");
    for (const auto& p : people) *f.mutable_participants()->add_participants() = p;
    Append(f);
  }
  void Allocated(const std::string& facilitator) {
    auto f = Fact(consent_v1::CASE_LOG, "mend.case.v1.FacilitatorAllocated");
    f.set_facilitator_allocated(facilitator);
    Append(f);
  }
  void Released(const std::string& facilitator) {
    auto f = Fact(consent_v1::CASE_LOG, "mend.case.v1.FacilitatorReleased");
    f.set_facilitator_released(facilitator);
    Append(f);
  }
  void RiskAssessed(const std::string& assessment) {
    auto f = Fact(consent_v1::CASE_LOG, "mend.case.v1.RiskAssessmentRecorded");
    f.set_risk_assessed(assessment);
    Append(f);
  }
  void Paused() {
    auto f = Fact(consent_v1::CASE_LOG, "mend.case.v1.CasePaused");
    f.set_paused(true);
    Append(f);
  }
  void Closed() {
    auto f = Fact(consent_v1::CASE_LOG, "mend.case.v1.CaseClosed");
    f.set_closed(case_v1::WITHDRAWN_BY_VICTIM);
    Append(f);
  }
  void Withdrew(const std::string& participant, consent_v1::ConsentScope scope) {
    auto f = Fact(consent_v1::CONSENT_LOG, "mend.consent.v1.ConsentWithdrawn");
    f.mutable_withdrawal()->set_participant_id(participant);
    f.mutable_withdrawal()->add_scopes(scope);
    Append(f);
  }
  void Booked(const std::string& booking, bool conference, common_v1::ContactKind kind,
              absl::Time start, absl::Time end, const std::vector<std::string>& people) {
    auto f = Fact(consent_v1::SCHEDULING_LOG,
                  conference ? "mend.scheduling.v1.ConferenceBooked"
                             : "mend.scheduling.v1.PreparationMeetingBooked");
    conference_v1::SlotBooked* b = f.mutable_slot_booked();
    b->set_booking_id(booking);
    b->set_conference(conference);
    b->set_kind(kind);
    b->set_start_unix_micros(absl::ToUnixMicros(start));
    b->set_end_unix_micros(absl::ToUnixMicros(end));
    for (const auto& p : people) b->add_participant_ids(p);
    b->add_facilitator_ids("f-1");
    Append(f);
  }
  void BookingCancelled(const std::string& booking) {
    auto f = Fact(consent_v1::SCHEDULING_LOG, "mend.scheduling.v1.BookingCancelled");
    f.set_booking_cancelled(booking);
    Append(f);
  }

 private:
  uint64_t position_ = 0;
  uint64_t case_position_ = 0;
  uint64_t consent_position_ = 10;
  uint64_t scheduling_position_ = 20;
};

class ConferenceMeetingTest : public ::testing::Test {
 protected:
  // su-1; victim v-1 with supporter sup-1; co-victim v-2; f-1 allocated, a
  // risk assessment; the conference conf-1 (su-1, v-1, sup-1) and a
  // preparation meeting for each party.
  void SetUp() override {
    s_.Referred({Person("su-1", case_v1::SERVICE_USER), Person("v-1", case_v1::VICTIM),
                 Person("v-2", case_v1::CO_VICTIM),
                 Person("sup-1", case_v1::SUPPORTER, "v-1")});
    s_.Allocated("f-1");
    s_.RiskAssessed("ra-1");
    s_.Booked("conf-1", true, common_v1::FACE_TO_FACE_CONFERENCE, kStart, kEnd,
              {"su-1", "v-1", "sup-1"});
    s_.Booked("prep-su", false, common_v1::CONTACT_KIND_UNSPECIFIED,
              kStart - absl::Hours(72), kStart - absl::Hours(71), {"su-1"});
    s_.Booked("prep-v1", false, common_v1::CONTACT_KIND_UNSPECIFIED,
              kStart - absl::Hours(48), kStart - absl::Hours(47), {"v-1"});
  }

  const ConferenceState& state() const { return s_.state; }

  void Prepared(const std::string& booking, const std::string& participant,
                bool ready = true) {
    conference_v1::PreparationRecorded p;
    p.set_case_id(kCase);
    p.set_booking_id(booking);
    p.set_participant_id(participant);
    p.set_expectations_discussed(true);
    p.set_ready(ready);
    p.set_recorded_by("f-1");
    s_.Append(p);
  }
  void BothPrepared() {
    Prepared("prep-su", "su-1");
    Prepared("prep-v1", "v-1");
  }

  // An approval decided just now on the facts the state has handled.
  conference_v1::Approval Approval(
      common_v1::ContactKind kind = common_v1::FACE_TO_FACE_CONFERENCE,
      std::string victim = "v-1", absl::Time decided = kNow - absl::Seconds(30)) {
    conference_v1::Approval a;
    a.set_decision_id("d-1");
    a.set_consent_position(state().last_consent_position);
    a.set_kind(kind);
    a.set_victim_id(std::move(victim));
    a.set_service_user_id("su-1");
    a.set_facilitator_id("f-1");
    a.set_policy_version("contact-gate/2");
    a.set_decided_unix_micros(absl::ToUnixMicros(decided));
    a.set_case_position(state().last_case_position);
    return a;
  }

  StartConferenceCommand Start(std::string booking = "conf-1") {
    StartConferenceCommand c;
    c.case_id = kCase;
    c.booking_id = std::move(booking);
    c.approval = Approval();
    c.handled = Token(3);
    return c;
  }
  void Started() {
    BothPrepared();
    absl::StatusOr<conference_v1::ConferenceStarted> e =
        DecideStartConference(state(), Start(), Facilitator());
    ASSERT_THAT(e, IsOk());
    s_.Append(*e);
  }

  RecordConferenceHeldCommand HeldCommand() {
    RecordConferenceHeldCommand c;
    c.case_id = kCase;
    c.booking_id = "conf-1";
    c.attendee_ids = {"su-1", "v-1", "sup-1"};
    c.outline = SealedFor("v-1", "what was said");
    c.apology_made = true;
    c.handled = Token(4);
    return c;
  }
  void Held() {
    Started();
    absl::StatusOr<conference_v1::ConferenceHeld> e =
        DecideRecordConferenceHeld(state(), HeldCommand(), Facilitator("f-1", kEnd));
    ASSERT_THAT(e, IsOk());
    s_.Append(*e);
  }

  static conference_v1::AgreementItem Item(std::string id, std::string owner,
                                           std::string due = "2027-09-01") {
    conference_v1::AgreementItem item;
    item.set_item_id(std::move(id));
    *item.mutable_what() = SealedFor(owner, "what to do");
    item.set_owner_id(std::move(owner));
    item.set_due_date(std::move(due));
    return item;
  }
  static conference_v1::PartyConsent Consent(std::string id, bool consented = true) {
    conference_v1::PartyConsent c;
    c.set_participant_id(std::move(id));
    c.set_consented(consented);
    return c;
  }
  RecordOutcomeAgreementCommand AgreementCommand() {
    RecordOutcomeAgreementCommand c;
    c.case_id = kCase;
    c.agreement_id = "ag-1";
    c.items = {Item("i-1", "su-1"), Item("i-2", "v-1", "2027-07-07")};
    c.consents = {Consent("su-1"), Consent("v-1")};
    c.handled = Token(5);
    return c;
  }
  void Agreed() {
    Held();
    absl::StatusOr<conference_v1::OutcomeAgreementRecorded> e =
        DecideRecordOutcomeAgreement(state(), AgreementCommand(),
                                     Facilitator("f-1", kEnd));
    ASSERT_THAT(e, IsOk());
    s_.Append(*e);
  }
  void Complete(const std::string& item) {
    absl::StatusOr<ItemCompleted> d =
        DecideCompleteItem(state(), {kCase, item, Token(6)}, Manager(kEnd));
    ASSERT_THAT(d, IsOk());
    s_.Append(d->completed);
    if (d->agreement_completed.has_value()) s_.Append(*d->agreement_completed);
  }

  InformVictimCommand InformCommand() {
    InformVictimCommand c;
    c.case_id = kCase;
    c.approval = Approval(common_v1::APPROACH_VICTIM, "v-1", kEnd - absl::Seconds(10));
    c.handled = Token(7);
    return c;
  }

  RecordFeedbackCommand FeedbackCommand(std::string participant,
                                        int32_t satisfaction = 4) {
    RecordFeedbackCommand c;
    c.case_id = kCase;
    c.participant_id = participant;
    c.satisfaction = satisfaction;
    c.comments = SealedFor(participant, "comments");
    c.would_recommend = true;
    c.handled = Token(8);
    return c;
  }
  void Feedback(const std::string& participant) {
    absl::StatusOr<conference_v1::FeedbackRecorded> e = DecideRecordFeedback(
        state(), FeedbackCommand(participant), Facilitator("f-1", kEnd));
    ASSERT_THAT(e, IsOk());
    s_.Append(*e);
  }

  // A letter from su-1 delivered to `victim` (no conference).
  void LetterDelivered(const std::string& victim) {
    conference_v1::LetterDraftSubmitted d;
    d.set_case_id(kCase);
    d.set_letter_id("l-1");
    d.set_version(1);
    d.set_author_id("su-1");
    *d.mutable_text() = SealedFor("su-1");
    d.set_submitted_by("f-1");
    s_.Append(d);
    conference_v1::LetterReviewed r;
    r.set_case_id(kCase);
    r.set_letter_id("l-1");
    r.set_version(1);
    r.set_verdict(conference_v1::APPROVED_FOR_OFFER);
    r.set_reviewed_by("f-1");
    s_.Append(r);
    conference_v1::LetterOffered o;
    o.set_case_id(kCase);
    o.set_letter_id("l-1");
    o.set_version(1);
    o.set_victim_id(victim);
    *o.mutable_approval() = Approval(common_v1::APPROACH_VICTIM, victim);
    o.set_offered_by("f-1");
    s_.Append(o);
    conference_v1::LetterDelivered l;
    l.set_case_id(kCase);
    l.set_letter_id("l-1");
    l.set_version(1);
    l.set_victim_id(victim);
    *l.mutable_approval() = Approval(common_v1::LETTER_DELIVERY, victim);
    l.set_delivered_by("f-1");
    s_.Append(l);
  }

  Stream s_;
};

// --- StartConference -------------------------------------------------------

TEST_F(ConferenceMeetingTest,
       StartAsksTheBookingsKindWithItsVictimAndRecordsTheApproval) {
  BothPrepared();
  absl::StatusOr<ContactQuestion> q =
      StartConferenceQuestion(state(), Start(), Facilitator());
  ASSERT_THAT(q, IsOk());
  EXPECT_EQ(q->kind, common_v1::FACE_TO_FACE_CONFERENCE);
  EXPECT_EQ(q->victim_id, "v-1");
  EXPECT_EQ(q->facilitator_id, "f-1");

  absl::StatusOr<conference_v1::ConferenceStarted> e =
      DecideStartConference(state(), Start(), Facilitator());
  ASSERT_THAT(e, IsOk());
  conference_v1::ConferenceStarted expected;
  expected.set_case_id(kCase);
  expected.set_booking_id("conf-1");
  expected.set_kind(common_v1::FACE_TO_FACE_CONFERENCE);
  *expected.mutable_approval() = Approval();
  expected.set_started_by("f-1");
  *expected.mutable_handled() = Token(3);
  EXPECT_THAT(*e, EqualsProto(expected));

  s_.Append(*e);
  const ConferenceFacts& c = state().conferences.at("conf-1");
  EXPECT_TRUE(c.in_progress());
  EXPECT_THAT(DecideStartConference(state(), Start(), Facilitator()),
              StatusIs(absl::StatusCode::kFailedPrecondition,
                       HasSubstr("conference \"conf-1\" was started already")));
}

TEST_F(ConferenceMeetingTest, AVideoConferenceAsksVideoMeeting) {
  s_.Booked("conf-2", true, common_v1::VIDEO_MEETING, kStart, kEnd, {"su-1", "v-2"});
  Prepared("prep-su", "su-1");
  s_.Booked("prep-v2", false, common_v1::CONTACT_KIND_UNSPECIFIED,
            kStart - absl::Hours(5), kStart - absl::Hours(4), {"v-2"});
  Prepared("prep-v2", "v-2");
  absl::StatusOr<ContactQuestion> q =
      StartConferenceQuestion(state(), Start("conf-2"), Facilitator());
  ASSERT_THAT(q, IsOk());
  EXPECT_EQ(q->kind, common_v1::VIDEO_MEETING);
  EXPECT_EQ(q->victim_id, "v-2");

  StartConferenceCommand c = Start("conf-2");
  c.approval = Approval(common_v1::VIDEO_MEETING, "v-2");
  absl::StatusOr<conference_v1::ConferenceStarted> e =
      DecideStartConference(state(), c, Facilitator());
  ASSERT_THAT(e, IsOk());
  EXPECT_EQ(e->kind(), common_v1::VIDEO_MEETING);
}

TEST_F(ConferenceMeetingTest, OnlyAnAllocatedFacilitatorStartsAConference) {
  BothPrepared();
  EXPECT_THAT(DecideStartConference(state(), Start(), Manager()),
              StatusIs(absl::StatusCode::kPermissionDenied));
  EXPECT_THAT(StartConferenceQuestion(state(), Start(), Facilitator("f-9")),
              StatusIs(absl::StatusCode::kPermissionDenied));
  // Not even whether the case exists.
  StartConferenceCommand other = Start();
  other.case_id = "c-404";
  EXPECT_THAT(StartConferenceQuestion(ConferenceState{}, other, Facilitator("f-9")),
              StatusIs(absl::StatusCode::kPermissionDenied));
}

TEST_F(ConferenceMeetingTest, AnUnknownCaseIsNotFoundWithHowFarTheCaseLogWasRead) {
  ConferenceState unknown;
  unknown.last_case_position = 17;
  RecordConferenceHeldCommand c = HeldCommand();
  c.case_id = "c-404";
  EXPECT_THAT(
      DecideRecordConferenceHeld(unknown, c, Manager()),
      StatusIs(
          absl::StatusCode::kNotFound,
          "case \"c-404\" is not known to the conference service (case log handled up "
          "to 17; pass a causal token if the case is new)"));
  AbandonConferenceCommand a{"c-404", "conf-1", "no-show", Token(1)};
  EXPECT_THAT(DecideAbandonConference(unknown, a, Manager()),
              StatusIs(absl::StatusCode::kNotFound));
  EXPECT_THAT(DecideCompleteFollowUp(unknown, {"c-404", Token(1)}, Manager()),
              StatusIs(absl::StatusCode::kNotFound));
}

TEST_F(ConferenceMeetingTest, APausedOrClosedCaseRefusesEveryCommand) {
  BothPrepared();
  Stream paused = s_;
  paused.Paused();
  EXPECT_THAT(StartConferenceQuestion(paused.state, Start(), Facilitator()),
              StatusIs(absl::StatusCode::kFailedPrecondition, HasSubstr("is paused")));
  EXPECT_THAT(DecideAbandonConference(paused.state, {kCase, "conf-1", "paused", Token(1)},
                                      Manager()),
              StatusIs(absl::StatusCode::kFailedPrecondition, HasSubstr("is paused")));

  Stream closed = s_;
  closed.Closed();
  EXPECT_THAT(DecideStartConference(closed.state, Start(), Facilitator()),
              StatusIs(absl::StatusCode::kFailedPrecondition, "case \"c-1\" is closed"));
  EXPECT_THAT(DecideRecordFeedback(closed.state, FeedbackCommand("su-1"), Manager()),
              StatusIs(absl::StatusCode::kFailedPrecondition, "case \"c-1\" is closed"));
  EXPECT_THAT(DecideCompleteFollowUp(closed.state, {kCase, Token(1)}, Manager()),
              StatusIs(absl::StatusCode::kFailedPrecondition, "case \"c-1\" is closed"));
}

TEST_F(ConferenceMeetingTest, StartNeedsAConferenceBookingThatStands) {
  BothPrepared();
  EXPECT_THAT(
      StartConferenceQuestion(state(), Start("conf-9"), Facilitator()),
      StatusIs(absl::StatusCode::kNotFound, "case \"c-1\" has no booking \"conf-9\""));
  EXPECT_THAT(StartConferenceQuestion(state(), Start("prep-v1"), Facilitator()),
              StatusIs(absl::StatusCode::kFailedPrecondition,
                       HasSubstr("is a preparation meeting, not a conference")));
  s_.BookingCancelled("conf-1");
  EXPECT_THAT(StartConferenceQuestion(state(), Start(), Facilitator()),
              StatusIs(absl::StatusCode::kFailedPrecondition,
                       "conference \"conf-1\" was cancelled in scheduling"));
}

TEST_F(ConferenceMeetingTest, AnAbandonedConferenceDoesNotStart) {
  BothPrepared();
  absl::StatusOr<conference_v1::ConferenceAbandoned> a = DecideAbandonConference(
      state(), {kCase, "conf-1", "victim-unwell", Token(2)}, Facilitator());
  ASSERT_THAT(a, IsOk());
  s_.Append(*a);
  EXPECT_THAT(StartConferenceQuestion(state(), Start(), Facilitator()),
              StatusIs(absl::StatusCode::kFailedPrecondition,
                       HasSubstr("was abandoned (victim-unwell)")));
}

TEST_F(ConferenceMeetingTest, StartsFromAnHourBeforeUntilTheEnd) {
  BothPrepared();
  const std::string window =
      "conference \"conf-1\" may start from 2027-07-06T12:00:00Z (an hour before its "
      "start) "
      "until its end at 2027-07-06T15:00:00Z; now is ";
  EXPECT_THAT(StartConferenceQuestion(
                  state(), Start(),
                  Facilitator("f-1", kStart - absl::Hours(1) - absl::Seconds(1))),
              StatusIs(absl::StatusCode::kFailedPrecondition,
                       absl::StrCat(window, "2027-07-06T11:59:59Z")));
  EXPECT_THAT(StartConferenceQuestion(state(), Start(),
                                      Facilitator("f-1", kStart - absl::Hours(1))),
              IsOk());
  EXPECT_THAT(StartConferenceQuestion(state(), Start(),
                                      Facilitator("f-1", kEnd - absl::Seconds(1))),
              IsOk());
  EXPECT_THAT(StartConferenceQuestion(state(), Start(), Facilitator("f-1", kEnd)),
              StatusIs(absl::StatusCode::kFailedPrecondition,
                       absl::StrCat(window, "2027-07-06T15:00:00Z")));
}

TEST_F(ConferenceMeetingTest, BothPartiesArePreparedAndReadyByTheirLatestPreparation) {
  EXPECT_THAT(StartConferenceQuestion(state(), Start(), Facilitator()),
              StatusIs(absl::StatusCode::kFailedPrecondition,
                       "service user \"su-1\" is not prepared: no preparation meeting "
                       "recorded"));
  Prepared("prep-su", "su-1");
  EXPECT_THAT(
      StartConferenceQuestion(state(), Start(), Facilitator()),
      StatusIs(absl::StatusCode::kFailedPrecondition,
               "victim \"v-1\" is not prepared: no preparation meeting recorded"));
  Prepared("prep-v1", "v-1", /*ready=*/false);
  EXPECT_THAT(StartConferenceQuestion(state(), Start(), Facilitator()),
              StatusIs(absl::StatusCode::kFailedPrecondition,
                       "victim \"v-1\" is not ready (preparation meeting \"prep-v1\")"));
  // A second meeting found them ready: the latest counts.
  s_.Booked("prep-v1b", false, common_v1::CONTACT_KIND_UNSPECIFIED,
            kStart - absl::Hours(24), kStart - absl::Hours(23), {"v-1"});
  Prepared("prep-v1b", "v-1");
  EXPECT_THAT(StartConferenceQuestion(state(), Start(), Facilitator()), IsOk());
  // And a later one that found them not ready again undoes it.
  s_.Booked("prep-v1c", false, common_v1::CONTACT_KIND_UNSPECIFIED,
            kStart - absl::Hours(3), kStart - absl::Hours(2), {"v-1"});
  Prepared("prep-v1c", "v-1", /*ready=*/false);
  EXPECT_THAT(StartConferenceQuestion(state(), Start(), Facilitator()),
              StatusIs(absl::StatusCode::kFailedPrecondition,
                       HasSubstr("victim \"v-1\" is not ready")));
}

TEST_F(ConferenceMeetingTest, AConferenceIsBetweenTheServiceUserAndExactlyOneVictim) {
  BothPrepared();
  s_.Booked("conf-2", true, common_v1::FACE_TO_FACE_CONFERENCE, kStart, kEnd,
            {"su-1", "v-1", "v-2"});
  EXPECT_THAT(StartConferenceQuestion(state(), Start("conf-2"), Facilitator()),
              StatusIs(absl::StatusCode::kFailedPrecondition,
                       HasSubstr("names victims \"v-1\" and \"v-2\"")));
  s_.Booked("conf-3", true, common_v1::FACE_TO_FACE_CONFERENCE, kStart, kEnd,
            {"su-1", "sup-1"});
  EXPECT_THAT(StartConferenceQuestion(state(), Start("conf-3"), Facilitator()),
              StatusIs(absl::StatusCode::kFailedPrecondition,
                       "conference \"conf-3\" names no victim or co-victim"));
  s_.Booked("conf-4", true, common_v1::FACE_TO_FACE_CONFERENCE, kStart, kEnd, {"v-1"});
  EXPECT_THAT(StartConferenceQuestion(state(), Start("conf-4"), Facilitator()),
              StatusIs(absl::StatusCode::kFailedPrecondition,
                       HasSubstr("does not name the service user")));
}

TEST_F(ConferenceMeetingTest, StartNeedsAnApproval) {
  BothPrepared();
  StartConferenceCommand c = Start();
  c.approval.reset();
  EXPECT_THAT(
      DecideStartConference(state(), c, Facilitator()),
      StatusIs(absl::StatusCode::kFailedPrecondition,
               "conference \"conf-1\" with victim \"v-1\" needs an APPROVED contact "
               "decision (FACE_TO_FACE_CONFERENCE)"));
}

TEST_F(ConferenceMeetingTest, StartRefusesAnApprovalOfAnotherKindOrVictim) {
  BothPrepared();
  StartConferenceCommand c = Start();
  c.approval = Approval(common_v1::VIDEO_MEETING);
  EXPECT_THAT(DecideStartConference(state(), c, Facilitator()),
              StatusIs(absl::StatusCode::kFailedPrecondition,
                       AllOf(HasSubstr("\"d-1\""), HasSubstr("VIDEO_MEETING"))));
  c.approval = Approval(common_v1::APPROACH_VICTIM);
  EXPECT_THAT(DecideStartConference(state(), c, Facilitator()),
              StatusIs(absl::StatusCode::kFailedPrecondition,
                       AllOf(HasSubstr("\"d-1\""), HasSubstr("APPROACH_VICTIM"))));
  c.approval = Approval(common_v1::FACE_TO_FACE_CONFERENCE, "v-2");
  EXPECT_THAT(DecideStartConference(state(), c, Facilitator()),
              StatusIs(absl::StatusCode::kFailedPrecondition,
                       AllOf(HasSubstr("\"d-1\""), HasSubstr("\"v-2\""))));
  c.approval = Approval();
  c.approval->set_facilitator_id("f-2");  // asked by another
  EXPECT_THAT(DecideStartConference(state(), c, Facilitator()),
              StatusIs(absl::StatusCode::kFailedPrecondition,
                       AllOf(HasSubstr("\"d-1\""), HasSubstr("\"f-2\""))));
  c.approval = Approval();
  c.approval->set_service_user_id("su-9");
  EXPECT_THAT(DecideStartConference(state(), c, Facilitator()),
              StatusIs(absl::StatusCode::kFailedPrecondition,
                       AllOf(HasSubstr("\"d-1\""), HasSubstr("\"su-9\""))));
}

TEST_F(ConferenceMeetingTest, StartRefusesAnApprovalTooOld) {
  BothPrepared();
  StartConferenceCommand c = Start();
  c.approval = Approval(common_v1::FACE_TO_FACE_CONFERENCE, "v-1",
                        kNow - kApprovalFreshness - absl::Seconds(1));
  EXPECT_THAT(DecideStartConference(state(), c, Facilitator()),
              StatusIs(absl::StatusCode::kFailedPrecondition,
                       AllOf(HasSubstr("\"d-1\""), HasSubstr("2027-07-06T12:27:59"))));
  c.approval =
      Approval(common_v1::FACE_TO_FACE_CONFERENCE, "v-1", kNow - kApprovalFreshness);
  EXPECT_THAT(DecideStartConference(state(), c, Facilitator()), IsOk());
}

TEST_F(ConferenceMeetingTest, StartRefusesAnApprovalAWithdrawalCameAfter) {
  BothPrepared();
  const StartConferenceCommand c = Start();  // decided on the facts so far
  Stream unrelated = s_;
  unrelated.Withdrew("v-1", consent_v1::SHUTTLE);  // not relied on
  EXPECT_THAT(DecideStartConference(unrelated.state, c, Facilitator()), IsOk());

  for (const auto& [who, scope] :
       std::vector<std::pair<std::string, consent_v1::ConsentScope>>{
           {"v-1", consent_v1::PARTICIPATE},
           {"v-1", consent_v1::FACE_TO_FACE},
           {"su-1", consent_v1::FACE_TO_FACE}}) {
    Stream withdrawn = s_;
    withdrawn.Withdrew(who, scope);
    EXPECT_THAT(DecideStartConference(withdrawn.state, c, Facilitator()),
                StatusIs(absl::StatusCode::kFailedPrecondition,
                         AllOf(HasSubstr("\"d-1\""),
                               HasSubstr(consent_v1::ConsentScope_Name(scope)))))
        << who << " " << consent_v1::ConsentScope_Name(scope);
  }
}

TEST_F(ConferenceMeetingTest, StartRefusesAnApprovalANewRiskAssessmentCameAfter) {
  BothPrepared();
  const StartConferenceCommand c = Start();
  s_.RiskAssessed("ra-2");
  EXPECT_THAT(DecideStartConference(state(), c, Facilitator()),
              StatusIs(absl::StatusCode::kFailedPrecondition,
                       AllOf(HasSubstr("\"d-1\""), HasSubstr("risk assessment"))));
  // A decision taken after it stands.
  EXPECT_THAT(DecideStartConference(state(), Start(), Facilitator()), IsOk());
}

TEST_F(ConferenceMeetingTest, StartRefusesAnApprovalAFacilitatorReleaseCameAfter) {
  s_.Allocated("f-2");
  BothPrepared();
  const StartConferenceCommand c = Start();
  s_.Released("f-2");
  EXPECT_THAT(DecideStartConference(state(), c, Facilitator()),
              StatusIs(absl::StatusCode::kFailedPrecondition, HasSubstr("\"d-1\"")));
  EXPECT_THAT(DecideStartConference(state(), Start(), Facilitator()), IsOk());
}

TEST_F(ConferenceMeetingTest, StartChecksItsRulesBeforeTheApproval) {
  StartConferenceCommand c = Start();
  c.approval.reset();
  EXPECT_THAT(
      DecideStartConference(state(), c, Facilitator()),
      StatusIs(absl::StatusCode::kFailedPrecondition, HasSubstr("is not prepared")));
}

// --- RecordConferenceHeld --------------------------------------------------

TEST_F(ConferenceMeetingTest, HeldRecordsWhoAttendedAndTheOutlineSealedForTheVictim) {
  Started();
  absl::StatusOr<conference_v1::ConferenceHeld> e =
      DecideRecordConferenceHeld(state(), HeldCommand(), Manager(kEnd));
  ASSERT_THAT(e, IsOk());
  conference_v1::ConferenceHeld expected;
  expected.set_case_id(kCase);
  expected.set_booking_id("conf-1");
  expected.add_attendee_ids("su-1");
  expected.add_attendee_ids("v-1");
  expected.add_attendee_ids("sup-1");
  *expected.mutable_outline() = SealedFor("v-1", "what was said");
  expected.set_apology_made(true);
  expected.set_recorded_by("m-1");
  *expected.mutable_handled() = Token(4);
  EXPECT_THAT(*e, EqualsProto(expected));

  s_.Append(*e);
  EXPECT_TRUE(state().conferences.at("conf-1").held);
  EXPECT_THAT(DecideRecordConferenceHeld(state(), HeldCommand(), Manager(kEnd)),
              StatusIs(absl::StatusCode::kFailedPrecondition,
                       HasSubstr("conference \"conf-1\" was held already")));
}

TEST_F(ConferenceMeetingTest, HeldNeedsAConferenceInProgress) {
  EXPECT_THAT(DecideRecordConferenceHeld(state(), HeldCommand(), Manager()),
              StatusIs(absl::StatusCode::kFailedPrecondition,
                       "conference \"conf-1\" has not started: only a conference in "
                       "progress is recorded as held"));
  RecordConferenceHeldCommand c = HeldCommand();
  c.booking_id = "conf-9";
  EXPECT_THAT(DecideRecordConferenceHeld(state(), c, Manager()),
              StatusIs(absl::StatusCode::kNotFound));
  Started();
  conference_v1::ConferenceStopped stopped;
  stopped.set_case_id(kCase);
  stopped.set_booking_id("conf-1");
  stopped.set_cause(conference_v1::BOOKING_CANCELLED);
  s_.Append(stopped);
  EXPECT_THAT(DecideRecordConferenceHeld(state(), HeldCommand(), Manager()),
              StatusIs(absl::StatusCode::kFailedPrecondition,
                       HasSubstr("was stopped (BOOKING_CANCELLED)")));
}

TEST_F(ConferenceMeetingTest, HeldAttendeesAreOfTheCaseAndIncludeBothParties) {
  Started();
  RecordConferenceHeldCommand c = HeldCommand();
  c.attendee_ids = {"su-1", "v-1", "x-1"};
  EXPECT_THAT(DecideRecordConferenceHeld(state(), c, Manager()),
              StatusIs(absl::StatusCode::kInvalidArgument,
                       "attendee_ids: \"x-1\" is not a participant of case \"c-1\""));
  c.attendee_ids = {"su-1", "sup-1"};
  EXPECT_THAT(DecideRecordConferenceHeld(state(), c, Manager()),
              StatusIs(absl::StatusCode::kInvalidArgument,
                       HasSubstr("attendee_ids: does not include victim \"v-1\"")));
  c.attendee_ids = {"v-1"};
  EXPECT_THAT(DecideRecordConferenceHeld(state(), c, Manager()),
              StatusIs(absl::StatusCode::kInvalidArgument,
                       HasSubstr("does not include service user \"su-1\"")));
  c.attendee_ids = {"su-1", "v-1", "su-1"};
  EXPECT_THAT(
      DecideRecordConferenceHeld(state(), c, Manager()),
      StatusIs(absl::StatusCode::kInvalidArgument, "attendee_ids: names \"su-1\" twice"));
  c.attendee_ids = {"su-1", "v-1"};
  EXPECT_THAT(DecideRecordConferenceHeld(state(), c, Manager()), IsOk());
}

TEST_F(ConferenceMeetingTest, HeldNeedsAnOutlineSealedForTheVictim) {
  Started();
  RecordConferenceHeldCommand c = HeldCommand();
  c.outline = common_v1::Sealed();
  EXPECT_THAT(DecideRecordConferenceHeld(state(), c, Manager()),
              StatusIs(absl::StatusCode::kInvalidArgument, "outline: is required"));
  c.outline = SealedFor("su-1");
  EXPECT_THAT(DecideRecordConferenceHeld(state(), c, Manager()),
              StatusIs(absl::StatusCode::kInternal,
                       "outline is sealed for \"su-1\", not for \"v-1\""));
}

TEST_F(ConferenceMeetingTest, HeldByAFacilitatorNotAllocatedIsDenied) {
  Started();
  EXPECT_THAT(DecideRecordConferenceHeld(state(), HeldCommand(), Facilitator("f-9")),
              StatusIs(absl::StatusCode::kPermissionDenied));
}

// --- AbandonConference -----------------------------------------------------

TEST_F(ConferenceMeetingTest, AConferenceIsAbandonedBeforeOrAfterItStarts) {
  const AbandonConferenceCommand c{kCase, "conf-1", "no-show", Token(9)};
  absl::StatusOr<conference_v1::ConferenceAbandoned> before =
      DecideAbandonConference(state(), c, Manager());
  ASSERT_THAT(before, IsOk());
  conference_v1::ConferenceAbandoned expected;
  expected.set_case_id(kCase);
  expected.set_booking_id("conf-1");
  expected.set_reason("no-show");
  expected.set_abandoned_by("m-1");
  *expected.mutable_handled() = Token(9);
  EXPECT_THAT(*before, EqualsProto(expected));

  Started();
  absl::StatusOr<conference_v1::ConferenceAbandoned> after =
      DecideAbandonConference(state(), c, Facilitator());
  ASSERT_THAT(after, IsOk());
  EXPECT_EQ(after->abandoned_by(), "f-1");
  s_.Append(*after);
  EXPECT_FALSE(state().conferences.at("conf-1").in_progress());
  EXPECT_THAT(
      DecideAbandonConference(state(), c, Manager()),
      StatusIs(absl::StatusCode::kFailedPrecondition,
               "conference \"conf-1\" was abandoned (no-show): nothing to abandon"));
  EXPECT_THAT(
      DecideRecordConferenceHeld(state(), HeldCommand(), Manager()),
      StatusIs(absl::StatusCode::kFailedPrecondition, HasSubstr("was abandoned")));
}

TEST_F(ConferenceMeetingTest, AbandonRules) {
  EXPECT_THAT(
      DecideAbandonConference(state(), {kCase, "conf-1", "", Token(9)}, Manager()),
      StatusIs(absl::StatusCode::kInvalidArgument, HasSubstr("reason")));
  EXPECT_THAT(
      DecideAbandonConference(state(), {kCase, "conf-9", "no-show", Token(9)}, Manager()),
      StatusIs(absl::StatusCode::kNotFound));
  EXPECT_THAT(
      DecideAbandonConference(state(), {kCase, "prep-su", "no-show", Token(9)},
                              Manager()),
      StatusIs(absl::StatusCode::kFailedPrecondition, HasSubstr("not a conference")));
  Held();
  EXPECT_THAT(
      DecideAbandonConference(state(), {kCase, "conf-1", "no-show", Token(9)}, Manager()),
      StatusIs(absl::StatusCode::kFailedPrecondition,
               "conference \"conf-1\" was held already: nothing to abandon"));
}

TEST_F(ConferenceMeetingTest, ACancelledBookingNotStartedIsNotAbandoned) {
  s_.BookingCancelled("conf-1");
  EXPECT_THAT(
      DecideAbandonConference(state(), {kCase, "conf-1", "no-show", Token(9)}, Manager()),
      StatusIs(absl::StatusCode::kFailedPrecondition,
               HasSubstr("cancelled in scheduling")));
}

// --- Outcome agreement -----------------------------------------------------

TEST_F(ConferenceMeetingTest, AnAgreementRecordsItsItemsAndEveryPartysConsent) {
  Held();
  absl::StatusOr<conference_v1::OutcomeAgreementRecorded> e =
      DecideRecordOutcomeAgreement(state(), AgreementCommand(), Facilitator("f-1", kEnd));
  ASSERT_THAT(e, IsOk());
  conference_v1::OutcomeAgreementRecorded expected;
  expected.set_case_id(kCase);
  expected.set_agreement_id("ag-1");
  *expected.add_items() = Item("i-1", "su-1");
  *expected.add_items() = Item("i-2", "v-1", "2027-07-07");
  *expected.add_consents() = Consent("su-1");
  *expected.add_consents() = Consent("v-1");
  expected.set_recorded_by("f-1");
  *expected.mutable_handled() = Token(5);
  EXPECT_THAT(*e, EqualsProto(expected));

  s_.Append(*e);
  ASSERT_TRUE(state().agreement.has_value());
  EXPECT_EQ(state().agreement->items.size(), 2u);
  RecordOutcomeAgreementCommand again = AgreementCommand();
  again.agreement_id = "ag-2";
  EXPECT_THAT(DecideRecordOutcomeAgreement(state(), again, Manager(kEnd)),
              StatusIs(absl::StatusCode::kFailedPrecondition,
                       "case \"c-1\" has an outcome agreement already (\"ag-1\")"));
}

TEST_F(ConferenceMeetingTest, AnAgreementNeedsAConferenceHeld) {
  EXPECT_THAT(
      DecideRecordOutcomeAgreement(state(), AgreementCommand(), Manager()),
      StatusIs(absl::StatusCode::kFailedPrecondition,
               "case \"c-1\" has no conference held: an outcome agreement follows "
               "one"));
  Started();
  EXPECT_THAT(
      DecideRecordOutcomeAgreement(state(), AgreementCommand(), Manager()),
      StatusIs(absl::StatusCode::kFailedPrecondition, HasSubstr("no conference held")));
}

TEST_F(ConferenceMeetingTest, AnAgreementNeedsTheConsentOfEveryParty) {
  Held();
  RecordOutcomeAgreementCommand c = AgreementCommand();
  c.consents = {Consent("su-1")};
  EXPECT_THAT(
      DecideRecordOutcomeAgreement(state(), c, Manager(kEnd)),
      StatusIs(absl::StatusCode::kFailedPrecondition,
               "an outcome agreement needs the consent of every party of conference "
               "\"conf-1\": victim \"v-1\" has not consented"));
  c.consents = {Consent("su-1", false)};
  EXPECT_THAT(
      DecideRecordOutcomeAgreement(state(), c, Manager(kEnd)),
      StatusIs(absl::StatusCode::kFailedPrecondition,
               "an outcome agreement needs the consent of every party of conference "
               "\"conf-1\": service user \"su-1\" declined; victim \"v-1\" has not "
               "consented"));
  c.consents = {};
  EXPECT_THAT(DecideRecordOutcomeAgreement(state(), c, Manager(kEnd)),
              StatusIs(absl::StatusCode::kFailedPrecondition,
                       AllOf(HasSubstr("service user \"su-1\" has not consented"),
                             HasSubstr("victim \"v-1\" has not consented"))));
  c.consents = {Consent("v-1"), Consent("su-1", false)};
  EXPECT_THAT(DecideRecordOutcomeAgreement(state(), c, Manager(kEnd)),
              StatusIs(absl::StatusCode::kFailedPrecondition,
                       HasSubstr(": service user \"su-1\" declined")));
  c.consents = {Consent("v-1"), Consent("su-1")};  // any order
  EXPECT_THAT(DecideRecordOutcomeAgreement(state(), c, Manager(kEnd)), IsOk());
}

TEST_F(ConferenceMeetingTest, AnAgreementTakesNoConsentFromANonParty) {
  Held();
  RecordOutcomeAgreementCommand c = AgreementCommand();
  c.consents.push_back(Consent("sup-1"));
  EXPECT_THAT(DecideRecordOutcomeAgreement(state(), c, Manager(kEnd)),
              StatusIs(absl::StatusCode::kInvalidArgument,
                       "consents: \"sup-1\" is not a party of conference \"conf-1\" (the "
                       "service user and the victim)"));
  c = AgreementCommand();
  c.consents.push_back(Consent("v-2"));  // a victim of the case, not of this conference
  EXPECT_THAT(DecideRecordOutcomeAgreement(state(), c, Manager(kEnd)),
              StatusIs(absl::StatusCode::kInvalidArgument, HasSubstr("\"v-2\"")));
  c = AgreementCommand();
  c.consents.push_back(Consent("v-1"));
  EXPECT_THAT(
      DecideRecordOutcomeAgreement(state(), c, Manager(kEnd)),
      StatusIs(absl::StatusCode::kInvalidArgument, "consents: names \"v-1\" twice"));
}

TEST_F(ConferenceMeetingTest, AgreementItemsAreOneToFiftyOwnedByAParty) {
  Held();
  RecordOutcomeAgreementCommand c = AgreementCommand();
  c.items.clear();
  EXPECT_THAT(
      DecideRecordOutcomeAgreement(state(), c, Manager(kEnd)),
      StatusIs(absl::StatusCode::kInvalidArgument, "items: has 0 items, not 1..50"));
  for (int i = 0; i < 51; ++i) c.items.push_back(Item(absl::StrCat("i-", i), "su-1"));
  EXPECT_THAT(
      DecideRecordOutcomeAgreement(state(), c, Manager(kEnd)),
      StatusIs(absl::StatusCode::kInvalidArgument, "items: has 51 items, not 1..50"));
  c.items.pop_back();
  EXPECT_THAT(DecideRecordOutcomeAgreement(state(), c, Manager(kEnd)), IsOk());

  c = AgreementCommand();
  c.items[1] = Item("i-2", "sup-1");
  EXPECT_THAT(
      DecideRecordOutcomeAgreement(state(), c, Manager(kEnd)),
      StatusIs(absl::StatusCode::kInvalidArgument,
               "items[1].owner_id: \"sup-1\" is a SUPPORTER, not a party (the service "
               "user or a victim)"));
  c.items[1] = Item("i-2", "x-1");
  EXPECT_THAT(
      DecideRecordOutcomeAgreement(state(), c, Manager(kEnd)),
      StatusIs(absl::StatusCode::kInvalidArgument,
               "items[1].owner_id: \"x-1\" is not a participant of case \"c-1\""));
  // Any victim of the case may own an item.
  c.items[1] = Item("i-2", "v-2");
  EXPECT_THAT(DecideRecordOutcomeAgreement(state(), c, Manager(kEnd)), IsOk());
}

TEST_F(ConferenceMeetingTest, AgreementItemsAreDueAfterTodayAndSealedForTheirOwner) {
  Held();
  RecordOutcomeAgreementCommand c = AgreementCommand();
  c.items[0] = Item("i-1", "su-1", "2027-07-06");  // today (UTC)
  EXPECT_THAT(DecideRecordOutcomeAgreement(state(), c, Manager(kEnd)),
              StatusIs(absl::StatusCode::kInvalidArgument,
                       "items[0].due_date: is 2027-07-06, not after today (2027-07-06)"));
  c.items[0] = Item("i-1", "su-1", "2027-02-30");
  EXPECT_THAT(
      DecideRecordOutcomeAgreement(state(), c, Manager(kEnd)),
      StatusIs(absl::StatusCode::kInvalidArgument, HasSubstr("items[0].due_date")));
  c.items[0] = Item("i-1", "su-1", "next week");
  EXPECT_THAT(
      DecideRecordOutcomeAgreement(state(), c, Manager(kEnd)),
      StatusIs(absl::StatusCode::kInvalidArgument, HasSubstr("items[0].due_date")));
  // The day is ctx.now's day in UTC.
  c.items[0] = Item("i-1", "su-1", "2027-07-07");
  EXPECT_THAT(DecideRecordOutcomeAgreement(state(), c, Manager(Utc(2027, 7, 6, 23, 59))),
              IsOk());
  EXPECT_THAT(DecideRecordOutcomeAgreement(state(), c, Manager(Utc(2027, 7, 7, 0, 0))),
              StatusIs(absl::StatusCode::kInvalidArgument,
                       "items[0].due_date: is 2027-07-07, not after today (2027-07-07)"));

  c = AgreementCommand();
  *c.items[0].mutable_what() = SealedFor("v-1");
  EXPECT_THAT(DecideRecordOutcomeAgreement(state(), c, Manager(kEnd)),
              StatusIs(absl::StatusCode::kInternal,
                       "items[0].what is sealed for \"v-1\", not for \"su-1\""));
  c.items[0].clear_what();
  EXPECT_THAT(DecideRecordOutcomeAgreement(state(), c, Manager(kEnd)),
              StatusIs(absl::StatusCode::kInvalidArgument, "items[0].what: is required"));
  c = AgreementCommand();
  c.items[1].set_item_id("i-1");
  EXPECT_THAT(DecideRecordOutcomeAgreement(state(), c, Manager(kEnd)),
              StatusIs(absl::StatusCode::kInternal));
}

// --- CompleteItem ----------------------------------------------------------

TEST_F(ConferenceMeetingTest, CompletingTheLastItemCompletesTheAgreement) {
  EXPECT_THAT(DecideCompleteItem(state(), {kCase, "i-1", Token(6)}, Manager()),
              StatusIs(absl::StatusCode::kNotFound,
                       "case \"c-1\" has no outcome agreement, so no item \"i-1\""));
  Agreed();
  EXPECT_THAT(DecideCompleteItem(state(), {kCase, "i-9", Token(6)}, Manager()),
              StatusIs(absl::StatusCode::kNotFound,
                       "outcome agreement \"ag-1\" has no item \"i-9\""));

  absl::StatusOr<ItemCompleted> first =
      DecideCompleteItem(state(), {kCase, "i-2", Token(6)}, Facilitator("f-1", kEnd));
  ASSERT_THAT(first, IsOk());
  conference_v1::AgreementItemCompleted expected;
  expected.set_case_id(kCase);
  expected.set_agreement_id("ag-1");
  expected.set_item_id("i-2");
  expected.set_completed_by("f-1");
  *expected.mutable_handled() = Token(6);
  EXPECT_THAT(first->completed, EqualsProto(expected));
  EXPECT_FALSE(first->agreement_completed.has_value());
  s_.Append(first->completed);

  EXPECT_THAT(DecideCompleteItem(state(), {kCase, "i-2", Token(6)}, Manager()),
              StatusIs(absl::StatusCode::kFailedPrecondition,
                       "item \"i-2\" is completed already"));

  absl::StatusOr<ItemCompleted> last =
      DecideCompleteItem(state(), {kCase, "i-1", Token(7)}, Manager(kEnd));
  ASSERT_THAT(last, IsOk());
  EXPECT_EQ(last->completed.item_id(), "i-1");
  EXPECT_EQ(last->completed.completed_by(), "m-1");
  ASSERT_TRUE(last->agreement_completed.has_value());
  conference_v1::AgreementCompleted done;
  done.set_case_id(kCase);
  done.set_agreement_id("ag-1");
  *done.mutable_handled() = Token(7);
  EXPECT_THAT(*last->agreement_completed, EqualsProto(done));
  s_.Append(last->completed);
  s_.Append(*last->agreement_completed);
  EXPECT_TRUE(state().agreement->completed);
}

// --- InformVictim ----------------------------------------------------------

TEST_F(ConferenceMeetingTest, TheVictimIsToldOnceTheAgreementIsCompleted) {
  Agreed();
  const CommandContext f1 = Facilitator("f-1", kEnd);
  EXPECT_THAT(
      InformVictimQuestion(state(), InformCommand(), f1),
      StatusIs(absl::StatusCode::kFailedPrecondition,
               "outcome agreement \"ag-1\" is not completed (0 of 2 items done): the "
               "victim is told when it is"));
  Complete("i-1");
  EXPECT_THAT(
      InformVictimQuestion(state(), InformCommand(), f1),
      StatusIs(absl::StatusCode::kFailedPrecondition, HasSubstr("(1 of 2 items")));
  Complete("i-2");

  absl::StatusOr<ContactQuestion> q = InformVictimQuestion(state(), InformCommand(), f1);
  ASSERT_THAT(q, IsOk());
  EXPECT_EQ(q->kind, common_v1::APPROACH_VICTIM);
  EXPECT_EQ(q->victim_id, "v-1");
  EXPECT_EQ(q->facilitator_id, "f-1");

  absl::StatusOr<conference_v1::VictimInformed> e =
      DecideInformVictim(state(), InformCommand(), f1);
  ASSERT_THAT(e, IsOk());
  conference_v1::VictimInformed expected;
  expected.set_case_id(kCase);
  expected.set_agreement_id("ag-1");
  expected.set_victim_id("v-1");
  *expected.mutable_approval() = *InformCommand().approval;
  expected.set_informed_by("f-1");
  *expected.mutable_handled() = Token(7);
  EXPECT_THAT(*e, EqualsProto(expected));

  s_.Append(*e);
  EXPECT_THAT(InformVictimQuestion(state(), InformCommand(), f1),
              StatusIs(absl::StatusCode::kFailedPrecondition,
                       HasSubstr("victim \"v-1\" was told already")));
}

TEST_F(ConferenceMeetingTest,
       InformVictimNeedsAnAgreementAnAllocatedFacilitatorAndAnApproval) {
  Held();
  EXPECT_THAT(InformVictimQuestion(state(), InformCommand(), Facilitator("f-1", kEnd)),
              StatusIs(absl::StatusCode::kFailedPrecondition,
                       "case \"c-1\" has no outcome agreement"));
  s_.Append(*DecideRecordOutcomeAgreement(state(), AgreementCommand(), Manager(kEnd)));
  Complete("i-1");
  Complete("i-2");
  EXPECT_THAT(DecideInformVictim(state(), InformCommand(), Manager(kEnd)),
              StatusIs(absl::StatusCode::kPermissionDenied));
  InformVictimCommand c = InformCommand();
  c.approval.reset();
  EXPECT_THAT(
      DecideInformVictim(state(), c, Facilitator("f-1", kEnd)),
      StatusIs(absl::StatusCode::kFailedPrecondition,
               HasSubstr("needs an APPROVED contact decision (APPROACH_VICTIM)")));
  c.approval = Approval(common_v1::FACE_TO_FACE_CONFERENCE, "v-1", kEnd);
  EXPECT_THAT(DecideInformVictim(state(), c, Facilitator("f-1", kEnd)),
              StatusIs(absl::StatusCode::kFailedPrecondition, HasSubstr("\"d-1\"")));
  c.approval = Approval(common_v1::APPROACH_VICTIM, "v-2", kEnd);
  EXPECT_THAT(DecideInformVictim(state(), c, Facilitator("f-1", kEnd)),
              StatusIs(absl::StatusCode::kFailedPrecondition, HasSubstr("\"d-1\"")));
}

// --- Follow-up -------------------------------------------------------------

TEST_F(ConferenceMeetingTest, FeedbackFollowsContact) {
  EXPECT_THAT(
      DecideRecordFeedback(state(), FeedbackCommand("su-1"), Manager()),
      StatusIs(absl::StatusCode::kFailedPrecondition,
               "case \"c-1\" has had no contact yet (no conference held, no letter "
               "delivered): feedback follows contact"));
  Started();
  EXPECT_THAT(
      DecideRecordFeedback(state(), FeedbackCommand("su-1"), Manager()),
      StatusIs(absl::StatusCode::kFailedPrecondition, HasSubstr("no contact yet")));
}

TEST_F(ConferenceMeetingTest, FeedbackFromEachPartyWhoTookPartOnce) {
  Held();
  absl::StatusOr<conference_v1::FeedbackRecorded> e =
      DecideRecordFeedback(state(), FeedbackCommand("v-1", 5), Facilitator("f-1", kEnd));
  ASSERT_THAT(e, IsOk());
  conference_v1::FeedbackRecorded expected;
  expected.set_case_id(kCase);
  expected.set_participant_id("v-1");
  expected.set_satisfaction(5);
  *expected.mutable_comments() = SealedFor("v-1", "comments");
  expected.set_would_recommend(true);
  expected.set_recorded_by("f-1");
  *expected.mutable_handled() = Token(8);
  EXPECT_THAT(*e, EqualsProto(expected));
  s_.Append(*e);

  EXPECT_THAT(DecideRecordFeedback(state(), FeedbackCommand("v-1"), Manager(kEnd)),
              StatusIs(absl::StatusCode::kFailedPrecondition,
                       "feedback from victim \"v-1\" is recorded already: once each"));
  EXPECT_THAT(DecideRecordFeedback(state(), FeedbackCommand("su-1"), Manager(kEnd)),
              IsOk());
  // v-2 took part in nothing.
  EXPECT_THAT(
      DecideRecordFeedback(state(), FeedbackCommand("v-2"), Manager(kEnd)),
      StatusIs(absl::StatusCode::kFailedPrecondition,
               "co-victim \"v-2\" took part in no contact (attended no conference "
               "held, was delivered no letter)"));
  EXPECT_THAT(
      DecideRecordFeedback(state(), FeedbackCommand("sup-1"), Manager(kEnd)),
      StatusIs(absl::StatusCode::kInvalidArgument,
               "participant_id: \"sup-1\" is a SUPPORTER, not a party (the service "
               "user or a victim)"));
  EXPECT_THAT(DecideRecordFeedback(state(), FeedbackCommand("x-1"), Manager(kEnd)),
              StatusIs(absl::StatusCode::kInvalidArgument,
                       "participant_id: \"x-1\" is not a participant of case \"c-1\""));
  RecordFeedbackCommand c = FeedbackCommand("su-1");
  c.comments = SealedFor("v-1");
  EXPECT_THAT(DecideRecordFeedback(state(), c, Manager(kEnd)),
              StatusIs(absl::StatusCode::kInternal));
  c.comments = common_v1::Sealed();  // comments are optional
  EXPECT_THAT(DecideRecordFeedback(state(), c, Manager(kEnd)), IsOk());
}

TEST_F(ConferenceMeetingTest, SatisfactionIsOneToFive) {
  Held();
  for (int32_t bad : {0, 6, -1}) {
    EXPECT_THAT(
        DecideRecordFeedback(state(), FeedbackCommand("su-1", bad), Manager(kEnd)),
        StatusIs(absl::StatusCode::kInvalidArgument,
                 absl::StrCat("satisfaction: is ", bad, ", not 1..5")));
  }
  for (int32_t good : {1, 5}) {
    EXPECT_THAT(
        DecideRecordFeedback(state(), FeedbackCommand("su-1", good), Manager(kEnd)),
        IsOk());
  }
}

TEST_F(ConferenceMeetingTest, ALetterDeliveredIsContactForTheVictimItWentTo) {
  LetterDelivered("v-2");
  EXPECT_THAT(DecideRecordFeedback(state(), FeedbackCommand("v-2"), Manager()), IsOk());
  EXPECT_THAT(
      DecideRecordFeedback(state(), FeedbackCommand("v-1"), Manager()),
      StatusIs(absl::StatusCode::kFailedPrecondition, HasSubstr("took part in no")));
  EXPECT_THAT(
      DecideCompleteFollowUp(state(), {kCase, Token(9)}, Manager()),
      StatusIs(absl::StatusCode::kFailedPrecondition,
               "the follow-up needs feedback from every party who took part; none "
               "yet from service user \"su-1\", co-victim \"v-2\""));
  Feedback("su-1");
  Feedback("v-2");
  EXPECT_THAT(DecideCompleteFollowUp(state(), {kCase, Token(9)}, Manager()), IsOk());
}

TEST_F(ConferenceMeetingTest,
       FollowUpNeedsFeedbackFromTheServiceUserAndEveryVictimWhoTookPart) {
  EXPECT_THAT(
      DecideCompleteFollowUp(state(), {kCase, Token(9)}, Manager()),
      StatusIs(absl::StatusCode::kFailedPrecondition, HasSubstr("no contact yet")));
  Held();
  EXPECT_THAT(
      DecideCompleteFollowUp(state(), {kCase, Token(9)}, Manager(kEnd)),
      StatusIs(absl::StatusCode::kFailedPrecondition,
               "the follow-up needs feedback from every party who took part; none "
               "yet from service user \"su-1\", victim \"v-1\""));
  Feedback("su-1");
  EXPECT_THAT(DecideCompleteFollowUp(state(), {kCase, Token(9)}, Manager(kEnd)),
              StatusIs(absl::StatusCode::kFailedPrecondition,
                       HasSubstr("none yet from victim \"v-1\"")));
  Feedback("v-1");

  absl::StatusOr<conference_v1::FollowUpCompleted> e =
      DecideCompleteFollowUp(state(), {kCase, Token(9)}, Facilitator("f-1", kEnd));
  ASSERT_THAT(e, IsOk());
  conference_v1::FollowUpCompleted expected;
  expected.set_case_id(kCase);
  expected.set_completed_by("f-1");
  *expected.mutable_handled() = Token(9);
  EXPECT_THAT(*e, EqualsProto(expected));
  s_.Append(*e);

  EXPECT_THAT(DecideCompleteFollowUp(state(), {kCase, Token(9)}, Manager(kEnd)),
              StatusIs(absl::StatusCode::kFailedPrecondition,
                       "the follow-up of case \"c-1\" is completed already"));
  EXPECT_THAT(DecideRecordFeedback(state(), FeedbackCommand("su-1"), Manager(kEnd)),
              StatusIs(absl::StatusCode::kFailedPrecondition, HasSubstr("is completed")));
}

TEST_F(ConferenceMeetingTest, ACoVictimWhoAttendedIsAPartyOfTheFollowUp) {
  Started();
  RecordConferenceHeldCommand c = HeldCommand();
  c.attendee_ids = {"su-1", "v-1", "v-2"};
  s_.Append(*DecideRecordConferenceHeld(state(), c, Manager(kEnd)));
  Feedback("su-1");
  Feedback("v-1");
  EXPECT_THAT(DecideCompleteFollowUp(state(), {kCase, Token(9)}, Manager(kEnd)),
              StatusIs(absl::StatusCode::kFailedPrecondition,
                       HasSubstr("none yet from co-victim \"v-2\"")));
  Feedback("v-2");
  EXPECT_THAT(DecideCompleteFollowUp(state(), {kCase, Token(9)}, Manager(kEnd)), IsOk());
}

}  // namespace
}  // namespace mend::conferencesvc
