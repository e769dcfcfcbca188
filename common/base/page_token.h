// Page tokens for every paged read (ListCases, ListDecisions, ...): opaque to
// callers, and refused unless this service made them for this method.
//
//   std::string token = EncodePageToken("ListCases", last_case_id);
//   MEND_ASSIGN_OR_RETURN(std::string after, DecodePageToken("ListCases", token));
//
// A token is web-safe base64 (no padding) of "mend-page/1/<method>/<key>",
// where key is the method's cursor (the last id or position of the page
// before). It is a cursor, not a secret: a caller who forges one learns
// nothing it could not read with its own role.
#ifndef MEND_COMMON_BASE_PAGE_TOKEN_H_
#define MEND_COMMON_BASE_PAGE_TOKEN_H_

#include <cstdint>
#include <string>
#include <string_view>

#include "absl/status/statusor.h"

namespace mend {

// The token for the page after `key` of `method`. `key` must not be empty.
std::string EncodePageToken(std::string_view method, std::string_view key);

// The key of a token EncodePageToken(method, key) made. "" for an empty token
// (the first page). INVALID_ARGUMENT ("page_token: ...") for anything else:
// not base64, another format or version, another method's token, no key.
absl::StatusOr<std::string> DecodePageToken(std::string_view method,
                                            std::string_view token);

// For cursors that are positions: the key as a number > 0 (0 for an empty
// token). INVALID_ARGUMENT as above, or for a key that is not one.
absl::StatusOr<uint64_t> DecodePositionPageToken(std::string_view method,
                                                 std::string_view token);

}  // namespace mend

#endif  // MEND_COMMON_BASE_PAGE_TOKEN_H_
