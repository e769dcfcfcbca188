#include "services/case/case_state.h"

#include <algorithm>
#include <climits>
#include <type_traits>
#include <utility>

#include "absl/strings/str_cat.h"
#include "google/protobuf/util/message_differencer.h"

namespace mend::casesvc {
namespace {

using google::protobuf::util::MessageDifferencer;

template <typename T>
const std::string& TypeNameOf() {
  return T::descriptor()->full_name();
}

template <size_t I = 0>
absl::StatusOr<CaseEvent> ParseAlternative(std::string_view type,
                                           std::string_view payload, uint64_t position) {
  if constexpr (I == std::variant_size_v<CaseEvent>) {
    return absl::DataLossError(absl::StrCat("event at position ", position,
                                            " has type \"", std::string(type),
                                            "\", which is not a mend.case.v1 event"));
  } else {
    using T = std::variant_alternative_t<I, CaseEvent>;
    if (TypeNameOf<T>() != type) return ParseAlternative<I + 1>(type, payload, position);
    T message;
    if (payload.size() > static_cast<size_t>(INT_MAX) ||
        !message.ParseFromArray(payload.data(), static_cast<int>(payload.size()))) {
      return absl::DataLossError(absl::StrCat("event at position ", position, " (",
                                              TypeNameOf<T>(),
                                              "): payload does not parse"));
    }
    return CaseEvent(std::in_place_index<I>, std::move(message));
  }
}

bool SameSealed(const common_v1::Sealed& a, const common_v1::Sealed& b) {
  return MessageDifferencer::Equals(a, b);
}

// The error for an event that does not fit the state.
absl::Status Misfit(const DomainEvent& event, std::string_view problem) {
  return absl::DataLossError(absl::StrCat(event.type(), " at position ", event.position,
                                          " does not fit case \"", event.case_id(),
                                          "\": ", std::string(problem)));
}

ParticipantState FromProto(const case_v1::Participant& p, uint64_t position) {
  ParticipantState s;
  s.participant_id = p.participant_id();
  s.role = p.role();
  s.supports_participant_id = p.supports_participant_id();
  s.details = p.details();
  s.needs = p.needs();
  s.added_position = position;
  return s;
}

ParticipantState* MutableParticipant(CaseState& state, std::string_view id) {
  for (ParticipantState& p : state.participants) {
    if (p.participant_id == id) return &p;
  }
  return nullptr;
}

RiskAssessmentState* MutableRiskAssessment(CaseState& state, std::string_view id) {
  for (RiskAssessmentState& ra : state.risk_assessments) {
    if (ra.assessment_id == id) return &ra;
  }
  return nullptr;
}

// One Apply per event type. Each checks fit first and changes the state only
// when the event fits, so a failed Evolve leaves the state as it was.
struct Applier {
  CaseState& state;
  const DomainEvent& event;

  absl::Status operator()(const case_v1::CaseReferred& e) {
    if (state.exists()) return Misfit(event, "the case already exists");
    std::vector<ParticipantState> participants;
    for (const case_v1::Participant& p : e.participants()) {
      for (const ParticipantState& seen : participants) {
        if (seen.participant_id == p.participant_id()) {
          return Misfit(event, absl::StrCat("participant \"", p.participant_id(),
                                            "\" is named twice"));
        }
      }
      participants.push_back(FromProto(p, event.position));
    }
    state.case_id = e.case_id();
    state.reference = e.reference();
    state.source = e.source();
    state.referral_date = e.referral_date();
    state.offence_category = e.offence_category();
    state.sensitive = e.sensitive();
    state.offence_summary = e.offence_summary();
    state.participants = std::move(participants);
    state.referred_by = e.referred_by();
    return absl::OkStatus();
  }

  absl::Status operator()(const case_v1::ParticipantAdded& e) {
    if (state.FindParticipant(e.participant().participant_id()) != nullptr) {
      return Misfit(event,
                    absl::StrCat("participant \"", e.participant().participant_id(),
                                 "\" already exists"));
    }
    state.participants.push_back(FromProto(e.participant(), event.position));
    return absl::OkStatus();
  }

  absl::Status operator()(const case_v1::FacilitatorAllocated& e) {
    if (state.IsAllocated(e.facilitator_id())) {
      return Misfit(event, absl::StrCat("facilitator \"", e.facilitator_id(),
                                        "\" is already allocated"));
    }
    state.facilitator_ids.push_back(e.facilitator_id());
    return absl::OkStatus();
  }

  absl::Status operator()(const case_v1::FacilitatorReleased& e) {
    auto it = std::find(state.facilitator_ids.begin(), state.facilitator_ids.end(),
                        e.facilitator_id());
    if (it == state.facilitator_ids.end()) {
      return Misfit(event, absl::StrCat("facilitator \"", e.facilitator_id(),
                                        "\" is not allocated"));
    }
    state.facilitator_ids.erase(it);
    return absl::OkStatus();
  }

  absl::Status operator()(const case_v1::AcknowledgementRecorded& e) {
    state.acknowledged = e.acknowledged();
    state.acknowledgement_notes = e.notes();
    return absl::OkStatus();
  }

  absl::Status operator()(const case_v1::RiskAssessmentRecorded& e) {
    if (state.FindRiskAssessment(e.assessment_id()) != nullptr) {
      return Misfit(event, absl::StrCat("risk assessment \"", e.assessment_id(),
                                        "\" already exists"));
    }
    RiskAssessmentState ra;
    ra.assessment_id = e.assessment_id();
    ra.assessor_id = e.assessor_id();
    ra.level = e.level();
    for (int kind : e.allowed_kinds()) {
      ra.allowed_kinds.push_back(static_cast<common_v1::ContactKind>(kind));
    }
    ra.review_date = e.review_date();
    ra.requires_approval = e.requires_approval();
    ra.supersedes_assessment_id = e.supersedes_assessment_id();
    ra.notes = e.notes();
    ra.position = event.position;
    ra.recorded_unix_micros = event.recorded_unix_micros;
    // A new assessment supersedes every earlier one (the event names the
    // latest; older ones were superseded already).
    if (!state.risk_assessments.empty()) {
      state.risk_assessments.back().superseded_by = e.assessment_id();
    }
    state.risk_assessments.push_back(std::move(ra));
    state.reassessment_required = false;
    return absl::OkStatus();
  }

  absl::Status operator()(const case_v1::RiskAssessmentApproved& e) {
    RiskAssessmentState* ra = MutableRiskAssessment(state, e.assessment_id());
    if (ra == nullptr) {
      return Misfit(event, absl::StrCat("risk assessment \"", e.assessment_id(),
                                        "\" does not exist"));
    }
    ra->approved = true;
    ra->approved_by = e.approved_by();
    ra->approved_position = event.position;
    return absl::OkStatus();
  }

  absl::Status operator()(const case_v1::SuitabilityRecorded& e) {
    state.suitable = e.suitable();
    state.unsuitable_reason =
        e.suitable() ? case_v1::UNSUITABLE_REASON_UNSPECIFIED : e.reason();
    return absl::OkStatus();
  }

  absl::Status operator()(const case_v1::StageChanged& e) {
    if (e.from() != state.stage) {
      return Misfit(event, absl::StrCat("it moves from ", StageName(e.from()),
                                        " but the case is in ", StageName(state.stage)));
    }
    if (e.to() == case_v1::PAUSED) {
      state.stage_before_pause = e.from();
    } else if (e.from() == case_v1::PAUSED) {
      state.stage_before_pause = case_v1::STAGE_UNSPECIFIED;
      state.pause_reason.clear();
    }
    state.stage = e.to();
    state.last_stage_change_position = event.position;
    if (e.to() == case_v1::FOUND_UNSUITABLE) state.reassessment_required = true;
    return absl::OkStatus();
  }

  absl::Status operator()(const case_v1::CasePaused& e) {
    state.pause_reason = e.reason();
    return absl::OkStatus();
  }

  absl::Status operator()(const case_v1::CaseResumed&) { return absl::OkStatus(); }

  absl::Status operator()(const case_v1::CaseClosed& e) {
    state.closure_reason = e.reason();
    state.closed_unix_micros = event.recorded_unix_micros;
    return absl::OkStatus();
  }

  absl::Status operator()(const case_v1::ParticipantErased& e) {
    ParticipantState* p = MutableParticipant(state, e.participant_id());
    if (p == nullptr) {
      return Misfit(
          event, absl::StrCat("participant \"", e.participant_id(), "\" does not exist"));
    }
    if (p->erased) {
      return Misfit(event, absl::StrCat("participant \"", e.participant_id(),
                                        "\" is already erased"));
    }
    p->erased = true;
    p->erased_by = e.requested_by();
    p->erasure_basis = e.basis();
    p->erasure_reason = e.reason();
    return absl::OkStatus();
  }

  absl::Status operator()(const case_v1::ParticipantLinked& e) {
    ParticipantState* p = MutableParticipant(state, e.participant_id());
    if (p == nullptr) {
      return Misfit(
          event, absl::StrCat("participant \"", e.participant_id(), "\" does not exist"));
    }
    const CasePerson other{e.other().case_id(), e.other().participant_id()};
    if (other.case_id.empty() || other.participant_id.empty()) {
      return Misfit(event, "it names no other person");
    }
    if (other.case_id == state.case_id) {
      return Misfit(event, "it links the case to itself");
    }
    if (std::find(p->linked.begin(), p->linked.end(), other) != p->linked.end()) {
      return Misfit(
          event,
          absl::StrCat("participant \"", e.participant_id(), "\" is already linked to \"",
                       other.participant_id, "\" of case \"", other.case_id, "\""));
    }
    p->linked.push_back(other);
    return absl::OkStatus();
  }

  absl::Status operator()(const case_v1::UpstreamFactRecorded& e) {
    uint64_t* folded = nullptr;
    if (e.source() == consent_v1::SCHEDULING_LOG) {
      folded = &state.scheduling_position;
    } else if (e.source() == consent_v1::CONFERENCE_LOG) {
      folded = &state.conference_position;
    } else {
      return Misfit(event, "its source is neither the scheduling nor the conference log");
    }
    if (e.position() <= *folded) {
      return Misfit(event,
                    absl::StrCat("upstream position ", e.position(),
                                 " is not after the last one folded (", *folded, ")"));
    }
    *folded = e.position();
    switch (e.fact_case()) {
      case case_v1::UpstreamFactRecorded::kProgrammeCompleted:
        state.programme_completed = true;
        break;
      case case_v1::UpstreamFactRecorded::kConferenceBooked:
        if (!state.ended_conference_bookings.contains(e.conference_booked())) {
          state.open_conference_bookings.insert(e.conference_booked());
        }
        break;
      case case_v1::UpstreamFactRecorded::kConferenceBookingCancelled:
        EndBooking(e.conference_booking_cancelled());
        break;
      case case_v1::UpstreamFactRecorded::kConferenceHeld:
        EndBooking(e.conference_held());
        state.conference_held = true;
        break;
      case case_v1::UpstreamFactRecorded::kConferenceNotHeld:
        EndBooking(e.conference_not_held());
        break;
      case case_v1::UpstreamFactRecorded::kFollowUpCompleted:
        state.follow_up_completed = true;
        break;
      case case_v1::UpstreamFactRecorded::FACT_NOT_SET:
        return Misfit(event, "it records no fact");
    }
    return absl::OkStatus();
  }

  void EndBooking(const std::string& booking_id) {
    state.open_conference_bookings.erase(booking_id);
    state.ended_conference_bookings.insert(booking_id);
  }
};

}  // namespace

std::string CaseStreamId(std::string_view case_id) {
  return absl::StrCat("case-", std::string(case_id));
}

std::string PersonKeyId(std::string_view case_id, std::string_view participant_id) {
  return absl::StrCat(std::string(case_id), "/", std::string(participant_id));
}

bool IsSensitive(case_v1::OffenceCategory category) {
  return category == case_v1::DOMESTIC_ABUSE || category == case_v1::SEXUAL_OFFENCE ||
         category == case_v1::HATE_CRIME;
}

std::string StageName(case_v1::Stage stage) {
  if (!case_v1::Stage_IsValid(stage))
    return absl::StrCat("stage ", static_cast<int>(stage));
  return case_v1::Stage_Name(stage);
}

bool IsOpenStage(case_v1::Stage stage) {
  switch (stage) {
    case case_v1::REFERRED:
    case case_v1::SCREENING:
    case case_v1::ALLOCATED:
    case case_v1::ASSESSING:
    case case_v1::PREPARING:
    case case_v1::INDIRECT_CONTACT:
    case case_v1::CONFERENCE_SCHEDULED:
    case case_v1::CONFERENCE_HELD:
    case case_v1::FOLLOW_UP:
      return true;
    default:
      return false;
  }
}

bool IsAllowedStageTransition(case_v1::Stage from, case_v1::Stage to) {
  using namespace case_v1;  // NOLINT: stage names read better bare here
  if (IsOpenStage(from) && (to == PAUSED || to == CLOSED || to == FOUND_UNSUITABLE)) {
    return true;
  }
  if (from == PAUSED) return to == CLOSED || IsOpenStage(to);
  switch (from) {
    case FOUND_UNSUITABLE:
      // Closure, or re-screening; never straight to a stage nearer contact.
      return to == CLOSED || to == SCREENING;
    case STAGE_UNSPECIFIED:
      return to == REFERRED;
    case REFERRED:
      return to == SCREENING;
    case SCREENING:
      return to == ALLOCATED;
    case ALLOCATED:
      return to == ASSESSING;
    case ASSESSING:
      return to == PREPARING;
    case PREPARING:
      return to == INDIRECT_CONTACT || to == CONFERENCE_SCHEDULED;
    case INDIRECT_CONTACT:
      return to == CONFERENCE_SCHEDULED || to == FOLLOW_UP;
    case CONFERENCE_SCHEDULED:
      return to == INDIRECT_CONTACT || to == CONFERENCE_HELD;
    case CONFERENCE_HELD:
      return to == FOLLOW_UP;
    default:
      return false;
  }
}

const std::string& DomainEvent::type() const {
  return std::visit(
      [](const auto& m) -> const std::string& {
        return TypeNameOf<std::decay_t<decltype(m)>>();
      },
      event);
}

const google::protobuf::Message& DomainEvent::message() const {
  return std::visit([](const auto& m) -> const google::protobuf::Message& { return m; },
                    event);
}

const std::string& DomainEvent::case_id() const {
  return std::visit([](const auto& m) -> const std::string& { return m.case_id(); },
                    event);
}

std::string DomainEvent::SerializePayload() const {
  std::string out;
  // No map fields in these messages, so serialization is deterministic.
  message().SerializeToString(&out);
  return out;
}

absl::StatusOr<DomainEvent> ParseDomainEvent(std::string_view event_type,
                                             std::string_view payload, uint64_t position,
                                             int64_t recorded_unix_micros) {
  absl::StatusOr<CaseEvent> event = ParseAlternative(event_type, payload, position);
  if (!event.ok()) return event.status();
  return DomainEvent{*std::move(event), position, recorded_unix_micros};
}

std::vector<std::string> CaseEventTypes() {
  std::vector<std::string> types;
  [&]<size_t... I>(std::index_sequence<I...>) {
    (types.push_back(TypeNameOf<std::variant_alternative_t<I, CaseEvent>>()), ...);
  }
  (std::make_index_sequence<std::variant_size_v<CaseEvent>>());
  return types;
}

bool operator==(const ParticipantState& a, const ParticipantState& b) {
  return a.participant_id == b.participant_id && a.role == b.role &&
         a.supports_participant_id == b.supports_participant_id &&
         SameSealed(a.details, b.details) && SameSealed(a.needs, b.needs) &&
         a.erased == b.erased && a.erased_by == b.erased_by &&
         a.erasure_basis == b.erasure_basis && a.erasure_reason == b.erasure_reason &&
         a.added_position == b.added_position && a.linked == b.linked;
}

bool operator==(const RiskAssessmentState& a, const RiskAssessmentState& b) {
  return a.assessment_id == b.assessment_id && a.assessor_id == b.assessor_id &&
         a.level == b.level && a.allowed_kinds == b.allowed_kinds &&
         a.review_date == b.review_date && a.requires_approval == b.requires_approval &&
         a.approved == b.approved && a.approved_by == b.approved_by &&
         a.supersedes_assessment_id == b.supersedes_assessment_id &&
         a.superseded_by == b.superseded_by && SameSealed(a.notes, b.notes) &&
         a.position == b.position && a.approved_position == b.approved_position &&
         a.recorded_unix_micros == b.recorded_unix_micros;
}

bool operator==(const CaseState& a, const CaseState& b) {
  return a.case_id == b.case_id && a.reference == b.reference && a.version == b.version &&
         a.stage == b.stage && a.stage_before_pause == b.stage_before_pause &&
         a.last_stage_change_position == b.last_stage_change_position &&
         a.sensitive == b.sensitive && a.offence_category == b.offence_category &&
         a.source == b.source && a.referral_date == b.referral_date &&
         a.referred_by == b.referred_by &&
         SameSealed(a.offence_summary, b.offence_summary) &&
         a.participants == b.participants && a.facilitator_ids == b.facilitator_ids &&
         a.acknowledged == b.acknowledged &&
         SameSealed(a.acknowledgement_notes, b.acknowledgement_notes) &&
         a.suitable == b.suitable && a.unsuitable_reason == b.unsuitable_reason &&
         a.risk_assessments == b.risk_assessments &&
         a.reassessment_required == b.reassessment_required &&
         a.pause_reason == b.pause_reason && a.closure_reason == b.closure_reason &&
         a.closed_unix_micros == b.closed_unix_micros &&
         a.last_position == b.last_position &&
         a.updated_unix_micros == b.updated_unix_micros &&
         a.programme_completed == b.programme_completed &&
         a.open_conference_bookings == b.open_conference_bookings &&
         a.ended_conference_bookings == b.ended_conference_bookings &&
         a.conference_held == b.conference_held &&
         a.follow_up_completed == b.follow_up_completed &&
         a.scheduling_position == b.scheduling_position &&
         a.conference_position == b.conference_position;
}

const ParticipantState* CaseState::FindParticipant(
    std::string_view participant_id) const {
  for (const ParticipantState& p : participants) {
    if (p.participant_id == participant_id) return &p;
  }
  return nullptr;
}

const ParticipantState* CaseState::service_user() const {
  for (const ParticipantState& p : participants) {
    if (p.role == case_v1::SERVICE_USER) return &p;
  }
  return nullptr;
}

bool CaseState::IsAllocated(std::string_view facilitator_id) const {
  return std::find(facilitator_ids.begin(), facilitator_ids.end(), facilitator_id) !=
         facilitator_ids.end();
}

const RiskAssessmentState* CaseState::current_risk_assessment() const {
  return risk_assessments.empty() ? nullptr : &risk_assessments.back();
}

const RiskAssessmentState* CaseState::FindRiskAssessment(
    std::string_view assessment_id) const {
  for (const RiskAssessmentState& ra : risk_assessments) {
    if (ra.assessment_id == assessment_id) return &ra;
  }
  return nullptr;
}

bool CaseState::HasCountingRiskAssessment() const {
  const RiskAssessmentState* ra = current_risk_assessment();
  return ra != nullptr && ra->counts();
}

bool CaseState::ReadyForPreparation() const {
  return acknowledged.value_or(false) && suitable.value_or(false) &&
         !facilitator_ids.empty() && HasCountingRiskAssessment() &&
         !reassessment_required;
}

absl::Status Evolve(CaseState& state, const DomainEvent& event) {
  const bool is_referral = std::holds_alternative<case_v1::CaseReferred>(event.event);
  if (!is_referral && !state.exists()) {
    return Misfit(event, "the case has not been referred");
  }
  if (state.exists() && event.case_id() != state.case_id) {
    return Misfit(event, absl::StrCat("the state is of case \"", state.case_id, "\""));
  }
  if (absl::Status s = std::visit(Applier{state, event}, event.event); !s.ok()) return s;
  ++state.version;
  state.last_position = event.position;
  state.updated_unix_micros = event.recorded_unix_micros;
  return absl::OkStatus();
}

absl::StatusOr<DomainEvent> EvolveRecord(CaseState& state, uint64_t position,
                                         const eventlog::RecordView& record) {
  absl::StatusOr<DomainEvent> e = ParseDomainEvent(record.event_type, record.payload,
                                                   position, record.recorded_unix_micros);
  if (!e.ok()) return e.status();
  if (record.stream_id != CaseStreamId(e->case_id())) {
    return absl::DataLossError(
        absl::StrCat(e->type(), " at position ", position, " of case \"", e->case_id(),
                     "\" is in stream \"", std::string(record.stream_id), "\""));
  }
  if (absl::Status s = Evolve(state, *e); !s.ok()) return s;
  return e;
}

}  // namespace mend::casesvc
