// Client side of the end-to-end tests: channels to a service process on
// loopback, waiting for it to serve, and one-call helpers.
#ifndef MEND_TESTS_SUPPORT_GRPC_CLIENT_H_
#define MEND_TESTS_SUPPORT_GRPC_CLIENT_H_

#include <grpcpp/grpcpp.h>

#include <memory>
#include <string>

#include "absl/status/statusor.h"
#include "absl/time/clock.h"
#include "absl/time/time.h"
#include "common/security/auth.h"
#include "tests/support/test_util.h"

namespace mend::testing {

// A channel to 127.0.0.1:`port` that reconnects quickly (20-200 ms) while
// the process starts or restarts.
std::shared_ptr<grpc::Channel> Connect(int port);

// True once the service on `channel` reports SERVING on a Health.Watch
// stream (which waits for the server to come up and reports every change;
// a stream broken by the transport is opened again); false if a stream ends
// otherwise or `timeout` passes (the reason is printed to stderr).
// With `service` (e.g. "mend.consent.v1.ConsentService"), waits for that
// service and returns false at once if the server there does not know it:
// another process holds the port.
bool WaitServing(const std::shared_ptr<grpc::Channel>& channel,
                 absl::Duration timeout = absl::Seconds(30),
                 const std::string& service = "");

// One unary call with a bearer token (none if empty) and a deadline:
//   Call<v1::CommandResult>(token, [&](grpc::ClientContext* c, v1::CommandResult* r) {
//     return stub->ReferCase(c, request, r);
//   });
template <typename Response, typename Fn>
absl::StatusOr<Response> Call(const std::string& token, Fn fn,
                              absl::Duration timeout = absl::Seconds(30)) {
  grpc::ClientContext context;
  if (!token.empty()) AttachBearerToken(&context, token);
  context.set_deadline(absl::ToChronoTime(absl::Now() + timeout));
  Response response;
  grpc::Status status = fn(&context, &response);
  if (!status.ok()) return FromGrpc(status);
  return response;
}

// Sends `bytes` as the raw request of `method` ("/pkg.Service/Method") on
// `channel`, with no token, and returns the status (a server-streaming
// method's status reads the same way).
grpc::Status CallRaw(const std::shared_ptr<grpc::Channel>& channel,
                     const std::string& method, const std::string& bytes);

}  // namespace mend::testing

#endif  // MEND_TESTS_SUPPORT_GRPC_CLIENT_H_
