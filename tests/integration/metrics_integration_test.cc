// Integration test of the observability pieces together: a real gRPC server
// on a loopback ephemeral port serving EventLog and EventLogWriter over an
// EventStore in a temporary directory, with the metrics interceptor, and a
// MetricsServer on another ephemeral port. RPCs go through generated stubs
// over a real channel; /metrics is scraped over HTTP and the samples must have
// moved by exactly what the RPCs did.
//
// Nothing here sleeps: the interceptor counts an RPC before its status is
// sent, and the store counts an append before acknowledging it, so a scrape
// made after the client saw the status already shows it.
#include <grpcpp/generic/generic_stub.h>
#include <grpcpp/grpcpp.h>
#include <grpcpp/support/server_interceptor.h>
#include <httplib.h>

#include <chrono>
#include <map>
#include <memory>
#include <string>
#include <utility>
#include <vector>

#include "absl/status/status.h"
#include "absl/status/statusor.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_split.h"
#include "absl/synchronization/notification.h"
#include "absl/time/clock.h"
#include "absl/time/time.h"
#include "common/eventlog/event_store.h"
#include "common/observability/grpc_metrics.h"
#include "common/observability/metrics.h"
#include "common/observability/metrics_server.h"
#include "common/runtime/eventlog_service.h"
#include "common/runtime/store_metrics.h"
#include "common/security/auth.h"
#include "gmock/gmock.h"
#include "gtest/gtest.h"
#include "mend/eventlog/v1/eventlog_service.grpc.pb.h"
#include "tests/support/eventlog_writer_service.h"
#include "tests/support/log_server.h"
#include "tests/support/test_util.h"
#include "tests/support/tokens.h"

namespace mend::metrics {
namespace {

using ::mend::eventlog::EventLogPolicy;
using ::mend::eventlog::EventLogService;
using ::mend::eventlog::EventLogWriterPolicy;
using ::mend::eventlog::EventLogWriterService;
using ::mend::eventlog::EventStore;
using ::mend::testing::IsOk;
using ::mend::testing::TempDir;
namespace v1 = ::mend::eventlog::v1;

constexpr std::chrono::seconds kRpcTimeout(30);
constexpr char kService[] = "eventlog";
constexpr char kAppend[] = "mend.eventlog.v1.EventLogWriter/Append";
constexpr char kGetHead[] = "mend.eventlog.v1.EventLog/GetHead";

std::chrono::system_clock::time_point Deadline() {
  return std::chrono::system_clock::now() + kRpcTimeout;
}

// Samples of one scrape: series text (name and labels, as rendered) -> value.
using Samples = std::map<std::string, double>;

Samples ParseSamples(const std::string& body) {
  Samples samples;
  for (const std::string& line : std::vector<std::string>(absl::StrSplit(body, '\n'))) {
    if (line.empty() || line[0] == '#') continue;
    const size_t space = line.rfind(' ');
    if (space == std::string::npos) continue;
    samples[line.substr(0, space)] = std::stod(line.substr(space + 1));
  }
  return samples;
}

// A sample's value, 0 if the series is not rendered (yet).
double Get(const Samples& samples, const std::string& series) {
  auto it = samples.find(series);
  return it == samples.end() ? 0 : it->second;
}

std::string Handled(const std::string& method, const std::string& code) {
  return absl::StrCat(kGrpcHandledName, "{method=\"", method, "\",code=\"", code, "\"}");
}
std::string Started(const std::string& method) {
  return absl::StrCat(kGrpcStartedName, "{method=\"", method, "\"}");
}
std::string HandlingCount(const std::string& method) {
  return absl::StrCat(kGrpcHandlingSecondsName, "_count{method=\"", method, "\"}");
}
std::string StoreSeries(const std::string& name) {
  return absl::StrCat(name, "{service=\"", kService, "\"}");
}

class MetricsIntegrationTest : public ::testing::Test {
 protected:
  static void SetUpTestSuite() {
    keys_ = new ::mend::testing::KeyPair(::mend::testing::NewSigningKey());
  }
  static void TearDownTestSuite() {
    delete keys_;
    keys_ = nullptr;
  }

  void SetUp() override {
    ASSERT_FALSE(keys_->public_pem.empty()) << "token key generation failed";
    absl::StatusOr<std::string> token = MintToken(
        keys_->private_pem, "metrics-test", Role::kService, absl::Hours(2), absl::Now());
    ASSERT_THAT(token, IsOk());
    token_ = *std::move(token);

    auto interceptors = CreateGrpcServerMetrics(&registry_);
    ASSERT_THAT(interceptors, IsOk());
    ::mend::testing::LoopbackLogServer::Options options{
        .path = dir_.Sub("log"), .token_public_key_pem = keys_->public_pem};
    options.interceptors.push_back(*std::move(interceptors));
    auto server = ::mend::testing::LoopbackLogServer::Start(std::move(options));
    ASSERT_THAT(server, IsOk());
    server_ = *std::move(server);
    store_ = server_->store();
    port_ = server_->port();
    ASSERT_THAT(RegisterStoreMetrics(&registry_, store_, kService), IsOk());

    metrics_server_ = std::make_unique<MetricsServer>(&registry_, "127.0.0.1:0");
    ASSERT_THAT(metrics_server_->Start(), IsOk());

    channel_ = grpc::CreateChannel(absl::StrCat("127.0.0.1:", port_),
                                   grpc::InsecureChannelCredentials());
    log_stub_ = v1::EventLog::NewStub(channel_);
    writer_stub_ = v1::EventLogWriter::NewStub(channel_);
  }

  void TearDown() override {
    if (metrics_server_ != nullptr) metrics_server_->Stop();
    UnregisterStoreMetrics(&registry_, kService);  // before the store closes
    server_.reset();
  }

  // GET /metrics over HTTP; fails the test unless it is a 200 with the
  // exposition format's content type.
  Samples Scrape() {
    httplib::Client client("127.0.0.1", metrics_server_->port());
    client.set_connection_timeout(10);
    client.set_read_timeout(10);
    httplib::Result result = client.Get("/metrics");
    EXPECT_TRUE(result) << "scrape failed";
    if (!result) return {};
    EXPECT_EQ(result->status, 200);
    EXPECT_EQ(result->get_header_value("Content-Type"), MetricsServer::kContentType);
    return ParseSamples(result->body);
  }

  grpc::Status Append(const std::string& stream, int events, bool with_expected_version,
                      bool with_token = true) {
    v1::AppendRequest request;
    request.set_stream_id(stream);
    if (with_expected_version) request.mutable_expected_version()->set_any(true);
    for (int i = 0; i < events; ++i) {
      v1::NewEvent* e = request.add_events();
      e->set_event_id(absl::StrCat(stream, "-", next_event_++));
      e->set_event_type("mend.test.v1.Thing");
      e->set_payload("payload");
    }
    grpc::ClientContext context;
    context.set_deadline(Deadline());
    if (with_token) AttachBearerToken(&context, token_);
    v1::AppendResponse response;
    return writer_stub_->Append(&context, request, &response);
  }

  grpc::Status GetHead(uint64_t* position) {
    grpc::ClientContext context;
    context.set_deadline(Deadline());
    AttachBearerToken(&context, token_);
    v1::GetHeadResponse response;
    grpc::Status status = log_stub_->GetHead(&context, v1::GetHeadRequest(), &response);
    *position = response.position();
    return status;
  }

  static ::mend::testing::KeyPair* keys_;
  std::string token_;
  int next_event_ = 0;

  // Declared first: everything below refers to it and goes before it.
  MetricsRegistry registry_;
  TempDir dir_;
  std::unique_ptr<::mend::testing::LoopbackLogServer> server_;
  EventStore* store_ = nullptr;  // the server's
  int port_ = 0;
  std::unique_ptr<MetricsServer> metrics_server_;
  std::shared_ptr<grpc::Channel> channel_;
  std::unique_ptr<v1::EventLog::Stub> log_stub_;
  std::unique_ptr<v1::EventLogWriter::Stub> writer_stub_;
};

::mend::testing::KeyPair* MetricsIntegrationTest::keys_ = nullptr;

TEST_F(MetricsIntegrationTest, RpcAndStoreCountersMoveByExactlyWhatHappened) {
  const Samples before = Scrape();

  // Three appends that succeed, four events in all; each is its own fsync.
  ASSERT_TRUE(Append("case-1", 2, true).ok());
  ASSERT_TRUE(Append("case-1", 1, true).ok());
  ASSERT_TRUE(Append("case-2", 1, true).ok());
  // Two refused as INVALID_ARGUMENT: no expected version; no events.
  EXPECT_EQ(Append("case-3", 1, false).error_code(), grpc::StatusCode::INVALID_ARGUMENT);
  EXPECT_EQ(Append("case-3", 0, true).error_code(), grpc::StatusCode::INVALID_ARGUMENT);
  // One without a token.
  EXPECT_EQ(Append("case-4", 1, true, /*with_token=*/false).error_code(),
            grpc::StatusCode::UNAUTHENTICATED);
  uint64_t head = 0;
  ASSERT_TRUE(GetHead(&head).ok());
  EXPECT_EQ(head, 4u);

  const Samples after = Scrape();
  auto delta = [&](const std::string& series) {
    return Get(after, series) - Get(before, series);
  };
  EXPECT_EQ(delta(Handled(kAppend, "OK")), 3);
  EXPECT_EQ(delta(Handled(kAppend, "INVALID_ARGUMENT")), 2);
  EXPECT_EQ(delta(Handled(kAppend, "UNAUTHENTICATED")), 1);
  EXPECT_EQ(delta(Started(kAppend)), 6);
  EXPECT_EQ(delta(HandlingCount(kAppend)), 6);
  EXPECT_EQ(delta(absl::StrCat(kGrpcHandlingSecondsName, "_bucket{method=\"", kAppend,
                               "\",le=\"+Inf\"}")),
            6);
  EXPECT_EQ(delta(Handled(kGetHead, "OK")), 1);
  EXPECT_EQ(delta(Started(kGetHead)), 1);

  EXPECT_EQ(delta(StoreSeries("mend_eventlog_appended_events_total")), 4);
  EXPECT_EQ(delta(StoreSeries("mend_eventlog_fsyncs_total")), 3);
  EXPECT_EQ(delta(StoreSeries("mend_eventlog_fsync_seconds_count")), 3);
  EXPECT_EQ(delta(StoreSeries("mend_eventlog_batch_requests_count")), 3);
  EXPECT_EQ(delta(absl::StrCat("mend_eventlog_batch_requests_bucket{service=\"", kService,
                               "\",le=\"1\"}")),
            3);
  EXPECT_EQ(Get(after, StoreSeries("mend_eventlog_head_position")), 4);
  EXPECT_GT(Get(after, "mend_process_uptime_seconds"), 0);

  // The scrapes themselves are HTTP, not gRPC: nothing else was counted.
  double handled_total = 0;
  for (const auto& [series, value] : after) {
    if (series.rfind(kGrpcHandledName, 0) == 0) handled_total += value;
  }
  EXPECT_EQ(handled_total, 7);
}

TEST_F(MetricsIntegrationTest, UnknownMethodsShareOneLabel) {
  grpc::GenericStub stub(channel_);
  for (const char* method : {"/no.such.Service/Do", "/mend.eventlog.v1.EventLog/Nope"}) {
    grpc::ClientContext context;
    context.set_deadline(Deadline());
    grpc::Slice empty("");
    grpc::ByteBuffer request(&empty, 1);  // an empty message, but a message
    grpc::ByteBuffer response;
    absl::Notification done;
    grpc::Status status;
    stub.UnaryCall(&context, method, grpc::StubOptions(), &request, &response,
                   [&](grpc::Status s) {
                     status = std::move(s);
                     done.Notify();
                   });
    done.WaitForNotification();  // the call has a deadline
    EXPECT_EQ(status.error_code(), grpc::StatusCode::UNIMPLEMENTED) << method;
  }
  const Samples after = Scrape();
  EXPECT_EQ(Get(after, Handled(kUnknownMethod, "UNIMPLEMENTED")), 2);
  EXPECT_EQ(Get(after, Started(kUnknownMethod)), 2);
  for (const auto& [series, value] : after) {
    EXPECT_EQ(series.find("no.such"), std::string::npos) << series;
    EXPECT_EQ(series.find("Nope"), std::string::npos) << series;
  }
}

TEST(GrpcMetricsTest, MethodLabelsAndCodeNames) {
  // Touch the generated code so its descriptors are linked in.
  ASSERT_NE(v1::AppendRequest::descriptor(), nullptr);
  EXPECT_EQ(GrpcMethodLabel("/mend.eventlog.v1.EventLogWriter/Append"), kAppend);
  EXPECT_EQ(GrpcMethodLabel("/mend.eventlog.v1.EventLog/GetHead"), kGetHead);
  EXPECT_EQ(GrpcMethodLabel("/grpc.health.v1.Health/Check"),
            "grpc.health.v1.Health/Check");
  for (const char* path :
       {"", "/", "//", "/a/", "/mend.eventlog.v1.EventLog/Nope",
        "mend.eventlog.v1.EventLog/GetHead", "/mend.eventlog.v1.EventLog/GetHead/x",
        "/no.such.Service/Do"}) {
    EXPECT_EQ(GrpcMethodLabel(path), kUnknownMethod) << path;
  }
  EXPECT_STREQ(GrpcCodeName(0), "OK");
  EXPECT_STREQ(GrpcCodeName(3), "INVALID_ARGUMENT");
  EXPECT_STREQ(GrpcCodeName(16), "UNAUTHENTICATED");
  EXPECT_STREQ(GrpcCodeName(17), "UNKNOWN");
  EXPECT_STREQ(GrpcCodeName(-1), "UNKNOWN");
}

TEST(GrpcMetricsTest, FactoryRefusesATakenName) {
  MetricsRegistry registry;
  ASSERT_THAT(registry.AddGauge(kGrpcStartedName, "Something else."), IsOk());
  EXPECT_THAT(CreateGrpcServerMetrics(&registry),
              ::mend::testing::StatusIs(absl::StatusCode::kAlreadyExists));
  // A second server in the same process shares the families.
  MetricsRegistry shared;
  EXPECT_THAT(CreateGrpcServerMetrics(&shared), IsOk());
  EXPECT_THAT(CreateGrpcServerMetrics(&shared), IsOk());
}

}  // namespace
}  // namespace mend::metrics
