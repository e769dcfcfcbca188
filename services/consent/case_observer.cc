#include "services/consent/case_observer.h"

#include <memory>
#include <string>
#include <utility>

#include "absl/strings/str_cat.h"
#include "common/base/sha256.h"
#include "google/protobuf/descriptor.h"
#include "google/protobuf/message.h"
#include "google/protobuf/reflection.h"
#include "mend/common/v1/contact.pb.h"
#include "services/consent/case_projection.h"
#include "services/consent/consent_state.h"

namespace mend::consentsvc {
namespace {

using google::protobuf::FieldDescriptor;
using google::protobuf::Message;

// Clears every mend.common.v1.Sealed field of `message`, at any depth.
void ClearSealed(Message& message) {
  const google::protobuf::Descriptor* sealed = common_v1::Sealed::descriptor();
  const google::protobuf::Reflection* reflection = message.GetReflection();
  std::vector<const FieldDescriptor*> fields;
  reflection->ListFields(message, &fields);
  for (const FieldDescriptor* field : fields) {
    if (field->cpp_type() != FieldDescriptor::CPPTYPE_MESSAGE) continue;
    if (field->message_type() == sealed) {
      reflection->ClearField(&message, field);
    } else if (field->is_repeated()) {
      const int n = reflection->FieldSize(message, field);
      for (int i = 0; i < n; ++i) {
        ClearSealed(*reflection->MutableRepeatedMessage(&message, field, i));
      }
    } else {
      ClearSealed(*reflection->MutableMessage(&message, field));
    }
  }
}

}  // namespace

absl::StatusOr<consent_v1::CaseEventObserved> ObserveCaseRecord(
    uint64_t position, std::string_view bytes, const eventlog::RecordView& view) {
  // Parsing as consent's CaseEvent checks the type is a case event this
  // build folds: an unknown one stops the follower (the gate fails closed).
  absl::StatusOr<CaseEvent> event =
      ParseCaseEvent(view.event_type, view.payload, position);
  if (!event.ok()) return event.status();
  const std::string& case_id = CaseEventCaseId(*event);
  if (case_id.empty()) {
    return absl::DataLossError(absl::StrCat(std::string(view.event_type),
                                            " at case-log position ", position,
                                            " has no case_id"));
  }
  const Message& message = CaseEventMessage(*event);
  std::unique_ptr<Message> payload(message.New());
  payload->CopyFrom(message);
  ClearSealed(*payload);

  consent_v1::CaseEventObserved observed;
  observed.set_case_id(case_id);
  observed.set_case_position(position);
  observed.set_case_event_type(std::string(view.event_type));
  observed.set_case_event_id(std::string(view.event_id));
  observed.set_case_correlation_id(std::string(view.correlation_id));
  observed.set_case_recorded_unix_micros(view.recorded_unix_micros);
  observed.set_case_record_hash(Sha256Bytes(bytes));
  payload->SerializeToString(observed.mutable_payload());
  return observed;
}

eventlog::WriteRequest ObservationWrite(const consent_v1::CaseEventObserved& observed) {
  eventlog::NewEvent event;
  event.event_id = absl::StrCat("case@", observed.case_position());
  event.event_type = kCaseEventObservedType;
  observed.SerializeToString(&event.payload);
  event.actor_id = "consent";
  event.actor_role = "service";
  event.correlation_id = observed.case_correlation_id();
  event.causation_id = observed.case_event_id();

  eventlog::WriteRequest request;
  request.appends.push_back(
      eventlog::StreamAppend{.stream_id = ConsentStreamId(observed.case_id()),
                             .expected = eventlog::ExpectedVersion::Any(),
                             .events = {std::move(event)}});
  return request;
}

}  // namespace mend::consentsvc
