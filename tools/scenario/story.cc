// The story's order, its helpers, and its first chapters: the referral to the
// first risk assessment.
#include "tools/scenario/story.h"

#include "absl/strings/ascii.h"
#include "absl/strings/str_join.h"
#include "absl/time/clock.h"
#include "absl/time/time.h"
#include "common/base/status_macros.h"

namespace mend::scenario {
namespace {

// The story, in the order of the case study.
struct Step {
  const char* title;
  absl::Status (CaseStory::*run)();
};

std::string DateIn(absl::Duration from_now) {
  return absl::FormatTime("%Y-%m-%d", absl::Now() + from_now, absl::UTCTimeZone());
}

}  // namespace

scheduling_v1::LocalTime LondonAt(absl::Time t) {
  static const absl::TimeZone* const london = [] {
    auto* zone = new absl::TimeZone;
    // Without the zone (no tzdata) the services refuse the bookings, naming it.
    absl::LoadTimeZone("Europe/London", zone);
    return zone;
  }();
  scheduling_v1::LocalTime out;
  out.set_date(absl::FormatTime("%Y-%m-%d", t, *london));
  out.set_time(absl::FormatTime("%H:%M", t, *london));
  out.set_time_zone("Europe/London");
  return out;
}

CaseStory::CaseStory(const Clients& clients, Timeline& timeline, std::string run_id,
                     int number)
    : clients_(clients),
      timeline_(timeline),
      run_id_(std::move(run_id)),
      manager_(clients.Manager("manager-mia")),
      ann_(clients.Facilitator(absl::StrCat("ann-", run_id_, "-", number))),
      raj_(clients.Facilitator(absl::StrCat("raj-", run_id_, "-", number))) {
  record_.number = number;
  record_.facilitator_ids = {ann_.subject(), raj_.subject()};
}

absl::Status CaseStory::Run() {
  static constexpr Step kStory[] = {
      {"a referral from probation", &CaseStory::Refer},
      {"screening", &CaseStory::FindSuitable},
      {"two facilitators allocated", &CaseStory::AllocateFacilitators},
      {"responsibility acknowledged", &CaseStory::AcknowledgeResponsibility},
      {"risk assessed", &CaseStory::AssessRisk},
      {"the programme planned", &CaseStory::PlanProgramme},
      {"the programme attended, a session missed and made up",
       &CaseStory::AttendProgramme},
      {"the apology letter drafted, changes requested, approved",
       &CaseStory::WriteLetter},
      {"the victim at first declines", &CaseStory::VictimDeclines},
      {"later she consents to receive the letter", &CaseStory::VictimConsentsToLetter},
      {"the letter offered and delivered", &CaseStory::OfferAndDeliverLetter},
      {"her response", &CaseStory::VictimResponds},
      {"face-to-face consent and the risk re-assessed", &CaseStory::ConsentToMeet},
      {"preparation meetings", &CaseStory::Prepare},
      {"the conference booked", &CaseStory::BookConference},
      {"the conference held", &CaseStory::HoldConference},
      {"the outcome agreement", &CaseStory::AgreeOutcome},
      {"feedback and follow-up", &CaseStory::FollowUp},
      {"the case closed", &CaseStory::Close},
  };
  for (const Step& step : kStory) {
    if (absl::Status s = (this->*step.run)(); !s.ok()) {
      record_.failure =
          absl::StrCat("step \"", step.title, "\": ", absl::StatusCodeToString(s.code()),
                       ": ", s.message());
      return absl::Status(s.code(), record_.failure);
    }
  }
  record_.completed = true;
  return absl::OkStatus();
}

// --- Helpers ---------------------------------------------------------------

std::string CaseStory::RequestId(absl::string_view step) const {
  return absl::StrCat(run_id_, "-", record_.number, "-", step);
}

void CaseStory::Say(absl::string_view service, absl::string_view text) {
  timeline_.Print(record_.number, service, text);
  // A stage the last case command reported follows the line about it.
  if (reported_stage_ != case_v1::STAGE_UNSPECIFIED) {
    const case_v1::Stage stage = reported_stage_;
    reported_stage_ = case_v1::STAGE_UNSPECIFIED;
    NoteStage(stage, reported_after_);
  }
}

void CaseStory::SayDecided(absl::string_view service, absl::string_view rpc,
                           absl::string_view text) {
  Say(service, absl::StrCat(rpc, " ", DecisionText(last_decision_), ": ", text));
}

void CaseStory::Record(absl::string_view service, absl::string_view rpc,
                       uint64_t position, const DecisionRecord* decision) {
  StepRecord step{.service = std::string(service),
                  .rpc = std::string(rpc),
                  .position = position,
                  .decision = std::nullopt,
                  .attempts = attempts_};
  if (decision != nullptr) step.decision = *decision;
  record_.steps.push_back(std::move(step));
  if (attempts_ > 1) {
    timeline_.Print(record_.number, service,
                    absl::StrCat(rpc, ": answered at attempt ", attempts_,
                                 " (the service was unavailable)"));
  }
  attempts_ = 1;
}

void CaseStory::NoteStage(case_v1::Stage stage, absl::string_view after) {
  if (stage == stage_ || stage == case_v1::STAGE_UNSPECIFIED) return;
  if (stage_ != case_v1::STAGE_UNSPECIFIED) {
    Say("case", absl::StrCat("stage ", case_v1::Stage_Name(stage_), " → ",
                             case_v1::Stage_Name(stage), " (after ", after, ")"));
  } else {
    Say("case", absl::StrCat("stage ", case_v1::Stage_Name(stage)));
  }
  record_.stages.push_back(
      StageRecord{.from = stage_, .to = stage, .after = std::string(after)});
  stage_ = stage;
}

absl::Status CaseStory::Named(absl::string_view rpc, const absl::Status& status) {
  return absl::Status(status.code(), absl::StrCat(rpc, ": ", status.message()));
}

common_v1::CausalToken CaseStory::ForConsent() const {
  common_v1::CausalToken t;
  t.set_case_position(token_.case_position());
  t.set_consent_position(token_.consent_position());
  return t;
}

common_v1::CausalToken CaseStory::ForScheduling() const {
  common_v1::CausalToken t = ForConsent();
  t.set_scheduling_position(token_.scheduling_position());
  return t;
}

common_v1::CausalToken CaseStory::ForCase() const {
  common_v1::CausalToken t;
  t.set_scheduling_position(token_.scheduling_position());
  t.set_conference_position(token_.conference_position());
  return t;
}

absl::StatusOr<case_v1::CaseView> CaseStory::GetCase() {
  case_v1::GetCaseRequest r;
  r.set_case_id(record_.case_id);
  *r.mutable_causal_token() = ForCase();
  absl::StatusOr<case_v1::CaseView> view = clients_.Call<case_v1::CaseView>(
      manager_, [&](grpc::ClientContext* c, case_v1::CaseView* out) {
        return clients_.cases().GetCase(c, r, out);
      });
  if (!view.ok()) return Named("GetCase", view.status());
  return view;
}

absl::Status CaseStory::AwaitStage(case_v1::Stage to, absl::string_view after) {
  MEND_ASSIGN_OR_RETURN(case_v1::CaseView view, GetCase());
  if (view.stage() != to) {
    return absl::FailedPreconditionError(absl::StrCat(
        "GetCase: the case service reports stage ", case_v1::Stage_Name(view.stage()),
        " after ", after, ", not ", case_v1::Stage_Name(to), " (the causal token named ",
        "scheduling position ", token_.scheduling_position(), " and conference position ",
        token_.conference_position(), ")"));
  }
  NoteStage(view.stage(), after);
  return absl::OkStatus();
}

absl::Status CaseStory::Assess(absl::string_view step,
                               const std::vector<common_v1::ContactKind>& kinds,
                               absl::string_view why) {
  case_v1::RecordRiskAssessmentRequest r;
  r.set_request_id(RequestId(step));
  r.set_case_id(record_.case_id);
  r.set_assessment_id(RequestId(step));
  r.set_level(case_v1::LOW);
  std::vector<std::string> names;
  for (common_v1::ContactKind k : kinds) {
    r.add_allowed_kinds(k);
    names.push_back(common_v1::ContactKind_Name(k));
  }
  r.set_review_date(DateIn(absl::Hours(24 * 90)));
  r.set_notes(
      "Stable housing; engaging; no contact with the victim outside the service.");
  MEND_RETURN_IF_ERROR(CaseCommand("RecordRiskAssessment",
                                   &case_v1::CaseService::Stub::RecordRiskAssessment, r,
                                   ann_)
                           .status());
  Say("case", absl::StrCat("RecordRiskAssessment: ", why, " (LOW; allows ",
                           absl::StrJoin(names, ", "), ")"));
  if (!sensitive_) return absl::OkStatus();
  // A sensitive case's assessment counts only once a manager approved it.
  case_v1::ApproveRiskAssessmentRequest approve;
  approve.set_request_id(RequestId(absl::StrCat(step, "-approve")));
  approve.set_case_id(record_.case_id);
  approve.set_assessment_id(r.assessment_id());
  MEND_RETURN_IF_ERROR(CaseCommand("ApproveRiskAssessment",
                                   &case_v1::CaseService::Stub::ApproveRiskAssessment,
                                   approve, manager_)
                           .status());
  Say("case", "ApproveRiskAssessment: approved by the manager (a sensitive case)");
  return absl::OkStatus();
}

absl::Status CaseStory::Answer(absl::string_view step, const std::string& participant,
                               consent_v1::ConsentScope scope,
                               consent_v1::ConsentAnswer answer,
                               bool requested_by_participant, absl::string_view text) {
  consent_v1::RecordConsentRequest r;
  r.set_request_id(RequestId(step));
  r.set_case_id(record_.case_id);
  r.set_participant_id(participant);
  r.set_scope(scope);
  r.set_answer(answer);
  r.mutable_informed()->set_leaflet_version("RJ-leaflet-2026-03");
  r.mutable_informed()->set_facilitator_present(true);
  r.mutable_informed()->set_channel(consent_v1::IN_PERSON);
  r.set_requested_by_participant(requested_by_participant);
  *r.mutable_causal_token() = ForConsent();
  absl::StatusOr<consent_v1::CommandResult> out =
      clients_.Call<consent_v1::CommandResult>(
          ann_,
          [&](grpc::ClientContext* c, consent_v1::CommandResult* o) {
            return clients_.consent().RecordConsent(c, r, o);
          },
          &attempts_);
  if (!out.ok()) return Named("RecordConsent", out.status());
  token_.set_consent_position(std::max(token_.consent_position(), out->position()));
  Record("consent", "RecordConsent", out->position());
  Say("consent", absl::StrCat("RecordConsent ", consent_v1::ConsentScope_Name(scope), " ",
                              consent_v1::ConsentAnswer_Name(answer), ": ", text));
  return absl::OkStatus();
}

// --- Referral to the first assessment ------------------------------------

absl::Status CaseStory::Refer() {
  case_v1::ReferCaseRequest r;
  r.set_request_id(RequestId("refer"));
  r.set_source(case_v1::PROBATION_OFFICER);
  r.set_referral_date(DateIn(absl::ZeroDuration()));
  r.set_offence_category(case_v1::ACQUISITIVE);
  r.set_offence_summary(
      "Robbery with assault: took her bag in the street and pushed her to the ground.");
  case_v1::NewParticipant* su = r.add_participants();
  su->set_participant_id(kServiceUser);
  su->set_role(case_v1::SERVICE_USER);
  su->mutable_details()->set_full_name("Daniel Marsh");
  su->mutable_needs()->set_mental_health_support(true);
  case_v1::NewParticipant* v = r.add_participants();
  v->set_participant_id(kVictim);
  v->set_role(case_v1::VICTIM);
  v->mutable_details()->set_full_name("Grace Adeyemi");
  MEND_ASSIGN_OR_RETURN(
      case_v1::CommandResult referred,
      CaseCommand("ReferCase", &case_v1::CaseService::Stub::ReferCase, r, manager_));
  record_.case_id = referred.case_id();
  MEND_ASSIGN_OR_RETURN(case_v1::CaseView view, GetCase());
  sensitive_ = view.sensitive();
  Say("case", absl::StrCat("ReferCase: robbery with assault referred by probation (",
                           view.reference(), ", case ", record_.case_id, ")"));
  return absl::OkStatus();
}

absl::Status CaseStory::FindSuitable() {
  case_v1::RecordSuitabilityRequest r;
  r.set_request_id(RequestId("suitable"));
  r.set_case_id(record_.case_id);
  r.set_suitable(true);
  MEND_RETURN_IF_ERROR(CaseCommand("RecordSuitability",
                                   &case_v1::CaseService::Stub::RecordSuitability, r,
                                   manager_)
                           .status());
  Say("case", "RecordSuitability: found suitable by the manager");
  return absl::OkStatus();
}

absl::Status CaseStory::AllocateFacilitators() {
  for (const Actor* f : {&ann_, &raj_}) {
    case_v1::AllocateFacilitatorRequest r;
    r.set_request_id(RequestId(absl::StrCat("allocate-", f->subject())));
    r.set_case_id(record_.case_id);
    r.set_facilitator_id(f->subject());
    MEND_RETURN_IF_ERROR(CaseCommand("AllocateFacilitator",
                                     &case_v1::CaseService::Stub::AllocateFacilitator, r,
                                     manager_)
                             .status());
    Say("case", absl::StrCat("AllocateFacilitator: ", f->subject(), " allocated"));
  }
  return absl::OkStatus();
}

absl::Status CaseStory::AcknowledgeResponsibility() {
  case_v1::RecordAcknowledgementRequest r;
  r.set_request_id(RequestId("acknowledge"));
  r.set_case_id(record_.case_id);
  r.set_acknowledged(true);
  r.set_notes("Accepts he took her bag and pushed her; says he was using at the time.");
  MEND_RETURN_IF_ERROR(CaseCommand("RecordAcknowledgement",
                                   &case_v1::CaseService::Stub::RecordAcknowledgement, r,
                                   ann_)
                           .status());
  Say("case", "RecordAcknowledgement: he acknowledges responsibility");
  return Answer("su-participate", kServiceUser, consent_v1::PARTICIPATE,
                consent_v1::GIVEN, false, "the service user agrees to take part");
}

absl::Status CaseStory::AssessRisk() {
  return Assess("risk", {common_v1::APPROACH_VICTIM, common_v1::LETTER_DELIVERY},
                "risk assessed");
}

}  // namespace mend::scenario
