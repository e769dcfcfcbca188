// People across cases: per-case identity and keys, LinkParticipant, and
// erasure of a person in every case they are linked in.
#include "services/case/case_people.h"

#include <algorithm>

#include "services/case/case_domain_test_support.h"

namespace mend::casesvc::test {
namespace {

constexpr char kCaseA[] = "case-a";
constexpr char kCaseB[] = "case-b";
constexpr char kCaseC[] = "case-c";

LinkParticipantCommand Link(const std::string& case_id, const std::string& participant,
                            const std::string& other_case,
                            const std::string& other_participant) {
  return {case_id, participant, other_case, other_participant, "same-dob-and-name"};
}

// Applies a multi-case decision to the scenarios of its cases.
absl::Status ApplyAll(absl::StatusOr<std::vector<CaseAppend>> decided,
                      std::map<std::string, Scenario*> scenarios) {
  if (!decided.ok()) return decided.status();
  for (CaseAppend& append : *decided) {
    auto it = scenarios.find(append.case_id);
    if (it == scenarios.end()) return absl::InternalError("append to an unknown case");
    if (append.expected_version != it->second->state().version) {
      return absl::InternalError("expected version is not the state's");
    }
    if (absl::Status s = it->second->Apply(std::move(append.events)); !s.ok()) return s;
  }
  return absl::OkStatus();
}

absl::Time RetentionOver(const CaseState& state) {
  return absl::FromUnixMicros(state.closed_unix_micros) + kDefaultRetentionPeriod;
}

TEST(PersonKeyIdTest, OneKeyPerCaseAndParticipant) {
  EXPECT_EQ(PersonKeyId("c1", "v1"), "c1/v1");
  EXPECT_NE(PersonKeyId(kCaseA, "p-x"), PersonKeyId(kCaseB, "p-x"));
  EXPECT_NE(PersonKeyId(kCaseA, "v1"), PersonKeyId(kCaseA, "su1"));
}

// The bug D3: case A is open with victim p-x; a facilitator not allocated to
// A refers case B naming p-x; a manager closes B and erases p-x there. With
// keys per participant id A's victim read as erased. Now B's p-x is another
// person: the erasure touches B alone and deletes B's key alone.
TEST(PeopleAcrossCasesTest, AReferralCannotAttachToOrAffectAnotherCasesPerson) {
  AT_STAGE(a, case_v1::PREPARING, false, kCaseA);
  ReferCaseCommand referral = Referral(case_v1::VIOLENCE, kCaseB);
  referral.participants = {Person("su-b", case_v1::SERVICE_USER),
                           Person("p-x", case_v1::VICTIM)};
  referral.offence_summary = Seal("su-b", kSealedOffenceSummary, "another offence");
  Scenario b;
  // f9 is not allocated to A (nor is anyone's allocation consulted).
  APPLY(b, DecideReferCase(b.state(), referral, OtherFacilitator()));
  const CaseState a_before = a.state();
  APPLY(b, DecideCloseCase(b.state(), {kCaseB, case_v1::UNSUITABLE}, Manager()));

  absl::StatusOr<std::vector<CaseAppend>> erased = DecideEraseParticipant(
      CaseStates{{kCaseB, &b.state()}}, ErasureRequest("p-x", kCaseB), Manager());
  ASSERT_THAT(erased, IsOk());
  ASSERT_EQ(erased->size(), 1u);
  EXPECT_EQ(erased->front().case_id, kCaseB);
  ASSERT_THAT(Types(erased->front().events), ElementsAre("ParticipantErased"));
  const auto& event = Get<case_v1::ParticipantErased>(erased->front().events, 0);
  EXPECT_EQ(event.case_id(), kCaseB);
  EXPECT_THAT(event.linked(), IsEmpty());
  // The key to delete is B's key for p-x, never A's.
  EXPECT_EQ(ErasedKeyId(erased->front().events.at(0)), PersonKeyId(kCaseB, "p-x"));
  EXPECT_NE(ErasedKeyId(erased->front().events.at(0)), PersonKeyId(kCaseA, "v1"));
  ASSERT_THAT(ApplyAll(std::move(erased), {{kCaseB, &b}}), IsOk());

  // A is untouched, and its victim still reads, with B's key gone.
  EXPECT_TRUE(a.state() == a_before);
  FakeKeys keys;
  keys.Erase("p-x", kCaseB);
  absl::StatusOr<case_v1::CaseView> view =
      BuildCaseView(a.state(), Caller{"m1", Role::kManager}, keys.fn());
  ASSERT_THAT(view, IsOk());
  EXPECT_FALSE(ViewOf(*view, "v1")->erased());
  EXPECT_EQ(ViewOf(*view, "v1")->details().full_name(), "Full Name v1");
  // And the same id in A (A's "v1" referred again as B's "v1") is A's alone.
  FakeKeys a_keys;
  a_keys.Erase("v1", kCaseB);
  view = BuildCaseView(a.state(), Caller{"m1", Role::kManager}, a_keys.fn());
  ASSERT_THAT(view, IsOk());
  EXPECT_FALSE(ViewOf(*view, "v1")->erased());
}

TEST(PeopleAcrossCasesTest, TheViewUnsealsWithTheCasesOwnKey) {
  AT_STAGE(a, case_v1::PREPARING, false, kCaseA);
  std::vector<std::string> key_ids;
  const UnsealFn unseal = [&](std::string_view key_id, const common_v1::Sealed& sealed,
                              std::string_view field) -> absl::StatusOr<std::string> {
    key_ids.push_back(std::string(key_id));
    return FakeKeys().fn()(key_id, sealed, field);
  };
  ASSERT_THAT(BuildCaseView(a.state(), Caller{"m1", Role::kManager}, unseal), IsOk());
  EXPECT_THAT(key_ids, ElementsAre("case-a/su1", "case-a/su1", "case-a/su1", "case-a/v1",
                                   "case-a/v1"));
}

TEST(LinkParticipantTest, RecordsTheLinkInBothCasesNamingTheOther) {
  AT_STAGE(a, case_v1::PREPARING, false, kCaseA);
  AT_STAGE(b, case_v1::PAUSED, false, kCaseB);
  absl::StatusOr<std::vector<CaseAppend>> linked = DecideLinkParticipant(
      b.state(), a.state(), Link(kCaseB, "v1", kCaseA, "v1"), Manager());
  ASSERT_THAT(linked, IsOk());
  ASSERT_EQ(linked->size(), 2u);
  // Case-id order, whatever the command's.
  EXPECT_EQ(linked->at(0).case_id, kCaseA);
  EXPECT_EQ(linked->at(0).expected_version, a.state().version);
  EXPECT_EQ(linked->at(1).case_id, kCaseB);
  for (const CaseAppend& append : *linked) {
    SCOPED_TRACE(append.case_id);
    ASSERT_THAT(Types(append.events), ElementsAre("ParticipantLinked"));
    const auto& e = Get<case_v1::ParticipantLinked>(append.events, 0);
    EXPECT_EQ(e.case_id(), append.case_id);
    EXPECT_EQ(e.participant_id(), "v1");
    EXPECT_EQ(e.other().case_id(), append.case_id == kCaseA ? kCaseB : kCaseA);
    EXPECT_EQ(e.other().participant_id(), "v1");
    EXPECT_EQ(e.linked_by(), "m1");
    EXPECT_EQ(e.reason(), "same-dob-and-name");
  }
  ASSERT_THAT(ApplyAll(std::move(linked), {{kCaseA, &a}, {kCaseB, &b}}), IsOk());
  EXPECT_THAT(a.state().FindParticipant("v1")->linked,
              ElementsAre(CasePerson{kCaseB, "v1"}));
  EXPECT_THAT(b.state().FindParticipant("v1")->linked,
              ElementsAre(CasePerson{kCaseA, "v1"}));
  EXPECT_EQ(a.state().stage, case_v1::PREPARING);  // no stage moves
  EXPECT_EQ(b.state().stage, case_v1::PAUSED);
  absl::StatusOr<CaseState> replayed = a.Replay();
  ASSERT_THAT(replayed, IsOk());
  EXPECT_TRUE(*replayed == a.state());
  CaseState unlinked = *replayed;
  unlinked.participants[1].linked.clear();
  EXPECT_FALSE(unlinked == a.state());

  EXPECT_THAT(DecideLinkParticipant(a.state(), b.state(),
                                    Link(kCaseA, "v1", kCaseB, "v1"), Manager()),
              StatusIs(absl::StatusCode::kAlreadyExists, HasSubstr("already linked")));
  // Different roles may be the same person (a victim here, a service user
  // there), and a case found unsuitable may be linked.
  AT_STAGE(c, case_v1::FOUND_UNSUITABLE, false, kCaseC);
  EXPECT_THAT(DecideLinkParticipant(a.state(), c.state(),
                                    Link(kCaseA, "v1", kCaseC, "su1"), Manager()),
              IsOk());
}

TEST(LinkParticipantTest, RulesAreEnforced) {
  AT_STAGE(a, case_v1::PREPARING, false, kCaseA);
  AT_STAGE(b, case_v1::ASSESSING, false, kCaseB);
  AT_STAGE(closed, case_v1::CLOSED, false, kCaseC);
  APPLY(closed,
        DecideEraseParticipant(closed.state(), ErasureRequest("su1", kCaseC), Manager()));
  struct Row {
    std::string name;
    const CaseState* state;
    const CaseState* other;
    LinkParticipantCommand command;
    CommandContext ctx;
    absl::StatusCode code;
    std::string message;
  };
  const CaseState none;
  LinkParticipantCommand no_reason = Link(kCaseA, "v1", kCaseB, "v1");
  no_reason.reason.clear();
  const std::vector<Row> rows = {
      {"a facilitator, even allocated to both", &a.state(), &b.state(),
       Link(kCaseA, "v1", kCaseB, "v1"), Facilitator(),
       absl::StatusCode::kPermissionDenied, "only a manager may link"},
      {"an auditor", &a.state(), &b.state(), Link(kCaseA, "v1", kCaseB, "v1"), Auditor(),
       absl::StatusCode::kPermissionDenied, "reads only"},
      {"within one case", &a.state(), &a.state(), Link(kCaseA, "v1", kCaseA, "su1"),
       Manager(), absl::StatusCode::kInvalidArgument, "two cases"},
      {"no reason", &a.state(), &b.state(), no_reason, Manager(),
       absl::StatusCode::kInvalidArgument, "reason is required"},
      {"no other participant", &a.state(), &b.state(), Link(kCaseA, "v1", kCaseB, ""),
       Manager(), absl::StatusCode::kInvalidArgument, "other_participant_id"},
      {"no such other case", &a.state(), &none, Link(kCaseA, "v1", "case-z", "v1"),
       Manager(), absl::StatusCode::kNotFound, "no case \"case-z\""},
      {"no such participant", &a.state(), &b.state(), Link(kCaseA, "v1", kCaseB, "ghost"),
       Manager(), absl::StatusCode::kNotFound, "\"ghost\""},
      {"a closed case (I4)", &a.state(), &closed.state(),
       Link(kCaseA, "v1", kCaseC, "v1"), Manager(), absl::StatusCode::kFailedPrecondition,
       "stage CLOSED"},
      {"the state of another case", &a.state(), &b.state(),
       Link(kCaseA, "v1", kCaseC, "v1"), Manager(), absl::StatusCode::kInternal, ""},
  };
  for (const Row& row : rows) {
    SCOPED_TRACE(row.name);
    EXPECT_THAT(DecideLinkParticipant(*row.state, *row.other, row.command, row.ctx),
                StatusIs(row.code, HasSubstr(row.message)));
  }
  // An erased person is linked to nobody (a log from before erasure needed
  // a closed case would still hold one in an open case).
  case_v1::ParticipantErased legacy;
  legacy.set_case_id(kCaseB);
  legacy.set_participant_id("v1");
  APPLY(b, Decision(std::vector<DomainEvent>{DomainEvent{legacy, 0, 0}}));
  EXPECT_THAT(DecideLinkParticipant(a.state(), b.state(),
                                    Link(kCaseA, "v1", kCaseB, "v1"), Manager()),
              StatusIs(absl::StatusCode::kFailedPrecondition, HasSubstr("erased")));
}

TEST(LinkParticipantTest, EvolveRefusesLinksThatDoNotFit) {
  AT_STAGE(a, case_v1::REFERRED, false, kCaseA);
  CaseState state = a.state();
  const CaseState before = state;
  auto link = [](const std::string& participant, const std::string& other_case,
                 const std::string& other_participant) {
    case_v1::ParticipantLinked e;
    e.set_case_id(kCaseA);
    e.set_participant_id(participant);
    e.mutable_other()->set_case_id(other_case);
    e.mutable_other()->set_participant_id(other_participant);
    return DomainEvent{e, 9, 0};
  };
  EXPECT_THAT(Evolve(state, link("ghost", kCaseB, "v1")),
              StatusIs(absl::StatusCode::kDataLoss, HasSubstr("does not exist")));
  EXPECT_THAT(Evolve(state, link("v1", kCaseA, "su1")),
              StatusIs(absl::StatusCode::kDataLoss, HasSubstr("to itself")));
  EXPECT_THAT(Evolve(state, link("v1", "", "")),
              StatusIs(absl::StatusCode::kDataLoss, HasSubstr("no other person")));
  EXPECT_TRUE(state == before);
  ASSERT_THAT(Evolve(state, link("v1", kCaseB, "x")), IsOk());
  EXPECT_THAT(Evolve(state, link("v1", kCaseB, "x")),
              StatusIs(absl::StatusCode::kDataLoss, HasSubstr("already linked")));
}

// Three cases: A's v1 = B's v1 = C's su1 (linked A–B and B–C).
class LinkedErasureTest : public ::testing::Test {
 protected:
  void SetUp() override {
    for (const char* id : {kCaseA, kCaseB, kCaseC}) {
      absl::StatusOr<Scenario> s = AtStage(case_v1::PREPARING, false, id);
      ASSERT_THAT(s, IsOk());
      cases_.emplace(id, *std::move(s));
    }
    ASSERT_THAT(
        ApplyAll(DecideLinkParticipant(A().state(), B().state(),
                                       Link(kCaseA, "v1", kCaseB, "v1"), Manager()),
                 Scenarios()),
        IsOk());
    ASSERT_THAT(
        ApplyAll(DecideLinkParticipant(B().state(), C().state(),
                                       Link(kCaseB, "v1", kCaseC, "su1"), Manager()),
                 Scenarios()),
        IsOk());
  }

  Scenario& A() { return cases_.at(kCaseA); }
  Scenario& B() { return cases_.at(kCaseB); }
  Scenario& C() { return cases_.at(kCaseC); }
  std::map<std::string, Scenario*> Scenarios() {
    return {{kCaseA, &A()}, {kCaseB, &B()}, {kCaseC, &C()}};
  }
  CaseStates States() {
    return {{kCaseA, &A().state()}, {kCaseB, &B().state()}, {kCaseC, &C().state()}};
  }
  void CloseAll() {
    for (auto& [id, s] : cases_) {
      ASSERT_THAT(
          s.Apply(DecideCloseCase(s.state(), {id, case_v1::COMPLETED}, Manager())),
          IsOk());
    }
  }

  std::map<std::string, Scenario> cases_;
};

TEST_F(LinkedErasureTest, FindLinkedGroupFollowsLinksAndNamesWhatIsMissing) {
  const std::vector<CasePerson> everyone = {
      {kCaseA, "v1"}, {kCaseB, "v1"}, {kCaseC, "su1"}};
  EXPECT_EQ(FindLinkedGroup(States(), {kCaseC, "su1"}).people, everyone);
  EXPECT_THAT(FindLinkedGroup(States(), {kCaseC, "su1"}).missing_cases, IsEmpty());
  // Only A known: B is missing, and through B, C cannot be reached yet.
  const LinkedGroup partial =
      FindLinkedGroup(CaseStates{{kCaseA, &A().state()}}, {kCaseA, "v1"});
  EXPECT_THAT(partial.missing_cases, ElementsAre(kCaseB));
  EXPECT_THAT(partial.people,
              ElementsAre(CasePerson{kCaseA, "v1"}, CasePerson{kCaseB, "v1"}));
  // A participant linked to nobody is alone.
  EXPECT_THAT(FindLinkedGroup(States(), {kCaseA, "su1"}).people,
              ElementsAre(CasePerson{kCaseA, "su1"}));
}

TEST_F(LinkedErasureTest, ErasesThePersonInEveryLinkedCaseEachNamingTheRest) {
  CloseAll();
  absl::StatusOr<std::vector<CaseAppend>> erased =
      DecideEraseParticipant(States(), ErasureRequest("v1", kCaseA), Manager());
  ASSERT_THAT(erased, IsOk());
  ASSERT_EQ(erased->size(), 3u);
  const std::vector<std::pair<std::string, std::string>> expected = {
      {kCaseA, "v1"}, {kCaseB, "v1"}, {kCaseC, "su1"}};
  std::vector<std::string> keys;
  for (size_t i = 0; i < expected.size(); ++i) {
    const CaseAppend& append = erased->at(i);
    SCOPED_TRACE(append.case_id);
    EXPECT_EQ(append.case_id, expected[i].first);
    EXPECT_EQ(append.expected_version, cases_.at(append.case_id).state().version);
    ASSERT_THAT(Types(append.events), ElementsAre("ParticipantErased"));
    const auto& e = Get<case_v1::ParticipantErased>(append.events, 0);
    EXPECT_EQ(e.case_id(), expected[i].first);
    EXPECT_EQ(e.participant_id(), expected[i].second);
    EXPECT_EQ(e.requested_by(), "m1");
    EXPECT_EQ(e.basis(), case_v1::ERASURE_REQUEST);
    EXPECT_EQ(e.case_closed_unix_micros(),
              cases_.at(append.case_id).state().closed_unix_micros);
    std::vector<std::pair<std::string, std::string>> named;
    for (const case_v1::PersonRef& ref : e.linked()) {
      named.emplace_back(ref.case_id(), ref.participant_id());
    }
    std::vector<std::pair<std::string, std::string>> rest = expected;
    rest.erase(rest.begin() + static_cast<std::ptrdiff_t>(i));
    EXPECT_EQ(named, rest);
    keys.push_back(*ErasedKeyId(append.events.at(0)));
  }
  EXPECT_THAT(keys, ElementsAre("case-a/v1", "case-b/v1", "case-c/su1"));
  ASSERT_THAT(ApplyAll(std::move(erased), Scenarios()), IsOk());
  EXPECT_TRUE(A().state().FindParticipant("v1")->erased);
  EXPECT_TRUE(B().state().FindParticipant("v1")->erased);
  EXPECT_TRUE(C().state().FindParticipant("su1")->erased);
  EXPECT_FALSE(A().state().FindParticipant("su1")->erased);
  // From any of them, it is done.
  EXPECT_THAT(
      DecideEraseParticipant(States(), ErasureRequest("su1", kCaseC), Manager()),
      StatusIs(absl::StatusCode::kFailedPrecondition, HasSubstr("already erased")));
}

TEST_F(LinkedErasureTest, EveryTouchedCaseMustAllowIt) {
  // C stays open: the erasure is refused, naming C.
  for (const char* id : {kCaseA, kCaseB}) {
    ASSERT_THAT(cases_.at(id).Apply(DecideCloseCase(cases_.at(id).state(),
                                                    {id, case_v1::COMPLETED}, Manager())),
                IsOk());
  }
  EXPECT_THAT(DecideEraseParticipant(States(), ErasureRequest("v1", kCaseA), Manager()),
              StatusIs(absl::StatusCode::kFailedPrecondition,
                       HasSubstr("case \"case-c\" is in stage PREPARING")));
  // C is closed later than A and B (its store's clock has run on).
  for (int i = 0; i < 3; ++i) {
    APPLY(C(), DecideRecordAcknowledgement(C().state(), {kCaseC, true, {}}, Manager()));
  }
  APPLY(C(), DecideCloseCase(C().state(), {kCaseC, case_v1::COMPLETED}, Manager()));
  // The retention period counts from each case's own closure.
  const absl::Time ab_over =
      std::max(RetentionOver(A().state()), RetentionOver(B().state()));
  ASSERT_LT(ab_over, RetentionOver(C().state()));
  EraseParticipantCommand retention = RetentionErasure("v1");
  retention.case_id = kCaseA;
  EXPECT_THAT(DecideEraseParticipant(States(), retention, At(Manager(), ab_over)),
              StatusIs(absl::StatusCode::kFailedPrecondition,
                       HasSubstr("case \"case-c\" is in stage CLOSED")));
  absl::StatusOr<std::vector<CaseAppend>> erased = DecideEraseParticipant(
      States(), retention, At(Manager(), RetentionOver(C().state())));
  ASSERT_THAT(erased, IsOk());
  EXPECT_EQ(erased->size(), 3u);
}

TEST_F(LinkedErasureTest, FacilitatorsMustBeAllocatedToEveryTouchedCase) {
  CloseAll();
  EraseParticipantCommand retention = RetentionErasure("v1");
  retention.case_id = kCaseA;
  const CommandContext later =
      At(Facilitator(), std::max({RetentionOver(A().state()), RetentionOver(B().state()),
                                  RetentionOver(C().state())}));
  // f1 is allocated to all three (the fixture): allowed.
  EXPECT_THAT(DecideEraseParticipant(States(), retention, later), IsOk());
  // Released from C: refused, without naming C.
  CaseState c_without_f1 = C().state();
  c_without_f1.facilitator_ids.clear();
  const CaseStates states = {
      {kCaseA, &A().state()}, {kCaseB, &B().state()}, {kCaseC, &c_without_f1}};
  const absl::StatusOr<std::vector<CaseAppend>> refused =
      DecideEraseParticipant(states, retention, later);
  EXPECT_THAT(refused, StatusIs(absl::StatusCode::kPermissionDenied,
                                HasSubstr("a manager erases a person linked across")));
  EXPECT_THAT(refused.status().message(), Not(HasSubstr("case-c")));
  // A manager may.
  EXPECT_THAT(DecideEraseParticipant(states, retention, At(Manager(), later.now)),
              IsOk());
}

TEST_F(LinkedErasureTest, TheHandlerMustPassEveryLinkedState) {
  CloseAll();
  const CaseStates only_a = {{kCaseA, &A().state()}};
  EXPECT_THAT(DecideEraseParticipant(only_a, ErasureRequest("v1", kCaseA), Manager()),
              StatusIs(absl::StatusCode::kInternal, HasSubstr("\"case-b\"")));
  EXPECT_THAT(
      DecideEraseParticipant(CaseStates{}, ErasureRequest("v1", kCaseA), Manager()),
      StatusIs(absl::StatusCode::kInternal));
  // The one-case form refuses a linked person, and erases an unlinked one.
  EXPECT_THAT(
      DecideEraseParticipant(A().state(), ErasureRequest("v1", kCaseA), Manager()),
      StatusIs(absl::StatusCode::kFailedPrecondition,
               HasSubstr("decided over every linked case")));
  EXPECT_THAT(
      DecideEraseParticipant(A().state(), ErasureRequest("su1", kCaseA), Manager()),
      IsOk());
}

}  // namespace
}  // namespace mend::casesvc::test
