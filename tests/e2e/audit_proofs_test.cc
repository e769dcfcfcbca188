// Saved heads and proof bundles end to end: the real mend-case and
// mend-consent binaries sign tree heads (every 5 events and at shutdown)
// while a case goes to approved letter decisions; once they are stopped, the
// real mend-audit binary saves the consent log's heads, proves a decision
// that check-proof verifies with the bundle and the public key alone, and
// refuses a changed bundle. Then copies of the consent log are tampered with
// as an insider with the database (and the service's signing key) could:
// the tail cut off with the chain made consistent again, a decision
// rewritten with every later record re-chained, the tree rebuilt and a fresh
// head signed. Plain `verify` passes on those copies -- they are consistent
// in themselves -- and only `verify --heads` with the heads saved before
// finds them. Forged lines in the heads file are findings too.
#include <sys/wait.h>

#include <filesystem>
#include <fstream>
#include <map>
#include <memory>
#include <optional>
#include <string>
#include <vector>

#include "absl/strings/escaping.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_join.h"
#include "absl/strings/str_split.h"
#include "absl/time/time.h"
#include "common/base/sha256.h"
#include "common/eventlog/event_store.h"
#include "common/eventlog/record_codec.h"
#include "common/merkle/tree_head.h"
#include "gmock/gmock.h"
#include "gtest/gtest.h"
#include "mend/consent/v1/events.pb.h"
#include "mend/eventlog/v1/record.pb.h"
#include "mend/eventlog/v1/tree.pb.h"
#include "nlohmann/json.hpp"
#include "rocksdb/db.h"
#include "rocksdb/write_batch.h"
#include "tests/support/process.h"
#include "tests/support/raw_db.h"
#include "tests/support/service_processes.h"
#include "tests/support/test_util.h"

namespace mend {
namespace {

namespace common_v1 = ::mend::common::v1;
namespace consent_v1 = ::mend::consent::v1;
using ::mend::eventlog::v1::SignedTreeHead;
using ::mend::eventlog::v1::TreeHead;
using ::mend::testing::ChildProcess;
using ::mend::testing::IsOk;
using ::mend::testing::RawDb;
using ::mend::testing::ServiceProcesses;
using ::mend::testing::TempDir;
using ::testing::AllOf;
using ::testing::HasSubstr;
using ::testing::Not;

std::string ReadAll(const std::string& path) {
  std::ifstream in(path, std::ios::binary);
  return std::string(std::istreambuf_iterator<char>(in), {});
}

void WriteAll(const std::string& path, const std::string& text) {
  std::ofstream out(path, std::ios::binary | std::ios::trunc);
  out << text;
}

std::string Be64(uint64_t v) {
  std::string out(8, '\0');
  for (int i = 7; i >= 0; --i, v >>= 8) out[i] = static_cast<char>(v & 0xff);
  return out;
}

// One run of the mend-audit binary.
struct AuditRun {
  int exit_code = -1;  // -1: it did not exit by itself
  std::string out;
  std::string err;
};
std::ostream& operator<<(std::ostream& os, const AuditRun& run) {
  return os << "exit " << run.exit_code << "\nstdout:\n"
            << run.out << "stderr:\n"
            << run.err;
}

// store_keys.h: the tree's signed heads are under 0xff "head" size:be64,
// after every node (level:u8 index:be64).
std::string TreeHeadKey(uint64_t size) { return std::string("\xffhead") + Be64(size); }

class AuditProofsTest : public ::testing::Test {
 protected:
  static void SetUpTestSuite() {
    p_ = new ServiceProcesses(MEND_CASE_SERVICE, MEND_CONSENT_SERVICE);
    p_->UseTreeHeads(5);
    p_->StartCase();
    p_->StartConsent();
    for (int i = 1; i <= 2; ++i) {
      const std::string case_id = p_->ReadyCase(absl::StrCat("proofs-", i));
      p_->ConsentToLetters(case_id);
      absl::StatusOr<consent_v1::ContactDecision> decision = p_->Decide(
          case_id, absl::StrCat("proofs-", i, "-decide"), common_v1::LETTER_DELIVERY);
      ASSERT_THAT(decision, IsOk()) << p_->ConsentOutput();
      ASSERT_EQ(decision->decision().outcome(), consent_v1::APPROVED);
      decisions_.push_back(*decision);
    }
    consent_size_ = p_->ConsentHead();
    // Stopped, each service signs a last head: it covers the whole log.
    p_->StopConsent();
    p_->StopCase();
    heads_ = p_->dir().Sub("consent.heads");
    const AuditRun saved =
        Audit({"heads", "save", "--log", ConsentLog(), "--out", heads_});
    ASSERT_EQ(saved.exit_code, 0) << saved;
    ready_ = true;
  }
  static void TearDownTestSuite() {
    delete p_;
    p_ = nullptr;
    decisions_.clear();
    ready_ = false;
  }
  void SetUp() override {
    ASSERT_TRUE(ready_) << "the suite's services did not get ready";
  }

  static std::string ConsentLog() { return p_->ConsentLogPath(); }
  static std::string ConsentKey() { return p_->TreeHeadPublicKeyPath("consent"); }
  static std::string Path(const std::string& name) { return p_->dir().Sub(name); }

  static AuditRun Audit(const std::vector<std::string>& args) {
    static int runs = 0;
    const std::string prefix = p_->dir().Sub(absl::StrCat("audit-", ++runs));
    absl::StatusOr<ChildProcess> child =
        ChildProcess::Start(MEND_AUDIT_BINARY, args, prefix);
    EXPECT_THAT(child, IsOk());
    AuditRun run;
    if (!child.ok()) return run;
    const std::optional<int> status = child->Wait(absl::Seconds(120));
    if (status.has_value() && WIFEXITED(*status)) run.exit_code = WEXITSTATUS(*status);
    run.out = ReadAll(prefix + ".stdout");
    run.err = ReadAll(prefix + ".stderr");
    return run;
  }

  // A copy of the consent log to tamper with.
  static std::string CopyOfConsentLog(const std::string& name) {
    const std::string copy = Path(name);
    std::filesystem::copy(ConsentLog(), copy, std::filesystem::copy_options::recursive);
    return copy;
  }

  // The signed heads stored in a log, by size.
  static std::map<uint64_t, SignedTreeHead> StoredHeads(const std::string& log) {
    auto store = eventlog::EventStore::Open(
        {.path = log, .create_if_missing = false, .read_only = true});
    EXPECT_THAT(store, IsOk());
    std::map<uint64_t, SignedTreeHead> heads;
    if (!store.ok()) return heads;
    auto listed = (*store)->ListTreeHeads();
    EXPECT_THAT(listed, IsOk());
    if (!listed.ok()) return heads;
    for (const auto& [size, bytes] : *listed)
      EXPECT_TRUE(heads[size].ParseFromString(bytes));
    return heads;
  }

  static ServiceProcesses* p_;
  static std::vector<consent_v1::ContactDecision> decisions_;
  static uint64_t consent_size_;
  static std::string heads_;
  static bool ready_;
};

ServiceProcesses* AuditProofsTest::p_ = nullptr;
std::vector<consent_v1::ContactDecision> AuditProofsTest::decisions_;
uint64_t AuditProofsTest::consent_size_ = 0;
std::string AuditProofsTest::heads_;
bool AuditProofsTest::ready_ = false;

TEST_F(AuditProofsTest, HeadsSaveKeepsEverySignedHeadOnce) {
  const std::map<uint64_t, SignedTreeHead> stored = StoredHeads(ConsentLog());
  ASSERT_GE(stored.size(), 2u);
  // The shutdown head covers the whole log.
  EXPECT_EQ(stored.rbegin()->first, consent_size_);

  const std::string out = Path("heads-once.heads");
  AuditRun run = Audit({"heads", "save", "--log", ConsentLog(), "--out", out});
  ASSERT_EQ(run.exit_code, 0) << run;
  EXPECT_THAT(run.out, HasSubstr(absl::StrCat(
                           "saved ", stored.size(), " heads of consent (sizes ",
                           stored.begin()->first, "..", consent_size_, ") to ", out)));
  const std::string text = ReadAll(out);
  EXPECT_EQ(std::count(text.begin(), text.end(), '\n'), static_cast<long>(stored.size()));
  EXPECT_THAT(text, HasSubstr(absl::StrCat(
                        "\"service\":\"consent\",\"tree_size\":", consent_size_, ",")));

  // Saving again adds nothing.
  run = Audit({"heads", "save", "--log", ConsentLog(), "--out", out});
  ASSERT_EQ(run.exit_code, 0) << run;
  EXPECT_THAT(run.out, HasSubstr("no new heads of consent to save"));
  EXPECT_EQ(ReadAll(out), text);

  // With the service's key every head is checked; with another's, none is
  // saved.
  const std::string checked = Path("heads-checked.heads");
  run = Audit({"heads", "save", "--log", ConsentLog(), "--out", checked, "--public_key",
               ConsentKey()});
  ASSERT_EQ(run.exit_code, 0) << run;
  EXPECT_EQ(ReadAll(checked), text);
  const std::string refused = Path("heads-refused.heads");
  run = Audit({"heads", "save", "--log", ConsentLog(), "--out", refused, "--public_key",
               p_->TreeHeadPublicKeyPath("case")});
  EXPECT_EQ(run.exit_code, 1) << run;
  EXPECT_THAT(run.out, HasSubstr("does not verify"));
  EXPECT_FALSE(std::filesystem::exists(refused));

  // A heads file is one service's: the case log's heads do not go in.
  run = Audit({"heads", "save", "--log", p_->CaseLogPath(), "--out", out});
  EXPECT_EQ(run.exit_code, 2) << run;
  EXPECT_THAT(run.err, HasSubstr("keep one heads file per service"));
  EXPECT_EQ(ReadAll(out), text);
}

TEST_F(AuditProofsTest, AProvenDecisionChecksWithTheBundleAndTheKeyAlone) {
  const consent_v1::ContactDecision& decision = decisions_[0];
  const std::string bundle = Path("decision.bundle.json");
  AuditRun run = Audit({"prove", "--log", ConsentLog(), "--decision",
                        decision.decision().decision_id(), "--out", bundle,
                        "--public_key", ConsentKey()});
  ASSERT_EQ(run.exit_code, 0) << run;
  EXPECT_THAT(run.out,
              HasSubstr(absl::StrCat("wrote the proof of record ", decision.position(),
                                     " of consent (decision ",
                                     decision.decision().decision_id(), ")")));

  // A third party has the bundle and the key, and nothing else.
  TempDir elsewhere;
  std::filesystem::copy_file(bundle, elsewhere.Sub("bundle.json"));
  std::filesystem::copy_file(ConsentKey(), elsewhere.Sub("consent.pub"));
  run = Audit({"check-proof", "--bundle", elsewhere.Sub("bundle.json"), "--public_key",
               elsewhere.Sub("consent.pub")});
  ASSERT_EQ(run.exit_code, 0) << run;
  EXPECT_THAT(run.out,
              HasSubstr(absl::StrCat("\"position\":", decision.position(), ",")));
  EXPECT_THAT(run.out, HasSubstr(absl::StrCat("\"decision_id\":\"",
                                              decision.decision().decision_id(), "\"")));
  EXPECT_THAT(run.out, HasSubstr("\"outcome\":\"APPROVED\""));
  EXPECT_THAT(run.out,
              HasSubstr(absl::StrCat("proof verified: record ", decision.position(),
                                     " of consent is in the log of ")));
  auto key_id = merkle::KeyId(ReadAll(ConsentKey()));
  ASSERT_THAT(key_id, IsOk());
  EXPECT_THAT(run.out, HasSubstr("by key " + *key_id));

  // By position, the same record against the same (smallest covering) head.
  const std::string by_position = Path("position.bundle.json");
  run = Audit({"prove", "--log", ConsentLog(), "--position",
               std::to_string(decision.position()), "--out", by_position});
  ASSERT_EQ(run.exit_code, 0) << run;
  const nlohmann::json a = nlohmann::json::parse(ReadAll(bundle));
  const nlohmann::json b = nlohmann::json::parse(ReadAll(by_position));
  EXPECT_EQ(a["record_base64"], b["record_base64"]);
  EXPECT_EQ(a["signed_head"], b["signed_head"]);
  EXPECT_LT(a["tree_size"].get<uint64_t>(), consent_size_ + 1);
  run = Audit({"check-proof", "--bundle", by_position, "--public_key", ConsentKey()});
  EXPECT_EQ(run.exit_code, 0) << run;

  // A decision the log does not hold is not proven.
  run = Audit({"prove", "--log", ConsentLog(), "--decision", "no-such-decision", "--out",
               Path("none.bundle.json")});
  EXPECT_EQ(run.exit_code, 1) << run;
  EXPECT_THAT(run.err,
              HasSubstr("no mend.consent.v1.ContactDecisionMade with decision_id "
                        "\"no-such-decision\""));
}

TEST_F(AuditProofsTest, AChangedBundleIsRefused) {
  const consent_v1::ContactDecision& decision = decisions_[1];
  const std::string bundle = Path("refused.bundle.json");
  const AuditRun proved = Audit({"prove", "--log", ConsentLog(), "--decision",
                                 decision.decision().decision_id(), "--out", bundle});
  ASSERT_EQ(proved.exit_code, 0) << proved;
  const nlohmann::json good = nlohmann::json::parse(ReadAll(bundle));

  // One byte of the record: the decision's id.
  {
    nlohmann::json j = good;
    std::string record;
    ASSERT_TRUE(absl::Base64Unescape(j["record_base64"].get<std::string>(), &record));
    const size_t at = record.find(decision.decision().decision_id());
    ASSERT_NE(at, std::string::npos);
    record[at] ^= 0x01;
    j["record_base64"] = absl::Base64Escape(record);
    WriteAll(Path("changed-record.json"), j.dump());
    const AuditRun run = Audit({"check-proof", "--bundle", Path("changed-record.json"),
                                "--public_key", ConsentKey()});
    EXPECT_EQ(run.exit_code, 1) << run;
    EXPECT_THAT(run.out, AllOf(HasSubstr("FINDING"),
                               HasSubstr("the record (or its stated hash) was changed"),
                               HasSubstr("the inclusion proof does not lead")));
    EXPECT_THAT(run.out, Not(HasSubstr("proof verified")));
  }
  // One hash of the proof.
  {
    nlohmann::json j = good;
    ASSERT_FALSE(j["inclusion_proof_hex"].empty());
    std::string hash = j["inclusion_proof_hex"][0].get<std::string>();
    hash[0] = hash[0] == '0' ? '1' : '0';
    j["inclusion_proof_hex"][0] = hash;
    WriteAll(Path("changed-proof.json"), j.dump());
    const AuditRun run = Audit({"check-proof", "--bundle", Path("changed-proof.json"),
                                "--public_key", ConsentKey()});
    EXPECT_EQ(run.exit_code, 1) << run;
    EXPECT_THAT(run.out,
                HasSubstr(absl::StrCat("the inclusion proof does not lead from the "
                                       "record at position ",
                                       decision.position())));
  }
  // Another service's key.
  {
    const AuditRun run = Audit({"check-proof", "--bundle", bundle, "--public_key",
                                p_->TreeHeadPublicKeyPath("case")});
    EXPECT_EQ(run.exit_code, 1) << run;
    EXPECT_THAT(run.out,
                HasSubstr("the signed head does not verify with the public key"));
  }
  // Not a bundle, no bundle, no key: usage and I/O errors.
  WriteAll(Path("not-a-bundle.json"), "{\"format\":\"mend-proof-bundle-v1\"}");
  AuditRun run = Audit({"check-proof", "--bundle", Path("not-a-bundle.json"),
                        "--public_key", ConsentKey()});
  EXPECT_EQ(run.exit_code, 2) << run;
  EXPECT_THAT(run.err, HasSubstr("not a proof bundle"));
  run = Audit(
      {"check-proof", "--bundle", Path("missing.json"), "--public_key", ConsentKey()});
  EXPECT_EQ(run.exit_code, 2) << run;
  EXPECT_THAT(run.err, HasSubstr("missing.json"));
  run = Audit({"check-proof", "--bundle", bundle});
  EXPECT_EQ(run.exit_code, 2) << run;
  EXPECT_THAT(run.err, HasSubstr("--public_key is required"));
}

TEST_F(AuditProofsTest, HeadsAndProofsComeFromARunningServiceToo) {
  // The consent service again, serving its (unchanged) log to an auditor.
  p_->StartConsent();
  const std::string token = Path("auditor.token");
  WriteAll(token, p_->Token(Role::kAuditor, "auditor-al"));
  const std::string address = p_->ConsentAddress();

  // An address serves its newest head only: the one the file has already.
  AuditRun run = Audit({"heads", "save", "--log", address, "--token_file", token, "--out",
                        Path("served.heads"), "--public_key", ConsentKey()});
  EXPECT_EQ(run.exit_code, 0) << run;
  EXPECT_THAT(run.out, HasSubstr(absl::StrCat("saved 1 head of consent (size ",
                                              consent_size_, ")")));
  run =
      Audit({"heads", "save", "--log", address, "--token_file", token, "--out", heads_});
  EXPECT_EQ(run.exit_code, 0) << run;
  EXPECT_THAT(run.out, HasSubstr("no new heads of consent to save"));

  // A proof against the newest head, its signature checked with the key the
  // service serves.
  const std::string bundle = Path("served.bundle.json");
  run = Audit({"prove", "--log", address, "--token_file", token, "--decision",
               decisions_[0].decision().decision_id(), "--out", bundle});
  EXPECT_EQ(run.exit_code, 0) << run;
  EXPECT_THAT(run.out, HasSubstr(absl::StrCat("against its signed head of ",
                                              consent_size_, " records")));
  EXPECT_THAT(run.err, Not(HasSubstr("not checked")));
  run = Audit({"check-proof", "--bundle", bundle, "--public_key", ConsentKey()});
  EXPECT_EQ(run.exit_code, 0) << run;
  EXPECT_THAT(run.out,
              HasSubstr(absl::StrCat("proof verified: record ", decisions_[0].position(),
                                     " of consent is in "
                                     "the log of ",
                                     consent_size_, " records")));

  // Without the auditor's token the service refuses: an I/O error, not a
  // finding.
  run = Audit({"prove", "--log", address, "--decision",
               decisions_[0].decision().decision_id(), "--out", Path("refused.json")});
  EXPECT_EQ(run.exit_code, 2) << run;
  p_->StopConsent();
  EXPECT_EQ(StoredHeads(ConsentLog()).rbegin()->first, consent_size_);
}

TEST_F(AuditProofsTest, ProveWaitsForASignedHeadThatCoversTheRecord) {
  const std::string copy = CopyOfConsentLog("unsigned-tail");
  const uint64_t position = decisions_[1].position();
  {
    RawDb raw(copy);
    rocksdb::WriteBatch batch;
    for (const auto& [size, head] : StoredHeads(ConsentLog())) {
      if (size >= position) {
        ASSERT_TRUE(
            batch.Delete(raw.cf(eventlog::kTreeColumnFamily), TreeHeadKey(size)).ok());
      }
    }
    raw.Write(&batch);
  }
  const AuditRun run =
      Audit({"prove", "--log", copy, "--decision", decisions_[1].decision().decision_id(),
             "--out", Path("early.bundle.json")});
  EXPECT_EQ(run.exit_code, 1) << run;
  EXPECT_THAT(run.err,
              AllOf(HasSubstr(absl::StrCat("no signed head covers position ", position)),
                    HasSubstr("wait for the service's next signed head")));
  EXPECT_FALSE(std::filesystem::exists(Path("early.bundle.json")));
}

TEST_F(AuditProofsTest, VerifyWithTheSavedHeadsPassesOnTheLogAsItIs) {
  const AuditRun run = Audit(
      {"verify", "--log", ConsentLog(), "--heads", heads_, "--public_key", ConsentKey()});
  EXPECT_EQ(run.exit_code, 0) << run;
  EXPECT_THAT(run.out, Not(HasSubstr("FINDING")));
}

TEST_F(AuditProofsTest, OnlySavedHeadsFindATruncatedLog) {
  // The last records cut off, and everything that pointed at them: the
  // stream and idempotency indexes, the stored head, the signed heads past
  // the cut. What is left is a consistent log of `keep` records.
  const std::string copy = CopyOfConsentLog("truncated");
  const uint64_t keep = consent_size_ - 3;
  {
    RawDb raw(copy);
    rocksdb::WriteBatch batch;
    for (const auto& [position, bytes] : raw.Records(keep + 1)) {
      eventlog::RecordView view;
      ASSERT_THAT(eventlog::DecodeRecord(bytes, &view), IsOk());
      ASSERT_TRUE(batch
                      .Delete(raw.cf(eventlog::kEventsColumnFamily),
                              eventlog::PositionKey(position))
                      .ok());
      ASSERT_TRUE(batch
                      .Delete(raw.cf("streams"), absl::StrCat(std::string(view.stream_id),
                                                              std::string(1, '\0'),
                                                              Be64(view.stream_version)))
                      .ok());
      ASSERT_TRUE(batch.Delete(raw.cf("event_ids"), std::string(view.event_id)).ok());
    }
    const std::string last = raw.Records(keep).at(keep);
    ASSERT_TRUE(batch
                    .Put(raw.cf(eventlog::kMetaColumnFamily), eventlog::kHeadKey,
                         Be64(keep) + Sha256Bytes(last))
                    .ok());
    for (const auto& [size, head] : StoredHeads(ConsentLog())) {
      if (size > keep) {
        ASSERT_TRUE(
            batch.Delete(raw.cf(eventlog::kTreeColumnFamily), TreeHeadKey(size)).ok());
      }
    }
    raw.Write(&batch);
  }
  AuditRun run = Audit({"verify", "--log", copy});
  EXPECT_EQ(run.exit_code, 0) << "the cut log is consistent in itself: " << run;

  run = Audit({"verify", "--log", copy, "--heads", heads_, "--public_key", ConsentKey()});
  EXPECT_EQ(run.exit_code, 1) << run;
  EXPECT_THAT(run.out, AllOf(HasSubstr(absl::StrCat("position ", keep + 1)),
                             HasSubstr(absl::StrCat("the log has ", keep,
                                                    " records but a head saved on ")),
                             HasSubstr("the log was truncated")));
}

TEST_F(AuditProofsTest, OnlySavedHeadsFindALogRewrittenAndReChained) {
  // The first decision turned into a refusal; every later record re-chained
  // onto it, the indexes and the stored head made to match, the tree built
  // again, and a head signed with the service's own key.
  const std::string copy = CopyOfConsentLog("rewritten");
  const uint64_t changed_at = decisions_[0].position();
  {
    RawDb raw(copy);
    rocksdb::WriteBatch batch;
    std::string prev_hash;
    std::string last;
    for (const auto& [position, bytes] : raw.Records(changed_at)) {
      eventlog::v1::StoredRecord record;
      ASSERT_TRUE(record.ParseFromString(bytes));
      if (position == changed_at) {
        consent_v1::ContactDecisionMade made;
        ASSERT_TRUE(made.ParseFromString(record.payload()));
        ASSERT_EQ(made.outcome(), consent_v1::APPROVED);
        made.set_outcome(consent_v1::REFUSED);
        record.set_payload(made.SerializeAsString());
        // The idempotency index's digest of the event's content, too.
        std::string ids_value;
        ASSERT_TRUE(raw.db()
                        ->Get(rocksdb::ReadOptions(), raw.cf("event_ids"),
                              record.envelope().event_id(), &ids_value)
                        .ok());
        ids_value =
            ids_value.substr(0, 16) +
            Sha256Bytes(absl::StrCat(record.envelope().stream_id(), std::string(1, '\0'),
                                     record.envelope().event_type(), std::string(1, '\0'),
                                     record.payload()));
        ASSERT_TRUE(
            batch.Put(raw.cf("event_ids"), record.envelope().event_id(), ids_value).ok());
      } else {
        record.set_prev_hash(prev_hash);
      }
      last = record.SerializeAsString();
      prev_hash = Sha256Bytes(last);
      ASSERT_TRUE(batch
                      .Put(raw.cf(eventlog::kEventsColumnFamily),
                           eventlog::PositionKey(position), last)
                      .ok());
    }
    ASSERT_TRUE(batch
                    .Put(raw.cf(eventlog::kMetaColumnFamily), eventlog::kHeadKey,
                         Be64(consent_size_) + prev_hash)
                    .ok());
    // Every tree node and signed head: a writable open builds the tree anew.
    ASSERT_TRUE(batch
                    .DeleteRange(raw.cf(eventlog::kTreeColumnFamily), std::string(),
                                 std::string(16, '\xff'))
                    .ok());
    raw.Write(&batch);
  }
  {
    auto store = eventlog::EventStore::Open({.path = copy, .create_if_missing = false});
    ASSERT_THAT(store, IsOk());
    ASSERT_TRUE((*store)->Verify().ok) << (*store)->Verify().problem;
    auto signer =
        merkle::TreeHeadSigner::FromPemFile(p_->TreeHeadPrivateKeyPath("consent"));
    ASSERT_THAT(signer, IsOk());
    auto root = (*store)->TreeRoot(consent_size_);
    ASSERT_THAT(root, IsOk());
    TreeHead head;
    head.set_service("consent");
    head.set_tree_size(consent_size_);
    head.set_root_hash(*root);
    head.set_timestamp_unix_micros(absl::ToUnixMicros(absl::Now()));
    auto signed_head = (*signer)->Sign(head);
    ASSERT_THAT(signed_head, IsOk());
    ASSERT_THAT((*store)->PutTreeHead(consent_size_, signed_head->SerializeAsString()),
                IsOk());
  }

  AuditRun run = Audit({"verify", "--log", copy, "--public_key", ConsentKey()});
  EXPECT_EQ(run.exit_code, 0) << "the rewritten log is consistent in itself: " << run;

  run = Audit({"verify", "--log", copy, "--heads", heads_, "--public_key", ConsentKey()});
  EXPECT_EQ(run.exit_code, 1) << run;
  EXPECT_THAT(run.out,
              AllOf(HasSubstr("FINDING"), HasSubstr("no longer hash to the root"),
                    HasSubstr("the log was rewritten at or before position")));
}

TEST_F(AuditProofsTest, AForgedSavedHeadIsAFinding) {
  const std::vector<std::string> lines =
      absl::StrSplit(ReadAll(heads_), '\n', absl::SkipEmpty());
  ASSERT_GE(lines.size(), 2u);

  // A saved line whose root was changed after it was signed.
  nlohmann::json line = nlohmann::json::parse(lines[0]);
  std::string bytes;
  ASSERT_TRUE(
      absl::Base64Unescape(line["signed_head"]["head"].get<std::string>(), &bytes));
  TreeHead tree_head;
  ASSERT_TRUE(tree_head.ParseFromString(bytes));
  tree_head.set_root_hash(std::string(32, '\x42'));
  line["signed_head"]["head"] = absl::Base64Escape(tree_head.SerializeAsString());
  std::vector<std::string> forged = lines;
  forged[0] = line.dump();
  WriteAll(Path("forged-root.heads"), absl::StrJoin(forged, "\n") + "\n");
  AuditRun run = Audit({"verify", "--log", ConsentLog(), "--heads",
                        Path("forged-root.heads"), "--public_key", ConsentKey()});
  EXPECT_EQ(run.exit_code, 1) << run;
  EXPECT_THAT(run.out, AllOf(HasSubstr("saved head #1"), HasSubstr("does not verify"),
                             HasSubstr("forged")));

  // A head of the right size and root, signed with another key.
  nlohmann::json resigned_line = nlohmann::json::parse(lines[1]);
  ASSERT_TRUE(absl::Base64Unescape(
      resigned_line["signed_head"]["head"].get<std::string>(), &bytes));
  TreeHead genuine;
  ASSERT_TRUE(genuine.ParseFromString(bytes));
  auto other = merkle::TreeHeadSigner::FromPemFile(p_->TreeHeadPrivateKeyPath("case"));
  ASSERT_THAT(other, IsOk());
  auto resigned = (*other)->Sign(genuine);
  ASSERT_THAT(resigned, IsOk());
  forged = lines;
  resigned_line["signed_head"]["signature"] = absl::Base64Escape(resigned->signature());
  resigned_line["signed_head"]["key_id"] = resigned->key_id();
  resigned_line["signed_head"]["head"] = absl::Base64Escape(resigned->head());
  forged[1] = resigned_line.dump();
  WriteAll(Path("other-key.heads"), absl::StrJoin(forged, "\n") + "\n");
  run = Audit({"verify", "--log", ConsentLog(), "--heads", Path("other-key.heads"),
               "--public_key", ConsentKey()});
  EXPECT_EQ(run.exit_code, 1) << run;
  EXPECT_THAT(run.out, AllOf(HasSubstr("saved head #2"), HasSubstr("is signed by key")));
}

}  // namespace
}  // namespace mend
