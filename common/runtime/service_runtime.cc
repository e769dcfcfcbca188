#include "common/runtime/service_runtime.h"

#include <grpcpp/ext/proto_server_reflection_plugin.h>
#include <grpcpp/grpcpp.h>
#include <grpcpp/health_check_service_interface.h>
#include <grpcpp/support/server_interceptor.h>
#include <signal.h>

#include <cstdio>
#include <filesystem>
#include <fstream>
#include <sstream>
#include <utility>

#include "absl/flags/flag.h"
#include "absl/strings/ascii.h"
#include "absl/strings/str_cat.h"
#include "common/base/config.h"
#include "common/base/status_macros.h"
#include "common/observability/grpc_metrics.h"
#include "common/observability/logging.h"
#include "common/observability/metrics.h"
#include "common/observability/metrics_server.h"
#include "common/runtime/admin_service.h"
#include "common/runtime/eventlog_service.h"
#include "common/runtime/store_metrics.h"

ABSL_FLAG(std::string, listen, "127.0.0.1:7000",
          "gRPC listening address, host:port (plaintext only on loopback unless "
          "--allow_insecure)");
ABSL_FLAG(std::string, data_dir, "", "directory of this service's data (required)");
ABSL_FLAG(std::string, health_listen, "",
          "host:port of a plaintext gRPC port serving only grpc.health.v1.Health, for "
          "probes that cannot speak TLS (the kubelet's); empty: none");
ABSL_FLAG(std::string, metrics_listen, "",
          "host:port of the Prometheus /metrics endpoint; empty: no endpoint");
ABSL_FLAG(std::string, tls_cert, "", "PEM certificate chain of this service");
ABSL_FLAG(std::string, tls_key, "", "PEM private key of --tls_cert");
ABSL_FLAG(std::string, tls_ca, "",
          "PEM CA certificates: clients' certificates are verified against them, and "
          "so are upstream services'");
ABSL_FLAG(bool, tls_require_client_cert, false,
          "mutual TLS: refuse clients without a certificate from --tls_ca");
ABSL_FLAG(bool, allow_insecure, false,
          "allow plaintext gRPC on a non-loopback address (never in production)");
ABSL_FLAG(std::string, token_public_key, "",
          "PEM public key that verifies bearer tokens; empty: development mode "
          "(loopback only, signatures not checked)");
ABSL_FLAG(std::string, master_key, "",
          "file holding the master key that wraps per-person data keys");
ABSL_FLAG(std::string, service_token_file, "",
          "file holding the bearer token this service presents to upstream services");
ABSL_FLAG(std::string, log_level, "info", "debug, info, warn or error");
ABSL_FLAG(absl::Duration, shutdown_grace, absl::Seconds(10),
          "how long in-flight calls may run after SIGTERM");
ABSL_FLAG(absl::Duration, default_deadline, absl::Seconds(30),
          "bound on waits inside a call that has no (or a later) deadline");
ABSL_FLAG(int, max_message_bytes, 4 << 20, "largest gRPC message accepted or sent");
ABSL_FLAG(std::string, tree_head_key, "",
          "Ed25519 private key (PKCS#8 PEM; scripts/dev-tree-key.sh makes one) this "
          "service signs its log's tree heads with; empty: no signed heads");
ABSL_FLAG(int64_t, tree_head_every_events, 1000,
          "sign a tree head once this many records were added since the last one");
ABSL_FLAG(absl::Duration, tree_head_interval, absl::Minutes(1),
          "and at least this often while records are added (and at shutdown)");
ABSL_FLAG(std::string, backup_dir, "",
          "where Admin.CreateBackup puts backups of the log; empty: <data_dir>/backups "
          "(on the log's volume, so SST files are hard-linked, not copied)");
ABSL_FLAG(int, backup_keep, 7, "backups kept: older ones are pruned after each backup");

namespace mend {
namespace {

absl::StatusOr<std::string> ReadTokenFile(const std::string& path) {
  std::ifstream in(path);
  if (!in) return absl::FailedPreconditionError(absl::StrCat("cannot read ", path));
  std::stringstream buffer;
  buffer << in.rdbuf();
  return std::string(absl::StripAsciiWhitespace(buffer.str()));
}

}  // namespace

namespace internal {

struct InFlightCalls {
  absl::Mutex mu;
  int64_t calls ABSL_GUARDED_BY(mu) = 0;
};

}  // namespace internal

namespace {

using internal::InFlightCalls;

// Counts calls from their start to the end of the call object. A drain waits
// for the count to reach zero: gRPC's own shutdown would also wait for idle
// client connections to go away, which clients do not do on their own.
class InFlightInterceptor final : public grpc::experimental::Interceptor {
 public:
  explicit InFlightInterceptor(std::shared_ptr<InFlightCalls> in_flight)
      : in_flight_(std::move(in_flight)) {
    absl::MutexLock lock(&in_flight_->mu);
    ++in_flight_->calls;
  }
  ~InFlightInterceptor() override {
    absl::MutexLock lock(&in_flight_->mu);
    --in_flight_->calls;
  }
  void Intercept(grpc::experimental::InterceptorBatchMethods* methods) override {
    methods->Proceed();
  }

 private:
  std::shared_ptr<InFlightCalls> in_flight_;
};

class InFlightFactory final
    : public grpc::experimental::ServerInterceptorFactoryInterface {
 public:
  explicit InFlightFactory(std::shared_ptr<InFlightCalls> in_flight)
      : in_flight_(std::move(in_flight)) {}
  grpc::experimental::Interceptor* CreateServerInterceptor(
      grpc::experimental::ServerRpcInfo*) override {
    return new InFlightInterceptor(in_flight_);
  }

 private:
  std::shared_ptr<InFlightCalls> in_flight_;
};

}  // namespace

ServiceRuntime::Options ServiceRuntime::OptionsFromFlags(std::string service) {
  Options o;
  o.service = std::move(service);
  o.listen = absl::GetFlag(FLAGS_listen);
  o.data_dir = absl::GetFlag(FLAGS_data_dir);
  o.health_listen = absl::GetFlag(FLAGS_health_listen);
  o.metrics_listen = absl::GetFlag(FLAGS_metrics_listen);
  o.tls.cert = absl::GetFlag(FLAGS_tls_cert);
  o.tls.key = absl::GetFlag(FLAGS_tls_key);
  o.tls.ca = absl::GetFlag(FLAGS_tls_ca);
  o.tls.require_client_cert = absl::GetFlag(FLAGS_tls_require_client_cert);
  o.allow_insecure = absl::GetFlag(FLAGS_allow_insecure);
  o.token_public_key = absl::GetFlag(FLAGS_token_public_key);
  o.master_key = absl::GetFlag(FLAGS_master_key);
  o.service_token_file = absl::GetFlag(FLAGS_service_token_file);
  o.log_level = absl::GetFlag(FLAGS_log_level);
  o.shutdown_grace = absl::GetFlag(FLAGS_shutdown_grace);
  o.default_deadline = absl::GetFlag(FLAGS_default_deadline);
  o.max_message_bytes = absl::GetFlag(FLAGS_max_message_bytes);
  o.tree_head_key = absl::GetFlag(FLAGS_tree_head_key);
  o.tree_head_every_events = absl::GetFlag(FLAGS_tree_head_every_events);
  o.tree_head_interval = absl::GetFlag(FLAGS_tree_head_interval);
  o.backup_dir = absl::GetFlag(FLAGS_backup_dir);
  o.backup_keep = absl::GetFlag(FLAGS_backup_keep);
  if (o.backup_keep < 1) ExitWithFlagError("backup_keep", "must be at least 1");
  if (o.tree_head_every_events < 1) {
    ExitWithFlagError("tree_head_every_events", "must be at least 1");
  }
  if (o.tree_head_interval < absl::Seconds(1)) {
    ExitWithFlagError("tree_head_interval", "must be at least 1s");
  }
  if (o.data_dir.empty()) ExitWithFlagError("data_dir", "is required");
  if (o.shutdown_grace < absl::ZeroDuration()) {
    ExitWithFlagError("shutdown_grace", "must not be negative");
  }
  if (o.default_deadline <= absl::ZeroDuration()) {
    ExitWithFlagError("default_deadline", "must be positive");
  }
  if (o.max_message_bytes < 64 << 10) {
    ExitWithFlagError("max_message_bytes", "must be at least 65536");
  }
  if (o.tls.cert.empty() != o.tls.key.empty()) {
    ExitWithFlagError(o.tls.cert.empty() ? "tls_cert" : "tls_key",
                      "--tls_cert and --tls_key go together");
  }
  if (o.tls.require_client_cert && o.tls.ca.empty()) {
    ExitWithFlagError("tls_require_client_cert", "needs --tls_ca");
  }
  if (o.log_level != "debug" && o.log_level != "info" && o.log_level != "warn" &&
      o.log_level != "error") {
    ExitWithFlagError("log_level", "must be debug, info, warn or error");
  }
  return o;
}

ServiceRuntime::ServiceRuntime(Options options) : options_(std::move(options)) {}

absl::StatusOr<std::unique_ptr<ServiceRuntime>> ServiceRuntime::Create(Options options) {
  if (options.service.empty()) return absl::InvalidArgumentError("service name is empty");
  if (options.data_dir.empty()) {
    return absl::InvalidArgumentError("--data_dir: a data directory is required");
  }
  const bool tls = !options.tls.cert.empty();
  if (absl::Status s = CheckListenAddress(options.listen, tls, options.allow_insecure);
      !s.ok()) {
    return absl::Status(s.code(), absl::StrCat("--listen: ", s.message()));
  }
  if (options.token_public_key.empty()) {
    // Development mode: signatures are not checked, so never beyond loopback.
    if (absl::Status s = CheckListenAddress(options.listen, false, false); !s.ok()) {
      return absl::FailedPreconditionError(absl::StrCat(
          "--token_public_key is required to listen on ", options.listen,
          ": without it tokens are not verified (development mode, loopback only)"));
    }
  }
  if (absl::Status s = log::InitLogging(options.service, options.log_level); !s.ok()) {
    return absl::InvalidArgumentError(absl::StrCat("--log_level: ", s.message()));
  }
  std::unique_ptr<ServiceRuntime> runtime(new ServiceRuntime(std::move(options)));
  const Options& o = runtime->options_;
  if (o.token_public_key.empty()) {
    runtime->verifier_ = TokenVerifier::Development();
    log::Warn(
        "development mode: no --token_public_key, so token signatures are NOT checked; "
        "listening on loopback only",
        {{"listen", o.listen}});
  } else {
    auto verifier = TokenVerifier::FromPublicKeyFile(o.token_public_key);
    if (!verifier.ok()) {
      return absl::Status(
          verifier.status().code(),
          absl::StrCat("--token_public_key: ", verifier.status().message()));
    }
    runtime->verifier_ = *std::move(verifier);
  }
  MEND_ASSIGN_OR_RETURN(runtime->policy_, MethodPolicy::Create(runtime->PolicyTables()));
  // Reading the log and backing it up are always possible; the domain's
  // calls wait for replay.
  ServiceRuntime* self = runtime.get();
  runtime->authorizer_ = std::make_unique<Authorizer>(
      runtime->verifier_.get(), runtime->policy_.get(), absl::Now,
      [self](std::string_view method) -> absl::Status {
        if (method.rfind("/mend.eventlog.v1.EventLog/", 0) == 0) return absl::OkStatus();
        if (method.rfind("/mend.admin.v1.Admin/", 0) == 0) return absl::OkStatus();
        return self->CheckServing();
      });
  std::error_code ec;
  std::filesystem::create_directories(o.data_dir, ec);
  if (ec) {
    return absl::FailedPreconditionError(
        absl::StrCat("--data_dir: cannot create ", o.data_dir, ": ", ec.message()));
  }
  auto store = eventlog::EventStore::Open({.path = o.data_dir + "/eventlog"});
  if (!store.ok()) return store.status();
  runtime->store_ = *std::move(store);
  if (!o.master_key.empty()) {
    auto keys = crypto::KeyStore::Open(runtime->store_.get(), o.master_key);
    if (!keys.ok()) {
      return absl::Status(keys.status().code(),
                          absl::StrCat("--master_key: ", keys.status().message()));
    }
    runtime->keys_ = *std::move(keys);
  }
  if (!o.tree_head_key.empty()) {
    auto signer = merkle::TreeHeadSigner::FromPemFile(o.tree_head_key);
    if (!signer.ok()) {
      return absl::Status(signer.status().code(),
                          absl::StrCat("--tree_head_key: ", signer.status().message()));
    }
    runtime->tree_signer_ = *std::move(signer);
  }
  runtime->metrics_ = std::make_unique<metrics::MetricsRegistry>();
  MEND_RETURN_IF_ERROR(metrics::RegisterStoreMetrics(runtime->metrics_.get(),
                                                     runtime->store_.get(), o.service));
  MEND_ASSIGN_OR_RETURN(
      metrics::RuntimeMetrics runtime_metrics,
      metrics::RegisterRuntimeMetrics(runtime->metrics_.get(), o.service));
  runtime->runtime_metrics_ =
      std::make_unique<metrics::RuntimeMetrics>(std::move(runtime_metrics));
  {
    const metrics::RuntimeMetrics* m = runtime->runtime_metrics_.get();
    auto backups = Backups::Open(
        runtime->store_.get(),
        {.service = o.service,
         .dir = o.backup_dir.empty() ? o.data_dir + "/backups" : o.backup_dir,
         .keep = o.backup_keep,
         .observe = [m](Backups::Outcome outcome, absl::Time when) {
           if (outcome == Backups::Outcome::kFailed) {
             m->backups_failed->Increment();
             return;
           }
           if (outcome == Backups::Outcome::kTaken) m->backups_ok->Increment();
           m->backup_last_success->Set(static_cast<double>(absl::ToUnixSeconds(when)));
         }});
    if (!backups.ok()) return backups.status();
    runtime->backups_ = *std::move(backups);
  }
  return runtime;
}

ServiceRuntime::~ServiceRuntime() { Shutdown(); }

void ServiceRuntime::RegisterService(grpc::Service* service) {
  services_.push_back(service);
}

void ServiceRuntime::SetReplay(std::function<absl::Status(const ReplayedEvent&)> replay) {
  replay_ = std::move(replay);
}

void ServiceRuntime::PrepareServiceCall(grpc::ClientContext* context) const {
  const std::string& token_file = options_.service_token_file;
  if (token_file.empty()) return;
  // Read on every call, so a rotated token is picked up.
  absl::StatusOr<std::string> token = ReadTokenFile(token_file);
  if (token.ok()) {
    AttachBearerToken(context, *token);
  } else {
    log::Error("cannot read the service token", {{"error", token.status().message()}});
  }
}

absl::StatusOr<std::shared_ptr<grpc::Channel>> ServiceRuntime::ClientChannel(
    const std::string& address) const {
  std::shared_ptr<grpc::ChannelCredentials> credentials;
  if (!options_.tls.ca.empty()) {
    MEND_ASSIGN_OR_RETURN(
        credentials,
        MakeChannelCredentials(options_.tls.ca, options_.tls.cert, options_.tls.key));
  } else {
    credentials = grpc::InsecureChannelCredentials();
  }
  grpc::ChannelArguments args;
  // gRPC's own reconnect backoff grows to two minutes by default; the
  // follower has its own, so keep the channel's short.
  args.SetInt(GRPC_ARG_INITIAL_RECONNECT_BACKOFF_MS, 100);
  args.SetInt(GRPC_ARG_MIN_RECONNECT_BACKOFF_MS, 100);
  args.SetInt(GRPC_ARG_MAX_RECONNECT_BACKOFF_MS, 5000);
  args.SetInt(GRPC_ARG_KEEPALIVE_TIME_MS, 30000);
  args.SetInt(GRPC_ARG_KEEPALIVE_TIMEOUT_MS, 10000);
  args.SetMaxReceiveMessageSize(options_.max_message_bytes);
  return grpc::CreateCustomChannel(address, credentials, args);
}

absl::StatusOr<Follower*> ServiceRuntime::AddFollower(const std::string& upstream,
                                                      const std::string& address,
                                                      Follower::Handler handler,
                                                      Follower::Committed committed) {
  if (address.empty()) {
    return absl::InvalidArgumentError(absl::StrCat(
        "--upstream_", upstream, " (", EnvironmentVariableFor("upstream_" + upstream),
        "): the address of the ", upstream, " service is required"));
  }
  Follower::Options options;
  options.upstream = upstream;
  MEND_ASSIGN_OR_RETURN(options.channel, ClientChannel(address));
  options.prepare_context = [this](grpc::ClientContext* context) {
    PrepareServiceCall(context);
  };
  options.log = [upstream](bool error, const std::string& message) {
    log::Log(error ? log::Level::kWarn : log::Level::kInfo, message,
             {{"upstream", upstream}});
  };
  MEND_ASSIGN_OR_RETURN(std::unique_ptr<Follower> follower,
                        Follower::Create(store_.get(), std::move(options),
                                         std::move(handler), std::move(committed)));
  followers_.push_back(std::move(follower));
  return followers_.back().get();
}

std::vector<const MethodPolicy::Table*> ServiceRuntime::PolicyTables() const {
  std::vector<const MethodPolicy::Table*> tables = {&eventlog::EventLogPolicy(),
                                                    &AdminPolicy()};
  tables.insert(tables.end(), options_.policies.begin(), options_.policies.end());
  return tables;
}

void ServiceRuntime::SetHealth(bool serving) {
  const std::vector<const MethodPolicy::Table*> tables = PolicyTables();
  // The health port answers exactly as the main one.
  for (grpc::Server* server : {server_.get(), health_server_.get()}) {
    if (server == nullptr || server->GetHealthCheckService() == nullptr) continue;
    grpc::HealthCheckServiceInterface* health = server->GetHealthCheckService();
    // "" and each service by its full name (from the method tables), so a
    // probe can ask for the one it means: another process on the port then
    // answers SERVICE_UNKNOWN rather than SERVING.
    health->SetServingStatus("", serving);
    for (const MethodPolicy::Table* table : tables) {
      for (const MethodPolicy::Rule& rule : *table) {
        const std::string& method = rule.method;  // "/pkg.Service/Method"
        const size_t slash = method.find('/', 1);
        if (method.size() > 1 && slash != std::string::npos) {
          health->SetServingStatus(method.substr(1, slash - 1), serving);
        }
      }
    }
  }
}

absl::Status ServiceRuntime::Start() {
  absl::Status started = StartServing();
  // A runtime that could not start serves nothing: its server stops before
  // the caller, seeing the error, destroys the services it registered.
  if (!started.ok()) Shutdown();
  return started;
}

absl::Status ServiceRuntime::StartServing() {
  eventlog_service_ = std::make_unique<eventlog::EventLogService>(
      store_.get(), authorizer_.get(),
      tree_signer_ == nullptr ? "" : tree_signer_->public_key_pem());
  admin_service_ = std::make_unique<AdminService>(backups_.get(), authorizer_.get());

  std::shared_ptr<grpc::ServerCredentials> credentials;
  if (!options_.tls.cert.empty()) {
    MEND_ASSIGN_OR_RETURN(credentials, MakeServerCredentials(options_.tls));
  } else {
    credentials = grpc::InsecureServerCredentials();
  }
  grpc::EnableDefaultHealthCheckService(true);
  grpc::reflection::InitProtoReflectionServerBuilderPlugin();
  grpc::ServerBuilder builder;
  MEND_ASSIGN_OR_RETURN(
      std::unique_ptr<grpc::experimental::ServerInterceptorFactoryInterface> rpc_metrics,
      metrics::CreateGrpcServerMetrics(metrics_.get()));
  std::vector<std::unique_ptr<grpc::experimental::ServerInterceptorFactoryInterface>>
      interceptors;
  interceptors.push_back(std::move(rpc_metrics));
  in_flight_ = std::make_shared<InFlightCalls>();
  interceptors.push_back(std::make_unique<InFlightFactory>(in_flight_));
  builder.experimental().SetInterceptorCreators(std::move(interceptors));
  builder.AddListeningPort(options_.listen, credentials, &port_);
  builder.SetMaxReceiveMessageSize(options_.max_message_bytes);
  builder.SetMaxSendMessageSize(options_.max_message_bytes);
  builder.RegisterService(eventlog_service_.get());
  builder.RegisterService(admin_service_.get());
  for (grpc::Service* service : services_) builder.RegisterService(service);
  server_ = builder.BuildAndStart();
  if (server_ == nullptr || port_ == 0) {
    server_.reset();
    return absl::UnavailableError(
        absl::StrCat("--listen: cannot listen on ", options_.listen));
  }
  if (!options_.health_listen.empty()) {
    // Plaintext, on any address: it serves nothing but the health statuses
    // (the default health service every server gets), no data, no tokens.
    grpc::ServerBuilder health_builder;
    health_builder.AddListeningPort(options_.health_listen,
                                    grpc::InsecureServerCredentials(), &health_port_);
    health_server_ = health_builder.BuildAndStart();
    if (health_server_ == nullptr || health_port_ == 0) {
      health_server_.reset();
      return absl::UnavailableError(
          absl::StrCat("--health_listen: cannot listen on ", options_.health_listen));
    }
  }
  SetHealth(false);
  log::Info("listening; replaying the event log", {{"port", port_},
                                                   {"health_port", health_port_},
                                                   {"tls", !options_.tls.cert.empty()}});
  if (!options_.metrics_listen.empty()) {
    metrics_server_ =
        std::make_unique<metrics::MetricsServer>(metrics_.get(), options_.metrics_listen);
    if (absl::Status s = metrics_server_->Start(); !s.ok()) {
      return absl::Status(s.code(), absl::StrCat("--metrics_listen: ", s.message()));
    }
  }
  // Follower state is read at scrape time.
  MEND_RETURN_IF_ERROR(metrics_->AddCollector("followers", [this] {
    for (const auto& f : followers_) {
      if (auto lag = runtime_metrics_->SubscriptionLag(f->upstream()); lag.ok()) {
        (*lag)->Set(static_cast<double>(f->lag()));
      }
      if (auto up = runtime_metrics_->SubscriptionConnected(f->upstream()); up.ok()) {
        (*up)->Set(f->connected() ? 1 : 0);
      }
    }
  }));

  MEND_RETURN_IF_ERROR(Replay());
  serving_ = true;
  SetHealth(true);
  log::Info("serving");
  for (auto& follower : followers_) follower->Start();
  if (tree_signer_ != nullptr) {
    tree_heads_ = std::make_unique<TreeHeadPublisher>(
        store_.get(), tree_signer_.get(),
        TreeHeadPublisher::Options{
            .service = options_.service,
            .every_events = static_cast<uint64_t>(options_.tree_head_every_events),
            .every = options_.tree_head_interval});
    tree_heads_->Start();
  }
  return absl::OkStatus();
}

absl::Status ServiceRuntime::Replay() {
  const absl::Time start = absl::Now();
  uint64_t count = 0;
  // The verified scan proves every record's hash link (and the last record
  // against the stored head) before the fold sees it: a service never folds,
  // let alone serves, a log whose chain is broken.
  absl::Status status =
      store_->ScanVerified([&](uint64_t position, std::string_view bytes,
                               const eventlog::RecordView& view) -> absl::Status {
        if (replay_) {
          absl::Status failed = replay_(ReplayedEvent{position, bytes, view});
          if (!failed.ok()) {
            return absl::Status(
                failed.code(), absl::StrCat("replay stopped at position ", position, ": ",
                                            failed.message()));
          }
        }
        ++count;
        return absl::OkStatus();
      });
  if (!status.ok()) {
    log::Error("refusing to serve: the event log could not be replayed",
               {{"error", status.ToString()}});
    return status;
  }
  const absl::Duration took = absl::Now() - start;
  runtime_metrics_->replay_events->Increment(count);
  runtime_metrics_->replay_seconds->Set(absl::ToDoubleSeconds(took));
  log::Info("replayed the event log",
            {{"events", count}, {"seconds", absl::StrCat(absl::ToDoubleSeconds(took))}});
  return absl::OkStatus();
}

void ServiceRuntime::RunUntilSignal() {
  sigset_t signals;
  sigemptyset(&signals);
  sigaddset(&signals, SIGTERM);
  sigaddset(&signals, SIGINT);
  int received = 0;
  sigwait(&signals, &received);
  log::Info("draining", {{"signal", received == SIGTERM ? "SIGTERM" : "SIGINT"}});
  Shutdown();
}

void ServiceRuntime::Shutdown() {
  {
    absl::MutexLock lock(&shutdown_mu_);
    if (shut_down_) return;
    shut_down_ = true;
  }
  draining_ = true;
  serving_ = false;
  SetHealth(false);
  // Freezes every status at NOT_SERVING (watchers have been told), so
  // nothing can report SERVING again while the server drains.
  for (grpc::Server* server : {server_.get(), health_server_.get()}) {
    if (server != nullptr && server->GetHealthCheckService() != nullptr) {
      server->GetHealthCheckService()->Shutdown();
    }
  }
  if (eventlog_service_ != nullptr) eventlog_service_->Shutdown();
  for (auto& follower : followers_) follower->Stop();
  if (server_ != nullptr) {
    // New domain calls are refused (UNAVAILABLE) from here on; wait for the
    // calls in flight, up to the grace period, then shut the server down at
    // once, which also closes connections idle clients would keep open.
    const absl::Time deadline = absl::Now() + options_.shutdown_grace;
    {
      absl::MutexLock lock(&in_flight_->mu);
      in_flight_->mu.AwaitWithDeadline(
          absl::Condition(
              +[](internal::InFlightCalls* f)
                   ABSL_NO_THREAD_SAFETY_ANALYSIS { return f->calls == 0; },
              in_flight_.get()),
          deadline);
      if (in_flight_->calls > 0) {
        log::Warn("grace period over; cancelling calls still in flight",
                  {{"calls", in_flight_->calls}});
      }
    }
    server_->Shutdown(absl::ToChronoTime(absl::Now()));
    server_->Wait();
  }
  // Probes saw NOT_SERVING through the drain; now the port closes.
  if (health_server_ != nullptr) {
    health_server_->Shutdown(absl::ToChronoTime(absl::Now()));
    health_server_->Wait();
  }
  // Nothing appends any more: the last signed head covers the whole log.
  if (tree_heads_ != nullptr) tree_heads_->Stop();
  if (metrics_server_ != nullptr) metrics_server_->Stop();
  if (metrics_ != nullptr) metrics_->RemoveCollector("followers");
  log::Info("stopped");
}

absl::Status ServiceRuntime::CheckServing() const {
  if (serving_) return absl::OkStatus();
  return absl::UnavailableError(draining_ ? "service is shutting down"
                                          : "service is starting (replaying its log)");
}

absl::StatusOr<Caller> ServiceRuntime::Authorize(const grpc::ServerContextBase& context,
                                                 std::string_view full_method) const {
  return authorizer_->Authorize(context, full_method);
}

absl::Time ServiceRuntime::Deadline(const grpc::ServerContextBase& context) const {
  const absl::Time bound = absl::Now() + options_.default_deadline;
  const absl::Time requested = absl::FromChrono(context.deadline());
  return std::min(bound, requested);
}

int ServiceRuntime::metrics_port() const {
  return metrics_server_ != nullptr ? metrics_server_->port() : 0;
}

void BlockTerminationSignals() {
  sigset_t signals;
  sigemptyset(&signals);
  sigaddset(&signals, SIGTERM);
  sigaddset(&signals, SIGINT);
  pthread_sigmask(SIG_BLOCK, &signals, nullptr);
}

int ExitOnError(const absl::Status& status) {
  std::fprintf(stderr, "%s\n", status.ToString().c_str());
  return 1;
}

}  // namespace mend
