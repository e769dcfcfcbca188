#include "common/security/crypto.h"

#include <openssl/crypto.h>
#include <openssl/evp.h>
#include <openssl/rand.h>

#include <memory>

#include "absl/strings/str_cat.h"

namespace mend::crypto {
namespace {

// Fetched once: OpenSSL 3's implicit fetch on every init costs more than
// sealing a short field.
const EVP_CIPHER* Aes256Gcm() {
  static const EVP_CIPHER* cipher = EVP_CIPHER_fetch(nullptr, "AES-256-GCM", nullptr);
  return cipher;
}

struct CtxDeleter {
  void operator()(EVP_CIPHER_CTX* ctx) const { EVP_CIPHER_CTX_free(ctx); }
};
using CtxPtr = std::unique_ptr<EVP_CIPHER_CTX, CtxDeleter>;

const unsigned char* Bytes(std::string_view s) {
  return reinterpret_cast<const unsigned char*>(s.data());
}
unsigned char* Bytes(std::string& s) {
  return reinterpret_cast<unsigned char*>(s.data());
}

absl::Status CheckInputs(std::string_view key, std::string_view data,
                         std::string_view associated_data) {
  if (key.size() != kKeySize) {
    return absl::InvalidArgumentError(
        absl::StrCat("AES-256-GCM key is ", key.size(), " bytes; it must be ", kKeySize));
  }
  if (data.size() > kMaxSealInput || associated_data.size() > kMaxSealInput) {
    return absl::InvalidArgumentError(
        absl::StrCat("AES-256-GCM input over the limit of ", kMaxSealInput, " bytes"));
  }
  return absl::OkStatus();
}

absl::Status OpenSslError(std::string_view what) {
  return absl::InternalError(absl::StrCat("OpenSSL ", std::string(what), " failed"));
}

}  // namespace

absl::StatusOr<std::string> RandomBytes(size_t n) {
  if (n > kMaxSealInput) {
    return absl::InvalidArgumentError(absl::StrCat("cannot draw ", n, " random bytes"));
  }
  std::string out(n, '\0');
  if (n > 0 && RAND_bytes(Bytes(out), static_cast<int>(n)) != 1) {
    return OpenSslError("RAND_bytes");
  }
  return out;
}

absl::StatusOr<std::string> Seal(std::string_view key, std::string_view plaintext,
                                 std::string_view associated_data) {
  if (absl::Status s = CheckInputs(key, plaintext, associated_data); !s.ok()) return s;
  if (Aes256Gcm() == nullptr) return OpenSslError("fetching AES-256-GCM");
  absl::StatusOr<std::string> nonce = RandomBytes(kNonceSize);
  if (!nonce.ok()) return nonce.status();

  std::string out(kNonceSize + plaintext.size() + kTagSize, '\0');
  out.replace(0, kNonceSize, *nonce);
  CtxPtr ctx(EVP_CIPHER_CTX_new());
  int len = 0;
  if (ctx == nullptr || EVP_EncryptInit_ex2(ctx.get(), Aes256Gcm(), Bytes(key),
                                            Bytes(*nonce), nullptr) != 1) {
    return OpenSslError("AES-256-GCM encrypt init");
  }
  if (!associated_data.empty() &&
      EVP_EncryptUpdate(ctx.get(), nullptr, &len, Bytes(associated_data),
                        static_cast<int>(associated_data.size())) != 1) {
    return OpenSslError("AES-256-GCM associated data");
  }
  unsigned char* ciphertext = Bytes(out) + kNonceSize;
  if (EVP_EncryptUpdate(ctx.get(), ciphertext, &len, Bytes(plaintext),
                        static_cast<int>(plaintext.size())) != 1 ||
      static_cast<size_t>(len) != plaintext.size()) {
    return OpenSslError("AES-256-GCM encrypt");
  }
  int final_len = 0;
  if (EVP_EncryptFinal_ex(ctx.get(), ciphertext + len, &final_len) != 1 ||
      final_len != 0) {
    return OpenSslError("AES-256-GCM encrypt final");
  }
  if (EVP_CIPHER_CTX_ctrl(ctx.get(), EVP_CTRL_GCM_GET_TAG, static_cast<int>(kTagSize),
                          ciphertext + plaintext.size()) != 1) {
    return OpenSslError("AES-256-GCM get tag");
  }
  return out;
}

absl::StatusOr<std::string> Open(std::string_view key, std::string_view sealed,
                                 std::string_view associated_data) {
  if (absl::Status s = CheckInputs(key, sealed, associated_data); !s.ok()) return s;
  if (sealed.size() < kSealOverhead) {
    return absl::DataLossError(absl::StrCat("sealed data is ", sealed.size(),
                                            " bytes; at least ", kSealOverhead,
                                            " are needed"));
  }
  if (Aes256Gcm() == nullptr) return OpenSslError("fetching AES-256-GCM");
  const std::string_view nonce = sealed.substr(0, kNonceSize);
  const std::string_view ciphertext =
      sealed.substr(kNonceSize, sealed.size() - kSealOverhead);
  // OpenSSL's set-tag control takes a non-const pointer; give it a copy.
  std::string tag(sealed.substr(sealed.size() - kTagSize));

  CtxPtr ctx(EVP_CIPHER_CTX_new());
  int len = 0;
  if (ctx == nullptr || EVP_DecryptInit_ex2(ctx.get(), Aes256Gcm(), Bytes(key),
                                            Bytes(nonce), nullptr) != 1) {
    return OpenSslError("AES-256-GCM decrypt init");
  }
  if (!associated_data.empty() &&
      EVP_DecryptUpdate(ctx.get(), nullptr, &len, Bytes(associated_data),
                        static_cast<int>(associated_data.size())) != 1) {
    return OpenSslError("AES-256-GCM associated data");
  }
  std::string plaintext(ciphertext.size(), '\0');
  if (EVP_DecryptUpdate(ctx.get(), Bytes(plaintext), &len, Bytes(ciphertext),
                        static_cast<int>(ciphertext.size())) != 1 ||
      static_cast<size_t>(len) != ciphertext.size()) {
    Cleanse(plaintext);
    return OpenSslError("AES-256-GCM decrypt");
  }
  if (EVP_CIPHER_CTX_ctrl(ctx.get(), EVP_CTRL_GCM_SET_TAG, static_cast<int>(kTagSize),
                          Bytes(tag)) != 1) {
    Cleanse(plaintext);
    return OpenSslError("AES-256-GCM set tag");
  }
  int final_len = 0;
  if (EVP_DecryptFinal_ex(ctx.get(), Bytes(plaintext) + len, &final_len) != 1) {
    // The unauthenticated plaintext must not escape, not even in freed memory.
    Cleanse(plaintext);
    return absl::DataLossError(
        "sealed data failed authentication: it was changed, or it belongs to another "
        "key or context");
  }
  return plaintext;
}

void Cleanse(std::string& secret) {
  if (!secret.empty()) OPENSSL_cleanse(secret.data(), secret.size());
  secret.clear();
}

absl::StatusOr<std::string> HexDecode(std::string_view hex) {
  auto nibble = [](char c) -> int {
    if (c >= '0' && c <= '9') return c - '0';
    if (c >= 'a' && c <= 'f') return c - 'a' + 10;
    if (c >= 'A' && c <= 'F') return c - 'A' + 10;
    return -1;
  };
  if (hex.size() % 2 != 0) {
    return absl::InvalidArgumentError(
        absl::StrCat("hex text has an odd length (", hex.size(), ")"));
  }
  std::string out(hex.size() / 2, '\0');
  for (size_t i = 0; i < out.size(); ++i) {
    const int hi = nibble(hex[2 * i]);
    const int lo = nibble(hex[2 * i + 1]);
    if (hi < 0 || lo < 0) {
      Cleanse(out);
      return absl::InvalidArgumentError(absl::StrCat(
          "text is not hex: a non-hex character at offset ", hi < 0 ? 2 * i : 2 * i + 1));
    }
    out[i] = static_cast<char>((hi << 4) | lo);
  }
  return out;
}

}  // namespace mend::crypto
