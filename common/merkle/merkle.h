// RFC 6962 Merkle trees (§2.1): the hashes, the proofs and their
// verification — what a log keeps beside its hash chain so that one record
// can be shown to be in it, and a later tree shown to extend an earlier
// one, without the rest of the log (DESIGN, "The event log", "Auditors").
//
//   leaf hash  SHA-256(0x00 ‖ leaf bytes)
//   node hash  SHA-256(0x01 ‖ left ‖ right)
//   MTH({})    SHA-256("")
//   MTH(D[n])  for n > 1: k = the largest power of two < n,
//              NodeHash(MTH(D[0:k]), MTH(D[k:n]))
//
// Plain C++ over SHA-256 (OpenSSL): no RocksDB, no gRPC, no clock, so the
// audit tool and third parties verify with it alone.
//
//   // Proofs from whatever stores the perfect subtrees:
//   auto proof = merkle::InclusionProof(index, size, [&](uint64_t level,
//                                                        uint64_t i) {
//     return store.Node(level, i);   // MTH of leaves [i·2^level, (i+1)·2^level)
//   });
//   // and their checks:
//   MEND_RETURN_IF_ERROR(merkle::VerifyInclusion(index, size, leaf_hash,
//                                                *proof, root));
//
// Hashes are 32-byte strings (raw, not hex).
#ifndef MEND_COMMON_MERKLE_MERKLE_H_
#define MEND_COMMON_MERKLE_MERKLE_H_

#include <array>
#include <cstdint>
#include <string>
#include <string_view>
#include <vector>

#include "absl/functional/function_ref.h"
#include "absl/status/status.h"
#include "absl/status/statusor.h"
#include "absl/types/span.h"

namespace mend::merkle {

inline constexpr size_t kHashSize = 32;

std::string LeafHash(std::string_view leaf);
std::string NodeHash(std::string_view left, std::string_view right);
std::string EmptyRoot();  // SHA-256 of nothing

// MTH over leaf hashes held in memory (tests, small trees, independent
// recomputation in Verify).
std::string RootOfLeafHashes(absl::Span<const std::string> leaf_hashes);

// The hash of the perfect subtree at (`level`, `index`): the MTH of leaves
// [index·2^level, (index+1)·2^level). A source returns NOT_FOUND (or any
// error) for a node it does not have; the error is passed on.
using NodeSource =
    absl::FunctionRef<absl::StatusOr<std::string>(uint64_t level, uint64_t index)>;

// MTH of the first `size` leaves, from perfect subtrees (at most
// log2(size)+1 of them). `size` 0 is EmptyRoot().
absl::StatusOr<std::string> RootFromNodes(uint64_t size, NodeSource nodes);

// RFC 6962 §2.1.1 PATH(index, D[0:size]). INVALID_ARGUMENT unless
// index < size.
absl::StatusOr<std::vector<std::string>> InclusionProof(uint64_t index, uint64_t size,
                                                        NodeSource nodes);
// RFC 6962 §2.1.2 PROOF(from, D[0:to]). INVALID_ARGUMENT unless
// 0 < from <= to (from == to: the empty proof).
absl::StatusOr<std::vector<std::string>> ConsistencyProof(uint64_t from, uint64_t to,
                                                          NodeSource nodes);

// RFC 9162 §2.1.3.2 (the same proofs as RFC 6962): OK if `proof` shows the
// leaf with hash `leaf_hash` at 0-based `index` in the tree of `size`
// leaves whose root is `root`. INVALID_ARGUMENT saying what is wrong
// (index not below size, a hash of the wrong length, the wrong number of
// proof hashes, a root that does not match).
absl::Status VerifyInclusion(uint64_t index, uint64_t size, std::string_view leaf_hash,
                             absl::Span<const std::string> proof, std::string_view root);
// RFC 9162 §2.1.4.2: OK if `proof` shows the tree of `size2` leaves with
// root `root2` extends the one of `size1` leaves with root `root1`
// (size1 <= size2; size1 == size2 needs an empty proof and equal roots;
// size1 == 0 is refused: every tree extends the empty one, and a proof of
// it proves nothing). INVALID_ARGUMENT otherwise, saying what is wrong.
absl::Status VerifyConsistency(uint64_t size1, uint64_t size2, std::string_view root1,
                               std::string_view root2,
                               absl::Span<const std::string> proof);

// The right edge of a tree as it grows: the roots of the perfect subtrees
// covering the leaves so far (one per set bit of the size). Append gives
// the nodes the new leaf completes, which a store writes with the leaf;
// Push is the same without building them (a verifier's tree: no
// allocation a leaf). A tree can be built in parts and joined: the part
// after an aligned prefix (Extend), so two threads can build one tree.
class Frontier {
 public:
  struct Node {
    uint64_t level = 0;
    uint64_t index = 0;
    std::string hash;
  };
  // Told of each node a leaf completes (the leaf itself at level 0).
  using NodeSink =
      absl::FunctionRef<void(uint64_t level, uint64_t index, std::string_view hash)>;

  Frontier() = default;
  // The frontier of a tree of `size` leaves from its stored nodes.
  static absl::StatusOr<Frontier> FromNodes(uint64_t size, NodeSource nodes);

  // Adds a leaf; returns the nodes it completes: the leaf itself at level
  // 0, and each perfect subtree it closes (at most log2(size)+1).
  std::vector<Node> Append(std::string_view leaf_hash);
  // Adds a leaf, telling `completed` of the nodes it completes.
  void Push(std::string_view leaf_hash, NodeSink completed);
  void Push(std::string_view leaf_hash);

  // Adds the leaves of `right`, a tree built on its own of the leaves that
  // follow this one's (indexes counted from its own first leaf), telling
  // `completed` of the nodes only the joined tree has, indexed in it.
  // `right` must fit the alignment: size() a multiple of the power of two
  // at or above right.size(), as when this is a perfect tree no smaller
  // than `right`. INVALID_ARGUMENT otherwise.
  absl::Status Extend(const Frontier& right, NodeSink completed);

  uint64_t size() const { return size_; }
  // MTH of the leaves so far.
  std::string Root() const;

 private:
  using Digest = std::array<uint8_t, kHashSize>;
  // Adds the perfect subtree of 2^level leaves with root `hash` (size_ is
  // a multiple of 2^level), telling `completed` (if any) of the nodes it
  // completes, itself too if `report_subtree`.
  void PushSubtree(uint64_t level, const Digest& hash, NodeSink* completed,
                   bool report_subtree);

  uint64_t size_ = 0;
  // hashes_[i]: the subtree of the i-th set bit of size_, highest first.
  std::vector<Digest> hashes_;
};

}  // namespace mend::merkle

#endif  // MEND_COMMON_MERKLE_MERKLE_H_
