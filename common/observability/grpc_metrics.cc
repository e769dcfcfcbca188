#include "common/observability/grpc_metrics.h"

#include <google/protobuf/descriptor.h>
#include <grpcpp/server_context.h>
#include <grpcpp/support/interceptor.h>
#include <grpcpp/support/status.h>

#include <algorithm>
#include <array>
#include <atomic>
#include <chrono>
#include <map>
#include <utility>

#include "absl/base/thread_annotations.h"
#include "absl/container/flat_hash_map.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/string_view.h"
#include "absl/synchronization/mutex.h"
#include "common/base/sha256.h"
#include "common/observability/logging.h"

namespace mend::metrics {
namespace {

using grpc::experimental::InterceptionHookPoints;
using grpc::experimental::Interceptor;
using grpc::experimental::InterceptorBatchMethods;
using grpc::experimental::ServerInterceptorFactoryInterface;
using grpc::experimental::ServerRpcInfo;

constexpr int kNumCodes = 17;  // OK (0) .. UNAUTHENTICATED (16)
constexpr int kUnknownCode = 2;

constexpr std::array<const char*, kNumCodes> kCodeNames = {
    "OK",
    "CANCELLED",
    "UNKNOWN",
    "INVALID_ARGUMENT",
    "DEADLINE_EXCEEDED",
    "NOT_FOUND",
    "ALREADY_EXISTS",
    "PERMISSION_DENIED",
    "RESOURCE_EXHAUSTED",
    "FAILED_PRECONDITION",
    "ABORTED",
    "OUT_OF_RANGE",
    "UNIMPLEMENTED",
    "INTERNAL",
    "UNAVAILABLE",
    "DATA_LOSS",
    "UNAUTHENTICATED",
};

// Methods gRPC itself may serve without their descriptors in the generated
// pool (its default health service).
constexpr std::string_view kBuiltinMethods[] = {"grpc.health.v1.Health/Check",
                                                "grpc.health.v1.Health/Watch"};

// The children of one method label, looked up once.
struct MethodMetrics {
  std::string label;
  Counter* started = nullptr;
  Histogram* seconds = nullptr;
  // handled_total by code, each made on first use (a code never seen is not
  // rendered).
  std::array<std::atomic<Counter*>, kNumCodes> handled{};
};

class Factory;

class MetricsInterceptor final : public Interceptor {
 public:
  MetricsInterceptor(Factory* factory, MethodMetrics* method,
                     grpc::ServerContextBase* context)
      : factory_(factory),
        method_(method),
        context_(context),
        start_(std::chrono::steady_clock::now()) {}

  void Intercept(InterceptorBatchMethods* methods) override;

 private:
  Factory* const factory_;
  MethodMetrics* const method_;
  grpc::ServerContextBase* const context_;  // may be null
  const std::chrono::steady_clock::time_point start_;
  std::string trace_id_;        // from the caller's metadata, if any
  std::string correlation_id_;  // likewise
  // The request message did not deserialize (gRPC hands interceptors a null
  // message then, and answers the call UNIMPLEMENTED without running the
  // handler).
  bool request_unparsed_ = false;
  // The status of such a call is recorded once the call is closed.
  bool unparsed_pending_ = false;
  bool closed_ = false;  // POST_RECV_CLOSE came
  // Whether the call was cancelled, asked only of a call whose request did
  // not parse: asked at every POST_RECV_CLOSE, a sync-API method's (server
  // reflection's) IsCancelled() plucks the very completion being
  // intercepted, which runs this hook again, until the stack overflows.
  bool Cancelled() const { return context_ != nullptr && context_->IsCancelled(); }

  // Counts the call as answered with `code` and writes its access-log line.
  void Record(grpc::StatusCode code);
};

// A caller-supplied id from metadata, as the access log may show it (see
// LoggableId).
std::string MetadataId(const std::multimap<grpc::string_ref, grpc::string_ref>& metadata,
                       std::string_view key) {
  auto it = metadata.find(grpc::string_ref(key.data(), key.size()));
  if (it == metadata.end()) return "";
  return LoggableId(std::string_view(it->second.data(), it->second.size()));
}

// The access log's level for a status: routine outcomes (and a caller that
// went away) at debug, the caller's mistakes at info, the server's trouble at
// warn.
log::Level LevelFor(grpc::StatusCode code) {
  switch (code) {
    case grpc::StatusCode::OK:
    case grpc::StatusCode::CANCELLED:
      return log::Level::kDebug;
    case grpc::StatusCode::UNKNOWN:
    case grpc::StatusCode::INTERNAL:
    case grpc::StatusCode::DATA_LOSS:
    case grpc::StatusCode::UNAVAILABLE:
    case grpc::StatusCode::RESOURCE_EXHAUSTED:
    case grpc::StatusCode::UNIMPLEMENTED:
      return log::Level::kWarn;
    default:
      return log::Level::kInfo;
  }
}

class Factory final : public ServerInterceptorFactoryInterface {
 public:
  Factory(CounterFamily* started, CounterFamily* handled, HistogramFamily* seconds)
      : started_(started), handled_(handled), seconds_(seconds) {}

  Interceptor* CreateServerInterceptor(ServerRpcInfo* info) override {
    MethodMetrics* method = ForPath(info->method() == nullptr ? "" : info->method());
    if (method == nullptr) return nullptr;  // cannot happen: labels are valid
    method->started->Increment();
    return new MetricsInterceptor(this, method, info->server_context());
  }

  // The handled_total child of `method` and `code`.
  Counter* Handled(MethodMetrics* method, int code) {
    if (code < 0 || code >= kNumCodes) code = kUnknownCode;
    Counter* counter = method->handled[code].load(std::memory_order_acquire);
    if (counter != nullptr) return counter;
    absl::StatusOr<Counter*> made =
        handled_->WithLabels({method->label, kCodeNames[code]});
    if (!made.ok()) return nullptr;
    // Racing callers get the same child from the family, so either store wins.
    method->handled[code].store(*made, std::memory_order_release);
    return *made;
  }

 private:
  // The metrics of a method path, made on first use. Known methods are cached
  // by path (a bounded set: the methods compiled in); every other path maps
  // to the one "unknown" entry without being cached.
  MethodMetrics* ForPath(std::string_view path) {
    {
      absl::ReaderMutexLock lock(&mu_);
      auto it = by_path_.find(absl::string_view(path.data(), path.size()));
      if (it != by_path_.end()) return it->second;
    }
    const std::string label = GrpcMethodLabel(path);
    absl::MutexLock lock(&mu_);
    auto it = by_label_.find(label);
    MethodMetrics* method;
    if (it != by_label_.end()) {
      method = it->second.get();
    } else {
      auto made = std::make_unique<MethodMetrics>();
      made->label = label;
      absl::StatusOr<Counter*> started = started_->WithLabels({label});
      absl::StatusOr<Histogram*> seconds = seconds_->WithLabels({label});
      if (!started.ok() || !seconds.ok()) return nullptr;
      made->started = *started;
      made->seconds = *seconds;
      method = made.get();
      by_label_.emplace(label, std::move(made));
    }
    if (label != kUnknownMethod) by_path_.emplace(std::string(path), method);
    return method;
  }

  CounterFamily* const started_;
  CounterFamily* const handled_;
  HistogramFamily* const seconds_;

  absl::Mutex mu_;
  absl::flat_hash_map<std::string, MethodMetrics*> by_path_ ABSL_GUARDED_BY(mu_);
  absl::flat_hash_map<std::string, std::unique_ptr<MethodMetrics>> by_label_
      ABSL_GUARDED_BY(mu_);
};

void MetricsInterceptor::Intercept(InterceptorBatchMethods* methods) {
  if (methods->QueryInterceptionHookPoint(
          InterceptionHookPoints::POST_RECV_INITIAL_METADATA)) {
    if (const auto* metadata = methods->GetRecvInitialMetadata(); metadata != nullptr) {
      trace_id_ = MetadataId(*metadata, "x-trace-id");
      if (trace_id_.empty()) trace_id_ = MetadataId(*metadata, "traceparent");
      correlation_id_ = MetadataId(*metadata, "x-correlation-id");
    }
  }
  if (methods->QueryInterceptionHookPoint(InterceptionHookPoints::POST_RECV_MESSAGE) &&
      methods->GetRecvMessage() == nullptr) {
    request_unparsed_ = true;
  }
  if (methods->QueryInterceptionHookPoint(InterceptionHookPoints::PRE_SEND_STATUS)) {
    grpc::Status status = methods->GetSendStatus();
    if (request_unparsed_ && status.error_code() == grpc::StatusCode::UNIMPLEMENTED) {
      // gRPC found no request message it could parse. Either the caller sent
      // bytes that are not the method's request (its mistake), or it
      // cancelled before sending one. The client sees INVALID_ARGUMENT in the
      // first case and nothing in the second; which it was is known for sure
      // once the call is closed (POST_RECV_CLOSE), so record it then.
      methods->ModifySendStatus(
          grpc::Status(grpc::StatusCode::INVALID_ARGUMENT, kUnparsedRequestMessage));
      if (closed_) {
        Record(Cancelled() ? grpc::StatusCode::CANCELLED
                           : grpc::StatusCode::INVALID_ARGUMENT);
      } else {
        unparsed_pending_ = true;
      }
    } else {
      Record(status.error_code());
    }
  }
  if (methods->QueryInterceptionHookPoint(InterceptionHookPoints::POST_RECV_CLOSE)) {
    closed_ = true;
    if (unparsed_pending_) {
      unparsed_pending_ = false;
      Record(Cancelled() ? grpc::StatusCode::CANCELLED
                         : grpc::StatusCode::INVALID_ARGUMENT);
    }
  }
  methods->Proceed();
}

void MetricsInterceptor::Record(grpc::StatusCode code) {
  const std::chrono::duration<double> elapsed = std::chrono::steady_clock::now() - start_;
  method_->seconds->Observe(elapsed.count());
  if (Counter* handled = factory_->Handled(method_, code)) handled->Increment();
  // The access log: the code, never the message (it may echo input).
  const log::Level level = LevelFor(code);
  if (log::Enabled(level)) {
    log::Log(level, "rpc",
             {{log::kMethod, method_->label},
              {log::kStatus, GrpcCodeName(code)},
              {"seconds", elapsed.count()},
              {log::kTraceId, trace_id_},
              {log::kCorrelationId, correlation_id_}});
  }
}

}  // namespace

const std::vector<double>& GrpcHandlingSecondsBounds() {
  static const std::vector<double>* const kBounds = new std::vector<double>{
      0.0005, 0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10};
  return *kBounds;
}

absl::StatusOr<std::unique_ptr<ServerInterceptorFactoryInterface>>
CreateGrpcServerMetrics(MetricsRegistry* registry) {
  absl::StatusOr<CounterFamily*> started = registry->AddCounterFamily(
      kGrpcStartedName, "gRPC calls started on the server, by method.", {"method"});
  if (!started.ok()) return started.status();
  absl::StatusOr<CounterFamily*> handled = registry->AddCounterFamily(
      kGrpcHandledName, "gRPC calls answered by the server, by method and status code.",
      {"method", "code"});
  if (!handled.ok()) return handled.status();
  absl::StatusOr<HistogramFamily*> seconds = registry->AddHistogramFamily(
      kGrpcHandlingSecondsName,
      "Time from the start of a gRPC call to its status being sent, in seconds.",
      {"method"}, GrpcHandlingSecondsBounds());
  if (!seconds.ok()) return seconds.status();
  return std::make_unique<Factory>(*started, *handled, *seconds);
}

std::string GrpcMethodLabel(std::string_view path) {
  if (path.size() < 4 || path.front() != '/') return kUnknownMethod;
  const std::string_view rest = path.substr(1);
  const size_t slash = rest.find('/');
  if (slash == std::string_view::npos || slash == 0 || slash + 1 == rest.size() ||
      rest.find('/', slash + 1) != std::string_view::npos) {
    return kUnknownMethod;
  }
  const std::string service(rest.substr(0, slash));
  const std::string method(rest.substr(slash + 1));
  for (std::string_view builtin : kBuiltinMethods) {
    if (rest == builtin) return std::string(rest);
  }
  const google::protobuf::ServiceDescriptor* descriptor =
      google::protobuf::DescriptorPool::generated_pool()->FindServiceByName(service);
  if (descriptor == nullptr || descriptor->FindMethodByName(method) == nullptr) {
    return kUnknownMethod;
  }
  return std::string(rest);
}

std::string LoggableId(std::string_view value) {
  if (value.empty()) return "";
  bool is_id = value.size() <= kMaxLoggedIdLength;
  for (size_t i = 0; is_id && i < value.size(); ++i) {
    const char c = value[i];
    is_id = (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') ||
            c == '.' || c == '_' || c == ':' || c == '-';
  }
  if (is_id) return std::string(value);
  return absl::StrCat("sha256:", HexEncode(Sha256Bytes(value)).substr(0, 16));
}

const char* GrpcCodeName(int code) {
  if (code < 0 || code >= kNumCodes) return kCodeNames[kUnknownCode];
  return kCodeNames[code];
}

}  // namespace mend::metrics
