#include "common/base/page_token.h"

#include "absl/status/status.h"
#include "absl/strings/escaping.h"
#include "absl/strings/numbers.h"
#include "absl/strings/str_cat.h"

namespace mend {
namespace {

constexpr std::string_view kFormat = "mend-page/1/";

std::string Prefix(std::string_view method) {
  return absl::StrCat(std::string(kFormat), std::string(method), "/");
}

absl::Status NotOurs(std::string_view method) {
  return absl::InvalidArgumentError(absl::StrCat(
      "page_token: not a token from a previous ", std::string(method),
      " response (pass next_page_token exactly as it was given, or none for the "
      "first page)"));
}

}  // namespace

std::string EncodePageToken(std::string_view method, std::string_view key) {
  return absl::WebSafeBase64Escape(absl::StrCat(Prefix(method), std::string(key)));
}

absl::StatusOr<std::string> DecodePageToken(std::string_view method,
                                            std::string_view token) {
  if (token.empty()) return std::string();
  std::string plain;
  if (!absl::WebSafeBase64Unescape(std::string(token), &plain)) return NotOurs(method);
  // The encoding must be the canonical one: a token re-encodes to itself.
  if (absl::WebSafeBase64Escape(plain) != token) return NotOurs(method);
  const std::string prefix = Prefix(method);
  if (!std::string_view(plain).starts_with(prefix) || plain.size() == prefix.size()) {
    return NotOurs(method);
  }
  return plain.substr(prefix.size());
}

absl::StatusOr<uint64_t> DecodePositionPageToken(std::string_view method,
                                                 std::string_view token) {
  absl::StatusOr<std::string> key = DecodePageToken(method, token);
  if (!key.ok()) return key.status();
  if (key->empty()) return 0;
  uint64_t position = 0;
  if (!absl::SimpleAtoi(*key, &position) || position == 0 ||
      absl::StrCat(position) != *key) {
    return NotOurs(method);
  }
  return position;
}

}  // namespace mend
