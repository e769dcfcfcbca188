#include "common/merkle/tree_head.h"

#include <openssl/bio.h>
#include <openssl/err.h>
#include <openssl/evp.h>
#include <openssl/pem.h>
#include <openssl/x509.h>

#include <cerrno>
#include <cstring>
#include <fstream>
#include <limits>
#include <sstream>
#include <utility>

#include "absl/strings/str_cat.h"
#include "common/base/sha256.h"
#include "common/base/status_macros.h"
#include "common/merkle/merkle.h"

namespace mend::merkle {
namespace {

using eventlog::v1::SignedTreeHead;
using eventlog::v1::TreeHead;

constexpr size_t kEd25519SignatureSize = 64;

struct BioDeleter {
  void operator()(BIO* bio) const { BIO_free(bio); }
};
using BioPtr = std::unique_ptr<BIO, BioDeleter>;

struct PkeyDeleter {
  void operator()(EVP_PKEY* key) const { EVP_PKEY_free(key); }
};
using PkeyPtr = std::unique_ptr<EVP_PKEY, PkeyDeleter>;

struct MdCtxDeleter {
  void operator()(EVP_MD_CTX* ctx) const { EVP_MD_CTX_free(ctx); }
};
using MdCtxPtr = std::unique_ptr<EVP_MD_CTX, MdCtxDeleter>;

// An OpenSSL failure: INTERNAL, with the queue's first error, which is then
// cleared.
absl::Status OpenSslError(std::string_view what) {
  const unsigned long code = ERR_peek_error();
  std::string detail = "unknown error";
  if (code != 0) {
    char buffer[256];
    ERR_error_string_n(code, buffer, sizeof(buffer));
    detail = buffer;
  }
  ERR_clear_error();
  return absl::InternalError(
      absl::StrCat("tree head: ", std::string(what), ": ", detail));
}

// Refuses to prompt for a passphrase (OpenSSL's default callback reads the
// terminal): an encrypted key fails to load instead.
int NoPassphrase(char* /*buf*/, int /*size*/, int /*rwflag*/, void* /*u*/) { return -1; }

// Reads the PEM key in `pem` with `read` (PEM_read_bio_PUBKEY or
// PEM_read_bio_PrivateKey); nullptr if there is none.
template <typename ReadFn>
PkeyPtr ReadPemKey(std::string_view pem, ReadFn read) {
  if (pem.size() > static_cast<size_t>(std::numeric_limits<int>::max())) return nullptr;
  BioPtr bio(BIO_new_mem_buf(pem.data(), static_cast<int>(pem.size())));
  PkeyPtr key;
  if (bio != nullptr) key.reset(read(bio.get(), nullptr, NoPassphrase, nullptr));
  // Failed parses leave entries on this thread's OpenSSL error queue.
  ERR_clear_error();
  return key;
}

// The name of a key's type, for messages ("EC", "RSA", ...).
std::string KeyTypeName(const EVP_PKEY* key) {
  const char* name = EVP_PKEY_get0_type_name(key);
  return name != nullptr ? name : "unknown";
}

absl::Status RequireEd25519(const EVP_PKEY* key, std::string_view what) {
  if (EVP_PKEY_get_id(key) == EVP_PKEY_ED25519) return absl::OkStatus();
  return absl::InvalidArgumentError(
      absl::StrCat(std::string(what), " is not an Ed25519 key (it is ", KeyTypeName(key),
                   "); make one with: openssl genpkey -algorithm ed25519"));
}

absl::StatusOr<PkeyPtr> ParsePublicKey(std::string_view public_key_pem) {
  PkeyPtr key = ReadPemKey(public_key_pem, PEM_read_bio_PUBKEY);
  if (key == nullptr) {
    return absl::InvalidArgumentError(
        "tree head public key is not a PEM public key (SubjectPublicKeyInfo, "
        "\"-----BEGIN PUBLIC KEY-----\")");
  }
  MEND_RETURN_IF_ERROR(RequireEd25519(key.get(), "tree head public key"));
  return key;
}

// Lowercase hex SHA-256 of the key's DER SubjectPublicKeyInfo.
absl::StatusOr<std::string> KeyIdOf(EVP_PKEY* key) {
  unsigned char* der = nullptr;
  const int length = i2d_PUBKEY(key, &der);
  if (length <= 0 || der == nullptr) return OpenSslError("cannot DER-encode public key");
  std::string id = HexEncode(Sha256Bytes(
      std::string_view(reinterpret_cast<const char*>(der), static_cast<size_t>(length))));
  OPENSSL_free(der);
  return id;
}

// The key's public half as SubjectPublicKeyInfo PEM.
absl::StatusOr<std::string> PublicPemOf(EVP_PKEY* key) {
  BioPtr bio(BIO_new(BIO_s_mem()));
  if (bio == nullptr || PEM_write_bio_PUBKEY(bio.get(), key) != 1) {
    return OpenSslError("cannot PEM-encode public key");
  }
  char* data = nullptr;
  const long length = BIO_get_mem_data(bio.get(), &data);
  if (length <= 0 || data == nullptr) return OpenSslError("cannot PEM-encode public key");
  return std::string(data, static_cast<size_t>(length));
}

// kTreeHeadContext ‖ head: the bytes an Ed25519 signature covers.
std::string SignedMessage(std::string_view head) {
  return absl::StrCat(kTreeHeadContext, std::string(head));
}

absl::Status CheckRootHash(const TreeHead& head, std::string_view what) {
  if (head.root_hash().size() == kHashSize) return absl::OkStatus();
  return absl::InvalidArgumentError(
      absl::StrCat(std::string(what), " has a root_hash of ", head.root_hash().size(),
                   " bytes, not ", kHashSize));
}

}  // namespace

absl::StatusOr<std::string> KeyId(std::string_view public_key_pem) {
  MEND_ASSIGN_OR_RETURN(PkeyPtr key, ParsePublicKey(public_key_pem));
  return KeyIdOf(key.get());
}

// TreeHeadSigner -------------------------------------------------------------

struct TreeHeadSigner::Key {
  PkeyPtr pkey;  // the Ed25519 private key; only read after construction
};

TreeHeadSigner::TreeHeadSigner(std::unique_ptr<Key> key, std::string public_key_pem,
                               std::string key_id)
    : key_(std::move(key)),
      public_key_pem_(std::move(public_key_pem)),
      key_id_(std::move(key_id)) {}

TreeHeadSigner::~TreeHeadSigner() = default;

absl::StatusOr<std::unique_ptr<TreeHeadSigner>> TreeHeadSigner::FromPem(
    std::string_view pem) {
  PkeyPtr pkey = ReadPemKey(pem, PEM_read_bio_PrivateKey);
  if (pkey == nullptr) {
    return absl::InvalidArgumentError(
        "tree head signing key is not an unencrypted PEM private key (PKCS#8, as "
        "`openssl genpkey -algorithm ed25519` writes it)");
  }
  MEND_RETURN_IF_ERROR(RequireEd25519(pkey.get(), "tree head signing key"));
  MEND_ASSIGN_OR_RETURN(std::string public_pem, PublicPemOf(pkey.get()));
  MEND_ASSIGN_OR_RETURN(std::string key_id, KeyIdOf(pkey.get()));
  auto key = std::make_unique<Key>();
  key->pkey = std::move(pkey);
  return std::unique_ptr<TreeHeadSigner>(
      new TreeHeadSigner(std::move(key), std::move(public_pem), std::move(key_id)));
}

absl::StatusOr<std::unique_ptr<TreeHeadSigner>> TreeHeadSigner::FromPemFile(
    const std::string& path) {
  std::ifstream in(path, std::ios::binary);
  if (!in) {
    return absl::FailedPreconditionError(absl::StrCat(
        "cannot read tree head signing key ", path, ": ", std::strerror(errno)));
  }
  std::ostringstream pem;
  pem << in.rdbuf();
  if (in.bad()) {
    return absl::FailedPreconditionError(
        absl::StrCat("cannot read tree head signing key ", path));
  }
  absl::StatusOr<std::unique_ptr<TreeHeadSigner>> signer = FromPem(pem.str());
  if (!signer.ok()) {
    return absl::Status(signer.status().code(),
                        absl::StrCat(path, ": ", signer.status().message()));
  }
  return signer;
}

absl::StatusOr<SignedTreeHead> TreeHeadSigner::Sign(const TreeHead& head) const {
  MEND_RETURN_IF_ERROR(CheckRootHash(head, "tree head to sign"));
  SignedTreeHead signed_head;
  if (!head.SerializeToString(signed_head.mutable_head())) {
    return absl::InternalError("tree head: cannot serialise the head");
  }
  const std::string message = SignedMessage(signed_head.head());

  // A context per call: the key itself is only read, so Sign is thread-safe.
  MdCtxPtr ctx(EVP_MD_CTX_new());
  if (ctx == nullptr) return OpenSslError("EVP_MD_CTX_new");
  if (EVP_DigestSignInit(ctx.get(), nullptr, nullptr, nullptr, key_->pkey.get()) != 1) {
    return OpenSslError("EVP_DigestSignInit");
  }
  size_t length = 0;
  const auto* data = reinterpret_cast<const unsigned char*>(message.data());
  if (EVP_DigestSign(ctx.get(), nullptr, &length, data, message.size()) != 1) {
    return OpenSslError("EVP_DigestSign (length)");
  }
  std::string signature(length, '\0');
  if (EVP_DigestSign(ctx.get(), reinterpret_cast<unsigned char*>(signature.data()),
                     &length, data, message.size()) != 1) {
    return OpenSslError("EVP_DigestSign");
  }
  signature.resize(length);
  signed_head.set_signature(std::move(signature));
  signed_head.set_key_id(key_id_);
  return signed_head;
}

// VerifyTreeHead -------------------------------------------------------------

absl::StatusOr<TreeHead> VerifyTreeHead(const SignedTreeHead& signed_head,
                                        std::string_view public_key_pem) {
  MEND_ASSIGN_OR_RETURN(PkeyPtr key, ParsePublicKey(public_key_pem));
  MEND_ASSIGN_OR_RETURN(std::string key_id, KeyIdOf(key.get()));
  if (signed_head.key_id() != key_id) {
    return absl::InvalidArgumentError(
        absl::StrCat("tree head is signed by key ", signed_head.key_id(),
                     ", not by the given public key ", key_id));
  }
  if (signed_head.signature().size() != kEd25519SignatureSize) {
    return absl::InvalidArgumentError(
        absl::StrCat("tree head signature is ", signed_head.signature().size(),
                     " bytes, not the ", kEd25519SignatureSize, " of Ed25519"));
  }

  const std::string message = SignedMessage(signed_head.head());
  MdCtxPtr ctx(EVP_MD_CTX_new());
  if (ctx == nullptr) return OpenSslError("EVP_MD_CTX_new");
  if (EVP_DigestVerifyInit(ctx.get(), nullptr, nullptr, nullptr, key.get()) != 1) {
    return OpenSslError("EVP_DigestVerifyInit");
  }
  const int verified = EVP_DigestVerify(
      ctx.get(), reinterpret_cast<const unsigned char*>(signed_head.signature().data()),
      signed_head.signature().size(),
      reinterpret_cast<const unsigned char*>(message.data()), message.size());
  ERR_clear_error();
  if (verified != 1) {
    return absl::InvalidArgumentError(
        absl::StrCat("tree head signature does not verify with key ", key_id));
  }

  // Parsed only now, from the very bytes signed (never re-serialised).
  TreeHead head;
  if (!head.ParseFromString(signed_head.head())) {
    return absl::InvalidArgumentError(
        "signed tree head: head does not parse as a TreeHead");
  }
  MEND_RETURN_IF_ERROR(CheckRootHash(head, "signed tree head"));
  return head;
}

}  // namespace mend::merkle
