// A server's own schemas, asked of it through gRPC server reflection
// (grpc.reflection.v1alpha.ServerReflection, served by every mend server):
// for a method that is not compiled into mendctl (a newer server, or
// another gRPC service beside mend's), or for any with --use_reflection.
//
//   MEND_ASSIGN_OR_RETURN(std::unique_ptr<ServerSchema> schema,
//                         ServerSchema::ForService(connection,
//                         "mend.case.v1.CaseService"));
//   const google::protobuf::MethodDescriptor* m =
//   schema->service()->FindMethodByName("GetCase");
//   std::unique_ptr<google::protobuf::Message> request(
//       schema->factory()->GetPrototype(m->input_type())->New());
//
// Not thread-safe.
#ifndef MEND_TOOLS_MENDCTL_SERVER_REFLECTION_H_
#define MEND_TOOLS_MENDCTL_SERVER_REFLECTION_H_

#include <memory>
#include <string>
#include <vector>

#include "absl/status/statusor.h"
#include "google/protobuf/descriptor.h"
#include "google/protobuf/descriptor_database.h"
#include "google/protobuf/dynamic_message.h"
#include "tools/mendctl/cli.h"

namespace mend::ctl {

class ServerSchema {
 public:
  // The full names of the services the server at `connection` serves. The
  // call's errors, its message naming the address (UNAVAILABLE: not
  // reachable; UNIMPLEMENTED: it serves no reflection).
  static absl::StatusOr<std::vector<std::string>> ListServices(
      const Connection& connection);

  // The service `full_name` as the server describes it, with every file it
  // imports. NOT_FOUND when the server does not know the service; the
  // call's errors as above; DATA_LOSS when the files it sent do not build.
  static absl::StatusOr<std::unique_ptr<ServerSchema>> ForService(
      const Connection& connection, const std::string& full_name);

  const google::protobuf::ServiceDescriptor* service() const { return service_; }
  // Makes messages of the service's types (valid while this lives).
  google::protobuf::MessageFactory* factory() { return &factory_; }

 private:
  ServerSchema() = default;

  // The files as the server sent them; the pool builds from them on demand.
  google::protobuf::SimpleDescriptorDatabase database_;
  google::protobuf::DescriptorPool pool_{&database_};
  google::protobuf::DynamicMessageFactory factory_{&pool_};
  const google::protobuf::ServiceDescriptor* service_ = nullptr;
};

}  // namespace mend::ctl

#endif  // MEND_TOOLS_MENDCTL_SERVER_REFLECTION_H_
