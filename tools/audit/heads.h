// Saved signed tree heads: the file an auditor keeps outside the service,
// and the check that a log still extends every head in it (DESIGN,
// "Auditors"). A head saved today is the service's signed word on the root
// of its first N records; a log that was later truncated, or rewritten and
// re-chained from some record on (even one whose chain, tree and newest head
// are all consistent again), no longer has that root at N.
//
// The heads file is JSON Lines, one head a line, sorted by tree size:
//
//   {"service":"consent","tree_size":1000,"root_hash":"<hex>",
//    "signed_at":"2026-12-01T10:00:00.000000Z","key_id":"<hex>",
//    "signed_head":{"head":"<base64>","signature":"<base64>","key_id":"<hex>"}}
//
// `signed_head` is mend.eventlog.v1.SignedTreeHead as protobuf JSON: the only
// part ever read back. The fields before it are for people, decoded from
// the head without checking its signature; verification trusts nothing
// until VerifyTreeHead has checked `signed_head` with the public key.
//
//   MEND_ASSIGN_OR_RETURN(auto saved, ReadHeadsFile(path));
//   LogVerifier verifier(name, {.root_sizes = RootSizes(saved)});
//   ... scan ...
//   MEND_ASSIGN_OR_RETURN(std::vector<Finding> findings,
//       CheckSavedHeads(log, name, saved, key_pem, verifier.roots(),
//                       head_position, newest));
#ifndef MEND_TOOLS_AUDIT_HEADS_H_
#define MEND_TOOLS_AUDIT_HEADS_H_

#include <cstdint>
#include <map>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "absl/status/statusor.h"
#include "mend/eventlog/v1/tree.pb.h"
#include "tools/audit/audit_cli.h"
#include "tools/audit/audit_log.h"

namespace mend::audit {

// The signed heads in the file at `path`, in file order (blank lines are
// skipped). FAILED_PRECONDITION naming the file when it cannot be read;
// INVALID_ARGUMENT "<path> line N: ..." for a line that is not a JSON object
// with a `signed_head` that parses as a SignedTreeHead.
absl::StatusOr<std::vector<eventlog::v1::SignedTreeHead>> ReadHeadsFile(
    const std::string& path);

// One line of the heads file (without the newline).
std::string HeadsFileLine(const eventlog::v1::SignedTreeHead& head);

// Adds to the file at `path` (created if missing) every head of `heads` it
// does not hold yet -- the same service, tree size and root, as the heads
// state them -- and rewrites it sorted by service, tree size and root,
// durably (WriteFileDurably: a crash leaves the old file or the new).
// Returns how many heads were added (0: the file is left as it was). Two
// heads of one size with different roots are both kept: that is evidence.
// ReadHeadsFile's errors for an existing file; WriteFileDurably's.
absl::StatusOr<size_t> AppendHeads(
    const std::string& path, const std::vector<eventlog::v1::SignedTreeHead>& heads);

// The TreeHead a SignedTreeHead states, parsed WITHOUT checking the
// signature: for choosing sizes and for messages, never for trusting.
// INVALID_ARGUMENT if the head bytes do not parse.
absl::StatusOr<eventlog::v1::TreeHead> UnverifiedTreeHead(
    const eventlog::v1::SignedTreeHead& signed_head);

// A head's time for messages: "2026-12-01 10:00:00 UTC".
std::string HeadTime(const eventlog::v1::TreeHead& head);

// The tree sizes whose roots the verifier must recompute from the records
// (LogVerifier::Options::root_sizes) for CheckSavedHeads: each saved head's
// stated size, ascending, without repeats.
std::vector<uint64_t> RootSizes(const std::vector<eventlog::v1::SignedTreeHead>& saved);

// Checks that `log` (named `log_name` in findings) still extends every head
// of `saved`:
//   - each saved head's signature verifies with `public_key_pem` (a forged
//     or changed head is a finding, and is not used further);
//   - it is a head of this log's service (the service of the log's first
//     record's stream; for an empty log, of the newest signed head);
//   - its size is within the log: a saved size past `log_size` (the log's
//     head position, AuditLog::HeadPosition -- not the verifier's count of
//     good records, which stops short at a bad record) is a truncation,
//     named at the first missing position;
//   - the root `recomputed_roots` holds for its size (LogVerifier::roots(),
//     asked for RootSizes(saved)) is its root, else the log was rewritten at
//     or before that size; a size with no recomputed root (the verifier
//     stopped before it) is checked by the consistency proof alone;
//   - a consistency proof from it to `newest` (the log's newest signed
//     head, whose own signature and service are checked first), fetched
//     with log.ConsistencyProof and checked with merkle::VerifyConsistency,
//     verifies: the service's newest signed word extends the saved one.
//     (A saved head larger than `newest` is proven the other way round; a
//     `newest` past `log_size` is left to the caller's own check of the
//     newest head, and no proof is asked for.)
// A log with no signed head at all while heads were saved from it is a
// finding (its signed heads were removed). Several saved heads past the end,
// or rewritten, make one finding each kind, at the smallest, counting the
// others.
// Returns the findings (empty: every saved head is extended). The log's
// errors that are not about its contents -- UNAVAILABLE, DEADLINE_EXCEEDED,
// UNAUTHENTICATED, PERMISSION_DENIED of a service -- are returned as the
// status (an I/O error, exit 2); INVALID_ARGUMENT for a `public_key_pem`
// that is not an Ed25519 public key.
absl::StatusOr<std::vector<Finding>> CheckSavedHeads(
    AuditLog& log, std::string_view log_name,
    const std::vector<eventlog::v1::SignedTreeHead>& saved,
    std::string_view public_key_pem,
    const std::map<uint64_t, std::string>& recomputed_roots, uint64_t log_size,
    const std::optional<eventlog::v1::SignedTreeHead>& newest);

}  // namespace mend::audit

#endif  // MEND_TOOLS_AUDIT_HEADS_H_
