// The service runtime as operators run it: real processes of the example
// service, real sockets, real signals.
#include <grpcpp/grpcpp.h>
#include <signal.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#include <atomic>
#include <filesystem>
#include <fstream>
#include <map>
#include <memory>
#include <string>
#include <thread>
#include <vector>

#include "absl/strings/str_cat.h"
#include "absl/synchronization/mutex.h"
#include "common/eventlog/event_store.h"
#include "common/eventlog/record_codec.h"
#include "common/security/auth.h"
#include "gmock/gmock.h"
#include "grpc/health/v1/health.grpc.pb.h"
#include "gtest/gtest.h"
#include "httplib.h"
#include "mend/eventlog/v1/eventlog_service.grpc.pb.h"
#include "tests/support/grpc_client.h"
#include "tests/support/process.h"
#include "tests/support/test_util.h"
#include "tests/support/tokens.h"

namespace mend {
namespace {

using ::grpc::health::v1::HealthCheckRequest;
using ::grpc::health::v1::HealthCheckResponse;
using ::mend::testing::ChildProcess;
using ::mend::testing::Connect;
using ::mend::testing::IsOk;
using ::mend::testing::TempDir;
using ::mend::testing::TokenFor;

constexpr char kBinary[] = MEND_EXAMPLE_SERVICE;

// Opens a health Watch stream (waiting for the server to come up) and
// returns statuses as they arrive.
class HealthWatch {
 public:
  HealthWatch(std::shared_ptr<grpc::Channel> channel, absl::Duration timeout)
      : stub_(grpc::health::v1::Health::NewStub(channel)) {
    context_.set_wait_for_ready(true);
    context_.set_deadline(absl::ToChronoTime(absl::Now() + timeout));
    reader_ = stub_->Watch(&context_, HealthCheckRequest());
  }
  ~HealthWatch() { Cancel(); }
  void Cancel() { context_.TryCancel(); }

  // The next status, or nullopt if the stream ended.
  std::optional<HealthCheckResponse::ServingStatus> Next() {
    HealthCheckResponse response;
    if (!reader_->Read(&response)) return std::nullopt;
    return response.status();
  }

  // Reads until `wanted` arrives; false if the stream ends first.
  bool WaitFor(HealthCheckResponse::ServingStatus wanted) {
    for (;;) {
      auto status = Next();
      if (!status.has_value()) return false;
      if (*status == wanted) return true;
    }
  }

 private:
  std::unique_ptr<grpc::health::v1::Health::Stub> stub_;
  grpc::ClientContext context_;
  std::unique_ptr<grpc::ClientReader<HealthCheckResponse>> reader_;
};

absl::StatusOr<eventlog::v1::AppendResponse> Append(
    eventlog::v1::EventLogWriter::Stub& stub, const std::string& token,
    const std::string& stream, const std::string& id) {
  grpc::ClientContext context;
  AttachBearerToken(&context, token);
  context.set_deadline(absl::ToChronoTime(absl::Now() + absl::Seconds(10)));
  eventlog::v1::AppendRequest request;
  request.set_stream_id(stream);
  request.mutable_expected_version()->set_any(true);
  auto* e = request.add_events();
  e->set_event_id(id);
  e->set_event_type("mend.example.v1.Appended");
  e->set_payload(std::string(100, 'x'));
  eventlog::v1::AppendResponse response;
  grpc::Status s = stub.Append(&context, request, &response);
  if (!s.ok()) {
    return absl::Status(static_cast<absl::StatusCode>(s.error_code()), s.error_message());
  }
  return response;
}

class RuntimeProcessTest : public ::testing::Test {
 protected:
  // A log to replay in the service's directory, written before it starts.
  void WriteOneEventToReplay() {
    std::filesystem::create_directories(dir_.Sub("svc"));
    auto store = eventlog::EventStore::Open({.path = dir_.Sub("svc") + "/eventlog"});
    ASSERT_THAT(store, IsOk());
    ASSERT_THAT((*store)->Append("s", eventlog::ExpectedVersion::Any(),
                                 {eventlog::NewEvent{.event_id = "e1",
                                                     .event_type = "mend.example.v1.E",
                                                     .payload = "",
                                                     .actor_id = "",
                                                     .actor_role = "",
                                                     .correlation_id = "",
                                                     .causation_id = ""}}),
                IsOk());
  }

  ChildProcess StartService(const std::string& name, int port,
                            std::vector<std::string> extra = {}) {
    std::vector<std::string> args = {absl::StrCat("--listen=127.0.0.1:", port),
                                     "--data_dir=" + dir_.Sub(name),
                                     "--shutdown_grace=5s"};
    args.insert(args.end(), extra.begin(), extra.end());
    auto child = ChildProcess::Start(kBinary, args, dir_.Sub(name + "-log"));
    EXPECT_THAT(child, IsOk());
    return *std::move(child);
  }

  // Waits until the service on `port` reports SERVING.
  void WaitServing(int port, const ChildProcess& child) {
    HealthWatch watch(Connect(port), absl::Seconds(30));
    ASSERT_TRUE(watch.WaitFor(HealthCheckResponse::SERVING)) << child.Output();
  }

  TempDir dir_;
  const std::string service_token_ = TokenFor(Role::kService, "example-client");
};

TEST_F(RuntimeProcessTest,
       HealthIsNotServingDuringReplayServingAfterAndNotServingOnDrain) {
  WriteOneEventToReplay();
  const std::string gate = dir_.Sub("gate");
  ASSERT_EQ(mkfifo(gate.c_str(), 0600), 0);
  const int port = testing::PickFreePort();
  ChildProcess child =
      StartService("svc", port, {"--replay_gate=" + gate, "--shutdown_grace=60s"});

  HealthWatch watch(Connect(port), absl::Seconds(30));
  // Replay is held at its first event: the server answers, NOT_SERVING.
  auto first = watch.Next();
  ASSERT_TRUE(first.has_value()) << child.Output();
  EXPECT_EQ(*first, HealthCheckResponse::NOT_SERVING);

  // Commands are refused meanwhile; reads of the log are not.
  auto writer = eventlog::v1::EventLogWriter::NewStub(Connect(port));
  EXPECT_EQ(Append(*writer, service_token_, "s", "during-replay").status().code(),
            absl::StatusCode::kUnavailable);

  {
    std::ofstream open_gate(gate);  // lets replay read its byte
    open_gate << 'g';
  }
  ASSERT_TRUE(watch.WaitFor(HealthCheckResponse::SERVING)) << child.Output();
  ASSERT_THAT(Append(*writer, service_token_, "s", "after-replay"), IsOk());

  child.Signal(SIGTERM);
  EXPECT_TRUE(watch.WaitFor(HealthCheckResponse::NOT_SERVING)) << child.Output();
  // The drain ends when the calls in flight are done, not when the (here
  // 60 s) grace period ends, even with this client still connected.
  watch.Cancel();
  auto status = child.Wait(absl::Seconds(30));
  ASSERT_TRUE(status.has_value()) << child.Output();
  EXPECT_TRUE(WIFEXITED(*status)) << child.Output();
  EXPECT_EQ(WEXITSTATUS(*status), 0) << child.Output();
}

// --health_listen: the plaintext port the kubelet's gRPC probes use answers
// what the service port answers, by service name, and carries nothing else.
TEST_F(RuntimeProcessTest, HealthPortMirrorsTheServicePortAndServesNothingElse) {
  const std::string gate = dir_.Sub("gate");
  ASSERT_EQ(mkfifo(gate.c_str(), 0600), 0);
  WriteOneEventToReplay();
  const int port = testing::PickFreePort();
  const int health_port = testing::PickFreePort();
  ChildProcess child = StartService(
      "svc", port,
      {"--replay_gate=" + gate, absl::StrCat("--health_listen=127.0.0.1:", health_port)});

  HealthWatch watch(Connect(health_port), absl::Seconds(30));
  auto first = watch.Next();
  ASSERT_TRUE(first.has_value()) << child.Output();
  EXPECT_EQ(*first, HealthCheckResponse::NOT_SERVING);
  {
    std::ofstream open_gate(gate);
    open_gate << 'g';
  }
  ASSERT_TRUE(watch.WaitFor(HealthCheckResponse::SERVING)) << child.Output();

  auto health = grpc::health::v1::Health::NewStub(Connect(health_port));
  auto check = [&](const std::string& service) {
    grpc::ClientContext context;
    context.set_deadline(absl::ToChronoTime(absl::Now() + absl::Seconds(10)));
    HealthCheckRequest request;
    request.set_service(service);
    HealthCheckResponse response;
    grpc::Status s = health->Check(&context, request, &response);
    return s.ok() ? HealthCheckResponse::ServingStatus_Name(response.status())
                  : absl::StrCat("error ", s.error_code());
  };
  EXPECT_EQ(check("mend.eventlog.v1.EventLog"), "SERVING");
  EXPECT_EQ(check("no.such.Service"),
            absl::StrCat("error ", grpc::StatusCode::NOT_FOUND));
  // The log is on the service port only.
  auto writer = eventlog::v1::EventLogWriter::NewStub(Connect(health_port));
  EXPECT_EQ(Append(*writer, service_token_, "s", "on-health-port").status().code(),
            absl::StatusCode::kUnimplemented);

  child.Signal(SIGTERM);
  EXPECT_TRUE(watch.WaitFor(HealthCheckResponse::NOT_SERVING)) << child.Output();
  watch.Cancel();
  auto status = child.Wait(absl::Seconds(30));
  ASSERT_TRUE(status.has_value()) << child.Output();
  EXPECT_EQ(WEXITSTATUS(*status), 0) << child.Output();
}

TEST_F(RuntimeProcessTest, SigtermDuringLoadLosesNoAcknowledgedAppend) {
  const int port = testing::PickFreePort();
  ChildProcess child = StartService("svc", port);
  WaitServing(port, child);

  absl::Mutex mu;
  std::map<std::string, uint64_t> acked;  // event id -> position
  std::atomic<bool> stop{false};
  std::atomic<int> refused_after_signal{0};
  std::vector<std::thread> clients;
  for (int t = 0; t < 8; ++t) {
    clients.emplace_back([&, t] {
      auto stub = eventlog::v1::EventLogWriter::NewStub(Connect(port));
      for (int i = 0; !stop; ++i) {
        const std::string id = absl::StrCat("c", t, "-", i);
        auto r = Append(*stub, service_token_, absl::StrCat("s", t), id);
        if (r.ok()) {
          absl::MutexLock lock(&mu);
          acked[id] = r->first_position();
        } else {
          ++refused_after_signal;
          return;  // the server is draining or gone
        }
      }
    });
  }
  {
    absl::MutexLock lock(&mu);
    auto enough = [&]() ABSL_NO_THREAD_SAFETY_ANALYSIS { return acked.size() >= 300; };
    ASSERT_TRUE(mu.AwaitWithTimeout(absl::Condition(&enough), absl::Seconds(30)))
        << child.Output();
  }
  child.Signal(SIGTERM);
  auto status = child.Wait(absl::Seconds(30));
  stop = true;
  for (auto& c : clients) c.join();
  ASSERT_TRUE(status.has_value()) << child.Output();
  ASSERT_TRUE(WIFEXITED(*status)) << child.Output();
  EXPECT_EQ(WEXITSTATUS(*status), 0) << child.Output();

  auto store = eventlog::EventStore::Open({.path = dir_.Sub("svc") + "/eventlog"});
  ASSERT_THAT(store, IsOk());
  eventlog::VerifyReport report = (*store)->Verify();
  EXPECT_TRUE(report.ok) << report.problem;
  absl::MutexLock lock(&mu);
  for (const auto& [id, position] : acked) {
    auto record = (*store)->Read(position, 1);
    ASSERT_THAT(record, IsOk());
    ASSERT_EQ(record->size(), 1u) << id << " acknowledged at " << position << " is lost";
    eventlog::RecordView view;
    ASSERT_THAT(eventlog::DecodeRecord(record->front().bytes, &view), IsOk());
    EXPECT_EQ(view.event_id, id);
  }
}

// Reads the downstream's log through its EventLog until `count` mirror events
// have arrived, checking that mirror N carries upstream position N.
void ExpectMirrorsReach(int port, const std::string& auditor_token, uint64_t count,
                        const ChildProcess& upstream, const ChildProcess& downstream) {
  auto stub = eventlog::v1::EventLog::NewStub(Connect(port));
  grpc::ClientContext context;
  AttachBearerToken(&context, auditor_token);
  context.set_wait_for_ready(true);
  context.set_deadline(absl::ToChronoTime(absl::Now() + absl::Seconds(60)));
  eventlog::v1::SubscribeRequest request;
  auto reader = stub->Subscribe(&context, request);
  eventlog::v1::SubscribeResponse response;
  uint64_t mirrors = 0;
  while (mirrors < count && reader->Read(&response)) {
    for (const auto& e : response.events()) {
      eventlog::RecordView view;
      ASSERT_THAT(eventlog::DecodeRecord(e.record(), &view), IsOk());
      if (view.stream_id != "mirror") continue;
      ++mirrors;
      ASSERT_EQ(view.event_id, absl::StrCat("mirror-", mirrors))
          << "mirror " << mirrors << " is out of order or repeated";
    }
  }
  context.TryCancel();
  EXPECT_EQ(mirrors, count) << upstream.Output() << downstream.Output();
}

TEST_F(RuntimeProcessTest, FollowerSurvivesUpstreamKillAndRestartWithoutGapOrDuplicate) {
  const int up_port = testing::PickFreePort();
  const int down_port = testing::PickFreePort();
  // The downstream presents a service token to its upstream, from a file.
  const std::string token_file = dir_.Sub("down-token");
  {
    std::ofstream out(token_file);
    out << TokenFor(Role::kService, "example-down") << "\n";
  }
  const std::vector<std::string> down_flags = {
      absl::StrCat("--upstream_example=127.0.0.1:", up_port),
      "--service_token_file=" + token_file};
  ChildProcess upstream = StartService("up", up_port);
  ChildProcess downstream = StartService("down", down_port, down_flags);
  WaitServing(up_port, upstream);
  WaitServing(down_port, downstream);
  const std::string auditor = TokenFor(Role::kAuditor, "auditor");

  int next = 0;
  auto append_upstream = [&](int n) {
    auto stub = eventlog::v1::EventLogWriter::NewStub(Connect(up_port));
    for (int i = 0; i < n; ++i, ++next) {
      ASSERT_THAT(Append(*stub, service_token_, absl::StrCat("u", next % 3),
                         absl::StrCat("up-", next)),
                  IsOk())
          << upstream.Output();
    }
  };
  append_upstream(50);
  ExpectMirrorsReach(down_port, auditor, 50, upstream, downstream);

  // The upstream dies without warning and comes back on the same port.
  upstream.Signal(SIGKILL);
  ASSERT_TRUE(upstream.Wait(absl::Seconds(10)).has_value());
  upstream = StartService("up", up_port);
  WaitServing(up_port, upstream);
  append_upstream(50);
  ExpectMirrorsReach(down_port, auditor, 100, upstream, downstream);

  // The downstream dies too, mid-stream, and resumes from its checkpoint.
  std::thread writer([&] { append_upstream(100); });
  downstream.Signal(SIGKILL);
  ASSERT_TRUE(downstream.Wait(absl::Seconds(10)).has_value());
  writer.join();
  downstream = StartService("down", down_port, down_flags);
  WaitServing(down_port, downstream);
  ExpectMirrorsReach(down_port, auditor, 200, upstream, downstream);
}

// A follower killed with SIGKILL while it catches up (one write per batch of
// up to 500 upstream events, back to back) loses and repeats nothing: its log
// holds exactly the effects of the positions up to its checkpoint, and after
// a restart every upstream event has exactly one effect.
TEST_F(RuntimeProcessTest, SigkillDuringCatchUpLosesAndRepeatsNoUpstreamEvent) {
  constexpr uint64_t kUpstreamEvents = 100000;
  {  // A long upstream log, written before anything runs.
    std::filesystem::create_directories(dir_.Sub("up"));
    auto store = eventlog::EventStore::Open({.path = dir_.Sub("up") + "/eventlog"});
    ASSERT_THAT(store, IsOk());
    for (uint64_t p = 1; p <= kUpstreamEvents;) {
      std::vector<eventlog::NewEvent> events;
      for (int i = 0; i < 1000; ++i, ++p) {
        events.push_back({.event_id = absl::StrCat("pre-", p),
                          .event_type = "mend.example.v1.Appended",
                          .payload = std::string(100, 'x'),
                          .actor_id = "test",
                          .actor_role = "service",
                          .correlation_id = "",
                          .causation_id = ""});
      }
      ASSERT_THAT(
          (*store)->Append("u", eventlog::ExpectedVersion::Any(), std::move(events)),
          IsOk());
    }
  }
  const int up_port = testing::PickFreePort();
  const int down_port = testing::PickFreePort();
  const std::string token_file = dir_.Sub("down-token");
  {
    std::ofstream out(token_file);
    out << TokenFor(Role::kService, "example-down") << "\n";
  }
  const std::vector<std::string> down_flags = {
      absl::StrCat("--upstream_example=127.0.0.1:", up_port),
      "--service_token_file=" + token_file};
  ChildProcess upstream = StartService("up", up_port);
  WaitServing(up_port, upstream);
  ChildProcess downstream = StartService("down", down_port, down_flags);

  // Kill it once it has made some progress: read its head over gRPC until it
  // passes a few batches.
  const std::string auditor = TokenFor(Role::kAuditor, "auditor");
  uint64_t seen = 0;
  {
    auto log = eventlog::v1::EventLog::NewStub(Connect(down_port));
    for (absl::Time deadline = absl::Now() + absl::Seconds(60);
         seen < 2000 && absl::Now() < deadline;) {
      grpc::ClientContext context;
      AttachBearerToken(&context, auditor);
      context.set_wait_for_ready(true);
      context.set_deadline(absl::ToChronoTime(absl::Now() + absl::Seconds(10)));
      eventlog::v1::GetHeadResponse head;
      if (log->GetHead(&context, eventlog::v1::GetHeadRequest(), &head).ok()) {
        seen = head.position();
      }
    }
  }
  ASSERT_GE(seen, 2000u) << downstream.Output();
  downstream.Signal(SIGKILL);
  ASSERT_TRUE(downstream.Wait(absl::Seconds(10)).has_value());

  // What the killed process left: effects for exactly the positions up to the
  // checkpoint, and a sound chain.
  {
    auto store = eventlog::EventStore::Open({.path = dir_.Sub("down") + "/eventlog"});
    ASSERT_THAT(store, IsOk());
    auto checkpoint = (*store)->GetCheckpoint("follow:example");
    ASSERT_THAT(checkpoint, IsOk());
    EXPECT_GE(*checkpoint, 2000u);
    // Killed during the catch-up, not after it, or this test shows nothing.
    ASSERT_LT(*checkpoint, kUpstreamEvents) << "the catch-up ended before the kill";
    EXPECT_EQ((*store)->GetHead().position, *checkpoint);
    eventlog::VerifyReport report = (*store)->Verify();
    EXPECT_TRUE(report.ok) << report.problem;
  }

  downstream = StartService("down", down_port, down_flags);
  // (testing::WaitServing opens the watch again if the first connection,
  // made while the killed process's port was being taken over, breaks.)
  ASSERT_TRUE(testing::WaitServing(Connect(down_port))) << downstream.Output();
  ExpectMirrorsReach(down_port, auditor, kUpstreamEvents, upstream, downstream);
  downstream.Signal(SIGTERM);
  ASSERT_TRUE(downstream.Wait(absl::Seconds(30)).has_value());

  // Every upstream event has exactly one effect, in order, carrying its id.
  auto store = eventlog::EventStore::Open({.path = dir_.Sub("down") + "/eventlog"});
  ASSERT_THAT(store, IsOk());
  EXPECT_THAT((*store)->GetCheckpoint("follow:example"),
              ::mend::testing::IsOkAndHolds(kUpstreamEvents));
  EXPECT_EQ((*store)->GetHead().position, kUpstreamEvents);
  uint64_t p = 0;
  ASSERT_THAT((*store)->Scan(1,
                             [&](uint64_t position, std::string_view bytes) {
                               ++p;
                               eventlog::RecordView view;
                               EXPECT_THAT(eventlog::DecodeRecord(bytes, &view), IsOk());
                               EXPECT_EQ(position, p);
                               EXPECT_EQ(view.stream_id, "mirror");
                               EXPECT_EQ(view.stream_version, p);
                               EXPECT_EQ(view.event_id, absl::StrCat("mirror-", p));
                               EXPECT_EQ(view.payload, absl::StrCat("pre-", p));
                               return view.payload == absl::StrCat("pre-", p);
                             }),
              IsOk());
  EXPECT_EQ(p, kUpstreamEvents);
  EXPECT_TRUE((*store)->Verify().ok);
}

TEST_F(RuntimeProcessTest, MetricsEndpointShowsCallsAppendsAndFsyncs) {
  const int port = testing::PickFreePort();
  const int metrics_port = testing::PickFreePort();
  ChildProcess child = StartService(
      "svc", port, {absl::StrCat("--metrics_listen=127.0.0.1:", metrics_port)});
  WaitServing(port, child);
  auto writer = eventlog::v1::EventLogWriter::NewStub(Connect(port));
  for (int i = 0; i < 3; ++i) {
    ASSERT_THAT(Append(*writer, service_token_, "s", absl::StrCat("m", i)), IsOk());
  }
  // A facilitator may not append: counted with its code.
  EXPECT_EQ(Append(*writer, TokenFor(Role::kFacilitator), "s", "refused").status().code(),
            absl::StatusCode::kPermissionDenied);

  httplib::Client http("127.0.0.1", metrics_port);
  auto scraped = http.Get("/metrics");
  ASSERT_TRUE(scraped) << child.Output();
  ASSERT_EQ(scraped->status, 200);
  const std::string& text = scraped->body;
  EXPECT_THAT(text, ::testing::HasSubstr(
                        "mend_grpc_server_handled_total{method=\"mend.eventlog.v1."
                        "EventLogWriter/Append\",code=\"OK\"} 3"));
  EXPECT_THAT(text, ::testing::HasSubstr(
                        "mend_grpc_server_handled_total{method=\"mend.eventlog.v1."
                        "EventLogWriter/Append\",code=\"PERMISSION_DENIED\"} 1"));
  EXPECT_THAT(text, ::testing::HasSubstr(
                        "mend_eventlog_appended_events_total{service=\"example\"} 3"));
  EXPECT_THAT(text,
              ::testing::HasSubstr("mend_eventlog_head_position{service=\"example\"} 3"));
  EXPECT_THAT(text, ::testing::HasSubstr("mend_eventlog_fsync_seconds_count{service="));
  EXPECT_THAT(text, ::testing::HasSubstr("mend_process_uptime_seconds"));
  // The refused call is in the JSON access log with its method and code.
  EXPECT_THAT(
      child.Output(),
      ::testing::HasSubstr("\"message\":\"rpc\",\"method\":\"mend.eventlog.v1."
                           "EventLogWriter/Append\",\"status\":\"PERMISSION_DENIED\""));
}

// Runs the example service with `args` and `env`, expecting it to refuse to
// start: exit code 2 (bad flag value) or 1 (unusable configuration), and a
// message on stderr containing `needle`.
void ExpectRefusesToStart(const TempDir& dir, std::vector<std::string> args,
                          std::vector<std::string> env, int exit_code,
                          const std::string& needle) {
  auto child = ChildProcess::Start(kBinary, args, dir.Sub("refused"), env);
  ASSERT_THAT(child, IsOk());
  auto status = child->Wait(absl::Seconds(30));
  ASSERT_TRUE(status.has_value());
  ASSERT_TRUE(WIFEXITED(*status)) << child->Output();
  EXPECT_EQ(WEXITSTATUS(*status), exit_code) << child->Output();
  EXPECT_THAT(child->Output(), ::testing::HasSubstr(needle));
}

TEST_F(RuntimeProcessTest, BadConfigurationStopsTheProcessNamingTheFlag) {
  const std::string data = "--data_dir=" + dir_.Sub("bad");
  ExpectRefusesToStart(dir_, {data, "--shutdown_grace=soon"}, {}, 2, "shutdown_grace");
  ExpectRefusesToStart(dir_, {data}, {"MEND_LOG_LEVEL=loud"}, 2, "--log_level");
  ExpectRefusesToStart(dir_, {data}, {"MEND_MAX_MESSAGE_BYTES=many"}, 2,
                       "MEND_MAX_MESSAGE_BYTES");
  ExpectRefusesToStart(dir_, {}, {}, 2, "--data_dir");
  // The command line wins over the environment.
  ExpectRefusesToStart(dir_, {data, "--log_level=verbose"}, {"MEND_LOG_LEVEL=info"}, 2,
                       "--log_level");
}

TEST_F(RuntimeProcessTest, PlaintextOrUnverifiedTokensOnlyOnLoopback) {
  const std::string data = "--data_dir=" + dir_.Sub("exposed");
  ExpectRefusesToStart(dir_, {data, "--listen=0.0.0.0:0"}, {}, 1, "--allow_insecure");
  // Even with --allow_insecure, no verification key means loopback only.
  ExpectRefusesToStart(dir_, {data, "--listen=0.0.0.0:0", "--allow_insecure"}, {}, 1,
                       "--token_public_key");
}

TEST_F(RuntimeProcessTest, ServesWhileItsUpstreamIsUnreachableAndCatchesUpLater) {
  const int up_port = testing::PickFreePort();  // nothing listens there yet
  const int down_port = testing::PickFreePort();
  const int metrics_port = testing::PickFreePort();
  const std::string token_file = dir_.Sub("down-token");
  {
    std::ofstream out(token_file);
    out << TokenFor(Role::kService, "example-down") << "\n";
  }
  ChildProcess downstream =
      StartService("down", down_port,
                   {absl::StrCat("--upstream_example=127.0.0.1:", up_port),
                    "--service_token_file=" + token_file,
                    absl::StrCat("--metrics_listen=127.0.0.1:", metrics_port)});
  WaitServing(down_port, downstream);

  httplib::Client http("127.0.0.1", metrics_port);
  auto scraped = http.Get("/metrics");
  ASSERT_TRUE(scraped) << downstream.Output();
  EXPECT_THAT(scraped->body,
              ::testing::HasSubstr("mend_subscription_connected{service=\"example\","
                                   "upstream=\"example\"} 0"));

  ChildProcess upstream = StartService("up", up_port);
  WaitServing(up_port, upstream);
  auto stub = eventlog::v1::EventLogWriter::NewStub(Connect(up_port));
  for (int i = 0; i < 20; ++i) {
    ASSERT_THAT(Append(*stub, service_token_, "u", absl::StrCat("late-", i)), IsOk());
  }
  ExpectMirrorsReach(down_port, TokenFor(Role::kAuditor, "auditor"), 20, upstream,
                     downstream);
  // The follower records a position as handled just after its effect is in
  // the log, so the gauges may trail the mirror by a moment: scrape until they
  // agree, within a deadline.
  const std::string connected =
      "mend_subscription_connected{service=\"example\",upstream=\"example\"} 1";
  const std::string caught_up =
      "mend_subscription_lag_events{service=\"example\",upstream=\"example\"} 0";
  std::string body;
  for (absl::Time deadline = absl::Now() + absl::Seconds(10); absl::Now() < deadline;) {
    scraped = http.Get("/metrics");
    ASSERT_TRUE(scraped);
    body = scraped->body;
    if (body.find(connected) != std::string::npos &&
        body.find(caught_up) != std::string::npos) {
      break;
    }
  }
  EXPECT_THAT(body, ::testing::HasSubstr(connected));
  EXPECT_THAT(body, ::testing::HasSubstr(caught_up));
}

}  // namespace
}  // namespace mend
