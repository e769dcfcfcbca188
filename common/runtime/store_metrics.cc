#include "common/runtime/store_metrics.h"

#include <vector>

#include "absl/strings/str_cat.h"
#include "common/base/status_macros.h"

namespace mend::metrics {
namespace {

using eventlog::EventStore;
using eventlog::StoreStats;

std::string CollectorName(std::string_view service) {
  return absl::StrCat("eventlog:", std::string(service));
}

template <typename T, size_t N>
std::vector<double> ToDoubles(const std::array<T, N>& bounds) {
  return std::vector<double>(bounds.begin(), bounds.end());
}

template <size_t N>
std::vector<uint64_t> Load(const std::array<std::atomic<uint64_t>, N>& buckets) {
  std::vector<uint64_t> out(N);
  for (size_t i = 0; i < N; ++i) out[i] = buckets[i].load(std::memory_order_relaxed);
  return out;
}

// The children one store's collector writes.
struct StoreChildren {
  Counter* appended_events;
  Counter* batches;
  Counter* fsyncs;
  Histogram* batch_requests;
  Histogram* fsync_seconds;
  Gauge* head_position;
};

absl::StatusOr<StoreChildren> MakeStoreChildren(MetricsRegistry* registry,
                                                const std::string& service) {
  const std::vector<std::string> labels = {"service"};
  StoreChildren c;
  MEND_ASSIGN_OR_RETURN(
      CounterFamily * appended,
      registry->AddCounterFamily("mend_eventlog_appended_events_total",
                                 "Events appended to the event log and made durable.",
                                 labels));
  MEND_ASSIGN_OR_RETURN(c.appended_events, appended->WithLabels({service}));
  MEND_ASSIGN_OR_RETURN(CounterFamily * batches,
                        registry->AddCounterFamily(
                            "mend_eventlog_batches_total",
                            "Group-commit batches written and made durable.", labels));
  MEND_ASSIGN_OR_RETURN(c.batches, batches->WithLabels({service}));
  MEND_ASSIGN_OR_RETURN(
      CounterFamily * fsyncs,
      registry->AddCounterFamily("mend_eventlog_fsyncs_total",
                                 "fsyncs of the event log's write-ahead log.", labels));
  MEND_ASSIGN_OR_RETURN(c.fsyncs, fsyncs->WithLabels({service}));
  MEND_ASSIGN_OR_RETURN(
      HistogramFamily * batch_requests,
      registry->AddHistogramFamily(
          "mend_eventlog_batch_requests",
          "Append requests answered by one write-ahead-log fsync (group-commit size).",
          labels, ToDoubles(StoreStats::kSyncRequestsBounds)));
  MEND_ASSIGN_OR_RETURN(c.batch_requests, batch_requests->WithLabels({service}));
  MEND_ASSIGN_OR_RETURN(
      HistogramFamily * fsync_seconds,
      registry->AddHistogramFamily("mend_eventlog_fsync_seconds",
                                   "Time of one write-ahead-log fsync, in seconds.",
                                   labels, ToDoubles(StoreStats::kSyncSecondsBounds)));
  MEND_ASSIGN_OR_RETURN(c.fsync_seconds, fsync_seconds->WithLabels({service}));
  MEND_ASSIGN_OR_RETURN(
      GaugeFamily * head,
      registry->AddGaugeFamily("mend_eventlog_head_position",
                               "Position of the last durable event (0 when empty).",
                               labels));
  MEND_ASSIGN_OR_RETURN(c.head_position, head->WithLabels({service}));
  return c;
}

void Collect(const EventStore& store, const StoreChildren& c) {
  const StoreStats& stats = store.stats();
  c.appended_events->Set(stats.events_appended.load(std::memory_order_relaxed));
  c.batches->Set(stats.batches_committed.load(std::memory_order_relaxed));
  c.fsyncs->Set(stats.syncs.load(std::memory_order_relaxed));
  // Sizes always match: the families were made from the same bounds.
  c.batch_requests
      ->Set(
          Load(stats.sync_requests_buckets),
          static_cast<double>(stats.sync_requests_total.load(std::memory_order_relaxed)))
      .IgnoreError();
  c.fsync_seconds
      ->Set(Load(stats.sync_seconds_buckets),
            static_cast<double>(stats.sync_nanos_total.load(std::memory_order_relaxed)) *
                1e-9)
      .IgnoreError();
  c.head_position->Set(static_cast<double>(store.GetHead().position));
}

absl::Status CheckService(const MetricsRegistry* registry, std::string_view service) {
  if (registry == nullptr) return absl::InvalidArgumentError("no metrics registry");
  if (service.empty())
    return absl::InvalidArgumentError("empty service name for metrics");
  return absl::OkStatus();
}

}  // namespace

absl::Status RegisterStoreMetrics(MetricsRegistry* registry, const EventStore* store,
                                  std::string_view service) {
  MEND_RETURN_IF_ERROR(CheckService(registry, service));
  if (store == nullptr) return absl::InvalidArgumentError("no event store for metrics");
  MEND_ASSIGN_OR_RETURN(StoreChildren children,
                        MakeStoreChildren(registry, std::string(service)));
  absl::Status added = registry->AddCollector(
      CollectorName(service), [store, children] { Collect(*store, children); });
  if (absl::IsAlreadyExists(added)) {
    return absl::AlreadyExistsError(absl::StrCat(
        "event log metrics are already registered for service ", std::string(service)));
  }
  return added;
}

void UnregisterStoreMetrics(MetricsRegistry* registry, std::string_view service) {
  if (registry == nullptr) return;
  registry->RemoveCollector(CollectorName(service));
}

absl::StatusOr<Gauge*> RuntimeMetrics::SubscriptionLag(std::string_view upstream) const {
  return subscription_lag->WithLabels({service, std::string(upstream)});
}

absl::StatusOr<Gauge*> RuntimeMetrics::SubscriptionConnected(
    std::string_view upstream) const {
  return subscription_connected->WithLabels({service, std::string(upstream)});
}

absl::StatusOr<RuntimeMetrics> RegisterRuntimeMetrics(MetricsRegistry* registry,
                                                      std::string_view service) {
  MEND_RETURN_IF_ERROR(CheckService(registry, service));
  RuntimeMetrics m;
  m.service = std::string(service);
  MEND_ASSIGN_OR_RETURN(
      CounterFamily * replay_events,
      registry->AddCounterFamily("mend_replay_events_total",
                                 "Events folded into the service's state while replaying "
                                 "its log at startup.",
                                 {"service"}));
  MEND_ASSIGN_OR_RETURN(m.replay_events, replay_events->WithLabels({m.service}));
  MEND_ASSIGN_OR_RETURN(
      GaugeFamily * replay_seconds,
      registry->AddGaugeFamily("mend_replay_seconds",
                               "Time the startup replay of the log took, in seconds.",
                               {"service"}));
  MEND_ASSIGN_OR_RETURN(m.replay_seconds, replay_seconds->WithLabels({m.service}));
  MEND_ASSIGN_OR_RETURN(
      m.subscription_lag,
      registry->AddGaugeFamily("mend_subscription_lag_events",
                               "Events the upstream log has that this service has not "
                               "handled yet.",
                               {"service", "upstream"}));
  MEND_ASSIGN_OR_RETURN(m.subscription_connected,
                        registry->AddGaugeFamily(
                            "mend_subscription_connected",
                            "1 while the subscription to the upstream is open, else 0.",
                            {"service", "upstream"}));
  MEND_ASSIGN_OR_RETURN(CounterFamily * backups,
                        registry->AddCounterFamily(
                            "mend_backups_total",
                            "Backups of the log taken (Admin.CreateBackup), by outcome.",
                            {"service", "outcome"}));
  MEND_ASSIGN_OR_RETURN(m.backups_ok, backups->WithLabels({m.service, "ok"}));
  MEND_ASSIGN_OR_RETURN(m.backups_failed, backups->WithLabels({m.service, "failed"}));
  MEND_ASSIGN_OR_RETURN(
      GaugeFamily * last_backup,
      registry->AddGaugeFamily("mend_backup_last_success_timestamp_seconds",
                               "When the newest complete backup under --backup_dir was "
                               "taken, in Unix seconds; 0 if there is none.",
                               {"service"}));
  MEND_ASSIGN_OR_RETURN(m.backup_last_success, last_backup->WithLabels({m.service}));
  return m;
}

}  // namespace mend::metrics
