// Integration tests of transport security: certificates made by
// scripts/dev-certs.sh, a real gRPC server on 127.0.0.1 and an ephemeral port
// serving EventLog with credentials from common/tls.h, and real clients that
// must connect — or be refused — over real TLS handshakes.
//
// Each test runs the script twice into its own temporary directory: "good"
// is the CA the server trusts, "other" an unrelated CA (with its own service
// and client certificates) for every wrong-CA case. Calls carry a 5 s
// deadline, so a refusal that failed to happen shows up as
// DEADLINE_EXCEEDED, never a hang.
#include <fcntl.h>
#include <grpcpp/grpcpp.h>
#include <spawn.h>
#include <spdlog/sinks/ostream_sink.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#include <chrono>
#include <filesystem>
#include <fstream>
#include <memory>
#include <nlohmann/json.hpp>
#include <sstream>
#include <string>
#include <utility>
#include <vector>

#include "absl/status/status.h"
#include "absl/status/statusor.h"
#include "absl/strings/str_cat.h"
#include "absl/time/clock.h"
#include "absl/time/time.h"
#include "common/eventlog/event_store.h"
#include "common/observability/logging.h"
#include "common/runtime/eventlog_service.h"
#include "common/security/auth.h"
#include "common/security/tls.h"
#include "gmock/gmock.h"
#include "gtest/gtest.h"
#include "mend/eventlog/v1/eventlog_service.grpc.pb.h"
#include "tests/support/log_server.h"
#include "tests/support/test_util.h"
#include "tests/support/tokens.h"

extern char** environ;

namespace mend {
namespace {

using ::mend::testing::FromGrpc;

using ::mend::testing::IsOk;
using ::mend::testing::StatusIs;
using ::mend::testing::TempDir;

constexpr std::chrono::seconds kRpcTimeout(5);
constexpr const char* kServices[] = {"case", "consent", "scheduling", "conference"};

// The repository root: three levels above this file, or failing that (a
// relative __FILE__), the first directory upwards from the working directory
// that holds scripts/dev-certs.sh.
std::filesystem::path DevCertsScript() {
  namespace fs = std::filesystem;
  const fs::path relative = fs::path("scripts") / "dev-certs.sh";
  const fs::path from_file =
      fs::path(__FILE__).parent_path().parent_path().parent_path() / relative;
  if (from_file.is_absolute() && fs::exists(from_file)) return from_file;
  for (fs::path dir = fs::current_path();; dir = dir.parent_path()) {
    if (fs::exists(dir / relative)) return dir / relative;
    if (dir == dir.root_path()) break;
  }
  return from_file;  // does not exist; RunDevCerts says so
}

// Runs `bash scripts/dev-certs.sh [--force] out_dir`, its stdout discarded
// (its errors go to stderr, into the test log).
absl::Status RunDevCerts(const std::string& out_dir, bool force = false) {
  const std::string script = DevCertsScript().string();
  if (!std::filesystem::exists(script)) {
    return absl::NotFoundError(
        absl::StrCat("cannot find scripts/dev-certs.sh (tried ", script, ")"));
  }
  std::vector<std::string> args = {"bash", script};
  if (force) args.push_back("--force");
  args.push_back(out_dir);
  std::vector<char*> argv;
  for (std::string& a : args) argv.push_back(a.data());
  argv.push_back(nullptr);

  posix_spawn_file_actions_t actions;
  posix_spawn_file_actions_init(&actions);
  posix_spawn_file_actions_addopen(&actions, STDOUT_FILENO, "/dev/null", O_WRONLY, 0);
  pid_t pid = 0;
  const int err = posix_spawnp(&pid, "bash", &actions, nullptr, argv.data(), environ);
  posix_spawn_file_actions_destroy(&actions);
  if (err != 0) {
    return absl::InternalError(absl::StrCat("cannot spawn bash: error ", err));
  }
  int wstatus = 0;
  while (waitpid(pid, &wstatus, 0) < 0) {
    if (errno != EINTR) return absl::InternalError("waitpid failed");
  }
  if (!WIFEXITED(wstatus) || WEXITSTATUS(wstatus) != 0) {
    return absl::InternalError(
        absl::StrCat(script, " ", out_dir, " failed (wait status ", wstatus, ")"));
  }
  return absl::OkStatus();
}

std::string ReadFile(const std::string& path) {
  std::ifstream in(path, std::ios::binary);
  std::ostringstream out;
  out << in.rdbuf();
  return out.str();
}

// The server under test: the EventLog over loopback, with TLS credentials
// and the development token verifier (tests/support/log_server.h).
using TlsEventLogServer = ::mend::testing::LoopbackLogServer;

class TlsIntegrationTest : public ::testing::Test {
 protected:
  void SetUp() override {
    ASSERT_THAT(RunDevCerts(good_dir()), IsOk());
    ASSERT_THAT(RunDevCerts(other_dir()), IsOk());
    absl::StatusOr<std::string> token =
        MintToken(ReadFile(Good("client-key.pem")), "tls-integration-test",
                  Role::kAuditor, absl::Minutes(30), absl::Now());
    ASSERT_THAT(token, IsOk());
    token_ = *std::move(token);
  }

  std::string good_dir() const { return certs_.Sub("good"); }
  std::string other_dir() const { return certs_.Sub("other"); }
  std::string Good(const std::string& file) const { return good_dir() + "/" + file; }
  std::string Other(const std::string& file) const { return other_dir() + "/" + file; }

  // Starts a server with the credentials `files` make; the test fails if
  // they cannot be made.
  std::unique_ptr<TlsEventLogServer> StartServer(const TlsFiles& files) {
    absl::StatusOr<std::shared_ptr<grpc::ServerCredentials>> creds =
        MakeServerCredentials(files);
    EXPECT_THAT(creds, IsOk());
    if (!creds.ok()) return nullptr;
    absl::StatusOr<std::unique_ptr<TlsEventLogServer>> server = TlsEventLogServer::Start(
        {.path = data_.Sub(absl::StrCat("log-", ++servers_)), .credentials = *creds});
    EXPECT_THAT(server, IsOk());
    return server.ok() ? *std::move(server) : nullptr;
  }

  std::shared_ptr<grpc::ChannelCredentials> ClientCreds(const std::string& ca,
                                                        const std::string& cert = "",
                                                        const std::string& key = "") {
    absl::StatusOr<std::shared_ptr<grpc::ChannelCredentials>> creds =
        MakeChannelCredentials(ca, cert, key);
    EXPECT_THAT(creds, IsOk());
    return creds.ok() ? *creds : grpc::InsecureChannelCredentials();
  }

  // One GetHead over a fresh channel to `host`:port, with a 5 s deadline.
  // `server_name`, if set, is the name the client checks the server's
  // certificate against instead of `host`.
  absl::Status GetHead(const std::string& host, int port,
                       std::shared_ptr<grpc::ChannelCredentials> creds,
                       const std::string& server_name = "") {
    grpc::ChannelArguments args;
    if (!server_name.empty()) args.SetSslTargetNameOverride(server_name);
    auto channel =
        grpc::CreateCustomChannel(absl::StrCat(host, ":", port), std::move(creds), args);
    auto stub = eventlog::v1::EventLog::NewStub(channel);
    grpc::ClientContext context;
    context.set_deadline(std::chrono::system_clock::now() + kRpcTimeout);
    AttachBearerToken(&context, token_);
    eventlog::v1::GetHeadRequest request;
    eventlog::v1::GetHeadResponse response;
    return FromGrpc(stub->GetHead(&context, request, &response));
  }

  absl::Status GetHead(int port, std::shared_ptr<grpc::ChannelCredentials> creds) {
    return GetHead("localhost", port, std::move(creds));
  }

  TempDir certs_;
  TempDir data_;
  std::string token_;
  int servers_ = 0;
};

// --- The script ----------------------------------------------------------------

TEST_F(TlsIntegrationTest, DevCertsMakesEveryFileWithPrivateKeysReadableOnlyByOwner) {
  namespace fs = std::filesystem;
  std::vector<std::string> names = {"ca", "client"};
  for (const char* service : kServices) names.push_back(service);
  for (const std::string& name : names) {
    SCOPED_TRACE(name);
    ASSERT_TRUE(fs::is_regular_file(Good(name + ".pem")));
    ASSERT_TRUE(fs::is_regular_file(Good(name + "-key.pem")));
    EXPECT_EQ(fs::status(Good(name + "-key.pem")).permissions() & fs::perms::all,
              fs::perms::owner_read | fs::perms::owner_write);
  }
  // Nothing left behind but the certificates.
  size_t entries = 0;
  for ([[maybe_unused]] const auto& entry : fs::directory_iterator(good_dir())) ++entries;
  EXPECT_EQ(entries, names.size() * 2);
}

TEST_F(TlsIntegrationTest, DevCertsKeepsTheCaOnReRunAndReplacesItWithForce) {
  const std::string ca = ReadFile(Good("ca.pem"));
  const std::string ca_key = ReadFile(Good("ca-key.pem"));
  const std::string consent = ReadFile(Good("consent.pem"));
  ASSERT_FALSE(ca.empty());

  ASSERT_THAT(RunDevCerts(good_dir()), IsOk());
  EXPECT_EQ(ReadFile(Good("ca.pem")), ca);
  EXPECT_EQ(ReadFile(Good("ca-key.pem")), ca_key);
  EXPECT_EQ(ReadFile(Good("consent.pem")), consent);

  // A missing certificate is issued again, by the same CA.
  std::filesystem::remove(Good("client.pem"));
  ASSERT_THAT(RunDevCerts(good_dir()), IsOk());
  EXPECT_EQ(ReadFile(Good("ca.pem")), ca);
  auto server = StartServer({.cert = Good("case.pem"),
                             .key = Good("case-key.pem"),
                             .ca = Good("ca.pem"),
                             .require_client_cert = true});
  ASSERT_NE(server, nullptr);
  EXPECT_THAT(GetHead(server->port(), ClientCreds(Good("ca.pem"), Good("client.pem"),
                                                  Good("client-key.pem"))),
              IsOk());

  ASSERT_THAT(RunDevCerts(good_dir(), /*force=*/true), IsOk());
  EXPECT_NE(ReadFile(Good("ca.pem")), ca);
  EXPECT_NE(ReadFile(Good("consent.pem")), consent);
}

// --- TLS -------------------------------------------------------------------------

TEST_F(TlsIntegrationTest, ClientTrustingTheCaConnectsByNameAndByLoopbackIp) {
  auto server = StartServer({.cert = Good("case.pem"), .key = Good("case-key.pem")});
  ASSERT_NE(server, nullptr);
  EXPECT_THAT(GetHead("localhost", server->port(), ClientCreds(Good("ca.pem"))), IsOk());
  EXPECT_THAT(GetHead("127.0.0.1", server->port(), ClientCreds(Good("ca.pem"))), IsOk());
}

TEST_F(TlsIntegrationTest, EachServiceCertificateNamesItsServiceAndNothingElse) {
  for (const std::string service : kServices) {
    SCOPED_TRACE(service);
    auto server =
        StartServer({.cert = Good(service + ".pem"), .key = Good(service + "-key.pem")});
    ASSERT_NE(server, nullptr);
    for (const std::string& name :
         {service, "mend-" + service, "mend-" + service + ".mend.svc.cluster.local"}) {
      EXPECT_THAT(GetHead("127.0.0.1", server->port(), ClientCreds(Good("ca.pem")), name),
                  IsOk())
          << name;
    }
    // Another service's name is not in this certificate.
    const std::string other = service == "case" ? "mend-consent" : "mend-case";
    EXPECT_THAT(GetHead("127.0.0.1", server->port(), ClientCreds(Good("ca.pem")), other),
                StatusIs(absl::StatusCode::kUnavailable));
  }
}

TEST_F(TlsIntegrationTest, ClientTrustingAnotherCaIsRefused) {
  auto server = StartServer({.cert = Good("case.pem"), .key = Good("case-key.pem")});
  ASSERT_NE(server, nullptr);
  EXPECT_THAT(GetHead(server->port(), ClientCreds(Other("ca.pem"))),
              StatusIs(absl::StatusCode::kUnavailable));
  // The server is unharmed.
  EXPECT_THAT(GetHead(server->port(), ClientCreds(Good("ca.pem"))), IsOk());
}

// gRPC core's complaint about the handshake is a line of the JSON log, not
// gRPC's own "E1201 ... ssl_transport_security.cc" text on stderr.
TEST_F(TlsIntegrationTest, AFailedHandshakeIsLoggedAsJson) {
  auto server = StartServer({.cert = Good("case.pem"), .key = Good("case-key.pem")});
  ASSERT_NE(server, nullptr);
  auto out = std::make_shared<std::ostringstream>();
  ASSERT_THAT(log::InitLogging("tls_test", "info",
                               std::make_shared<spdlog::sinks::ostream_sink_mt>(*out)),
              IsOk());
  const absl::Status refused = GetHead(server->port(), ClientCreds(Other("ca.pem")));
  ASSERT_THAT(log::InitLogging("tls_test", "info"), IsOk());  // back to stderr
  EXPECT_THAT(refused, StatusIs(absl::StatusCode::kUnavailable));
  bool found = false;
  std::istringstream lines(out->str());
  for (std::string line; std::getline(lines, line);) {
    const nlohmann::json j = nlohmann::json::parse(line, nullptr, false);
    ASSERT_TRUE(j.is_object()) << "not JSON: " << line;
    if (j.value("component", "") == "grpc" &&
        j.value("message", "").find("certificate verify failed") != std::string::npos) {
      found = true;
      EXPECT_EQ(j.value("level", ""), "error");
      EXPECT_THAT(j.value("source", ""), ::testing::HasSubstr("ssl_transport_security"));
    }
  }
  EXPECT_TRUE(found) << out->str();
}

TEST_F(TlsIntegrationTest, PlaintextClientIsRefusedByTlsServer) {
  auto server = StartServer({.cert = Good("case.pem"), .key = Good("case-key.pem")});
  ASSERT_NE(server, nullptr);
  EXPECT_THAT(GetHead(server->port(), grpc::InsecureChannelCredentials()),
              StatusIs(absl::StatusCode::kUnavailable));
  EXPECT_THAT(GetHead(server->port(), ClientCreds(Good("ca.pem"))), IsOk());
}

// --- Mutual TLS ----------------------------------------------------------------------

TEST_F(TlsIntegrationTest, MutualTlsAcceptsClientCertificatesFromTheCa) {
  auto server = StartServer({.cert = Good("consent.pem"),
                             .key = Good("consent-key.pem"),
                             .ca = Good("ca.pem"),
                             .require_client_cert = true});
  ASSERT_NE(server, nullptr);
  EXPECT_THAT(GetHead(server->port(), ClientCreds(Good("ca.pem"), Good("client.pem"),
                                                  Good("client-key.pem"))),
              IsOk());
  // Services call each other with their own certificates (clientAuth).
  for (const std::string service : kServices) {
    EXPECT_THAT(
        GetHead(server->port(), ClientCreds(Good("ca.pem"), Good(service + ".pem"),
                                            Good(service + "-key.pem"))),
        IsOk())
        << service;
  }
}

TEST_F(TlsIntegrationTest, MutualTlsRefusesClientWithoutCertificate) {
  auto server = StartServer({.cert = Good("consent.pem"),
                             .key = Good("consent-key.pem"),
                             .ca = Good("ca.pem"),
                             .require_client_cert = true});
  ASSERT_NE(server, nullptr);
  EXPECT_THAT(GetHead(server->port(), ClientCreds(Good("ca.pem"))),
              StatusIs(absl::StatusCode::kUnavailable));
  EXPECT_THAT(GetHead(server->port(), ClientCreds(Good("ca.pem"), Good("client.pem"),
                                                  Good("client-key.pem"))),
              IsOk());
}

TEST_F(TlsIntegrationTest, MutualTlsRefusesClientCertificateFromAnotherCa) {
  auto server = StartServer({.cert = Good("consent.pem"),
                             .key = Good("consent-key.pem"),
                             .ca = Good("ca.pem"),
                             .require_client_cert = true});
  ASSERT_NE(server, nullptr);
  // The client trusts the server, but its own certificate is from elsewhere.
  EXPECT_THAT(GetHead(server->port(), ClientCreds(Good("ca.pem"), Other("client.pem"),
                                                  Other("client-key.pem"))),
              StatusIs(absl::StatusCode::kUnavailable));
  EXPECT_THAT(GetHead(server->port(), ClientCreds(Good("ca.pem"), Other("case.pem"),
                                                  Other("case-key.pem"))),
              StatusIs(absl::StatusCode::kUnavailable));
  EXPECT_THAT(GetHead(server->port(), ClientCreds(Good("ca.pem"), Good("client.pem"),
                                                  Good("client-key.pem"))),
              IsOk());
}

TEST_F(TlsIntegrationTest, OptionalClientCertificateIsVerifiedWhenPresented) {
  auto server = StartServer({.cert = Good("case.pem"),
                             .key = Good("case-key.pem"),
                             .ca = Good("ca.pem"),
                             .require_client_cert = false});
  ASSERT_NE(server, nullptr);
  EXPECT_THAT(GetHead(server->port(), ClientCreds(Good("ca.pem"))), IsOk());
  EXPECT_THAT(GetHead(server->port(), ClientCreds(Good("ca.pem"), Good("client.pem"),
                                                  Good("client-key.pem"))),
              IsOk());
  EXPECT_THAT(GetHead(server->port(), ClientCreds(Good("ca.pem"), Other("client.pem"),
                                                  Other("client-key.pem"))),
              StatusIs(absl::StatusCode::kUnavailable));
}

// --- What a server may be started with -------------------------------------------------

TEST_F(TlsIntegrationTest, ServerCredentialsRefuseAnotherCertificatesKey) {
  auto creds =
      MakeServerCredentials({.cert = Good("case.pem"), .key = Good("consent-key.pem")});
  EXPECT_THAT(creds, StatusIs(absl::StatusCode::kInvalidArgument));
  EXPECT_THAT(creds.status().message(), ::testing::HasSubstr("does not match"));
}

}  // namespace
}  // namespace mend
