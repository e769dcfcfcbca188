// Requests that do not parse, and calls the client cancels, over a real
// server on loopback (EventLog with the metrics/access-log interceptor):
// what the caller gets back and what the JSON log says.
#include <fcntl.h>
#include <grpc/support/log.h>
#include <grpcpp/generic/generic_stub.h>
#include <grpcpp/grpcpp.h>
#include <spdlog/details/log_msg.h>
#include <spdlog/sinks/base_sink.h>
#include <unistd.h>

#include <cstdio>
#include <fstream>
#include <memory>
#include <mutex>
#include <nlohmann/json.hpp>
#include <sstream>
#include <string>
#include <vector>

#include "absl/strings/str_cat.h"
#include "absl/synchronization/mutex.h"
#include "absl/synchronization/notification.h"
#include "absl/time/clock.h"
#include "absl/time/time.h"
#include "common/base/sha256.h"
#include "common/eventlog/event_store.h"
#include "common/observability/grpc_metrics.h"
#include "common/observability/logging.h"
#include "common/observability/metrics.h"
#include "gmock/gmock.h"
#include "gtest/gtest.h"
#include "mend/eventlog/v1/eventlog_service.grpc.pb.h"
#include "tests/support/grpc_client.h"
#include "tests/support/log_server.h"
#include "tests/support/test_util.h"
#include "tests/support/tokens.h"

namespace mend {
namespace {

using ::mend::testing::IsOk;
using ::mend::testing::TempDir;
using ::testing::HasSubstr;
using json = nlohmann::json;

constexpr char kReadStream[] = "/mend.eventlog.v1.EventLog/ReadStream";
constexpr char kSubscribe[] = "/mend.eventlog.v1.EventLog/Subscribe";

// Keeps every formatted line and wakes waiters.
class CaptureSink final : public spdlog::sinks::base_sink<std::mutex> {
 public:
  std::vector<std::string> Lines() const {
    absl::MutexLock lock(&mu_);
    return lines_;
  }

  // The first line for which `match` holds, waiting until `deadline`; an
  // empty object if none came.
  template <typename Match>
  json WaitForLine(Match match, absl::Time deadline) const {
    absl::MutexLock lock(&mu_);
    size_t checked = 0;
    for (;;) {
      for (; checked < lines_.size(); ++checked) {
        json j = json::parse(lines_[checked], nullptr, /*allow_exceptions=*/false);
        if (j.is_object() && match(j)) return j;
      }
      auto more = [this, &checked]()
                      ABSL_NO_THREAD_SAFETY_ANALYSIS { return lines_.size() > checked; };
      if (!mu_.AwaitWithDeadline(absl::Condition(&more), deadline)) return json::object();
    }
  }

 protected:
  void sink_it_(const spdlog::details::log_msg& msg) override {
    spdlog::memory_buf_t formatted;
    formatter_->format(msg, formatted);
    std::string line(formatted.data(), formatted.size());
    while (!line.empty() && line.back() == '\n') line.pop_back();
    absl::MutexLock lock(&mu_);
    lines_.push_back(std::move(line));
  }
  void flush_() override {}

 private:
  mutable absl::Mutex mu_;
  std::vector<std::string> lines_ ABSL_GUARDED_BY(mu_);
};

// The "rpc" access-log line of `method` (a label, "pkg.Service/Method").
auto RpcLineOf(std::string method) {
  return [method](const json& j) {
    return j.value("message", "") == "rpc" && j.value("method", "") == method;
  };
}

class RpcErrorsTest : public ::testing::Test {
 protected:
  void SetUp() override {
    sink_ = std::make_shared<CaptureSink>();
    ASSERT_THAT(log::InitLogging("rpc_errors_test", "debug", sink_), IsOk());
    auto interceptor = metrics::CreateGrpcServerMetrics(&registry_);
    ASSERT_THAT(interceptor, IsOk());
    testing::LoopbackLogServer::Options options{.path = dir_.Sub("log")};
    options.interceptors.push_back(*std::move(interceptor));
    auto server = testing::LoopbackLogServer::Start(std::move(options));
    ASSERT_THAT(server, IsOk());
    server_ = *std::move(server);
    channel_ =
        grpc::CreateChannel(server_->address(), grpc::InsecureChannelCredentials());
  }
  void TearDown() override {
    server_.reset();
    ASSERT_THAT(log::InitLogging("rpc_errors_test", "info"), IsOk());  // back to stderr
  }

  // Sends `bytes` as the request of `method`, with no token, and returns the
  // status. (A server-streaming method answers a request it cannot parse with
  // a status and no message, which a unary call reads as well.)
  grpc::Status SendRaw(const std::string& method, const std::string& bytes) {
    return testing::CallRaw(channel_, method, bytes);
  }

  TempDir dir_;
  metrics::MetricsRegistry registry_;
  std::shared_ptr<CaptureSink> sink_;
  std::unique_ptr<testing::LoopbackLogServer> server_;
  std::shared_ptr<grpc::Channel> channel_;
};

struct Unparseable {
  const char* name;
  std::string bytes;
};

const std::vector<Unparseable>& UnparseableRequests() {
  static const auto* const cases = new std::vector<Unparseable>{
      // Field 1 (stream_id, a proto3 string) holding the bytes FF FE.
      {"invalid UTF-8 in a string field", std::string("\x0a\x02\xff\xfe", 4)},
      {"random bytes", std::string("\xff\xff\xff\xff\xff\xff\xff\xff\xff\xff\x07", 11)},
      // Field 1 announcing 100 bytes and carrying 2.
      {"a bad length prefix", std::string("\x0a\x64"
                                          "ab",
                                          4)},
  };
  return *cases;
}

TEST_F(RpcErrorsTest, UnparseableRequestsAreInvalidArgumentEvenWithoutAToken) {
  for (const char* method : {kReadStream, kSubscribe}) {
    for (const Unparseable& c : UnparseableRequests()) {
      // SubscribeRequest has no string field: its field 1 with wire type 2 is
      // an unknown field, which parses.
      if (method == kSubscribe && c.bytes == UnparseableRequests()[0].bytes) continue;
      const grpc::Status status = SendRaw(method, c.bytes);
      EXPECT_EQ(status.error_code(), grpc::StatusCode::INVALID_ARGUMENT)
          << method << ", " << c.name << ": " << status.error_message();
      EXPECT_EQ(status.error_message(), metrics::kUnparsedRequestMessage)
          << method << ", " << c.name;
    }
  }
  // A request that parses still meets authorization first.
  eventlog::v1::ReadStreamRequest good;
  good.set_stream_id("s");
  EXPECT_EQ(SendRaw(kReadStream, good.SerializeAsString()).error_code(),
            grpc::StatusCode::UNAUTHENTICATED);
}

TEST_F(RpcErrorsTest, AnUnparseableRequestIsLoggedAsTheCallersError) {
  for (const Unparseable& c : UnparseableRequests()) {
    const size_t before = sink_->Lines().size();
    ASSERT_EQ(SendRaw(kReadStream, c.bytes).error_code(),
              grpc::StatusCode::INVALID_ARGUMENT);
    // Recorded when the call closes, which may be just after the client saw
    // the status.
    json j = sink_->WaitForLine(
        [&, seen = size_t{0}](const json& line) mutable {
          return ++seen > before &&
                 RpcLineOf("mend.eventlog.v1.EventLog/ReadStream")(line);
        },
        absl::Now() + absl::Seconds(30));
    const bool found = !j.empty();
    if (found) {
      EXPECT_EQ(j.value("status", ""), "INVALID_ARGUMENT") << c.name;
      EXPECT_EQ(j.value("level", ""), "info") << c.name;
    }
    for (const std::string& l : sink_->Lines()) {
      EXPECT_TRUE(json::parse(l, nullptr, false).is_object()) << "not JSON: " << l;
    }
    EXPECT_TRUE(found) << c.name << ": no rpc line";
  }
}

TEST_F(RpcErrorsTest, ProtobufsOwnComplaintIsAJsonLineNotStderr) {
  // Catch what goes to file descriptor 2 meanwhile.
  const std::string captured = dir_.Sub("stderr");
  const int saved = dup(2);
  ASSERT_GE(saved, 0);
  const int fd = open(captured.c_str(), O_WRONLY | O_CREAT | O_TRUNC, 0600);
  ASSERT_GE(fd, 0);
  std::fflush(stderr);
  ASSERT_GE(dup2(fd, 2), 0);
  const grpc::Status status = SendRaw(kReadStream, UnparseableRequests()[0].bytes);
  std::fflush(stderr);
  dup2(saved, 2);
  close(saved);
  close(fd);
  EXPECT_EQ(status.error_code(), grpc::StatusCode::INVALID_ARGUMENT);

  std::ifstream in(captured);
  std::stringstream text;
  text << in.rdbuf();
  EXPECT_THAT(text.str(), ::testing::Not(HasSubstr("libprotobuf"))) << text.str();
  json line = sink_->WaitForLine(
      [](const json& j) { return j.value("component", "") == "protobuf"; },
      absl::Now() + absl::Seconds(10));
  ASSERT_FALSE(line.empty()) << "no protobuf line in the JSON log";
  EXPECT_THAT(line.value("message", ""), HasSubstr("invalid UTF-8"));
  EXPECT_EQ(line.value("level", ""), "error");
  EXPECT_THAT(line.value("source", ""), HasSubstr(".cc:"));
}

TEST_F(RpcErrorsTest, AClientCancellingASubscriptionIsLoggedAsCancelledAtDebug) {
  auto stub = eventlog::v1::EventLog::NewStub(channel_);
  grpc::ClientContext context;
  AttachBearerToken(&context, testing::TokenFor(Role::kService, "subscriber"));
  eventlog::v1::SubscribeRequest request;
  auto reader = stub->Subscribe(&context, request);
  // Once the first message has arrived, the server holds the subscription.
  ASSERT_THAT(
      server_->store()->Append("s", eventlog::ExpectedVersion::Any(),
                               {eventlog::NewEvent{.event_id = "e1",
                                                   .event_type = "mend.test.v1.Thing",
                                                   .payload = "",
                                                   .actor_id = "",
                                                   .actor_role = "",
                                                   .correlation_id = "",
                                                   .causation_id = ""}}),
      IsOk());
  eventlog::v1::SubscribeResponse response;
  ASSERT_TRUE(reader->Read(&response));
  context.TryCancel();
  EXPECT_EQ(reader->Finish().error_code(), grpc::StatusCode::CANCELLED);

  json line = sink_->WaitForLine(RpcLineOf("mend.eventlog.v1.EventLog/Subscribe"),
                                 absl::Now() + absl::Seconds(30));
  ASSERT_FALSE(line.empty()) << "no rpc line for the cancelled Subscribe";
  EXPECT_EQ(line.value("status", ""), "CANCELLED");
  EXPECT_EQ(line.value("level", ""), "debug");
}

// gRPC's callback API hands a call cancelled before its request message
// arrived to the method as one whose request did not parse (UNIMPLEMENTED):
// it is a cancellation, not the caller's bad bytes nor the server's trouble.
TEST_F(RpcErrorsTest, ACallCancelledBeforeItsRequestArrivedIsLoggedAsCancelled) {
  grpc::GenericStub stub(channel_);
  grpc::ClientContext context;
  grpc::CompletionQueue cq;
  std::unique_ptr<grpc::GenericClientAsyncReaderWriter> call =
      stub.PrepareCall(&context, kSubscribe, &cq);
  void* tag = nullptr;
  bool ok = false;
  call->StartCall(reinterpret_cast<void*>(1));
  ASSERT_TRUE(cq.Next(&tag, &ok));
  ASSERT_TRUE(ok);  // initial metadata sent; no request message ever follows
  context.TryCancel();
  grpc::Status status;
  call->Finish(&status, reinterpret_cast<void*>(2));
  ASSERT_TRUE(cq.Next(&tag, &ok));
  EXPECT_EQ(status.error_code(), grpc::StatusCode::CANCELLED);
  cq.Shutdown();
  while (cq.Next(&tag, &ok)) {
  }

  json line = sink_->WaitForLine(RpcLineOf("mend.eventlog.v1.EventLog/Subscribe"),
                                 absl::Now() + absl::Seconds(30));
  ASSERT_FALSE(line.empty()) << "no rpc line for the cancelled call";
  EXPECT_EQ(line.value("status", ""), "CANCELLED");
  EXPECT_EQ(line.value("level", ""), "debug");
}

TEST(LoggableIdTest, IdsAsTheyAreAnythingElseAsADigest) {
  const std::string max_id(metrics::kMaxLoggedIdLength, 'a');
  struct Case {
    std::string value;
    bool verbatim;
  };
  const Case cases[] = {
      {"", true},
      {"req-42", true},
      {"00-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-01", true},  // traceparent
      {"case:17.step_3", true},
      {max_id, true},
      {max_id + "a", false},  // too long
      {"Jane Doe", false},    // a space
      {"jane@example.org", false},
      {"a\"b", false},
      {"line\nbreak", false},
      {"caf\xc3\xa9", false},  // not ASCII
      {std::string("a\0b", 3), false},
  };
  for (const Case& c : cases) {
    const std::string shown = metrics::LoggableId(c.value);
    if (c.verbatim) {
      EXPECT_EQ(shown, c.value);
    } else {
      EXPECT_EQ(shown, "sha256:" + HexEncode(Sha256Bytes(c.value)).substr(0, 16))
          << "for a value of " << c.value.size() << " bytes";
      EXPECT_EQ(shown.size(), 7u + 16u);
    }
  }
}

TEST_F(RpcErrorsTest, TraceAndCorrelationIdsAreLoggedOnlyWhenTheyAreIds) {
  auto stub = eventlog::v1::EventLog::NewStub(channel_);
  auto call = [&](const std::string& trace, const std::string& correlation) {
    grpc::ClientContext context;
    AttachBearerToken(&context, testing::TokenFor(Role::kService, "caller"));
    context.AddMetadata("x-trace-id", trace);
    context.AddMetadata("x-correlation-id", correlation);
    eventlog::v1::GetHeadResponse response;
    EXPECT_TRUE(stub->GetHead(&context, eventlog::v1::GetHeadRequest(), &response).ok());
  };
  const std::string personal = "Jane Doe, born 1980-01-01";
  const std::string long_id(300, 'x');
  call("trace-1", personal);
  call(long_id, "corr:2");
  std::vector<json> lines;
  for (const std::string& l : sink_->Lines()) {
    json j = json::parse(l, nullptr, false);
    ASSERT_TRUE(j.is_object()) << l;
    EXPECT_EQ(l.find("Jane"), std::string::npos) << l;
    EXPECT_EQ(l.find(long_id), std::string::npos) << l;
    if (RpcLineOf("mend.eventlog.v1.EventLog/GetHead")(j)) lines.push_back(j);
  }
  ASSERT_EQ(lines.size(), 2u);  // logged before the status was sent
  EXPECT_EQ(lines[0].value("trace_id", ""), "trace-1");
  EXPECT_EQ(lines[0].value("correlation_id", ""),
            "sha256:" + HexEncode(Sha256Bytes(personal)).substr(0, 16));
  EXPECT_EQ(lines[1].value("trace_id", ""),
            "sha256:" + HexEncode(Sha256Bytes(long_id)).substr(0, 16));
  EXPECT_EQ(lines[1].value("correlation_id", ""), "corr:2");
}

TEST_F(RpcErrorsTest, GrpcCoreMessagesAreJsonLines) {
  gpr_log(GPR_ERROR, "a core message %d", 42);
  json line = sink_->WaitForLine(
      [](const json& j) { return j.value("message", "") == "a core message 42"; },
      absl::Now() + absl::Seconds(10));
  ASSERT_FALSE(line.empty());
  EXPECT_EQ(line.value("component", ""), "grpc");
  EXPECT_EQ(line.value("level", ""), "error");
  EXPECT_THAT(line.value("source", ""), HasSubstr("rpc_errors_test.cc:"));
}

}  // namespace
}  // namespace mend
