#include "tools/audit/proof_bundle.h"

#include <utility>

#include "absl/strings/escaping.h"
#include "absl/strings/str_cat.h"
#include "absl/time/time.h"
#include "common/base/sha256.h"
#include "common/eventlog/record_codec.h"
#include "common/merkle/merkle.h"
#include "common/merkle/tree_head.h"
#include "google/protobuf/util/json_util.h"
#include "nlohmann/json.hpp"
#include "tools/audit/audit_log.h"
#include "tools/audit/event_json.h"
#include "tools/audit/heads.h"

namespace mend::audit {
namespace {

using eventlog::v1::SignedTreeHead;
using eventlog::v1::TreeHead;
using Json = nlohmann::ordered_json;

constexpr char kReadingNote[] =
    "decoded by the prover, for reading only: check-proof never reads this part; it "
    "checks record_base64 against the signed root and decodes those bytes itself";

std::string Hex(std::string_view bytes) {
  return absl::BytesToHexString(std::string(bytes));
}

// Lowercase or uppercase hex of whole bytes; false for anything else.
bool FromHex(std::string_view hex, std::string* out) {
  if (hex.size() % 2 != 0) return false;
  const auto nibble = [](char c) -> int {
    if (c >= '0' && c <= '9') return c - '0';
    if (c >= 'a' && c <= 'f') return c - 'a' + 10;
    if (c >= 'A' && c <= 'F') return c - 'A' + 10;
    return -1;
  };
  out->clear();
  for (size_t i = 0; i < hex.size(); i += 2) {
    const int hi = nibble(hex[i]);
    const int lo = nibble(hex[i + 1]);
    if (hi < 0 || lo < 0) return false;
    out->push_back(static_cast<char>(hi * 16 + lo));
  }
  return true;
}

// The record as JSON with its payload decoded; `note` says why the payload
// is null when it is.
std::string ReadableRecord(std::string_view bytes, const eventlog::RecordView& view,
                           std::string* note) {
  PayloadDecoder decoder;
  absl::StatusOr<const google::protobuf::Message*> payload =
      decoder.Decode(view.event_type, view.payload);
  std::string payload_json = "null";
  if (payload.ok()) {
    payload_json = MessageToJson(**payload);
  } else if (note != nullptr) {
    *note = std::string(payload.status().message());
  }
  return RecordToJson(view, Sha256Bytes(bytes), payload_json);
}

}  // namespace

ProofBundle MakeBundle(uint64_t position, std::string record,
                       std::vector<std::string> proof,
                       const SignedTreeHead& signed_head) {
  ProofBundle bundle;
  absl::StatusOr<TreeHead> stated = UnverifiedTreeHead(signed_head);
  if (stated.ok()) {
    bundle.service = stated->service();
    bundle.tree_size = stated->tree_size();
  }
  bundle.position = position;
  bundle.leaf_hash = merkle::LeafHash(record);
  eventlog::RecordView view;
  if (eventlog::DecodeRecord(record, &view).ok()) {
    bundle.record_json = ReadableRecord(record, view, nullptr);
  }
  bundle.record = std::move(record);
  bundle.inclusion_proof = std::move(proof);
  bundle.signed_head = signed_head;
  return bundle;
}

std::string BundleToJson(const ProofBundle& bundle) {
  Json j;
  j["format"] = kBundleFormat;
  j["service"] = bundle.service;
  j["position"] = bundle.position;
  j["tree_size"] = bundle.tree_size;
  j["record_base64"] = absl::Base64Escape(bundle.record);
  j["leaf_hash_hex"] = Hex(bundle.leaf_hash);
  Json proof = Json::array();
  for (const std::string& hash : bundle.inclusion_proof) proof.push_back(Hex(hash));
  j["inclusion_proof_hex"] = std::move(proof);
  j["signed_head"] = Json::parse(MessageToJson(bundle.signed_head));
  Json reading;
  reading["note"] = kReadingNote;
  if (absl::StatusOr<TreeHead> stated = UnverifiedTreeHead(bundle.signed_head);
      stated.ok()) {
    reading["head"] = {
        {"service", stated->service()},
        {"tree_size", stated->tree_size()},
        {"root_hash", Hex(stated->root_hash())},
        {"signed_at",
         absl::FormatTime("%Y-%m-%dT%H:%M:%E6SZ",
                          absl::FromUnixMicros(stated->timestamp_unix_micros()),
                          absl::UTCTimeZone())},
        {"key_id", bundle.signed_head.key_id()}};
  }
  if (!bundle.record_json.empty()) {
    Json record = Json::parse(bundle.record_json, nullptr, /*allow_exceptions=*/false);
    reading["record"] =
        record.is_discarded() ? Json(bundle.record_json) : std::move(record);
  }
  j["for_reading_not_trusted"] = std::move(reading);
  return j.dump(2, ' ', false, nlohmann::json::error_handler_t::replace) + "\n";
}

absl::StatusOr<ProofBundle> BundleFromJson(std::string_view text) {
  const auto bad = [](std::string_view why) {
    return absl::InvalidArgumentError(
        absl::StrCat("not a proof bundle: ", std::string(why)));
  };
  const Json j =
      Json::parse(text.begin(), text.end(), nullptr, /*allow_exceptions=*/false);
  if (j.is_discarded() || !j.is_object()) return bad("not a JSON object");
  const auto field = [&](const char* name) -> const Json* {
    const auto it = j.find(name);
    return it == j.end() ? nullptr : &*it;
  };
  const Json* format = field("format");
  if (format == nullptr || !format->is_string() || *format != kBundleFormat) {
    return bad(absl::StrCat("\"format\" is not \"", kBundleFormat, "\""));
  }
  ProofBundle bundle;
  const Json* service = field("service");
  if (service == nullptr || !service->is_string()) return bad("no \"service\" string");
  bundle.service = service->get<std::string>();
  const Json* position = field("position");
  if (position == nullptr || !position->is_number_unsigned()) {
    return bad("no \"position\" (a positive number)");
  }
  bundle.position = position->get<uint64_t>();
  const Json* tree_size = field("tree_size");
  if (tree_size == nullptr || !tree_size->is_number_unsigned()) {
    return bad("no \"tree_size\" (a positive number)");
  }
  bundle.tree_size = tree_size->get<uint64_t>();
  const Json* record = field("record_base64");
  if (record == nullptr || !record->is_string() ||
      !absl::Base64Unescape(record->get<std::string>(), &bundle.record)) {
    return bad("no \"record_base64\" (the record's bytes in base64)");
  }
  const Json* leaf = field("leaf_hash_hex");
  if (leaf == nullptr || !leaf->is_string() ||
      !FromHex(leaf->get<std::string>(), &bundle.leaf_hash)) {
    return bad("no \"leaf_hash_hex\" (a hash in hex)");
  }
  const Json* proof = field("inclusion_proof_hex");
  if (proof == nullptr || !proof->is_array()) {
    return bad("no \"inclusion_proof_hex\" (a list of hashes in hex)");
  }
  for (size_t i = 0; i < proof->size(); ++i) {
    std::string hash;
    if (!(*proof)[i].is_string() || !FromHex((*proof)[i].get<std::string>(), &hash)) {
      return bad(
          absl::StrCat("\"inclusion_proof_hex\" item ", i, " is not a hash in hex"));
    }
    bundle.inclusion_proof.push_back(std::move(hash));
  }
  const Json* head = field("signed_head");
  if (head == nullptr || !head->is_object()) return bad("no \"signed_head\" object");
  const auto parsed =
      google::protobuf::util::JsonStringToMessage(head->dump(), &bundle.signed_head);
  if (!parsed.ok()) {
    return bad(absl::StrCat("\"signed_head\" is not a mend.eventlog.v1.SignedTreeHead: ",
                            std::string(parsed.message())));
  }
  return bundle;
}

BundleCheck CheckBundle(const ProofBundle& bundle, std::string_view public_key_pem) {
  absl::StatusOr<TreeHead> head =
      merkle::VerifyTreeHead(bundle.signed_head, public_key_pem);
  if (!head.ok()) {
    BundleCheck check;
    check.problems.push_back(
        absl::StrCat("the signed head does not verify with the public key: ",
                     std::string(head.status().message())));
    return check;
  }
  return CheckBundleAgainstHead(bundle, *head);
}

BundleCheck CheckBundleAgainstHead(const ProofBundle& bundle, const TreeHead& head) {
  BundleCheck check;
  check.head = head;
  std::vector<std::string>& problems = check.problems;
  if (bundle.service != head.service()) {
    problems.push_back(absl::StrCat("the bundle says it is of the log of \"",
                                    bundle.service, "\", but the signed head is of \"",
                                    head.service(), "\""));
  }
  if (bundle.tree_size != head.tree_size()) {
    problems.push_back(absl::StrCat("the bundle says the tree has ", bundle.tree_size,
                                    " records, but the signed head covers ",
                                    head.tree_size()));
  }
  const std::string leaf = merkle::LeafHash(bundle.record);
  if (leaf != bundle.leaf_hash) {
    problems.push_back(absl::StrCat(
        "the record bytes hash to leaf ", Hex(leaf), ", not to the stated leaf hash ",
        Hex(bundle.leaf_hash), ": the record (or its stated hash) was changed"));
  }
  if (bundle.position == 0 || bundle.position > head.tree_size()) {
    problems.push_back(absl::StrCat("position ", bundle.position,
                                    " is not in the signed tree of ", head.tree_size(),
                                    " records"));
  } else if (absl::Status included =
                 merkle::VerifyInclusion(bundle.position - 1, head.tree_size(), leaf,
                                         bundle.inclusion_proof, head.root_hash());
             !included.ok()) {
    problems.push_back(
        absl::StrCat("the inclusion proof does not lead from the record at "
                     "position ",
                     bundle.position, " to the signed root of ", head.tree_size(),
                     " records: ", std::string(included.message())));
  }
  eventlog::RecordView view;
  if (absl::Status decoded = eventlog::DecodeRecord(bundle.record, &view);
      !decoded.ok()) {
    problems.push_back(
        absl::StrCat("the record bytes do not decode: ", std::string(decoded.message())));
    return check;
  }
  if (view.position != bundle.position) {
    problems.push_back(absl::StrCat("the record names position ", view.position,
                                    ", not the bundle's position ", bundle.position));
  }
  const Service stream_service = ServiceOfStream(view.stream_id);
  if (stream_service != Service::kUnknown &&
      ServiceName(stream_service) != head.service()) {
    problems.push_back(absl::StrCat("the record's stream ", std::string(view.stream_id),
                                    " is not of the service \"", head.service(), "\""));
  }
  if (problems.empty()) {
    check.record_json = ReadableRecord(bundle.record, view, &check.payload_note);
  }
  return check;
}

}  // namespace mend::audit
