// EventLogWriterService: serves mend.eventlog.v1.EventLogWriter (raw appends)
// over one EventStore. Only the development log server registers it; domain
// services append through their own commands.
//
// Every Append is authorized first (common/auth.h): UNAUTHENTICATED without a
// valid bearer token, PERMISSION_DENIED unless the caller's role is service
// (EventLogWriterPolicy()). Appended events record the caller's subject and
// role as their actor.
//
// Thread safety: as gRPC requires; the store and the authorizer must outlive
// the service.
#ifndef MEND_TESTS_SUPPORT_EVENTLOG_WRITER_SERVICE_H_
#define MEND_TESTS_SUPPORT_EVENTLOG_WRITER_SERVICE_H_

#include "absl/status/statusor.h"
#include "common/eventlog/event_store.h"
#include "common/security/auth.h"
#include "mend/eventlog/v1/eventlog_service.grpc.pb.h"

namespace mend::eventlog {

inline constexpr char kEventLogWriterAppendMethod[] =
    "/mend.eventlog.v1.EventLogWriter/Append";

// Who may call EventLogWriter: Append for services only.
const MethodPolicy::Table& EventLogWriterPolicy();

class EventLogWriterService final : public v1::EventLogWriter::CallbackService {
 public:
  // `authorizer` must not be null; it decides every call.
  EventLogWriterService(EventStore* store, const Authorizer* authorizer)
      : store_(store), authorizer_(authorizer) {}

  // The append runs on a gRPC thread and blocks until durable.
  grpc::ServerUnaryReactor* Append(grpc::CallbackServerContext* context,
                                   const v1::AppendRequest* request,
                                   v1::AppendResponse* response) override;

 private:
  EventStore* const store_;
  const Authorizer* const authorizer_;
};

// The wire form of an expected version; INVALID_ARGUMENT when no form is set.
absl::StatusOr<ExpectedVersion> FromProto(const v1::ExpectedVersion& proto);

}  // namespace mend::eventlog

#endif  // MEND_TESTS_SUPPORT_EVENTLOG_WRITER_SERVICE_H_
