// What the scheduling service makes of upstream events: the facts it keeps
// (UpstreamFactRecorded) and the cascades they set off, by events of its
// own (DESIGN, I3). Pure: the follower handler (scheduling_service.cc) reads
// the state, asks the contact gate what QuestionsOnResume names, and appends
// [the fact, Cascade(...)...] to the case's schedule stream in one write with
// its checkpoint, so a crash neither loses nor repeats a cascade.
//
// The cascades, judged at `at` = the upstream event's recorded time (so a
// re-run decides the same), on the state before the fact is folded:
//   withdrawal            every live booking not over by `at` whose approval
//                         relied on the withdrawn consent (the victim's
//                         PARTICIPATE or the kind's scope, the service
//                         user's scope of the kind) is cancelled
//                         (CONSENT_WITHDRAWN, naming the withdrawal's
//                         consent-log position)
//   paused                every scheduled booking starting after `at` is
//                         held (one BookingsHeld)
//   resumed               every held booking: one whose start has passed is
//                         cancelled (PASSED_WHILE_HELD); one with a victim is
//                         released on a fresh APPROVED decision, cancelled on
//                         a refusal (REFUSED_ON_RESUME, naming it); any other
//                         is released
//   closed                every live booking not over by `at` is cancelled
//                         (CASE_CLOSED)
//   facilitator released  every live booking of theirs not over by `at`
//                         (FACILITATOR_RELEASED)
//   participant erased    every live booking of theirs not over by `at`
//                         (PARTICIPANT_ERASED)
// Participants and allocations only change the facts.
#ifndef MEND_SERVICES_SCHEDULING_SCHEDULE_CASCADE_H_
#define MEND_SERVICES_SCHEDULING_SCHEDULE_CASCADE_H_

#include <cstdint>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "absl/status/statusor.h"
#include "absl/time/time.h"
#include "common/eventlog/record_codec.h"
#include "services/scheduling/schedule_decide.h"
#include "services/scheduling/schedule_state.h"

namespace mend::schedulingsvc {

// The fact in the case record `bytes` (decoded: `view`) at case-log
// position `position`: participants (CaseReferred, ParticipantAdded),
// FacilitatorAllocated, FacilitatorReleased, CasePaused, CaseResumed,
// CaseClosed, ParticipantErased; nullopt for any other case event (nothing
// to keep). DATA_LOSS for a payload of one of those types that does not
// parse, or one without a case_id.
absl::StatusOr<std::optional<scheduling_v1::UpstreamFactRecorded>> CaseFact(
    uint64_t position, std::string_view bytes, const eventlog::RecordView& view);
// The same for the consent log: ConsentWithdrawn; nullopt for the rest.
absl::StatusOr<std::optional<scheduling_v1::UpstreamFactRecorded>> ConsentFact(
    uint64_t position, std::string_view bytes, const eventlog::RecordView& view);

// A held booking with a victim, whose decision must be taken again on a
// resume.
struct ResumeQuestion {
  std::string booking_id;
  ContactQuestion question;
};
// Every held booking with a victim starting after `at`, in booking order.
std::vector<ResumeQuestion> QuestionsOnResume(const ScheduleState& state, absl::Time at);

// The gate's answer to one ResumeQuestion.
struct ResumeAnswer {
  std::string booking_id;
  bool approved = false;
  scheduling_v1::Approval approval;  // the decision, approved or not
};

// The events the fact sets off (not the fact itself), decided on `state`
// (without the fact), with `handled` in each. For a resume, `answers` must
// answer every QuestionsOnResume(state, at) (INTERNAL naming the booking
// otherwise). The fact's `recorded_unix_micros` is `at`.
absl::StatusOr<std::vector<ScheduleEvent>> Cascade(
    const ScheduleState& state, const scheduling_v1::UpstreamFactRecorded& fact,
    const Handled& handled, const std::vector<ResumeAnswer>& answers);

}  // namespace mend::schedulingsvc

#endif  // MEND_SERVICES_SCHEDULING_SCHEDULE_CASCADE_H_
