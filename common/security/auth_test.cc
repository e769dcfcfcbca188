// Unit tests of common/auth.h: token verification (RS256, ES256, development
// mode), the method policy, the Authorizer and MintToken. Keys are generated
// in-process with OpenSSL's EVP API; some tokens are signed here with EVP
// directly (not libjwt), so the verifier is also checked against an
// independent signer.
#include "common/security/auth.h"

#include <grpcpp/test/client_context_test_peer.h>
#include <grpcpp/test/server_context_test_spouse.h>
#include <openssl/bio.h>
#include <openssl/bn.h>
#include <openssl/ec.h>
#include <openssl/evp.h>
#include <openssl/hmac.h>
#include <openssl/pem.h>

#include <cstdint>
#include <fstream>
#include <memory>
#include <string>
#include <utility>
#include <vector>

#include "absl/status/status.h"
#include "absl/strings/escaping.h"
#include "absl/strings/str_cat.h"
#include "absl/time/time.h"
#include "gmock/gmock.h"
#include "gtest/gtest.h"
#include "mend/eventlog/v1/eventlog_service.pb.h"
#include "nlohmann/json.hpp"
#include "tests/support/test_util.h"

namespace mend {
namespace {

using ::mend::testing::IsOk;
using ::mend::testing::StatusIs;
using ::mend::testing::TempDir;
using ::testing::ElementsAre;
using ::testing::HasSubstr;
using ::testing::IsEmpty;
using ::testing::Not;
using ::testing::UnorderedElementsAre;

constexpr char kRead[] = "/mend.eventlog.v1.EventLog/Read";
constexpr char kAppend[] = "/mend.eventlog.v1.EventLogWriter/Append";

// A fixed "now" for every test: 2025-06-15.
const absl::Time kNow = absl::FromUnixSeconds(1750000000);

// ---------------------------------------------------------------------------
// Keys and an independent JWS signer (OpenSSL EVP only).

struct PkeyFree {
  void operator()(EVP_PKEY* key) const { EVP_PKEY_free(key); }
};
using Pkey = std::unique_ptr<EVP_PKEY, PkeyFree>;
struct BioFree {
  void operator()(BIO* bio) const { BIO_free(bio); }
};
using Bio = std::unique_ptr<BIO, BioFree>;

struct KeyPair {
  std::string private_pem;  // PKCS#8
  std::string public_pem;   // SubjectPublicKeyInfo
};

std::string BioContents(BIO* bio) {
  char* data = nullptr;
  const long length = BIO_get_mem_data(bio, &data);
  return std::string(data, static_cast<size_t>(length));
}

KeyPair PemsOf(EVP_PKEY* key) {
  KeyPair pair;
  Bio priv(BIO_new(BIO_s_mem()));
  EXPECT_EQ(
      PEM_write_bio_PrivateKey(priv.get(), key, nullptr, nullptr, 0, nullptr, nullptr),
      1);
  pair.private_pem = BioContents(priv.get());
  Bio pub(BIO_new(BIO_s_mem()));
  EXPECT_EQ(PEM_write_bio_PUBKEY(pub.get(), key), 1);
  pair.public_pem = BioContents(pub.get());
  return pair;
}

KeyPair EcKeyPair(const char* curve = "P-256") {
  Pkey key(EVP_PKEY_Q_keygen(nullptr, nullptr, "EC", curve));
  EXPECT_NE(key, nullptr) << "EC key generation failed";
  return key == nullptr ? KeyPair{} : PemsOf(key.get());
}

KeyPair RsaKeyPair(size_t bits = 2048) {
  Pkey key(EVP_PKEY_Q_keygen(nullptr, nullptr, "RSA", bits));
  EXPECT_NE(key, nullptr) << "RSA key generation failed";
  return key == nullptr ? KeyPair{} : PemsOf(key.get());
}

std::string B64(const std::string& bytes) { return absl::WebSafeBase64Escape(bytes); }

// A compact JWS over `header` and `claims`, signed with `private_pem`: RS256
// for RSA keys, ES256 (raw R||S, as RFC 7518 requires) for EC keys.
std::string SignJws(const nlohmann::json& header, const nlohmann::json& claims,
                    const std::string& private_pem) {
  const std::string input = B64(header.dump()) + "." + B64(claims.dump());
  Bio bio(BIO_new_mem_buf(private_pem.data(), static_cast<int>(private_pem.size())));
  Pkey key(PEM_read_bio_PrivateKey(bio.get(), nullptr, nullptr, nullptr));
  EXPECT_NE(key, nullptr);
  if (key == nullptr) return "";
  std::unique_ptr<EVP_MD_CTX, void (*)(EVP_MD_CTX*)> ctx(EVP_MD_CTX_new(),
                                                         EVP_MD_CTX_free);
  EXPECT_EQ(EVP_DigestSignInit(ctx.get(), nullptr, EVP_sha256(), nullptr, key.get()), 1);
  size_t length = 0;
  const auto* data = reinterpret_cast<const unsigned char*>(input.data());
  EXPECT_EQ(EVP_DigestSign(ctx.get(), nullptr, &length, data, input.size()), 1);
  std::string signature(length, '\0');
  EXPECT_EQ(EVP_DigestSign(ctx.get(), reinterpret_cast<unsigned char*>(signature.data()),
                           &length, data, input.size()),
            1);
  signature.resize(length);
  if (EVP_PKEY_get_base_id(key.get()) == EVP_PKEY_EC) {
    const auto* der = reinterpret_cast<const unsigned char*>(signature.data());
    ECDSA_SIG* sig = d2i_ECDSA_SIG(nullptr, &der, static_cast<long>(signature.size()));
    EXPECT_NE(sig, nullptr);
    if (sig == nullptr) return "";
    std::string raw(64, '\0');
    auto* out = reinterpret_cast<unsigned char*>(raw.data());
    BN_bn2binpad(ECDSA_SIG_get0_r(sig), out, 32);
    BN_bn2binpad(ECDSA_SIG_get0_s(sig), out + 32, 32);
    ECDSA_SIG_free(sig);
    signature = raw;
  }
  return input + "." + B64(signature);
}

// An HS256 token whose HMAC secret is `secret`.
std::string SignHs256(const nlohmann::json& claims, const std::string& secret) {
  const std::string input = B64(nlohmann::json{{"alg", "HS256"}, {"typ", "JWT"}}.dump()) +
                            "." + B64(claims.dump());
  unsigned char mac[EVP_MAX_MD_SIZE];
  unsigned int length = 0;
  HMAC(EVP_sha256(), secret.data(), static_cast<int>(secret.size()),
       reinterpret_cast<const unsigned char*>(input.data()), input.size(), mac, &length);
  return input + "." + B64(std::string(reinterpret_cast<char*>(mac), length));
}

nlohmann::json Header(const char* alg) { return {{"alg", alg}, {"typ", "JWT"}}; }

// Claims that pass: issued now, valid one hour.
nlohmann::json GoodClaims() {
  return {{"sub", "svc-consent"},
          {"role", "service"},
          {"iss", "mend"},
          {"aud", "mend"},
          {"iat", absl::ToUnixSeconds(kNow)},
          {"exp", absl::ToUnixSeconds(kNow + absl::Hours(1))}};
}

// ---------------------------------------------------------------------------

class AuthTest : public ::testing::Test {
 protected:
  static void SetUpTestSuite() {
    ec_ = new KeyPair(EcKeyPair());
    other_ec_ = new KeyPair(EcKeyPair());
    third_ec_ = new KeyPair(EcKeyPair());
    rsa_ = new KeyPair(RsaKeyPair());
  }
  static void TearDownTestSuite() {
    delete ec_;
    delete other_ec_;
    delete third_ec_;
    delete rsa_;
  }

  void SetUp() override {
    auto es = TokenVerifier::FromPublicKeyPem(ec_->public_pem);
    ASSERT_THAT(es, IsOk());
    es256_ = *std::move(es);
    auto rs = TokenVerifier::FromPublicKeyPem(rsa_->public_pem);
    ASSERT_THAT(rs, IsOk());
    rs256_ = *std::move(rs);
    auto policy = MethodPolicy::Create({
        {kRead, {Role::kAuditor, Role::kService}},
        {kAppend, {Role::kService}},
    });
    ASSERT_THAT(policy, IsOk());
    policy_ = *std::move(policy);
  }

  std::string Mint(const KeyPair& key, const std::string& subject, Role role,
                   absl::Duration ttl = absl::Hours(1), absl::Time at = kNow) {
    absl::StatusOr<std::string> token =
        MintToken(key.private_pem, subject, role, ttl, at);
    EXPECT_THAT(token, IsOk());
    return token.ok() ? *token : "";
  }

  // Verifies `token` with `verifier` at kNow and expects UNAUTHENTICATED with
  // `message` in the message, which must not contain the token.
  void ExpectUnauthenticated(const TokenVerifier& verifier, const std::string& token,
                             const std::string& message) {
    absl::StatusOr<Caller> caller = verifier.Verify(token, kNow);
    EXPECT_THAT(caller, StatusIs(absl::StatusCode::kUnauthenticated));
    const std::string actual(caller.status().message());
    EXPECT_THAT(actual, HasSubstr(message));
    if (token.size() > 8) {
      EXPECT_THAT(actual, Not(HasSubstr(token)));
    }
  }

  static KeyPair* ec_;
  static KeyPair* other_ec_;
  static KeyPair* third_ec_;
  static KeyPair* rsa_;
  std::unique_ptr<TokenVerifier> es256_;
  std::unique_ptr<TokenVerifier> rs256_;
  std::unique_ptr<MethodPolicy> policy_;
};

KeyPair* AuthTest::ec_ = nullptr;
KeyPair* AuthTest::other_ec_ = nullptr;
KeyPair* AuthTest::third_ec_ = nullptr;
KeyPair* AuthTest::rsa_ = nullptr;

// Roles ----------------------------------------------------------------------

TEST(RoleTest, NamesRoundTrip) {
  for (Role role : {Role::kFacilitator, Role::kManager, Role::kAuditor, Role::kService,
                    Role::kOperator}) {
    absl::StatusOr<Role> parsed = ParseRole(RoleName(role));
    ASSERT_THAT(parsed, IsOk());
    EXPECT_EQ(*parsed, role);
  }
  EXPECT_EQ(RoleName(Role::kManager), "manager");
  EXPECT_EQ(RoleName(Role::kOperator), "operator");
}

TEST(RoleTest, UnknownNamesAreInvalidArgument) {
  for (const char* name : {"", "admin", "Service", "auditor ", "root"}) {
    EXPECT_THAT(ParseRole(name), StatusIs(absl::StatusCode::kInvalidArgument)) << name;
  }
}

// Verification ---------------------------------------------------------------

TEST_F(AuthTest, ValidEs256TokenGivesSubjectAndRole) {
  const std::string token = Mint(*ec_, "alice@probation", Role::kFacilitator);
  EXPECT_EQ(es256_->algorithm_name(), "ES256");
  EXPECT_TRUE(es256_->checks_signatures());
  absl::StatusOr<Caller> caller = es256_->Verify(token, kNow);
  ASSERT_THAT(caller, IsOk());
  EXPECT_EQ(caller->subject, "alice@probation");
  EXPECT_EQ(caller->role, Role::kFacilitator);
}

TEST_F(AuthTest, ValidRs256TokenGivesSubjectAndRole) {
  const std::string token = Mint(*rsa_, "svc-case", Role::kService);
  EXPECT_EQ(rs256_->algorithm_name(), "RS256");
  absl::StatusOr<Caller> caller = rs256_->Verify(token, kNow + absl::Minutes(59));
  ASSERT_THAT(caller, IsOk());
  EXPECT_EQ(caller->subject, "svc-case");
  EXPECT_EQ(caller->role, Role::kService);
}

TEST_F(AuthTest, TokensFromAnIndependentSignerVerify) {
  nlohmann::json claims = GoodClaims();
  claims["aud"] = {"other", "mend"};  // an audience array naming mend
  claims["nbf"] = absl::ToUnixSeconds(kNow);
  claims["jti"] = "unused-claim";
  auto es = es256_->Verify(SignJws(Header("ES256"), claims, ec_->private_pem), kNow);
  ASSERT_THAT(es, IsOk());
  EXPECT_EQ(es->subject, "svc-consent");
  EXPECT_EQ(es->role, Role::kService);
  auto rs = rs256_->Verify(SignJws(Header("RS256"), claims, rsa_->private_pem), kNow);
  ASSERT_THAT(rs, IsOk());
  EXPECT_EQ(rs->subject, "svc-consent");
  // A header without typ is fine too.
  EXPECT_THAT(
      es256_->Verify(SignJws(nlohmann::json{{"alg", "ES256"}}, claims, ec_->private_pem),
                     kNow),
      IsOk());
}

TEST_F(AuthTest, GarbageTokensAreUnauthenticated) {
  const std::string valid = Mint(*ec_, "bob", Role::kAuditor);
  const std::vector<std::string> garbage = {
      "",
      "garbage",
      "a.b",
      "a.b.c.d",
      "..",
      "a..c",
      "not base64!.eyJ9.sig",
      "eyJhbGciOiJFUzI1NiJ9.bm90IGpzb24.c2ln",  // payload is not JSON
      "bm90IGpzb24.e30.c2ln",                   // header is not JSON
      valid.substr(0, valid.rfind('.')),        // signature part dropped
      valid + ".extra",
      std::string(TokenVerifier::kMaxTokenBytes + 1, 'a'),
  };
  for (const std::string& token : garbage) {
    SCOPED_TRACE(token.substr(0, 60));
    absl::StatusOr<Caller> caller = es256_->Verify(token, kNow);
    EXPECT_THAT(caller, StatusIs(absl::StatusCode::kUnauthenticated));
    caller = TokenVerifier::Development()->Verify(token, kNow);
    EXPECT_THAT(caller, StatusIs(absl::StatusCode::kUnauthenticated));
  }
}

TEST_F(AuthTest, ExpiredTokenIsUnauthenticated) {
  // Issued two hours ago for one hour.
  const std::string token =
      Mint(*ec_, "bob", Role::kAuditor, absl::Hours(1), kNow - absl::Hours(2));
  ExpectUnauthenticated(*es256_, token, "token expired");
  // Just past expiry plus the allowed skew.
  EXPECT_THAT(es256_->Verify(token, kNow - absl::Hours(1) + TokenVerifier::kClockSkew),
              StatusIs(absl::StatusCode::kUnauthenticated));
}

TEST_F(AuthTest, ExpiryAllowsSixtySecondsOfClockSkew) {
  const std::string token = Mint(*ec_, "bob", Role::kAuditor, absl::Hours(1));
  const absl::Time expiry = kNow + absl::Hours(1);
  EXPECT_THAT(es256_->Verify(token, expiry + absl::Seconds(30)), IsOk());
  EXPECT_THAT(es256_->Verify(token, expiry + absl::Seconds(59)), IsOk());
  EXPECT_THAT(es256_->Verify(token, expiry + absl::Seconds(61)),
              StatusIs(absl::StatusCode::kUnauthenticated));
}

TEST_F(AuthTest, NotYetValidTokenIsUnauthenticated) {
  nlohmann::json claims = GoodClaims();
  claims["nbf"] = absl::ToUnixSeconds(kNow + absl::Minutes(10));
  ExpectUnauthenticated(*es256_, SignJws(Header("ES256"), claims, ec_->private_pem),
                        "not yet valid");
  // Within the skew it is accepted.
  claims["nbf"] = absl::ToUnixSeconds(kNow + absl::Seconds(30));
  EXPECT_THAT(es256_->Verify(SignJws(Header("ES256"), claims, ec_->private_pem), kNow),
              IsOk());
  // Issued in the future (beyond the skew).
  claims = GoodClaims();
  claims["iat"] = absl::ToUnixSeconds(kNow + absl::Minutes(10));
  ExpectUnauthenticated(*es256_, SignJws(Header("ES256"), claims, ec_->private_pem),
                        "issued in the future");
  // A token minted by a clock ten minutes ahead.
  ExpectUnauthenticated(
      *es256_,
      Mint(*ec_, "bob", Role::kAuditor, absl::Hours(1), kNow + absl::Minutes(10)),
      "issued in the future");
}

TEST_F(AuthTest, TokenSignedByAnotherKeyIsUnauthenticated) {
  ExpectUnauthenticated(*es256_, Mint(*other_ec_, "mallory", Role::kAuditor),
                        "signature does not verify");
  // A valid token with its payload swapped for another (role raised).
  const std::string token = Mint(*ec_, "mallory", Role::kFacilitator);
  nlohmann::json claims = GoodClaims();
  claims["sub"] = "mallory";
  claims["role"] = "auditor";
  const size_t first = token.find('.');
  const size_t second = token.rfind('.');
  const std::string forged =
      token.substr(0, first + 1) + B64(claims.dump()) + token.substr(second);
  ExpectUnauthenticated(*es256_, forged, "signature does not verify");
  // Signature bytes flipped.
  std::string flipped = token;
  flipped[flipped.size() - 5] = flipped[flipped.size() - 5] == 'A' ? 'B' : 'A';
  ExpectUnauthenticated(*es256_, flipped, "signature does not verify");
}

TEST_F(AuthTest, SeveralKeysInOneFileEachVerifyTheirTokensForARotation) {
  // The new key and the old, one after the other, as a rotation has them.
  auto both = TokenVerifier::FromPublicKeyPem(other_ec_->public_pem + ec_->public_pem);
  ASSERT_THAT(both, IsOk());
  EXPECT_EQ((*both)->key_count(), 2u);
  EXPECT_EQ((*both)->algorithm_name(), "ES256");
  absl::StatusOr<Caller> old_key =
      (*both)->Verify(Mint(*ec_, "ann", Role::kFacilitator), kNow);
  ASSERT_THAT(old_key, IsOk());
  EXPECT_EQ(old_key->subject, "ann");
  absl::StatusOr<Caller> new_key =
      (*both)->Verify(Mint(*other_ec_, "bea", Role::kManager), kNow);
  ASSERT_THAT(new_key, IsOk());
  EXPECT_EQ(new_key->subject, "bea");
  // A key in neither is refused, and an algorithm of neither before any
  // signature check.
  ExpectUnauthenticated(**both, Mint(*third_ec_, "mallory", Role::kAuditor),
                        "does not verify against any of this server's keys");
  ExpectUnauthenticated(**both, Mint(*rsa_, "svc", Role::kService), "accepts only ES256");
  // Keys of both kinds: each token is checked with the keys of its own.
  auto mixed = TokenVerifier::FromPublicKeyPem(rsa_->public_pem + "\n" + ec_->public_pem);
  ASSERT_THAT(mixed, IsOk());
  EXPECT_EQ((*mixed)->algorithm_name(), "ES256 or RS256");
  EXPECT_THAT((*mixed)->Verify(Mint(*rsa_, "svc", Role::kService), kNow), IsOk());
  EXPECT_THAT((*mixed)->Verify(Mint(*ec_, "svc", Role::kService), kNow), IsOk());
  ExpectUnauthenticated(**mixed, Mint(*other_ec_, "mallory", Role::kAuditor),
                        "does not verify");
  // Text between or after the keys is refused, not skipped.
  EXPECT_THAT(TokenVerifier::FromPublicKeyPem(ec_->public_pem + "# old key\n" +
                                              other_ec_->public_pem),
              StatusIs(absl::StatusCode::kInvalidArgument, HasSubstr("after key 1")));
  EXPECT_THAT(
      TokenVerifier::FromPublicKeyPem(ec_->private_pem + ec_->public_pem),
      StatusIs(absl::StatusCode::kInvalidArgument, HasSubstr("before the first key")));
}

TEST_F(AuthTest, AlgorithmComesFromTheKeyNotTheToken) {
  // RS256 token, correctly signed, against an ES256 key, and the reverse.
  ExpectUnauthenticated(*es256_, Mint(*rsa_, "svc", Role::kService),
                        "accepts only ES256");
  ExpectUnauthenticated(*rs256_, Mint(*ec_, "svc", Role::kService), "accepts only RS256");
  // HS256 keyed with the server's own public key (the classic confusion).
  ExpectUnauthenticated(*es256_, SignHs256(GoodClaims(), ec_->public_pem),
                        "signed with HS256");
  ExpectUnauthenticated(*rs256_, SignHs256(GoodClaims(), rsa_->public_pem),
                        "signed with HS256");
  // alg none, with an empty and with a made-up signature part.
  const std::string unsigned_input =
      B64(nlohmann::json{{"alg", "none"}}.dump()) + "." + B64(GoodClaims().dump());
  for (const std::string& token : {unsigned_input + ".", unsigned_input + ".c2ln"}) {
    EXPECT_THAT(es256_->Verify(token, kNow),
                StatusIs(absl::StatusCode::kUnauthenticated));
    EXPECT_THAT(TokenVerifier::Development()->Verify(token, kNow),
                StatusIs(absl::StatusCode::kUnauthenticated));
  }
  ExpectUnauthenticated(*es256_, unsigned_input + ".c2ln", "signed with none");
  // An algorithm libjwt does not know is not a well-formed JWT to it.
  ExpectUnauthenticated(*es256_, SignJws(Header("XX999"), GoodClaims(), ec_->private_pem),
                        "bearer token");
}

TEST_F(AuthTest, SubjectIsRequired) {
  nlohmann::json claims = GoodClaims();
  claims.erase("sub");
  ExpectUnauthenticated(*es256_, SignJws(Header("ES256"), claims, ec_->private_pem),
                        "no subject");
  claims["sub"] = "";
  ExpectUnauthenticated(*es256_, SignJws(Header("ES256"), claims, ec_->private_pem),
                        "no subject");
  claims["sub"] = 42;
  ExpectUnauthenticated(*es256_, SignJws(Header("ES256"), claims, ec_->private_pem),
                        "no subject");
  claims["sub"] = "two words";
  ExpectUnauthenticated(*es256_, SignJws(Header("ES256"), claims, ec_->private_pem),
                        "'sub' is invalid");
}

TEST_F(AuthTest, RoleMustBeOneOfTheFive) {
  nlohmann::json claims = GoodClaims();
  claims["role"] = "operator";
  absl::StatusOr<Caller> op =
      es256_->Verify(SignJws(Header("ES256"), claims, ec_->private_pem), kNow);
  ASSERT_THAT(op, IsOk());
  EXPECT_EQ(op->role, Role::kOperator);
  for (const char* role : {"admin", "Service", "Operator", ""}) {
    claims["role"] = role;
    ExpectUnauthenticated(*es256_, SignJws(Header("ES256"), claims, ec_->private_pem),
                          "'role' is invalid");
  }
  claims["role"] = nlohmann::json::array({"service"});
  ExpectUnauthenticated(*es256_, SignJws(Header("ES256"), claims, ec_->private_pem),
                        "no role");
  claims.erase("role");
  ExpectUnauthenticated(*es256_, SignJws(Header("ES256"), claims, ec_->private_pem),
                        "no role");
}

TEST_F(AuthTest, IssuerAndAudienceMustBeMend) {
  struct Case {
    const char* claim;
    nlohmann::json value;  // null: claim removed
    const char* message;
  };
  const std::vector<Case> cases = {
      {"iss", "someone-else", "issuer"},
      {"iss", nullptr, "issuer"},
      {"aud", "other-system", "audience"},
      {"aud", nlohmann::json::array({"a", "b"}), "audience"},
      {"aud", nullptr, "audience"},
  };
  for (const Case& c : cases) {
    SCOPED_TRACE(absl::StrCat(c.claim, " = ", c.value.dump()));
    nlohmann::json claims = GoodClaims();
    if (c.value.is_null()) {
      claims.erase(c.claim);
    } else {
      claims[c.claim] = c.value;
    }
    ExpectUnauthenticated(*es256_, SignJws(Header("ES256"), claims, ec_->private_pem),
                          c.message);
  }
}

TEST_F(AuthTest, ExpiryIsRequiredAndMustBeANumber) {
  nlohmann::json claims = GoodClaims();
  claims.erase("exp");
  ExpectUnauthenticated(*es256_, SignJws(Header("ES256"), claims, ec_->private_pem),
                        "no expiry");
  claims["exp"] = std::to_string(absl::ToUnixSeconds(kNow + absl::Hours(1)));
  ExpectUnauthenticated(*es256_, SignJws(Header("ES256"), claims, ec_->private_pem),
                        "NumericDate");
  // A fractional NumericDate is allowed (RFC 7519).
  claims["exp"] = static_cast<double>(absl::ToUnixSeconds(kNow + absl::Hours(1))) + 0.5;
  EXPECT_THAT(es256_->Verify(SignJws(Header("ES256"), claims, ec_->private_pem), kNow),
              IsOk());
}

// Development mode -------------------------------------------------------------

TEST_F(AuthTest, DevelopmentVerifierSkipsSignaturesButChecksClaims) {
  std::unique_ptr<TokenVerifier> dev = TokenVerifier::Development();
  EXPECT_FALSE(dev->checks_signatures());
  EXPECT_EQ(dev->algorithm_name(), "unchecked");
  // Any key's signature is accepted: that is what development mode means.
  for (const KeyPair* key : {ec_, other_ec_, rsa_}) {
    absl::StatusOr<Caller> caller =
        dev->Verify(Mint(*key, "dev-user", Role::kManager), kNow);
    ASSERT_THAT(caller, IsOk());
    EXPECT_EQ(caller->subject, "dev-user");
    EXPECT_EQ(caller->role, Role::kManager);
  }
  // Expiry, role and the other claims are still enforced.
  ExpectUnauthenticated(
      *dev, Mint(*ec_, "dev-user", Role::kManager, absl::Hours(1), kNow - absl::Hours(3)),
      "token expired");
  nlohmann::json claims = GoodClaims();
  claims["role"] = "superuser";
  ExpectUnauthenticated(*dev, SignJws(Header("ES256"), claims, ec_->private_pem),
                        "'role' is invalid");
  claims = GoodClaims();
  claims["aud"] = "elsewhere";
  ExpectUnauthenticated(*dev, SignJws(Header("ES256"), claims, ec_->private_pem),
                        "audience");
  claims = GoodClaims();
  claims.erase("exp");
  ExpectUnauthenticated(*dev, SignJws(Header("ES256"), claims, ec_->private_pem),
                        "no expiry");
  // Only RS256/ES256-shaped tokens, even here.
  ExpectUnauthenticated(*dev, SignHs256(GoodClaims(), "secret"), "signed with HS256");
}

// Keys -----------------------------------------------------------------------

TEST_F(AuthTest, VerifierRejectsKeysItCannotUse) {
  EXPECT_THAT(TokenVerifier::FromPublicKeyPem(""),
              StatusIs(absl::StatusCode::kInvalidArgument));
  EXPECT_THAT(TokenVerifier::FromPublicKeyPem("-----BEGIN PUBLIC KEY-----\nAAAA\n"
                                              "-----END PUBLIC KEY-----\n"),
              StatusIs(absl::StatusCode::kInvalidArgument));
  // A private key where the public one belongs.
  auto private_given = TokenVerifier::FromPublicKeyPem(ec_->private_pem);
  EXPECT_THAT(private_given, StatusIs(absl::StatusCode::kInvalidArgument));
  EXPECT_THAT(std::string(private_given.status().message()),
              HasSubstr("BEGIN PUBLIC KEY"));
  auto p384 = TokenVerifier::FromPublicKeyPem(EcKeyPair("P-384").public_pem);
  EXPECT_THAT(p384, StatusIs(absl::StatusCode::kInvalidArgument));
  EXPECT_THAT(std::string(p384.status().message()), HasSubstr("P-256"));
  auto weak = TokenVerifier::FromPublicKeyPem(RsaKeyPair(1024).public_pem);
  EXPECT_THAT(weak, StatusIs(absl::StatusCode::kInvalidArgument));
  EXPECT_THAT(std::string(weak.status().message()), HasSubstr("2048"));
}

TEST_F(AuthTest, VerifierFromFile) {
  TempDir dir;
  const std::string path = dir.Sub("token.pub");
  {
    std::ofstream out(path, std::ios::binary);
    out << ec_->public_pem;
  }
  auto verifier = TokenVerifier::FromPublicKeyFile(path);
  ASSERT_THAT(verifier, IsOk());
  EXPECT_THAT((*verifier)->Verify(Mint(*ec_, "x", Role::kAuditor), kNow), IsOk());

  auto missing = TokenVerifier::FromPublicKeyFile(dir.Sub("absent.pub"));
  EXPECT_THAT(missing, StatusIs(absl::StatusCode::kInvalidArgument));
  EXPECT_THAT(std::string(missing.status().message()), HasSubstr("absent.pub"));

  const std::string private_path = dir.Sub("token.key");
  {
    std::ofstream out(private_path, std::ios::binary);
    out << ec_->private_pem;
  }
  auto wrong = TokenVerifier::FromPublicKeyFile(private_path);
  EXPECT_THAT(wrong, StatusIs(absl::StatusCode::kInvalidArgument));
  EXPECT_THAT(std::string(wrong.status().message()), HasSubstr("token.key"));
}

TEST_F(AuthTest, MintTokenRejectsBadInput) {
  EXPECT_THAT(MintToken(ec_->private_pem, "", Role::kService, absl::Hours(1), kNow),
              StatusIs(absl::StatusCode::kInvalidArgument));
  EXPECT_THAT(MintToken(ec_->private_pem, "a b", Role::kService, absl::Hours(1), kNow),
              StatusIs(absl::StatusCode::kInvalidArgument));
  EXPECT_THAT(MintToken(ec_->private_pem, std::string(257, 'x'), Role::kService,
                        absl::Hours(1), kNow),
              StatusIs(absl::StatusCode::kInvalidArgument));
  EXPECT_THAT(
      MintToken(ec_->private_pem, "svc", Role::kService, absl::ZeroDuration(), kNow),
      StatusIs(absl::StatusCode::kInvalidArgument));
  EXPECT_THAT(MintToken(ec_->private_pem, "svc", Role::kService, -absl::Hours(1), kNow),
              StatusIs(absl::StatusCode::kInvalidArgument));
  EXPECT_THAT(MintToken(ec_->public_pem, "svc", Role::kService, absl::Hours(1), kNow),
              StatusIs(absl::StatusCode::kInvalidArgument));
  EXPECT_THAT(MintToken("not a key", "svc", Role::kService, absl::Hours(1), kNow),
              StatusIs(absl::StatusCode::kInvalidArgument));
  EXPECT_THAT(MintToken(EcKeyPair("P-384").private_pem, "svc", Role::kService,
                        absl::Hours(1), kNow),
              StatusIs(absl::StatusCode::kInvalidArgument));
}

TEST_F(AuthTest, MintedTokenCarriesTheDocumentedClaims) {
  const std::string token = Mint(*ec_, "svc-case", Role::kService, absl::Minutes(5));
  const std::string payload =
      token.substr(token.find('.') + 1, token.rfind('.') - token.find('.') - 1);
  std::string json;
  ASSERT_TRUE(absl::WebSafeBase64Unescape(payload, &json));
  const nlohmann::json claims = nlohmann::json::parse(json);
  EXPECT_EQ(claims["sub"], "svc-case");
  EXPECT_EQ(claims["role"], "service");
  EXPECT_EQ(claims["iss"], "mend");
  EXPECT_EQ(claims["aud"], "mend");
  EXPECT_EQ(claims["iat"], absl::ToUnixSeconds(kNow));
  EXPECT_EQ(claims["exp"], absl::ToUnixSeconds(kNow + absl::Minutes(5)));
}

// Policy ---------------------------------------------------------------------

TEST_F(AuthTest, PolicyAllowsListedRolesOnly) {
  EXPECT_THAT(policy_->Check(kRead, Role::kAuditor), IsOk());
  EXPECT_THAT(policy_->Check(kRead, Role::kService), IsOk());
  EXPECT_THAT(policy_->Check(kAppend, Role::kService), IsOk());
  absl::Status denied = policy_->Check(kRead, Role::kFacilitator);
  EXPECT_THAT(denied, StatusIs(absl::StatusCode::kPermissionDenied));
  EXPECT_THAT(std::string(denied.message()), HasSubstr(kRead));
  EXPECT_THAT(std::string(denied.message()), HasSubstr("facilitator"));
  EXPECT_THAT(policy_->Check(kRead, Role::kManager),
              StatusIs(absl::StatusCode::kPermissionDenied));
  EXPECT_THAT(policy_->Check(kAppend, Role::kAuditor),
              StatusIs(absl::StatusCode::kPermissionDenied));
}

TEST_F(AuthTest, MethodNotInTableIsDenied) {
  for (const char* method : {"/mend.eventlog.v1.EventLog/Subscribe",
                             "/mend.case.v1.CaseService/ReferCase", "", "Read"}) {
    absl::Status denied = policy_->Check(method, Role::kService);
    EXPECT_THAT(denied, StatusIs(absl::StatusCode::kPermissionDenied)) << method;
    EXPECT_THAT(std::string(denied.message()), HasSubstr("no policy for method"));
  }
}

TEST_F(AuthTest, PolicyTableMistakesAreInvalidArgument) {
  EXPECT_THAT(MethodPolicy::Create({{"Read", {Role::kService}}}),
              StatusIs(absl::StatusCode::kInvalidArgument));
  EXPECT_THAT(MethodPolicy::Create({{"/EventLog/Read", {Role::kService}}}),
              StatusIs(absl::StatusCode::kInvalidArgument));
  EXPECT_THAT(MethodPolicy::Create({{"/mend.eventlog.v1.EventLog/", {Role::kService}}}),
              StatusIs(absl::StatusCode::kInvalidArgument));
  EXPECT_THAT(MethodPolicy::Create({{"/mend.x.v1.X/A/B", {Role::kService}}}),
              StatusIs(absl::StatusCode::kInvalidArgument));
  EXPECT_THAT(MethodPolicy::Create({{kRead, {}}}),
              StatusIs(absl::StatusCode::kInvalidArgument));
  EXPECT_THAT(
      MethodPolicy::Create({{kRead, {Role::kService}}, {kRead, {Role::kAuditor}}}),
      StatusIs(absl::StatusCode::kInvalidArgument));
  // The same method in two tables is caught too.
  const MethodPolicy::Table a = {{kRead, {Role::kService}}};
  const MethodPolicy::Table b = {{kRead, {Role::kAuditor}}};
  EXPECT_THAT(MethodPolicy::Create({&a, &b}),
              StatusIs(absl::StatusCode::kInvalidArgument));
  const MethodPolicy::Table c = {{kAppend, {Role::kService}}};
  EXPECT_THAT(MethodPolicy::Create({&a, &c}), IsOk());
  const std::vector<const MethodPolicy::Table*> tables = {&a, nullptr};
  EXPECT_THAT(MethodPolicy::Create(tables), StatusIs(absl::StatusCode::kInvalidArgument));
}

TEST_F(AuthTest, MethodsWithoutPolicyListsUncoveredMethods) {
  const google::protobuf::ServiceDescriptor* service =
      eventlog::v1::ReadRequest::descriptor()->file()->FindServiceByName("EventLog");
  ASSERT_NE(service, nullptr);
  EXPECT_THAT(policy_->MethodsWithoutPolicy(*service),
              UnorderedElementsAre("/mend.eventlog.v1.EventLog/ReadStream",
                                   "/mend.eventlog.v1.EventLog/Subscribe",
                                   "/mend.eventlog.v1.EventLog/GetHead",
                                   "/mend.eventlog.v1.EventLog/GetTreeHead",
                                   "/mend.eventlog.v1.EventLog/GetInclusionProof",
                                   "/mend.eventlog.v1.EventLog/GetConsistencyProof"));
  EXPECT_EQ(FullMethodName(*service->FindMethodByName("Read")), kRead);
}

// Authorizer -------------------------------------------------------------------

TEST_F(AuthTest, AuthorizerAcceptsBearerTokenInAnyCase) {
  Authorizer authorizer(es256_.get(), policy_.get(), [] { return kNow; });
  const std::string token = Mint(*ec_, "svc-case", Role::kService);
  for (const char* scheme : {"Bearer ", "bearer ", "BEARER ", "Bearer   ", " Bearer\t"}) {
    absl::StatusOr<Caller> caller =
        authorizer.AuthorizeHeader(absl::StrCat(scheme, token), kRead);
    ASSERT_THAT(caller, IsOk()) << "'" << scheme << "'";
    EXPECT_EQ(caller->subject, "svc-case");
    EXPECT_EQ(caller->role, Role::kService);
  }
}

TEST_F(AuthTest, AuthorizerRejectsMalformedHeaders) {
  Authorizer authorizer(es256_.get(), policy_.get(), [] { return kNow; });
  const std::string token = Mint(*ec_, "svc-case", Role::kService);
  const std::vector<std::string> headers = {
      "",
      "Bearer",
      "Bearer ",
      token,
      "Basic " + token,
      "Bearer" + token,
      "Token " + token,
      "Bearer " + token + " extra",
  };
  for (const std::string& header : headers) {
    absl::StatusOr<Caller> caller = authorizer.AuthorizeHeader(header, kRead);
    EXPECT_THAT(caller, StatusIs(absl::StatusCode::kUnauthenticated))
        << "'" << header.substr(0, 20) << "'";
    EXPECT_THAT(std::string(caller.status().message()), Not(HasSubstr(token)));
  }
}

TEST_F(AuthTest, AuthorizerChecksTheRoleAfterTheToken) {
  Authorizer authorizer(es256_.get(), policy_.get(), [] { return kNow; });
  auto facilitator = authorizer.AuthorizeHeader(
      "Bearer " + Mint(*ec_, "fay", Role::kFacilitator), kRead);
  EXPECT_THAT(facilitator, StatusIs(absl::StatusCode::kPermissionDenied));
  EXPECT_THAT(std::string(facilitator.status().message()), HasSubstr("facilitator"));
  auto auditor_append =
      authorizer.AuthorizeHeader("Bearer " + Mint(*ec_, "aud", Role::kAuditor), kAppend);
  EXPECT_THAT(auditor_append, StatusIs(absl::StatusCode::kPermissionDenied));
  auto unknown = authorizer.AuthorizeHeader("Bearer " + Mint(*ec_, "svc", Role::kService),
                                            "/mend.case.v1.CaseService/CloseCase");
  EXPECT_THAT(unknown, StatusIs(absl::StatusCode::kPermissionDenied));
  EXPECT_THAT(std::string(unknown.status().message()), HasSubstr("no policy for method"));
  // A bad token is UNAUTHENTICATED even for a method nobody may call.
  EXPECT_THAT(
      authorizer.AuthorizeHeader("Bearer " + Mint(*other_ec_, "svc", Role::kService),
                                 "/mend.case.v1.CaseService/CloseCase"),
      StatusIs(absl::StatusCode::kUnauthenticated));
}

TEST_F(AuthTest, AuthorizerUsesItsClock) {
  absl::Time now = kNow;
  Authorizer authorizer(es256_.get(), policy_.get(), [&now] { return now; });
  const std::string header =
      "Bearer " + Mint(*ec_, "svc", Role::kService, absl::Minutes(5));
  EXPECT_THAT(authorizer.AuthorizeHeader(header, kRead), IsOk());
  now = kNow + absl::Minutes(10);
  auto expired = authorizer.AuthorizeHeader(header, kRead);
  EXPECT_THAT(expired, StatusIs(absl::StatusCode::kUnauthenticated));
  EXPECT_THAT(std::string(expired.status().message()), HasSubstr("token expired"));
}

TEST_F(AuthTest, AuthorizerReadsServerContextMetadata) {
  Authorizer authorizer(es256_.get(), policy_.get(), [] { return kNow; });
  const std::string token = Mint(*ec_, "svc-case", Role::kService);
  {
    grpc::ServerContext context;
    auto missing = authorizer.Authorize(context, kRead);
    EXPECT_THAT(missing, StatusIs(absl::StatusCode::kUnauthenticated));
    EXPECT_THAT(std::string(missing.status().message()),
                HasSubstr("authorization: Bearer"));
  }
  {
    grpc::ServerContext context;
    grpc::testing::ServerContextTestSpouse spouse(&context);
    spouse.AddClientMetadata("authorization", "Bearer " + token);
    auto caller = authorizer.Authorize(context, kRead);
    ASSERT_THAT(caller, IsOk());
    EXPECT_EQ(caller->subject, "svc-case");
  }
  {
    grpc::ServerContext context;
    grpc::testing::ServerContextTestSpouse spouse(&context);
    spouse.AddClientMetadata("authorization", "Bearer " + token);
    spouse.AddClientMetadata("authorization", "Bearer " + token);
    EXPECT_THAT(authorizer.Authorize(context, kRead),
                StatusIs(absl::StatusCode::kUnauthenticated));
  }
}

TEST(AttachBearerTokenTest, AddsAuthorizationMetadata) {
  grpc::ClientContext context;
  AttachBearerToken(&context, "header.payload.signature");
  grpc::testing::ClientContextTestPeer peer(&context);
  EXPECT_THAT(peer.GetSendInitialMetadata(),
              ElementsAre(std::pair<const std::string, std::string>(
                  "authorization", "Bearer header.payload.signature")));
}

}  // namespace
}  // namespace mend
