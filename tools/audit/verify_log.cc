#include "tools/audit/verify_log.h"

#include <algorithm>
#include <atomic>
#include <bit>
#include <memory>
#include <thread>
#include <utility>
#include <vector>

#include "absl/container/flat_hash_map.h"
#include "absl/strings/str_cat.h"
#include "absl/synchronization/mutex.h"
#include "absl/time/time.h"
#include "common/base/status_macros.h"

namespace mend::audit {
namespace {

// One chunk of the log, [first, last], scanned and checked on its own.
struct Part {
  Part(const std::string& name, LogVerifier::Options options) : verifier(name, options) {}
  LogVerifier verifier;
  absl::Status read = absl::OkStatus();  // an error reading (not a finding)
};

// (A chunk that is not the last is judged short by the join, which knows
// where the next record is.)
void CheckPart(AuditLog& log, uint64_t first, uint64_t last, bool ends_at_head,
               const eventlog::Head& head, std::atomic<uint64_t>& done, Part& part) {
  uint64_t counted = 0;
  absl::Status scan =
      log.Scan(first, last, [&](uint64_t position, std::string_view bytes) {
        if ((++counted & 1023) == 0) done.fetch_add(1024, std::memory_order_relaxed);
        return part.verifier.Add(position, bytes);
      });
  if (absl::IsDataLoss(scan)) {
    part.verifier.ScanFailed(std::string(scan.message()));
  } else if (!scan.ok()) {
    part.read = std::move(scan);
    return;
  }
  if (ends_at_head) part.verifier.Finish(head);
}

// A finding and how many records are good before it. Where two are at the
// same position, the first found in one pass's order wins: the join's
// (its chain and version checks come before a record's payload) over the
// chunk's own.
struct Candidate {
  Finding finding;
  uint64_t good = 0;
};
void Earliest(std::optional<Candidate>& current, Candidate candidate) {
  if (!current.has_value() || candidate.finding.position < current->finding.position) {
    current = std::move(candidate);
  }
}

}  // namespace

absl::StatusOr<VerifiedLog> VerifyLog(AuditLog& log, const std::string& name,
                                      const eventlog::Head& head,
                                      LogVerifier::Options options, Progress* progress,
                                      eventlog::RecordFacts* facts, uint64_t chunk) {
  if (!std::has_single_bit(chunk)) {
    return absl::InvalidArgumentError(
        absl::StrCat("verify: a chunk of ", chunk, " records is not a power of two"));
  }
  const uint64_t n = head.position;
  if (facts != nullptr) {
    options.on_record = [facts](uint64_t position, const eventlog::RecordView& view) {
      facts->Set(position, view);
    };
    options.on_node = [facts](uint64_t level, uint64_t index, std::string_view hash) {
      facts->SetNode(level, index, hash);
    };
  }
  // Chunks [k·chunk + 1, (k+1)·chunk], the last one shorter; at least one.
  const uint64_t count = std::max<uint64_t>(1, (n + chunk - 1) / chunk);
  struct Chunk {
    uint64_t first = 0;
    uint64_t last = 0;
    std::unique_ptr<Part> part;
  };
  std::vector<Chunk> chunks(count);
  for (uint64_t k = 0; k < count; ++k) {
    chunks[k].first = k * chunk + 1;
    chunks[k].last = std::min(n, (k + 1) * chunk);
  }

  // Workers take chunks in order; this thread joins each as it is done.
  absl::Mutex mu;
  std::vector<bool> finished(count, false);  // guarded by mu
  std::atomic<uint64_t> next{0};
  std::atomic<bool> stop{false};  // a finding: later chunks are not needed
  std::atomic<uint64_t> done{0};
  auto work = [&] {
    for (uint64_t k; (k = next.fetch_add(1)) < count && !stop.load();) {
      LogVerifier::Options part_options = options;
      part_options.first_position = chunks[k].first;
      auto part = std::make_unique<Part>(name, part_options);
      CheckPart(log, chunks[k].first, chunks[k].last, k + 1 == count, head, done, *part);
      absl::MutexLock lock(&mu);
      chunks[k].part = std::move(part);
      finished[k] = true;
    }
  };
  const uint64_t threads =
      std::clamp<uint64_t>(std::thread::hardware_concurrency(), 1, 8);
  std::vector<std::thread> workers;
  for (uint64_t t = 0; t < std::min(threads, count); ++t) workers.emplace_back(work);
  auto await = [&](uint64_t k) -> Part& {
    auto is_finished = [&]() { return static_cast<bool>(finished[k]); };
    absl::MutexLock lock(&mu);
    while (!mu.AwaitWithTimeout(absl::Condition(&is_finished), absl::Milliseconds(200))) {
      if (progress != nullptr) progress->Update(done.load(std::memory_order_relaxed));
    }
    return *chunks[k].part;
  };

  // What the chunks joined so far say.
  VerifiedLog out;
  out.last_hash.assign(32, '\0');
  merkle::Frontier tree;
  absl::flat_hash_map<std::string, uint64_t> versions;
  std::optional<Candidate> found;
  absl::Status read = absl::OkStatus();
  for (uint64_t k = 0; k < count && !found.has_value(); ++k) {
    Part& part = await(k);
    if (!part.read.ok()) {
      read = part.read;
      break;
    }
    const LogVerifier& c = part.verifier;
    const uint64_t start = chunks[k].first;
    if (k > 0) {
      // Where it meets the chunks before: its first record must follow
      // their last, and each stream go on from its version there.
      if (!c.first_prev_hash().empty() && c.first_prev_hash() != out.last_hash) {
        Earliest(found,
                 {{name, start - 1,
                   LogVerifier::ChainBreak(start, out.last_hash, c.first_prev_hash())},
                  start - 1});
      }
      for (const auto& [stream, first_seen] : c.first_versions()) {
        auto it = versions.find(stream);
        const uint64_t before = it == versions.end() ? 0 : it->second;
        if (first_seen.version != before + 1) {
          Earliest(found,
                   {{name, first_seen.position,
                     LogVerifier::VersionOutOfOrder(stream, first_seen.version, before)},
                    first_seen.position - 1});
        }
      }
    }
    if (c.finding().has_value()) {
      Earliest(found, {*c.finding(), start - 1 + c.records()});
    } else if (k + 1 < count && !c.FinishedPart(chunks[k].last)) {
      // It ended short: the next record, if any, is the next chunk's first.
      const uint64_t missing = start + c.records();
      const Part& after = await(k + 1);
      Earliest(found, {{name, missing,
                        after.verifier.first_given() != 0
                            ? LogVerifier::Missing(missing, after.verifier.first_given())
                            : LogVerifier::HeadPastRecords(n, missing - 1)},
                       missing - 1});
    }
    // The roots asked for inside it (before a finding there).
    const uint64_t good_until = found.has_value() ? found->good : chunks[k].last;
    if (k == 0) {
      for (const auto& [size, root] : c.roots()) {
        if (size <= good_until) out.roots[size] = root;
      }
    } else {
      for (const auto& [size, part_tree] : c.part_trees()) {
        if (size > good_until) continue;
        merkle::Frontier at = tree;
        MEND_RETURN_IF_ERROR(
            at.Extend(part_tree, [](uint64_t, uint64_t, std::string_view) {}));
        out.roots[size] = at.Root();
      }
    }
    if (found.has_value()) break;
    // Joined: its tree (and the nodes only the joined tree has), its
    // streams' versions, its last record.
    MEND_RETURN_IF_ERROR(
        tree.Extend(c.tree(), [&](uint64_t level, uint64_t index, std::string_view hash) {
          if (options.on_node) options.on_node(level, index, hash);
        }));
    for (const auto& [stream, version] : c.stream_versions()) versions[stream] = version;
    if (c.records() > 0) out.last_hash = c.last_hash();
    out.records += c.records();
    absl::MutexLock lock(&mu);
    chunks[k].part.reset();  // (a long log: only the chunks in flight are held)
  }
  stop.store(true);
  for (std::thread& t : workers) t.join();
  if (progress != nullptr) progress->Done();
  MEND_RETURN_IF_ERROR(read);

  if (found.has_value()) {
    out.finding = std::move(found->finding);
    out.records = found->good;
  }
  out.root = tree.Root();
  if (facts != nullptr) {
    facts->good = out.records;
    facts->complete = !out.finding.has_value();
    facts->head = eventlog::Head{out.records, out.last_hash};
  }
  return out;
}

}  // namespace mend::audit
