// Consent's fold of case events (case_projection.h). One Fold per event type;
// each checks fit before it changes anything, so a refused event leaves the
// projection as it was.
#include "services/consent/case_projection.h"

#include <algorithm>
#include <climits>
#include <type_traits>
#include <utility>

#include "absl/strings/str_cat.h"

namespace mend::consentsvc {
namespace {

template <typename T>
const std::string& TypeNameOf() {
  return T::descriptor()->full_name();
}

template <size_t I = 0>
absl::StatusOr<CaseEvent> ParseAlternative(std::string_view type,
                                           std::string_view payload, uint64_t position) {
  if constexpr (I == std::variant_size_v<CaseEvent>) {
    return absl::DataLossError(absl::StrCat("event at case-log position ", position,
                                            " has type \"", std::string(type),
                                            "\", which is not a mend.case.v1 event"));
  } else {
    using T = std::variant_alternative_t<I, CaseEvent>;
    if (TypeNameOf<T>() != type) return ParseAlternative<I + 1>(type, payload, position);
    T message;
    if (payload.size() > static_cast<size_t>(INT_MAX) ||
        !message.ParseFromArray(payload.data(), static_cast<int>(payload.size()))) {
      return absl::DataLossError(absl::StrCat("event at case-log position ", position,
                                              " (", TypeNameOf<T>(),
                                              "): payload does not parse"));
    }
    return CaseEvent(std::in_place_index<I>, std::move(message));
  }
}

ObservedParticipant FromProto(const case_v1::Participant& p, uint64_t position) {
  ObservedParticipant s;
  s.participant_id = p.participant_id();
  s.role = p.role();
  s.supports_participant_id = p.supports_participant_id();
  s.added_position = position;
  return s;
}

void AddLink(ObservedParticipant& p, LinkedPerson other) {
  if (std::find(p.linked.begin(), p.linked.end(), other) == p.linked.end()) {
    p.linked.push_back(std::move(other));
  }
}

class Folder {
 public:
  Folder(ObservedCase& c, const CaseEvent& event, uint64_t position)
      : c_(c), event_(event), position_(position) {}

  absl::Status operator()(const case_v1::CaseReferred& e) {
    if (c_.exists()) return Misfit("the case already exists");
    std::vector<ObservedParticipant> participants;
    for (const case_v1::Participant& p : e.participants()) {
      for (const ObservedParticipant& seen : participants) {
        if (seen.participant_id == p.participant_id()) {
          return Misfit(
              absl::StrCat("participant \"", p.participant_id(), "\" is named twice"));
        }
      }
      participants.push_back(FromProto(p, position_));
    }
    c_.case_id = e.case_id();
    c_.offence_category = e.offence_category();
    c_.sensitive = e.sensitive();
    c_.participants = std::move(participants);
    return absl::OkStatus();
  }

  absl::Status operator()(const case_v1::ParticipantAdded& e) {
    if (c_.FindParticipant(e.participant().participant_id()) != nullptr) {
      return Misfit(absl::StrCat("participant \"", e.participant().participant_id(),
                                 "\" already exists"));
    }
    c_.participants.push_back(FromProto(e.participant(), position_));
    return absl::OkStatus();
  }

  absl::Status operator()(const case_v1::FacilitatorAllocated& e) {
    if (c_.IsAllocated(e.facilitator_id())) {
      return Misfit(
          absl::StrCat("facilitator \"", e.facilitator_id(), "\" is already allocated"));
    }
    c_.facilitator_ids.push_back(e.facilitator_id());
    return absl::OkStatus();
  }

  absl::Status operator()(const case_v1::FacilitatorReleased& e) {
    auto it = std::find(c_.facilitator_ids.begin(), c_.facilitator_ids.end(),
                        e.facilitator_id());
    if (it == c_.facilitator_ids.end()) {
      return Misfit(
          absl::StrCat("facilitator \"", e.facilitator_id(), "\" is not allocated"));
    }
    c_.facilitator_ids.erase(it);
    return absl::OkStatus();
  }

  absl::Status operator()(const case_v1::AcknowledgementRecorded& e) {
    c_.acknowledged = e.acknowledged();
    return absl::OkStatus();
  }

  absl::Status operator()(const case_v1::RiskAssessmentRecorded& e) {
    if (c_.FindRiskAssessment(e.assessment_id()) != nullptr) {
      return Misfit(
          absl::StrCat("risk assessment \"", e.assessment_id(), "\" already exists"));
    }
    ObservedRiskAssessment ra;
    ra.assessment_id = e.assessment_id();
    for (int kind : e.allowed_kinds()) {
      ra.allowed_kinds.push_back(static_cast<common_v1::ContactKind>(kind));
    }
    ra.review_date = e.review_date();
    ra.requires_approval = e.requires_approval();
    ra.position = position_;
    c_.risk_assessments.push_back(std::move(ra));
    return absl::OkStatus();
  }

  absl::Status operator()(const case_v1::RiskAssessmentApproved& e) {
    ObservedRiskAssessment* ra = MutableRiskAssessment(e.assessment_id());
    if (ra == nullptr) {
      return Misfit(
          absl::StrCat("risk assessment \"", e.assessment_id(), "\" does not exist"));
    }
    // Approving a superseded assessment marks it; the rules read only the
    // current one.
    ra->approved = true;
    ra->approved_position = position_;
    return absl::OkStatus();
  }

  absl::Status operator()(const case_v1::SuitabilityRecorded& e) {
    c_.suitable = e.suitable();
    c_.unsuitable_reason =
        e.suitable() ? case_v1::UNSUITABLE_REASON_UNSPECIFIED : e.reason();
    return absl::OkStatus();
  }

  absl::Status operator()(const case_v1::StageChanged& e) {
    if (e.from() != c_.stage) {
      return Misfit(absl::StrCat("it moves from ", CaseStageName(e.from()),
                                 " but the case is in ", CaseStageName(c_.stage)));
    }
    if (e.to() == case_v1::PAUSED) {
      c_.stage_before_pause = e.from();
    } else if (e.from() == case_v1::PAUSED) {
      c_.stage_before_pause = case_v1::STAGE_UNSPECIFIED;
    }
    c_.stage = e.to();
    c_.last_stage_change_position = position_;
    return absl::OkStatus();
  }

  // What a pause, resume or closure means for contact is the StageChanged
  // the case service records with it; their reasons are not rule facts.
  absl::Status operator()(const case_v1::CasePaused&) { return absl::OkStatus(); }
  absl::Status operator()(const case_v1::CaseResumed&) { return absl::OkStatus(); }
  absl::Status operator()(const case_v1::CaseClosed&) { return absl::OkStatus(); }
  // What the case learnt from scheduling and conference: what it means for
  // contact is the StageChanged it records with it.
  absl::Status operator()(const case_v1::UpstreamFactRecorded&) {
    return absl::OkStatus();
  }

  absl::Status operator()(const case_v1::ParticipantErased& e) {
    ObservedParticipant* p = MutableParticipant(e.participant_id());
    if (p == nullptr) {
      return Misfit(
          absl::StrCat("participant \"", e.participant_id(), "\" does not exist"));
    }
    if (p->erased) {
      return Misfit(
          absl::StrCat("participant \"", e.participant_id(), "\" is already erased"));
    }
    p->erased = true;
    for (const case_v1::PersonRef& other : e.linked()) {
      AddLink(*p, LinkedPerson{other.case_id(), other.participant_id()});
    }
    return absl::OkStatus();
  }

  absl::Status operator()(const case_v1::ParticipantLinked& e) {
    ObservedParticipant* p = MutableParticipant(e.participant_id());
    if (p == nullptr) {
      return Misfit(
          absl::StrCat("participant \"", e.participant_id(), "\" does not exist"));
    }
    AddLink(*p, LinkedPerson{e.other().case_id(), e.other().participant_id()});
    return absl::OkStatus();
  }

 private:
  absl::Status Misfit(std::string_view problem) const {
    return absl::DataLossError(absl::StrCat(
        CaseEventType(event_), " at position ", position_, " does not fit case \"",
        CaseEventCaseId(event_), "\": ", std::string(problem)));
  }

  ObservedParticipant* MutableParticipant(std::string_view id) {
    for (ObservedParticipant& p : c_.participants) {
      if (p.participant_id == id) return &p;
    }
    return nullptr;
  }

  ObservedRiskAssessment* MutableRiskAssessment(std::string_view id) {
    for (ObservedRiskAssessment& ra : c_.risk_assessments) {
      if (ra.assessment_id == id) return &ra;
    }
    return nullptr;
  }

  ObservedCase& c_;
  const CaseEvent& event_;
  const uint64_t position_;
};

}  // namespace

bool IsSensitiveCategory(case_v1::OffenceCategory category) {
  return category == case_v1::DOMESTIC_ABUSE || category == case_v1::SEXUAL_OFFENCE ||
         category == case_v1::HATE_CRIME;
}

std::string CaseStageName(case_v1::Stage stage) {
  if (!case_v1::Stage_IsValid(stage)) {
    return absl::StrCat("stage ", static_cast<int>(stage));
  }
  return case_v1::Stage_Name(stage);
}

absl::StatusOr<CaseEvent> ParseCaseEvent(std::string_view event_type,
                                         std::string_view payload, uint64_t position) {
  return ParseAlternative(event_type, payload, position);
}

const std::string& CaseEventType(const CaseEvent& event) {
  return std::visit(
      [](const auto& m) -> const std::string& {
        return TypeNameOf<std::decay_t<decltype(m)>>();
      },
      event);
}

const std::string& CaseEventCaseId(const CaseEvent& event) {
  return std::visit([](const auto& m) -> const std::string& { return m.case_id(); },
                    event);
}

const google::protobuf::Message& CaseEventMessage(const CaseEvent& event) {
  return std::visit([](const auto& m) -> const google::protobuf::Message& { return m; },
                    event);
}

std::vector<std::string> CaseEventTypes() {
  std::vector<std::string> types;
  [&]<size_t... I>(std::index_sequence<I...>) {
    (types.push_back(TypeNameOf<std::variant_alternative_t<I, CaseEvent>>()), ...);
  }
  (std::make_index_sequence<std::variant_size_v<CaseEvent>>());
  return types;
}

const ObservedParticipant* ObservedCase::FindParticipant(
    std::string_view participant_id) const {
  for (const ObservedParticipant& p : participants) {
    if (p.participant_id == participant_id) return &p;
  }
  return nullptr;
}

const ObservedParticipant* ObservedCase::service_user() const {
  for (const ObservedParticipant& p : participants) {
    if (p.role == case_v1::SERVICE_USER) return &p;
  }
  return nullptr;
}

bool ObservedCase::IsAllocated(std::string_view facilitator_id) const {
  return std::find(facilitator_ids.begin(), facilitator_ids.end(), facilitator_id) !=
         facilitator_ids.end();
}

const ObservedRiskAssessment* ObservedCase::current_risk_assessment() const {
  return risk_assessments.empty() ? nullptr : &risk_assessments.back();
}

const ObservedRiskAssessment* ObservedCase::FindRiskAssessment(
    std::string_view assessment_id) const {
  for (const ObservedRiskAssessment& ra : risk_assessments) {
    if (ra.assessment_id == assessment_id) return &ra;
  }
  return nullptr;
}

absl::Status FoldCaseEvent(ObservedCase& c, const CaseEvent& event, uint64_t position) {
  const bool is_referral = std::holds_alternative<case_v1::CaseReferred>(event);
  Folder folder(c, event, position);
  if (!is_referral && !c.exists()) {
    return absl::DataLossError(absl::StrCat(
        CaseEventType(event), " at position ", position, " does not fit case \"",
        CaseEventCaseId(event), "\": the case has not been referred"));
  }
  if (c.exists() && CaseEventCaseId(event) != c.case_id) {
    return absl::DataLossError(absl::StrCat(
        CaseEventType(event), " at position ", position, " does not fit case \"",
        CaseEventCaseId(event), "\": the projection is of case \"", c.case_id, "\""));
  }
  if (absl::Status s = std::visit(folder, event); !s.ok()) return s;
  ++c.version;
  c.last_position = position;
  return absl::OkStatus();
}

}  // namespace mend::consentsvc
