// Input validation for mend.case.v1.CaseService requests: the checks that
// need no state. Each function returns OK or INVALID_ARGUMENT naming the
// field (as the proto names it, e.g. "participants[1].details.full_name") and
// what is wrong, so a caller can fix the request. Rules that depend on the
// case (its stage, its participants, the caller's allocation) are the
// domain's (case_decide.h) and come after these.
//
// Limits: ids 1-128 printable ASCII characters without spaces; names and
// short text up to 200 characters; free text (summaries, notes, needs) up to
// 4000; dates YYYY-MM-DD and real calendar dates; enums must be set and known.
#ifndef MEND_SERVICES_CASE_CASE_VALIDATION_H_
#define MEND_SERVICES_CASE_CASE_VALIDATION_H_

#include <string>
#include <string_view>

#include "absl/status/status.h"
#include "absl/strings/str_cat.h"
#include "mend/case/v1/case_service.pb.h"

namespace mend::casesvc {

inline constexpr size_t kMaxIdLength = 128;
inline constexpr size_t kMaxShortText = 200;
inline constexpr size_t kMaxLongText = 4000;
inline constexpr int kMaxParticipantsPerReferral = 20;

// A caller-supplied id (request ids, case ids, participant ids, ...).
absl::Status ValidateId(std::string_view field, std::string_view value);
// The same, but empty is allowed (the server makes one).
absl::Status ValidateOptionalId(std::string_view field, std::string_view value);
// YYYY-MM-DD naming a real date.
absl::Status ValidateDate(std::string_view field, std::string_view value);

// An enum field's value: set (not *_UNSPECIFIED = 0) and known to this build
// (`is_valid` is the generated <Enum>_IsValid).
template <typename IsValid>
absl::Status ValidateEnum(std::string_view field, int value, IsValid is_valid) {
  if (value == 0) {
    return absl::InvalidArgumentError(absl::StrCat(std::string(field), ": is required"));
  }
  if (!is_valid(value)) {
    return absl::InvalidArgumentError(
        absl::StrCat(std::string(field), ": has unknown value ", value));
  }
  return absl::OkStatus();
}

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
