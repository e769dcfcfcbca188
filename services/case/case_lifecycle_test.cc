// Pause, resume, close and erase.
#include "services/case/case_domain_test_support.h"

namespace mend::casesvc::test {
namespace {

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

}  // namespace
}  // namespace mend::casesvc::test
