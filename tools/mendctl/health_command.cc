// mendctl health [case|consent|scheduling|conference|GRPC_SERVICE]: one
// grpc.health.v1 Check. With a mend service's name, the health of that
// server as a whole (the empty service name); with a gRPC service's full
// name ("mend.case.v1.CaseService"), that service's, at the server its
// package names (or --service / --address); with nothing, the whole
// server at --service or --address. Prints the status (SERVING,
// NOT_SERVING, UNKNOWN); exit 0 only for SERVING, 1 otherwise (and for a
// failed call: NOT_FOUND for a name the server does not know).
#include <cstdio>
#include <string>

#include "absl/strings/str_cat.h"
#include "common/rpc/status_convert.h"
#include "grpc/health/v1/health.grpc.pb.h"
#include "tools/mendctl/commands.h"

namespace mend::ctl {

int RunHealth(const Args& args) {
  namespace health = ::grpc::health::v1;
  if (args.size() > 1) {
    return UsageError(
        absl::StrCat("health takes at most one name: ", std::string(ServiceNames()),
                     ", or a gRPC service's full name"));
  }
  const std::string name = args.empty() ? "" : args[0];
  const bool whole_server = IsMendService(name);
  absl::StatusOr<std::string> address =
      whole_server ? AddressOfService(name) : AddressForGrpcService(name);
  if (!address.ok()) return UsageError(address.status());
  absl::StatusOr<Connection> connection = Connection::FromFlags(*address);
  if (!connection.ok()) return UsageError(connection.status());

  grpc::ClientContext context;
  connection->Prepare(&context, /*with_deadline=*/true);
  health::HealthCheckRequest request;
  request.set_service(whole_server ? "" : name);
  health::HealthCheckResponse response;
  grpc::Status s =
      health::Health::NewStub(connection->channel())->Check(&context, request, &response);
  if (!s.ok()) return RpcError(FromGrpc(s));
  std::printf("%s\n",
              health::HealthCheckResponse::ServingStatus_Name(response.status()).c_str());
  return response.status() == health::HealthCheckResponse::SERVING ? kExitOk
                                                                   : kExitRpcFailed;
}

}  // namespace mend::ctl
