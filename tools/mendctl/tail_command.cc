// mendctl tail SERVICE [--from POSITION] [--limit N]: a service's log as it
// grows (EventLog.Subscribe), one JSON line an event:
//
//   {"position":12,"stream_id":"case-…","stream_version":3,
//    "event_type":"mend.case.v1.FacilitatorAllocated","event_id":"…",
//    "recorded_unix_micros":…,"recorded_at":"2026-02-10T09:00:00.000000Z",
//    "actor":{"id":"manager-mia","role":"manager"},…,"payload":{…}}
//
// (mend-audit export's lines: tools/audit/event_json.h). The payload is
// decoded by its event type; sealed personal data stays sealed. A payload
// of a type mendctl does not know is {"base64":"…","note":"…"}.
//
// From the head + 1 (new events only) unless --from; --from 1 is the whole
// log. Ends after --limit events, or on Ctrl-C/SIGTERM (exit 0), or when
// the stream does (the server shutting down: UNAVAILABLE, exit 1).
#include <cstdio>
#include <string>

#include "absl/flags/flag.h"
#include "absl/strings/escaping.h"
#include "absl/strings/str_cat.h"
#include "common/eventlog/record_codec.h"
#include "common/rpc/status_convert.h"
#include "mend/eventlog/v1/eventlog_service.grpc.pb.h"
#include "nlohmann/json.hpp"
#include "tools/audit/event_json.h"
#include "tools/mendctl/commands.h"
#include "tools/mendctl/stop_signal.h"

ABSL_FLAG(int64_t, from, 0,
          "tail: the first position to print (0: the next event after the current head)");
ABSL_FLAG(int64_t, limit, 0,
          "tail: stop after this many events (0: follow until stopped)");

namespace mend::ctl {
namespace {

namespace v1 = ::mend::eventlog::v1;

// The event's payload as JSON: its type's message, or the bytes and why not.
std::string PayloadJson(audit::PayloadDecoder& decoder,
                        const eventlog::RecordView& view) {
  absl::StatusOr<const google::protobuf::Message*> payload =
      decoder.Decode(view.event_type, view.payload);
  if (payload.ok()) return audit::MessageToJson(**payload);
  nlohmann::ordered_json j;
  j["base64"] = absl::Base64Escape(std::string(view.payload));
  j["note"] = std::string(payload.status().message());
  return j.dump(-1, ' ', false, nlohmann::json::error_handler_t::replace);
}

}  // namespace

int RunTail(const Args& args) {
  if (args.size() != 1) {
    return UsageError(
        absl::StrCat("tail takes one service: ", std::string(ServiceNames())));
  }
  const int64_t from = absl::GetFlag(FLAGS_from);
  const int64_t limit = absl::GetFlag(FLAGS_limit);
  if (from < 0)
    return UsageError("--from must be a position (1 and up), or 0 for the head");
  if (limit < 0) return UsageError("--limit must be 0 (no limit) or more");
  absl::StatusOr<std::string> address = AddressOfService(args[0]);
  if (!address.ok()) return UsageError(address.status());
  absl::StatusOr<Connection> connection = Connection::FromFlags(*address);
  if (!connection.ok()) return UsageError(connection.status());
  auto stub = v1::EventLog::NewStub(connection->channel());

  v1::SubscribeRequest request;
  if (from > 0) {
    request.set_after_position(from - 1);
  } else {
    grpc::ClientContext context;
    connection->Prepare(&context, /*with_deadline=*/true);
    v1::GetHeadResponse head;
    if (grpc::Status s = stub->GetHead(&context, v1::GetHeadRequest(), &head); !s.ok()) {
      return RpcError(FromGrpc(s));
    }
    request.set_after_position(static_cast<int64_t>(head.position()));
  }

  grpc::ClientContext context;
  connection->Prepare(&context, /*with_deadline=*/false);
  StopOnSignal stop(&context);
  std::unique_ptr<grpc::ClientReader<v1::SubscribeResponse>> reader =
      stub->Subscribe(&context, request);
  audit::PayloadDecoder decoder;
  int64_t printed = 0;
  absl::Status failed = absl::OkStatus();
  v1::SubscribeResponse response;
  while (failed.ok() && (limit == 0 || printed < limit) && reader->Read(&response)) {
    for (const v1::RecordedEvent& event : response.events()) {
      eventlog::RecordView view;
      if (absl::Status s = eventlog::DecodeRecord(event.record(), &view); !s.ok()) {
        failed = absl::DataLossError(
            absl::StrCat(*address, " position ", event.position(),
                         ": the record does not decode: ", s.message()));
        break;
      }
      std::string line =
          audit::RecordToJson(view, event.hash(), PayloadJson(decoder, view));
      line.push_back('\n');
      std::fwrite(line.data(), 1, line.size(), stdout);
      if (limit != 0 && ++printed == limit) break;
    }
    std::fflush(stdout);
  }
  // Done by choice (the limit, a bad record): the stream is ended here.
  context.TryCancel();
  const grpc::Status status = reader->Finish();
  if (!failed.ok()) return RpcError(failed);
  if (stop.stopped() || (limit != 0 && printed == limit)) return kExitOk;
  if (!status.ok()) return RpcError(FromGrpc(status));
  return kExitOk;
}

}  // namespace mend::ctl
