// mend-audit heads save --log DIR|HOST:PORT --out FILE [--public_key PEM]
//
// Keeps a service's signed tree heads in a file outside the service, so that
// `verify --heads FILE` can later show the log still extends each of them.
// A directory gives every head the service saved; an address, the newest.
// The heads are added to FILE (created if missing; one file per service).
// Without a key the heads are saved unchecked (verify checks them); with
// --public_key a head that does not verify is refused, and nothing is saved.
//
// Exit codes: 0 saved (or nothing new to save), 1 a head read from the log
// does not parse or (with --public_key) does not verify, 2 usage or I/O.
#include <algorithm>
#include <cstdio>
#include <filesystem>
#include <memory>
#include <optional>
#include <string>
#include <vector>

#include "absl/flags/declare.h"
#include "absl/flags/flag.h"
#include "absl/strings/str_cat.h"
#include "common/merkle/tree_head.h"
#include "tools/audit/commands.h"
#include "tools/audit/heads.h"

ABSL_DECLARE_FLAG(std::string, log);
ABSL_DECLARE_FLAG(std::string, public_key);

ABSL_FLAG(std::string, out, "",
          "heads save: the heads file to add the signed heads to; prove: the bundle to "
          "write");

namespace mend::audit {
namespace {

using eventlog::v1::SignedTreeHead;
using eventlog::v1::TreeHead;

constexpr char kUsage[] =
    "usage: mend-audit heads save --log DIR|HOST:PORT --out FILE [--public_key PEM]";

int Save() {
  const std::string out = absl::GetFlag(FLAGS_out);
  if (out.empty()) return UsageError(absl::StrCat("--out is required\n", kUsage));
  std::string key_pem;
  if (const std::string key_path = absl::GetFlag(FLAGS_public_key); !key_path.empty()) {
    absl::StatusOr<std::string> key = ReadFile(key_path);
    if (!key.ok()) return IoError(key.status());
    if (absl::Status s = merkle::KeyId(*key).status(); !s.ok()) {
      return UsageError(absl::StrCat("--public_key ", key_path, ": ", s.message()));
    }
    key_pem = *std::move(key);
  }

  absl::StatusOr<std::unique_ptr<AuditLog>> log =
      OpenLogFlag("--log", absl::GetFlag(FLAGS_log));
  if (!log.ok()) return IoError(log.status());
  const std::string& spec = (*log)->spec();
  absl::StatusOr<std::vector<SignedTreeHead>> heads = (*log)->SignedHeads();
  if (!heads.ok()) {
    if (absl::IsDataLoss(heads.status())) {
      PrintFinding(
          {.log = spec, .position = 0, .problem = std::string(heads.status().message())});
      return kExitFinding;
    }
    return IoError(heads.status());
  }
  if (heads->empty()) {
    return UsageError(absl::StrCat(
        spec,
        " has no signed tree head yet: a service signs one only when started with "
        "--tree_head_key (every --tree_head_every_events events, every "
        "--tree_head_interval, and at shutdown); nothing was saved"));
  }
  absl::StatusOr<Service> service = (*log)->DetectService();
  if (!service.ok()) return IoError(service.status());

  // What the heads state, checked where a key allows. A wrong key fails
  // every head alike: the first is named, the others counted.
  std::string name(ServiceName(*service));
  uint64_t smallest = UINT64_MAX;
  uint64_t largest = 0;
  std::optional<Finding> first_refused;
  size_t refused = 0;
  for (const SignedTreeHead& signed_head : *heads) {
    absl::StatusOr<TreeHead> head = key_pem.empty()
                                        ? UnverifiedTreeHead(signed_head)
                                        : merkle::VerifyTreeHead(signed_head, key_pem);
    std::string problem;
    if (!head.ok()) {
      absl::StatusOr<TreeHead> stated = UnverifiedTreeHead(signed_head);
      problem = absl::StrCat(
          "the signed head",
          stated.ok() ? absl::StrCat(" of size ", stated->tree_size()) : std::string(),
          " from the log ", key_pem.empty() ? "does not parse: " : "does not verify: ",
          head.status().message());
    } else {
      if (name.empty()) name = head->service();
      if (head->service() != name) {
        problem = absl::StrCat("the signed head of size ", head->tree_size(),
                               " is a head of \"", head->service(), "\", not of ", name);
      }
    }
    if (!problem.empty()) {
      if (refused++ == 0) {
        first_refused =
            Finding{.log = spec, .position = 0, .problem = std::move(problem)};
      }
      continue;
    }
    smallest = std::min<uint64_t>(smallest, head->tree_size());
    largest = std::max<uint64_t>(largest, head->tree_size());
  }
  if (first_refused.has_value()) {
    if (refused > 1) {
      absl::StrAppend(&first_refused->problem, " (and ", refused - 1, " more of its ",
                      heads->size(), " heads are refused)");
    }
    PrintFinding(*first_refused);
    std::fprintf(stderr, "mend-audit: nothing was saved to %s\n", out.c_str());
    return kExitFinding;
  }

  // One file per service: verify --heads takes a head of another service as
  // a finding.
  std::error_code error;
  if (std::filesystem::exists(out, error)) {
    absl::StatusOr<std::vector<SignedTreeHead>> existing = ReadHeadsFile(out);
    if (!existing.ok()) return IoError(existing.status());
    for (const SignedTreeHead& h : *existing) {
      absl::StatusOr<TreeHead> stated = UnverifiedTreeHead(h);
      if (stated.ok() && stated->service() != name) {
        return UsageError(absl::StrCat(out, " holds heads of \"", stated->service(),
                                       "\", these are of ", name,
                                       ": keep one heads file per service"));
      }
    }
  }

  absl::StatusOr<size_t> added = AppendHeads(out, *heads);
  if (!added.ok()) return IoError(added.status());
  const std::string sizes = smallest == largest
                                ? absl::StrCat("size ", largest)
                                : absl::StrCat("sizes ", smallest, "..", largest);
  if (*added == 0) {
    std::printf("no new heads of %s to save: %s already holds the %zu read (%s)\n",
                name.c_str(), out.c_str(), heads->size(), sizes.c_str());
  } else {
    std::printf(
        "saved %zu %s of %s (%s) to %s%s\n", *added, *added == 1 ? "head" : "heads",
        name.c_str(), sizes.c_str(), out.c_str(),
        *added < heads->size()
            ? absl::StrCat(" (", heads->size() - *added, " were there already)").c_str()
            : "");
  }
  return kExitOk;
}

}  // namespace

int RunHeads(const Args& args) {
  if (args.size() != 1 || args[0] != "save") {
    return UsageError(absl::StrCat(
        args.empty() ? "heads: which? " : "heads: unknown \"" + args[0] + "\"; ",
        kUsage));
  }
  return Save();
}

}  // namespace mend::audit
