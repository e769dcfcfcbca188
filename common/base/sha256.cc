#include "common/base/sha256.h"

#include <openssl/evp.h>

#include <cstdlib>
#include <memory>

namespace mend {
namespace {

const EVP_MD* FetchedSha256() {
  static const EVP_MD* md = [] {
    EVP_MD* fetched = EVP_MD_fetch(nullptr, "SHA256", nullptr);
    if (fetched == nullptr) std::abort();  // OpenSSL without SHA-256: unusable
    return fetched;
  }();
  return md;
}

struct CtxDeleter {
  void operator()(EVP_MD_CTX* ctx) const { EVP_MD_CTX_free(ctx); }
};

EVP_MD_CTX* ThreadContext() {
  thread_local std::unique_ptr<EVP_MD_CTX, CtxDeleter> ctx(EVP_MD_CTX_new());
  return ctx.get();
}

}  // namespace

Sha256Digest Sha256(std::initializer_list<std::string_view> parts) {
  Sha256Digest out{};
  EVP_MD_CTX* ctx = ThreadContext();
  unsigned int len = 0;
  if (ctx == nullptr || EVP_DigestInit_ex(ctx, FetchedSha256(), nullptr) != 1)
    std::abort();
  for (std::string_view part : parts) {
    if (EVP_DigestUpdate(ctx, part.data(), part.size()) != 1) std::abort();
  }
  if (EVP_DigestFinal_ex(ctx, out.data(), &len) != 1 || len != kSha256Size) std::abort();
  return out;
}

std::string Sha256Bytes(std::string_view data) {
  Sha256Digest d = Sha256(data);
  return std::string(AsStringView(d));
}

std::string HexEncode(std::string_view bytes) {
  static constexpr char kHex[] = "0123456789abcdef";
  std::string out;
  out.reserve(bytes.size() * 2);
  for (unsigned char c : bytes) {
    out.push_back(kHex[c >> 4]);
    out.push_back(kHex[c & 0xf]);
  }
  return out;
}

}  // namespace mend
