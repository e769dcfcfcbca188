// What the conference service makes of upstream events: the facts it keeps
// (UpstreamFactRecorded) and the cascades they set off, by events of its
// own (DESIGN, I3). Pure: the follower handler reads the state and appends
// [the fact, Cascade(...)...] to the case's conference stream in one write
// with its checkpoint, so a crash neither loses nor repeats a cascade.
//
// The cascades, on the state before the fact is folded:
//   withdrawal    every pending letter delivery whose letter's victim or
//                 author withdrew PARTICIPATE or RECEIVE_LETTER is cancelled
//                 (LetterDeliveryCancelled{CONSENT_WITHDRAWN}); a conference
//                 in progress whose start approval relied on the withdrawn
//                 consent (the victim's PARTICIPATE or the kind's scope, the
//                 service user's scope) is stopped (ConferenceStopped) — both
//                 naming the withdrawal's consent-log position
//   paused        every pending delivery cancelled and a conference in
//                 progress stopped (CASE_PAUSED)
//   closed        the same (CASE_CLOSED)
//   booking cancelled (scheduling)  a conference in progress on that
//                 booking is stopped (BOOKING_CANCELLED)
// Every other fact (participants, allocations, releases, resumes, risk
// assessments, erasures, bookings) only changes the facts. (An erasure also
// deletes the person's key in this service's key store: the gRPC layer does
// that once the fact is durable.)
#ifndef MEND_SERVICES_CONFERENCE_CONFERENCE_CASCADE_H_
#define MEND_SERVICES_CONFERENCE_CONFERENCE_CASCADE_H_

#include <cstdint>
#include <optional>
#include <string_view>
#include <vector>

#include "absl/status/statusor.h"
#include "common/eventlog/record_codec.h"
#include "services/conference/conference_decide.h"
#include "services/conference/conference_state.h"

namespace mend::conferencesvc {

// The fact in the case record `bytes` (decoded: `view`) at case-log
// position `position`: participants (CaseReferred, ParticipantAdded),
// FacilitatorAllocated, FacilitatorReleased, RiskAssessmentRecorded,
// CasePaused, CaseResumed, CaseClosed, ParticipantErased; nullopt for any
// other case event. DATA_LOSS for a payload of one of those that does not
// parse or has no case_id.
absl::StatusOr<std::optional<conference_v1::UpstreamFactRecorded>> CaseFact(
    uint64_t position, std::string_view bytes, const eventlog::RecordView& view);
// The consent log: ConsentWithdrawn; nullopt for the rest.
absl::StatusOr<std::optional<conference_v1::UpstreamFactRecorded>> ConsentFact(
    uint64_t position, std::string_view bytes, const eventlog::RecordView& view);
// The scheduling log: ConferenceBooked and PreparationMeetingBooked
// (slot_booked: a conference's kind from its format), BookingCancelled of a
// booking the state knows (booking_cancelled) — the state decides, since
// scheduling cancels sessions too; nullopt for the rest.
absl::StatusOr<std::optional<conference_v1::UpstreamFactRecorded>> SchedulingFact(
    uint64_t position, std::string_view bytes, const eventlog::RecordView& view,
    const ConferenceState& state);

// The events the fact sets off (not the fact itself), decided on `state`
// (without the fact), with `handled` in each.
absl::StatusOr<std::vector<ConferenceEvent>> Cascade(
    const ConferenceState& state, const conference_v1::UpstreamFactRecorded& fact,
    const Handled& handled);

}  // namespace mend::conferencesvc

#endif  // MEND_SERVICES_CONFERENCE_CONFERENCE_CASCADE_H_
