#include "tests/support/eventlog_writer_service.h"

#include <string>
#include <utility>
#include <vector>

#include "common/rpc/status_convert.h"

namespace mend::eventlog {

absl::StatusOr<ExpectedVersion> FromProto(const v1::ExpectedVersion& proto) {
  switch (proto.kind_case()) {
    case v1::ExpectedVersion::kAny:
      return ExpectedVersion::Any();
    case v1::ExpectedVersion::kNoStream:
      return ExpectedVersion::NoStream();
    case v1::ExpectedVersion::kExists:
      return ExpectedVersion::Exists();
    case v1::ExpectedVersion::kExact:
      return ExpectedVersion::Exact(proto.exact());
    case v1::ExpectedVersion::KIND_NOT_SET:
      break;
  }
  return absl::InvalidArgumentError(
      "expected_version must be one of any, no_stream, exists or exact");
}

const MethodPolicy::Table& EventLogWriterPolicy() {
  static const MethodPolicy::Table* const table = new MethodPolicy::Table{
      {kEventLogWriterAppendMethod, {Role::kService}},
  };
  return *table;
}

grpc::ServerUnaryReactor* EventLogWriterService::Append(
    grpc::CallbackServerContext* context, const v1::AppendRequest* request,
    v1::AppendResponse* response) {
  grpc::ServerUnaryReactor* reactor = context->DefaultReactor();
  // Fail closed without an authorizer.
  absl::StatusOr<Caller> caller =
      authorizer_ != nullptr
          ? authorizer_->Authorize(*context, kEventLogWriterAppendMethod)
          : absl::InternalError("EventLogWriter service has no authorizer");
  if (!caller.ok()) {
    reactor->Finish(ToGrpc(caller.status()));
    return reactor;
  }
  const std::string actor_role(RoleName(caller->role));
  absl::StatusOr<ExpectedVersion> expected = FromProto(request->expected_version());
  if (!expected.ok()) {
    reactor->Finish(ToGrpc(expected.status()));
    return reactor;
  }
  std::vector<NewEvent> events;
  events.reserve(request->events_size());
  for (const v1::NewEvent& e : request->events()) {
    events.push_back(NewEvent{.event_id = e.event_id(),
                              .event_type = e.event_type(),
                              .payload = e.payload(),
                              .actor_id = caller->subject,
                              .actor_role = actor_role,
                              .correlation_id = e.correlation_id(),
                              .causation_id = e.causation_id()});
  }
  absl::StatusOr<AppendResult> result =
      store_->Append(request->stream_id(), *expected, std::move(events));
  if (result.ok()) {
    response->set_first_position(result->first_position);
    response->set_stream_version(result->stream_version);
    response->set_deduplicated(result->deduplicated);
  }
  reactor->Finish(ToGrpc(result.status()));
  return reactor;
}

}  // namespace mend::eventlog
