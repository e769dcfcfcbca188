// The rule tables: stage by command, role by command, the stage machine.
#include "services/case/case_domain_test_support.h"

namespace mend::casesvc::test {
namespace {

using ::mend::testing::IsOkAndHolds;

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
      {case_v1::FOUND_UNSUITABLE,     "FFOOFOFFOF"},
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
                       HasSubstr("a paused case accepts only ResumeCase, CloseCase, "
                                 "AddParticipant and LinkParticipant")));
  AT_STAGE(unsuitable, case_v1::FOUND_UNSUITABLE);
  EXPECT_THAT(
      DecideRecordRiskAssessment(unsuitable.state(), Assessment("r9"), Manager()),
      StatusIs(absl::StatusCode::kFailedPrecondition,
               HasSubstr("a case found unsuitable accepts only RecordSuitability")));
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

// A facilitator not allocated to a case and a facilitator naming a case
// that does not exist get the same answer, code and message, from every
// command (before, the second was NOT_FOUND).
TEST(RuleTableTest, UnallocatedAndUnknownCasesGetTheSameAnswer) {
  AT_STAGE(existing, case_v1::ASSESSING, /*sensitive=*/true);
  std::vector<TableCommand> commands = StageTableCommands();
  commands.push_back(
      {"ApproveRiskAssessment", [](const CaseState& s, const CommandContext& c) {
         return DecideApproveRiskAssessment(s, {kCaseId, "r1"}, c);
       }});
  commands.push_back(
      {"EraseParticipant (retention)", [](const CaseState& s, const CommandContext& c) {
         return DecideEraseParticipant(s, RetentionErasure("v1"), c);
       }});
  const CaseState none;
  for (const TableCommand& command : commands) {
    SCOPED_TRACE(command.name);
    const Decision on_existing = command.run(existing.state(), OtherFacilitator());
    const Decision on_unknown = command.run(none, OtherFacilitator());
    EXPECT_THAT(on_unknown, StatusIs(absl::StatusCode::kPermissionDenied));
    EXPECT_EQ(on_unknown.status(), on_existing.status());
    // The allocated facilitator of some other case learns nothing either.
    const Decision f1_unknown = command.run(none, Facilitator());
    EXPECT_THAT(f1_unknown, StatusIs(absl::StatusCode::kPermissionDenied));
  }
  EXPECT_THAT(DecideRecordSuitability(none, {kCaseId, true, {}}, OtherFacilitator()),
              StatusIs(absl::StatusCode::kPermissionDenied,
                       HasSubstr("RecordSuitability: facilitator \"f9\" is not "
                                 "allocated to case \"c1\"")));
  // A manager is told the case does not exist.
  EXPECT_THAT(DecideRecordSuitability(none, {kCaseId, true, {}}, Manager()),
              StatusIs(absl::StatusCode::kNotFound));
  // A facilitator may still refer a case.
  EXPECT_THAT(DecideReferCase(none, Referral(), OtherFacilitator()), IsOk());
}

TEST(StageMachineTest, OpenStages) {
  for (int s = case_v1::Stage_MIN; s <= case_v1::Stage_MAX; ++s) {
    const auto stage = static_cast<case_v1::Stage>(s);
    const bool open = stage != case_v1::STAGE_UNSPECIFIED && stage != case_v1::PAUSED &&
                      stage != case_v1::CLOSED && stage != case_v1::FOUND_UNSUITABLE;
    EXPECT_EQ(IsOpenStage(stage), open) << StageName(stage);
  }
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
      {case_v1::FOUND_UNSUITABLE, case_v1::SCREENING},
      {case_v1::FOUND_UNSUITABLE, case_v1::CLOSED},
  };
  for (int f = case_v1::Stage_MIN; f <= case_v1::Stage_MAX; ++f) {
    for (int t = case_v1::Stage_MIN; t <= case_v1::Stage_MAX; ++t) {
      const S from = static_cast<S>(f);
      const S to = static_cast<S>(t);
      bool expected = allowed_forward.count({from, to}) > 0;
      if (IsOpenStage(from) && (to == case_v1::PAUSED || to == case_v1::CLOSED ||
                                to == case_v1::FOUND_UNSUITABLE)) {
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

// The stages after PREPARING follow the other services' logs
// (case_decide.h, "Derived stages").
TEST(DerivedStageTest, ProgrammeBookingsConferenceAndFollowUpMoveTheCase) {
  AT_STAGE(s, case_v1::PREPARING);
  const CommandContext svc = Ctx(Role::kService, "case");
  APPLY(s, DecideUpstreamFact(s.state(), ProgrammeCompletedAt(kCaseId, 40), svc));
  EXPECT_THAT(Types(s.last()), ElementsAre("UpstreamFactRecorded", "StageChanged"));
  EXPECT_EQ(s.state().stage, case_v1::INDIRECT_CONTACT);
  APPLY(s, DecideUpstreamFact(s.state(), ConferenceBookedAt(kCaseId, 41, "b1"), svc));
  EXPECT_EQ(s.state().stage, case_v1::CONFERENCE_SCHEDULED);
  // A session's cancellation is nothing to the case; the conference's is.
  APPLY(s,
        DecideUpstreamFact(s.state(), BookingCancelledAt(kCaseId, 42, "session-3"), svc));
  EXPECT_THAT(s.last(), IsEmpty());
  APPLY(s, DecideUpstreamFact(s.state(), BookingCancelledAt(kCaseId, 43, "b1"), svc));
  EXPECT_EQ(s.state().stage, case_v1::INDIRECT_CONTACT);
  APPLY(s, DecideUpstreamFact(s.state(), ConferenceBookedAt(kCaseId, 44, "b2"), svc));
  APPLY(s, DecideUpstreamFact(s.state(), ConferenceHeldAt(kCaseId, 20, "b2"), svc));
  EXPECT_EQ(s.state().stage, case_v1::CONFERENCE_HELD);
  APPLY(s, DecideUpstreamFact(s.state(), FollowUpCompletedAt(kCaseId, 21), svc));
  EXPECT_EQ(s.state().stage, case_v1::FOLLOW_UP);
  EXPECT_THAT(s.Replay(), IsOkAndHolds(s.state()));
}

TEST(DerivedStageTest, AConferenceHeldBeforeItsBookingIsFoldedMovesThroughScheduled) {
  // The case's conference follower may run ahead of its scheduling follower.
  AT_STAGE(s, case_v1::PREPARING);
  const CommandContext svc = Ctx(Role::kService, "case");
  APPLY(s, DecideUpstreamFact(s.state(), ConferenceHeldAt(kCaseId, 30, "b1"), svc));
  EXPECT_THAT(Types(s.last()),
              ElementsAre("UpstreamFactRecorded", "StageChanged", "StageChanged"));
  EXPECT_EQ(s.state().stage, case_v1::CONFERENCE_HELD);
  // The booking, folded late, opens nothing again.
  APPLY(s, DecideUpstreamFact(s.state(), ConferenceBookedAt(kCaseId, 50, "b1"), svc));
  EXPECT_THAT(Types(s.last()), ElementsAre("UpstreamFactRecorded"));
  EXPECT_TRUE(s.state().open_conference_bookings.empty());
  EXPECT_EQ(s.state().stage, case_v1::CONFERENCE_HELD);
}

TEST(DerivedStageTest, AConferenceNotHeldReturnsTheCaseToIndirectContact) {
  AT_STAGE(s, case_v1::CONFERENCE_SCHEDULED);
  APPLY(s, DecideUpstreamFact(s.state(), ConferenceNotHeldAt(kCaseId, 12, "b1"),
                              Ctx(Role::kService, "case")));
  EXPECT_EQ(s.state().stage, case_v1::INDIRECT_CONTACT);
}

TEST(DerivedStageTest, APausedCaseKeepsTheFactAndMovesOnResume) {
  AT_STAGE(s, case_v1::PREPARING);
  const CommandContext svc = Ctx(Role::kService, "case");
  APPLY(s, DecidePauseCase(s.state(), {kCaseId, "victim unwell"}, Facilitator()));
  APPLY(s, DecideUpstreamFact(s.state(), ProgrammeCompletedAt(kCaseId, 40), svc));
  EXPECT_THAT(Types(s.last()), ElementsAre("UpstreamFactRecorded"));
  EXPECT_EQ(s.state().stage, case_v1::PAUSED);
  APPLY(s, DecideResumeCase(s.state(), {kCaseId}, Facilitator()));
  EXPECT_EQ(s.state().stage, case_v1::INDIRECT_CONTACT);
}

TEST(DerivedStageTest, AnAssessingCaseMovesOnceItIsPrepared) {
  AT_STAGE(s, case_v1::ASSESSING);
  APPLY(s, DecideUpstreamFact(s.state(), ProgrammeCompletedAt(kCaseId, 40),
                              Ctx(Role::kService, "case")));
  EXPECT_EQ(s.state().stage, case_v1::ASSESSING);
  APPLY(s, DecideRecordAcknowledgement(s.state(), {kCaseId, true, {}}, Manager()));
  EXPECT_EQ(s.state().stage, case_v1::INDIRECT_CONTACT);
}

TEST(DerivedStageTest, NothingIsKeptForAClosedOrUnknownCaseOrARepeatedPosition) {
  const CommandContext svc = Ctx(Role::kService, "case");
  AT_STAGE(closed, case_v1::CLOSED);
  EXPECT_THAT(DecideUpstreamFact(closed.state(), ProgrammeCompletedAt(kCaseId, 40), svc),
              IsOkAndHolds(IsEmpty()));
  EXPECT_THAT(DecideUpstreamFact(CaseState{}, ProgrammeCompletedAt(kCaseId, 40), svc),
              IsOkAndHolds(IsEmpty()));
  AT_STAGE(s, case_v1::PREPARING);
  APPLY(s, DecideUpstreamFact(s.state(), ConferenceBookedAt(kCaseId, 40, "b1"), svc));
  EXPECT_THAT(DecideUpstreamFact(s.state(), ProgrammeCompletedAt(kCaseId, 40), svc),
              IsOkAndHolds(IsEmpty()));
  // The conference log's positions are its own.
  EXPECT_THAT(DecideUpstreamFact(s.state(), ConferenceHeldAt(kCaseId, 40, "b1"), svc),
              IsOkAndHolds(Not(IsEmpty())));
}

TEST(DerivedStageTest, NothingMovesACaseFoundUnsuitableTowardsContact) {
  AT_STAGE(s, case_v1::FOUND_UNSUITABLE);
  const CommandContext svc = Ctx(Role::kService, "case");
  APPLY(s, DecideUpstreamFact(s.state(), ConferenceBookedAt(kCaseId, 40, "b1"), svc));
  APPLY(s, DecideUpstreamFact(s.state(), ProgrammeCompletedAt(kCaseId, 41), svc));
  EXPECT_EQ(s.state().stage, case_v1::FOUND_UNSUITABLE);
}

TEST(DerivedStageTest, EvolveRefusesAFactOfNoSourceOrAnOldPosition) {
  AT_STAGE(s, case_v1::INDIRECT_CONTACT);
  CaseState state = s.state();
  DomainEvent old{ProgrammeCompletedAt(kCaseId, 7), 99, 0};
  EXPECT_THAT(Evolve(state, old), StatusIs(absl::StatusCode::kDataLoss,
                                           HasSubstr("not after the last one folded")));
  DomainEvent nowhere{UpstreamFactAt(kCaseId, consent_v1::CASE_LOG, 100), 99, 0};
  EXPECT_THAT(Evolve(state, nowhere), StatusIs(absl::StatusCode::kDataLoss));
}

}  // namespace
}  // namespace mend::casesvc::test
