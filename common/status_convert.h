// The places where foreign status types become absl::Status and where
// absl::Status becomes a grpc::Status. Handlers never convert inline.
#ifndef MEND_COMMON_STATUS_CONVERT_H_
#define MEND_COMMON_STATUS_CONVERT_H_

#include <string_view>

#include "absl/status/status.h"

namespace rocksdb {
class Status;
}  // namespace rocksdb
namespace grpc {
class Status;
}  // namespace grpc

namespace mend {

// Maps a RocksDB status to the absl code that tells the caller what to do:
// NotFound → NOT_FOUND, InvalidArgument → INVALID_ARGUMENT, Busy/TimedOut/
// TryAgain → UNAVAILABLE (retry), Corruption → DATA_LOSS, IOError →
// UNAVAILABLE, anything else → INTERNAL. `context` prefixes the message.
absl::Status FromRocksDb(const rocksdb::Status& status, std::string_view context);

// Same code, same message. Codes match one to one (both follow
// google.rpc.Code).
grpc::Status ToGrpc(const absl::Status& status);

// The other way: what a gRPC call returned, as an absl::Status (same code,
// same message).
absl::Status FromGrpc(const grpc::Status& status);

}  // namespace mend

#endif  // MEND_COMMON_STATUS_CONVERT_H_
