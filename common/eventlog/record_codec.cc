// The wire format read here is protobuf's (varints, and length-delimited
// fields), for exactly these messages of record.proto:
//
//   StoredRecord := { 1: Envelope (bytes), 2: payload (bytes), 3: prev_hash (bytes) }
//   Envelope     := { 1: position (varint), 2: stream_id, 3: stream_version (varint),
//                     4: event_type, 5: event_id, 6: recorded_unix_micros (varint),
//                     7: Actor, 8: correlation_id, 9: causation_id,
//                     10: schema_version (varint) }
//   Actor        := { 1: id, 2: role }
//
// Any other field number is skipped by its wire type; groups are refused.
#include "common/eventlog/record_codec.h"

#include "common/base/sha256.h"
#include "mend/eventlog/v1/record.pb.h"

namespace mend::eventlog {
namespace {

enum WireType : uint32_t {
  kVarint = 0,
  kFixed64 = 1,
  kLengthDelimited = 2,
  kFixed32 = 5
};

// A cursor over protobuf wire format. Every read checks bounds; a failed read
// leaves ok() false and every later read failing.
class WireReader {
 public:
  explicit WireReader(std::string_view bytes)
      : p_(bytes.data()), end_(bytes.data() + bytes.size()) {}

  bool done() const { return p_ == end_; }
  bool ok() const { return ok_; }

  uint64_t Varint() {
    uint64_t value = 0;
    for (int shift = 0; shift < 64; shift += 7) {
      if (p_ == end_) return Fail();
      const uint8_t byte = static_cast<uint8_t>(*p_++);
      value |= static_cast<uint64_t>(byte & 0x7f) << shift;
      if ((byte & 0x80) == 0) return value;
    }
    return Fail();
  }

  std::string_view LengthDelimited() {
    const uint64_t length = Varint();
    if (!ok_ || length > static_cast<uint64_t>(end_ - p_)) {
      Fail();
      return {};
    }
    std::string_view out(p_, length);
    p_ += length;
    return out;
  }

  // Skips a field of an unknown number.
  void Skip(uint32_t wire_type) {
    switch (wire_type) {
      case kVarint:
        Varint();
        return;
      case kFixed64:
        Advance(8);
        return;
      case kLengthDelimited:
        LengthDelimited();
        return;
      case kFixed32:
        Advance(4);
        return;
      default:  // groups (3, 4) and invalid types
        Fail();
    }
  }

  uint64_t Fail() {
    ok_ = false;
    p_ = end_;
    return 0;
  }

 private:
  void Advance(size_t n) {
    if (static_cast<size_t>(end_ - p_) < n) {
      Fail();
    } else {
      p_ += n;
    }
  }

  const char* p_;
  const char* end_;
  bool ok_ = true;
};

// Reads fields until the end; `on_field(number, wire_type, reader)` consumes a
// known field's value and returns false if its wire type is wrong, or returns
// true without reading to have an unknown field skipped. Returns false on
// malformed input.
template <typename OnField>
bool ReadFields(WireReader& in, OnField on_field) {
  while (!in.done()) {
    const uint64_t tag = in.Varint();
    if (!in.ok() || tag > UINT32_MAX) return false;
    const uint32_t number = static_cast<uint32_t>(tag >> 3);
    const uint32_t wire_type = static_cast<uint32_t>(tag & 7);
    if (number == 0) return false;
    int handled = on_field(number, wire_type, in);
    if (handled < 0) return false;
    if (handled == 0) in.Skip(wire_type);
    if (!in.ok()) return false;
  }
  return in.ok();
}

// Result of a field handler: consumed (1), unknown so skip (0), wrong type (-1).
int Varint(uint32_t wire_type, WireReader& in, uint64_t* out) {
  if (wire_type != kVarint) return -1;
  *out = in.Varint();
  return 1;
}
int Bytes(uint32_t wire_type, WireReader& in, std::string_view* out) {
  if (wire_type != kLengthDelimited) return -1;
  *out = in.LengthDelimited();
  return 1;
}

bool DecodeActor(std::string_view bytes, RecordView* view) {
  WireReader in(bytes);
  return ReadFields(in, [view](uint32_t number, uint32_t type, WireReader& r) {
    switch (number) {
      case 1:
        return Bytes(type, r, &view->actor_id);
      case 2:
        return Bytes(type, r, &view->actor_role);
      default:
        return 0;
    }
  });
}

bool DecodeEnvelope(std::string_view bytes, RecordView* view) {
  WireReader in(bytes);
  return ReadFields(in, [view](uint32_t number, uint32_t type, WireReader& r) {
    uint64_t v = 0;
    int handled = 0;
    switch (number) {
      case 1:
        return Varint(type, r, &view->position);
      case 2:
        return Bytes(type, r, &view->stream_id);
      case 3:
        return Varint(type, r, &view->stream_version);
      case 4:
        return Bytes(type, r, &view->event_type);
      case 5:
        return Bytes(type, r, &view->event_id);
      case 6:
        handled = Varint(type, r, &v);
        view->recorded_unix_micros = static_cast<int64_t>(v);
        return handled;
      case 7: {
        std::string_view actor;
        handled = Bytes(type, r, &actor);
        if (handled == 1 && r.ok() && !DecodeActor(actor, view)) return -1;
        return handled;
      }
      case 8:
        return Bytes(type, r, &view->correlation_id);
      case 9:
        return Bytes(type, r, &view->causation_id);
      case 10:
        handled = Varint(type, r, &v);
        view->schema_version = static_cast<uint32_t>(v);
        return handled;
      default:
        return 0;
    }
  });
}

}  // namespace

absl::Status DecodeRecord(std::string_view bytes, RecordView* view) {
  *view = RecordView{};
  int envelopes = 0;
  bool have_prev_hash = false;
  bool envelope_ok = true;
  WireReader in(bytes);
  const bool ok = ReadFields(in, [&](uint32_t number, uint32_t type, WireReader& r) {
    switch (number) {
      case 1: {
        std::string_view envelope;
        int handled = Bytes(type, r, &envelope);
        if (handled == 1 && r.ok()) {
          ++envelopes;
          envelope_ok = envelope_ok && DecodeEnvelope(envelope, view);
        }
        return handled;
      }
      case 2:
        return Bytes(type, r, &view->payload);
      case 3:
        have_prev_hash = true;
        return Bytes(type, r, &view->prev_hash);
      default:
        return 0;
    }
  });
  if (!ok) return absl::DataLossError("stored record is not well-formed protobuf");
  if (envelopes != 1) {
    return absl::DataLossError(envelopes == 0 ? "stored record has no envelope"
                                              : "stored record has two envelopes");
  }
  if (!envelope_ok) return absl::DataLossError("stored record's envelope is malformed");
  if (!have_prev_hash || view->prev_hash.size() != kSha256Size) {
    return absl::DataLossError("stored record's prev_hash is not 32 bytes");
  }
  return absl::OkStatus();
}

void ToEnvelope(const RecordView& view, v1::Envelope* envelope) {
  envelope->Clear();
  envelope->set_position(view.position);
  envelope->set_stream_id(std::string(view.stream_id));
  envelope->set_stream_version(view.stream_version);
  envelope->set_event_type(std::string(view.event_type));
  envelope->set_event_id(std::string(view.event_id));
  envelope->set_recorded_unix_micros(view.recorded_unix_micros);
  if (!view.actor_id.empty() || !view.actor_role.empty()) {
    envelope->mutable_actor()->set_id(std::string(view.actor_id));
    envelope->mutable_actor()->set_role(std::string(view.actor_role));
  }
  envelope->set_correlation_id(std::string(view.correlation_id));
  envelope->set_causation_id(std::string(view.causation_id));
  envelope->set_schema_version(view.schema_version);
}

}  // namespace mend::eventlog
