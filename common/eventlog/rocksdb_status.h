// The one place a rocksdb::Status becomes an absl::Status.
#ifndef MEND_COMMON_EVENTLOG_ROCKSDB_STATUS_H_
#define MEND_COMMON_EVENTLOG_ROCKSDB_STATUS_H_

#include <string_view>

#include "absl/status/status.h"

namespace rocksdb {
class Status;
}  // namespace rocksdb

namespace mend {

// Maps a RocksDB status to the absl code that tells the caller what to do.
// `context` and ": " prefix RocksDB's own message.
//   ok                                        OK (context ignored)
//   NotFound                                  NOT_FOUND
//   InvalidArgument                           INVALID_ARGUMENT
//   Busy, TimedOut, TryAgain, IOError,
//   ShutdownInProgress, Aborted               UNAVAILABLE (retry later)
//   IOError with the NoSpace subcode (ENOSPC) UNAVAILABLE, "<context>: disk full: ..."
//   Corruption                                DATA_LOSS
//   NotSupported                              FAILED_PRECONDITION
//   anything else (Incomplete, Expired, ...)  INTERNAL
absl::Status FromRocksDb(const rocksdb::Status& status, std::string_view context);

}  // namespace mend

#endif  // MEND_COMMON_EVENTLOG_ROCKSDB_STATUS_H_
