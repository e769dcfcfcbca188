// What GetCaseContact answers, built from the folded state: the case's
// letters, shuttle messages, preparations, conferences, agreement and
// feedback. The gRPC handler (authorize, validate, wait, read the state) and
// the audit tool's replay (the state folded from a log) both call
// ContactView, so a replayed case reads exactly as the service answers it.
//
// The words are sealed in the state (conference_state.h), and opening them
// needs the key store, which is not the domain's: ContactView asks `show`
// for each sealed value that was given, naming the kSealed* field it was
// sealed under. The handler passes an unsealing callback to those who may
// see the words (MaySeeWords) and Withhold to everyone else:
//
//   ShowFn show = Withhold;
//   if (MaySeeWords(caller.role)) {
//     show = [&](const common_v1::Sealed& s, std::string_view field) {
//       return Unsealed(state.case_id, s, field);  // text, or erased
//     };
//   }
//   conference_v1::CaseContactView view = ContactView(state, show);
//   *view.mutable_handled() = followers_handled_now;  // the handler's to add
//
// Pure apart from the callback; thread-safe if the callback is.
#ifndef MEND_SERVICES_CONFERENCE_CONFERENCE_VIEW_H_
#define MEND_SERVICES_CONFERENCE_CONFERENCE_VIEW_H_

#include <functional>
#include <string_view>

#include "common/base/role.h"
#include "mend/conference/v1/conference_service.pb.h"
#include "services/conference/conference_state.h"

namespace mend::conferencesvc {

// The words of one sealed value as the reader is shown them: the text,
// erased (the person's key is gone, I6) or withheld. Called only for a value
// that was given (a ciphertext); `field` is the kSealed* name it was sealed
// under.
using ShowFn = std::function<conference_v1::Text(const common_v1::Sealed& sealed,
                                                 std::string_view field)>;

// True for the people who work the case, who may read its words (I5):
// facilitators (CheckCanAct has checked the allocation) and managers.
// Auditors and services are shown that there were words, never the words.
bool MaySeeWords(Role role);

// The ShowFn of a reader who may not see the words: withheld.
conference_v1::Text Withhold(const common_v1::Sealed& sealed, std::string_view field);

// The case's contact as GetCaseContact answers it, each sealed value given
// shown by `show` (a value not given is an empty Text). `handled` is left
// empty: the followers' progress is the service's, not the state's.
conference_v1::CaseContactView ContactView(const ConferenceState& state,
                                           const ShowFn& show);

}  // namespace mend::conferencesvc

#endif  // MEND_SERVICES_CONFERENCE_CONFERENCE_VIEW_H_
