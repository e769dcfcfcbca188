// What every mendctl command shares: exit codes, how errors are printed,
// which address a service is at, and the connection the flags describe.
//
// Exit codes (scripts rely on them):
//   0  OK
//   1  the RPC failed: "mendctl: <CODE>: <message>" on stderr, CODE the gRPC
//      status code's name (NOT_FOUND, PERMISSION_DENIED, UNAVAILABLE, ...);
//      also `health` of something not SERVING
//   2  usage: an unknown command, service or method, a bad flag, a request
//      that is not JSON of the method's request type, an unreadable file
#ifndef MEND_TOOLS_MENDCTL_CLI_H_
#define MEND_TOOLS_MENDCTL_CLI_H_

#include <grpcpp/grpcpp.h>

#include <memory>
#include <string>
#include <string_view>
#include <vector>

#include "absl/status/status.h"
#include "absl/status/statusor.h"
#include "absl/time/time.h"

namespace mend::ctl {

inline constexpr int kExitOk = 0;
inline constexpr int kExitRpcFailed = 1;
inline constexpr int kExitUsage = 2;

// The positional arguments after the command's name.
using Args = std::vector<std::string>;

// "mendctl: <message>" on stderr; returns kExitUsage.
int UsageError(std::string_view message);
// The same with `status`'s message (its code is not shown: it is usage).
int UsageError(const absl::Status& status);
// "mendctl: <CODE>: <message>" on stderr; returns kExitRpcFailed.
int RpcError(const absl::Status& status);

// Whether `name` is one of the four mend services as the commands name them
// ("case", "consent", "scheduling", "conference").
bool IsMendService(std::string_view name);
// "case|consent|scheduling|conference", for messages.
std::string_view ServiceNames();

// Where mend service `service` (one of ServiceNames()) listens: --address
// if given, else --<service>_address (MEND_<SERVICE>_ADDRESS; by default
// 127.0.0.1:7001 case, 7002 consent, 7003 scheduling, 7004 conference).
// INVALID_ARGUMENT naming the choices for another name.
absl::StatusOr<std::string> AddressOfService(std::string_view service);

// Where the gRPC service `full_name` ("mend.case.v1.CaseService"; empty:
// none named) is to be called: --address if given; else --service's
// address; else the mend service its package names (mend.<service>.v1...).
// INVALID_ARGUMENT asking for --service or --address when none of these
// says (mend.eventlog.v1.EventLog, grpc.health.v1.Health: every server
// serves them).
absl::StatusOr<std::string> AddressForGrpcService(std::string_view full_name);

// A channel to one server, with the token and deadline the flags give.
class Connection {
 public:
  // From the flags: --tls_ca, --tls_cert, --tls_key (MEND_TLS_*),
  // --token (MEND_TOKEN) or else --token_file (MEND_TOKEN_FILE), and
  // --deadline. INVALID_ARGUMENT / FAILED_PRECONDITION naming the flag or
  // file that is wrong (a usage error: nothing was called yet).
  static absl::StatusOr<Connection> FromFlags(std::string address);

  const std::string& address() const { return address_; }
  const std::shared_ptr<grpc::Channel>& channel() const { return channel_; }

  // Adds the bearer token (if any) and, for a call that must end by itself
  // (unary), the --deadline to `context`.
  void Prepare(grpc::ClientContext* context, bool with_deadline) const;

 private:
  Connection(std::string address, std::shared_ptr<grpc::Channel> channel,
             std::string token, absl::Duration deadline)
      : address_(std::move(address)),
        channel_(std::move(channel)),
        token_(std::move(token)),
        deadline_(deadline) {}

  std::string address_;
  std::shared_ptr<grpc::Channel> channel_;
  std::string token_;
  absl::Duration deadline_;
};

}  // namespace mend::ctl

#endif  // MEND_TOOLS_MENDCTL_CLI_H_
