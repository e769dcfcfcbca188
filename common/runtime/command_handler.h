// CommandHandler: the gRPC half of every unary method of a mend service —
// authenticate and authorize the call against the service's method table,
// hand the method's body the caller and the call's deadline, reply with what
// it returns. With CommandPath (command_path.h) it is the whole command flow:
//
//   authenticate → authorize (the method table) → validate → [causal wait]
//   → lock the aggregate → catch up → idempotency → expected version
//   → decide (pure) → [seal, inside the service's decide] → append → fold
//   → answer
//
//   grpc::ServerUnaryReactor* CaseServiceImpl::PauseCase(
//       grpc::CallbackServerContext* context, const PauseCaseRequest* request,
//       CommandResult* response) {
//     return handler_.Unary(context, "PauseCase", response,
//         [&](const Call& call) -> absl::StatusOr<CommandResult> {
//           MEND_RETURN_IF_ERROR(Validate(*request));
//           return Run(call, *request, [&](const CaseState& s,
//                                          const CommandContext& ctx,
//                                          const std::string&) { ... });
//         });
//   }
//
// Authorization comes first, so a caller without a valid token or role
// learns nothing from validation messages; UNAVAILABLE while the service
// replays or drains (ServiceRuntime::Authorize).
//
// Thread safety: immutable; Unary from any thread.
#ifndef MEND_COMMON_RUNTIME_COMMAND_HANDLER_H_
#define MEND_COMMON_RUNTIME_COMMAND_HANDLER_H_

#include <grpcpp/support/server_callback.h>

#include <optional>
#include <string>
#include <string_view>
#include <utility>

#include "absl/functional/function_ref.h"
#include "absl/status/statusor.h"
#include "absl/strings/str_cat.h"
#include "absl/time/time.h"
#include "common/base/role.h"
#include "common/rpc/grpc_reply.h"
#include "common/runtime/command_path.h"
#include "common/runtime/request_digest.h"
#include "common/runtime/service_runtime.h"

namespace mend {

// One authorized call, as a method's body sees it.
struct Call {
  std::string_view method;  // "PauseCase"
  Caller caller;
  absl::Time deadline;  // ServiceRuntime::Deadline of the call
};

// The Command for `request` in `call`: its request_id and digest, on
// `aggregate_id` (empty for a create).
template <typename Request>
Command CommandFor(const Call& call, const Request& request, std::string aggregate_id,
                   std::optional<uint64_t> expected_version) {
  return Command{.method = call.method,
                 .request_id = request.request_id(),
                 .aggregate_id = std::move(aggregate_id),
                 .expected_version = expected_version,
                 .digest = RequestDigest(request),
                 .caller = call.caller,
                 .deadline = call.deadline,
                 .causation_id = ""};
}

// A request's optional expected_version.
template <typename Request>
std::optional<uint64_t> ExpectedVersionOf(const Request& request) {
  return request.has_expected_version()
             ? std::optional<uint64_t>(request.expected_version())
             : std::nullopt;
}

class CommandHandler {
 public:
  // `service_prefix`: "/mend.case.v1.CaseService/". `runtime` must outlive
  // the handler.
  CommandHandler(ServiceRuntime* runtime, std::string service_prefix)
      : runtime_(runtime), prefix_(std::move(service_prefix)) {}

  // The method's full name, as the method table lists it.
  std::string FullMethod(std::string_view method) const {
    return absl::StrCat(prefix_, std::string(method));
  }

  // Authorizes the call for `method` and replies with `body(call)`'s result
  // (or the authorization error).
  template <typename Response>
  grpc::ServerUnaryReactor* Unary(
      grpc::CallbackServerContext* context, std::string_view method, Response* response,
      absl::FunctionRef<absl::StatusOr<Response>(const Call& call)> body) const {
    absl::StatusOr<Caller> caller = runtime_->Authorize(*context, FullMethod(method));
    if (!caller.ok()) return Reply(context, caller.status());
    const Call call{.method = method,
                    .caller = *std::move(caller),
                    .deadline = runtime_->Deadline(*context)};
    return Reply(context, body(call), response);
  }

 private:
  ServiceRuntime* const runtime_;
  const std::string prefix_;
};

}  // namespace mend

#endif  // MEND_COMMON_RUNTIME_COMMAND_HANDLER_H_
