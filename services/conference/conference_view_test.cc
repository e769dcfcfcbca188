// GetCaseContact's view (conference_view.h): who may see the words, every
// fact of the state copied into its place, and each sealed value given shown
// through the callback under the field name the service seals it with (a
// value not given is never passed to it).
#include "services/conference/conference_view.h"

#include <map>
#include <string>
#include <utility>
#include <vector>

#include "absl/strings/str_cat.h"
#include "absl/time/time.h"
#include "gmock/gmock.h"
#include "google/protobuf/util/message_differencer.h"
#include "gtest/gtest.h"

namespace mend::conferencesvc {
namespace {

using ::google::protobuf::util::MessageDifferencer;
using ::testing::ElementsAre;
using ::testing::UnorderedElementsAre;

common_v1::Sealed SealedOf(const std::string& person, const std::string& words) {
  common_v1::Sealed s;
  s.set_person_id(person);
  s.set_ciphertext("ct|" + words);
  return s;
}

conference_v1::Approval ApprovalOf(const std::string& decision_id) {
  conference_v1::Approval a;
  a.set_decision_id(decision_id);
  return a;
}

// Shows "<field>=<ciphertext>" and remembers each call.
class RecordingShow {
 public:
  ShowFn fn() {
    return [this](const common_v1::Sealed& sealed, std::string_view field) {
      calls_.emplace_back(std::string(field), sealed.ciphertext());
      conference_v1::Text out;
      out.set_text(absl::StrCat(std::string(field), "=", sealed.ciphertext()));
      return out;
    };
  }
  const std::vector<std::pair<std::string, std::string>>& calls() const { return calls_; }

 private:
  std::vector<std::pair<std::string, std::string>> calls_;
};

// A case with one of everything GetCaseContact lists, and a value not given
// beside each kind of sealed value that is.
ConferenceState AState() {
  ConferenceState s;
  s.case_id = "c-1";
  s.version = 23;
  s.case_known = true;

  LetterFacts letter;
  letter.letter_id = "l-1";
  letter.author_id = "su-1";
  letter.versions.push_back({.version = 1,
                             .text = SealedOf("su-1", "sorry v1"),
                             .verdict = conference_v1::CHANGES_REQUESTED,
                             .review_notes = SealedOf("su-1", "shorter"),
                             .position = 5});
  letter.versions.push_back({.version = 2,
                             .text = SealedOf("su-1", "sorry v2"),
                             .verdict = conference_v1::APPROVED_FOR_OFFER,
                             .review_notes = {},
                             .position = 9});
  letter.offer = ApprovalOf("d-offer");
  letter.delivery = ApprovalOf("d-deliver");
  letter.delivered_version = 2;
  letter.response = SealedOf("v-1", "thank you");
  letter.wants_further_contact = true;
  letter.further_contact_kinds = {common_v1::FACE_TO_FACE_CONFERENCE};
  s.letters.emplace("l-1", letter);
  LetterFacts second;
  second.letter_id = "l-0";  // submitted second, listed second
  second.author_id = "su-1";
  second.delivery_cancelled = conference_v1::CONSENT_WITHDRAWN;
  s.letters.emplace("l-0", second);
  s.letter_order = {"l-1", "l-0"};

  s.messages.push_back({.message_id = "m-1",
                        .from_participant_id = "v-1",
                        .to_participant_id = "su-1",
                        .text = SealedOf("v-1", "why"),
                        .approval = ApprovalOf("d-shuttle"),
                        .position = 12});

  s.preparations.emplace("b-prep",
                         PreparationFacts{.booking_id = "b-prep",
                                          .participant_id = "v-1",
                                          .expectations_discussed = true,
                                          .support_needs = SealedOf("v-1", "a chair"),
                                          .mental_health_support = true,
                                          .supporter_id = "sp-1",
                                          .ready = true,
                                          .position = 14});

  const absl::Time start = absl::FromUnixSeconds(1'811'664'000);
  s.slots.emplace("b-conf", SlotFacts{.booking_id = "b-conf",
                                      .conference = true,
                                      .kind = common_v1::FACE_TO_FACE_CONFERENCE,
                                      .start = start,
                                      .end = start + absl::Hours(2),
                                      .participant_ids = {"su-1", "v-1"},
                                      .facilitator_ids = {"ann"},
                                      .cancelled = false,
                                      .scheduling_position = 30});
  s.slots.emplace("b-prep",
                  SlotFacts{.booking_id = "b-prep",
                            .conference = false,  // not a conference: not listed
                            .kind = common_v1::CONTACT_KIND_UNSPECIFIED,
                            .start = start - absl::Hours(48),
                            .end = start - absl::Hours(47),
                            .participant_ids = {"v-1"},
                            .facilitator_ids = {"ann"},
                            .cancelled = false,
                            .scheduling_position = 20});
  s.slots.emplace("b-later", SlotFacts{.booking_id = "b-later",
                                       .conference = true,
                                       .kind = common_v1::VIDEO_MEETING,
                                       .start = start + absl::Hours(240),
                                       .end = start + absl::Hours(241),
                                       .participant_ids = {"su-1", "v-1"},
                                       .facilitator_ids = {"ann"},
                                       .cancelled = true,
                                       .scheduling_position = 31});
  ConferenceFacts held;
  held.booking_id = "b-conf";
  held.started = ApprovalOf("d-start");
  held.held = true;
  held.outline = SealedOf("v-1", "we talked");
  held.apology_made = true;
  s.conferences.emplace("b-conf", held);

  AgreementFacts agreement;
  agreement.agreement_id = "a-1";
  agreement.items.push_back({.item_id = "i-1",
                             .what = SealedOf("su-1", "repaint the fence"),
                             .owner_id = "su-1",
                             .due_date = "2027-07-01",
                             .completed = true});
  agreement.items.push_back({.item_id = "i-2",
                             .what = {},
                             .owner_id = "su-1",
                             .due_date = "",
                             .completed = false});
  conference_v1::PartyConsent consent;
  consent.set_participant_id("v-1");
  consent.set_consented(true);
  agreement.consents = {consent};
  agreement.completed = true;
  agreement.victim_informed = ApprovalOf("d-inform");
  s.agreement = agreement;

  s.feedback.emplace("v-1", FeedbackFacts{.participant_id = "v-1",
                                          .satisfaction = 5,
                                          .comments = SealedOf("v-1", "it helped"),
                                          .would_recommend = true});
  s.follow_up_completed = true;
  return s;
}

TEST(MaySeeWordsTest, OnlyThePeopleWhoWorkTheCase) {
  EXPECT_TRUE(MaySeeWords(Role::kFacilitator));
  EXPECT_TRUE(MaySeeWords(Role::kManager));
  EXPECT_FALSE(MaySeeWords(Role::kAuditor));
  EXPECT_FALSE(MaySeeWords(Role::kService));
}

TEST(WithholdTest, IsWithheld) {
  const conference_v1::Text text = Withhold(SealedOf("v-1", "x"), kSealedLetterText);
  EXPECT_TRUE(text.withheld());
  EXPECT_EQ(text.shown_case(), conference_v1::Text::kWithheld);
}

TEST(ContactViewTest, EachSealedValueGivenIsShownUnderItsField) {
  RecordingShow show;
  const conference_v1::CaseContactView view = ContactView(AState(), show.fn());
  EXPECT_THAT(show.calls(),
              UnorderedElementsAre(std::pair{"letter.text", "ct|sorry v1"},
                                   std::pair{"letter.review_notes", "ct|shorter"},
                                   std::pair{"letter.text", "ct|sorry v2"},
                                   std::pair{"letter.response", "ct|thank you"},
                                   std::pair{"shuttle.text", "ct|why"},
                                   std::pair{"preparation.support_needs", "ct|a chair"},
                                   std::pair{"conference.outline", "ct|we talked"},
                                   std::pair{"agreement.item", "ct|repaint the fence"},
                                   std::pair{"feedback.comments", "ct|it helped"}));
  const conference_v1::LetterView& letter = view.letters(0);
  EXPECT_EQ(letter.versions(0).text().text(), "letter.text=ct|sorry v1");
  EXPECT_EQ(letter.versions(0).review_notes().text(), "letter.review_notes=ct|shorter");
  EXPECT_EQ(letter.versions(1).text().text(), "letter.text=ct|sorry v2");
  EXPECT_EQ(letter.response().text(), "letter.response=ct|thank you");
  EXPECT_EQ(view.messages(0).text().text(), "shuttle.text=ct|why");
  EXPECT_EQ(view.preparations(0).support_needs().text(),
            "preparation.support_needs=ct|a chair");
  EXPECT_EQ(view.conferences(0).outline().text(), "conference.outline=ct|we talked");
  EXPECT_EQ(view.agreement().items(0).what().text(),
            "agreement.item=ct|repaint the fence");
  EXPECT_EQ(view.feedback(0).comments().text(), "feedback.comments=ct|it helped");
  // Values not given: an empty Text, the callback never asked.
  EXPECT_EQ(letter.versions(1).review_notes().shown_case(),
            conference_v1::Text::SHOWN_NOT_SET);
  EXPECT_EQ(view.letters(1).response().shown_case(), conference_v1::Text::SHOWN_NOT_SET);
  EXPECT_EQ(view.agreement().items(1).what().shown_case(),
            conference_v1::Text::SHOWN_NOT_SET);
  EXPECT_EQ(view.conferences(1).outline().shown_case(),
            conference_v1::Text::SHOWN_NOT_SET);
}

TEST(ContactViewTest, WithheldForAReaderWhoMayNotSeeTheWords) {
  const conference_v1::CaseContactView view = ContactView(AState(), Withhold);
  EXPECT_TRUE(view.letters(0).versions(0).text().withheld());
  EXPECT_TRUE(view.letters(0).response().withheld());
  EXPECT_TRUE(view.messages(0).text().withheld());
  EXPECT_TRUE(view.feedback(0).comments().withheld());
  EXPECT_EQ(view.letters(0).versions(1).review_notes().shown_case(),
            conference_v1::Text::SHOWN_NOT_SET);
}

TEST(ContactViewTest, EveryFactIsCopiedIntoItsPlace) {
  const ConferenceState s = AState();
  const conference_v1::CaseContactView view = ContactView(s, Withhold);
  EXPECT_EQ(view.case_id(), "c-1");
  EXPECT_EQ(view.version(), 23u);
  EXPECT_FALSE(view.has_handled());
  EXPECT_TRUE(view.follow_up_completed());

  // Letters in the order first submitted.
  ASSERT_EQ(view.letters_size(), 2);
  const conference_v1::LetterView& l = view.letters(0);
  EXPECT_EQ(l.letter_id(), "l-1");
  EXPECT_EQ(l.author_id(), "su-1");
  ASSERT_EQ(l.versions_size(), 2);
  EXPECT_EQ(l.versions(0).version(), 1);
  EXPECT_EQ(l.versions(0).verdict(), conference_v1::CHANGES_REQUESTED);
  EXPECT_EQ(l.versions(0).position(), 5u);
  EXPECT_EQ(l.versions(1).verdict(), conference_v1::APPROVED_FOR_OFFER);
  EXPECT_EQ(l.offer().decision_id(), "d-offer");
  EXPECT_EQ(l.delivery().decision_id(), "d-deliver");
  EXPECT_EQ(l.delivered_version(), 2);
  EXPECT_TRUE(l.wants_further_contact());
  EXPECT_THAT(l.further_contact_kinds(), ElementsAre(common_v1::FACE_TO_FACE_CONFERENCE));
  EXPECT_EQ(view.letters(1).letter_id(), "l-0");
  EXPECT_FALSE(view.letters(1).has_offer());
  EXPECT_EQ(view.letters(1).delivery_cancelled(), conference_v1::CONSENT_WITHDRAWN);

  ASSERT_EQ(view.messages_size(), 1);
  EXPECT_EQ(view.messages(0).message_id(), "m-1");
  EXPECT_EQ(view.messages(0).from_participant_id(), "v-1");
  EXPECT_EQ(view.messages(0).to_participant_id(), "su-1");
  EXPECT_EQ(view.messages(0).approval().decision_id(), "d-shuttle");
  EXPECT_EQ(view.messages(0).position(), 12u);

  ASSERT_EQ(view.preparations_size(), 1);
  const conference_v1::PreparationView& p = view.preparations(0);
  EXPECT_EQ(p.booking_id(), "b-prep");
  EXPECT_EQ(p.participant_id(), "v-1");
  EXPECT_TRUE(p.expectations_discussed());
  EXPECT_TRUE(p.mental_health_support());
  EXPECT_EQ(p.supporter_id(), "sp-1");
  EXPECT_TRUE(p.ready());

  // Conference bookings only (by booking id), with what happened at each.
  ASSERT_EQ(view.conferences_size(), 2);
  const conference_v1::ConferenceView& c = view.conferences(0);
  EXPECT_EQ(c.booking_id(), "b-conf");
  EXPECT_EQ(c.kind(), common_v1::FACE_TO_FACE_CONFERENCE);
  EXPECT_EQ(c.start_unix_micros(), absl::ToUnixMicros(s.slots.at("b-conf").start));
  EXPECT_FALSE(c.booking_cancelled());
  EXPECT_EQ(c.start().decision_id(), "d-start");
  EXPECT_TRUE(c.held());
  EXPECT_TRUE(c.apology_made());
  const conference_v1::ConferenceView& later = view.conferences(1);
  EXPECT_EQ(later.booking_id(), "b-later");
  EXPECT_TRUE(later.booking_cancelled());
  EXPECT_FALSE(later.has_start());
  EXPECT_FALSE(later.held());

  const conference_v1::AgreementView& a = view.agreement();
  EXPECT_EQ(a.agreement_id(), "a-1");
  ASSERT_EQ(a.items_size(), 2);
  EXPECT_EQ(a.items(0).item_id(), "i-1");
  EXPECT_EQ(a.items(0).owner_id(), "su-1");
  EXPECT_EQ(a.items(0).due_date(), "2027-07-01");
  EXPECT_TRUE(a.items(0).completed());
  EXPECT_FALSE(a.items(1).completed());
  ASSERT_EQ(a.consents_size(), 1);
  EXPECT_TRUE(MessageDifferencer::Equals(a.consents(0), s.agreement->consents[0]));
  EXPECT_TRUE(a.completed());
  EXPECT_EQ(a.victim_informed().decision_id(), "d-inform");

  ASSERT_EQ(view.feedback_size(), 1);
  EXPECT_EQ(view.feedback(0).participant_id(), "v-1");
  EXPECT_EQ(view.feedback(0).satisfaction(), 5);
  EXPECT_TRUE(view.feedback(0).would_recommend());
}

TEST(ContactViewTest, ACaseWithNothingYetListsNothing) {
  ConferenceState s;
  s.case_id = "c-2";
  s.case_known = true;
  RecordingShow show;
  const conference_v1::CaseContactView view = ContactView(s, show.fn());
  EXPECT_EQ(view.case_id(), "c-2");
  EXPECT_EQ(view.letters_size(), 0);
  EXPECT_EQ(view.conferences_size(), 0);
  EXPECT_FALSE(view.has_agreement());
  EXPECT_FALSE(view.follow_up_completed());
  EXPECT_TRUE(show.calls().empty());
}

}  // namespace
}  // namespace mend::conferencesvc
