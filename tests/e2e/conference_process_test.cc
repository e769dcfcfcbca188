// The conference service as operators run it: the real mend-conference
// binary following real mend-case, mend-consent and mend-scheduling
// binaries, asking the real contact gate at the moment of every contact.
// The letter path (drafts, changes requested, approval, an offer refused
// then approved, a delivery refused then approved, the response), the
// withdrawal cascade on a pending delivery, the conference path (preparation,
// the start on a fresh approval, a withdrawal stopping it; held, the
// agreement needing every party, the victim informed, feedback, follow-up),
// restart and replay, and roles. Nothing sleeps: waits are on the health
// service and causal tokens.
#include <map>
#include <string>
#include <vector>

#include "absl/strings/str_cat.h"
#include "absl/time/clock.h"
#include "absl/time/time.h"
#include "gmock/gmock.h"
#include "google/protobuf/util/message_differencer.h"
#include "gtest/gtest.h"
#include "mend/conference/v1/conference_service.grpc.pb.h"
#include "tests/support/case_study.h"
#include "tests/support/service_processes.h"
#include "tests/support/test_util.h"

namespace mend {
namespace {

namespace case_v1 = ::mend::case_::v1;
namespace common_v1 = ::mend::common::v1;
namespace consent_v1 = ::mend::consent::v1;
namespace conference_v1 = ::mend::conference::v1;
using ::google::protobuf::util::MessageDifferencer;
using ::mend::testing::CaseStudy;
using ::mend::testing::IsOk;
using ::mend::testing::LogEvent;
using ::mend::testing::ServiceProcesses;
using ::mend::testing::StatusIs;
using ::testing::HasSubstr;

constexpr const char* kAnn = ServiceProcesses::kAnn;

class ConferenceProcessTest : public ::testing::Test {
 protected:
  ConferenceProcessTest()
      : p_(MEND_CASE_SERVICE, MEND_CONSENT_SERVICE, MEND_SCHEDULING_SERVICE,
           MEND_CONFERENCE_SERVICE) {}

  void SetUp() override {
    p_.StartCase();
    p_.StartConsent();
    p_.StartScheduling();
    p_.StartConferenceService();
  }

  ServiceProcesses p_;
  CaseStudy study_{p_};
};

TEST_F(ConferenceProcessTest, TheLetterPathRestsOnADecisionAtEachContact) {
  const std::string case_id = p_.ReadyCase("letter");
  const std::string letter_id = study_.ApprovedLetter(case_id);
  ASSERT_FALSE(letter_id.empty());

  conference_v1::OfferLetterRequest offer;
  offer.set_request_id("letter-offer-1");
  offer.set_case_id(case_id);
  offer.set_letter_id(letter_id);
  // The victim has not agreed to take part: the gate refuses; the refusal is
  // in the consent log and nothing is recorded here.
  const uint64_t head = p_.ConferenceHead();
  auto refused = study_.Do(&conference_v1::ConferenceService::Stub::OfferLetter, offer,
                           study_.Facilitator());
  ASSERT_THAT(refused, StatusIs(absl::StatusCode::kFailedPrecondition));
  EXPECT_THAT(refused.status().message(), HasSubstr("CONSENT_NOT_RECORDED"));
  auto decisions = p_.ListDecisions(case_id);
  ASSERT_THAT(decisions, IsOk());
  ASSERT_EQ(decisions->decisions_size(), 1);
  EXPECT_EQ(decisions->decisions(0).decision().outcome(), consent_v1::REFUSED);
  EXPECT_EQ(decisions->decisions(0).decision().requested_by(), "conference");
  EXPECT_THAT(refused.status().message(),
              HasSubstr(decisions->decisions(0).decision().decision_id()));
  EXPECT_EQ(p_.ConferenceHead(), head);

  study_.Answer(case_id, "v-1", consent_v1::PARTICIPATE, "letter-v-participate");
  study_.Answer(case_id, "su-1", consent_v1::PARTICIPATE, "letter-su-participate");
  offer.set_request_id("letter-offer-2");
  auto offered = study_.Do(&conference_v1::ConferenceService::Stub::OfferLetter, offer,
                           study_.Facilitator());
  ASSERT_THAT(offered, IsOk());
  EXPECT_EQ(offered->approval().kind(), common_v1::APPROACH_VICTIM);

  // Delivery needs its own decision at that moment: no RECEIVE_LETTER yet.
  conference_v1::DeliverLetterRequest deliver;
  deliver.set_request_id("letter-deliver-1");
  deliver.set_case_id(case_id);
  deliver.set_letter_id(letter_id);
  deliver.set_version(2);
  auto not_yet = study_.Do(&conference_v1::ConferenceService::Stub::DeliverLetter,
                           deliver, study_.Facilitator());
  ASSERT_THAT(not_yet, StatusIs(absl::StatusCode::kFailedPrecondition));
  EXPECT_THAT(not_yet.status().message(), HasSubstr("LETTER_DELIVERY"));
  // Never by a manager, whatever the gate would say.
  deliver.set_request_id("letter-deliver-manager");
  EXPECT_THAT(study_.Do(&conference_v1::ConferenceService::Stub::DeliverLetter, deliver,
                        study_.Manager()),
              StatusIs(absl::StatusCode::kPermissionDenied));

  p_.ConsentToLetters(case_id);  // the victim's and the service user's RECEIVE_LETTER
  study_.token().set_consent_position(p_.ConsentHead());
  const uint64_t consents_given = study_.token().consent_position();
  deliver.set_request_id("letter-deliver-2");
  auto delivered = study_.Do(&conference_v1::ConferenceService::Stub::DeliverLetter,
                             deliver, study_.Facilitator());
  ASSERT_THAT(delivered, IsOk());
  EXPECT_EQ(delivered->approval().kind(), common_v1::LETTER_DELIVERY);
  auto events = study_.ConferenceEvents<conference_v1::LetterDelivered>();
  ASSERT_EQ(events.size(), 1u);
  EXPECT_EQ(events[0].approval().decision_id(), delivered->approval().decision_id());
  EXPECT_EQ(events[0].version(), 2);
  EXPECT_EQ(events[0].delivered_by(), kAnn);
  // What the service had handled: at least the consents the caller had seen
  // (its causal token); the decision itself may not have reached it yet.
  EXPECT_GE(events[0].handled().consent_position(), consents_given);
  EXPECT_GE(events[0].handled().case_position(), study_.token().case_position());
  decisions = p_.ListDecisions(case_id);
  ASSERT_THAT(decisions, IsOk());
  EXPECT_EQ(decisions->decisions().rbegin()->decision().decision_id(),
            delivered->approval().decision_id());
  EXPECT_EQ(decisions->decisions().rbegin()->position(),
            delivered->approval().consent_position());

  conference_v1::RecordLetterResponseRequest response;
  response.set_request_id("letter-response");
  response.set_case_id(case_id);
  response.set_letter_id(letter_id);
  response.set_response("It reads as if it is about him. I want to meet him.");
  response.set_wants_further_contact(true);
  response.add_further_contact_kinds(common_v1::FACE_TO_FACE_CONFERENCE);
  ASSERT_THAT(study_.Do(&conference_v1::ConferenceService::Stub::RecordLetterResponse,
                        response, study_.Facilitator()),
              IsOk());

  // The words: to the allocated facilitator, not to an auditor.
  auto as_ann = study_.Contact(case_id, study_.Facilitator());
  ASSERT_THAT(as_ann, IsOk());
  ASSERT_EQ(as_ann->letters_size(), 1);
  const conference_v1::LetterView& letter = as_ann->letters(0);
  ASSERT_EQ(letter.versions_size(), 2);
  EXPECT_EQ(letter.versions(1).text().text(),
            "I am sorry I hurt you and took what was yours.");
  EXPECT_EQ(letter.versions(0).verdict(), conference_v1::CHANGES_REQUESTED);
  EXPECT_EQ(letter.response().text(),
            "It reads as if it is about him. I want to meet him.");
  EXPECT_EQ(letter.delivery().decision_id(), delivered->approval().decision_id());
  auto as_auditor = study_.Contact(case_id, study_.Auditor());
  ASSERT_THAT(as_auditor, IsOk());
  EXPECT_TRUE(as_auditor->letters(0).versions(1).text().withheld());
  EXPECT_TRUE(as_auditor->letters(0).response().withheld());
  EXPECT_EQ(as_auditor->letters(0).delivery().decision_id(),
            delivered->approval().decision_id());
  EXPECT_THAT(study_.Contact(case_id, p_.Token(Role::kFacilitator, "facilitator-bo")),
              StatusIs(absl::StatusCode::kPermissionDenied));
}

TEST_F(ConferenceProcessTest, AWithdrawalCancelsAPendingDelivery) {
  const std::string case_id = p_.ReadyCase("withdraw");
  const std::string letter_id = study_.ApprovedLetter(case_id);
  study_.Answer(case_id, "v-1", consent_v1::PARTICIPATE, "withdraw-v-participate");
  study_.Answer(case_id, "su-1", consent_v1::PARTICIPATE, "withdraw-su-participate");
  conference_v1::OfferLetterRequest offer;
  offer.set_request_id("withdraw-offer");
  offer.set_case_id(case_id);
  offer.set_letter_id(letter_id);
  ASSERT_THAT(study_.Do(&conference_v1::ConferenceService::Stub::OfferLetter, offer,
                        study_.Facilitator()),
              IsOk());

  const uint64_t withdrawal =
      study_.Withdraw(case_id, "v-1", consent_v1::RECEIVE_LETTER, "withdraw-letter");
  auto view = study_.Contact(
      case_id, study_.Facilitator());  // waits for the withdrawal (causal token)
  ASSERT_THAT(view, IsOk());
  EXPECT_EQ(view->letters(0).delivery_cancelled(), conference_v1::CONSENT_WITHDRAWN);
  auto cancelled = study_.ConferenceEvents<conference_v1::LetterDeliveryCancelled>();
  ASSERT_EQ(cancelled.size(), 1u);
  EXPECT_EQ(cancelled[0].source(), consent_v1::CONSENT_LOG);
  EXPECT_EQ(cancelled[0].source_position(), withdrawal);
  EXPECT_EQ(cancelled[0].handled().consent_position(), withdrawal);

  conference_v1::DeliverLetterRequest deliver;
  deliver.set_request_id("withdraw-deliver");
  deliver.set_case_id(case_id);
  deliver.set_letter_id(letter_id);
  deliver.set_version(2);
  EXPECT_THAT(study_.Do(&conference_v1::ConferenceService::Stub::DeliverLetter, deliver,
                        study_.Facilitator()),
              StatusIs(absl::StatusCode::kFailedPrecondition));
  EXPECT_TRUE(study_.ConferenceEvents<conference_v1::LetterDelivered>().empty());
}

TEST_F(ConferenceProcessTest, TheConferenceFromPreparationToFollowUp) {
  const std::string case_id = study_.FaceToFaceCase("meet");
  study_.ConsentToFaceToFace(case_id, "meet");
  const CaseStudy::Booked booked = study_.BookConferenceFor(case_id, "meet");
  ASSERT_FALSE(booked.conference.empty());
  const std::string booking_id = booked.conference;
  auto unprepared = study_.Start(case_id, booking_id, "meet-start-1");
  ASSERT_THAT(unprepared, StatusIs(absl::StatusCode::kFailedPrecondition));
  EXPECT_THAT(unprepared.status().message(), HasSubstr("prepared"));
  study_.Prepare(case_id, booked, "meet");
  auto started = study_.Start(case_id, booking_id, "meet-start-2");
  ASSERT_THAT(started, IsOk());
  EXPECT_EQ(started->approval().kind(), common_v1::FACE_TO_FACE_CONFERENCE);
  auto started_events = study_.ConferenceEvents<conference_v1::ConferenceStarted>();
  ASSERT_EQ(started_events.size(), 1u);
  EXPECT_EQ(started_events[0].approval().decision_id(),
            started->approval().decision_id());
  EXPECT_GE(started_events[0].handled().scheduling_position(),
            study_.token().scheduling_position());

  conference_v1::RecordConferenceHeldRequest held;
  held.set_request_id("meet-held");
  held.set_case_id(case_id);
  held.set_booking_id(booking_id);
  held.add_attendee_ids("su-1");
  held.add_attendee_ids("v-1");
  held.set_outline("He apologised in person; she asked why him and why her.");
  held.set_apology_made(true);
  ASSERT_THAT(study_.Do(&conference_v1::ConferenceService::Stub::RecordConferenceHeld,
                        held, study_.Facilitator()),
              IsOk());

  // The agreement needs every party.
  conference_v1::RecordOutcomeAgreementRequest agreement;
  agreement.set_request_id("meet-agreement-1");
  agreement.set_case_id(case_id);
  auto* item = agreement.add_items();
  item->set_what("Write to the victim support charity about what he learned.");
  item->set_owner_id("su-1");
  item->set_due_date(absl::FormatTime("%Y-%m-%d", absl::Now() + absl::Hours(24 * 30),
                                      absl::UTCTimeZone()));
  auto* su_consent = agreement.add_consents();
  su_consent->set_participant_id("su-1");
  su_consent->set_consented(true);
  auto* v_consent = agreement.add_consents();
  v_consent->set_participant_id("v-1");
  v_consent->set_consented(false);
  auto not_all =
      study_.Do(&conference_v1::ConferenceService::Stub::RecordOutcomeAgreement,
                agreement, study_.Facilitator());
  ASSERT_THAT(not_all, StatusIs(absl::StatusCode::kFailedPrecondition));
  EXPECT_THAT(not_all.status().message(), HasSubstr("v-1"));
  v_consent->set_consented(true);
  agreement.set_request_id("meet-agreement-2");
  ASSERT_THAT(study_.Do(&conference_v1::ConferenceService::Stub::RecordOutcomeAgreement,
                        agreement, study_.Facilitator()),
              IsOk());
  auto view = study_.Contact(case_id, study_.Facilitator());
  ASSERT_THAT(view, IsOk());
  ASSERT_EQ(view->agreement().items_size(), 1);
  conference_v1::CompleteItemRequest complete;
  complete.set_request_id("meet-complete");
  complete.set_case_id(case_id);
  complete.set_item_id(view->agreement().items(0).item_id());
  auto completed = study_.Do(&conference_v1::ConferenceService::Stub::CompleteItem,
                             complete, study_.Facilitator());
  ASSERT_THAT(completed, IsOk());
  EXPECT_TRUE(completed->agreement_completed());

  conference_v1::InformVictimRequest inform;
  inform.set_request_id("meet-inform");
  inform.set_case_id(case_id);
  auto informed = study_.Do(&conference_v1::ConferenceService::Stub::InformVictim, inform,
                            study_.Facilitator());
  ASSERT_THAT(informed, IsOk());
  EXPECT_EQ(informed->approval().kind(), common_v1::APPROACH_VICTIM);

  for (const char* who : {"su-1", "v-1"}) {
    conference_v1::RecordFeedbackRequest feedback;
    feedback.set_request_id(absl::StrCat("meet-feedback-", who));
    feedback.set_case_id(case_id);
    feedback.set_participant_id(who);
    feedback.set_satisfaction(5);
    feedback.set_comments("It helped.");
    feedback.set_would_recommend(true);
    ASSERT_THAT(study_.Do(&conference_v1::ConferenceService::Stub::RecordFeedback,
                          feedback, study_.Facilitator()),
                IsOk());
  }
  conference_v1::CompleteFollowUpRequest follow_up;
  follow_up.set_request_id("meet-follow-up");
  follow_up.set_case_id(case_id);
  ASSERT_THAT(study_.Do(&conference_v1::ConferenceService::Stub::CompleteFollowUp,
                        follow_up, study_.Facilitator()),
              IsOk());

  // Restart: the same view from the log, read once the logs have settled
  // (the case service derives FOLLOW_UP from the follow-up; this service's
  // view says how far it has handled the case and consent logs).
  study_.Settle(case_id);
  auto before = study_.Contact(case_id, study_.Facilitator());
  ASSERT_THAT(before, IsOk());
  EXPECT_TRUE(before->follow_up_completed());
  ASSERT_EQ(before->preparations_size(), 2);
  for (const conference_v1::PreparationView& prep : before->preparations()) {
    EXPECT_EQ(prep.support_needs().text(),
              prep.participant_id() == "su-1"
                  ? "Anxious in groups; his key worker will be on call."
                  : "");
    EXPECT_EQ(prep.mental_health_support(), prep.participant_id() == "su-1");
  }
  p_.StopConferenceService();
  p_.StartConferenceService();
  auto after = study_.Contact(case_id, study_.Facilitator());
  ASSERT_THAT(after, IsOk());
  EXPECT_TRUE(MessageDifferencer::Equals(*after, *before)) << after->DebugString();
}

TEST_F(ConferenceProcessTest, AWithdrawalStopsAConferenceInProgress) {
  const std::string case_id = study_.FaceToFaceCase("stop");
  study_.ConsentToFaceToFace(case_id, "stop");
  const CaseStudy::Booked booked = study_.BookConferenceFor(case_id, "stop");
  study_.Prepare(case_id, booked, "stop");
  ASSERT_THAT(study_.Start(case_id, booked.conference, "stop-start"), IsOk());

  const uint64_t withdrawal =
      study_.Withdraw(case_id, "v-1", consent_v1::FACE_TO_FACE, "stop-w");
  auto view = study_.Contact(case_id, study_.Facilitator());
  ASSERT_THAT(view, IsOk());
  ASSERT_EQ(view->conferences_size(), 1);
  EXPECT_EQ(view->conferences(0).stopped(), conference_v1::CONSENT_WITHDRAWN);
  auto stopped = study_.ConferenceEvents<conference_v1::ConferenceStopped>();
  ASSERT_EQ(stopped.size(), 1u);
  EXPECT_EQ(stopped[0].source_position(), withdrawal);
  conference_v1::RecordConferenceHeldRequest held;
  held.set_request_id("stop-held");
  held.set_case_id(case_id);
  held.set_booking_id(booked.conference);
  held.add_attendee_ids("su-1");
  held.add_attendee_ids("v-1");
  held.set_outline("-");
  EXPECT_THAT(study_.Do(&conference_v1::ConferenceService::Stub::RecordConferenceHeld,
                        held, study_.Facilitator()),
              StatusIs(absl::StatusCode::kFailedPrecondition));
}

TEST_F(ConferenceProcessTest, ANewRiskAssessmentInBetweenAndTheStartIsRefused) {
  const std::string case_id = study_.FaceToFaceCase("gate");
  study_.ConsentToFaceToFace(case_id, "gate");
  const CaseStudy::Booked booked = study_.BookConferenceFor(case_id, "gate");
  study_.Prepare(case_id, booked, "gate");
  // Reassessed after the booking: face to face no longer allowed. The start
  // asks the gate again, which refuses; the refusal is in the consent log
  // and nothing is recorded here.
  study_.Assess(case_id, "gate-risk-2", {common_v1::APPROACH_VICTIM});
  ASSERT_THAT(study_.Contact(case_id, study_.Facilitator()),
              IsOk());  // the new assessment is in
  const uint64_t head = p_.ConferenceHead();
  auto refused = study_.Start(case_id, booked.conference, "gate-start");
  ASSERT_THAT(refused, StatusIs(absl::StatusCode::kFailedPrecondition));
  EXPECT_THAT(refused.status().message(), HasSubstr("RISK_ASSESSMENT_DISALLOWS_KIND"));
  auto decisions = p_.ListDecisions(case_id);
  ASSERT_THAT(decisions, IsOk());
  const consent_v1::ContactDecisionMade& last =
      decisions->decisions().rbegin()->decision();
  EXPECT_EQ(last.kind(), common_v1::FACE_TO_FACE_CONFERENCE);
  EXPECT_EQ(last.outcome(), consent_v1::REFUSED);
  EXPECT_EQ(last.purpose(), "conference.start");
  EXPECT_THAT(refused.status().message(), HasSubstr(last.decision_id()));
  EXPECT_EQ(p_.ConferenceHead(), head);
  EXPECT_TRUE(study_.ConferenceEvents<conference_v1::ConferenceStarted>().empty());
}

TEST_F(ConferenceProcessTest,
       ShuttleMessagesNeedTheirOwnDecisionAndErasureShredsTheWords) {
  const std::string case_id = p_.ReadyCase("shuttle");
  study_.Answer(case_id, "v-1", consent_v1::PARTICIPATE, "shuttle-v-p");
  study_.Answer(case_id, "su-1", consent_v1::PARTICIPATE, "shuttle-su-p");
  conference_v1::SendShuttleMessageRequest m;
  m.set_request_id("shuttle-1");
  m.set_case_id(case_id);
  m.set_from_participant_id("v-1");
  m.set_to_participant_id("su-1");
  m.set_text("Why my house?");
  // The risk assessment allows no shuttle messages: refused, and on record.
  auto refused = study_.Do(&conference_v1::ConferenceService::Stub::SendShuttleMessage, m,
                           study_.Facilitator());
  ASSERT_THAT(refused, StatusIs(absl::StatusCode::kFailedPrecondition));
  EXPECT_THAT(refused.status().message(), HasSubstr("RISK_ASSESSMENT_DISALLOWS_KIND"));
  auto decisions = p_.ListDecisions(case_id);
  ASSERT_THAT(decisions, IsOk());
  ASSERT_EQ(decisions->decisions_size(), 1);
  EXPECT_EQ(decisions->decisions(0).decision().kind(), common_v1::SHUTTLE_MESSAGE);
  EXPECT_EQ(decisions->decisions(0).decision().outcome(), consent_v1::REFUSED);

  study_.Assess(case_id, "shuttle-risk-2",
                {common_v1::APPROACH_VICTIM, common_v1::SHUTTLE_MESSAGE});
  study_.Answer(case_id, "v-1", consent_v1::SHUTTLE, "shuttle-v-s");
  study_.Answer(case_id, "su-1", consent_v1::SHUTTLE, "shuttle-su-s");
  m.set_request_id("shuttle-2");
  auto carried = study_.Do(&conference_v1::ConferenceService::Stub::SendShuttleMessage, m,
                           study_.Facilitator());
  ASSERT_THAT(carried, IsOk());
  EXPECT_EQ(carried->approval().kind(), common_v1::SHUTTLE_MESSAGE);
  EXPECT_EQ(carried->approval().victim_id(), "v-1");
  EXPECT_FALSE(carried->message_id().empty());
  auto view = study_.Contact(case_id, study_.Facilitator());
  ASSERT_THAT(view, IsOk());
  ASSERT_EQ(view->messages_size(), 1);
  EXPECT_EQ(view->messages(0).text().text(), "Why my house?");

  // Closed and the victim's data erased: her words here cannot be read any
  // more (the conference service's own key for her is gone too).
  case_v1::CloseCaseRequest close;
  close.set_request_id("shuttle-close");
  close.set_case_id(case_id);
  close.set_reason(case_v1::WITHDRAWN_BY_VICTIM);
  ASSERT_THAT(
      p_.CaseCommand(&case_v1::CaseService::Stub::CloseCase, close, study_.Manager()),
      IsOk());
  case_v1::EraseParticipantRequest erase;
  erase.set_request_id("shuttle-erase");
  erase.set_case_id(case_id);
  erase.set_participant_id("v-1");
  erase.set_basis(case_v1::ERASURE_REQUEST);
  erase.set_reason("victim-request");
  ASSERT_THAT(p_.CaseCommand(&case_v1::CaseService::Stub::EraseParticipant, erase,
                             study_.Manager()),
              IsOk());
  view = study_.Contact(case_id, study_.Facilitator());
  ASSERT_THAT(view, IsOk());
  EXPECT_TRUE(view->messages(0).text().erased());
  EXPECT_EQ(view->messages(0).approval().decision_id(),
            carried->approval().decision_id());
  // And after a restart (the key stays gone).
  p_.StopConferenceService();
  p_.StartConferenceService();
  view = study_.Contact(case_id, study_.Facilitator());
  ASSERT_THAT(view, IsOk());
  EXPECT_TRUE(view->messages(0).text().erased());
}

TEST_F(ConferenceProcessTest, SigkillDuringCascadesLosesAndRepeatsNothing) {
  // Eight cases, each with a letter offered to the victim and not delivered.
  constexpr int kCases = 8;
  std::vector<std::string> cases;
  for (int i = 0; i < kCases; ++i) {
    const std::string prefix = absl::StrCat("kill-", i);
    const std::string case_id = p_.ReadyCase(prefix);
    const std::string letter_id = study_.ApprovedLetter(case_id);
    study_.Answer(case_id, "v-1", consent_v1::PARTICIPATE, prefix + "-v");
    study_.Answer(case_id, "su-1", consent_v1::PARTICIPATE, prefix + "-su");
    conference_v1::OfferLetterRequest offer;
    offer.set_request_id(prefix + "-offer");
    offer.set_case_id(case_id);
    offer.set_letter_id(letter_id);
    ASSERT_THAT(study_.Do(&conference_v1::ConferenceService::Stub::OfferLetter, offer,
                          study_.Facilitator()),
                IsOk());
    cases.push_back(case_id);
  }
  // Each case paused and resumed six times while the service is down (one
  // write each, as they are in the same stream); it is killed as soon as its
  // catch-up has written something, and again right after its next start.
  const uint64_t head = p_.ConferenceHead();
  p_.StopConferenceService();
  for (int round = 0; round < 6; ++round) {
    for (int i = 0; i < kCases; ++i) {
      case_v1::PauseCaseRequest pause;
      pause.set_request_id(absl::StrCat("kill-pause-", round, "-", i));
      pause.set_case_id(cases[i]);
      pause.set_reason("review");
      ASSERT_THAT(
          p_.CaseCommand(&case_v1::CaseService::Stub::PauseCase, pause, study_.Manager()),
          IsOk());
      case_v1::ResumeCaseRequest resume;
      resume.set_request_id(absl::StrCat("kill-resume-", round, "-", i));
      resume.set_case_id(cases[i]);
      ASSERT_THAT(p_.CaseCommand(&case_v1::CaseService::Stub::ResumeCase, resume,
                                 study_.Manager()),
                  IsOk());
    }
  }
  p_.StartConferenceService();
  const absl::Time deadline = absl::Now() + absl::Seconds(30);
  uint64_t seen = head;
  while ((seen = p_.ConferenceHead()) <= head && absl::Now() < deadline) {
  }
  p_.KillConferenceService();
  p_.StartConferenceService();
  p_.KillConferenceService();
  p_.StartConferenceService();

  for (const std::string& case_id : cases) {
    auto view =
        study_.Contact(case_id, study_.Facilitator());  // waits for the whole case log
    ASSERT_THAT(view, IsOk());
    ASSERT_EQ(view->letters_size(), 1);
    EXPECT_EQ(view->letters(0).delivery_cancelled(), conference_v1::CASE_PAUSED);
  }
  std::map<std::string, int> facts;
  int cancellations = 0;
  for (const LogEvent& e : study_.ReadLog(p_.conference_channel())) {
    if (e.envelope.event_type() == "mend.conference.v1.UpstreamFactRecorded") {
      conference_v1::UpstreamFactRecorded f;
      ASSERT_TRUE(f.ParseFromString(e.payload));
      ++facts[absl::StrCat(f.source(), "@", f.position())];
    } else if (e.envelope.event_type() == "mend.conference.v1.LetterDeliveryCancelled") {
      ++cancellations;
    }
  }
  for (const auto& [fact, n] : facts) EXPECT_EQ(n, 1) << fact;
  // Once per case: the first pause cancels; the later ones find nothing
  // pending.
  EXPECT_EQ(cancellations, kCases);
  RecordProperty("head_before", static_cast<int64_t>(head));
  RecordProperty("head_seen_at_kill", static_cast<int64_t>(seen));
  RecordProperty("head_after", static_cast<int64_t>(p_.ConferenceHead()));
}

TEST_F(ConferenceProcessTest, BadInputAndRoles) {
  const std::string case_id = p_.ReadyCase("roles");
  ASSERT_THAT(study_.Contact(case_id, study_.Facilitator()),
              IsOk());  // the case's facts are in
  const uint64_t head = p_.ConferenceHead();
  conference_v1::SubmitLetterDraftRequest draft;
  draft.set_request_id("roles-draft");
  draft.set_case_id(case_id);
  draft.set_text(std::string(20001, 'x'));
  auto too_long = study_.Do(&conference_v1::ConferenceService::Stub::SubmitLetterDraft,
                            draft, study_.Facilitator());
  ASSERT_THAT(too_long, StatusIs(absl::StatusCode::kInvalidArgument));
  EXPECT_THAT(too_long.status().message(), HasSubstr("text:"));
  draft.set_text("Sorry.");
  EXPECT_THAT(
      study_.Do(&conference_v1::ConferenceService::Stub::SubmitLetterDraft, draft, ""),
      StatusIs(absl::StatusCode::kUnauthenticated));
  EXPECT_THAT(study_.Do(&conference_v1::ConferenceService::Stub::SubmitLetterDraft, draft,
                        study_.Auditor()),
              StatusIs(absl::StatusCode::kPermissionDenied));
  EXPECT_THAT(study_.Do(&conference_v1::ConferenceService::Stub::SubmitLetterDraft, draft,
                        p_.Token(Role::kFacilitator, "facilitator-bo")),
              StatusIs(absl::StatusCode::kPermissionDenied));
  conference_v1::RecordFeedbackRequest feedback;
  feedback.set_request_id("roles-feedback");
  feedback.set_case_id(case_id);
  feedback.set_participant_id("v-1");
  feedback.set_satisfaction(9);
  auto bad = study_.Do(&conference_v1::ConferenceService::Stub::RecordFeedback, feedback,
                       study_.Facilitator());
  ASSERT_THAT(bad, StatusIs(absl::StatusCode::kInvalidArgument));
  EXPECT_THAT(bad.status().message(), HasSubstr("satisfaction:"));
  EXPECT_EQ(p_.ConferenceHead(), head) << "refusals append nothing";
  // A manager may take in a letter; the same request again is the same answer.
  auto first = study_.Do(&conference_v1::ConferenceService::Stub::SubmitLetterDraft,
                         draft, study_.Manager());
  ASSERT_THAT(first, IsOk());
  auto again = study_.Do(&conference_v1::ConferenceService::Stub::SubmitLetterDraft,
                         draft, study_.Manager());
  ASSERT_THAT(again, IsOk());
  EXPECT_TRUE(MessageDifferencer::Equals(*first, *again));
  draft.set_text("Other words under the same request id.");
  EXPECT_THAT(study_.Do(&conference_v1::ConferenceService::Stub::SubmitLetterDraft, draft,
                        study_.Manager()),
              StatusIs(absl::StatusCode::kAlreadyExists));
}

}  // namespace
}  // namespace mend
