#include "common/observability/metrics.h"

#include <cmath>
#include <limits>
#include <string>
#include <thread>
#include <vector>

#include "absl/strings/str_split.h"
#include "absl/time/clock.h"
#include "gmock/gmock.h"
#include "gtest/gtest.h"
#include "tests/support/test_util.h"

namespace mend::metrics {
namespace {

using ::mend::testing::IsOk;
using ::mend::testing::StatusIs;
using ::testing::HasSubstr;

// The block of `text` that belongs to family `name`: from its "# HELP" line
// up to the next family's (Render writes each family's lines together).
std::string FamilyText(const std::string& text, const std::string& name) {
  const std::string start = "# HELP " + name + " ";
  size_t begin = text.find(start);
  if (begin == std::string::npos) return "";
  size_t end = text.find("# HELP ", begin + start.size());
  return text.substr(begin, end == std::string::npos ? std::string::npos : end - begin);
}

// The value of one sample line "series value", or NaN when there is none.
double Sample(const std::string& text, const std::string& series) {
  for (const std::string& line : std::vector<std::string>(absl::StrSplit(text, '\n'))) {
    if (line.size() > series.size() && line.substr(0, series.size()) == series &&
        line[series.size()] == ' ') {
      return std::stod(line.substr(series.size() + 1));
    }
  }
  return std::nan("");
}

TEST(MetricsRegistryTest, CounterFamilyRendersExactText) {
  MetricsRegistry registry;
  auto family = registry.AddCounterFamily("mend_test_requests_total", "Requests handled.",
                                          {"method", "code"});
  ASSERT_THAT(family, IsOk());
  auto ok = (*family)->WithLabels({"Read", "OK"});
  auto bad = (*family)->WithLabels({"Append", "INVALID_ARGUMENT"});
  ASSERT_THAT(ok, IsOk());
  ASSERT_THAT(bad, IsOk());
  (*ok)->Increment();
  (*ok)->Increment(41);
  (*bad)->Increment();
  // The same labels give the same child.
  EXPECT_EQ(*(*family)->WithLabels({"Read", "OK"}), *ok);

  EXPECT_EQ(FamilyText(registry.Render(), "mend_test_requests_total"),
            "# HELP mend_test_requests_total Requests handled.\n"
            "# TYPE mend_test_requests_total counter\n"
            "mend_test_requests_total{method=\"Append\",code=\"INVALID_ARGUMENT\"} 1\n"
            "mend_test_requests_total{method=\"Read\",code=\"OK\"} 42\n");
}

TEST(MetricsRegistryTest, UnlabelledMetricsRenderWithoutBraces) {
  MetricsRegistry registry;
  auto counter = registry.AddCounter("mend_test_things_total", "Things.");
  auto gauge = registry.AddGauge("mend_test_level", "Level.");
  ASSERT_THAT(counter, IsOk());
  ASSERT_THAT(gauge, IsOk());
  (*counter)->Increment(3);
  (*gauge)->Set(-2.5);
  (*gauge)->Add(1.0);
  const std::string text = registry.Render();
  EXPECT_EQ(FamilyText(text, "mend_test_things_total"),
            "# HELP mend_test_things_total Things.\n"
            "# TYPE mend_test_things_total counter\n"
            "mend_test_things_total 3\n");
  EXPECT_EQ(FamilyText(text, "mend_test_level"),
            "# HELP mend_test_level Level.\n"
            "# TYPE mend_test_level gauge\n"
            "mend_test_level -1.5\n");
}

TEST(MetricsRegistryTest, CounterAddsFractionsAndNeverGoesDown) {
  MetricsRegistry registry;
  Counter* c = *registry.AddCounter("mend_test_seconds_total", "Seconds.");
  c->Increment(2);
  c->Add(0.25);
  c->Add(-1.0);                                     // ignored
  c->Add(std::nan(""));                             // ignored
  c->Add(std::numeric_limits<double>::infinity());  // ignored
  EXPECT_EQ(c->Value(), 2.25);
  EXPECT_THAT(registry.Render(), HasSubstr("\nmend_test_seconds_total 2.25\n"));
}

TEST(MetricsRegistryTest, HistogramRendersCumulativeBuckets) {
  MetricsRegistry registry;
  auto family = registry.AddHistogramFamily("mend_test_latency_seconds", "Latency.",
                                            {"method"}, {0.25, 0.5, 1});
  ASSERT_THAT(family, IsOk());
  Histogram* h = *(*family)->WithLabels({"Read"});
  h->Observe(0.25);          // on a bound: counts in le="0.25"
  h->Observe(0.125);         // le="0.25"
  h->Observe(0.5);           // le="0.5"
  h->Observe(2);             // only +Inf
  h->Observe(std::nan(""));  // ignored

  EXPECT_EQ(FamilyText(registry.Render(), "mend_test_latency_seconds"),
            "# HELP mend_test_latency_seconds Latency.\n"
            "# TYPE mend_test_latency_seconds histogram\n"
            "mend_test_latency_seconds_bucket{method=\"Read\",le=\"0.25\"} 2\n"
            "mend_test_latency_seconds_bucket{method=\"Read\",le=\"0.5\"} 3\n"
            "mend_test_latency_seconds_bucket{method=\"Read\",le=\"1\"} 3\n"
            "mend_test_latency_seconds_bucket{method=\"Read\",le=\"+Inf\"} 4\n"
            "mend_test_latency_seconds_sum{method=\"Read\"} 2.875\n"
            "mend_test_latency_seconds_count{method=\"Read\"} 4\n");

  const Histogram::Snapshot s = h->Read();
  EXPECT_EQ(s.cumulative, (std::vector<uint64_t>{2, 3, 3, 4}));
  EXPECT_EQ(s.count, 4u);
  EXPECT_EQ(s.sum, 2.875);
}

TEST(MetricsRegistryTest, UnlabelledHistogramHasOnlyTheLeLabel) {
  MetricsRegistry registry;
  Histogram* h = *registry.AddHistogram("mend_test_size", "Size.", {1});
  h->Observe(1);
  EXPECT_EQ(FamilyText(registry.Render(), "mend_test_size"),
            "# HELP mend_test_size Size.\n"
            "# TYPE mend_test_size histogram\n"
            "mend_test_size_bucket{le=\"1\"} 1\n"
            "mend_test_size_bucket{le=\"+Inf\"} 1\n"
            "mend_test_size_sum 1\n"
            "mend_test_size_count 1\n");
}

TEST(MetricsRegistryTest, BucketsAreCumulativeForEveryObservation) {
  MetricsRegistry registry;
  const std::vector<double> bounds = {0.001, 0.01, 0.1, 1, 10};
  Histogram* h = *registry.AddHistogram("mend_test_spread", "Spread.", bounds);
  for (int i = 0; i < 1000; ++i) h->Observe(i * 0.013);
  const Histogram::Snapshot s = h->Read();
  ASSERT_EQ(s.cumulative.size(), bounds.size() + 1);
  for (size_t b = 0; b < bounds.size(); ++b) {
    uint64_t expected = 0;
    for (int i = 0; i < 1000; ++i) expected += (i * 0.013 <= bounds[b]) ? 1 : 0;
    EXPECT_EQ(s.cumulative[b], expected) << "le=" << bounds[b];
    if (b > 0) {
      EXPECT_GE(s.cumulative[b], s.cumulative[b - 1]);
    }
  }
  EXPECT_EQ(s.cumulative.back(), 1000u);
  EXPECT_EQ(s.count, 1000u);
}

TEST(MetricsRegistryTest, EscapesLabelValuesAndHelp) {
  MetricsRegistry registry;
  auto family = registry.AddGaugeFamily("mend_test_escaped",
                                        "Back\\slash and\nnewline \"q\".", {"path"});
  ASSERT_THAT(family, IsOk());
  ASSERT_THAT((*family)->WithLabels({"a\\b\"c\nd"}), IsOk());
  ASSERT_THAT((*family)->WithLabels({"caf\xC3\xA9"}), IsOk());  // UTF-8 as is
  EXPECT_EQ(FamilyText(registry.Render(), "mend_test_escaped"),
            "# HELP mend_test_escaped Back\\\\slash and\\nnewline \"q\".\n"
            "# TYPE mend_test_escaped gauge\n"
            "mend_test_escaped{path=\"a\\\\b\\\"c\\nd\"} 0\n"
            "mend_test_escaped{path=\"caf\xC3\xA9\"} 0\n");
  EXPECT_EQ(EscapeLabelValue("x\"\\\n"), "x\\\"\\\\\\n");
}

TEST(MetricsRegistryTest, FormatsSpecialAndFractionalValues) {
  EXPECT_EQ(FormatValue(1), "1");
  EXPECT_EQ(FormatValue(0.0005), "0.0005");
  EXPECT_EQ(FormatValue(-2.5), "-2.5");
  EXPECT_EQ(FormatValue(0.0001), "0.0001");
  EXPECT_EQ(FormatValue(0.00001), "1e-05");
  EXPECT_EQ(FormatValue(123456789), "123456789");
  EXPECT_EQ(FormatValue(1e20), "100000000000000000000");
  EXPECT_EQ(FormatValue(1e21), "1e+21");
  EXPECT_EQ(FormatValue(0), "0");
  EXPECT_EQ(FormatValue(std::numeric_limits<double>::infinity()), "+Inf");
  EXPECT_EQ(FormatValue(-std::numeric_limits<double>::infinity()), "-Inf");
  EXPECT_EQ(FormatValue(std::nan("")), "NaN");
}

TEST(MetricsRegistryTest, ConcurrentUpdatesSumExactly) {
  MetricsRegistry registry;
  auto family = registry.AddCounterFamily("mend_test_hits_total", "Hits.", {"who"});
  ASSERT_THAT(family, IsOk());
  Gauge* gauge = *registry.AddGauge("mend_test_gauge", "Gauge.");
  Histogram* histogram = *registry.AddHistogram("mend_test_hist", "Hist.", {0.5, 1.5});
  constexpr int kThreads = 8;
  constexpr int kPerThread = 100000;
  std::vector<std::thread> threads;
  for (int t = 0; t < kThreads; ++t) {
    threads.emplace_back([&] {
      // Every thread looks the child up itself: all get the same one.
      Counter* counter = *(*family)->WithLabels({"all"});
      for (int i = 0; i < kPerThread; ++i) {
        counter->Increment();
        gauge->Add(1.0);
        histogram->Observe(i % 2);  // 0 and 1
      }
    });
  }
  // Scrapes while the writers run must not disturb them.
  for (int i = 0; i < 20; ++i) registry.Render();
  for (auto& t : threads) t.join();

  const std::string text = registry.Render();
  EXPECT_EQ(Sample(text, "mend_test_hits_total{who=\"all\"}"), kThreads * kPerThread);
  EXPECT_EQ(gauge->Value(), kThreads * kPerThread);
  const Histogram::Snapshot s = histogram->Read();
  EXPECT_EQ(s.cumulative,
            (std::vector<uint64_t>{kThreads * kPerThread / 2, kThreads * kPerThread,
                                   kThreads * kPerThread}));
  EXPECT_EQ(s.sum, kThreads * kPerThread / 2);
}

TEST(MetricsRegistryTest, RejectsMalformedNames) {
  MetricsRegistry registry;
  for (const char* name : {"", "1abc", "a-b", "a b", "é"}) {
    EXPECT_THAT(registry.AddCounter(name, "h"),
                StatusIs(absl::StatusCode::kInvalidArgument))
        << name;
  }
  EXPECT_THAT(registry.AddCounter("ns:sub_name_2", "h"), IsOk());
  for (const char* label : {"", "__reserved", "9x", "a:b", "a-b"}) {
    EXPECT_THAT(registry.AddGaugeFamily("mend_test_g", "h", {label}),
                StatusIs(absl::StatusCode::kInvalidArgument))
        << label;
  }
  EXPECT_THAT(registry.AddGaugeFamily("mend_test_g", "h", {"a", "a"}),
              StatusIs(absl::StatusCode::kInvalidArgument));
  EXPECT_THAT(registry.AddHistogramFamily("mend_test_h", "h", {"le"}, {1}),
              StatusIs(absl::StatusCode::kInvalidArgument));
  EXPECT_THAT(registry.AddGauge("mend_test_bad_help", "\xFF"),
              StatusIs(absl::StatusCode::kInvalidArgument));
}

TEST(MetricsRegistryTest, RejectsBadBucketBounds) {
  MetricsRegistry registry;
  const double inf = std::numeric_limits<double>::infinity();
  for (const std::vector<double>& bounds :
       std::vector<std::vector<double>>{{1, 1}, {2, 1}, {1, inf}, {std::nan("")}}) {
    EXPECT_THAT(registry.AddHistogram("mend_test_h", "h", bounds),
                StatusIs(absl::StatusCode::kInvalidArgument));
  }
  EXPECT_THAT(registry.AddHistogram("mend_test_h", "h", {}), IsOk());  // only +Inf
}

TEST(MetricsRegistryTest, SameDefinitionIsSharedAndAnotherIsRefused) {
  MetricsRegistry registry;
  auto a = registry.AddCounterFamily("mend_test_x_total", "X.", {"k"});
  auto b = registry.AddCounterFamily("mend_test_x_total", "X.", {"k"});
  ASSERT_THAT(a, IsOk());
  ASSERT_THAT(b, IsOk());
  EXPECT_EQ(*a, *b);
  EXPECT_THAT(registry.AddGaugeFamily("mend_test_x_total", "X.", {"k"}),
              StatusIs(absl::StatusCode::kAlreadyExists));
  EXPECT_THAT(registry.AddCounterFamily("mend_test_x_total", "X.", {"j"}),
              StatusIs(absl::StatusCode::kAlreadyExists));
  EXPECT_THAT(registry.AddCounterFamily("mend_test_x_total", "Other help.", {"k"}),
              StatusIs(absl::StatusCode::kAlreadyExists));
  EXPECT_THAT(registry.AddGauge(MetricsRegistry::kUptimeName, "mine"),
              StatusIs(absl::StatusCode::kAlreadyExists));
  // A histogram's samples may not collide with another family's.
  ASSERT_THAT(registry.AddHistogram("mend_test_lat", "L.", {1}), IsOk());
  EXPECT_THAT(registry.AddCounter("mend_test_lat_count", "C."),
              StatusIs(absl::StatusCode::kAlreadyExists));
  EXPECT_THAT(registry.AddGauge("mend_test_lat_bucket", "B."),
              StatusIs(absl::StatusCode::kAlreadyExists));
  ASSERT_THAT(registry.AddGauge("mend_test_y_sum", "S."), IsOk());
  EXPECT_THAT(registry.AddHistogram("mend_test_y", "Y.", {1}),
              StatusIs(absl::StatusCode::kAlreadyExists));
}

TEST(MetricsRegistryTest, WithLabelsRefusesWrongCountAndNonUtf8) {
  MetricsRegistry registry;
  GaugeFamily* family = *registry.AddGaugeFamily("mend_test_two", "Two.", {"a", "b"});
  EXPECT_THAT(family->WithLabels({"x"}), StatusIs(absl::StatusCode::kInvalidArgument));
  EXPECT_THAT(family->WithLabels({"x", "y", "z"}),
              StatusIs(absl::StatusCode::kInvalidArgument));
  EXPECT_THAT(family->WithLabels({"x", "\xC3"}),
              StatusIs(absl::StatusCode::kInvalidArgument));
  EXPECT_THAT(family->WithLabels({"x", "\xED\xA0\x80"}),  // a UTF-16 surrogate
              StatusIs(absl::StatusCode::kInvalidArgument));
  EXPECT_THAT(family->WithLabels({"x", "y"}), IsOk());
  // Refused children are not rendered.
  EXPECT_EQ(FamilyText(registry.Render(), "mend_test_two"),
            "# HELP mend_test_two Two.\n"
            "# TYPE mend_test_two gauge\n"
            "mend_test_two{a=\"x\",b=\"y\"} 0\n");
}

TEST(MetricsRegistryTest, CollectorsRunAtRenderAndStopWhenRemoved) {
  MetricsRegistry registry;
  Counter* mirrored = *registry.AddCounter("mend_test_outside_total", "Outside.");
  Histogram* hist = *registry.AddHistogram("mend_test_outside_hist", "Outside.", {1, 2});
  uint64_t outside = 5;
  int runs = 0;
  ASSERT_THAT(registry.AddCollector("outside",
                                    [&] {
                                      ++runs;
                                      mirrored->Set(outside);
                                      ASSERT_THAT(hist->Set({1, 0, 2}, 7.5), IsOk());
                                    }),
              IsOk());
  EXPECT_THAT(registry.AddCollector("outside", [] {}),
              StatusIs(absl::StatusCode::kAlreadyExists));
  EXPECT_THAT(registry.AddCollector("", [] {}),
              StatusIs(absl::StatusCode::kInvalidArgument));
  EXPECT_THAT(registry.AddCollector("empty", nullptr),
              StatusIs(absl::StatusCode::kInvalidArgument));

  std::string text = registry.Render();
  EXPECT_EQ(runs, 1);
  EXPECT_EQ(Sample(text, "mend_test_outside_total"), 5);
  EXPECT_EQ(Sample(text, "mend_test_outside_hist_bucket{le=\"1\"}"), 1);
  EXPECT_EQ(Sample(text, "mend_test_outside_hist_bucket{le=\"2\"}"), 1);
  EXPECT_EQ(Sample(text, "mend_test_outside_hist_bucket{le=\"+Inf\"}"), 3);
  EXPECT_EQ(Sample(text, "mend_test_outside_hist_sum"), 7.5);
  EXPECT_EQ(Sample(text, "mend_test_outside_hist_count"), 3);

  outside = 9;
  EXPECT_EQ(Sample(registry.Render(), "mend_test_outside_total"), 9);
  registry.RemoveCollector("outside");
  registry.RemoveCollector("never-added");
  outside = 11;
  EXPECT_EQ(Sample(registry.Render(), "mend_test_outside_total"), 9);
  EXPECT_EQ(runs, 2);
}

TEST(MetricsRegistryTest, HistogramSetRefusesWrongBucketCount) {
  MetricsRegistry registry;
  Histogram* h = *registry.AddHistogram("mend_test_h", "H.", {1, 2});
  h->Observe(1);
  EXPECT_THAT(h->Set({1, 2}, 1), StatusIs(absl::StatusCode::kInvalidArgument));
  EXPECT_EQ(h->Read().count, 1u);  // unchanged
}

TEST(MetricsRegistryTest, HasProcessStartAndUptime) {
  MetricsRegistry registry;
  const std::string text = registry.Render();
  EXPECT_THAT(FamilyText(text, MetricsRegistry::kStartTimeName),
              HasSubstr("# TYPE mend_process_start_time_seconds gauge\n"));
  EXPECT_THAT(FamilyText(text, MetricsRegistry::kUptimeName),
              HasSubstr("# TYPE mend_process_uptime_seconds gauge\n"));
  const double start = Sample(text, MetricsRegistry::kStartTimeName);
  const double uptime = Sample(text, MetricsRegistry::kUptimeName);
  const double now = absl::ToDoubleSeconds(absl::Now() - absl::UnixEpoch());
  EXPECT_GT(start, 1.6e9);  // after 2020
  EXPECT_LE(start, now);
  EXPECT_GE(uptime, 0);
  // start + uptime is the time of the scrape, a moment ago.
  EXPECT_NEAR(start + uptime, now, 5.0);
  // Uptime is measured at each scrape.
  EXPECT_GE(Sample(registry.Render(), MetricsRegistry::kUptimeName), uptime);
}

TEST(MetricsRegistryTest, FamiliesRenderInNameOrder) {
  MetricsRegistry registry;
  ASSERT_THAT(registry.AddGauge("mend_zz", "Z."), IsOk());
  ASSERT_THAT(registry.AddGauge("mend_aa", "A."), IsOk());
  const std::string text = registry.Render();
  EXPECT_LT(text.find("# HELP mend_aa "), text.find("# HELP mend_process_start"));
  EXPECT_LT(text.find("# HELP mend_process_uptime"), text.find("# HELP mend_zz "));
}

}  // namespace
}  // namespace mend::metrics
