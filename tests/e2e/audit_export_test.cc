// mend-audit export against a real case service's directory: one JSON event
// a line, positions 1..N, each payload of its event type; the referral's
// personal details only sealed without --unseal, in plain text with --unseal
// and the service's master key; after an erasure (EraseParticipant on a
// closed case, ERASURE_REQUEST, by a manager) the erased person's details
// are marked erased and appear nowhere, even with --unseal, while the
// others' still open. --from/--to choose the records. Bad arguments exit 2.
#include <grpcpp/grpcpp.h>

#include <string>
#include <vector>

#include "absl/strings/match.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_join.h"
#include "absl/strings/str_split.h"
#include "gmock/gmock.h"
#include "google/protobuf/descriptor.h"
#include "google/protobuf/dynamic_message.h"
#include "google/protobuf/util/json_util.h"
#include "gtest/gtest.h"
#include "nlohmann/json.hpp"
#include "tests/support/grpc_client.h"
#include "tests/support/process.h"
#include "tests/support/service_processes.h"
#include "tests/support/test_util.h"

namespace mend {
namespace {

namespace case_v1 = ::mend::case_::v1;
using ::mend::testing::Call;
using ::mend::testing::IsOk;
using ::mend::testing::RunTool;
using ::mend::testing::ServiceProcesses;
using ::mend::testing::ToolResult;
using ::testing::HasSubstr;
using Json = nlohmann::json;

// The names ServiceProcesses::Referral gives its participants, and the
// offence summary: personal data, sealed in the log.
constexpr char kServiceUserName[] = "Samuel Offleigh";
constexpr char kVictimName[] = "Verity Quill";
constexpr char kOffenceSummary[] = "Street robbery";

class AuditExportTest : public ::testing::Test {
 protected:
  AuditExportTest() : p_(MEND_CASE_SERVICE, MEND_CONSENT_SERVICE) {}

  void SetUp() override {
    p_.StartCase();
    const case_v1::ReferCaseRequest referral = p_.Referral("export");
    ASSERT_EQ(referral.participants(0).details().full_name(), kServiceUserName);
    ASSERT_EQ(referral.participants(1).details().full_name(), kVictimName);
    ASSERT_EQ(referral.offence_summary(), kOffenceSummary);
    case_id_ = p_.ReadyCase("export");
    ASSERT_FALSE(case_id_.empty());
    head_ = p_.CaseHead();
  }

  ToolResult Audit(const std::vector<std::string>& args) {
    return RunTool(MEND_AUDIT_BINARY, args,
                   p_.dir().Sub(absl::StrCat("audit-", ++runs_)));
  }
  std::string Log() const { return "--log=" + p_.CaseLogPath(); }
  std::string MasterKey() const { return "--master_key=" + p_.dir().Sub("master.key"); }

  // stdout's lines, each parsed; a line that does not parse is a failure.
  static std::vector<Json> Lines(const std::string& out) {
    std::vector<Json> lines;
    for (absl::string_view line : absl::StrSplit(out, '\n', absl::SkipEmpty())) {
      Json j = Json::parse(std::string(line), nullptr, /*allow_exceptions=*/false);
      EXPECT_FALSE(j.is_discarded()) << line;
      lines.push_back(std::move(j));
    }
    return lines;
  }

  // The line of the case's CaseReferred.
  static const Json* Referred(const std::vector<Json>& lines) {
    for (const Json& line : lines) {
      if (line["event_type"] == "mend.case.v1.CaseReferred") return &line;
    }
    ADD_FAILURE() << "no CaseReferred exported";
    return nullptr;
  }

  // Closes the case and erases the victim on their own request (manager).
  void EraseVictim() {
    const std::string manager = p_.Token(Role::kManager, ServiceProcesses::kManager);
    case_v1::CloseCaseRequest close;
    close.set_request_id("export-close");
    close.set_case_id(case_id_);
    close.set_reason(case_v1::WITHDRAWN_BY_VICTIM);
    ASSERT_THAT(p_.CaseCommand(&case_v1::CaseService::Stub::CloseCase, close, manager),
                IsOk());
    case_v1::EraseParticipantRequest erase;
    erase.set_request_id("export-erase");
    erase.set_case_id(case_id_);
    erase.set_participant_id("v-1");
    erase.set_basis(case_v1::ERASURE_REQUEST);
    erase.set_reason("SAR-0042");
    ASSERT_THAT(
        p_.CaseCommand(&case_v1::CaseService::Stub::EraseParticipant, erase, manager),
        IsOk());
    head_ = p_.CaseHead();
  }

  ServiceProcesses p_;
  std::string case_id_;
  uint64_t head_ = 0;
  int runs_ = 0;
};

TEST_F(AuditExportTest, OneEventALineInPositionOrderWithItsPayloadSealed) {
  ASSERT_NO_FATAL_FAILURE(p_.StopCase());
  ToolResult r = Audit({"export", Log(), "--format=jsonl"});
  ASSERT_EQ(r.exit_code, 0) << r.err;
  const std::vector<Json> lines = Lines(r.out);
  ASSERT_EQ(lines.size(), head_);
  for (size_t i = 0; i < lines.size(); ++i) {
    const Json& line = lines[i];
    SCOPED_TRACE(line.dump());
    EXPECT_EQ(line["position"], i + 1);
    EXPECT_EQ(line["stream_id"], "case-" + case_id_);
    // The payload is its event type's message, as protobuf JSON.
    const std::string type = line["event_type"];
    EXPECT_TRUE(absl::StartsWith(type, "mend.case.v1.")) << type;
    const google::protobuf::Descriptor* descriptor =
        google::protobuf::DescriptorPool::generated_pool()->FindMessageTypeByName(type);
    ASSERT_NE(descriptor, nullptr) << type;
    google::protobuf::DynamicMessageFactory factory;
    std::unique_ptr<google::protobuf::Message> payload(
        factory.GetPrototype(descriptor)->New());
    EXPECT_TRUE(
        google::protobuf::util::JsonStringToMessage(line["payload"].dump(), payload.get())
            .ok());
    EXPECT_EQ(line["payload"]["case_id"], case_id_);
    // The chain, as exported: each record names the one before's hash.
    if (i > 0) {
      EXPECT_EQ(line["prev_hash"], lines[i - 1]["hash"]);
    }
  }
  EXPECT_EQ(lines[0]["event_type"], "mend.case.v1.CaseReferred");
  // Sealed: as stored, never the words.
  const Json* referred = Referred(lines);
  ASSERT_NE(referred, nullptr);
  EXPECT_EQ((*referred)["payload"]["participants"][1]["details"]["person_id"], "v-1");
  EXPECT_TRUE(
      (*referred)["payload"]["participants"][1]["details"].contains("ciphertext"));
  for (const char* plain : {kServiceUserName, kVictimName, kOffenceSummary}) {
    EXPECT_FALSE(absl::StrContains(r.out, plain)) << plain;
  }

  // --from/--to: those records only.
  ToolResult some = Audit({"export", Log(), "--from=2", "--to=3"});
  ASSERT_EQ(some.exit_code, 0) << some.err;
  const std::vector<Json> two = Lines(some.out);
  ASSERT_EQ(two.size(), 2u);
  EXPECT_EQ(two[0], lines[1]);
  EXPECT_EQ(two[1], lines[2]);
}

TEST_F(AuditExportTest, UnsealShowsThePlaintextWithTheServicesMasterKey) {
  ASSERT_NO_FATAL_FAILURE(p_.StopCase());
  ToolResult r = Audit({"export", Log(), "--format=jsonl", "--unseal", MasterKey()});
  ASSERT_EQ(r.exit_code, 0) << r.err;
  const std::vector<Json> lines = Lines(r.out);
  ASSERT_EQ(lines.size(), head_);
  const Json* referred = Referred(lines);
  ASSERT_NE(referred, nullptr);
  const Json& payload = (*referred)["payload"];
  EXPECT_EQ(payload["participants"][0]["details"]["plaintext"]["full_name"],
            kServiceUserName);
  EXPECT_EQ(payload["participants"][1]["details"]["plaintext"]["full_name"], kVictimName);
  EXPECT_EQ(payload["participants"][1]["details"]["key_id"], case_id_ + "/v-1");
  EXPECT_EQ(payload["offence_summary"]["plaintext"], kOffenceSummary);
  EXPECT_FALSE(payload["participants"][1]["details"].contains("ciphertext"));
  EXPECT_THAT(r.err, HasSubstr("0 erased, 0 unreadable"));
}

TEST_F(AuditExportTest, AnErasedPersonsDetailsStayUnreadableEvenUnsealed) {
  ASSERT_NO_FATAL_FAILURE(EraseVictim());
  ASSERT_NO_FATAL_FAILURE(p_.StopCase());
  ToolResult r = Audit({"export", Log(), "--unseal", MasterKey()});
  ASSERT_EQ(r.exit_code, 0) << r.err;  // erased is not an error
  const std::vector<Json> lines = Lines(r.out);
  ASSERT_EQ(lines.size(), head_);
  EXPECT_EQ(lines.back()["event_type"], "mend.case.v1.ParticipantErased");
  const Json* referred = Referred(lines);
  ASSERT_NE(referred, nullptr);
  const Json& victim = (*referred)["payload"]["participants"][1]["details"];
  EXPECT_EQ(victim["person_id"], "v-1");
  EXPECT_EQ(victim["erased"], true);
  EXPECT_FALSE(victim.contains("plaintext"));
  EXPECT_FALSE(absl::StrContains(r.out, kVictimName));
  // The service user was not erased: theirs still open.
  EXPECT_EQ(
      (*referred)["payload"]["participants"][0]["details"]["plaintext"]["full_name"],
      kServiceUserName);
  EXPECT_THAT(r.err, HasSubstr("1 erased, 0 unreadable"));
}

TEST_F(AuditExportTest, BadArgumentsExitTwoSayingWhy) {
  ASSERT_NO_FATAL_FAILURE(p_.StopCase());
  struct Bad {
    std::vector<std::string> args;
    std::string says;
  };
  for (const Bad& bad : std::vector<Bad>{
           {{"export", Log(), "--format=xml"}, "the one format is jsonl"},
           {{"export", Log(), "--unseal"}, "--unseal needs --master_key"},
           {{"export", Log(), MasterKey()}, "only with --unseal"},
           {{"export", "--log=127.0.0.1:1", "--unseal", MasterKey()},
            "--unseal needs the data directory"},
           {{"export", Log(), absl::StrCat("--to=", head_ + 1)},
            absl::StrCat("ends at position ", head_)},
           {{"export", Log(), "--from=3", "--to=2"}, "is after --to"},
           {{"export", Log(), "--from=-1"}, "from"},
           {{"export", Log(), "--unseal", "--master_key=" + p_.dir().Sub("no.key")},
            "no.key"},
       }) {
    SCOPED_TRACE(absl::StrJoin(bad.args, " "));
    ToolResult r = Audit(bad.args);
    EXPECT_EQ(r.exit_code, 2) << r.out << r.err;
    EXPECT_THAT(r.err, HasSubstr(bad.says));
    EXPECT_TRUE(r.out.empty()) << r.out;
  }
}

}  // namespace
}  // namespace mend
