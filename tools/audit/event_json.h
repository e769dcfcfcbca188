// Payloads by the schema their event type names: every mend event type is
// the fully qualified name of a protobuf message compiled into this binary
// (mend_protos), so a record's payload decodes with the generated message of
// that name, and prints as protobuf JSON.
//
//   PayloadDecoder decoder;
//   MEND_ASSIGN_OR_RETURN(const google::protobuf::Message* m,
//                         decoder.Decode(view.event_type, view.payload));
//
// Not thread-safe (one decoder per thread: it keeps one message per type).
#ifndef MEND_TOOLS_AUDIT_EVENT_JSON_H_
#define MEND_TOOLS_AUDIT_EVENT_JSON_H_

#include <memory>
#include <string>
#include <string_view>

#include "absl/container/flat_hash_map.h"
#include "absl/status/statusor.h"
#include "common/eventlog/record_codec.h"
#include "google/protobuf/message.h"

namespace mend::audit {

class PayloadDecoder {
 public:
  PayloadDecoder();
  ~PayloadDecoder();

  // The payload parsed as the message `event_type` names, valid until the
  // next Decode of that type. INVALID_ARGUMENT "unknown event type X" when
  // no such message is compiled in; "... does not decode as X" when the
  // bytes do not parse (or hold bad UTF-8 in a string field).
  absl::StatusOr<const google::protobuf::Message*> Decode(std::string_view event_type,
                                                          std::string_view payload);

 private:
  absl::flat_hash_map<std::string, std::unique_ptr<google::protobuf::Message>> messages_;
};

// A message as protobuf JSON on one line (field names as in the .proto,
// enums by name, bytes base64).
std::string MessageToJson(const google::protobuf::Message& message);

// One record as a JSON object on one line:
//   {"position":1,"stream_id":"case-…","stream_version":1,
//    "event_type":"mend.case.v1.CaseReferred","event_id":"…",
//    "recorded_unix_micros":…,"recorded_at":"2026-12-01T10:00:00.000000Z",
//    "actor":{"id":"…","role":"…"},"correlation_id":"…","causation_id":"…",
//    "schema_version":1,"prev_hash":"<hex>","hash":"<hex>",
//    "payload":{…}}
// `payload_json` is put in as it is (a JSON object); `record_hash` is the
// SHA-256 of the stored bytes.
std::string RecordToJson(const eventlog::RecordView& view, std::string_view record_hash,
                         std::string_view payload_json);

}  // namespace mend::audit

#endif  // MEND_TOOLS_AUDIT_EVENT_JSON_H_
