// MetricsServer: serves a MetricsRegistry over HTTP for Prometheus.
//
//   MetricsServer server(&registry, "0.0.0.0:9090");   // --metrics_listen
//   MEND_RETURN_IF_ERROR(server.Start());
//   ...                                                  // GET /metrics
//   server.Stop();
//
// GET /metrics answers 200 with registry->Render() as
// "text/plain; version=0.0.4; charset=utf-8"; every other path is 404.
// Requests are served by a small pool of threads of its own (cpp-httplib).
//
// Thread safety: all methods may be called from any thread. The registry must
// outlive the server.
#ifndef MEND_COMMON_OBSERVABILITY_METRICS_SERVER_H_
#define MEND_COMMON_OBSERVABILITY_METRICS_SERVER_H_

#include <memory>
#include <string>
#include <thread>

#include "absl/base/thread_annotations.h"
#include "absl/status/status.h"
#include "absl/synchronization/mutex.h"
#include "absl/synchronization/notification.h"
#include "common/observability/metrics.h"

namespace httplib {
class Server;
}  // namespace httplib

namespace mend::metrics {

class MetricsServer {
 public:
  static constexpr char kContentType[] = "text/plain; version=0.0.4; charset=utf-8";

  // `address` is "host:port": an IPv4 address or host name, "[ipv6]", or
  // empty for every interface (":9090"); port 0 picks a free port.
  MetricsServer(const MetricsRegistry* registry, std::string address);
  // Stops the server.
  ~MetricsServer();

  MetricsServer(const MetricsServer&) = delete;
  MetricsServer& operator=(const MetricsServer&) = delete;

  // Binds and starts serving in a thread of its own. Once bound, a request
  // made after Start returns is answered.
  //   INVALID_ARGUMENT     the address is malformed (no port, port not a
  //                        number in 0..65535, host that does not resolve);
  //                        the message names it.
  //   UNAVAILABLE          it could not be bound (port in use, or not
  //                        permitted).
  //   FAILED_PRECONDITION  Start was called before.
  absl::Status Start();

  // The bound port once Start succeeded (the picked one for port 0); 0 before.
  int port() const;

  // Stops accepting, waits for requests in progress and joins the thread.
  // Idempotent; safe before Start.
  void Stop();

 private:
  const MetricsRegistry* const registry_;
  const std::string address_;

  absl::Mutex stop_mu_;  // held through Stop, so a second Stop waits; before mu_
  mutable absl::Mutex mu_;
  std::unique_ptr<httplib::Server> http_ ABSL_GUARDED_BY(mu_);
  std::thread thread_ ABSL_GUARDED_BY(mu_);
  int port_ ABSL_GUARDED_BY(mu_) = 0;
  bool started_ ABSL_GUARDED_BY(mu_) = false;
  // Set when the serving thread's listen loop has returned.
  std::shared_ptr<absl::Notification> loop_done_ ABSL_GUARDED_BY(mu_);
};

// Splits "host:port" (host may be "[ipv6]" or empty) into the host to bind
// (brackets removed; empty becomes "0.0.0.0") and the port.
// INVALID_ARGUMENT naming `address` when it is malformed.
absl::Status ParseListenAddress(const std::string& address, std::string* host, int* port);

}  // namespace mend::metrics

#endif  // MEND_COMMON_OBSERVABILITY_METRICS_SERVER_H_
