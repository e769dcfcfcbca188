// Domain tests of the conference service's letters, shuttle messages and
// preparation (conference_decide.h), and of the rules every contact rests on
// (CheckCanAct, CheckApproval), on states folded through Evolve from the
// upstream facts and the events the commands decide.
#include "services/conference/conference_decide.h"

#include <cstdint>
#include <functional>
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
#include "services/conference/conference_state.h"
#include "tests/support/test_util.h"

namespace mend::conferencesvc {
namespace {

using ::google::protobuf::util::MessageDifferencer;
using ::mend::testing::IsOk;
using ::mend::testing::IsOkAndHolds;
using ::mend::testing::StatusIs;
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

const absl::Time kNow =
    absl::FromCivil(absl::CivilMinute(2027, 5, 3, 10, 0), absl::UTCTimeZone());

CommandContext Facilitator(std::string id = "f-1", absl::Time now = kNow) {
  return {std::move(id), Role::kFacilitator, now};
}
CommandContext Manager(absl::Time now = kNow) { return {"m-1", Role::kManager, now}; }

conference_v1::Participant Person(std::string id, case_v1::ParticipantRole role,
                                  std::string supports = "") {
  conference_v1::Participant p;
  p.set_participant_id(std::move(id));
  p.set_role(role);
  p.set_supports_participant_id(std::move(supports));
  return p;
}

common_v1::Sealed SealedFor(std::string person, std::string text) {
  common_v1::Sealed s;
  s.set_person_id(std::move(person));
  s.set_ciphertext(absl::StrCat("sealed:", text));
  return s;
}

Handled Token(uint64_t case_position) {
  Handled h;
  h.set_case_position(case_position);
  h.set_consent_position(40);
  h.set_scheduling_position(5);
  h.set_conference_position(9);
  return h;
}

template <typename T>
T Value(absl::StatusOr<T> r) {
  EXPECT_THAT(r, IsOk());
  return r.ok() ? *std::move(r) : T();
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

  conference_v1::UpstreamFactRecorded Fact(std::string event_type,
                                           consent_v1::FactSource source,
                                           uint64_t position) {
    conference_v1::UpstreamFactRecorded f;
    f.set_case_id(kCase);
    f.set_source(source);
    f.set_position(position);
    f.set_event_type(std::move(event_type));
    return f;
  }
  conference_v1::UpstreamFactRecorded CaseFact(std::string event_type) {
    return Fact(std::move(event_type), consent_v1::CASE_LOG, ++case_position_);
  }
  void Referred(const std::vector<conference_v1::Participant>& people) {
    conference_v1::UpstreamFactRecorded f = CaseFact("mend.case.v1.CaseReferred");
    for (const auto& p : people) *f.mutable_participants()->add_participants() = p;
    Append(f);
  }
  void Joined(const conference_v1::Participant& p) {
    conference_v1::UpstreamFactRecorded f = CaseFact("mend.case.v1.ParticipantAdded");
    *f.mutable_participants()->add_participants() = p;
    Append(f);
  }
  void Allocated(const std::string& facilitator) {
    conference_v1::UpstreamFactRecorded f = CaseFact("mend.case.v1.FacilitatorAllocated");
    f.set_facilitator_allocated(facilitator);
    Append(f);
  }
  void Released(const std::string& facilitator) {
    conference_v1::UpstreamFactRecorded f = CaseFact("mend.case.v1.FacilitatorReleased");
    f.set_facilitator_released(facilitator);
    Append(f);
  }
  void RiskAssessed() {
    conference_v1::UpstreamFactRecorded f =
        CaseFact("mend.case.v1.RiskAssessmentRecorded");
    f.set_risk_assessed("ra-2");
    Append(f);
  }
  void Paused() {
    conference_v1::UpstreamFactRecorded f = CaseFact("mend.case.v1.CasePaused");
    f.set_paused(true);
    Append(f);
  }
  void Resumed() {
    conference_v1::UpstreamFactRecorded f = CaseFact("mend.case.v1.CaseResumed");
    f.set_resumed(true);
    Append(f);
  }
  void Closed() {
    conference_v1::UpstreamFactRecorded f = CaseFact("mend.case.v1.CaseClosed");
    f.set_closed(case_v1::ClosureReason(1));
    Append(f);
  }
  void Erased(const std::string& participant) {
    conference_v1::UpstreamFactRecorded f = CaseFact("mend.case.v1.ParticipantErased");
    f.set_participant_erased(participant);
    Append(f);
  }
  void Withdrew(const std::string& participant, consent_v1::ConsentScope scope,
                uint64_t consent_position) {
    conference_v1::UpstreamFactRecorded f = Fact(
        "mend.consent.v1.ConsentWithdrawn", consent_v1::CONSENT_LOG, consent_position);
    f.mutable_withdrawal()->set_participant_id(participant);
    f.mutable_withdrawal()->add_scopes(scope);
    Append(f);
  }
  void Slot(const std::string& booking_id, bool conference,
            const std::vector<std::string>& participants) {
    conference_v1::UpstreamFactRecorded f =
        Fact(conference ? "mend.scheduling.v1.ConferenceBooked"
                        : "mend.scheduling.v1.PreparationMeetingBooked",
             consent_v1::SCHEDULING_LOG, ++scheduling_position_);
    conference_v1::SlotBooked* b = f.mutable_slot_booked();
    b->set_booking_id(booking_id);
    b->set_conference(conference);
    if (conference) b->set_kind(common_v1::FACE_TO_FACE_CONFERENCE);
    b->set_start_unix_micros(absl::ToUnixMicros(kNow - absl::Hours(1)));
    b->set_end_unix_micros(absl::ToUnixMicros(kNow));
    for (const auto& p : participants) b->add_participant_ids(p);
    b->add_facilitator_ids("f-1");
    Append(f);
  }
  void BookingCancelled(const std::string& booking_id) {
    conference_v1::UpstreamFactRecorded f =
        Fact("mend.scheduling.v1.BookingCancelled", consent_v1::SCHEDULING_LOG,
             ++scheduling_position_);
    f.set_booking_cancelled(booking_id);
    Append(f);
  }

 private:
  uint64_t position_ = 0;
  uint64_t case_position_ = 0;
  uint64_t scheduling_position_ = 0;
};

RecordPreparationCommand OtherCasePreparation() {
  RecordPreparationCommand c;
  c.case_id = "c-2";
  c.booking_id = "p";
  return c;
}

class ConferenceDecideTest : public ::testing::Test {
 protected:
  // su-1 with supporter sup-2 and interpreter int-1; victim v-1 with
  // supporter sup-1; co-victim v-2; f-1 and f-2 allocated.
  void SetUp() override {
    s_.Referred({Person("su-1", case_v1::SERVICE_USER), Person("v-1", case_v1::VICTIM),
                 Person("v-2", case_v1::CO_VICTIM),
                 Person("sup-1", case_v1::SUPPORTER, "v-1"),
                 Person("sup-2", case_v1::SUPPORTER, "su-1"),
                 Person("int-1", case_v1::INTERPRETER, "su-1")});
    s_.Allocated("f-1");
    s_.Allocated("f-2");
  }

  const ConferenceState& state() const { return s_.state; }

  // The gate's answer to `kind` with `victim` asked by `facilitator`, decided
  // now on the facts the service has now (consent-log position 40).
  conference_v1::Approval Approval(common_v1::ContactKind kind, std::string victim,
                                   std::string facilitator = "f-1") const {
    conference_v1::Approval a;
    a.set_decision_id("d-1");
    a.set_consent_position(40);
    a.set_kind(kind);
    a.set_victim_id(std::move(victim));
    a.set_service_user_id("su-1");
    a.set_facilitator_id(std::move(facilitator));
    a.set_policy_version("contact-gate/2");
    a.set_decided_unix_micros(absl::ToUnixMicros(kNow));
    a.set_case_position(state().last_case_position);
    return a;
  }

  SubmitLetterDraftCommand Draft(std::string letter_id = "l-1", bool new_letter = true) {
    SubmitLetterDraftCommand c;
    c.case_id = kCase;
    c.letter_id = std::move(letter_id);
    c.new_letter = new_letter;
    c.text = SealedFor("su-1", "I am sorry");
    c.handled = Token(3);
    return c;
  }
  ReviewLetterCommand Review(int32_t version, conference_v1::LetterVerdict verdict,
                             std::string letter_id = "l-1") {
    ReviewLetterCommand c;
    c.case_id = kCase;
    c.letter_id = std::move(letter_id);
    c.version = version;
    c.verdict = verdict;
    if (verdict == conference_v1::CHANGES_REQUESTED) {
      c.notes = SealedFor("su-1", "say more");
    }
    c.handled = Token(3);
    return c;
  }
  OfferLetterCommand Offer(std::string victim = "v-1") {
    OfferLetterCommand c;
    c.case_id = kCase;
    c.letter_id = "l-1";
    c.victim_id = victim;
    c.approval = Approval(common_v1::APPROACH_VICTIM, victim.empty() ? "v-1" : victim);
    c.handled = Token(4);
    return c;
  }
  DeliverLetterCommand Deliver(int32_t version = 1) {
    DeliverLetterCommand c;
    c.case_id = kCase;
    c.letter_id = "l-1";
    c.version = version;
    c.approval = Approval(common_v1::LETTER_DELIVERY, "v-1");
    c.handled = Token(5);
    return c;
  }
  RecordLetterResponseCommand Response() {
    RecordLetterResponseCommand c;
    c.case_id = kCase;
    c.letter_id = "l-1";
    c.response = SealedFor("v-1", "thank you");
    c.wants_further_contact = true;
    c.further_contact_kinds = {common_v1::FACE_TO_FACE_CONFERENCE};
    c.handled = Token(6);
    return c;
  }
  SendShuttleMessageCommand Message(std::string from = "su-1", std::string to = "v-1",
                                    std::string message_id = "m-1") {
    SendShuttleMessageCommand c;
    c.case_id = kCase;
    c.message_id = std::move(message_id);
    c.from_participant_id = from;
    c.to_participant_id = to;
    c.text = SealedFor(from, "a question");
    const std::string victim = from == "su-1" ? to : from;
    c.approval = Approval(common_v1::SHUTTLE_MESSAGE, victim);
    c.handled = Token(7);
    return c;
  }
  RecordPreparationCommand Preparation(std::string booking_id = "prep-v1") {
    RecordPreparationCommand c;
    c.case_id = kCase;
    c.booking_id = std::move(booking_id);
    c.expectations_discussed = true;
    c.support_needs = SealedFor("v-1", "step-free access");
    c.mental_health_support = true;
    c.supporter_id = "sup-1";
    c.ready = true;
    c.handled = Token(8);
    return c;
  }

  // Letter l-1 through its stages, each by its decide function.
  void Drafted() {
    s_.Append(Value(DecideSubmitLetterDraft(state(), Draft(), Facilitator())));
  }
  void Approved() {
    Drafted();
    s_.Append(Value(DecideReviewLetter(
        state(), Review(1, conference_v1::APPROVED_FOR_OFFER), Facilitator())));
  }
  void Offered() {
    Approved();
    s_.Append(Value(DecideOfferLetter(state(), Offer(), Facilitator())));
  }
  void Delivered() {
    Offered();
    s_.Append(Value(DecideDeliverLetter(state(), Deliver(), Facilitator())));
  }
  void DeliveryCancelled() {
    conference_v1::LetterDeliveryCancelled c;
    c.set_case_id(kCase);
    c.set_letter_id("l-1");
    c.set_version(1);
    c.set_cause(conference_v1::CONSENT_WITHDRAWN);
    c.set_source(consent_v1::CONSENT_LOG);
    c.set_source_position(41);
    s_.Append(c);
  }

  Stream s_;
};

// ===========================================================================
// Who may act (I5), and on which case.

TEST_F(ConferenceDecideTest, UnallocatedFacilitatorIsDeniedForKnownAndUnknownCases) {
  EXPECT_THAT(CheckCanAct(state(), kCase, Facilitator("f-9"), false),
              StatusIs(absl::StatusCode::kPermissionDenied,
                       "facilitator \"f-9\" is not allocated to case \"c-1\""));
  EXPECT_THAT(DecideSubmitLetterDraft(state(), Draft(), Facilitator("f-9")),
              StatusIs(absl::StatusCode::kPermissionDenied));
  // A case the service has not heard of: the same answer, not NOT_FOUND.
  ConferenceState unknown;
  SubmitLetterDraftCommand other = Draft();
  other.case_id = "c-2";
  EXPECT_THAT(DecideSubmitLetterDraft(unknown, other, Facilitator("f-9")),
              StatusIs(absl::StatusCode::kPermissionDenied,
                       "facilitator \"f-9\" is not allocated to case \"c-2\""));
  EXPECT_THAT(OfferLetterQuestion(unknown, {"c-2", "l-1", "", std::nullopt, {}},
                                  Facilitator("f-9")),
              StatusIs(absl::StatusCode::kPermissionDenied));
  EXPECT_THAT(
      DecideRecordPreparation(unknown, OtherCasePreparation(), Facilitator("f-1")),
      StatusIs(absl::StatusCode::kPermissionDenied));
  // Allocated to c-1 is not allocated to c-2.
  EXPECT_THAT(CheckCanAct(state(), "c-2", Facilitator("f-1"), false),
              StatusIs(absl::StatusCode::kPermissionDenied));
}

TEST_F(ConferenceDecideTest, ReleasedFacilitatorIsDenied) {
  s_.Released("f-2");
  EXPECT_THAT(CheckCanAct(state(), kCase, Facilitator("f-2"), false),
              StatusIs(absl::StatusCode::kPermissionDenied));
  EXPECT_THAT(DecideSubmitLetterDraft(state(), Draft(), Facilitator("f-2")),
              StatusIs(absl::StatusCode::kPermissionDenied));
  EXPECT_THAT(CheckCanAct(state(), kCase, Facilitator("f-1"), true), IsOk());
}

TEST_F(ConferenceDecideTest, OnlyAnAllocatedFacilitatorMakesAContact) {
  EXPECT_THAT(CheckCanAct(state(), kCase, Facilitator("f-1"), true), IsOk());
  for (Role role : {Role::kManager, Role::kAuditor, Role::kService}) {
    const CommandContext ctx{"x-1", role, kNow};
    EXPECT_THAT(CheckCanAct(state(), kCase, ctx, true),
                StatusIs(absl::StatusCode::kPermissionDenied,
                         HasSubstr("a contact is made by an allocated facilitator")))
        << RoleName(role);
    EXPECT_THAT(CheckCanAct(state(), kCase, ctx, false), IsOk()) << RoleName(role);
  }
  // Even for a case the service has not heard of, a manager's contact is a
  // matter of who, first.
  EXPECT_THAT(CheckCanAct(ConferenceState(), "c-2", Manager(), true),
              StatusIs(absl::StatusCode::kPermissionDenied));

  Offered();
  EXPECT_THAT(OfferLetterQuestion(state(), Offer(), Manager()),
              StatusIs(absl::StatusCode::kPermissionDenied,
                       HasSubstr("a contact is made by an allocated facilitator")));
  EXPECT_THAT(DecideDeliverLetter(state(), Deliver(), Manager()),
              StatusIs(absl::StatusCode::kPermissionDenied,
                       HasSubstr("a contact is made by an allocated facilitator")));
  EXPECT_THAT(DeliverLetterQuestion(state(), Deliver(), Manager()),
              StatusIs(absl::StatusCode::kPermissionDenied));
  EXPECT_THAT(ShuttleQuestion(state(), Message(), Manager()),
              StatusIs(absl::StatusCode::kPermissionDenied));
  EXPECT_THAT(DecideSendShuttleMessage(state(), Message(), Manager()),
              StatusIs(absl::StatusCode::kPermissionDenied));
}

TEST_F(ConferenceDecideTest, ManagerMayDoWhatIsNotAContact) {
  absl::StatusOr<conference_v1::LetterDraftSubmitted> d =
      DecideSubmitLetterDraft(state(), Draft(), Manager());
  ASSERT_THAT(d, IsOk());
  EXPECT_EQ(d->submitted_by(), "m-1");
  s_.Append(*d);
  EXPECT_THAT(DecideReviewLetter(state(), Review(1, conference_v1::APPROVED_FOR_OFFER),
                                 Manager()),
              IsOk());
}

TEST_F(ConferenceDecideTest, UnknownCaseIsNotFoundSayingHowFarTheCaseLogWasRead) {
  // Facts of the case log handled up to 4, none of them this case's referral.
  ConferenceState unknown;
  unknown.last_case_position = 4;
  SubmitLetterDraftCommand c = Draft();
  c.case_id = "c-2";
  EXPECT_THAT(DecideSubmitLetterDraft(unknown, c, Manager()),
              StatusIs(absl::StatusCode::kNotFound,
                       "case \"c-2\" is not known to the conference service (case log "
                       "handled up to 4; pass a causal token if the case is new)"));
  EXPECT_THAT(DeliverLetterQuestion(unknown, {"c-2", "l-1", 1, std::nullopt, {}},
                                    Facilitator("f-1")),
              StatusIs(absl::StatusCode::kPermissionDenied));
  EXPECT_THAT(DecideRecordPreparation(unknown, OtherCasePreparation(), Manager()),
              StatusIs(absl::StatusCode::kNotFound));
  EXPECT_THAT(LetterAuthor(unknown), StatusIs(absl::StatusCode::kNotFound));
  EXPECT_THAT(LetterRecipient(unknown, "l-1"), StatusIs(absl::StatusCode::kNotFound));
  EXPECT_THAT(PreparationParticipant(unknown, "p"),
              StatusIs(absl::StatusCode::kNotFound));
  EXPECT_THAT(ConferenceVictim(unknown, "p"), StatusIs(absl::StatusCode::kNotFound));
}

TEST_F(ConferenceDecideTest, ClosedCaseRefusesEveryCommand) {
  Offered();
  s_.Slot("prep-v1", false, {"v-1"});
  s_.Closed();
  const auto closed =
      StatusIs(absl::StatusCode::kFailedPrecondition, "case \"c-1\" is closed");
  EXPECT_THAT(DecideSubmitLetterDraft(state(), Draft("l-2"), Facilitator()), closed);
  EXPECT_THAT(DecideReviewLetter(state(), Review(1, conference_v1::CHANGES_REQUESTED),
                                 Facilitator()),
              closed);
  EXPECT_THAT(OfferLetterQuestion(state(), Offer(), Facilitator()), closed);
  EXPECT_THAT(DeliverLetterQuestion(state(), Deliver(), Facilitator()), closed);
  EXPECT_THAT(DecideDeliverLetter(state(), Deliver(), Facilitator()), closed);
  EXPECT_THAT(DecideRecordLetterResponse(state(), Response(), Facilitator()), closed);
  EXPECT_THAT(ShuttleQuestion(state(), Message(), Facilitator()), closed);
  EXPECT_THAT(DecideSendShuttleMessage(state(), Message(), Facilitator()), closed);
  EXPECT_THAT(DecideRecordPreparation(state(), Preparation(), Facilitator()), closed);
  EXPECT_THAT(DecideSubmitLetterDraft(state(), Draft("l-2"), Manager()), closed);
}

TEST_F(ConferenceDecideTest, PausedCaseRefusesEveryCommandUntilItResumes) {
  Offered();
  s_.Slot("prep-v1", false, {"v-1"});
  s_.Paused();
  const auto paused =
      StatusIs(absl::StatusCode::kFailedPrecondition,
               "case \"c-1\" is paused: nothing is done until it resumes");
  EXPECT_THAT(DecideSubmitLetterDraft(state(), Draft("l-2"), Facilitator()), paused);
  EXPECT_THAT(DecideReviewLetter(state(), Review(1, conference_v1::CHANGES_REQUESTED),
                                 Facilitator()),
              paused);
  EXPECT_THAT(DeliverLetterQuestion(state(), Deliver(), Facilitator()), paused);
  EXPECT_THAT(DecideDeliverLetter(state(), Deliver(), Facilitator()), paused);
  EXPECT_THAT(DecideRecordLetterResponse(state(), Response(), Facilitator()), paused);
  EXPECT_THAT(ShuttleQuestion(state(), Message(), Facilitator()), paused);
  EXPECT_THAT(DecideRecordPreparation(state(), Preparation(), Facilitator()), paused);

  s_.Resumed();
  EXPECT_THAT(DecideRecordPreparation(state(), Preparation(), Facilitator()), IsOk());
  EXPECT_THAT(DecideSubmitLetterDraft(state(), Draft("l-2"), Facilitator()), IsOk());
  // The delivery needs an approval decided after the pause.
  EXPECT_THAT(DeliverLetterQuestion(state(), Deliver(), Facilitator()), IsOk());
  EXPECT_THAT(DecideDeliverLetter(state(), Deliver(), Facilitator()), IsOk());
}

// ===========================================================================
// Letters.

TEST_F(ConferenceDecideTest, SubmitLetterDraftRecordsVersionOneByTheServiceUser) {
  absl::StatusOr<conference_v1::LetterDraftSubmitted> e =
      DecideSubmitLetterDraft(state(), Draft(), Facilitator());
  ASSERT_THAT(e, IsOk());
  conference_v1::LetterDraftSubmitted expected;
  expected.set_case_id(kCase);
  expected.set_letter_id("l-1");
  expected.set_version(1);
  expected.set_author_id("su-1");
  *expected.mutable_text() = SealedFor("su-1", "I am sorry");
  expected.set_submitted_by("f-1");
  *expected.mutable_handled() = Token(3);
  EXPECT_THAT(*e, EqualsProto(expected));

  s_.Append(*e);
  const LetterFacts* letter = state().FindLetter("l-1");
  ASSERT_NE(letter, nullptr);
  EXPECT_EQ(letter->author_id, "su-1");
  ASSERT_EQ(letter->versions.size(), 1u);
  // The service makes a new letter's id: one used already is a bug.
  EXPECT_THAT(DecideSubmitLetterDraft(state(), Draft(), Facilitator()),
              StatusIs(absl::StatusCode::kInternal));
}

TEST_F(ConferenceDecideTest, SubmitLetterDraftNeedsTextSealedForTheServiceUser) {
  SubmitLetterDraftCommand c = Draft();
  c.text = common_v1::Sealed();
  EXPECT_THAT(DecideSubmitLetterDraft(state(), c, Facilitator()),
              StatusIs(absl::StatusCode::kInvalidArgument, "text: is required"));
  c.text = SealedFor("v-1", "I am sorry");
  EXPECT_THAT(
      DecideSubmitLetterDraft(state(), c, Facilitator()),
      StatusIs(absl::StatusCode::kInternal, "text is sealed for \"v-1\", not \"su-1\""));
}

TEST_F(ConferenceDecideTest, SubmitLetterDraftNeedsALiveServiceUser) {
  s_.Erased("su-1");
  EXPECT_THAT(DecideSubmitLetterDraft(state(), Draft(), Facilitator()),
              StatusIs(absl::StatusCode::kFailedPrecondition,
                       HasSubstr("SERVICE_USER \"su-1\" of case \"c-1\" was erased")));
  EXPECT_THAT(LetterAuthor(state()), StatusIs(absl::StatusCode::kFailedPrecondition));

  Stream no_su;
  no_su.Referred({Person("v-1", case_v1::VICTIM)});
  no_su.Allocated("f-1");
  EXPECT_THAT(DecideSubmitLetterDraft(no_su.state, Draft(), Facilitator()),
              StatusIs(absl::StatusCode::kFailedPrecondition,
                       "case \"c-1\" has no service user"));
  EXPECT_THAT(LetterAuthor(no_su.state), StatusIs(absl::StatusCode::kFailedPrecondition));
}

TEST_F(ConferenceDecideTest, NextVersionOnlyAfterChangesWereRequested) {
  EXPECT_THAT(
      DecideSubmitLetterDraft(state(), Draft("l-1", false), Facilitator()),
      StatusIs(absl::StatusCode::kNotFound, "case \"c-1\" has no letter \"l-1\""));
  Drafted();
  EXPECT_THAT(DecideSubmitLetterDraft(state(), Draft("l-1", false), Facilitator()),
              StatusIs(absl::StatusCode::kFailedPrecondition,
                       HasSubstr("version 1 of letter \"l-1\" is not reviewed yet")));
  s_.Append(Value(DecideReviewLetter(state(), Review(1, conference_v1::CHANGES_REQUESTED),
                                     Facilitator())));

  absl::StatusOr<conference_v1::LetterDraftSubmitted> e =
      DecideSubmitLetterDraft(state(), Draft("l-1", false), Facilitator("f-2"));
  ASSERT_THAT(e, IsOk());
  EXPECT_EQ(e->version(), 2);
  EXPECT_EQ(e->author_id(), "su-1");
  EXPECT_EQ(e->submitted_by(), "f-2");
  s_.Append(*e);

  s_.Append(Value(DecideReviewLetter(
      state(), Review(2, conference_v1::APPROVED_FOR_OFFER), Facilitator())));
  EXPECT_THAT(DecideSubmitLetterDraft(state(), Draft("l-1", false), Facilitator()),
              StatusIs(absl::StatusCode::kFailedPrecondition,
                       HasSubstr("version 2 of letter \"l-1\" was reviewed "
                                 "APPROVED_FOR_OFFER")));
}

TEST_F(ConferenceDecideTest, ReviewLetterRecordsTheVerdictOnTheLatestVersion) {
  Drafted();
  absl::StatusOr<conference_v1::LetterReviewed> e = DecideReviewLetter(
      state(), Review(1, conference_v1::CHANGES_REQUESTED), Facilitator("f-2"));
  ASSERT_THAT(e, IsOk());
  conference_v1::LetterReviewed expected;
  expected.set_case_id(kCase);
  expected.set_letter_id("l-1");
  expected.set_version(1);
  expected.set_verdict(conference_v1::CHANGES_REQUESTED);
  *expected.mutable_notes() = SealedFor("su-1", "say more");
  expected.set_reviewed_by("f-2");
  *expected.mutable_handled() = Token(3);
  EXPECT_THAT(*e, EqualsProto(expected));
  s_.Append(*e);

  EXPECT_THAT(
      DecideReviewLetter(state(), Review(1, conference_v1::APPROVED_FOR_OFFER),
                         Facilitator()),
      StatusIs(absl::StatusCode::kFailedPrecondition,
               "version 1 of letter \"l-1\" was reviewed already (CHANGES_REQUESTED)"));
  s_.Append(Value(DecideSubmitLetterDraft(state(), Draft("l-1", false), Facilitator())));
  EXPECT_THAT(DecideReviewLetter(state(), Review(1, conference_v1::APPROVED_FOR_OFFER),
                                 Facilitator()),
              StatusIs(absl::StatusCode::kFailedPrecondition,
                       "version 1 of letter \"l-1\" is not the latest (2)"));
  EXPECT_THAT(DecideReviewLetter(state(), Review(3, conference_v1::APPROVED_FOR_OFFER),
                                 Facilitator()),
              StatusIs(absl::StatusCode::kNotFound, "letter \"l-1\" has no version 3"));
  EXPECT_THAT(
      DecideReviewLetter(state(), Review(1, conference_v1::APPROVED_FOR_OFFER, "l-9"),
                         Facilitator()),
      StatusIs(absl::StatusCode::kNotFound));

  // Approved without notes: the event has none.
  absl::StatusOr<conference_v1::LetterReviewed> approved = DecideReviewLetter(
      state(), Review(2, conference_v1::APPROVED_FOR_OFFER), Facilitator());
  ASSERT_THAT(approved, IsOk());
  EXPECT_FALSE(approved->has_notes());
  EXPECT_EQ(approved->verdict(), conference_v1::APPROVED_FOR_OFFER);
  s_.Append(*approved);
  EXPECT_EQ(state().FindLetter("l-1")->latest()->verdict,
            conference_v1::APPROVED_FOR_OFFER);
}

TEST_F(ConferenceDecideTest, ReviewLetterChecksVerdictAndNotes) {
  Drafted();
  ReviewLetterCommand c = Review(1, conference_v1::LETTER_VERDICT_UNSPECIFIED);
  EXPECT_THAT(DecideReviewLetter(state(), c, Facilitator()),
              StatusIs(absl::StatusCode::kInvalidArgument, "verdict: is required"));
  c.verdict = static_cast<conference_v1::LetterVerdict>(9);
  EXPECT_THAT(
      DecideReviewLetter(state(), c, Facilitator()),
      StatusIs(absl::StatusCode::kInvalidArgument, "verdict: has unknown value 9"));
  c = Review(1, conference_v1::CHANGES_REQUESTED);
  c.notes = common_v1::Sealed();
  EXPECT_THAT(DecideReviewLetter(state(), c, Facilitator()),
              StatusIs(absl::StatusCode::kInvalidArgument,
                       "notes: is required with CHANGES_REQUESTED"));
  c.notes = SealedFor("v-1", "say more");
  EXPECT_THAT(DecideReviewLetter(state(), c, Facilitator()),
              StatusIs(absl::StatusCode::kInternal));
  c = Review(1, conference_v1::APPROVED_FOR_OFFER);
  c.notes = SealedFor("f-1", "fine");
  EXPECT_THAT(DecideReviewLetter(state(), c, Facilitator()),
              StatusIs(absl::StatusCode::kInternal));
}

TEST_F(ConferenceDecideTest, OfferLetterAsksApproachVictimAndRecordsTheOffer) {
  Approved();
  EXPECT_THAT(OfferLetterQuestion(state(), Offer(), Facilitator("f-2")),
              IsOkAndHolds(::testing::AllOf(
                  ::testing::Field(&ContactQuestion::kind, common_v1::APPROACH_VICTIM),
                  ::testing::Field(&ContactQuestion::victim_id, "v-1"),
                  ::testing::Field(&ContactQuestion::facilitator_id, "f-2"))));

  absl::StatusOr<conference_v1::LetterOffered> e =
      DecideOfferLetter(state(), Offer(), Facilitator());
  ASSERT_THAT(e, IsOk());
  conference_v1::LetterOffered expected;
  expected.set_case_id(kCase);
  expected.set_letter_id("l-1");
  expected.set_version(1);
  expected.set_victim_id("v-1");
  *expected.mutable_approval() = Approval(common_v1::APPROACH_VICTIM, "v-1");
  expected.set_offered_by("f-1");
  *expected.mutable_handled() = Token(4);
  EXPECT_THAT(*e, EqualsProto(expected));
  s_.Append(*e);
  EXPECT_TRUE(state().FindLetter("l-1")->pending_delivery());

  EXPECT_THAT(OfferLetterQuestion(state(), Offer(), Facilitator()),
              StatusIs(absl::StatusCode::kFailedPrecondition,
                       "letter \"l-1\" was offered already (version 1 of letter \"l-1\" "
                       "to \"v-1\")"));
  EXPECT_THAT(OfferLetterQuestion(state(), Offer("v-2"), Facilitator()),
              StatusIs(absl::StatusCode::kFailedPrecondition));
}

TEST_F(ConferenceDecideTest, OfferLetterOnlyOfAnApprovedVersion) {
  OfferLetterCommand c = Offer();
  EXPECT_THAT(OfferLetterQuestion(state(), c, Facilitator()),
              StatusIs(absl::StatusCode::kNotFound));
  Drafted();
  EXPECT_THAT(OfferLetterQuestion(state(), c, Facilitator()),
              StatusIs(absl::StatusCode::kFailedPrecondition,
                       "version 1 of letter \"l-1\" is not reviewed yet: only a version "
                       "APPROVED_FOR_OFFER is offered"));
  s_.Append(Value(DecideReviewLetter(state(), Review(1, conference_v1::CHANGES_REQUESTED),
                                     Facilitator())));
  EXPECT_THAT(OfferLetterQuestion(state(), c, Facilitator()),
              StatusIs(absl::StatusCode::kFailedPrecondition,
                       HasSubstr("was reviewed CHANGES_REQUESTED")));
  EXPECT_THAT(DecideOfferLetter(state(), c, Facilitator()),
              StatusIs(absl::StatusCode::kFailedPrecondition));
}

TEST_F(ConferenceDecideTest, OfferLetterToAVictimOfTheCase) {
  Approved();
  EXPECT_THAT(OfferLetterQuestion(state(), Offer("v-2"), Facilitator()),
              IsOkAndHolds(::testing::Field(&ContactQuestion::victim_id, "v-2")));
  EXPECT_THAT(OfferLetterQuestion(state(), Offer("sup-1"), Facilitator()),
              StatusIs(absl::StatusCode::kInvalidArgument,
                       "victim_id: \"sup-1\" is a SUPPORTER, not a victim or co-victim"));
  EXPECT_THAT(OfferLetterQuestion(state(), Offer("su-1"), Facilitator()),
              StatusIs(absl::StatusCode::kInvalidArgument));
  EXPECT_THAT(OfferLetterQuestion(state(), Offer("x-1"), Facilitator()),
              StatusIs(absl::StatusCode::kInvalidArgument,
                       "victim_id: \"x-1\" is not a participant of case \"c-1\""));
  // Two victims: which one must be said.
  EXPECT_THAT(OfferLetterQuestion(state(), Offer(""), Facilitator()),
              StatusIs(absl::StatusCode::kInvalidArgument,
                       "victim_id: is required: case \"c-1\" has 2 victims and "
                       "co-victims"));
  s_.Erased("v-1");
  EXPECT_THAT(OfferLetterQuestion(state(), Offer("v-1"), Facilitator()),
              StatusIs(absl::StatusCode::kFailedPrecondition,
                       HasSubstr("VICTIM \"v-1\" of case \"c-1\" was erased")));
}

TEST_F(ConferenceDecideTest, OfferLetterToTheOneVictimWhenNoneIsNamed) {
  Stream one;
  one.Referred({Person("su-1", case_v1::SERVICE_USER), Person("v-1", case_v1::VICTIM)});
  one.Allocated("f-1");
  one.Append(Value(DecideSubmitLetterDraft(one.state, Draft(), Facilitator())));
  one.Append(Value(DecideReviewLetter(
      one.state, Review(1, conference_v1::APPROVED_FOR_OFFER), Facilitator())));
  OfferLetterCommand c = Offer("");
  c.approval->set_case_position(one.state.last_case_position);
  EXPECT_THAT(OfferLetterQuestion(one.state, c, Facilitator()),
              IsOkAndHolds(::testing::Field(&ContactQuestion::victim_id, "v-1")));
  absl::StatusOr<conference_v1::LetterOffered> e =
      DecideOfferLetter(one.state, c, Facilitator());
  ASSERT_THAT(e, IsOk());
  EXPECT_EQ(e->victim_id(), "v-1");
}

TEST_F(ConferenceDecideTest, OfferLetterAgainOnlyAfterItsDeliveryWasCancelled) {
  Offered();
  DeliveryCancelled();
  EXPECT_THAT(
      DeliverLetterQuestion(state(), Deliver(), Facilitator()),
      StatusIs(absl::StatusCode::kFailedPrecondition,
               "the delivery of letter \"l-1\" was cancelled (CONSENT_WITHDRAWN): "
               "it must be offered again"));
  absl::StatusOr<conference_v1::LetterOffered> again =
      DecideOfferLetter(state(), Offer("v-1"), Facilitator());
  ASSERT_THAT(again, IsOk());
  s_.Append(*again);
  EXPECT_TRUE(state().FindLetter("l-1")->pending_delivery());
  EXPECT_THAT(DecideDeliverLetter(state(), Deliver(), Facilitator()), IsOk());
}

TEST_F(ConferenceDecideTest, DeliverLetterAsksLetterDeliveryAndRecordsIt) {
  Offered();
  EXPECT_THAT(DeliverLetterQuestion(state(), Deliver(), Facilitator("f-2")),
              IsOkAndHolds(::testing::AllOf(
                  ::testing::Field(&ContactQuestion::kind, common_v1::LETTER_DELIVERY),
                  ::testing::Field(&ContactQuestion::victim_id, "v-1"),
                  ::testing::Field(&ContactQuestion::facilitator_id, "f-2"))));
  absl::StatusOr<conference_v1::LetterDelivered> e =
      DecideDeliverLetter(state(), Deliver(), Facilitator());
  ASSERT_THAT(e, IsOk());
  conference_v1::LetterDelivered expected;
  expected.set_case_id(kCase);
  expected.set_letter_id("l-1");
  expected.set_version(1);
  expected.set_victim_id("v-1");
  *expected.mutable_approval() = Approval(common_v1::LETTER_DELIVERY, "v-1");
  expected.set_delivered_by("f-1");
  *expected.mutable_handled() = Token(5);
  EXPECT_THAT(*e, EqualsProto(expected));
  s_.Append(*e);

  EXPECT_THAT(DeliverLetterQuestion(state(), Deliver(), Facilitator()),
              StatusIs(absl::StatusCode::kFailedPrecondition,
                       "letter \"l-1\" was delivered already (version 1 of letter "
                       "\"l-1\")"));
  EXPECT_THAT(OfferLetterQuestion(state(), Offer(), Facilitator()),
              StatusIs(absl::StatusCode::kFailedPrecondition,
                       "letter \"l-1\" was delivered already"));
}

TEST_F(ConferenceDecideTest, DeliverLetterOnlyTheVersionOffered) {
  EXPECT_THAT(DeliverLetterQuestion(state(), Deliver(), Facilitator()),
              StatusIs(absl::StatusCode::kNotFound));
  Approved();
  EXPECT_THAT(DeliverLetterQuestion(state(), Deliver(), Facilitator()),
              StatusIs(absl::StatusCode::kFailedPrecondition,
                       "letter \"l-1\" was not offered: it is offered before delivery"));
  EXPECT_THAT(DecideDeliverLetter(state(), Deliver(), Facilitator()),
              StatusIs(absl::StatusCode::kFailedPrecondition));
  s_.Append(Value(DecideOfferLetter(state(), Offer(), Facilitator())));
  EXPECT_THAT(DeliverLetterQuestion(state(), Deliver(2), Facilitator()),
              StatusIs(absl::StatusCode::kNotFound, "letter \"l-1\" has no version 2"));
  EXPECT_THAT(DeliverLetterQuestion(state(), Deliver(0), Facilitator()),
              StatusIs(absl::StatusCode::kNotFound));
  EXPECT_THAT(DeliverLetterQuestion(state(), Deliver(1), Facilitator()), IsOk());
}

TEST_F(ConferenceDecideTest, DeliverLetterVersionMustEqualTheVersionOffered) {
  // Version 1 changes requested, version 2 approved and offered.
  Drafted();
  s_.Append(Value(DecideReviewLetter(state(), Review(1, conference_v1::CHANGES_REQUESTED),
                                     Facilitator())));
  s_.Append(Value(DecideSubmitLetterDraft(state(), Draft("l-1", false), Facilitator())));
  s_.Append(Value(DecideReviewLetter(
      state(), Review(2, conference_v1::APPROVED_FOR_OFFER), Facilitator())));
  absl::StatusOr<conference_v1::LetterOffered> offered =
      DecideOfferLetter(state(), Offer(), Facilitator());
  ASSERT_THAT(offered, IsOk());
  EXPECT_EQ(offered->version(), 2);
  s_.Append(*offered);
  EXPECT_THAT(DeliverLetterQuestion(state(), Deliver(1), Facilitator()),
              StatusIs(absl::StatusCode::kFailedPrecondition,
                       "version 1 of letter \"l-1\" is not the version offered (2)"));
  absl::StatusOr<conference_v1::LetterDelivered> e =
      DecideDeliverLetter(state(), Deliver(2), Facilitator());
  ASSERT_THAT(e, IsOk());
  EXPECT_EQ(e->version(), 2);
}

TEST_F(ConferenceDecideTest, DeliverLetterNotToAnErasedVictim) {
  Offered();
  s_.Erased("v-1");
  EXPECT_THAT(DeliverLetterQuestion(state(), Deliver(), Facilitator()),
              StatusIs(absl::StatusCode::kFailedPrecondition,
                       HasSubstr("VICTIM \"v-1\" of case \"c-1\" was erased")));
}

TEST_F(ConferenceDecideTest, NoOfferOrDeliveryOfALetterWhoseAuthorWasErased) {
  Approved();
  Stream offered = s_;
  offered.Append(Value(DecideOfferLetter(offered.state, Offer(), Facilitator())));
  s_.Erased("su-1");
  EXPECT_THAT(OfferLetterQuestion(state(), Offer(), Facilitator()),
              StatusIs(absl::StatusCode::kFailedPrecondition,
                       "SERVICE_USER \"su-1\" of case \"c-1\" was erased; nothing more "
                       "passes to or from them"));
  offered.Erased("su-1");
  EXPECT_THAT(DeliverLetterQuestion(offered.state, Deliver(), Facilitator()),
              StatusIs(absl::StatusCode::kFailedPrecondition, HasSubstr("was erased")));
}

TEST_F(ConferenceDecideTest, RecordLetterResponseOnceForADeliveredLetter) {
  Offered();
  EXPECT_THAT(DecideRecordLetterResponse(state(), Response(), Facilitator()),
              StatusIs(absl::StatusCode::kFailedPrecondition,
                       "letter \"l-1\" was not delivered"));
  EXPECT_THAT(LetterRecipient(state(), "l-1"),
              StatusIs(absl::StatusCode::kFailedPrecondition));
  s_.Append(Value(DecideDeliverLetter(state(), Deliver(), Facilitator())));
  EXPECT_THAT(LetterRecipient(state(), "l-1"), IsOkAndHolds(std::string("v-1")));

  absl::StatusOr<conference_v1::LetterResponseRecorded> e =
      DecideRecordLetterResponse(state(), Response(), Manager());
  ASSERT_THAT(e, IsOk());
  conference_v1::LetterResponseRecorded expected;
  expected.set_case_id(kCase);
  expected.set_letter_id("l-1");
  expected.set_victim_id("v-1");
  *expected.mutable_response() = SealedFor("v-1", "thank you");
  expected.set_wants_further_contact(true);
  expected.add_further_contact_kinds(common_v1::FACE_TO_FACE_CONFERENCE);
  expected.set_recorded_by("m-1");
  *expected.mutable_handled() = Token(6);
  EXPECT_THAT(*e, EqualsProto(expected));
  s_.Append(*e);
  EXPECT_TRUE(state().FindLetter("l-1")->response_recorded);

  EXPECT_THAT(DecideRecordLetterResponse(state(), Response(), Facilitator()),
              StatusIs(absl::StatusCode::kFailedPrecondition,
                       "the response to letter \"l-1\" was recorded already"));
  RecordLetterResponseCommand unknown = Response();
  unknown.letter_id = "l-9";
  EXPECT_THAT(DecideRecordLetterResponse(state(), unknown, Facilitator()),
              StatusIs(absl::StatusCode::kNotFound));
  EXPECT_THAT(LetterRecipient(state(), "l-9"), StatusIs(absl::StatusCode::kNotFound));
}

TEST_F(ConferenceDecideTest, RecordLetterResponseChecksResponseAndKinds) {
  Delivered();
  RecordLetterResponseCommand c = Response();
  c.response = common_v1::Sealed();
  EXPECT_THAT(DecideRecordLetterResponse(state(), c, Facilitator()),
              StatusIs(absl::StatusCode::kInvalidArgument, "response: is required"));
  c.response = SealedFor("su-1", "thank you");
  EXPECT_THAT(DecideRecordLetterResponse(state(), c, Facilitator()),
              StatusIs(absl::StatusCode::kInternal));

  c = Response();
  c.wants_further_contact = false;
  EXPECT_THAT(
      DecideRecordLetterResponse(state(), c, Facilitator()),
      StatusIs(absl::StatusCode::kInvalidArgument,
               "further_contact_kinds: are given only with wants_further_contact"));
  c.further_contact_kinds.clear();
  EXPECT_THAT(DecideRecordLetterResponse(state(), c, Facilitator()),
              IsOkAndHolds(::testing::Property(
                  &conference_v1::LetterResponseRecorded::wants_further_contact, false)));

  c = Response();
  c.further_contact_kinds = {common_v1::SHUTTLE_MESSAGE, common_v1::SHUTTLE_MESSAGE};
  EXPECT_THAT(DecideRecordLetterResponse(state(), c, Facilitator()),
              StatusIs(absl::StatusCode::kInvalidArgument,
                       "further_contact_kinds: names SHUTTLE_MESSAGE twice"));
  c.further_contact_kinds = {common_v1::CONTACT_KIND_UNSPECIFIED};
  EXPECT_THAT(
      DecideRecordLetterResponse(state(), c, Facilitator()),
      StatusIs(absl::StatusCode::kInvalidArgument, "further_contact_kinds: is required"));
  c.further_contact_kinds = {static_cast<common_v1::ContactKind>(42)};
  EXPECT_THAT(DecideRecordLetterResponse(state(), c, Facilitator()),
              StatusIs(absl::StatusCode::kInvalidArgument,
                       "further_contact_kinds: has unknown value 42"));
}

// ===========================================================================
// CheckApproval: a letter delivered without an approval at that moment is
// impossible by any path (I1).

TEST_F(ConferenceDecideTest, ContactWithoutApprovalIsRefused) {
  Offered();
  DeliverLetterCommand c = Deliver();
  c.approval.reset();
  EXPECT_THAT(DecideDeliverLetter(state(), c, Facilitator()),
              StatusIs(absl::StatusCode::kFailedPrecondition,
                       "contact with victim \"v-1\" needs an APPROVED LETTER_DELIVERY "
                       "contact decision asked by facilitator \"f-1\""));
  SendShuttleMessageCommand m = Message();
  m.approval.reset();
  EXPECT_THAT(DecideSendShuttleMessage(state(), m, Facilitator()),
              StatusIs(absl::StatusCode::kFailedPrecondition));
}

TEST_F(ConferenceDecideTest, ApprovalMustAnswerTheQuestion) {
  Offered();
  const auto deliver_with =
      [&](const std::function<void(conference_v1::Approval&)>& edit) {
        DeliverLetterCommand c = Deliver();
        edit(*c.approval);
        return DecideDeliverLetter(state(), c, Facilitator()).status();
      };
  EXPECT_THAT(
      deliver_with([](auto& a) { a.set_kind(common_v1::APPROACH_VICTIM); }),
      StatusIs(absl::StatusCode::kFailedPrecondition,
               "decision \"d-1\" approved APPROACH_VICTIM with victim \"v-1\" asked "
               "by facilitator \"f-1\", not LETTER_DELIVERY with victim \"v-1\" "
               "asked by facilitator \"f-1\""));
  EXPECT_THAT(
      deliver_with([](auto& a) { a.set_victim_id("v-2"); }),
      StatusIs(absl::StatusCode::kFailedPrecondition,
               HasSubstr("with victim \"v-2\" asked by facilitator \"f-1\", not")));
  // Asked by f-2, used by f-1.
  EXPECT_THAT(deliver_with([](auto& a) { a.set_facilitator_id("f-2"); }),
              StatusIs(absl::StatusCode::kFailedPrecondition,
                       HasSubstr("asked by facilitator \"f-2\", not")));
  EXPECT_THAT(deliver_with([](auto& a) { a.set_service_user_id("su-9"); }),
              StatusIs(absl::StatusCode::kFailedPrecondition,
                       "decision \"d-1\" names service user \"su-9\", not the case's "
                       "\"su-1\""));
  EXPECT_THAT(deliver_with([](auto& a) { a.clear_service_user_id(); }),
              StatusIs(absl::StatusCode::kFailedPrecondition));
  EXPECT_THAT(deliver_with([](auto&) {}), IsOk());
}

TEST_F(ConferenceDecideTest, ApprovalMustBeFresh) {
  Offered();
  DeliverLetterCommand c = Deliver();
  // Decided exactly two minutes ago: still fresh.
  EXPECT_THAT(
      DecideDeliverLetter(state(), c, Facilitator("f-1", kNow + kApprovalFreshness)),
      IsOk());
  const absl::Time late = kNow + kApprovalFreshness + absl::Microseconds(1);
  EXPECT_THAT(
      DecideDeliverLetter(state(), c, Facilitator("f-1", late)),
      StatusIs(absl::StatusCode::kFailedPrecondition,
               "decision \"d-1\" was decided at 2027-05-03T10:00:00.000000Z, more "
               "than 2m before now (2027-05-03T10:02:00.000001Z): ask the gate "
               "again"));
  c.approval->clear_decided_unix_micros();
  EXPECT_THAT(DecideDeliverLetter(state(), c, Facilitator()),
              StatusIs(absl::StatusCode::kFailedPrecondition, HasSubstr("more than 2m")));
}

TEST_F(ConferenceDecideTest, ApprovalLapsesWithAWithdrawalOfEachScopeItReliedOn) {
  Offered();
  const DeliverLetterCommand c = Deliver();  // decided at consent position 40
  struct Case {
    std::string person;
    consent_v1::ConsentScope scope;
  };
  for (const Case& w :
       {Case{"v-1", consent_v1::PARTICIPATE}, Case{"v-1", consent_v1::RECEIVE_LETTER},
        Case{"su-1", consent_v1::RECEIVE_LETTER}}) {
    SCOPED_TRACE(absl::StrCat(w.person, " ", consent_v1::ConsentScope_Name(w.scope)));
    // Withdrawn before the decision (it was decided knowing that): not this
    // rule's business.
    Stream before = s_;
    before.Withdrew(w.person, w.scope, 40);
    EXPECT_THAT(DecideDeliverLetter(before.state, c, Facilitator()), IsOk());
    // Withdrawn after it.
    Stream after = s_;
    after.Withdrew(w.person, w.scope, 41);
    EXPECT_THAT(DecideDeliverLetter(after.state, c, Facilitator()),
                StatusIs(absl::StatusCode::kFailedPrecondition,
                         absl::StrCat("consent withdrawn since decision \"d-1\" "
                                      "(consent-log position 40): \"",
                                      w.person, "\" withdrew ",
                                      consent_v1::ConsentScope_Name(w.scope),
                                      " at consent-log position 41")));
  }
  // Withdrawals it did not rely on.
  for (const Case& w :
       {Case{"v-1", consent_v1::VIDEO}, Case{"v-2", consent_v1::PARTICIPATE},
        Case{"v-2", consent_v1::RECEIVE_LETTER}, Case{"su-1", consent_v1::SHUTTLE}}) {
    SCOPED_TRACE(absl::StrCat(w.person, " ", consent_v1::ConsentScope_Name(w.scope)));
    Stream other = s_;
    other.Withdrew(w.person, w.scope, 41);
    EXPECT_THAT(DecideDeliverLetter(other.state, c, Facilitator()), IsOk());
  }
}

TEST_F(ConferenceDecideTest, ShuttleApprovalReliesOnTheShuttleScopes) {
  const SendShuttleMessageCommand c = Message("v-2", "su-1");
  for (const auto& [person, scope] :
       std::vector<std::pair<std::string, consent_v1::ConsentScope>>{
           {"v-2", consent_v1::PARTICIPATE},
           {"v-2", consent_v1::SHUTTLE},
           {"su-1", consent_v1::SHUTTLE}}) {
    Stream after = s_;
    after.Withdrew(person, scope, 41);
    EXPECT_THAT(DecideSendShuttleMessage(after.state, c, Facilitator()),
                StatusIs(absl::StatusCode::kFailedPrecondition,
                         HasSubstr("consent withdrawn since decision \"d-1\"")))
        << person;
  }
  Stream unrelated = s_;
  unrelated.Withdrew("v-1", consent_v1::SHUTTLE, 41);
  EXPECT_THAT(DecideSendShuttleMessage(unrelated.state, c, Facilitator()), IsOk());
}

TEST_F(ConferenceDecideTest, ApprovalLapsesWithACaseFactItDidNotKnow) {
  Offered();
  const DeliverLetterCommand c = Deliver();
  const uint64_t decided_at = c.approval->case_position();
  ASSERT_EQ(decided_at, 3u);  // referral, two allocations

  Stream assessed = s_;
  assessed.RiskAssessed();
  EXPECT_THAT(DecideDeliverLetter(assessed.state, c, Facilitator()),
              StatusIs(absl::StatusCode::kFailedPrecondition,
                       "decision \"d-1\" predates the risk "
                       "assessment at case-log position 4"));
  // Decided knowing the assessment: fine.
  DeliverLetterCommand fresh = c;
  fresh.approval->set_case_position(4);
  EXPECT_THAT(DecideDeliverLetter(assessed.state, fresh, Facilitator()), IsOk());

  Stream paused = s_;
  paused.Paused();
  paused.Resumed();
  EXPECT_THAT(DecideDeliverLetter(paused.state, c, Facilitator()),
              StatusIs(absl::StatusCode::kFailedPrecondition,
                       "decision \"d-1\" predates the pause at "
                       "case-log position 4"));
  fresh.approval->set_case_position(5);
  EXPECT_THAT(DecideDeliverLetter(paused.state, fresh, Facilitator()), IsOk());

  Stream released = s_;
  released.Released("f-2");
  EXPECT_THAT(DecideDeliverLetter(released.state, c, Facilitator()),
              StatusIs(absl::StatusCode::kFailedPrecondition,
                       "decision \"d-1\" predates the facilitator "
                       "release at case-log position 4"));

  // A closed case refuses before the approval is looked at; the rule holds
  // on its own too.
  Stream closed = s_;
  closed.Closed();
  EXPECT_THAT(DecideDeliverLetter(closed.state, c, Facilitator()),
              StatusIs(absl::StatusCode::kFailedPrecondition, "case \"c-1\" is closed"));
  const ContactQuestion q{common_v1::LETTER_DELIVERY, "v-1", "f-1"};
  EXPECT_THAT(CheckApproval(closed.state, q, *c.approval, Facilitator()),
              StatusIs(absl::StatusCode::kFailedPrecondition,
                       "decision \"d-1\" predates the closure at "
                       "case-log position 4"));
  EXPECT_THAT(CheckApproval(state(), q, *c.approval, Facilitator()), IsOk());

  // Facts of other logs, and case facts the decision knew, change nothing.
  Stream other = s_;
  other.Joined(Person("int-2", case_v1::INTERPRETER, "v-1"));
  other.Slot("prep-v1", false, {"v-1"});
  EXPECT_THAT(DecideDeliverLetter(other.state, c, Facilitator()), IsOk());
}

TEST_F(ConferenceDecideTest, OfferApprovalIsCheckedLikeAnyContact) {
  Approved();
  OfferLetterCommand c = Offer();
  c.approval->set_kind(common_v1::LETTER_DELIVERY);
  EXPECT_THAT(DecideOfferLetter(state(), c, Facilitator()),
              StatusIs(absl::StatusCode::kFailedPrecondition));
  c = Offer();
  Stream after = s_;
  after.Withdrew("su-1", consent_v1::PARTICIPATE, 41);  // APPROACH_VICTIM's scope
  EXPECT_THAT(DecideOfferLetter(after.state, c, Facilitator()),
              StatusIs(absl::StatusCode::kFailedPrecondition,
                       HasSubstr("\"su-1\" withdrew PARTICIPATE")));
  EXPECT_THAT(DecideOfferLetter(state(), c, Facilitator("f-1", kNow + absl::Minutes(3))),
              StatusIs(absl::StatusCode::kFailedPrecondition, HasSubstr("more than 2m")));
}

// ===========================================================================
// Shuttle.

TEST_F(ConferenceDecideTest, ShuttleMessageEitherWayBetweenServiceUserAndAVictim) {
  EXPECT_THAT(ShuttleQuestion(state(), Message("su-1", "v-1"), Facilitator("f-2")),
              IsOkAndHolds(::testing::AllOf(
                  ::testing::Field(&ContactQuestion::kind, common_v1::SHUTTLE_MESSAGE),
                  ::testing::Field(&ContactQuestion::victim_id, "v-1"),
                  ::testing::Field(&ContactQuestion::facilitator_id, "f-2"))));
  EXPECT_THAT(ShuttleQuestion(state(), Message("v-2", "su-1"), Facilitator()),
              IsOkAndHolds(::testing::Field(&ContactQuestion::victim_id, "v-2")));

  absl::StatusOr<conference_v1::ShuttleMessageCarried> e =
      DecideSendShuttleMessage(state(), Message("v-2", "su-1"), Facilitator());
  ASSERT_THAT(e, IsOk());
  conference_v1::ShuttleMessageCarried expected;
  expected.set_case_id(kCase);
  expected.set_message_id("m-1");
  expected.set_from_participant_id("v-2");
  expected.set_to_participant_id("su-1");
  *expected.mutable_text() = SealedFor("v-2", "a question");
  *expected.mutable_approval() = Approval(common_v1::SHUTTLE_MESSAGE, "v-2");
  expected.set_carried_by("f-1");
  *expected.mutable_handled() = Token(7);
  EXPECT_THAT(*e, EqualsProto(expected));
  s_.Append(*e);
  ASSERT_EQ(state().messages.size(), 1u);

  // The service makes message ids: one used already is a bug.
  EXPECT_THAT(ShuttleQuestion(state(), Message("su-1", "v-1", "m-1"), Facilitator()),
              StatusIs(absl::StatusCode::kInternal));
  EXPECT_THAT(
      DecideSendShuttleMessage(state(), Message("su-1", "v-1", "m-2"), Facilitator()),
      IsOk());
}

TEST_F(ConferenceDecideTest, ShuttleMessageOnlyBetweenTheParties) {
  const auto invalid = [&](std::string from, std::string to) {
    return ShuttleQuestion(state(), Message(std::move(from), std::move(to)),
                           Facilitator())
        .status();
  };
  EXPECT_THAT(invalid("su-1", "su-1"),
              StatusIs(absl::StatusCode::kInvalidArgument,
                       "to_participant_id: is \"su-1\", the author: a message goes to "
                       "the other party"));
  EXPECT_THAT(invalid("su-1", "sup-1"),
              StatusIs(absl::StatusCode::kInvalidArgument,
                       "to_participant_id: a shuttle message goes between the service "
                       "user and a victim or co-victim, not from SERVICE_USER \"su-1\" "
                       "to SUPPORTER \"sup-1\""));
  EXPECT_THAT(invalid("v-1", "v-2"), StatusIs(absl::StatusCode::kInvalidArgument));
  EXPECT_THAT(invalid("int-1", "v-1"), StatusIs(absl::StatusCode::kInvalidArgument));
  EXPECT_THAT(
      invalid("x-1", "v-1"),
      StatusIs(absl::StatusCode::kInvalidArgument,
               "from_participant_id: \"x-1\" is not a participant of case \"c-1\""));
  EXPECT_THAT(
      invalid("su-1", "x-1"),
      StatusIs(absl::StatusCode::kInvalidArgument,
               "to_participant_id: \"x-1\" is not a participant of case \"c-1\""));

  Stream erased = s_;
  erased.Erased("v-1");
  EXPECT_THAT(ShuttleQuestion(erased.state, Message("su-1", "v-1"), Facilitator()),
              StatusIs(absl::StatusCode::kFailedPrecondition, HasSubstr("was erased")));
  EXPECT_THAT(ShuttleQuestion(erased.state, Message("v-1", "su-1"), Facilitator()),
              StatusIs(absl::StatusCode::kFailedPrecondition, HasSubstr("was erased")));
  erased.Erased("su-1");
  EXPECT_THAT(ShuttleQuestion(erased.state, Message("su-1", "v-2"), Facilitator()),
              StatusIs(absl::StatusCode::kFailedPrecondition, HasSubstr("was erased")));
}

TEST_F(ConferenceDecideTest, ShuttleMessageTextSealedForTheAuthor) {
  SendShuttleMessageCommand c = Message("su-1", "v-1");
  c.text = common_v1::Sealed();
  // The question is asked before the text is sealed.
  EXPECT_THAT(ShuttleQuestion(state(), c, Facilitator()), IsOk());
  EXPECT_THAT(DecideSendShuttleMessage(state(), c, Facilitator()),
              StatusIs(absl::StatusCode::kInvalidArgument, "text: is required"));
  c.text = SealedFor("v-1", "a question");
  EXPECT_THAT(
      DecideSendShuttleMessage(state(), c, Facilitator()),
      StatusIs(absl::StatusCode::kInternal, "text is sealed for \"v-1\", not \"su-1\""));
  // The approval was for the other victim.
  c = Message("su-1", "v-1");
  c.approval = Approval(common_v1::SHUTTLE_MESSAGE, "v-2");
  EXPECT_THAT(DecideSendShuttleMessage(state(), c, Facilitator()),
              StatusIs(absl::StatusCode::kFailedPrecondition));
}

// ===========================================================================
// Preparation.

TEST_F(ConferenceDecideTest, RecordPreparationOfABookedMeeting) {
  s_.Slot("prep-v1", false, {"v-1"});
  EXPECT_THAT(PreparationParticipant(state(), "prep-v1"),
              IsOkAndHolds(std::string("v-1")));
  absl::StatusOr<conference_v1::PreparationRecorded> e =
      DecideRecordPreparation(state(), Preparation(), Facilitator("f-2"));
  ASSERT_THAT(e, IsOk());
  conference_v1::PreparationRecorded expected;
  expected.set_case_id(kCase);
  expected.set_booking_id("prep-v1");
  expected.set_participant_id("v-1");
  expected.set_expectations_discussed(true);
  *expected.mutable_support_needs() = SealedFor("v-1", "step-free access");
  expected.set_mental_health_support(true);
  expected.set_supporter_id("sup-1");
  expected.set_ready(true);
  expected.set_recorded_by("f-2");
  *expected.mutable_handled() = Token(8);
  EXPECT_THAT(*e, EqualsProto(expected));
  s_.Append(*e);
  ASSERT_NE(state().LatestPreparation("v-1"), nullptr);
  EXPECT_TRUE(state().LatestPreparation("v-1")->ready);

  EXPECT_THAT(DecideRecordPreparation(state(), Preparation(), Facilitator()),
              StatusIs(absl::StatusCode::kFailedPrecondition,
                       "the outcome of preparation meeting \"prep-v1\" was recorded "
                       "already"));
}

TEST_F(ConferenceDecideTest, RecordPreparationWithoutNeedsOrSupporter) {
  s_.Slot("prep-su", false, {"su-1"});
  RecordPreparationCommand c = Preparation("prep-su");
  c.support_needs = common_v1::Sealed();
  c.supporter_id.clear();
  c.ready = false;
  absl::StatusOr<conference_v1::PreparationRecorded> e =
      DecideRecordPreparation(state(), c, Manager());
  ASSERT_THAT(e, IsOk());
  EXPECT_EQ(e->participant_id(), "su-1");
  EXPECT_FALSE(e->has_support_needs());
  EXPECT_EQ(e->supporter_id(), "");
  EXPECT_FALSE(e->ready());
  EXPECT_EQ(e->recorded_by(), "m-1");
  // The service user's own supporter.
  c.supporter_id = "sup-2";
  EXPECT_THAT(DecideRecordPreparation(state(), c, Manager()), IsOk());
  // Needs sealed with another's key.
  c.support_needs = SealedFor("v-1", "quiet room");
  EXPECT_THAT(DecideRecordPreparation(state(), c, Manager()),
              StatusIs(absl::StatusCode::kInternal,
                       "support_needs is sealed for \"v-1\", not \"su-1\""));
}

TEST_F(ConferenceDecideTest, RecordPreparationOnlyOfALivePreparationMeeting) {
  EXPECT_THAT(DecideRecordPreparation(state(), Preparation(), Facilitator()),
              StatusIs(absl::StatusCode::kNotFound,
                       "case \"c-1\" has no booking \"prep-v1\" in scheduling"));
  EXPECT_THAT(PreparationParticipant(state(), "prep-v1"),
              StatusIs(absl::StatusCode::kNotFound));
  s_.Slot("conf-1", true, {"su-1", "v-1", "sup-1"});
  EXPECT_THAT(DecideRecordPreparation(state(), Preparation("conf-1"), Facilitator()),
              StatusIs(absl::StatusCode::kFailedPrecondition,
                       "booking \"conf-1\" is a conference, not a preparation meeting"));
  EXPECT_THAT(PreparationParticipant(state(), "conf-1"),
              StatusIs(absl::StatusCode::kFailedPrecondition));
  s_.Slot("prep-v1", false, {"v-1"});
  s_.BookingCancelled("prep-v1");
  EXPECT_THAT(DecideRecordPreparation(state(), Preparation(), Facilitator()),
              StatusIs(absl::StatusCode::kFailedPrecondition,
                       "preparation meeting \"prep-v1\" was cancelled in scheduling"));
  EXPECT_THAT(PreparationParticipant(state(), "prep-v1"),
              StatusIs(absl::StatusCode::kFailedPrecondition));
}

TEST_F(ConferenceDecideTest, RecordPreparationSupporterOfTheParticipant) {
  s_.Slot("prep-v1", false, {"v-1"});
  RecordPreparationCommand c = Preparation();
  c.supporter_id = "sup-2";
  EXPECT_THAT(DecideRecordPreparation(state(), c, Facilitator()),
              StatusIs(absl::StatusCode::kInvalidArgument,
                       "supporter_id: \"sup-2\" supports \"su-1\", not \"v-1\""));
  c.supporter_id = "int-1";
  EXPECT_THAT(DecideRecordPreparation(state(), c, Facilitator()),
              StatusIs(absl::StatusCode::kInvalidArgument,
                       "supporter_id: \"int-1\" is a INTERPRETER, not a SUPPORTER"));
  c.supporter_id = "v-2";
  EXPECT_THAT(DecideRecordPreparation(state(), c, Facilitator()),
              StatusIs(absl::StatusCode::kInvalidArgument));
  c.supporter_id = "x-1";
  EXPECT_THAT(DecideRecordPreparation(state(), c, Facilitator()),
              StatusIs(absl::StatusCode::kInvalidArgument,
                       "supporter_id: \"x-1\" is not a participant of case \"c-1\""));
}

TEST_F(ConferenceDecideTest, RecordPreparationNotForAnErasedParticipant) {
  s_.Slot("prep-v1", false, {"v-1"});
  s_.Erased("v-1");
  EXPECT_THAT(DecideRecordPreparation(state(), Preparation(), Facilitator()),
              StatusIs(absl::StatusCode::kFailedPrecondition, HasSubstr("was erased")));
  EXPECT_THAT(PreparationParticipant(state(), "prep-v1"),
              StatusIs(absl::StatusCode::kFailedPrecondition));
}

// ===========================================================================
// Whose key.

TEST_F(ConferenceDecideTest, WhoseKeySealsTheText) {
  EXPECT_THAT(LetterAuthor(state()), IsOkAndHolds(std::string("su-1")));

  s_.Slot("conf-1", true, {"su-1", "sup-1", "v-1"});
  s_.Slot("prep-v1", false, {"v-1"});
  EXPECT_THAT(ConferenceVictim(state(), "conf-1"), IsOkAndHolds(std::string("v-1")));
  EXPECT_THAT(ConferenceVictim(state(), "prep-v1"),
              StatusIs(absl::StatusCode::kFailedPrecondition));
  EXPECT_THAT(ConferenceVictim(state(), "conf-9"), StatusIs(absl::StatusCode::kNotFound));
  EXPECT_THAT(PreparationParticipant(state(), "prep-v1"),
              IsOkAndHolds(std::string("v-1")));

  Delivered();
  EXPECT_THAT(LetterRecipient(state(), "l-1"), IsOkAndHolds(std::string("v-1")));
  s_.Erased("v-1");
  EXPECT_THAT(LetterRecipient(state(), "l-1"),
              StatusIs(absl::StatusCode::kFailedPrecondition));
  EXPECT_THAT(ConferenceVictim(state(), "conf-1"),
              StatusIs(absl::StatusCode::kFailedPrecondition));
}

}  // namespace
}  // namespace mend::conferencesvc
