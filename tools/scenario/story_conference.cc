// Face to face: consent from both and the risk re-assessed, preparation
// meetings, the conference booked and held, the outcome agreement, the
// follow-up and the closure.
#include "absl/time/clock.h"
#include "absl/time/time.h"
#include "common/base/status_macros.h"
#include "tools/scenario/story.h"

namespace mend::scenario {
namespace {

std::string DateIn(int days) {
  return absl::FormatTime("%Y-%m-%d", absl::Now() + absl::Hours(24 * days),
                          absl::UTCTimeZone());
}

}  // namespace

absl::StatusOr<conference_v1::CaseContactView> CaseStory::Contact() {
  conference_v1::GetCaseContactRequest r;
  r.set_case_id(record_.case_id);
  *r.mutable_causal_token() = ForConference();
  absl::StatusOr<conference_v1::CaseContactView> out =
      clients_.Call<conference_v1::CaseContactView>(
          ann_, [&](grpc::ClientContext* c, conference_v1::CaseContactView* o) {
            return clients_.conference().GetCaseContact(c, r, o);
          });
  if (!out.ok()) return Named("GetCaseContact", out.status());
  return out;
}

absl::Status CaseStory::ConsentToMeet() {
  MEND_RETURN_IF_ERROR(Answer("v-f2f", kVictim, consent_v1::FACE_TO_FACE,
                              consent_v1::GIVEN, true,
                              "she asks to meet him face to face"));
  MEND_RETURN_IF_ERROR(Answer("su-f2f", kServiceUser, consent_v1::FACE_TO_FACE,
                              consent_v1::GIVEN, false, "he agrees to meet her"));
  return Assess("risk-f2f",
                {common_v1::APPROACH_VICTIM, common_v1::LETTER_DELIVERY,
                 common_v1::FACE_TO_FACE_CONFERENCE},
                "risk re-assessed for a face-to-face conference");
}

absl::Status CaseStory::Prepare() {
  // Both meetings in a few minutes, half an hour each, at venues apart; the
  // conference after them, within the hour in which it may be started.
  const absl::Time meetings = absl::Now() + absl::Minutes(2);
  conference_start_ = meetings + absl::Minutes(45);
  struct Meeting {
    const char* participant;
    Actor* facilitator;
    const char* venue;
  };
  for (const Meeting& m : {Meeting{kVictim, &ann_, "victim-support-hub"},
                           Meeting{kServiceUser, &raj_, "probation-office-3"}}) {
    scheduling_v1::BookPreparationMeetingRequest r;
    r.set_request_id(RequestId(absl::StrCat("prep-", m.participant)));
    r.set_case_id(record_.case_id);
    r.set_participant_id(m.participant);
    r.set_facilitator_id(m.facilitator->subject());
    *r.mutable_start() = LondonAt(meetings);
    r.set_duration_minutes(30);
    r.set_venue(m.venue);
    MEND_ASSIGN_OR_RETURN(
        scheduling_v1::CommandResult booked,
        SchedulingCommand("BookPreparationMeeting",
                          &scheduling_v1::SchedulingService::Stub::BookPreparationMeeting,
                          r, *m.facilitator));
    if (booked.booking_ids().empty()) {
      return absl::InternalError("BookPreparationMeeting: the answer names no booking");
    }
    preparation_booking_ids_.push_back(booked.booking_ids(0));
    const std::string with =
        absl::StrCat(m.participant == std::string(kVictim) ? "a meeting with her, "
                                                           : "a meeting with him, ",
                     m.facilitator->subject(), ", ", m.venue);
    if (booked.has_approval()) {
      SayDecided("scheduling", "BookPreparationMeeting", with);
    } else {
      Say("scheduling", absl::StrCat("BookPreparationMeeting: ", with));
    }
  }

  conference_v1::RecordPreparationRequest hers;
  hers.set_request_id(RequestId("prepared-v"));
  hers.set_case_id(record_.case_id);
  hers.set_booking_id(preparation_booking_ids_[0]);
  hers.set_expectations_discussed(true);
  hers.set_support_needs("Wants to ask him why her; would like to leave first.");
  hers.set_ready(true);
  MEND_RETURN_IF_ERROR(
      ConferenceCommand("RecordPreparation",
                        &conference_v1::ConferenceService::Stub::RecordPreparation, hers,
                        ann_)
          .status());
  Say("conference", "RecordPreparation: her expectations discussed; she is ready");

  conference_v1::RecordPreparationRequest his;
  his.set_request_id(RequestId("prepared-su"));
  his.set_case_id(record_.case_id);
  his.set_booking_id(preparation_booking_ids_[1]);
  his.set_expectations_discussed(true);
  his.set_support_needs("Anxious in groups; his mental-health worker will be on call.");
  his.set_mental_health_support(true);
  his.set_ready(true);
  MEND_RETURN_IF_ERROR(
      ConferenceCommand("RecordPreparation",
                        &conference_v1::ConferenceService::Stub::RecordPreparation, his,
                        raj_)
          .status());
  Say("conference", "RecordPreparation: his mental-health support arranged; he is ready");
  return absl::OkStatus();
}

absl::Status CaseStory::BookConference() {
  scheduling_v1::BookConferenceRequest r;
  r.set_request_id(RequestId("conference"));
  r.set_case_id(record_.case_id);
  r.set_format(scheduling_v1::IN_PERSON);
  *r.mutable_start() = LondonAt(conference_start_);
  r.set_duration_minutes(120);
  r.set_venue("community-centre-2");
  r.add_participant_ids(kServiceUser);
  r.add_participant_ids(kVictim);
  r.add_facilitator_ids(ann_.subject());
  r.add_facilitator_ids(raj_.subject());
  MEND_ASSIGN_OR_RETURN(
      scheduling_v1::CommandResult booked,
      SchedulingCommand("BookConference",
                        &scheduling_v1::SchedulingService::Stub::BookConference, r,
                        ann_));
  if (booked.booking_ids().empty()) {
    return absl::InternalError("BookConference: the answer names no booking");
  }
  conference_booking_id_ = booked.booking_ids(0);
  SayDecided("scheduling", "BookConference",
             absl::StrCat("face to face at community-centre-2, ", r.start().time(),
                          ", with both facilitators"));
  return AwaitStage(case_v1::CONFERENCE_SCHEDULED, "ConferenceBooked");
}

absl::Status CaseStory::HoldConference() {
  conference_v1::StartConferenceRequest start;
  start.set_request_id(RequestId("start"));
  start.set_case_id(record_.case_id);
  start.set_booking_id(conference_booking_id_);
  MEND_RETURN_IF_ERROR(
      ConferenceCommand("StartConference",
                        &conference_v1::ConferenceService::Stub::StartConference, start,
                        ann_)
          .status());
  SayDecided("conference", "StartConference", "they meet");

  conference_v1::RecordConferenceHeldRequest held;
  held.set_request_id(RequestId("held"));
  held.set_case_id(record_.case_id);
  held.set_booking_id(conference_booking_id_);
  held.add_attendee_ids(kServiceUser);
  held.add_attendee_ids(kVictim);
  held.set_outline(
      "She asked why him and why her; he said he had followed her from the bus stop. He "
      "apologised in person.");
  held.set_apology_made(true);
  MEND_RETURN_IF_ERROR(
      ConferenceCommand("RecordConferenceHeld",
                        &conference_v1::ConferenceService::Stub::RecordConferenceHeld,
                        held, ann_)
          .status());
  Say("conference", "RecordConferenceHeld: held; he apologised to her in person");
  return AwaitStage(case_v1::CONFERENCE_HELD, "ConferenceHeld");
}

absl::Status CaseStory::AgreeOutcome() {
  conference_v1::RecordOutcomeAgreementRequest r;
  r.set_request_id(RequestId("agreement"));
  r.set_case_id(record_.case_id);
  conference_v1::NewAgreementItem* letter = r.add_items();
  letter->set_what("Write to the victim-support charity about what he has learned.");
  letter->set_owner_id(kServiceUser);
  letter->set_due_date(DateIn(30));
  conference_v1::NewAgreementItem* work = r.add_items();
  work->set_what("Ten hours of unpaid work at the charity's shop.");
  work->set_owner_id(kServiceUser);
  work->set_due_date(DateIn(60));
  for (const char* party : {kServiceUser, kVictim}) {
    conference_v1::PartyConsent* consent = r.add_consents();
    consent->set_participant_id(party);
    consent->set_consented(true);
  }
  MEND_RETURN_IF_ERROR(
      ConferenceCommand("RecordOutcomeAgreement",
                        &conference_v1::ConferenceService::Stub::RecordOutcomeAgreement,
                        r, ann_)
          .status());
  Say("conference", "RecordOutcomeAgreement: two items for him; both consent");

  MEND_ASSIGN_OR_RETURN(conference_v1::CaseContactView view, Contact());
  bool completed = false;
  for (const conference_v1::AgreementItemView& item : view.agreement().items()) {
    conference_v1::CompleteItemRequest done;
    done.set_request_id(RequestId(absl::StrCat("item-", item.item_id())));
    done.set_case_id(record_.case_id);
    done.set_item_id(item.item_id());
    MEND_ASSIGN_OR_RETURN(
        conference_v1::CommandResult result,
        ConferenceCommand("CompleteItem",
                          &conference_v1::ConferenceService::Stub::CompleteItem, done,
                          ann_));
    completed = result.agreement_completed();
    Say("conference", absl::StrCat("CompleteItem: item done (due ", item.due_date(), ")",
                                   completed ? "; the agreement is complete" : ""));
  }
  if (!completed) {
    return absl::FailedPreconditionError(
        "CompleteItem: every item done, but the agreement is not complete");
  }

  conference_v1::InformVictimRequest inform;
  inform.set_request_id(RequestId("inform"));
  inform.set_case_id(record_.case_id);
  MEND_RETURN_IF_ERROR(
      ConferenceCommand("InformVictim",
                        &conference_v1::ConferenceService::Stub::InformVictim, inform,
                        ann_)
          .status());
  SayDecided("conference", "InformVictim", "she is told the agreement is complete");
  return absl::OkStatus();
}

absl::Status CaseStory::FollowUp() {
  struct Feedback {
    const char* participant;
    int satisfaction;
    const char* comments;
    Actor* by;
  };
  for (const Feedback& f :
       {Feedback{kVictim, 4, "He listened. I am not afraid to go out any more.", &ann_},
        Feedback{kServiceUser, 5, "Meeting her was the hardest thing I have done.",
                 &raj_}}) {
    conference_v1::RecordFeedbackRequest r;
    r.set_request_id(RequestId(absl::StrCat("feedback-", f.participant)));
    r.set_case_id(record_.case_id);
    r.set_participant_id(f.participant);
    r.set_satisfaction(f.satisfaction);
    r.set_comments(f.comments);
    r.set_would_recommend(true);
    MEND_RETURN_IF_ERROR(
        ConferenceCommand("RecordFeedback",
                          &conference_v1::ConferenceService::Stub::RecordFeedback, r,
                          *f.by)
            .status());
    Say("conference", absl::StrCat("RecordFeedback: ",
                                   f.participant == std::string(kVictim) ? "hers" : "his",
                                   ", ", f.satisfaction, " of 5, would recommend it"));
  }
  conference_v1::CompleteFollowUpRequest done;
  done.set_request_id(RequestId("follow-up"));
  done.set_case_id(record_.case_id);
  MEND_RETURN_IF_ERROR(
      ConferenceCommand("CompleteFollowUp",
                        &conference_v1::ConferenceService::Stub::CompleteFollowUp, done,
                        ann_)
          .status());
  Say("conference", "CompleteFollowUp: follow-up done");
  // No contact follows: the closure needs no risk review.
  return AwaitStage(case_v1::FOLLOW_UP, "FollowUpCompleted");
}

absl::Status CaseStory::Close() {
  case_v1::CloseCaseRequest r;
  r.set_request_id(RequestId("close"));
  r.set_case_id(record_.case_id);
  r.set_reason(case_v1::COMPLETED);
  *r.mutable_causal_token() = ForCase();
  MEND_RETURN_IF_ERROR(
      CaseCommand("CloseCase", &case_v1::CaseService::Stub::CloseCase, r, manager_)
          .status());
  Say("case", "CloseCase: closed as COMPLETED by the manager");
  MEND_ASSIGN_OR_RETURN(case_v1::CaseView view, GetCase());
  if (view.stage() != case_v1::CLOSED || view.closure_reason() != case_v1::COMPLETED) {
    return absl::FailedPreconditionError(absl::StrCat(
        "GetCase: after CloseCase the case is in ", case_v1::Stage_Name(view.stage()),
        " (closure reason ", case_v1::ClosureReason_Name(view.closure_reason()), ")"));
  }
  return absl::OkStatus();
}

}  // namespace mend::scenario
