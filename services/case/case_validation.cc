#include "services/case/case_validation.h"

#include <algorithm>
#include <string>

#include "absl/strings/str_cat.h"
#include "absl/time/time.h"
#include "common/base/status_macros.h"
#include "common/base/validation.h"
#include "mend/common/v1/contact.pb.h"

namespace mend::casesvc {
namespace {

using case_::v1::NewParticipant;
using case_::v1::ParticipantRole;

bool HasControlCharacters(std::string_view text, bool allow_newlines) {
  return std::any_of(text.begin(), text.end(), [allow_newlines](char c) {
    const auto u = static_cast<unsigned char>(c);
    if (allow_newlines && (c == '\n' || c == '\t' || c == '\r')) return false;
    return u < 0x20 || u == 0x7f;
  });
}

absl::Status ValidateText(std::string_view field, std::string_view value, size_t limit,
                          bool required, bool long_text) {
  if (value.empty()) {
    return required ? Invalid(field, "is required") : absl::OkStatus();
  }
  if (value.size() > limit) {
    return Invalid(field,
                   absl::StrCat("is ", value.size(), " bytes; the limit is ", limit));
  }
  if (HasControlCharacters(value, long_text)) {
    return Invalid(field, "contains control characters");
  }
  return absl::OkStatus();
}

absl::Status ShortText(std::string_view field, std::string_view value, bool required) {
  return ValidateText(field, value, kMaxShortText, required, /*long_text=*/false);
}

absl::Status LongText(std::string_view field, std::string_view value, bool required) {
  return ValidateText(field, value, kMaxLongText, required, /*long_text=*/true);
}

absl::Status ValidateParticipant(const std::string& prefix, const NewParticipant& p) {
  MEND_RETURN_IF_ERROR(
      ValidateOptionalId(prefix + ".participant_id", p.participant_id()));
  MEND_RETURN_IF_ERROR(
      ValidateEnum(prefix + ".role", p.role(), case_::v1::ParticipantRole_IsValid));
  const bool supports =
      p.role() == case_::v1::SUPPORTER || p.role() == case_::v1::INTERPRETER;
  if (supports) {
    MEND_RETURN_IF_ERROR(
        ValidateId(prefix + ".supports_participant_id", p.supports_participant_id()));
  } else if (!p.supports_participant_id().empty()) {
    return Invalid(prefix + ".supports_participant_id",
                   "is only for SUPPORTER and INTERPRETER participants");
  }
  const auto& d = p.details();
  MEND_RETURN_IF_ERROR(ShortText(prefix + ".details.full_name", d.full_name(), true));
  MEND_RETURN_IF_ERROR(
      ShortText(prefix + ".details.preferred_name", d.preferred_name(), false));
  if (!d.date_of_birth().empty()) {
    MEND_RETURN_IF_ERROR(
        ValidateDate(prefix + ".details.date_of_birth", d.date_of_birth()));
  }
  MEND_RETURN_IF_ERROR(ShortText(prefix + ".details.phone", d.phone(), false));
  MEND_RETURN_IF_ERROR(ShortText(prefix + ".details.email", d.email(), false));
  MEND_RETURN_IF_ERROR(
      LongText(prefix + ".details.postal_address", d.postal_address(), false));
  const auto& n = p.needs();
  MEND_RETURN_IF_ERROR(ShortText(prefix + ".needs.language", n.language(), false));
  MEND_RETURN_IF_ERROR(LongText(prefix + ".needs.access", n.access(), false));
  MEND_RETURN_IF_ERROR(LongText(prefix + ".needs.notes", n.notes(), false));
  return absl::OkStatus();
}

// The fields every command on an existing case has.
template <typename Request>
absl::Status ValidateCommand(const Request& request) {
  MEND_RETURN_IF_ERROR(ValidateId("request_id", request.request_id()));
  MEND_RETURN_IF_ERROR(ValidateId("case_id", request.case_id()));
  return ValidateExpectedVersion(request.has_expected_version(),
                                 request.expected_version(), "a case");
}

}  // namespace

absl::Status Validate(const case_::v1::ReferCaseRequest& request) {
  MEND_RETURN_IF_ERROR(ValidateId("request_id", request.request_id()));
  MEND_RETURN_IF_ERROR(
      ValidateEnum("source", request.source(), case_::v1::ReferralSource_IsValid));
  MEND_RETURN_IF_ERROR(ValidateDate("referral_date", request.referral_date()));
  MEND_RETURN_IF_ERROR(ValidateEnum("offence_category", request.offence_category(),
                                    case_::v1::OffenceCategory_IsValid));
  MEND_RETURN_IF_ERROR(LongText("offence_summary", request.offence_summary(), true));
  if (request.participants_size() > kMaxParticipantsPerReferral) {
    return Invalid("participants",
                   absl::StrCat("has ", request.participants_size(), "; the limit is ",
                                kMaxParticipantsPerReferral));
  }
  int service_users = 0;
  int victims = 0;
  for (int i = 0; i < request.participants_size(); ++i) {
    const NewParticipant& p = request.participants(i);
    MEND_RETURN_IF_ERROR(ValidateParticipant(absl::StrCat("participants[", i, "]"), p));
    if (p.role() == case_::v1::SERVICE_USER) ++service_users;
    if (p.role() == case_::v1::VICTIM) ++victims;
  }
  if (service_users != 1) {
    return Invalid(
        "participants",
        absl::StrCat("must name exactly one SERVICE_USER (has ", service_users, ")"));
  }
  if (victims == 0) return Invalid("participants", "must name at least one VICTIM");
  return absl::OkStatus();
}

absl::Status Validate(const case_::v1::AddParticipantRequest& request) {
  MEND_RETURN_IF_ERROR(ValidateCommand(request));
  if (!request.has_participant()) return Invalid("participant", "is required");
  MEND_RETURN_IF_ERROR(ValidateParticipant("participant", request.participant()));
  const ParticipantRole role = request.participant().role();
  if (role != case_::v1::CO_VICTIM && role != case_::v1::SUPPORTER &&
      role != case_::v1::INTERPRETER) {
    return Invalid("participant.role",
                   "must be CO_VICTIM, SUPPORTER or INTERPRETER (the service user and "
                   "victims are named at referral)");
  }
  return absl::OkStatus();
}

absl::Status Validate(const case_::v1::AllocateFacilitatorRequest& request) {
  MEND_RETURN_IF_ERROR(ValidateCommand(request));
  return ValidateId("facilitator_id", request.facilitator_id());
}

absl::Status Validate(const case_::v1::ReleaseFacilitatorRequest& request) {
  MEND_RETURN_IF_ERROR(ValidateCommand(request));
  return ValidateId("facilitator_id", request.facilitator_id());
}

absl::Status Validate(const case_::v1::RecordAcknowledgementRequest& request) {
  MEND_RETURN_IF_ERROR(ValidateCommand(request));
  return LongText("notes", request.notes(), false);
}

absl::Status Validate(const case_::v1::RecordRiskAssessmentRequest& request) {
  MEND_RETURN_IF_ERROR(ValidateCommand(request));
  MEND_RETURN_IF_ERROR(ValidateOptionalId("assessment_id", request.assessment_id()));
  MEND_RETURN_IF_ERROR(
      ValidateEnum("level", request.level(), case_::v1::RiskLevel_IsValid));
  for (int i = 0; i < request.allowed_kinds_size(); ++i) {
    MEND_RETURN_IF_ERROR(ValidateEnum(absl::StrCat("allowed_kinds[", i, "]"),
                                      request.allowed_kinds(i),
                                      mend::common::v1::ContactKind_IsValid));
    for (int j = 0; j < i; ++j) {
      if (request.allowed_kinds(j) == request.allowed_kinds(i)) {
        return Invalid(absl::StrCat("allowed_kinds[", i, "]"), "repeats an earlier kind");
      }
    }
  }
  MEND_RETURN_IF_ERROR(ValidateDate("review_date", request.review_date()));
  return LongText("notes", request.notes(), false);
}

absl::Status Validate(const case_::v1::ApproveRiskAssessmentRequest& request) {
  MEND_RETURN_IF_ERROR(ValidateCommand(request));
  return ValidateId("assessment_id", request.assessment_id());
}

absl::Status Validate(const case_::v1::RecordSuitabilityRequest& request) {
  MEND_RETURN_IF_ERROR(ValidateCommand(request));
  if (request.suitable()) {
    if (request.reason() != case_::v1::UNSUITABLE_REASON_UNSPECIFIED) {
      return Invalid("reason", "is only for an unsuitable finding");
    }
    return absl::OkStatus();
  }
  return ValidateEnum("reason", request.reason(), case_::v1::UnsuitableReason_IsValid);
}

absl::Status Validate(const case_::v1::PauseCaseRequest& request) {
  MEND_RETURN_IF_ERROR(ValidateCommand(request));
  return ValidateCode("reason", request.reason());
}

absl::Status Validate(const case_::v1::ResumeCaseRequest& request) {
  return ValidateCommand(request);
}

absl::Status Validate(const case_::v1::CloseCaseRequest& request) {
  MEND_RETURN_IF_ERROR(ValidateCommand(request));
  return ValidateEnum("reason", request.reason(), case_::v1::ClosureReason_IsValid);
}

absl::Status Validate(const case_::v1::EraseParticipantRequest& request) {
  MEND_RETURN_IF_ERROR(ValidateCommand(request));
  MEND_RETURN_IF_ERROR(ValidateId("participant_id", request.participant_id()));
  MEND_RETURN_IF_ERROR(
      ValidateEnum("basis", request.basis(), case_::v1::ErasureBasis_IsValid));
  return ValidateCode("reason", request.reason());
}

absl::Status Validate(const case_::v1::LinkParticipantRequest& request) {
  MEND_RETURN_IF_ERROR(ValidateCommand(request));
  MEND_RETURN_IF_ERROR(ValidateId("participant_id", request.participant_id()));
  MEND_RETURN_IF_ERROR(ValidateId("other_case_id", request.other_case_id()));
  MEND_RETURN_IF_ERROR(ValidateExpectedVersion(
      request.has_other_expected_version(), request.other_expected_version(), "a case"));
  MEND_RETURN_IF_ERROR(
      ValidateId("other_participant_id", request.other_participant_id()));
  if (request.other_case_id() == request.case_id()) {
    return Invalid("other_case_id",
                   "must be another case (within a case each participant is one person)");
  }
  return ValidateCode("reason", request.reason());
}

absl::Status Validate(const case_::v1::GetCaseRequest& request) {
  return ValidateId("case_id", request.case_id());
}

absl::Status Validate(const case_::v1::ListCasesRequest& request) {
  if (request.stage() != 0 && !case_::v1::Stage_IsValid(request.stage())) {
    return Invalid("stage", absl::StrCat("has unknown value ", request.stage()));
  }
  MEND_RETURN_IF_ERROR(ValidateOptionalId("facilitator_id", request.facilitator_id()));
  if (request.updated_since_unix_micros() < 0) {
    return Invalid("updated_since_unix_micros", "must not be negative");
  }
  if (request.page_size() < 0 || request.page_size() > 200) {
    return Invalid("page_size", "must be 0 (default 50) to 200");
  }
  if (request.page_token().size() > 512)
    return Invalid("page_token", "is not a page token");
  return absl::OkStatus();
}

}  // namespace mend::casesvc
