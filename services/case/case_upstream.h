// The facts the case service keeps from the scheduling and conference logs
// (DESIGN: case listens to scheduling — programme completed — and to
// conference — conference held, follow-up done). The case service's own
// code: it parses the upstream payloads itself and keeps only ids, so how
// the case replays and explains its stages never depends on the other
// services' code. DecideUpstreamFact (case_decide.h) then folds a fact and
// makes the stage moves it allows.
//
//   absl::StatusOr<std::optional<case_v1::UpstreamFactRecorded>> fact =
//       SchedulingFact(event.position, event.bytes, event.view);
//
// Each returns nullopt for an event the case keeps nothing of, the fact
// (with the upstream record's position, type, id, hash and time) otherwise,
// and DATA_LOSS for a payload that does not parse or names no case (the
// follower then stops at that event and retries: it never skips one).
//
// Kept from scheduling: ProgrammeCompleted, ConferenceBooked, and every
// BookingCancelled (DecideUpstreamFact keeps only those of a conference
// booking the case knows). From conference: ConferenceHeld,
// ConferenceAbandoned and ConferenceStopped (not held), FollowUpCompleted.
//
// Plain C++: no gRPC, no RocksDB, no clock.
#ifndef MEND_SERVICES_CASE_CASE_UPSTREAM_H_
#define MEND_SERVICES_CASE_CASE_UPSTREAM_H_

#include <cstdint>
#include <optional>
#include <string_view>

#include "absl/status/statusor.h"
#include "common/eventlog/record_codec.h"
#include "mend/case/v1/events.pb.h"

namespace mend::casesvc {

absl::StatusOr<std::optional<case_::v1::UpstreamFactRecorded>> SchedulingFact(
    uint64_t position, std::string_view bytes, const eventlog::RecordView& view);

absl::StatusOr<std::optional<case_::v1::UpstreamFactRecorded>> ConferenceFact(
    uint64_t position, std::string_view bytes, const eventlog::RecordView& view);

}  // namespace mend::casesvc

#endif  // MEND_SERVICES_CASE_CASE_UPSTREAM_H_
