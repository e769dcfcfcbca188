#include "services/conference/conference_state.h"

#include <algorithm>
#include <utility>

#include "absl/status/statusor.h"
#include "absl/strings/str_cat.h"

namespace mend::conferencesvc {
namespace {

std::string Quoted(std::string_view s) {
  return absl::StrCat("\"", std::string(s), "\"");
}

absl::Status Loss(const ConferenceLogEvent& e, std::string_view what) {
  return absl::DataLossError(absl::StrCat("position ", e.position, " (",
                                          std::string(e.event_type),
                                          "): ", std::string(what)));
}

// Parses the payload; the stream's first event names its case, and every
// later one must be of the same case.
template <typename Message>
absl::Status Parse(ConferenceState& s, const ConferenceLogEvent& e, Message& out) {
  if (!out.ParseFromArray(e.payload.data(), static_cast<int>(e.payload.size()))) {
    return Loss(e, "the payload does not parse");
  }
  if (out.case_id().empty()) return Loss(e, "no case_id");
  if (s.case_id.empty()) s.case_id = out.case_id();
  if (out.case_id() != s.case_id) {
    return Loss(e, absl::StrCat("case_id ", Quoted(out.case_id()), " in the stream of ",
                                Quoted(s.case_id)));
  }
  return absl::OkStatus();
}

template <typename Map>
absl::StatusOr<typename Map::mapped_type*> Find(Map& map, const ConferenceLogEvent& e,
                                                std::string_view what,
                                                const std::string& id) {
  auto it = map.find(id);
  if (it == map.end())
    return Loss(e, absl::StrCat("no ", std::string(what), " ", Quoted(id)));
  return &it->second;
}

void FoldFact(ConferenceState& s, const conference_v1::UpstreamFactRecorded& f) {
  using Fact = conference_v1::UpstreamFactRecorded;
  switch (f.source()) {
    case consent_v1::CONSENT_LOG:
      s.last_consent_position = std::max(s.last_consent_position, f.position());
      break;
    case consent_v1::SCHEDULING_LOG:
      s.last_scheduling_position = std::max(s.last_scheduling_position, f.position());
      break;
    default:
      s.last_case_position = std::max(s.last_case_position, f.position());
      break;
  }
  switch (f.fact_case()) {
    case Fact::kParticipants:
      if (f.event_type() == "mend.case.v1.CaseReferred") s.case_known = true;
      for (const conference_v1::Participant& p : f.participants().participants()) {
        if (s.FindParticipant(p.participant_id()) != nullptr) continue;
        s.participants.push_back({.participant_id = p.participant_id(),
                                  .role = p.role(),
                                  .supports_participant_id = p.supports_participant_id(),
                                  .erased = false});
      }
      break;
    case Fact::kFacilitatorAllocated:
      s.facilitators.insert(f.facilitator_allocated());
      break;
    case Fact::kFacilitatorReleased:
      s.facilitators.erase(f.facilitator_released());
      s.last_release_position = f.position();
      break;
    case Fact::kRiskAssessed:
      s.last_risk_assessment_position = f.position();
      break;
    case Fact::kPaused:
      s.paused = true;
      s.last_pause_position = f.position();
      break;
    case Fact::kResumed:
      s.paused = false;
      break;
    case Fact::kClosed:
      s.closed = true;
      s.last_closure_position = f.position();
      break;
    case Fact::kParticipantErased:
      for (ParticipantFacts& p : s.participants) {
        if (p.participant_id == f.participant_erased()) p.erased = true;
      }
      break;
    case Fact::kWithdrawal: {
      WithdrawalFacts w;
      w.participant_id = f.withdrawal().participant_id();
      for (int scope : f.withdrawal().scopes()) {
        w.scopes.push_back(static_cast<consent_v1::ConsentScope>(scope));
      }
      w.consent_position = f.position();
      s.withdrawals.push_back(std::move(w));
      break;
    }
    case Fact::kSlotBooked: {
      const conference_v1::SlotBooked& b = f.slot_booked();
      SlotFacts slot;
      slot.booking_id = b.booking_id();
      slot.conference = b.conference();
      slot.kind = b.kind();
      slot.start = absl::FromUnixMicros(b.start_unix_micros());
      slot.end = absl::FromUnixMicros(b.end_unix_micros());
      slot.participant_ids.assign(b.participant_ids().begin(), b.participant_ids().end());
      slot.facilitator_ids.assign(b.facilitator_ids().begin(), b.facilitator_ids().end());
      slot.scheduling_position = f.position();
      s.slots[slot.booking_id] = std::move(slot);
      break;
    }
    case Fact::kBookingCancelled:
      if (auto it = s.slots.find(f.booking_cancelled()); it != s.slots.end()) {
        it->second.cancelled = true;
      }
      break;
    case Fact::FACT_NOT_SET:
      break;
  }
}

// A contact event: the answer reports its approval.
void Contact(ConferenceState& s, const ConferenceLogEvent& e,
             const conference_v1::Approval& approval) {
  s.last_approval = approval;
  s.last_approval_position = e.position;
}

absl::Status FoldLetter(ConferenceState& s, const ConferenceLogEvent& e) {
  const std::string_view type = e.event_type;
  if (type == "mend.conference.v1.LetterDraftSubmitted") {
    conference_v1::LetterDraftSubmitted d;
    if (absl::Status st = Parse(s, e, d); !st.ok()) return st;
    auto [it, fresh] = s.letters.try_emplace(d.letter_id());
    LetterFacts& letter = it->second;
    if (fresh) {
      letter.letter_id = d.letter_id();
      letter.author_id = d.author_id();
      s.letter_order.push_back(d.letter_id());
    }
    if (d.version() != static_cast<int32_t>(letter.versions.size()) + 1) {
      return Loss(e,
                  absl::StrCat("letter ", Quoted(d.letter_id()), " version ", d.version(),
                               " follows version ", letter.versions.size()));
    }
    letter.versions.push_back({.version = d.version(),
                               .text = d.text(),
                               .verdict = conference_v1::LETTER_VERDICT_UNSPECIFIED,
                               .review_notes = {},
                               .position = e.position});
    s.last_letter_id = d.letter_id();
    s.last_letter_version = d.version();
    return absl::OkStatus();
  }
  if (type == "mend.conference.v1.LetterReviewed") {
    conference_v1::LetterReviewed r;
    if (absl::Status st = Parse(s, e, r); !st.ok()) return st;
    absl::StatusOr<LetterFacts*> letter = Find(s.letters, e, "letter", r.letter_id());
    if (!letter.ok()) return letter.status();
    if (r.version() < 1 ||
        r.version() > static_cast<int32_t>((*letter)->versions.size())) {
      return Loss(e, absl::StrCat("letter ", Quoted(r.letter_id()), " has no version ",
                                  r.version()));
    }
    LetterVersionFacts& v = (*letter)->versions[r.version() - 1];
    v.verdict = r.verdict();
    v.review_notes = r.notes();
    s.last_letter_id = r.letter_id();
    s.last_letter_version = r.version();
    return absl::OkStatus();
  }
  if (type == "mend.conference.v1.LetterOffered") {
    conference_v1::LetterOffered o;
    if (absl::Status st = Parse(s, e, o); !st.ok()) return st;
    absl::StatusOr<LetterFacts*> letter = Find(s.letters, e, "letter", o.letter_id());
    if (!letter.ok()) return letter.status();
    (*letter)->offer = o.approval();
    (*letter)->offered_version = o.version();
    (*letter)->offered_victim_id = o.victim_id();
    (*letter)->delivery_cancelled = conference_v1::CANCELLATION_CAUSE_UNSPECIFIED;
    s.last_letter_id = o.letter_id();
    s.last_letter_version = o.version();
    Contact(s, e, o.approval());
    return absl::OkStatus();
  }
  if (type == "mend.conference.v1.LetterDelivered") {
    conference_v1::LetterDelivered d;
    if (absl::Status st = Parse(s, e, d); !st.ok()) return st;
    absl::StatusOr<LetterFacts*> letter = Find(s.letters, e, "letter", d.letter_id());
    if (!letter.ok()) return letter.status();
    if (!(*letter)->pending_delivery()) {
      return Loss(
          e, absl::StrCat("letter ", Quoted(d.letter_id()), " has no delivery pending"));
    }
    (*letter)->delivery = d.approval();
    (*letter)->delivered_version = d.version();
    s.last_letter_id = d.letter_id();
    s.last_letter_version = d.version();
    Contact(s, e, d.approval());
    return absl::OkStatus();
  }
  if (type == "mend.conference.v1.LetterDeliveryCancelled") {
    conference_v1::LetterDeliveryCancelled c;
    if (absl::Status st = Parse(s, e, c); !st.ok()) return st;
    absl::StatusOr<LetterFacts*> letter = Find(s.letters, e, "letter", c.letter_id());
    if (!letter.ok()) return letter.status();
    if (!(*letter)->pending_delivery()) {
      return Loss(
          e, absl::StrCat("letter ", Quoted(c.letter_id()), " has no delivery pending"));
    }
    (*letter)->delivery_cancelled = c.cause();
    return absl::OkStatus();
  }
  if (type == "mend.conference.v1.LetterResponseRecorded") {
    conference_v1::LetterResponseRecorded r;
    if (absl::Status st = Parse(s, e, r); !st.ok()) return st;
    absl::StatusOr<LetterFacts*> letter = Find(s.letters, e, "letter", r.letter_id());
    if (!letter.ok()) return letter.status();
    (*letter)->response_recorded = true;
    (*letter)->response = r.response();
    (*letter)->wants_further_contact = r.wants_further_contact();
    (*letter)->further_contact_kinds.clear();
    for (int k : r.further_contact_kinds()) {
      (*letter)->further_contact_kinds.push_back(static_cast<common_v1::ContactKind>(k));
    }
    s.last_letter_id = r.letter_id();
    return absl::OkStatus();
  }
  return Loss(e, "not an event type of the conference log");
}

absl::Status FoldMeeting(ConferenceState& s, const ConferenceLogEvent& e) {
  const std::string_view type = e.event_type;
  if (type == "mend.conference.v1.ShuttleMessageCarried") {
    conference_v1::ShuttleMessageCarried m;
    if (absl::Status st = Parse(s, e, m); !st.ok()) return st;
    for (const MessageFacts& existing : s.messages) {
      if (existing.message_id == m.message_id()) {
        return Loss(
            e, absl::StrCat("message ", Quoted(m.message_id()), " was carried already"));
      }
    }
    s.messages.push_back({.message_id = m.message_id(),
                          .from_participant_id = m.from_participant_id(),
                          .to_participant_id = m.to_participant_id(),
                          .text = m.text(),
                          .approval = m.approval(),
                          .position = e.position});
    s.last_message_id = m.message_id();
    Contact(s, e, m.approval());
    return absl::OkStatus();
  }
  if (type == "mend.conference.v1.PreparationRecorded") {
    conference_v1::PreparationRecorded p;
    if (absl::Status st = Parse(s, e, p); !st.ok()) return st;
    if (s.preparations.contains(p.booking_id())) {
      return Loss(
          e, absl::StrCat("preparation ", Quoted(p.booking_id()), " recorded already"));
    }
    s.preparations[p.booking_id()] = {
        .booking_id = p.booking_id(),
        .participant_id = p.participant_id(),
        .expectations_discussed = p.expectations_discussed(),
        .support_needs = p.support_needs(),
        .mental_health_support = p.mental_health_support(),
        .supporter_id = p.supporter_id(),
        .ready = p.ready(),
        .position = e.position};
    return absl::OkStatus();
  }
  if (type == "mend.conference.v1.ConferenceStarted") {
    conference_v1::ConferenceStarted c;
    if (absl::Status st = Parse(s, e, c); !st.ok()) return st;
    ConferenceFacts& conf = s.conferences[c.booking_id()];
    if (conf.started.has_value()) {
      return Loss(
          e, absl::StrCat("conference ", Quoted(c.booking_id()), " started already"));
    }
    conf.booking_id = c.booking_id();
    conf.started = c.approval();
    Contact(s, e, c.approval());
    return absl::OkStatus();
  }
  if (type == "mend.conference.v1.ConferenceHeld") {
    conference_v1::ConferenceHeld h;
    if (absl::Status st = Parse(s, e, h); !st.ok()) return st;
    absl::StatusOr<ConferenceFacts*> conf =
        Find(s.conferences, e, "conference", h.booking_id());
    if (!conf.ok()) return conf.status();
    if (!(*conf)->in_progress()) {
      return Loss(
          e, absl::StrCat("conference ", Quoted(h.booking_id()), " is not in progress"));
    }
    (*conf)->held = true;
    (*conf)->attendee_ids.assign(h.attendee_ids().begin(), h.attendee_ids().end());
    (*conf)->outline = h.outline();
    (*conf)->apology_made = h.apology_made();
    return absl::OkStatus();
  }
  if (type == "mend.conference.v1.ConferenceAbandoned") {
    conference_v1::ConferenceAbandoned a;
    if (absl::Status st = Parse(s, e, a); !st.ok()) return st;
    ConferenceFacts& conf = s.conferences[a.booking_id()];
    if (conf.held || conf.abandoned) {
      return Loss(e, absl::StrCat("conference ", Quoted(a.booking_id()), " is over"));
    }
    conf.booking_id = a.booking_id();
    conf.abandoned = true;
    conf.abandoned_reason = a.reason();
    return absl::OkStatus();
  }
  if (type == "mend.conference.v1.ConferenceStopped") {
    conference_v1::ConferenceStopped c;
    if (absl::Status st = Parse(s, e, c); !st.ok()) return st;
    absl::StatusOr<ConferenceFacts*> conf =
        Find(s.conferences, e, "conference", c.booking_id());
    if (!conf.ok()) return conf.status();
    if (!(*conf)->in_progress()) {
      return Loss(
          e, absl::StrCat("conference ", Quoted(c.booking_id()), " is not in progress"));
    }
    (*conf)->stopped = c.cause();
    return absl::OkStatus();
  }
  return FoldLetter(s, e);
}

absl::Status FoldEvent(ConferenceState& s, const ConferenceLogEvent& e) {
  const std::string_view type = e.event_type;
  if (type == "mend.conference.v1.UpstreamFactRecorded") {
    conference_v1::UpstreamFactRecorded f;
    if (absl::Status st = Parse(s, e, f); !st.ok()) return st;
    FoldFact(s, f);
    return absl::OkStatus();
  }
  if (type == "mend.conference.v1.OutcomeAgreementRecorded") {
    conference_v1::OutcomeAgreementRecorded a;
    if (absl::Status st = Parse(s, e, a); !st.ok()) return st;
    if (s.agreement.has_value()) return Loss(e, "a second agreement");
    AgreementFacts agreement;
    agreement.agreement_id = a.agreement_id();
    for (const conference_v1::AgreementItem& item : a.items()) {
      agreement.items.push_back({.item_id = item.item_id(),
                                 .what = item.what(),
                                 .owner_id = item.owner_id(),
                                 .due_date = item.due_date(),
                                 .completed = false});
    }
    agreement.consents.assign(a.consents().begin(), a.consents().end());
    s.agreement = std::move(agreement);
    return absl::OkStatus();
  }
  if (type == "mend.conference.v1.AgreementItemCompleted") {
    conference_v1::AgreementItemCompleted c;
    if (absl::Status st = Parse(s, e, c); !st.ok()) return st;
    if (!s.agreement.has_value()) return Loss(e, "no agreement");
    for (AgreementItemFacts& item : s.agreement->items) {
      if (item.item_id != c.item_id()) continue;
      if (item.completed) {
        return Loss(e, absl::StrCat("item ", Quoted(c.item_id()), " completed already"));
      }
      item.completed = true;
      return absl::OkStatus();
    }
    return Loss(e, absl::StrCat("no item ", Quoted(c.item_id())));
  }
  if (type == "mend.conference.v1.AgreementCompleted") {
    conference_v1::AgreementCompleted c;
    if (absl::Status st = Parse(s, e, c); !st.ok()) return st;
    if (!s.agreement.has_value()) return Loss(e, "no agreement");
    s.agreement->completed = true;
    s.agreement_completed_position = e.position;
    return absl::OkStatus();
  }
  if (type == "mend.conference.v1.VictimInformed") {
    conference_v1::VictimInformed v;
    if (absl::Status st = Parse(s, e, v); !st.ok()) return st;
    if (!s.agreement.has_value()) return Loss(e, "no agreement");
    s.agreement->victim_informed = v.approval();
    s.agreement->informed_victim_id = v.victim_id();
    Contact(s, e, v.approval());
    return absl::OkStatus();
  }
  if (type == "mend.conference.v1.FeedbackRecorded") {
    conference_v1::FeedbackRecorded f;
    if (absl::Status st = Parse(s, e, f); !st.ok()) return st;
    if (s.feedback.contains(f.participant_id())) {
      return Loss(e, absl::StrCat("feedback of ", Quoted(f.participant_id()),
                                  " recorded already"));
    }
    s.feedback[f.participant_id()] = {.participant_id = f.participant_id(),
                                      .satisfaction = f.satisfaction(),
                                      .comments = f.comments(),
                                      .would_recommend = f.would_recommend()};
    return absl::OkStatus();
  }
  if (type == "mend.conference.v1.FollowUpCompleted") {
    conference_v1::FollowUpCompleted f;
    if (absl::Status st = Parse(s, e, f); !st.ok()) return st;
    s.follow_up_completed = true;
    return absl::OkStatus();
  }
  return FoldMeeting(s, e);
}

}  // namespace

std::string ConferenceStreamId(std::string_view case_id) {
  return absl::StrCat(kConferenceStreamPrefix, std::string(case_id));
}

ConferenceEvent Encode(const google::protobuf::Message& event) {
  ConferenceEvent out;
  out.type = event.GetDescriptor()->full_name();
  event.SerializeToString(&out.payload);
  return out;
}

bool IsVictimRole(case_v1::ParticipantRole role) {
  return role == case_v1::VICTIM || role == case_v1::CO_VICTIM;
}

consent_v1::ConsentScope ScopeForKind(common_v1::ContactKind kind) {
  switch (kind) {
    case common_v1::APPROACH_VICTIM:
      return consent_v1::PARTICIPATE;
    case common_v1::LETTER_DELIVERY:
      return consent_v1::RECEIVE_LETTER;
    case common_v1::SHUTTLE_MESSAGE:
      return consent_v1::SHUTTLE;
    case common_v1::VIDEO_MEETING:
      return consent_v1::VIDEO;
    case common_v1::FACE_TO_FACE_CONFERENCE:
      return consent_v1::FACE_TO_FACE;
    default:
      return consent_v1::CONSENT_SCOPE_UNSPECIFIED;
  }
}

const LetterVersionFacts* LetterFacts::Version(int32_t version) const {
  if (version < 1 || version > static_cast<int32_t>(versions.size())) return nullptr;
  return &versions[version - 1];
}

const ParticipantFacts* ConferenceState::FindParticipant(
    std::string_view participant_id) const {
  for (const ParticipantFacts& p : participants) {
    if (p.participant_id == participant_id) return &p;
  }
  return nullptr;
}

const ParticipantFacts* ConferenceState::ServiceUser() const {
  for (const ParticipantFacts& p : participants) {
    if (p.role == case_v1::SERVICE_USER) return &p;
  }
  return nullptr;
}

std::vector<const ParticipantFacts*> ConferenceState::Victims() const {
  std::vector<const ParticipantFacts*> out;
  for (const ParticipantFacts& p : participants) {
    if (IsVictimRole(p.role)) out.push_back(&p);
  }
  return out;
}

const LetterFacts* ConferenceState::FindLetter(std::string_view letter_id) const {
  auto it = letters.find(std::string(letter_id));
  return it == letters.end() ? nullptr : &it->second;
}

const SlotFacts* ConferenceState::FindSlot(std::string_view booking_id) const {
  auto it = slots.find(std::string(booking_id));
  return it == slots.end() ? nullptr : &it->second;
}

const PreparationFacts* ConferenceState::LatestPreparation(
    std::string_view participant_id) const {
  const PreparationFacts* latest = nullptr;
  for (const auto& [id, p] : preparations) {
    if (p.participant_id != participant_id) continue;
    if (latest == nullptr || p.position > latest->position) latest = &p;
  }
  return latest;
}

const WithdrawalFacts* ConferenceState::WithdrawnSince(std::string_view participant_id,
                                                       consent_v1::ConsentScope scope,
                                                       uint64_t after) const {
  for (auto it = withdrawals.rbegin(); it != withdrawals.rend(); ++it) {
    if (it->consent_position <= after) break;
    if (it->participant_id == participant_id &&
        std::find(it->scopes.begin(), it->scopes.end(), scope) != it->scopes.end()) {
      return &*it;
    }
  }
  return nullptr;
}

absl::Status Evolve(ConferenceState& state, const ConferenceLogEvent& event) {
  if (event.stream_version != state.version + 1) {
    return Loss(event, absl::StrCat("stream version ", event.stream_version,
                                    " follows version ", state.version));
  }
  if (absl::Status s = FoldEvent(state, event); !s.ok()) return s;
  state.version = event.stream_version;
  return absl::OkStatus();
}

}  // namespace mend::conferencesvc
