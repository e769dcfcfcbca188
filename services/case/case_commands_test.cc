// The case commands from referral to screening (suitability).
#include "services/case/case_domain_test_support.h"

namespace mend::casesvc::test {
namespace {

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

TEST(ReferCaseTest, DatedTodayOrTomorrowIsAccepted) {
  for (const char* date : {"2026-02-01", "2026-02-02", "1999-07-01"}) {
    SCOPED_TRACE(date);
    ReferCaseCommand command = Referral();
    command.referral_date = date;
    EXPECT_THAT(DecideReferCase(CaseState{}, command, Manager()), IsOk());
  }
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
      {"not a real date", [](ReferCaseCommand& c) { c.referral_date = "2026-02-30"; },
       "referral_date: must be a real date"},
      // The command is on 2026-02-01 (UTC); a day's grace for time zones.
      {"dated 9999-12-31", [](ReferCaseCommand& c) { c.referral_date = "9999-12-31"; },
       "referral_date: is 9999-12-31, after 2026-02-02 (a referral is not dated in "
       "the future)"},
      {"dated the day after tomorrow",
       [](ReferCaseCommand& c) { c.referral_date = "2026-02-03"; }, "after 2026-02-02"},
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
      {"participant id with a '/' (it would make key ids ambiguous)",
       [](ReferCaseCommand& c) { c.participants[1].set_participant_id("v/1"); },
       "participants[1].participant_id: must be an id"},
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
      {"an id with a space", Person("c v", case_v1::CO_VICTIM),
       absl::StatusCode::kInvalidArgument, "participant_id: must be an id"},
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
  EXPECT_THAT(CanRead(kCaseId, s.state(), Caller{"f1", Role::kFacilitator}),
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

  // An unsuitable finding shows in the stage. (Before FOUND_UNSUITABLE
  // existed this asserted that the stage stayed PREPARING: the bug D2.)
  AT_STAGE(later, case_v1::PREPARING);
  APPLY(later, DecideRecordSuitability(
                   later.state(), {kCaseId, false, case_v1::SERVICE_USER_NOT_ENGAGING},
                   Facilitator()));
  ASSERT_THAT(Types(later.last()), ElementsAre("SuitabilityRecorded", "StageChanged"));
  EXPECT_EQ(Get<case_v1::SuitabilityRecorded>(later.last(), 0).reason(),
            case_v1::SERVICE_USER_NOT_ENGAGING);
  EXPECT_EQ(Get<case_v1::StageChanged>(later.last(), 1).from(), case_v1::PREPARING);
  EXPECT_EQ(Get<case_v1::StageChanged>(later.last(), 1).to(), case_v1::FOUND_UNSUITABLE);
  EXPECT_EQ(later.state().stage, case_v1::FOUND_UNSUITABLE);
  EXPECT_EQ(later.state().suitable, std::optional<bool>(false));
  EXPECT_EQ(later.state().unsuitable_reason, case_v1::SERVICE_USER_NOT_ENGAGING);
  EXPECT_TRUE(later.state().reassessment_required);
  EXPECT_FALSE(later.state().ReadyForPreparation());
}

TEST(RecordSuitabilityTest, UnsuitableFromEveryOpenStageIsFoundUnsuitable) {
  for (case_v1::Stage stage :
       {case_v1::REFERRED, case_v1::SCREENING, case_v1::ALLOCATED, case_v1::ASSESSING,
        case_v1::PREPARING, case_v1::INDIRECT_CONTACT, case_v1::CONFERENCE_SCHEDULED,
        case_v1::CONFERENCE_HELD, case_v1::FOLLOW_UP}) {
    SCOPED_TRACE(StageName(stage));
    AT_STAGE(s, stage);
    APPLY(s, DecideRecordSuitability(s.state(), {kCaseId, false, case_v1::RISK_TOO_HIGH},
                                     Manager()));
    // A first finding in REFERRED passes through SCREENING.
    std::vector<std::string> expected = {"SuitabilityRecorded", "StageChanged"};
    if (stage == case_v1::REFERRED) expected.push_back("StageChanged");
    EXPECT_EQ(Types(s.last()), expected);
    const auto& last = Get<case_v1::StageChanged>(s.last(), s.last().size() - 1);
    EXPECT_EQ(last.from(), stage == case_v1::REFERRED ? case_v1::SCREENING : stage);
    EXPECT_EQ(last.to(), case_v1::FOUND_UNSUITABLE);
    EXPECT_EQ(s.state().stage, case_v1::FOUND_UNSUITABLE);
    EXPECT_FALSE(IsOpenStage(s.state().stage));
  }
}

TEST(RecordSuitabilityTest, AnotherUnsuitableFindingRecordsTheNewReasonOnly) {
  AT_STAGE(s, case_v1::FOUND_UNSUITABLE);
  APPLY(s,
        DecideRecordSuitability(
            s.state(), {kCaseId, false, case_v1::NO_RESPONSIBILITY_ACCEPTED}, Manager()));
  EXPECT_THAT(Types(s.last()), ElementsAre("SuitabilityRecorded"));
  EXPECT_EQ(s.state().stage, case_v1::FOUND_UNSUITABLE);
  EXPECT_EQ(s.state().unsuitable_reason, case_v1::NO_RESPONSIBILITY_ACCEPTED);
}

TEST(RecordSuitabilityTest, ReScreeningNeedsANewRiskAssessmentBeforePreparing) {
  AT_STAGE(s, case_v1::FOUND_UNSUITABLE);  // found unsuitable in PREPARING
  APPLY(s, DecideRecordSuitability(s.state(), {kCaseId, true, {}}, Facilitator()));
  // Back to SCREENING, then on: the facilitator is still allocated and there
  // is an assessment, but it predates the finding.
  ASSERT_THAT(Types(s.last()), ElementsAre("SuitabilityRecorded", "StageChanged",
                                           "StageChanged", "StageChanged"));
  EXPECT_EQ(Get<case_v1::StageChanged>(s.last(), 1).from(), case_v1::FOUND_UNSUITABLE);
  EXPECT_EQ(Get<case_v1::StageChanged>(s.last(), 1).to(), case_v1::SCREENING);
  EXPECT_EQ(Get<case_v1::StageChanged>(s.last(), 2).to(), case_v1::ALLOCATED);
  EXPECT_EQ(Get<case_v1::StageChanged>(s.last(), 3).to(), case_v1::ASSESSING);
  EXPECT_EQ(s.state().stage, case_v1::ASSESSING);
  EXPECT_TRUE(s.state().HasCountingRiskAssessment());
  EXPECT_FALSE(s.state().ReadyForPreparation());
  // Acknowledging again does not carry it to PREPARING either.
  APPLY(s, DecideRecordAcknowledgement(s.state(), {kCaseId, true, {}}, Facilitator()));
  EXPECT_THAT(Types(s.last()), ElementsAre("AcknowledgementRecorded"));
  // A fresh assessment does.
  APPLY(s, DecideRecordRiskAssessment(s.state(), Assessment("r2"), Facilitator()));
  EXPECT_THAT(Types(s.last()), ElementsAre("RiskAssessmentRecorded", "StageChanged"));
  EXPECT_EQ(s.state().stage, case_v1::PREPARING);
  EXPECT_FALSE(s.state().reassessment_required);

  // Found unsuitable before any facilitator: re-screening stops at SCREENING.
  AT_STAGE(early, case_v1::REFERRED);
  APPLY(early, DecideRecordSuitability(
                   early.state(), {kCaseId, false, case_v1::RISK_TOO_HIGH}, Manager()));
  APPLY(early, DecideRecordSuitability(early.state(), {kCaseId, true, {}}, Manager()));
  EXPECT_THAT(Types(early.last()), ElementsAre("SuitabilityRecorded", "StageChanged"));
  EXPECT_EQ(early.state().stage, case_v1::SCREENING);
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

}  // namespace
}  // namespace mend::casesvc::test
