#include "tools/audit/event_json.h"

#include <utility>

#include "absl/strings/escaping.h"
#include "absl/strings/str_cat.h"
#include "absl/time/time.h"
#include "google/protobuf/descriptor.h"
#include "google/protobuf/util/json_util.h"
#include "mend/case/v1/events.pb.h"
#include "mend/conference/v1/events.pb.h"
#include "mend/consent/v1/events.pb.h"
#include "mend/scheduling/v1/events.pb.h"
#include "nlohmann/json.hpp"

namespace mend::audit {
namespace {

// The generated pool knows a .proto file's messages only if its object file
// is linked in, and a static library's is only when something refers to it:
// one message of each file of events is named here, so every event type of
// the four services decodes. A new file of events is added here.
void LinkEventSchemas() {
  static const bool linked = [] {
    (void)::mend::case_::v1::CaseReferred::descriptor();
    (void)::mend::consent::v1::ConsentRecorded::descriptor();
    (void)::mend::scheduling::v1::Slot::descriptor();
    (void)::mend::conference::v1::Approval::descriptor();
    return true;
  }();
  (void)linked;
}

}  // namespace

PayloadDecoder::PayloadDecoder() { LinkEventSchemas(); }
PayloadDecoder::~PayloadDecoder() = default;

absl::StatusOr<const google::protobuf::Message*> PayloadDecoder::Decode(
    std::string_view event_type, std::string_view payload) {
  auto it = messages_.find(absl::string_view(event_type.data(), event_type.size()));
  if (it == messages_.end()) {
    const google::protobuf::Descriptor* descriptor =
        google::protobuf::DescriptorPool::generated_pool()->FindMessageTypeByName(
            std::string(event_type));
    if (descriptor == nullptr) {
      return absl::InvalidArgumentError(
          absl::StrCat("unknown event type \"", absl::CHexEscape(std::string(event_type)),
                       "\": no such message in mend's schemas"));
    }
    const google::protobuf::Message* prototype =
        google::protobuf::MessageFactory::generated_factory()->GetPrototype(descriptor);
    it = messages_.emplace(std::string(event_type), prototype->New()).first;
  }
  google::protobuf::Message* message = it->second.get();
  if (!message->ParseFromArray(payload.data(), static_cast<int>(payload.size()))) {
    return absl::InvalidArgumentError(
        absl::StrCat("the payload does not decode as ", std::string(event_type)));
  }
  return message;
}

std::string MessageToJson(const google::protobuf::Message& message) {
  google::protobuf::util::JsonPrintOptions options;
  options.preserve_proto_field_names = true;
  options.always_print_primitive_fields = false;
  std::string out;
  if (!google::protobuf::util::MessageToJsonString(message, &out, options).ok()) {
    return "{}";  // only for a message with invalid UTF-8, which Decode refuses
  }
  return out;
}

std::string RecordToJson(const eventlog::RecordView& view, std::string_view record_hash,
                         std::string_view payload_json) {
  nlohmann::ordered_json j;
  j["position"] = view.position;
  j["stream_id"] = std::string(view.stream_id);
  j["stream_version"] = view.stream_version;
  j["event_type"] = std::string(view.event_type);
  j["event_id"] = std::string(view.event_id);
  j["recorded_unix_micros"] = view.recorded_unix_micros;
  j["recorded_at"] = absl::FormatTime("%Y-%m-%dT%H:%M:%E6SZ",
                                      absl::FromUnixMicros(view.recorded_unix_micros),
                                      absl::UTCTimeZone());
  j["actor"] = {{"id", std::string(view.actor_id)},
                {"role", std::string(view.actor_role)}};
  j["correlation_id"] = std::string(view.correlation_id);
  j["causation_id"] = std::string(view.causation_id);
  j["schema_version"] = view.schema_version;
  j["prev_hash"] = absl::BytesToHexString(std::string(view.prev_hash));
  j["hash"] = absl::BytesToHexString(std::string(record_hash));
  // The payload is spliced in as it is (protobuf's JSON, already valid).
  std::string out = j.dump(-1, ' ', false, nlohmann::json::error_handler_t::replace);
  out.pop_back();  // the closing brace
  absl::StrAppend(&out, ",\"payload\":", std::string(payload_json), "}");
  return out;
}

}  // namespace mend::audit
