// Domain tests of the consent service's commands and reads: RecordConsent,
// WithdrawConsent and CheckCanRead on facts folded from a consent stream
// (fixtures: consent_domain_test_fixtures.h).
#include "services/consent/consent_decide.h"

#include <cstdint>
#include <map>
#include <optional>
#include <string>
#include <utility>
#include <vector>

#include "absl/status/status.h"
#include "absl/strings/str_cat.h"
#include "gmock/gmock.h"
#include "gtest/gtest.h"
#include "services/consent/consent_domain_test_fixtures.h"
#include "services/consent/consent_state.h"
#include "tests/support/test_util.h"

namespace mend::consentsvc {
namespace {

using namespace ::mend::consentsvc::domain_testing;  // NOLINT: the fixtures

// ===========================================================================
// DecideRecordConsent / DecideWithdrawConsent.

class ConsentDecideTest : public ::testing::Test {
 protected:
  void SetUp() override { positions_ = PrepareCase(s_, case_v1::VIOLENCE); }

  ConsentStream s_;
  CasePositions positions_;
};

TEST_F(ConsentDecideTest, RecordConsentRecordsExactlyWhatWasSaid) {
  RecordConsentCommand command =
      Consent("v1", consent_v1::FACE_TO_FACE, consent_v1::GIVEN, true, "k-77");
  command.informed = Informed(consent_v1::LETTER);
  absl::StatusOr<consent_v1::ConsentRecorded> event =
      DecideRecordConsent(s_.facts(), command, Facilitator());
  ASSERT_THAT(event, IsOk());

  consent_v1::ConsentRecorded expected;
  expected.set_case_id(kCaseId);
  expected.set_consent_id("k-77");
  expected.set_participant_id("v1");
  expected.set_scope(consent_v1::FACE_TO_FACE);
  expected.set_answer(consent_v1::GIVEN);
  *expected.mutable_informed() = Informed(consent_v1::LETTER);
  expected.set_requested_by_participant(true);
  expected.set_recorded_by("f1");
  EXPECT_THAT(*event, EqualsProto(expected));
}

TEST_F(ConsentDecideTest, AnyParticipantAnyScopeByFacilitatorOrManager) {
  s_.Command("cmd-add", {Added("sp1", case_v1::SUPPORTER)});
  for (const CommandContext& ctx : {Facilitator(), Manager()}) {
    for (const char* person : {"v1", "su1"}) {
      for (consent_v1::ConsentScope scope : kSixScopes) {
        for (consent_v1::ConsentAnswer answer :
             {consent_v1::GIVEN, consent_v1::DECLINED}) {
          SCOPED_TRACE(absl::StrCat(ctx.actor_id, " ", person, " ",
                                    consent_v1::ConsentScope_Name(scope), " ",
                                    consent_v1::ConsentAnswer_Name(answer)));
          EXPECT_THAT(
              DecideRecordConsent(s_.facts(), Consent(person, scope, answer), ctx),
              IsOk());
        }
      }
    }
  }
}

// The case study's victim declined, then accepted a letter, then asked to meet.
TEST_F(ConsentDecideTest, DeclineThenGiveThenAskToMeet) {
  s_.AppendDecided(DecideRecordConsent(
      s_.facts(),
      Consent("v1", consent_v1::PARTICIPATE, consent_v1::DECLINED, false, "k1"),
      Facilitator()));
  EXPECT_EQ(s_.facts().CurrentConsent("v1", consent_v1::PARTICIPATE)->status,
            consent_v1::CONSENT_STATUS_DECLINED);

  s_.AppendDecided(DecideRecordConsent(
      s_.facts(), Consent("v1", consent_v1::PARTICIPATE, consent_v1::GIVEN, false, "k2"),
      Facilitator()));
  s_.AppendDecided(DecideRecordConsent(
      s_.facts(),
      Consent("v1", consent_v1::RECEIVE_LETTER, consent_v1::GIVEN, false, "k3"),
      Facilitator()));
  s_.AppendDecided(DecideRecordConsent(
      s_.facts(), Consent("v1", consent_v1::FACE_TO_FACE, consent_v1::GIVEN, true, "k4"),
      Facilitator()));

  EXPECT_THAT(
      History(s_.facts(), "v1", consent_v1::PARTICIPATE),
      ElementsAre(consent_v1::CONSENT_STATUS_DECLINED, consent_v1::CONSENT_STATUS_GIVEN));
  EXPECT_EQ(s_.facts().CurrentConsent("v1", consent_v1::RECEIVE_LETTER)->status,
            consent_v1::CONSENT_STATUS_GIVEN);
  const ConsentEntryFacts* meet =
      s_.facts().CurrentConsent("v1", consent_v1::FACE_TO_FACE);
  ASSERT_THAT(meet, NotNull());
  EXPECT_EQ(meet->status, consent_v1::CONSENT_STATUS_GIVEN);
  EXPECT_TRUE(meet->requested_by_participant);
  EXPECT_EQ(meet->consent_id, "k4");

  // And the other way round: a consent may be followed by a decline.
  s_.AppendDecided(DecideRecordConsent(
      s_.facts(),
      Consent("v1", consent_v1::FACE_TO_FACE, consent_v1::DECLINED, false, "k5"),
      Facilitator()));
  EXPECT_EQ(s_.facts().CurrentConsent("v1", consent_v1::FACE_TO_FACE)->status,
            consent_v1::CONSENT_STATUS_DECLINED);
}

TEST_F(ConsentDecideTest, WithdrawOneScope) {
  absl::StatusOr<consent_v1::ConsentWithdrawn> event = DecideWithdrawConsent(
      s_.facts(), Withdrawal("v1", consent_v1::SHUTTLE), Facilitator());
  ASSERT_THAT(event, IsOk());
  consent_v1::ConsentWithdrawn expected;
  expected.set_case_id(kCaseId);
  expected.set_participant_id("v1");
  expected.add_scopes(consent_v1::SHUTTLE);
  expected.set_all_scopes(false);
  *expected.mutable_informed() = Informed(consent_v1::PHONE);
  expected.set_recorded_by("f1");
  EXPECT_THAT(*event, EqualsProto(expected));
}

TEST_F(ConsentDecideTest, WithdrawAllListsTheSixScopesInEnumOrder) {
  // Whatever the current answers: one given, one declined, the rest never.
  s_.AppendDecided(DecideRecordConsent(
      s_.facts(), Consent("su1", consent_v1::PARTICIPATE, consent_v1::GIVEN),
      Facilitator()));
  s_.AppendDecided(DecideRecordConsent(
      s_.facts(), Consent("su1", consent_v1::VIDEO, consent_v1::DECLINED),
      Facilitator()));
  absl::StatusOr<consent_v1::ConsentWithdrawn> event =
      DecideWithdrawConsent(s_.facts(), WithdrawAll("su1"), Manager());
  ASSERT_THAT(event, IsOk());
  EXPECT_TRUE(event->all_scopes());
  EXPECT_THAT(event->scopes(),
              ElementsAre(consent_v1::PARTICIPATE, consent_v1::RECEIVE_LETTER,
                          consent_v1::SHUTTLE, consent_v1::VIDEO,
                          consent_v1::FACE_TO_FACE, consent_v1::SHARE_INFORMATION));
  EXPECT_EQ(event->recorded_by(), "m1");

  const uint64_t position = s_.AppendDecided(event);
  for (consent_v1::ConsentScope scope : kSixScopes) {
    EXPECT_EQ(s_.facts().CurrentConsent("su1", scope)->ref(),
              (FactRef{consent_v1::CONSENT_LOG, position, kConsentWithdrawnType}));
  }
}

TEST_F(ConsentDecideTest, AuditorsAndServicesRecordNothing) {
  for (const CommandContext& ctx : {Auditor(), Service()}) {
    SCOPED_TRACE(std::string(RoleName(ctx.role)));
    EXPECT_THAT(
        DecideRecordConsent(
            s_.facts(), Consent("v1", consent_v1::PARTICIPATE, consent_v1::GIVEN), ctx),
        StatusIs(absl::StatusCode::kPermissionDenied));
    EXPECT_THAT(DecideWithdrawConsent(s_.facts(), WithdrawAll("v1"), ctx),
                StatusIs(absl::StatusCode::kPermissionDenied));
    // The role is checked first: an unknown case tells them nothing.
    EXPECT_THAT(
        DecideRecordConsent(
            CaseFacts{}, Consent("v1", consent_v1::PARTICIPATE, consent_v1::GIVEN), ctx),
        StatusIs(absl::StatusCode::kPermissionDenied));
  }
}

TEST_F(ConsentDecideTest, AFacilitatorNotAllocatedIsRefused) {
  const auto refused = StatusIs(absl::StatusCode::kPermissionDenied, HasSubstr("\"f9\""));
  EXPECT_THAT(DecideRecordConsent(
                  s_.facts(), Consent("v1", consent_v1::PARTICIPATE, consent_v1::GIVEN),
                  OtherFacilitator()),
              refused);
  EXPECT_THAT(DecideWithdrawConsent(s_.facts(), WithdrawAll("v1"), OtherFacilitator()),
              refused);
  // Nor one whose allocation ended; a manager is never allocated and may.
  s_.Command("cmd-release", {Released("f1")});
  EXPECT_THAT(DecideRecordConsent(
                  s_.facts(), Consent("v1", consent_v1::PARTICIPATE, consent_v1::GIVEN),
                  Facilitator()),
              StatusIs(absl::StatusCode::kPermissionDenied));
  EXPECT_THAT(DecideRecordConsent(
                  s_.facts(), Consent("v1", consent_v1::PARTICIPATE, consent_v1::GIVEN),
                  Manager()),
              IsOk());
}

TEST(ConsentDecideUnknownCaseTest, ACaseNeverObservedIsNotFoundAndSaysPassACausalToken) {
  ConsentStream s;  // nothing observed
  // (A facilitator is never allocated to a case never observed: see
  // AnUnallocatedFacilitatorHearsTheSameForAnyCase.)
  for (const CommandContext& ctx : {Manager()}) {
    const absl::Status record =
        DecideRecordConsent(
            s.facts(), Consent("v1", consent_v1::PARTICIPATE, consent_v1::GIVEN), ctx)
            .status();
    EXPECT_THAT(record, StatusIs(absl::StatusCode::kNotFound,
                                 HasSubstr("may not have caught up")));
    EXPECT_THAT(record, StatusIs(absl::StatusCode::kNotFound, HasSubstr("causal token")));
    EXPECT_THAT(record, StatusIs(absl::StatusCode::kNotFound, HasSubstr("\"c1\"")));
    const absl::Status withdraw =
        DecideWithdrawConsent(s.facts(), WithdrawAll("v1"), ctx).status();
    EXPECT_THAT(withdraw, StatusIs(absl::StatusCode::kNotFound,
                                   HasSubstr("may not have caught up")));
    EXPECT_THAT(withdraw,
                StatusIs(absl::StatusCode::kNotFound, HasSubstr("causal token")));
  }
}

// I5: a facilitator not allocated to a case hears exactly the same about it
// whether it exists or not, from every command and read.
TEST_F(ConsentDecideTest, AnUnallocatedFacilitatorHearsTheSameForAnyCase) {
  const ConsentStream never_observed;
  const std::string want = "facilitator \"f9\" is not allocated to case \"c1\"";
  for (const CaseFacts* facts : {&s_.facts(), &never_observed.facts()}) {
    SCOPED_TRACE(facts->case_known() ? "observed" : "never observed");
    const absl::Status record =
        DecideRecordConsent(*facts,
                            Consent("v1", consent_v1::PARTICIPATE, consent_v1::GIVEN),
                            OtherFacilitator())
            .status();
    EXPECT_THAT(record, StatusIs(absl::StatusCode::kPermissionDenied));
    EXPECT_EQ(record.message(), want);
    const absl::Status withdraw =
        DecideWithdrawConsent(*facts, WithdrawAll("v1"), OtherFacilitator()).status();
    EXPECT_THAT(withdraw, StatusIs(absl::StatusCode::kPermissionDenied));
    EXPECT_EQ(withdraw.message(), want);
    const absl::Status read = CheckCanRead(*facts, kCaseId, OtherFacilitator());
    EXPECT_THAT(read, StatusIs(absl::StatusCode::kPermissionDenied));
    EXPECT_EQ(read.message(), want);
  }
}

TEST_F(ConsentDecideTest, AnUnknownParticipantIsNotFoundAndSaysPassACausalToken) {
  const absl::Status record =
      DecideRecordConsent(s_.facts(),
                          Consent("v2", consent_v1::PARTICIPATE, consent_v1::GIVEN),
                          Facilitator())
          .status();
  EXPECT_THAT(record, StatusIs(absl::StatusCode::kNotFound, HasSubstr("\"v2\"")));
  EXPECT_THAT(record,
              StatusIs(absl::StatusCode::kNotFound, HasSubstr("may not have caught up")));
  EXPECT_THAT(record, StatusIs(absl::StatusCode::kNotFound, HasSubstr("causal token")));
  EXPECT_THAT(DecideWithdrawConsent(s_.facts(), WithdrawAll("v2"), Manager()),
              StatusIs(absl::StatusCode::kNotFound, HasSubstr("causal token")));

  // Once the case event that added them is observed, it is accepted.
  s_.Command("cmd-add", {Added("v2", case_v1::CO_VICTIM)});
  EXPECT_THAT(DecideRecordConsent(
                  s_.facts(), Consent("v2", consent_v1::PARTICIPATE, consent_v1::GIVEN),
                  Facilitator()),
              IsOk());
}

TEST_F(ConsentDecideTest, AClosedCaseRefusesAndNamesTheStage) {
  s_.Command("cmd-close", {Closed(), Stage(case_v1::PREPARING, case_v1::CLOSED)});
  EXPECT_THAT(DecideRecordConsent(
                  s_.facts(), Consent("v1", consent_v1::PARTICIPATE, consent_v1::GIVEN),
                  Manager()),
              StatusIs(absl::StatusCode::kFailedPrecondition, HasSubstr("CLOSED")));
  EXPECT_THAT(DecideWithdrawConsent(s_.facts(), WithdrawAll("v1"), Facilitator()),
              StatusIs(absl::StatusCode::kFailedPrecondition, HasSubstr("CLOSED")));
  // An erased participant of a closed case: still refused.
  s_.Command("cmd-erase", {Erased("v1")});
  EXPECT_THAT(DecideWithdrawConsent(s_.facts(), WithdrawAll("v1"), Manager()),
              StatusIs(absl::StatusCode::kFailedPrecondition));
}

TEST_F(ConsentDecideTest, AnErasedParticipantIsRefused) {
  // The case service erases only in CLOSED cases, where CLOSED answers first;
  // to see the erasure rule on its own this log erases in an open case (the
  // case domain's Evolve does not enforce the stage).
  s_.Command("cmd-erase", {Erased("v1")});
  ASSERT_EQ(s_.facts().case_state.stage, case_v1::PREPARING);
  EXPECT_THAT(DecideRecordConsent(
                  s_.facts(), Consent("v1", consent_v1::PARTICIPATE, consent_v1::GIVEN),
                  Manager()),
              StatusIs(absl::StatusCode::kFailedPrecondition, HasSubstr("erased")));
  EXPECT_THAT(DecideWithdrawConsent(s_.facts(), Withdrawal("v1", consent_v1::VIDEO),
                                    Facilitator()),
              StatusIs(absl::StatusCode::kFailedPrecondition, HasSubstr("erased")));
  // The others still answer.
  EXPECT_THAT(DecideRecordConsent(
                  s_.facts(), Consent("su1", consent_v1::PARTICIPATE, consent_v1::GIVEN),
                  Manager()),
              IsOk());
}

TEST_F(ConsentDecideTest, APausedCaseStillRecordsConsentsAndWithdrawals) {
  s_.Command("cmd-pause", {Paused(), Stage(case_v1::PREPARING, case_v1::PAUSED)});
  EXPECT_THAT(DecideRecordConsent(
                  s_.facts(), Consent("v1", consent_v1::PARTICIPATE, consent_v1::GIVEN),
                  Facilitator()),
              IsOk());
  EXPECT_THAT(DecideWithdrawConsent(s_.facts(), WithdrawAll("v1"), Facilitator()),
              IsOk());
}

TEST_F(ConsentDecideTest, CommandForAnotherCaseIsAnInternalError) {
  RecordConsentCommand record = Consent("v1", consent_v1::PARTICIPATE, consent_v1::GIVEN);
  record.case_id = "c2";
  EXPECT_THAT(DecideRecordConsent(s_.facts(), record, Manager()),
              StatusIs(absl::StatusCode::kInternal));
  WithdrawConsentCommand withdraw = WithdrawAll("v1");
  withdraw.case_id = "c2";
  EXPECT_THAT(DecideWithdrawConsent(s_.facts(), withdraw, Manager()),
              StatusIs(absl::StatusCode::kInternal));
}

// Validation should have caught these; decide still refuses to make a
// malformed event of them.
TEST_F(ConsentDecideTest, MalformedCommandsAreInvalid) {
  std::vector<RecordConsentCommand> records(
      7, Consent("v1", consent_v1::VIDEO, consent_v1::GIVEN));
  records[0].case_id.clear();
  records[1].consent_id.clear();
  records[2].participant_id.clear();
  records[3].scope = consent_v1::CONSENT_SCOPE_UNSPECIFIED;
  records[4].scope = static_cast<consent_v1::ConsentScope>(42);
  records[5].answer = consent_v1::CONSENT_ANSWER_UNSPECIFIED;
  records[6].answer = consent_v1::DECLINED;
  records[6].requested_by_participant = true;
  for (size_t i = 0; i < records.size(); ++i) {
    EXPECT_THAT(DecideRecordConsent(s_.facts(), records[i], Manager()),
                StatusIs(absl::StatusCode::kInvalidArgument))
        << "record " << i;
  }

  std::vector<WithdrawConsentCommand> withdrawals(5, Withdrawal("v1", consent_v1::VIDEO));
  withdrawals[0].case_id.clear();
  withdrawals[1].participant_id.clear();
  withdrawals[2].scope = consent_v1::CONSENT_SCOPE_UNSPECIFIED;  // and not all
  withdrawals[3].all_scopes = true;                              // and a scope
  withdrawals[4].scope = static_cast<consent_v1::ConsentScope>(-1);
  for (size_t i = 0; i < withdrawals.size(); ++i) {
    EXPECT_THAT(DecideWithdrawConsent(s_.facts(), withdrawals[i], Manager()),
                StatusIs(absl::StatusCode::kInvalidArgument))
        << "withdrawal " << i;
  }
}

TEST_F(ConsentDecideTest, DecisionsArePure) {
  const RecordConsentCommand command =
      Consent("v1", consent_v1::VIDEO, consent_v1::GIVEN, true);
  absl::StatusOr<consent_v1::ConsentRecorded> a =
      DecideRecordConsent(s_.facts(), command, Facilitator());
  absl::StatusOr<consent_v1::ConsentRecorded> b =
      DecideRecordConsent(s_.facts(), command, Facilitator());
  ASSERT_THAT(a, IsOk());
  ASSERT_THAT(b, IsOk());
  EXPECT_EQ(a->SerializeAsString(), b->SerializeAsString());
  EXPECT_EQ(s_.facts().version, 10u);  // deciding appended nothing
}

// ===========================================================================
// CheckCanRead.

TEST_F(ConsentDecideTest, WhoMayRead) {
  EXPECT_THAT(CheckCanRead(s_.facts(), kCaseId, Manager()), IsOk());
  EXPECT_THAT(CheckCanRead(s_.facts(), kCaseId, Auditor()), IsOk());
  EXPECT_THAT(CheckCanRead(s_.facts(), kCaseId, Service()), IsOk());
  EXPECT_THAT(CheckCanRead(s_.facts(), kCaseId, Facilitator()), IsOk());
  EXPECT_THAT(CheckCanRead(s_.facts(), kCaseId, OtherFacilitator()),
              StatusIs(absl::StatusCode::kPermissionDenied, HasSubstr("\"f9\"")));

  s_.Command("cmd-release", {Released("f1")});
  EXPECT_THAT(CheckCanRead(s_.facts(), kCaseId, Facilitator()),
              StatusIs(absl::StatusCode::kPermissionDenied));
}

TEST(ConsentCheckCanReadTest, UnknownCase) {
  const CaseFacts none;
  EXPECT_THAT(CheckCanRead(none, kCaseId, Manager()), IsOk());
  EXPECT_THAT(CheckCanRead(none, kCaseId, Auditor()), IsOk());
  EXPECT_THAT(CheckCanRead(none, kCaseId, Service()), IsOk());
  EXPECT_THAT(CheckCanRead(none, kCaseId, Facilitator()),
              StatusIs(absl::StatusCode::kPermissionDenied));
}

}  // namespace
}  // namespace mend::consentsvc
