#include "common/merkle/merkle.h"

#include <algorithm>
#include <bit>
#include <utility>

#include "absl/strings/str_cat.h"
#include "common/base/sha256.h"
#include "common/base/status_macros.h"

namespace mend::merkle {
namespace {

constexpr char kLeafPrefix[] = {'\x00'};
constexpr char kNodePrefix[] = {'\x01'};

// The largest power of two strictly below `n` (n >= 2).
uint64_t SplitPoint(uint64_t n) { return std::bit_floor(n - 1); }

// MTH(D[start:end]) for 0 <= start < end, each lookup a perfect aligned
// subtree.
absl::StatusOr<std::string> RangeHash(uint64_t start, uint64_t end, NodeSource nodes) {
  const uint64_t n = end - start;
  if (std::has_single_bit(n) && start % n == 0) {
    const uint64_t level = std::countr_zero(n);
    MEND_ASSIGN_OR_RETURN(std::string hash, nodes(level, start >> level));
    if (hash.size() != kHashSize) {
      return absl::InternalError(absl::StrCat("merkle: node (", level, ", ",
                                              start >> level, ") is ", hash.size(),
                                              " bytes, not ", kHashSize));
    }
    return hash;
  }
  const uint64_t k = SplitPoint(n);
  MEND_ASSIGN_OR_RETURN(std::string left, RangeHash(start, start + k, nodes));
  MEND_ASSIGN_OR_RETURN(std::string right, RangeHash(start + k, end, nodes));
  return NodeHash(left, right);
}

// PATH(m, D[start:end]) appended to `out`, innermost first.
absl::Status Path(uint64_t m, uint64_t start, uint64_t end, NodeSource nodes,
                  std::vector<std::string>& out) {
  const uint64_t n = end - start;
  if (n == 1) return absl::OkStatus();
  const uint64_t k = SplitPoint(n);
  if (m < k) {
    MEND_RETURN_IF_ERROR(Path(m, start, start + k, nodes, out));
    MEND_ASSIGN_OR_RETURN(std::string sibling, RangeHash(start + k, end, nodes));
    out.push_back(std::move(sibling));
  } else {
    MEND_RETURN_IF_ERROR(Path(m - k, start + k, end, nodes, out));
    MEND_ASSIGN_OR_RETURN(std::string sibling, RangeHash(start, start + k, nodes));
    out.push_back(std::move(sibling));
  }
  return absl::OkStatus();
}

// SUBPROOF(m, D[start:end], b) appended to `out`.
absl::Status SubProof(uint64_t m, uint64_t start, uint64_t end, bool whole,
                      NodeSource nodes, std::vector<std::string>& out) {
  const uint64_t n = end - start;
  if (m == n) {
    if (!whole) {
      MEND_ASSIGN_OR_RETURN(std::string hash, RangeHash(start, end, nodes));
      out.push_back(std::move(hash));
    }
    return absl::OkStatus();
  }
  const uint64_t k = SplitPoint(n);
  if (m <= k) {
    MEND_RETURN_IF_ERROR(SubProof(m, start, start + k, whole, nodes, out));
    MEND_ASSIGN_OR_RETURN(std::string hash, RangeHash(start + k, end, nodes));
    out.push_back(std::move(hash));
  } else {
    MEND_RETURN_IF_ERROR(SubProof(m - k, start + k, end, false, nodes, out));
    MEND_ASSIGN_OR_RETURN(std::string hash, RangeHash(start, start + k, nodes));
    out.push_back(std::move(hash));
  }
  return absl::OkStatus();
}

absl::Status CheckHashSize(std::string_view what, std::string_view hash) {
  if (hash.size() != kHashSize) {
    return absl::InvalidArgumentError(absl::StrCat(
        "merkle: ", std::string(what), " is ", hash.size(), " bytes, not ", kHashSize));
  }
  return absl::OkStatus();
}

absl::Status CheckProofHashes(absl::Span<const std::string> proof) {
  for (size_t i = 0; i < proof.size(); ++i) {
    MEND_RETURN_IF_ERROR(CheckHashSize(absl::StrCat("proof hash ", i), proof[i]));
  }
  return absl::OkStatus();
}

// The number of hashes in PATH(index, D[0:size]), index < size: the levels
// below the point where the paths to `index` and to the last leaf part
// ("inner"), and one per left sibling above it ("border").
uint64_t InclusionProofSize(uint64_t index, uint64_t size) {
  const uint64_t inner = std::bit_width(index ^ (size - 1));
  const uint64_t border = std::popcount(index >> inner);
  return inner + border;
}

// The number of hashes in PROOF(size1, D[0:size2]), 0 < size1 < size2.
uint64_t ConsistencyProofSize(uint64_t size1, uint64_t size2) {
  // The proof is the inclusion path of leaf size1 - 1 in the tree of size2
  // with the levels below the perfect subtree that ends at size1 dropped,
  // plus that subtree's hash unless it is all of the first tree.
  const uint64_t shift = std::countr_zero(size1);
  const uint64_t path = InclusionProofSize(size1 - 1, size2) - shift;
  return path + (std::has_single_bit(size1) ? 0 : 1);
}

}  // namespace

std::string LeafHash(std::string_view leaf) {
  return std::string(
      AsStringView(Sha256({std::string_view(kLeafPrefix, sizeof(kLeafPrefix)), leaf})));
}

std::string NodeHash(std::string_view left, std::string_view right) {
  return std::string(AsStringView(
      Sha256({std::string_view(kNodePrefix, sizeof(kNodePrefix)), left, right})));
}

std::string EmptyRoot() { return Sha256Bytes(""); }

std::string RootOfLeafHashes(absl::Span<const std::string> leaf_hashes) {
  const size_t n = leaf_hashes.size();
  if (n == 0) return EmptyRoot();
  if (n == 1) return leaf_hashes[0];
  const size_t k = SplitPoint(n);
  return NodeHash(RootOfLeafHashes(leaf_hashes.subspan(0, k)),
                  RootOfLeafHashes(leaf_hashes.subspan(k)));
}

absl::StatusOr<std::string> RootFromNodes(uint64_t size, NodeSource nodes) {
  if (size == 0) return EmptyRoot();
  return RangeHash(0, size, nodes);
}

absl::StatusOr<std::vector<std::string>> InclusionProof(uint64_t index, uint64_t size,
                                                        NodeSource nodes) {
  if (index >= size) {
    return absl::InvalidArgumentError(absl::StrCat(
        "merkle: inclusion proof of leaf ", index, " in a tree of ", size, " leaves"));
  }
  std::vector<std::string> proof;
  proof.reserve(InclusionProofSize(index, size));
  MEND_RETURN_IF_ERROR(Path(index, 0, size, nodes, proof));
  return proof;
}

absl::StatusOr<std::vector<std::string>> ConsistencyProof(uint64_t from, uint64_t to,
                                                          NodeSource nodes) {
  if (from == 0 || from > to) {
    return absl::InvalidArgumentError(absl::StrCat("merkle: consistency proof from size ",
                                                   from, " to size ", to,
                                                   " (needs 0 < from <= to)"));
  }
  std::vector<std::string> proof;
  if (from == to) return proof;
  proof.reserve(ConsistencyProofSize(from, to));
  MEND_RETURN_IF_ERROR(SubProof(from, 0, to, true, nodes, proof));
  return proof;
}

absl::Status VerifyInclusion(uint64_t index, uint64_t size, std::string_view leaf_hash,
                             absl::Span<const std::string> proof, std::string_view root) {
  if (index >= size) {
    return absl::InvalidArgumentError(
        absl::StrCat("merkle: leaf index ", index, " is not below the tree size ", size));
  }
  MEND_RETURN_IF_ERROR(CheckHashSize("leaf hash", leaf_hash));
  MEND_RETURN_IF_ERROR(CheckHashSize("root", root));
  MEND_RETURN_IF_ERROR(CheckProofHashes(proof));
  const uint64_t want = InclusionProofSize(index, size);
  if (proof.size() != want) {
    return absl::InvalidArgumentError(
        absl::StrCat("merkle: inclusion proof of leaf ", index, " in a tree of ", size,
                     " leaves has ", proof.size(), " hashes, not ", want));
  }
  // RFC 9162 §2.1.3.2.
  uint64_t fn = index;
  uint64_t sn = size - 1;
  std::string r(leaf_hash);
  for (const std::string& p : proof) {
    if (sn == 0) {
      return absl::InvalidArgumentError("merkle: inclusion proof is too long");
    }
    if ((fn & 1) != 0 || fn == sn) {
      r = NodeHash(p, r);
      while ((fn & 1) == 0 && fn != 0) {
        fn >>= 1;
        sn >>= 1;
      }
    } else {
      r = NodeHash(r, p);
    }
    fn >>= 1;
    sn >>= 1;
  }
  if (sn != 0) {
    return absl::InvalidArgumentError("merkle: inclusion proof is too short");
  }
  if (r != root) {
    return absl::InvalidArgumentError(
        absl::StrCat("merkle: inclusion proof of leaf ", index, " in a tree of ", size,
                     " leaves gives root ", HexEncode(r), ", not ", HexEncode(root)));
  }
  return absl::OkStatus();
}

absl::Status VerifyConsistency(uint64_t size1, uint64_t size2, std::string_view root1,
                               std::string_view root2,
                               absl::Span<const std::string> proof) {
  if (size1 == 0) {
    return absl::InvalidArgumentError(
        "merkle: consistency with the empty tree (size1 0) proves nothing");
  }
  if (size1 > size2) {
    return absl::InvalidArgumentError(
        absl::StrCat("merkle: size1 ", size1, " is greater than size2 ", size2));
  }
  if (size1 == size2) {
    if (!proof.empty()) {
      return absl::InvalidArgumentError(
          absl::StrCat("merkle: consistency proof between equal sizes has ", proof.size(),
                       " hashes, not 0"));
    }
    if (root1 != root2) {
      return absl::InvalidArgumentError(absl::StrCat("merkle: trees of the same size ",
                                                     size1, " have different roots"));
    }
    return absl::OkStatus();
  }
  MEND_RETURN_IF_ERROR(CheckHashSize("root1", root1));
  MEND_RETURN_IF_ERROR(CheckHashSize("root2", root2));
  MEND_RETURN_IF_ERROR(CheckProofHashes(proof));
  const uint64_t want = ConsistencyProofSize(size1, size2);
  if (proof.size() != want) {
    return absl::InvalidArgumentError(absl::StrCat("merkle: consistency proof from size ",
                                                   size1, " to size ", size2, " has ",
                                                   proof.size(), " hashes, not ", want));
  }
  // RFC 9162 §2.1.4.2.
  std::vector<std::string_view> path;
  path.reserve(proof.size() + 1);
  if (std::has_single_bit(size1)) path.push_back(root1);
  for (const std::string& p : proof) path.push_back(p);

  uint64_t fn = size1 - 1;
  uint64_t sn = size2 - 1;
  while ((fn & 1) != 0) {
    fn >>= 1;
    sn >>= 1;
  }
  std::string fr(path[0]);
  std::string sr(path[0]);
  for (size_t i = 1; i < path.size(); ++i) {
    const std::string_view c = path[i];
    if (sn == 0) {
      return absl::InvalidArgumentError("merkle: consistency proof is too long");
    }
    if ((fn & 1) != 0 || fn == sn) {
      fr = NodeHash(c, fr);
      sr = NodeHash(c, sr);
      while ((fn & 1) == 0 && fn != 0) {
        fn >>= 1;
        sn >>= 1;
      }
    } else {
      sr = NodeHash(sr, c);
    }
    fn >>= 1;
    sn >>= 1;
  }
  if (sn != 0) {
    return absl::InvalidArgumentError("merkle: consistency proof is too short");
  }
  if (fr != root1) {
    return absl::InvalidArgumentError(
        absl::StrCat("merkle: consistency proof gives root1 ", HexEncode(fr), ", not ",
                     HexEncode(root1)));
  }
  if (sr != root2) {
    return absl::InvalidArgumentError(
        absl::StrCat("merkle: consistency proof gives root2 ", HexEncode(sr), ", not ",
                     HexEncode(root2)));
  }
  return absl::OkStatus();
}

absl::StatusOr<Frontier> Frontier::FromNodes(uint64_t size, NodeSource nodes) {
  Frontier frontier;
  uint64_t start = 0;
  for (int level = 63; level >= 0; --level) {
    const uint64_t width = uint64_t{1} << level;
    if ((size & width) == 0) continue;
    MEND_ASSIGN_OR_RETURN(std::string hash, nodes(level, start >> level));
    if (hash.size() != kHashSize) {
      return absl::InternalError(absl::StrCat("merkle: node (", level, ", ",
                                              start >> level, ") is ", hash.size(),
                                              " bytes, not ", kHashSize));
    }
    Digest& d = frontier.hashes_.emplace_back();
    std::copy(hash.begin(), hash.end(), d.begin());
    start += width;
  }
  frontier.size_ = size;
  return frontier;
}

void Frontier::PushSubtree(uint64_t level, const Digest& hash, NodeSink* completed,
                           bool report_subtree) {
  const uint64_t added = uint64_t{1} << level;
  uint64_t index = size_ >> level;
  Digest node = hash;
  if (completed != nullptr && report_subtree)
    (*completed)(level, index, AsStringView(node));
  // Each set bit of the old size from `level` up, lowest first, is a
  // perfect subtree of the new one's size that the new one joins.
  while ((size_ >> level) & 1) {
    node = Sha256({std::string_view(kNodePrefix, sizeof(kNodePrefix)),
                   AsStringView(hashes_.back()), AsStringView(node)});
    hashes_.pop_back();
    ++level;
    index >>= 1;
    if (completed != nullptr) (*completed)(level, index, AsStringView(node));
  }
  hashes_.push_back(node);
  size_ += added;
}

std::vector<Frontier::Node> Frontier::Append(std::string_view leaf_hash) {
  std::vector<Node> completed;
  Push(leaf_hash, [&](uint64_t level, uint64_t index, std::string_view hash) {
    completed.push_back({level, index, std::string(hash)});
  });
  return completed;
}

void Frontier::Push(std::string_view leaf_hash, NodeSink completed) {
  Digest leaf{};
  std::copy_n(leaf_hash.begin(), std::min(leaf_hash.size(), kHashSize), leaf.begin());
  PushSubtree(0, leaf, &completed, true);
}

void Frontier::Push(std::string_view leaf_hash) {
  Digest leaf{};
  std::copy_n(leaf_hash.begin(), std::min(leaf_hash.size(), kHashSize), leaf.begin());
  PushSubtree(0, leaf, nullptr, false);
}

absl::Status Frontier::Extend(const Frontier& right, NodeSink completed) {
  if (right.size_ == 0) return absl::OkStatus();
  if (size_ % std::bit_ceil(right.size_) != 0) {
    return absl::InvalidArgumentError(absl::StrCat("merkle: a tree of ", right.size_,
                                                   " leaves cannot follow one of ", size_,
                                                   " (not aligned)"));
  }
  // right's subtrees, highest first, each aligned where it lands.
  size_t i = 0;
  for (int level = 63; level >= 0; --level) {
    // Only where one joins one of ours is there a node `right` lacks.
    if ((right.size_ >> level) & 1)
      PushSubtree(level, right.hashes_[i++], &completed, false);
  }
  return absl::OkStatus();
}

std::string Frontier::Root() const {
  if (hashes_.empty()) return EmptyRoot();
  Digest root = hashes_.back();
  for (size_t i = hashes_.size() - 1; i-- > 0;) {
    root = Sha256({std::string_view(kNodePrefix, sizeof(kNodePrefix)),
                   AsStringView(hashes_[i]), AsStringView(root)});
  }
  return std::string(AsStringView(root));
}

}  // namespace mend::merkle
