// The validators every service's request validation shares: ids, codes,
// enums and dates. Each returns OK or INVALID_ARGUMENT "<field>: <problem>",
// naming the field as the proto does, so a caller can fix the request.
//
//   MEND_RETURN_IF_ERROR(ValidateId("case_id", request.case_id()));
//   MEND_RETURN_IF_ERROR(ValidateCode("reason", request.reason()));
//
// Every plain-text string a command stores is one of these — an id or a code,
// each with a strict pattern and length — or it is sealed with a person's
// key: plain text in a log can never be erased (I6), so nothing free-form
// (a name, a phone number, a sentence about someone) may land there. Ids and
// codes admit no spaces, so they cannot carry a sentence.
//
// Pure functions, no clock: a date "not after today" is checked by a decide
// function against CommandContext::now (ParseDate, DateNotAfter).
#ifndef MEND_COMMON_BASE_VALIDATION_H_
#define MEND_COMMON_BASE_VALIDATION_H_

#include <cstddef>
#include <cstdint>
#include <string>
#include <string_view>

#include "absl/status/status.h"
#include "absl/status/statusor.h"
#include "absl/strings/str_cat.h"
#include "absl/time/civil_time.h"

namespace mend {

// INVALID_ARGUMENT "<field>: <problem>" (or "<command>: <problem>"): how every
// validator and decide function of a service says what is wrong.
absl::Status Invalid(std::string_view field, std::string_view problem);

// A command's optional expected_version: when given, at least 1 (`stream`,
// e.g. "a case's schedule stream", exists from version 1; 0 would mean no
// stream).
absl::Status ValidateExpectedVersion(bool has, uint64_t value, std::string_view stream);

// Ids: [A-Za-z0-9._:-]{1,128} (request, case, participant, assessment,
// facilitator and decision ids; server-made UUIDs fit).
inline constexpr size_t kMaxIdLength = 128;
// Codes: [A-Za-z0-9._-]{1,32} (leaflet versions, reasons, purposes).
inline constexpr size_t kMaxCodeLength = 32;

absl::Status ValidateId(std::string_view field, std::string_view value);
// The same, but empty is allowed (the server makes one, or it is optional).
absl::Status ValidateOptionalId(std::string_view field, std::string_view value);

// A short code, required unless `required` is false (then empty is OK).
absl::Status ValidateCode(std::string_view field, std::string_view value,
                          bool required = true);

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

// YYYY-MM-DD naming a real date ("2026-02-30" is not), years 1900..9999.
absl::StatusOr<absl::CivilDay> ParseDate(std::string_view field, std::string_view value);
absl::Status ValidateDate(std::string_view field, std::string_view value);

// `value` (a date) is not after `latest`; INVALID_ARGUMENT naming the field,
// the latest date allowed and `why` otherwise (and as ParseDate).
absl::Status DateNotAfter(std::string_view field, std::string_view value,
                          absl::CivilDay latest, std::string_view why);

}  // namespace mend

#endif  // MEND_COMMON_BASE_VALIDATION_H_
