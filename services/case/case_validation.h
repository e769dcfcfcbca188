// Input validation for mend.case.v1.CaseService requests: the checks that
// need no state. Each function returns OK or INVALID_ARGUMENT naming the
// field (as the proto names it, e.g. "participants[1].details.full_name") and
// what is wrong, so a caller can fix the request. Rules that depend on the
// case (its stage, its participants, the caller's allocation) are the
// domain's (case_decide.h) and come after these.
//
// Every plain-text string a command stores is an id or a code
// (common/base/validation.h: ids [A-Za-z0-9._:-]{1,128}, codes
// [A-Za-z0-9._-]{1,32}) or is sealed with a person's key before it is
// stored; the table of stored fields is in README.md (Case service, "What is
// stored in plain text"). Limits of the sealed text: names and short text up
// to 200 bytes, free text (summaries, notes, needs) up to 4000, no control
// characters (free text may have line breaks and tabs). Dates are real
// calendar dates written YYYY-MM-DD; how far ahead they may be depends on
// the time, so the decide functions check that against ctx.now. Enums must
// be set and known.
#ifndef MEND_SERVICES_CASE_CASE_VALIDATION_H_
#define MEND_SERVICES_CASE_CASE_VALIDATION_H_

#include <cstddef>

#include "absl/status/status.h"
#include "common/base/validation.h"
#include "mend/case/v1/case_service.pb.h"

namespace mend::casesvc {

inline constexpr size_t kMaxShortText = 200;  // sealed: names, phone, email
inline constexpr size_t kMaxLongText = 4000;  // sealed: summaries, notes, needs
inline constexpr int kMaxParticipantsPerReferral = 20;

absl::Status Validate(const case_::v1::ReferCaseRequest& request);
absl::Status Validate(const case_::v1::AddParticipantRequest& request);
absl::Status Validate(const case_::v1::AllocateFacilitatorRequest& request);
absl::Status Validate(const case_::v1::ReleaseFacilitatorRequest& request);
absl::Status Validate(const case_::v1::RecordAcknowledgementRequest& request);
absl::Status Validate(const case_::v1::RecordRiskAssessmentRequest& request);
absl::Status Validate(const case_::v1::ApproveRiskAssessmentRequest& request);
absl::Status Validate(const case_::v1::RecordSuitabilityRequest& request);
absl::Status Validate(const case_::v1::PauseCaseRequest& request);
absl::Status Validate(const case_::v1::ResumeCaseRequest& request);
absl::Status Validate(const case_::v1::CloseCaseRequest& request);
absl::Status Validate(const case_::v1::EraseParticipantRequest& request);
absl::Status Validate(const case_::v1::LinkParticipantRequest& request);
absl::Status Validate(const case_::v1::GetCaseRequest& request);
absl::Status Validate(const case_::v1::ListCasesRequest& request);

}  // namespace mend::casesvc

#endif  // MEND_SERVICES_CASE_CASE_VALIDATION_H_
