// Domain tests of the case service: decide, evolve and views, without gRPC or
// RocksDB. Scenario plays a store: it gives decided events positions and
// recorded times, evolves them, and keeps their serialized form for replay.
#include <functional>
#include <map>
#include <optional>
#include <set>
#include <string>
#include <vector>

#include "absl/status/status.h"
#include "absl/strings/str_cat.h"
#include "absl/time/time.h"
#include "gmock/gmock.h"
#include "google/protobuf/util/message_differencer.h"
#include "gtest/gtest.h"
#include "services/case/case_decide.h"
#include "services/case/case_state.h"
#include "services/case/case_view.h"
#include "tests/support/test_util.h"

namespace mend::casesvc {
namespace {

using ::google::protobuf::util::MessageDifferencer;
using ::mend::testing::IsOk;
using ::mend::testing::StatusIs;
using ::testing::ElementsAre;
using ::testing::HasSubstr;
using ::testing::IsEmpty;
using ::testing::Not;

using Decision = absl::StatusOr<std::vector<DomainEvent>>;

constexpr char kCaseId[] = "c1";
constexpr int64_t kCommandEpochMicros = 1'700'000'000'000'000;
constexpr int64_t kStoreEpochMicros = 1'800'000'000'000'000;

CommandContext Ctx(Role role, std::string actor) {
  return CommandContext{std::move(actor), role,
                        absl::FromUnixMicros(kCommandEpochMicros)};
}
CommandContext Manager() { return Ctx(Role::kManager, "m1"); }
CommandContext Facilitator() { return Ctx(Role::kFacilitator, "f1"); }  // allocated
CommandContext OtherFacilitator() { return Ctx(Role::kFacilitator, "f9"); }
CommandContext Auditor() { return Ctx(Role::kAuditor, "a1"); }
CommandContext Service() { return Ctx(Role::kService, "consent"); }

// The fake ciphertext: "ct|<field>|<plaintext>". FakeUnseal checks the field.
common_v1::Sealed Seal(const std::string& person, std::string_view field,
                       const std::string& plaintext) {
  common_v1::Sealed sealed;
  sealed.set_person_id(person);
  sealed.set_ciphertext(absl::StrCat("ct|", std::string(field), "|", plaintext));
  return sealed;
}

case_v1::PersonalDetails DetailsOf(const std::string& id) {
  case_v1::PersonalDetails d;
  d.set_full_name(absl::StrCat("Full Name ", id));
  d.set_phone(absl::StrCat("0700 ", id));
  return d;
}

case_v1::Needs NeedsOf(const std::string& id) {
  case_v1::Needs n;
  n.set_language(id == "v1" ? "pl" : "en");
  n.set_mental_health_support(id == "v1");
  return n;
}

case_v1::Participant Person(const std::string& id, case_v1::ParticipantRole role,
                            const std::string& supports = "") {
  case_v1::Participant p;
  p.set_participant_id(id);
  p.set_role(role);
  p.set_supports_participant_id(supports);
  *p.mutable_details() =
      Seal(id, kSealedParticipantDetails, DetailsOf(id).SerializeAsString());
  *p.mutable_needs() = Seal(id, kSealedParticipantNeeds, NeedsOf(id).SerializeAsString());
  return p;
}

ReferCaseCommand Referral(case_v1::OffenceCategory category = case_v1::VIOLENCE) {
  ReferCaseCommand c;
  c.case_id = kCaseId;
  c.reference = "RJ-2026-000123";
  c.source = case_v1::PROBATION_OFFICER;
  c.referral_date = "2026-01-15";
  c.offence_category = category;
  c.offence_summary = Seal("su1", kSealedOffenceSummary, "an assault outside a pub");
  c.participants = {Person("su1", case_v1::SERVICE_USER), Person("v1", case_v1::VICTIM)};
  return c;
}

RecordRiskAssessmentCommand Assessment(const std::string& id) {
  RecordRiskAssessmentCommand c;
  c.case_id = kCaseId;
  c.assessment_id = id;
  c.level = case_v1::MEDIUM;
  c.allowed_kinds = {common_v1::APPROACH_VICTIM, common_v1::LETTER_DELIVERY};
  c.review_date = "2026-03-01";
  c.notes = Seal("su1", kSealedRiskAssessmentNotes, "calm, remorseful");
  return c;
}

// Erasure of `participant` on a person's own request (manager only).
EraseParticipantCommand ErasureRequest(const std::string& participant) {
  return {kCaseId, participant, case_v1::ERASURE_REQUEST, "request ref ER-17"};
}

// Erasure of `participant` because the retention period has run.
EraseParticipantCommand RetentionErasure(
    const std::string& participant, absl::Duration period = kDefaultRetentionPeriod) {
  return {kCaseId, participant, case_v1::RETENTION_PERIOD_ELAPSED, "retention rule R7",
          period};
}

// `ctx` at `when`.
CommandContext At(CommandContext ctx, absl::Time when) {
  ctx.now = when;
  return ctx;
}

// Short type names of events, e.g. {"CaseReferred", "StageChanged"}.
std::vector<std::string> Types(const std::vector<DomainEvent>& events) {
  std::vector<std::string> types;
  for (const DomainEvent& e : events)
    types.push_back(e.message().GetDescriptor()->name());
  return types;
}

template <typename T>
const T& Get(const std::vector<DomainEvent>& events, size_t i) {
  return std::get<T>(events.at(i).event);
}

// A case stream, with a fake store's positions and clock.
class Scenario {
 public:
  // Appends a decision's events: positions, the store's time, Evolve. The
  // decision's own error is returned as is; every StageChanged must be a move
  // of the stage machine.
  absl::Status Apply(Decision decided) {
    if (!decided.ok()) return decided.status();
    last_.clear();
    for (DomainEvent& e : *decided) {
      if (e.position != 0) return absl::InternalError("a decided event has a position");
      if (const auto* c = std::get_if<case_v1::StageChanged>(&e.event);
          c != nullptr && !IsAllowedStageTransition(c->from(), c->to())) {
        return absl::InternalError(
            absl::StrCat("not a move of the stage machine: ", StageName(c->from()),
                         " -> ", StageName(c->to())));
      }
      e.position = ++position_;
      e.recorded_unix_micros = kStoreEpochMicros + static_cast<int64_t>(position_);
      if (absl::Status s = Evolve(state_, e); !s.ok()) return s;
      stored_.push_back(
          {e.type(), e.SerializePayload(), e.position, e.recorded_unix_micros});
      last_.push_back(e);
    }
    return absl::OkStatus();
  }

  // The state folded afresh from the stored (serialized) events.
  absl::StatusOr<CaseState> Replay() const {
    CaseState state;
    for (const Stored& s : stored_) {
      absl::StatusOr<DomainEvent> e =
          ParseDomainEvent(s.type, s.payload, s.position, s.recorded_unix_micros);
      if (!e.ok()) return e.status();
      if (absl::Status st = Evolve(state, *e); !st.ok()) return st;
    }
    return state;
  }

  const CaseState& state() const { return state_; }
  const std::vector<DomainEvent>& last() const { return last_; }
  size_t size() const { return stored_.size(); }

 private:
  struct Stored {
    std::string type;
    std::string payload;
    uint64_t position;
    int64_t recorded_unix_micros;
  };
  CaseState state_;
  uint64_t position_ = 0;
  std::vector<Stored> stored_;
  std::vector<DomainEvent> last_;
};

// Runs `decided` on `scenario` and fails the test if it is not OK.
#define APPLY(scenario, decided) ASSERT_THAT((scenario).Apply(decided), IsOk())

// A case walked (by a manager) to `stage`:
//   REFERRED   referred (service user su1, victim v1)
//   SCREENING  + found suitable
//   ALLOCATED  + facilitator f1
//   ASSESSING  + risk assessment r1 (not approved)
//   PREPARING  + acknowledged (+ r1 approved if sensitive)
//   INDIRECT_CONTACT / CONFERENCE_* / FOLLOW_UP  + the extension point's moves
//   PAUSED     ASSESSING + paused;  CLOSED  ASSESSING + closed
absl::StatusOr<Scenario> AtStage(case_v1::Stage stage, bool sensitive = false) {
#define FIXTURE_STEP(decided) \
  if (absl::Status st = s.Apply(decided); !st.ok()) return st
  Scenario s;
  const CommandContext m = Manager();
  FIXTURE_STEP(DecideReferCase(
      s.state(), Referral(sensitive ? case_v1::DOMESTIC_ABUSE : case_v1::VIOLENCE), m));
  if (stage == case_v1::REFERRED) return s;
  FIXTURE_STEP(DecideRecordSuitability(s.state(), {kCaseId, true, {}}, m));
  if (stage == case_v1::SCREENING) return s;
  FIXTURE_STEP(DecideAllocateFacilitator(s.state(), {kCaseId, "f1"}, m));
  if (stage == case_v1::ALLOCATED) return s;
  FIXTURE_STEP(DecideRecordRiskAssessment(s.state(), Assessment("r1"), m));
  if (stage == case_v1::ASSESSING) return s;
  if (stage == case_v1::PAUSED) {
    FIXTURE_STEP(DecidePauseCase(s.state(), {kCaseId, "victim in hospital"}, m));
    return s;
  }
  if (stage == case_v1::CLOSED) {
    FIXTURE_STEP(DecideCloseCase(s.state(), {kCaseId, case_v1::NO_CONTACT_POSSIBLE}, m));
    return s;
  }
  FIXTURE_STEP(DecideRecordAcknowledgement(s.state(), {kCaseId, true, {}}, m));
  if (sensitive) {
    FIXTURE_STEP(DecideApproveRiskAssessment(s.state(), {kCaseId, "r1"}, m));
  }
  if (s.state().stage != case_v1::PREPARING) {
    return absl::InternalError("fixture did not reach PREPARING");
  }
  std::vector<case_v1::Stage> path;
  switch (stage) {
    case case_v1::PREPARING:
      break;
    case case_v1::INDIRECT_CONTACT:
      path = {case_v1::INDIRECT_CONTACT};
      break;
    case case_v1::CONFERENCE_SCHEDULED:
      path = {case_v1::CONFERENCE_SCHEDULED};
      break;
    case case_v1::CONFERENCE_HELD:
      path = {case_v1::CONFERENCE_SCHEDULED, case_v1::CONFERENCE_HELD};
      break;
    case case_v1::FOLLOW_UP:
      path = {case_v1::CONFERENCE_SCHEDULED, case_v1::CONFERENCE_HELD,
              case_v1::FOLLOW_UP};
      break;
    default:
      return absl::InternalError(absl::StrCat("no fixture for ", StageName(stage)));
  }
  for (case_v1::Stage to : path) {
    FIXTURE_STEP(DecideStageAdvance(s.state(), to, Ctx(Role::kService, "case")));
  }
  return s;
#undef FIXTURE_STEP
}

// Asserts the fixture reached `stage` and binds it to `name`.
#define AT_STAGE(name, ...)                                  \
  absl::StatusOr<Scenario> name##_or = AtStage(__VA_ARGS__); \
  ASSERT_THAT(name##_or, IsOk());                            \
  Scenario& name = *name##_or

// ---------------------------------------------------------------------------
// Events: parsing, serializing, Evolve's checks.

TEST(DomainEventTest, EveryEventTypeRoundTrips) {
  const std::vector<std::string> types = CaseEventTypes();
  ASSERT_EQ(types.size(), 13u);
  for (const std::string& type : types) {
    SCOPED_TRACE(type);
    EXPECT_THAT(type, HasSubstr("mend.case.v1."));
    absl::StatusOr<DomainEvent> e = ParseDomainEvent(type, "", 7, 99);
    ASSERT_THAT(e, IsOk());
    EXPECT_EQ(e->type(), type);
    EXPECT_EQ(e->position, 7u);
    EXPECT_EQ(e->recorded_unix_micros, 99);
  }
}

TEST(DomainEventTest, SerializeThenParseGivesTheSameEvent) {
  Scenario s;
  APPLY(s, DecideReferCase(s.state(), Referral(), Manager()));
  const DomainEvent& referred = s.last().at(0);
  absl::StatusOr<DomainEvent> parsed =
      ParseDomainEvent(referred.type(), referred.SerializePayload(), 1, 2);
  ASSERT_THAT(parsed, IsOk());
  EXPECT_TRUE(MessageDifferencer::Equals(parsed->message(), referred.message()));
  EXPECT_EQ(parsed->case_id(), kCaseId);
}

TEST(DomainEventTest, UnknownTypeIsDataLoss) {
  EXPECT_THAT(ParseDomainEvent("mend.case.v1.Nonsense", "", 5, 0),
              StatusIs(absl::StatusCode::kDataLoss, HasSubstr("position 5")));
  EXPECT_THAT(ParseDomainEvent("mend.consent.v1.ConsentGiven", "", 5, 0),
              StatusIs(absl::StatusCode::kDataLoss));
  EXPECT_THAT(ParseDomainEvent("", "", 5, 0), StatusIs(absl::StatusCode::kDataLoss));
}

TEST(DomainEventTest, UnparsablePayloadIsDataLoss) {
  // A truncated varint and a field with the wire type of an end-group tag.
  EXPECT_THAT(ParseDomainEvent("mend.case.v1.CaseReferred", "\x08\xff", 3, 0),
              StatusIs(absl::StatusCode::kDataLoss, HasSubstr("does not parse")));
  EXPECT_THAT(ParseDomainEvent("mend.case.v1.StageChanged", "\x0c", 3, 0),
              StatusIs(absl::StatusCode::kDataLoss));
}

TEST(DomainEventTest, StreamIdAndSensitivity) {
  EXPECT_EQ(CaseStreamId("c1"), "case-c1");
  const std::map<case_v1::OffenceCategory, bool> table = {
      {case_v1::VIOLENCE, false},        {case_v1::ACQUISITIVE, false},
      {case_v1::CRIMINAL_DAMAGE, false}, {case_v1::PUBLIC_ORDER, false},
      {case_v1::MOTORING, false},        {case_v1::DOMESTIC_ABUSE, true},
      {case_v1::SEXUAL_OFFENCE, true},   {case_v1::HATE_CRIME, true},
      {case_v1::OTHER_OFFENCE, false}};
  for (const auto& [category, sensitive] : table) {
    EXPECT_EQ(IsSensitive(category), sensitive)
        << case_v1::OffenceCategory_Name(category);
  }
}

DomainEvent StageEvent(const std::string& case_id, case_v1::Stage from, case_v1::Stage to,
                       uint64_t position) {
  case_v1::StageChanged c;
  c.set_case_id(case_id);
  c.set_from(from);
  c.set_to(to);
  return DomainEvent{c, position, 0};
}

TEST(EvolveTest, RefusesEventsThatDoNotFitAndLeavesTheStateAlone) {
  CaseState empty;
  EXPECT_THAT(Evolve(empty, StageEvent(kCaseId, case_v1::STAGE_UNSPECIFIED,
                                       case_v1::REFERRED, 1)),
              StatusIs(absl::StatusCode::kDataLoss, HasSubstr("has not been referred")));
  EXPECT_FALSE(empty.exists());

  Scenario s;
  APPLY(s, DecideReferCase(s.state(), Referral(), Manager()));
  CaseState state = s.state();
  const CaseState before = state;
  const DomainEvent referred = s.last().at(0);
  EXPECT_THAT(Evolve(state, referred),
              StatusIs(absl::StatusCode::kDataLoss, HasSubstr("already exists")));
  EXPECT_THAT(
      Evolve(state, StageEvent("other-case", case_v1::REFERRED, case_v1::SCREENING, 9)),
      StatusIs(absl::StatusCode::kDataLoss, HasSubstr("of case \"c1\"")));
  EXPECT_THAT(
      Evolve(state, StageEvent(kCaseId, case_v1::ASSESSING, case_v1::PREPARING, 9)),
      StatusIs(absl::StatusCode::kDataLoss, HasSubstr("the case is in REFERRED")));
  case_v1::ParticipantErased erased;
  erased.set_case_id(kCaseId);
  erased.set_participant_id("nobody");
  EXPECT_THAT(Evolve(state, DomainEvent{erased, 9, 0}),
              StatusIs(absl::StatusCode::kDataLoss, HasSubstr("does not exist")));
  case_v1::ParticipantAdded again;
  again.set_case_id(kCaseId);
  *again.mutable_participant() = Person("v1", case_v1::CO_VICTIM);
  EXPECT_THAT(Evolve(state, DomainEvent{again, 9, 0}),
              StatusIs(absl::StatusCode::kDataLoss, HasSubstr("already exists")));
  case_v1::FacilitatorReleased released;
  released.set_case_id(kCaseId);
  released.set_facilitator_id("f1");
  EXPECT_THAT(Evolve(state, DomainEvent{released, 9, 0}),
              StatusIs(absl::StatusCode::kDataLoss));
  case_v1::RiskAssessmentApproved approved;
  approved.set_case_id(kCaseId);
  approved.set_assessment_id("r1");
  EXPECT_THAT(Evolve(state, DomainEvent{approved, 9, 0}),
              StatusIs(absl::StatusCode::kDataLoss));
  EXPECT_TRUE(state == before);
}

TEST(EvolveTest, CountsVersionAndRecordsPositionAndTime) {
  Scenario s;
  APPLY(s, DecideReferCase(s.state(), Referral(), Manager()));
  EXPECT_EQ(s.state().version, 2u);
  EXPECT_EQ(s.state().last_position, 2u);
  EXPECT_EQ(s.state().last_stage_change_position, 2u);
  EXPECT_EQ(s.state().updated_unix_micros, kStoreEpochMicros + 2);
}

// ---------------------------------------------------------------------------
// ReferCase.

TEST(ReferCaseTest, HappyPathCreatesTheCaseInReferred) {
  const CaseState none;
  const Decision d = DecideReferCase(none, Referral(), Facilitator());
  ASSERT_THAT(d, IsOk());
  EXPECT_THAT(Types(*d), ElementsAre("CaseReferred", "StageChanged"));
  for (const DomainEvent& e : *d) {
    EXPECT_EQ(e.position, 0u);
    EXPECT_EQ(e.recorded_unix_micros, kCommandEpochMicros);
  }
  const auto& referred = Get<case_v1::CaseReferred>(*d, 0);
  EXPECT_EQ(referred.case_id(), kCaseId);
  EXPECT_EQ(referred.reference(), "RJ-2026-000123");
  EXPECT_EQ(referred.source(), case_v1::PROBATION_OFFICER);
  EXPECT_EQ(referred.referral_date(), "2026-01-15");
  EXPECT_EQ(referred.offence_category(), case_v1::VIOLENCE);
  EXPECT_FALSE(referred.sensitive());
  EXPECT_EQ(referred.referred_by(), "f1");
  EXPECT_EQ(referred.offence_summary().person_id(), "su1");
  ASSERT_EQ(referred.participants_size(), 2);
  EXPECT_EQ(referred.participants(1).participant_id(), "v1");
  const auto& stage = Get<case_v1::StageChanged>(*d, 1);
  EXPECT_EQ(stage.from(), case_v1::STAGE_UNSPECIFIED);
  EXPECT_EQ(stage.to(), case_v1::REFERRED);

  Scenario s;
  APPLY(s, DecideReferCase(s.state(), Referral(case_v1::SEXUAL_OFFENCE), Manager()));
  EXPECT_EQ(s.state().stage, case_v1::REFERRED);
  EXPECT_TRUE(s.state().sensitive);
  EXPECT_EQ(s.state().reference, "RJ-2026-000123");
  ASSERT_NE(s.state().service_user(), nullptr);
  EXPECT_EQ(s.state().service_user()->participant_id, "su1");
  EXPECT_THAT(s.state().facilitator_ids, IsEmpty());
  EXPECT_FALSE(s.state().acknowledged.has_value());
  EXPECT_FALSE(s.state().suitable.has_value());
}

TEST(ReferCaseTest, ExistingCaseIsAlreadyExists) {
  AT_STAGE(s, case_v1::CLOSED);
  EXPECT_THAT(DecideReferCase(s.state(), Referral(), Manager()),
              StatusIs(absl::StatusCode::kAlreadyExists, HasSubstr("c1")));
}

TEST(ReferCaseTest, MalformedReferralsAreInvalidArgument) {
  struct Row {
    std::string name;
    std::function<void(ReferCaseCommand&)> change;
    std::string message;
  };
  const std::vector<Row> rows = {
      {"no case id", [](ReferCaseCommand& c) { c.case_id.clear(); }, "case_id"},
      {"no reference", [](ReferCaseCommand& c) { c.reference.clear(); }, "reference"},
      {"no source",
       [](ReferCaseCommand& c) { c.source = case_v1::REFERRAL_SOURCE_UNSPECIFIED; },
       "source"},
      {"no category",
       [](ReferCaseCommand& c) {
         c.offence_category = case_v1::OFFENCE_CATEGORY_UNSPECIFIED;
       },
       "offence_category"},
      {"unknown category",
       [](ReferCaseCommand& c) {
         c.offence_category = static_cast<case_v1::OffenceCategory>(77);
       },
       "offence_category"},
      {"no date", [](ReferCaseCommand& c) { c.referral_date.clear(); }, "referral_date"},
      {"no service user",
       [](ReferCaseCommand& c) { c.participants.erase(c.participants.begin()); },
       "exactly one SERVICE_USER"},
      {"two service users",
       [](ReferCaseCommand& c) {
         c.participants.push_back(Person("su2", case_v1::SERVICE_USER));
       },
       "exactly one SERVICE_USER"},
      {"no victim", [](ReferCaseCommand& c) { c.participants.pop_back(); },
       "at least one VICTIM"},
      {"a supporter at referral",
       [](ReferCaseCommand& c) {
         c.participants.push_back(Person("s1", case_v1::SUPPORTER, "v1"));
       },
       "AddParticipant"},
      {"a victim supporting someone",
       [](ReferCaseCommand& c) { c.participants[1].set_supports_participant_id("su1"); },
       "supports_participant_id"},
      {"repeated participant id",
       [](ReferCaseCommand& c) {
         c.participants.push_back(Person("v1", case_v1::VICTIM));
       },
       "repeats"},
      {"participant without id",
       [](ReferCaseCommand& c) { c.participants[1].clear_participant_id(); },
       "participant_id is required"},
      {"victim's details sealed with the service user's key",
       [](ReferCaseCommand& c) {
         *c.participants[1].mutable_details() =
             Seal("su1", kSealedParticipantDetails, "x");
       },
       "participants[1].details is sealed with the key of \"su1\""},
      {"needs sealed with another key",
       [](ReferCaseCommand& c) {
         *c.participants[0].mutable_needs() = Seal("v1", kSealedParticipantNeeds, "x");
       },
       "participants[0].needs"},
      {"offence summary sealed with the victim's key",
       [](ReferCaseCommand& c) {
         c.offence_summary = Seal("v1", kSealedOffenceSummary, "x");
       },
       "offence_summary"},
  };
  for (const Row& row : rows) {
    SCOPED_TRACE(row.name);
    ReferCaseCommand command = Referral();
    row.change(command);
    EXPECT_THAT(DecideReferCase(CaseState{}, command, Manager()),
                StatusIs(absl::StatusCode::kInvalidArgument, HasSubstr(row.message)));
  }
}

// ---------------------------------------------------------------------------
// AddParticipant.

TEST(AddParticipantTest, HappyPathAddsSupporterInterpreterAndCoVictim) {
  AT_STAGE(s, case_v1::ASSESSING);
  APPLY(s,
        DecideAddParticipant(s.state(), {kCaseId, Person("s1", case_v1::SUPPORTER, "v1")},
                             Facilitator()));
  ASSERT_THAT(Types(s.last()), ElementsAre("ParticipantAdded"));
  EXPECT_EQ(Get<case_v1::ParticipantAdded>(s.last(), 0).participant().participant_id(),
            "s1");
  APPLY(s,
        DecideAddParticipant(
            s.state(), {kCaseId, Person("i1", case_v1::INTERPRETER, "v1")}, Manager()));
  APPLY(s, DecideAddParticipant(s.state(), {kCaseId, Person("cv1", case_v1::CO_VICTIM)},
                                Manager()));
  ASSERT_EQ(s.state().participants.size(), 5u);
  const ParticipantState* supporter = s.state().FindParticipant("s1");
  ASSERT_NE(supporter, nullptr);
  EXPECT_EQ(supporter->role, case_v1::SUPPORTER);
  EXPECT_EQ(supporter->supports_participant_id, "v1");
  EXPECT_EQ(supporter->details.person_id(), "s1");
  EXPECT_EQ(s.state().stage, case_v1::ASSESSING);
}

TEST(AddParticipantTest, RulesAreEnforced) {
  AT_STAGE(s, case_v1::ASSESSING);
  // Erasure now needs a closed case, but a log written before that rule may
  // hold an erasure in an open stage: such a participant cannot be supported.
  case_v1::ParticipantErased legacy;
  legacy.set_case_id(kCaseId);
  legacy.set_participant_id("v1");
  legacy.set_requested_by("m1");
  legacy.set_reason("victim asked");
  APPLY(s, Decision(std::vector<DomainEvent>{DomainEvent{legacy, 0, 0}}));
  struct Row {
    std::string name;
    case_v1::Participant participant;
    absl::StatusCode code;
    std::string message;
  };
  case_v1::Participant wrong_key = Person("s2", case_v1::SUPPORTER, "su1");
  *wrong_key.mutable_needs() = Seal("su1", kSealedParticipantNeeds, "x");
  const std::vector<Row> rows = {
      {"a second service user", Person("su2", case_v1::SERVICE_USER),
       absl::StatusCode::kInvalidArgument, "CO_VICTIM, SUPPORTER or INTERPRETER"},
      {"a victim", Person("v2", case_v1::VICTIM), absl::StatusCode::kInvalidArgument,
       "named at referral"},
      {"no role", Person("x", case_v1::PARTICIPANT_ROLE_UNSPECIFIED),
       absl::StatusCode::kInvalidArgument, "role"},
      {"supporter supporting nobody", Person("s2", case_v1::SUPPORTER),
       absl::StatusCode::kInvalidArgument, "supports_participant_id"},
      {"co-victim supporting someone", Person("cv2", case_v1::CO_VICTIM, "su1"),
       absl::StatusCode::kInvalidArgument, "supports_participant_id"},
      {"no id", Person("", case_v1::CO_VICTIM), absl::StatusCode::kInvalidArgument,
       "participant_id"},
      {"sealed with another's key", wrong_key, absl::StatusCode::kInvalidArgument,
       "participant.needs is sealed"},
      {"supporting a missing participant", Person("s2", case_v1::SUPPORTER, "ghost"),
       absl::StatusCode::kNotFound, "ghost"},
      {"supporting an erased participant", Person("s2", case_v1::SUPPORTER, "v1"),
       absl::StatusCode::kFailedPrecondition, "erased"},
      {"an id already in the case", Person("su1", case_v1::CO_VICTIM),
       absl::StatusCode::kAlreadyExists, "su1"},
  };
  for (const Row& row : rows) {
    SCOPED_TRACE(row.name);
    EXPECT_THAT(DecideAddParticipant(s.state(), {kCaseId, row.participant}, Manager()),
                StatusIs(row.code, HasSubstr(row.message)));
  }
  EXPECT_THAT(DecideAddParticipant(
                  CaseState{}, {kCaseId, Person("cv1", case_v1::CO_VICTIM)}, Manager()),
              StatusIs(absl::StatusCode::kNotFound, HasSubstr("no case \"c1\"")));
}

// ---------------------------------------------------------------------------
// AllocateFacilitator / ReleaseFacilitator.

TEST(AllocateFacilitatorTest, HappyPathMovesScreeningToAllocated) {
  AT_STAGE(s, case_v1::SCREENING);
  APPLY(s, DecideAllocateFacilitator(s.state(), {kCaseId, "f1"}, Manager()));
  ASSERT_THAT(Types(s.last()), ElementsAre("FacilitatorAllocated", "StageChanged"));
  const auto& allocated = Get<case_v1::FacilitatorAllocated>(s.last(), 0);
  EXPECT_EQ(allocated.facilitator_id(), "f1");
  EXPECT_EQ(allocated.allocated_by(), "m1");
  EXPECT_EQ(Get<case_v1::StageChanged>(s.last(), 1).from(), case_v1::SCREENING);
  EXPECT_EQ(Get<case_v1::StageChanged>(s.last(), 1).to(), case_v1::ALLOCATED);
  // A second facilitator changes no stage.
  APPLY(s, DecideAllocateFacilitator(s.state(), {kCaseId, "f2"}, Manager()));
  EXPECT_THAT(Types(s.last()), ElementsAre("FacilitatorAllocated"));
  EXPECT_THAT(s.state().facilitator_ids, ElementsAre("f1", "f2"));
  EXPECT_EQ(s.state().stage, case_v1::ALLOCATED);
}

TEST(AllocateFacilitatorTest, RulesAreEnforced) {
  AT_STAGE(referred, case_v1::REFERRED);
  EXPECT_THAT(
      DecideAllocateFacilitator(referred.state(), {kCaseId, "f1"}, Manager()),
      StatusIs(absl::StatusCode::kFailedPrecondition,
               HasSubstr("not been found suitable yet (RecordSuitability first) (case "
                         "\"c1\" is in stage REFERRED)")));
  APPLY(referred,
        DecideRecordSuitability(referred.state(),
                                {kCaseId, false, case_v1::RISK_TOO_HIGH}, Manager()));
  EXPECT_THAT(
      DecideAllocateFacilitator(referred.state(), {kCaseId, "f1"}, Manager()),
      StatusIs(absl::StatusCode::kFailedPrecondition, HasSubstr("found unsuitable")));

  AT_STAGE(s, case_v1::ALLOCATED);
  EXPECT_THAT(
      DecideAllocateFacilitator(s.state(), {kCaseId, "f1"}, Manager()),
      StatusIs(absl::StatusCode::kFailedPrecondition, HasSubstr("already allocated")));
  APPLY(s, DecideAllocateFacilitator(s.state(), {kCaseId, "f2"}, Manager()));
  EXPECT_THAT(DecideAllocateFacilitator(s.state(), {kCaseId, "f3"}, Manager()),
              StatusIs(absl::StatusCode::kFailedPrecondition,
                       HasSubstr("at most two facilitators")));
  EXPECT_THAT(DecideAllocateFacilitator(s.state(), {kCaseId, ""}, Manager()),
              StatusIs(absl::StatusCode::kInvalidArgument));
  EXPECT_THAT(DecideAllocateFacilitator(CaseState{}, {kCaseId, "f1"}, Manager()),
              StatusIs(absl::StatusCode::kNotFound));
  EXPECT_THAT(DecideAllocateFacilitator(s.state(), {kCaseId, "f3"}, Facilitator()),
              StatusIs(absl::StatusCode::kPermissionDenied, HasSubstr("only a manager")));
}

TEST(ReleaseFacilitatorTest, HappyPathAndRules) {
  AT_STAGE(s, case_v1::PREPARING);
  APPLY(s, DecideReleaseFacilitator(s.state(), {kCaseId, "f1"}, Manager()));
  ASSERT_THAT(Types(s.last()), ElementsAre("FacilitatorReleased"));
  EXPECT_EQ(Get<case_v1::FacilitatorReleased>(s.last(), 0).released_by(), "m1");
  EXPECT_THAT(s.state().facilitator_ids, IsEmpty());
  EXPECT_EQ(s.state().stage, case_v1::PREPARING);  // the stage stays
  EXPECT_FALSE(s.state().ReadyForPreparation());
  // The released facilitator no longer works on the case.
  EXPECT_THAT(DecideRecordAcknowledgement(s.state(), {kCaseId, true, {}}, Facilitator()),
              StatusIs(absl::StatusCode::kPermissionDenied,
                       HasSubstr("facilitator \"f1\" is not allocated to case \"c1\"")));
  EXPECT_THAT(CanRead(s.state(), Caller{"f1", Role::kFacilitator}),
              StatusIs(absl::StatusCode::kPermissionDenied));
  EXPECT_THAT(
      DecideReleaseFacilitator(s.state(), {kCaseId, "f1"}, Manager()),
      StatusIs(absl::StatusCode::kFailedPrecondition, HasSubstr("is not allocated")));
  EXPECT_THAT(DecideReleaseFacilitator(s.state(), {kCaseId, ""}, Manager()),
              StatusIs(absl::StatusCode::kInvalidArgument));
  // Reallocation in a later stage changes no stage either.
  APPLY(s, DecideAllocateFacilitator(s.state(), {kCaseId, "f2"}, Manager()));
  EXPECT_THAT(Types(s.last()), ElementsAre("FacilitatorAllocated"));
}

// ---------------------------------------------------------------------------
// RecordAcknowledgement / RecordSuitability.

TEST(RecordAcknowledgementTest, FirstScreeningActMovesToScreening) {
  AT_STAGE(s, case_v1::REFERRED);
  const common_v1::Sealed notes = Seal("su1", kSealedAcknowledgementNotes, "accepts it");
  APPLY(s, DecideRecordAcknowledgement(s.state(), {kCaseId, true, notes}, Manager()));
  ASSERT_THAT(Types(s.last()), ElementsAre("AcknowledgementRecorded", "StageChanged"));
  const auto& recorded = Get<case_v1::AcknowledgementRecorded>(s.last(), 0);
  EXPECT_TRUE(recorded.acknowledged());
  EXPECT_EQ(recorded.recorded_by(), "m1");
  EXPECT_EQ(recorded.notes().person_id(), "su1");
  EXPECT_EQ(Get<case_v1::StageChanged>(s.last(), 1).to(), case_v1::SCREENING);
  EXPECT_EQ(s.state().acknowledged, std::optional<bool>(true));
  // Recorded again: no stage change.
  APPLY(s, DecideRecordAcknowledgement(s.state(), {kCaseId, false, {}}, Manager()));
  EXPECT_THAT(Types(s.last()), ElementsAre("AcknowledgementRecorded"));
  EXPECT_EQ(s.state().acknowledged, std::optional<bool>(false));
}

TEST(RecordAcknowledgementTest, WithdrawnLaterIsReflectedWithoutClosing) {
  AT_STAGE(s, case_v1::PREPARING);
  ASSERT_TRUE(s.state().ReadyForPreparation());
  APPLY(s, DecideRecordAcknowledgement(s.state(), {kCaseId, false, {}}, Facilitator()));
  EXPECT_THAT(Types(s.last()), ElementsAre("AcknowledgementRecorded"));
  EXPECT_EQ(s.state().stage, case_v1::PREPARING);
  EXPECT_EQ(s.state().acknowledged, std::optional<bool>(false));
  EXPECT_FALSE(s.state().ReadyForPreparation());
}

TEST(RecordAcknowledgementTest, NotesMustBeSealedWithTheServiceUsersKey) {
  AT_STAGE(s, case_v1::REFERRED);
  EXPECT_THAT(
      DecideRecordAcknowledgement(
          s.state(), {kCaseId, true, Seal("v1", kSealedAcknowledgementNotes, "x")},
          Manager()),
      StatusIs(absl::StatusCode::kInvalidArgument, HasSubstr("notes is sealed")));
}

TEST(RecordSuitabilityTest, HappyPathAndUnsuitableFinding) {
  AT_STAGE(s, case_v1::REFERRED);
  APPLY(s, DecideRecordSuitability(s.state(), {kCaseId, true, {}}, Manager()));
  ASSERT_THAT(Types(s.last()), ElementsAre("SuitabilityRecorded", "StageChanged"));
  EXPECT_TRUE(Get<case_v1::SuitabilityRecorded>(s.last(), 0).suitable());
  EXPECT_EQ(Get<case_v1::SuitabilityRecorded>(s.last(), 0).recorded_by(), "m1");
  EXPECT_EQ(s.state().stage, case_v1::SCREENING);
  EXPECT_EQ(s.state().suitable, std::optional<bool>(true));

  AT_STAGE(later, case_v1::PREPARING);
  APPLY(later, DecideRecordSuitability(
                   later.state(), {kCaseId, false, case_v1::SERVICE_USER_NOT_ENGAGING},
                   Facilitator()));
  ASSERT_THAT(Types(later.last()), ElementsAre("SuitabilityRecorded"));
  EXPECT_EQ(Get<case_v1::SuitabilityRecorded>(later.last(), 0).reason(),
            case_v1::SERVICE_USER_NOT_ENGAGING);
  EXPECT_EQ(later.state().stage, case_v1::PREPARING);  // a manager closes
  EXPECT_EQ(later.state().suitable, std::optional<bool>(false));
  EXPECT_EQ(later.state().unsuitable_reason, case_v1::SERVICE_USER_NOT_ENGAGING);
  EXPECT_FALSE(later.state().ReadyForPreparation());
}

TEST(RecordSuitabilityTest, ReasonRules) {
  AT_STAGE(s, case_v1::REFERRED);
  EXPECT_THAT(
      DecideRecordSuitability(s.state(), {kCaseId, false, {}}, Manager()),
      StatusIs(absl::StatusCode::kInvalidArgument, HasSubstr("needs a known reason")));
  EXPECT_THAT(DecideRecordSuitability(
                  s.state(), {kCaseId, false, static_cast<case_v1::UnsuitableReason>(99)},
                  Manager()),
              StatusIs(absl::StatusCode::kInvalidArgument));
  EXPECT_THAT(DecideRecordSuitability(s.state(), {kCaseId, true, case_v1::RISK_TOO_HIGH},
                                      Manager()),
              StatusIs(absl::StatusCode::kInvalidArgument,
                       HasSubstr("only for an unsuitable finding")));
}

// ---------------------------------------------------------------------------
// Risk assessments.

TEST(RecordRiskAssessmentTest, FirstAssessmentMovesAllocatedToAssessing) {
  AT_STAGE(s, case_v1::ALLOCATED);
  APPLY(s, DecideRecordRiskAssessment(s.state(), Assessment("r1"), Facilitator()));
  ASSERT_THAT(Types(s.last()), ElementsAre("RiskAssessmentRecorded", "StageChanged"));
  const auto& recorded = Get<case_v1::RiskAssessmentRecorded>(s.last(), 0);
  EXPECT_EQ(recorded.assessment_id(), "r1");
  EXPECT_EQ(recorded.assessor_id(), "f1");
  EXPECT_EQ(recorded.level(), case_v1::MEDIUM);
  EXPECT_THAT(recorded.allowed_kinds(),
              ElementsAre(common_v1::APPROACH_VICTIM, common_v1::LETTER_DELIVERY));
  EXPECT_EQ(recorded.review_date(), "2026-03-01");
  EXPECT_FALSE(recorded.requires_approval());
  EXPECT_EQ(recorded.supersedes_assessment_id(), "");
  EXPECT_EQ(recorded.notes().person_id(), "su1");
  EXPECT_EQ(Get<case_v1::StageChanged>(s.last(), 1).to(), case_v1::ASSESSING);
  const RiskAssessmentState* current = s.state().current_risk_assessment();
  ASSERT_NE(current, nullptr);
  EXPECT_EQ(current->position, s.last().at(0).position);
  EXPECT_TRUE(current->counts());
}

TEST(RecordRiskAssessmentTest, CompletingTheConditionsMovesThroughToPreparing) {
  // Acknowledged and suitable already: the first assessment completes them.
  AT_STAGE(s, case_v1::SCREENING);
  APPLY(s, DecideRecordAcknowledgement(s.state(), {kCaseId, true, {}}, Manager()));
  APPLY(s, DecideAllocateFacilitator(s.state(), {kCaseId, "f1"}, Manager()));
  APPLY(s, DecideRecordRiskAssessment(s.state(), Assessment("r1"), Facilitator()));
  ASSERT_THAT(Types(s.last()),
              ElementsAre("RiskAssessmentRecorded", "StageChanged", "StageChanged"));
  EXPECT_EQ(Get<case_v1::StageChanged>(s.last(), 1).from(), case_v1::ALLOCATED);
  EXPECT_EQ(Get<case_v1::StageChanged>(s.last(), 1).to(), case_v1::ASSESSING);
  EXPECT_EQ(Get<case_v1::StageChanged>(s.last(), 2).from(), case_v1::ASSESSING);
  EXPECT_EQ(Get<case_v1::StageChanged>(s.last(), 2).to(), case_v1::PREPARING);
  EXPECT_EQ(s.state().stage, case_v1::PREPARING);
  EXPECT_EQ(s.state().last_stage_change_position, s.last().at(2).position);
}

TEST(RecordRiskAssessmentTest, RulesAreEnforced) {
  AT_STAGE(s, case_v1::ASSESSING);
  EXPECT_THAT(DecideRecordRiskAssessment(s.state(), Assessment("r1"), Manager()),
              StatusIs(absl::StatusCode::kAlreadyExists, HasSubstr("r1")));
  struct Row {
    std::string name;
    std::function<void(RecordRiskAssessmentCommand&)> change;
    std::string message;
  };
  const std::vector<Row> rows = {
      {"no id", [](auto& c) { c.assessment_id.clear(); }, "assessment_id"},
      {"no level", [](auto& c) { c.level = case_v1::RISK_LEVEL_UNSPECIFIED; }, "level"},
      {"no review date", [](auto& c) { c.review_date.clear(); }, "review_date"},
      {"unspecified kind",
       [](auto& c) { c.allowed_kinds.push_back(common_v1::CONTACT_KIND_UNSPECIFIED); },
       "allowed_kinds[2]"},
      {"repeated kind",
       [](auto& c) { c.allowed_kinds.push_back(common_v1::APPROACH_VICTIM); },
       "repeats APPROACH_VICTIM"},
      {"notes sealed with the victim's key",
       [](auto& c) { c.notes = Seal("v1", kSealedRiskAssessmentNotes, "x"); },
       "notes is sealed"},
  };
  for (const Row& row : rows) {
    SCOPED_TRACE(row.name);
    RecordRiskAssessmentCommand command = Assessment("r2");
    row.change(command);
    EXPECT_THAT(DecideRecordRiskAssessment(s.state(), command, Manager()),
                StatusIs(absl::StatusCode::kInvalidArgument, HasSubstr(row.message)));
  }
  // An empty list of kinds is an assessment that allows no contact.
  RecordRiskAssessmentCommand none = Assessment("r2");
  none.allowed_kinds.clear();
  APPLY(s, DecideRecordRiskAssessment(s.state(), none, Manager()));
  EXPECT_THAT(s.state().current_risk_assessment()->allowed_kinds, IsEmpty());
}

TEST(RiskAssessmentTest, SensitiveCaseNeedsApprovalBeforePreparing) {
  AT_STAGE(s, case_v1::SCREENING, /*sensitive=*/true);
  APPLY(s, DecideRecordAcknowledgement(s.state(), {kCaseId, true, {}}, Manager()));
  APPLY(s, DecideAllocateFacilitator(s.state(), {kCaseId, "f1"}, Manager()));
  APPLY(s, DecideRecordRiskAssessment(s.state(), Assessment("r1"), Facilitator()));
  EXPECT_THAT(Types(s.last()), ElementsAre("RiskAssessmentRecorded", "StageChanged"));
  EXPECT_TRUE(Get<case_v1::RiskAssessmentRecorded>(s.last(), 0).requires_approval());
  EXPECT_EQ(s.state().stage, case_v1::ASSESSING);
  EXPECT_FALSE(s.state().HasCountingRiskAssessment());

  APPLY(s, DecideApproveRiskAssessment(s.state(), {kCaseId, "r1"}, Manager()));
  ASSERT_THAT(Types(s.last()), ElementsAre("RiskAssessmentApproved", "StageChanged"));
  EXPECT_EQ(Get<case_v1::RiskAssessmentApproved>(s.last(), 0).approved_by(), "m1");
  EXPECT_EQ(Get<case_v1::StageChanged>(s.last(), 1).to(), case_v1::PREPARING);
  EXPECT_TRUE(s.state().current_risk_assessment()->approved);
  EXPECT_EQ(s.state().current_risk_assessment()->approved_position,
            s.last().at(0).position);
}

TEST(RiskAssessmentTest, SupersessionMakesApprovalsLapse) {
  AT_STAGE(s, case_v1::PREPARING, /*sensitive=*/true);
  ASSERT_TRUE(s.state().HasCountingRiskAssessment());
  APPLY(s, DecideRecordRiskAssessment(s.state(), Assessment("r2"), Facilitator()));
  ASSERT_THAT(Types(s.last()), ElementsAre("RiskAssessmentRecorded"));
  const auto& recorded = Get<case_v1::RiskAssessmentRecorded>(s.last(), 0);
  EXPECT_EQ(recorded.supersedes_assessment_id(), "r1");
  EXPECT_TRUE(recorded.requires_approval());
  // The approval of r1 lapsed with it: nothing counts until r2 is approved.
  EXPECT_EQ(s.state().current_risk_assessment()->assessment_id, "r2");
  EXPECT_FALSE(s.state().HasCountingRiskAssessment());
  EXPECT_EQ(s.state().FindRiskAssessment("r1")->superseded_by, "r2");
  EXPECT_EQ(s.state().stage, case_v1::PREPARING);  // stages never move back
  EXPECT_THAT(DecideApproveRiskAssessment(s.state(), {kCaseId, "r1"}, Manager()),
              StatusIs(absl::StatusCode::kFailedPrecondition,
                       HasSubstr("\"r1\" is superseded by \"r2\"")));
  APPLY(s, DecideApproveRiskAssessment(s.state(), {kCaseId, "r2"}, Manager()));
  EXPECT_THAT(Types(s.last()), ElementsAre("RiskAssessmentApproved"));
  EXPECT_TRUE(s.state().HasCountingRiskAssessment());
}

TEST(RiskAssessmentTest, SupersededApprovalInAssessingKeepsTheCaseThere) {
  AT_STAGE(s, case_v1::ASSESSING, /*sensitive=*/true);
  APPLY(s, DecideApproveRiskAssessment(s.state(), {kCaseId, "r1"}, Manager()));
  EXPECT_EQ(s.state().stage, case_v1::ASSESSING);  // not acknowledged yet
  APPLY(s, DecideRecordRiskAssessment(s.state(), Assessment("r2"), Facilitator()));
  APPLY(s, DecideRecordAcknowledgement(s.state(), {kCaseId, true, {}}, Facilitator()));
  EXPECT_THAT(Types(s.last()), ElementsAre("AcknowledgementRecorded"));
  EXPECT_EQ(s.state().stage, case_v1::ASSESSING);  // r2 awaits approval
  APPLY(s, DecideApproveRiskAssessment(s.state(), {kCaseId, "r2"}, Manager()));
  EXPECT_THAT(Types(s.last()), ElementsAre("RiskAssessmentApproved", "StageChanged"));
  EXPECT_EQ(s.state().stage, case_v1::PREPARING);
}

TEST(ApproveRiskAssessmentTest, RulesAreEnforced) {
  AT_STAGE(plain, case_v1::ASSESSING);
  EXPECT_THAT(DecideApproveRiskAssessment(plain.state(), {kCaseId, "r1"}, Manager()),
              StatusIs(absl::StatusCode::kFailedPrecondition,
                       HasSubstr("does not require approval")));

  AT_STAGE(s, case_v1::ASSESSING, /*sensitive=*/true);
  EXPECT_THAT(DecideApproveRiskAssessment(s.state(), {kCaseId, "nope"}, Manager()),
              StatusIs(absl::StatusCode::kNotFound, HasSubstr("\"nope\"")));
  EXPECT_THAT(DecideApproveRiskAssessment(s.state(), {kCaseId, ""}, Manager()),
              StatusIs(absl::StatusCode::kInvalidArgument));
  EXPECT_THAT(DecideApproveRiskAssessment(s.state(), {kCaseId, "r1"}, Facilitator()),
              StatusIs(absl::StatusCode::kPermissionDenied,
                       HasSubstr("only a manager may approve risk assessments")));
  APPLY(s, DecideApproveRiskAssessment(s.state(), {kCaseId, "r1"}, Manager()));
  EXPECT_THAT(DecideApproveRiskAssessment(s.state(), {kCaseId, "r1"}, Manager()),
              StatusIs(absl::StatusCode::kFailedPrecondition,
                       HasSubstr("already approved by \"m1\"")));

  AT_STAGE(paused, case_v1::PAUSED, /*sensitive=*/true);
  EXPECT_THAT(DecideApproveRiskAssessment(paused.state(), {kCaseId, "r1"}, Manager()),
              StatusIs(absl::StatusCode::kFailedPrecondition, HasSubstr("stage PAUSED")));
  AT_STAGE(closed, case_v1::CLOSED, /*sensitive=*/true);
  EXPECT_THAT(DecideApproveRiskAssessment(closed.state(), {kCaseId, "r1"}, Manager()),
              StatusIs(absl::StatusCode::kFailedPrecondition, HasSubstr("stage CLOSED")));
}

// ---------------------------------------------------------------------------
// Pause, resume, close, erase.

TEST(PauseResumeTest, ResumeRestoresTheStageBeforeThePause) {
  for (case_v1::Stage stage : {case_v1::REFERRED, case_v1::SCREENING, case_v1::PREPARING,
                               case_v1::CONFERENCE_SCHEDULED}) {
    SCOPED_TRACE(StageName(stage));
    AT_STAGE(s, stage);
    APPLY(s, DecidePauseCase(s.state(), {kCaseId, "victim in hospital"}, Manager()));
    ASSERT_THAT(Types(s.last()), ElementsAre("CasePaused", "StageChanged"));
    EXPECT_EQ(Get<case_v1::CasePaused>(s.last(), 0).reason(), "victim in hospital");
    EXPECT_EQ(Get<case_v1::CasePaused>(s.last(), 0).paused_by(), "m1");
    EXPECT_EQ(s.state().stage, case_v1::PAUSED);
    EXPECT_EQ(s.state().stage_before_pause, stage);
    EXPECT_EQ(s.state().pause_reason, "victim in hospital");
    EXPECT_THAT(
        DecidePauseCase(s.state(), {kCaseId, "again"}, Manager()),
        StatusIs(absl::StatusCode::kFailedPrecondition, HasSubstr("stage PAUSED")));

    APPLY(s, DecideResumeCase(s.state(), {kCaseId}, Manager()));
    ASSERT_THAT(Types(s.last()), ElementsAre("CaseResumed", "StageChanged"));
    EXPECT_EQ(Get<case_v1::CaseResumed>(s.last(), 0).resumed_by(), "m1");
    EXPECT_EQ(Get<case_v1::StageChanged>(s.last(), 1).from(), case_v1::PAUSED);
    EXPECT_EQ(Get<case_v1::StageChanged>(s.last(), 1).to(), stage);
    EXPECT_EQ(s.state().stage, stage);
    EXPECT_EQ(s.state().stage_before_pause, case_v1::STAGE_UNSPECIFIED);
    EXPECT_EQ(s.state().pause_reason, "");
    EXPECT_THAT(DecideResumeCase(s.state(), {kCaseId}, Manager()),
                StatusIs(absl::StatusCode::kFailedPrecondition,
                         HasSubstr("only a paused case can be resumed")));
  }
}

TEST(CloseCaseTest, HappyPathFromAnOpenStageAndFromPaused) {
  AT_STAGE(s, case_v1::PREPARING);
  APPLY(s, DecideCloseCase(s.state(), {kCaseId, case_v1::COMPLETED}, Facilitator()));
  ASSERT_THAT(Types(s.last()), ElementsAre("CaseClosed", "StageChanged"));
  EXPECT_EQ(Get<case_v1::CaseClosed>(s.last(), 0).reason(), case_v1::COMPLETED);
  EXPECT_EQ(Get<case_v1::CaseClosed>(s.last(), 0).closed_by(), "f1");
  EXPECT_EQ(Get<case_v1::StageChanged>(s.last(), 1).from(), case_v1::PREPARING);
  EXPECT_EQ(s.state().stage, case_v1::CLOSED);
  EXPECT_EQ(s.state().closure_reason, case_v1::COMPLETED);
  // The closure's time is the one the store recorded for CaseClosed.
  EXPECT_EQ(s.state().closed_unix_micros, s.last().at(0).recorded_unix_micros);
  EXPECT_NE(s.state().closed_unix_micros, kCommandEpochMicros);

  AT_STAGE(paused, case_v1::PAUSED);
  APPLY(paused, DecideCloseCase(paused.state(), {kCaseId, case_v1::WITHDRAWN_BY_VICTIM},
                                Manager()));
  EXPECT_EQ(Get<case_v1::StageChanged>(paused.last(), 1).from(), case_v1::PAUSED);
  EXPECT_EQ(paused.state().stage, case_v1::CLOSED);
  EXPECT_EQ(paused.state().stage_before_pause, case_v1::STAGE_UNSPECIFIED);
}

TEST(CloseCaseTest, ReasonRequiredAndClosingTwiceRefused) {
  AT_STAGE(s, case_v1::REFERRED);
  EXPECT_THAT(DecideCloseCase(s.state(), {kCaseId, case_v1::CLOSURE_REASON_UNSPECIFIED},
                              Manager()),
              StatusIs(absl::StatusCode::kInvalidArgument, HasSubstr("reason")));
  APPLY(s, DecideCloseCase(s.state(), {kCaseId, case_v1::UNSUITABLE}, Manager()));
  EXPECT_THAT(DecideCloseCase(s.state(), {kCaseId, case_v1::UNSUITABLE}, Manager()),
              StatusIs(absl::StatusCode::kFailedPrecondition, HasSubstr("stage CLOSED")));
}

TEST(EraseParticipantTest, ErasesOnAClosedCaseAndRefusesTwice) {
  AT_STAGE(s, case_v1::CLOSED);
  const int64_t closed_micros = s.state().closed_unix_micros;
  APPLY(s, DecideEraseParticipant(s.state(), ErasureRequest("v1"), Manager()));
  ASSERT_THAT(Types(s.last()), ElementsAre("ParticipantErased"));
  const auto& erased = Get<case_v1::ParticipantErased>(s.last(), 0);
  EXPECT_EQ(erased.participant_id(), "v1");
  EXPECT_EQ(erased.requested_by(), "m1");
  EXPECT_EQ(erased.basis(), case_v1::ERASURE_REQUEST);
  EXPECT_EQ(erased.reason(), "request ref ER-17");
  EXPECT_EQ(erased.retention_period_seconds(), 0);  // no period applies
  EXPECT_EQ(erased.case_closed_unix_micros(), closed_micros);
  const ParticipantState* v1 = s.state().FindParticipant("v1");
  ASSERT_NE(v1, nullptr);
  EXPECT_TRUE(v1->erased);
  EXPECT_EQ(v1->erased_by, "m1");
  EXPECT_EQ(v1->erasure_basis, case_v1::ERASURE_REQUEST);
  EXPECT_EQ(v1->erasure_reason, "request ref ER-17");
  EXPECT_EQ(v1->details.person_id(), "v1");  // the sealed bytes stay, as stored
  EXPECT_EQ(s.state().stage, case_v1::CLOSED);

  EXPECT_THAT(
      DecideEraseParticipant(s.state(), ErasureRequest("v1"), Manager()),
      StatusIs(absl::StatusCode::kFailedPrecondition, HasSubstr("already erased")));
  EXPECT_THAT(DecideEraseParticipant(s.state(), ErasureRequest("ghost"), Manager()),
              StatusIs(absl::StatusCode::kNotFound, HasSubstr("\"ghost\"")));
}

TEST(EraseParticipantTest, MalformedCommandsAreInvalidArgument) {
  AT_STAGE(s, case_v1::CLOSED);
  const absl::Time later = absl::FromUnixMicros(s.state().closed_unix_micros) +
                           kDefaultRetentionPeriod + absl::Hours(1);
  const CommandContext m = At(Manager(), later);
  struct Row {
    std::string name;
    EraseParticipantCommand command;
    std::string message;
  };
  auto with = [](std::function<void(EraseParticipantCommand&)> spoil) {
    EraseParticipantCommand c = RetentionErasure("su1");
    spoil(c);
    return c;
  };
  const std::vector<Row> rows = {
      {"no reason", with([](auto& c) { c.reason.clear(); }), "reason is required"},
      {"no participant", with([](auto& c) { c.participant_id.clear(); }),
       "participant_id is required"},
      {"unspecified basis",
       with([](auto& c) { c.basis = case_v1::ERASURE_BASIS_UNSPECIFIED; }), "basis"},
      {"unknown basis",
       with([](auto& c) { c.basis = static_cast<case_v1::ErasureBasis>(9); }), "basis"},
      {"zero period", with([](auto& c) { c.retention_period = absl::ZeroDuration(); }),
       "retention_period must be positive"},
      {"negative period", with([](auto& c) { c.retention_period = -absl::Hours(1); }),
       "retention_period must be positive"},
      {"infinite period",
       with([](auto& c) { c.retention_period = absl::InfiniteDuration(); }),
       "retention_period must be finite"},
      {"sub-second period",
       with([](auto& c) { c.retention_period = absl::Milliseconds(1500); }),
       "whole number of seconds"},
  };
  for (const Row& row : rows) {
    SCOPED_TRACE(row.name);
    EXPECT_THAT(DecideEraseParticipant(s.state(), row.command, m),
                StatusIs(absl::StatusCode::kInvalidArgument, HasSubstr(row.message)));
  }
  // The same command, well formed, is allowed.
  EXPECT_THAT(DecideEraseParticipant(s.state(), RetentionErasure("su1"), m), IsOk());
}

TEST(EraseParticipantTest, OpenOrPausedCaseIsRefusedNamingTheStage) {
  for (case_v1::Stage stage :
       {case_v1::REFERRED, case_v1::SCREENING, case_v1::ALLOCATED, case_v1::ASSESSING,
        case_v1::PREPARING, case_v1::INDIRECT_CONTACT, case_v1::CONFERENCE_SCHEDULED,
        case_v1::CONFERENCE_HELD, case_v1::FOLLOW_UP, case_v1::PAUSED}) {
    AT_STAGE(s, stage);
    // Even far beyond any retention period: the period counts from closure.
    const CommandContext m = At(
        Manager(), absl::FromUnixMicros(kStoreEpochMicros) + kDefaultRetentionPeriod * 3);
    for (const EraseParticipantCommand& command :
         {ErasureRequest("v1"), RetentionErasure("v1")}) {
      SCOPED_TRACE(
          absl::StrCat(StageName(stage), " ", case_v1::ErasureBasis_Name(command.basis)));
      const Decision d = DecideEraseParticipant(s.state(), command, m);
      EXPECT_THAT(d, StatusIs(absl::StatusCode::kFailedPrecondition,
                              HasSubstr("close the case first")));
      EXPECT_THAT(d, StatusIs(absl::StatusCode::kFailedPrecondition,
                              HasSubstr(absl::StrCat("is in stage ", StageName(stage)))));
    }
  }
}

TEST(EraseParticipantTest, RetentionNotYetElapsedIsRefusedNamingTheDate) {
  AT_STAGE(s, case_v1::CLOSED);
  const absl::Time closed_at = absl::FromUnixMicros(s.state().closed_unix_micros);
  // The store's clock: 2027-01-15T08:00:00Z plus one microsecond a position.
  ASSERT_EQ(absl::FormatTime("%Y-%m-%dT%H:%M:%S", closed_at, absl::UTCTimeZone()),
            "2027-01-15T08:00:00");
  const absl::Time allowed_from = closed_at + kDefaultRetentionPeriod;
  for (absl::Time now : {closed_at, closed_at + absl::Hours(24 * 365),
                         allowed_from - absl::Microseconds(1)}) {
    SCOPED_TRACE(absl::FormatTime(now));
    const Decision d =
        DecideEraseParticipant(s.state(), RetentionErasure("v1"), At(Manager(), now));
    // 2190 days after 2027-01-15 is 2033-01-13.
    EXPECT_THAT(
        d,
        StatusIs(absl::StatusCode::kFailedPrecondition,
                 HasSubstr(absl::StrCat("is allowed from ",
                                        absl::FormatTime(absl::RFC3339_full, allowed_from,
                                                         absl::UTCTimeZone())))));
    EXPECT_THAT(d, StatusIs(absl::StatusCode::kFailedPrecondition,
                            HasSubstr("allowed from 2033-01-13T08:00:00")));
    EXPECT_THAT(d, StatusIs(absl::StatusCode::kFailedPrecondition,
                            HasSubstr("retention period of 2190 days")));
    EXPECT_THAT(
        d, StatusIs(absl::StatusCode::kFailedPrecondition, HasSubstr("stage CLOSED")));
  }
  // The command's period is the one applied: 30 days from closure.
  EXPECT_THAT(DecideEraseParticipant(s.state(), RetentionErasure("v1", absl::Hours(720)),
                                     At(Manager(), closed_at + absl::Hours(719))),
              StatusIs(absl::StatusCode::kFailedPrecondition,
                       HasSubstr("allowed from 2027-02-14T08:00:00")));
}

TEST(EraseParticipantTest, RetentionElapsedIsAllowedAndRecordsTheRule) {
  AT_STAGE(s, case_v1::CLOSED);
  const int64_t closed_micros = s.state().closed_unix_micros;
  const absl::Time allowed_from =
      absl::FromUnixMicros(closed_micros) + kDefaultRetentionPeriod;
  // Exactly at the end of the period, by an allocated facilitator.
  APPLY(s, DecideEraseParticipant(s.state(), RetentionErasure("v1"),
                                  At(Facilitator(), allowed_from)));
  const auto& erased = Get<case_v1::ParticipantErased>(s.last(), 0);
  EXPECT_EQ(erased.basis(), case_v1::RETENTION_PERIOD_ELAPSED);
  EXPECT_EQ(erased.reason(), "retention rule R7");
  EXPECT_EQ(erased.requested_by(), "f1");
  EXPECT_EQ(erased.retention_period_seconds(), 2190 * 24 * 3600);
  EXPECT_EQ(erased.case_closed_unix_micros(), closed_micros);
  EXPECT_EQ(s.state().FindParticipant("v1")->erasure_basis,
            case_v1::RETENTION_PERIOD_ELAPSED);
  // A shorter period, long after it ran.
  APPLY(s, DecideEraseParticipant(s.state(), RetentionErasure("su1", absl::Seconds(90)),
                                  At(Manager(), allowed_from)));
  EXPECT_EQ(Get<case_v1::ParticipantErased>(s.last(), 0).retention_period_seconds(), 90);
}

TEST(EraseParticipantTest, ErasureRequestIsForManagersOnly) {
  AT_STAGE(s, case_v1::CLOSED);
  // Refused to the allocated facilitator whatever the state (role first).
  EXPECT_THAT(
      DecideEraseParticipant(s.state(), ErasureRequest("v1"), Facilitator()),
      StatusIs(absl::StatusCode::kPermissionDenied,
               HasSubstr("only a manager may grant a person's own erasure request")));
  EXPECT_THAT(DecideEraseParticipant(CaseState{}, ErasureRequest("v1"), Facilitator()),
              StatusIs(absl::StatusCode::kPermissionDenied));
  AT_STAGE(open, case_v1::PREPARING);
  EXPECT_THAT(DecideEraseParticipant(open.state(), ErasureRequest("v1"), Facilitator()),
              StatusIs(absl::StatusCode::kPermissionDenied));
  // Allowed to a manager at once after closure: the command's time is
  // before the closure was even recorded by the store's clock.
  ASSERT_LT(kCommandEpochMicros, s.state().closed_unix_micros);
  APPLY(s, DecideEraseParticipant(s.state(), ErasureRequest("v1"), Manager()));
  EXPECT_TRUE(s.state().FindParticipant("v1")->erased);
}

TEST(EraseParticipantTest, ValidateRetentionPeriod) {
  EXPECT_THAT(ValidateRetentionPeriod(kDefaultRetentionPeriod), IsOk());
  EXPECT_EQ(kDefaultRetentionPeriod, absl::Hours(52560));
  EXPECT_THAT(ValidateRetentionPeriod(absl::Seconds(1)), IsOk());
  EXPECT_THAT(ValidateRetentionPeriod(absl::ZeroDuration()),
              StatusIs(absl::StatusCode::kInvalidArgument));
  EXPECT_THAT(ValidateRetentionPeriod(-absl::Seconds(1)),
              StatusIs(absl::StatusCode::kInvalidArgument));
  EXPECT_THAT(ValidateRetentionPeriod(absl::InfiniteDuration()),
              StatusIs(absl::StatusCode::kInvalidArgument));
  EXPECT_THAT(ValidateRetentionPeriod(absl::Milliseconds(1)),
              StatusIs(absl::StatusCode::kInvalidArgument));
}

// ---------------------------------------------------------------------------
// The rule tables.

struct TableCommand {
  std::string name;
  std::function<Decision(const CaseState&, const CommandContext&)> run;
};

// One well-formed instance of each command but ReferCase and
// ApproveRiskAssessment (whose preconditions are not a matter of stage; see
// their tests).
std::vector<TableCommand> StageTableCommands() {
  return {
      {"AddParticipant",
       [](const CaseState& s, const CommandContext& c) {
         return DecideAddParticipant(s, {kCaseId, Person("s1", case_v1::SUPPORTER, "v1")},
                                     c);
       }},
      {"AllocateFacilitator",
       [](const CaseState& s, const CommandContext& c) {
         return DecideAllocateFacilitator(s, {kCaseId, "f2"}, c);
       }},
      {"ReleaseFacilitator",
       [](const CaseState& s, const CommandContext& c) {
         return DecideReleaseFacilitator(s, {kCaseId, "f1"}, c);
       }},
      {"RecordAcknowledgement",
       [](const CaseState& s, const CommandContext& c) {
         return DecideRecordAcknowledgement(s, {kCaseId, true, {}}, c);
       }},
      {"RecordRiskAssessment",
       [](const CaseState& s, const CommandContext& c) {
         return DecideRecordRiskAssessment(s, Assessment("r9"), c);
       }},
      {"RecordSuitability",
       [](const CaseState& s, const CommandContext& c) {
         return DecideRecordSuitability(s, {kCaseId, true, {}}, c);
       }},
      {"PauseCase",
       [](const CaseState& s, const CommandContext& c) {
         return DecidePauseCase(s, {kCaseId, "on hold"}, c);
       }},
      {"ResumeCase",
       [](const CaseState& s, const CommandContext& c) {
         return DecideResumeCase(s, {kCaseId}, c);
       }},
      {"CloseCase",
       [](const CaseState& s, const CommandContext& c) {
         return DecideCloseCase(s, {kCaseId, case_v1::WITHDRAWN_BY_SERVICE_USER}, c);
       }},
      {"EraseParticipant",
       [](const CaseState& s, const CommandContext& c) {
         return DecideEraseParticipant(s, ErasureRequest("v1"), c);
       }},
  };
}

TEST(RuleTableTest, StageByCommand) {
  // O: accepted; F: FAILED_PRECONDITION naming the stage. Columns in the
  // order of StageTableCommands: Add Alloc Release Ack Risk Suit Pause
  // Resume Close Erase (an erasure request, by a manager: see
  // EraseParticipantTest for the retention rule).
  // clang-format off
  const std::vector<std::pair<case_v1::Stage, std::string>> table = {
      {case_v1::REFERRED,             "OFFOFOOFOF"},
      {case_v1::SCREENING,            "OOFOFOOFOF"},
      {case_v1::ALLOCATED,            "OOOOOOOFOF"},
      {case_v1::ASSESSING,            "OOOOOOOFOF"},
      {case_v1::PREPARING,            "OOOOOOOFOF"},
      {case_v1::INDIRECT_CONTACT,     "OOOOOOOFOF"},
      {case_v1::CONFERENCE_SCHEDULED, "OOOOOOOFOF"},
      {case_v1::CONFERENCE_HELD,      "OOOOOOOFOF"},
      {case_v1::FOLLOW_UP,            "OOOOOOOFOF"},
      {case_v1::PAUSED,               "OFFFFFFOOF"},
      {case_v1::CLOSED,               "FFFFFFFFFO"},
  };
  // clang-format on
  const std::vector<TableCommand> commands = StageTableCommands();
  for (const auto& [stage, row] : table) {
    AT_STAGE(base, stage);
    ASSERT_EQ(base.state().stage, stage);
    ASSERT_EQ(row.size(), commands.size());
    for (size_t i = 0; i < commands.size(); ++i) {
      SCOPED_TRACE(absl::StrCat(StageName(stage), " x ", commands[i].name));
      Scenario s = base;
      const Decision d = commands[i].run(s.state(), Manager());
      if (row[i] == 'O') {
        EXPECT_THAT(s.Apply(d), IsOk());
      } else {
        EXPECT_THAT(d,
                    StatusIs(absl::StatusCode::kFailedPrecondition,
                             HasSubstr(absl::StrCat("is in stage ", StageName(stage)))));
        EXPECT_THAT(d, StatusIs(absl::StatusCode::kFailedPrecondition,
                                HasSubstr(commands[i].name)));
      }
    }
  }
}

TEST(RuleTableTest, ClosedAndPausedNameTheirRule) {
  AT_STAGE(closed, case_v1::CLOSED);
  EXPECT_THAT(DecideRecordAcknowledgement(closed.state(), {kCaseId, true, {}}, Manager()),
              StatusIs(absl::StatusCode::kFailedPrecondition,
                       HasSubstr("a closed case accepts only EraseParticipant (I4)")));
  AT_STAGE(paused, case_v1::PAUSED);
  EXPECT_THAT(DecideRecordAcknowledgement(paused.state(), {kCaseId, true, {}}, Manager()),
              StatusIs(absl::StatusCode::kFailedPrecondition,
                       HasSubstr("a paused case accepts only ResumeCase, CloseCase and "
                                 "AddParticipant")));
}

TEST(RuleTableTest, RoleByCommand) {
  struct Row {
    std::string name;
    case_v1::Stage stage;  // STAGE_UNSPECIFIED: no case yet
    bool sensitive;
    std::function<Decision(const CaseState&, const CommandContext&)> run;
    std::string expected;  // manager, allocated f1, other f9, auditor, service
  };
  std::vector<Row> rows = {
      {"ReferCase", case_v1::STAGE_UNSPECIFIED, false,
       [](const CaseState& s, const CommandContext& c) {
         return DecideReferCase(s, Referral(), c);
       },
       "OOODD"},
      {"ApproveRiskAssessment", case_v1::ASSESSING, true,
       [](const CaseState& s, const CommandContext& c) {
         return DecideApproveRiskAssessment(s, {kCaseId, "r1"}, c);
       },
       "ODDDD"},
      // Erasure once the retention period has run: caseworkers.
      {"EraseParticipant", case_v1::CLOSED, false,
       [](const CaseState& s, const CommandContext& c) {
         return DecideEraseParticipant(
             s, RetentionErasure("v1"),
             At(c, absl::FromUnixMicros(s.closed_unix_micros) + kDefaultRetentionPeriod));
       },
       "OODDD"},
  };
  for (TableCommand& command : StageTableCommands()) {
    // Erasure in the table is a person's own request: a manager's decision.
    const bool manager_only = command.name == "AllocateFacilitator" ||
                              command.name == "ReleaseFacilitator" ||
                              command.name == "EraseParticipant";
    case_v1::Stage stage = case_v1::ASSESSING;
    if (command.name == "ResumeCase") stage = case_v1::PAUSED;
    if (command.name == "EraseParticipant") stage = case_v1::CLOSED;
    rows.push_back(
        {command.name, stage, false, command.run, manager_only ? "ODDDD" : "OODDD"});
  }
  const std::vector<CommandContext> callers = {Manager(), Facilitator(),
                                               OtherFacilitator(), Auditor(), Service()};
  for (const Row& row : rows) {
    Scenario base;
    if (row.stage != case_v1::STAGE_UNSPECIFIED) {
      AT_STAGE(at, row.stage, row.sensitive);
      base = at;
    }
    for (size_t i = 0; i < callers.size(); ++i) {
      SCOPED_TRACE(absl::StrCat(row.name, " by ", std::string(RoleName(callers[i].role)),
                                " ", callers[i].actor_id));
      Scenario s = base;
      const Decision d = row.run(s.state(), callers[i]);
      if (row.expected[i] == 'O') {
        EXPECT_THAT(s.Apply(d), IsOk());
      } else {
        EXPECT_THAT(d,
                    StatusIs(absl::StatusCode::kPermissionDenied, HasSubstr(row.name)));
      }
    }
  }
}

TEST(RuleTableTest, RefusalMessagesSayWhy) {
  AT_STAGE(s, case_v1::ASSESSING);
  EXPECT_THAT(DecideRecordSuitability(s.state(), {kCaseId, true, {}}, OtherFacilitator()),
              StatusIs(absl::StatusCode::kPermissionDenied,
                       HasSubstr("facilitator \"f9\" is not allocated to case \"c1\"")));
  EXPECT_THAT(DecideRecordSuitability(s.state(), {kCaseId, true, {}}, Auditor()),
              StatusIs(absl::StatusCode::kPermissionDenied, HasSubstr("reads only")));
  EXPECT_THAT(DecideRecordSuitability(s.state(), {kCaseId, true, {}}, Service()),
              StatusIs(absl::StatusCode::kPermissionDenied, HasSubstr("service role")));
  // The role is checked before the case is looked up.
  EXPECT_THAT(DecideRecordSuitability(CaseState{}, {kCaseId, true, {}}, Auditor()),
              StatusIs(absl::StatusCode::kPermissionDenied));
  EXPECT_THAT(DecideRecordSuitability(CaseState{}, {kCaseId, true, {}}, Manager()),
              StatusIs(absl::StatusCode::kNotFound, HasSubstr("no case \"c1\"")));
  // A state of another case is a handler bug.
  EXPECT_THAT(DecideRecordSuitability(s.state(), {"c2", true, {}}, Manager()),
              StatusIs(absl::StatusCode::kInternal));
}

TEST(StageMachineTest, TransitionTable) {
  using S = case_v1::Stage;
  const std::set<std::pair<S, S>> allowed_forward = {
      {case_v1::STAGE_UNSPECIFIED, case_v1::REFERRED},
      {case_v1::REFERRED, case_v1::SCREENING},
      {case_v1::SCREENING, case_v1::ALLOCATED},
      {case_v1::ALLOCATED, case_v1::ASSESSING},
      {case_v1::ASSESSING, case_v1::PREPARING},
      {case_v1::PREPARING, case_v1::INDIRECT_CONTACT},
      {case_v1::PREPARING, case_v1::CONFERENCE_SCHEDULED},
      {case_v1::INDIRECT_CONTACT, case_v1::CONFERENCE_SCHEDULED},
      {case_v1::INDIRECT_CONTACT, case_v1::FOLLOW_UP},
      {case_v1::CONFERENCE_SCHEDULED, case_v1::INDIRECT_CONTACT},
      {case_v1::CONFERENCE_SCHEDULED, case_v1::CONFERENCE_HELD},
      {case_v1::CONFERENCE_HELD, case_v1::FOLLOW_UP},
  };
  for (int f = case_v1::Stage_MIN; f <= case_v1::Stage_MAX; ++f) {
    for (int t = case_v1::Stage_MIN; t <= case_v1::Stage_MAX; ++t) {
      const S from = static_cast<S>(f);
      const S to = static_cast<S>(t);
      bool expected = allowed_forward.count({from, to}) > 0;
      if (IsOpenStage(from) && (to == case_v1::PAUSED || to == case_v1::CLOSED)) {
        expected = true;
      }
      if (from == case_v1::PAUSED && (IsOpenStage(to) || to == case_v1::CLOSED)) {
        expected = true;
      }
      EXPECT_EQ(IsAllowedStageTransition(from, to), expected)
          << StageName(from) << " -> " << StageName(to);
    }
  }
}

TEST(StageMachineTest, ReferToPreparingEndToEnd) {
  // A sensitive case, so that every move is its own command.
  Scenario s;
  std::vector<case_v1::Stage> stages;
  auto stage_after = [&](Decision d) {
    EXPECT_THAT(s.Apply(std::move(d)), IsOk());
    stages.push_back(s.state().stage);
  };
  stage_after(DecideReferCase(s.state(), Referral(case_v1::HATE_CRIME), Manager()));
  stage_after(DecideRecordAcknowledgement(s.state(), {kCaseId, true, {}}, Manager()));
  stage_after(DecideRecordSuitability(s.state(), {kCaseId, true, {}}, Manager()));
  stage_after(DecideAllocateFacilitator(s.state(), {kCaseId, "f1"}, Manager()));
  stage_after(DecideRecordRiskAssessment(s.state(), Assessment("r1"), Facilitator()));
  stage_after(DecideApproveRiskAssessment(s.state(), {kCaseId, "r1"}, Manager()));
  EXPECT_THAT(stages,
              ElementsAre(case_v1::REFERRED, case_v1::SCREENING, case_v1::SCREENING,
                          case_v1::ALLOCATED, case_v1::ASSESSING, case_v1::PREPARING));
  EXPECT_TRUE(s.state().ReadyForPreparation());
}

TEST(StageMachineTest, ExtensionPointMovesOnlyAlongTheMachine) {
  AT_STAGE(s, case_v1::PREPARING);
  const CommandContext svc = Ctx(Role::kService, "case");
  EXPECT_THAT(
      DecideStageAdvance(s.state(), case_v1::CONFERENCE_HELD, svc),
      StatusIs(absl::StatusCode::kFailedPrecondition, HasSubstr("stage PREPARING")));
  EXPECT_THAT(DecideStageAdvance(s.state(), case_v1::PREPARING, svc),
              StatusIs(absl::StatusCode::kInvalidArgument));
  EXPECT_THAT(DecideStageAdvance(s.state(), case_v1::CLOSED, svc),
              StatusIs(absl::StatusCode::kInvalidArgument));
  EXPECT_THAT(DecideStageAdvance(CaseState{}, case_v1::FOLLOW_UP, svc),
              StatusIs(absl::StatusCode::kNotFound));
  APPLY(s, DecideStageAdvance(s.state(), case_v1::INDIRECT_CONTACT, svc));
  ASSERT_THAT(Types(s.last()), ElementsAre("StageChanged"));
  APPLY(s, DecideStageAdvance(s.state(), case_v1::CONFERENCE_SCHEDULED, svc));
  APPLY(s, DecideStageAdvance(s.state(), case_v1::INDIRECT_CONTACT, svc));  // cancelled
  EXPECT_EQ(s.state().stage, case_v1::INDIRECT_CONTACT);
  AT_STAGE(paused, case_v1::PAUSED);
  EXPECT_THAT(DecideStageAdvance(paused.state(), case_v1::INDIRECT_CONTACT, svc),
              StatusIs(absl::StatusCode::kFailedPrecondition, HasSubstr("stage PAUSED")));
}

// ---------------------------------------------------------------------------
// Replay.

TEST(ReplayTest, RefoldingEveryDecidedEventReproducesTheState) {
  Scenario s;
  const CommandContext m = Manager();
  const CommandContext f = Facilitator();
  APPLY(s, DecideReferCase(s.state(), Referral(case_v1::DOMESTIC_ABUSE), m));
  APPLY(s, DecideAddParticipant(s.state(),
                                {kCaseId, Person("i1", case_v1::INTERPRETER, "v1")}, m));
  APPLY(s, DecideRecordSuitability(s.state(), {kCaseId, true, {}}, m));
  APPLY(s, DecideAllocateFacilitator(s.state(), {kCaseId, "f1"}, m));
  APPLY(s, DecideAllocateFacilitator(s.state(), {kCaseId, "f2"}, m));
  APPLY(s, DecideRecordAcknowledgement(
               s.state(),
               {kCaseId, true, Seal("su1", kSealedAcknowledgementNotes, "yes")}, f));
  APPLY(s, DecideRecordRiskAssessment(s.state(), Assessment("r1"), f));
  APPLY(s, DecideApproveRiskAssessment(s.state(), {kCaseId, "r1"}, m));
  APPLY(s, DecidePauseCase(s.state(), {kCaseId, "victim unwell"}, f));
  APPLY(s, DecideAddParticipant(s.state(),
                                {kCaseId, Person("s1", case_v1::SUPPORTER, "v1")}, f));
  APPLY(s, DecideResumeCase(s.state(), {kCaseId}, f));
  APPLY(s, DecideRecordRiskAssessment(s.state(), Assessment("r2"), f));
  APPLY(s, DecideReleaseFacilitator(s.state(), {kCaseId, "f2"}, m));
  APPLY(s, DecideApproveRiskAssessment(s.state(), {kCaseId, "r2"}, m));
  APPLY(s, DecideStageAdvance(s.state(), case_v1::INDIRECT_CONTACT, Service()));
  APPLY(s, DecideStageAdvance(s.state(), case_v1::FOLLOW_UP, Service()));
  APPLY(s, DecideCloseCase(s.state(), {kCaseId, case_v1::COMPLETED}, m));
  // The store's time of CaseClosed, not the command's.
  const int64_t closed_micros = kStoreEpochMicros + static_cast<int64_t>(s.size()) - 1;
  EXPECT_EQ(s.state().closed_unix_micros, closed_micros);
  APPLY(s, DecideEraseParticipant(s.state(), ErasureRequest("v1"), m));
  APPLY(s, DecideEraseParticipant(
               s.state(), RetentionErasure("su1"),
               At(f, absl::FromUnixMicros(closed_micros) + kDefaultRetentionPeriod)));

  const CaseState& live = s.state();
  EXPECT_EQ(live.version, s.size());
  EXPECT_EQ(live.stage, case_v1::CLOSED);
  ASSERT_EQ(live.risk_assessments.size(), 2u);
  EXPECT_EQ(live.participants.size(), 4u);

  absl::StatusOr<CaseState> replayed = s.Replay();
  ASSERT_THAT(replayed, IsOk());
  EXPECT_TRUE(*replayed == live);
  // The closure time and the erasures' bases survive replay.
  EXPECT_EQ(replayed->closed_unix_micros, closed_micros);
  EXPECT_EQ(replayed->FindParticipant("v1")->erasure_basis, case_v1::ERASURE_REQUEST);
  EXPECT_EQ(replayed->FindParticipant("su1")->erasure_basis,
            case_v1::RETENTION_PERIOD_ELAPSED);
  // And again: folding is deterministic.
  absl::StatusOr<CaseState> again = s.Replay();
  ASSERT_THAT(again, IsOk());
  EXPECT_TRUE(*again == *replayed);
  // A difference would show.
  CaseState changed = *replayed;
  changed.risk_assessments[0].approved_by = "someone else";
  EXPECT_FALSE(changed == live);
  changed = *replayed;
  changed.closed_unix_micros += 1;
  EXPECT_FALSE(changed == live);
}

// ---------------------------------------------------------------------------
// CaseView and redaction.

// Opens the fake ciphertexts; NOT_FOUND for persons whose key is erased.
class FakeKeys {
 public:
  UnsealFn fn() {
    return [this](const common_v1::Sealed& sealed,
                  std::string_view field) -> absl::StatusOr<std::string> {
      ++calls_;
      if (fail_ != absl::StatusCode::kOk) return absl::Status(fail_, "key store down");
      if (erased_.count(sealed.person_id()) > 0) {
        return absl::NotFoundError("key erased");
      }
      const std::string prefix = absl::StrCat("ct|", std::string(field), "|");
      const std::string& ct = sealed.ciphertext();
      if (ct.rfind(prefix, 0) != 0) {
        return absl::DataLossError(
            absl::StrCat("sealed for another field than ", std::string(field)));
      }
      return ct.substr(prefix.size());
    };
  }
  void Erase(const std::string& person) { erased_.insert(person); }
  void FailWith(absl::StatusCode code) { fail_ = code; }
  int calls() const { return calls_; }

 private:
  std::set<std::string> erased_;
  absl::StatusCode fail_ = absl::StatusCode::kOk;
  int calls_ = 0;
};

const case_v1::ParticipantView* ViewOf(const case_v1::CaseView& view,
                                       const std::string& id) {
  for (const case_v1::ParticipantView& p : view.participants()) {
    if (p.participant_id() == id) return &p;
  }
  return nullptr;
}

TEST(CaseViewTest, ManagersAndAllocatedFacilitatorsSeePersonalData) {
  AT_STAGE(s, case_v1::PREPARING);
  for (const Caller& caller :
       {Caller{"m1", Role::kManager}, Caller{"f1", Role::kFacilitator}}) {
    SCOPED_TRACE(caller.subject);
    FakeKeys keys;
    EXPECT_THAT(CanRead(s.state(), caller), IsOk());
    EXPECT_TRUE(MaySeePersonalData(s.state(), caller));
    absl::StatusOr<case_v1::CaseView> view = BuildCaseView(s.state(), caller, keys.fn());
    ASSERT_THAT(view, IsOk());
    EXPECT_EQ(view->offence_summary(), "an assault outside a pub");
    const case_v1::ParticipantView* victim = ViewOf(*view, "v1");
    ASSERT_NE(victim, nullptr);
    EXPECT_FALSE(victim->redacted());
    EXPECT_FALSE(victim->erased());
    EXPECT_EQ(victim->role(), case_v1::VICTIM);
    EXPECT_TRUE(MessageDifferencer::Equals(victim->details(), DetailsOf("v1")));
    EXPECT_TRUE(MessageDifferencer::Equals(victim->needs(), NeedsOf("v1")));
    EXPECT_EQ(keys.calls(), 5);  // summary + details and needs of two people
  }
}

TEST(CaseViewTest, CaseFieldsAreCopied) {
  AT_STAGE(s, case_v1::PAUSED, /*sensitive=*/true);
  FakeKeys keys;
  absl::StatusOr<case_v1::CaseView> view =
      BuildCaseView(s.state(), Caller{"a1", Role::kAuditor}, keys.fn());
  ASSERT_THAT(view, IsOk());
  EXPECT_EQ(view->case_id(), kCaseId);
  EXPECT_EQ(view->reference(), "RJ-2026-000123");
  EXPECT_EQ(view->version(), s.state().version);
  EXPECT_EQ(view->stage(), case_v1::PAUSED);
  EXPECT_EQ(view->stage_before_pause(), case_v1::ASSESSING);
  EXPECT_EQ(view->source(), case_v1::PROBATION_OFFICER);
  EXPECT_EQ(view->referral_date(), "2026-01-15");
  EXPECT_EQ(view->offence_category(), case_v1::DOMESTIC_ABUSE);
  EXPECT_TRUE(view->sensitive());
  EXPECT_THAT(view->facilitator_ids(), ElementsAre("f1"));
  EXPECT_FALSE(view->acknowledged());
  EXPECT_TRUE(view->suitability_recorded());
  EXPECT_TRUE(view->suitable());
  const case_v1::RiskAssessmentView& ra = view->current_risk_assessment();
  EXPECT_EQ(ra.assessment_id(), "r1");
  EXPECT_EQ(ra.assessor_id(), "m1");
  EXPECT_EQ(ra.level(), case_v1::MEDIUM);
  EXPECT_THAT(ra.allowed_kinds(),
              ElementsAre(common_v1::APPROACH_VICTIM, common_v1::LETTER_DELIVERY));
  EXPECT_TRUE(ra.requires_approval());
  EXPECT_FALSE(ra.approved());
  EXPECT_EQ(ra.position(), s.state().current_risk_assessment()->position);
  EXPECT_EQ(view->updated_unix_micros(), s.state().updated_unix_micros);
  EXPECT_EQ(view->closure_reason(), case_v1::CLOSURE_REASON_UNSPECIFIED);
  EXPECT_EQ(view->closed_unix_micros(), 0);
}

TEST(CaseViewTest, AuditorsAndServicesGetRedactedViewsWithoutUnsealing) {
  AT_STAGE(s, case_v1::PREPARING);
  for (const Caller& caller :
       {Caller{"a1", Role::kAuditor}, Caller{"consent", Role::kService}}) {
    SCOPED_TRACE(caller.subject);
    FakeKeys keys;
    EXPECT_THAT(CanRead(s.state(), caller), IsOk());
    EXPECT_FALSE(MaySeePersonalData(s.state(), caller));
    absl::StatusOr<case_v1::CaseView> view = BuildCaseView(s.state(), caller, keys.fn());
    ASSERT_THAT(view, IsOk());
    EXPECT_EQ(keys.calls(), 0);
    EXPECT_EQ(view->offence_summary(), "");
    ASSERT_EQ(view->participants_size(), 2);
    for (const case_v1::ParticipantView& p : view->participants()) {
      EXPECT_TRUE(p.redacted());
      EXPECT_FALSE(p.erased());
      EXPECT_FALSE(p.has_details());
      EXPECT_FALSE(p.has_needs());
      EXPECT_NE(p.role(), case_v1::PARTICIPANT_ROLE_UNSPECIFIED);
    }
    // Nothing of the victim's details anywhere in the serialized view.
    const std::string bytes = view->SerializeAsString();
    EXPECT_EQ(bytes.find("0700 v1"), std::string::npos);
    EXPECT_EQ(bytes.find("Full Name"), std::string::npos);
  }
}

TEST(CaseViewTest, OtherFacilitatorsMayNotRead) {
  AT_STAGE(s, case_v1::PREPARING);
  FakeKeys keys;
  const Caller other{"f9", Role::kFacilitator};
  EXPECT_THAT(CanRead(s.state(), other),
              StatusIs(absl::StatusCode::kPermissionDenied, HasSubstr("\"f9\"")));
  EXPECT_FALSE(MaySeePersonalData(s.state(), other));
  EXPECT_THAT(BuildCaseView(s.state(), other, keys.fn()),
              StatusIs(absl::StatusCode::kPermissionDenied));
  EXPECT_EQ(keys.calls(), 0);
  EXPECT_THAT(CanRead(CaseState{}, Caller{"m1", Role::kManager}),
              StatusIs(absl::StatusCode::kNotFound));
  EXPECT_THAT(BuildCaseView(CaseState{}, Caller{"m1", Role::kManager}, keys.fn()),
              StatusIs(absl::StatusCode::kNotFound));
}

TEST(CaseViewTest, ErasedParticipantsShowNoDetails) {
  AT_STAGE(s, case_v1::CLOSED);
  APPLY(s, DecideEraseParticipant(s.state(), ErasureRequest("v1"), Manager()));
  FakeKeys keys;
  keys.Erase("v1");  // the handler deleted the key
  for (const Caller& caller :
       {Caller{"m1", Role::kManager}, Caller{"a1", Role::kAuditor}}) {
    SCOPED_TRACE(caller.subject);
    absl::StatusOr<case_v1::CaseView> view = BuildCaseView(s.state(), caller, keys.fn());
    ASSERT_THAT(view, IsOk());
    const case_v1::ParticipantView* victim = ViewOf(*view, "v1");
    ASSERT_NE(victim, nullptr);
    EXPECT_TRUE(victim->erased());
    EXPECT_FALSE(victim->has_details());
    EXPECT_FALSE(victim->has_needs());
    EXPECT_FALSE(ViewOf(*view, "su1")->erased());
  }
  // The manager still sees the service user.
  absl::StatusOr<case_v1::CaseView> view =
      BuildCaseView(s.state(), Caller{"m1", Role::kManager}, keys.fn());
  ASSERT_THAT(view, IsOk());
  EXPECT_EQ(ViewOf(*view, "su1")->details().full_name(), "Full Name su1");
}

TEST(CaseViewTest, KeyGoneMeansErasedEvenBeforeTheEvent) {
  // A crash between key deletion and the event, or a key erased elsewhere.
  AT_STAGE(s, case_v1::PREPARING);
  FakeKeys keys;
  keys.Erase("v1");
  absl::StatusOr<case_v1::CaseView> view =
      BuildCaseView(s.state(), Caller{"f1", Role::kFacilitator}, keys.fn());
  ASSERT_THAT(view, IsOk());
  EXPECT_TRUE(ViewOf(*view, "v1")->erased());
  EXPECT_FALSE(ViewOf(*view, "v1")->has_details());
  EXPECT_FALSE(ViewOf(*view, "su1")->erased());
}

TEST(CaseViewTest, ErasedServiceUserTakesTheOffenceSummary) {
  AT_STAGE(s, case_v1::CLOSED);
  APPLY(s, DecideEraseParticipant(s.state(), ErasureRequest("su1"), Manager()));
  FakeKeys keys;
  keys.Erase("su1");
  absl::StatusOr<case_v1::CaseView> view =
      BuildCaseView(s.state(), Caller{"m1", Role::kManager}, keys.fn());
  ASSERT_THAT(view, IsOk());
  EXPECT_EQ(view->offence_summary(), "");
  EXPECT_TRUE(ViewOf(*view, "su1")->erased());
  EXPECT_EQ(ViewOf(*view, "v1")->details().full_name(), "Full Name v1");
}

TEST(CaseViewTest, UnsealFailuresFailTheView) {
  AT_STAGE(s, case_v1::PREPARING);
  FakeKeys down;
  down.FailWith(absl::StatusCode::kUnavailable);
  EXPECT_THAT(BuildCaseView(s.state(), Caller{"m1", Role::kManager}, down.fn()),
              StatusIs(absl::StatusCode::kUnavailable));

  // Details that open but are not a PersonalDetails message.
  AT_STAGE(bad, case_v1::REFERRED);
  case_v1::Participant garbage = Person("cv1", case_v1::CO_VICTIM);
  *garbage.mutable_details() = Seal("cv1", kSealedParticipantDetails, "\x0a\xff");
  APPLY(bad, DecideAddParticipant(bad.state(), {kCaseId, garbage}, Manager()));
  FakeKeys keys;
  EXPECT_THAT(BuildCaseView(bad.state(), Caller{"m1", Role::kManager}, keys.fn()),
              StatusIs(absl::StatusCode::kDataLoss, HasSubstr("\"cv1\"")));

  // A field sealed under another field name does not open (the fake checks
  // the name bound into the ciphertext, as AES-GCM's associated data does).
  AT_STAGE(swapped, case_v1::REFERRED);
  case_v1::Participant mixed = Person("cv1", case_v1::CO_VICTIM);
  *mixed.mutable_needs() = Seal("cv1", kSealedParticipantDetails, "");
  APPLY(swapped, DecideAddParticipant(swapped.state(), {kCaseId, mixed}, Manager()));
  EXPECT_THAT(BuildCaseView(swapped.state(), Caller{"m1", Role::kManager}, keys.fn()),
              StatusIs(absl::StatusCode::kDataLoss));
}

}  // namespace
}  // namespace mend::casesvc
