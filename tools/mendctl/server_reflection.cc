#include "tools/mendctl/server_reflection.h"

#include <set>
#include <utility>

#include "absl/strings/str_cat.h"
#include "common/base/status_macros.h"
#include "common/rpc/status_convert.h"
#include "google/protobuf/descriptor.pb.h"
#include "tools/mendctl/raw_stream.h"
#include "tools/mendctl/reflection.pb.h"

namespace mend::ctl {
namespace {

namespace reflection = ::mend::mendctl::reflection;

constexpr char kReflectionMethod[] =
    "/grpc.reflection.v1alpha.ServerReflection/ServerReflectionInfo";

// One reflection stream: a question, its answer, the next question. Every
// question within the one --deadline.
class Session {
 public:
  explicit Session(const Connection& connection)
      : address_(connection.address()),
        context_(Prepared(connection)),
        stream_(connection.channel(), context_.get(), kReflectionMethod) {}
  ~Session() {
    if (stream_.WritesDone()) {
      std::string ignored;
      while (stream_.Read(&ignored)) {
      }
    }
    stream_.Finish();
  }

  absl::StatusOr<reflection::ServerReflectionResponse> Ask(
      const reflection::ServerReflectionRequest& request) {
    std::string bytes;
    if (!stream_.Write(request.SerializeAsString()) || !stream_.Read(&bytes)) {
      return Failed();
    }
    reflection::ServerReflectionResponse response;
    if (!response.ParseFromString(bytes)) {
      return absl::DataLossError(absl::StrCat(
          address_, " answered server reflection with bytes that do not parse"));
    }
    if (response.has_error_response()) {
      const auto& error = response.error_response();
      return absl::Status(
          static_cast<absl::StatusCode>(error.error_code()),
          absl::StrCat(address_, " server reflection: ", error.error_message()));
    }
    return response;
  }

 private:
  static std::unique_ptr<grpc::ClientContext> Prepared(const Connection& connection) {
    auto context = std::make_unique<grpc::ClientContext>();
    connection.Prepare(context.get(), /*with_deadline=*/true);
    return context;
  }
  // The stream broke: its status, named.
  absl::Status Failed() {
    absl::Status status = FromGrpc(stream_.Finish());
    if (status.ok())
      status = absl::UnavailableError("the stream ended without an answer");
    return absl::Status(status.code(),
                        absl::StrCat(address_, " server reflection: ", status.message()));
  }

  const std::string address_;
  std::unique_ptr<grpc::ClientContext> context_;
  RawStream stream_;
};

}  // namespace

absl::StatusOr<std::vector<std::string>> ServerSchema::ListServices(
    const Connection& connection) {
  Session session(connection);
  reflection::ServerReflectionRequest request;
  request.set_list_services("");
  MEND_ASSIGN_OR_RETURN(reflection::ServerReflectionResponse response,
                        session.Ask(request));
  std::vector<std::string> names;
  for (const reflection::ServiceResponse& s :
       response.list_services_response().service()) {
    names.push_back(s.name());
  }
  return names;
}

absl::StatusOr<std::unique_ptr<ServerSchema>> ServerSchema::ForService(
    const Connection& connection, const std::string& full_name) {
  auto schema = std::unique_ptr<ServerSchema>(new ServerSchema());
  Session session(connection);
  reflection::ServerReflectionRequest request;
  request.set_file_containing_symbol(full_name);
  // A server sends a file with the imports it has not sent on this stream;
  // whatever is still missing is asked for by name until nothing is.
  std::set<std::string> missing;
  std::set<std::string> asked;
  while (true) {
    MEND_ASSIGN_OR_RETURN(reflection::ServerReflectionResponse response,
                          session.Ask(request));
    for (const std::string& bytes :
         response.file_descriptor_response().file_descriptor_proto()) {
      google::protobuf::FileDescriptorProto file;
      if (!file.ParseFromString(bytes)) {
        return absl::DataLossError(absl::StrCat(
            connection.address(), " sent a file descriptor that does not parse"));
      }
      google::protobuf::FileDescriptorProto known;
      if (schema->database_.FindFileByName(file.name(), &known)) continue;
      missing.erase(file.name());
      for (const std::string& dependency : file.dependency()) {
        if (!schema->database_.FindFileByName(dependency, &known)) {
          missing.insert(dependency);
        }
      }
      schema->database_.Add(file);
    }
    // A file that arrived later in the same answer is not missing.
    for (auto it = missing.begin(); it != missing.end();) {
      google::protobuf::FileDescriptorProto known;
      it = schema->database_.FindFileByName(*it, &known) ? missing.erase(it) : ++it;
    }
    if (missing.empty()) break;
    if (!asked.insert(*missing.begin()).second) {
      // Asked once and not sent: asking again would never end.
      return absl::DataLossError(absl::StrCat(connection.address(), " did not send ",
                                              *missing.begin(), ", which ", full_name,
                                              " needs"));
    }
    request.set_file_by_filename(*missing.begin());
  }
  schema->service_ = schema->pool_.FindServiceByName(full_name);
  if (schema->service_ == nullptr) {
    return absl::DataLossError(absl::StrCat("the schema ", connection.address(),
                                            " serves for ", full_name,
                                            " does not build"));
  }
  return schema;
}

}  // namespace mend::ctl
