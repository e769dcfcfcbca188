// Input validation for mend.conference.v1.ConferenceService requests: the
// checks that need no state. Each returns OK or INVALID_ARGUMENT naming the
// field. Ids and codes as common/base/validation.h says; personal text
// (letters, responses, messages, needs, outlines, items, comments) is
// bounded in length and sealed by the service before it is stored; enums set
// and known; satisfaction 1..5; 1..50 agreement items with YYYY-MM-DD due
// dates. Rules that depend on the case are the domain's
// (conference_decide.h).
#ifndef MEND_SERVICES_CONFERENCE_CONFERENCE_VALIDATION_H_
#define MEND_SERVICES_CONFERENCE_CONFERENCE_VALIDATION_H_

#include <cstddef>

#include "absl/status/status.h"
#include "mend/conference/v1/conference_service.pb.h"

namespace mend::conferencesvc {

inline constexpr size_t kMaxLetterLength = 20000;
inline constexpr size_t kMaxNoteLength = 4000;
inline constexpr size_t kMaxItemLength = 1000;
inline constexpr int kMaxAgreementItems = 50;

absl::Status Validate(const conference::v1::SubmitLetterDraftRequest& request);
absl::Status Validate(const conference::v1::ReviewLetterRequest& request);
absl::Status Validate(const conference::v1::OfferLetterRequest& request);
absl::Status Validate(const conference::v1::DeliverLetterRequest& request);
absl::Status Validate(const conference::v1::RecordLetterResponseRequest& request);
absl::Status Validate(const conference::v1::SendShuttleMessageRequest& request);
absl::Status Validate(const conference::v1::RecordPreparationRequest& request);
absl::Status Validate(const conference::v1::StartConferenceRequest& request);
absl::Status Validate(const conference::v1::RecordConferenceHeldRequest& request);
absl::Status Validate(const conference::v1::AbandonConferenceRequest& request);
absl::Status Validate(const conference::v1::RecordOutcomeAgreementRequest& request);
absl::Status Validate(const conference::v1::CompleteItemRequest& request);
absl::Status Validate(const conference::v1::InformVictimRequest& request);
absl::Status Validate(const conference::v1::RecordFeedbackRequest& request);
absl::Status Validate(const conference::v1::CompleteFollowUpRequest& request);
absl::Status Validate(const conference::v1::GetCaseContactRequest& request);

}  // namespace mend::conferencesvc

#endif  // MEND_SERVICES_CONFERENCE_CONFERENCE_VALIDATION_H_
