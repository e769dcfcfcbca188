// Reading one stream of an event log record by record, decoded: what a
// service does to catch its in-memory state up with its own stream, and
// what an explanation does to re-fold a stream up to a point.
//
//   MEND_RETURN_IF_ERROR(eventlog::ForEachStreamRecord(
//       store, "case-42", state.version + 1, /*to_version=*/0,
//       [&](const RawRecord& record, const RecordView& view) {
//         return Apply(record.position, view);
//       }));
#ifndef MEND_COMMON_EVENTLOG_STREAM_RECORDS_H_
#define MEND_COMMON_EVENTLOG_STREAM_RECORDS_H_

#include <cstdint>
#include <functional>
#include <string_view>

#include "absl/status/status.h"
#include "common/eventlog/event_store.h"
#include "common/eventlog/record_codec.h"

namespace mend::eventlog {

// Calls `fn` for each record of `stream_id` with version `from_version`
// (from 1) through `to_version` (inclusive; 0: to the end as it is when the
// reading gets there), in version order, reading in batches. Stops at the
// first error of the store, of decoding or a record whose version is not
// the next one (DATA_LOSS), or of `fn`, and returns it. A stream shorter than
// `to_version` is not an error: the records there are are given.
absl::Status ForEachStreamRecord(
    const EventStore& store, std::string_view stream_id, uint64_t from_version,
    uint64_t to_version,
    const std::function<absl::Status(const RawRecord& record, const RecordView& view)>&
        fn);

}  // namespace mend::eventlog

#endif  // MEND_COMMON_EVENTLOG_STREAM_RECORDS_H_
