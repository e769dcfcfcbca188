// SHA-256 through OpenSSL 3's SHA-256 functions (not EVP: its per-call
// context setup costs a fifth of hashing a tree node; see sha256.cc).
#ifndef MEND_COMMON_BASE_SHA256_H_
#define MEND_COMMON_BASE_SHA256_H_

#include <array>
#include <cstdint>
#include <string>
#include <string_view>

namespace mend {

inline constexpr size_t kSha256Size = 32;
using Sha256Digest = std::array<uint8_t, kSha256Size>;

// Digest of the concatenation of `parts`. Thread-safe.
Sha256Digest Sha256(std::initializer_list<std::string_view> parts);
inline Sha256Digest Sha256(std::string_view data) { return Sha256({data}); }

// The digest as 32 raw bytes in a string (the form stored in records).
std::string Sha256Bytes(std::string_view data);

// Lower-case hex, for logs and tools.
std::string HexEncode(std::string_view bytes);

inline std::string_view AsStringView(const Sha256Digest& d) {
  return {reinterpret_cast<const char*>(d.data()), d.size()};
}

}  // namespace mend

#endif  // MEND_COMMON_BASE_SHA256_H_
