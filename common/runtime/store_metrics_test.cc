#include "common/runtime/store_metrics.h"

#include <memory>
#include <string>
#include <thread>
#include <vector>

#include "absl/strings/str_cat.h"
#include "absl/strings/str_split.h"
#include "common/eventlog/event_store.h"
#include "common/observability/metrics.h"
#include "gmock/gmock.h"
#include "gtest/gtest.h"
#include "tests/support/test_util.h"

namespace mend::metrics {
namespace {

using ::mend::eventlog::EventStore;
using ::mend::eventlog::ExpectedVersion;
using ::mend::eventlog::NewEvent;
using ::mend::eventlog::StoreStats;
using ::mend::testing::IsOk;
using ::mend::testing::StatusIs;
using ::mend::testing::TempDir;
using ::mend::testing::TestEvent;
using ::testing::HasSubstr;

// The value of one sample line "series value", or -1 when there is none.
double Sample(const std::string& text, const std::string& series) {
  for (const std::string& line : std::vector<std::string>(absl::StrSplit(text, '\n'))) {
    if (line.size() > series.size() && line.compare(0, series.size(), series) == 0 &&
        line[series.size()] == ' ') {
      return std::stod(line.substr(series.size() + 1));
    }
  }
  return -1;
}

class StoreMetricsTest : public ::testing::Test {
 protected:
  void SetUp() override {
    auto store = EventStore::Open({.path = dir_.Sub("log")});
    ASSERT_THAT(store, IsOk());
    store_ = *std::move(store);
  }

  TempDir dir_;
  std::unique_ptr<EventStore> store_;
  MetricsRegistry registry_;
};

TEST_F(StoreMetricsTest, ExposesTheStoreCountersAndHead) {
  ASSERT_THAT(RegisterStoreMetrics(&registry_, store_.get(), "consent"), IsOk());
  std::string text = registry_.Render();
  EXPECT_EQ(Sample(text, "mend_eventlog_appended_events_total{service=\"consent\"}"), 0);
  EXPECT_EQ(Sample(text, "mend_eventlog_head_position{service=\"consent\"}"), 0);
  EXPECT_EQ(Sample(text, "mend_eventlog_fsync_seconds_count{service=\"consent\"}"), 0);

  // One at a time: each append is its own batch and its own fsync.
  ASSERT_THAT(store_->Append("s-1", ExpectedVersion::NoStream(),
                             {TestEvent("e1"), TestEvent("e2")}),
              IsOk());
  ASSERT_THAT(store_->Append("s-1", ExpectedVersion::Exact(2), {TestEvent("e3")}),
              IsOk());
  ASSERT_THAT(store_->Append("s-2", ExpectedVersion::Any(), {TestEvent("e4")}), IsOk());
  // A conflict writes nothing and needs no fsync.
  ASSERT_THAT(store_->Append("s-1", ExpectedVersion::Exact(1), {TestEvent("e5")}),
              StatusIs(absl::StatusCode::kAborted));

  text = registry_.Render();
  const std::string l = "{service=\"consent\"}";
  EXPECT_EQ(Sample(text, "mend_eventlog_appended_events_total" + l), 4);
  EXPECT_EQ(Sample(text, "mend_eventlog_head_position" + l), 4);
  EXPECT_EQ(Sample(text, "mend_eventlog_fsyncs_total" + l), 3);
  EXPECT_EQ(Sample(text, "mend_eventlog_fsync_seconds_count" + l), 3);
  EXPECT_EQ(
      Sample(text, "mend_eventlog_fsync_seconds_bucket{service=\"consent\",le=\"+Inf\"}"),
      3);
  EXPECT_GT(Sample(text, "mend_eventlog_fsync_seconds_sum" + l), 0);
  // Each fsync answered exactly one request.
  EXPECT_EQ(
      Sample(text, "mend_eventlog_batch_requests_bucket{service=\"consent\",le=\"1\"}"),
      3);
  EXPECT_EQ(Sample(text, "mend_eventlog_batch_requests_count" + l), 3);
  EXPECT_EQ(Sample(text, "mend_eventlog_batch_requests_sum" + l), 3);
  EXPECT_GE(Sample(text, "mend_eventlog_batches_total" + l), 3);

  EXPECT_THAT(text, HasSubstr("# TYPE mend_eventlog_batch_requests histogram\n"));
  EXPECT_THAT(text, HasSubstr("# TYPE mend_eventlog_fsync_seconds histogram\n"));
  EXPECT_THAT(text, HasSubstr("# TYPE mend_eventlog_head_position gauge\n"));
  EXPECT_THAT(text, HasSubstr("# TYPE mend_eventlog_fsyncs_total counter\n"));
}

TEST_F(StoreMetricsTest, ConcurrentAppendsShareFsyncs) {
  ASSERT_THAT(RegisterStoreMetrics(&registry_, store_.get(), "case"), IsOk());
  constexpr int kThreads = 8;
  constexpr int kPerThread = 25;
  std::vector<std::thread> threads;
  for (int t = 0; t < kThreads; ++t) {
    threads.emplace_back([&, t] {
      for (int i = 0; i < kPerThread; ++i) {
        EXPECT_THAT(store_->Append(absl::StrCat("s-", t), ExpectedVersion::Any(),
                                   {TestEvent(absl::StrCat("e-", t, "-", i))}),
                    IsOk());
      }
    });
  }
  for (auto& t : threads) t.join();
  const std::string text = registry_.Render();
  const std::string l = "{service=\"case\"}";
  const double fsyncs = Sample(text, "mend_eventlog_fsyncs_total" + l);
  EXPECT_EQ(Sample(text, "mend_eventlog_appended_events_total" + l),
            kThreads * kPerThread);
  // Every request was answered by exactly one fsync.
  EXPECT_EQ(Sample(text, "mend_eventlog_batch_requests_sum" + l), kThreads * kPerThread);
  EXPECT_EQ(Sample(text, "mend_eventlog_batch_requests_count" + l), fsyncs);
  EXPECT_EQ(Sample(text, "mend_eventlog_fsync_seconds_count" + l), fsyncs);
  EXPECT_LE(fsyncs, kThreads * kPerThread);
  // Cumulative buckets never decrease and end at the count.
  double previous = 0;
  for (uint64_t bound : StoreStats::kSyncRequestsBounds) {
    const double v =
        Sample(text, absl::StrCat("mend_eventlog_batch_requests_bucket{service="
                                  "\"case\",le=\"",
                                  FormatValue(static_cast<double>(bound)), "\"}"));
    EXPECT_GE(v, previous) << bound;
    previous = v;
  }
  EXPECT_EQ(previous, fsyncs);  // no fsync answered more than the 8 callers
}

TEST_F(StoreMetricsTest, SecondRegistrationForAServiceIsAlreadyExists) {
  ASSERT_THAT(RegisterStoreMetrics(&registry_, store_.get(), "consent"), IsOk());
  EXPECT_THAT(RegisterStoreMetrics(&registry_, store_.get(), "consent"),
              StatusIs(absl::StatusCode::kAlreadyExists));
}

TEST_F(StoreMetricsTest, TwoServicesShareTheFamilies) {
  auto other = EventStore::Open({.path = dir_.Sub("other")});
  ASSERT_THAT(other, IsOk());
  ASSERT_THAT(RegisterStoreMetrics(&registry_, store_.get(), "case"), IsOk());
  ASSERT_THAT(RegisterStoreMetrics(&registry_, other->get(), "consent"), IsOk());
  ASSERT_THAT((*other)->Append("s", ExpectedVersion::Any(), {TestEvent("e")}), IsOk());
  const std::string text = registry_.Render();
  EXPECT_EQ(Sample(text, "mend_eventlog_head_position{service=\"case\"}"), 0);
  EXPECT_EQ(Sample(text, "mend_eventlog_head_position{service=\"consent\"}"), 1);
  // One HELP/TYPE per family.
  const std::string type = "# TYPE mend_eventlog_head_position gauge\n";
  EXPECT_EQ(text.find(type), text.rfind(type));
  UnregisterStoreMetrics(&registry_, "consent");
}

TEST_F(StoreMetricsTest, UnregisterStopsReadingTheStore) {
  ASSERT_THAT(RegisterStoreMetrics(&registry_, store_.get(), "case"), IsOk());
  ASSERT_THAT(store_->Append("s", ExpectedVersion::Any(), {TestEvent("e1")}), IsOk());
  EXPECT_EQ(Sample(registry_.Render(), "mend_eventlog_head_position{service=\"case\"}"),
            1);
  UnregisterStoreMetrics(&registry_, "case");
  store_.reset();  // the collector must not touch it any more
  EXPECT_EQ(Sample(registry_.Render(), "mend_eventlog_head_position{service=\"case\"}"),
            1);
  // And the service can be registered again.
  auto reopened = EventStore::Open({.path = dir_.Sub("log")});
  ASSERT_THAT(reopened, IsOk());
  EXPECT_THAT(RegisterStoreMetrics(&registry_, reopened->get(), "case"), IsOk());
  UnregisterStoreMetrics(&registry_, "case");
}

TEST_F(StoreMetricsTest, BadArgumentsAreInvalidArgument) {
  EXPECT_THAT(RegisterStoreMetrics(nullptr, store_.get(), "case"),
              StatusIs(absl::StatusCode::kInvalidArgument));
  EXPECT_THAT(RegisterStoreMetrics(&registry_, nullptr, "case"),
              StatusIs(absl::StatusCode::kInvalidArgument));
  EXPECT_THAT(RegisterStoreMetrics(&registry_, store_.get(), ""),
              StatusIs(absl::StatusCode::kInvalidArgument));
  EXPECT_THAT(RegisterStoreMetrics(&registry_, store_.get(), "\xFF"),
              StatusIs(absl::StatusCode::kInvalidArgument));
  EXPECT_THAT(RegisterRuntimeMetrics(&registry_, ""),
              StatusIs(absl::StatusCode::kInvalidArgument));
}

TEST(RuntimeMetricsTest, RendersReplayAndSubscriptionMetrics) {
  MetricsRegistry registry;
  auto rt = RegisterRuntimeMetrics(&registry, "conference");
  ASSERT_THAT(rt, IsOk());
  rt->replay_events->Increment(1200);
  rt->replay_seconds->Set(0.25);
  auto lag = rt->SubscriptionLag("case");
  auto connected = rt->SubscriptionConnected("case");
  ASSERT_THAT(lag, IsOk());
  ASSERT_THAT(connected, IsOk());
  (*lag)->Set(17);
  (*connected)->Set(1);
  EXPECT_THAT(rt->SubscriptionLag("bad\xFF"),
              StatusIs(absl::StatusCode::kInvalidArgument));

  // A second registration for the service gets the same children.
  auto again = RegisterRuntimeMetrics(&registry, "conference");
  ASSERT_THAT(again, IsOk());
  EXPECT_EQ(again->replay_events, rt->replay_events);
  EXPECT_EQ(*again->SubscriptionLag("case"), *lag);

  const std::string text = registry.Render();
  EXPECT_THAT(text, HasSubstr("# TYPE mend_replay_events_total counter\n"
                              "mend_replay_events_total{service=\"conference\"} 1200\n"));
  EXPECT_THAT(text, HasSubstr("# TYPE mend_replay_seconds gauge\n"
                              "mend_replay_seconds{service=\"conference\"} 0.25\n"));
  EXPECT_THAT(
      text,
      HasSubstr("# TYPE mend_subscription_lag_events gauge\n"
                "mend_subscription_lag_events{service=\"conference\",upstream=\"case\"} "
                "17\n"));
  EXPECT_THAT(
      text,
      HasSubstr("# TYPE mend_subscription_connected gauge\n"
                "mend_subscription_connected{service=\"conference\",upstream=\"case\"} "
                "1\n"));
}

}  // namespace
}  // namespace mend::metrics
