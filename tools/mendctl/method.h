// Which method `mendctl call SERVICE/METHOD` means, and its message types:
// from the schemas compiled into mendctl first, from the server's
// reflection for what is not compiled in (or always, --use_reflection).
//
// SERVICE is a service's full name ("mend.case.v1.CaseService") or any
// dot-separated tail of it that names one service only ("CaseService",
// "v1.CaseService", "EventLog", "Health"); METHOD is the method's name as in
// the .proto. A leading '/' is allowed ("/mend.case.v1.CaseService/GetCase",
// as gRPC spells a path).
#ifndef MEND_TOOLS_MENDCTL_METHOD_H_
#define MEND_TOOLS_MENDCTL_METHOD_H_

#include <memory>
#include <string>
#include <string_view>
#include <vector>

#include "absl/status/statusor.h"
#include "google/protobuf/descriptor.h"
#include "google/protobuf/message.h"
#include "tools/mendctl/server_reflection.h"

namespace mend::ctl {

// SERVICE/METHOD split at its last '/'. INVALID_ARGUMENT naming the form
// when either part is empty or there is no '/'.
struct MethodName {
  std::string service;
  std::string method;
};
absl::StatusOr<MethodName> ParseMethodName(std::string_view text);

// The full names of the services compiled into mendctl: the four services',
// mend.eventlog.v1.EventLog and EventLogWriter, grpc.health.v1.Health.
const std::vector<std::string>& CompiledServiceNames();

// The names among `full_names` that `name` names: the same name, or a full
// name ending in "." + name.
std::vector<std::string> MatchServiceName(std::string_view name,
                                          const std::vector<std::string>& full_names);

class Method {
 public:
  // Method `method` of the compiled-in service `service` (a full name).
  // NOT_FOUND when either is not compiled in; the message lists the
  // service's methods when only the method is missing.
  static absl::StatusOr<Method> Compiled(const std::string& service,
                                         const std::string& method);
  // Method `method` of the service `schema` describes; NOT_FOUND listing
  // the service's methods when it has none of that name.
  static absl::StatusOr<Method> Reflected(std::shared_ptr<ServerSchema> schema,
                                          const std::string& method);

  const google::protobuf::MethodDescriptor& descriptor() const { return *descriptor_; }
  // The gRPC path: "/mend.case.v1.CaseService/GetCase".
  std::string path() const;
  // Whether the server answers with a stream (any number of messages).
  bool server_streaming() const { return descriptor_->server_streaming(); }
  std::unique_ptr<google::protobuf::Message> NewRequest() const;
  std::unique_ptr<google::protobuf::Message> NewResponse() const;

 private:
  Method(const google::protobuf::MethodDescriptor* descriptor,
         google::protobuf::MessageFactory* factory, std::shared_ptr<ServerSchema> schema)
      : descriptor_(descriptor), factory_(factory), schema_(std::move(schema)) {}

  const google::protobuf::MethodDescriptor* descriptor_;
  google::protobuf::MessageFactory* factory_;
  // Keeps a reflected method's descriptors alive; null when compiled in.
  std::shared_ptr<ServerSchema> schema_;
};

}  // namespace mend::ctl

#endif  // MEND_TOOLS_MENDCTL_METHOD_H_
