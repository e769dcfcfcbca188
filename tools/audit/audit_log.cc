#include "tools/audit/audit_log.h"

#include <grpcpp/grpcpp.h>
#include <stdlib.h>

#include <cerrno>
#include <cstring>
#include <filesystem>
#include <utility>

#include "absl/strings/match.h"
#include "absl/strings/numbers.h"
#include "absl/strings/str_cat.h"
#include "common/base/status_macros.h"
#include "common/eventlog/record_codec.h"
#include "common/rpc/status_convert.h"
#include "common/security/auth.h"
#include "mend/eventlog/v1/eventlog_service.grpc.pb.h"
#include "tools/client/client_channel.h"

namespace mend::audit {
namespace {

namespace v1 = ::mend::eventlog::v1;

constexpr int kPage = 1000;                 // the most a Read serves
constexpr int kMaxMessageBytes = 64 << 20;  // 1000 records of up to 1 MiB each, and more
constexpr absl::Duration kCallTimeout = absl::Seconds(60);

// A temporary directory removed (with what is in it) when destroyed.
class ScratchDir {
 public:
  static absl::StatusOr<std::unique_ptr<ScratchDir>> Make(const std::string& root) {
    std::string base = root;
    if (base.empty()) {
      const char* tmp = getenv("TMPDIR");
      base = tmp != nullptr && *tmp != '\0' ? tmp : "/tmp";
    }
    std::string pattern = base + "/mend-audit-XXXXXX";
    if (mkdtemp(pattern.data()) == nullptr) {
      return absl::FailedPreconditionError(absl::StrCat(
          "cannot make a scratch directory under ", base, ": ", std::strerror(errno)));
    }
    return std::unique_ptr<ScratchDir>(new ScratchDir(pattern));
  }
  ~ScratchDir() {
    std::error_code ignored;
    std::filesystem::remove_all(path_, ignored);
  }
  const std::string& path() const { return path_; }

 private:
  explicit ScratchDir(std::string path) : path_(std::move(path)) {}
  const std::string path_;
};

class DirectoryLog final : public AuditLog {
 public:
  DirectoryLog(std::string spec, std::unique_ptr<ScratchDir> scratch,
               std::unique_ptr<eventlog::EventStore> store)
      : AuditLog(std::move(spec)),
        scratch_(std::move(scratch)),
        store_(std::move(store)) {}
  ~DirectoryLog() override { store_.reset(); }  // before the scratch directory goes

  bool is_directory() const override { return true; }
  absl::StatusOr<eventlog::Head> GetHead() override { return store_->GetHead(); }

  absl::Status Scan(uint64_t from, uint64_t to,
                    absl::FunctionRef<bool(uint64_t, std::string_view)> fn) override {
    return store_->Scan(from, [&](uint64_t position, std::string_view bytes) {
      if (to != 0 && position > to) return false;
      return fn(position, bytes);
    });
  }

  absl::StatusOr<std::vector<v1::SignedTreeHead>> SignedHeads() override {
    MEND_ASSIGN_OR_RETURN(auto stored, store_->ListTreeHeads());
    std::vector<v1::SignedTreeHead> heads;
    for (const auto& [size, bytes] : stored) {
      v1::SignedTreeHead head;
      if (!head.ParseFromString(bytes)) {
        return absl::DataLossError(absl::StrCat("the signed tree head saved for size ",
                                                size, " does not parse"));
      }
      heads.push_back(std::move(head));
    }
    return heads;
  }
  absl::StatusOr<std::optional<v1::SignedTreeHead>> NewestSignedHead() override {
    MEND_ASSIGN_OR_RETURN(auto newest, store_->NewestTreeHead());
    if (!newest.has_value()) return std::nullopt;
    v1::SignedTreeHead head;
    if (!head.ParseFromString(newest->second)) {
      return absl::DataLossError(absl::StrCat("the signed tree head saved for size ",
                                              newest->first, " does not parse"));
    }
    return head;
  }
  absl::StatusOr<std::vector<std::string>> InclusionProof(uint64_t position,
                                                          uint64_t tree_size) override {
    return store_->InclusionProof(position, tree_size);
  }
  absl::StatusOr<std::vector<std::string>> ConsistencyProof(uint64_t from_size,
                                                            uint64_t to_size) override {
    return store_->ConsistencyProof(from_size, to_size);
  }
  absl::StatusOr<std::optional<std::string>> ServedPublicKey() override {
    return std::nullopt;
  }
  std::optional<eventlog::VerifyReport> CheckStructures(
      const eventlog::RecordFacts& facts) override {
    return store_->CheckStructures(facts);
  }

 private:
  std::unique_ptr<ScratchDir> scratch_;
  std::unique_ptr<eventlog::EventStore> store_;
};

class AddressLog final : public AuditLog {
 public:
  AddressLog(std::string spec, std::shared_ptr<grpc::Channel> channel, std::string token)
      : AuditLog(std::move(spec)),
        stub_(v1::EventLog::NewStub(std::move(channel))),
        token_(std::move(token)) {}

  bool is_directory() const override { return false; }

  absl::StatusOr<eventlog::Head> GetHead() override {
    v1::GetHeadResponse response;
    MEND_RETURN_IF_ERROR(Call("GetHead", [&](grpc::ClientContext* c) {
      return stub_->GetHead(c, v1::GetHeadRequest(), &response);
    }));
    return eventlog::Head{response.position(), response.hash()};
  }

  absl::Status Scan(uint64_t from, uint64_t to,
                    absl::FunctionRef<bool(uint64_t, std::string_view)> fn) override {
    uint64_t next = from == 0 ? 1 : from;
    while (true) {
      v1::ReadRequest request;
      request.set_from_position(static_cast<int64_t>(next));
      request.set_max_count(kPage);
      v1::ReadResponse response;
      MEND_RETURN_IF_ERROR(Call("Read", [&](grpc::ClientContext* c) {
        return stub_->Read(c, request, &response);
      }));
      if (response.events().empty()) return absl::OkStatus();
      for (const v1::RecordedEvent& e : response.events()) {
        if (to != 0 && e.position() > to) return absl::OkStatus();
        if (!fn(e.position(), e.record())) return absl::OkStatus();
      }
      const uint64_t last = response.events().rbegin()->position();
      if (last < next) {
        return absl::DataLossError(absl::StrCat("the service answered a read from ", next,
                                                " with position ", last));
      }
      next = last + 1;
    }
  }

  absl::StatusOr<std::vector<v1::SignedTreeHead>> SignedHeads() override {
    MEND_ASSIGN_OR_RETURN(std::optional<v1::SignedTreeHead> newest, NewestSignedHead());
    std::vector<v1::SignedTreeHead> heads;
    if (newest.has_value()) heads.push_back(*std::move(newest));
    return heads;
  }
  absl::StatusOr<std::optional<v1::SignedTreeHead>> NewestSignedHead() override {
    v1::GetTreeHeadResponse response;
    absl::Status status = GetTreeHead(0, &response);
    if (absl::IsFailedPrecondition(status)) return std::nullopt;  // none signed yet
    MEND_RETURN_IF_ERROR(status);
    if (!response.has_signed_head()) return std::nullopt;
    return response.signed_head();
  }
  absl::StatusOr<std::vector<std::string>> InclusionProof(uint64_t position,
                                                          uint64_t tree_size) override {
    v1::GetInclusionProofRequest request;
    request.set_position(position);
    request.set_tree_size(tree_size);
    v1::GetInclusionProofResponse response;
    MEND_RETURN_IF_ERROR(Call("GetInclusionProof", [&](grpc::ClientContext* c) {
      return stub_->GetInclusionProof(c, request, &response);
    }));
    return std::vector<std::string>(response.proof().begin(), response.proof().end());
  }
  absl::StatusOr<std::vector<std::string>> ConsistencyProof(uint64_t from_size,
                                                            uint64_t to_size) override {
    v1::GetConsistencyProofRequest request;
    request.set_from_size(from_size);
    request.set_to_size(to_size);
    v1::GetConsistencyProofResponse response;
    MEND_RETURN_IF_ERROR(Call("GetConsistencyProof", [&](grpc::ClientContext* c) {
      return stub_->GetConsistencyProof(c, request, &response);
    }));
    return std::vector<std::string>(response.proof().begin(), response.proof().end());
  }
  absl::StatusOr<std::optional<std::string>> ServedPublicKey() override {
    v1::GetTreeHeadResponse response;
    absl::Status status = GetTreeHead(0, &response);
    if (absl::IsFailedPrecondition(status)) {
      // No head signed yet: the head of the current size still names the key.
      MEND_ASSIGN_OR_RETURN(uint64_t head, HeadPosition());
      status = GetTreeHead(head, &response);
    }
    MEND_RETURN_IF_ERROR(status);
    if (response.public_key_pem().empty()) return std::nullopt;
    return response.public_key_pem();
  }
  std::optional<eventlog::VerifyReport> CheckStructures(
      const eventlog::RecordFacts&) override {
    return std::nullopt;
  }

 private:
  absl::Status GetTreeHead(uint64_t size, v1::GetTreeHeadResponse* response) {
    v1::GetTreeHeadRequest request;
    request.set_tree_size(size);
    return Call("GetTreeHead", [&](grpc::ClientContext* c) {
      return stub_->GetTreeHead(c, request, response);
    });
  }
  // One RPC with the token and a deadline; the service's status, its
  // message prefixed with the address and the method.
  template <typename Fn>
  absl::Status Call(std::string_view method, Fn fn) {
    grpc::ClientContext context;
    context.set_deadline(absl::ToChronoTime(absl::Now() + kCallTimeout));
    if (!token_.empty()) AttachBearerToken(&context, token_);
    grpc::Status status = fn(&context);
    if (status.ok()) return absl::OkStatus();
    absl::Status s = FromGrpc(status);
    return absl::Status(s.code(), absl::StrCat(spec(), " EventLog.", std::string(method),
                                               ": ", std::string(s.message())));
  }

  std::unique_ptr<v1::EventLog::Stub> stub_;
  const std::string token_;
};

// "host:port", "[v6]:port", "dns:///host:port": a target ending in a port.
bool LooksLikeAddress(std::string_view spec) {
  const size_t colon = spec.rfind(':');
  if (colon == std::string_view::npos || colon == 0 || colon + 1 == spec.size()) {
    return false;
  }
  uint32_t port = 0;
  if (!absl::SimpleAtoi(std::string(spec.substr(colon + 1)), &port) || port == 0 ||
      port > 65535) {
    return false;
  }
  // A path with a colon in it is not an address; a gRPC URI may have slashes.
  return spec.starts_with("dns:") || spec.find('/') == std::string_view::npos;
}

}  // namespace

std::string_view ServiceName(Service service) {
  switch (service) {
    case Service::kCase:
      return "case";
    case Service::kConsent:
      return "consent";
    case Service::kScheduling:
      return "scheduling";
    case Service::kConference:
      return "conference";
    case Service::kUnknown:
      break;
  }
  return "";
}

Service ServiceOfStream(std::string_view stream_id) {
  if (stream_id.starts_with("case-")) return Service::kCase;
  if (stream_id.starts_with("consent-")) return Service::kConsent;
  if (stream_id.starts_with("schedule-")) return Service::kScheduling;
  if (stream_id.starts_with("conference-")) return Service::kConference;
  return Service::kUnknown;
}

absl::StatusOr<Service> ParseService(std::string_view name) {
  for (Service s :
       {Service::kCase, Service::kConsent, Service::kScheduling, Service::kConference}) {
    if (name == ServiceName(s)) return s;
  }
  return absl::InvalidArgumentError(
      absl::StrCat("unknown service \"", std::string(name),
                   "\": one of case, consent, scheduling, conference"));
}

absl::StatusOr<Service> AuditLog::DetectService() {
  Service service = Service::kUnknown;
  absl::Status decode = absl::OkStatus();
  MEND_RETURN_IF_ERROR(Scan(1, 1, [&](uint64_t, std::string_view bytes) {
    eventlog::RecordView view;
    decode = eventlog::DecodeRecord(bytes, &view);
    if (decode.ok()) service = ServiceOfStream(view.stream_id);
    return false;
  }));
  return service;
}

absl::StatusOr<std::unique_ptr<AuditLog>> OpenAuditLog(const std::string& spec,
                                                       const ConnectOptions& connect) {
  if (spec.empty()) return absl::InvalidArgumentError("no log given");
  std::error_code error;
  if (std::filesystem::is_directory(spec, error)) {
    if (!std::filesystem::exists(std::filesystem::path(spec) / "CURRENT", error)) {
      return absl::FailedPreconditionError(
          absl::StrCat(spec, ": holds no event log (no RocksDB database in it)"));
    }
    MEND_ASSIGN_OR_RETURN(std::unique_ptr<ScratchDir> scratch,
                          ScratchDir::Make(connect.secondary_root));
    eventlog::EventStore::Options options;
    options.path = spec;
    options.create_if_missing = false;
    options.read_only = true;
    options.secondary_path = scratch->path() + "/secondary";
    MEND_ASSIGN_OR_RETURN(std::unique_ptr<eventlog::EventStore> store,
                          eventlog::EventStore::Open(options));
    return std::unique_ptr<AuditLog>(
        new DirectoryLog(spec, std::move(scratch), std::move(store)));
  }
  if (!LooksLikeAddress(spec)) {
    if (std::filesystem::exists(spec, error)) {
      return absl::InvalidArgumentError(
          absl::StrCat(spec,
                       ": is not a directory (a log is a service's data directory "
                       "or a host:port)"));
    }
    return absl::InvalidArgumentError(
        absl::StrCat(spec, ": no such directory, and not a host:port"));
  }
  grpc::ChannelArguments args;
  args.SetMaxReceiveMessageSize(kMaxMessageBytes);
  MEND_ASSIGN_OR_RETURN(std::shared_ptr<grpc::Channel> channel,
                        client::MakeClientChannel(spec,
                                                  {.tls_ca = connect.tls_ca,
                                                   .tls_cert = connect.tls_cert,
                                                   .tls_key = connect.tls_key},
                                                  args));
  std::string token;
  if (!connect.token_file.empty()) {
    MEND_ASSIGN_OR_RETURN(token, client::ReadTokenFile(connect.token_file));
  }
  auto log = std::make_unique<AddressLog>(spec, std::move(channel), std::move(token));
  MEND_RETURN_IF_ERROR(log->HeadPosition().status());
  return std::unique_ptr<AuditLog>(std::move(log));
}

}  // namespace mend::audit
