// The facts the conference service keeps from the case, consent and
// scheduling logs, and the cascades they set off (conference_cascade.h). The
// conference service's own code: it parses the upstream payloads itself and
// keeps only ids, roles and times (never a Sealed field).
#include "services/conference/conference_cascade.h"

#include <string>
#include <utility>

#include "absl/status/status.h"
#include "absl/strings/str_cat.h"
#include "common/eventlog/upstream_fact.h"
#include "mend/scheduling/v1/events.pb.h"

namespace mend::conferencesvc {
namespace {

namespace scheduling_v1 = ::mend::scheduling::v1;
using Fact = conference_v1::UpstreamFactRecorded;

template <typename T>
bool Is(std::string_view type) {
  return type == T::descriptor()->full_name();
}

// Builds the fact for an event of type T from `source`, `fill` setting the
// fact.
template <typename T, typename Fill>
absl::StatusOr<std::optional<Fact>> FactFrom(consent_v1::FactSource source,
                                             uint64_t position, std::string_view bytes,
                                             const eventlog::RecordView& view,
                                             Fill fill) {
  return eventlog::UpstreamFact<Fact, T>(source, position, bytes, view, std::move(fill));
}

template <typename T, typename Fill>
absl::StatusOr<std::optional<Fact>> CaseFactOf(uint64_t position, std::string_view bytes,
                                               const eventlog::RecordView& view,
                                               Fill fill) {
  return FactFrom<T>(consent_v1::CASE_LOG, position, bytes, view, std::move(fill));
}

// Only the id, role and who they support: never the Sealed details or needs.
void AddParticipant(const case_v1::Participant& p, conference_v1::Participants* out) {
  conference_v1::Participant* a = out->add_participants();
  a->set_participant_id(p.participant_id());
  a->set_role(p.role());
  a->set_supports_participant_id(p.supports_participant_id());
}

void SetSlot(const scheduling_v1::Slot& slot, conference_v1::SlotBooked* out) {
  out->set_start_unix_micros(slot.start_unix_micros());
  out->set_end_unix_micros(slot.end_unix_micros());
}

common_v1::ContactKind KindOfFormat(scheduling_v1::ConferenceFormat format) {
  switch (format) {
    case scheduling_v1::IN_PERSON:
      return common_v1::FACE_TO_FACE_CONFERENCE;
    case scheduling_v1::VIDEO:
      return common_v1::VIDEO_MEETING;
    default:
      return common_v1::CONTACT_KIND_UNSPECIFIED;
  }
}

bool Withdraws(const conference_v1::Withdrawal& w, consent_v1::ConsentScope scope) {
  for (int s : w.scopes()) {
    if (s == scope) return true;
  }
  return false;
}

// Whether the withdrawal `w` undoes a pending delivery of `letter`: its
// victim or its author withdrew PARTICIPATE or RECEIVE_LETTER.
bool LetterReliedOn(const LetterFacts& letter, const conference_v1::Withdrawal& w) {
  const std::string& who = w.participant_id();
  if (who.empty() || (who != letter.offered_victim_id && who != letter.author_id)) {
    return false;
  }
  return Withdraws(w, consent_v1::PARTICIPATE) ||
         Withdraws(w, consent_v1::RECEIVE_LETTER);
}

// Whether the withdrawal `w` undoes the decision `approval` a conference
// started on (the consents it relied on: the victim's PARTICIPATE and the
// kind's scope, the service user's scope of the kind).
bool ApprovalReliedOn(const conference_v1::Approval& approval,
                      const conference_v1::Withdrawal& w) {
  const std::string& who = w.participant_id();
  if (who.empty()) return false;
  const consent_v1::ConsentScope kind_scope = ScopeForKind(approval.kind());
  if (who == approval.victim_id() &&
      (Withdraws(w, consent_v1::PARTICIPATE) || Withdraws(w, kind_scope))) {
    return true;
  }
  return who == approval.service_user_id() && Withdraws(w, kind_scope);
}

// Cascade event builders: every one names the case, the upstream fact that
// caused it and the positions handled.
class Builder {
 public:
  Builder(const Fact& fact, const Handled& handled) : fact_(fact), handled_(handled) {}

  ConferenceEvent DeliveryCancelled(const LetterFacts& letter,
                                    conference_v1::CancellationCause cause) const {
    conference_v1::LetterDeliveryCancelled e;
    e.set_case_id(fact_.case_id());
    e.set_letter_id(letter.letter_id);
    e.set_version(letter.offered_version);
    e.set_cause(cause);
    e.set_source(fact_.source());
    e.set_source_position(fact_.position());
    *e.mutable_handled() = handled_;
    return Encode(e);
  }

  ConferenceEvent Stopped(const ConferenceFacts& conference,
                          conference_v1::CancellationCause cause) const {
    conference_v1::ConferenceStopped e;
    e.set_case_id(fact_.case_id());
    e.set_booking_id(conference.booking_id);
    e.set_cause(cause);
    e.set_source(fact_.source());
    e.set_source_position(fact_.position());
    *e.mutable_handled() = handled_;
    return Encode(e);
  }

 private:
  const Fact& fact_;
  const Handled& handled_;
};

// The cascade: every pending delivery `letter` picks is cancelled (in letter
// order), then every conference in progress `conference` picks is stopped
// (in booking order), with `cause`.
template <typename SelectLetter, typename SelectConference>
std::vector<ConferenceEvent> CancelAndStop(const ConferenceState& state,
                                           const Builder& builder,
                                           conference_v1::CancellationCause cause,
                                           SelectLetter letter,
                                           SelectConference conference) {
  std::vector<ConferenceEvent> events;
  for (const std::string& id : state.letter_order) {
    auto it = state.letters.find(id);
    if (it == state.letters.end()) continue;
    const LetterFacts& l = it->second;
    if (l.pending_delivery() && letter(l)) {
      events.push_back(builder.DeliveryCancelled(l, cause));
    }
  }
  for (const auto& [booking_id, c] : state.conferences) {
    if (c.in_progress() && conference(c)) events.push_back(builder.Stopped(c, cause));
  }
  return events;
}

}  // namespace

absl::StatusOr<std::optional<conference_v1::UpstreamFactRecorded>> CaseFact(
    uint64_t position, std::string_view bytes, const eventlog::RecordView& view) {
  const std::string_view type = view.event_type;
  if (Is<case_v1::CaseReferred>(type)) {
    return CaseFactOf<case_v1::CaseReferred>(
        position, bytes, view, [](const case_v1::CaseReferred& e, Fact& fact) {
          conference_v1::Participants* out = fact.mutable_participants();
          for (const case_v1::Participant& p : e.participants()) AddParticipant(p, out);
        });
  }
  if (Is<case_v1::ParticipantAdded>(type)) {
    return CaseFactOf<case_v1::ParticipantAdded>(
        position, bytes, view, [](const case_v1::ParticipantAdded& e, Fact& fact) {
          AddParticipant(e.participant(), fact.mutable_participants());
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
  if (Is<case_v1::RiskAssessmentRecorded>(type)) {
    return CaseFactOf<case_v1::RiskAssessmentRecorded>(
        position, bytes, view, [](const case_v1::RiskAssessmentRecorded& e, Fact& fact) {
          fact.set_risk_assessed(e.assessment_id());
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

absl::StatusOr<std::optional<conference_v1::UpstreamFactRecorded>> ConsentFact(
    uint64_t position, std::string_view bytes, const eventlog::RecordView& view) {
  if (!Is<consent_v1::ConsentWithdrawn>(view.event_type)) return std::nullopt;
  return FactFrom<consent_v1::ConsentWithdrawn>(
      consent_v1::CONSENT_LOG, position, bytes, view,
      [](const consent_v1::ConsentWithdrawn& e, Fact& fact) {
        conference_v1::Withdrawal* w = fact.mutable_withdrawal();
        w->set_participant_id(e.participant_id());
        *w->mutable_scopes() = e.scopes();
      });
}

absl::StatusOr<std::optional<conference_v1::UpstreamFactRecorded>> SchedulingFact(
    uint64_t position, std::string_view bytes, const eventlog::RecordView& view,
    const ConferenceState& state) {
  const std::string_view type = view.event_type;
  if (Is<scheduling_v1::ConferenceBooked>(type)) {
    return FactFrom<scheduling_v1::ConferenceBooked>(
        consent_v1::SCHEDULING_LOG, position, bytes, view,
        [](const scheduling_v1::ConferenceBooked& e, Fact& fact) {
          conference_v1::SlotBooked* s = fact.mutable_slot_booked();
          s->set_booking_id(e.booking_id());
          s->set_conference(true);
          s->set_kind(KindOfFormat(e.format()));
          SetSlot(e.slot(), s);
          for (const scheduling_v1::Attendee& a : e.attendees()) {
            s->add_participant_ids(a.participant_id());
          }
          for (const std::string& f : e.facilitator_ids()) s->add_facilitator_ids(f);
        });
  }
  if (Is<scheduling_v1::PreparationMeetingBooked>(type)) {
    return FactFrom<scheduling_v1::PreparationMeetingBooked>(
        consent_v1::SCHEDULING_LOG, position, bytes, view,
        [](const scheduling_v1::PreparationMeetingBooked& e, Fact& fact) {
          conference_v1::SlotBooked* s = fact.mutable_slot_booked();
          s->set_booking_id(e.booking_id());
          s->set_conference(false);
          SetSlot(e.slot(), s);
          s->add_participant_ids(e.participant().participant_id());
          s->add_facilitator_ids(e.facilitator_id());
        });
  }
  if (Is<scheduling_v1::BookingCancelled>(type)) {
    absl::StatusOr<scheduling_v1::BookingCancelled> event =
        eventlog::ParseUpstreamPayload<scheduling_v1::BookingCancelled>(
            view, position, consent_v1::SCHEDULING_LOG);
    if (!event.ok()) return event.status();
    // Scheduling cancels sessions too: only the bookings this service knows.
    if (state.FindSlot(event->booking_id()) == nullptr) return std::nullopt;
    Fact fact = eventlog::UpstreamFactEnvelope<Fact>(
        event->case_id(), consent_v1::SCHEDULING_LOG, position, bytes, view);
    fact.set_booking_cancelled(event->booking_id());
    return fact;
  }
  return std::nullopt;
}

absl::StatusOr<std::vector<ConferenceEvent>> Cascade(
    const ConferenceState& state, const conference_v1::UpstreamFactRecorded& fact,
    const Handled& handled) {
  const Builder builder(fact, handled);
  auto all_letters = [](const LetterFacts&) { return true; };
  auto all_conferences = [](const ConferenceFacts&) { return true; };
  switch (fact.fact_case()) {
    case Fact::kParticipants:
    case Fact::kFacilitatorAllocated:
    case Fact::kFacilitatorReleased:
    case Fact::kResumed:
    case Fact::kParticipantErased:
    case Fact::kSlotBooked:
    case Fact::kRiskAssessed:
      return std::vector<ConferenceEvent>{};

    case Fact::kWithdrawal: {
      const conference_v1::Withdrawal& w = fact.withdrawal();
      return CancelAndStop(
          state, builder, conference_v1::CONSENT_WITHDRAWN,
          [&](const LetterFacts& l) { return LetterReliedOn(l, w); },
          [&](const ConferenceFacts& c) {
            return c.started.has_value() && ApprovalReliedOn(*c.started, w);
          });
    }

    case Fact::kPaused:
      return CancelAndStop(state, builder, conference_v1::CASE_PAUSED, all_letters,
                           all_conferences);

    case Fact::kClosed:
      return CancelAndStop(state, builder, conference_v1::CASE_CLOSED, all_letters,
                           all_conferences);

    case Fact::kBookingCancelled: {
      const std::string& booking_id = fact.booking_cancelled();
      return CancelAndStop(
          state, builder, conference_v1::BOOKING_CANCELLED,
          [](const LetterFacts&) { return false; },
          [&](const ConferenceFacts& c) { return c.booking_id == booking_id; });
    }

    case Fact::FACT_NOT_SET:
      break;
  }
  return absl::InvalidArgumentError(
      absl::StrCat(fact.event_type(), " at ", eventlog::UpstreamLogName(fact.source()),
                   "-log position ", fact.position(), ": the recorded fact has no fact"));
}

}  // namespace mend::conferencesvc
