// ServiceRuntime: what every mend service process is made of, so a service
// adds only its domain.
//
//   int main(int argc, char** argv) {
//     mend::BlockTerminationSignals();          // first, before any thread
//     mend::ParseFlagsWithEnvironment(argc, argv);
//     auto options = mend::ServiceRuntime::OptionsFromFlags("consent");
//     options.policies = {&ConsentPolicy()};    // roles per method
//     auto runtime = mend::ServiceRuntime::Create(options);
//     if (!runtime.ok()) return mend::ExitOnError(runtime.status());
//     ConsentService service(runtime->get());
//     (*runtime)->RegisterService(&service);
//     (*runtime)->SetReplay([&](const mend::ReplayedEvent& e) { return service.Apply(e);
//     });
//     (*runtime)->AddFollower("case", absl::GetFlag(FLAGS_upstream_case), ...);
//     if (absl::Status s = (*runtime)->Start(); !s.ok()) return mend::ExitOnError(s);
//     (*runtime)->RunUntilSignal();             // SIGTERM/SIGINT: drain, exit 0
//   }
//
// Start() opens the gRPC server first, with the standard health service
// (grpc.health.v1) reporting NOT_SERVING, and server reflection (and, with
// --health_listen, a plaintext port serving the same health statuses and
// nothing else, for the kubelet's gRPC probes); then replays
// the local log through the service's replay function; then reports SERVING
// and starts following upstreams. A service reports SERVING once its own log
// is replayed, even while an upstream is unreachable (its followers retry and
// say so in logs and metrics).
//
// Every call to a registered service, to EventLog or to Admin (backups of
// the log, admin_service.h; the operator role) needs a bearer token whose
// role the method's policy allows (see auth.h). Without a verification
// key (--token_public_key) the runtime runs in development mode: it only
// listens on loopback and checks token claims but not signatures, and logs
// that it does so. Without TLS it only listens on loopback unless
// --allow_insecure is given.
//
// Shutdown (SIGTERM or SIGINT under RunUntilSignal): health NOT_SERVING,
// subscriptions end with UNAVAILABLE, followers stop, the server stops
// accepting calls and gives in-flight calls the grace period, then the event
// log finishes its pending appends and closes.
//
// Lifetime, one rule for every service: create the runtime, then the
// services that use it; a registered service (and whatever its replay
// function and followers' handlers touch) must stay alive until Shutdown()
// has returned — RunUntilSignal() and ~ServiceRuntime() call it — and the
// runtime must stay alive while a service uses it. So main() declares the
// runtime first and the service after it and returns after RunUntilSignal():
// the service is destroyed first, with nothing running any more.
//
// Thread safety: configure (RegisterService, SetReplay, AddFollower) before
// Start, from one thread. Accessors are safe from any thread after Start.
#ifndef MEND_COMMON_RUNTIME_SERVICE_RUNTIME_H_
#define MEND_COMMON_RUNTIME_SERVICE_RUNTIME_H_

#include <atomic>
#include <functional>
#include <memory>
#include <string>
#include <vector>

#include "absl/status/status.h"
#include "absl/status/statusor.h"
#include "absl/synchronization/mutex.h"
#include "absl/time/time.h"
#include "common/eventlog/event_store.h"
#include "common/eventlog/record_codec.h"
#include "common/merkle/tree_head.h"
#include "common/runtime/follower.h"
#include "common/runtime/replayed_event.h"
#include "common/runtime/tree_heads.h"
#include "common/security/auth.h"
#include "common/security/key_store.h"
#include "common/security/tls.h"

namespace grpc {
class Server;
class Service;
class ServerContextBase;
class Channel;
class ClientContext;
}  // namespace grpc

namespace mend {

namespace metrics {
class MetricsRegistry;
class MetricsServer;
struct RuntimeMetrics;
}  // namespace metrics
namespace eventlog {
class EventLogService;
}  // namespace eventlog
class AdminService;
class Backups;
namespace internal {
struct InFlightCalls;  // service_runtime.cc
}  // namespace internal

class ServiceRuntime {
 public:
  struct Options {
    std::string service;                 // "case", "consent", ...: logs, metrics
    std::string listen = "127.0.0.1:0";  // gRPC listening address
    std::string data_dir;                // the event log lives in <data_dir>/eventlog
    std::string metrics_listen;          // host:port for /metrics; empty: none
    std::string health_listen;           // plaintext, health only; empty: none
    TlsFiles tls;                        // cert empty: no TLS
    bool allow_insecure = false;         // plaintext on a non-loopback address
    std::string token_public_key;        // PEM; empty: development mode
    std::string master_key;              // master key file; empty: no key store
    std::string service_token_file;      // token this service presents upstream
    std::string log_level = "info";
    absl::Duration shutdown_grace = absl::Seconds(10);
    absl::Duration default_deadline = absl::Seconds(30);
    int max_message_bytes = 4 << 20;
    // Ed25519 key (PEM file) for signed tree heads; empty: none signed.
    std::string tree_head_key;
    int64_t tree_head_every_events = 1000;
    absl::Duration tree_head_interval = absl::Minutes(1);
    // Where Admin.CreateBackup keeps backups (empty: <data_dir>/backups), and
    // how many it keeps (see backups.h).
    std::string backup_dir;
    int backup_keep = 7;
    // The method policies of the services the process will register
    // (EventLog's and Admin's are always included). Must outlive the runtime.
    std::vector<const MethodPolicy::Table*> policies;
  };

  // Options from the runtime's flags (each also a MEND_* variable): --listen,
  // --data_dir, --metrics_listen, --health_listen, --tls_cert, --tls_key,
  // --tls_ca, --tls_require_client_cert, --allow_insecure, --token_public_key,
  // --master_key, --service_token_file, --log_level, --shutdown_grace,
  // --default_deadline, --max_message_bytes, --tree_head_key,
  // --tree_head_every_events, --tree_head_interval, --backup_dir,
  // --backup_keep. A value that is present but
  // unusable stops the process (exit 2) with a message naming the flag.
  static Options OptionsFromFlags(std::string service);

  // Checks the options, sets up logging, opens the event log (and the key
  // store). Errors name the option's flag. INVALID_ARGUMENT for bad values;
  // FAILED_PRECONDITION for a plaintext or development-mode server on a
  // non-loopback address; the store's and key store's errors.
  static absl::StatusOr<std::unique_ptr<ServiceRuntime>> Create(Options options);
  ~ServiceRuntime();  // Shutdown()

  // Adds a domain service (see "Lifetime" above; its methods must be in
  // Options::policies). Before Start.
  void RegisterService(grpc::Service* service);

  // The function Start replays the local log through, in position order.
  // Before Start. An error stops Start (the service must not serve on a state
  // it could not rebuild).
  void SetReplay(std::function<absl::Status(const ReplayedEvent&)> replay);

  // Follows the service `upstream` at `address` once the service is SERVING.
  // Before Start. INVALID_ARGUMENT for an empty address (naming the flag
  // --upstream_<upstream>); the Follower's Create errors.
  absl::StatusOr<Follower*> AddFollower(const std::string& upstream,
                                        const std::string& address,
                                        Follower::Handler handler,
                                        Follower::Committed committed = nullptr);

  // Listens, replays, serves. UNAVAILABLE if the address cannot be bound;
  // the replay's errors (DATA_LOSS for a log whose chain does not prove).
  // On any error the runtime is shut down before Start returns.
  absl::Status Start();

  // Blocks until SIGTERM or SIGINT, then Shutdown(). BlockTerminationSignals()
  // must have been called before any thread was started.
  void RunUntilSignal();

  // Drains and stops (see the header comment). Idempotent.
  void Shutdown();

  // A channel to another mend service at `address`: TLS (with this
  // service's client certificate) when --tls_ca is given, short reconnect
  // backoff, the runtime's message size. What followers use; a service that
  // calls an upstream (e.g. ConsentService.DecideContact) uses it too, with
  // PrepareServiceCall on each call. Errors: the TLS files'.
  absl::StatusOr<std::shared_ptr<grpc::Channel>> ClientChannel(
      const std::string& address) const;
  // Attaches this service's token (--service_token_file, re-read on every
  // call so a rotated token is picked up) to an outgoing call; nothing
  // without one (development mode).
  void PrepareServiceCall(grpc::ClientContext* context) const;

  // For the domain's handlers: OK while SERVING; UNAVAILABLE while replaying
  // or draining.
  absl::Status CheckServing() const;
  // Authenticates and authorizes a call (see Authorizer).
  absl::StatusOr<Caller> Authorize(const grpc::ServerContextBase& context,
                                   std::string_view full_method) const;
  // The call's deadline, or now + default_deadline if it has none or a later
  // one: the bound for anything a handler waits for.
  absl::Time Deadline(const grpc::ServerContextBase& context) const;

  // The authorizer for all services of this process (EventLog and
  // Options::policies), for services that take one at construction.
  const Authorizer* authorizer() const { return authorizer_.get(); }

  int port() const { return port_; }
  // The health port (--health_listen), 0 without one.
  int health_port() const { return health_port_; }
  bool serving() const { return serving_.load(); }
  eventlog::EventStore* store() { return store_.get(); }
  crypto::KeyStore* keys() { return keys_.get(); }  // null without --master_key
  metrics::MetricsRegistry& metrics() { return *metrics_; }
  const Options& options() const { return options_; }
  // The metrics endpoint's port, 0 without one.
  int metrics_port() const;

 private:
  explicit ServiceRuntime(Options options);
  absl::Status StartServing();
  absl::Status Replay();
  void SetHealth(bool serving);
  // The method tables of everything served: EventLog, Admin, the domain's.
  std::vector<const MethodPolicy::Table*> PolicyTables() const;

  const Options options_;
  std::unique_ptr<eventlog::EventStore> store_;
  std::unique_ptr<crypto::KeyStore> keys_;
  std::unique_ptr<merkle::TreeHeadSigner> tree_signer_;
  std::unique_ptr<TreeHeadPublisher> tree_heads_;
  std::unique_ptr<metrics::MetricsRegistry> metrics_;
  std::unique_ptr<metrics::RuntimeMetrics> runtime_metrics_;
  std::unique_ptr<metrics::MetricsServer> metrics_server_;
  std::unique_ptr<TokenVerifier> verifier_;
  std::unique_ptr<MethodPolicy> policy_;
  std::unique_ptr<Authorizer> authorizer_;
  std::unique_ptr<eventlog::EventLogService> eventlog_service_;
  std::unique_ptr<Backups> backups_;
  std::unique_ptr<AdminService> admin_service_;
  std::vector<grpc::Service*> services_;
  std::function<absl::Status(const ReplayedEvent&)> replay_;
  std::vector<std::unique_ptr<Follower>> followers_;
  std::unique_ptr<grpc::Server> server_;
  int port_ = 0;
  std::unique_ptr<grpc::Server> health_server_;  // --health_listen
  int health_port_ = 0;
  std::atomic<bool> serving_{false};
  std::atomic<bool> draining_{false};
  // Calls the server is handling now (counted by an interceptor), so a drain
  // can end as soon as they are done rather than when the grace period ends.
  std::shared_ptr<internal::InFlightCalls> in_flight_;
  absl::Mutex shutdown_mu_;
  bool shut_down_ ABSL_GUARDED_BY(shutdown_mu_) = false;
};

// Blocks SIGTERM and SIGINT in the calling thread and every thread it starts
// afterwards, so RunUntilSignal can take them with sigwait. Call first in main.
void BlockTerminationSignals();

// Prints the status to stderr and returns the process exit code for it (1).
int ExitOnError(const absl::Status& status);

}  // namespace mend

#endif  // MEND_COMMON_RUNTIME_SERVICE_RUNTIME_H_
