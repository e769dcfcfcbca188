// Input validation for mend.consent.v1.ConsentService requests: the checks
// that need no state. Each function returns OK or INVALID_ARGUMENT naming the
// field (as the proto names it, e.g. "informed.leaflet_version") and what is
// wrong, so a caller can fix the request. Rules that depend on the case (its
// participants and stage, the caller's allocation) are the domain's
// (consent_decide.h, contact_rule.h) and come after these.
//
// Limits (common/base/validation.h): ids [A-Za-z0-9._:-]{1,128}; a leaflet
// version and a purpose are short codes [A-Za-z0-9._-]{1,32} — they are
// stored in plain text in the consent log, which can never be erased, so no
// free text (a phone number once went into a leaflet version); enums must be
// set and known to this build. Causal tokens are not checked (any positions
// are meaningful; the wait is bounded by the deadline).
#ifndef MEND_SERVICES_CONSENT_CONSENT_VALIDATION_H_
#define MEND_SERVICES_CONSENT_CONSENT_VALIDATION_H_

#include <cstddef>

#include "absl/status/status.h"
#include "mend/consent/v1/consent_service.pb.h"

namespace mend::consentsvc {

inline constexpr int kMaxDecisionsPageSize = 200;
inline constexpr size_t kMaxPageTokenLength = 256;

// request_id, case_id, participant_id required; scope and answer set and
// known; informed.leaflet_version (a code) and informed.channel required;
// requested_by_participant only with answer GIVEN; expected_version, when
// given, at least 1.
absl::Status Validate(const consent::v1::RecordConsentRequest& request);
// request_id, case_id, participant_id required; exactly one of `scope` (set
// and known) or `all_scopes`; informed.channel required,
// informed.leaflet_version optional (a code when given); expected_version,
// when given, at least 1.
absl::Status Validate(const consent::v1::WithdrawConsentRequest& request);
// case_id required.
absl::Status Validate(const consent::v1::GetConsentsRequest& request);
// request_id, case_id required; kind set and known; victim_id and
// facilitator_id valid ids when given; purpose a code, required.
absl::Status Validate(const consent::v1::DecideContactRequest& request);
// decision_id required.
absl::Status Validate(const consent::v1::GetDecisionRequest& request);
// case_id required; page_size 0..200; page_token at most 256 bytes.
absl::Status Validate(const consent::v1::ListDecisionsRequest& request);
// decision_id required.
absl::Status Validate(const consent::v1::ExplainDecisionRequest& request);

}  // namespace mend::consentsvc

#endif  // MEND_SERVICES_CONSENT_CONSENT_VALIDATION_H_
