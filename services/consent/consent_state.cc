#include "services/consent/consent_state.h"

#include <algorithm>
#include <variant>

#include "absl/strings/str_cat.h"
#include "common/base/status_macros.h"

namespace mend::consentsvc {
namespace {

std::string Quote(std::string_view s) { return absl::StrCat("\"", std::string(s), "\""); }

absl::Status Misfit(const ConsentLogEvent& event, std::string_view why) {
  return absl::DataLossError(absl::StrCat(std::string(event.event_type),
                                          " at consent-log position ", event.position,
                                          ": ", std::string(why)));
}

template <typename Message>
absl::StatusOr<Message> Parse(const ConsentLogEvent& event) {
  Message message;
  if (event.payload.size() > static_cast<size_t>(INT32_MAX) ||
      !message.ParseFromArray(event.payload.data(),
                              static_cast<int>(event.payload.size()))) {
    return Misfit(event, "payload does not parse");
  }
  return message;
}

// The case the stream is about must be the event's.
absl::Status CheckCase(const CaseFacts& facts, const ConsentLogEvent& event,
                       const std::string& case_id) {
  if (case_id.empty()) return Misfit(event, "no case_id");
  if (!facts.case_id.empty() && facts.case_id != case_id) {
    return Misfit(event, absl::StrCat("event of case ", Quote(case_id),
                                      " in the stream of case ", Quote(facts.case_id)));
  }
  return absl::OkStatus();
}

absl::Status CheckParticipant(const CaseFacts& facts, const ConsentLogEvent& event,
                              const std::string& participant_id) {
  if (!facts.case_known()) {
    return Misfit(event, "the case has not been observed (no CaseReferred before it)");
  }
  if (facts.case_state.FindParticipant(participant_id) == nullptr) {
    return Misfit(event,
                  absl::StrCat("the case has no participant ", Quote(participant_id)));
  }
  return absl::OkStatus();
}

absl::Status EvolveObserved(CaseFacts& facts, const ConsentLogEvent& event) {
  MEND_ASSIGN_OR_RETURN(auto observed, Parse<consent_v1::CaseEventObserved>(event));
  MEND_RETURN_IF_ERROR(CheckCase(facts, event, observed.case_id()));
  if (observed.case_position() <= facts.last_case_position) {
    return Misfit(event, absl::StrCat("case-log position ", observed.case_position(),
                                      " is not after the last one observed (",
                                      facts.last_case_position, ")"));
  }
  absl::StatusOr<CaseEvent> parsed = ParseCaseEvent(
      observed.case_event_type(), observed.payload(), observed.case_position());
  if (!parsed.ok()) return Misfit(event, std::string(parsed.status().message()));
  if (CaseEventCaseId(*parsed) != observed.case_id()) {
    return Misfit(event, absl::StrCat("the case event is of case ",
                                      Quote(CaseEventCaseId(*parsed))));
  }
  if (absl::Status s = FoldCaseEvent(facts.case_state, *parsed, observed.case_position());
      !s.ok()) {
    return Misfit(event, std::string(s.message()));
  }

  const FactRef ref{consent_v1::CASE_LOG, observed.case_position(),
                    observed.case_event_type()};
  std::visit(
      [&](const auto& e) {
        using T = std::decay_t<decltype(e)>;
        if constexpr (std::is_same_v<T, case_v1::CaseReferred>) {
          facts.referral = ref;
        } else if constexpr (std::is_same_v<T, case_v1::FacilitatorAllocated>) {
          facts.allocations[e.facilitator_id()] = ref;
        } else if constexpr (std::is_same_v<T, case_v1::FacilitatorReleased>) {
          facts.allocations.erase(e.facilitator_id());
        } else if constexpr (std::is_same_v<T, case_v1::AcknowledgementRecorded>) {
          facts.acknowledgement = ref;
        } else if constexpr (std::is_same_v<T, case_v1::SuitabilityRecorded>) {
          facts.suitability = ref;
        } else if constexpr (std::is_same_v<T, case_v1::RiskAssessmentRecorded>) {
          facts.risk_assessment_recorded = ref;
          facts.risk_assessment_approved.reset();
          facts.risk_assessment_lapsed_by.reset();
        } else if constexpr (std::is_same_v<T, case_v1::RiskAssessmentApproved>) {
          const ObservedRiskAssessment* current =
              facts.case_state.current_risk_assessment();
          if (current != nullptr && current->assessment_id == e.assessment_id()) {
            facts.risk_assessment_approved = ref;
          }
        } else if constexpr (std::is_same_v<T, case_v1::StageChanged>) {
          facts.last_stage_change = ref;
          // Which moves lapse an assessment is part of contact-gate/1 and /2
          // alike (the header's "Lapse"); a rule that wants another lapse
          // needs a field of its own.
          const bool completes_assessment =
              e.to() == case_v1::ASSESSING || e.to() == case_v1::PREPARING;
          const bool resumes = e.from() == case_v1::PAUSED && e.to() != case_v1::CLOSED;
          const bool derived = e.derived();
          if (facts.risk_assessment_recorded.has_value() &&
              !facts.risk_assessment_lapsed_by.has_value() && !completes_assessment &&
              !resumes && !derived) {
            facts.risk_assessment_lapsed_by = ref;
          }
        } else if constexpr (std::is_same_v<T, case_v1::ParticipantErased>) {
          facts.erasures[e.participant_id()] = ref;
        } else if constexpr (std::is_same_v<T, case_v1::ParticipantLinked>) {
          facts.links[e.participant_id()].push_back(ref);
        }
      },
      *parsed);
  facts.last_case_position = observed.case_position();
  facts.case_id = observed.case_id();
  return absl::OkStatus();
}

absl::Status EvolveRecorded(CaseFacts& facts, const ConsentLogEvent& event) {
  MEND_ASSIGN_OR_RETURN(auto recorded, Parse<consent_v1::ConsentRecorded>(event));
  MEND_RETURN_IF_ERROR(CheckCase(facts, event, recorded.case_id()));
  MEND_RETURN_IF_ERROR(CheckParticipant(facts, event, recorded.participant_id()));
  if (!consent_v1::ConsentScope_IsValid(recorded.scope()) ||
      recorded.scope() == consent_v1::CONSENT_SCOPE_UNSPECIFIED) {
    return Misfit(event, "no valid scope");
  }
  ConsentEntryFacts entry;
  switch (recorded.answer()) {
    case consent_v1::GIVEN:
      entry.status = consent_v1::CONSENT_STATUS_GIVEN;
      break;
    case consent_v1::DECLINED:
      entry.status = consent_v1::CONSENT_STATUS_DECLINED;
      break;
    default:
      return Misfit(event, "no valid answer");
  }
  entry.consent_id = recorded.consent_id();
  entry.informed = recorded.informed();
  entry.requested_by_participant = recorded.requested_by_participant();
  entry.recorded_by = recorded.recorded_by();
  entry.recorded_unix_micros = event.recorded_unix_micros;
  entry.position = event.position;
  entry.event_type = kConsentRecordedType;
  facts.consents[recorded.participant_id()][recorded.scope()].push_back(std::move(entry));
  return absl::OkStatus();
}

absl::Status EvolveWithdrawn(CaseFacts& facts, const ConsentLogEvent& event) {
  MEND_ASSIGN_OR_RETURN(auto withdrawn, Parse<consent_v1::ConsentWithdrawn>(event));
  MEND_RETURN_IF_ERROR(CheckCase(facts, event, withdrawn.case_id()));
  MEND_RETURN_IF_ERROR(CheckParticipant(facts, event, withdrawn.participant_id()));
  if (withdrawn.scopes().empty()) return Misfit(event, "no scope withdrawn");
  for (int scope : withdrawn.scopes()) {
    if (!consent_v1::ConsentScope_IsValid(scope) ||
        scope == consent_v1::CONSENT_SCOPE_UNSPECIFIED) {
      return Misfit(event, absl::StrCat("scope ", scope, " is not a valid scope"));
    }
  }
  auto& scopes = facts.consents[withdrawn.participant_id()];
  for (int scope : withdrawn.scopes()) {
    ConsentEntryFacts entry;
    entry.status = consent_v1::CONSENT_STATUS_WITHDRAWN;
    entry.informed = withdrawn.informed();
    entry.recorded_by = withdrawn.recorded_by();
    entry.recorded_unix_micros = event.recorded_unix_micros;
    entry.position = event.position;
    entry.event_type = kConsentWithdrawnType;
    scopes[static_cast<consent_v1::ConsentScope>(scope)].push_back(std::move(entry));
  }
  return absl::OkStatus();
}

absl::Status EvolveDecision(CaseFacts& facts, const ConsentLogEvent& event) {
  MEND_ASSIGN_OR_RETURN(auto decision, Parse<consent_v1::ContactDecisionMade>(event));
  MEND_RETURN_IF_ERROR(CheckCase(facts, event, decision.case_id()));
  if (!facts.case_known()) {
    return Misfit(event, "the case has not been observed (no CaseReferred before it)");
  }
  if (decision.decision_id().empty()) return Misfit(event, "no decision_id");
  if (facts.FindDecision(decision.decision_id()) != nullptr) {
    return Misfit(event, absl::StrCat("decision ", Quote(decision.decision_id()),
                                      " was recorded before"));
  }
  if (decision.outcome() != consent_v1::APPROVED &&
      decision.outcome() != consent_v1::REFUSED) {
    return Misfit(event, "no valid outcome");
  }
  DecisionRecord record;
  record.decision = std::move(decision);
  record.position = event.position;
  record.stream_version = event.stream_version;
  record.decided_unix_micros = event.recorded_unix_micros;
  facts.decisions.push_back(std::move(record));
  return absl::OkStatus();
}

}  // namespace

std::string ConsentStreamId(std::string_view case_id) {
  return absl::StrCat("consent-", std::string(case_id));
}

const ConsentEntryFacts* CaseFacts::CurrentConsent(std::string_view participant_id,
                                                   consent_v1::ConsentScope scope) const {
  auto p = consents.find(std::string(participant_id));
  if (p == consents.end()) return nullptr;
  auto s = p->second.find(scope);
  if (s == p->second.end() || s->second.empty()) return nullptr;
  return &s->second.back();
}

const DecisionRecord* CaseFacts::FindDecision(std::string_view decision_id) const {
  for (const DecisionRecord& d : decisions) {
    if (d.decision.decision_id() == decision_id) return &d;
  }
  return nullptr;
}

absl::Status Evolve(CaseFacts& facts, const ConsentLogEvent& event) {
  if (event.stream_version != facts.version + 1) {
    return Misfit(event, absl::StrCat("stream version ", event.stream_version,
                                      " does not follow version ", facts.version));
  }
  absl::Status status;
  if (event.event_type == kCaseEventObservedType) {
    status = EvolveObserved(facts, event);
  } else if (event.event_type == kConsentRecordedType) {
    status = EvolveRecorded(facts, event);
  } else if (event.event_type == kConsentWithdrawnType) {
    status = EvolveWithdrawn(facts, event);
  } else if (event.event_type == kContactDecisionMadeType) {
    status = EvolveDecision(facts, event);
  } else {
    status = Misfit(event, "not an event of the consent log");
  }
  MEND_RETURN_IF_ERROR(status);
  facts.version = event.stream_version;
  return absl::OkStatus();
}

}  // namespace mend::consentsvc
