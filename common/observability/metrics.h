// MetricsRegistry: counters, gauges and histograms with labels, rendered in
// the Prometheus text exposition format 0.0.4 (what GET /metrics serves).
//
//   MetricsRegistry registry;
//   MEND_ASSIGN_OR_RETURN(CounterFamily* handled,
//       registry.AddCounterFamily("mend_widgets_total", "Widgets made.", {"kind"}));
//   MEND_ASSIGN_OR_RETURN(Counter* round, handled->WithLabels({"round"}));
//   round->Increment();                    // hot path: one relaxed atomic add
//   std::string text = registry.Render();
//
// Look a labelled child up once (WithLabels takes the family's lock) and keep
// the pointer: children live as long as the registry, and Counter::Increment,
// Gauge::Set/Add and Histogram::Observe are lock-free atomics.
//
// Collectors are callbacks run at the start of every Render, for values kept
// elsewhere (e.g. an EventStore's StoreStats): they copy them into gauges,
// counters (Counter::Set) and histograms (Histogram::Set).
//
// Every registry starts with two process metrics:
//   mend_process_start_time_seconds  gauge, Unix time the process started
//   mend_process_uptime_seconds      gauge, seconds since then (at scrape)
//
// Names: metric names match [a-zA-Z_:][a-zA-Z0-9_:]*, label names
// [a-zA-Z_][a-zA-Z0-9_]* and do not start with "__"; histograms may not use
// the label "le". Label values and help are any valid UTF-8; Render escapes
// them as the format requires (backslash, double quote, newline).
//
// Thread safety: every method of every class here may be called concurrently
// from any thread.
#ifndef MEND_COMMON_OBSERVABILITY_METRICS_H_
#define MEND_COMMON_OBSERVABILITY_METRICS_H_

#include <atomic>
#include <cstdint>
#include <functional>
#include <map>
#include <memory>
#include <string>
#include <string_view>
#include <vector>

#include "absl/base/thread_annotations.h"
#include "absl/status/status.h"
#include "absl/status/statusor.h"
#include "absl/synchronization/mutex.h"
#include "absl/time/time.h"

namespace mend::metrics {

template <typename T>
class Family;

// A monotonic count. Integer increments are exact (a uint64 add); fractional
// ones (e.g. seconds) are kept in a separate double. Rendered as an integer
// while no fractional amount was ever added.
class Counter {
 public:
  Counter() = default;
  Counter(const Counter&) = delete;
  Counter& operator=(const Counter&) = delete;

  void Increment(uint64_t n = 1) { whole_.fetch_add(n, std::memory_order_relaxed); }
  // Adds `v`, which must be finite and >= 0; anything else is ignored (a
  // counter never goes down).
  void Add(double v);
  // For collectors that mirror a count kept elsewhere: replaces the value.
  // Do not mix with Increment/Add on the same counter.
  void Set(uint64_t value);

  double Value() const;

 private:
  friend class Family<Counter>;
  void RenderValue(std::string* out) const;

  std::atomic<uint64_t> whole_{0};
  std::atomic<double> fraction_{0.0};
};

// A value that goes up and down.
class Gauge {
 public:
  Gauge() = default;
  Gauge(const Gauge&) = delete;
  Gauge& operator=(const Gauge&) = delete;

  void Set(double v) { value_.store(v, std::memory_order_relaxed); }
  void Add(double v) { value_.fetch_add(v, std::memory_order_relaxed); }
  void Increment() { Add(1.0); }
  void Decrement() { Add(-1.0); }

  double Value() const { return value_.load(std::memory_order_relaxed); }

 private:
  std::atomic<double> value_{0.0};
};

// Observations counted in fixed buckets. Bucket i holds observations v with
// bounds[i-1] < v <= bounds[i]; the implicit last bucket (+Inf) those above
// every bound. Rendered cumulatively as <name>_bucket{le="..."}, then
// <name>_sum and <name>_count.
class Histogram {
 public:
  Histogram(const Histogram&) = delete;
  Histogram& operator=(const Histogram&) = delete;

  // Adds one observation. NaN is ignored.
  void Observe(double v);
  void ObserveDuration(absl::Duration d) { Observe(absl::ToDoubleSeconds(d)); }

  // For collectors that mirror a histogram kept elsewhere: replaces the
  // contents. `bucket_counts` has one entry per bucket, +Inf last
  // (bounds().size() + 1 entries), each the count of that bucket alone (not
  // cumulative). INVALID_ARGUMENT (and nothing changes) for another size.
  absl::Status Set(const std::vector<uint64_t>& bucket_counts, double sum);

  struct Snapshot {
    std::vector<uint64_t> cumulative;  // one per bucket, +Inf last
    uint64_t count = 0;                // == cumulative.back()
    double sum = 0;
  };
  Snapshot Read() const;

  const std::vector<double>& bounds() const { return *bounds_; }

 private:
  friend class Family<Histogram>;
  explicit Histogram(const std::vector<double>* bounds);

  const std::vector<double>* const bounds_;  // owned by the family
  std::unique_ptr<std::atomic<uint64_t>[]> buckets_;
  std::atomic<double> sum_{0.0};
};

enum class MetricType { kCounter, kGauge, kHistogram };

// What every family has; the registry renders families through this.
class FamilyBase {
 public:
  virtual ~FamilyBase() = default;

  const std::string& name() const { return name_; }
  const std::string& help() const { return help_; }
  MetricType type() const { return type_; }
  const std::vector<std::string>& label_names() const { return label_names_; }
  const std::vector<double>& bounds() const { return bounds_; }  // histograms

 protected:
  FamilyBase(std::string name, std::string help, MetricType type,
             std::vector<std::string> label_names, std::vector<double> bounds);

 private:
  friend class MetricsRegistry;
  // Appends HELP, TYPE and every child's samples.
  virtual void Render(std::string* out) const = 0;

  const std::string name_;
  const std::string help_;
  const MetricType type_;
  const std::vector<std::string> label_names_;
  const std::vector<double> bounds_;
};

// The children of one metric name, one per distinct tuple of label values.
template <typename T>
class Family final : public FamilyBase {
 public:
  // The child with these label values (one per label name, in order), made
  // on first use with value zero. The pointer stays valid as long as the
  // registry. INVALID_ARGUMENT if the number of values differs from the
  // number of label names or a value is not valid UTF-8.
  absl::StatusOr<T*> WithLabels(const std::vector<std::string>& label_values);

 private:
  friend class MetricsRegistry;
  using FamilyBase::FamilyBase;
  void Render(std::string* out) const override;

  mutable absl::Mutex mu_;
  std::map<std::vector<std::string>, std::unique_ptr<T>> children_ ABSL_GUARDED_BY(mu_);
};

using CounterFamily = Family<Counter>;
using GaugeFamily = Family<Gauge>;
using HistogramFamily = Family<Histogram>;

class MetricsRegistry {
 public:
  static constexpr char kUptimeName[] = "mend_process_uptime_seconds";
  static constexpr char kStartTimeName[] = "mend_process_start_time_seconds";

  MetricsRegistry();
  ~MetricsRegistry();
  MetricsRegistry(const MetricsRegistry&) = delete;
  MetricsRegistry& operator=(const MetricsRegistry&) = delete;

  // Registers a family. Adding a family again with the same type, help,
  // label names (and bounds) returns the existing one, so independent parts
  // of a program can share it.
  //   INVALID_ARGUMENT  a malformed metric or label name, a label name given
  //                     twice, help that is not valid UTF-8, or (histograms)
  //                     bounds that are not finite and strictly increasing
  //                     (the +Inf bucket is implicit) or a label named "le".
  //   ALREADY_EXISTS    the name is taken by a different definition, or its
  //                     samples would collide with a histogram's
  //                     <name>_bucket/_sum/_count.
  absl::StatusOr<CounterFamily*> AddCounterFamily(std::string_view name,
                                                  std::string_view help,
                                                  std::vector<std::string> label_names);
  absl::StatusOr<GaugeFamily*> AddGaugeFamily(std::string_view name,
                                              std::string_view help,
                                              std::vector<std::string> label_names);
  absl::StatusOr<HistogramFamily*> AddHistogramFamily(
      std::string_view name, std::string_view help, std::vector<std::string> label_names,
      std::vector<double> bounds);

  // Unlabelled shortcuts: the family's only child. Errors as above.
  absl::StatusOr<Counter*> AddCounter(std::string_view name, std::string_view help);
  absl::StatusOr<Gauge*> AddGauge(std::string_view name, std::string_view help);
  absl::StatusOr<Histogram*> AddHistogram(std::string_view name, std::string_view help,
                                          std::vector<double> bounds);

  // Runs `collect` at the start of every Render (one collector at a time, in
  // the order added). It may set metrics of this registry and add families,
  // but must not add or remove collectors. INVALID_ARGUMENT for an empty name
  // or function; ALREADY_EXISTS if `name` is taken.
  absl::Status AddCollector(std::string_view name, std::function<void()> collect);
  // Removes a collector; once this returns it is not running and never runs
  // again. Removing an unknown name does nothing.
  void RemoveCollector(std::string_view name);

  // Runs the collectors, then renders every family in name order (children in
  // label-value order) as Prometheus text format 0.0.4.
  std::string Render() const;

 private:
  template <typename T>
  absl::StatusOr<Family<T>*> AddFamily(std::string_view name, std::string_view help,
                                       MetricType type,
                                       std::vector<std::string> label_names,
                                       std::vector<double> bounds);

  mutable absl::Mutex collectors_mu_;  // taken before mu_, never after
  std::vector<std::pair<std::string, std::function<void()>>> collectors_
      ABSL_GUARDED_BY(collectors_mu_);

  mutable absl::Mutex mu_;
  std::map<std::string, std::unique_ptr<FamilyBase>, std::less<>> families_
      ABSL_GUARDED_BY(mu_);
};

// Formats a sample value as the exposition format writes it: integers
// without a fraction, the shortest round-trip form otherwise, +Inf, -Inf, NaN.
std::string FormatValue(double v);

// Label value escaping of the exposition format: \ -> \\, " -> \", newline -> \n.
std::string EscapeLabelValue(std::string_view value);

}  // namespace mend::metrics

#endif  // MEND_COMMON_OBSERVABILITY_METRICS_H_
