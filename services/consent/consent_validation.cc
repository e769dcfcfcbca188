#include "services/consent/consent_validation.h"

#include <string>
#include <string_view>

#include "absl/strings/str_cat.h"
#include "common/base/status_macros.h"
#include "common/base/validation.h"
#include "mend/common/v1/contact.pb.h"

namespace mend::consentsvc {
namespace {

namespace v1 = ::mend::consent::v1;

absl::Status ValidateInformed(const v1::HowInformed& informed, bool leaflet_required) {
  MEND_RETURN_IF_ERROR(ValidateCode("informed.leaflet_version",
                                    informed.leaflet_version(), leaflet_required));
  return ValidateEnum("informed.channel", informed.channel(),
                      v1::InformedChannel_IsValid);
}

// The fields every command on a participant's consent has.
template <typename Request>
absl::Status ValidateConsentCommand(const Request& request) {
  MEND_RETURN_IF_ERROR(ValidateId("request_id", request.request_id()));
  MEND_RETURN_IF_ERROR(ValidateId("case_id", request.case_id()));
  MEND_RETURN_IF_ERROR(ValidateExpectedVersion(request.has_expected_version(),
                                               request.expected_version(),
                                               "a case's consent stream"));
  return ValidateId("participant_id", request.participant_id());
}

}  // namespace

absl::Status Validate(const v1::RecordConsentRequest& request) {
  MEND_RETURN_IF_ERROR(ValidateConsentCommand(request));
  MEND_RETURN_IF_ERROR(ValidateEnum("scope", request.scope(), v1::ConsentScope_IsValid));
  MEND_RETURN_IF_ERROR(
      ValidateEnum("answer", request.answer(), v1::ConsentAnswer_IsValid));
  if (!request.has_informed()) return Invalid("informed", "is required");
  MEND_RETURN_IF_ERROR(ValidateInformed(request.informed(), /*leaflet_required=*/true));
  if (request.requested_by_participant() && request.answer() != v1::GIVEN) {
    return Invalid("requested_by_participant",
                   "may be true only with answer GIVEN (a person asks for contact, not "
                   "for a decline)");
  }
  return absl::OkStatus();
}

absl::Status Validate(const v1::WithdrawConsentRequest& request) {
  MEND_RETURN_IF_ERROR(ValidateConsentCommand(request));
  if (request.all_scopes()) {
    if (request.scope() != v1::CONSENT_SCOPE_UNSPECIFIED) {
      return Invalid("scope", "must be unspecified when all_scopes is true");
    }
  } else if (request.scope() == v1::CONSENT_SCOPE_UNSPECIFIED) {
    return Invalid("scope", "is required (or set all_scopes to withdraw every scope)");
  } else if (!v1::ConsentScope_IsValid(request.scope())) {
    return Invalid("scope", absl::StrCat("has unknown value ", request.scope()));
  }
  if (!request.has_informed()) return Invalid("informed", "is required");
  return ValidateInformed(request.informed(), /*leaflet_required=*/false);
}

absl::Status Validate(const v1::GetConsentsRequest& request) {
  return ValidateId("case_id", request.case_id());
}

absl::Status Validate(const v1::DecideContactRequest& request) {
  MEND_RETURN_IF_ERROR(ValidateId("request_id", request.request_id()));
  MEND_RETURN_IF_ERROR(ValidateId("case_id", request.case_id()));
  MEND_RETURN_IF_ERROR(
      ValidateEnum("kind", request.kind(), ::mend::common::v1::ContactKind_IsValid));
  MEND_RETURN_IF_ERROR(ValidateOptionalId("victim_id", request.victim_id()));
  MEND_RETURN_IF_ERROR(ValidateOptionalId("facilitator_id", request.facilitator_id()));
  return ValidateCode("purpose", request.purpose());
}

absl::Status Validate(const v1::GetDecisionRequest& request) {
  return ValidateId("decision_id", request.decision_id());
}

absl::Status Validate(const v1::ListDecisionsRequest& request) {
  MEND_RETURN_IF_ERROR(ValidateId("case_id", request.case_id()));
  if (request.page_size() < 0 || request.page_size() > kMaxDecisionsPageSize) {
    return Invalid("page_size",
                   absl::StrCat("must be 0 (default 50) to ", kMaxDecisionsPageSize,
                                "; got ", request.page_size()));
  }
  if (request.page_token().size() > kMaxPageTokenLength) {
    return Invalid(
        "page_token",
        absl::StrCat("is ", request.page_token().size(), " bytes; the limit is ",
                     kMaxPageTokenLength, " (not a page token)"));
  }
  return absl::OkStatus();
}

absl::Status Validate(const v1::ExplainDecisionRequest& request) {
  return ValidateId("decision_id", request.decision_id());
}

}  // namespace mend::consentsvc
