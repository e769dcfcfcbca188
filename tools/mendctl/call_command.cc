// mendctl call SERVICE/METHOD ['{json}']: any method of any mend server, the
// request from JSON (protobuf's JSON mapping of the method's request type;
// none: {}), the answer as JSON on one line; a server stream's messages one
// a line until it ends (or Ctrl-C/SIGTERM, exit 0).
//
//   mendctl call CaseService/GetCase '{"case_id":"..."}' --token_file=ann.token
//   mendctl call EventLog/GetHead --service consent --token_file=auditor.token
//   mendctl call EventLog/Subscribe '{"after_position":"100"}' --service case ...
//
// The server is the one the service's package names (mend.case.v1 -> case),
// or --service, or --address. A client stream (none of mend's methods) is
// sent the one request.
#include <cstdio>
#include <memory>
#include <optional>
#include <string>
#include <vector>

#include "absl/flags/flag.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_join.h"
#include "common/rpc/status_convert.h"
#include "google/protobuf/util/json_util.h"
#include "tools/audit/event_json.h"
#include "tools/mendctl/commands.h"
#include "tools/mendctl/method.h"
#include "tools/mendctl/raw_stream.h"
#include "tools/mendctl/stop_signal.h"

ABSL_FLAG(bool, use_reflection, false,
          "call: take the method's schema from the server's reflection even when it is "
          "compiled in (a server newer than this mendctl)");

namespace mend::ctl {
namespace {

// The one service among `candidates` that `name` names: NOT_FOUND when none
// does, INVALID_ARGUMENT listing them when several do.
absl::StatusOr<std::string> OneService(const std::string& name,
                                       const std::vector<std::string>& candidates,
                                       std::string_view where) {
  const std::vector<std::string> matches = MatchServiceName(name, candidates);
  if (matches.size() > 1) {
    return absl::InvalidArgumentError(
        absl::StrCat("\"", name, "\" names more than one service ", std::string(where),
                     ": ", absl::StrJoin(matches, ", "), "; give the full name"));
  }
  if (matches.empty()) {
    return absl::NotFoundError(absl::StrCat("no service \"", name, "\" ",
                                            std::string(where), " (",
                                            absl::StrJoin(candidates, ", "), ")"));
  }
  return matches.front();
}

// The method `name` means, and the connection to call it on. Every error
// is a usage error (exit 2) but the RPC errors of asking the server's
// reflection for a service mendctl does not know at all (exit 1).
struct Resolved {
  absl::StatusOr<Method> method = absl::UnknownError("");
  std::optional<Connection> connection;
  int exit_code = kExitOk;
};

Resolved Resolve(const MethodName& name) {
  Resolved r;
  auto usage = [&](const absl::Status& s) {
    r.method = s;
    r.exit_code = kExitUsage;
    return std::move(r);
  };
  const bool use_reflection = absl::GetFlag(FLAGS_use_reflection);
  // The full name, when mendctl knows it; else one the server must know.
  // (With --use_reflection too: the name still says which server to ask.)
  std::string full_name;
  absl::StatusOr<std::string> compiled =
      OneService(name.service, CompiledServiceNames(), "compiled into mendctl");
  if (absl::IsInvalidArgument(compiled.status())) return usage(compiled.status());
  if (compiled.ok()) full_name = *compiled;
  if (full_name.empty() && name.service.find('.') != std::string::npos) {
    full_name = name.service;
  }
  absl::StatusOr<std::string> address = AddressForGrpcService(full_name);
  if (!address.ok()) {
    if (full_name.empty()) {
      return usage(absl::InvalidArgumentError(absl::StrCat(
          "\"", name.service, "\" is not a service compiled into mendctl (",
          absl::StrJoin(CompiledServiceNames(), ", "),
          "); to ask a server's reflection for it, say which server with --service ",
          std::string(ServiceNames()), " or --address HOST:PORT")));
    }
    return usage(address.status());
  }
  absl::StatusOr<Connection> connection = Connection::FromFlags(*address);
  if (!connection.ok()) return usage(connection.status());
  r.connection = *std::move(connection);

  absl::Status compiled_error = absl::OkStatus();
  if (!use_reflection && !full_name.empty()) {
    r.method = Method::Compiled(full_name, name.method);
    if (r.method.ok()) return r;
    compiled_error = r.method.status();
  }
  // Not compiled in (or --use_reflection): the server's own schema.
  if (full_name.empty()) {
    absl::StatusOr<std::vector<std::string>> served =
        ServerSchema::ListServices(*r.connection);
    if (!served.ok()) {
      r.method = served.status();
      r.exit_code = kExitRpcFailed;
      return r;
    }
    absl::StatusOr<std::string> one =
        OneService(name.service, *served, absl::StrCat("at ", *address));
    if (!one.ok()) return usage(one.status());
    full_name = *one;
  }
  absl::StatusOr<std::unique_ptr<ServerSchema>> schema =
      ServerSchema::ForService(*r.connection, full_name);
  if (!schema.ok()) {
    if (!compiled_error.ok()) {
      // mendctl's schema already says there is no such method: the server
      // could only have added one.
      return usage(absl::NotFoundError(
          absl::StrCat(compiled_error.message(), " (and asking the server failed: ",
                       absl::StatusCodeToString(schema.status().code()), ": ",
                       schema.status().message(), ")")));
    }
    if (absl::IsNotFound(schema.status())) return usage(schema.status());
    r.method = schema.status();
    r.exit_code = kExitRpcFailed;
    return r;
  }
  r.method = Method::Reflected(*std::move(schema), name.method);
  if (!r.method.ok()) return usage(r.method.status());
  return r;
}

}  // namespace

int RunCall(const Args& args) {
  if (args.empty() || args.size() > 2) {
    return UsageError("call takes SERVICE/METHOD and, optionally, the request as JSON");
  }
  absl::StatusOr<MethodName> name = ParseMethodName(args[0]);
  if (!name.ok()) return UsageError(name.status());
  Resolved resolved = Resolve(*name);
  if (!resolved.method.ok()) {
    return resolved.exit_code == kExitRpcFailed ? RpcError(resolved.method.status())
                                                : UsageError(resolved.method.status());
  }
  const Method& method = *resolved.method;
  const Connection& connection = *resolved.connection;

  std::unique_ptr<google::protobuf::Message> request = method.NewRequest();
  const std::string json = args.size() == 2 ? args[1] : "{}";
  if (const google::protobuf::util::Status parsed =
          google::protobuf::util::JsonStringToMessage(json, request.get());
      !parsed.ok()) {
    return UsageError(absl::StrCat("the request is not JSON of ",
                                   request->GetDescriptor()->full_name(), ": ",
                                   std::string(parsed.message())));
  }

  grpc::ClientContext context;
  // A stream from the server ends when it ends (or on a signal), not at
  // a deadline.
  connection.Prepare(&context, /*with_deadline=*/!method.server_streaming());
  // Only a stream ends well on a signal: an interrupted unary call did not
  // answer, and the process just ends.
  std::optional<StopOnSignal> stop;
  if (method.server_streaming()) stop.emplace(&context);
  RawStream call(connection.channel(), &context, method.path());
  std::unique_ptr<google::protobuf::Message> response = method.NewResponse();
  int printed = 0;
  if (call.Write(request->SerializeAsString()) && call.WritesDone()) {
    std::string bytes;
    while (call.Read(&bytes)) {
      if (!response->ParseFromString(bytes)) {
        return RpcError(absl::DataLossError(
            absl::StrCat(connection.address(), " answered ", method.path(),
                         " with bytes that do not parse as ",
                         response->GetDescriptor()->full_name())));
      }
      std::printf("%s\n", audit::MessageToJson(*response).c_str());
      std::fflush(stdout);
      ++printed;
    }
  }
  const grpc::Status status = call.Finish();
  if (stop.has_value() && stop->stopped()) return kExitOk;
  if (!status.ok()) return RpcError(FromGrpc(status));
  if (printed == 0 && !method.server_streaming()) {
    return RpcError(absl::DataLossError(absl::StrCat(connection.address(), " answered ",
                                                     method.path(), " with nothing")));
  }
  return kExitOk;
}

}  // namespace mend::ctl
