// What the consent service writes when it learns a case event: the follower
// handler's pure part (no gRPC, no RocksDB).
//
//   Follower::Create(store, {.upstream = "case", ...},
//       [](const UpstreamEvent& e) { return ObserveCaseEvent(e.position, e.bytes,
//       e.view); });
//
// Every case event becomes one CaseEventObserved in the case's consent
// stream (expected version ANY: the follower never races a command for the
// right to record a fact; a command racing it gets ABORTED and re-decides on
// the new fact). The observation keeps the case event's position, type, id,
// correlation id (its case command), recorded time and the SHA-256 of the
// case record's stored bytes, and the payload with every
// mend.common.v1.Sealed field cleared (found by reflection, at any depth):
// the consent log holds no personal data, sealed or not. Its event id is
// "case@<position>", so a write whose outcome was unknown is deduplicated.
#ifndef MEND_SERVICES_CONSENT_CASE_OBSERVER_H_
#define MEND_SERVICES_CONSENT_CASE_OBSERVER_H_

#include <cstdint>
#include <string_view>

#include "absl/status/statusor.h"
#include "common/eventlog/event_types.h"
#include "common/eventlog/record_codec.h"
#include "mend/consent/v1/events.pb.h"
#include "services/consent/consent_state.h"

namespace mend::consentsvc {

// The observation of the case record `bytes` (decoded: `view`) at case-log
// position `position`. DATA_LOSS if it is not a case event consent folds
// (a type not in case_projection.h's CaseEvent, a payload that does not
// parse, no case_id).
absl::StatusOr<consent_v1::CaseEventObserved> ObserveCaseRecord(
    uint64_t position, std::string_view bytes, const eventlog::RecordView& view);

// The write that records it: one event in ConsentStreamId(case_id), actor
// "consent"/"service", correlation id the case event's.
eventlog::WriteRequest ObservationWrite(const consent_v1::CaseEventObserved& observed);

}  // namespace mend::consentsvc

#endif  // MEND_SERVICES_CONSENT_CASE_OBSERVER_H_
