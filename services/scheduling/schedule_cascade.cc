// The facts scheduling keeps from the case and consent logs, and the
// cascades they set off (schedule_cascade.h). Scheduling's own code: it
// parses the upstream payloads itself and keeps only ids and roles (never a
// Sealed field).
#include "services/scheduling/schedule_cascade.h"

#include <algorithm>
#include <utility>

#include "absl/status/status.h"
#include "absl/strings/str_cat.h"
#include "common/eventlog/upstream_fact.h"

namespace mend::schedulingsvc {
namespace {

constexpr char kCascadeActor[] = "scheduling";

template <typename T>
bool Is(std::string_view type) {
  return type == T::descriptor()->full_name();
}

// Only the id, role and who they support: never the Sealed details or needs.
void AddAttendee(const case_v1::Participant& p, scheduling_v1::Participants* out) {
  scheduling_v1::Attendee* a = out->add_participants();
  a->set_participant_id(p.participant_id());
  a->set_role(p.role());
  a->set_supports_participant_id(p.supports_participant_id());
}

// Builds the fact for a case event of type T, `fill` setting the fact.
template <typename T, typename Fill>
absl::StatusOr<std::optional<scheduling_v1::UpstreamFactRecorded>> CaseFactOf(
    uint64_t position, std::string_view bytes, const eventlog::RecordView& view,
    Fill fill) {
  return eventlog::UpstreamFact<scheduling_v1::UpstreamFactRecorded, T>(
      consent_v1::CASE_LOG, position, bytes, view, std::move(fill));
}

bool NotOverBy(const BookingFacts& b, absl::Time at) { return b.live() && b.end > at; }

// Whether a withdrawal by `participant_id` of `scopes` undoes the decision
// `approval` (the consents it relied on: the victim's PARTICIPATE and the
// kind's scope, the service user's scope of the kind).
bool ReliedOn(const scheduling_v1::Approval& approval, std::string_view participant_id,
              const google::protobuf::RepeatedField<int>& scopes) {
  const consent_v1::ConsentScope kind_scope = ScopeForKind(approval.kind());
  for (int s : scopes) {
    const auto scope = static_cast<consent_v1::ConsentScope>(s);
    if (!approval.victim_id().empty() && participant_id == approval.victim_id() &&
        (scope == consent_v1::PARTICIPATE || scope == kind_scope)) {
      return true;
    }
    if (!approval.service_user_id().empty() &&
        participant_id == approval.service_user_id() && scope == kind_scope) {
      return true;
    }
  }
  return false;
}

// Cascade event builders: every one names the case, the upstream fact that
// caused it and the positions handled.
class Builder {
 public:
  Builder(const scheduling_v1::UpstreamFactRecorded& fact, const Handled& handled)
      : fact_(fact), handled_(handled) {}

  ScheduleEvent Cancelled(const BookingFacts& b, scheduling_v1::CancellationCause cause,
                          std::string_view decision_id = {}) const {
    scheduling_v1::BookingCancelled e;
    e.set_case_id(fact_.case_id());
    e.set_booking_id(b.booking_id);
    e.set_cause(cause);
    e.set_cancelled_by(kCascadeActor);
    e.set_source(fact_.source());
    e.set_source_position(fact_.position());
    e.set_decision_id(std::string(decision_id));
    *e.mutable_handled() = handled_;
    return Encode(e);
  }

  ScheduleEvent Released(const BookingFacts& b,
                         const scheduling_v1::Approval* approval) const {
    scheduling_v1::BookingReleased e;
    e.set_case_id(fact_.case_id());
    e.set_booking_id(b.booking_id);
    e.set_case_position(fact_.position());
    if (approval != nullptr) *e.mutable_approval() = *approval;
    *e.mutable_handled() = handled_;
    return Encode(e);
  }

  ScheduleEvent Held(const std::vector<std::string>& booking_ids) const {
    scheduling_v1::BookingsHeld e;
    e.set_case_id(fact_.case_id());
    for (const std::string& id : booking_ids) e.add_booking_ids(id);
    e.set_case_position(fact_.position());
    *e.mutable_handled() = handled_;
    return Encode(e);
  }

 private:
  const scheduling_v1::UpstreamFactRecorded& fact_;
  const Handled& handled_;
};

// The bookings of `state`, in booking order.
template <typename F>
void ForEachBooking(const ScheduleState& state, F f) {
  for (const std::string& id : state.booking_order) {
    auto it = state.bookings.find(id);
    if (it != state.bookings.end()) f(it->second);
  }
}

// Cancels, with `cause`, every booking not over by `at` that `select` picks.
template <typename Select>
std::vector<ScheduleEvent> CancelLive(const ScheduleState& state, absl::Time at,
                                      const Builder& builder,
                                      scheduling_v1::CancellationCause cause,
                                      Select select) {
  std::vector<ScheduleEvent> events;
  ForEachBooking(state, [&](const BookingFacts& b) {
    if (NotOverBy(b, at) && select(b)) events.push_back(builder.Cancelled(b, cause));
  });
  return events;
}

}  // namespace

absl::StatusOr<std::optional<scheduling_v1::UpstreamFactRecorded>> CaseFact(
    uint64_t position, std::string_view bytes, const eventlog::RecordView& view) {
  using Fact = scheduling_v1::UpstreamFactRecorded;
  const std::string_view type = view.event_type;
  if (Is<case_v1::CaseReferred>(type)) {
    return CaseFactOf<case_v1::CaseReferred>(
        position, bytes, view, [](const case_v1::CaseReferred& e, Fact& fact) {
          scheduling_v1::Participants* out = fact.mutable_participants();
          for (const case_v1::Participant& p : e.participants()) AddAttendee(p, out);
        });
  }
  if (Is<case_v1::ParticipantAdded>(type)) {
    return CaseFactOf<case_v1::ParticipantAdded>(
        position, bytes, view, [](const case_v1::ParticipantAdded& e, Fact& fact) {
          AddAttendee(e.participant(), fact.mutable_participants());
        });
  }
  if (Is<case_v1::FacilitatorAllocated>(type)) {
    return CaseFactOf<case_v1::FacilitatorAllocated>(
        position, bytes, view, [](const case_v1::FacilitatorAllocated& e, Fact& fact) {
          fact.set_facilitator_allocated(e.facilitator_id());
        });
  }
  if (Is<case_v1::FacilitatorReleased>(type)) {
    return CaseFactOf<case_v1::FacilitatorReleased>(
        position, bytes, view, [](const case_v1::FacilitatorReleased& e, Fact& fact) {
          fact.set_facilitator_released(e.facilitator_id());
        });
  }
  if (Is<case_v1::CasePaused>(type)) {
    return CaseFactOf<case_v1::CasePaused>(
        position, bytes, view,
        [](const case_v1::CasePaused&, Fact& fact) { fact.set_paused(true); });
  }
  if (Is<case_v1::CaseResumed>(type)) {
    return CaseFactOf<case_v1::CaseResumed>(
        position, bytes, view,
        [](const case_v1::CaseResumed&, Fact& fact) { fact.set_resumed(true); });
  }
  if (Is<case_v1::CaseClosed>(type)) {
    return CaseFactOf<case_v1::CaseClosed>(
        position, bytes, view,
        [](const case_v1::CaseClosed& e, Fact& fact) { fact.set_closed(e.reason()); });
  }
  if (Is<case_v1::ParticipantErased>(type)) {
    return CaseFactOf<case_v1::ParticipantErased>(
        position, bytes, view, [](const case_v1::ParticipantErased& e, Fact& fact) {
          fact.set_participant_erased(e.participant_id());
        });
  }
  return std::nullopt;
}

absl::StatusOr<std::optional<scheduling_v1::UpstreamFactRecorded>> ConsentFact(
    uint64_t position, std::string_view bytes, const eventlog::RecordView& view) {
  if (!Is<consent_v1::ConsentWithdrawn>(view.event_type)) return std::nullopt;
  return eventlog::UpstreamFact<scheduling_v1::UpstreamFactRecorded,
                                consent_v1::ConsentWithdrawn>(
      consent_v1::CONSENT_LOG, position, bytes, view,
      [](const consent_v1::ConsentWithdrawn& e, scheduling_v1::UpstreamFactRecorded& f) {
        scheduling_v1::Withdrawal* w = f.mutable_withdrawal();
        w->set_participant_id(e.participant_id());
        *w->mutable_scopes() = e.scopes();
      });
}

std::vector<ResumeQuestion> QuestionsOnResume(const ScheduleState& state, absl::Time at) {
  std::vector<ResumeQuestion> questions;
  ForEachBooking(state, [&](const BookingFacts& b) {
    if (b.status != BookingStatus::kHeld || !b.WithVictim() || b.start <= at) return;
    ContactQuestion q;
    if (b.approval.has_value() &&
        b.approval->kind() != common_v1::CONTACT_KIND_UNSPECIFIED) {
      q.kind = b.approval->kind();
    } else if (b.kind == scheduling_v1::PREPARATION_MEETING) {
      q.kind = common_v1::APPROACH_VICTIM;
    } else if (b.kind == scheduling_v1::CONFERENCE) {
      q.kind = b.format == scheduling_v1::VIDEO ? common_v1::VIDEO_MEETING
                                                : common_v1::FACE_TO_FACE_CONFERENCE;
    }
    if (b.approval.has_value() && !b.approval->victim_id().empty()) {
      q.victim_id = b.approval->victim_id();
    } else {
      for (const scheduling_v1::Attendee& a : b.attendees) {
        if (IsVictimRole(a.role())) {
          q.victim_id = a.participant_id();
          break;
        }
      }
    }
    if (!b.facilitator_ids.empty()) q.facilitator_id = b.facilitator_ids.front();
    questions.push_back(
        ResumeQuestion{.booking_id = b.booking_id, .question = std::move(q)});
  });
  return questions;
}

absl::StatusOr<std::vector<ScheduleEvent>> Cascade(
    const ScheduleState& state, const scheduling_v1::UpstreamFactRecorded& fact,
    const Handled& handled, const std::vector<ResumeAnswer>& answers) {
  using Fact = scheduling_v1::UpstreamFactRecorded;
  const absl::Time at = absl::FromUnixMicros(fact.recorded_unix_micros());
  const Builder builder(fact, handled);
  switch (fact.fact_case()) {
    case Fact::kParticipants:
    case Fact::kFacilitatorAllocated:
      return std::vector<ScheduleEvent>{};

    case Fact::kWithdrawal: {
      const scheduling_v1::Withdrawal& w = fact.withdrawal();
      return CancelLive(state, at, builder, scheduling_v1::CONSENT_WITHDRAWN,
                        [&](const BookingFacts& b) {
                          return b.approval.has_value() &&
                                 ReliedOn(*b.approval, w.participant_id(), w.scopes());
                        });
    }

    case Fact::kPaused: {
      std::vector<std::string> held;
      ForEachBooking(state, [&](const BookingFacts& b) {
        if (b.status == BookingStatus::kScheduled && b.start > at) {
          held.push_back(b.booking_id);
        }
      });
      std::vector<ScheduleEvent> events;
      if (!held.empty()) events.push_back(builder.Held(held));
      return events;
    }

    case Fact::kResumed: {
      std::vector<ScheduleEvent> events;
      absl::Status missing;
      ForEachBooking(state, [&](const BookingFacts& b) {
        if (b.status != BookingStatus::kHeld || !missing.ok()) return;
        if (b.start <= at) {
          events.push_back(builder.Cancelled(b, scheduling_v1::PASSED_WHILE_HELD));
          return;
        }
        if (!b.WithVictim()) {
          events.push_back(builder.Released(b, nullptr));
          return;
        }
        auto answer = std::find_if(
            answers.begin(), answers.end(),
            [&](const ResumeAnswer& a) { return a.booking_id == b.booking_id; });
        if (answer == answers.end()) {
          missing = absl::InternalError(absl::StrCat(
              "resume of case ", fact.case_id(), " at case-log position ",
              fact.position(), ": no decision for held booking ", b.booking_id));
          return;
        }
        if (answer->approved) {
          events.push_back(builder.Released(b, &answer->approval));
        } else {
          events.push_back(builder.Cancelled(b, scheduling_v1::REFUSED_ON_RESUME,
                                             answer->approval.decision_id()));
        }
      });
      if (!missing.ok()) return missing;
      return events;
    }

    case Fact::kClosed:
      return CancelLive(state, at, builder, scheduling_v1::CASE_CLOSED,
                        [](const BookingFacts&) { return true; });

    case Fact::kFacilitatorReleased: {
      const std::string& f = fact.facilitator_released();
      return CancelLive(state, at, builder, scheduling_v1::FACILITATOR_RELEASED,
                        // Sessions and make-ups name theirs too.
                        [&](const BookingFacts& b) { return b.HasFacilitator(f); });
    }

    case Fact::kParticipantErased: {
      const std::string& p = fact.participant_erased();
      return CancelLive(state, at, builder, scheduling_v1::PARTICIPANT_ERASED,
                        [&](const BookingFacts& b) { return b.Books(p); });
    }

    case Fact::FACT_NOT_SET:
      break;
  }
  return absl::InvalidArgumentError(
      absl::StrCat(fact.event_type(), " at ", eventlog::UpstreamLogName(fact.source()),
                   "-log position ", fact.position(), ": the recorded fact has no fact"));
}

}  // namespace mend::schedulingsvc
