// What makes two requests "the same request" (DESIGN, "Ids"): a retry is the
// same id with the same content, and only then gets the original answer.
#ifndef MEND_COMMON_RUNTIME_REQUEST_DIGEST_H_
#define MEND_COMMON_RUNTIME_REQUEST_DIGEST_H_

#include <string>

namespace google::protobuf {
class Message;
}  // namespace google::protobuf

namespace mend {

// 32 lower-case hex digits: the first 16 bytes of the SHA-256 of the request's
// canonical form — a copy with the top-level fields `request_id` (the name of
// the request, not its content) and `causal_token` (how fresh the caller's
// reading is, not what it asks) cleared and unknown fields dropped,
// serialized deterministically. Equal for requests equal in every other
// field; thread-safe.
std::string RequestDigest(const google::protobuf::Message& request);

}  // namespace mend

#endif  // MEND_COMMON_RUNTIME_REQUEST_DIGEST_H_
