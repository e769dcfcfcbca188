// Finishing a unary call of a callback-API gRPC service with an absl status
// (common/status_convert.h maps the code and keeps the message):
//
//   grpc::ServerUnaryReactor* Service::GetThing(grpc::CallbackServerContext* context,
//                                               const GetThingRequest* request,
//                                               Thing* response) {
//     return Reply(context, LookUp(*request), response);  // absl::StatusOr<Thing>
//   }
#ifndef MEND_COMMON_RPC_GRPC_REPLY_H_
#define MEND_COMMON_RPC_GRPC_REPLY_H_

#include <grpcpp/server_context.h>
#include <grpcpp/support/server_callback.h>

#include <utility>

#include "absl/status/status.h"
#include "absl/status/statusor.h"
#include "common/rpc/status_convert.h"

namespace mend {

// Ends the call with `status`.
inline grpc::ServerUnaryReactor* Reply(grpc::CallbackServerContext* context,
                                       const absl::Status& status) {
  grpc::ServerUnaryReactor* reactor = context->DefaultReactor();
  reactor->Finish(ToGrpc(status));
  return reactor;
}

// Ends the call with `result`'s value in `*response`, or its error.
template <typename Response>
grpc::ServerUnaryReactor* Reply(grpc::CallbackServerContext* context,
                                absl::StatusOr<Response> result, Response* response) {
  if (result.ok()) *response = *std::move(result);
  return Reply(context, result.status());
}

}  // namespace mend

#endif  // MEND_COMMON_RPC_GRPC_REPLY_H_
