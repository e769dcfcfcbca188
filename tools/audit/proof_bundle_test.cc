// Proof bundles over a real log in a temporary directory: a bundle round
// trips through its JSON; a bundle made from the log's record, proof and
// signed head verifies with the public key alone; and a changed record
// byte, a changed proof hash, a changed head size or root, a changed
// position, another key, and malformed files are each refused, saying what.
#include "tools/audit/proof_bundle.h"

#include <memory>
#include <string>
#include <vector>

#include "absl/strings/escaping.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_format.h"
#include "common/eventlog/event_store.h"
#include "common/merkle/merkle.h"
#include "common/merkle/tree_head.h"
#include "gmock/gmock.h"
#include "gtest/gtest.h"
#include "mend/consent/v1/events.pb.h"
#include "nlohmann/json.hpp"
#include "tests/support/service_processes.h"
#include "tests/support/test_util.h"

namespace mend::audit {
namespace {

using ::mend::eventlog::v1::SignedTreeHead;
using ::mend::eventlog::v1::TreeHead;
using ::mend::testing::IsOk;
using ::mend::testing::KeyPair;
using ::mend::testing::StatusIs;
using ::mend::testing::TempDir;
using ::testing::AllOf;
using ::testing::Contains;
using ::testing::HasSubstr;
using ::testing::IsEmpty;

constexpr uint64_t kSize = 20;
constexpr uint64_t kPosition = 7;

class ProofBundleTest : public ::testing::Test {
 protected:
  void SetUp() override {
    keys_ = testing::NewTreeHeadKey();
    auto signer = merkle::TreeHeadSigner::FromPem(keys_.private_pem);
    ASSERT_THAT(signer, IsOk());
    auto store = eventlog::EventStore::Open({.path = dir_.Sub("log")});
    ASSERT_THAT(store, IsOk());
    for (uint64_t i = 1; i <= kSize; ++i) {
      consent::v1::ContactDecisionMade made;
      made.set_decision_id(absl::StrFormat("decision-%04d", i));
      made.set_case_id("case-1");
      made.set_outcome(consent::v1::APPROVED);
      ASSERT_THAT((*store)->Append("consent-case-1", eventlog::ExpectedVersion::Any(),
                                   {{.event_id = absl::StrCat("event-", i),
                                     .event_type = "mend.consent.v1.ContactDecisionMade",
                                     .payload = made.SerializeAsString(),
                                     .actor_id = "service-conference",
                                     .actor_role = "service",
                                     .correlation_id = "",
                                     .causation_id = ""}}),
                  IsOk());
    }
    TreeHead head;
    head.set_service("consent");
    head.set_tree_size(kSize);
    auto root = (*store)->TreeRoot(kSize);
    ASSERT_THAT(root, IsOk());
    head.set_root_hash(*root);
    head.set_timestamp_unix_micros(1767225600000000);
    auto signed_head = (*signer)->Sign(head);
    ASSERT_THAT(signed_head, IsOk());
    auto records = (*store)->Read(kPosition, 1);
    ASSERT_THAT(records, IsOk());
    ASSERT_EQ(records->size(), 1u);
    auto proof = (*store)->InclusionProof(kPosition, kSize);
    ASSERT_THAT(proof, IsOk());
    bundle_ = MakeBundle(kPosition, (*records)[0].bytes, *proof, *signed_head);
    key_id_ = (*signer)->key_id();
  }

  // The problems CheckBundle finds in `bundle`.
  std::vector<std::string> Problems(const ProofBundle& bundle) {
    return CheckBundle(bundle, keys_.public_pem).problems;
  }

  // The signed head with its TreeHead changed by `edit`, not signed again.
  SignedTreeHead Changed(const std::function<void(TreeHead&)>& edit) {
    SignedTreeHead changed = bundle_.signed_head;
    TreeHead head;
    EXPECT_TRUE(head.ParseFromString(changed.head()));
    edit(head);
    changed.set_head(head.SerializeAsString());
    return changed;
  }

  TempDir dir_;
  KeyPair keys_;
  ProofBundle bundle_;
  std::string key_id_;
};

TEST_F(ProofBundleTest, ABundleRoundTripsThroughItsJson) {
  EXPECT_EQ(bundle_.service, "consent");
  EXPECT_EQ(bundle_.tree_size, kSize);
  const std::string json = BundleToJson(bundle_);
  auto read = BundleFromJson(json);
  ASSERT_THAT(read, IsOk());
  EXPECT_EQ(read->service, bundle_.service);
  EXPECT_EQ(read->position, bundle_.position);
  EXPECT_EQ(read->tree_size, bundle_.tree_size);
  EXPECT_EQ(read->record, bundle_.record);
  EXPECT_EQ(read->leaf_hash, bundle_.leaf_hash);
  EXPECT_EQ(read->inclusion_proof, bundle_.inclusion_proof);
  EXPECT_EQ(read->signed_head.SerializeAsString(),
            bundle_.signed_head.SerializeAsString());
  // The readable part, for people, says it is not trusted.
  const nlohmann::json j = nlohmann::json::parse(json);
  EXPECT_EQ(j["format"], "mend-proof-bundle-v1");
  EXPECT_EQ(j["for_reading_not_trusted"]["record"]["payload"]["decision_id"],
            "decision-0007");
  EXPECT_EQ(j["for_reading_not_trusted"]["head"]["tree_size"], kSize);
  EXPECT_THAT(j["for_reading_not_trusted"]["note"].get<std::string>(),
              HasSubstr("check-proof never reads this part"));
}

TEST_F(ProofBundleTest, ABundleFromTheLogVerifiesWithThePublicKeyAlone) {
  auto read = BundleFromJson(BundleToJson(bundle_));
  ASSERT_THAT(read, IsOk());
  const BundleCheck check = CheckBundle(*read, keys_.public_pem);
  EXPECT_THAT(check.problems, IsEmpty());
  EXPECT_EQ(check.head.service(), "consent");
  EXPECT_EQ(check.head.tree_size(), kSize);
  EXPECT_THAT(check.record_json, HasSubstr("\"position\":7,"));
  EXPECT_THAT(check.record_json, HasSubstr("\"decision_id\":\"decision-0007\""));
  EXPECT_THAT(check.payload_note, IsEmpty());
  // Every position of the tree, and the last, prove the same way.
  for (uint64_t position : {1, 16, 20}) {
    auto store = eventlog::EventStore::Open(
        {.path = dir_.Sub("log"), .create_if_missing = false, .read_only = true});
    ASSERT_THAT(store, IsOk());
    auto records = (*store)->Read(position, 1);
    ASSERT_THAT(records, IsOk());
    auto proof = (*store)->InclusionProof(position, kSize);
    ASSERT_THAT(proof, IsOk());
    EXPECT_THAT(
        Problems(MakeBundle(position, (*records)[0].bytes, *proof, bundle_.signed_head)),
        IsEmpty())
        << position;
  }
}

TEST_F(ProofBundleTest, AChangedRecordByteIsRefused) {
  ProofBundle changed = bundle_;
  const size_t at = changed.record.find("decision-0007");
  ASSERT_NE(at, std::string::npos);
  changed.record[at + 12] = '8';  // decision-0008: still a well-formed record
  EXPECT_THAT(
      Problems(changed),
      AllOf(Contains(AllOf(HasSubstr("not to the stated leaf hash"),
                           HasSubstr("the record (or its stated hash) was changed"))),
            Contains(HasSubstr("the inclusion proof does not lead from the record "
                               "at position 7"))));
  // Stating the new bytes' leaf hash does not help: the proof still fails.
  changed.leaf_hash = merkle::LeafHash(changed.record);
  EXPECT_THAT(Problems(changed),
              ::testing::ElementsAre(HasSubstr("the inclusion proof does not lead")));
}

TEST_F(ProofBundleTest, AChangedProofHashIsRefused) {
  ProofBundle changed = bundle_;
  ASSERT_FALSE(changed.inclusion_proof.empty());
  changed.inclusion_proof[1][5] ^= 0x01;
  EXPECT_THAT(Problems(changed), ::testing::ElementsAre(HasSubstr(
                                     "the inclusion proof does not lead from the "
                                     "record at position 7 to the signed root of "
                                     "20 records")));
  // One hash too few is refused too.
  changed = bundle_;
  changed.inclusion_proof.pop_back();
  EXPECT_THAT(Problems(changed),
              Contains(HasSubstr("the inclusion proof does not lead")));
}

TEST_F(ProofBundleTest, AChangedHeadSizeOrRootIsRefused) {
  ProofBundle changed = bundle_;
  changed.signed_head = Changed([](TreeHead& h) { h.set_tree_size(kSize + 1); });
  changed.tree_size = kSize + 1;
  EXPECT_THAT(Problems(changed),
              ::testing::ElementsAre(
                  AllOf(HasSubstr("the signed head does not verify with the public key"),
                        HasSubstr("signature does not verify"))));
  changed = bundle_;
  changed.signed_head =
      Changed([](TreeHead& h) { h.set_root_hash(std::string(32, 'x')); });
  EXPECT_THAT(Problems(changed),
              ::testing::ElementsAre(
                  HasSubstr("the signed head does not verify with the public key")));
  // The bundle's own statement of the size must match the signed head.
  changed = bundle_;
  changed.tree_size = kSize - 1;
  EXPECT_THAT(
      Problems(changed),
      ::testing::ElementsAre(HasSubstr(
          "the bundle says the tree has 19 records, but the signed head covers 20")));
}

TEST_F(ProofBundleTest, AnotherKeyIsRefused) {
  const KeyPair other = testing::NewTreeHeadKey();
  EXPECT_THAT(CheckBundle(bundle_, other.public_pem).problems,
              ::testing::ElementsAre(AllOf(
                  HasSubstr("the signed head does not verify with the public key"),
                  HasSubstr(absl::StrCat("tree head is signed by key ", key_id_)))));
}

TEST_F(ProofBundleTest, AChangedPositionIsRefused) {
  ProofBundle changed = bundle_;
  changed.position = kPosition + 1;
  EXPECT_THAT(
      Problems(changed),
      Contains(HasSubstr("the record names position 7, not the bundle's position 8")));
  changed.position = kSize + 5;
  EXPECT_THAT(Problems(changed),
              Contains(HasSubstr("position 25 is not in the signed tree of 20 records")));
}

TEST_F(ProofBundleTest, AnotherServiceStatedIsRefused) {
  ProofBundle changed = bundle_;
  changed.service = "case";
  EXPECT_THAT(Problems(changed),
              ::testing::ElementsAre(HasSubstr(
                  "the bundle says it is of the log of \"case\", but the signed head is "
                  "of \"consent\"")));
}

TEST_F(ProofBundleTest, MalformedBundlesSayWhatIsWrong) {
  const std::string good = BundleToJson(bundle_);
  const auto edited = [&](const std::function<void(nlohmann::json&)>& edit) {
    nlohmann::json j = nlohmann::json::parse(good);
    edit(j);
    return j.dump();
  };
  EXPECT_THAT(BundleFromJson("{\"format\":"), StatusIs(absl::StatusCode::kInvalidArgument,
                                                       HasSubstr("not a JSON object")));
  EXPECT_THAT(BundleFromJson(edited([](nlohmann::json& j) { j["format"] = "other"; })),
              StatusIs(absl::StatusCode::kInvalidArgument, HasSubstr("\"format\"")));
  EXPECT_THAT(BundleFromJson(edited([](nlohmann::json& j) { j.erase("record_base64"); })),
              StatusIs(absl::StatusCode::kInvalidArgument, HasSubstr("record_base64")));
  EXPECT_THAT(BundleFromJson(
                  edited([](nlohmann::json& j) { j["record_base64"] = "not base64!"; })),
              StatusIs(absl::StatusCode::kInvalidArgument, HasSubstr("record_base64")));
  EXPECT_THAT(BundleFromJson(
                  edited([](nlohmann::json& j) { j["inclusion_proof_hex"][0] = "xyz"; })),
              StatusIs(absl::StatusCode::kInvalidArgument,
                       HasSubstr("\"inclusion_proof_hex\" item 0")));
  EXPECT_THAT(BundleFromJson(edited([](nlohmann::json& j) { j["position"] = -1; })),
              StatusIs(absl::StatusCode::kInvalidArgument, HasSubstr("\"position\"")));
  EXPECT_THAT(BundleFromJson(edited([](nlohmann::json& j) {
                j["signed_head"] = {{"no_such_field", 1}};
              })),
              StatusIs(absl::StatusCode::kInvalidArgument, HasSubstr("signed_head")));
}

}  // namespace
}  // namespace mend::audit
