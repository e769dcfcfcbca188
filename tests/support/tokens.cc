#include "tests/support/tokens.h"

#include <openssl/bio.h>
#include <openssl/evp.h>
#include <openssl/pem.h>

#include <cstdlib>
#include <memory>

#include "absl/time/clock.h"

namespace mend::testing {
namespace {

std::string BioToString(BIO* bio) {
  char* data = nullptr;
  const long n = BIO_get_mem_data(bio, &data);
  return std::string(data, static_cast<size_t>(n));
}

}  // namespace

KeyPair NewSigningKey() {
  EVP_PKEY* key = EVP_EC_gen("P-256");
  if (key == nullptr) std::abort();
  BIO* priv = BIO_new(BIO_s_mem());
  BIO* pub = BIO_new(BIO_s_mem());
  PEM_write_bio_PrivateKey(priv, key, nullptr, nullptr, 0, nullptr, nullptr);
  PEM_write_bio_PUBKEY(pub, key);
  KeyPair out{BioToString(priv), BioToString(pub)};
  BIO_free(priv);
  BIO_free(pub);
  EVP_PKEY_free(key);
  return out;
}

std::string TokenFor(Role role, const std::string& subject, const KeyPair* key) {
  static const KeyPair* default_key = new KeyPair(NewSigningKey());
  const KeyPair& k = key != nullptr ? *key : *default_key;
  absl::StatusOr<std::string> token =
      MintToken(k.private_pem, subject, role, absl::Hours(1), absl::Now());
  if (!token.ok()) std::abort();
  return *token;
}

}  // namespace mend::testing
