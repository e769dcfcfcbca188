#include "services/case/case_view.h"

#include <optional>
#include <utility>

#include "absl/strings/str_cat.h"
#include "common/base/status_macros.h"

namespace mend::casesvc {
namespace {

bool IsPersonErased(const CaseState& state, std::string_view person_id) {
  const ParticipantState* p = state.FindParticipant(person_id);
  return p != nullptr && p->erased;
}

// The plaintext of `sealed`; nullopt when it is not given or its person is
// erased (in the state, or the key is gone: NOT_FOUND from `unseal`).
absl::StatusOr<std::optional<std::string>> Open(const CaseState& state,
                                                const common_v1::Sealed& sealed,
                                                std::string_view field,
                                                const UnsealFn& unseal, bool* erased) {
  if (sealed.ciphertext().empty()) return std::optional<std::string>();
  if (IsPersonErased(state, sealed.person_id())) {
    *erased = true;
    return std::optional<std::string>();
  }
  absl::StatusOr<std::string> plain =
      unseal(PersonKeyId(state.case_id, sealed.person_id()), sealed, field);
  if (absl::IsNotFound(plain.status())) {
    *erased = true;
    return std::optional<std::string>();
  }
  if (!plain.ok()) return plain.status();
  return std::optional<std::string>(*std::move(plain));
}

template <typename Message>
absl::Status ParseInto(const std::string& bytes, std::string_view field,
                       std::string_view participant_id, Message* out) {
  if (!out->ParseFromString(bytes)) {
    return absl::DataLossError(
        absl::StrCat("sealed ", std::string(field), " of participant \"",
                     std::string(participant_id), "\" does not parse"));
  }
  return absl::OkStatus();
}

absl::Status FillParticipant(const CaseState& state, const ParticipantState& p,
                             bool may_see, const UnsealFn& unseal,
                             case_v1::ParticipantView* view) {
  view->set_participant_id(p.participant_id);
  view->set_role(p.role);
  view->set_supports_participant_id(p.supports_participant_id);
  view->set_erased(p.erased);
  view->set_redacted(!may_see);
  if (!may_see || p.erased) return absl::OkStatus();

  bool erased = false;
  MEND_ASSIGN_OR_RETURN(
      std::optional<std::string> details,
      Open(state, p.details, kSealedParticipantDetails, unseal, &erased));
  std::optional<std::string> needs;
  if (!erased) {
    MEND_ASSIGN_OR_RETURN(needs,
                          Open(state, p.needs, kSealedParticipantNeeds, unseal, &erased));
  }
  if (erased) {
    // Only part of them may have opened before the key was found gone.
    view->set_erased(true);
    return absl::OkStatus();
  }
  if (details.has_value()) {
    MEND_RETURN_IF_ERROR(ParseInto(*details, kSealedParticipantDetails, p.participant_id,
                                   view->mutable_details()));
  }
  if (needs.has_value()) {
    MEND_RETURN_IF_ERROR(ParseInto(*needs, kSealedParticipantNeeds, p.participant_id,
                                   view->mutable_needs()));
  }
  return absl::OkStatus();
}

void FillRiskAssessment(const RiskAssessmentState& ra,
                        case_v1::RiskAssessmentView* view) {
  view->set_assessment_id(ra.assessment_id);
  view->set_assessor_id(ra.assessor_id);
  view->set_level(ra.level);
  for (common_v1::ContactKind kind : ra.allowed_kinds) view->add_allowed_kinds(kind);
  view->set_review_date(ra.review_date);
  view->set_requires_approval(ra.requires_approval);
  view->set_approved(ra.approved);
  view->set_approved_by(ra.approved_by);
  view->set_position(ra.position);
}

}  // namespace

absl::Status CanRead(std::string_view case_id, const CaseState& state,
                     const Caller& caller) {
  if (state.exists() && state.case_id != case_id) {
    return absl::InternalError(absl::StrCat("the state of case \"", state.case_id,
                                            "\" given for case \"", std::string(case_id),
                                            "\""));
  }
  if (caller.role == Role::kFacilitator && !state.IsAllocated(caller.subject)) {
    return absl::PermissionDeniedError(absl::StrCat("facilitator \"", caller.subject,
                                                    "\" is not allocated to case \"",
                                                    std::string(case_id), "\""));
  }
  if (!state.exists()) {
    return absl::NotFoundError(absl::StrCat("no case \"", std::string(case_id), "\""));
  }
  return absl::OkStatus();
}

bool MaySeePersonalData(const CaseState& state, const Caller& caller) {
  return caller.role == Role::kManager ||
         (caller.role == Role::kFacilitator && state.IsAllocated(caller.subject));
}

absl::StatusOr<case_v1::CaseView> BuildCaseView(const CaseState& state,
                                                const Caller& caller,
                                                const UnsealFn& unseal) {
  MEND_RETURN_IF_ERROR(CanRead(state.case_id, state, caller));
  const bool may_see = MaySeePersonalData(state, caller);

  case_v1::CaseView view;
  view.set_case_id(state.case_id);
  view.set_reference(state.reference);
  view.set_version(state.version);
  view.set_stage(state.stage);
  if (state.stage == case_v1::PAUSED)
    view.set_stage_before_pause(state.stage_before_pause);
  view.set_source(state.source);
  view.set_referral_date(state.referral_date);
  view.set_offence_category(state.offence_category);
  view.set_sensitive(state.sensitive);
  if (may_see) {
    bool erased = false;
    MEND_ASSIGN_OR_RETURN(
        std::optional<std::string> summary,
        Open(state, state.offence_summary, kSealedOffenceSummary, unseal, &erased));
    if (summary.has_value()) view.set_offence_summary(*std::move(summary));
  }
  for (const ParticipantState& p : state.participants) {
    MEND_RETURN_IF_ERROR(
        FillParticipant(state, p, may_see, unseal, view.add_participants()));
  }
  for (const std::string& id : state.facilitator_ids) view.add_facilitator_ids(id);
  view.set_acknowledged(state.acknowledged.value_or(false));
  view.set_suitability_recorded(state.suitable.has_value());
  view.set_suitable(state.suitable.value_or(false));
  view.set_unsuitable_reason(state.unsuitable_reason);
  if (const RiskAssessmentState* ra = state.current_risk_assessment()) {
    FillRiskAssessment(*ra, view.mutable_current_risk_assessment());
  }
  view.set_closure_reason(state.closure_reason);
  view.set_updated_unix_micros(state.updated_unix_micros);
  view.set_closed_unix_micros(state.closed_unix_micros);
  return view;
}

}  // namespace mend::casesvc
