// mendctl against a real case service (and its consent neighbour's absence):
// the binary run as operators run it, its answers checked against the
// service's own gRPC answers. `call` sends a referral written as JSON and
// reads it back (from the compiled-in schema and from server reflection);
// `health` is SERVING (exit 0) and fails for what the server does not serve;
// `tail` prints the log as EventLog.Read serves it, payloads decoded and
// sealed data sealed, follows it live from the head and ends cleanly on
// SIGTERM; `head` is EventLog.GetHead. Every exit code scripts rely on: 1
// with the gRPC code's name (NOT_FOUND, UNAUTHENTICATED, PERMISSION_DENIED,
// UNAVAILABLE), 2 for usage (an unknown method, bad JSON, no arguments).
#include <signal.h>
#include <sys/wait.h>

#include <fstream>
#include <string>
#include <vector>

#include "absl/strings/escaping.h"
#include "absl/strings/match.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_split.h"
#include "common/eventlog/record_codec.h"
#include "common/security/key_store.h"
#include "common/security/tls.h"
#include "gmock/gmock.h"
#include "google/protobuf/util/json_util.h"
#include "google/protobuf/util/message_differencer.h"
#include "gtest/gtest.h"
#include "nlohmann/json.hpp"
#include "tests/support/grpc_client.h"
#include "tests/support/process.h"
#include "tests/support/service_processes.h"
#include "tests/support/test_util.h"

namespace mend {
namespace {

namespace case_v1 = ::mend::case_::v1;
namespace eventlog_v1 = ::mend::eventlog::v1;
using ::mend::testing::Call;
using ::mend::testing::ChildProcess;
using ::mend::testing::IsOk;
using ::mend::testing::PickFreePort;
using ::mend::testing::RunTool;
using ::mend::testing::ServiceProcesses;
using ::mend::testing::ToolResult;
using ::testing::HasSubstr;
using ::testing::StartsWith;
using Json = nlohmann::json;

// A referral as an operator types it: protobuf's JSON of ReferCaseRequest.
constexpr char kReferral[] = R"({
  "request_id": "ctl-refer",
  "source": "PROBATION_OFFICER",
  "referral_date": "2026-03-02",
  "offence_category": "ACQUISITIVE",
  "offence_summary": "Bicycle theft outside the library",
  "participants": [
    {"participant_id": "su-1", "role": "SERVICE_USER",
     "details": {"full_name": "Samuel Offleigh"}},
    {"participant_id": "v-1", "role": "VICTIM",
     "details": {"full_name": "Verity Quill"}}
  ]
})";

class MendctlTest : public ::testing::Test {
 protected:
  MendctlTest() : p_(MEND_CASE_SERVICE, MEND_CONSENT_SERVICE) {}

  void SetUp() override {
    p_.StartCase();
    manager_file_ = p_.dir().Sub("manager.token");
    std::ofstream(manager_file_)
        << p_.Token(Role::kManager, ServiceProcesses::kManager) << "\n";
    auditor_ = p_.Token(Role::kAuditor, "auditor-al");
  }

  // mendctl with `args`, pointed at the case service through the
  // environment (as an operator's shell would be), plus `env`.
  ToolResult Ctl(std::vector<std::string> args, std::vector<std::string> env = {}) {
    env.push_back("MEND_CASE_ADDRESS=" + p_.CaseAddress());
    return RunTool(MEND_MENDCTL_BINARY, args,
                   p_.dir().Sub(absl::StrCat("mendctl-", ++runs_)), absl::Minutes(1),
                   env);
  }
  std::string ManagerFlag() const { return "--token_file=" + manager_file_; }
  std::vector<std::string> AuditorEnv() const { return {"MEND_TOKEN=" + auditor_}; }

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

  // EventLog.Read of the whole case log, as an auditor.
  std::vector<eventlog_v1::RecordedEvent> ReadLog() {
    auto stub = eventlog_v1::EventLog::NewStub(p_.case_channel());
    eventlog_v1::ReadRequest request;
    request.set_from_position(1);
    request.set_max_count(1000);
    absl::StatusOr<eventlog_v1::ReadResponse> read = Call<eventlog_v1::ReadResponse>(
        auditor_, [&](grpc::ClientContext* c, eventlog_v1::ReadResponse* r) {
          return stub->Read(c, request, r);
        });
    EXPECT_THAT(read, IsOk());
    if (!read.ok()) return {};
    return {read->events().begin(), read->events().end()};
  }

  // A referral through the stub: two more events in the case log.
  void Refer(const std::string& prefix) {
    ASSERT_THAT(
        p_.CaseCommand(&case_v1::CaseService::Stub::ReferCase, p_.Referral(prefix),
                       p_.Token(Role::kManager, ServiceProcesses::kManager)),
        IsOk());
  }

  ServiceProcesses p_;
  std::string manager_file_;
  std::string auditor_;
  int runs_ = 0;
};

TEST_F(MendctlTest, CallsACommandFromJsonAndReadsTheCaseBack) {
  ToolResult refer = Ctl({"call", "CaseService/ReferCase", kReferral, ManagerFlag()});
  ASSERT_EQ(refer.exit_code, 0) << refer.err;
  const std::vector<Json> result = Lines(refer.out);
  ASSERT_EQ(result.size(), 1u) << refer.out;
  const std::string case_id = result[0]["case_id"];
  ASSERT_FALSE(case_id.empty());
  EXPECT_EQ(result[0]["stage"], "REFERRED");

  // The full name works as the short one; the answer is the service's own
  // CaseView, field for field.
  const std::string get = absl::StrCat(R"({"case_id":")", case_id, R"("})");
  ToolResult shown =
      Ctl({"call", "mend.case.v1.CaseService/GetCase", get, ManagerFlag()});
  ASSERT_EQ(shown.exit_code, 0) << shown.err;
  ASSERT_EQ(Lines(shown.out).size(), 1u) << shown.out;
  case_v1::CaseView printed;
  ASSERT_TRUE(google::protobuf::util::JsonStringToMessage(shown.out, &printed).ok())
      << shown.out;
  absl::StatusOr<case_v1::CaseView> served =
      p_.GetCase(case_id, p_.Token(Role::kManager, ServiceProcesses::kManager));
  ASSERT_THAT(served, IsOk());
  EXPECT_TRUE(google::protobuf::util::MessageDifferencer::Equals(printed, *served))
      << shown.out << "\nvs\n"
      << served->DebugString();
  EXPECT_EQ(printed.offence_summary(), "Bicycle theft outside the library");
  ASSERT_EQ(printed.participants_size(), 2);
  EXPECT_EQ(printed.participants(1).details().full_name(), "Verity Quill");

  // The same method with the schema the server serves by reflection: the
  // same answer, to the byte.
  ToolResult reflected =
      Ctl({"call", "CaseService/GetCase", get, ManagerFlag(), "--use_reflection"});
  ASSERT_EQ(reflected.exit_code, 0) << reflected.err;
  EXPECT_EQ(reflected.out, shown.out);
  // A service mendctl does not compile in at all (server reflection's own)
  // is found through reflection, and the server lives on to serve again.
  ToolResult listed = Ctl({"call", "ServerReflection/ServerReflectionInfo",
                           R"({"list_services":""})", "--service=case"});
  ASSERT_EQ(listed.exit_code, 0) << listed.err;
  EXPECT_THAT(listed.out, HasSubstr(R"({"name":"mend.case.v1.CaseService"})"));
  ToolResult again = Ctl({"health", "case"});
  EXPECT_EQ(again.exit_code, 0) << again.err << p_.CaseOutput();
}

TEST_F(MendctlTest, FailedCallsExitOneWithTheCodesName) {
  const std::string unknown = R"({"case_id":"00000000-0000-4000-8000-000000000000"})";
  ToolResult missing = Ctl({"call", "CaseService/GetCase", unknown, ManagerFlag()});
  EXPECT_EQ(missing.exit_code, 1);
  EXPECT_THAT(missing.err, StartsWith("mendctl: NOT_FOUND: "));
  EXPECT_EQ(missing.out, "");

  ToolResult no_token = Ctl({"call", "CaseService/GetCase", unknown});
  EXPECT_EQ(no_token.exit_code, 1);
  EXPECT_THAT(no_token.err, StartsWith("mendctl: UNAUTHENTICATED: "));

  // A manager may not read the log: an auditor may.
  ToolResult wrong_role =
      Ctl({"call", "EventLog/GetHead", "--service=case", ManagerFlag()});
  EXPECT_EQ(wrong_role.exit_code, 1);
  EXPECT_THAT(wrong_role.err, StartsWith("mendctl: PERMISSION_DENIED: "));
  ToolResult auditor = Ctl({"call", "EventLog/GetHead", "--service=case"}, AuditorEnv());
  EXPECT_EQ(auditor.exit_code, 0) << auditor.err;

  // Nothing listens there.
  const std::string dead = absl::StrCat("--address=127.0.0.1:", PickFreePort());
  ToolResult unreachable =
      Ctl({"call", "CaseService/GetCase", unknown, ManagerFlag(), dead, "--deadline=2s"});
  EXPECT_EQ(unreachable.exit_code, 1);
  EXPECT_THAT(unreachable.err, StartsWith("mendctl: UNAVAILABLE: "));
}

TEST_F(MendctlTest, UsageErrorsExitTwoNamingTheProblem) {
  ToolResult method = Ctl({"call", "CaseService/FileComplaint", "{}", ManagerFlag()});
  EXPECT_EQ(method.exit_code, 2);
  EXPECT_THAT(method.err, HasSubstr("has no method \"FileComplaint\""));
  EXPECT_THAT(method.err, HasSubstr("GetCase"));  // what there is instead

  ToolResult broken =
      Ctl({"call", "CaseService/GetCase", R"({"case_id":)", ManagerFlag()});
  EXPECT_EQ(broken.exit_code, 2);
  EXPECT_THAT(broken.err, HasSubstr("is not JSON of mend.case.v1.GetCaseRequest"));
  ToolResult misspelt = Ctl({"call", "CaseService/GetCase", R"({"caseid":"x"})"});
  EXPECT_EQ(misspelt.exit_code, 2);
  EXPECT_THAT(misspelt.err, HasSubstr("caseid"));

  ToolResult nothing = Ctl({});
  EXPECT_EQ(nothing.exit_code, 2);
  EXPECT_THAT(nothing.err, HasSubstr("mendctl COMMAND"));
  ToolResult command = Ctl({"shout"});
  EXPECT_EQ(command.exit_code, 2);
  EXPECT_THAT(command.err, HasSubstr("unknown command \"shout\""));
  ToolResult which = Ctl({"call", "EventLog/GetHead"}, AuditorEnv());
  EXPECT_EQ(which.exit_code, 2);
  EXPECT_THAT(which.err, HasSubstr("--service"));
  ToolResult service = Ctl({"tail", "billing"});
  EXPECT_EQ(service.exit_code, 2);
  EXPECT_THAT(service.err, HasSubstr("unknown service \"billing\""));

  ToolResult help = Ctl({"help"});
  EXPECT_EQ(help.exit_code, 0);
  EXPECT_THAT(help.out, HasSubstr("tail case|consent|scheduling|conference"));
}

TEST_F(MendctlTest, HealthIsZeroOnlyWhenServing) {
  ToolResult whole = Ctl({"health", "case"});
  EXPECT_EQ(whole.exit_code, 0) << whole.err;
  EXPECT_EQ(whole.out, "SERVING\n");
  ToolResult named = Ctl({"health", "mend.case.v1.CaseService"});
  EXPECT_EQ(named.exit_code, 0) << named.err;
  EXPECT_EQ(named.out, "SERVING\n");
  // The case server does not serve consent.
  ToolResult other = Ctl({"health", "mend.consent.v1.ConsentService", "--service=case"});
  EXPECT_EQ(other.exit_code, 1);
  EXPECT_THAT(other.err, StartsWith("mendctl: NOT_FOUND: "));

  ASSERT_NO_FATAL_FAILURE(p_.StopCase());
  ToolResult stopped = Ctl({"health", "case", "--deadline=2s"});
  EXPECT_EQ(stopped.exit_code, 1);
  EXPECT_THAT(stopped.err, StartsWith("mendctl: UNAVAILABLE: "));
}

TEST_F(MendctlTest, TailPrintsTheLogAsReadServesItAndHeadIsGetHead) {
  const std::string case_id = p_.ReadyCase("ctl");
  ASSERT_FALSE(case_id.empty());
  const std::vector<eventlog_v1::RecordedEvent> log = ReadLog();
  ASSERT_GE(log.size(), 5u);

  ToolResult all = Ctl({"tail", "case", "--from=1", absl::StrCat("--limit=", log.size())},
                       AuditorEnv());
  ASSERT_EQ(all.exit_code, 0) << all.err;
  const std::vector<Json> lines = Lines(all.out);
  ASSERT_EQ(lines.size(), log.size()) << all.out;
  for (size_t i = 0; i < log.size(); ++i) {
    SCOPED_TRACE(lines[i].dump());
    eventlog::RecordView view;
    ASSERT_THAT(eventlog::DecodeRecord(log[i].record(), &view), IsOk());
    EXPECT_EQ(lines[i]["position"], log[i].position());
    EXPECT_EQ(lines[i]["event_type"], std::string(view.event_type));
    EXPECT_EQ(lines[i]["event_id"], std::string(view.event_id));
    EXPECT_EQ(lines[i]["stream_id"], "case-" + case_id);
    EXPECT_EQ(lines[i]["stream_version"], view.stream_version);
    EXPECT_EQ(lines[i]["actor"]["role"], std::string(view.actor_role));
    EXPECT_EQ(lines[i]["hash"], absl::BytesToHexString(log[i].hash()));
    EXPECT_EQ(lines[i]["payload"]["case_id"], case_id);  // decoded, every one
  }
  EXPECT_EQ(lines[0]["event_type"], "mend.case.v1.CaseReferred");
  // Sealed personal data stays sealed.
  EXPECT_TRUE(lines[0]["payload"]["participants"][1]["details"].contains("ciphertext"));
  EXPECT_FALSE(absl::StrContains(all.out, "Verity Quill"));

  ToolResult middle = Ctl({"tail", "case", "--from=3", "--limit=2"}, AuditorEnv());
  ASSERT_EQ(middle.exit_code, 0) << middle.err;
  const std::vector<Json> two = Lines(middle.out);
  ASSERT_EQ(two.size(), 2u);
  EXPECT_EQ(two[0], lines[2]);
  EXPECT_EQ(two[1], lines[3]);

  // head is GetHead: the same position and hash.
  ToolResult head = Ctl({"head", "case"}, AuditorEnv());
  ASSERT_EQ(head.exit_code, 0) << head.err;
  const std::vector<Json> heads = Lines(head.out);
  ASSERT_EQ(heads.size(), 1u);
  EXPECT_EQ(heads[0]["position"], log.back().position());
  EXPECT_EQ(heads[0]["hash"], absl::BytesToHexString(log.back().hash()));
  EXPECT_EQ(heads[0]["tree_root"].get<std::string>().size(), 64u);
}

TEST_F(MendctlTest, TailFollowsNewEventsLiveAndEndsCleanlyOnSigterm) {
  Refer("before");
  const uint64_t head = p_.CaseHead();
  // Without --from: only what comes after the head. Events are added until
  // the tail has printed one (it subscribes at a moment of its own).
  const std::string prefix = p_.dir().Sub("live");
  absl::StatusOr<ChildProcess> tail = ChildProcess::Start(
      MEND_MENDCTL_BINARY, {"tail", "case"}, prefix,
      {"MEND_CASE_ADDRESS=" + p_.CaseAddress(), "MEND_TOKEN=" + auditor_});
  ASSERT_THAT(tail, IsOk());
  std::string out;
  for (int i = 0; i < 50 && out.empty(); ++i) {
    Refer(absl::StrCat("live-", i));
    ASSERT_FALSE(tail->Wait(absl::Milliseconds(200)).has_value()) << tail->Output();
    std::ifstream in(prefix + ".stdout");
    std::getline(in, out);
  }
  ASSERT_FALSE(out.empty()) << tail->Output();
  const Json first = Json::parse(out);
  EXPECT_GT(first["position"].get<uint64_t>(), head);
  EXPECT_THAT(first["event_type"].get<std::string>(), StartsWith("mend.case.v1."));

  // Following: SIGTERM ends it, exit 0.
  EXPECT_EQ(::mend::testing::StopCleanly(*tail, absl::Seconds(10)), "");
}

// Mutual TLS as deployed: a case service that requires a client
// certificate (scripts/dev-certs.sh's CA), mendctl configured from the
// environment (MEND_TLS_CA, MEND_TLS_CERT, MEND_TLS_KEY).
TEST(MendctlTlsTest, MutualTlsFromTheEnvironment) {
  testing::TempDir dir;
  const std::string certs = dir.Sub("certs");
  ToolResult made =
      RunTool("/bin/bash", {MEND_DEV_CERTS_SCRIPT, certs}, dir.Sub("certs"));
  ASSERT_EQ(made.exit_code, 0) << made.err;
  ASSERT_THAT(crypto::KeyStore::WriteNewMasterKey(dir.Sub("master.key")), IsOk());
  const std::string address = absl::StrCat("127.0.0.1:", PickFreePort());
  absl::StatusOr<ChildProcess> server = ChildProcess::Start(
      MEND_CASE_SERVICE,
      {"--listen=" + address, "--data_dir=" + dir.Sub("case"),
       "--master_key=" + dir.Sub("master.key"), "--tls_cert=" + certs + "/case.pem",
       "--tls_key=" + certs + "/case-key.pem", "--tls_ca=" + certs + "/ca.pem",
       "--tls_require_client_cert", "--log_level=warn"},
      dir.Sub("case"));
  ASSERT_THAT(server, IsOk());
  absl::StatusOr<std::shared_ptr<grpc::ChannelCredentials>> credentials =
      MakeChannelCredentials(certs + "/ca.pem", certs + "/client.pem",
                             certs + "/client-key.pem");
  ASSERT_THAT(credentials, IsOk());
  ASSERT_TRUE(testing::WaitServing(grpc::CreateChannel(address, *credentials)))
      << server->Output();

  const std::vector<std::string> ca = {"MEND_CASE_ADDRESS=" + address,
                                       "MEND_TLS_CA=" + certs + "/ca.pem"};
  std::vector<std::string> mutual = ca;
  mutual.push_back("MEND_TLS_CERT=" + certs + "/client.pem");
  mutual.push_back("MEND_TLS_KEY=" + certs + "/client-key.pem");
  int runs = 0;
  auto ctl = [&](std::vector<std::string> args, const std::vector<std::string>& env) {
    return RunTool(MEND_MENDCTL_BINARY, args, dir.Sub(absl::StrCat("mendctl-", ++runs)),
                   absl::Minutes(1), env);
  };
  ToolResult serving = ctl({"health", "case"}, mutual);
  EXPECT_EQ(serving.exit_code, 0) << serving.err;
  EXPECT_EQ(serving.out, "SERVING\n");
  // Refused: no client certificate; plaintext; a certificate without a CA
  // to check the server with (usage: it would be sent in the clear).
  ToolResult no_cert = ctl({"health", "case", "--deadline=3s"}, ca);
  EXPECT_EQ(no_cert.exit_code, 1);
  EXPECT_THAT(no_cert.err, StartsWith("mendctl: UNAVAILABLE: "));
  ToolResult plain =
      ctl({"health", "case", "--deadline=3s"}, {"MEND_CASE_ADDRESS=" + address});
  EXPECT_EQ(plain.exit_code, 1);
  EXPECT_THAT(plain.err, StartsWith("mendctl: UNAVAILABLE: "));
  ToolResult no_ca = ctl({"health", "case", "--tls_ca="}, mutual);
  EXPECT_EQ(no_ca.exit_code, 2);
  EXPECT_THAT(no_ca.err, HasSubstr("need --tls_ca"));
}

}  // namespace
}  // namespace mend
