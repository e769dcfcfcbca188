#include "tools/audit/replay_json.h"

#include <cstdint>
#include <limits>
#include <string>
#include <string_view>
#include <utility>

#include "absl/strings/str_cat.h"
#include "common/base/role.h"
#include "services/case/case_view.h"
#include "services/conference/conference_view.h"
#include "services/consent/consent_view.h"
#include "services/scheduling/schedule_view.h"
#include "tools/audit/event_json.h"

namespace mend::audit {
namespace {

using Json = nlohmann::ordered_json;
namespace case_v1 = ::mend::case_::v1;
namespace common_v1 = ::mend::common::v1;

Json ToJson(const google::protobuf::Message& message) {
  return Json::parse(MessageToJson(message));
}

// Where sealed values are, for the "sealed" list.
class SealedList {
 public:
  explicit SealedList(std::string case_id) : case_id_(std::move(case_id)) {}

  void Add(std::string in, std::string_view field, const common_v1::Sealed& sealed,
           bool person_erased) {
    if (sealed.ciphertext().empty()) return;  // not given
    Json entry;
    entry["in"] = std::move(in);
    entry["field"] = std::string(field);
    entry["person_id"] = sealed.person_id();
    entry["key_id"] = casesvc::PersonKeyId(case_id_, sealed.person_id());
    entry["ciphertext_bytes"] = sealed.ciphertext().size();
    entry["person_erased"] = person_erased;
    list_.push_back(std::move(entry));
  }
  Json Take() { return std::move(list_); }

 private:
  const std::string case_id_;
  Json list_ = Json::array();
};

}  // namespace

absl::StatusOr<Json> CaseJson(const casesvc::CaseState& state) {
  // As GetCase answers an auditor: personal data redacted, so the unseal
  // callback is never called (case_view.h).
  const Caller auditor{.subject = "mend-audit", .role = Role::kAuditor};
  absl::StatusOr<case_v1::CaseView> view =
      casesvc::BuildCaseView(state, auditor,
                             [](std::string_view, const common_v1::Sealed&,
                                std::string_view) -> absl::StatusOr<std::string> {
                               return absl::InternalError("replay never unseals");
                             });
  if (!view.ok()) return view.status();

  SealedList sealed(state.case_id);
  auto erased = [&state](const std::string& person_id) {
    const casesvc::ParticipantState* p = state.FindParticipant(person_id);
    return p != nullptr && p->erased;
  };
  sealed.Add("offence_summary", casesvc::kSealedOffenceSummary, state.offence_summary,
             erased(state.offence_summary.person_id()));
  for (const casesvc::ParticipantState& p : state.participants) {
    sealed.Add(absl::StrCat("participants[", p.participant_id, "].details"),
               casesvc::kSealedParticipantDetails, p.details, p.erased);
    sealed.Add(absl::StrCat("participants[", p.participant_id, "].needs"),
               casesvc::kSealedParticipantNeeds, p.needs, p.erased);
  }
  sealed.Add("acknowledgement_notes", casesvc::kSealedAcknowledgementNotes,
             state.acknowledgement_notes,
             erased(state.acknowledgement_notes.person_id()));
  for (const casesvc::RiskAssessmentState& ra : state.risk_assessments) {
    sealed.Add(absl::StrCat("risk_assessments[", ra.assessment_id, "].notes"),
               casesvc::kSealedRiskAssessmentNotes, ra.notes,
               erased(ra.notes.person_id()));
  }
  Json out;
  out["case_id"] = state.case_id;
  out["view"] = ToJson(*view);
  out["sealed"] = sealed.Take();
  return out;
}

Json ConsentJson(const consentsvc::CaseFacts& facts) {
  Json out;
  out["case_id"] = facts.case_id;
  out["consents"] = ToJson(consentsvc::ConsentsView(facts));
  // Every decision, one page.
  out["decisions"] = ToJson(consentsvc::DecisionsPage(
      facts, /*after=*/0, /*page_size=*/std::numeric_limits<int32_t>::max()));
  return out;
}

Json ScheduleJson(const schedulingsvc::ScheduleState& state) {
  Json out;
  out["case_id"] = state.case_id;
  out["schedule"] = ToJson(schedulingsvc::ScheduleView(state));
  return out;
}

Json ConferenceJson(const conferencesvc::ConferenceState& s) {
  SealedList sealed(s.case_id);
  auto erased = [&s](const std::string& person_id) {
    const conferencesvc::ParticipantFacts* p = s.FindParticipant(person_id);
    return p != nullptr && p->erased;
  };
  auto add = [&](std::string in, std::string_view field, const common_v1::Sealed& v) {
    sealed.Add(std::move(in), field, v, erased(v.person_id()));
  };
  for (const std::string& id : s.letter_order) {
    const conferencesvc::LetterFacts& l = s.letters.at(id);
    for (const conferencesvc::LetterVersionFacts& lv : l.versions) {
      const std::string at = absl::StrCat("letters[", id, "].versions[", lv.version, "]");
      add(at + ".text", conferencesvc::kSealedLetterText, lv.text);
      add(at + ".review_notes", conferencesvc::kSealedLetterReviewNotes, lv.review_notes);
    }
    add(absl::StrCat("letters[", id, "].response"), conferencesvc::kSealedLetterResponse,
        l.response);
  }
  for (const conferencesvc::MessageFacts& m : s.messages) {
    add(absl::StrCat("messages[", m.message_id, "].text"),
        conferencesvc::kSealedShuttleText, m.text);
  }
  for (const auto& [id, p] : s.preparations) {
    add(absl::StrCat("preparations[", id, "].support_needs"),
        conferencesvc::kSealedPreparationSupportNeeds, p.support_needs);
  }
  for (const auto& [id, c] : s.conferences) {
    add(absl::StrCat("conferences[", id, "].outline"),
        conferencesvc::kSealedConferenceOutline, c.outline);
  }
  if (s.agreement.has_value()) {
    for (const conferencesvc::AgreementItemFacts& item : s.agreement->items) {
      add(absl::StrCat("agreement.items[", item.item_id, "].what"),
          conferencesvc::kSealedAgreementItem, item.what);
    }
  }
  for (const auto& [id, f] : s.feedback) {
    add(absl::StrCat("feedback[", id, "].comments"),
        conferencesvc::kSealedFeedbackComments, f.comments);
  }
  Json out;
  out["case_id"] = s.case_id;
  // As GetCaseContact answers an auditor: the words withheld, never unsealed.
  out["contact"] = ToJson(conferencesvc::ContactView(s, conferencesvc::Withhold));
  out["sealed"] = sealed.Take();
  return out;
}

}  // namespace mend::audit
