// Integration tests of mend.eventlog.v1.EventLog and EventLogWriter: a real
// gRPC server on a loopback ephemeral port, serving an EventStore in a
// temporary directory, called through the generated stubs over a real
// channel. Every test owns its port and directory, so tests run in parallel.
// The server checks bearer tokens against a test key (ES256, generated once
// per test binary); every call here carries a service token. Authentication
// and authorization failures are tested in auth_integration_test.cc.
//
// Nothing here sleeps to let something happen: streams are read with client
// deadlines, and server-side state is polled against a deadline.
#include "common/runtime/eventlog_service.h"

#include <grpcpp/grpcpp.h>

#include <algorithm>
#include <chrono>
#include <functional>
#include <memory>
#include <string>
#include <thread>
#include <utility>
#include <vector>

#include "absl/status/status.h"
#include "absl/status/statusor.h"
#include "absl/strings/str_cat.h"
#include "absl/time/clock.h"
#include "absl/time/time.h"
#include "common/base/sha256.h"
#include "common/eventlog/event_store.h"
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
using ::testing::ElementsAre;
using ::testing::HasSubstr;

constexpr char kEventType[] = "mend.test.v1.Thing";
// Deadline of one unary call, and of one Subscribe stream as a whole.
constexpr std::chrono::seconds kRpcTimeout(30);
constexpr std::chrono::seconds kStreamTimeout(120);

std::chrono::system_clock::time_point DeadlineIn(std::chrono::seconds timeout) {
  return std::chrono::system_clock::now() + timeout;
}

std::string ZeroHash() { return std::string(kSha256Size, '\0'); }

// The server under test (tests/support/log_server.h): one store, both
// services, one gRPC server on 127.0.0.1 and an ephemeral port.
using LoopbackEventLogServer = ::mend::testing::LoopbackLogServer;

v1::ExpectedVersion AnyVersion() {
  v1::ExpectedVersion e;
  e.set_any(true);
  return e;
}
v1::ExpectedVersion NoStream() {
  v1::ExpectedVersion e;
  e.set_no_stream(true);
  return e;
}
v1::ExpectedVersion ExactVersion(uint64_t version) {
  v1::ExpectedVersion e;
  e.set_exact(version);
  return e;
}

v1::NewEvent Event(const std::string& id, std::string payload = "payload") {
  v1::NewEvent e;
  e.set_event_id(id);
  e.set_event_type(kEventType);
  e.set_payload(std::move(payload));
  e.set_correlation_id(absl::StrCat("corr-", id));
  e.set_causation_id(absl::StrCat("cause-", id));
  return e;
}

v1::AppendRequest AppendRequest(const std::string& stream_id,
                                v1::ExpectedVersion expected,
                                std::vector<v1::NewEvent> events) {
  v1::AppendRequest request;
  request.set_stream_id(stream_id);
  *request.mutable_expected_version() = std::move(expected);
  for (v1::NewEvent& e : events) *request.add_events() = std::move(e);
  return request;
}

v1::StoredRecord ParseRecord(const v1::RecordedEvent& event) {
  v1::StoredRecord record;
  EXPECT_TRUE(record.ParseFromString(event.record()))
      << "record at position " << event.position() << " does not parse";
  return record;
}

// Checks that `events` continue the log right after position `after`, whose
// record hashes to `after_hash`: positions run on by one, each record parses
// and names its position, `hash` is SHA-256 of `record`, and each record's
// prev_hash is the previous record's hash.
void ExpectChainContinues(uint64_t after, const std::string& after_hash,
                          const std::vector<v1::RecordedEvent>& events) {
  uint64_t position = after;
  std::string hash = after_hash;
  for (const v1::RecordedEvent& e : events) {
    ASSERT_EQ(e.position(), position + 1)
        << "gap or duplicate after position " << position;
    const v1::StoredRecord record = ParseRecord(e);
    ASSERT_EQ(record.envelope().position(), e.position());
    ASSERT_EQ(e.hash(), Sha256Bytes(e.record())) << "at position " << e.position();
    ASSERT_EQ(record.prev_hash(), hash) << "chain broken at position " << e.position();
    position = e.position();
    hash = e.hash();
  }
}

std::vector<uint64_t> Positions(const std::vector<v1::RecordedEvent>& events) {
  std::vector<uint64_t> out;
  for (const v1::RecordedEvent& e : events) out.push_back(e.position());
  return out;
}

// One client Subscribe call, made with bearer `token`. Collects every event
// received, in order.
class Subscriber {
 public:
  Subscriber(v1::EventLog::Stub* stub, const std::string& token, int64_t after_position,
             int32_t max_batch) {
    context_.set_deadline(DeadlineIn(kStreamTimeout));
    AttachBearerToken(&context_, token);
    v1::SubscribeRequest request;
    request.set_after_position(after_position);
    request.set_max_batch(max_batch);
    reader_ = stub->Subscribe(&context_, request);
  }

  ~Subscriber() {
    if (!finished_) {
      context_.TryCancel();
      Finish();
    }
  }

  Subscriber(const Subscriber&) = delete;
  Subscriber& operator=(const Subscriber&) = delete;

  // Reads messages until an event at `position` or later has arrived. Returns
  // false if the stream ended first (an error, or the deadline).
  bool ReadThrough(uint64_t position) {
    v1::SubscribeResponse message;
    while (last_position() < position) {
      if (!reader_->Read(&message)) return false;
      ++messages_;
      max_message_events_ = std::max(max_message_events_, message.events_size());
      if (message.events_size() == 0) ++empty_messages_;
      for (v1::RecordedEvent& e : *message.mutable_events()) {
        events_.push_back(std::move(e));
      }
      if (message.events_size() > 0 && message.head_position() < last_position()) {
        ++heads_behind_events_;
      }
    }
    return true;
  }

  // Reads one more message; false if the stream ended.
  bool ReadOne(v1::SubscribeResponse* message) { return reader_->Read(message); }

  void Cancel() { context_.TryCancel(); }

  grpc::Status Finish() {
    finished_ = true;
    return reader_->Finish();
  }

  const std::vector<v1::RecordedEvent>& events() const { return events_; }
  uint64_t last_position() const {
    return events_.empty() ? 0 : events_.back().position();
  }
  int messages() const { return messages_; }
  int max_message_events() const { return max_message_events_; }
  int empty_messages() const { return empty_messages_; }
  // Messages whose head_position was below their own last event.
  int heads_behind_events() const { return heads_behind_events_; }

 private:
  grpc::ClientContext context_;
  std::unique_ptr<grpc::ClientReader<v1::SubscribeResponse>> reader_;
  bool finished_ = false;
  std::vector<v1::RecordedEvent> events_;
  int messages_ = 0;
  int max_message_events_ = 0;
  int empty_messages_ = 0;
  int heads_behind_events_ = 0;
};

class EventLogServiceTest : public ::testing::Test {
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
    // Valid for longer than any test runs.
    absl::StatusOr<std::string> token = MintToken(
        keys_->private_pem, "eventlog-test", Role::kService, absl::Hours(2), absl::Now());
    ASSERT_THAT(token, IsOk());
    token_ = *std::move(token);
    auto server = LoopbackEventLogServer::Start(
        {.path = dir_.Sub("log"), .token_public_key_pem = keys_->public_pem});
    ASSERT_THAT(server, IsOk());
    server_ = *std::move(server);
    channel_ =
        grpc::CreateChannel(server_->address(), grpc::InsecureChannelCredentials());
    ASSERT_TRUE(channel_->WaitForConnected(DeadlineIn(kRpcTimeout)))
        << "no connection to " << server_->address();
    log_ = v1::EventLog::NewStub(channel_);
    writer_ = v1::EventLogWriter::NewStub(channel_);
  }

  absl::StatusOr<v1::AppendResponse> Append(const v1::AppendRequest& request) {
    grpc::ClientContext context;
    context.set_deadline(DeadlineIn(kRpcTimeout));
    AttachBearerToken(&context, token_);
    v1::AppendResponse response;
    grpc::Status status = writer_->Append(&context, request, &response);
    if (!status.ok()) return FromGrpc(status);
    return response;
  }

  absl::StatusOr<v1::ReadResponse> Read(int64_t from_position, int32_t max_count) {
    v1::ReadRequest request;
    request.set_from_position(from_position);
    request.set_max_count(max_count);
    grpc::ClientContext context;
    context.set_deadline(DeadlineIn(kRpcTimeout));
    AttachBearerToken(&context, token_);
    v1::ReadResponse response;
    grpc::Status status = log_->Read(&context, request, &response);
    if (!status.ok()) return FromGrpc(status);
    return response;
  }

  absl::StatusOr<v1::ReadResponse> ReadStream(const std::string& stream_id,
                                              int64_t from_version, int32_t max_count) {
    v1::ReadStreamRequest request;
    request.set_stream_id(stream_id);
    request.set_from_version(from_version);
    request.set_max_count(max_count);
    grpc::ClientContext context;
    context.set_deadline(DeadlineIn(kRpcTimeout));
    AttachBearerToken(&context, token_);
    v1::ReadResponse response;
    grpc::Status status = log_->ReadStream(&context, request, &response);
    if (!status.ok()) return FromGrpc(status);
    return response;
  }

  absl::StatusOr<v1::GetHeadResponse> GetHead() {
    grpc::ClientContext context;
    context.set_deadline(DeadlineIn(kRpcTimeout));
    AttachBearerToken(&context, token_);
    v1::GetHeadResponse response;
    grpc::Status status = log_->GetHead(&context, v1::GetHeadRequest(), &response);
    if (!status.ok()) return FromGrpc(status);
    return response;
  }

  // The head position as served over gRPC.
  uint64_t HeadPosition() {
    absl::StatusOr<v1::GetHeadResponse> head = GetHead();
    EXPECT_THAT(head, IsOk());
    return head.ok() ? head->position() : 0;
  }

  // Appends `count` events to `stream_id` (ids "<stream_id>-<n>"), up to
  // `per_request` in one Append.
  void AppendMany(const std::string& stream_id, int count, int per_request = 100) {
    for (int n = 0; n < count;) {
      std::vector<v1::NewEvent> events;
      for (; n < count && static_cast<int>(events.size()) < per_request; ++n) {
        events.push_back(
            Event(absl::StrCat(stream_id, "-", n), absl::StrCat("payload ", n)));
      }
      ASSERT_THAT(Append(AppendRequest(stream_id, AnyVersion(), std::move(events))),
                  IsOk());
    }
  }

  // Appends `count` events to `stream_id` one per Append, each expecting the
  // version the previous one made. Returns the positions assigned. Safe to
  // call from several threads for different streams.
  std::vector<uint64_t> AppendOneByOne(const std::string& stream_id, int count) {
    std::vector<uint64_t> positions;
    for (int n = 0; n < count; ++n) {
      auto r = Append(AppendRequest(stream_id, ExactVersion(static_cast<uint64_t>(n)),
                                    {Event(absl::StrCat(stream_id, "-", n))}));
      EXPECT_THAT(r, IsOk()) << stream_id << " event " << n;
      if (!r.ok()) break;
      EXPECT_EQ(r->stream_version(), static_cast<uint64_t>(n + 1));
      positions.push_back(r->first_position());
    }
    return positions;
  }

  // Whole log as served by Read, from position 1.
  std::vector<v1::RecordedEvent> ReadAll() {
    std::vector<v1::RecordedEvent> out;
    for (;;) {
      absl::StatusOr<v1::ReadResponse> page =
          Read(static_cast<int64_t>(out.size()) + 1, EventLogService::kMaxCount);
      EXPECT_THAT(page, IsOk());
      if (!page.ok() || page->events().empty()) return out;
      for (const v1::RecordedEvent& e : page->events()) out.push_back(e);
    }
  }

  bool WaitForSubscribers(size_t count) {
    return WaitFor([&] { return server_->log_service()->subscriber_count() == count; });
  }

  static ::mend::testing::KeyPair* keys_;
  std::string token_;  // a service token for every call
  TempDir dir_;
  std::unique_ptr<LoopbackEventLogServer> server_;
  std::shared_ptr<grpc::Channel> channel_;
  std::unique_ptr<v1::EventLog::Stub> log_;
  std::unique_ptr<v1::EventLogWriter::Stub> writer_;
};

::mend::testing::KeyPair* EventLogServiceTest::keys_ = nullptr;

// 1. -------------------------------------------------------------------------

TEST_F(EventLogServiceTest, AppendThenReadReadStreamAndGetHeadOverGrpc) {
  auto first =
      Append(AppendRequest("case-a", NoStream(), {Event("e1", "p1"), Event("e2", "p2")}));
  ASSERT_THAT(first, IsOk());
  EXPECT_EQ(first->first_position(), 1u);
  EXPECT_EQ(first->stream_version(), 2u);
  EXPECT_FALSE(first->deduplicated());
  auto second = Append(AppendRequest("case-b", AnyVersion(), {Event("e3", "p3")}));
  ASSERT_THAT(second, IsOk());
  EXPECT_EQ(second->first_position(), 3u);
  EXPECT_EQ(second->stream_version(), 1u);
  auto third = Append(AppendRequest("case-a", ExactVersion(2), {Event("e4", "p4")}));
  ASSERT_THAT(third, IsOk());
  EXPECT_EQ(third->first_position(), 4u);
  EXPECT_EQ(third->stream_version(), 3u);

  // Read from 0 (read as 1) with the default count.
  auto all = Read(0, 0);
  ASSERT_THAT(all, IsOk());
  EXPECT_EQ(all->head_position(), 4u);
  std::vector<v1::RecordedEvent> events(all->events().begin(), all->events().end());
  ASSERT_THAT(Positions(events), ElementsAre(1u, 2u, 3u, 4u));
  ExpectChainContinues(0, ZeroHash(), events);

  struct Expected {
    std::string stream_id;
    uint64_t stream_version;
    std::string event_id;
    std::string payload;
  };
  const std::vector<Expected> expected = {{"case-a", 1, "e1", "p1"},
                                          {"case-a", 2, "e2", "p2"},
                                          {"case-b", 1, "e3", "p3"},
                                          {"case-a", 3, "e4", "p4"}};
  for (size_t i = 0; i < events.size(); ++i) {
    SCOPED_TRACE(absl::StrCat("position ", i + 1));
    const v1::StoredRecord record = ParseRecord(events[i]);
    const v1::Envelope& env = record.envelope();
    EXPECT_EQ(env.position(), i + 1);
    EXPECT_EQ(env.stream_id(), expected[i].stream_id);
    EXPECT_EQ(env.stream_version(), expected[i].stream_version);
    EXPECT_EQ(env.event_type(), kEventType);
    EXPECT_EQ(env.event_id(), expected[i].event_id);
    EXPECT_EQ(env.correlation_id(), "corr-" + expected[i].event_id);
    EXPECT_EQ(env.causation_id(), "cause-" + expected[i].event_id);
    EXPECT_EQ(env.schema_version(), 1u);
    EXPECT_GT(env.recorded_unix_micros(), 0);
    EXPECT_EQ(record.payload(), expected[i].payload);
    EXPECT_EQ(events[i].hash(), Sha256Bytes(events[i].record()));
    EXPECT_EQ(record.prev_hash(), i == 0 ? ZeroHash() : events[i - 1].hash());
  }

  // A page from the middle carries the same bytes.
  auto page = Read(2, 2);
  ASSERT_THAT(page, IsOk());
  ASSERT_EQ(page->events_size(), 2);
  EXPECT_EQ(page->events(0).position(), 2u);
  EXPECT_EQ(page->events(0).record(), events[1].record());
  EXPECT_EQ(page->events(1).position(), 3u);
  EXPECT_EQ(page->events(1).hash(), events[2].hash());
  EXPECT_EQ(page->head_position(), 4u);
  auto past_head = Read(5, 10);
  ASSERT_THAT(past_head, IsOk());
  EXPECT_EQ(past_head->events_size(), 0);
  EXPECT_EQ(past_head->head_position(), 4u);

  // ReadStream: the stream's events, the same stored bytes as Read.
  auto stream_a = ReadStream("case-a", 0, 0);
  ASSERT_THAT(stream_a, IsOk());
  ASSERT_EQ(stream_a->events_size(), 3);
  EXPECT_EQ(stream_a->head_position(), 4u);
  const uint64_t stream_a_positions[] = {1, 2, 4};
  for (int i = 0; i < 3; ++i) {
    const v1::RecordedEvent& e = stream_a->events(i);
    EXPECT_EQ(e.position(), stream_a_positions[i]);
    EXPECT_EQ(e.record(), events[e.position() - 1].record());
    EXPECT_EQ(e.hash(), Sha256Bytes(e.record()));
    EXPECT_EQ(ParseRecord(e).envelope().stream_version(), static_cast<uint64_t>(i + 1));
  }
  auto stream_a_tail = ReadStream("case-a", 3, 10);
  ASSERT_THAT(stream_a_tail, IsOk());
  ASSERT_EQ(stream_a_tail->events_size(), 1);
  EXPECT_EQ(stream_a_tail->events(0).position(), 4u);
  auto unknown = ReadStream("case-none", 0, 0);
  ASSERT_THAT(unknown, IsOk());
  EXPECT_EQ(unknown->events_size(), 0);

  // GetHead names the last record, as the store does.
  auto head = GetHead();
  ASSERT_THAT(head, IsOk());
  EXPECT_EQ(head->position(), 4u);
  EXPECT_EQ(head->hash(), events[3].hash());
  const Head store_head = server_->store()->GetHead();
  EXPECT_EQ(head->position(), store_head.position);
  EXPECT_EQ(head->hash(), store_head.hash);
}

TEST_F(EventLogServiceTest, GetHeadOfEmptyLogIsZero) {
  auto head = GetHead();
  ASSERT_THAT(head, IsOk());
  EXPECT_EQ(head->position(), 0u);
  EXPECT_EQ(head->hash(), ZeroHash());
  auto read = Read(0, 0);
  ASSERT_THAT(read, IsOk());
  EXPECT_EQ(read->events_size(), 0);
  EXPECT_EQ(read->head_position(), 0u);
}

// 2. -------------------------------------------------------------------------

TEST_F(EventLogServiceTest, AppendRejectsBadInputAndAppendsNothing) {
  ASSERT_THAT(Append(AppendRequest("case-1", NoStream(), {Event("seed")})), IsOk());
  auto before = GetHead();
  ASSERT_THAT(before, IsOk());
  ASSERT_EQ(before->position(), 1u);

  v1::AppendRequest no_expected_version =
      AppendRequest("case-1", AnyVersion(), {Event("x1")});
  no_expected_version.clear_expected_version();
  v1::NewEvent no_id = Event("x");
  no_id.clear_event_id();
  v1::NewEvent no_type = Event("x2");
  no_type.clear_event_type();
  const struct {
    std::string name;
    v1::AppendRequest request;
  } cases[] = {
      {"empty stream id", AppendRequest("", AnyVersion(), {Event("x3")})},
      {"payload of 1 MiB + 1 bytes",
       AppendRequest("case-1", AnyVersion(),
                     {Event("x4", std::string((1 << 20) + 1, 'z'))})},
      {"expected_version not set", no_expected_version},
      {"no events", AppendRequest("case-1", AnyVersion(), {})},
      {"missing event id", AppendRequest("case-1", AnyVersion(), {Event("x5"), no_id})},
      {"missing event type", AppendRequest("case-1", AnyVersion(), {no_type})},
      {"event id repeated in one append",
       AppendRequest("case-1", AnyVersion(), {Event("x6"), Event("x6")})},
  };
  for (const auto& c : cases) {
    EXPECT_THAT(Append(c.request), StatusIs(absl::StatusCode::kInvalidArgument))
        << c.name;
    auto head = GetHead();
    ASSERT_THAT(head, IsOk());
    EXPECT_EQ(head->position(), 1u) << c.name;
    EXPECT_EQ(head->hash(), before->hash()) << c.name;
  }
  EXPECT_EQ(server_->store()->GetHead().position, 1u);

  // The payload limit itself is allowed.
  auto at_limit = Append(
      AppendRequest("case-1", AnyVersion(), {Event("x7", std::string(1 << 20, 'z'))}));
  ASSERT_THAT(at_limit, IsOk());
  EXPECT_EQ(at_limit->first_position(), 2u);
}

TEST_F(EventLogServiceTest, ReadAndReadStreamRejectBadArguments) {
  AppendMany("case-1", 3);
  EXPECT_THAT(Read(-1, 10), StatusIs(absl::StatusCode::kInvalidArgument));
  EXPECT_THAT(Read(1, -1), StatusIs(absl::StatusCode::kInvalidArgument));
  EXPECT_THAT(Read(1, EventLogService::kMaxCount + 1),
              StatusIs(absl::StatusCode::kInvalidArgument));
  auto at_limit = Read(1, EventLogService::kMaxCount);
  ASSERT_THAT(at_limit, IsOk());
  EXPECT_EQ(at_limit->events_size(), 3);

  EXPECT_THAT(ReadStream("", 0, 10), StatusIs(absl::StatusCode::kInvalidArgument));
  EXPECT_THAT(ReadStream("case-1", -1, 10), StatusIs(absl::StatusCode::kInvalidArgument));
  EXPECT_THAT(ReadStream("case-1", 0, -1), StatusIs(absl::StatusCode::kInvalidArgument));
  EXPECT_THAT(ReadStream("case-1", 0, EventLogService::kMaxCount + 1),
              StatusIs(absl::StatusCode::kInvalidArgument));
  EXPECT_EQ(HeadPosition(), 3u);
}

TEST_F(EventLogServiceTest, SubscribeRejectsBadArgumentsByEndingTheStream) {
  AppendMany("case-1", 3);
  const struct {
    std::string name;
    int64_t after_position;
    int32_t max_batch;
  } cases[] = {
      {"negative after_position", -1, 10},
      {"negative max_batch", 0, -1},
      {"max_batch above the limit", 0, EventLogService::kMaxCount + 1},
  };
  for (const auto& c : cases) {
    Subscriber subscriber(log_.get(), token_, c.after_position, c.max_batch);
    v1::SubscribeResponse message;
    EXPECT_FALSE(subscriber.ReadOne(&message)) << c.name << ": a message was sent";
    grpc::Status status = subscriber.Finish();
    EXPECT_THAT(FromGrpc(status), StatusIs(absl::StatusCode::kInvalidArgument)) << c.name;
  }
  EXPECT_TRUE(WaitForSubscribers(0));
  EXPECT_EQ(HeadPosition(), 3u);
}

TEST_F(EventLogServiceTest, VersionConflictIsAbortedAndNamesCurrentVersion) {
  ASSERT_THAT(Append(AppendRequest("case-1", NoStream(), {Event("a"), Event("b")})),
              IsOk());
  auto stale = Append(AppendRequest("case-1", ExactVersion(1), {Event("c")}));
  EXPECT_THAT(stale, StatusIs(absl::StatusCode::kAborted));
  EXPECT_THAT(stale.status().message(), HasSubstr("current version is 2"));
  auto exists = Append(AppendRequest("case-1", NoStream(), {Event("d")}));
  EXPECT_THAT(exists, StatusIs(absl::StatusCode::kAborted));
  EXPECT_THAT(exists.status().message(), HasSubstr("current version is 2"));
  v1::ExpectedVersion must_exist;
  must_exist.set_exists(true);
  EXPECT_THAT(Append(AppendRequest("case-new", must_exist, {Event("e")})),
              StatusIs(absl::StatusCode::kAborted));
  EXPECT_EQ(HeadPosition(), 2u);
  // The conflicting event ids stay free.
  auto retry = Append(AppendRequest("case-1", ExactVersion(2), {Event("c")}));
  ASSERT_THAT(retry, IsOk());
  EXPECT_EQ(retry->first_position(), 3u);
  EXPECT_EQ(retry->stream_version(), 3u);
}

TEST_F(EventLogServiceTest, ReusedEventIdWithOtherContentIsAlreadyExists) {
  ASSERT_THAT(Append(AppendRequest("case-1", NoStream(), {Event("id-1", "original")})),
              IsOk());
  EXPECT_THAT(Append(AppendRequest("case-1", AnyVersion(), {Event("id-1", "changed")})),
              StatusIs(absl::StatusCode::kAlreadyExists));
  EXPECT_THAT(Append(AppendRequest("case-2", AnyVersion(), {Event("id-1", "original")})),
              StatusIs(absl::StatusCode::kAlreadyExists));
  // Only some of the ids seen before: not a retry either.
  EXPECT_THAT(Append(AppendRequest("case-1", AnyVersion(),
                                   {Event("id-1", "original"), Event("id-2")})),
              StatusIs(absl::StatusCode::kAlreadyExists));
  EXPECT_EQ(HeadPosition(), 1u);
}

TEST_F(EventLogServiceTest, IdempotentRetryReturnsOriginalResult) {
  const v1::AppendRequest request =
      AppendRequest("case-1", NoStream(), {Event("r1", "one"), Event("r2", "two")});
  ASSERT_THAT(Append(AppendRequest("case-0", NoStream(), {Event("first")})), IsOk());
  auto original = Append(request);
  ASSERT_THAT(original, IsOk());
  EXPECT_EQ(original->first_position(), 2u);
  EXPECT_FALSE(original->deduplicated());
  ASSERT_THAT(Append(AppendRequest("case-0", AnyVersion(), {Event("later")})), IsOk());
  auto head = GetHead();
  ASSERT_THAT(head, IsOk());

  // The retry's expected version (no stream) no longer holds; it still
  // succeeds, because every id was appended with the same content.
  auto retry = Append(request);
  ASSERT_THAT(retry, IsOk());
  EXPECT_TRUE(retry->deduplicated());
  EXPECT_EQ(retry->first_position(), 2u);
  EXPECT_EQ(retry->stream_version(), 2u);
  auto after = GetHead();
  ASSERT_THAT(after, IsOk());
  EXPECT_EQ(after->position(), head->position());
  EXPECT_EQ(after->hash(), head->hash());
}

// 3. -------------------------------------------------------------------------

TEST_F(EventLogServiceTest, SubscribeCatchesUpThenFollowsConcurrentWriters) {
  AppendMany("catchup", 250, 60);
  ASSERT_EQ(HeadPosition(), 250u);

  Subscriber subscriber(log_.get(), token_, 0, 100);
  ASSERT_TRUE(subscriber.ReadThrough(250));
  EXPECT_EQ(subscriber.last_position(), 250u);
  EXPECT_LE(subscriber.max_message_events(), 100);
  EXPECT_GE(subscriber.messages(), 3);
  EXPECT_EQ(subscriber.empty_messages(), 0);
  ExpectChainContinues(0, ZeroHash(), subscriber.events());

  constexpr int kWriters = 4;
  constexpr int kPerWriter = 50;
  std::vector<std::vector<uint64_t>> assigned(kWriters);
  std::vector<std::thread> writers;
  for (int t = 0; t < kWriters; ++t) {
    writers.emplace_back(
        [&, t] { assigned[t] = AppendOneByOne(absl::StrCat("live-", t), kPerWriter); });
  }
  constexpr uint64_t kLast = 250 + kWriters * kPerWriter;
  const bool read_all = subscriber.ReadThrough(kLast);
  for (std::thread& w : writers) w.join();
  ASSERT_TRUE(read_all) << "subscriber stopped at " << subscriber.last_position();

  EXPECT_EQ(subscriber.last_position(), kLast);
  EXPECT_EQ(subscriber.empty_messages(), 0);
  EXPECT_EQ(subscriber.heads_behind_events(), 0);
  ExpectChainContinues(0, ZeroHash(), subscriber.events());
  // Every position an Append returned arrived, exactly once.
  std::vector<uint64_t> appended;
  for (const auto& positions : assigned) {
    EXPECT_EQ(positions.size(), static_cast<size_t>(kPerWriter));
    EXPECT_TRUE(std::is_sorted(positions.begin(), positions.end()));
    appended.insert(appended.end(), positions.begin(), positions.end());
  }
  std::sort(appended.begin(), appended.end());
  std::vector<uint64_t> received = Positions(subscriber.events());
  ASSERT_EQ(received.size(), kLast);
  EXPECT_EQ(std::vector<uint64_t>(received.begin() + 250, received.end()), appended);
  // What the subscriber saw is the log.
  std::vector<v1::RecordedEvent> log = ReadAll();
  ASSERT_EQ(log.size(), kLast);
  for (size_t i = 0; i < log.size(); ++i) {
    ASSERT_EQ(subscriber.events()[i].hash(), log[i].hash()) << "position " << i + 1;
  }
  EXPECT_EQ(server_->log_service()->subscriber_count(), 1u);
}

// 4. -------------------------------------------------------------------------

TEST_F(EventLogServiceTest, ResumeFromCheckpointAfterCancel) {
  AppendMany("case-1", 100);
  uint64_t checkpoint = 0;
  std::string checkpoint_hash;
  {
    Subscriber first(log_.get(), token_, 0, 7);
    ASSERT_TRUE(first.ReadThrough(40));
    checkpoint = first.last_position();
    checkpoint_hash = first.events().back().hash();
    ExpectChainContinues(0, ZeroHash(), first.events());
    first.Cancel();
    EXPECT_THAT(FromGrpc(first.Finish()), StatusIs(absl::StatusCode::kCancelled));
  }
  ASSERT_GE(checkpoint, 40u);
  ASSERT_LT(checkpoint, 100u);
  ASSERT_TRUE(WaitForSubscribers(0));

  // Appended while nobody is subscribed.
  AppendMany("case-2", 60, 25);
  ASSERT_EQ(HeadPosition(), 160u);

  Subscriber second(log_.get(), token_, static_cast<int64_t>(checkpoint), 7);
  ASSERT_TRUE(second.ReadThrough(160));
  ASSERT_FALSE(second.events().empty());
  EXPECT_EQ(second.events().front().position(), checkpoint + 1);
  EXPECT_EQ(second.last_position(), 160u);
  ExpectChainContinues(checkpoint, checkpoint_hash, second.events());

  // And it keeps following the log live.
  AppendMany("case-3", 10);
  ASSERT_TRUE(second.ReadThrough(170));
  EXPECT_EQ(second.last_position(), 170u);
  ExpectChainContinues(checkpoint, checkpoint_hash, second.events());
  EXPECT_LE(second.max_message_events(), 7);
}

// 5. -------------------------------------------------------------------------

TEST_F(EventLogServiceTest, SlowConsumerIsBoundedAndCleanedUpOnCancel) {
  constexpr uint64_t kEvents = 5000;
  Subscriber subscriber(log_.get(), token_, 0, 10);
  ASSERT_TRUE(WaitForSubscribers(1));
  // The subscriber reads nothing while the whole log is written.
  AppendMany("bulk", static_cast<int>(kEvents), 250);
  ASSERT_EQ(HeadPosition(), kEvents);
  EXPECT_EQ(server_->log_service()->subscriber_count(), 1u);

  ASSERT_TRUE(subscriber.ReadThrough(kEvents));
  EXPECT_EQ(subscriber.last_position(), kEvents);
  EXPECT_LE(subscriber.max_message_events(), 10);
  EXPECT_GE(subscriber.messages(), static_cast<int>(kEvents / 10));
  EXPECT_EQ(subscriber.empty_messages(), 0);
  EXPECT_EQ(subscriber.heads_behind_events(), 0);
  ExpectChainContinues(0, ZeroHash(), subscriber.events());

  subscriber.Cancel();
  EXPECT_THAT(FromGrpc(subscriber.Finish()), StatusIs(absl::StatusCode::kCancelled));
  EXPECT_TRUE(WaitForSubscribers(0))
      << "server still counts " << server_->log_service()->subscriber_count();
}

TEST_F(EventLogServiceTest, SubscriberCountFallsToZeroWhenClientCancelsMidStream) {
  AppendMany("bulk", 2000, 500);
  {
    Subscriber subscriber(log_.get(), token_, 0, 1);
    ASSERT_TRUE(subscriber.ReadThrough(5));
    EXPECT_EQ(server_->log_service()->subscriber_count(), 1u);
    // Cancel with most of the log unread and a write probably in flight.
    subscriber.Cancel();
    EXPECT_THAT(FromGrpc(subscriber.Finish()), StatusIs(absl::StatusCode::kCancelled));
  }
  EXPECT_TRUE(WaitForSubscribers(0))
      << "server still counts " << server_->log_service()->subscriber_count();
}

// 6. -------------------------------------------------------------------------

TEST_F(EventLogServiceTest, ShutdownEndsLiveSubscriptionsWithUnavailable) {
  AppendMany("case-1", 5);
  Subscriber subscriber(log_.get(), token_, 0, 100);
  ASSERT_TRUE(subscriber.ReadThrough(5));
  ASSERT_TRUE(WaitForSubscribers(1));

  const absl::Time start = absl::Now();
  server_->Stop(absl::Seconds(20));
  // Had the subscription not ended, Stop would have waited out its grace.
  EXPECT_LT(absl::Now() - start, absl::Seconds(10));
  EXPECT_TRUE(WaitForSubscribers(0));

  // Nothing more arrives; the stream ends with the service's own status.
  v1::SubscribeResponse message;
  EXPECT_FALSE(subscriber.ReadOne(&message));
  grpc::Status status = subscriber.Finish();
  EXPECT_THAT(FromGrpc(status), StatusIs(absl::StatusCode::kUnavailable));
  EXPECT_THAT(status.error_message(), HasSubstr("shutting down"));
}

// 7. -------------------------------------------------------------------------

TEST_F(EventLogServiceTest, ManySubscribersSeeTheSameSequenceWhileWritersAppend) {
  constexpr int kSubscribers = 8;
  constexpr int kWriters = 4;
  constexpr int kPerWriter = 100;
  constexpr uint64_t kLast = kWriters * kPerWriter;
  const int32_t batches[kSubscribers] = {1,  3,   7, 10,
                                         50, 100, 0, EventLogService::kMaxCount};

  std::vector<std::unique_ptr<Subscriber>> subscribers;
  for (int s = 0; s < kSubscribers; ++s) {
    subscribers.push_back(
        std::make_unique<Subscriber>(log_.get(), token_, 0, batches[s]));
  }
  ASSERT_TRUE(WaitForSubscribers(kSubscribers));

  std::vector<bool> read_all(kSubscribers, false);
  std::vector<std::thread> readers;
  for (int s = 0; s < kSubscribers; ++s) {
    readers.emplace_back([&, s] { read_all[s] = subscribers[s]->ReadThrough(kLast); });
  }
  std::vector<std::thread> writers;
  for (int t = 0; t < kWriters; ++t) {
    writers.emplace_back(
        [&, t] { AppendOneByOne(absl::StrCat("writer-", t), kPerWriter); });
  }
  for (std::thread& w : writers) w.join();
  for (std::thread& r : readers) r.join();
  ASSERT_EQ(HeadPosition(), kLast);

  const std::vector<v1::RecordedEvent> log = ReadAll();
  ASSERT_EQ(log.size(), kLast);
  ExpectChainContinues(0, ZeroHash(), log);
  for (int s = 0; s < kSubscribers; ++s) {
    SCOPED_TRACE(absl::StrCat("subscriber ", s, " (max_batch ", batches[s], ")"));
    ASSERT_TRUE(read_all[s]) << "stopped at " << subscribers[s]->last_position();
    const std::vector<v1::RecordedEvent>& events = subscribers[s]->events();
    ASSERT_EQ(events.size(), kLast);
    ExpectChainContinues(0, ZeroHash(), events);
    for (size_t i = 0; i < events.size(); ++i) {
      ASSERT_EQ(events[i].record(), log[i].record()) << "position " << i + 1;
    }
    EXPECT_LE(subscribers[s]->max_message_events(),
              batches[s] == 0 ? EventLogService::kDefaultMaxCount : batches[s]);
    EXPECT_EQ(subscribers[s]->empty_messages(), 0);
    EXPECT_EQ(subscribers[s]->heads_behind_events(), 0);
  }
  EXPECT_EQ(server_->log_service()->subscriber_count(),
            static_cast<size_t>(kSubscribers));
  subscribers.clear();  // cancels each stream
  EXPECT_TRUE(WaitForSubscribers(0));
}

}  // namespace
}  // namespace mend::eventlog
