#include "common/security/auth.h"

#include <google/protobuf/descriptor.h>
#include <jwt.h>
#include <openssl/bio.h>
#include <openssl/ec.h>
#include <openssl/err.h>
#include <openssl/evp.h>
#include <openssl/objects.h>
#include <openssl/pem.h>

#include <algorithm>
#include <cerrno>
#include <cmath>
#include <cstdlib>
#include <cstring>
#include <fstream>
#include <limits>
#include <optional>
#include <sstream>
#include <utility>

#include "absl/strings/str_cat.h"
#include "absl/strings/str_join.h"
#include "common/base/status_macros.h"
#include "nlohmann/json.hpp"

namespace mend {
namespace {

constexpr char kIssuer[] = "mend";
constexpr char kAudience[] = "mend";
constexpr size_t kMaxSubjectBytes = 256;
constexpr int kMinRsaBits = 2048;

struct JwtDeleter {
  void operator()(jwt_t* jwt) const { jwt_free(jwt); }
};
using JwtPtr = std::unique_ptr<jwt_t, JwtDeleter>;

// Strings libjwt returns to the caller come from its default allocator,
// malloc (this code never calls jwt_set_alloc).
struct FreeDeleter {
  void operator()(char* p) const { std::free(p); }
};
using LibcString = std::unique_ptr<char, FreeDeleter>;

struct BioDeleter {
  void operator()(BIO* bio) const { BIO_free(bio); }
};
struct PkeyDeleter {
  void operator()(EVP_PKEY* key) const { EVP_PKEY_free(key); }
};
using PkeyPtr = std::unique_ptr<EVP_PKEY, PkeyDeleter>;

absl::Status Unauthenticated(std::string_view message) {
  return absl::UnauthenticatedError(std::string(message));
}

bool IsPrintableAsciiNoSpace(std::string_view s) {
  for (char c : s) {
    if (c <= 0x20 || c >= 0x7f) return false;
  }
  return true;
}

bool IsBase64UrlChar(char c) {
  return (c >= 'A' && c <= 'Z') || (c >= 'a' && c <= 'z') || (c >= '0' && c <= '9') ||
         c == '-' || c == '_';
}

char AsciiLower(char c) {
  return (c >= 'A' && c <= 'Z') ? static_cast<char>(c - 'A' + 'a') : c;
}

bool EqualsIgnoreAsciiCase(std::string_view a, std::string_view b) {
  if (a.size() != b.size()) return false;
  for (size_t i = 0; i < a.size(); ++i) {
    if (AsciiLower(a[i]) != AsciiLower(b[i])) return false;
  }
  return true;
}

std::string_view StripSpaces(std::string_view s) {
  while (!s.empty() && (s.front() == ' ' || s.front() == '\t')) s.remove_prefix(1);
  while (!s.empty() && (s.back() == ' ' || s.back() == '\t')) s.remove_suffix(1);
  return s;
}

absl::Status CheckSubject(std::string_view subject) {
  if (subject.empty()) return absl::InvalidArgumentError("subject is empty");
  if (subject.size() > kMaxSubjectBytes) {
    return absl::InvalidArgumentError(absl::StrCat(
        "subject is ", subject.size(), " bytes; the limit is ", kMaxSubjectBytes));
  }
  if (!IsPrintableAsciiNoSpace(subject)) {
    return absl::InvalidArgumentError("subject must be printable ASCII without spaces");
  }
  return absl::OkStatus();
}

// The JWT algorithm a key signs or verifies with: RS256 for RSA of at least
// 2048 bits, ES256 for EC P-256. `what` names the key in messages.
absl::StatusOr<jwt_alg_t> AlgorithmForKey(EVP_PKEY* key, std::string_view what) {
  switch (EVP_PKEY_get_base_id(key)) {
    case EVP_PKEY_RSA: {
      const int bits = EVP_PKEY_get_bits(key);
      if (bits < kMinRsaBits) {
        return absl::InvalidArgumentError(absl::StrCat(std::string(what), " is RSA of ",
                                                       bits, " bits; at least ",
                                                       kMinRsaBits, " are required"));
      }
      return JWT_ALG_RS256;
    }
    case EVP_PKEY_EC: {
      char group[80] = {0};
      size_t length = 0;
      int nid = NID_undef;
      if (EVP_PKEY_get_group_name(key, group, sizeof(group), &length) == 1) {
        nid = OBJ_sn2nid(group);
        if (nid == NID_undef) nid = EC_curve_nist2nid(group);
      }
      if (nid != NID_X9_62_prime256v1) {
        return absl::InvalidArgumentError(
            absl::StrCat(std::string(what), " is EC on curve '",
                         std::string(group, strnlen(group, sizeof(group))),
                         "'; only P-256 (prime256v1, ES256) is accepted"));
      }
      return JWT_ALG_ES256;
    }
    default:
      return absl::InvalidArgumentError(absl::StrCat(
          std::string(what), " is neither RSA nor EC P-256; use RS256 or ES256 keys"));
  }
}

// Reads the PEM key in `pem` with `read` (PEM_read_bio_PUBKEY or
// PEM_read_bio_PrivateKey); nullptr if there is none.
template <typename ReadFn>
PkeyPtr ReadPemKey(std::string_view pem, ReadFn read) {
  if (pem.size() > static_cast<size_t>(std::numeric_limits<int>::max())) return nullptr;
  std::unique_ptr<BIO, BioDeleter> bio(
      BIO_new_mem_buf(pem.data(), static_cast<int>(pem.size())));
  if (bio == nullptr) return nullptr;
  PkeyPtr key(read(bio.get(), nullptr, nullptr, nullptr));
  // Failed parses leave entries on this thread's OpenSSL error queue.
  ERR_clear_error();
  return key;
}

// Reads a NumericDate claim: seconds since the epoch, integer or not.
// nullopt if absent; UNAUTHENTICATED if present but not a number.
absl::StatusOr<std::optional<absl::Time>> NumericDate(const nlohmann::json& claims,
                                                      const char* name) {
  auto it = claims.find(name);
  if (it == claims.end()) return std::nullopt;
  const nlohmann::json& value = *it;
  if (value.is_number_integer() && !value.is_number_unsigned()) {
    return absl::FromUnixSeconds(value.get<int64_t>());
  }
  if (value.is_number_unsigned()) {
    const uint64_t seconds = value.get<uint64_t>();
    if (seconds <= static_cast<uint64_t>(std::numeric_limits<int64_t>::max())) {
      return absl::FromUnixSeconds(static_cast<int64_t>(seconds));
    }
  } else if (value.is_number_float()) {
    const double seconds = value.get<double>();
    // Far beyond any real date, and safely inside int64.
    if (std::isfinite(seconds) && std::fabs(seconds) < 1e15) {
      return absl::FromUnixSeconds(static_cast<int64_t>(std::floor(seconds)));
    }
  }
  return Unauthenticated(absl::StrCat("token claim '", name,
                                      "' must be a NumericDate (seconds since 1970)"));
}

// Checks the claims of a decoded token (see auth.h) at `now`.
absl::StatusOr<Caller> CheckClaims(jwt_t* jwt, absl::Time now) {
  LibcString grants(jwt_get_grants_json(jwt, nullptr));
  if (grants == nullptr) return Unauthenticated("token has no claims");
  const nlohmann::json claims =
      nlohmann::json::parse(grants.get(), nullptr, /*allow_exceptions=*/false);
  if (claims.is_discarded() || !claims.is_object()) {
    return Unauthenticated("token claims are not a JSON object");
  }
  auto string_claim = [&claims](const char* name) -> const std::string* {
    auto it = claims.find(name);
    return (it != claims.end() && it->is_string()) ? it->get_ptr<const std::string*>()
                                                   : nullptr;
  };

  const std::string* subject = string_claim("sub");
  if (subject == nullptr || subject->empty()) {
    return Unauthenticated(
        "token has no subject: claim 'sub' must be a non-empty string");
  }
  if (absl::Status s = CheckSubject(*subject); !s.ok()) {
    return Unauthenticated(absl::StrCat("token claim 'sub' is invalid: ", s.message()));
  }
  const std::string* role_name = string_claim("role");
  if (role_name == nullptr) {
    return Unauthenticated(
        "token has no role: claim 'role' must be one of facilitator, manager, auditor, "
        "service, operator");
  }
  absl::StatusOr<Role> role = ParseRole(*role_name);
  if (!role.ok()) {
    return Unauthenticated(
        absl::StrCat("token claim 'role' is invalid: ", role.status().message()));
  }
  const std::string* issuer = string_claim("iss");
  if (issuer == nullptr || *issuer != kIssuer) {
    return Unauthenticated(
        absl::StrCat("token issuer (claim 'iss') must be \"", kIssuer, "\""));
  }
  bool audience_ok = false;
  if (auto it = claims.find("aud"); it != claims.end()) {
    if (it->is_string()) {
      audience_ok = it->get<std::string>() == kAudience;
    } else if (it->is_array()) {
      for (const nlohmann::json& a : *it) {
        if (a.is_string() && a.get<std::string>() == kAudience) audience_ok = true;
      }
    }
  }
  if (!audience_ok) {
    return Unauthenticated(
        absl::StrCat("token audience (claim 'aud') must be \"", kAudience, "\""));
  }

  MEND_ASSIGN_OR_RETURN(std::optional<absl::Time> expires, NumericDate(claims, "exp"));
  if (!expires.has_value()) {
    return Unauthenticated("token has no expiry: claim 'exp' is required");
  }
  if (now >= *expires + TokenVerifier::kClockSkew)
    return Unauthenticated("token expired");
  MEND_ASSIGN_OR_RETURN(std::optional<absl::Time> not_before, NumericDate(claims, "nbf"));
  if (not_before.has_value() && now + TokenVerifier::kClockSkew < *not_before) {
    return Unauthenticated("token not yet valid (claim 'nbf' is in the future)");
  }
  MEND_ASSIGN_OR_RETURN(std::optional<absl::Time> issued, NumericDate(claims, "iat"));
  if (issued.has_value() && *issued > now + TokenVerifier::kClockSkew) {
    return Unauthenticated("token issued in the future (claim 'iat'); check the clocks");
  }
  return Caller{.subject = *subject, .role = *role};
}

// Checks that `token` looks like a compact JWS: three non-empty base64url
// parts separated by '.', within the size limit.
absl::Status CheckShape(std::string_view token) {
  if (token.empty()) return Unauthenticated("bearer token is empty");
  if (token.size() > TokenVerifier::kMaxTokenBytes) {
    return Unauthenticated(absl::StrCat("bearer token is ", token.size(),
                                        " bytes; the limit is ",
                                        TokenVerifier::kMaxTokenBytes));
  }
  int dots = 0;
  size_t part_length = 0;
  for (char c : token) {
    if (c == '.') {
      if (part_length == 0) break;
      ++dots;
      part_length = 0;
    } else if (IsBase64UrlChar(c)) {
      ++part_length;
    } else {
      return Unauthenticated(
          "bearer token is not a JWT: it has characters outside base64url and '.'");
    }
  }
  if (dots != 2 || part_length == 0) {
    return Unauthenticated(
        "bearer token is not a signed JWT: expected header.payload.signature");
  }
  return absl::OkStatus();
}

}  // namespace

// TokenVerifier ---------------------------------------------------------------

absl::StatusOr<std::unique_ptr<TokenVerifier>> TokenVerifier::FromPublicKeyFile(
    const std::string& path) {
  std::ifstream in(path, std::ios::binary);
  if (!in) {
    return absl::InvalidArgumentError(absl::StrCat("cannot read token verification key ",
                                                   path, ": ", std::strerror(errno)));
  }
  std::ostringstream pem;
  pem << in.rdbuf();
  if (in.bad()) {
    return absl::InvalidArgumentError(
        absl::StrCat("cannot read token verification key ", path));
  }
  absl::StatusOr<std::unique_ptr<TokenVerifier>> verifier = FromPublicKeyPem(pem.str());
  if (!verifier.ok()) {
    return absl::Status(verifier.status().code(),
                        absl::StrCat(path, ": ", verifier.status().message()));
  }
  return verifier;
}

absl::StatusOr<std::unique_ptr<TokenVerifier>> TokenVerifier::FromPublicKeyPem(
    std::string_view pem) {
  // Each PEM block in turn; each key is kept as PEM of its own (libjwt reads
  // the first key of what it is given).
  constexpr std::string_view kBegin = "-----BEGIN PUBLIC KEY-----";
  constexpr std::string_view kEnd = "-----END PUBLIC KEY-----";
  std::vector<Key> keys;
  size_t at = 0;
  for (;;) {
    const size_t begin = pem.find(kBegin, at);
    const std::string_view between = pem.substr(
        at, begin == std::string_view::npos ? std::string_view::npos : begin - at);
    if (begin == std::string_view::npos && keys.empty()) break;  // none at all
    if (between.find_first_not_of(" \t\r\n") != std::string_view::npos) {
      return absl::InvalidArgumentError(
          absl::StrCat("token verification key file: text that is not a PEM public key ",
                       keys.empty() ? std::string("before the first key")
                                    : absl::StrCat("after key ", keys.size()),
                       " (only '-----BEGIN PUBLIC KEY-----' blocks, one after another)"));
    }
    if (begin == std::string_view::npos) break;
    const size_t end = pem.find(kEnd, begin);
    if (end == std::string_view::npos) {
      return absl::InvalidArgumentError(absl::StrCat(
          "token verification key ", keys.size() + 1, " has no ", std::string(kEnd)));
    }
    const std::string_view block = pem.substr(begin, end + kEnd.size() - begin);
    PkeyPtr key = ReadPemKey(block, PEM_read_bio_PUBKEY);
    if (key == nullptr) {
      return absl::InvalidArgumentError(absl::StrCat(
          "token verification key ", keys.size() + 1, " is not a valid PEM public key"));
    }
    MEND_ASSIGN_OR_RETURN(jwt_alg_t alg,
                          AlgorithmForKey(key.get(), "token verification key"));
    keys.push_back({std::string(block) + "\n", alg});
    at = end + kEnd.size();
  }
  if (keys.empty()) {
    return absl::InvalidArgumentError(
        "no PEM public key ('-----BEGIN PUBLIC KEY-----') found; make one from the "
        "private key with: openssl pkey -in KEY.pem -pubout");
  }
  return std::unique_ptr<TokenVerifier>(new TokenVerifier(std::move(keys)));
}

std::unique_ptr<TokenVerifier> TokenVerifier::Development() {
  return std::unique_ptr<TokenVerifier>(new TokenVerifier({}));
}

std::string TokenVerifier::algorithm_name() const {
  if (!checks_signatures()) return "unchecked";
  bool es256 = false;
  bool rs256 = false;
  for (const Key& k : keys_) {
    es256 |= k.alg == JWT_ALG_ES256;
    rs256 |= k.alg == JWT_ALG_RS256;
  }
  if (es256 && rs256) return "ES256 or RS256";
  return es256 ? "ES256" : "RS256";
}

absl::StatusOr<Caller> TokenVerifier::Verify(std::string_view token,
                                             absl::Time now) const {
  MEND_RETURN_IF_ERROR(CheckShape(token));
  const std::string token_string(token);

  // Parse without a key first, to read the header's alg: the algorithm comes
  // from our key, and a token naming another one (HS256 with our public key
  // as its secret, "none", ...) never reaches a signature check.
  JwtPtr parsed;
  {
    jwt_t* raw = nullptr;
    const int rc = jwt_decode(&raw, token_string.c_str(), nullptr, 0);
    parsed.reset(raw);
    if (rc != 0 || parsed == nullptr) {
      return Unauthenticated("bearer token is not a well-formed JWT");
    }
  }
  const char* header_alg = jwt_get_header(parsed.get(), "alg");
  const jwt_alg_t alg = header_alg != nullptr ? jwt_str_alg(header_alg) : JWT_ALG_TERM;
  auto describe = [alg]() -> std::string {
    return alg == JWT_ALG_TERM ? std::string("an unsupported algorithm")
                               : std::string(jwt_alg_str(alg));
  };

  if (!checks_signatures()) {
    if (alg != JWT_ALG_RS256 && alg != JWT_ALG_ES256) {
      return Unauthenticated(absl::StrCat("token is signed with ", describe(),
                                          "; only RS256 and ES256 tokens are accepted"));
    }
    return CheckClaims(parsed.get(), now);
  }

  if (std::none_of(keys_.begin(), keys_.end(), [alg](const Key& k) {
        return static_cast<jwt_alg_t>(k.alg) == alg;
      })) {
    return Unauthenticated(absl::StrCat("token is signed with ", describe(),
                                        "; this server accepts only ", algorithm_name(),
                                        " tokens"));
  }
  // The keys of the token's algorithm, in the file's order.
  for (const Key& key : keys_) {
    if (static_cast<jwt_alg_t>(key.alg) != alg) continue;
    JwtPtr verified;
    jwt_t* raw = nullptr;
    const int rc = jwt_decode(&raw, token_string.c_str(),
                              reinterpret_cast<const unsigned char*>(key.pem.data()),
                              static_cast<int>(key.pem.size()));
    verified.reset(raw);
    ERR_clear_error();
    if (rc != 0 || verified == nullptr) continue;
    if (jwt_get_alg(verified.get()) != alg) {
      return Unauthenticated("token algorithm does not match this server's key");
    }
    return CheckClaims(verified.get(), now);
  }
  return Unauthenticated(keys_.size() == 1
                             ? "token signature does not verify against this server's key"
                             : "token signature does not verify against any of this "
                               "server's keys");
}

// MethodPolicy ----------------------------------------------------------------

MethodPolicy::Table MethodPolicy::Methods(std::string_view prefix,
                                          std::initializer_list<Group> groups) {
  Table table;
  for (const Group& group : groups) {
    for (std::string_view method : group.methods) {
      table.push_back(
          {absl::StrCat(std::string(prefix), std::string(method)), group.roles});
    }
  }
  return table;
}

absl::StatusOr<std::unique_ptr<MethodPolicy>> MethodPolicy::Create(const Table& table) {
  return Create(std::vector<const Table*>{&table});
}

absl::StatusOr<std::unique_ptr<MethodPolicy>> MethodPolicy::Create(
    std::initializer_list<const Table*> tables) {
  return Create(std::vector<const Table*>(tables));
}

absl::StatusOr<std::unique_ptr<MethodPolicy>> MethodPolicy::Create(
    const std::vector<const Table*>& tables) {
  absl::flat_hash_map<std::string, std::vector<Role>> rules;
  for (const Table* table : tables) {
    if (table == nullptr) return absl::InvalidArgumentError("null policy table");
    for (const Rule& rule : *table) {
      // "/package.Service/Method"
      const std::string& m = rule.method;
      const size_t slash = m.find('/', 1);
      const bool well_formed =
          m.size() > 1 && m[0] == '/' && slash != std::string::npos && slash > 1 &&
          slash + 1 < m.size() && m.find('/', slash + 1) == std::string::npos &&
          m.find('.') < slash;
      if (!well_formed) {
        return absl::InvalidArgumentError(absl::StrCat(
            "policy method '", m, "' is not of the form /package.Service/Method"));
      }
      if (rule.roles.empty()) {
        return absl::InvalidArgumentError(
            absl::StrCat("policy for ", m, " allows no role; leave it out to deny"));
      }
      if (!rules.emplace(m, rule.roles).second) {
        return absl::InvalidArgumentError(absl::StrCat("policy lists ", m, " twice"));
      }
    }
  }
  return std::unique_ptr<MethodPolicy>(new MethodPolicy(std::move(rules)));
}

absl::Status MethodPolicy::Check(std::string_view full_method, Role role) const {
  auto it = rules_.find(absl::string_view(full_method.data(), full_method.size()));
  if (it == rules_.end()) {
    return absl::PermissionDeniedError(absl::StrCat(
        "no policy for method ", std::string(full_method), "; every caller is denied"));
  }
  for (Role allowed : it->second) {
    if (allowed == role) return absl::OkStatus();
  }
  std::vector<std::string> allowed;
  for (Role r : it->second) allowed.emplace_back(RoleName(r));
  return absl::PermissionDeniedError(absl::StrCat(
      "role ", std::string(RoleName(role)), " may not call ", std::string(full_method),
      " (allowed: ", absl::StrJoin(allowed, ", "), ")"));
}

std::vector<std::string> MethodPolicy::MethodsWithoutPolicy(
    const google::protobuf::ServiceDescriptor& service) const {
  std::vector<std::string> missing;
  for (int i = 0; i < service.method_count(); ++i) {
    std::string name = FullMethodName(*service.method(i));
    if (!rules_.contains(name)) missing.push_back(std::move(name));
  }
  return missing;
}

std::string FullMethodName(const google::protobuf::MethodDescriptor& method) {
  return absl::StrCat("/", method.service()->full_name(), "/", method.name());
}

// Authorizer ------------------------------------------------------------------

Authorizer::Authorizer(const TokenVerifier* verifier, const MethodPolicy* policy,
                       std::function<absl::Time()> clock, Admission admission)
    : verifier_(verifier),
      policy_(policy),
      clock_(std::move(clock)),
      admission_(std::move(admission)) {}

absl::StatusOr<Caller> Authorizer::Authorize(const grpc::ServerContextBase& context,
                                             std::string_view full_method) const {
  const auto& metadata = context.client_metadata();
  auto [begin, end] = metadata.equal_range(grpc::string_ref("authorization"));
  if (begin == end) {
    return Unauthenticated(
        "missing credentials: send gRPC metadata 'authorization: Bearer <token>' "
        "(mint a development token with mend-token)");
  }
  if (std::next(begin) != end) {
    return Unauthenticated("more than one 'authorization' metadata entry; send one");
  }
  return AuthorizeHeader(std::string_view(begin->second.data(), begin->second.size()),
                         full_method);
}

absl::StatusOr<Caller> Authorizer::AuthorizeHeader(std::string_view authorization,
                                                   std::string_view full_method) const {
  const std::string_view value = StripSpaces(authorization);
  const size_t space = value.find_first_of(" \t");
  const std::string_view scheme = value.substr(0, space);
  if (!EqualsIgnoreAsciiCase(scheme, "bearer")) {
    return Unauthenticated(
        "'authorization' metadata must be 'Bearer <token>' (another scheme or no scheme "
        "was sent)");
  }
  const std::string_view token = space == std::string_view::npos
                                     ? std::string_view()
                                     : StripSpaces(value.substr(space));
  if (token.empty()) {
    return Unauthenticated("'authorization' metadata says Bearer but carries no token");
  }
  if (verifier_ == nullptr || policy_ == nullptr) {
    return absl::InternalError("authorizer has no token verifier or method policy");
  }
  MEND_ASSIGN_OR_RETURN(Caller caller, verifier_->Verify(token, clock_()));
  MEND_RETURN_IF_ERROR(policy_->Check(full_method, caller.role));
  if (admission_) MEND_RETURN_IF_ERROR(admission_(full_method));
  return caller;
}

void AttachBearerToken(grpc::ClientContext* context, const std::string& token) {
  context->AddMetadata("authorization", absl::StrCat("Bearer ", token));
}

// Minting ---------------------------------------------------------------------

absl::StatusOr<std::string> MintToken(const std::string& private_key_pem,
                                      std::string_view subject, Role role,
                                      absl::Duration ttl, absl::Time now) {
  MEND_RETURN_IF_ERROR(CheckSubject(subject));
  if (ttl <= absl::ZeroDuration()) {
    return absl::InvalidArgumentError("token lifetime (ttl) must be positive");
  }
  const absl::Time expires = now + ttl;
  if (expires == absl::InfiniteFuture() || now == absl::InfinitePast() ||
      now == absl::InfiniteFuture()) {
    return absl::InvalidArgumentError(
        "token lifetime (ttl) or issue time is out of range");
  }
  PkeyPtr key = ReadPemKey(private_key_pem, PEM_read_bio_PrivateKey);
  if (key == nullptr) {
    return absl::InvalidArgumentError(
        "no unencrypted PEM private key found (expected '-----BEGIN PRIVATE KEY-----' "
        "or '-----BEGIN EC PRIVATE KEY-----'); make one with scripts/dev-token-key.sh");
  }
  MEND_ASSIGN_OR_RETURN(jwt_alg_t alg, AlgorithmForKey(key.get(), "signing key"));

  jwt_t* raw = nullptr;
  if (jwt_new(&raw) != 0 || raw == nullptr) {
    return absl::ResourceExhaustedError("libjwt could not allocate a token");
  }
  JwtPtr jwt(raw);
  const std::string subject_string(subject);
  const std::string role_string(RoleName(role));
  int rc = 0;
  rc |= jwt_add_grant(jwt.get(), "sub", subject_string.c_str());
  rc |= jwt_add_grant(jwt.get(), "role", role_string.c_str());
  rc |= jwt_add_grant(jwt.get(), "iss", kIssuer);
  rc |= jwt_add_grant(jwt.get(), "aud", kAudience);
  rc |= jwt_add_grant_int(jwt.get(), "iat", static_cast<long>(absl::ToUnixSeconds(now)));
  rc |= jwt_add_grant_int(jwt.get(), "exp",
                          static_cast<long>(absl::ToUnixSeconds(expires)));
  if (rc != 0) return absl::InternalError("libjwt could not add the token's claims");
  if (jwt_set_alg(jwt.get(), alg,
                  reinterpret_cast<const unsigned char*>(private_key_pem.data()),
                  static_cast<int>(private_key_pem.size())) != 0) {
    return absl::InternalError("libjwt rejected the signing key");
  }
  LibcString encoded(jwt_encode_str(jwt.get()));
  ERR_clear_error();
  if (encoded == nullptr) {
    return absl::InternalError("libjwt could not sign the token with this key");
  }
  return std::string(encoded.get());
}

}  // namespace mend
