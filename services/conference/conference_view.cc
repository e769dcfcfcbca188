#include "services/conference/conference_view.h"

#include <string>

#include "absl/time/time.h"

namespace mend::conferencesvc {
namespace {

// `sealed` as the reader is shown it: nothing for a value not given.
conference_v1::Text Shown(const ShowFn& show, const common_v1::Sealed& sealed,
                          std::string_view field) {
  if (sealed.ciphertext().empty()) return conference_v1::Text();
  return show(sealed, field);
}

}  // namespace

bool MaySeeWords(Role role) {
  return role == Role::kFacilitator || role == Role::kManager;
}

conference_v1::Text Withhold(const common_v1::Sealed& /*sealed*/,
                             std::string_view /*field*/) {
  conference_v1::Text out;
  out.set_withheld(true);
  return out;
}

conference_v1::CaseContactView ContactView(const ConferenceState& s, const ShowFn& show) {
  conference_v1::CaseContactView out;
  out.set_case_id(s.case_id);
  out.set_version(s.version);
  for (const std::string& id : s.letter_order) {
    const LetterFacts& l = s.letters.at(id);
    conference_v1::LetterView* v = out.add_letters();
    v->set_letter_id(l.letter_id);
    v->set_author_id(l.author_id);
    for (const LetterVersionFacts& lv : l.versions) {
      conference_v1::LetterVersionView* vv = v->add_versions();
      vv->set_version(lv.version);
      *vv->mutable_text() = Shown(show, lv.text, kSealedLetterText);
      vv->set_verdict(lv.verdict);
      *vv->mutable_review_notes() =
          Shown(show, lv.review_notes, kSealedLetterReviewNotes);
      vv->set_position(lv.position);
    }
    if (l.offer.has_value()) *v->mutable_offer() = *l.offer;
    v->set_delivered_version(l.delivered_version);
    if (l.delivery.has_value()) *v->mutable_delivery() = *l.delivery;
    v->set_delivery_cancelled(l.delivery_cancelled);
    *v->mutable_response() = Shown(show, l.response, kSealedLetterResponse);
    v->set_wants_further_contact(l.wants_further_contact);
    for (common_v1::ContactKind k : l.further_contact_kinds) {
      v->add_further_contact_kinds(k);
    }
  }
  for (const MessageFacts& m : s.messages) {
    conference_v1::MessageView* v = out.add_messages();
    v->set_message_id(m.message_id);
    v->set_from_participant_id(m.from_participant_id);
    v->set_to_participant_id(m.to_participant_id);
    *v->mutable_text() = Shown(show, m.text, kSealedShuttleText);
    *v->mutable_approval() = m.approval;
    v->set_position(m.position);
  }
  for (const auto& [id, p] : s.preparations) {
    conference_v1::PreparationView* v = out.add_preparations();
    v->set_booking_id(p.booking_id);
    v->set_participant_id(p.participant_id);
    v->set_expectations_discussed(p.expectations_discussed);
    *v->mutable_support_needs() =
        Shown(show, p.support_needs, kSealedPreparationSupportNeeds);
    v->set_mental_health_support(p.mental_health_support);
    v->set_supporter_id(p.supporter_id);
    v->set_ready(p.ready);
  }
  for (const auto& [id, slot] : s.slots) {
    if (!slot.conference) continue;
    conference_v1::ConferenceView* v = out.add_conferences();
    v->set_booking_id(id);
    v->set_kind(slot.kind);
    v->set_start_unix_micros(absl::ToUnixMicros(slot.start));
    v->set_booking_cancelled(slot.cancelled);
    if (auto it = s.conferences.find(id); it != s.conferences.end()) {
      const ConferenceFacts& c = it->second;
      if (c.started.has_value()) *v->mutable_start() = *c.started;
      v->set_held(c.held);
      *v->mutable_outline() = Shown(show, c.outline, kSealedConferenceOutline);
      v->set_apology_made(c.apology_made);
      v->set_abandoned_reason(c.abandoned_reason);
      v->set_stopped(c.stopped);
    }
  }
  if (s.agreement.has_value()) {
    conference_v1::AgreementView* v = out.mutable_agreement();
    v->set_agreement_id(s.agreement->agreement_id);
    for (const AgreementItemFacts& item : s.agreement->items) {
      conference_v1::AgreementItemView* iv = v->add_items();
      iv->set_item_id(item.item_id);
      *iv->mutable_what() = Shown(show, item.what, kSealedAgreementItem);
      iv->set_owner_id(item.owner_id);
      iv->set_due_date(item.due_date);
      iv->set_completed(item.completed);
    }
    for (const conference_v1::PartyConsent& c : s.agreement->consents) {
      *v->add_consents() = c;
    }
    v->set_completed(s.agreement->completed);
    if (s.agreement->victim_informed.has_value()) {
      *v->mutable_victim_informed() = *s.agreement->victim_informed;
    }
  }
  for (const auto& [id, f] : s.feedback) {
    conference_v1::FeedbackView* v = out.add_feedback();
    v->set_participant_id(f.participant_id);
    v->set_satisfaction(f.satisfaction);
    *v->mutable_comments() = Shown(show, f.comments, kSealedFeedbackComments);
    v->set_would_recommend(f.would_recommend);
  }
  out.set_follow_up_completed(s.follow_up_completed);
  return out;
}

}  // namespace mend::conferencesvc
