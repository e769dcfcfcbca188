// Text format 0.0.4, as rendered here:
//
//   # HELP <name> <help, with \ and newline escaped>
//   # TYPE <name> counter|gauge|histogram
//   <name>{<label>="<escaped value>",...} <value>          counters, gauges
//   <name>_bucket{<labels>,le="<bound>"} <cumulative count>  histograms, one
//   <name>_bucket{<labels>,le="+Inf"} <count>                per bound, then
//   <name>_sum{<labels>} <sum>                               +Inf, sum, count
//   <name>_count{<labels>} <count>
//
// A family without labels renders its one sample without braces.
#include "common/observability/metrics.h"

#include <algorithm>
#include <charconv>
#include <cmath>
#include <limits>
#include <utility>

#include "absl/strings/str_cat.h"

namespace mend::metrics {
namespace {

constexpr char kProcessCollector[] = "mend_process";

// The process start, for mend_process_start_time_seconds: when the
// program's static initialisers ran (forced below), or the first use if a
// registry is made by another static initialiser before that.
absl::Time ProcessStart() {
  static const absl::Time start = absl::Now();
  return start;
}
[[maybe_unused]] const absl::Time kForceProcessStart = ProcessStart();

bool IsValidMetricName(std::string_view name) {
  if (name.empty()) return false;
  for (size_t i = 0; i < name.size(); ++i) {
    const char c = name[i];
    const bool alpha =
        (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || c == '_' || c == ':';
    const bool digit = c >= '0' && c <= '9';
    if (!alpha && !(digit && i > 0)) return false;
  }
  return true;
}

bool IsValidLabelName(std::string_view name) {
  if (name.empty() || name.substr(0, 2) == "__") return false;
  for (size_t i = 0; i < name.size(); ++i) {
    const char c = name[i];
    const bool alpha = (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || c == '_';
    const bool digit = c >= '0' && c <= '9';
    if (!alpha && !(digit && i > 0)) return false;
  }
  return true;
}

// Well-formed UTF-8 (no overlong forms, surrogates or code points past
// U+10FFFF).
bool IsValidUtf8(std::string_view s) {
  size_t i = 0;
  while (i < s.size()) {
    const auto c = static_cast<unsigned char>(s[i]);
    size_t n;
    uint32_t cp;
    if (c < 0x80) {
      ++i;
      continue;
    } else if ((c & 0xE0) == 0xC0) {
      n = 1;
      cp = c & 0x1F;
    } else if ((c & 0xF0) == 0xE0) {
      n = 2;
      cp = c & 0x0F;
    } else if ((c & 0xF8) == 0xF0) {
      n = 3;
      cp = c & 0x07;
    } else {
      return false;
    }
    if (s.size() - i < n + 1) return false;
    for (size_t k = 1; k <= n; ++k) {
      const auto cc = static_cast<unsigned char>(s[i + k]);
      if ((cc & 0xC0) != 0x80) return false;
      cp = (cp << 6) | (cc & 0x3F);
    }
    if ((n == 1 && cp < 0x80) || (n == 2 && cp < 0x800) || (n == 3 && cp < 0x10000) ||
        cp > 0x10FFFF || (cp >= 0xD800 && cp <= 0xDFFF)) {
      return false;
    }
    i += n + 1;
  }
  return true;
}

std::string EscapeHelp(std::string_view help) {
  std::string out;
  out.reserve(help.size());
  for (char c : help) {
    if (c == '\\') {
      out += "\\\\";
    } else if (c == '\n') {
      out += "\\n";
    } else {
      out += c;
    }
  }
  return out;
}

const char* TypeName(MetricType type) {
  switch (type) {
    case MetricType::kCounter:
      return "counter";
    case MetricType::kGauge:
      return "gauge";
    case MetricType::kHistogram:
      return "histogram";
  }
  return "untyped";
}

// `{a="x",b="y"` plus `extra` (already formatted, e.g. le="0.5") and `}`;
// nothing at all when there are neither labels nor extra.
void AppendLabels(const std::vector<std::string>& names,
                  const std::vector<std::string>& values, std::string_view extra,
                  std::string* out) {
  if (names.empty() && extra.empty()) return;
  out->push_back('{');
  for (size_t i = 0; i < names.size(); ++i) {
    if (i > 0) out->push_back(',');
    absl::StrAppend(out, names[i], "=\"", EscapeLabelValue(values[i]), "\"");
  }
  if (!extra.empty()) {
    if (!names.empty()) out->push_back(',');
    out->append(extra);
  }
  out->push_back('}');
}

void AppendHeader(const FamilyBase& family, std::string* out) {
  absl::StrAppend(out, "# HELP ", family.name(), " ", EscapeHelp(family.help()), "\n",
                  "# TYPE ", family.name(), " ", TypeName(family.type()), "\n");
}

void AddDouble(std::atomic<double>* target, double v) {
  target->fetch_add(v, std::memory_order_relaxed);
}

}  // namespace

std::string FormatValue(double v) {
  if (std::isnan(v)) return "NaN";
  if (std::isinf(v)) return v > 0 ? "+Inf" : "-Inf";
  // Like Go's strconv.FormatFloat(v, 'g', -1, 64), which Prometheus' own
  // clients use: the shortest digits that round-trip, in positional notation
  // for 1e-4 <= |v| < 1e21 ("0.0005", not "5e-04"), else with an exponent.
  const double magnitude = std::fabs(v);
  const std::chars_format format = (v == 0 || (magnitude >= 1e-4 && magnitude < 1e21))
                                       ? std::chars_format::fixed
                                       : std::chars_format::scientific;
  char buf[512];  // fixed notation of a value below 1e21 needs at most ~30
  auto [end, ec] = std::to_chars(buf, buf + sizeof(buf), v, format);
  if (ec != std::errc()) return "NaN";  // cannot happen with this buffer
  return std::string(buf, end);
}

std::string EscapeLabelValue(std::string_view value) {
  std::string out;
  out.reserve(value.size());
  for (char c : value) {
    if (c == '\\') {
      out += "\\\\";
    } else if (c == '"') {
      out += "\\\"";
    } else if (c == '\n') {
      out += "\\n";
    } else {
      out += c;
    }
  }
  return out;
}

// ---------------------------------------------------------------- Counter

void Counter::Add(double v) {
  if (!(v >= 0) || std::isinf(v)) return;
  AddDouble(&fraction_, v);
}

void Counter::Set(uint64_t value) {
  whole_.store(value, std::memory_order_relaxed);
  fraction_.store(0.0, std::memory_order_relaxed);
}

double Counter::Value() const {
  return static_cast<double>(whole_.load(std::memory_order_relaxed)) +
         fraction_.load(std::memory_order_relaxed);
}

void Counter::RenderValue(std::string* out) const {
  const uint64_t whole = whole_.load(std::memory_order_relaxed);
  const double fraction = fraction_.load(std::memory_order_relaxed);
  if (fraction == 0.0) {
    absl::StrAppend(out, whole);
  } else {
    out->append(FormatValue(static_cast<double>(whole) + fraction));
  }
}

// -------------------------------------------------------------- Histogram

Histogram::Histogram(const std::vector<double>* bounds)
    : bounds_(bounds),
      buckets_(std::make_unique<std::atomic<uint64_t>[]>(bounds->size() + 1)) {}

void Histogram::Observe(double v) {
  if (std::isnan(v)) return;
  const size_t i =
      std::lower_bound(bounds_->begin(), bounds_->end(), v) - bounds_->begin();
  buckets_[i].fetch_add(1, std::memory_order_relaxed);
  AddDouble(&sum_, v);
}

absl::Status Histogram::Set(const std::vector<uint64_t>& bucket_counts, double sum) {
  if (bucket_counts.size() != bounds_->size() + 1) {
    return absl::InvalidArgumentError(absl::StrCat("histogram has ", bounds_->size() + 1,
                                                   " buckets, got ", bucket_counts.size(),
                                                   " counts"));
  }
  for (size_t i = 0; i < bucket_counts.size(); ++i) {
    buckets_[i].store(bucket_counts[i], std::memory_order_relaxed);
  }
  sum_.store(sum, std::memory_order_relaxed);
  return absl::OkStatus();
}

Histogram::Snapshot Histogram::Read() const {
  Snapshot s;
  s.cumulative.resize(bounds_->size() + 1);
  uint64_t total = 0;
  for (size_t i = 0; i < s.cumulative.size(); ++i) {
    total += buckets_[i].load(std::memory_order_relaxed);
    s.cumulative[i] = total;
  }
  s.count = total;
  s.sum = sum_.load(std::memory_order_relaxed);
  return s;
}

// ----------------------------------------------------------------- Family

FamilyBase::FamilyBase(std::string name, std::string help, MetricType type,
                       std::vector<std::string> label_names, std::vector<double> bounds)
    : name_(std::move(name)),
      help_(std::move(help)),
      type_(type),
      label_names_(std::move(label_names)),
      bounds_(std::move(bounds)) {}

template <typename T>
absl::StatusOr<T*> Family<T>::WithLabels(const std::vector<std::string>& label_values) {
  if (label_values.size() != label_names().size()) {
    return absl::InvalidArgumentError(absl::StrCat("metric ", name(), " has ",
                                                   label_names().size(), " labels, got ",
                                                   label_values.size(), " values"));
  }
  absl::MutexLock lock(&mu_);
  auto it = children_.find(label_values);
  if (it != children_.end()) return it->second.get();
  for (size_t i = 0; i < label_values.size(); ++i) {
    if (!IsValidUtf8(label_values[i])) {
      return absl::InvalidArgumentError(absl::StrCat(
          "metric ", name(), ": value of label ", label_names()[i], " is not UTF-8"));
    }
  }
  std::unique_ptr<T> child;
  if constexpr (std::is_same_v<T, Histogram>) {
    child.reset(new Histogram(&bounds()));
  } else {
    child = std::make_unique<T>();
  }
  T* raw = child.get();
  children_.emplace(label_values, std::move(child));
  return raw;
}

template <typename T>
void Family<T>::Render(std::string* out) const {
  AppendHeader(*this, out);
  absl::MutexLock lock(&mu_);
  for (const auto& [values, child] : children_) {
    if constexpr (std::is_same_v<T, Histogram>) {
      const Histogram::Snapshot s = child->Read();
      for (size_t i = 0; i < s.cumulative.size(); ++i) {
        const std::string le =
            i < bounds().size() ? FormatValue(bounds()[i]) : std::string("+Inf");
        absl::StrAppend(out, name(), "_bucket");
        AppendLabels(label_names(), values, absl::StrCat("le=\"", le, "\""), out);
        absl::StrAppend(out, " ", s.cumulative[i], "\n");
      }
      absl::StrAppend(out, name(), "_sum");
      AppendLabels(label_names(), values, "", out);
      absl::StrAppend(out, " ", FormatValue(s.sum), "\n");
      absl::StrAppend(out, name(), "_count");
      AppendLabels(label_names(), values, "", out);
      absl::StrAppend(out, " ", s.count, "\n");
    } else if constexpr (std::is_same_v<T, Counter>) {
      out->append(name());
      AppendLabels(label_names(), values, "", out);
      out->push_back(' ');
      child->RenderValue(out);
      out->push_back('\n');
    } else {
      out->append(name());
      AppendLabels(label_names(), values, "", out);
      absl::StrAppend(out, " ", FormatValue(child->Value()), "\n");
    }
  }
}

template class Family<Counter>;
template class Family<Gauge>;
template class Family<Histogram>;

// --------------------------------------------------------------- Registry

MetricsRegistry::MetricsRegistry() {
  // Fixed, valid names: these cannot fail on a fresh registry.
  Gauge* start = *AddGauge(kStartTimeName,
                           "Start time of the process since the Unix epoch, in seconds.");
  Gauge* uptime = *AddGauge(kUptimeName, "Seconds since the process started.");
  start->Set(absl::ToDoubleSeconds(ProcessStart() - absl::UnixEpoch()));
  absl::MutexLock lock(&collectors_mu_);
  collectors_.emplace_back(kProcessCollector, [uptime] {
    uptime->Set(absl::ToDoubleSeconds(absl::Now() - ProcessStart()));
  });
}

MetricsRegistry::~MetricsRegistry() = default;

template <typename T>
absl::StatusOr<Family<T>*> MetricsRegistry::AddFamily(
    std::string_view name, std::string_view help, MetricType type,
    std::vector<std::string> label_names, std::vector<double> bounds) {
  if (!IsValidMetricName(name)) {
    return absl::InvalidArgumentError(
        absl::StrCat("invalid metric name \"", std::string(name), "\""));
  }
  if (!IsValidUtf8(help)) {
    return absl::InvalidArgumentError(
        absl::StrCat("help of metric ", std::string(name), " is not UTF-8"));
  }
  for (size_t i = 0; i < label_names.size(); ++i) {
    if (!IsValidLabelName(label_names[i])) {
      return absl::InvalidArgumentError(absl::StrCat(
          "metric ", std::string(name), ": invalid label name \"", label_names[i], "\""));
    }
    if (type == MetricType::kHistogram && label_names[i] == "le") {
      return absl::InvalidArgumentError(absl::StrCat(
          "histogram ", std::string(name), " may not have a label named \"le\""));
    }
    for (size_t j = 0; j < i; ++j) {
      if (label_names[j] == label_names[i]) {
        return absl::InvalidArgumentError(absl::StrCat(
            "metric ", std::string(name), ": label ", label_names[i], " given twice"));
      }
    }
  }
  for (size_t i = 0; i < bounds.size(); ++i) {
    if (!std::isfinite(bounds[i]) || (i > 0 && !(bounds[i] > bounds[i - 1]))) {
      return absl::InvalidArgumentError(absl::StrCat(
          "histogram ", std::string(name),
          ": bucket bounds must be finite and strictly increasing (+Inf is implicit)"));
    }
  }

  absl::MutexLock lock(&mu_);
  if (auto it = families_.find(name); it != families_.end()) {
    FamilyBase* existing = it->second.get();
    if (existing->type() == type && existing->help() == help &&
        existing->label_names() == label_names && existing->bounds() == bounds) {
      return static_cast<Family<T>*>(existing);
    }
    return absl::AlreadyExistsError(absl::StrCat(
        "metric ", std::string(name), " is already registered with another definition"));
  }
  // Histograms render <name>_bucket, _sum and _count: no other family may
  // render a sample of the same name.
  static constexpr std::string_view kSuffixes[] = {"_bucket", "_sum", "_count"};
  for (std::string_view suffix : kSuffixes) {
    if (type == MetricType::kHistogram &&
        families_.contains(absl::StrCat(std::string(name), std::string(suffix)))) {
      return absl::AlreadyExistsError(
          absl::StrCat("histogram ", std::string(name), " would collide with metric ",
                       std::string(name), std::string(suffix)));
    }
    if (name.size() > suffix.size() && name.ends_with(suffix)) {
      auto it = families_.find(name.substr(0, name.size() - suffix.size()));
      if (it != families_.end() && it->second->type() == MetricType::kHistogram) {
        return absl::AlreadyExistsError(absl::StrCat(
            "metric ", std::string(name), " would collide with histogram ", it->first));
      }
    }
  }
  std::unique_ptr<Family<T>> family(new Family<T>(std::string(name), std::string(help),
                                                  type, std::move(label_names),
                                                  std::move(bounds)));
  Family<T>* raw = family.get();
  families_.emplace(std::string(name), std::move(family));
  return raw;
}

absl::StatusOr<CounterFamily*> MetricsRegistry::AddCounterFamily(
    std::string_view name, std::string_view help, std::vector<std::string> label_names) {
  return AddFamily<Counter>(name, help, MetricType::kCounter, std::move(label_names), {});
}

absl::StatusOr<GaugeFamily*> MetricsRegistry::AddGaugeFamily(
    std::string_view name, std::string_view help, std::vector<std::string> label_names) {
  return AddFamily<Gauge>(name, help, MetricType::kGauge, std::move(label_names), {});
}

absl::StatusOr<HistogramFamily*> MetricsRegistry::AddHistogramFamily(
    std::string_view name, std::string_view help, std::vector<std::string> label_names,
    std::vector<double> bounds) {
  return AddFamily<Histogram>(name, help, MetricType::kHistogram, std::move(label_names),
                              std::move(bounds));
}

absl::StatusOr<Counter*> MetricsRegistry::AddCounter(std::string_view name,
                                                     std::string_view help) {
  absl::StatusOr<CounterFamily*> family = AddCounterFamily(name, help, {});
  if (!family.ok()) return family.status();
  return (*family)->WithLabels({});
}

absl::StatusOr<Gauge*> MetricsRegistry::AddGauge(std::string_view name,
                                                 std::string_view help) {
  absl::StatusOr<GaugeFamily*> family = AddGaugeFamily(name, help, {});
  if (!family.ok()) return family.status();
  return (*family)->WithLabels({});
}

absl::StatusOr<Histogram*> MetricsRegistry::AddHistogram(std::string_view name,
                                                         std::string_view help,
                                                         std::vector<double> bounds) {
  absl::StatusOr<HistogramFamily*> family =
      AddHistogramFamily(name, help, {}, std::move(bounds));
  if (!family.ok()) return family.status();
  return (*family)->WithLabels({});
}

absl::Status MetricsRegistry::AddCollector(std::string_view name,
                                           std::function<void()> collect) {
  if (name.empty() || !collect) {
    return absl::InvalidArgumentError("a collector needs a name and a function");
  }
  absl::MutexLock lock(&collectors_mu_);
  for (const auto& [existing, fn] : collectors_) {
    if (existing == name) {
      return absl::AlreadyExistsError(
          absl::StrCat("collector ", std::string(name), " is already registered"));
    }
  }
  collectors_.emplace_back(std::string(name), std::move(collect));
  return absl::OkStatus();
}

void MetricsRegistry::RemoveCollector(std::string_view name) {
  absl::MutexLock lock(&collectors_mu_);
  std::erase_if(collectors_, [&](const auto& c) { return c.first == name; });
}

std::string MetricsRegistry::Render() const {
  {
    absl::MutexLock lock(&collectors_mu_);
    for (const auto& [name, collect] : collectors_) collect();
  }
  std::string out;
  absl::MutexLock lock(&mu_);
  for (const auto& [name, family] : families_) family->Render(&out);
  return out;
}

}  // namespace mend::metrics
