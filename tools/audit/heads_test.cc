// The heads file (round trip, a malformed line, de-duplication) and
// CheckSavedHeads over real logs in temporary directories: a log that still
// extends every saved head passes; a forged head, another key's, another
// service's, a truncated log, a log rewritten from some record on (and its
// heads signed again with the service's own key), and a log whose heads
// were removed are each a finding that says so.
#include "tools/audit/heads.h"

#include <filesystem>
#include <fstream>
#include <memory>
#include <string>
#include <vector>

#include "absl/strings/str_cat.h"
#include "absl/strings/str_format.h"
#include "common/eventlog/event_store.h"
#include "common/merkle/tree_head.h"
#include "gmock/gmock.h"
#include "gtest/gtest.h"
#include "mend/consent/v1/events.pb.h"
#include "tests/support/service_processes.h"
#include "tests/support/test_util.h"
#include "tools/audit/audit_cli.h"
#include "tools/audit/log_verifier.h"

namespace mend::audit {
namespace {

using ::mend::eventlog::v1::SignedTreeHead;
using ::mend::eventlog::v1::TreeHead;
using ::mend::testing::IsOk;
using ::mend::testing::KeyPair;
using ::mend::testing::StatusIs;
using ::mend::testing::TempDir;
using ::testing::AllOf;
using ::testing::ElementsAre;
using ::testing::Field;
using ::testing::HasSubstr;
using ::testing::IsEmpty;
using ::testing::SizeIs;

std::string ReadAll(const std::string& path) {
  std::ifstream in(path);
  return std::string(std::istreambuf_iterator<char>(in), {});
}

class HeadsTest : public ::testing::Test {
 protected:
  void SetUp() override {
    keys_ = testing::NewTreeHeadKey();
    other_keys_ = testing::NewTreeHeadKey();
    auto signer = merkle::TreeHeadSigner::FromPem(keys_.private_pem);
    ASSERT_THAT(signer, IsOk());
    signer_ = *std::move(signer);
    auto other = merkle::TreeHeadSigner::FromPem(other_keys_.private_pem);
    ASSERT_THAT(other, IsOk());
    other_signer_ = *std::move(other);
  }

  // A consent log of `count` decisions at `path`; from record `diverge_at`
  // on, their purpose differs (another history). The clock is fixed, so two
  // logs with the same records are byte for byte the same. Signs and saves a
  // head at each of `head_sizes`.
  void MakeLog(const std::string& path, int count,
               const std::vector<uint64_t>& head_sizes, int diverge_at = 0) {
    auto store = eventlog::EventStore::Open(
        {.path = path, .clock = [] { return absl::FromUnixSeconds(1767225600); }});
    ASSERT_THAT(store, IsOk());
    for (int i = 1; i <= count; ++i) {
      consent::v1::ContactDecisionMade made;
      made.set_decision_id(absl::StrFormat("decision-%04d", i));
      made.set_case_id("case-1");
      made.set_purpose(diverge_at > 0 && i >= diverge_at ? "rewritten" : "letter");
      ASSERT_THAT((*store)->Append("consent-case-1", eventlog::ExpectedVersion::Any(),
                                   {{.event_id = absl::StrCat("event-", i),
                                     .event_type = "mend.consent.v1.ContactDecisionMade",
                                     .payload = made.SerializeAsString(),
                                     .actor_id = "facilitator-ann",
                                     .actor_role = "facilitator",
                                     .correlation_id = "",
                                     .causation_id = ""}}),
                  IsOk());
    }
    for (uint64_t size : head_sizes) {
      auto root = (*store)->TreeRoot(size);
      ASSERT_THAT(root, IsOk());
      SignedTreeHead head = Sign(size, *root);
      ASSERT_THAT((*store)->PutTreeHead(size, head.SerializeAsString()), IsOk());
    }
  }

  SignedTreeHead Sign(uint64_t size, const std::string& root,
                      const std::string& service = "consent",
                      const merkle::TreeHeadSigner* signer = nullptr) {
    TreeHead head;
    head.set_service(service);
    head.set_tree_size(size);
    head.set_root_hash(root);
    head.set_timestamp_unix_micros(1767225600000000 + static_cast<int64_t>(size));
    auto signed_head = (signer != nullptr ? signer : signer_.get())->Sign(head);
    EXPECT_THAT(signed_head, IsOk());
    return signed_head.ok() ? *signed_head : SignedTreeHead();
  }

  // The heads saved in the log at `path`.
  std::vector<SignedTreeHead> SavedIn(const std::string& path) {
    auto log = OpenAuditLog(path, ConnectOptions{});
    EXPECT_THAT(log, IsOk());
    if (!log.ok()) return {};
    auto heads = (*log)->SignedHeads();
    EXPECT_THAT(heads, IsOk());
    return heads.ok() ? *heads : std::vector<SignedTreeHead>{};
  }

  // What verify --heads does: the verifier's pass with the saved sizes'
  // roots, then CheckSavedHeads against the log's newest head.
  absl::StatusOr<std::vector<Finding>> Check(const std::string& path,
                                             const std::vector<SignedTreeHead>& saved,
                                             bool use_roots = true,
                                             const std::string* key = nullptr) {
    auto log = OpenAuditLog(path, ConnectOptions{});
    if (!log.ok()) return log.status();
    LogVerifier verifier("consent",
                         {.root_sizes = RootSizes(saved), .decode_payloads = true});
    auto scanned = (*log)->Scan(
        1, 0, [&](uint64_t p, std::string_view bytes) { return verifier.Add(p, bytes); });
    if (!scanned.ok()) return scanned;
    auto head = (*log)->HeadPosition();
    if (!head.ok()) return head.status();
    verifier.Finish(*head);
    EXPECT_FALSE(verifier.finding().has_value()) << verifier.finding()->problem;
    auto newest = (*log)->NewestSignedHead();
    if (!newest.ok()) return newest.status();
    const std::map<uint64_t, std::string> none;
    return CheckSavedHeads(
        **log, "consent", saved, key != nullptr ? *key : keys_.public_pem,
        use_roots ? verifier.roots() : none, verifier.records(), *newest);
  }

  TempDir dir_;
  KeyPair keys_;
  KeyPair other_keys_;
  std::unique_ptr<merkle::TreeHeadSigner> signer_;
  std::unique_ptr<merkle::TreeHeadSigner> other_signer_;
};

TEST_F(HeadsTest, TheHeadsFileRoundTripsSortedAndReadable) {
  const std::string root(32, 'r');
  const std::vector<SignedTreeHead> heads = {Sign(30, root), Sign(10, root),
                                             Sign(20, root)};
  const std::string path = dir_.Sub("consent.heads");
  ASSERT_THAT(AppendHeads(path, heads), testing::IsOkAndHolds(3u));

  auto read = ReadHeadsFile(path);
  ASSERT_THAT(read, IsOk());
  ASSERT_THAT(*read, SizeIs(3));
  EXPECT_EQ((*read)[0].SerializeAsString(), heads[1].SerializeAsString());
  EXPECT_EQ((*read)[1].SerializeAsString(), heads[2].SerializeAsString());
  EXPECT_EQ((*read)[2].SerializeAsString(), heads[0].SerializeAsString());
  // One line a head, with what it states readable beside the signed part.
  const std::string text = ReadAll(path);
  EXPECT_EQ(std::count(text.begin(), text.end(), '\n'), 3);
  std::string root_hex;
  for (int i = 0; i < 32; ++i) root_hex += "72";  // 'r'
  EXPECT_THAT(text,
              HasSubstr(absl::StrCat(
                  "{\"service\":\"consent\",\"tree_size\":10,\"root_hash\":\"", root_hex,
                  "\",\"signed_at\":\"2026-01-01T00:00:00.000010Z\",\"key_id\":\"",
                  signer_->key_id(), "\"")));
  EXPECT_THAT(text, HasSubstr("\"signed_head\":{\"head\":"));
  EXPECT_FALSE(std::filesystem::exists(path + ".tmp"));
}

TEST_F(HeadsTest, OnlyHeadsNotInTheFileAreAdded) {
  const std::string root(32, 'r');
  const std::string path = dir_.Sub("consent.heads");
  ASSERT_THAT(AppendHeads(path, {Sign(10, root), Sign(20, root)}),
              testing::IsOkAndHolds(2u));
  // The same size and root again (even signed at another time) is the same
  // head; a new size is added.
  SignedTreeHead again = Sign(20, root);
  ASSERT_THAT(AppendHeads(path, {again, Sign(30, root)}), testing::IsOkAndHolds(1u));
  const std::string before = ReadAll(path);
  ASSERT_THAT(AppendHeads(path, {Sign(10, root)}), testing::IsOkAndHolds(0u));
  EXPECT_EQ(ReadAll(path), before);
  // Another root at a saved size is evidence of a fork: kept.
  ASSERT_THAT(AppendHeads(path, {Sign(20, std::string(32, 'x'))}),
              testing::IsOkAndHolds(1u));
  auto read = ReadHeadsFile(path);
  ASSERT_THAT(read, IsOk());
  EXPECT_THAT(RootSizes(*read), ElementsAre(10, 20, 30));
  EXPECT_THAT(*read, SizeIs(4));
}

TEST_F(HeadsTest, AMalformedLineIsNamedAndTheFileKept) {
  const std::string path = dir_.Sub("consent.heads");
  const std::string good = HeadsFileLine(Sign(10, std::string(32, 'r')));
  for (const auto& [text, expected] : std::vector<std::pair<std::string, std::string>>{
           {good + "\n{not json\n", "line 2: not a JSON object"},
           {"\n" + good + "\n\n{\"tree_size\":10}\n",
            "line 4: no \"signed_head\" object"},
           {"{\"signed_head\":{\"head\":\"%%%\"}}\n",
            "line 1: \"signed_head\" is not a mend.eventlog.v1.SignedTreeHead"},
       }) {
    {
      std::ofstream out(path);
      out << text;
    }
    EXPECT_THAT(ReadHeadsFile(path),
                StatusIs(absl::StatusCode::kInvalidArgument,
                         AllOf(HasSubstr(path), HasSubstr(expected))))
        << text;
    EXPECT_THAT(AppendHeads(path, {Sign(20, std::string(32, 'r'))}),
                StatusIs(absl::StatusCode::kInvalidArgument, HasSubstr(expected)));
    EXPECT_EQ(ReadAll(path), text);
  }
  EXPECT_THAT(
      ReadHeadsFile(dir_.Sub("missing.heads")),
      StatusIs(absl::StatusCode::kFailedPrecondition, HasSubstr("missing.heads")));
}

TEST_F(HeadsTest, ALogThatExtendsEverySavedHeadHasNoFinding) {
  MakeLog(dir_.Sub("log"), 30, {10, 20, 30});
  const std::vector<SignedTreeHead> saved = SavedIn(dir_.Sub("log"));
  ASSERT_THAT(saved, SizeIs(3));
  EXPECT_THAT(Check(dir_.Sub("log"), saved), testing::IsOkAndHolds(IsEmpty()));
  // Without the recomputed roots, the consistency proofs alone hold too.
  EXPECT_THAT(Check(dir_.Sub("log"), saved, /*use_roots=*/false),
              testing::IsOkAndHolds(IsEmpty()));
}

TEST_F(HeadsTest, ASavedHeadNewerThanTheLogsNewestHeadIsProvenTheOtherWay) {
  MakeLog(dir_.Sub("saved-from"), 30, {10, 30});
  MakeLog(dir_.Sub("log"), 30, {10});  // the head at 30 lost, the records kept
  EXPECT_THAT(
      Check(dir_.Sub("log"), SavedIn(dir_.Sub("saved-from")), /*use_roots=*/false),
      testing::IsOkAndHolds(IsEmpty()));
}

TEST_F(HeadsTest, AForgedHeadIsAFinding) {
  MakeLog(dir_.Sub("log"), 20, {10, 20});
  std::vector<SignedTreeHead> saved = SavedIn(dir_.Sub("log"));
  ASSERT_THAT(saved, SizeIs(2));
  // Its root changed after it was signed.
  TreeHead changed;
  ASSERT_TRUE(changed.ParseFromString(saved[0].head()));
  changed.set_root_hash(std::string(32, 'f'));
  saved[0].set_head(changed.SerializeAsString());
  // And one signed by another key, claiming to be the service's.
  saved.push_back(Sign(15, std::string(32, 'o'), "consent", other_signer_.get()));
  auto findings = Check(dir_.Sub("log"), saved);
  ASSERT_THAT(findings, IsOk());
  EXPECT_THAT(
      *findings,
      ElementsAre(
          AllOf(
              Field(&Finding::log, "consent"), Field(&Finding::position, 0u),
              Field(&Finding::problem,
                    AllOf(HasSubstr("saved head #1"), HasSubstr("size 10"),
                          HasSubstr("signature does not verify"), HasSubstr("forged")))),
          Field(&Finding::problem,
                AllOf(HasSubstr("saved head #3"),
                      HasSubstr("is signed by key " + other_signer_->key_id())))));
}

TEST_F(HeadsTest, AHeadOfAnotherServiceIsAFinding) {
  MakeLog(dir_.Sub("log"), 20, {10, 20});
  std::vector<SignedTreeHead> saved = SavedIn(dir_.Sub("log"));
  saved.push_back(Sign(5, std::string(32, 'c'), "case"));
  EXPECT_THAT(
      Check(dir_.Sub("log"), saved),
      testing::IsOkAndHolds(ElementsAre(
          Field(&Finding::problem, AllOf(HasSubstr("saved head #3 is a head of \"case\", "
                                                   "not of consent"),
                                         HasSubstr("another log"))))));
}

TEST_F(HeadsTest, ATruncatedLogIsAFinding) {
  MakeLog(dir_.Sub("before"), 30, {10, 20, 28, 30});
  // The same records, cut after 25, its chain and heads consistent.
  MakeLog(dir_.Sub("log"), 25, {10, 20});
  EXPECT_THAT(
      Check(dir_.Sub("log"), SavedIn(dir_.Sub("before"))),
      testing::IsOkAndHolds(ElementsAre(AllOf(
          Field(&Finding::position, 26u),
          Field(&Finding::problem,
                AllOf(HasSubstr("the log has 25 records but a head saved on 2026-01-01 "
                                "00:00:00 UTC covers 28: the log was truncated"),
                      HasSubstr("(and 1 more saved head after it)")))))));
}

TEST_F(HeadsTest, ALogRewrittenAndSignedAgainIsAFinding) {
  MakeLog(dir_.Sub("before"), 30, {10, 20, 30});
  // Another history from record 15 on, re-chained, its tree rebuilt and its
  // heads signed again with the service's own key: consistent in itself.
  MakeLog(dir_.Sub("log"), 30, {10, 20, 30}, /*diverge_at=*/15);
  const std::vector<SignedTreeHead> saved = SavedIn(dir_.Sub("before"));
  EXPECT_THAT(
      Check(dir_.Sub("log"), saved),
      testing::IsOkAndHolds(ElementsAre(AllOf(
          Field(&Finding::position, 20u),
          Field(
              &Finding::problem,
              AllOf(HasSubstr("the first 20 records no longer hash to the root of the "
                              "head saved on"),
                    HasSubstr("rewritten at or before position 20 and after position 10"),
                    HasSubstr("(and 1 more saved head after it)")))))));
  // Without the records' roots the newest signed head is found not to extend
  // the saved ones.
  EXPECT_THAT(Check(dir_.Sub("log"), saved, /*use_roots=*/false),
              testing::IsOkAndHolds(ElementsAre(
                  AllOf(Field(&Finding::position, 20u),
                        Field(&Finding::problem,
                              AllOf(HasSubstr("newest signed head (size 30"),
                                    HasSubstr("does not extend the head saved on"),
                                    HasSubstr("(size 20)"),
                                    HasSubstr("(and 1 more saved head after it)")))))));
}

TEST_F(HeadsTest, ALogWhoseHeadsWereRemovedIsAFinding) {
  MakeLog(dir_.Sub("before"), 20, {10, 20});
  MakeLog(dir_.Sub("log"), 20, {});
  EXPECT_THAT(
      Check(dir_.Sub("log"), SavedIn(dir_.Sub("before"))),
      testing::IsOkAndHolds(ElementsAre(
          Field(&Finding::problem, HasSubstr("the log has no signed tree head, yet heads "
                                             "were saved from it")))));
}

TEST_F(HeadsTest, AForgedNewestHeadIsAFinding) {
  MakeLog(dir_.Sub("before"), 20, {10, 20});
  MakeLog(dir_.Sub("log"), 20, {});
  {
    auto store = eventlog::EventStore::Open({.path = dir_.Sub("log")});
    ASSERT_THAT(store, IsOk());
    auto root = (*store)->TreeRoot(20);
    ASSERT_THAT(root, IsOk());
    SignedTreeHead forged = Sign(20, *root, "consent", other_signer_.get());
    ASSERT_THAT((*store)->PutTreeHead(20, forged.SerializeAsString()), IsOk());
  }
  EXPECT_THAT(Check(dir_.Sub("log"), SavedIn(dir_.Sub("before"))),
              testing::IsOkAndHolds(::testing::Contains(Field(
                  &Finding::problem, AllOf(HasSubstr("the log's newest signed head"),
                                           HasSubstr("does not verify"))))));
}

TEST_F(HeadsTest, AKeyThatIsNotEd25519IsRefused) {
  MakeLog(dir_.Sub("log"), 5, {5});
  const std::string not_a_key =
      "-----BEGIN PUBLIC KEY-----\nAAAA\n-----END PUBLIC KEY-----\n";
  EXPECT_THAT(Check(dir_.Sub("log"), SavedIn(dir_.Sub("log")), true, &not_a_key),
              StatusIs(absl::StatusCode::kInvalidArgument));
}

}  // namespace
}  // namespace mend::audit
