#include "tools/audit/log_verifier.h"

#include <algorithm>
#include <utility>

#include "absl/strings/escaping.h"
#include "absl/strings/str_cat.h"
#include "common/base/sha256.h"
#include "common/eventlog/record_codec.h"

namespace mend::audit {
namespace {

// The envelope layout this code reads (record.proto's schema_version).
constexpr uint32_t kKnownSchemaVersion = 1;

std::string Short(std::string_view hash) {
  return absl::BytesToHexString(std::string(hash.substr(0, 8)));
}

}  // namespace

LogVerifier::LogVerifier(std::string log, Options options)
    : log_(std::move(log)), options_(std::move(options)), last_hash_(32, '\0') {
  std::sort(options_.root_sizes.begin(), options_.root_sizes.end());
}

bool LogVerifier::Fail(uint64_t position, std::string problem) {
  if (!finding_.has_value()) finding_ = Finding{log_, position, std::move(problem)};
  return false;
}

bool LogVerifier::Add(uint64_t position, std::string_view bytes) {
  if (finding_.has_value()) return false;
  const uint64_t expected = records_ + 1;
  if (position != expected) {
    return Fail(expected, position > expected
                              ? absl::StrCat("position ", expected,
                                             " is missing (the next record is at ",
                                             position, "): a record was removed")
                              : absl::StrCat("a record at position ", position,
                                             " comes after position ", records_));
  }
  eventlog::RecordView view;
  if (absl::Status s = eventlog::DecodeRecord(bytes, &view); !s.ok()) {
    return Fail(position, absl::StrCat("the record does not decode: ", s.message()));
  }
  if (view.position != position) {
    return Fail(position, absl::StrCat("the record stored here names position ",
                                       view.position, ": records were moved or swapped"));
  }
  if (view.schema_version != kKnownSchemaVersion) {
    return Fail(position,
                absl::StrCat("envelope schema version ", view.schema_version,
                             " is not one this tool knows (", kKnownSchemaVersion, ")"));
  }
  if (view.prev_hash != last_hash_) {
    // The record before does not hash to what this one recorded of it: that
    // one was changed (as the store's check names it), unless this one's
    // prev_hash was; the first record must follow 32 zero bytes.
    if (position == 1) {
      return Fail(position, absl::StrCat("the first record's prev_hash is ",
                                         Short(view.prev_hash), "…, not zero"));
    }
    return Fail(position - 1,
                absl::StrCat("the record's bytes hash to ", Short(last_hash_),
                             "…, but the next record (", position, ") recorded ",
                             Short(view.prev_hash),
                             "…: this record was changed (or the next one's prev_hash)"));
  }
  uint64_t& version =
      stream_versions_[absl::string_view(view.stream_id.data(), view.stream_id.size())];
  if (view.stream_version != version + 1) {
    return Fail(position,
                absl::StrCat("stream ", absl::CHexEscape(std::string(view.stream_id)),
                             " is at version ", view.stream_version,
                             " here, after version ", version));
  }
  if (options_.decode_payloads) {
    absl::StatusOr<const google::protobuf::Message*> payload =
        decoder_.Decode(view.event_type, view.payload);
    if (!payload.ok()) return Fail(position, std::string(payload.status().message()));
  }
  version = view.stream_version;
  last_hash_ = Sha256Bytes(bytes);
  tree_.Append(merkle::LeafHash(bytes));
  ++records_;
  if (std::binary_search(options_.root_sizes.begin(), options_.root_sizes.end(),
                         records_)) {
    roots_[records_] = tree_.Root();
  }
  return true;
}

void LogVerifier::Finish(const eventlog::Head& head) {
  if (finding_.has_value()) return;
  if (records_ != head.position) {
    Fail(records_ + 1, absl::StrCat("the log's head is ", head.position,
                                    " but its records end at ", records_));
  } else if (!head.hash.empty() && head.hash != last_hash_) {
    Fail(records_, absl::StrCat("the last record hashes to ", Short(last_hash_),
                                "…, but the log's head records ", Short(head.hash),
                                "…: the last record was changed"));
  }
}

}  // namespace mend::audit
