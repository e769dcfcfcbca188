// Transport security for mend's gRPC servers and clients: TLS and mutual TLS
// from PEM files, and the rule that a plaintext server listens only on
// loopback.
//
//   MEND_RETURN_IF_ERROR(CheckListenAddress(address, tls, allow_insecure));
//   std::shared_ptr<grpc::ServerCredentials> creds = grpc::InsecureServerCredentials();
//   if (tls) {
//     MEND_ASSIGN_OR_RETURN(creds, MakeServerCredentials({.cert = "case.pem",
//                                                         .key = "case-key.pem",
//                                                         .ca = "ca.pem",
//                                                         .require_client_cert = true}));
//   }
//   builder.AddListeningPort(address, creds, &port);
//
//   MEND_ASSIGN_OR_RETURN(
//       auto channel_creds,
//       MakeChannelCredentials("ca.pem", "client.pem", "client-key.pem"));
//   auto channel = grpc::CreateChannel("mend-consent:50051", channel_creds);
//
// Every file is read and checked when the credentials are made — that it
// exists, is PEM, parses, that a key belongs to its certificate and that the
// certificate has not expired — so a bad file stops a service at start rather
// than failing its first handshake. Encrypted private keys are not supported
// (nothing ever prompts for a passphrase). scripts/dev-certs.sh makes a
// development CA and certificates for the four services and for clients.
//
// Errors name the file. A file that cannot be opened or read, or is not a
// regular file → FAILED_PRECONDITION (fix the environment: path, mount,
// permissions); a file that is empty, too large (over 1 MiB), not PEM, holds
// nothing usable, or a key that does not match its certificate →
// INVALID_ARGUMENT (fix the file); an expired certificate → FAILED_PRECONDITION.
//
// Thread safety: every function is thread-safe.
#ifndef MEND_COMMON_SECURITY_TLS_H_
#define MEND_COMMON_SECURITY_TLS_H_

#include <grpcpp/security/credentials.h>
#include <grpcpp/security/server_credentials.h>

#include <memory>
#include <string>
#include <string_view>

#include "absl/status/status.h"
#include "absl/status/statusor.h"

namespace mend {

// Paths of the PEM files a TLS server uses. (The `{}` initializers let
// designated initializers leave fields out without -Wmissing-field-initializers.)
struct TlsFiles {
  // The server's certificate chain, leaf first. Required.
  std::string cert{};
  // The leaf's private key (PKCS#8 or SEC1/PKCS#1, unencrypted). Required.
  std::string key{};
  // CA certificates that client certificates are verified against. Empty:
  // clients are not asked for a certificate.
  std::string ca{};
  // With `ca`: a client without a certificate issued by `ca` is refused
  // (mutual TLS). Without it a client certificate is requested and, when one
  // is presented, verified. Requires `ca`.
  bool require_client_cert = false;
};

// Server credentials from `files`:
//   ca empty                      → TLS, no client certificate requested;
//   ca, !require_client_cert      → a client certificate is requested and
//                                   verified against ca if presented;
//   ca, require_client_cert       → mutual TLS: a verified client certificate
//                                   is required.
// INVALID_ARGUMENT if cert or key is missing, or require_client_cert is set
// without ca; otherwise the file errors above.
absl::StatusOr<std::shared_ptr<grpc::ServerCredentials>> MakeServerCredentials(
    const TlsFiles& files);

// Channel credentials that verify the server against the CA certificates in
// the file `ca` (empty: gRPC's default roots) and, when `cert` and `key` are
// both given, present that client certificate (mutual TLS). The server's
// certificate must name the host of the target the channel is created for
// (the dev certificates name the service, mend-<service>, its cluster DNS
// name, localhost and 127.0.0.1). INVALID_ARGUMENT if only one of cert and
// key is given; otherwise the file errors above.
absl::StatusOr<std::shared_ptr<grpc::ChannelCredentials>> MakeChannelCredentials(
    const std::string& ca, const std::string& cert = "", const std::string& key = "");

// Whether a server may listen on `address` (gRPC listening-address syntax:
// "host:port", "[ipv6]:port", "unix:path", "unix-abstract:name").
//
// A well-formed address is always allowed with `tls` or `allow_insecure`.
// Without either, only loopback is: 127.0.0.0/8, [::1] (and IPv4-mapped
// loopback), "localhost", and unix sockets. Any other address — a wildcard
// ("0.0.0.0:port", "[::]:port", ":port"), a non-loopback IP, any other host
// name — is FAILED_PRECONDITION with a message naming --tls_cert/--tls_key/
// --tls_ca and --allow_insecure.
//
// INVALID_ARGUMENT for a malformed address, whatever the flags: empty, no
// port, a port that is not a number in [0, 65535], an unbracketed IPv6
// address, an invalid address in brackets, a host with characters no host
// name has, or an empty unix socket path.
absl::Status CheckListenAddress(std::string_view address, bool tls, bool allow_insecure);

}  // namespace mend

#endif  // MEND_COMMON_SECURITY_TLS_H_
