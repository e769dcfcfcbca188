// The indirect contact: the apology letter written and reviewed, the victim
// declining at first (an approach refused by the gate), her consent later,
// the letter offered and delivered, and her response.
#include "common/base/status_macros.h"
#include "tools/scenario/story.h"

namespace mend::scenario {

absl::Status CaseStory::WriteLetter() {
  conference_v1::SubmitLetterDraftRequest draft;
  draft.set_request_id(RequestId("draft-1"));
  draft.set_case_id(record_.case_id);
  draft.set_text(
      "I am sorry for what happened. It has been a hard year for me too and I was not "
      "myself.");
  MEND_ASSIGN_OR_RETURN(
      conference_v1::CommandResult first,
      ConferenceCommand("SubmitLetterDraft",
                        &conference_v1::ConferenceService::Stub::SubmitLetterDraft, draft,
                        ann_));
  letter_id_ = first.letter_id();
  Say("conference", "SubmitLetterDraft: his apology letter, version 1");

  conference_v1::ReviewLetterRequest review;
  review.set_request_id(RequestId("review-1"));
  review.set_case_id(record_.case_id);
  review.set_letter_id(letter_id_);
  review.set_version(1);
  review.set_verdict(conference_v1::CHANGES_REQUESTED);
  review.set_notes("Speak about the harm to her, not about yourself.");
  MEND_RETURN_IF_ERROR(
      ConferenceCommand("ReviewLetter",
                        &conference_v1::ConferenceService::Stub::ReviewLetter, review,
                        ann_)
          .status());
  Say("conference", "ReviewLetter: changes requested (speak about the harm to her)");

  draft.set_request_id(RequestId("draft-2"));
  draft.set_letter_id(letter_id_);
  draft.set_text(
      "I am sorry I hurt you and took what was yours. You did nothing to deserve it, and "
      "I know you have been afraid to go out since.");
  MEND_RETURN_IF_ERROR(
      ConferenceCommand("SubmitLetterDraft",
                        &conference_v1::ConferenceService::Stub::SubmitLetterDraft, draft,
                        ann_)
          .status());
  Say("conference", "SubmitLetterDraft: version 2");

  // A second pair of eyes: the co-facilitator approves it.
  review.set_request_id(RequestId("review-2"));
  review.set_version(2);
  review.set_verdict(conference_v1::APPROVED_FOR_OFFER);
  review.clear_notes();
  MEND_RETURN_IF_ERROR(
      ConferenceCommand("ReviewLetter",
                        &conference_v1::ConferenceService::Stub::ReviewLetter, review,
                        raj_)
          .status());
  Say("conference",
      absl::StrCat("ReviewLetter: version 2 approved for offer by ", raj_.subject()));
  return absl::OkStatus();
}

absl::Status CaseStory::VictimDeclines() {
  MEND_RETURN_IF_ERROR(Answer("v-participate-declined", kVictim, consent_v1::PARTICIPATE,
                              consent_v1::DECLINED, false,
                              "the victim does not want to take part"));
  // Ann asks the gate whether she may approach her even so: refused, and
  // the refusal is on record (I2).
  consent_v1::DecideContactRequest r;
  r.set_request_id(RequestId("approach-declined"));
  r.set_case_id(record_.case_id);
  r.set_kind(common_v1::APPROACH_VICTIM);
  r.set_victim_id(kVictim);
  r.set_facilitator_id(ann_.subject());
  r.set_purpose("first-approach");
  *r.mutable_causal_token() = ForConsent();
  absl::StatusOr<consent_v1::ContactDecision> d =
      clients_.Call<consent_v1::ContactDecision>(
          ann_,
          [&](grpc::ClientContext* c, consent_v1::ContactDecision* out) {
            return clients_.consent().DecideContact(c, r, out);
          },
          &attempts_);
  if (!d.ok()) return Named("DecideContact", d.status());
  token_.set_consent_position(std::max(token_.consent_position(), d->position()));
  last_decision_ = DecisionRecord{.kind = d->decision().kind(),
                                  .outcome = d->decision().outcome(),
                                  .decision_id = d->decision().decision_id(),
                                  .consent_position = d->position()};
  Record("consent", "DecideContact", d->position(), &last_decision_);
  if (d->decision().outcome() != consent_v1::REFUSED) {
    return absl::FailedPreconditionError(
        absl::StrCat("DecideContact: the gate answered ", DecisionText(last_decision_),
                     " though the victim declined to take part"));
  }
  Say("consent", absl::StrCat("DecideContact ", DecisionText(last_decision_), ": ",
                              ReasonsText(d->decision())));
  return absl::OkStatus();
}

absl::Status CaseStory::VictimConsentsToLetter() {
  MEND_RETURN_IF_ERROR(Answer("v-participate", kVictim, consent_v1::PARTICIPATE,
                              consent_v1::GIVEN, true,
                              "months later she gets in touch: she will take part"));
  MEND_RETURN_IF_ERROR(Answer("v-letter", kVictim, consent_v1::RECEIVE_LETTER,
                              consent_v1::GIVEN, true, "she will receive his letter"));
  return Answer("su-letter", kServiceUser, consent_v1::RECEIVE_LETTER, consent_v1::GIVEN,
                false, "he agrees to his letter being delivered");
}

absl::Status CaseStory::OfferAndDeliverLetter() {
  conference_v1::OfferLetterRequest offer;
  offer.set_request_id(RequestId("offer"));
  offer.set_case_id(record_.case_id);
  offer.set_letter_id(letter_id_);
  offer.set_victim_id(kVictim);
  MEND_RETURN_IF_ERROR(
      ConferenceCommand("OfferLetter",
                        &conference_v1::ConferenceService::Stub::OfferLetter, offer, ann_)
          .status());
  SayDecided("conference", "OfferLetter", "the letter offered to her");

  conference_v1::DeliverLetterRequest deliver;
  deliver.set_request_id(RequestId("deliver"));
  deliver.set_case_id(record_.case_id);
  deliver.set_letter_id(letter_id_);
  deliver.set_version(2);
  MEND_RETURN_IF_ERROR(
      ConferenceCommand("DeliverLetter",
                        &conference_v1::ConferenceService::Stub::DeliverLetter, deliver,
                        ann_)
          .status());
  SayDecided("conference", "DeliverLetter",
             absl::StrCat("version 2 delivered by ", ann_.subject()));
  return absl::OkStatus();
}

absl::Status CaseStory::VictimResponds() {
  conference_v1::RecordLetterResponseRequest r;
  r.set_request_id(RequestId("response"));
  r.set_case_id(record_.case_id);
  r.set_letter_id(letter_id_);
  r.set_response(
      "It reads as if it is about him and how hard it has been for him. I want to meet "
      "him and ask him why.");
  r.set_wants_further_contact(true);
  r.add_further_contact_kinds(common_v1::FACE_TO_FACE_CONFERENCE);
  MEND_RETURN_IF_ERROR(
      ConferenceCommand("RecordLetterResponse",
                        &conference_v1::ConferenceService::Stub::RecordLetterResponse, r,
                        ann_)
          .status());
  Say("conference",
      "RecordLetterResponse: it reads as self-centred to her; she wants to meet him");
  return absl::OkStatus();
}

}  // namespace mend::scenario
