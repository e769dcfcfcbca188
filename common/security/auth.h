// Caller identity and roles: bearer JWTs, per-method role tables, and the
// check every gRPC handler makes first.
//
//   // Server (see common/eventlog_service.h for a service's table):
//   MEND_ASSIGN_OR_RETURN(auto verifier,
//                         TokenVerifier::FromPublicKeyFile("/etc/mend/token.pub"));
//   MEND_ASSIGN_OR_RETURN(auto policy, MethodPolicy::Create(eventlog::EventLogPolicy()));
//   Authorizer authorizer(verifier.get(), policy.get());
//   ...
//   // in a handler:
//   absl::StatusOr<Caller> caller =
//       authorizer.Authorize(*context, "/mend.eventlog.v1.EventLog/Read");
//   if (!caller.ok()) { reactor->Finish(ToGrpc(caller.status())); ... }
//
//   // Client (another mend service calls with a service token):
//   grpc::ClientContext context;
//   AttachBearerToken(&context, service_token);
//
// The token. A JWT (RFC 7519) in gRPC metadata `authorization: Bearer <JWT>`,
// signed RS256 (RSA, at least 2048 bits) or ES256 (EC P-256). Its claims:
//
//   sub   required  the caller: 1-256 bytes of printable ASCII, no spaces
//   role  required  exactly one of "facilitator", "manager" (RJ Intervention
//                   Manager), "auditor" (read-only, may read every log),
//                   "service" (another mend service), "operator" (runs
//                   the deployment: backups; sees no casework)
//   exp   required  NumericDate; at or after exp (+60 s skew) → "token expired"
//   nbf   optional  NumericDate; before nbf (-60 s skew) → "token not yet valid"
//   iat   optional  NumericDate; after now (+60 s skew) → rejected
//   iss   required  must be "mend"
//   aud   required  must be "mend" (a string, or an array containing "mend")
//
// The signature algorithm is fixed by the server's key type, never taken from
// the token: a token whose header `alg` differs (HS256, "none", RS256 against
// an EC key, ...) is rejected before any signature check.
//
// Errors: every problem with the credentials (none, malformed header, bad
// signature, expired, wrong claims) is UNAUTHENTICATED — the caller must get a
// new token; a valid token whose role may not call the method, or a method
// with no table entry, is PERMISSION_DENIED — asking again will not help.
// Messages say what is wrong and never contain the token.
#ifndef MEND_COMMON_SECURITY_AUTH_H_
#define MEND_COMMON_SECURITY_AUTH_H_

#include <grpcpp/client_context.h>
#include <grpcpp/server_context.h>

#include <functional>
#include <initializer_list>
#include <memory>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

#include "absl/container/flat_hash_map.h"
#include "absl/status/status.h"
#include "absl/status/statusor.h"
#include "absl/time/clock.h"
#include "absl/time/time.h"
#include "common/base/role.h"

namespace google::protobuf {
class ServiceDescriptor;
class MethodDescriptor;
}  // namespace google::protobuf

namespace mend {

// Checks bearer tokens. Immutable after creation; Verify is thread-safe.
class TokenVerifier {
 public:
  // Clock difference tolerated between token issuer and server, both ways.
  static constexpr absl::Duration kClockSkew = absl::Seconds(60);
  // Longer tokens are rejected unparsed.
  static constexpr size_t kMaxTokenBytes = 8192;

  // A verifier that accepts tokens signed by the private half of a PEM
  // public key (`-----BEGIN PUBLIC KEY-----`, SubjectPublicKeyInfo) in the
  // file at `path`. RSA keys (>= 2048 bits) mean RS256, EC P-256 keys ES256.
  // The file holds one key, or several one after another while the signing
  // key is rotated (the new and the old: README, "Rotating keys"); a token
  // is accepted if it verifies under a key of its algorithm. INVALID_ARGUMENT
  // if the file cannot be read, holds no PEM public key, holds text that is
  // not one, or a key is of another type or size.
  static absl::StatusOr<std::unique_ptr<TokenVerifier>> FromPublicKeyFile(
      const std::string& path);
  // Same, from the PEM text itself.
  static absl::StatusOr<std::unique_ptr<TokenVerifier>> FromPublicKeyPem(
      std::string_view pem);

  // *** DEVELOPMENT ONLY — SIGNATURES ARE NOT CHECKED. ***
  // With no verification key, anyone can forge any subject and role. This
  // verifier still requires a well-formed JWT whose header names RS256 or
  // ES256 and a signature part, and checks every claim above (expiry, role,
  // iss, aud, ...), so tokens minted by mend-token with the development key
  // behave as they will in production. The server runtime allows it only
  // when listening on loopback, and logs that it does so.
  static std::unique_ptr<TokenVerifier> Development();

  // The caller named by `token` (the JWT itself, without "Bearer "), checked
  // at time `now`. UNAUTHENTICATED with the reason otherwise: malformed,
  // wrong algorithm, bad signature, "token expired", "token not yet valid",
  // missing or bad claims.
  absl::StatusOr<Caller> Verify(std::string_view token, absl::Time now) const;

  // False for Development(): signatures are not checked.
  bool checks_signatures() const { return !keys_.empty(); }
  // "RS256" or "ES256" ("ES256 or RS256" for keys of both); "unchecked" for
  // Development().
  std::string algorithm_name() const;
  // How many verification keys it holds (0 for Development()).
  size_t key_count() const { return keys_.size(); }

 private:
  struct Key {
    std::string pem;  // this key alone, as libjwt takes it
    int alg;          // libjwt's jwt_alg_t for it
  };
  explicit TokenVerifier(std::vector<Key> keys) : keys_(std::move(keys)) {}

  // The verification keys; none in development mode.
  const std::vector<Key> keys_;
};

// Which roles may call which gRPC method. Immutable; thread-safe.
class MethodPolicy {
 public:
  // One table row: a full method name, "/package.Service/Method", and the
  // roles allowed to call it.
  struct Rule {
    std::string method;
    std::vector<Role> roles;
  };
  using Table = std::vector<Rule>;

  // Methods of one service that the same roles may call.
  struct Group {
    std::vector<std::string_view> methods;  // "ReferCase", ...
    std::vector<Role> roles;
  };
  // A service's table from its groups: every method under `prefix`
  // ("/mend.case.v1.CaseService/"), in group order, e.g.
  //   MethodPolicy::Methods(prefix, {{{"ReferCase", "PauseCase"}, {kManager}},
  //                                  {{"GetCase"}, {kManager, kAuditor}}});
  static Table Methods(std::string_view prefix, std::initializer_list<Group> groups);

  // A policy from one service's table, e.g.
  //   MethodPolicy::Create({{"/mend.eventlog.v1.EventLog/Read",
  //                          {Role::kAuditor, Role::kService}}, ...});
  // INVALID_ARGUMENT if a method name is not of the form
  // "/package.Service/Method", appears twice, or lists no role.
  static absl::StatusOr<std::unique_ptr<MethodPolicy>> Create(const Table& table);
  // The union of several services' tables, for a server serving them all:
  //   MethodPolicy::Create({&CasePolicy(), &eventlog::EventLogPolicy()});
  // (a method in two tables, or a null table, is INVALID_ARGUMENT).
  static absl::StatusOr<std::unique_ptr<MethodPolicy>> Create(
      const std::vector<const Table*>& tables);
  static absl::StatusOr<std::unique_ptr<MethodPolicy>> Create(
      std::initializer_list<const Table*> tables);

  // OK if `role` may call `full_method`. PERMISSION_DENIED naming the method
  // and role if not, and "no policy for method ..." if the method has no
  // table entry: unknown methods are denied (fail closed).
  absl::Status Check(std::string_view full_method, Role role) const;

  // Full names of the methods of `service` that have no table entry: empty
  // when the table covers the service. A test per service asserts this, e.g.
  //   policy->MethodsWithoutPolicy(*v1::ReadRequest::descriptor()->file()
  //                                     ->FindServiceByName("EventLog"))
  std::vector<std::string> MethodsWithoutPolicy(
      const google::protobuf::ServiceDescriptor& service) const;

 private:
  explicit MethodPolicy(absl::flat_hash_map<std::string, std::vector<Role>> rules)
      : rules_(std::move(rules)) {}

  const absl::flat_hash_map<std::string, std::vector<Role>> rules_;
};

// "/package.Service/Method", as gRPC names a method on the wire.
std::string FullMethodName(const google::protobuf::MethodDescriptor& method);

// Authenticates a call (bearer token) and authorizes it (method policy).
// Thread-safe; the verifier and policy must outlive it.
class Authorizer {
 public:
  // Decides, after authentication and authorization, whether the process
  // takes the call now (the service runtime refuses domain calls with
  // UNAVAILABLE while it replays its log or drains).
  using Admission = std::function<absl::Status(std::string_view full_method)>;

  Authorizer(const TokenVerifier* verifier, const MethodPolicy* policy,
             std::function<absl::Time()> clock = absl::Now,
             Admission admission = nullptr);

  // The caller of a call to `full_method`, from the call's `authorization`
  // metadata ("Bearer <JWT>"; the scheme is case-insensitive).
  //   UNAUTHENTICATED   no or several authorization entries, not "Bearer
  //                     <token>", or a token TokenVerifier rejects
  //   PERMISSION_DENIED the caller's role may not call `full_method`, or the
  //                     method has no policy
  //   other             what the admission function returned
  // The token is never logged or put in a message.
  absl::StatusOr<Caller> Authorize(const grpc::ServerContextBase& context,
                                   std::string_view full_method) const;

  // The same from the metadata value alone (for non-gRPC callers and tests).
  absl::StatusOr<Caller> AuthorizeHeader(std::string_view authorization,
                                         std::string_view full_method) const;

 private:
  const TokenVerifier* const verifier_;
  const MethodPolicy* const policy_;
  const std::function<absl::Time()> clock_;
  const Admission admission_;
};

// Sends `token` as `authorization: Bearer <token>` on the call.
void AttachBearerToken(grpc::ClientContext* context, const std::string& token);

// A token for `subject` and `role`, issued at `now` and valid for `ttl`
// (claims sub, role, iss "mend", aud "mend", iat, exp), signed with the PEM
// private key `private_key_pem` (PKCS#8 or traditional): RS256 for RSA keys
// (>= 2048 bits), ES256 for EC P-256 keys. INVALID_ARGUMENT for another key,
// a subject that is not 1-256 bytes of printable ASCII without spaces, or a
// ttl that is not positive.
absl::StatusOr<std::string> MintToken(const std::string& private_key_pem,
                                      std::string_view subject, Role role,
                                      absl::Duration ttl, absl::Time now);

}  // namespace mend

#endif  // MEND_COMMON_SECURITY_AUTH_H_
