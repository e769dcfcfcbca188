// The audit's own check of a log, over the records exactly as stored or
// served, in one pass and with nothing of the store's code: positions run
// 1..N with no gap and each record names its own; each record decodes, its
// envelope layout is one this code knows, and its prev_hash is the SHA-256
// of the record before (32 zero bytes for the first); stream versions run
// 1..n per stream; every payload decodes with the schema its event type
// names. Alongside it builds the RFC 6962 tree of the records, so the roots
// at chosen sizes (saved heads) come from the records themselves, never
// from stored nodes.
//
//   LogVerifier verifier("consent", {.root_sizes = {1000, 2000}});
//   MEND_RETURN_IF_ERROR(log.Scan(1, 0, [&](uint64_t p, std::string_view b) {
//     return verifier.Add(p, b);  // false once a finding is made
//   }));
//   verifier.Finish(head_position);
//   if (verifier.finding()) PrintFinding(*verifier.finding());
//
// Stops at the first bad record: what comes after it cannot be trusted to be
// where it says (the operator restores from a backup).
#ifndef MEND_TOOLS_AUDIT_LOG_VERIFIER_H_
#define MEND_TOOLS_AUDIT_LOG_VERIFIER_H_

#include <cstdint>
#include <map>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "absl/container/flat_hash_map.h"
#include "common/eventlog/event_types.h"
#include "common/merkle/merkle.h"
#include "tools/audit/audit_cli.h"
#include "tools/audit/event_json.h"

namespace mend::audit {

class LogVerifier {
 public:
  struct Options {
    // The sizes whose tree roots to keep (roots()).
    std::vector<uint64_t> root_sizes{};
    // False: payloads are not decoded (the chain and envelopes only).
    bool decode_payloads = true;
  };

  // `log` names the log in findings.
  LogVerifier(std::string log, Options options);

  // The next record as scanned: its key position and stored bytes. False
  // once a finding is made (this record or an earlier one).
  bool Add(uint64_t position, std::string_view bytes);

  // After the last record: the scan must have ended at `head` (the head the
  // source reported), and the last record must hash to the head's hash
  // (what shows a change to the last record, which no successor covers);
  // a finding if not. An empty `head.hash` skips the hash (a caller that
  // has none).
  void Finish(const eventlog::Head& head);
  // The same without the head's hash.
  void Finish(uint64_t head) { Finish(eventlog::Head{head, ""}); }

  const std::optional<Finding>& finding() const { return finding_; }
  // Records checked and found good.
  uint64_t records() const { return records_; }
  // The hash of the last good record (32 zero bytes before the first).
  const std::string& last_hash() const { return last_hash_; }
  // The root of the first `size` records, for each asked-for size reached.
  const std::map<uint64_t, std::string>& roots() const { return roots_; }
  // The root of every good record.
  std::string Root() const { return tree_.Root(); }

 private:
  bool Fail(uint64_t position, std::string problem);

  const std::string log_;
  Options options_;  // root_sizes sorted
  std::optional<Finding> finding_;
  uint64_t records_ = 0;
  std::string last_hash_;
  merkle::Frontier tree_;
  std::map<uint64_t, std::string> roots_;
  absl::flat_hash_map<std::string, uint64_t> stream_versions_;
  PayloadDecoder decoder_;
};

}  // namespace mend::audit

#endif  // MEND_TOOLS_AUDIT_LOG_VERIFIER_H_
