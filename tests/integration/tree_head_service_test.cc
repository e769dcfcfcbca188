// Signed tree heads and proofs served by a real service runtime over gRPC,
// checked by an independent RFC 6962 / Ed25519 implementation written here
// (OpenSSL only, no mend Merkle code): a log of three thousand records,
// every inclusion proof at several tree sizes against signed roots, and
// consistency between every pair of heads saved while the log grew; bad
// sizes and roles refused; the last head signed at shutdown.
#include <grpcpp/grpcpp.h>
#include <openssl/evp.h>
#include <openssl/pem.h>
#include <openssl/sha.h>

#include <fstream>
#include <map>
#include <memory>
#include <string>
#include <thread>
#include <vector>

#include "absl/strings/str_cat.h"
#include "common/runtime/service_runtime.h"
#include "common/security/auth.h"
#include "gmock/gmock.h"
#include "gtest/gtest.h"
#include "mend/eventlog/v1/eventlog_service.grpc.pb.h"
#include "mend/eventlog/v1/tree.pb.h"
#include "tests/support/grpc_client.h"
#include "tests/support/test_util.h"
#include "tests/support/tokens.h"

namespace mend {
namespace {

namespace v1 = ::mend::eventlog::v1;
using ::mend::testing::Call;
using ::mend::testing::IsOk;
using ::mend::testing::StatusIs;
using ::mend::testing::TempDir;

// --- RFC 6962 / RFC 9162, independently ------------------------------------

std::string H(std::string_view data) {
  unsigned char out[SHA256_DIGEST_LENGTH];
  SHA256(reinterpret_cast<const unsigned char*>(data.data()), data.size(), out);
  return std::string(reinterpret_cast<char*>(out), sizeof(out));
}
std::string Leaf(std::string_view bytes) {
  return H(std::string(1, '\0') + std::string(bytes));
}
std::string Node(const std::string& l, const std::string& r) { return H("\x01" + l + r); }

// RFC 9162 §2.1.3.2.
bool VerifyInclusion(uint64_t index, uint64_t size, std::string hash,
                     const google::protobuf::RepeatedPtrField<std::string>& proof,
                     const std::string& root) {
  if (index >= size) return false;
  uint64_t fn = index, sn = size - 1;
  for (const std::string& p : proof) {
    if (sn == 0) return false;
    if ((fn & 1) || fn == sn) {
      hash = Node(p, hash);
      if (!(fn & 1)) {
        while (fn != 0 && !(fn & 1)) {
          fn >>= 1;
          sn >>= 1;
        }
      }
    } else {
      hash = Node(hash, p);
    }
    fn >>= 1;
    sn >>= 1;
  }
  return sn == 0 && hash == root;
}

// RFC 9162 §2.1.4.2.
bool VerifyConsistency(uint64_t size1, uint64_t size2, const std::string& root1,
                       const std::string& root2,
                       const google::protobuf::RepeatedPtrField<std::string>& proof) {
  if (size1 == size2) return proof.empty() && root1 == root2;
  if (size1 == 0 || size1 > size2 || proof.empty()) return false;
  std::vector<std::string> path(proof.begin(), proof.end());
  if ((size1 & (size1 - 1)) == 0) path.insert(path.begin(), root1);  // a power of two
  uint64_t fn = size1 - 1, sn = size2 - 1;
  while (fn & 1) {
    fn >>= 1;
    sn >>= 1;
  }
  std::string fr = path[0], sr = path[0];
  for (size_t i = 1; i < path.size(); ++i) {
    if (sn == 0) return false;
    if ((fn & 1) || fn == sn) {
      fr = Node(path[i], fr);
      sr = Node(path[i], sr);
      if (!(fn & 1)) {
        while (fn != 0 && !(fn & 1)) {
          fn >>= 1;
          sn >>= 1;
        }
      }
    } else {
      sr = Node(sr, path[i]);
    }
    fn >>= 1;
    sn >>= 1;
  }
  return fr == root1 && sr == root2 && sn == 0;
}

// Ed25519 over "mend-tree-head-v1\n" ‖ head, with OpenSSL directly.
bool SignatureValid(const v1::SignedTreeHead& s, const std::string& public_pem) {
  BIO* bio = BIO_new_mem_buf(public_pem.data(), static_cast<int>(public_pem.size()));
  EVP_PKEY* key = PEM_read_bio_PUBKEY(bio, nullptr, nullptr, nullptr);
  BIO_free(bio);
  if (key == nullptr) return false;
  const std::string message = "mend-tree-head-v1\n" + s.head();
  EVP_MD_CTX* ctx = EVP_MD_CTX_new();
  const bool ok =
      EVP_DigestVerifyInit(ctx, nullptr, nullptr, nullptr, key) == 1 &&
      EVP_DigestVerify(ctx, reinterpret_cast<const unsigned char*>(s.signature().data()),
                       s.signature().size(),
                       reinterpret_cast<const unsigned char*>(message.data()),
                       message.size()) == 1;
  EVP_MD_CTX_free(ctx);
  EVP_PKEY_free(key);
  return ok;
}

std::string NewEd25519Pem() {
  EVP_PKEY* key = EVP_PKEY_Q_keygen(nullptr, nullptr, "ED25519");
  BIO* bio = BIO_new(BIO_s_mem());
  PEM_write_bio_PrivateKey(bio, key, nullptr, nullptr, 0, nullptr, nullptr);
  char* data = nullptr;
  const long n = BIO_get_mem_data(bio, &data);
  std::string pem(data, static_cast<size_t>(n));
  BIO_free(bio);
  EVP_PKEY_free(key);
  return pem;
}

// --- The service ---------------------------------------------------------------

class TreeHeadServiceTest : public ::testing::Test {
 protected:
  void SetUp() override {
    {
      std::ofstream out(dir_.Sub("tree-key.pem"));
      out << NewEd25519Pem();
    }
    ServiceRuntime::Options options;
    options.service = "tree-test";
    options.data_dir = dir_.Sub("data");
    options.log_level = "error";
    options.shutdown_grace = absl::Seconds(1);
    options.tree_head_key = dir_.Sub("tree-key.pem");
    options.tree_head_every_events = 250;
    auto runtime = ServiceRuntime::Create(options);
    ASSERT_THAT(runtime, IsOk());
    runtime_ = *std::move(runtime);
    ASSERT_THAT(runtime_->Start(), IsOk());
    channel_ = testing::Connect(runtime_->port());
    stub_ = v1::EventLog::NewStub(channel_);
  }

  template <typename Response, typename Fn>
  absl::StatusOr<Response> As(Role role, Fn fn) {
    return Call<Response>(testing::TokenFor(role, "auditor-al"), fn);
  }
  absl::StatusOr<v1::GetTreeHeadResponse> Head(uint64_t size) {
    v1::GetTreeHeadRequest r;
    r.set_tree_size(size);
    return As<v1::GetTreeHeadResponse>(
        Role::kAuditor, [&](grpc::ClientContext* c, v1::GetTreeHeadResponse* o) {
          return stub_->GetTreeHead(c, r, o);
        });
  }
  void AppendRecords(int n, int from) {
    for (int i = from; i < from + n; ++i) {
      ASSERT_THAT(runtime_->store()->Append(absl::StrCat("s-", i % 7),
                                            eventlog::ExpectedVersion::Any(),
                                            {{.event_id = absl::StrCat("e-", i),
                                              .event_type = "test.Event",
                                              .payload = absl::StrCat("payload ", i),
                                              .actor_id = "tester",
                                              .actor_role = "service",
                                              .correlation_id = "",
                                              .causation_id = ""}}),
                  IsOk());
    }
  }

  TempDir dir_;
  std::unique_ptr<ServiceRuntime> runtime_;
  std::shared_ptr<grpc::Channel> channel_;
  std::unique_ptr<v1::EventLog::Stub> stub_;
};

TEST_F(TreeHeadServiceTest, ProofsOfAGrowingLogVerifyIndependently) {
  constexpr int kRecords = 3000;
  // Heads saved as an auditor would while the log grows.
  std::map<uint64_t, v1::GetTreeHeadResponse> saved;
  for (int done = 0; done < kRecords; done += 100) {
    std::vector<std::thread> writers;
    for (int t = 0; t < 4; ++t)
      writers.emplace_back([&, t] { AppendRecords(25, done + t * 25); });
    for (std::thread& w : writers) w.join();
    absl::StatusOr<v1::GetTreeHeadResponse> head = Head(0);
    if (head.ok()) saved[head->head().tree_size()] = *head;
  }
  ASSERT_GE(saved.size(), 5u) << "a head every 250 records";
  const std::string public_pem = saved.begin()->second.public_key_pem();

  // Every saved head is signed by the service's key and names its log.
  for (const auto& [size, h] : saved) {
    ASSERT_TRUE(SignatureValid(h.signed_head(), public_pem)) << size;
    v1::TreeHead head;
    ASSERT_TRUE(head.ParseFromString(h.signed_head().head()));
    EXPECT_EQ(head.tree_size(), size);
    EXPECT_EQ(head.service(), "tree-test");
    EXPECT_EQ(head.root_hash(), h.head().root_hash());
  }

  // The leaves, from the records' stored bytes.
  std::vector<std::string> leaves;
  for (int64_t from = 1; leaves.size() < static_cast<size_t>(kRecords);) {
    v1::ReadRequest r;
    r.set_from_position(from);
    r.set_max_count(1000);
    auto page = As<v1::ReadResponse>(Role::kAuditor,
                                     [&](grpc::ClientContext* c, v1::ReadResponse* o) {
                                       return stub_->Read(c, r, o);
                                     });
    ASSERT_THAT(page, IsOk());
    ASSERT_FALSE(page->events().empty());
    for (const v1::RecordedEvent& e : page->events()) leaves.push_back(Leaf(e.record()));
    from = static_cast<int64_t>(leaves.size()) + 1;
  }

  // Every inclusion proof at three signed sizes and at the whole log.
  std::vector<uint64_t> sizes = {saved.begin()->first, std::next(saved.begin(), 2)->first,
                                 saved.rbegin()->first, kRecords};
  for (uint64_t size : sizes) {
    absl::StatusOr<v1::GetTreeHeadResponse> head = Head(size);
    ASSERT_THAT(head, IsOk());
    const std::string root = head->head().root_hash();
    for (uint64_t position = 1; position <= size; ++position) {
      v1::GetInclusionProofRequest r;
      r.set_position(position);
      r.set_tree_size(size);
      auto proof = As<v1::GetInclusionProofResponse>(
          Role::kAuditor, [&](grpc::ClientContext* c, v1::GetInclusionProofResponse* o) {
            return stub_->GetInclusionProof(c, r, o);
          });
      ASSERT_THAT(proof, IsOk());
      ASSERT_EQ(proof->leaf_hash(), leaves[position - 1]);
      ASSERT_EQ(proof->root_hash(), root);
      ASSERT_TRUE(
          VerifyInclusion(position - 1, size, leaves[position - 1], proof->proof(), root))
          << position << " in " << size;
      // And a proof for another record does not pass for this one.
      if (position > 1) {
        ASSERT_FALSE(VerifyInclusion(position - 1, size, leaves[position - 2],
                                     proof->proof(), root));
      }
    }
  }

  // Consistency between every pair of saved heads.
  for (auto a = saved.begin(); a != saved.end(); ++a) {
    for (auto b = a; b != saved.end(); ++b) {
      v1::GetConsistencyProofRequest r;
      r.set_from_size(a->first);
      r.set_to_size(b->first);
      auto proof = As<v1::GetConsistencyProofResponse>(
          Role::kAuditor,
          [&](grpc::ClientContext* c, v1::GetConsistencyProofResponse* o) {
            return stub_->GetConsistencyProof(c, r, o);
          });
      ASSERT_THAT(proof, IsOk());
      EXPECT_TRUE(VerifyConsistency(a->first, b->first, a->second.head().root_hash(),
                                    b->second.head().root_hash(), proof->proof()))
          << a->first << " -> " << b->first;
      if (a->first != b->first) {
        // Not against another log's root.
        std::string forged = a->second.head().root_hash();
        forged[0] ^= 1;
        EXPECT_FALSE(VerifyConsistency(a->first, b->first, forged,
                                       b->second.head().root_hash(), proof->proof()));
      }
    }
  }
}

TEST_F(TreeHeadServiceTest, BadSizesRolesAndTheHeadSignedAtShutdown) {
  // No head before any record.
  EXPECT_THAT(Head(0), StatusIs(absl::StatusCode::kFailedPrecondition));
  AppendRecords(40, 0);
  v1::GetInclusionProofRequest r;
  r.set_position(0);
  r.set_tree_size(10);
  auto call = [&](Role role) {
    return As<v1::GetInclusionProofResponse>(
        role, [&](grpc::ClientContext* c, v1::GetInclusionProofResponse* o) {
          return stub_->GetInclusionProof(c, r, o);
        });
  };
  EXPECT_THAT(call(Role::kAuditor), StatusIs(absl::StatusCode::kInvalidArgument));
  r.set_position(11);
  EXPECT_THAT(call(Role::kAuditor), StatusIs(absl::StatusCode::kInvalidArgument));
  r.set_position(5);
  r.set_tree_size(41);
  EXPECT_THAT(call(Role::kAuditor), StatusIs(absl::StatusCode::kOutOfRange));
  r.set_tree_size(40);
  EXPECT_THAT(call(Role::kAuditor), IsOk());
  EXPECT_THAT(call(Role::kFacilitator), StatusIs(absl::StatusCode::kPermissionDenied));
  v1::GetConsistencyProofRequest c;
  c.set_from_size(30);
  c.set_to_size(20);
  EXPECT_THAT(As<v1::GetConsistencyProofResponse>(
                  Role::kAuditor,
                  [&](grpc::ClientContext* ctx, v1::GetConsistencyProofResponse* o) {
                    return stub_->GetConsistencyProof(ctx, c, o);
                  }),
              StatusIs(absl::StatusCode::kInvalidArgument));
  EXPECT_THAT(Head(41), StatusIs(absl::StatusCode::kOutOfRange));
  // An unsigned head at any size; the signed one comes at shutdown (40 < 250).
  auto unsigned_head = Head(17);
  ASSERT_THAT(unsigned_head, IsOk());
  EXPECT_FALSE(unsigned_head->has_signed_head());
  EXPECT_EQ(unsigned_head->head().tree_size(), 17u);
  runtime_->Shutdown();
  auto store = eventlog::EventStore::Open(
      {.path = dir_.Sub("data") + "/eventlog", .read_only = true});
  ASSERT_THAT(store, IsOk());
  auto newest = (*store)->NewestTreeHead();
  ASSERT_THAT(newest, IsOk());
  ASSERT_TRUE(newest->has_value());
  EXPECT_EQ((*newest)->first, 40u);
  EXPECT_TRUE((*store)->Verify().ok) << (*store)->Verify().problem;
}

}  // namespace
}  // namespace mend
