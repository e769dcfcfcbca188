// Integration tests of caller authentication and authorization over real
// gRPC: EventLogService and EventLogWriterService on a loopback ephemeral
// port, in front of an EventStore in a temporary directory, with a real
// TokenVerifier (ES256, key generated in-process). Each test owns its port
// and directory.
#include <grpcpp/grpcpp.h>

#include <chrono>
#include <functional>
#include <memory>
#include <string>
#include <utility>
#include <vector>

#include "absl/status/status.h"
#include "absl/status/statusor.h"
#include "absl/strings/str_cat.h"
#include "absl/time/clock.h"
#include "absl/time/time.h"
#include "common/eventlog/event_store.h"
#include "common/runtime/eventlog_service.h"
#include "common/security/auth.h"
#include "gmock/gmock.h"
#include "gtest/gtest.h"
#include "mend/eventlog/v1/eventlog_service.grpc.pb.h"
#include "mend/eventlog/v1/record.pb.h"
#include "tests/support/eventlog_writer_service.h"
#include "tests/support/log_server.h"
#include "tests/support/test_util.h"
#include "tests/support/tokens.h"

namespace mend::eventlog {
namespace {

using ::mend::testing::FromGrpc;
using ::mend::testing::WaitFor;

using ::mend::testing::IsOk;
using ::mend::testing::StatusIs;
using ::mend::testing::TempDir;
using ::testing::HasSubstr;
using ::testing::IsEmpty;
using ::testing::Not;

constexpr std::chrono::seconds kRpcTimeout(30);

std::chrono::system_clock::time_point Deadline() {
  return std::chrono::system_clock::now() + kRpcTimeout;
}

// How a test call authenticates: no metadata, or this exact header value.
struct Credentials {
  bool send = false;
  std::string authorization;

  static Credentials None() { return {}; }
  static Credentials Bearer(const std::string& token) {
    return {true, absl::StrCat("Bearer ", token)};
  }
  static Credentials Raw(std::string value) { return {true, std::move(value)}; }

  void Apply(grpc::ClientContext* context) const {
    if (send) context->AddMetadata("authorization", authorization);
  }
};

class AuthIntegrationTest : public ::testing::Test {
 protected:
  static void SetUpTestSuite() {
    keys_ = new ::mend::testing::KeyPair(::mend::testing::NewSigningKey());
    other_keys_ = new ::mend::testing::KeyPair(::mend::testing::NewSigningKey());
  }
  static void TearDownTestSuite() {
    delete keys_;
    delete other_keys_;
  }

  void SetUp() override {
    ASSERT_FALSE(keys_->public_pem.empty()) << "key generation failed";
    ASSERT_FALSE(other_keys_->public_pem.empty()) << "key generation failed";
    auto server = ::mend::testing::LoopbackLogServer::Start(
        {.path = dir_.Sub("log"), .token_public_key_pem = keys_->public_pem});
    ASSERT_THAT(server, IsOk());
    server_ = *std::move(server);
    store_ = server_->store();
    log_service_ = server_->log_service();
    const int port = server_->port();
    channel_ = grpc::CreateChannel(absl::StrCat("127.0.0.1:", port),
                                   grpc::InsecureChannelCredentials());
    ASSERT_TRUE(channel_->WaitForConnected(Deadline()));
    log_ = v1::EventLog::NewStub(channel_);
    writer_ = v1::EventLogWriter::NewStub(channel_);

    // Something to read.
    std::vector<NewEvent> events;
    for (int i = 0; i < 3; ++i) {
      events.push_back(NewEvent{.event_id = absl::StrCat("seed-", i),
                                .event_type = "mend.test.v1.Thing",
                                .payload = "p",
                                .actor_id = "seed",
                                .actor_role = "service",
                                .correlation_id = "",
                                .causation_id = ""});
    }
    ASSERT_THAT(store_->Append("case-1", ExpectedVersion::NoStream(), std::move(events)),
                IsOk());
  }

  void TearDown() override { server_.reset(); }

  // A token signed by the server's key (or `keys`), issued at `issued`.
  static std::string Token(Role role, const std::string& subject = "tester",
                           absl::Duration ttl = absl::Hours(1),
                           absl::Time issued = absl::Now(),
                           const ::mend::testing::KeyPair* keys = nullptr) {
    absl::StatusOr<std::string> token = MintToken(
        (keys != nullptr ? keys : keys_)->private_pem, subject, role, ttl, issued);
    EXPECT_THAT(token, IsOk());
    return token.ok() ? *token : "";
  }

  absl::StatusOr<v1::ReadResponse> Read(const Credentials& credentials) {
    grpc::ClientContext context;
    context.set_deadline(Deadline());
    credentials.Apply(&context);
    v1::ReadRequest request;
    request.set_from_position(1);
    v1::ReadResponse response;
    grpc::Status status = log_->Read(&context, request, &response);
    if (!status.ok()) return FromGrpc(status);
    return response;
  }

  absl::StatusOr<v1::ReadResponse> ReadStream(const Credentials& credentials) {
    grpc::ClientContext context;
    context.set_deadline(Deadline());
    credentials.Apply(&context);
    v1::ReadStreamRequest request;
    request.set_stream_id("case-1");
    v1::ReadResponse response;
    grpc::Status status = log_->ReadStream(&context, request, &response);
    if (!status.ok()) return FromGrpc(status);
    return response;
  }

  absl::StatusOr<v1::GetHeadResponse> GetHead(const Credentials& credentials) {
    grpc::ClientContext context;
    context.set_deadline(Deadline());
    credentials.Apply(&context);
    v1::GetHeadResponse response;
    grpc::Status status = log_->GetHead(&context, v1::GetHeadRequest(), &response);
    if (!status.ok()) return FromGrpc(status);
    return response;
  }

  absl::StatusOr<v1::AppendResponse> Append(const Credentials& credentials,
                                            const std::string& event_id) {
    grpc::ClientContext context;
    context.set_deadline(Deadline());
    credentials.Apply(&context);
    v1::AppendRequest request;
    request.set_stream_id("case-2");
    request.mutable_expected_version()->set_any(true);
    v1::NewEvent* e = request.add_events();
    e->set_event_id(event_id);
    e->set_event_type("mend.test.v1.Thing");
    e->set_payload("appended");
    v1::AppendResponse response;
    grpc::Status status = writer_->Append(&context, request, &response);
    if (!status.ok()) return FromGrpc(status);
    return response;
  }

  // Subscribes from the start; returns the events of the first message and
  // the stream's final status (the stream is cancelled after one message).
  struct SubscribeOutcome {
    int first_message_events = -1;  // -1: no message arrived
    absl::Status status;
  };
  SubscribeOutcome Subscribe(const Credentials& credentials) {
    grpc::ClientContext context;
    context.set_deadline(Deadline());
    credentials.Apply(&context);
    v1::SubscribeRequest request;
    std::unique_ptr<grpc::ClientReader<v1::SubscribeResponse>> reader =
        log_->Subscribe(&context, request);
    SubscribeOutcome outcome;
    v1::SubscribeResponse message;
    if (reader->Read(&message)) {
      outcome.first_message_events = message.events_size();
      context.TryCancel();
      while (reader->Read(&message)) {
      }
    }
    outcome.status = FromGrpc(reader->Finish());
    return outcome;
  }

  // Every EventLog unary method and Append, called with `credentials`.
  std::vector<std::pair<std::string, absl::Status>> CallEveryUnaryMethod(
      const Credentials& credentials) {
    return {
        {"Read", Read(credentials).status()},
        {"ReadStream", ReadStream(credentials).status()},
        {"GetHead", GetHead(credentials).status()},
        {"Append", Append(credentials, absl::StrCat("e-", ++appends_)).status()},
    };
  }

  static ::mend::testing::KeyPair* keys_;
  static ::mend::testing::KeyPair* other_keys_;
  TempDir dir_;
  std::unique_ptr<::mend::testing::LoopbackLogServer> server_;
  EventStore* store_ = nullptr;             // the server's
  EventLogService* log_service_ = nullptr;  // the server's
  std::shared_ptr<grpc::Channel> channel_;
  std::unique_ptr<v1::EventLog::Stub> log_;
  std::unique_ptr<v1::EventLogWriter::Stub> writer_;
  int appends_ = 0;
};

::mend::testing::KeyPair* AuthIntegrationTest::keys_ = nullptr;
::mend::testing::KeyPair* AuthIntegrationTest::other_keys_ = nullptr;

TEST_F(AuthIntegrationTest, NoTokenIsUnauthenticated) {
  for (const auto& [method, status] : CallEveryUnaryMethod(Credentials::None())) {
    EXPECT_THAT(status, StatusIs(absl::StatusCode::kUnauthenticated)) << method;
    EXPECT_THAT(std::string(status.message()), HasSubstr("authorization: Bearer"))
        << method;
  }
  EXPECT_EQ(store_->GetHead().position, 3u) << "an unauthenticated Append wrote";
}

TEST_F(AuthIntegrationTest, MalformedAuthorizationIsUnauthenticated) {
  const std::string token = Token(Role::kService);
  for (const std::string& header :
       {std::string("Basic dXNlcjpwYXNz"), token, std::string("Bearer"),
        std::string("Bearer not-a-jwt")}) {
    for (const auto& [method, status] : CallEveryUnaryMethod(Credentials::Raw(header))) {
      EXPECT_THAT(status, StatusIs(absl::StatusCode::kUnauthenticated))
          << method << " with '" << header.substr(0, 16) << "'";
      EXPECT_THAT(std::string(status.message()), Not(HasSubstr(token)));
    }
  }
}

TEST_F(AuthIntegrationTest, ExpiredTokenIsUnauthenticated) {
  const std::string expired =
      Token(Role::kService, "svc-case", absl::Minutes(10), absl::Now() - absl::Hours(1));
  for (const auto& [method, status] :
       CallEveryUnaryMethod(Credentials::Bearer(expired))) {
    EXPECT_THAT(status, StatusIs(absl::StatusCode::kUnauthenticated)) << method;
    EXPECT_THAT(std::string(status.message()), HasSubstr("token expired")) << method;
    EXPECT_THAT(std::string(status.message()), Not(HasSubstr(expired))) << method;
  }
}

TEST_F(AuthIntegrationTest, WrongSignatureIsUnauthenticated) {
  const std::string forged =
      Token(Role::kService, "svc-case", absl::Hours(1), absl::Now(), other_keys_);
  for (const auto& [method, status] : CallEveryUnaryMethod(Credentials::Bearer(forged))) {
    EXPECT_THAT(status, StatusIs(absl::StatusCode::kUnauthenticated)) << method;
    EXPECT_THAT(std::string(status.message()), HasSubstr("signature")) << method;
  }
  EXPECT_EQ(store_->GetHead().position, 3u);
}

TEST_F(AuthIntegrationTest, FacilitatorsAndManagersMayNotReadRawLogs) {
  for (Role role : {Role::kFacilitator, Role::kManager}) {
    SCOPED_TRACE(std::string(RoleName(role)));
    for (const auto& [method, status] :
         CallEveryUnaryMethod(Credentials::Bearer(Token(role)))) {
      EXPECT_THAT(status, StatusIs(absl::StatusCode::kPermissionDenied)) << method;
      EXPECT_THAT(std::string(status.message()), HasSubstr(std::string(RoleName(role))))
          << method;
    }
    SubscribeOutcome subscribe = Subscribe(Credentials::Bearer(Token(role)));
    EXPECT_EQ(subscribe.first_message_events, -1);
    EXPECT_THAT(subscribe.status, StatusIs(absl::StatusCode::kPermissionDenied));
  }
  EXPECT_EQ(store_->GetHead().position, 3u);
}

TEST_F(AuthIntegrationTest, ServiceAndAuditorTokensMayRead) {
  for (Role role : {Role::kService, Role::kAuditor}) {
    SCOPED_TRACE(std::string(RoleName(role)));
    const Credentials credentials = Credentials::Bearer(Token(role));
    auto read = Read(credentials);
    ASSERT_THAT(read, IsOk());
    EXPECT_EQ(read->events_size(), 3);
    auto stream = ReadStream(credentials);
    ASSERT_THAT(stream, IsOk());
    EXPECT_EQ(stream->events_size(), 3);
    auto head = GetHead(credentials);
    ASSERT_THAT(head, IsOk());
    EXPECT_EQ(head->position(), 3u);
    SubscribeOutcome subscribe = Subscribe(credentials);
    EXPECT_EQ(subscribe.first_message_events, 3);
    EXPECT_THAT(subscribe.status, StatusIs(absl::StatusCode::kCancelled));
  }
}

TEST_F(AuthIntegrationTest, OnlyServicesMayAppendAndTheyAreRecordedAsActor) {
  auto denied = Append(Credentials::Bearer(Token(Role::kAuditor)), "by-auditor");
  EXPECT_THAT(denied, StatusIs(absl::StatusCode::kPermissionDenied));
  EXPECT_EQ(store_->GetHead().position, 3u);

  auto appended =
      Append(Credentials::Bearer(Token(Role::kService, "svc-conference")), "by-service");
  ASSERT_THAT(appended, IsOk());
  EXPECT_EQ(appended->first_position(), 4u);
  auto read = Read(Credentials::Bearer(Token(Role::kAuditor)));
  ASSERT_THAT(read, IsOk());
  ASSERT_EQ(read->events_size(), 4);
  v1::StoredRecord record;
  ASSERT_TRUE(record.ParseFromString(read->events(3).record()));
  EXPECT_EQ(record.envelope().actor().id(), "svc-conference");
  EXPECT_EQ(record.envelope().actor().role(), "service");
}

TEST_F(AuthIntegrationTest, SubscribeWithBadTokenEndsUnauthenticated) {
  const std::vector<std::pair<std::string, Credentials>> cases = {
      {"no token", Credentials::None()},
      {"garbage", Credentials::Bearer("garbage")},
      {"expired", Credentials::Bearer(Token(Role::kService, "svc", absl::Minutes(1),
                                            absl::Now() - absl::Hours(1)))},
      {"wrong key", Credentials::Bearer(Token(Role::kService, "svc", absl::Hours(1),
                                              absl::Now(), other_keys_))},
  };
  for (const auto& [name, credentials] : cases) {
    SubscribeOutcome outcome = Subscribe(credentials);
    EXPECT_EQ(outcome.first_message_events, -1) << name << ": events were sent";
    EXPECT_THAT(outcome.status, StatusIs(absl::StatusCode::kUnauthenticated)) << name;
  }
  EXPECT_TRUE(WaitFor([&] { return log_service_->subscriber_count() == 0; }))
      << "refused subscriptions still counted: " << log_service_->subscriber_count();
}

TEST_F(AuthIntegrationTest, PolicyTablesCoverEveryMethod) {
  const google::protobuf::FileDescriptor* file = v1::ReadRequest::descriptor()->file();
  const google::protobuf::ServiceDescriptor* log = file->FindServiceByName("EventLog");
  const google::protobuf::ServiceDescriptor* writer =
      file->FindServiceByName("EventLogWriter");
  ASSERT_NE(log, nullptr);
  ASSERT_NE(writer, nullptr);
  auto log_policy = MethodPolicy::Create(EventLogPolicy());
  ASSERT_THAT(log_policy, IsOk());
  EXPECT_THAT((*log_policy)->MethodsWithoutPolicy(*log), IsEmpty());
  auto writer_policy = MethodPolicy::Create(EventLogWriterPolicy());
  ASSERT_THAT(writer_policy, IsOk());
  EXPECT_THAT((*writer_policy)->MethodsWithoutPolicy(*writer), IsEmpty());
  // And no row names a method the services do not have (a typo would leave
  // the real method denied and the row dead).
  EXPECT_EQ(EventLogPolicy().size(), static_cast<size_t>(log->method_count()));
  EXPECT_EQ(EventLogWriterPolicy().size(), static_cast<size_t>(writer->method_count()));
  // The I5 split: raw logs for auditors and services only; appends for
  // services only.
  for (int i = 0; i < log->method_count(); ++i) {
    const std::string method = FullMethodName(*log->method(i));
    EXPECT_THAT((*log_policy)->Check(method, Role::kAuditor), IsOk()) << method;
    EXPECT_THAT((*log_policy)->Check(method, Role::kService), IsOk()) << method;
    EXPECT_THAT((*log_policy)->Check(method, Role::kFacilitator),
                StatusIs(absl::StatusCode::kPermissionDenied))
        << method;
    EXPECT_THAT((*log_policy)->Check(method, Role::kManager),
                StatusIs(absl::StatusCode::kPermissionDenied))
        << method;
  }
  const std::string append = FullMethodName(*writer->FindMethodByName("Append"));
  EXPECT_THAT((*writer_policy)->Check(append, Role::kService), IsOk());
  for (Role role : {Role::kFacilitator, Role::kManager, Role::kAuditor}) {
    EXPECT_THAT((*writer_policy)->Check(append, role),
                StatusIs(absl::StatusCode::kPermissionDenied));
  }
}

}  // namespace
}  // namespace mend::eventlog
