// What a reader may see of a case: mend.case.v1.CaseView built from a
// CaseState, with personal data unsealed only for those who need to know
// (invariant I5).
//
//   MEND_RETURN_IF_ERROR(CanRead(case_id, state, caller));  // before anything
//   MEND_ASSIGN_OR_RETURN(case_v1::CaseView view,
//       BuildCaseView(state, caller,
//                     [&](std::string_view key_id, const common_v1::Sealed& s,
//                         std::string_view field) {
//                       return keys->Unseal(key_id, s.ciphertext(), field);
//                     }));
//
// Who reads what:
//   manager, facilitator allocated to the case
//       everything, personal data unsealed: participants' details and needs,
//       the offence summary.
//   auditor, service
//       the case without personal data: each participant's details and needs
//       left empty with redacted = true, the offence summary empty. The
//       unseal callback is never called for them.
//   facilitator not allocated to the case
//       nothing: CanRead is PERMISSION_DENIED (and so is BuildCaseView),
//       with the same message whether or not the case exists.
// There is no service-user-facing view; a victim's details reach only
// managers and the facilitators allocated to the case.
//
// Erased participants (ParticipantErased, or a key the unseal callback
// reports NOT_FOUND for) have erased = true and no details or needs, for
// every reader; an erased service user also takes the offence summary with
// them (it is sealed with their key).
//
// Pure apart from the callback; thread-safe if the callback is.
#ifndef MEND_SERVICES_CASE_CASE_VIEW_H_
#define MEND_SERVICES_CASE_CASE_VIEW_H_

#include <functional>
#include <string>
#include <string_view>

#include "absl/status/status.h"
#include "absl/status/statusor.h"
#include "common/base/role.h"
#include "mend/case/v1/case_service.pb.h"
#include "services/case/case_state.h"

namespace mend::casesvc {

// Opens one sealed field with the key `key_id` — PersonKeyId(the case's id,
// sealed.person_id), the case's own key for that participant (case_state.h,
// "Which key seals what") —: the plaintext, NOT_FOUND if the key is erased,
// any other error if it cannot be opened now (the view fails with it).
// `field` is one of the kSealed* names in case_state.h. Details and needs
// plaintexts are serialized PersonalDetails / Needs messages.
using UnsealFn = std::function<absl::StatusOr<std::string>(
    std::string_view key_id, const common_v1::Sealed& sealed, std::string_view field)>;

// OK if `caller` may read case `case_id`, whose state is `state` (CaseState{}
// when there is no such case): managers, auditors and services always,
// facilitators when allocated to it. A facilitator not allocated to it gets
// PERMISSION_DENIED `facilitator "<id>" is not allocated to case
// "<case_id>"` — also when the case does not exist, so a facilitator cannot
// tell unknown ids from others' cases; anyone else gets NOT_FOUND for a case
// that does not exist. INTERNAL if `state` is of another case.
absl::Status CanRead(std::string_view case_id, const CaseState& state,
                     const Caller& caller);

// True if `caller` may see the case's personal data: a manager, or a
// facilitator allocated to the case.
bool MaySeePersonalData(const CaseState& state, const Caller& caller);

// The case as `caller` may see it.
//   NOT_FOUND / PERMISSION_DENIED  as CanRead.
//   DATA_LOSS                      unsealed details or needs do not parse.
//   other                          what `unseal` returned, other than
//                                  NOT_FOUND (e.g. the key store failed).
absl::StatusOr<case_v1::CaseView> BuildCaseView(const CaseState& state,
                                                const Caller& caller,
                                                const UnsealFn& unseal);

}  // namespace mend::casesvc

#endif  // MEND_SERVICES_CASE_CASE_VIEW_H_
