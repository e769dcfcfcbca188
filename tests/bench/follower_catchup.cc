// The follower's catch-up rate, for mend-eventlog-bench:
//
//   ratio follower_catchup_gain VALUE target 30
//
// VALUE = upstream events a real Follower handles per second while it
// catches up over gRPC (a real EventLog server on loopback over a real
// upstream store, a real local store, max_batch 500, a handler that writes
// one small event per upstream event) ÷ durable appends per second from one
// appender, both measured in this run on this disk (the appender before and
// after the catch-up, the faster of the two). A follower that wrote
// each event with its own fsync would score about 1; one fsync per message of
// 500 events allows far more, so the figure shows what the rest of the path
// (reading, hashing, gRPC, decoding, the handler, the write) costs.
#include <grpcpp/grpcpp.h>
#include <sys/resource.h>

#include <algorithm>
#include <chrono>
#include <cstdio>
#include <cstdlib>
#include <filesystem>
#include <memory>
#include <string>
#include <vector>

#include "absl/flags/flag.h"
#include "absl/strings/str_cat.h"
#include "absl/time/clock.h"
#include "common/eventlog/event_store.h"
#include "common/runtime/follower.h"
#include "common/security/auth.h"
#include "tests/support/log_server.h"
#include "tests/support/tokens.h"

ABSL_FLAG(int64_t, follower_events, 200000,
          "upstream events the follower catch-up phase handles");
ABSL_FLAG(double, follower_appender_seconds, 2.0,
          "duration of the one-appender measurement the catch-up rate is divided by");

namespace mend::bench {
namespace {

using Clock = std::chrono::steady_clock;
using eventlog::EventStore;

// CPU seconds (user + system) this process has used so far.
double ProcessCpuSeconds() {
  rusage usage{};
  getrusage(RUSAGE_SELF, &usage);
  auto seconds = [](const timeval& t) {
    return static_cast<double>(t.tv_sec) + static_cast<double>(t.tv_usec) * 1e-6;
  };
  return seconds(usage.ru_utime) + seconds(usage.ru_stime);
}
using eventlog::ExpectedVersion;
using eventlog::NewEvent;
using eventlog::WriteRequest;

std::unique_ptr<EventStore> OpenOrDie(const std::string& path) {
  auto store = EventStore::Open({.path = path});
  if (!store.ok()) {
    std::fprintf(stderr, "open %s: %s\n", path.c_str(),
                 store.status().ToString().c_str());
    std::exit(1);
  }
  return *std::move(store);
}

NewEvent Small(std::string id, std::string payload) {
  return NewEvent{.event_id = std::move(id),
                  .event_type = "mend.bench.v1.Followed",
                  .payload = std::move(payload),
                  .actor_id = "bench",
                  .actor_role = "service",
                  .correlation_id = "",
                  .causation_id = ""};
}

// Durable appends per second from one thread, one event an append.
double OneAppenderRate(const std::string& path, double seconds) {
  std::unique_ptr<EventStore> store = OpenOrDie(path);
  const std::string payload(200, 'p');
  const auto start = Clock::now();
  const auto end = start + std::chrono::duration<double>(seconds);
  uint64_t n = 0;
  while (Clock::now() < end) {
    auto r = store->Append("one", ExpectedVersion::Any(),
                           {Small(absl::StrCat("one-", n), payload)});
    if (!r.ok()) {
      std::fprintf(stderr, "append: %s\n", r.status().ToString().c_str());
      std::exit(1);
    }
    ++n;
  }
  return static_cast<double>(n) /
         std::chrono::duration<double>(Clock::now() - start).count();
}

// Upstream events handled per second by a Follower catching up on `events`.
double CatchUpRate(const std::string& dir, int64_t events) {
  std::unique_ptr<EventStore> upstream = OpenOrDie(dir + "/upstream");
  const std::string payload(200, 'u');
  for (int64_t p = 0; p < events;) {
    std::vector<NewEvent> batch;
    for (int i = 0; i < 1000 && p < events; ++i, ++p) {
      batch.push_back(Small(absl::StrCat("up-", p), payload));
    }
    // Spread over streams, as a case log is.
    auto r = upstream->Append(absl::StrCat("case-", p % 97), ExpectedVersion::Any(),
                              std::move(batch));
    if (!r.ok()) {
      std::fprintf(stderr, "populate: %s\n", r.status().ToString().c_str());
      std::exit(1);
    }
  }
  auto server = testing::LoopbackLogServer::Start({.store = upstream.get()});
  if (!server.ok()) {
    std::fprintf(stderr, "server: %s\n", server.status().ToString().c_str());
    std::exit(1);
  }
  std::unique_ptr<EventStore> local = OpenOrDie(dir + "/local");

  Follower::Options options;
  options.upstream = "bench";
  options.channel =
      grpc::CreateChannel((*server)->address(), grpc::InsecureChannelCredentials());
  options.prepare_context =
      [token = testing::TokenFor(Role::kService, "bench")](grpc::ClientContext* context) {
        AttachBearerToken(context, token);
      };
  options.max_batch = 500;
  options.log = [](bool error, const std::string& message) {
    if (error) std::fprintf(stderr, "follower: %s\n", message.c_str());
  };
  // One small event per upstream event, into the local stream of its case.
  auto follower = Follower::Create(
      local.get(), options,
      Follower::PerEvent([](const UpstreamEvent& e) -> absl::StatusOr<WriteRequest> {
        WriteRequest request;
        request.appends.push_back({absl::StrCat("seen-", std::string(e.view.stream_id)),
                                   ExpectedVersion::Any(),
                                   {Small(absl::StrCat("seen-", e.position), "s")}});
        return request;
      }));
  if (!follower.ok()) {
    std::fprintf(stderr, "follower: %s\n", follower.status().ToString().c_str());
    std::exit(1);
  }
  std::printf("  upstream populated; catching up\n");
  std::fflush(stdout);
  const uint64_t syncs_before = local->stats().syncs.load();
  const uint64_t write_nanos_before = local->stats().write_nanos_total.load();
  const double cpu_before = ProcessCpuSeconds();
  const auto start = Clock::now();
  (*follower)->Start();
  absl::Status done = (*follower)->WaitForHandled(static_cast<uint64_t>(events),
                                                  absl::Now() + absl::Minutes(10));
  const double elapsed = std::chrono::duration<double>(Clock::now() - start).count();
  const double cpu = ProcessCpuSeconds() - cpu_before;
  (*follower)->Stop();
  if (!done.ok()) {
    std::fprintf(stderr, "catch-up: %s\n", done.ToString().c_str());
    std::exit(1);
  }
  const double syncs = static_cast<double>(local->stats().syncs.load() - syncs_before);
  const double write_seconds =
      static_cast<double>(local->stats().write_nanos_total.load() - write_nanos_before) *
      1e-9;
  const double n = static_cast<double>(events);
  std::printf(
      "  caught up on %lld events in %.2f s: %.0f events/s; %.0f local fsyncs "
      "(%.0f events an fsync); CPU %.1f us an event (all threads), of which "
      "%.1f us laying out and writing the local batch\n",
      static_cast<long long>(events), elapsed, n / elapsed, syncs,
      syncs > 0 ? n / syncs : 0, cpu / n * 1e6, write_seconds / n * 1e6);
  (*server)->Stop();
  return static_cast<double>(events) / elapsed;
}

}  // namespace

int FollowerCatchupMain() {
  char tmpl[] = "/tmp/mend-follow-bench-XXXXXX";
  if (mkdtemp(tmpl) == nullptr) return 1;
  const std::string dir = tmpl;
  const int64_t events = absl::GetFlag(FLAGS_follower_events);
  std::printf("follower catch-up over gRPC on %lld upstream events, in %s\n",
              static_cast<long long>(events), dir.c_str());
  // The appender is measured before and after the catch-up and the faster
  // figure taken, so a slow moment of the (shared) disk cannot inflate the
  // ratio.
  const double seconds = absl::GetFlag(FLAGS_follower_appender_seconds);
  const double before = OneAppenderRate(dir + "/one-before", seconds);
  const double catchup = CatchUpRate(dir, events);
  const double after = OneAppenderRate(dir + "/one-after", seconds);
  const double one = std::max(before, after);
  std::printf("  1 appender: %.0f durable appends/s before, %.0f after; taking %.0f\n",
              before, after, one);
  std::filesystem::remove_all(dir);
  std::printf("ratio follower_catchup_gain %.2f target 30\n", catchup / one);
  return 0;
}

}  // namespace mend::bench
