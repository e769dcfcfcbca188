#include "common/merkle/merkle.h"

#include <gmock/gmock.h>
#include <gtest/gtest.h>

#include <algorithm>
#include <bit>
#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <map>
#include <sstream>
#include <system_error>
#include <utility>

#include "absl/strings/escaping.h"
#include "absl/strings/str_cat.h"
#include "common/base/sha256.h"
#include "nlohmann/json.hpp"
#include "tests/support/test_util.h"

namespace mend::merkle {
namespace {

using ::mend::testing::IsOk;
using ::mend::testing::StatusIs;
using ::testing::HasSubstr;
namespace fs = std::filesystem;

// tests/testdata/rfc6962 (the build passes its path; $MEND_RFC6962_DIR
// overrides it, e.g. for a copy of the binary run elsewhere).
fs::path DataDir() {
  if (const char* env = std::getenv("MEND_RFC6962_DIR"); env != nullptr) {
    return fs::path(env);
  }
  return fs::path(MEND_RFC6962_TESTDATA);
}

nlohmann::json ReadJson(const fs::path& path) {
  std::ifstream in(path);
  EXPECT_TRUE(in.good()) << "cannot open " << path;
  std::stringstream buffer;
  buffer << in.rdbuf();
  return nlohmann::json::parse(buffer.str());
}

std::string Base64(const nlohmann::json& value) {
  if (value.is_null()) return "";
  std::string out;
  EXPECT_TRUE(absl::Base64Unescape(value.get<std::string>(), &out)) << value;
  return out;
}

std::vector<std::string> Base64List(const nlohmann::json& value) {
  std::vector<std::string> out;
  if (value.is_null()) return out;
  for (const auto& item : value) out.push_back(Base64(item));
  return out;
}

std::string Hex(std::string_view hex) { return absl::HexStringToBytes(std::string(hex)); }

// Every *.json under `dir`, sorted.
std::vector<fs::path> JsonFiles(const fs::path& dir) {
  std::vector<fs::path> files;
  if (!fs::is_directory(dir)) return files;
  for (const auto& entry : fs::recursive_directory_iterator(dir)) {
    if (entry.is_regular_file() && entry.path().extension() == ".json") {
      files.push_back(entry.path());
    }
  }
  std::sort(files.begin(), files.end());
  return files;
}

// The nodes a store keeps: every node Frontier::Append reports.
class NodeStore {
 public:
  void Append(const std::string& leaf_hash) {
    leaves_.push_back(leaf_hash);
    for (Frontier::Node& node : frontier_.Append(leaf_hash)) {
      const auto key = std::make_pair(node.level, node.index);
      EXPECT_FALSE(nodes_.contains(key)) << node.level << "," << node.index;
      nodes_[key] = std::move(node.hash);
    }
  }

  // The node, if it lies wholly inside the first `size` leaves (a tree of
  // that size must not need any other); records the lookup.
  absl::StatusOr<std::string> Node(uint64_t size, uint64_t level, uint64_t index) {
    lookups_.emplace_back(level, index);
    if (level >= 64 || ((index + 1) << level) > size) {
      return absl::NotFoundError(
          absl::StrCat("node (", level, ", ", index, ") is outside a tree of ", size));
    }
    auto it = nodes_.find({level, index});
    if (it == nodes_.end()) {
      return absl::NotFoundError(absl::StrCat("no node (", level, ", ", index, ")"));
    }
    return it->second;
  }

  // A source for the tree of the first `size` leaves.
  auto Source(uint64_t size) {
    return
        [this, size](uint64_t level, uint64_t index) { return Node(size, level, index); };
  }

  const std::vector<std::string>& leaves() const { return leaves_; }
  const Frontier& frontier() const { return frontier_; }
  std::vector<std::pair<uint64_t, uint64_t>>& lookups() { return lookups_; }

  std::string Root(uint64_t size) const {
    return RootOfLeafHashes(absl::MakeConstSpan(leaves_).subspan(0, size));
  }

 private:
  Frontier frontier_;
  std::vector<std::string> leaves_;
  std::map<std::pair<uint64_t, uint64_t>, std::string> nodes_;
  std::vector<std::pair<uint64_t, uint64_t>> lookups_;
};

// The eight leaves of tree_heads.json, hashed.
std::vector<std::string> VectorLeafHashes() {
  const nlohmann::json heads = ReadJson(DataDir() / "tree_heads.json");
  std::vector<std::string> hashes;
  for (const auto& leaf : heads.at("leaves_hex")) {
    hashes.push_back(LeafHash(Hex(leaf.get<std::string>())));
  }
  return hashes;
}

NodeStore StoreOf(const std::vector<std::string>& leaf_hashes) {
  NodeStore store;
  for (const std::string& h : leaf_hashes) store.Append(h);
  return store;
}

std::string FlipBit(std::string s, size_t bit) {
  s[(bit / 8) % s.size()] ^= static_cast<char>(1 << (bit % 8));
  return s;
}

TEST(MerkleHashTest, DefinitionsAndKnownValues) {
  EXPECT_EQ(HexEncode(EmptyRoot()),
            "e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855");
  EXPECT_EQ(LeafHash("abc"), Sha256Bytes(std::string("\x00", 1) + "abc"));
  const std::string l(32, 'l'), r(32, 'r');
  EXPECT_EQ(NodeHash(l, r), Sha256Bytes("\x01" + l + r));
  EXPECT_NE(NodeHash(l, r), NodeHash(r, l));
  EXPECT_EQ(LeafHash("").size(), kHashSize);
  // The RFC 6962 tree of the empty leaf.
  EXPECT_EQ(HexEncode(LeafHash("")),
            "6e340b9cffb37a989ca544e6bb780a2c78901d3fb33738768511a30617afa01d");
  EXPECT_EQ(RootOfLeafHashes({}), EmptyRoot());
  EXPECT_EQ(RootOfLeafHashes({l}), l);
  EXPECT_EQ(RootOfLeafHashes({l, r, l}), NodeHash(NodeHash(l, r), l));
}

TEST(MerkleVectorsTest, TreeHeads) {
  const nlohmann::json heads = ReadJson(DataDir() / "tree_heads.json");
  const std::vector<std::string> leaves = VectorLeafHashes();
  ASSERT_EQ(leaves.size(), 8u);
  ASSERT_EQ(heads.at("root_hex_by_size").size(), 8u);
  NodeStore store = StoreOf(leaves);

  const std::string empty = Hex(heads.at("empty_tree_root_hex").get<std::string>());
  EXPECT_EQ(EmptyRoot(), empty);
  EXPECT_EQ(RootOfLeafHashes({}), empty);
  EXPECT_EQ(*RootFromNodes(0, store.Source(0)), empty);
  EXPECT_EQ(Frontier().Root(), empty);

  Frontier frontier;
  for (uint64_t n = 1; n <= 8; ++n) {
    SCOPED_TRACE(n);
    const std::string want =
        Hex(heads.at("root_hex_by_size").at(std::to_string(n)).get<std::string>());
    EXPECT_EQ(RootOfLeafHashes(absl::MakeConstSpan(leaves).subspan(0, n)), want);
    store.lookups().clear();
    auto from_nodes = RootFromNodes(n, store.Source(n));
    ASSERT_THAT(from_nodes.status(), IsOk());
    EXPECT_EQ(*from_nodes, want);
    EXPECT_EQ(store.lookups().size(), static_cast<size_t>(std::popcount(n)));
    frontier.Append(leaves[n - 1]);
    EXPECT_EQ(frontier.Root(), want);
  }
}

struct VectorCounts {
  int ok = 0;
  int refused = 0;
};

TEST(MerkleVectorsTest, Inclusion) {
  const std::vector<fs::path> files = JsonFiles(DataDir() / "inclusion");
  ASSERT_EQ(files.size(), 98u) << DataDir();
  const std::vector<std::string> leaves = VectorLeafHashes();
  NodeStore store = StoreOf(leaves);
  VectorCounts counts;
  int compared = 0;
  for (const fs::path& file : files) {
    SCOPED_TRACE(file.string());
    const nlohmann::json v = ReadJson(file);
    const uint64_t index = v.at("leafIdx").get<uint64_t>();
    const uint64_t size = v.at("treeSize").get<uint64_t>();
    const std::string leaf_hash = Base64(v.at("leafHash"));
    const std::string root = Base64(v.at("root"));
    const std::vector<std::string> proof = Base64List(v.at("proof"));
    const absl::Status status = VerifyInclusion(index, size, leaf_hash, proof, root);
    if (v.at("wantErr").get<bool>()) {
      EXPECT_THAT(status, StatusIs(absl::StatusCode::kInvalidArgument)) << v.at("desc");
      ++counts.refused;
    } else {
      EXPECT_THAT(status, IsOk()) << v.at("desc");
      ++counts.ok;
    }
    // The happy paths over the eight leaves: ours, byte for byte.
    if (file.filename() == "happy-path.json" && size <= leaves.size()) {
      EXPECT_EQ(leaf_hash, leaves[index]);
      EXPECT_EQ(root, store.Root(size));
      auto generated = InclusionProof(index, size, store.Source(size));
      ASSERT_THAT(generated.status(), IsOk());
      EXPECT_EQ(*generated, proof);
      ++compared;
    }
  }
  EXPECT_EQ(counts.ok, 6);
  EXPECT_EQ(counts.refused, 92);
  EXPECT_EQ(compared, 5);
}

TEST(MerkleVectorsTest, Consistency) {
  const std::vector<fs::path> files = JsonFiles(DataDir() / "consistency");
  ASSERT_EQ(files.size(), 98u) << DataDir();
  const std::vector<std::string> leaves = VectorLeafHashes();
  NodeStore store = StoreOf(leaves);
  VectorCounts counts;
  int compared = 0;
  for (const fs::path& file : files) {
    SCOPED_TRACE(file.string());
    const nlohmann::json v = ReadJson(file);
    const uint64_t size1 = v.at("size1").get<uint64_t>();
    const uint64_t size2 = v.at("size2").get<uint64_t>();
    const std::string root1 = Base64(v.at("root1"));
    const std::string root2 = Base64(v.at("root2"));
    const std::vector<std::string> proof = Base64List(v.at("proof"));
    const absl::Status status = VerifyConsistency(size1, size2, root1, root2, proof);
    if (v.at("wantErr").get<bool>()) {
      EXPECT_THAT(status, StatusIs(absl::StatusCode::kInvalidArgument)) << v.at("desc");
      ++counts.refused;
    } else {
      EXPECT_THAT(status, IsOk()) << v.at("desc");
      ++counts.ok;
    }
    if (file.filename() == "happy-path.json" && size2 <= leaves.size()) {
      EXPECT_EQ(root1, store.Root(size1));
      EXPECT_EQ(root2, store.Root(size2));
      auto generated = ConsistencyProof(size1, size2, store.Source(size2));
      ASSERT_THAT(generated.status(), IsOk());
      EXPECT_EQ(*generated, proof);
      ++compared;
    }
  }
  EXPECT_EQ(counts.ok, 6);
  EXPECT_EQ(counts.refused, 92);
  EXPECT_EQ(compared, 5);
}

constexpr uint64_t kMaxSize = 64;

NodeStore GeneratedStore() {
  NodeStore store;
  // One more than the largest tree, for the root of the next size.
  for (uint64_t i = 0; i <= kMaxSize; ++i)
    store.Append(LeafHash(absl::StrCat("leaf ", i)));
  return store;
}

TEST(MerkleProofTest, InclusionProofsVerify) {
  NodeStore store = GeneratedStore();
  for (uint64_t size = 1; size <= kMaxSize; ++size) {
    const std::string root = store.Root(size);
    for (uint64_t index = 0; index < size; ++index) {
      SCOPED_TRACE(absl::StrCat("index ", index, " size ", size));
      const std::string& leaf = store.leaves()[index];
      auto proof = InclusionProof(index, size, store.Source(size));
      ASSERT_THAT(proof.status(), IsOk());
      ASSERT_THAT(VerifyInclusion(index, size, leaf, *proof, root), IsOk());
      // At most one hash per level.
      EXPECT_LE(proof->size(), static_cast<size_t>(std::bit_width(size - 1)));

      EXPECT_THAT(VerifyInclusion(index, size, FlipBit(leaf, index), *proof, root),
                  StatusIs(absl::StatusCode::kInvalidArgument));
      EXPECT_THAT(VerifyInclusion(index, size, leaf, *proof, FlipBit(root, size)),
                  StatusIs(absl::StatusCode::kInvalidArgument));
      for (size_t i = 0; i < proof->size(); ++i) {
        std::vector<std::string> bad = *proof;
        bad[i] = FlipBit(bad[i], 7 * i + index);
        EXPECT_THAT(VerifyInclusion(index, size, leaf, bad, root),
                    StatusIs(absl::StatusCode::kInvalidArgument))
            << "flipped hash " << i;
      }
      // The wrong tree: a neighbouring size with its own root.
      EXPECT_THAT(VerifyInclusion(index, size + 1, leaf, *proof, store.Root(size + 1)),
                  StatusIs(absl::StatusCode::kInvalidArgument));
      if (index < size - 1) {
        EXPECT_THAT(VerifyInclusion(index, size - 1, leaf, *proof, store.Root(size - 1)),
                    StatusIs(absl::StatusCode::kInvalidArgument));
      }
      // Another leaf's hash at this index, a hash too many or too few.
      if (size > 1) {
        EXPECT_THAT(VerifyInclusion(index, size, store.leaves()[(index + 1) % size],
                                    *proof, root),
                    StatusIs(absl::StatusCode::kInvalidArgument));
        std::vector<std::string> shorter(proof->begin(), proof->end() - 1);
        EXPECT_THAT(VerifyInclusion(index, size, leaf, shorter, root),
                    StatusIs(absl::StatusCode::kInvalidArgument, HasSubstr("hashes")));
      }
      std::vector<std::string> longer = *proof;
      longer.push_back(leaf);
      EXPECT_THAT(VerifyInclusion(index, size, leaf, longer, root),
                  StatusIs(absl::StatusCode::kInvalidArgument, HasSubstr("hashes")));
      EXPECT_THAT(VerifyInclusion(size, size, leaf, *proof, root),
                  StatusIs(absl::StatusCode::kInvalidArgument, HasSubstr("not below")));
    }
  }
}

TEST(MerkleProofTest, ConsistencyProofsVerify) {
  NodeStore store = GeneratedStore();
  for (uint64_t size2 = 1; size2 <= kMaxSize; ++size2) {
    const std::string root2 = store.Root(size2);
    for (uint64_t size1 = 1; size1 <= size2; ++size1) {
      SCOPED_TRACE(absl::StrCat("size1 ", size1, " size2 ", size2));
      const std::string root1 = store.Root(size1);
      auto proof = ConsistencyProof(size1, size2, store.Source(size2));
      ASSERT_THAT(proof.status(), IsOk());
      ASSERT_THAT(VerifyConsistency(size1, size2, root1, root2, *proof), IsOk());
      if (size1 == size2) {
        EXPECT_TRUE(proof->empty());
      } else {
        EXPECT_FALSE(proof->empty());
        EXPECT_LE(proof->size(), static_cast<size_t>(std::bit_width(size2 - 1)) + 1);
      }

      EXPECT_THAT(VerifyConsistency(size1, size2, FlipBit(root1, size1), root2, *proof),
                  StatusIs(absl::StatusCode::kInvalidArgument));
      EXPECT_THAT(VerifyConsistency(size1, size2, root1, FlipBit(root2, size2), *proof),
                  StatusIs(absl::StatusCode::kInvalidArgument));
      for (size_t i = 0; i < proof->size(); ++i) {
        std::vector<std::string> bad = *proof;
        bad[i] = FlipBit(bad[i], 5 * i + size1);
        EXPECT_THAT(VerifyConsistency(size1, size2, root1, root2, bad),
                    StatusIs(absl::StatusCode::kInvalidArgument))
            << "flipped hash " << i;
      }
      // Wrong sizes, each with the root of that size.
      EXPECT_THAT(
          VerifyConsistency(size1, size2 + 1, root1, store.Root(size2 + 1), *proof),
          StatusIs(absl::StatusCode::kInvalidArgument));
      if (size1 < size2) {
        EXPECT_THAT(
            VerifyConsistency(size1 + 1, size2, store.Root(size1 + 1), root2, *proof),
            StatusIs(absl::StatusCode::kInvalidArgument));
        EXPECT_THAT(
            VerifyConsistency(size1, size2 - 1, root1, store.Root(size2 - 1), *proof),
            StatusIs(absl::StatusCode::kInvalidArgument));
        // Swapped roots, a dropped or an extra hash.
        EXPECT_THAT(VerifyConsistency(size1, size2, root2, root1, *proof),
                    StatusIs(absl::StatusCode::kInvalidArgument));
        std::vector<std::string> shorter(proof->begin(), proof->end() - 1);
        EXPECT_THAT(VerifyConsistency(size1, size2, root1, root2, shorter),
                    StatusIs(absl::StatusCode::kInvalidArgument, HasSubstr("hashes")));
      }
      if (size1 > 1) {
        EXPECT_THAT(
            VerifyConsistency(size1 - 1, size2, store.Root(size1 - 1), root2, *proof),
            StatusIs(absl::StatusCode::kInvalidArgument));
      }
      std::vector<std::string> longer = *proof;
      longer.push_back(root1);
      EXPECT_THAT(VerifyConsistency(size1, size2, root1, root2, longer),
                  StatusIs(absl::StatusCode::kInvalidArgument, HasSubstr("hashes")));
    }
  }
}

TEST(MerkleProofTest, RootFromNodesUsesOnePerfectSubtreePerSetBit) {
  NodeStore store = GeneratedStore();
  for (uint64_t size = 0; size <= kMaxSize; ++size) {
    SCOPED_TRACE(size);
    store.lookups().clear();
    auto root = RootFromNodes(size, store.Source(size));
    ASSERT_THAT(root.status(), IsOk());
    EXPECT_EQ(*root, store.Root(size));
    // Highest subtree first, each (level, start >> level).
    std::vector<std::pair<uint64_t, uint64_t>> want;
    uint64_t start = 0;
    for (int level = 63; level >= 0; --level) {
      if ((size >> level) & 1) {
        want.emplace_back(level, start >> level);
        start += uint64_t{1} << level;
      }
    }
    EXPECT_EQ(store.lookups(), want);
  }
}

TEST(FrontierTest, AppendReportsTheNodesItCompletes) {
  NodeStore store = GeneratedStore();
  Frontier frontier;
  EXPECT_EQ(frontier.size(), 0u);
  for (uint64_t i = 0; i < kMaxSize; ++i) {
    SCOPED_TRACE(i);
    const std::vector<Frontier::Node> nodes = frontier.Append(store.leaves()[i]);
    EXPECT_EQ(frontier.size(), i + 1);
    // The leaf, then one node per trailing one bit of its index.
    ASSERT_EQ(nodes.size(), static_cast<size_t>(std::countr_one(i)) + 1);
    for (uint64_t level = 0; level < nodes.size(); ++level) {
      EXPECT_EQ(nodes[level].level, level);
      EXPECT_EQ(nodes[level].index, i >> level);
      const uint64_t begin = (i >> level) << level;
      EXPECT_EQ(
          nodes[level].hash,
          RootOfLeafHashes(
              absl::MakeConstSpan(store.leaves()).subspan(begin, uint64_t{1} << level)));
    }
    EXPECT_EQ(frontier.Root(), store.Root(i + 1));
  }
}

std::vector<std::pair<uint64_t, uint64_t>> Positions(
    const std::vector<Frontier::Node>& nodes) {
  std::vector<std::pair<uint64_t, uint64_t>> out;
  for (const auto& n : nodes) out.emplace_back(n.level, n.index);
  return out;
}

TEST(FrontierTest, AppendExamples) {
  using P = std::vector<std::pair<uint64_t, uint64_t>>;
  Frontier f;
  const std::string h = LeafHash("x");
  EXPECT_EQ(Positions(f.Append(h)), (P{{0, 0}}));
  EXPECT_EQ(Positions(f.Append(h)), (P{{0, 1}, {1, 0}}));
  EXPECT_EQ(Positions(f.Append(h)), (P{{0, 2}}));
  EXPECT_EQ(Positions(f.Append(h)), (P{{0, 3}, {1, 1}, {2, 0}}));
  EXPECT_EQ(Positions(f.Append(h)), (P{{0, 4}}));
  EXPECT_EQ(Positions(f.Append(h)), (P{{0, 5}, {1, 2}}));
  EXPECT_EQ(Positions(f.Append(h)), (P{{0, 6}}));
  EXPECT_EQ(Positions(f.Append(h)), (P{{0, 7}, {1, 3}, {2, 1}, {3, 0}}));
  EXPECT_EQ(Positions(f.Append(h)), (P{{0, 8}}));
  EXPECT_EQ(f.size(), 9u);
}

TEST(FrontierTest, FromNodesReproducesAppend) {
  NodeStore store = GeneratedStore();
  // The reference frontier at each size, grown by Append.
  std::vector<Frontier> appended(1);
  for (uint64_t i = 0; i < kMaxSize; ++i) {
    Frontier next = appended.back();
    next.Append(store.leaves()[i]);
    appended.push_back(std::move(next));
  }
  for (uint64_t size = 0; size <= kMaxSize; ++size) {
    SCOPED_TRACE(size);
    store.lookups().clear();
    auto restored = Frontier::FromNodes(size, store.Source(size));
    ASSERT_THAT(restored.status(), IsOk());
    EXPECT_EQ(store.lookups().size(), static_cast<size_t>(std::popcount(size)));
    EXPECT_EQ(restored->size(), size);
    EXPECT_EQ(restored->Root(), appended[size].Root());
    EXPECT_EQ(restored->Root(), store.Root(size));
    Frontier reference = appended[size];
    for (uint64_t i = size; i < kMaxSize; ++i) {
      const auto got = restored->Append(store.leaves()[i]);
      const auto want = reference.Append(store.leaves()[i]);
      ASSERT_EQ(Positions(got), Positions(want)) << "leaf " << i;
      for (size_t k = 0; k < got.size(); ++k) EXPECT_EQ(got[k].hash, want[k].hash);
      EXPECT_EQ(restored->Root(), reference.Root());
    }
    EXPECT_EQ(restored->Root(), store.Root(kMaxSize));
  }
}

TEST(MerkleErrorsTest, ProofArgumentsOutOfRange) {
  NodeStore store = GeneratedStore();
  for (const auto& [index, size] :
       std::vector<std::pair<uint64_t, uint64_t>>{{0, 0}, {5, 5}, {6, 5}, {1, 0}}) {
    EXPECT_THAT(InclusionProof(index, size, store.Source(size)),
                StatusIs(absl::StatusCode::kInvalidArgument))
        << index << " " << size;
  }
  EXPECT_THAT(ConsistencyProof(0, 5, store.Source(5)),
              StatusIs(absl::StatusCode::kInvalidArgument));
  EXPECT_THAT(ConsistencyProof(0, 0, store.Source(0)),
              StatusIs(absl::StatusCode::kInvalidArgument));
  EXPECT_THAT(ConsistencyProof(6, 5, store.Source(6)),
              StatusIs(absl::StatusCode::kInvalidArgument));
  auto same = ConsistencyProof(5, 5, store.Source(5));
  ASSERT_THAT(same.status(), IsOk());
  EXPECT_TRUE(same->empty());
}

TEST(MerkleErrorsTest, NodeSourceErrorsArePassedOn) {
  auto missing = [](uint64_t level, uint64_t index) -> absl::StatusOr<std::string> {
    return absl::NotFoundError(absl::StrCat("lost node ", level, "/", index));
  };
  EXPECT_THAT(InclusionProof(3, 8, missing),
              StatusIs(absl::StatusCode::kNotFound, HasSubstr("lost node")));
  EXPECT_THAT(ConsistencyProof(3, 8, missing),
              StatusIs(absl::StatusCode::kNotFound, HasSubstr("lost node")));
  EXPECT_THAT(RootFromNodes(7, missing),
              StatusIs(absl::StatusCode::kNotFound, HasSubstr("lost node")));
  EXPECT_THAT(Frontier::FromNodes(7, missing),
              StatusIs(absl::StatusCode::kNotFound, HasSubstr("lost node")));
  // Nothing is looked up for what needs no node.
  EXPECT_THAT(InclusionProof(0, 1, missing), IsOk());
  EXPECT_THAT(RootFromNodes(0, missing), IsOk());
  EXPECT_THAT(Frontier::FromNodes(0, missing), IsOk());

  // One node lost, deep in the tree: any proof that needs it fails.
  NodeStore store = GeneratedStore();
  auto one_lost = [&](uint64_t level, uint64_t index) -> absl::StatusOr<std::string> {
    if (level == 1 && index == 2) return absl::DataLossError("node 1/2 corrupt");
    return store.Node(kMaxSize, level, index);
  };
  EXPECT_THAT(InclusionProof(7, 8, one_lost),
              StatusIs(absl::StatusCode::kDataLoss, HasSubstr("corrupt")));
  EXPECT_THAT(InclusionProof(0, 6, one_lost),
              StatusIs(absl::StatusCode::kDataLoss, HasSubstr("corrupt")));
  EXPECT_THAT(ConsistencyProof(6, 8, one_lost),
              StatusIs(absl::StatusCode::kDataLoss, HasSubstr("corrupt")));
  EXPECT_THAT(RootFromNodes(6, one_lost),
              StatusIs(absl::StatusCode::kDataLoss, HasSubstr("corrupt")));
  EXPECT_THAT(Frontier::FromNodes(6, one_lost),
              StatusIs(absl::StatusCode::kDataLoss, HasSubstr("corrupt")));
  // And those that do not need it succeed.
  EXPECT_THAT(InclusionProof(0, 4, one_lost), IsOk());
  EXPECT_THAT(ConsistencyProof(2, 8, one_lost), IsOk());

  // A node of the wrong length is not a hash.
  auto short_node = [](uint64_t, uint64_t) -> absl::StatusOr<std::string> {
    return std::string("short");
  };
  EXPECT_THAT(RootFromNodes(3, short_node), StatusIs(absl::StatusCode::kInternal));
  EXPECT_THAT(Frontier::FromNodes(3, short_node), StatusIs(absl::StatusCode::kInternal));
}

TEST(MerkleErrorsTest, VerifyMessagesSayWhatIsWrong) {
  NodeStore store = GeneratedStore();
  const std::string root = store.Root(8);
  const std::string& leaf = store.leaves()[3];
  auto proof = *InclusionProof(3, 8, store.Source(8));
  EXPECT_THAT(VerifyInclusion(8, 8, leaf, proof, root),
              StatusIs(absl::StatusCode::kInvalidArgument, HasSubstr("not below")));
  EXPECT_THAT(VerifyInclusion(3, 8, leaf.substr(1), proof, root),
              StatusIs(absl::StatusCode::kInvalidArgument, HasSubstr("leaf hash")));
  EXPECT_THAT(VerifyInclusion(3, 8, leaf, proof, root + "x"),
              StatusIs(absl::StatusCode::kInvalidArgument, HasSubstr("root")));
  auto bad = proof;
  bad[1] += "x";
  EXPECT_THAT(VerifyInclusion(3, 8, leaf, bad, root),
              StatusIs(absl::StatusCode::kInvalidArgument, HasSubstr("proof hash 1")));
  bad = proof;
  bad.pop_back();
  EXPECT_THAT(VerifyInclusion(3, 8, leaf, bad, root),
              StatusIs(absl::StatusCode::kInvalidArgument, HasSubstr("hashes, not 3")));
  EXPECT_THAT(VerifyInclusion(3, 8, leaf, proof, store.Root(7)),
              StatusIs(absl::StatusCode::kInvalidArgument, HasSubstr("gives root")));

  const std::string root3 = store.Root(3);
  auto cproof = *ConsistencyProof(3, 8, store.Source(8));
  EXPECT_THAT(VerifyConsistency(0, 8, EmptyRoot(), root, {}),
              StatusIs(absl::StatusCode::kInvalidArgument, HasSubstr("empty tree")));
  EXPECT_THAT(VerifyConsistency(0, 0, EmptyRoot(), EmptyRoot(), {}),
              StatusIs(absl::StatusCode::kInvalidArgument, HasSubstr("empty tree")));
  EXPECT_THAT(VerifyConsistency(8, 3, root, root3, cproof),
              StatusIs(absl::StatusCode::kInvalidArgument, HasSubstr("greater")));
  EXPECT_THAT(VerifyConsistency(8, 8, root, root, cproof),
              StatusIs(absl::StatusCode::kInvalidArgument, HasSubstr("equal sizes")));
  EXPECT_THAT(VerifyConsistency(8, 8, root, root3, {}),
              StatusIs(absl::StatusCode::kInvalidArgument, HasSubstr("different roots")));
  EXPECT_THAT(VerifyConsistency(8, 8, root, root, {}), IsOk());
  EXPECT_THAT(VerifyConsistency(3, 8, root3.substr(2), root, cproof),
              StatusIs(absl::StatusCode::kInvalidArgument, HasSubstr("root1")));
  EXPECT_THAT(VerifyConsistency(3, 8, root3, root, {}),
              StatusIs(absl::StatusCode::kInvalidArgument, HasSubstr("hashes, not")));
  EXPECT_THAT(VerifyConsistency(3, 8, store.Root(4), root, cproof),
              StatusIs(absl::StatusCode::kInvalidArgument, HasSubstr("root1")));
  EXPECT_THAT(VerifyConsistency(3, 8, root3, store.Root(7), cproof),
              StatusIs(absl::StatusCode::kInvalidArgument, HasSubstr("root2")));
}

TEST(FrontierTest, PushBuildsTheSameTreeAsAppend) {
  NodeStore store = GeneratedStore();
  Frontier pushed;
  Frontier told;
  for (uint64_t i = 0; i < kMaxSize; ++i) {
    SCOPED_TRACE(i);
    pushed.Push(store.leaves()[i]);
    std::vector<Frontier::Node> nodes;
    told.Push(store.leaves()[i], [&](uint64_t level, uint64_t index, std::string_view h) {
      nodes.push_back({level, index, std::string(h)});
    });
    ASSERT_EQ(nodes.size(), static_cast<size_t>(std::countr_one(i)) + 1);
    for (const Frontier::Node& n : nodes) {
      const uint64_t begin = n.index << n.level;
      EXPECT_EQ(n.hash, RootOfLeafHashes(absl::MakeConstSpan(store.leaves())
                                             .subspan(begin, uint64_t{1} << n.level)));
    }
    EXPECT_EQ(pushed.size(), i + 1);
    EXPECT_EQ(pushed.Root(), store.Root(i + 1));
    EXPECT_EQ(told.Root(), store.Root(i + 1));
  }
}

// Two threads build one tree: a perfect prefix and the rest on its own.
TEST(FrontierTest, ExtendJoinsATreeBuiltInTwoParts) {
  NodeStore store = GeneratedStore();
  for (uint64_t split : {1u, 2u, 4u, 8u, 16u, 32u}) {
    for (uint64_t rest = 0; rest <= split && split + rest <= kMaxSize; ++rest) {
      SCOPED_TRACE(absl::StrCat(split, "+", rest));
      Frontier left, right;
      std::map<std::pair<uint64_t, uint64_t>, std::string> nodes;
      for (uint64_t i = 0; i < split; ++i) {
        left.Push(store.leaves()[i], [&](uint64_t l, uint64_t x, std::string_view h) {
          nodes[{l, x}] = std::string(h);
        });
      }
      for (uint64_t i = split; i < split + rest; ++i) {
        right.Push(store.leaves()[i], [&](uint64_t l, uint64_t x, std::string_view h) {
          // indexed within `right`: shifted to where its leaves are
          nodes[{l, x + (split >> l)}] = std::string(h);
        });
      }
      std::vector<std::pair<uint64_t, uint64_t>> joined;
      ASSERT_THAT(left.Extend(right,
                              [&](uint64_t l, uint64_t x, std::string_view h) {
                                joined.emplace_back(l, x);
                                nodes[{l, x}] = std::string(h);
                              }),
                  IsOk());
      EXPECT_EQ(left.size(), split + rest);
      EXPECT_EQ(left.Root(), store.Root(split + rest));
      // Only a full second half makes a node neither part has: the root.
      if (rest == split) {
        EXPECT_EQ(joined, (std::vector<std::pair<uint64_t, uint64_t>>{
                              {std::countr_zero(split) + 1u, 0}}));
      } else {
        EXPECT_TRUE(joined.empty());
      }
      // Every node of the whole tree, and nothing else, was told of once.
      Frontier whole;
      std::map<std::pair<uint64_t, uint64_t>, std::string> want;
      for (uint64_t i = 0; i < split + rest; ++i) {
        for (Frontier::Node& n : whole.Append(store.leaves()[i])) {
          want[{n.level, n.index}] = n.hash;
        }
      }
      EXPECT_EQ(nodes, want);
    }
  }
}

TEST(FrontierTest, ExtendRefusesAPartThatDoesNotAlign) {
  Frontier left, right;
  for (int i = 0; i < 3; ++i) left.Push(LeafHash("a"));
  for (int i = 0; i < 2; ++i) right.Push(LeafHash("b"));
  EXPECT_THAT(left.Extend(right, [](uint64_t, uint64_t, std::string_view) {}),
              StatusIs(absl::StatusCode::kInvalidArgument));
  EXPECT_EQ(left.size(), 3u);
}

}  // namespace
}  // namespace mend::merkle
