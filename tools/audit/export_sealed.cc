#include "tools/audit/export_sealed.h"

#include <stdlib.h>

#include <cerrno>
#include <cstring>
#include <filesystem>
#include <utility>
#include <vector>

#include "absl/container/flat_hash_map.h"
#include "absl/strings/str_cat.h"
#include "common/base/status_macros.h"
#include "nlohmann/json.hpp"
#include "services/case/case_state.h"
#include "services/conference/conference_state.h"
#include "services/consent/consent_state.h"
#include "services/scheduling/schedule_state.h"
#include "tools/audit/event_json.h"

namespace mend::audit {
namespace {

namespace pb = ::google::protobuf;
using Json = nlohmann::ordered_json;

// The conference service's names (conference_state.h kSealed*), by the
// event field the Sealed is put in (conference_decide.cc).
const absl::flat_hash_map<std::string, std::string_view>& ConferenceFieldNames() {
  namespace conf = ::mend::conferencesvc;
  static const auto* const names = new absl::flat_hash_map<std::string, std::string_view>{
      {"mend.conference.v1.LetterDraftSubmitted.text", conf::kSealedLetterText},
      {"mend.conference.v1.LetterReviewed.notes", conf::kSealedLetterReviewNotes},
      {"mend.conference.v1.LetterResponseRecorded.response", conf::kSealedLetterResponse},
      {"mend.conference.v1.ShuttleMessageCarried.text", conf::kSealedShuttleText},
      {"mend.conference.v1.PreparationRecorded.support_needs",
       conf::kSealedPreparationSupportNeeds},
      {"mend.conference.v1.ConferenceHeld.outline", conf::kSealedConferenceOutline},
      {"mend.conference.v1.AgreementItem.what", conf::kSealedAgreementItem},
      {"mend.conference.v1.FeedbackRecorded.comments", conf::kSealedFeedbackComments},
  };
  return *names;
}

// A map key as protobuf JSON writes it (strings as they are, numbers in
// decimal, bools as true/false).
std::string MapKey(const pb::Message& entry) {
  const pb::FieldDescriptor* key = entry.GetDescriptor()->map_key();
  const pb::Reflection* r = entry.GetReflection();
  switch (key->cpp_type()) {
    case pb::FieldDescriptor::CPPTYPE_STRING:
      return r->GetString(entry, key);
    case pb::FieldDescriptor::CPPTYPE_INT32:
      return absl::StrCat(r->GetInt32(entry, key));
    case pb::FieldDescriptor::CPPTYPE_INT64:
      return absl::StrCat(r->GetInt64(entry, key));
    case pb::FieldDescriptor::CPPTYPE_UINT32:
      return absl::StrCat(r->GetUInt32(entry, key));
    case pb::FieldDescriptor::CPPTYPE_UINT64:
      return absl::StrCat(r->GetUInt64(entry, key));
    case pb::FieldDescriptor::CPPTYPE_BOOL:
      return r->GetBool(entry, key) ? "true" : "false";
    default:
      return "";
  }
}

class Unsealer {
 public:
  Unsealer(std::string_view case_id, const UnsealFn& unseal, UnsealStats* stats)
      : case_id_(case_id), unseal_(unseal), stats_(stats) {}

  // Replaces the Sealed values in `json`, the JSON of `message`.
  void Walk(const pb::Message& message, Json& json) {
    if (!json.is_object()) return;
    const pb::Reflection* r = message.GetReflection();
    std::vector<const pb::FieldDescriptor*> fields;
    r->ListFields(message, &fields);
    for (const pb::FieldDescriptor* field : fields) {
      if (field->cpp_type() != pb::FieldDescriptor::CPPTYPE_MESSAGE) continue;
      auto node = json.find(field->name());
      if (node == json.end()) continue;
      if (field->is_map()) {
        const pb::FieldDescriptor* value = field->message_type()->map_value();
        if (value->cpp_type() != pb::FieldDescriptor::CPPTYPE_MESSAGE) continue;
        for (int i = 0; i < r->FieldSize(message, field); ++i) {
          const pb::Message& entry = r->GetRepeatedMessage(message, field, i);
          auto item = node->find(MapKey(entry));
          if (item == node->end()) continue;
          Visit(*field, entry.GetReflection()->GetMessage(entry, value), *item);
        }
      } else if (field->is_repeated()) {
        if (!node->is_array()) continue;
        const int n = r->FieldSize(message, field);
        for (int i = 0; i < n && static_cast<size_t>(i) < node->size(); ++i) {
          Visit(*field, r->GetRepeatedMessage(message, field, i), (*node)[i]);
        }
      } else {
        Visit(*field, r->GetMessage(message, field), *node);
      }
    }
  }

 private:
  // One message value of `field`: a Sealed is replaced, anything else
  // walked (well-known types have JSON forms of their own and hold no
  // Sealed: left alone).
  void Visit(const pb::FieldDescriptor& field, const pb::Message& value, Json& json) {
    const pb::Descriptor& type = *value.GetDescriptor();
    if (IsSealedType(type)) {
      common::v1::Sealed sealed;
      sealed.CopyFrom(value);  // the generated type, also if `value` is dynamic
      if (!sealed.ciphertext().empty()) json = Replacement(field, sealed);
      return;
    }
    if (type.file()->package() == "google.protobuf") return;
    Walk(value, json);
  }

  Json Replacement(const pb::FieldDescriptor& field, const common::v1::Sealed& sealed) {
    const std::string name = SealingFieldName(field);
    const std::string key_id = casesvc::PersonKeyId(case_id_, sealed.person_id());
    Json out;
    out["person_id"] = sealed.person_id();
    out["key_id"] = key_id;
    out["field"] = name;
    absl::StatusOr<std::string> plain = unseal_(key_id, sealed, name);
    if (absl::IsNotFound(plain.status())) {
      ++stats_->erased;
      out["erased"] = true;
      return out;
    }
    if (!plain.ok()) {
      ++stats_->unreadable;
      out["unreadable"] = std::string(plain.status().message());
      return out;
    }
    const pb::Descriptor* type = PlaintextType(name);
    if (type == nullptr) {
      ++stats_->opened;
      out["plaintext"] = *std::move(plain);
      return out;
    }
    std::unique_ptr<pb::Message> message(
        pb::MessageFactory::generated_factory()->GetPrototype(type)->New());
    if (!message->ParseFromString(*plain)) {
      ++stats_->unreadable;
      out["unreadable"] =
          absl::StrCat("the plaintext does not parse as ", type->full_name());
      return out;
    }
    ++stats_->opened;
    out["plaintext"] = Json::parse(MessageToJson(*message));
    return out;
  }

  const std::string case_id_;
  const UnsealFn& unseal_;
  UnsealStats* const stats_;
};

}  // namespace

bool IsSealedType(const pb::Descriptor& type) {
  return type.full_name() == common::v1::Sealed::descriptor()->full_name();
}

std::string SealingFieldName(const pb::FieldDescriptor& field) {
  std::string name =
      absl::StrCat(field.containing_type()->full_name(), ".", field.name());
  const auto& conference = ConferenceFieldNames();
  if (auto it = conference.find(name); it != conference.end()) {
    return std::string(it->second);
  }
  return name;
}

const pb::Descriptor* PlaintextType(std::string_view sealing_field) {
  if (sealing_field == casesvc::kSealedParticipantDetails) {
    return casesvc::case_v1::PersonalDetails::descriptor();
  }
  if (sealing_field == casesvc::kSealedParticipantNeeds) {
    return casesvc::case_v1::Needs::descriptor();
  }
  return nullptr;
}

std::string CaseOfStream(std::string_view stream_id) {
  // The services' own stream names, each "<prefix><case_id>".
  static const std::vector<std::string>* const kPrefixes = new std::vector<std::string>{
      casesvc::CaseStreamId(""), consentsvc::ConsentStreamId(""),
      schedulingsvc::kScheduleStreamPrefix, conferencesvc::kConferenceStreamPrefix};
  for (const std::string& prefix : *kPrefixes) {
    if (stream_id.starts_with(prefix))
      return std::string(stream_id.substr(prefix.size()));
  }
  return "";
}

std::string UnsealedPayloadJson(const pb::Message& payload, std::string_view case_id,
                                const UnsealFn& unseal, UnsealStats* stats) {
  Json json = Json::parse(MessageToJson(payload), nullptr, /*allow_exceptions=*/false);
  if (json.is_discarded()) return MessageToJson(payload);
  Unsealer(case_id, unseal, stats).Walk(payload, json);
  // Plaintexts are the service's UTF-8 text; a byte that is not is replaced
  // rather than failing the export.
  return json.dump(-1, ' ', false, nlohmann::json::error_handler_t::replace);
}

// ---------------------------------------------------------------------------

SealedOpener::SealedOpener(std::string scratch,
                           std::unique_ptr<eventlog::EventStore> store,
                           std::unique_ptr<crypto::KeyStore> keys)
    : scratch_(std::move(scratch)), store_(std::move(store)), keys_(std::move(keys)) {}

SealedOpener::~SealedOpener() {
  keys_.reset();
  store_.reset();  // before its secondary's files go
  std::error_code ignored;
  std::filesystem::remove_all(scratch_, ignored);
}

absl::StatusOr<std::unique_ptr<SealedOpener>> SealedOpener::Open(
    const std::string& directory, const std::string& master_key) {
  std::error_code error;
  if (!std::filesystem::exists(std::filesystem::path(directory) / "CURRENT", error)) {
    return absl::FailedPreconditionError(
        absl::StrCat(directory, ": holds no event log (no RocksDB database in it)"));
  }
  const char* tmp = getenv("TMPDIR");
  std::string scratch = absl::StrCat(tmp != nullptr && *tmp != '\0' ? tmp : "/tmp",
                                     "/mend-audit-keys-XXXXXX");
  if (mkdtemp(scratch.data()) == nullptr) {
    return absl::FailedPreconditionError(absl::StrCat(
        "cannot make a scratch directory ", scratch, ": ", std::strerror(errno)));
  }
  auto cleanup = [&scratch] {
    std::error_code ignored;
    std::filesystem::remove_all(scratch, ignored);
  };
  eventlog::EventStore::Options options;
  options.path = directory;
  options.create_if_missing = false;
  options.read_only = true;
  options.secondary_path = scratch + "/secondary";
  absl::StatusOr<std::unique_ptr<eventlog::EventStore>> store =
      eventlog::EventStore::Open(options);
  if (!store.ok()) {
    cleanup();
    return store.status();
  }
  absl::StatusOr<std::unique_ptr<crypto::KeyStore>> keys =
      crypto::KeyStore::Open(store->get(), master_key);
  if (!keys.ok()) {
    store->reset();
    cleanup();
    return absl::Status(keys.status().code(),
                        absl::StrCat("--master_key: ", keys.status().message()));
  }
  return std::unique_ptr<SealedOpener>(
      new SealedOpener(std::move(scratch), *std::move(store), *std::move(keys)));
}

absl::StatusOr<std::string> SealedOpener::Unseal(std::string_view key_id,
                                                 const common::v1::Sealed& sealed,
                                                 std::string_view field) {
  return keys_->Unseal(key_id, sealed.ciphertext(), field);
}

}  // namespace mend::audit
