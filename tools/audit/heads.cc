#include "tools/audit/heads.h"

#include <algorithm>
#include <filesystem>
#include <tuple>
#include <utility>

#include "absl/strings/ascii.h"
#include "absl/strings/escaping.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_split.h"
#include "absl/time/time.h"
#include "common/base/status_macros.h"
#include "common/merkle/merkle.h"
#include "common/merkle/tree_head.h"
#include "google/protobuf/util/json_util.h"
#include "nlohmann/json.hpp"
#include "tools/audit/event_json.h"

namespace mend::audit {
namespace {

using eventlog::v1::SignedTreeHead;
using eventlog::v1::TreeHead;

std::string Hex(std::string_view bytes) {
  return absl::BytesToHexString(std::string(bytes));
}

// The errors of reaching a log, as opposed to what the log holds: an
// unreachable or refusing service is an I/O error (exit 2), never a finding.
bool IsIoError(const absl::Status& status) {
  switch (status.code()) {
    case absl::StatusCode::kUnavailable:
    case absl::StatusCode::kDeadlineExceeded:
    case absl::StatusCode::kUnauthenticated:
    case absl::StatusCode::kPermissionDenied:
    case absl::StatusCode::kCancelled:
    case absl::StatusCode::kResourceExhausted:
    case absl::StatusCode::kUnimplemented:
      return true;
    default:
      return false;
  }
}

// "the head saved on <date> (size N)", for a verified head.
std::string SavedHead(const TreeHead& head) {
  return absl::StrCat("the head saved on ", HeadTime(head), " (size ", head.tree_size(),
                      ")");
}

// What a head states about itself, for a head that did not verify.
std::string Stated(const SignedTreeHead& signed_head) {
  absl::StatusOr<TreeHead> stated = UnverifiedTreeHead(signed_head);
  if (!stated.ok()) return "(its head bytes do not parse)";
  return absl::StrCat("(stating ", stated->service(), " size ", stated->tree_size(),
                      ", root ", Hex(stated->root_hash()).substr(0, 16), "…)");
}

// " (and N more saved heads after it)", when there are others of a kind.
std::string More(size_t others) {
  if (others == 0) return "";
  return absl::StrCat(" (and ", others, " more saved ", others == 1 ? "head" : "heads",
                      " after it)");
}

}  // namespace

absl::StatusOr<TreeHead> UnverifiedTreeHead(const SignedTreeHead& signed_head) {
  TreeHead head;
  if (!head.ParseFromString(signed_head.head())) {
    return absl::InvalidArgumentError("the signed head's head bytes do not parse");
  }
  return head;
}

std::string HeadTime(const TreeHead& head) {
  return absl::FormatTime("%Y-%m-%d %H:%M:%S UTC",
                          absl::FromUnixMicros(head.timestamp_unix_micros()),
                          absl::UTCTimeZone());
}

std::string HeadsFileLine(const SignedTreeHead& head) {
  nlohmann::ordered_json line;
  // For people: what the head states, read without checking the signature.
  if (absl::StatusOr<TreeHead> stated = UnverifiedTreeHead(head); stated.ok()) {
    line["service"] = stated->service();
    line["tree_size"] = stated->tree_size();
    line["root_hash"] = Hex(stated->root_hash());
    line["signed_at"] = absl::FormatTime(
        "%Y-%m-%dT%H:%M:%E6SZ", absl::FromUnixMicros(stated->timestamp_unix_micros()),
        absl::UTCTimeZone());
    line["key_id"] = head.key_id();
  }
  line["signed_head"] = nlohmann::ordered_json::parse(MessageToJson(head));
  return line.dump(-1, ' ', false, nlohmann::json::error_handler_t::replace);
}

absl::StatusOr<std::vector<SignedTreeHead>> ReadHeadsFile(const std::string& path) {
  MEND_ASSIGN_OR_RETURN(std::string text, ReadFile(path));
  std::vector<SignedTreeHead> heads;
  int number = 0;
  for (absl::string_view raw : absl::StrSplit(text, '\n')) {
    ++number;
    const absl::string_view line = absl::StripAsciiWhitespace(raw);
    if (line.empty()) continue;
    const auto bad = [&](std::string_view why) {
      return absl::InvalidArgumentError(
          absl::StrCat(path, " line ", number, ": ", std::string(why)));
    };
    const nlohmann::json j = nlohmann::json::parse(line.begin(), line.end(), nullptr,
                                                   /*allow_exceptions=*/false);
    if (j.is_discarded() || !j.is_object()) return bad("not a JSON object");
    const auto it = j.find("signed_head");
    if (it == j.end() || !it->is_object()) return bad("no \"signed_head\" object");
    SignedTreeHead head;
    const auto parsed = google::protobuf::util::JsonStringToMessage(it->dump(), &head);
    if (!parsed.ok()) {
      return bad(
          absl::StrCat("\"signed_head\" is not a mend.eventlog.v1.SignedTreeHead: ",
                       std::string(parsed.message())));
    }
    heads.push_back(std::move(head));
  }
  return heads;
}

absl::StatusOr<size_t> AppendHeads(const std::string& path,
                                   const std::vector<SignedTreeHead>& heads) {
  // Identity and order: service, size, root as stated; a head whose bytes do
  // not parse sorts first, by its bytes.
  using Key = std::tuple<std::string, uint64_t, std::string>;
  const auto key_of = [](const SignedTreeHead& h) -> Key {
    absl::StatusOr<TreeHead> stated = UnverifiedTreeHead(h);
    if (!stated.ok()) return {"", 0, h.SerializeAsString()};
    return {stated->service(), stated->tree_size(), stated->root_hash()};
  };
  std::map<Key, SignedTreeHead> all;
  std::error_code error;
  if (std::filesystem::exists(path, error)) {
    MEND_ASSIGN_OR_RETURN(std::vector<SignedTreeHead> existing, ReadHeadsFile(path));
    for (SignedTreeHead& h : existing) all.emplace(key_of(h), std::move(h));
  }
  size_t added = 0;
  for (const SignedTreeHead& h : heads) {
    if (all.emplace(key_of(h), h).second) ++added;
  }
  if (added == 0) return 0;
  std::string text;
  for (const auto& [key, head] : all) absl::StrAppend(&text, HeadsFileLine(head), "\n");
  MEND_RETURN_IF_ERROR(WriteFileDurably(path, text));
  return added;
}

std::vector<uint64_t> RootSizes(const std::vector<SignedTreeHead>& saved) {
  std::vector<uint64_t> sizes;
  for (const SignedTreeHead& h : saved) {
    absl::StatusOr<TreeHead> stated = UnverifiedTreeHead(h);
    if (stated.ok() && stated->tree_size() > 0) sizes.push_back(stated->tree_size());
  }
  std::sort(sizes.begin(), sizes.end());
  sizes.erase(std::unique(sizes.begin(), sizes.end()), sizes.end());
  return sizes;
}

absl::StatusOr<std::vector<Finding>> CheckSavedHeads(
    AuditLog& log, std::string_view log_name, const std::vector<SignedTreeHead>& saved,
    std::string_view public_key_pem,
    const std::map<uint64_t, std::string>& recomputed_roots, uint64_t log_size,
    const std::optional<SignedTreeHead>& newest) {
  MEND_RETURN_IF_ERROR(merkle::KeyId(public_key_pem).status());
  std::vector<Finding> findings;
  const auto find = [&](uint64_t position, std::string problem) {
    findings.push_back(Finding{.log = std::string(log_name),
                               .position = position,
                               .problem = std::move(problem)});
  };

  MEND_ASSIGN_OR_RETURN(const Service service, log.DetectService());
  std::string service_name(ServiceName(service));

  // The newest head first: every consistency proof ends at it.
  std::optional<TreeHead> newest_head;
  if (newest.has_value()) {
    absl::StatusOr<TreeHead> verified = merkle::VerifyTreeHead(*newest, public_key_pem);
    if (!verified.ok()) {
      find(0,
           absl::StrCat("the log's newest signed head ", Stated(*newest),
                        " does not verify: ", std::string(verified.status().message())));
    } else if (!service_name.empty() && verified->service() != service_name) {
      find(0, absl::StrCat("the log's newest signed head is a head of \"",
                           verified->service(), "\", not of ", service_name));
    } else {
      if (service_name.empty()) service_name = verified->service();
      newest_head = *std::move(verified);
    }
  }

  // Only heads whose signature verifies are used further.
  std::vector<TreeHead> good;
  for (size_t i = 0; i < saved.size(); ++i) {
    absl::StatusOr<TreeHead> verified = merkle::VerifyTreeHead(saved[i], public_key_pem);
    if (!verified.ok()) {
      find(0, absl::StrCat("saved head #", i + 1, " ", Stated(saved[i]),
                           " does not verify: ", std::string(verified.status().message()),
                           ": it was forged, or changed after it was saved"));
      continue;
    }
    if (!service_name.empty() && verified->service() != service_name) {
      find(0, absl::StrCat("saved head #", i + 1, " is a head of \"", verified->service(),
                           "\", not of ", service_name,
                           ": the heads file belongs to another log"));
      continue;
    }
    good.push_back(*std::move(verified));
  }
  std::sort(good.begin(), good.end(), [](const TreeHead& a, const TreeHead& b) {
    if (a.tree_size() != b.tree_size()) return a.tree_size() < b.tree_size();
    return a.root_hash() < b.root_hash();
  });
  good.erase(std::unique(good.begin(), good.end(),
                         [](const TreeHead& a, const TreeHead& b) {
                           return a.tree_size() == b.tree_size() &&
                                  a.root_hash() == b.root_hash();
                         }),
             good.end());
  if (good.empty()) return findings;

  if (!newest.has_value()) {
    find(0,
         absl::StrCat("the log has no signed tree head, yet heads were saved from it (",
                      SavedHead(good.back()), "): its signed heads were removed"));
  }

  // Truncation: a saved size the log no longer reaches.
  std::vector<const TreeHead*> past_end;
  for (const TreeHead& h : good) {
    if (h.tree_size() > log_size) past_end.push_back(&h);
  }
  if (!past_end.empty()) {
    find(log_size + 1,
         absl::StrCat("the log has ", log_size, " records but a head saved on ",
                      HeadTime(*past_end[0]), " covers ", past_end[0]->tree_size(),
                      ": the log was truncated", More(past_end.size() - 1)));
  }

  // Rewrites: the records no longer hash to a saved root.
  std::vector<const TreeHead*> rewritten;
  std::vector<const TreeHead*> to_prove;
  uint64_t last_matching = 0;  // the largest saved size whose root still matches
  for (const TreeHead& h : good) {
    if (h.tree_size() > log_size) continue;
    const auto root = recomputed_roots.find(h.tree_size());
    if (root != recomputed_roots.end() && root->second != h.root_hash()) {
      rewritten.push_back(&h);
      continue;
    }
    if (root != recomputed_roots.end() && rewritten.empty())
      last_matching = h.tree_size();
    to_prove.push_back(&h);
  }
  if (!rewritten.empty()) {
    const TreeHead& first = *rewritten[0];
    find(first.tree_size(),
         absl::StrCat(
             "the first ", first.tree_size(),
             " records no longer hash to the root of the head saved on ", HeadTime(first),
             " (", Hex(first.root_hash()),
             "): the log was rewritten at or before position ", first.tree_size(),
             last_matching > 0 ? absl::StrCat(" and after position ", last_matching,
                                              " (where a saved head still matches)")
                               : "",
             More(rewritten.size() - 1)));
  }

  // The service's newest signed word must extend each saved head. (A newest
  // head past the log's end is the verify command's own finding.)
  if (!newest_head.has_value() || newest_head->tree_size() > log_size) return findings;
  std::vector<std::pair<const TreeHead*, std::string>> inconsistent;
  for (const TreeHead* h : to_prove) {
    const bool older = h->tree_size() <= newest_head->tree_size();
    const TreeHead& from = older ? *h : *newest_head;
    const TreeHead& to = older ? *newest_head : *h;
    absl::StatusOr<std::vector<std::string>> proof =
        log.ConsistencyProof(from.tree_size(), to.tree_size());
    if (!proof.ok() && IsIoError(proof.status())) return proof.status();
    absl::Status verified =
        proof.ok() ? merkle::VerifyConsistency(from.tree_size(), to.tree_size(),
                                               from.root_hash(), to.root_hash(), *proof)
                   : absl::Status(proof.status().code(),
                                  absl::StrCat("the log gives no consistency proof: ",
                                               std::string(proof.status().message())));
    if (!verified.ok()) inconsistent.emplace_back(h, std::string(verified.message()));
  }
  if (!inconsistent.empty()) {
    const TreeHead& first = *inconsistent[0].first;
    find(first.tree_size(),
         absl::StrCat("the log's newest signed head (size ", newest_head->tree_size(),
                      ", signed ", HeadTime(*newest_head), ") does not extend ",
                      SavedHead(first), ": ", inconsistent[0].second,
                      ": the log was rewritten and its heads signed again",
                      More(inconsistent.size() - 1)));
  }
  return findings;
}

}  // namespace mend::audit
