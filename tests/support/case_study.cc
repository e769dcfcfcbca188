#include "tests/support/case_study.h"

#include <utility>

#include "absl/strings/str_cat.h"
#include "absl/time/clock.h"

namespace mend::testing {

scheduling_v1::LocalTime LondonAt(absl::Time t) {
  absl::TimeZone london;
  EXPECT_TRUE(absl::LoadTimeZone("Europe/London", &london));
  scheduling_v1::LocalTime out;
  out.set_date(absl::FormatTime("%Y-%m-%d", t, london));
  out.set_time(absl::FormatTime("%H:%M", t, london));
  out.set_time_zone("Europe/London");
  return out;
}

CaseStudy::CaseStudy(ServiceProcesses& p, std::string facilitator_id)
    : p_(p), facilitator_id_(std::move(facilitator_id)) {}

std::string CaseStudy::Facilitator() {
  return p_.Token(Role::kFacilitator, facilitator_id_);
}
std::string CaseStudy::Manager() {
  return p_.Token(Role::kManager, ServiceProcesses::kManager);
}
std::string CaseStudy::Auditor() { return p_.Token(Role::kAuditor, "auditor-al"); }

common_v1::CausalToken CaseStudy::Without(bool scheduling, bool conference) {
  common_v1::CausalToken t = token();
  if (!scheduling) t.clear_scheduling_position();
  if (!conference) t.clear_conference_position();
  return t;
}

uint64_t CaseStudy::Answer(const std::string& case_id, const std::string& participant,
                           consent_v1::ConsentScope scope, const std::string& request_id,
                           consent_v1::ConsentAnswer answer,
                           consent_v1::InformedChannel channel) {
  consent_v1::RecordConsentRequest r;
  r.set_request_id(request_id);
  r.set_case_id(case_id);
  r.set_participant_id(participant);
  r.set_scope(scope);
  r.set_answer(answer);
  r.mutable_informed()->set_leaflet_version("RJ-leaflet-2026-03");
  r.mutable_informed()->set_channel(channel);
  *r.mutable_causal_token() = Without(false, false);
  absl::StatusOr<consent_v1::CommandResult> out = Call<consent_v1::CommandResult>(
      Facilitator(), [&](grpc::ClientContext* c, consent_v1::CommandResult* o) {
        return p_.consent_stub().RecordConsent(c, r, o);
      });
  EXPECT_THAT(out, IsOk()) << "recording " << request_id;
  if (!out.ok()) return 0;
  token().set_consent_position(std::max(token().consent_position(), out->position()));
  return out->position();
}

uint64_t CaseStudy::Withdraw(const std::string& case_id, const std::string& participant,
                             consent_v1::ConsentScope scope,
                             const std::string& request_id,
                             consent_v1::InformedChannel channel) {
  consent_v1::WithdrawConsentRequest r;
  r.set_request_id(request_id);
  r.set_case_id(case_id);
  r.set_participant_id(participant);
  r.set_scope(scope);
  r.mutable_informed()->set_channel(channel);
  *r.mutable_causal_token() = Without(false, false);
  absl::StatusOr<consent_v1::CommandResult> out = Call<consent_v1::CommandResult>(
      Facilitator(), [&](grpc::ClientContext* c, consent_v1::CommandResult* o) {
        return p_.consent_stub().WithdrawConsent(c, r, o);
      });
  EXPECT_THAT(out, IsOk()) << "withdrawing " << request_id;
  if (!out.ok()) return 0;
  token().set_consent_position(std::max(token().consent_position(), out->position()));
  return out->position();
}

absl::StatusOr<conference_v1::CaseContactView> CaseStudy::Contact(
    const std::string& case_id, const std::string& who) {
  conference_v1::GetCaseContactRequest r;
  r.set_case_id(case_id);
  *r.mutable_causal_token() = Without(true, true);
  return Call<conference_v1::CaseContactView>(
      who, [&](grpc::ClientContext* c, conference_v1::CaseContactView* o) {
        return p_.conference_stub().GetCaseContact(c, r, o);
      });
}

std::vector<LogEvent> CaseStudy::ReadLog(const std::shared_ptr<grpc::Channel>& channel) {
  std::unique_ptr<eventlog_v1::EventLog::Stub> stub =
      eventlog_v1::EventLog::NewStub(channel);
  const std::string auditor = Auditor();
  std::vector<LogEvent> out;
  // The head of the first page: events appended while the pages are read
  // are left for the next read, so a log that keeps growing still ends.
  uint64_t head = 0;
  int64_t from = 1;
  for (bool first = true;; first = false) {
    eventlog_v1::ReadRequest r;
    r.set_from_position(from);
    r.set_max_count(1000);
    absl::StatusOr<eventlog_v1::ReadResponse> page = Call<eventlog_v1::ReadResponse>(
        auditor, [&](grpc::ClientContext* c, eventlog_v1::ReadResponse* o) {
          return stub->Read(c, r, o);
        });
    EXPECT_THAT(page, IsOk()) << "reading the log from position " << from;
    if (!page.ok()) return out;
    if (first) head = page->head_position();
    for (const eventlog_v1::RecordedEvent& e : page->events()) {
      if (e.position() > head) return out;
      eventlog_v1::StoredRecord record;
      EXPECT_TRUE(record.ParseFromString(e.record()))
          << "the record at position " << e.position() << " does not parse";
      out.push_back(LogEvent{.position = e.position(),
                             .envelope = record.envelope(),
                             .payload = record.payload()});
    }
    if (page->events().empty() || page->events().rbegin()->position() >= head) {
      return out;
    }
    from = static_cast<int64_t>(page->events().rbegin()->position()) + 1;
  }
}

std::string CaseStudy::ApprovedLetter(const std::string& case_id) {
  conference_v1::SubmitLetterDraftRequest draft;
  draft.set_request_id(case_id + "-draft-1");
  draft.set_case_id(case_id);
  draft.set_text("I am sorry for what happened. It has been hard for me too.");
  absl::StatusOr<conference_v1::CommandResult> v1 = Do(
      &conference_v1::ConferenceService::Stub::SubmitLetterDraft, draft, Facilitator());
  EXPECT_THAT(v1, IsOk());
  if (!v1.ok()) return "";
  EXPECT_EQ(v1->letter_version(), 1);
  conference_v1::ReviewLetterRequest review;
  review.set_request_id(case_id + "-review-1");
  review.set_case_id(case_id);
  review.set_letter_id(v1->letter_id());
  review.set_version(1);
  review.set_verdict(conference_v1::CHANGES_REQUESTED);
  review.set_notes("Speak about the harm to her, not about yourself.");
  EXPECT_THAT(
      Do(&conference_v1::ConferenceService::Stub::ReviewLetter, review, Facilitator()),
      IsOk());
  draft.set_request_id(case_id + "-draft-2");
  draft.set_letter_id(v1->letter_id());
  draft.set_text("I am sorry I hurt you and took what was yours.");
  absl::StatusOr<conference_v1::CommandResult> v2 = Do(
      &conference_v1::ConferenceService::Stub::SubmitLetterDraft, draft, Facilitator());
  EXPECT_THAT(v2, IsOk());
  if (v2.ok()) {
    EXPECT_EQ(v2->letter_version(), 2);
  }
  review.set_request_id(case_id + "-review-2");
  review.set_version(2);
  review.set_verdict(conference_v1::APPROVED_FOR_OFFER);
  review.clear_notes();
  EXPECT_THAT(
      Do(&conference_v1::ConferenceService::Stub::ReviewLetter, review, Facilitator()),
      IsOk());
  return v1->letter_id();
}

uint64_t CaseStudy::Assess(const std::string& case_id, const std::string& request_id,
                           const std::vector<common_v1::ContactKind>& kinds) {
  case_v1::RecordRiskAssessmentRequest risk;
  risk.set_request_id(request_id);
  risk.set_case_id(case_id);
  risk.set_level(case_v1::LOW);
  for (common_v1::ContactKind k : kinds) risk.add_allowed_kinds(k);
  risk.set_review_date(absl::FormatTime("%Y-%m-%d", absl::Now() + absl::Hours(24 * 90),
                                        absl::UTCTimeZone()));
  absl::StatusOr<case_v1::CommandResult> out = p_.CaseCommand(
      &case_v1::CaseService::Stub::RecordRiskAssessment, risk, Facilitator());
  EXPECT_THAT(out, IsOk()) << "assessing " << request_id;
  return out.ok() ? out->position() : 0;
}

std::string CaseStudy::FaceToFaceCase(const std::string& prefix,
                                      const std::vector<common_v1::ContactKind>& kinds) {
  const std::string case_id = p_.ReadyCase(prefix);
  Assess(case_id, prefix + "-risk-f2f", kinds);
  return case_id;
}

void CaseStudy::ConsentToFaceToFace(const std::string& case_id,
                                    const std::string& prefix) {
  for (const char* who : {"v-1", "su-1"}) {
    Answer(case_id, who, consent_v1::PARTICIPATE, absl::StrCat(prefix, "-", who, "-p"));
    Answer(case_id, who, consent_v1::FACE_TO_FACE,
           absl::StrCat(prefix, "-", who, "-f2f"));
  }
}

CaseStudy::Booked CaseStudy::BookConferenceFor(const std::string& case_id,
                                               const std::string& prefix) {
  Booked out;
  int day = 2;
  for (const char* who : {"v-1", "su-1"}) {
    scheduling_v1::BookPreparationMeetingRequest m;
    m.set_request_id(absl::StrCat(prefix, "-prep-", who));
    m.set_case_id(case_id);
    m.set_participant_id(who);
    m.set_facilitator_id(facilitator_id_);
    *m.mutable_start() = LondonAt(absl::Now() + absl::Hours(24 * day++));
    m.set_duration_minutes(60);
    m.set_venue(absl::StrCat("room-", who));
    absl::StatusOr<scheduling_v1::CommandResult> booked =
        Book(&scheduling_v1::SchedulingService::Stub::BookPreparationMeeting, m,
             Facilitator());
    EXPECT_THAT(booked, IsOk()) << "booking the meeting with " << who;
    if (booked.ok()) out.meetings.push_back(booked->booking_ids(0));
  }
  scheduling_v1::BookConferenceRequest c;
  c.set_request_id(prefix + "-conference");
  c.set_case_id(case_id);
  c.set_format(scheduling_v1::IN_PERSON);
  *c.mutable_start() = LondonAt(absl::Now() + absl::Minutes(40));
  c.set_duration_minutes(120);
  c.set_venue("community-centre-2");
  c.add_participant_ids("su-1");
  c.add_participant_ids("v-1");
  c.add_facilitator_ids(facilitator_id_);
  absl::StatusOr<scheduling_v1::CommandResult> conference =
      Book(&scheduling_v1::SchedulingService::Stub::BookConference, c, Facilitator());
  EXPECT_THAT(conference, IsOk()) << "booking the conference";
  if (conference.ok()) out.conference = conference->booking_ids(0);
  return out;
}

void CaseStudy::Prepare(const std::string& case_id, const Booked& booked,
                        const std::string& prefix) {
  for (size_t i = 0; i < booked.meetings.size(); ++i) {
    conference_v1::RecordPreparationRequest prep;
    prep.set_request_id(absl::StrCat(prefix, "-prep-done-", i));
    prep.set_case_id(case_id);
    prep.set_booking_id(booked.meetings[i]);
    prep.set_expectations_discussed(true);
    if (i == 1) {
      prep.set_support_needs("Anxious in groups; his key worker will be on call.");
      prep.set_mental_health_support(true);
    }
    prep.set_ready(true);
    EXPECT_THAT(Do(&conference_v1::ConferenceService::Stub::RecordPreparation, prep,
                   Facilitator()),
                IsOk())
        << "recording the preparation " << booked.meetings[i];
  }
}

absl::StatusOr<conference_v1::CommandResult> CaseStudy::Start(
    const std::string& case_id, const std::string& booking_id,
    const std::string& request_id) {
  conference_v1::StartConferenceRequest start;
  start.set_request_id(request_id);
  start.set_case_id(case_id);
  start.set_booking_id(booking_id);
  return Do(&conference_v1::ConferenceService::Stub::StartConference, start,
            Facilitator());
}

void CaseStudy::HoldAndFollowUp(const std::string& case_id, const std::string& booking_id,
                                const std::string& prefix) {
  conference_v1::RecordConferenceHeldRequest held;
  held.set_request_id(prefix + "-held");
  held.set_case_id(case_id);
  held.set_booking_id(booking_id);
  held.add_attendee_ids("su-1");
  held.add_attendee_ids("v-1");
  held.set_outline("He apologised in person; she asked why him and why her.");
  held.set_apology_made(true);
  EXPECT_THAT(Do(&conference_v1::ConferenceService::Stub::RecordConferenceHeld, held,
                 Facilitator()),
              IsOk());

  conference_v1::RecordOutcomeAgreementRequest agreement;
  agreement.set_request_id(prefix + "-agreement");
  agreement.set_case_id(case_id);
  auto* item = agreement.add_items();
  item->set_what("Write to the victim support charity about what he learned.");
  item->set_owner_id("su-1");
  item->set_due_date(absl::FormatTime("%Y-%m-%d", absl::Now() + absl::Hours(24 * 30),
                                      absl::UTCTimeZone()));
  for (const char* who : {"su-1", "v-1"}) {
    auto* consent = agreement.add_consents();
    consent->set_participant_id(who);
    consent->set_consented(true);
  }
  EXPECT_THAT(Do(&conference_v1::ConferenceService::Stub::RecordOutcomeAgreement,
                 agreement, Facilitator()),
              IsOk());
  absl::StatusOr<conference_v1::CaseContactView> view = Contact(case_id, Facilitator());
  EXPECT_THAT(view, IsOk());
  if (!view.ok() || view->agreement().items_size() != 1) {
    ADD_FAILURE() << "no agreement item to complete";
    return;
  }
  conference_v1::CompleteItemRequest complete;
  complete.set_request_id(prefix + "-complete");
  complete.set_case_id(case_id);
  complete.set_item_id(view->agreement().items(0).item_id());
  EXPECT_THAT(
      Do(&conference_v1::ConferenceService::Stub::CompleteItem, complete, Facilitator()),
      IsOk());
  conference_v1::InformVictimRequest inform;
  inform.set_request_id(prefix + "-inform");
  inform.set_case_id(case_id);
  EXPECT_THAT(
      Do(&conference_v1::ConferenceService::Stub::InformVictim, inform, Facilitator()),
      IsOk());
  for (const char* who : {"su-1", "v-1"}) {
    conference_v1::RecordFeedbackRequest feedback;
    feedback.set_request_id(absl::StrCat(prefix, "-feedback-", who));
    feedback.set_case_id(case_id);
    feedback.set_participant_id(who);
    feedback.set_satisfaction(5);
    feedback.set_comments("It helped.");
    feedback.set_would_recommend(true);
    EXPECT_THAT(Do(&conference_v1::ConferenceService::Stub::RecordFeedback, feedback,
                   Facilitator()),
                IsOk());
  }
  conference_v1::CompleteFollowUpRequest follow_up;
  follow_up.set_request_id(prefix + "-follow-up");
  follow_up.set_case_id(case_id);
  EXPECT_THAT(Do(&conference_v1::ConferenceService::Stub::CompleteFollowUp, follow_up,
                 Facilitator()),
              IsOk());
}

absl::StatusOr<case_v1::CaseView> CaseStudy::Case(const std::string& case_id) {
  case_v1::GetCaseRequest r;
  r.set_case_id(case_id);
  *r.mutable_causal_token() = token();
  return Call<case_v1::CaseView>(Facilitator(),
                                 [&](grpc::ClientContext* c, case_v1::CaseView* out) {
                                   return p_.case_stub().GetCase(c, r, out);
                                 });
}

void CaseStudy::Settle(const std::string& case_id) {
  EXPECT_THAT(Case(case_id), IsOk());
  token().set_case_position(p_.CaseHead());
  p_.WaitConsentCaughtUp(case_id);
  token().set_consent_position(p_.ConsentHead());
}

}  // namespace mend::testing
