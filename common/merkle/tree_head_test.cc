#include "common/merkle/tree_head.h"

#include <gmock/gmock.h>
#include <google/protobuf/util/message_differencer.h>
#include <gtest/gtest.h>
#include <openssl/bio.h>
#include <openssl/err.h>
#include <openssl/evp.h>
#include <openssl/pem.h>

#include <fstream>
#include <memory>
#include <string>
#include <thread>
#include <vector>

#include "absl/strings/str_cat.h"
#include "common/base/sha256.h"
#include "tests/support/test_util.h"

namespace mend::merkle {
namespace {

using ::google::protobuf::util::MessageDifferencer;
using ::mend::eventlog::v1::SignedTreeHead;
using ::mend::eventlog::v1::TreeHead;
using ::mend::testing::IsOk;
using ::mend::testing::StatusIs;
using ::testing::HasSubstr;
using ::testing::MatchesRegex;

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

// What `openssl genpkey -algorithm ed25519` makes.
KeyPair Ed25519KeyPair() {
  Pkey key(EVP_PKEY_Q_keygen(nullptr, nullptr, "ED25519"));
  EXPECT_NE(key, nullptr) << "Ed25519 key generation failed";
  return key == nullptr ? KeyPair{} : PemsOf(key.get());
}

KeyPair EcP256KeyPair() {
  Pkey key(EVP_PKEY_Q_keygen(nullptr, nullptr, "EC", "P-256"));
  EXPECT_NE(key, nullptr) << "EC key generation failed";
  return key == nullptr ? KeyPair{} : PemsOf(key.get());
}

// Ed25519 over kTreeHeadContext ‖ head_bytes with `private_pem`, bypassing
// TreeHeadSigner's checks: for heads Sign would refuse to make.
std::string RawSign(const std::string& private_pem, const std::string& head_bytes) {
  Bio bio(BIO_new_mem_buf(private_pem.data(), static_cast<int>(private_pem.size())));
  Pkey key(PEM_read_bio_PrivateKey(bio.get(), nullptr, nullptr, nullptr));
  EXPECT_NE(key, nullptr);
  if (key == nullptr) return "";
  const std::string message = std::string(kTreeHeadContext) + head_bytes;
  EVP_MD_CTX* ctx = EVP_MD_CTX_new();
  EXPECT_EQ(EVP_DigestSignInit(ctx, nullptr, nullptr, nullptr, key.get()), 1);
  std::string signature(64, '\0');
  size_t length = signature.size();
  EXPECT_EQ(EVP_DigestSign(
                ctx, reinterpret_cast<unsigned char*>(signature.data()), &length,
                reinterpret_cast<const unsigned char*>(message.data()), message.size()),
            1);
  EVP_MD_CTX_free(ctx);
  signature.resize(length);
  return signature;
}

TreeHead SampleHead(uint64_t tree_size = 42) {
  TreeHead head;
  head.set_service("consent");
  head.set_tree_size(tree_size);
  head.set_root_hash(Sha256Bytes(absl::StrCat("root of ", tree_size)));
  head.set_timestamp_unix_micros(1'764'590'000'000'000 + static_cast<int64_t>(tree_size));
  return head;
}

std::string FlipBit(std::string s, size_t bit) {
  s[bit / 8] = static_cast<char>(s[bit / 8] ^ (1 << (bit % 8)));
  return s;
}

class TreeHeadTest : public ::testing::Test {
 protected:
  void SetUp() override {
    keys_ = Ed25519KeyPair();
    auto signer = TreeHeadSigner::FromPem(keys_.private_pem);
    ASSERT_THAT(signer, IsOk());
    signer_ = std::move(*signer);
  }

  void TearDown() override {
    // Every failure above cleaned up after itself.
    EXPECT_EQ(ERR_peek_error(), 0u) << "OpenSSL error left on the queue";
  }

  SignedTreeHead MustSign(const TreeHead& head) {
    auto signed_head = signer_->Sign(head);
    EXPECT_THAT(signed_head, IsOk());
    return signed_head.ok() ? *signed_head : SignedTreeHead();
  }

  KeyPair keys_;
  std::unique_ptr<TreeHeadSigner> signer_;
};

TEST_F(TreeHeadTest, SignThenVerifyRoundTripsTheHeadExactly) {
  const TreeHead head = SampleHead();
  const SignedTreeHead signed_head = MustSign(head);
  EXPECT_EQ(signed_head.head(), head.SerializeAsString());
  EXPECT_EQ(signed_head.signature().size(), 64u);
  EXPECT_EQ(signed_head.key_id(), signer_->key_id());

  absl::StatusOr<TreeHead> checked = VerifyTreeHead(signed_head, keys_.public_pem);
  ASSERT_THAT(checked, IsOk());
  EXPECT_TRUE(MessageDifferencer::Equals(*checked, head)) << checked->DebugString();

  // Through the signer's own public key too, and with an empty head
  // (tree_size 0 still has a 32-byte root: the hash of nothing).
  TreeHead empty;
  empty.set_root_hash(Sha256Bytes(""));
  checked = VerifyTreeHead(MustSign(empty), signer_->public_key_pem());
  ASSERT_THAT(checked, IsOk());
  EXPECT_TRUE(MessageDifferencer::Equals(*checked, empty));
}

TEST_F(TreeHeadTest, PublicKeyPemIsTheKeysSubjectPublicKeyInfo) {
  EXPECT_EQ(signer_->public_key_pem(), keys_.public_pem);
  EXPECT_THAT(signer_->public_key_pem(), HasSubstr("-----BEGIN PUBLIC KEY-----"));
}

TEST_F(TreeHeadTest, KeyIdMatchesKeyIdOfThePublicPemAndDiffersAcrossKeys) {
  absl::StatusOr<std::string> id = KeyId(keys_.public_pem);
  ASSERT_THAT(id, IsOk());
  EXPECT_EQ(*id, signer_->key_id());
  EXPECT_THAT(*id, MatchesRegex("[0-9a-f]{64}"));

  const KeyPair other = Ed25519KeyPair();
  absl::StatusOr<std::string> other_id = KeyId(other.public_pem);
  ASSERT_THAT(other_id, IsOk());
  EXPECT_NE(*other_id, *id);
  auto other_signer = TreeHeadSigner::FromPem(other.private_pem);
  ASSERT_THAT(other_signer, IsOk());
  EXPECT_EQ((*other_signer)->key_id(), *other_id);
}

TEST_F(TreeHeadTest, KeyIdIsSha256OfTheDerSubjectPublicKeyInfo) {
  Bio bio(BIO_new_mem_buf(keys_.public_pem.data(),
                          static_cast<int>(keys_.public_pem.size())));
  Pkey key(PEM_read_bio_PUBKEY(bio.get(), nullptr, nullptr, nullptr));
  ASSERT_NE(key, nullptr);
  unsigned char* der = nullptr;
  const int length = i2d_PUBKEY(key.get(), &der);
  ASSERT_GT(length, 0);
  const std::string expected = HexEncode(Sha256Bytes(
      std::string_view(reinterpret_cast<const char*>(der), static_cast<size_t>(length))));
  OPENSSL_free(der);
  EXPECT_EQ(signer_->key_id(), expected);
}

TEST_F(TreeHeadTest, AFlippedBitInTheHeadIsRefused) {
  const SignedTreeHead signed_head = MustSign(SampleHead());
  for (size_t bit = 0; bit < signed_head.head().size() * 8; ++bit) {
    SignedTreeHead tampered = signed_head;
    tampered.set_head(FlipBit(signed_head.head(), bit));
    EXPECT_THAT(VerifyTreeHead(tampered, keys_.public_pem),
                StatusIs(absl::StatusCode::kInvalidArgument, HasSubstr("signature")))
        << "bit " << bit;
  }
  // Nor may bytes be added or removed.
  SignedTreeHead longer = signed_head;
  longer.mutable_head()->push_back('\0');
  EXPECT_THAT(VerifyTreeHead(longer, keys_.public_pem),
              StatusIs(absl::StatusCode::kInvalidArgument));
  SignedTreeHead shorter = signed_head;
  shorter.mutable_head()->pop_back();
  EXPECT_THAT(VerifyTreeHead(shorter, keys_.public_pem),
              StatusIs(absl::StatusCode::kInvalidArgument));
}

TEST_F(TreeHeadTest, AFlippedBitInTheSignatureIsRefused) {
  const SignedTreeHead signed_head = MustSign(SampleHead());
  for (size_t bit = 0; bit < signed_head.signature().size() * 8; ++bit) {
    SignedTreeHead tampered = signed_head;
    tampered.set_signature(FlipBit(signed_head.signature(), bit));
    EXPECT_THAT(VerifyTreeHead(tampered, keys_.public_pem),
                StatusIs(absl::StatusCode::kInvalidArgument, HasSubstr("signature")))
        << "bit " << bit;
  }
  SignedTreeHead truncated = signed_head;
  truncated.mutable_signature()->pop_back();
  EXPECT_THAT(VerifyTreeHead(truncated, keys_.public_pem),
              StatusIs(absl::StatusCode::kInvalidArgument, HasSubstr("63 bytes")));
  SignedTreeHead unsigned_head = signed_head;
  unsigned_head.clear_signature();
  EXPECT_THAT(VerifyTreeHead(unsigned_head, keys_.public_pem),
              StatusIs(absl::StatusCode::kInvalidArgument));
}

TEST_F(TreeHeadTest, AFlippedBitInTheKeyIdIsRefused) {
  const SignedTreeHead signed_head = MustSign(SampleHead());
  for (size_t bit = 0; bit < signed_head.key_id().size() * 8; ++bit) {
    SignedTreeHead tampered = signed_head;
    tampered.set_key_id(FlipBit(signed_head.key_id(), bit));
    EXPECT_THAT(VerifyTreeHead(tampered, keys_.public_pem),
                StatusIs(absl::StatusCode::kInvalidArgument, HasSubstr("signed by key")))
        << "bit " << bit;
  }
  SignedTreeHead no_id = signed_head;
  no_id.clear_key_id();
  EXPECT_THAT(VerifyTreeHead(no_id, keys_.public_pem),
              StatusIs(absl::StatusCode::kInvalidArgument));
}

TEST_F(TreeHeadTest, AnotherKeysPublicPemIsRefused) {
  const SignedTreeHead signed_head = MustSign(SampleHead());
  const KeyPair other = Ed25519KeyPair();
  EXPECT_THAT(VerifyTreeHead(signed_head, other.public_pem),
              StatusIs(absl::StatusCode::kInvalidArgument, HasSubstr("signed by key")));

  // Relabelled with the other key's id, the signature itself fails.
  SignedTreeHead relabelled = signed_head;
  relabelled.set_key_id(*KeyId(other.public_pem));
  EXPECT_THAT(VerifyTreeHead(relabelled, other.public_pem),
              StatusIs(absl::StatusCode::kInvalidArgument,
                       HasSubstr("signature does not verify")));
}

TEST_F(TreeHeadTest, ANonEd25519KeyIsRefused) {
  const KeyPair ec = EcP256KeyPair();
  EXPECT_THAT(TreeHeadSigner::FromPem(ec.private_pem),
              StatusIs(absl::StatusCode::kInvalidArgument,
                       HasSubstr("not an Ed25519 key (it is EC)")));
  EXPECT_THAT(VerifyTreeHead(MustSign(SampleHead()), ec.public_pem),
              StatusIs(absl::StatusCode::kInvalidArgument, HasSubstr("not an Ed25519")));
  EXPECT_THAT(KeyId(ec.public_pem),
              StatusIs(absl::StatusCode::kInvalidArgument, HasSubstr("not an Ed25519")));
}

TEST_F(TreeHeadTest, ARootHashThatIsNot32BytesIsRefusedBySign) {
  TreeHead head = SampleHead();
  head.mutable_root_hash()->pop_back();
  EXPECT_THAT(signer_->Sign(head),
              StatusIs(absl::StatusCode::kInvalidArgument, HasSubstr("31 bytes")));
  head.clear_root_hash();
  EXPECT_THAT(signer_->Sign(head),
              StatusIs(absl::StatusCode::kInvalidArgument, HasSubstr("0 bytes")));
  head.set_root_hash(std::string(33, 'x'));
  EXPECT_THAT(signer_->Sign(head),
              StatusIs(absl::StatusCode::kInvalidArgument, HasSubstr("33 bytes")));
}

TEST_F(TreeHeadTest, ValidlySignedButMalformedHeadsAreRefusedByVerify) {
  // A 31-byte root, signed by the key itself (Sign would refuse it).
  TreeHead short_root = SampleHead();
  short_root.mutable_root_hash()->pop_back();
  SignedTreeHead signed_head;
  signed_head.set_head(short_root.SerializeAsString());
  signed_head.set_signature(RawSign(keys_.private_pem, signed_head.head()));
  signed_head.set_key_id(signer_->key_id());
  EXPECT_THAT(VerifyTreeHead(signed_head, keys_.public_pem),
              StatusIs(absl::StatusCode::kInvalidArgument, HasSubstr("31 bytes")));

  // Bytes that are not a TreeHead (a truncated varint).
  signed_head.set_head(std::string("\x10\xff", 2));
  signed_head.set_signature(RawSign(keys_.private_pem, signed_head.head()));
  EXPECT_THAT(VerifyTreeHead(signed_head, keys_.public_pem),
              StatusIs(absl::StatusCode::kInvalidArgument, HasSubstr("does not parse")));
}

TEST_F(TreeHeadTest, TheContextIsPartOfTheSignedMessage) {
  // A signature over the head alone (no "mend-tree-head-v1\n") is refused.
  const SignedTreeHead signed_head = MustSign(SampleHead());
  Bio bio(BIO_new_mem_buf(keys_.private_pem.data(),
                          static_cast<int>(keys_.private_pem.size())));
  Pkey key(PEM_read_bio_PrivateKey(bio.get(), nullptr, nullptr, nullptr));
  ASSERT_NE(key, nullptr);
  EVP_MD_CTX* ctx = EVP_MD_CTX_new();
  ASSERT_EQ(EVP_DigestSignInit(ctx, nullptr, nullptr, nullptr, key.get()), 1);
  std::string bare(64, '\0');
  size_t length = bare.size();
  ASSERT_EQ(
      EVP_DigestSign(ctx, reinterpret_cast<unsigned char*>(bare.data()), &length,
                     reinterpret_cast<const unsigned char*>(signed_head.head().data()),
                     signed_head.head().size()),
      1);
  EVP_MD_CTX_free(ctx);
  SignedTreeHead without_context = signed_head;
  without_context.set_signature(bare);
  EXPECT_THAT(VerifyTreeHead(without_context, keys_.public_pem),
              StatusIs(absl::StatusCode::kInvalidArgument));
  // And the signer's signature is exactly RawSign's (Ed25519 is deterministic).
  EXPECT_EQ(signed_head.signature(), RawSign(keys_.private_pem, signed_head.head()));
}

TEST_F(TreeHeadTest, GarbagePemIsRefused) {
  for (const std::string& garbage :
       {std::string(""), std::string("garbage"),
        std::string("-----BEGIN PRIVATE KEY-----\nAAAA\n-----END PRIVATE KEY-----\n")}) {
    EXPECT_THAT(
        TreeHeadSigner::FromPem(garbage),
        StatusIs(absl::StatusCode::kInvalidArgument, HasSubstr("PEM private key")))
        << garbage;
    EXPECT_THAT(VerifyTreeHead(MustSign(SampleHead()), garbage),
                StatusIs(absl::StatusCode::kInvalidArgument, HasSubstr("PEM public key")))
        << garbage;
    EXPECT_THAT(KeyId(garbage), StatusIs(absl::StatusCode::kInvalidArgument)) << garbage;
  }
  // The halves swapped: a public key is no signing key, nor the reverse.
  EXPECT_THAT(TreeHeadSigner::FromPem(keys_.public_pem),
              StatusIs(absl::StatusCode::kInvalidArgument));
  EXPECT_THAT(KeyId(keys_.private_pem), StatusIs(absl::StatusCode::kInvalidArgument));
}

TEST_F(TreeHeadTest, AnEncryptedKeyIsRefusedWithoutPromptingForAPassphrase) {
  Bio in(BIO_new_mem_buf(keys_.private_pem.data(),
                         static_cast<int>(keys_.private_pem.size())));
  Pkey key(PEM_read_bio_PrivateKey(in.get(), nullptr, nullptr, nullptr));
  ASSERT_NE(key, nullptr);
  Bio out(BIO_new(BIO_s_mem()));
  char passphrase[] = "secret";
  ASSERT_EQ(PEM_write_bio_PKCS8PrivateKey(out.get(), key.get(), EVP_aes_256_cbc(),
                                          nullptr, 0, nullptr, passphrase),
            1);
  const std::string encrypted = BioContents(out.get());
  ASSERT_THAT(encrypted, HasSubstr("ENCRYPTED PRIVATE KEY"));
  EXPECT_THAT(TreeHeadSigner::FromPem(encrypted),
              StatusIs(absl::StatusCode::kInvalidArgument, HasSubstr("unencrypted")));
}

TEST_F(TreeHeadTest, FromPemFileReadsTheKeyAndNamesAMissingFile) {
  ::mend::testing::TempDir dir;
  const std::string path = dir.Sub("tree-key.pem");
  {
    std::ofstream out(path, std::ios::binary);
    out << keys_.private_pem;
  }
  auto signer = TreeHeadSigner::FromPemFile(path);
  ASSERT_THAT(signer, IsOk());
  EXPECT_EQ((*signer)->key_id(), signer_->key_id());

  const std::string missing = dir.Sub("no-such-key.pem");
  EXPECT_THAT(TreeHeadSigner::FromPemFile(missing),
              StatusIs(absl::StatusCode::kFailedPrecondition, HasSubstr(missing)));

  const std::string bad = dir.Sub("bad.pem");
  {
    std::ofstream out(bad, std::ios::binary);
    out << "garbage";
  }
  EXPECT_THAT(TreeHeadSigner::FromPemFile(bad),
              StatusIs(absl::StatusCode::kInvalidArgument, HasSubstr(bad)));
}

TEST_F(TreeHeadTest, SigningFromSeveralThreadsAtOnceWorks) {
  constexpr int kThreads = 8;
  constexpr int kHeadsPerThread = 50;
  std::vector<std::vector<SignedTreeHead>> results(kThreads);
  std::vector<std::thread> threads;
  for (int t = 0; t < kThreads; ++t) {
    threads.emplace_back([&, t] {
      for (int i = 0; i < kHeadsPerThread; ++i) {
        auto signed_head = signer_->Sign(SampleHead(t * kHeadsPerThread + i));
        if (signed_head.ok()) results[t].push_back(*std::move(signed_head));
      }
      // Failures (none expected) must not leak into other threads' queues.
      ERR_clear_error();
    });
  }
  for (std::thread& thread : threads) thread.join();
  for (int t = 0; t < kThreads; ++t) {
    ASSERT_EQ(results[t].size(), static_cast<size_t>(kHeadsPerThread)) << "thread " << t;
    for (int i = 0; i < kHeadsPerThread; ++i) {
      absl::StatusOr<TreeHead> checked = VerifyTreeHead(results[t][i], keys_.public_pem);
      ASSERT_THAT(checked, IsOk());
      EXPECT_TRUE(
          MessageDifferencer::Equals(*checked, SampleHead(t * kHeadsPerThread + i)));
    }
  }
}

}  // namespace
}  // namespace mend::merkle
