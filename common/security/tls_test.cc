// Unit tests of common/tls.h: the listen-address rule as a table, and the
// checks MakeServerCredentials / MakeChannelCredentials make on PEM files
// before gRPC ever sees them. Real handshakes are in
// tests/integration/tls_integration_test.cc.
#include "common/security/tls.h"

#include <sys/stat.h>
#include <unistd.h>

#include <fstream>
#include <ostream>
#include <string>

#include "absl/status/status.h"
#include "absl/strings/str_cat.h"
#include "gmock/gmock.h"
#include "gtest/gtest.h"
#include "tests/support/test_util.h"

namespace mend {
namespace {

using ::mend::testing::IsOk;
using ::mend::testing::StatusIs;
using ::mend::testing::TempDir;
using ::testing::AllOf;
using ::testing::HasSubstr;
using ::testing::NotNull;

// Test data, not secrets: made once with openssl for these tests.
// kCertA: self-signed, EC P-256, CN "mend tls_test", valid until 2126; its key
// is kKeyA. kKeyB: an unrelated key. kEncryptedKeyB: kKeyB under a passphrase.
// kExpiredCertA: kKeyA's certificate valid only in the year 2000.
constexpr char kKeyA[] = R"(-----BEGIN PRIVATE KEY-----
MIGHAgEAMBMGByqGSM49AgEGCCqGSM49AwEHBG0wawIBAQQgUSz3yEC6gZSu8qUt
3kgPaJWmtpyxLfFIfTKtq/pwweOhRANCAARkmLHytPhD1JQ4OZ9xbR4eW8b6najJ
6QIa72Fh7KGA35lPBEO1gW5RHUmuktbamYhXR0akASmS7ae05fxrjrmU
-----END PRIVATE KEY-----
)";
constexpr char kCertA[] = R"(-----BEGIN CERTIFICATE-----
MIIBnDCCAUOgAwIBAgIUAhARGV1UfEu8uv2LdAVdzZX3mfwwCgYIKoZIzj0EAwIw
GDEWMBQGA1UEAwwNbWVuZCB0bHNfdGVzdDAgFw0yNjExMjUxNTM5MTFaGA8yMTI2
MTEwMTE1MzkxMVowGDEWMBQGA1UEAwwNbWVuZCB0bHNfdGVzdDBZMBMGByqGSM49
AgEGCCqGSM49AwEHA0IABGSYsfK0+EPUlDg5n3FtHh5bxvqdqMnpAhrvYWHsoYDf
mU8EQ7WBblEdSa6S1tqZiFdHRqQBKZLtp7Tl/GuOuZSjaTBnMB0GA1UdDgQWBBSL
gdMiBZfU10Vu4VX/bQwagOf7KTAfBgNVHSMEGDAWgBSLgdMiBZfU10Vu4VX/bQwa
gOf7KTAPBgNVHRMBAf8EBTADAQH/MBQGA1UdEQQNMAuCCWxvY2FsaG9zdDAKBggq
hkjOPQQDAgNHADBEAiAkgbbymrjc6DT/oS8/HyzPYJS54NWWX98OX7jys5WZewIg
X1XOSew/XuyFcAR77xE6SVxChLl84XcQhax7xN/cK4A=
-----END CERTIFICATE-----
)";
constexpr char kKeyB[] = R"(-----BEGIN PRIVATE KEY-----
MIGHAgEAMBMGByqGSM49AgEGCCqGSM49AwEHBG0wawIBAQQg2TFJ6tS2Ck/u8sZy
XTboxx1aTSBRLLhCntEdG379J/GhRANCAARXOrBKM7WI9dWEOVbxSyhEUSdOBmMR
BQxCES4xVJryiwFCIHP1mmaU9pIomDqFPtepDbejbeE9JtTXkUdBCNvz
-----END PRIVATE KEY-----
)";
constexpr char kEncryptedKeyB[] = R"(-----BEGIN ENCRYPTED PRIVATE KEY-----
MIHsMFcGCSqGSIb3DQEFDTBKMCkGCSqGSIb3DQEFDDAcBAiGcKRC62+MbgICCAAw
DAYIKoZIhvcNAgkFADAdBglghkgBZQMEASoEEAqcJNYDSUJ+/oxvKCTjW6oEgZDi
L+ZePwha5rF7ITzm8yN8ZAwcnCuCTf4aXbXGDg+lJy10gICXrCDOLvYzipkUjjCF
y5XDB17BO3DbPPGAB4lf32NMG9ZNirB0ZEIR5xhzV1rKQSJBQagdhlk1HGNvVIA9
8mJ6+pRz5RR/sg6klOt/C2DS/jgZ9Eb7aUQgqQgkGqYpIAPbVRi+CfV5iAixOPY=
-----END ENCRYPTED PRIVATE KEY-----
)";
constexpr char kExpiredCertA[] = R"(-----BEGIN CERTIFICATE-----
MIIBFjCBvAIBATAKBggqhkjOPQQDAjAXMRUwEwYDVQQDDAxtZW5kIGV4cGlyZWQw
HhcNMDAwMTAxMDAwMDAwWhcNMDEwMTAxMDAwMDAwWjAXMRUwEwYDVQQDDAxtZW5k
IGV4cGlyZWQwWTATBgcqhkjOPQIBBggqhkjOPQMBBwNCAARkmLHytPhD1JQ4OZ9x
bR4eW8b6najJ6QIa72Fh7KGA35lPBEO1gW5RHUmuktbamYhXR0akASmS7ae05fxr
jrmUMAoGCCqGSM49BAMCA0kAMEYCIQDW4NgiU1jm7j28Ueg/qaqkipUvHOXWNH0N
aqTvWHoNdwIhALwtj21z105fgXeQe3qqVlZ5utBL10fSKK5X+4EcYw4d
-----END CERTIFICATE-----
)";

// --- CheckListenAddress ------------------------------------------------------

struct AddressCase {
  const char* address;
  // Expected code without TLS and without --allow_insecure.
  absl::StatusCode plaintext;
};

void PrintTo(const AddressCase& c, std::ostream* os) {
  *os << "\"" << c.address << "\" -> " << absl::StatusCodeToString(c.plaintext);
}

class ListenAddressTest : public ::testing::TestWithParam<AddressCase> {};

TEST_P(ListenAddressTest, PlaintextOnlyOnLoopbackAndMalformedAlwaysRejected) {
  const AddressCase& c = GetParam();
  SCOPED_TRACE(c.address);
  const absl::Status plaintext = CheckListenAddress(c.address, false, false);
  EXPECT_THAT(plaintext, StatusIs(c.plaintext));

  // TLS or --allow_insecure lift the loopback rule, never the syntax rule.
  const absl::StatusCode with_flag = c.plaintext == absl::StatusCode::kInvalidArgument
                                         ? absl::StatusCode::kInvalidArgument
                                         : absl::StatusCode::kOk;
  EXPECT_THAT(CheckListenAddress(c.address, true, false), StatusIs(with_flag));
  EXPECT_THAT(CheckListenAddress(c.address, false, true), StatusIs(with_flag));
  EXPECT_THAT(CheckListenAddress(c.address, true, true), StatusIs(with_flag));

  if (c.plaintext == absl::StatusCode::kFailedPrecondition) {
    // The operator is told both ways out, by flag name.
    EXPECT_THAT(
        plaintext.message(),
        AllOf(HasSubstr("--tls_cert"), HasSubstr("--tls_key"), HasSubstr("--tls_ca"),
              HasSubstr("--allow_insecure"), HasSubstr(c.address)));
  }
}

constexpr absl::StatusCode kOk = absl::StatusCode::kOk;
constexpr absl::StatusCode kRefused = absl::StatusCode::kFailedPrecondition;
constexpr absl::StatusCode kMalformed = absl::StatusCode::kInvalidArgument;

INSTANTIATE_TEST_SUITE_P(
    Table, ListenAddressTest,
    ::testing::Values(
        // Loopback: allowed in plaintext.
        AddressCase{"127.0.0.1:50051", kOk}, AddressCase{"127.0.0.1:0", kOk},
        AddressCase{"127.1.2.3:65535", kOk}, AddressCase{"127.255.255.255:1", kOk},
        AddressCase{"[::1]:50051", kOk}, AddressCase{"[0:0:0:0:0:0:0:1]:50051", kOk},
        AddressCase{"[::ffff:127.0.0.1]:50051", kOk}, AddressCase{"localhost:50051", kOk},
        AddressCase{"LocalHost:50051", kOk}, AddressCase{"localhost.:50051", kOk},
        AddressCase{"unix:/run/mend/case.sock", kOk},
        AddressCase{"unix:relative.sock", kOk},
        AddressCase{"unix-abstract:mend-case", kOk},
        // Reachable from elsewhere: refused without TLS.
        AddressCase{"0.0.0.0:50051", kRefused}, AddressCase{"[::]:50051", kRefused},
        AddressCase{":50051", kRefused}, AddressCase{"10.0.0.7:50051", kRefused},
        AddressCase{"192.168.1.1:0", kRefused}, AddressCase{"128.0.0.1:50051", kRefused},
        AddressCase{"[2001:db8::1]:50051", kRefused},
        AddressCase{"[::ffff:10.0.0.1]:50051", kRefused},
        AddressCase{"mend-case:50051", kRefused},
        AddressCase{"mend-case.mend.svc.cluster.local:50051", kRefused},
        AddressCase{"localhost.example.com:50051", kRefused},
        // inet_aton shorthand resolves, but is not recognised as loopback: the
        // rule errs on the side of refusing.
        AddressCase{"127.1:50051", kRefused}, AddressCase{"0:50051", kRefused},
        // Malformed.
        AddressCase{"", kMalformed}, AddressCase{"127.0.0.1", kMalformed},
        AddressCase{"127.0.0.1:", kMalformed}, AddressCase{"localhost", kMalformed},
        AddressCase{"127.0.0.1:65536", kMalformed},
        AddressCase{"127.0.0.1:123456", kMalformed},
        AddressCase{"127.0.0.1:-1", kMalformed},
        AddressCase{"127.0.0.1:http", kMalformed},
        AddressCase{"127.0.0.1:50 51", kMalformed},
        AddressCase{" 127.0.0.1:50051", kMalformed}, AddressCase{"::1:50051", kMalformed},
        AddressCase{"::1", kMalformed}, AddressCase{"[::1]", kMalformed},
        AddressCase{"[::1]50051", kMalformed}, AddressCase{"[::1:50051", kMalformed},
        AddressCase{"[127.0.0.1]:50051", kMalformed},
        AddressCase{"[localhost]:50051", kMalformed}, AddressCase{"[]:50051", kMalformed},
        AddressCase{"[::1]:", kMalformed}, AddressCase{"[::1]:x", kMalformed},
        AddressCase{"host/x:50051", kMalformed},
        AddressCase{"ipv4:127.0.0.1:50051", kMalformed}, AddressCase{"unix:", kMalformed},
        AddressCase{"unix-abstract:", kMalformed}));

TEST(CheckListenAddressTest, MalformedMessageNamesTheAddress) {
  const absl::Status s = CheckListenAddress("[::1]:99999", true, true);
  EXPECT_THAT(s, StatusIs(absl::StatusCode::kInvalidArgument));
  EXPECT_THAT(s.message(), HasSubstr("[::1]:99999"));
}

// --- Credentials from files ----------------------------------------------------

class TlsFilesTest : public ::testing::Test {
 protected:
  // Writes `contents` to a file in the temp dir and returns its path.
  std::string Write(const std::string& name, const std::string& contents) {
    const std::string path = dir_.Sub(name);
    std::ofstream out(path, std::ios::binary | std::ios::trunc);
    out << contents;
    out.close();
    EXPECT_TRUE(out.good()) << "writing " << path;
    return path;
  }

  TempDir dir_;
};

TEST_F(TlsFilesTest, MatchingPairMakesServerCredentialsInEveryClientCertMode) {
  const std::string cert = Write("a.pem", kCertA);
  const std::string key = Write("a-key.pem", kKeyA);
  const std::string ca = Write("ca.pem", kCertA);

  EXPECT_THAT(MakeServerCredentials({.cert = cert, .key = key}),
              mend::testing::IsOkAndHolds(NotNull()));
  EXPECT_THAT(MakeServerCredentials({.cert = cert, .key = key, .ca = ca}),
              mend::testing::IsOkAndHolds(NotNull()));
  EXPECT_THAT(MakeServerCredentials(
                  {.cert = cert, .key = key, .ca = ca, .require_client_cert = true}),
              mend::testing::IsOkAndHolds(NotNull()));
}

TEST_F(TlsFilesTest, CertificateChainAndKeyInOneFileAreAccepted) {
  // Combined PEM files are common; each reader picks the blocks it needs.
  const std::string both = Write("both.pem", absl::StrCat(kKeyA, kCertA));
  EXPECT_THAT(MakeServerCredentials({.cert = both, .key = both}), IsOk());
}

TEST_F(TlsFilesTest, KeyOfAnotherCertificateIsRejectedAtStart) {
  const std::string cert = Write("a.pem", kCertA);
  const std::string key = Write("b-key.pem", kKeyB);
  auto creds = MakeServerCredentials({.cert = cert, .key = key});
  EXPECT_THAT(creds, StatusIs(absl::StatusCode::kInvalidArgument));
  EXPECT_THAT(creds.status().message(),
              AllOf(HasSubstr("does not match"), HasSubstr(cert), HasSubstr(key)));

  auto channel = MakeChannelCredentials("", cert, key);
  EXPECT_THAT(channel, StatusIs(absl::StatusCode::kInvalidArgument));
  EXPECT_THAT(channel.status().message(), HasSubstr("does not match"));
}

TEST_F(TlsFilesTest, MissingFileIsFailedPreconditionNamingIt) {
  const std::string cert = Write("a.pem", kCertA);
  const std::string key = Write("a-key.pem", kKeyA);
  const std::string missing = dir_.Sub("no-such.pem");

  for (const TlsFiles& files :
       {TlsFiles{.cert = missing, .key = key}, TlsFiles{.cert = cert, .key = missing},
        TlsFiles{.cert = cert, .key = key, .ca = missing, .require_client_cert = true}}) {
    auto creds = MakeServerCredentials(files);
    EXPECT_THAT(creds, StatusIs(absl::StatusCode::kFailedPrecondition));
    EXPECT_THAT(creds.status().message(), HasSubstr(missing));
  }
  auto channel = MakeChannelCredentials(missing);
  EXPECT_THAT(channel, StatusIs(absl::StatusCode::kFailedPrecondition));
  EXPECT_THAT(channel.status().message(), HasSubstr(missing));

  // A path through a file (ENOTDIR) cannot be opened either, even as root.
  const std::string through_file = cert + "/key.pem";
  auto not_dir = MakeServerCredentials({.cert = cert, .key = through_file});
  EXPECT_THAT(not_dir, StatusIs(absl::StatusCode::kFailedPrecondition));
  EXPECT_THAT(not_dir.status().message(), HasSubstr(through_file));
}

TEST_F(TlsFilesTest, DirectoryIsNotARegularFile) {
  const std::string key = Write("a-key.pem", kKeyA);
  auto creds = MakeServerCredentials({.cert = dir_.path(), .key = key});
  EXPECT_THAT(creds, StatusIs(absl::StatusCode::kFailedPrecondition));
  EXPECT_THAT(creds.status().message(), HasSubstr("not a regular file"));
}

TEST_F(TlsFilesTest, UnreadableFileIsFailedPrecondition) {
  if (::geteuid() == 0) GTEST_SKIP() << "root reads files whatever their mode";
  const std::string cert = Write("a.pem", kCertA);
  const std::string key = Write("a-key.pem", kKeyA);
  ASSERT_EQ(::chmod(key.c_str(), 0), 0);
  auto creds = MakeServerCredentials({.cert = cert, .key = key});
  EXPECT_THAT(creds, StatusIs(absl::StatusCode::kFailedPrecondition));
  EXPECT_THAT(creds.status().message(), HasSubstr(key));
}

TEST_F(TlsFilesTest, EmptyOrNonPemFileIsInvalidArgumentNamingIt) {
  const std::string cert = Write("a.pem", kCertA);
  const std::string key = Write("a-key.pem", kKeyA);
  const std::string empty = Write("empty.pem", "");
  const std::string text = Write("text.pem", "this is not a certificate\n");
  const std::string der = Write("binary.der", std::string("\x30\x82\x01\x9c\x30\x82", 6));
  const std::string bad_base64 =
      Write("bad.pem", "-----BEGIN CERTIFICATE-----\n!!!!\n-----END CERTIFICATE-----\n");

  for (const std::string& bad : {empty, text, der, bad_base64}) {
    SCOPED_TRACE(bad);
    for (const TlsFiles& files :
         {TlsFiles{.cert = bad, .key = key}, TlsFiles{.cert = cert, .key = bad},
          TlsFiles{.cert = cert, .key = key, .ca = bad}}) {
      auto creds = MakeServerCredentials(files);
      EXPECT_THAT(creds, StatusIs(absl::StatusCode::kInvalidArgument));
      EXPECT_THAT(creds.status().message(), HasSubstr(bad));
    }
    EXPECT_THAT(MakeChannelCredentials(bad),
                StatusIs(absl::StatusCode::kInvalidArgument));
  }
  EXPECT_THAT(MakeServerCredentials({.cert = empty, .key = key}).status().message(),
              HasSubstr("empty"));
  EXPECT_THAT(MakeServerCredentials({.cert = text, .key = key}).status().message(),
              HasSubstr("not PEM"));
}

TEST_F(TlsFilesTest, FilesSwappedAreInvalidArgument) {
  const std::string cert = Write("a.pem", kCertA);
  const std::string key = Write("a-key.pem", kKeyA);
  // A key where the certificate belongs, and the other way round.
  auto swapped = MakeServerCredentials({.cert = key, .key = cert});
  EXPECT_THAT(swapped, StatusIs(absl::StatusCode::kInvalidArgument));
  EXPECT_THAT(swapped.status().message(), HasSubstr("no certificate"));
  auto key_as_ca = MakeChannelCredentials(key);
  EXPECT_THAT(key_as_ca, StatusIs(absl::StatusCode::kInvalidArgument));
}

TEST_F(TlsFilesTest, EncryptedKeyIsRejectedWithoutPrompting) {
  const std::string cert = Write("a.pem", kCertA);
  const std::string key = Write("enc-key.pem", kEncryptedKeyB);
  auto creds = MakeServerCredentials({.cert = cert, .key = key});
  EXPECT_THAT(creds, StatusIs(absl::StatusCode::kInvalidArgument));
  EXPECT_THAT(creds.status().message(), HasSubstr("encrypted"));
}

TEST_F(TlsFilesTest, ExpiredCertificateIsFailedPrecondition) {
  const std::string cert = Write("expired.pem", kExpiredCertA);
  const std::string key = Write("a-key.pem", kKeyA);
  auto creds = MakeServerCredentials({.cert = cert, .key = key});
  EXPECT_THAT(creds, StatusIs(absl::StatusCode::kFailedPrecondition));
  EXPECT_THAT(creds.status().message(), AllOf(HasSubstr("expired"), HasSubstr(cert)));
}

TEST_F(TlsFilesTest, HugeFileIsRejectedWithoutReadingItAll) {
  const std::string cert = Write("a.pem", kCertA);
  const std::string big = Write("big.pem", std::string(2 << 20, 'A'));
  auto creds = MakeServerCredentials({.cert = cert, .key = big});
  EXPECT_THAT(creds, StatusIs(absl::StatusCode::kInvalidArgument));
  EXPECT_THAT(creds.status().message(), HasSubstr(big));
}

TEST_F(TlsFilesTest, IncompleteConfigurationIsInvalidArgument) {
  const std::string cert = Write("a.pem", kCertA);
  const std::string key = Write("a-key.pem", kKeyA);
  EXPECT_THAT(MakeServerCredentials({}), StatusIs(absl::StatusCode::kInvalidArgument));
  EXPECT_THAT(MakeServerCredentials({.cert = cert}),
              StatusIs(absl::StatusCode::kInvalidArgument));
  EXPECT_THAT(MakeServerCredentials({.key = key}),
              StatusIs(absl::StatusCode::kInvalidArgument));
  auto no_ca =
      MakeServerCredentials({.cert = cert, .key = key, .require_client_cert = true});
  EXPECT_THAT(no_ca, StatusIs(absl::StatusCode::kInvalidArgument));
  EXPECT_THAT(no_ca.status().message(), HasSubstr("--tls_ca"));

  EXPECT_THAT(MakeChannelCredentials("", cert, ""),
              StatusIs(absl::StatusCode::kInvalidArgument));
  EXPECT_THAT(MakeChannelCredentials("", "", key),
              StatusIs(absl::StatusCode::kInvalidArgument));
}

TEST_F(TlsFilesTest, ChannelCredentialsWithAndWithoutClientCertificate) {
  const std::string ca = Write("ca.pem", kCertA);
  const std::string cert = Write("a.pem", kCertA);
  const std::string key = Write("a-key.pem", kKeyA);
  EXPECT_THAT(MakeChannelCredentials(ca), mend::testing::IsOkAndHolds(NotNull()));
  EXPECT_THAT(MakeChannelCredentials(ca, cert, key),
              mend::testing::IsOkAndHolds(NotNull()));
  // No CA: gRPC's default roots.
  EXPECT_THAT(MakeChannelCredentials(""), mend::testing::IsOkAndHolds(NotNull()));
}

}  // namespace
}  // namespace mend
