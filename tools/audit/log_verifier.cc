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

std::string LogVerifier::ChainBreak(uint64_t position, std::string_view last_hash,
                                    std::string_view prev_hash) {
  return absl::StrCat("the record's bytes hash to ", Short(last_hash),
                      "…, but the next record (", position, ") recorded ",
                      Short(prev_hash),
                      "…: this record was changed (or the next one's prev_hash)");
}

std::string LogVerifier::VersionOutOfOrder(std::string_view stream_id, uint64_t version,
                                           uint64_t after) {
  return absl::StrCat("stream ", absl::CHexEscape(std::string(stream_id)),
                      " is at version ", version, " here, after version ", after);
}

std::string LogVerifier::Missing(uint64_t position, uint64_t next) {
  return absl::StrCat("position ", position, " is missing (the next record is at ", next,
                      "): a record was removed");
}

std::string LogVerifier::HeadPastRecords(uint64_t head, uint64_t last) {
  return absl::StrCat("the log's head is ", head, " but its records end at ", last);
}

uint64_t LogVerifier::VersionOf(std::string_view stream_id) const {
  auto it = stream_versions_.find(absl::string_view(stream_id.data(), stream_id.size()));
  return it == stream_versions_.end() ? 0 : it->second;
}

bool LogVerifier::Add(uint64_t position, std::string_view bytes) {
  eventlog::RecordView view;
  return Add(position, bytes, view);
}

bool LogVerifier::Add(uint64_t position, std::string_view bytes,
                      eventlog::RecordView& view) {
  if (finding_.has_value()) return false;
  if (first_given_ == 0) first_given_ = position;
  const uint64_t expected = next_position();
  if (position != expected) {
    return Fail(expected, position > expected
                              ? Missing(expected, position)
                              : absl::StrCat("a record at position ", position,
                                             " comes after position ", expected - 1));
  }
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
  const bool part_start = records_ == 0 && options_.first_position > 1;
  if (part_start) {
    first_prev_hash_.assign(view.prev_hash);  // joined by VerifyLog
  } else if (view.prev_hash != last_hash_) {
    // The record before does not hash to what this one recorded of it: that
    // one was changed (as the store's check names it), unless this one's
    // prev_hash was; the first record must follow 32 zero bytes.
    if (position == 1) {
      return Fail(position, absl::StrCat("the first record's prev_hash is ",
                                         Short(view.prev_hash), "…, not zero"));
    }
    return Fail(position - 1, ChainBreak(position, last_hash_, view.prev_hash));
  }
  const absl::string_view stream(view.stream_id.data(), view.stream_id.size());
  auto [slot, first_seen] = stream_versions_.try_emplace(stream, 0);
  if (first_seen && options_.first_position > 1) {
    first_versions_[stream] = {position, view.stream_version};  // joined by VerifyLog
  } else if (view.stream_version != slot->second + 1) {
    return Fail(position,
                VersionOutOfOrder(view.stream_id, view.stream_version, slot->second));
  }
  if (options_.decode_payloads) {
    absl::StatusOr<const google::protobuf::Message*> payload =
        decoder_.Decode(view.event_type, view.payload);
    if (!payload.ok()) return Fail(position, std::string(payload.status().message()));
  }
  slot->second = view.stream_version;
  const Sha256Digest hash = Sha256(bytes);
  last_hash_.assign(AsStringView(hash));
  if (options_.tree) {
    const std::string leaf = merkle::LeafHash(bytes);
    if (options_.on_node) {
      // Indexed in the whole log: a part starts at a multiple of its nodes'
      // widths (VerifyLog splits at a power of two).
      const uint64_t offset = options_.first_position - 1;
      tree_.Push(leaf, [&](uint64_t level, uint64_t index, std::string_view node) {
        options_.on_node(level, index + (offset >> level), node);
      });
    } else {
      tree_.Push(leaf);
    }
  }
  if (options_.on_record) options_.on_record(position, view);
  ++records_;
  const uint64_t size = position;  // records in the whole log so far
  if (std::binary_search(options_.root_sizes.begin(), options_.root_sizes.end(), size)) {
    if (options_.first_position == 1) {
      roots_[size] = tree_.Root();
    } else {
      part_trees_[size] = tree_;
    }
  }
  return true;
}

void LogVerifier::ScanFailed(std::string problem) {
  Fail(next_position(), std::move(problem));
}

bool LogVerifier::FinishedPart(uint64_t last) const {
  return finding_.has_value() || next_position() == last + 1;
}

void LogVerifier::Finish(const eventlog::Head& head) {
  if (finding_.has_value()) return;
  const uint64_t last = next_position() - 1;
  if (last != head.position) {
    Fail(last + 1, HeadPastRecords(head.position, last));
  } else if (!head.hash.empty() && head.hash != last_hash_) {
    Fail(last, absl::StrCat("the last record hashes to ", Short(last_hash_),
                            "…, but the log's head records ", Short(head.hash),
                            "…: the last record was changed"));
  }
}

}  // namespace mend::audit
