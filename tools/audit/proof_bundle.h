// A proof bundle: one record of a service's log with what shows it is in
// that log -- its inclusion proof and the signed tree head the proof leads
// to -- so that a third party checks it with nothing but the bundle and the
// service's public key (DESIGN, "Auditors"; `mend-audit prove` writes one,
// `mend-audit check-proof` checks it).
//
// The file is one JSON object:
//
//   {"format":"mend-proof-bundle-v1",
//    "service":"consent",            the log, as the prover states it
//    "position":42,                  the record's position (1-based)
//    "tree_size":50,                 the size of the signed head
//    "record_base64":"…",            the record's exact stored bytes
//    "leaf_hash_hex":"…",            as stated: the checker recomputes it
//    "inclusion_proof_hex":["…",…],  RFC 6962 audit path, leaf to root
//    "signed_head":{…},              mend.eventlog.v1.SignedTreeHead (protobuf JSON)
//    "for_reading_not_trusted":{"note":"…","head":{…},"record":{…}}}
//
// `for_reading_not_trusted` holds the head and the record decoded by the
// prover, for people; CheckBundle never reads it (it decodes the record
// bytes itself, after they are proven).
//
//   MEND_ASSIGN_OR_RETURN(ProofBundle bundle, BundleFromJson(text));
//   BundleCheck check = CheckBundle(bundle, public_key_pem);
//   if (!check.problems.empty()) ...   // not proven: each says what failed
#ifndef MEND_TOOLS_AUDIT_PROOF_BUNDLE_H_
#define MEND_TOOLS_AUDIT_PROOF_BUNDLE_H_

#include <cstdint>
#include <string>
#include <string_view>
#include <vector>

#include "absl/status/statusor.h"
#include "mend/eventlog/v1/tree.pb.h"

namespace mend::audit {

inline constexpr char kBundleFormat[] = "mend-proof-bundle-v1";

struct ProofBundle {
  std::string service;                       // as stated; checked against the head
  uint64_t position = 0;                     // 1-based
  uint64_t tree_size = 0;                    // as stated; checked against the head
  std::string record;                        // the stored bytes
  std::string leaf_hash;                     // 32 bytes, as stated
  std::vector<std::string> inclusion_proof;  // 32-byte hashes
  eventlog::v1::SignedTreeHead signed_head;
  // The prover's reading of the record (RecordToJson), written under
  // for_reading_not_trusted; empty: none. Never read back.
  std::string record_json{};
};

// The bundle for the record `record` at `position` with the proof `proof`
// against `signed_head` (the leaf hash computed here, the readable record
// decoded here; tree_size and service from the head as it states them).
ProofBundle MakeBundle(uint64_t position, std::string record,
                       std::vector<std::string> proof,
                       const eventlog::v1::SignedTreeHead& signed_head);

// The bundle as the JSON file above (pretty-printed, ending in a newline).
std::string BundleToJson(const ProofBundle& bundle);
// The bundle from the file's text: INVALID_ARGUMENT naming what is missing or
// malformed (not JSON, another format, a field missing or of the wrong type,
// bad base64 or hex, a signed_head that is not a SignedTreeHead). Lengths
// of hashes are not checked here: that is CheckBundle's.
absl::StatusOr<ProofBundle> BundleFromJson(std::string_view text);

// What checking a bundle found.
struct BundleCheck {
  // Empty: proven. Otherwise each names what failed, for a person.
  std::vector<std::string> problems;
  // The head as signed (set once the signature verified, or as given to
  // CheckBundleAgainstHead).
  eventlog::v1::TreeHead head;
  // The proven record as JSON (RecordToJson with its payload decoded by the
  // schema its type names, or null when it does not decode); set when proven.
  std::string record_json;
  // Why the payload is null, when it is (not a failure of the proof).
  std::string payload_note;
};

// Checks the bundle with nothing but it and the public key:
//   1. the signed head's signature (VerifyTreeHead) -- if it fails, nothing
//      else is checked: an unsigned root proves nothing;
//   2. the head's service and size are the bundle's;
//   3. the leaf hash, recomputed from the record bytes (LeafHash), is the
//      stated one;
//   4. the inclusion proof leads from that leaf at position-1 to the signed
//      root (VerifyInclusion);
//   5. the record decodes (DecodeRecord), names the bundle's position, and
//      its stream belongs to the head's service.
// An `public_key_pem` that is not an Ed25519 key is a problem like any
// other here (callers that must tell it apart check KeyId first).
BundleCheck CheckBundle(const ProofBundle& bundle, std::string_view public_key_pem);
// Steps 2 to 5 against `head`, taken as given (prove: before it hands out a
// bundle, with or without the key).
BundleCheck CheckBundleAgainstHead(const ProofBundle& bundle,
                                   const eventlog::v1::TreeHead& head);

}  // namespace mend::audit

#endif  // MEND_TOOLS_AUDIT_PROOF_BUNDLE_H_
