#include "common/base/validation.h"

#include <algorithm>

#include "absl/strings/str_cat.h"

namespace mend {

absl::Status Invalid(std::string_view field, std::string_view problem) {
  return absl::InvalidArgumentError(
      absl::StrCat(std::string(field), ": ", std::string(problem)));
}

absl::Status ValidateExpectedVersion(bool has, uint64_t value, std::string_view stream) {
  // Version 0 is "no stream": never right for a command on an existing
  // aggregate.
  if (has && value == 0) {
    return Invalid("expected_version",
                   absl::StrCat("must be at least 1 (", std::string(stream),
                                " exists from version 1)"));
  }
  return absl::OkStatus();
}

namespace {

bool IsAlnum(char c) {
  return (c >= 'A' && c <= 'Z') || (c >= 'a' && c <= 'z') || (c >= '0' && c <= '9');
}

// `value` is 1..`limit` characters, each alphanumeric or one of `extra`.
absl::Status CheckPattern(std::string_view field, std::string_view value, size_t limit,
                          std::string_view extra, std::string_view what) {
  if (value.empty()) return Invalid(field, "is required");
  if (value.size() > limit) {
    return Invalid(field,
                   absl::StrCat("is ", value.size(), " bytes; the limit is ", limit));
  }
  if (!std::all_of(value.begin(), value.end(), [extra](char c) {
        return IsAlnum(c) || extra.find(c) != std::string_view::npos;
      })) {
    return Invalid(field,
                   absl::StrCat("must be ", std::string(what), " [A-Za-z0-9",
                                std::string(extra), "] (no spaces, no free text)"));
  }
  return absl::OkStatus();
}

}  // namespace

absl::Status ValidateId(std::string_view field, std::string_view value) {
  return CheckPattern(field, value, kMaxIdLength, "._:-", "an id of");
}

absl::Status ValidateOptionalId(std::string_view field, std::string_view value) {
  return value.empty() ? absl::OkStatus() : ValidateId(field, value);
}

absl::Status ValidateCode(std::string_view field, std::string_view value, bool required) {
  if (value.empty() && !required) return absl::OkStatus();
  return CheckPattern(field, value, kMaxCodeLength, "._-", "a short code of");
}

absl::StatusOr<absl::CivilDay> ParseDate(std::string_view field, std::string_view value) {
  absl::CivilDay day;
  if (value.size() != 10 || value[4] != '-' || value[7] != '-' ||
      !absl::ParseCivilTime(std::string(value), &day) ||
      absl::FormatCivilTime(day) != value || day.year() < 1900) {
    return Invalid(field, "must be a real date written YYYY-MM-DD");
  }
  return day;
}

absl::Status ValidateDate(std::string_view field, std::string_view value) {
  return ParseDate(field, value).status();
}

absl::Status DateNotAfter(std::string_view field, std::string_view value,
                          absl::CivilDay latest, std::string_view why) {
  absl::StatusOr<absl::CivilDay> day = ParseDate(field, value);
  if (!day.ok()) return day.status();
  if (*day > latest) {
    return Invalid(
        field, absl::StrCat("is ", std::string(value), ", after ",
                            absl::FormatCivilTime(latest), " (", std::string(why), ")"));
  }
  return absl::OkStatus();
}

}  // namespace mend
