// gRPC server metrics, recorded by an interceptor on every RPC:
//
//   mend_grpc_server_started_total{method}         counter, RPCs begun
//   mend_grpc_server_handled_total{method,code}    counter, RPCs answered, by
//                                                  status code ("OK",
//                                                  "INVALID_ARGUMENT", ...)
//   mend_grpc_server_handling_seconds{method}      histogram, from the start
//                                                  of the RPC to its status
//
// `method` is "package.Service/Method" (e.g.
// "mend.eventlog.v1.EventLogWriter/Append"). Paths that name no method
// compiled into the program (no protobuf descriptor; a client can send any
// path) are recorded as "unknown", so clients cannot grow the label set.
//
//   MEND_ASSIGN_OR_RETURN(auto factory, CreateGrpcServerMetrics(&registry));
//   std::vector<std::unique_ptr<
//       grpc::experimental::ServerInterceptorFactoryInterface>> creators;
//   creators.push_back(std::move(factory));
//   builder.experimental().SetInterceptorCreators(std::move(creators));
//
// The interceptor also repairs one answer of gRPC 1.51's callback API: a
// request whose bytes do not parse as the method's request message (invalid
// UTF-8 in a string field, a bad length prefix, random bytes) is answered
// UNIMPLEMENTED with an empty message, before any handler or authorization
// runs; so is a call the client cancelled before its request message came.
// The interceptor sees both as a POST_RECV_MESSAGE with no message and sends
// INVALID_ARGUMENT "request does not parse" instead. Which of the two it was
// is certain only once the call is closed (POST_RECV_CLOSE), so for these
// calls the counters and the access log are recorded then (INVALID_ARGUMENT
// at the caller's-error level, info; or CANCELLED) -- possibly a moment
// after the client saw the status.
//
// The access log ("rpc" lines) has the method, the status code (never the
// message), the seconds taken and the caller's trace and correlation ids (as
// LoggableId shows them); the
// level is debug for OK and CANCELLED (the caller went away), info for the
// caller's mistakes, warn for the server's trouble (UNKNOWN, INTERNAL,
// DATA_LOSS, UNAVAILABLE, RESOURCE_EXHAUSTED, UNIMPLEMENTED).
//
// The start is when gRPC creates the RPC's interceptors (as the call is
// matched to its method), the end the PRE_SEND_STATUS hook (but see above), so
// the counters have moved before the client can see the status. An RPC whose status is
// never sent (the server shut down first) counts as started only.
//
// Thread safety: gRPC calls the factory and interceptors from its threads.
// The registry must outlive the server.
#ifndef MEND_COMMON_OBSERVABILITY_GRPC_METRICS_H_
#define MEND_COMMON_OBSERVABILITY_GRPC_METRICS_H_

#include <grpcpp/support/server_interceptor.h>

#include <cstddef>
#include <memory>
#include <string>
#include <string_view>
#include <vector>

#include "absl/status/statusor.h"
#include "common/observability/metrics.h"

namespace mend::metrics {

inline constexpr char kGrpcStartedName[] = "mend_grpc_server_started_total";
inline constexpr char kGrpcHandledName[] = "mend_grpc_server_handled_total";
inline constexpr char kGrpcHandlingSecondsName[] = "mend_grpc_server_handling_seconds";
inline constexpr char kUnknownMethod[] = "unknown";
// The message of the INVALID_ARGUMENT sent for a request that does not parse.
inline constexpr char kUnparsedRequestMessage[] = "request does not parse";

// Bucket bounds of mend_grpc_server_handling_seconds: 0.5 ms to 10 s.
const std::vector<double>& GrpcHandlingSecondsBounds();

// Registers the three families in `registry` (or finds them, if registered
// before with the same definition) and returns the interceptor factory to
// hand to ServerBuilder. Errors are those of MetricsRegistry::Add*Family
// (ALREADY_EXISTS if one of the names is taken by something else).
absl::StatusOr<std::unique_ptr<grpc::experimental::ServerInterceptorFactoryInterface>>
CreateGrpcServerMetrics(MetricsRegistry* registry);

// The label for a gRPC method path: "/pkg.Service/Method" -> "pkg.Service/Method"
// when the generated descriptor pool (or the gRPC health service) has it,
// otherwise "unknown".
std::string GrpcMethodLabel(std::string_view path);

// How the access log shows a caller-supplied id (x-trace-id, traceparent,
// x-correlation-id): the value itself when it looks like an id -- 1 to
// kMaxLoggedIdLength characters from [A-Za-z0-9._:-] -- otherwise
// "sha256:" and the first 16 hex digits of its SHA-256, so a client can
// neither write arbitrary text (or personal data) into the logs nor make a
// line long, while equal values still match. Empty stays empty.
inline constexpr size_t kMaxLoggedIdLength = 128;
std::string LoggableId(std::string_view value);

// The canonical name of a gRPC status code ("OK", "INVALID_ARGUMENT", ...);
// "UNKNOWN" for a value outside the canonical codes.
const char* GrpcCodeName(int code);

}  // namespace mend::metrics

#endif  // MEND_COMMON_OBSERVABILITY_GRPC_METRICS_H_
