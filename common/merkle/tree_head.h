// Signed tree heads: signing a TreeHead with a service's Ed25519 key and
// checking one with nothing but the public key (OpenSSL; no RocksDB, no
// gRPC — the audit tool and third parties use it).
//
//   MEND_ASSIGN_OR_RETURN(auto signer, TreeHeadSigner::FromPemFile(path));
//   MEND_ASSIGN_OR_RETURN(SignedTreeHead signed_head, signer->Sign(head));
//   ...
//   MEND_ASSIGN_OR_RETURN(TreeHead checked,
//                         VerifyTreeHead(signed_head, public_key_pem));
//
// What is signed: the bytes "mend-tree-head-v1\n" ‖ SignedTreeHead.head
// (the serialised TreeHead). key_id: lowercase hex SHA-256 of the public
// key's DER SubjectPublicKeyInfo.
#ifndef MEND_COMMON_MERKLE_TREE_HEAD_H_
#define MEND_COMMON_MERKLE_TREE_HEAD_H_

#include <memory>
#include <string>
#include <string_view>

#include "absl/status/status.h"
#include "absl/status/statusor.h"
#include "mend/eventlog/v1/tree.pb.h"

namespace mend::merkle {

inline constexpr char kTreeHeadContext[] = "mend-tree-head-v1\n";

// The key id of a PEM public key: INVALID_ARGUMENT if it is not an Ed25519
// public key.
absl::StatusOr<std::string> KeyId(std::string_view public_key_pem);

class TreeHeadSigner {
 public:
  // From an Ed25519 private key in PEM (PKCS#8, as `openssl genpkey
  // -algorithm ed25519` writes it). INVALID_ARGUMENT if it is not one;
  // FAILED_PRECONDITION naming the file if it cannot be read.
  static absl::StatusOr<std::unique_ptr<TreeHeadSigner>> FromPem(std::string_view pem);
  static absl::StatusOr<std::unique_ptr<TreeHeadSigner>> FromPemFile(
      const std::string& path);
  ~TreeHeadSigner();

  // INVALID_ARGUMENT for a root_hash that is not 32 bytes; INTERNAL if
  // OpenSSL fails. Thread-safe.
  absl::StatusOr<eventlog::v1::SignedTreeHead> Sign(
      const eventlog::v1::TreeHead& head) const;

  const std::string& public_key_pem() const { return public_key_pem_; }
  const std::string& key_id() const { return key_id_; }

 private:
  struct Key;
  TreeHeadSigner(std::unique_ptr<Key> key, std::string public_key_pem,
                 std::string key_id);
  std::unique_ptr<Key> key_;
  std::string public_key_pem_;
  std::string key_id_;
};

// The head, if `signed_head` is signed by the key `public_key_pem` (and its
// key_id names that key): INVALID_ARGUMENT saying what is wrong (not an
// Ed25519 key, another key's id, a bad signature, a head that does not
// parse or whose root is not 32 bytes).
absl::StatusOr<eventlog::v1::TreeHead> VerifyTreeHead(
    const eventlog::v1::SignedTreeHead& signed_head, std::string_view public_key_pem);

}  // namespace mend::merkle

#endif  // MEND_COMMON_MERKLE_TREE_HEAD_H_
