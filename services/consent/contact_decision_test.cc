// DecideContact and ExplainDecision (contact_decision.h) on facts folded
// from a consent stream: who may ask for whom, the need-to-know refusal, the
// decision event as recorded, and re-running it.
#include "services/consent/contact_decision.h"

#include <cstdint>
#include <functional>
#include <string>
#include <utility>
#include <vector>

#include "absl/strings/str_cat.h"
#include "absl/time/civil_time.h"
#include "absl/time/time.h"
#include "gmock/gmock.h"
#include "gtest/gtest.h"
#include "mend/case/v1/events.pb.h"
#include "services/consent/case_projection.h"
#include "services/consent/contact_rule.h"
#include "tests/support/test_util.h"

namespace mend::consentsvc {
namespace {

using ::mend::testing::IsOk;
using ::mend::testing::StatusIs;
using ::testing::HasSubstr;

constexpr char kCase[] = "c1";
const absl::Time kNow = absl::FromUnixSeconds(1'790'000'000);  // 2026-09-21

// A consent stream whose events are kept, so a decision can be explained.
class Stream {
 public:
  explicit Stream(std::string case_id = kCase) : case_id_(std::move(case_id)) {}

  // Observes a case event at the next case-log position.
  template <typename Event>
  void Observe(Event event) {
    event.set_case_id(case_id_);
    case_position_ += 2;
    consent_v1::CaseEventObserved observed;
    observed.set_case_id(case_id_);
    observed.set_case_position(case_position_);
    observed.set_case_event_type(Event::descriptor()->full_name());
    observed.set_payload(event.SerializeAsString());
    Append(kCaseEventObservedType, observed.SerializeAsString());
  }

  void Give(const std::string& who, consent_v1::ConsentScope scope) {
    consent_v1::ConsentRecorded e;
    e.set_case_id(case_id_);
    e.set_consent_id(absl::StrCat("k", facts_.version));
    e.set_participant_id(who);
    e.set_scope(scope);
    e.set_answer(consent_v1::GIVEN);
    e.set_requested_by_participant(true);
    Append(kConsentRecordedType, e.SerializeAsString());
  }

  void Append(const std::string& type, std::string payload) {
    stored_.push_back({++consent_position_, facts_.version + 1, type, std::move(payload),
                       1'790'000'000'000'000 + static_cast<int64_t>(consent_position_)});
    const Stored& s = stored_.back();
    ASSERT_THAT(Evolve(facts_, s.view()), IsOk()) << type;
  }

  // The events before stream version `version`.
  std::vector<ConsentLogEvent> Before(uint64_t version) const {
    std::vector<ConsentLogEvent> out;
    for (const Stored& s : stored_) {
      if (s.stream_version < version) out.push_back(s.view());
    }
    return out;
  }

  const CaseFacts& facts() const { return facts_; }
  uint64_t case_position() const { return case_position_; }

 private:
  struct Stored {
    uint64_t position, stream_version;
    std::string type, payload;
    int64_t micros;
    ConsentLogEvent view() const {
      return {position, stream_version, type, payload, micros};
    }
  };
  std::string case_id_;
  CaseFacts facts_;
  std::vector<Stored> stored_;
  uint64_t case_position_ = 0;
  uint64_t consent_position_ = 100;
};

// A case ready for a letter: referred, acknowledged, suitable, f1
// allocated, assessed (review due 2027-01-31), PREPARING, both consented.
Stream Ready(const std::string& case_id = kCase, const std::string& victim = "v1") {
  Stream s(case_id);
  case_v1::CaseReferred referred;
  referred.set_offence_category(case_v1::VIOLENCE);
  for (auto [id, role] : {std::pair{"su1", case_v1::SERVICE_USER},
                          std::pair{victim.c_str(), case_v1::VICTIM}}) {
    case_v1::Participant* p = referred.add_participants();
    p->set_participant_id(id);
    p->set_role(role);
  }
  s.Observe(referred);
  case_v1::StageChanged stage;
  for (auto [from, to] : {std::pair{case_v1::STAGE_UNSPECIFIED, case_v1::REFERRED},
                          std::pair{case_v1::REFERRED, case_v1::SCREENING},
                          std::pair{case_v1::SCREENING, case_v1::ALLOCATED},
                          std::pair{case_v1::ALLOCATED, case_v1::ASSESSING}}) {
    stage.set_from(from);
    stage.set_to(to);
    s.Observe(stage);
  }
  case_v1::AcknowledgementRecorded ack;
  ack.set_acknowledged(true);
  s.Observe(ack);
  case_v1::SuitabilityRecorded suitable;
  suitable.set_suitable(true);
  s.Observe(suitable);
  case_v1::FacilitatorAllocated allocated;
  allocated.set_facilitator_id("f1");
  s.Observe(allocated);
  case_v1::RiskAssessmentRecorded ra;
  ra.set_assessment_id("ra1");
  ra.add_allowed_kinds(common_v1::LETTER_DELIVERY);
  ra.set_review_date("2027-01-31");
  s.Observe(ra);
  stage.set_from(case_v1::ASSESSING);
  stage.set_to(case_v1::PREPARING);
  s.Observe(stage);
  for (auto [who, scope] : {std::pair{victim.c_str(), consent_v1::PARTICIPATE},
                            std::pair{victim.c_str(), consent_v1::RECEIVE_LETTER},
                            std::pair{"su1", consent_v1::RECEIVE_LETTER}}) {
    s.Give(who, scope);
  }
  return s;
}

DecideContactCommand Letter(std::string facilitator_id = "") {
  DecideContactCommand c;
  c.case_id = kCase;
  c.decision_id = "d1";
  c.kind = common_v1::LETTER_DELIVERY;
  c.facilitator_id = std::move(facilitator_id);
  c.purpose = "deliver apology letter";
  c.handled_case_position = 3;
  c.causal_token.set_case_position(3);
  return c;
}

CommandContext As(Role role, std::string actor) {
  return CommandContext{.actor_id = std::move(actor), .role = role, .now = kNow};
}

TEST(DecideContactTest, AnAllocatedFacilitatorGetsTheRecordedDecision) {
  const Stream s = Ready();
  const absl::StatusOr<consent_v1::ContactDecisionMade> d =
      DecideContact(s.facts(), Letter(), As(Role::kFacilitator, "f1"));
  ASSERT_THAT(d, IsOk());
  EXPECT_EQ(d->outcome(), consent_v1::APPROVED) << d->ShortDebugString();
  EXPECT_EQ(d->decision_id(), "d1");
  EXPECT_EQ(d->case_id(), kCase);
  EXPECT_EQ(d->kind(), common_v1::LETTER_DELIVERY);
  EXPECT_EQ(d->victim_id(), "v1");
  EXPECT_EQ(d->service_user_id(), "su1");
  EXPECT_EQ(d->facilitator_id(), "f1");
  EXPECT_EQ(d->requested_by(), "f1");
  EXPECT_EQ(d->requested_by_role(), "facilitator");
  EXPECT_EQ(d->purpose(), "deliver apology letter");
  EXPECT_EQ(d->policy_version(), kContactPolicyVersion);
  // The facts went past the handled position: the later one is recorded.
  EXPECT_EQ(d->case_position(), s.case_position());
  EXPECT_EQ(d->causal_token().case_position(), 3u);
  EXPECT_FALSE(d->consulted().empty());
  EXPECT_EQ(d->has_decided_at_unix_micros(), RuleReadsTime(kContactPolicyVersion));
  if (d->has_decided_at_unix_micros()) {
    EXPECT_EQ(d->decided_at_unix_micros(), absl::ToUnixMicros(kNow));
  }

  DecideContactCommand later = Letter();
  later.handled_case_position = 1000;
  EXPECT_EQ(
      DecideContact(s.facts(), later, As(Role::kFacilitator, "f1"))->case_position(),
      1000u);
}

// A service names the facilitator; an unallocated one is a recorded refusal.
TEST(DecideContactTest, AServiceAsksForANamedFacilitator) {
  const Stream s = Ready();
  absl::StatusOr<consent_v1::ContactDecisionMade> d =
      DecideContact(s.facts(), Letter("f1"), As(Role::kService, "conference"));
  ASSERT_THAT(d, IsOk());
  EXPECT_EQ(d->outcome(), consent_v1::APPROVED);
  EXPECT_EQ(d->facilitator_id(), "f1");
  EXPECT_EQ(d->requested_by(), "conference");
  EXPECT_EQ(d->requested_by_role(), "service");

  d = DecideContact(s.facts(), Letter("f9"), As(Role::kService, "conference"));
  ASSERT_THAT(d, IsOk());
  EXPECT_EQ(d->outcome(), consent_v1::REFUSED);
  ASSERT_EQ(d->reasons_size(), 1);
  EXPECT_EQ(d->reasons(0).code(), consent_v1::FACILITATOR_NOT_ALLOCATED);
}

TEST(DecideContactTest, RefusalsBeforeAnyDecision) {
  const Stream ready = Ready();
  const Stream never_observed;
  struct Row {
    std::string name;
    const Stream* stream;
    std::function<void(DecideContactCommand&)> change;
    CommandContext ctx;
    absl::StatusCode code;
    std::string says;
  };
  const auto same = [](DecideContactCommand&) {};
  const std::string not_allocated = "facilitator \"f9\" is not allocated to case \"c1\"";
  const std::vector<Row> rows = {
      {"Manager", &ready, same, As(Role::kManager, "m1"),
       absl::StatusCode::kPermissionDenied, "manager"},
      {"Auditor", &ready, same, As(Role::kAuditor, "a1"),
       absl::StatusCode::kPermissionDenied, "auditor"},
      {"FacilitatorForAnother", &ready, [](auto& c) { c.facilitator_id = "f2"; },
       As(Role::kFacilitator, "f1"), absl::StatusCode::kPermissionDenied, "\"f2\""},
      {"ServiceNamesNoFacilitator", &ready, same, As(Role::kService, "conference"),
       absl::StatusCode::kInvalidArgument, "facilitator_id"},
      {"NoDecisionId", &ready, [](auto& c) { c.decision_id.clear(); },
       As(Role::kFacilitator, "f1"), absl::StatusCode::kInvalidArgument, "decision_id"},
      {"NoKind", &ready, [](auto& c) { c.kind = common_v1::CONTACT_KIND_UNSPECIFIED; },
       As(Role::kFacilitator, "f1"), absl::StatusCode::kInvalidArgument, "kind"},
      {"UnallocatedFacilitator", &ready, same, As(Role::kFacilitator, "f9"),
       absl::StatusCode::kPermissionDenied, not_allocated},
      {"UnallocatedFacilitatorUnknownCase", &never_observed, same,
       As(Role::kFacilitator, "f9"), absl::StatusCode::kPermissionDenied, not_allocated},
      {"ServiceUnknownCase", &never_observed, [](auto& c) { c.facilitator_id = "f1"; },
       As(Role::kService, "conference"), absl::StatusCode::kNotFound, "causal token"},
      {"UnknownVictim", &ready, [](auto& c) { c.victim_id = "v9"; },
       As(Role::kFacilitator, "f1"), absl::StatusCode::kNotFound, "v9"},
      {"ServiceUserAsVictim", &ready, [](auto& c) { c.victim_id = "su1"; },
       As(Role::kFacilitator, "f1"), absl::StatusCode::kInvalidArgument, "su1"},
  };
  for (const Row& row : rows) {
    SCOPED_TRACE(row.name);
    DecideContactCommand command = Letter();
    row.change(command);
    EXPECT_THAT(DecideContact(row.stream->facts(), command, row.ctx),
                StatusIs(row.code, HasSubstr(row.says)));
  }
  // Exactly the same answer for a case that exists and one that does not.
  EXPECT_EQ(DecideContact(ready.facts(), Letter(), As(Role::kFacilitator, "f9")).status(),
            DecideContact(never_observed.facts(), Letter(), As(Role::kFacilitator, "f9"))
                .status());
  EXPECT_EQ(DecideContact(ready.facts(), Letter(), As(Role::kFacilitator, "f9"))
                .status()
                .message(),
            not_allocated);
}

TEST(AskingFacilitatorTest, TheCallerOrTheNamedOne) {
  EXPECT_EQ(*AskingFacilitator(Letter(), As(Role::kFacilitator, "f1")), "f1");
  EXPECT_EQ(*AskingFacilitator(Letter("f1"), As(Role::kFacilitator, "f1")), "f1");
  EXPECT_EQ(*AskingFacilitator(Letter("f2"), As(Role::kService, "conference")), "f2");
  EXPECT_THAT(AskingFacilitator(Letter("f2"), As(Role::kFacilitator, "f1")),
              StatusIs(absl::StatusCode::kPermissionDenied));
}

// ----- Erasure is per case --------------------------------------------------

case_v1::ParticipantErased Erasure(
    const std::string& who,
    const std::vector<std::pair<std::string, std::string>>& linked) {
  case_v1::ParticipantErased e;
  e.set_participant_id(who);
  e.set_basis(case_v1::ERASURE_REQUEST);
  for (const auto& [case_id, participant_id] : linked) {
    case_v1::PersonRef* ref = e.add_linked();
    ref->set_case_id(case_id);
    ref->set_participant_id(participant_id);
  }
  return e;
}

DecideContactCommand LetterIn(const std::string& case_id) {
  DecideContactCommand c = Letter();
  c.case_id = case_id;
  return c;
}

// Defect D3: an erasure in case B of its participant "p-x" must not make
// open case A's victim "p-x" — another person, unless linked — read erased.
TEST(ErasurePerCaseTest, TheSameIdInAnotherCaseIsAnotherPerson) {
  Stream a = Ready("case-a", "p-x");
  Stream b = Ready("case-b", "p-x");
  case_v1::StageChanged closed;
  closed.set_from(case_v1::PREPARING);
  closed.set_to(case_v1::CLOSED);
  b.Observe(closed);
  b.Observe(Erasure("p-x", {}));
  ASSERT_TRUE(b.facts().case_state.FindParticipant("p-x")->erased);

  EXPECT_FALSE(a.facts().case_state.FindParticipant("p-x")->erased);
  const absl::StatusOr<consent_v1::ContactDecisionMade> d =
      DecideContact(a.facts(), LetterIn("case-a"), As(Role::kFacilitator, "f1"));
  ASSERT_THAT(d, IsOk());
  EXPECT_EQ(d->outcome(), consent_v1::APPROVED) << d->ShortDebugString();
  // Case B's own erasure refuses there.
  const absl::StatusOr<consent_v1::ContactDecisionMade> in_b =
      DecideContact(b.facts(), LetterIn("case-b"), As(Role::kFacilitator, "f1"));
  ASSERT_THAT(in_b, IsOk());
  EXPECT_EQ(in_b->outcome(), consent_v1::REFUSED);
  bool erased = false;
  for (const consent_v1::Reason& r : in_b->reasons()) {
    erased |= r.code() == consent_v1::PARTICIPANT_ERASED && r.participant_id() == "p-x";
  }
  EXPECT_TRUE(erased) << in_b->ShortDebugString();
}

// A linked person erased from another case: the case service records a
// ParticipantErased in this case's own stream too, naming the others; that
// is enough for the rule to refuse here.
TEST(ErasurePerCaseTest, ALinkedErasureInTheCasesOwnStreamRefuses) {
  Stream a = Ready("case-a", "v1");
  case_v1::ParticipantLinked linked;
  linked.set_participant_id("v1");
  linked.mutable_other()->set_case_id("case-b");
  linked.mutable_other()->set_participant_id("v7");
  a.Observe(linked);
  ASSERT_EQ(DecideContact(a.facts(), LetterIn("case-a"), As(Role::kFacilitator, "f1"))
                ->outcome(),
            consent_v1::APPROVED);

  a.Observe(Erasure("v1", {{"case-b", "v7"}}));
  const uint64_t erased_at = a.case_position();
  const absl::StatusOr<consent_v1::ContactDecisionMade> d =
      DecideContact(a.facts(), LetterIn("case-a"), As(Role::kFacilitator, "f1"));
  ASSERT_THAT(d, IsOk());
  EXPECT_EQ(d->outcome(), consent_v1::REFUSED);
  ASSERT_EQ(d->reasons_size(), 1);
  EXPECT_EQ(d->reasons(0).code(), consent_v1::PARTICIPANT_ERASED);
  EXPECT_EQ(d->reasons(0).participant_id(), "v1");
  bool cited = false;
  for (const consent_v1::ConsultedFact& f : d->consulted()) {
    cited |=
        f.position() == erased_at && f.event_type() == "mend.case.v1.ParticipantErased";
  }
  EXPECT_TRUE(cited) << d->ShortDebugString();
  EXPECT_EQ(a.facts().erasures.at("v1").position, erased_at);
  ASSERT_EQ(a.facts().links.at("v1").size(), 1u);
}

// ----- ExplainDecision ------------------------------------------------------

struct Recorded {
  Stream stream;
  DecisionRecord record;
};

Recorded Decided(const std::function<void(Stream&)>& before_deciding = {}) {
  Recorded r{Ready(), {}};
  if (before_deciding) before_deciding(r.stream);
  absl::StatusOr<consent_v1::ContactDecisionMade> d =
      DecideContact(r.stream.facts(), Letter(), As(Role::kFacilitator, "f1"));
  EXPECT_THAT(d, IsOk());
  r.stream.Append(kContactDecisionMadeType, d->SerializeAsString());
  r.record = r.stream.facts().decisions.back();
  return r;
}

TEST(ExplainDecisionTest, ReRunningGivesTheSameDecision) {
  const Recorded r = Decided();
  const std::vector<ConsentLogEvent> before = r.stream.Before(r.record.stream_version);
  const absl::StatusOr<Explanation> e = ExplainDecision(r.record, before);
  ASSERT_THAT(e, IsOk());
  EXPECT_TRUE(e->same_outcome);
  EXPECT_TRUE(e->same_reasons);
  EXPECT_TRUE(e->same_consulted);
  EXPECT_EQ(e->recomputed.SerializeAsString(), r.record.decision.SerializeAsString());
  EXPECT_EQ(e->facts_until_position, before.back().position);
  // Facts after the decision do not count: a withdrawal after it changes
  // nothing in its explanation.
  Recorded later = Decided();
  later.stream.Append(kConsentWithdrawnType, [] {
    consent_v1::ConsentWithdrawn w;
    w.set_case_id(kCase);
    w.set_participant_id("v1");
    w.add_scopes(consent_v1::PARTICIPATE);
    return w.SerializeAsString();
  }());
  const absl::StatusOr<Explanation> again =
      ExplainDecision(later.record, later.stream.Before(later.record.stream_version));
  ASSERT_THAT(again, IsOk());
  EXPECT_TRUE(again->same_outcome && again->same_reasons && again->same_consulted);
}

TEST(ExplainDecisionTest, ARecordThatDiffersFromTheRuleShows) {
  Recorded r = Decided();
  r.record.decision.set_outcome(consent_v1::REFUSED);
  r.record.decision.add_reasons()->set_code(consent_v1::CASE_PAUSED);
  r.record.decision.mutable_consulted(0)->set_position(999);
  const absl::StatusOr<Explanation> e =
      ExplainDecision(r.record, r.stream.Before(r.record.stream_version));
  ASSERT_THAT(e, IsOk());
  EXPECT_FALSE(e->same_outcome);
  EXPECT_FALSE(e->same_reasons);
  EXPECT_FALSE(e->same_consulted);
  EXPECT_EQ(e->recomputed.outcome(), consent_v1::APPROVED);
}

// A contact-gate/2 decision re-runs at the time it recorded, not at the
// time it is explained: the review was not due then.
TEST(ExplainDecisionTest, ReRunsAtTheRecordedTime) {
  const Recorded r = Decided();
  ASSERT_EQ(r.record.decision.policy_version(), kContactGateV2);
  ASSERT_EQ(r.record.decision.outcome(), consent_v1::APPROVED);
  const std::vector<ConsentLogEvent> before = r.stream.Before(r.record.stream_version);
  ASSERT_TRUE(ExplainDecision(r.record, before)->same_outcome);

  // Recorded as if decided after the review date (2027-01-31): the rule
  // gives the refusal that time calls for, so the record no longer matches.
  DecisionRecord later = r.record;
  later.decision.set_decided_at_unix_micros(absl::ToUnixMicros(
      absl::FromCivil(absl::CivilDay(2027, 2, 1), absl::UTCTimeZone())));
  const absl::StatusOr<Explanation> e = ExplainDecision(later, before);
  ASSERT_THAT(e, IsOk());
  EXPECT_FALSE(e->same_outcome);
  ASSERT_EQ(e->recomputed.reasons_size(), 1);
  EXPECT_EQ(e->recomputed.reasons(0).code(), consent_v1::RISK_ASSESSMENT_REVIEW_OVERDUE);

  DecisionRecord untimed = r.record;
  untimed.decision.clear_decided_at_unix_micros();
  EXPECT_THAT(ExplainDecision(untimed, before),
              StatusIs(absl::StatusCode::kDataLoss, HasSubstr("time")));
}

// Decisions made by contact-gate/1 keep explaining with it: a case found
// unsuitable was approved then (defect D2) and explains as approved, while a
// new decision on the same facts is refused.
TEST(ExplainDecisionTest, AV1DecisionExplainsWithV1) {
  Stream s = Ready();
  case_v1::SuitabilityRecorded unsuitable;
  unsuitable.set_suitable(false);
  unsuitable.set_reason(case_v1::RISK_TOO_HIGH);
  s.Observe(unsuitable);

  // What a build that had only contact-gate/1 recorded.
  const ContactRuling v1 =
      DecideContactRuleV1(s.facts(), ContactQuestion{.kind = common_v1::LETTER_DELIVERY,
                                                     .victim_id = "v1",
                                                     .service_user_id = "su1",
                                                     .facilitator_id = "f1"});
  ASSERT_EQ(v1.outcome, consent_v1::APPROVED);
  consent_v1::ContactDecisionMade old;
  old.set_decision_id("d-old");
  old.set_case_id(kCase);
  old.set_kind(common_v1::LETTER_DELIVERY);
  old.set_outcome(v1.outcome);
  for (const auto& f : v1.consulted) *old.add_consulted() = f;
  old.set_victim_id("v1");
  old.set_service_user_id("su1");
  old.set_facilitator_id("f1");
  old.set_policy_version(v1.policy_version);
  s.Append(kContactDecisionMadeType, old.SerializeAsString());
  const DecisionRecord recorded = s.facts().decisions.back();

  const absl::StatusOr<Explanation> e =
      ExplainDecision(recorded, s.Before(recorded.stream_version));
  ASSERT_THAT(e, IsOk());
  EXPECT_TRUE(e->same_outcome && e->same_reasons && e->same_consulted);
  EXPECT_EQ(e->recomputed.policy_version(), kContactGateV1);

  const absl::StatusOr<consent_v1::ContactDecisionMade> now =
      DecideContact(s.facts(), Letter(), As(Role::kFacilitator, "f1"));
  ASSERT_THAT(now, IsOk());
  EXPECT_EQ(now->outcome(), consent_v1::REFUSED);
  ASSERT_EQ(now->reasons_size(), 1);
  EXPECT_EQ(now->reasons(0).code(), consent_v1::CASE_UNSUITABLE);
}

TEST(ExplainDecisionTest, WhatCannotBeExplained) {
  const Recorded r = Decided();
  const std::vector<ConsentLogEvent> before = r.stream.Before(r.record.stream_version);

  DecisionRecord unknown_policy = r.record;
  unknown_policy.decision.set_policy_version("contact-gate/99");
  EXPECT_THAT(
      ExplainDecision(unknown_policy, before),
      StatusIs(absl::StatusCode::kFailedPrecondition, HasSubstr("contact-gate/99")));

  DecisionRecord first = r.record;
  first.stream_version = 1;
  EXPECT_THAT(ExplainDecision(first, {}), StatusIs(absl::StatusCode::kDataLoss));

  const std::vector<ConsentLogEvent> missing(before.begin(), before.end() - 1);
  EXPECT_THAT(ExplainDecision(r.record, missing),
              StatusIs(absl::StatusCode::kDataLoss, HasSubstr("ends at version")));

  const std::vector<ConsentLogEvent> too_many =
      r.stream.Before(r.record.stream_version + 1);
  EXPECT_THAT(ExplainDecision(r.record, too_many),
              StatusIs(absl::StatusCode::kInvalidArgument));

  std::vector<ConsentLogEvent> gap = before;
  gap.erase(gap.begin() + 2);
  EXPECT_THAT(ExplainDecision(r.record, gap), StatusIs(absl::StatusCode::kDataLoss));
}

}  // namespace
}  // namespace mend::consentsvc
