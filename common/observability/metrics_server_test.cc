#include "common/observability/metrics_server.h"

#include <httplib.h>

#include <atomic>
#include <string>
#include <thread>
#include <vector>

#include "absl/strings/str_cat.h"
#include "common/observability/metrics.h"
#include "gmock/gmock.h"
#include "gtest/gtest.h"
#include "tests/support/test_util.h"

namespace mend::metrics {
namespace {

using ::mend::testing::IsOk;
using ::mend::testing::StatusIs;
using ::testing::HasSubstr;

httplib::Result Get(int port, const std::string& path) {
  httplib::Client client("127.0.0.1", port);
  client.set_connection_timeout(10);
  client.set_read_timeout(10);
  return client.Get(path.c_str());
}

TEST(MetricsServerTest, ServesTheRegistryOnGetMetrics) {
  MetricsRegistry registry;
  Counter* counter = *registry.AddCounter("mend_test_served_total", "Served.");
  counter->Increment(7);
  MetricsServer server(&registry, "127.0.0.1:0");
  EXPECT_EQ(server.port(), 0);
  ASSERT_THAT(server.Start(), IsOk());
  ASSERT_GT(server.port(), 0);

  httplib::Result result = Get(server.port(), "/metrics");
  ASSERT_TRUE(result) << httplib::to_string(result.error());
  EXPECT_EQ(result->status, 200);
  EXPECT_EQ(result->get_header_value("Content-Type"),
            "text/plain; version=0.0.4; charset=utf-8");
  EXPECT_THAT(result->body, HasSubstr("# TYPE mend_test_served_total counter\n"
                                      "mend_test_served_total 7\n"));
  EXPECT_THAT(result->body, HasSubstr("\nmend_process_uptime_seconds "));

  // Every scrape renders afresh.
  counter->Increment();
  result = Get(server.port(), "/metrics");
  ASSERT_TRUE(result);
  EXPECT_THAT(result->body, HasSubstr("\nmend_test_served_total 8\n"));
}

TEST(MetricsServerTest, OtherPathsAreNotFound) {
  MetricsRegistry registry;
  MetricsServer server(&registry, "127.0.0.1:0");
  ASSERT_THAT(server.Start(), IsOk());
  for (const char* path : {"/", "/metricsx", "/metrics/x", "/healthz"}) {
    httplib::Result result = Get(server.port(), path);
    ASSERT_TRUE(result) << path;
    EXPECT_EQ(result->status, 404) << path;
  }
}

TEST(MetricsServerTest, MalformedAddressesAreInvalidArgumentNamingThem) {
  MetricsRegistry registry;
  for (const char* address :
       {"", "127.0.0.1", "127.0.0.1:", "127.0.0.1:http", "127.0.0.1:70000",
        "127.0.0.1:-1", "127.0.0.1:80x", "::1:9090", "[::1:9090", "[]:9090"}) {
    MetricsServer server(&registry, address);
    absl::Status status = server.Start();
    EXPECT_THAT(status, StatusIs(absl::StatusCode::kInvalidArgument)) << address;
    EXPECT_THAT(std::string(status.message()),
                HasSubstr(absl::StrCat("\"", address, "\"")));
    EXPECT_EQ(server.port(), 0);
  }
}

TEST(MetricsServerTest, ParsesHostAndPort) {
  std::string host;
  int port = -1;
  ASSERT_THAT(ParseListenAddress("127.0.0.1:9090", &host, &port), IsOk());
  EXPECT_EQ(host, "127.0.0.1");
  EXPECT_EQ(port, 9090);
  ASSERT_THAT(ParseListenAddress(":0", &host, &port), IsOk());
  EXPECT_EQ(host, "0.0.0.0");
  EXPECT_EQ(port, 0);
  ASSERT_THAT(ParseListenAddress("[::1]:65535", &host, &port), IsOk());
  EXPECT_EQ(host, "::1");
  EXPECT_EQ(port, 65535);
  ASSERT_THAT(ParseListenAddress("localhost:1", &host, &port), IsOk());
  EXPECT_EQ(host, "localhost");
}

TEST(MetricsServerTest, PortInUseIsUnavailable) {
  MetricsRegistry registry;
  MetricsServer first(&registry, "127.0.0.1:0");
  ASSERT_THAT(first.Start(), IsOk());
  MetricsServer second(&registry, absl::StrCat("127.0.0.1:", first.port()));
  EXPECT_THAT(second.Start(), StatusIs(absl::StatusCode::kUnavailable));
  EXPECT_EQ(second.port(), 0);
  // The first one still answers alone.
  httplib::Result result = Get(first.port(), "/metrics");
  ASSERT_TRUE(result);
  EXPECT_EQ(result->status, 200);
}

TEST(MetricsServerTest, StartTwiceIsFailedPrecondition) {
  MetricsRegistry registry;
  MetricsServer server(&registry, "127.0.0.1:0");
  ASSERT_THAT(server.Start(), IsOk());
  EXPECT_THAT(server.Start(), StatusIs(absl::StatusCode::kFailedPrecondition));
}

TEST(MetricsServerTest, StopIsIdempotentAndClosesThePort) {
  MetricsRegistry registry;
  MetricsServer never_started(&registry, "127.0.0.1:0");
  never_started.Stop();  // nothing to stop

  MetricsServer server(&registry, "127.0.0.1:0");
  ASSERT_THAT(server.Start(), IsOk());
  const int port = server.port();
  server.Stop();
  server.Stop();
  EXPECT_THAT(server.Start(), StatusIs(absl::StatusCode::kFailedPrecondition));
  // The port is free again: another server binds it and answers there.
  MetricsServer again(&registry, absl::StrCat("127.0.0.1:", port));
  ASSERT_THAT(again.Start(), IsOk());
  httplib::Result result = Get(port, "/metrics");
  ASSERT_TRUE(result);
  EXPECT_EQ(result->status, 200);
}

TEST(MetricsServerTest, StopRightAfterStartDoesNotHang) {
  // Stop may come before the serving thread has entered its loop.
  MetricsRegistry registry;
  for (int i = 0; i < 50; ++i) {
    MetricsServer server(&registry, "127.0.0.1:0");
    ASSERT_THAT(server.Start(), IsOk());
    server.Stop();
  }
}

TEST(MetricsServerTest, ConcurrentScrapesAndStop) {
  MetricsRegistry registry;
  MetricsServer server(&registry, "127.0.0.1:0");
  ASSERT_THAT(server.Start(), IsOk());
  std::vector<std::thread> scrapers;
  std::atomic<int> ok{0};
  for (int t = 0; t < 4; ++t) {
    scrapers.emplace_back([&] {
      for (int i = 0; i < 10; ++i) {
        httplib::Result result = Get(server.port(), "/metrics");
        if (result && result->status == 200) ++ok;
      }
    });
  }
  for (auto& t : scrapers) t.join();
  EXPECT_EQ(ok.load(), 40);
  std::thread stopper([&] { server.Stop(); });
  server.Stop();
  stopper.join();
}

}  // namespace
}  // namespace mend::metrics
