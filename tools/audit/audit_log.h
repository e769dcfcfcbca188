// The log an audit reads: a service's database directory, opened as a
// RocksDB secondary (safe beside the running service, never written), or a
// running service's EventLog over gRPC with an auditor token.
//
//   MEND_ASSIGN_OR_RETURN(std::unique_ptr<AuditLog> log,
//                         OpenAuditLog("/var/lib/mend/consent", connect));
//   MEND_RETURN_IF_ERROR(log->Scan(1, 0, [&](uint64_t position,
//                                            std::string_view bytes) {
//     ...; return true;
//   }));
//
// A spec naming an existing directory is a directory; otherwise a
// "host:port" (or any gRPC target with a port, "dns:///host:port") is an
// address. Nothing here checks what it reads: the verifier does
// (log_verifier.h), over the bytes exactly as stored or served.
#ifndef MEND_TOOLS_AUDIT_AUDIT_LOG_H_
#define MEND_TOOLS_AUDIT_AUDIT_LOG_H_

#include <cstdint>
#include <memory>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "absl/functional/function_ref.h"
#include "absl/status/status.h"
#include "absl/status/statusor.h"
#include "common/eventlog/event_store.h"
#include "mend/eventlog/v1/tree.pb.h"

namespace mend::audit {

// How to reach a running service (the flags --tls_ca, --tls_cert,
// --tls_key and --token_file, or their MEND_* variables).
struct ConnectOptions {
  std::string tls_ca{};    // empty: plaintext (loopback development)
  std::string tls_cert{};  // with tls_key: mutual TLS
  std::string tls_key{};
  std::string token_file{};  // a bearer token with the auditor role
  // Scratch space for a directory's secondary instance; empty: a fresh
  // temporary directory, removed when the log is closed.
  std::string secondary_root{};
};

// The four services, by the stream prefix of their logs.
enum class Service { kUnknown, kCase, kConsent, kScheduling, kConference };
// "case", "consent", "scheduling", "conference" ("" for kUnknown).
std::string_view ServiceName(Service service);
// The service whose streams look like `stream_id` ("case-…", "consent-…",
// "schedule-…", "conference-…"); kUnknown otherwise.
Service ServiceOfStream(std::string_view stream_id);
// From a name as ServiceName gives it; INVALID_ARGUMENT otherwise.
absl::StatusOr<Service> ParseService(std::string_view name);

class AuditLog {
 public:
  virtual ~AuditLog() = default;

  // The spec it was opened from, for messages ("/data/consent",
  // "127.0.0.1:7001").
  const std::string& spec() const { return spec_; }
  virtual bool is_directory() const = 0;

  // The last position (0 for an empty log) and the hash of its record as
  // the store keeps it: as of opening, for a directory; as of the call, for
  // an address.
  virtual absl::StatusOr<eventlog::Head> GetHead() = 0;
  absl::StatusOr<uint64_t> HeadPosition() {
    absl::StatusOr<eventlog::Head> head = GetHead();
    if (!head.ok()) return head.status();
    return head->position;
  }

  // Calls fn(position, bytes) for each record with from <= position <= to
  // (to 0: up to the head as of the call), in position order, until fn
  // returns false. The positions are the keys as stored (a directory) or as
  // served; the bytes are exactly as stored, valid only during the call.
  // DATA_LOSS for a key that is not a position (directory); UNAVAILABLE
  // and the RPC's other errors for an address.
  virtual absl::Status Scan(uint64_t from, uint64_t to,
                            absl::FunctionRef<bool(uint64_t, std::string_view)> fn) = 0;

  // Signed tree heads: a directory has every saved one (by size, ascending);
  // an address serves the newest only. Empty when none was signed.
  virtual absl::StatusOr<std::vector<eventlog::v1::SignedTreeHead>> SignedHeads() = 0;
  virtual absl::StatusOr<std::optional<eventlog::v1::SignedTreeHead>>
  NewestSignedHead() = 0;

  // The proofs from the log's stored tree (or the service), unverified: the
  // caller verifies them against roots it trusts (merkle.h).
  virtual absl::StatusOr<std::vector<std::string>> InclusionProof(uint64_t position,
                                                                  uint64_t tree_size) = 0;
  virtual absl::StatusOr<std::vector<std::string>> ConsistencyProof(uint64_t from_size,
                                                                    uint64_t to_size) = 0;

  // The signing key as the service serves it (an address), nullopt for a
  // directory (the auditor gives --public_key).
  virtual absl::StatusOr<std::optional<std::string>> ServedPublicKey() = 0;

  // The store's structural check (stream index, idempotency index, stored
  // tree nodes, stored head, newest signed head) against the facts of the
  // audit's own pass over the records (verify_log.h): a directory only;
  // nullopt for an address.
  virtual std::optional<eventlog::VerifyReport> CheckStructures(
      const eventlog::RecordFacts& facts) = 0;

  // The service this log belongs to, from its first record's stream
  // (kUnknown for an empty log or an unknown prefix).
  absl::StatusOr<Service> DetectService();

 protected:
  explicit AuditLog(std::string spec) : spec_(std::move(spec)) {}

 private:
  const std::string spec_;
};

// Opens `spec` (see the header comment). A directory: FAILED_PRECONDITION
// naming it if it holds no event log, the store's errors otherwise. An
// address: the channel is made (TLS files checked, INVALID_ARGUMENT /
// FAILED_PRECONDITION naming the file), and GetHead is called once so an
// unreachable service or a refused token fails here (UNAVAILABLE,
// UNAUTHENTICATED, PERMISSION_DENIED with the service's message).
// INVALID_ARGUMENT for a spec that is neither (a missing directory names
// itself: "no such directory").
absl::StatusOr<std::unique_ptr<AuditLog>> OpenAuditLog(const std::string& spec,
                                                       const ConnectOptions& connect);

}  // namespace mend::audit

#endif  // MEND_TOOLS_AUDIT_AUDIT_LOG_H_
