// Sealed personal data in payloads (mend.common.v1.Sealed: {person_id,
// ciphertext}), found by protobuf reflection at any depth — singular,
// repeated, map values, nested — so an event type added later needs no code
// here, and for `mend-audit export --unseal` opened with the service's key
// store.
//
//   MEND_ASSIGN_OR_RETURN(std::unique_ptr<SealedOpener> opener,
//                         SealedOpener::Open("/var/lib/mend/case/eventlog",
//                                            "/secrets/master.key"));
//   UnsealStats stats;
//   std::string json = UnsealedPayloadJson(*payload, CaseOfStream(view.stream_id),
//                                          opener->AsUnsealFn(), &stats);
//
// Which key and which field name (KeyStore::Seal's `context`) open a
// Sealed:
//   key     "<case_id>/<person_id>": the case whose stream holds the event
//           and the Sealed's own person_id (case_state.h PersonKeyId; the
//           conference service's key ids are made the same way).
//   field   SealingFieldName: "<containing message full name>.<field name>"
//           (how the case service names its fields: case_state.h kSealed*,
//           e.g. "mend.case.v1.Participant.details"), except the conference
//           service's, which seals under short names of its own
//           (conference_state.h kSealed*: "letter.text", …): those are
//           mapped here from the field they end up in. The names cannot be
//           read off the ciphertext (the field name is authenticated, not
//           stored).
// Plaintexts are UTF-8 text, except the case service's participant details
// and needs, which are serialized mend.case.v1.PersonalDetails / Needs
// (case_state.h) and are shown as those messages.
#ifndef MEND_TOOLS_AUDIT_EXPORT_SEALED_H_
#define MEND_TOOLS_AUDIT_EXPORT_SEALED_H_

#include <functional>
#include <memory>
#include <string>
#include <string_view>

#include "absl/status/status.h"
#include "absl/status/statusor.h"
#include "common/eventlog/event_store.h"
#include "common/security/key_store.h"
#include "google/protobuf/descriptor.h"
#include "google/protobuf/message.h"
#include "mend/common/v1/contact.pb.h"

namespace mend::audit {

// "mend.common.v1.Sealed".
bool IsSealedType(const google::protobuf::Descriptor& type);

// The field name a Sealed in `field` (of its containing message) was sealed
// under (see the header comment).
std::string SealingFieldName(const google::protobuf::FieldDescriptor& field);

// The message type a plaintext sealed under `sealing_field` is a serialized
// form of; null for UTF-8 text.
const google::protobuf::Descriptor* PlaintextType(std::string_view sealing_field);

// "c-1" for "case-c-1", "conference-c-1", …: the case a stream is of (the
// part after the service's prefix); "" for a stream of no known service.
std::string CaseOfStream(std::string_view stream_id);

// Opens one Sealed: the plaintext, NOT_FOUND when the person's key is gone
// (erased), another error when it cannot be opened.
using UnsealFn = std::function<absl::StatusOr<std::string>(
    std::string_view key_id, const common::v1::Sealed& sealed, std::string_view field)>;

struct UnsealStats {
  uint64_t opened = 0;
  uint64_t erased = 0;      // the key is gone: shown as erased
  uint64_t unreadable = 0;  // another error: shown with it, never as text
};

// `payload` as protobuf JSON (MessageToJson) with every Sealed that holds a
// ciphertext replaced by
//   {"person_id":"v-1","key_id":"c-1/v-1","field":"…","plaintext":"…"}
//       (or "plaintext":{…} for a PersonalDetails / Needs)
//   {"person_id":"v-1","key_id":"c-1/v-1","field":"…","erased":true}
//       when unseal is NOT_FOUND
//   {"person_id":"v-1","key_id":"c-1/v-1","field":"…","unreadable":"<why>"}
//       on any other error (or a message plaintext that does not parse)
// `case_id` makes the key ids. A Sealed with no ciphertext ("not given")
// stays as it is.
std::string UnsealedPayloadJson(const google::protobuf::Message& payload,
                                std::string_view case_id, const UnsealFn& unseal,
                                UnsealStats* stats);

// The key store of a service's data directory, read-only: the directory is
// opened as a RocksDB secondary in a scratch directory of its own (removed
// when this is destroyed), beside any other reader, and never written. A
// key erased after the open may still open (the secondary sees the store as
// of Open). Thread-safe (KeyStore is).
class SealedOpener {
 public:
  // FAILED_PRECONDITION for a directory without a database, a master key
  // file KeyStore::Open refuses, or a master key other than the store's
  // (the message names the file, never the key); the store's errors.
  static absl::StatusOr<std::unique_ptr<SealedOpener>> Open(
      const std::string& directory, const std::string& master_key);
  ~SealedOpener();

  absl::StatusOr<std::string> Unseal(std::string_view key_id,
                                     const common::v1::Sealed& sealed,
                                     std::string_view field);
  UnsealFn AsUnsealFn() {
    return [this](std::string_view key_id, const common::v1::Sealed& sealed,
                  std::string_view field) { return Unseal(key_id, sealed, field); };
  }

 private:
  SealedOpener(std::string scratch, std::unique_ptr<eventlog::EventStore> store,
               std::unique_ptr<crypto::KeyStore> keys);
  const std::string scratch_;
  std::unique_ptr<eventlog::EventStore> store_;
  std::unique_ptr<crypto::KeyStore> keys_;
};

}  // namespace mend::audit

#endif  // MEND_TOOLS_AUDIT_EXPORT_SEALED_H_
