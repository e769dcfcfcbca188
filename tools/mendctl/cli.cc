#include "tools/mendctl/cli.h"

#include <cstdio>
#include <utility>

#include "absl/flags/flag.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_split.h"
#include "common/base/status_macros.h"
#include "common/security/auth.h"
#include "tools/client/client_channel.h"

// The local runner's ports (scripts and README, "Running it").
ABSL_FLAG(std::string, case_address, "127.0.0.1:7001", "where mend-case listens");
ABSL_FLAG(std::string, consent_address, "127.0.0.1:7002", "where mend-consent listens");
ABSL_FLAG(std::string, scheduling_address, "127.0.0.1:7003",
          "where mend-scheduling listens");
ABSL_FLAG(std::string, conference_address, "127.0.0.1:7004",
          "where mend-conference listens");
ABSL_FLAG(std::string, address, "",
          "host:port to call, overriding every --<service>_address");
ABSL_FLAG(std::string, service, "",
          "the server to call (case|consent|scheduling|conference) for methods every "
          "server has (EventLog, Admin, Health) or that name no mend service");
ABSL_FLAG(std::string, tls_ca, "",
          "CA certificates to verify the server against (TLS); empty: plaintext");
ABSL_FLAG(std::string, tls_cert, "", "client certificate for mutual TLS (with --tls_ca)");
ABSL_FLAG(std::string, tls_key, "", "private key of --tls_cert");
ABSL_FLAG(std::string, token_file, "", "file holding the bearer token to present");
ABSL_FLAG(std::string, token, "", "the bearer token itself (wins over --token_file)");
ABSL_FLAG(absl::Duration, deadline, absl::Seconds(10),
          "how long a unary call (and a reflection lookup) may take");

namespace mend::ctl {
namespace {

// Enough for a page of 1000 records of up to 64 KiB each (EventLog.Read);
// a server refuses larger requests anyway.
constexpr int kMaxReceiveBytes = 64 << 20;

absl::Flag<std::string>* AddressFlag(std::string_view service) {
  if (service == "case") return &FLAGS_case_address;
  if (service == "consent") return &FLAGS_consent_address;
  if (service == "scheduling") return &FLAGS_scheduling_address;
  if (service == "conference") return &FLAGS_conference_address;
  return nullptr;
}

}  // namespace

int UsageError(std::string_view message) {
  std::fprintf(stderr, "mendctl: %.*s\n", static_cast<int>(message.size()),
               message.data());
  return kExitUsage;
}

int UsageError(const absl::Status& status) {
  return UsageError(std::string(status.message()));
}

int RpcError(const absl::Status& status) {
  std::fprintf(stderr, "mendctl: %s: %s\n",
               absl::StatusCodeToString(status.code()).c_str(),
               std::string(status.message()).c_str());
  return kExitRpcFailed;
}

bool IsMendService(std::string_view name) { return AddressFlag(name) != nullptr; }

std::string_view ServiceNames() { return "case|consent|scheduling|conference"; }

absl::StatusOr<std::string> AddressOfService(std::string_view service) {
  absl::Flag<std::string>* flag = AddressFlag(service);
  if (flag == nullptr) {
    return absl::InvalidArgumentError(absl::StrCat("unknown service \"",
                                                   std::string(service), "\": one of ",
                                                   std::string(ServiceNames())));
  }
  if (std::string address = absl::GetFlag(FLAGS_address); !address.empty()) {
    return address;
  }
  return absl::GetFlag(*flag);
}

absl::StatusOr<std::string> AddressForGrpcService(std::string_view full_name) {
  if (std::string address = absl::GetFlag(FLAGS_address); !address.empty()) {
    return address;
  }
  if (std::string service = absl::GetFlag(FLAGS_service); !service.empty()) {
    absl::StatusOr<std::string> address = AddressOfService(service);
    if (!address.ok()) {
      return absl::InvalidArgumentError(
          absl::StrCat("--service: ", address.status().message()));
    }
    return address;
  }
  // mend.<service>.v1.<Name>: the service is the package's second part.
  const std::vector<absl::string_view> parts =
      absl::StrSplit(absl::string_view(full_name.data(), full_name.size()), '.');
  if (parts.size() >= 3 && parts[0] == "mend" && IsMendService(std::string(parts[1]))) {
    return AddressOfService(std::string(parts[1]));
  }
  return absl::InvalidArgumentError(absl::StrCat(
      full_name.empty()
          ? std::string("no server named")
          : absl::StrCat(std::string(full_name), " is served by every server"),
      ": say which with --service ", std::string(ServiceNames()),
      " or --address HOST:PORT"));
}

absl::StatusOr<Connection> Connection::FromFlags(std::string address) {
  client::ChannelSecurity security{.tls_ca = absl::GetFlag(FLAGS_tls_ca),
                                   .tls_cert = absl::GetFlag(FLAGS_tls_cert),
                                   .tls_key = absl::GetFlag(FLAGS_tls_key)};
  if (security.tls_ca.empty() &&
      (!security.tls_cert.empty() || !security.tls_key.empty())) {
    // Plaintext would silently drop the certificate the operator meant to use.
    return absl::InvalidArgumentError(
        "--tls_cert and --tls_key need --tls_ca: the CA to verify the server against");
  }
  const absl::Duration deadline = absl::GetFlag(FLAGS_deadline);
  if (deadline <= absl::ZeroDuration()) {
    return absl::InvalidArgumentError("--deadline must be positive (e.g. 10s, 500ms)");
  }
  std::string token = absl::GetFlag(FLAGS_token);
  if (token.empty() && !absl::GetFlag(FLAGS_token_file).empty()) {
    MEND_ASSIGN_OR_RETURN(token, client::ReadTokenFile(absl::GetFlag(FLAGS_token_file)));
  }
  grpc::ChannelArguments args;
  args.SetMaxReceiveMessageSize(kMaxReceiveBytes);
  MEND_ASSIGN_OR_RETURN(std::shared_ptr<grpc::Channel> channel,
                        client::MakeClientChannel(address, security, args));
  return Connection(std::move(address), std::move(channel), std::move(token), deadline);
}

void Connection::Prepare(grpc::ClientContext* context, bool with_deadline) const {
  if (!token_.empty()) AttachBearerToken(context, token_);
  if (with_deadline) context->set_deadline(absl::ToChronoTime(absl::Now() + deadline_));
}

}  // namespace mend::ctl
