// Metrics of a service's event log and of its runtime (replay, subscriptions).
//
//   MEND_RETURN_IF_ERROR(RegisterStoreMetrics(&registry, store.get(), "consent"));
//   MEND_ASSIGN_OR_RETURN(RuntimeMetrics rt, RegisterRuntimeMetrics(&registry,
//   "consent")); rt.replay_events->Increment(n);
//   rt.replay_seconds->Set(absl::ToDoubleSeconds(elapsed));
//   MEND_ASSIGN_OR_RETURN(Gauge* lag, rt.SubscriptionLag("case"));  // keep it
//   lag->Set(head - checkpoint);
//
// Every metric here has the label service="<service>", so several logs can
// share one registry (tests, or all services in one process).
//
// The event log (read from EventStore::stats() and GetHead() at each scrape):
//   mend_eventlog_appended_events_total  counter    durable events appended
//   mend_eventlog_batches_total          counter    durable group-commit batches
//   mend_eventlog_fsyncs_total           counter    WAL fsyncs
//   mend_eventlog_batch_requests         histogram  requests answered per fsync
//                                                   (the group-commit size)
//   mend_eventlog_fsync_seconds          histogram  time of one WAL fsync
//   mend_eventlog_head_position          gauge      last durable position
// The runtime (set by the service runtime):
//   mend_replay_events_total             counter    events folded at startup
//   mend_replay_seconds                  gauge      time the replay took
//   mend_subscription_lag_events{upstream}  gauge   upstream head minus the
//                                                   position handled
//   mend_subscription_connected{upstream}   gauge   1 while subscribed, else 0
//   mend_backups_total{outcome}          counter    Admin.CreateBackup calls
//                                                   ended ("ok" or "failed")
//   mend_backup_last_success_timestamp_seconds  gauge  when the newest
//                                                   complete backup was taken
//                                                   (0: none on the volume)
//
// Thread safety: as MetricsRegistry.
#ifndef MEND_COMMON_RUNTIME_STORE_METRICS_H_
#define MEND_COMMON_RUNTIME_STORE_METRICS_H_

#include <string>
#include <string_view>

#include "absl/status/status.h"
#include "absl/status/statusor.h"
#include "common/eventlog/event_store.h"
#include "common/observability/metrics.h"

namespace mend::metrics {

// Adds the event-log families (once per registry; shared by every service)
// and a collector named "eventlog:<service>" that copies `store`'s counters
// into them at each Render. The store must outlive the registry, or
// UnregisterStoreMetrics must be called before the store is closed.
//   INVALID_ARGUMENT  null registry or store, or `service` empty or not UTF-8.
//   ALREADY_EXISTS    metrics are registered for `service` already, or a
//                     family name is taken by another definition.
absl::Status RegisterStoreMetrics(MetricsRegistry* registry,
                                  const eventlog::EventStore* store,
                                  std::string_view service);

// Stops copying the store's counters (its last values stay rendered). After
// it returns the collector never touches the store again.
void UnregisterStoreMetrics(MetricsRegistry* registry, std::string_view service);

// The runtime's metrics for one service. Pointers stay valid as long as the
// registry.
struct RuntimeMetrics {
  std::string service;
  Counter* replay_events = nullptr;               // mend_replay_events_total
  Gauge* replay_seconds = nullptr;                // mend_replay_seconds
  GaugeFamily* subscription_lag = nullptr;        // labels: service, upstream
  GaugeFamily* subscription_connected = nullptr;  // labels: service, upstream
  Counter* backups_ok = nullptr;                  // mend_backups_total{outcome="ok"}
  Counter* backups_failed = nullptr;              // ...{outcome="failed"}
  Gauge* backup_last_success = nullptr;  // mend_backup_last_success_timestamp_seconds

  // The children for one upstream (look up once and keep the pointer).
  // INVALID_ARGUMENT if `upstream` is not UTF-8.
  absl::StatusOr<Gauge*> SubscriptionLag(std::string_view upstream) const;
  absl::StatusOr<Gauge*> SubscriptionConnected(std::string_view upstream) const;
};

// Registers (or finds) the runtime families and returns `service`'s
// children. Errors as RegisterStoreMetrics, without ALREADY_EXISTS for a
// service registered before (it gets the same children).
absl::StatusOr<RuntimeMetrics> RegisterRuntimeMetrics(MetricsRegistry* registry,
                                                      std::string_view service);

}  // namespace mend::metrics

#endif  // MEND_COMMON_RUNTIME_STORE_METRICS_H_
