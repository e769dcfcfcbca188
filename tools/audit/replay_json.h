// One case's replayed state as JSON, per service: through the views the
// service's own reads answer with, which its domain library builds (case
// BuildCaseView, consent ConsentsView / DecisionsPage, scheduling
// ScheduleView, conference ContactView), so the JSON parses back into the
// service's answer (the `handled` positions aside: they are the followers'
// progress, not in the log). Every view is the one an auditor is given:
// personal data is never shown.
//
// Sealed personal data stays sealed. Beside the view, "sealed" lists where
// each sealed value is and whose key opens it (never the ciphertext):
//   {"in":"participants[v-1].details","field":"mend.case.v1.Participant.details",
//    "person_id":"v-1","key_id":"<case>/v-1","ciphertext_bytes":57,
//    "person_erased":false}
//
// Per case:
//   case        {"case_id","view":CaseView,"sealed":[…]}
//   consent     {"case_id","consents":GetConsentsResponse,
//                "decisions":ListDecisionsResponse (every decision, one page)}
//   scheduling  {"case_id","schedule":GetCaseScheduleResponse}
//   conference  {"case_id","contact":CaseContactView (words withheld),
//                "sealed":[…]}
#ifndef MEND_TOOLS_AUDIT_REPLAY_JSON_H_
#define MEND_TOOLS_AUDIT_REPLAY_JSON_H_

#include "absl/status/statusor.h"
#include "nlohmann/json.hpp"
#include "services/case/case_state.h"
#include "services/conference/conference_state.h"
#include "services/consent/consent_state.h"
#include "services/scheduling/schedule_state.h"

namespace mend::audit {

// The JSON objects above. CaseJson fails only as BuildCaseView does (a
// state that is not a case's).
absl::StatusOr<nlohmann::ordered_json> CaseJson(const casesvc::CaseState& state);
nlohmann::ordered_json ConsentJson(const consentsvc::CaseFacts& facts);
nlohmann::ordered_json ScheduleJson(const schedulingsvc::ScheduleState& state);
nlohmann::ordered_json ConferenceJson(const conferencesvc::ConferenceState& state);

}  // namespace mend::audit

#endif  // MEND_TOOLS_AUDIT_REPLAY_JSON_H_
