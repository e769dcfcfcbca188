// How mend's command-line clients (mend-audit, mendctl) reach a running
// service: a channel that is plaintext or (mutual) TLS as the operator's
// flags say, and the bearer token they present.
//
//   MEND_ASSIGN_OR_RETURN(std::shared_ptr<grpc::Channel> channel,
//                         MakeClientChannel("127.0.0.1:7001", {.tls_ca = "ca.pem"}));
//   MEND_ASSIGN_OR_RETURN(std::string token, ReadTokenFile("auditor.token"));
//   grpc::ClientContext context;
//   AttachBearerToken(&context, token);  // common/security/auth.h
//
// Thread safety: every function is thread-safe.
#ifndef MEND_TOOLS_CLIENT_CLIENT_CHANNEL_H_
#define MEND_TOOLS_CLIENT_CLIENT_CHANNEL_H_

#include <grpcpp/grpcpp.h>

#include <memory>
#include <string>

#include "absl/status/statusor.h"

namespace mend::client {

// The transport security flags (--tls_ca, --tls_cert, --tls_key).
struct ChannelSecurity {
  std::string tls_ca{};    // empty: plaintext (loopback development)
  std::string tls_cert{};  // with tls_key: mutual TLS (only with tls_ca)
  std::string tls_key{};
};

// A channel to `target` ("host:port", or any gRPC target): plaintext when
// tls_ca is empty (tls_cert and tls_key are then not used); otherwise TLS
// verifying the server against tls_ca and, with tls_cert and tls_key, a
// client certificate. The files are read and checked now, so a bad file
// fails here rather than at the first call: MakeChannelCredentials's errors
// (common/security/tls.h), naming the file. The channel connects lazily.
absl::StatusOr<std::shared_ptr<grpc::Channel>> MakeClientChannel(
    const std::string& target, const ChannelSecurity& security,
    const grpc::ChannelArguments& args = grpc::ChannelArguments());

// The bearer token in the file at `path` (--token_file), without the
// whitespace around it. FAILED_PRECONDITION "--token_file <path>: cannot be
// read"; INVALID_ARGUMENT "--token_file <path>: is empty". The messages name
// the path, never the token.
absl::StatusOr<std::string> ReadTokenFile(const std::string& path);

}  // namespace mend::client

#endif  // MEND_TOOLS_CLIENT_CLIENT_CHANNEL_H_
