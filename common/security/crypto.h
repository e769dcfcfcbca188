// Small AES-256-GCM and randomness helpers over OpenSSL 3, for the per-person
// data keys of invariant I6 (see common/key_store.h).
//
//   MEND_ASSIGN_OR_RETURN(std::string key, crypto::RandomBytes(crypto::kKeySize));
//   MEND_ASSIGN_OR_RETURN(std::string sealed, crypto::Seal(key, "secret", "field"));
//   MEND_ASSIGN_OR_RETURN(std::string plain, crypto::Open(key, sealed, "field"));
//
// A sealed value is  nonce[12] || ciphertext[n] || tag[16]  with a fresh
// random nonce per call, so it is 28 bytes longer than its plaintext. The
// associated data is authenticated but not stored: Open must be given the same
// bytes, which is how a ciphertext is bound to where it belongs.
//
// Random 96-bit nonces keep a key safe for about 2^32 Seal calls; a
// per-person key never comes near that.
//
// Thread safety: every function may be called concurrently.
#ifndef MEND_COMMON_SECURITY_CRYPTO_H_
#define MEND_COMMON_SECURITY_CRYPTO_H_

#include <cstddef>
#include <string>
#include <string_view>

#include "absl/status/status.h"
#include "absl/status/statusor.h"

namespace mend::crypto {

inline constexpr size_t kKeySize = 32;    // AES-256
inline constexpr size_t kNonceSize = 12;  // GCM's standard IV
inline constexpr size_t kTagSize = 16;    // full-length GCM tag
inline constexpr size_t kSealOverhead = kNonceSize + kTagSize;
// Upper limit on plaintext and associated data (OpenSSL counts in int).
inline constexpr size_t kMaxSealInput = size_t{1} << 30;

// `n` bytes from OpenSSL's CSPRNG. INTERNAL if it fails (not seeded);
// INVALID_ARGUMENT if n exceeds kMaxSealInput.
absl::StatusOr<std::string> RandomBytes(size_t n);

// Encrypts and authenticates `plaintext`, and authenticates
// `associated_data`, under `key`. Returns nonce || ciphertext || tag.
//   INVALID_ARGUMENT  key is not kKeySize bytes, or an input exceeds
//                     kMaxSealInput.
//   INTERNAL          OpenSSL failed (no randomness, no AES-GCM).
absl::StatusOr<std::string> Seal(std::string_view key, std::string_view plaintext,
                                 std::string_view associated_data);

// Checks and decrypts what Seal returned.
//   INVALID_ARGUMENT  key is not kKeySize bytes, or an input exceeds
//                     kMaxSealInput.
//   DATA_LOSS         `sealed` is shorter than kSealOverhead, or it fails
//                     authentication: a changed byte, another key, or other
//                     associated data. No plaintext is released.
//   INTERNAL          OpenSSL failed.
absl::StatusOr<std::string> Open(std::string_view key, std::string_view sealed,
                                 std::string_view associated_data);

// Overwrites the string's bytes with zeros in a way the compiler keeps
// (OPENSSL_cleanse), then clears it. For keys and plaintexts that should not
// linger in freed memory.
void Cleanse(std::string& secret);

// Hex (either case, even length) to bytes. INVALID_ARGUMENT otherwise; the
// message never echoes the input, which may be secret.
absl::StatusOr<std::string> HexDecode(std::string_view hex);

}  // namespace mend::crypto

#endif  // MEND_COMMON_SECURITY_CRYPTO_H_
