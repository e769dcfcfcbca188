// The whole of the audit's check of a log (LogVerifier's: positions, chain,
// stream versions, payloads, the records' tree and its roots at chosen
// sizes), run in chunks on every core: each chunk a power of two of records
// starting at a multiple of it, so its Merkle tree joins the ones before
// (merkle::Frontier::Extend); the workers take the next chunk as they
// finish one, and this thread joins them in order where they meet (the
// chain, each stream's versions). The findings and their positions are those
// of one pass over the whole.
//
//   RecordFacts facts(head.position);   // for the store's check, if wanted
//   MEND_ASSIGN_OR_RETURN(VerifiedLog v,
//                         VerifyLog(log, "consent", head, options, &progress, &facts));
//   if (v.finding) PrintFinding(*v.finding);
//   log.CheckStructures(facts);          // the indexes and the stored tree
#ifndef MEND_TOOLS_AUDIT_VERIFY_LOG_H_
#define MEND_TOOLS_AUDIT_VERIFY_LOG_H_

#include <cstdint>
#include <map>
#include <optional>
#include <string>

#include "absl/status/statusor.h"
#include "common/eventlog/event_store.h"
#include "tools/audit/audit_cli.h"
#include "tools/audit/audit_log.h"
#include "tools/audit/log_verifier.h"

namespace mend::audit {

struct VerifiedLog {
  std::optional<Finding> finding;
  uint64_t records = 0;  // good records, from position 1
  // Of the good records when there is no finding (with one, of no use).
  std::string last_hash;
  std::string root;
  std::map<uint64_t, std::string> roots;  // at each asked-for size reached
};

// Records in a chunk (a power of two). A log no longer than one chunk is
// checked in one pass.
inline constexpr uint64_t kVerifyChunkRecords = uint64_t{1} << 16;

// Checks `log` up to `head` (its records must end there, the last hashing
// to head.hash when it is given). `options` as LogVerifier's; its
// first_position, on_record and on_node are set here. If `facts` is given
// (room for head.position records), it is filled for
// EventStore::CheckStructures: good, complete and head included.
// `progress` (may be null) is drawn from the calling thread. `chunk`: records
// a chunk, a power of two (tests use small ones). An error only when the log
// cannot be read (or `chunk` is not a power of two); what is wrong in it is
// the finding.
absl::StatusOr<VerifiedLog> VerifyLog(AuditLog& log, const std::string& name,
                                      const eventlog::Head& head,
                                      LogVerifier::Options options, Progress* progress,
                                      eventlog::RecordFacts* facts = nullptr,
                                      uint64_t chunk = kVerifyChunkRecords);

}  // namespace mend::audit

#endif  // MEND_TOOLS_AUDIT_VERIFY_LOG_H_
