// mend-audit export: every event of a log, one JSON object a line
// (event_json.h RecordToJson, the payload as protobuf JSON), in position
// order.
//
//   mend-audit export --log /var/lib/mend/case/eventlog --format jsonl
//   mend-audit export --log /var/lib/mend/case/eventlog --from 100 --to 200
//   mend-audit export --log /var/lib/mend/case/eventlog --unseal
//       --master_key /secrets/case-master.key                   (one line)
//
// Sealed personal data (mend.common.v1.Sealed) is exported as stored — the
// ciphertext — unless --unseal with --master_key is given: then each is
// replaced by its plaintext, opened with the service's own key store read
// from its data directory (export_sealed.h). An erased person's values
// stay unreadable and are marked "erased": true; that is not an error.
//
// stdout carries only the events, so a finding (a record that does not
// decode, a broken chain, a payload that does not parse as its type, a
// sealed value that cannot be opened other than by erasure) goes to stderr
// as "FINDING <log> position <N>: …" and the export stops there (exit 1).
// Exit 2: usage (--format other than jsonl, --unseal without --master_key
// or on an address, --from/--to past the head) and I/O errors.
#include <algorithm>
#include <cstdio>
#include <filesystem>
#include <memory>
#include <optional>
#include <string>

#include "absl/flags/declare.h"
#include "absl/flags/flag.h"
#include "absl/strings/str_cat.h"
#include "common/base/sha256.h"
#include "common/eventlog/record_codec.h"
#include "tools/audit/commands.h"
#include "tools/audit/event_json.h"
#include "tools/audit/export_sealed.h"

ABSL_DECLARE_FLAG(std::string, log);

ABSL_FLAG(std::string, format, "jsonl",
          "export: the output format (jsonl: one event a line)");
ABSL_FLAG(bool, unseal, false,
          "export: show sealed personal data as plaintext, opened with the service's key "
          "store (needs --master_key and the data directory)");
ABSL_FLAG(std::string, master_key, "",
          "export --unseal: the file holding the service's master key");
ABSL_FLAG(uint64_t, from, 0, "export: the first position (0: the first record)");
ABSL_FLAG(uint64_t, to, 0, "export: the last position (0: the head)");

namespace mend::audit {
namespace {

// PrintFinding's line, on stderr: stdout is the events.
void PrintFindingToStderr(const Finding& f) {
  if (f.position == 0) {
    std::fprintf(stderr, "FINDING %s: %s\n", f.log.c_str(), f.problem.c_str());
  } else {
    std::fprintf(stderr, "FINDING %s position %llu: %s\n", f.log.c_str(),
                 static_cast<unsigned long long>(f.position), f.problem.c_str());
  }
}

}  // namespace

int RunExport(const Args& args) {
  if (!args.empty()) return UsageError("export takes no positional arguments");
  const std::string format = absl::GetFlag(FLAGS_format);
  if (format != "jsonl") {
    return UsageError(absl::StrCat("--format ", format,
                                   ": the one format is jsonl (one JSON event a line)"));
  }
  const bool unseal = absl::GetFlag(FLAGS_unseal);
  const std::string master_key = absl::GetFlag(FLAGS_master_key);
  if (unseal && master_key.empty()) {
    return UsageError("--unseal needs --master_key FILE: the service's master key");
  }
  if (!unseal && !master_key.empty()) {
    return UsageError("--master_key is used only with --unseal");
  }

  const std::string spec = absl::GetFlag(FLAGS_log);
  std::error_code not_a_directory;
  if (unseal && !spec.empty() && !std::filesystem::is_directory(spec, not_a_directory)) {
    // Refused before connecting to anything.
    return UsageError(absl::StrCat(
        "--unseal needs the data directory: the keys are in the service's database and "
        "never served (",
        spec, " is not a directory)"));
  }
  absl::StatusOr<std::unique_ptr<AuditLog>> opened = OpenLogFlag("--log", spec);
  if (!opened.ok()) return IoError(opened.status());
  AuditLog& log = **opened;
  std::unique_ptr<SealedOpener> opener;
  if (unseal) {
    absl::StatusOr<std::unique_ptr<SealedOpener>> keys =
        SealedOpener::Open(log.spec(), master_key);
    if (!keys.ok()) return IoError(keys.status());
    opener = *std::move(keys);
  }
  absl::StatusOr<Service> service = log.DetectService();
  if (!service.ok()) return IoError(service.status());
  const std::string name =
      *service == Service::kUnknown ? log.spec() : std::string(ServiceName(*service));

  absl::StatusOr<eventlog::Head> stored_head = log.GetHead();
  if (!stored_head.ok()) return IoError(stored_head.status());
  const uint64_t head = stored_head->position;
  const uint64_t from = std::max<uint64_t>(absl::GetFlag(FLAGS_from), 1);
  const uint64_t to = absl::GetFlag(FLAGS_to) == 0 ? head : absl::GetFlag(FLAGS_to);
  if (to > head) {
    return UsageError(absl::StrCat("--to ", to, " is past the head of ", log.spec(),
                                   " (the log ends at position ", head, ")"));
  }
  if (head == 0) return kExitOk;  // an empty log: no events
  if (from > to) {
    return UsageError(absl::StrCat("--from ", from, " is after --to ", to,
                                   " (the log of ", log.spec(), " ends at position ",
                                   head, ")"));
  }

  PayloadDecoder decoder;
  UnsealStats stats;
  const UnsealFn unseal_fn = opener ? opener->AsUnsealFn() : UnsealFn();
  std::optional<Finding> finding;
  std::string prev_hash;  // of the record before, once one was exported
  uint64_t last = from - 1;
  bool write_failed = false;
  Progress progress(absl::StrCat("export ", name), to - from + 1);
  auto fail = [&](uint64_t position, std::string problem) {
    finding = Finding{name, position, std::move(problem)};
    return false;
  };
  absl::Status scan = log.Scan(from, to, [&](uint64_t position, std::string_view bytes) {
    if (position != last + 1) {
      return fail(last + 1,
                  absl::StrCat("position ", last + 1,
                               " is missing (the next record is at ", position, ")"));
    }
    eventlog::RecordView view;
    if (absl::Status s = eventlog::DecodeRecord(bytes, &view); !s.ok()) {
      return fail(position, absl::StrCat("the record does not decode: ", s.message()));
    }
    if (view.position != position) {
      return fail(position,
                  absl::StrCat("the record stored here names position ", view.position));
    }
    if (!prev_hash.empty() && view.prev_hash != prev_hash) {
      return fail(position - 1,
                  "the record does not hash to the prev_hash the next one recorded: it "
                  "was changed (run mend-audit verify)");
    }
    absl::StatusOr<const google::protobuf::Message*> payload =
        decoder.Decode(view.event_type, view.payload);
    if (!payload.ok()) return fail(position, std::string(payload.status().message()));
    std::string hash = Sha256Bytes(bytes);
    const std::string payload_json =
        opener ? UnsealedPayloadJson(**payload, CaseOfStream(view.stream_id), unseal_fn,
                                     &stats)
               : MessageToJson(**payload);
    std::string line = RecordToJson(view, hash, payload_json);
    line.push_back('\n');
    if (std::fwrite(line.data(), 1, line.size(), stdout) != line.size()) {
      write_failed = true;
      return false;
    }
    prev_hash = std::move(hash);
    last = position;
    progress.Update(position - from + 1);
    return true;
  });
  progress.Done();
  if (std::fflush(stdout) != 0 || write_failed) {
    return UsageError("the events could not be written to stdout");
  }
  if (absl::IsDataLoss(scan) && !finding.has_value()) {
    finding = Finding{name, last + 1, std::string(scan.message())};
  } else if (!scan.ok() && !finding.has_value()) {
    return IoError(scan);
  }
  if (!finding.has_value() && last != to) {
    finding = Finding{
        name, last + 1,
        absl::StrCat("the log ends at position ", last, ", but its head is ", to)};
  }
  if (!finding.has_value() && last == head && !stored_head->hash.empty() &&
      prev_hash != stored_head->hash) {
    // The last record: no successor's prev_hash covers it, the head does.
    finding = Finding{name, last,
                      "the last record does not hash to the head the log keeps: it was "
                      "changed (run mend-audit verify)"};
  }
  if (finding.has_value()) {
    PrintFindingToStderr(*finding);
    return kExitFinding;
  }
  if (unseal) {
    std::fprintf(
        stderr,
        "mend-audit: exported %llu events of %s; sealed values: %llu opened, %llu "
        "erased, %llu unreadable\n",
        static_cast<unsigned long long>(to - from + 1), name.c_str(),
        static_cast<unsigned long long>(stats.opened),
        static_cast<unsigned long long>(stats.erased),
        static_cast<unsigned long long>(stats.unreadable));
  }
  if (stats.unreadable > 0) {
    PrintFindingToStderr({name, 0,
                          absl::StrCat(stats.unreadable,
                                       " sealed values could not be opened (not erased: "
                                       "changed, or sealed under another field name); "
                                       "each is marked \"unreadable\" with why")});
    return kExitFinding;
  }
  return kExitOk;
}

}  // namespace mend::audit
