// mend-audit prove --log DIR|HOST:PORT (--decision ID | --position N) --out FILE
//                  [--public_key PEM]
// mend-audit check-proof --bundle FILE --public_key PEM
//
// prove writes a proof bundle (proof_bundle.h) for one record: a contact
// decision of the consent log by its id, or any record by its position. It
// proves against the smallest signed head that covers the record (an
// address serves only its newest), and checks the bundle itself before
// writing it: it never hands out a proof that does not verify. The head's
// signature is checked with --public_key, or else with the key a service
// serves; from a directory without a key it is not (check-proof does).
//
// check-proof verifies a bundle with nothing but it and the public key, and
// prints the proven record as JSON and what was proven.
//
// Exit codes: 0 written / verified; 1 not proven (no such decision, no
// signed head covers the record yet, a head or proof that does not verify);
// 2 usage or I/O (a missing, unreadable or malformed bundle or key).
#include <algorithm>
#include <cstdio>
#include <memory>
#include <optional>
#include <string>
#include <vector>

#include "absl/flags/declare.h"
#include "absl/flags/flag.h"
#include "absl/strings/escaping.h"
#include "absl/strings/str_cat.h"
#include "common/base/status_macros.h"
#include "common/eventlog/record_codec.h"
#include "common/merkle/tree_head.h"
#include "mend/consent/v1/events.pb.h"
#include "tools/audit/commands.h"
#include "tools/audit/heads.h"
#include "tools/audit/proof_bundle.h"

ABSL_DECLARE_FLAG(std::string, log);
ABSL_DECLARE_FLAG(std::string, public_key);
ABSL_DECLARE_FLAG(std::string, out);

ABSL_FLAG(std::string, decision, "",
          "prove: the decision_id of the consent log's ContactDecisionMade to prove");
ABSL_FLAG(uint64_t, position, 0, "prove: the position of the record to prove");
ABSL_FLAG(std::string, bundle, "", "check-proof: the proof bundle to verify");

namespace mend::audit {
namespace {

using eventlog::v1::SignedTreeHead;
using eventlog::v1::TreeHead;

constexpr char kProveUsage[] =
    "usage: mend-audit prove --log DIR|HOST:PORT (--decision ID | --position N) --out "
    "FILE "
    "[--public_key PEM]";
constexpr char kCheckUsage[] =
    "usage: mend-audit check-proof --bundle FILE --public_key PEM";
constexpr char kDecisionType[] = "mend.consent.v1.ContactDecisionMade";

// An error reaching the log (exit 2), as opposed to one about what it holds.
bool IsIoError(const absl::Status& status) {
  return absl::IsUnavailable(status) || absl::IsDeadlineExceeded(status) ||
         absl::IsUnauthenticated(status) || absl::IsPermissionDenied(status) ||
         absl::IsCancelled(status) || absl::IsResourceExhausted(status) ||
         absl::IsUnimplemented(status);
}

int NotProven(std::string_view message) {
  std::fprintf(stderr, "mend-audit: %.*s\n", static_cast<int>(message.size()),
               message.data());
  return kExitFinding;
}

int LogError(const absl::Status& status) {
  return IsIoError(status) ? IoError(status) : NotProven(std::string(status.message()));
}

// The key to check heads with: --public_key's file, or what the service
// serves (nullopt: neither). `source` says which, for messages.
absl::StatusOr<std::optional<std::string>> HeadKey(AuditLog& log, std::string* source) {
  const std::string path = absl::GetFlag(FLAGS_public_key);
  if (!path.empty()) {
    MEND_ASSIGN_OR_RETURN(std::string pem, ReadFile(path));
    if (absl::Status s = merkle::KeyId(pem).status(); !s.ok()) {
      return absl::InvalidArgumentError(
          absl::StrCat("--public_key ", path, ": ", std::string(s.message())));
    }
    *source = path;
    return pem;
  }
  MEND_ASSIGN_OR_RETURN(std::optional<std::string> served, log.ServedPublicKey());
  if (served.has_value()) *source = "the key the service serves";
  return served;
}

}  // namespace

int RunProve(const Args& args) {
  if (!args.empty()) {
    return UsageError(
        absl::StrCat("prove takes no argument \"", args[0], "\"\n", kProveUsage));
  }
  const std::string decision = absl::GetFlag(FLAGS_decision);
  uint64_t position = absl::GetFlag(FLAGS_position);
  const std::string out = absl::GetFlag(FLAGS_out);
  if (decision.empty() == (position == 0)) {
    return UsageError(
        absl::StrCat("give one of --decision ID and --position N\n", kProveUsage));
  }
  if (out.empty()) return UsageError(absl::StrCat("--out is required\n", kProveUsage));

  absl::StatusOr<std::unique_ptr<AuditLog>> opened =
      OpenLogFlag("--log", absl::GetFlag(FLAGS_log));
  if (!opened.ok()) return IoError(opened.status());
  AuditLog& log = **opened;
  std::string key_source;
  absl::StatusOr<std::optional<std::string>> key = HeadKey(log, &key_source);
  if (!key.ok()) return IoError(key.status());
  absl::StatusOr<uint64_t> log_size = log.HeadPosition();
  if (!log_size.ok()) return IoError(log_size.status());

  // The record: the decision's, found by a scan, or the one at --position.
  std::string record;
  absl::Status scanned = absl::OkStatus();
  if (!decision.empty()) {
    consent::v1::ContactDecisionMade made;
    scanned = log.Scan(1, 0, [&](uint64_t p, std::string_view bytes) {
      eventlog::RecordView view;
      if (!eventlog::DecodeRecord(bytes, &view).ok() ||
          view.event_type != kDecisionType) {
        return true;  // not a decision (a broken record is verify's to name)
      }
      if (made.ParseFromArray(view.payload.data(),
                              static_cast<int>(view.payload.size())) &&
          made.decision_id() == decision) {
        position = p;
        record = std::string(bytes);
        return false;
      }
      return true;
    });
    if (scanned.ok() && position == 0) {
      absl::StatusOr<Service> service = log.DetectService();
      if (service.ok() && *service != Service::kConsent &&
          *service != Service::kUnknown) {
        return UsageError(absl::StrCat(log.spec(), " is the log of ",
                                       std::string(ServiceName(*service)),
                                       ": contact decisions are in the consent log"));
      }
      return NotProven(absl::StrCat("no ", kDecisionType, " with decision_id \"",
                                    decision, "\" in ", log.spec(), " (", *log_size,
                                    " records)"));
    }
  } else {
    if (position > *log_size) {
      return UsageError(absl::StrCat("--position ", position, ": ", log.spec(), " has ",
                                     *log_size, " records"));
    }
    scanned = log.Scan(position, position, [&](uint64_t p, std::string_view bytes) {
      if (p == position) record = std::string(bytes);
      return false;
    });
    if (scanned.ok() && record.empty()) {
      return NotProven(absl::StrCat(log.spec(), " has no record at position ", position));
    }
  }
  if (!scanned.ok()) return LogError(scanned);

  // The smallest signed head that covers it: the proof is shortest there,
  // and it was signed soonest after the record.
  absl::StatusOr<std::vector<SignedTreeHead>> heads = log.SignedHeads();
  if (!heads.ok()) return LogError(heads.status());
  const SignedTreeHead* chosen = nullptr;
  TreeHead head;
  uint64_t newest_size = 0;
  for (const SignedTreeHead& h : *heads) {
    absl::StatusOr<TreeHead> stated = UnverifiedTreeHead(h);
    if (!stated.ok()) continue;
    newest_size = std::max<uint64_t>(newest_size, stated->tree_size());
    if (stated->tree_size() >= position &&
        (chosen == nullptr || stated->tree_size() < head.tree_size())) {
      chosen = &h;
      head = *std::move(stated);
    }
  }
  if (chosen == nullptr) {
    return NotProven(absl::StrCat(
        "no signed head covers position ", position, " of ", log.spec(), " yet (",
        newest_size == 0 ? std::string("it has none")
                         : absl::StrCat("the newest covers ", newest_size, " records"),
        "): wait for the service's next signed head -- it signs one every "
        "--tree_head_every_events events, every --tree_head_interval, and at shutdown -- "
        "and run prove again"));
  }
  if (key->has_value()) {
    absl::StatusOr<TreeHead> verified = merkle::VerifyTreeHead(*chosen, **key);
    if (!verified.ok()) {
      return NotProven(absl::StrCat("the signed head of size ", head.tree_size(), " of ",
                                    log.spec(), " does not verify with ", key_source,
                                    ": ", verified.status().message(),
                                    "; no bundle was written"));
    }
    head = *std::move(verified);
  } else {
    std::fprintf(stderr,
                 "mend-audit: note: the head's signature was not checked (no "
                 "--public_key); check-proof checks it\n");
  }

  absl::StatusOr<std::vector<std::string>> proof =
      log.InclusionProof(position, head.tree_size());
  if (!proof.ok()) return LogError(proof.status());
  const ProofBundle bundle =
      MakeBundle(position, std::move(record), *std::move(proof), *chosen);
  const BundleCheck check = CheckBundleAgainstHead(bundle, head);
  if (!check.problems.empty()) {
    for (const std::string& problem : check.problems) {
      PrintFinding({.log = log.spec(), .position = position, .problem = problem});
    }
    return NotProven("the log's proof does not verify; no bundle was written");
  }
  if (absl::Status s = WriteFileDurably(out, BundleToJson(bundle)); !s.ok()) {
    return IoError(s);
  }
  std::printf(
      "wrote the proof of record %llu of %s%s against its signed head of %llu "
      "records (signed %s) to %s\n",
      static_cast<unsigned long long>(position), head.service().c_str(),
      decision.empty() ? "" : absl::StrCat(" (decision ", decision, ")").c_str(),
      static_cast<unsigned long long>(head.tree_size()), HeadTime(head).c_str(),
      out.c_str());
  return kExitOk;
}

int RunCheckProof(const Args& args) {
  if (!args.empty()) {
    return UsageError(
        absl::StrCat("check-proof takes no argument \"", args[0], "\"\n", kCheckUsage));
  }
  const std::string bundle_path = absl::GetFlag(FLAGS_bundle);
  const std::string key_path = absl::GetFlag(FLAGS_public_key);
  if (bundle_path.empty() || key_path.empty()) {
    return UsageError(absl::StrCat(bundle_path.empty() ? "--bundle" : "--public_key",
                                   " is required\n", kCheckUsage));
  }
  absl::StatusOr<std::string> text = ReadFile(bundle_path);
  if (!text.ok()) return IoError(text.status());
  absl::StatusOr<std::string> key = ReadFile(key_path);
  if (!key.ok()) return IoError(key.status());
  if (absl::Status s = merkle::KeyId(*key).status(); !s.ok()) {
    return UsageError(absl::StrCat("--public_key ", key_path, ": ", s.message()));
  }
  absl::StatusOr<ProofBundle> bundle = BundleFromJson(*text);
  if (!bundle.ok()) {
    return UsageError(
        absl::StrCat("--bundle ", bundle_path, ": ", bundle.status().message()));
  }

  const BundleCheck check = CheckBundle(*bundle, *key);
  if (!check.problems.empty()) {
    for (const std::string& problem : check.problems) {
      PrintFinding(
          {.log = bundle_path, .position = bundle->position, .problem = problem});
    }
    return NotProven(absl::StrCat("the proof in ", bundle_path, " does not verify"));
  }
  std::printf("%s\n", check.record_json.c_str());
  if (!check.payload_note.empty()) {
    std::fprintf(stderr, "mend-audit: note: the payload is not shown: %s\n",
                 check.payload_note.c_str());
  }
  std::printf(
      "proof verified: record %llu of %s is in the log of %llu records signed at %s "
      "by key %s\n",
      static_cast<unsigned long long>(bundle->position), check.head.service().c_str(),
      static_cast<unsigned long long>(check.head.tree_size()),
      HeadTime(check.head).c_str(), bundle->signed_head.key_id().c_str());
  return kExitOk;
}

}  // namespace mend::audit
