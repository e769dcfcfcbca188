// What the consent service's reads answer, built from the folded facts: the
// GetConsents, GetDecision, ListDecisions and ExplainDecision responses. The
// gRPC handlers (authorize, validate, wait, read the facts under the case's
// lock) and the audit tool's replay (the facts folded from a log) both call
// these, so a replayed case reads exactly as the service answers it.
//
//   consent_v1::GetConsentsResponse consents = ConsentsView(facts);
//   MEND_ASSIGN_OR_RETURN(uint64_t after, DecodePositionPageToken(
//                             kListDecisionsMethod, request.page_token()));
//   consent_v1::ListDecisionsResponse page = DecisionsPage(facts, after, 50);
//
// Nothing here is personal data (consent holds no sealed values), so every
// reader who may read a case sees the same view of it; who may read is the
// handler's check (CheckCanRead).
//
// Plain C++: no gRPC, no RocksDB, no clock. Thread-safe (pure functions).
#ifndef MEND_SERVICES_CONSENT_CONSENT_VIEW_H_
#define MEND_SERVICES_CONSENT_CONSENT_VIEW_H_

#include <cstdint>

#include "mend/consent/v1/consent_service.pb.h"
#include "services/consent/consent_state.h"
#include "services/consent/contact_decision.h"

namespace mend::consentsvc {

// The method ListDecisions' page tokens are made for (page_token.h).
inline constexpr char kListDecisionsMethod[] = "ListDecisions";

// One decision as the reads and DecideContact answer it.
consent_v1::ContactDecision DecisionView(const DecisionRecord& record);

// Every participant the case has, every consent scope (UNSPECIFIED aside, in
// enum order), each scope's history oldest first and its current status (the
// last answer's; UNSPECIFIED when never asked).
consent_v1::GetConsentsResponse ConsentsView(const CaseFacts& facts);

// The decisions recorded after consent-log position `after` (0: from the
// first), oldest first, at most `page_size` (> 0) of them. When more follow,
// next_page_token is the token (EncodePageToken(kListDecisionsMethod, …)) of
// the last one given; otherwise it is empty.
consent_v1::ListDecisionsResponse DecisionsPage(const CaseFacts& facts, uint64_t after,
                                                int32_t page_size);

// The ExplainDecision answer: the recorded decision beside what re-running
// its rule gives (`explained`, ExplainDecision in contact_decision.h).
consent_v1::ExplainDecisionResponse ExplanationView(const DecisionRecord& recorded,
                                                    Explanation explained);

}  // namespace mend::consentsvc

#endif  // MEND_SERVICES_CONSENT_CONSENT_VIEW_H_
