// Zero-copy decoding of stored records.
//
// A stored record is mend.eventlog.v1.StoredRecord serialised (record.proto):
// field 1 the Envelope, field 2 the payload, field 3 the previous record's
// hash. Replay and verification read the envelope of every record but the
// payload only of the events a service handles, so DecodeRecord reads the
// wire format directly into a RecordView whose strings point into the stored
// bytes: no allocation, no copy. ToEnvelope makes the protobuf message when
// one is wanted (JSON export, tools).
//
//   RecordView view;
//   MEND_RETURN_IF_ERROR(DecodeRecord(bytes, &view));
//   if (view.event_type == "mend.case.v1.CaseReferred") {
//     CaseReferred event;
//     event.ParseFromArray(view.payload.data(), view.payload.size());
//   }
//
// The decoder knows every Envelope field; record_codec_test sets each field
// through protobuf reflection and fails if a field added to record.proto is
// not decoded here.
#ifndef MEND_COMMON_EVENTLOG_RECORD_CODEC_H_
#define MEND_COMMON_EVENTLOG_RECORD_CODEC_H_

#include <cstdint>
#include <string_view>

#include "absl/status/status.h"

namespace mend::eventlog {
namespace v1 {
class Envelope;
}  // namespace v1

// A decoded record. Every string_view points into the bytes given to
// DecodeRecord and is valid only as long as they are.
struct RecordView {
  uint64_t position = 0;
  std::string_view stream_id;
  uint64_t stream_version = 0;
  std::string_view event_type;
  std::string_view event_id;
  int64_t recorded_unix_micros = 0;
  std::string_view actor_id;
  std::string_view actor_role;
  std::string_view correlation_id;
  std::string_view causation_id;
  uint32_t schema_version = 0;
  std::string_view payload;
  std::string_view prev_hash;
};

// Decodes `bytes` as a StoredRecord into `*view` (reset first). DATA_LOSS if
// the bytes are not a well-formed record: bad wire format, a known field with
// the wrong wire type, no envelope or two, a prev_hash that is not 32 bytes.
// Unknown fields are skipped, so records from newer writers stay readable.
absl::Status DecodeRecord(std::string_view bytes, RecordView* view);

// The envelope of a decoded record as a protobuf message.
void ToEnvelope(const RecordView& view, v1::Envelope* envelope);

}  // namespace mend::eventlog

#endif  // MEND_COMMON_EVENTLOG_RECORD_CODEC_H_
