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
//
// One verifier can also check a part of a log that starts later (Options::
// first_position): what joins it to the part before (its first prev_hash,
// the first version of each stream in it) is kept for VerifyLog
// (verify_log.h), which checks a log in chunks on every core and joins
// them, with the same findings at the same positions as one pass.
#ifndef MEND_TOOLS_AUDIT_LOG_VERIFIER_H_
#define MEND_TOOLS_AUDIT_LOG_VERIFIER_H_

#include <cstdint>
#include <functional>
#include <map>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "absl/container/flat_hash_map.h"
#include "common/eventlog/event_types.h"
#include "common/eventlog/record_codec.h"
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
    // False: no Merkle tree (no roots; a replay, which needs the chain only).
    bool tree = true;
    // The position of the first record this verifier is given: above 1, a
    // part of a log whose first prev_hash and streams' first versions are
    // taken as they are (first_prev_hash(), first_versions()).
    uint64_t first_position = 1;
    // If set, told of each good record, and of each node of the tree it
    // completes (indexed in the whole log), e.g. for the store's structural
    // check (verify_log.h).
    std::function<void(uint64_t position, const eventlog::RecordView& view)> on_record{};
    std::function<void(uint64_t level, uint64_t index, std::string_view hash)> on_node{};
  };
  // Where a stream first appears in a part and its version there.
  struct FirstVersion {
    uint64_t position = 0;
    uint64_t version = 0;
  };

  // `log` names the log in findings.
  LogVerifier(std::string log, Options options);

  // The next record as scanned: its key position and stored bytes. False
  // once a finding is made (this record or an earlier one).
  bool Add(uint64_t position, std::string_view bytes);
  // The same, giving the record's decoded envelope to a caller that needs it
  // too (it points into `bytes`).
  bool Add(uint64_t position, std::string_view bytes, eventlog::RecordView& view);

  // After the last record: the scan must have ended at `head` (the head the
  // source reported), and the last record must hash to the head's hash
  // (what shows a change to the last record, which no successor covers);
  // a finding if not. An empty `head.hash` skips the hash (a caller that
  // has none).
  void Finish(const eventlog::Head& head);
  // The same without the head's hash.
  void Finish(uint64_t head) { Finish(eventlog::Head{head, ""}); }
  // After the last record of a part that ends at `last` (not the head):
  // true if the part reached it (VerifyLog names what is missing, which
  // depends on the next part).
  bool FinishedPart(uint64_t last) const;
  // The position of the first record given (0: none).
  uint64_t first_given() const { return first_given_; }
  // A finding when the scan itself failed after the good records.
  void ScanFailed(std::string problem);

  const std::optional<Finding>& finding() const { return finding_; }
  // Records checked and found good.
  uint64_t records() const { return records_; }
  // The hash of the last good record (32 zero bytes before the first).
  const std::string& last_hash() const { return last_hash_; }
  // The root of the first `size` records, for each asked-for size reached.
  const std::map<uint64_t, std::string>& roots() const { return roots_; }
  // The root of every good record.
  std::string Root() const { return tree_.Root(); }
  const merkle::Frontier& tree() const { return tree_; }
  // A part's tree at each asked-for size in it (roots() needs the part
  // before it), by size in the whole log.
  const std::map<uint64_t, merkle::Frontier>& part_trees() const { return part_trees_; }
  // A part's first prev_hash, and its streams' first versions.
  const std::string& first_prev_hash() const { return first_prev_hash_; }
  const absl::flat_hash_map<std::string, FirstVersion>& first_versions() const {
    return first_versions_;
  }
  // The version a stream reached (0: not in this part, or not at all), and
  // every stream's.
  uint64_t VersionOf(std::string_view stream_id) const;
  const absl::flat_hash_map<std::string, uint64_t>& stream_versions() const {
    return stream_versions_;
  }

  // What a finding says of a break in the chain and of a stream's version
  // out of order (VerifyLog says it where two chunks join).
  static std::string ChainBreak(uint64_t position, std::string_view last_hash,
                                std::string_view prev_hash);
  static std::string VersionOutOfOrder(std::string_view stream_id, uint64_t version,
                                       uint64_t after);
  static std::string Missing(uint64_t position, uint64_t next);
  static std::string HeadPastRecords(uint64_t head, uint64_t last);

 private:
  bool Fail(uint64_t position, std::string problem);
  uint64_t next_position() const { return options_.first_position + records_; }

  const std::string log_;
  Options options_;  // root_sizes sorted
  std::optional<Finding> finding_;
  uint64_t records_ = 0;
  std::string last_hash_;
  merkle::Frontier tree_;
  std::map<uint64_t, std::string> roots_;
  std::map<uint64_t, merkle::Frontier> part_trees_;
  absl::flat_hash_map<std::string, uint64_t> stream_versions_;
  uint64_t first_given_ = 0;
  std::string first_prev_hash_;
  absl::flat_hash_map<std::string, FirstVersion> first_versions_;
  PayloadDecoder decoder_;
};

}  // namespace mend::audit

#endif  // MEND_TOOLS_AUDIT_LOG_VERIFIER_H_
