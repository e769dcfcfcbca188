// mend-audit verify: the audit's own pass over a log (log_verifier.h, in
// chunks on every core: verify_log.h), the store's structural check for a directory
// against what that pass found (stream and idempotency index, stored tree
// nodes, stored head), the records' tree against the newest
// signed head, and with --heads every head saved outside the service
// (heads.h): its signature, and that the log still extends it.
//
//   mend-audit verify --log /var/lib/mend/consent/eventlog
//   mend-audit verify --log 127.0.0.1:7002 --token_file auditor.token
//       --heads consent.heads --public_key consent-tree.pub  (one line)
#include <optional>
#include <string>
#include <vector>

#include "absl/flags/flag.h"
#include "absl/strings/escaping.h"
#include "absl/strings/str_cat.h"
#include "absl/time/time.h"
#include "common/merkle/tree_head.h"
#include "tools/audit/commands.h"
#include "tools/audit/heads.h"
#include "tools/audit/log_verifier.h"
#include "tools/audit/verify_log.h"

ABSL_FLAG(std::string, log, "",
          "the log: a service's data directory, or host:port of a running service");
ABSL_FLAG(std::string, public_key, "",
          "PEM file of the service's Ed25519 tree-head public key");
ABSL_FLAG(std::string, heads, "",
          "verify: a file of signed heads saved earlier (mend-audit heads save) that "
          "the log must still extend; needs --public_key");

namespace mend::audit {
namespace {

namespace v1 = ::mend::eventlog::v1;

std::string Hex(std::string_view bytes) {
  return absl::BytesToHexString(std::string(bytes));
}

std::string Time(int64_t micros) {
  return absl::FormatTime("%Y-%m-%dT%H:%M:%SZ", absl::FromUnixMicros(micros),
                          absl::UTCTimeZone());
}

}  // namespace

int RunVerify(const Args& args) {
  if (!args.empty()) return UsageError("verify takes no positional arguments");
  const std::string heads_file = absl::GetFlag(FLAGS_heads);
  const std::string key_file = absl::GetFlag(FLAGS_public_key);
  if (!heads_file.empty() && key_file.empty()) {
    return UsageError(
        "--heads needs --public_key: a head is only as good as its signature");
  }
  std::optional<std::string> public_key;
  if (!key_file.empty()) {
    absl::StatusOr<std::string> pem = ReadFile(key_file);
    if (!pem.ok()) return IoError(pem.status());
    if (absl::StatusOr<std::string> id = merkle::KeyId(*pem); !id.ok()) {
      return UsageError(
          absl::StrCat("--public_key ", key_file, ": ", id.status().message()));
    }
    public_key = *std::move(pem);
  }
  absl::StatusOr<std::unique_ptr<AuditLog>> opened =
      OpenLogFlag("--log", absl::GetFlag(FLAGS_log));
  if (!opened.ok()) return IoError(opened.status());
  AuditLog& log = **opened;
  absl::StatusOr<Service> service = log.DetectService();
  if (!service.ok()) return IoError(service.status());
  const std::string name =
      *service == Service::kUnknown ? log.spec() : std::string(ServiceName(*service));
  absl::StatusOr<eventlog::Head> log_head = log.GetHead();
  if (!log_head.ok()) return IoError(log_head.status());
  absl::StatusOr<std::optional<v1::SignedTreeHead>> newest = log.NewestSignedHead();
  if (!newest.ok()) return IoError(newest.status());

  // The newest signed head, parsed (and its signature checked when a key is
  // given, or the service serves one).
  std::vector<Finding> findings;
  std::optional<v1::TreeHead> newest_head;
  std::string signature_note;
  if (newest->has_value()) {
    std::optional<std::string> key = public_key;
    if (!key.has_value()) {
      absl::StatusOr<std::optional<std::string>> served = log.ServedPublicKey();
      if (!served.ok()) return IoError(served.status());
      key = *served;
      signature_note =
          key.has_value()
              ? " (checked with the key the service serves: give --public_key "
                "to check it against a key you hold)"
              : " (signature not checked: give --public_key)";
    }
    if (key.has_value()) {
      absl::StatusOr<v1::TreeHead> checked = merkle::VerifyTreeHead(**newest, *key);
      if (checked.ok()) {
        newest_head = *std::move(checked);
      } else {
        findings.push_back({name, 0,
                            absl::StrCat("the newest signed head is not good: ",
                                         checked.status().message())});
      }
    } else {
      v1::TreeHead unchecked;
      if (unchecked.ParseFromString((*newest)->head()))
        newest_head = std::move(unchecked);
    }
  }

  // The saved heads: the records' roots at their sizes are computed in the
  // same pass.
  std::vector<v1::SignedTreeHead> saved;
  if (!heads_file.empty()) {
    absl::StatusOr<std::vector<v1::SignedTreeHead>> read = ReadHeadsFile(heads_file);
    if (!read.ok()) return IoError(read.status());
    if (read->empty()) {
      return UsageError(absl::StrCat("--heads ", heads_file,
                                     " holds no head: nothing to check the log against"));
    }
    saved = *std::move(read);
  }
  LogVerifier::Options options;
  options.root_sizes = RootSizes(saved);
  if (newest_head.has_value()) options.root_sizes.push_back(newest_head->tree_size());
  // A directory: the facts of the audit's pass for the store's structural
  // check (the indexes and the stored tree, which the records alone cannot
  // show), so the records are read and hashed once.
  std::optional<eventlog::RecordFacts> facts;
  if (log.is_directory()) facts.emplace(log_head->position);
  Progress progress(absl::StrCat("verify ", name), log_head->position);
  absl::StatusOr<VerifiedLog> verified = VerifyLog(
      log, name, *log_head, options, &progress, facts.has_value() ? &*facts : nullptr);
  if (!verified.ok()) return IoError(verified.status());
  if (verified->finding.has_value())
    findings.insert(findings.begin(), *verified->finding);
  if (facts.has_value()) {
    if (std::optional<eventlog::VerifyReport> report = log.CheckStructures(*facts);
        report.has_value() && !report->ok) {
      findings.push_back({name, report->first_bad_position,
                          absl::StrCat("the store's check: ", report->problem)});
    }
  }

  if (newest_head.has_value() && !verified->finding.has_value()) {
    const uint64_t size = newest_head->tree_size();
    if (newest_head->service() != name && *service != Service::kUnknown) {
      findings.push_back({name, 0,
                          absl::StrCat("the newest signed head is for the ",
                                       newest_head->service(), " service")});
    } else if (size > verified->records) {
      findings.push_back(
          {name, verified->records + 1,
           absl::StrCat("the newest signed head covers ", size, " records, the log has ",
                        verified->records, ": the log was truncated")});
    } else if (auto it = verified->roots.find(size);
               it == verified->roots.end() || it->second != newest_head->root_hash()) {
      findings.push_back(
          {name, size,
           absl::StrCat("the records' tree root at size ", size,
                        " is not the root of the newest signed head (signed ",
                        Time(newest_head->timestamp_unix_micros()),
                        "): the log was changed after it was signed")});
    }
  }

  // Every saved head: its signature, and that the log still extends it.
  if (!heads_file.empty()) {
    absl::StatusOr<std::vector<Finding>> checked = CheckSavedHeads(
        log, name, saved, *public_key, verified->roots, log_head->position, *newest);
    if (!checked.ok()) return IoError(checked.status());
    findings.insert(findings.end(), checked->begin(), checked->end());
  }

  for (const Finding& f : findings) PrintFinding(f);
  std::printf("verify %s: %llu records", name.c_str(),
              static_cast<unsigned long long>(verified->records));
  if (findings.empty()) {
    std::printf(", chain, positions, streams%s and payloads good; root %s\n",
                log.is_directory() ? ", index, stored tree" : "",
                Hex(verified->root).c_str());
    if (newest_head.has_value()) {
      std::printf("newest signed head: %llu records, signed %s, root matches%s\n",
                  static_cast<unsigned long long>(newest_head->tree_size()),
                  Time(newest_head->timestamp_unix_micros()).c_str(),
                  signature_note.c_str());
    } else {
      std::printf(
          "no signed head yet (the service signs every N records, every interval "
          "and at shutdown, with --tree_head_key)\n");
    }
  } else {
    std::printf(": %zu finding%s\n", findings.size(), findings.size() == 1 ? "" : "s");
  }
  return findings.empty() ? kExitOk : kExitFinding;
}

}  // namespace mend::audit
