// Signing keys and bearer tokens for tests.
#ifndef MEND_TESTS_SUPPORT_TOKENS_H_
#define MEND_TESTS_SUPPORT_TOKENS_H_

#include <string>

#include "common/security/auth.h"

namespace mend::testing {

struct KeyPair {
  std::string private_pem;  // PKCS#8
  std::string public_pem;   // SubjectPublicKeyInfo
};

// A fresh EC P-256 key pair (ES256).
KeyPair NewSigningKey();

// A token for `role`, valid for an hour, signed with `key` (a fresh key when
// none is given: enough for servers in development mode).
std::string TokenFor(Role role, const std::string& subject = "tester",
                     const KeyPair* key = nullptr);

}  // namespace mend::testing

#endif  // MEND_TESTS_SUPPORT_TOKENS_H_
