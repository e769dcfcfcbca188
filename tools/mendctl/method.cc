#include "tools/mendctl/method.h"

#include <utility>

#include "absl/strings/str_cat.h"
#include "absl/strings/str_join.h"
#include "grpc/health/v1/health.pb.h"
#include "mend/admin/v1/admin.pb.h"
#include "mend/case/v1/case_service.pb.h"
#include "mend/conference/v1/conference_service.pb.h"
#include "mend/consent/v1/consent_service.pb.h"
#include "mend/eventlog/v1/eventlog_service.pb.h"
#include "mend/scheduling/v1/scheduling_service.pb.h"

namespace mend::ctl {
namespace {

// The generated pool knows a .proto file only if its object file is linked
// in, and a static library's is only when something refers to it: one
// message of each file with services is named here, which links the file
// and gives its descriptor. A new file of services is added here.
const std::vector<const google::protobuf::FileDescriptor*>& CompiledFiles() {
  static const auto* const files =
      new std::vector<const google::protobuf::FileDescriptor*>{
          ::mend::case_::v1::GetCaseRequest::descriptor()->file(),
          ::mend::consent::v1::RecordConsentRequest::descriptor()->file(),
          ::mend::scheduling::v1::PlanProgrammeRequest::descriptor()->file(),
          ::mend::conference::v1::SubmitLetterDraftRequest::descriptor()->file(),
          ::mend::eventlog::v1::ReadRequest::descriptor()->file(),
          ::mend::admin::v1::CreateBackupRequest::descriptor()->file(),
          ::grpc::health::v1::HealthCheckRequest::descriptor()->file(),
      };
  return *files;
}

std::string MethodList(const google::protobuf::ServiceDescriptor& service) {
  std::vector<std::string> names;
  for (int i = 0; i < service.method_count(); ++i)
    names.push_back(service.method(i)->name());
  return absl::StrJoin(names, ", ");
}

absl::Status NoSuchMethod(const google::protobuf::ServiceDescriptor& service,
                          const std::string& method) {
  return absl::NotFoundError(absl::StrCat(service.full_name(), " has no method \"",
                                          method,
                                          "\"; its methods: ", MethodList(service)));
}

}  // namespace

absl::StatusOr<MethodName> ParseMethodName(std::string_view text) {
  if (text.starts_with("/")) text.remove_prefix(1);
  const size_t slash = text.rfind('/');
  if (slash == std::string_view::npos || slash == 0 || slash + 1 == text.size()) {
    return absl::InvalidArgumentError(
        absl::StrCat("\"", std::string(text),
                     "\" is not SERVICE/METHOD (e.g. CaseService/GetCase, "
                     "mend.eventlog.v1.EventLog/GetHead)"));
  }
  return MethodName{std::string(text.substr(0, slash)),
                    std::string(text.substr(slash + 1))};
}

const std::vector<std::string>& CompiledServiceNames() {
  static const auto* const names = [] {
    auto* out = new std::vector<std::string>;
    for (const google::protobuf::FileDescriptor* file : CompiledFiles()) {
      for (int i = 0; i < file->service_count(); ++i) {
        out->push_back(file->service(i)->full_name());
      }
    }
    return out;
  }();
  return *names;
}

std::vector<std::string> MatchServiceName(std::string_view name,
                                          const std::vector<std::string>& full_names) {
  std::vector<std::string> matches;
  for (const std::string& full : full_names) {
    if (full == name ||
        std::string_view(full).ends_with(absl::StrCat(".", std::string(name)))) {
      matches.push_back(full);
    }
  }
  return matches;
}

absl::StatusOr<Method> Method::Compiled(const std::string& service,
                                        const std::string& method) {
  CompiledFiles();  // linked, so the generated pool has them
  const google::protobuf::ServiceDescriptor* s =
      google::protobuf::DescriptorPool::generated_pool()->FindServiceByName(service);
  if (s == nullptr) {
    return absl::NotFoundError(absl::StrCat(service, " is not compiled into mendctl"));
  }
  const google::protobuf::MethodDescriptor* m = s->FindMethodByName(method);
  if (m == nullptr) return NoSuchMethod(*s, method);
  return Method(m, google::protobuf::MessageFactory::generated_factory(), nullptr);
}

absl::StatusOr<Method> Method::Reflected(std::shared_ptr<ServerSchema> schema,
                                         const std::string& method) {
  const google::protobuf::MethodDescriptor* m =
      schema->service()->FindMethodByName(method);
  if (m == nullptr) return NoSuchMethod(*schema->service(), method);
  google::protobuf::MessageFactory* factory = schema->factory();
  return Method(m, factory, std::move(schema));
}

std::string Method::path() const {
  return absl::StrCat("/", descriptor_->service()->full_name(), "/", descriptor_->name());
}

std::unique_ptr<google::protobuf::Message> Method::NewRequest() const {
  return std::unique_ptr<google::protobuf::Message>(
      factory_->GetPrototype(descriptor_->input_type())->New());
}

std::unique_ptr<google::protobuf::Message> Method::NewResponse() const {
  return std::unique_ptr<google::protobuf::Message>(
      factory_->GetPrototype(descriptor_->output_type())->New());
}

}  // namespace mend::ctl
