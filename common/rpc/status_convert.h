// The one place an absl::Status becomes a grpc::Status, and back. Handlers
// never convert inline. (RocksDB's statuses become absl ones in
// common/eventlog/rocksdb_status.h.)
#ifndef MEND_COMMON_RPC_STATUS_CONVERT_H_
#define MEND_COMMON_RPC_STATUS_CONVERT_H_

#include "absl/status/status.h"

namespace grpc {
class Status;
}  // namespace grpc

namespace mend {

// Same code, same message: absl::StatusCode and grpc::StatusCode both number
// google.rpc.Code (OK 0 … UNAUTHENTICATED 16), so the code is carried over
// as it is. An OK status becomes grpc::Status::OK (its message dropped).
grpc::Status ToGrpc(const absl::Status& status);

// The other way: what a gRPC call returned, as an absl::Status with the same
// code and message (an OK one is absl::OkStatus()).
absl::Status FromGrpc(const grpc::Status& status);

}  // namespace mend

#endif  // MEND_COMMON_RPC_STATUS_CONVERT_H_
