#include "common/security/crypto.h"

#include <set>
#include <string>

#include "gmock/gmock.h"
#include "gtest/gtest.h"
#include "tests/support/test_util.h"

namespace mend::crypto {
namespace {

using ::mend::testing::IsOk;
using ::mend::testing::IsOkAndHolds;
using ::mend::testing::StatusIs;
using ::testing::HasSubstr;

std::string Key(char fill = 'k') { return std::string(kKeySize, fill); }

std::string Unhex(std::string_view hex) {
  absl::StatusOr<std::string> bytes = HexDecode(hex);
  EXPECT_THAT(bytes, IsOk());
  return bytes.ok() ? *bytes : std::string();
}

TEST(CryptoTest, RandomBytesHaveTheRequestedLengthAndDiffer) {
  std::set<std::string> seen;
  for (int i = 0; i < 20; ++i) {
    absl::StatusOr<std::string> r = RandomBytes(32);
    ASSERT_THAT(r, IsOk());
    EXPECT_EQ(r->size(), 32u);
    seen.insert(*r);
  }
  EXPECT_EQ(seen.size(), 20u);
  EXPECT_THAT(RandomBytes(0), IsOkAndHolds(std::string()));
  EXPECT_THAT(RandomBytes(kMaxSealInput + 1),
              StatusIs(absl::StatusCode::kInvalidArgument));
}

TEST(CryptoTest, SealOpenRoundTrip) {
  const std::string binary("\0\x01\xff\x80 tail", 9);
  for (const std::string& plaintext :
       {std::string(), std::string("x"), std::string("+44 7700 900123"), binary,
        std::string(100000, 'p')}) {
    for (const std::string& ad : {std::string(), std::string("contact.phone")}) {
      absl::StatusOr<std::string> sealed = Seal(Key(), plaintext, ad);
      ASSERT_THAT(sealed, IsOk());
      EXPECT_EQ(sealed->size(), plaintext.size() + kSealOverhead);
      EXPECT_THAT(Open(Key(), *sealed, ad), IsOkAndHolds(plaintext));
    }
  }
}

TEST(CryptoTest, EachSealUsesAFreshNonce) {
  absl::StatusOr<std::string> a = Seal(Key(), "same", "ad");
  absl::StatusOr<std::string> b = Seal(Key(), "same", "ad");
  ASSERT_THAT(a, IsOk());
  ASSERT_THAT(b, IsOk());
  EXPECT_NE(a->substr(0, kNonceSize), b->substr(0, kNonceSize));
  EXPECT_NE(*a, *b);
}

// NIST GCM spec (McGrew & Viega), test case 16: AES-256 with associated data.
// Shows Open reads the standard nonce || ciphertext || tag layout.
TEST(CryptoTest, OpenMatchesPublishedGcmVector) {
  const std::string key =
      Unhex("feffe9928665731c6d6a8f9467308308feffe9928665731c6d6a8f9467308308");
  const std::string nonce = Unhex("cafebabefacedbaddecaf888");
  const std::string plaintext = Unhex(
      "d9313225f88406e5a55909c5aff5269a86a7a9531534f7da2e4c303d8a318a72"
      "1c3c0c95956809532fcf0e2449a6b525b16aedf5aa0de657ba637b39");
  const std::string ad = Unhex("feedfacedeadbeeffeedfacedeadbeefabaddad2");
  const std::string ciphertext = Unhex(
      "522dc1f099567d07f47f37a32a84427d643a8cdcbfe5c0c97598a2bd2555d1aa"
      "8cb08e48590dbb3da7b08b1056828838c5f61e6393ba7a0abcc9f662");
  const std::string tag = Unhex("76fc6ece0f4e1768cddf8853bb2d551b");
  EXPECT_THAT(Open(key, nonce + ciphertext + tag, ad), IsOkAndHolds(plaintext));
}

TEST(CryptoTest, WrongAssociatedDataIsDataLoss) {
  absl::StatusOr<std::string> sealed = Seal(Key(), "secret", "contact.phone");
  ASSERT_THAT(sealed, IsOk());
  EXPECT_THAT(Open(Key(), *sealed, "contact.email"),
              StatusIs(absl::StatusCode::kDataLoss));
  EXPECT_THAT(Open(Key(), *sealed, ""), StatusIs(absl::StatusCode::kDataLoss));
}

TEST(CryptoTest, WrongKeyIsDataLoss) {
  absl::StatusOr<std::string> sealed = Seal(Key('a'), "secret", "ad");
  ASSERT_THAT(sealed, IsOk());
  absl::StatusOr<std::string> opened = Open(Key('b'), *sealed, "ad");
  EXPECT_THAT(opened, StatusIs(absl::StatusCode::kDataLoss));
  EXPECT_THAT(opened.status().message(), HasSubstr("authentication"));
}

TEST(CryptoTest, EveryFlippedBitIsDataLoss) {
  absl::StatusOr<std::string> sealed = Seal(Key(), "a short secret", "ad");
  ASSERT_THAT(sealed, IsOk());
  for (size_t i = 0; i < sealed->size(); ++i) {
    for (int bit = 0; bit < 8; ++bit) {
      std::string changed = *sealed;
      changed[i] = static_cast<char>(changed[i] ^ (1 << bit));
      EXPECT_THAT(Open(Key(), changed, "ad"), StatusIs(absl::StatusCode::kDataLoss))
          << "byte " << i << " bit " << bit;
    }
  }
}

TEST(CryptoTest, TruncatedOrExtendedIsDataLoss) {
  absl::StatusOr<std::string> sealed = Seal(Key(), "secret", "ad");
  ASSERT_THAT(sealed, IsOk());
  for (size_t len = 0; len < sealed->size(); ++len) {
    EXPECT_THAT(Open(Key(), sealed->substr(0, len), "ad"),
                StatusIs(absl::StatusCode::kDataLoss))
        << "length " << len;
  }
  EXPECT_THAT(Open(Key(), *sealed + "x", "ad"), StatusIs(absl::StatusCode::kDataLoss));
}

TEST(CryptoTest, KeyLengthIsChecked) {
  for (size_t len : {size_t{0}, size_t{16}, size_t{31}, size_t{33}}) {
    const std::string key(len, 'k');
    absl::StatusOr<std::string> sealed = Seal(key, "secret", "ad");
    EXPECT_THAT(sealed, StatusIs(absl::StatusCode::kInvalidArgument)) << len;
    EXPECT_THAT(sealed.status().message(), HasSubstr("32"));
    EXPECT_THAT(Open(key, std::string(64, 's'), "ad"),
                StatusIs(absl::StatusCode::kInvalidArgument))
        << len;
  }
}

TEST(CryptoTest, CleanseZeroesAndClears) {
  std::string secret = "a secret that is longer than the small-string buffer";
  const char* data = secret.data();
  const size_t size = secret.size();
  Cleanse(secret);
  EXPECT_TRUE(secret.empty());
  // clear() keeps the heap buffer, so its old bytes can be inspected.
  EXPECT_EQ(secret.data(), data);
  EXPECT_EQ(std::string(data, size), std::string(size, '\0'));
}

TEST(CryptoTest, HexDecode) {
  EXPECT_THAT(HexDecode(""), IsOkAndHolds(std::string()));
  EXPECT_THAT(HexDecode("00ff7fA0"), IsOkAndHolds(std::string("\x00\xff\x7f\xa0", 4)));
  EXPECT_THAT(HexDecode("abc"), StatusIs(absl::StatusCode::kInvalidArgument));
  absl::StatusOr<std::string> bad = HexDecode("secretzz");
  EXPECT_THAT(bad, StatusIs(absl::StatusCode::kInvalidArgument));
  EXPECT_THAT(bad.status().message(), ::testing::Not(HasSubstr("secret")));
}

}  // namespace
}  // namespace mend::crypto
