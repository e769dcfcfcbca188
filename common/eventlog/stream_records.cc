#include "common/eventlog/stream_records.h"

#include <algorithm>
#include <vector>

#include "absl/strings/str_cat.h"
#include "common/base/status_macros.h"

namespace mend::eventlog {
namespace {

constexpr uint64_t kBatch = 256;

}  // namespace

absl::Status ForEachStreamRecord(
    const EventStore& store, std::string_view stream_id, uint64_t from_version,
    uint64_t to_version,
    const std::function<absl::Status(const RawRecord& record, const RecordView& view)>&
        fn) {
  uint64_t next = std::max<uint64_t>(from_version, 1);
  while (to_version == 0 || next <= to_version) {
    const uint64_t count =
        to_version == 0 ? kBatch : std::min(kBatch, to_version - next + 1);
    MEND_ASSIGN_OR_RETURN(std::vector<RawRecord> records,
                          store.ReadStream(stream_id, next, count));
    if (records.empty()) return absl::OkStatus();
    for (const RawRecord& record : records) {
      RecordView view;
      MEND_RETURN_IF_ERROR(DecodeRecord(record.bytes, &view));
      if (view.stream_version != next) {
        return absl::DataLossError(
            absl::StrCat("stream ", std::string(stream_id), ": position ",
                         record.position, " holds version ", view.stream_version,
                         " where version ", next, " was expected"));
      }
      MEND_RETURN_IF_ERROR(fn(record, view));
      ++next;
    }
  }
  return absl::OkStatus();
}

}  // namespace mend::eventlog
