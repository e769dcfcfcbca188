#include "services/conference/conference_validation.h"

#include <set>
#include <string>
#include <string_view>

#include "absl/strings/str_cat.h"
#include "common/base/status_macros.h"
#include "common/base/validation.h"
#include "mend/common/v1/contact.pb.h"

namespace mend::conferencesvc {
namespace {

namespace v1 = ::mend::conference::v1;

constexpr char kStream[] = "a case's conference stream";

// request_id, case_id and expected_version: every command has them.
template <typename Request>
absl::Status ValidateCommand(const Request& request) {
  MEND_RETURN_IF_ERROR(ValidateId("request_id", request.request_id()));
  MEND_RETURN_IF_ERROR(ValidateId("case_id", request.case_id()));
  return ValidateExpectedVersion(request.has_expected_version(),
                                 request.expected_version(), kStream);
}

// Personal text: required unless `required` is false, at most `limit` bytes.
absl::Status ValidateText(std::string_view field, const std::string& text, size_t limit,
                          bool required = true) {
  if (text.empty()) {
    return required ? Invalid(field, "is required") : absl::OkStatus();
  }
  if (text.size() > limit) {
    return Invalid(field, absl::StrCat("is ", text.size(), " bytes; at most ", limit));
  }
  return absl::OkStatus();
}

absl::Status ValidateVersion(int32_t version) {
  if (version < 1) return Invalid("version", "must be at least 1");
  return absl::OkStatus();
}

}  // namespace

absl::Status Validate(const v1::SubmitLetterDraftRequest& request) {
  MEND_RETURN_IF_ERROR(ValidateCommand(request));
  MEND_RETURN_IF_ERROR(ValidateOptionalId("letter_id", request.letter_id()));
  return ValidateText("text", request.text(), kMaxLetterLength);
}

absl::Status Validate(const v1::ReviewLetterRequest& request) {
  MEND_RETURN_IF_ERROR(ValidateCommand(request));
  MEND_RETURN_IF_ERROR(ValidateId("letter_id", request.letter_id()));
  MEND_RETURN_IF_ERROR(ValidateVersion(request.version()));
  MEND_RETURN_IF_ERROR(
      ValidateEnum("verdict", request.verdict(), v1::LetterVerdict_IsValid));
  return ValidateText("notes", request.notes(), kMaxNoteLength,
                      /*required=*/request.verdict() == v1::CHANGES_REQUESTED);
}

absl::Status Validate(const v1::OfferLetterRequest& request) {
  MEND_RETURN_IF_ERROR(ValidateCommand(request));
  MEND_RETURN_IF_ERROR(ValidateId("letter_id", request.letter_id()));
  return ValidateOptionalId("victim_id", request.victim_id());
}

absl::Status Validate(const v1::DeliverLetterRequest& request) {
  MEND_RETURN_IF_ERROR(ValidateCommand(request));
  MEND_RETURN_IF_ERROR(ValidateId("letter_id", request.letter_id()));
  return ValidateVersion(request.version());
}

absl::Status Validate(const v1::RecordLetterResponseRequest& request) {
  MEND_RETURN_IF_ERROR(ValidateCommand(request));
  MEND_RETURN_IF_ERROR(ValidateId("letter_id", request.letter_id()));
  MEND_RETURN_IF_ERROR(ValidateText("response", request.response(), kMaxLetterLength));
  if (!request.wants_further_contact() && request.further_contact_kinds_size() > 0) {
    return Invalid("further_contact_kinds", "only with wants_further_contact");
  }
  for (int i = 0; i < request.further_contact_kinds_size(); ++i) {
    MEND_RETURN_IF_ERROR(ValidateEnum(absl::StrCat("further_contact_kinds[", i, "]"),
                                      request.further_contact_kinds(i),
                                      common::v1::ContactKind_IsValid));
  }
  return absl::OkStatus();
}

absl::Status Validate(const v1::SendShuttleMessageRequest& request) {
  MEND_RETURN_IF_ERROR(ValidateCommand(request));
  MEND_RETURN_IF_ERROR(ValidateId("from_participant_id", request.from_participant_id()));
  MEND_RETURN_IF_ERROR(ValidateId("to_participant_id", request.to_participant_id()));
  if (request.from_participant_id() == request.to_participant_id()) {
    return Invalid("to_participant_id", "must be the other party");
  }
  return ValidateText("text", request.text(), kMaxNoteLength);
}

absl::Status Validate(const v1::RecordPreparationRequest& request) {
  MEND_RETURN_IF_ERROR(ValidateCommand(request));
  MEND_RETURN_IF_ERROR(ValidateId("booking_id", request.booking_id()));
  MEND_RETURN_IF_ERROR(ValidateText("support_needs", request.support_needs(),
                                    kMaxNoteLength,
                                    /*required=*/false));
  return ValidateOptionalId("supporter_id", request.supporter_id());
}

absl::Status Validate(const v1::StartConferenceRequest& request) {
  MEND_RETURN_IF_ERROR(ValidateCommand(request));
  return ValidateId("booking_id", request.booking_id());
}

absl::Status Validate(const v1::RecordConferenceHeldRequest& request) {
  MEND_RETURN_IF_ERROR(ValidateCommand(request));
  MEND_RETURN_IF_ERROR(ValidateId("booking_id", request.booking_id()));
  if (request.attendee_ids_size() < 2 || request.attendee_ids_size() > 20) {
    return Invalid("attendee_ids", "must name 2..20 participants");
  }
  std::set<std::string> seen;
  for (int i = 0; i < request.attendee_ids_size(); ++i) {
    const std::string field = absl::StrCat("attendee_ids[", i, "]");
    MEND_RETURN_IF_ERROR(ValidateId(field, request.attendee_ids(i)));
    if (!seen.insert(request.attendee_ids(i)).second)
      return Invalid(field, "is named twice");
  }
  return ValidateText("outline", request.outline(), kMaxLetterLength);
}

absl::Status Validate(const v1::AbandonConferenceRequest& request) {
  MEND_RETURN_IF_ERROR(ValidateCommand(request));
  MEND_RETURN_IF_ERROR(ValidateId("booking_id", request.booking_id()));
  return ValidateCode("reason", request.reason());
}

absl::Status Validate(const v1::RecordOutcomeAgreementRequest& request) {
  MEND_RETURN_IF_ERROR(ValidateCommand(request));
  if (request.items_size() < 1 || request.items_size() > kMaxAgreementItems) {
    return Invalid("items", absl::StrCat("must be 1..", kMaxAgreementItems, " items"));
  }
  for (int i = 0; i < request.items_size(); ++i) {
    const std::string prefix = absl::StrCat("items[", i, "]");
    const v1::NewAgreementItem& item = request.items(i);
    MEND_RETURN_IF_ERROR(ValidateText(prefix + ".what", item.what(), kMaxItemLength));
    MEND_RETURN_IF_ERROR(ValidateId(prefix + ".owner_id", item.owner_id()));
    MEND_RETURN_IF_ERROR(ValidateDate(prefix + ".due_date", item.due_date()));
  }
  if (request.consents_size() < 1 || request.consents_size() > 20) {
    return Invalid("consents", "must give every party's consent (1..20)");
  }
  std::set<std::string> seen;
  for (int i = 0; i < request.consents_size(); ++i) {
    const std::string field = absl::StrCat("consents[", i, "].participant_id");
    MEND_RETURN_IF_ERROR(ValidateId(field, request.consents(i).participant_id()));
    if (!seen.insert(request.consents(i).participant_id()).second) {
      return Invalid(field, "is named twice");
    }
  }
  return absl::OkStatus();
}

absl::Status Validate(const v1::CompleteItemRequest& request) {
  MEND_RETURN_IF_ERROR(ValidateCommand(request));
  return ValidateId("item_id", request.item_id());
}

absl::Status Validate(const v1::InformVictimRequest& request) {
  return ValidateCommand(request);
}

absl::Status Validate(const v1::RecordFeedbackRequest& request) {
  MEND_RETURN_IF_ERROR(ValidateCommand(request));
  MEND_RETURN_IF_ERROR(ValidateId("participant_id", request.participant_id()));
  if (request.satisfaction() < 1 || request.satisfaction() > 5) {
    return Invalid("satisfaction",
                   absl::StrCat("must be 1..5, not ", request.satisfaction()));
  }
  return ValidateText("comments", request.comments(), kMaxNoteLength, /*required=*/false);
}

absl::Status Validate(const v1::CompleteFollowUpRequest& request) {
  return ValidateCommand(request);
}

absl::Status Validate(const v1::GetCaseContactRequest& request) {
  return ValidateId("case_id", request.case_id());
}

}  // namespace mend::conferencesvc
