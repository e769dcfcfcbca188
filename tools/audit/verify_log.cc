#include "tools/audit/verify_log.h"

#include <atomic>
#include <bit>
#include <chrono>
#include <future>
#include <utility>
#include <vector>

#include "absl/strings/str_cat.h"
#include "common/base/status_macros.h"

namespace mend::audit {
namespace {

// One part of the log, [first, last], scanned and checked on its own.
struct Part {
  Part(const std::string& name, LogVerifier::Options options) : verifier(name, options) {}
  LogVerifier verifier;
  absl::Status read = absl::OkStatus();  // an error reading (not a finding)
};

// (A part that is not the last is judged short by VerifyLog, which knows
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

// The earliest finding wins: what follows a bad record is not judged.
void Earliest(std::optional<Finding>& current, Finding candidate) {
  if (!current.has_value() || candidate.position < current->position) {
    current = std::move(candidate);
  }
}

}  // namespace

absl::StatusOr<VerifiedLog> VerifyLog(AuditLog& log, const std::string& name,
                                      const eventlog::Head& head,
                                      LogVerifier::Options options, Progress* progress,
                                      eventlog::RecordFacts* facts) {
  const uint64_t n = head.position;
  if (facts != nullptr) {
    options.on_record = [facts](uint64_t position, const eventlog::RecordView& view) {
      facts->Set(position, view);
    };
    options.on_node = [facts](uint64_t level, uint64_t index, std::string_view hash) {
      facts->SetNode(level, index, hash);
    };
  }
  // The first part: the largest power of two below n, so the second (no
  // longer than it) is a tree that joins the first's.
  const bool split = n >= kVerifySplitMinimum;
  const uint64_t m = split ? std::bit_floor(n - 1) : n;
  LogVerifier::Options first_options = options;
  first_options.first_position = 1;
  LogVerifier::Options second_options = options;
  second_options.first_position = m + 1;
  Part first(name, first_options);
  Part second(name, second_options);

  std::atomic<uint64_t> done{0};
  std::future<void> second_done;
  if (split) {
    second_done = std::async(std::launch::async, [&] {
      CheckPart(log, m + 1, n, /*ends_at_head=*/true, head, done, second);
    });
  }
  std::future<void> first_done = std::async(std::launch::async, [&] {
    CheckPart(log, 1, m, /*ends_at_head=*/!split, head, done, first);
  });
  auto wait = [&](std::future<void>& f) {
    while (f.wait_for(std::chrono::milliseconds(200)) != std::future_status::ready) {
      if (progress != nullptr) progress->Update(done.load(std::memory_order_relaxed));
    }
  };
  wait(first_done);
  if (split) wait(second_done);
  if (progress != nullptr) progress->Done();
  MEND_RETURN_IF_ERROR(first.read);
  MEND_RETURN_IF_ERROR(second.read);

  const LogVerifier& a = first.verifier;
  const LogVerifier& b = second.verifier;
  VerifiedLog out;
  out.roots = a.roots();
  if (split && !a.FinishedPart(m)) {
    // The first part ended short: the next record, if any, is the second
    // part's first.
    out.finding = Finding{name, a.records() + 1,
                          b.first_given() != 0
                              ? LogVerifier::Missing(a.records() + 1, b.first_given())
                              : LogVerifier::HeadPastRecords(n, a.records())};
    out.records = a.records();
    out.last_hash = a.last_hash();
    out.root = a.Root();
  } else if (!split || a.finding().has_value()) {
    out.finding = a.finding();
    out.records = a.records();
    out.last_hash = a.last_hash();
    out.root = a.Root();
  } else {
    // Where the parts meet: the second's first record must follow the
    // first's last, and each stream must go on from its version there.
    std::optional<Finding> finding = b.finding();
    uint64_t records = m + b.records();
    if (b.records() > 0 && b.first_prev_hash() != a.last_hash()) {
      Finding f{name, m,
                LogVerifier::ChainBreak(m + 1, a.last_hash(), b.first_prev_hash())};
      if (!finding.has_value() || f.position < finding->position) records = m;
      Earliest(finding, std::move(f));
    }
    for (const auto& [stream, first_seen] : b.first_versions()) {
      const uint64_t before = a.VersionOf(stream);
      if (first_seen.version != before + 1) {
        Finding f{name, first_seen.position,
                  LogVerifier::VersionOutOfOrder(stream, first_seen.version, before)};
        if (!finding.has_value() || f.position < finding->position) {
          records = first_seen.position - 1;
        }
        Earliest(finding, std::move(f));
      }
    }
    out.finding = std::move(finding);
    out.records = records;
    if (out.records == m) {
      out.last_hash = a.last_hash();
      out.root = a.Root();
    } else {
      // (records past m but short of b's: a finding there; the hash and
      // root of the good records are then of no use to anyone.)
      merkle::Frontier whole = a.tree();
      absl::Status joined = whole.Extend(
          b.tree(), [&](uint64_t level, uint64_t index, std::string_view hash) {
            if (options.on_node) options.on_node(level, index, hash);
          });
      if (!joined.ok()) return joined;  // cannot be: m is a power of two >= b's size
      out.last_hash = b.last_hash();
      out.root = whole.Root();
    }
    for (const auto& [size, part_tree] : b.part_trees()) {
      if (size > out.records) continue;
      merkle::Frontier at = a.tree();
      if (absl::Status joined =
              at.Extend(part_tree, [](uint64_t, uint64_t, std::string_view) {});
          !joined.ok()) {
        return joined;
      }
      out.roots[size] = at.Root();
    }
  }
  if (facts != nullptr) {
    facts->good = out.records;
    facts->complete = !out.finding.has_value();
    facts->head = eventlog::Head{out.records, out.last_hash};
  }
  return out;
}

}  // namespace mend::audit
