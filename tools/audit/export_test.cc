// export's sealed data: the field names a Sealed is opened with (the case
// service's constants, the conference service's own names, and every Sealed
// field of both services' events accounted for, so a new one cannot slip
// by unnamed); UnsealedPayloadJson over nested, repeated and erased values;
// and SealedOpener over a real key store in a temporary directory (opened
// beside nothing, read-only: a value sealed by the store opens, an erased
// person's does not, another master key is refused).
#include <algorithm>
#include <map>
#include <memory>
#include <set>
#include <string>
#include <utility>
#include <vector>

#include "absl/strings/match.h"
#include "absl/strings/str_cat.h"
#include "common/eventlog/event_store.h"
#include "common/security/key_store.h"
#include "gmock/gmock.h"
#include "gtest/gtest.h"
#include "mend/case/v1/events.pb.h"
#include "mend/conference/v1/events.pb.h"
#include "nlohmann/json.hpp"
#include "services/case/case_state.h"
#include "tests/support/test_util.h"
#include "tools/audit/export_sealed.h"

namespace mend::audit {
namespace {

namespace pb = ::google::protobuf;
namespace case_v1 = ::mend::case_::v1;
namespace common_v1 = ::mend::common::v1;
namespace conference_v1 = ::mend::conference::v1;
using ::mend::testing::IsOk;
using ::mend::testing::StatusIs;
using ::mend::testing::TempDir;
using ::testing::HasSubstr;
using Json = nlohmann::json;

// Every field of type Sealed in the messages of `file` (nested types too).
std::vector<const pb::FieldDescriptor*> SealedFields(const pb::FileDescriptor& file) {
  std::vector<const pb::FieldDescriptor*> out;
  std::vector<const pb::Descriptor*> types;
  for (int i = 0; i < file.message_type_count(); ++i)
    types.push_back(file.message_type(i));
  while (!types.empty()) {
    const pb::Descriptor* type = types.back();
    types.pop_back();
    for (int i = 0; i < type->nested_type_count(); ++i)
      types.push_back(type->nested_type(i));
    for (int i = 0; i < type->field_count(); ++i) {
      const pb::FieldDescriptor* f = type->field(i);
      if (f->message_type() != nullptr && IsSealedType(*f->message_type()))
        out.push_back(f);
    }
  }
  return out;
}

TEST(SealingFieldNameTest, TheCaseServicesConstantsAreItsFieldsFullNames) {
  for (std::string_view constant :
       {casesvc::kSealedParticipantDetails, casesvc::kSealedParticipantNeeds,
        casesvc::kSealedOffenceSummary, casesvc::kSealedAcknowledgementNotes,
        casesvc::kSealedRiskAssessmentNotes}) {
    const size_t dot = constant.rfind('.');
    const pb::Descriptor* type =
        pb::DescriptorPool::generated_pool()->FindMessageTypeByName(
            std::string(constant.substr(0, dot)));
    ASSERT_NE(type, nullptr) << constant;
    const pb::FieldDescriptor* field =
        type->FindFieldByName(std::string(constant.substr(dot + 1)));
    ASSERT_NE(field, nullptr) << constant;
    ASSERT_NE(field->message_type(), nullptr) << constant;
    EXPECT_TRUE(IsSealedType(*field->message_type())) << constant;
    EXPECT_EQ(SealingFieldName(*field), constant);
  }
}

TEST(SealingFieldNameTest, EverySealedFieldOfTheCaseEventsHasAConstant) {
  const std::vector<std::string_view> constants = {
      casesvc::kSealedParticipantDetails, casesvc::kSealedParticipantNeeds,
      casesvc::kSealedOffenceSummary, casesvc::kSealedAcknowledgementNotes,
      casesvc::kSealedRiskAssessmentNotes};
  const std::vector<const pb::FieldDescriptor*> fields =
      SealedFields(*case_v1::CaseReferred::descriptor()->file());
  EXPECT_EQ(fields.size(), constants.size());
  for (const pb::FieldDescriptor* f : fields) {
    EXPECT_NE(std::find(constants.begin(), constants.end(), SealingFieldName(*f)),
              constants.end())
        << f->full_name() << " is sealed under " << SealingFieldName(*f)
        << ", which the case service does not name";
  }
}

TEST(SealingFieldNameTest, TheConferenceServicesOwnNames) {
  const std::map<std::string, std::string> expected = {
      {"mend.conference.v1.LetterDraftSubmitted.text", "letter.text"},
      {"mend.conference.v1.LetterReviewed.notes", "letter.review_notes"},
      {"mend.conference.v1.LetterResponseRecorded.response", "letter.response"},
      {"mend.conference.v1.ShuttleMessageCarried.text", "shuttle.text"},
      {"mend.conference.v1.PreparationRecorded.support_needs",
       "preparation.support_needs"},
      {"mend.conference.v1.ConferenceHeld.outline", "conference.outline"},
      {"mend.conference.v1.AgreementItem.what", "agreement.item"},
      {"mend.conference.v1.FeedbackRecorded.comments", "feedback.comments"},
  };
  // Every Sealed field of the conference events is one of these: a new one
  // must be given the name the service seals it under.
  std::map<std::string, std::string> found;
  for (const pb::FieldDescriptor* f :
       SealedFields(*conference_v1::LetterDraftSubmitted::descriptor()->file())) {
    found[f->full_name()] = SealingFieldName(*f);
  }
  EXPECT_EQ(found, expected);
}

TEST(PlaintextTypeTest, DetailsAndNeedsAreMessagesTheRestText) {
  EXPECT_EQ(PlaintextType(casesvc::kSealedParticipantDetails),
            case_v1::PersonalDetails::descriptor());
  EXPECT_EQ(PlaintextType(casesvc::kSealedParticipantNeeds),
            case_v1::Needs::descriptor());
  EXPECT_EQ(PlaintextType(casesvc::kSealedOffenceSummary), nullptr);
  EXPECT_EQ(PlaintextType("letter.text"), nullptr);
}

TEST(CaseOfStreamTest, ThePartAfterTheServicesPrefix) {
  EXPECT_EQ(CaseOfStream("case-5f0c-11aa"), "5f0c-11aa");
  EXPECT_EQ(CaseOfStream("consent-c1"), "c1");
  EXPECT_EQ(CaseOfStream("schedule-c1"), "c1");
  EXPECT_EQ(CaseOfStream("conference-c1"), "c1");
  EXPECT_EQ(CaseOfStream("other-c1"), "");
}

// A fake key store: "<key_id>|<field>" → plaintext; erased key ids are
// NOT_FOUND; anything else DATA_LOSS (as a wrong field name is).
class FakeKeys {
 public:
  void Put(const std::string& key_id, std::string_view field, std::string plaintext) {
    plain_[absl::StrCat(key_id, "|", std::string(field))] = std::move(plaintext);
  }
  void Erase(const std::string& key_id) { erased_.insert(key_id); }
  UnsealFn Fn() {
    return [this](std::string_view key_id, const common_v1::Sealed& sealed,
                  std::string_view field) -> absl::StatusOr<std::string> {
      if (erased_.contains(std::string(key_id))) {
        return absl::NotFoundError("the person's data was erased");
      }
      auto it = plain_.find(absl::StrCat(std::string(key_id), "|", std::string(field)));
      if (it == plain_.end() || sealed.ciphertext() != "ct") {
        return absl::DataLossError("does not open");
      }
      return it->second;
    };
  }

 private:
  std::map<std::string, std::string> plain_;
  std::set<std::string> erased_;
};

common_v1::Sealed Ct(const std::string& person) {
  common_v1::Sealed s;
  s.set_person_id(person);
  s.set_ciphertext("ct");
  return s;
}

TEST(UnsealedPayloadJsonTest, ReplacesNestedAndRepeatedSealedValues) {
  case_v1::CaseReferred referred;
  referred.set_case_id("c1");
  referred.set_reference("RJ-2026-000001");
  *referred.mutable_offence_summary() = Ct("su1");
  for (const char* id : {"su1", "v1", "v2"}) {
    case_v1::Participant* p = referred.add_participants();
    p->set_participant_id(id);
    *p->mutable_details() = Ct(id);
  }
  // v2 gave no needs; su1's needs do not open.
  *referred.mutable_participants(0)->mutable_needs() = Ct("su1");
  referred.mutable_participants(2)->mutable_needs();  // present, not given

  FakeKeys keys;
  case_v1::PersonalDetails su_details;
  su_details.set_full_name("Samuel Offleigh");
  keys.Put("c1/su1", casesvc::kSealedParticipantDetails, su_details.SerializeAsString());
  keys.Put("c1/su1", casesvc::kSealedOffenceSummary, "Street robbery");
  keys.Erase("c1/v1");
  case_v1::PersonalDetails v2_details;
  v2_details.set_full_name("Vera Two");
  keys.Put("c1/v2", casesvc::kSealedParticipantDetails, v2_details.SerializeAsString());

  UnsealStats stats;
  const Json json = Json::parse(UnsealedPayloadJson(referred, "c1", keys.Fn(), &stats));
  EXPECT_EQ(json["reference"], "RJ-2026-000001");
  EXPECT_EQ(json["offence_summary"]["plaintext"], "Street robbery");
  EXPECT_EQ(json["offence_summary"]["field"],
            std::string(casesvc::kSealedOffenceSummary));
  const Json& su = json["participants"][0];
  EXPECT_EQ(su["details"]["plaintext"]["full_name"], "Samuel Offleigh");
  EXPECT_EQ(su["details"]["person_id"], "su1");
  EXPECT_EQ(su["details"]["key_id"], "c1/su1");
  EXPECT_THAT(su["needs"]["unreadable"].get<std::string>(), HasSubstr("does not open"));
  EXPECT_FALSE(su["needs"].contains("plaintext"));
  const Json& v1 = json["participants"][1];
  EXPECT_EQ(v1["details"]["erased"], true);
  EXPECT_FALSE(v1["details"].contains("plaintext"));
  EXPECT_FALSE(v1["details"].contains("ciphertext"));
  const Json& v2 = json["participants"][2];
  EXPECT_EQ(v2["details"]["plaintext"]["full_name"], "Vera Two");
  EXPECT_EQ(v2["needs"], Json::object());  // not given: as it was
  EXPECT_EQ(stats.opened, 3u);
  EXPECT_EQ(stats.erased, 1u);
  EXPECT_EQ(stats.unreadable, 1u);
}

TEST(UnsealedPayloadJsonTest, TheConferenceServicesFieldNamesOpenItsValues) {
  conference_v1::OutcomeAgreementRecorded agreement;
  agreement.set_case_id("c1");
  for (const char* owner : {"su1", "v1"}) {
    conference_v1::AgreementItem* item = agreement.add_items();
    item->set_item_id(absl::StrCat("item-", owner));
    *item->mutable_what() = Ct(owner);
    item->set_owner_id(owner);
  }
  FakeKeys keys;
  keys.Put("c1/su1", "agreement.item", "Write to the charity.");
  keys.Put("c1/v1", "agreement.item", "Read the letter.");
  UnsealStats stats;
  const Json json = Json::parse(UnsealedPayloadJson(agreement, "c1", keys.Fn(), &stats));
  EXPECT_EQ(json["items"][0]["what"]["plaintext"], "Write to the charity.");
  EXPECT_EQ(json["items"][1]["what"]["plaintext"], "Read the letter.");
  EXPECT_EQ(json["items"][1]["owner_id"], "v1");
  EXPECT_EQ(stats.opened, 2u);
  EXPECT_EQ(stats.unreadable, 0u);
}

// A real key store in a service's database, then opened as the export
// opens it.
class SealedOpenerTest : public ::testing::Test {
 protected:
  void SetUp() override {
    ASSERT_THAT(crypto::KeyStore::WriteNewMasterKey(dir_.Sub("master.key")), IsOk());
    auto store = eventlog::EventStore::Open({.path = dir_.Sub("log")});
    ASSERT_THAT(store, IsOk());
    auto keys = crypto::KeyStore::Open(store->get(), dir_.Sub("master.key"));
    ASSERT_THAT(keys, IsOk());
    auto su = (*keys)->Seal("c1/su1", "Samuel Offleigh", "mend.case.v1.Test.field");
    ASSERT_THAT(su, IsOk());
    su_.set_person_id("su1");
    su_.set_ciphertext(*su);
    auto v = (*keys)->Seal("c1/v1", "Verity Quill", "mend.case.v1.Test.field");
    ASSERT_THAT(v, IsOk());
    v_.set_person_id("v1");
    v_.set_ciphertext(*v);
    ASSERT_THAT((*keys)->Erase("c1/v1"), IsOk());
  }

  TempDir dir_;
  common_v1::Sealed su_, v_;
};

TEST_F(SealedOpenerTest, OpensWhatTheStoreSealedAndNotAnErasedPersons) {
  // The service's store is closed (SetUp's went out of scope); the opener
  // reads it as a secondary.
  absl::StatusOr<std::unique_ptr<SealedOpener>> opener =
      SealedOpener::Open(dir_.Sub("log"), dir_.Sub("master.key"));
  ASSERT_THAT(opener, IsOk());
  EXPECT_THAT((*opener)->Unseal("c1/su1", su_, "mend.case.v1.Test.field"),
              ::mend::testing::IsOkAndHolds(std::string("Samuel Offleigh")));
  EXPECT_THAT((*opener)->Unseal("c1/v1", v_, "mend.case.v1.Test.field"),
              StatusIs(absl::StatusCode::kNotFound));
  // Another field name does not open it (the name is bound in).
  EXPECT_THAT((*opener)->Unseal("c1/su1", su_, "mend.case.v1.Test.other"),
              StatusIs(absl::StatusCode::kDataLoss));
}

TEST_F(SealedOpenerTest, AnotherMasterKeyOrNoDatabaseIsRefused) {
  ASSERT_THAT(crypto::KeyStore::WriteNewMasterKey(dir_.Sub("other.key")), IsOk());
  EXPECT_THAT(SealedOpener::Open(dir_.Sub("log"), dir_.Sub("other.key")),
              StatusIs(absl::StatusCode::kFailedPrecondition, HasSubstr("--master_key")));
  EXPECT_THAT(SealedOpener::Open(dir_.Sub("log"), dir_.Sub("missing.key")),
              StatusIs(absl::StatusCode::kFailedPrecondition));
  EXPECT_THAT(SealedOpener::Open(dir_.path(), dir_.Sub("master.key")),
              StatusIs(absl::StatusCode::kFailedPrecondition, HasSubstr("no event log")));
}

}  // namespace
}  // namespace mend::audit
