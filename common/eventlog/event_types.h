// The values an event log takes and gives: what to append (NewEvent,
// StreamAppend, WriteRequest with checkpoints), what an append returns, and
// a stored record. Plain structs with no RocksDB in them, so domain code
// (which builds writes and reads records) links them without the store.
#ifndef MEND_COMMON_EVENTLOG_EVENT_TYPES_H_
#define MEND_COMMON_EVENTLOG_EVENT_TYPES_H_

#include <cstdint>
#include <string>
#include <vector>

namespace mend::eventlog {

// What the caller expects of a stream's current version before an append.
struct ExpectedVersion {
  enum class Kind { kAny, kNoStream, kExists, kExact };
  Kind kind = Kind::kAny;
  uint64_t version = 0;  // only for kExact

  static ExpectedVersion Any() { return {Kind::kAny, 0}; }
  static ExpectedVersion NoStream() { return {Kind::kNoStream, 0}; }
  static ExpectedVersion Exists() { return {Kind::kExists, 0}; }
  static ExpectedVersion Exact(uint64_t v) { return {Kind::kExact, v}; }
};

// One event to append. `event_id` makes retries idempotent; `event_type` is
// the payload's fully qualified protobuf message name.
struct NewEvent {
  std::string event_id;
  std::string event_type;
  std::string payload;
  std::string actor_id;
  std::string actor_role;
  std::string correlation_id;
  std::string causation_id;
};

// Events for one stream, appended all or nothing.
struct StreamAppend {
  std::string stream_id;
  ExpectedVersion expected;
  std::vector<NewEvent> events;
};

// A consumer's upstream position, stored atomically with the events its
// handling produced (see Write), and the hash of the upstream record at that
// position as the upstream's chain has it (32 bytes; empty when not known),
// so a consumer that resumes can tell the upstream log is still the one it
// followed.
struct Checkpoint {
  std::string consumer;
  uint64_t position = 0;
  std::string hash = "";
};

struct AppendResult {
  uint64_t first_position = 0;  // position of the first event
  uint64_t stream_version = 0;  // the stream's version after the append
  bool deduplicated = false;    // every event id had been appended before
};

// A unit of atomic work: appends to any number of streams plus checkpoints.
struct WriteRequest {
  std::vector<StreamAppend> appends;
  std::vector<Checkpoint> checkpoints;
};

struct WriteResult {
  std::vector<AppendResult> appends;  // one per WriteRequest::appends entry
};

// One stored record: its position and the exact stored bytes (which parse as
// mend.eventlog.v1.StoredRecord).
struct RawRecord {
  uint64_t position = 0;
  std::string bytes;
};

struct Head {
  uint64_t position = 0;  // 0 when the log is empty
  std::string hash;       // 32 bytes; all zero when the log is empty
};

}  // namespace mend::eventlog

#endif  // MEND_COMMON_EVENTLOG_EVENT_TYPES_H_
