// EventLogWriterService: serves mend.eventlog.v1.EventLogWriter (raw appends)
// over one EventStore. Only the development log server registers it; domain
// services append through their own commands.
//
// Thread safety: as gRPC requires; the store must outlive the service.
#ifndef MEND_COMMON_EVENTLOG_WRITER_SERVICE_H_
#define MEND_COMMON_EVENTLOG_WRITER_SERVICE_H_

#include "absl/status/statusor.h"
#include "common/event_store.h"
#include "mend/eventlog/v1/eventlog_service.grpc.pb.h"

namespace mend::eventlog {

class EventLogWriterService final : public v1::EventLogWriter::CallbackService {
 public:
  explicit EventLogWriterService(EventStore* store) : store_(store) {}

  // The append runs on a gRPC thread and blocks until durable.
  grpc::ServerUnaryReactor* Append(grpc::CallbackServerContext* context,
                                   const v1::AppendRequest* request,
                                   v1::AppendResponse* response) override;

 private:
  EventStore* const store_;
};

// The wire form of an expected version; INVALID_ARGUMENT when no form is set.
absl::StatusOr<ExpectedVersion> FromProto(const v1::ExpectedVersion& proto);

}  // namespace mend::eventlog

#endif  // MEND_COMMON_EVENTLOG_WRITER_SERVICE_H_
