// Case events: parsing, serializing, Evolve's checks, replay.
#include "services/case/case_domain_test_support.h"

namespace mend::casesvc::test {
namespace {

// ---------------------------------------------------------------------------
// Events: parsing, serializing, Evolve's checks.

TEST(DomainEventTest, EveryEventTypeRoundTrips) {
  const std::vector<std::string> types = CaseEventTypes();
  ASSERT_EQ(types.size(), 15u);
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

// A record of the case log carrying `e`, in stream `stream_id`.
eventlog::RecordView RecordOf(const DomainEvent& e, const std::string& payload,
                              std::string_view stream_id) {
  eventlog::RecordView record;
  record.position = e.position;
  record.stream_id = stream_id;
  record.event_type = e.type();
  record.recorded_unix_micros = e.recorded_unix_micros;
  record.payload = payload;
  return record;
}

TEST(EvolveRecordTest, FoldsTheRecordsEventAsEvolveDoesAndReturnsIt) {
  Scenario s;
  APPLY(s, DecideReferCase(s.state(), Referral(), Manager()));
  CaseState state;
  for (const DomainEvent& e : s.last()) {
    const std::string payload = e.SerializePayload();
    const std::string stream = CaseStreamId(e.case_id());
    absl::StatusOr<DomainEvent> folded =
        EvolveRecord(state, e.position, RecordOf(e, payload, stream));
    ASSERT_THAT(folded, IsOk());
    EXPECT_EQ(folded->type(), e.type());
    EXPECT_EQ(folded->position, e.position);
    EXPECT_EQ(folded->recorded_unix_micros, e.recorded_unix_micros);
  }
  EXPECT_TRUE(state == s.state());
}

TEST(EvolveRecordTest, AnEventInAnotherCasesStreamIsDataLossAndChangesNothing) {
  Scenario s;
  APPLY(s, DecideReferCase(s.state(), Referral(), Manager()));
  const DomainEvent& referred = s.last().at(0);
  const std::string payload = referred.SerializePayload();
  CaseState state;
  EXPECT_THAT(EvolveRecord(state, 7, RecordOf(referred, payload, "case-other")),
              StatusIs(absl::StatusCode::kDataLoss,
                       HasSubstr("mend.case.v1.CaseReferred at position 7 of case \"c1\" "
                                 "is in stream \"case-other\"")));
  EXPECT_FALSE(state.exists());
}

TEST(EvolveRecordTest, WhatParseDomainEventAndEvolveRefuseIsRefused) {
  Scenario s;
  APPLY(s, DecideReferCase(s.state(), Referral(), Manager()));
  const DomainEvent& referred = s.last().at(0);
  const std::string stream = CaseStreamId(kCaseId);
  CaseState state;
  eventlog::RecordView unknown = RecordOf(referred, "", stream);
  unknown.event_type = "mend.case.v1.NoSuchEvent";
  EXPECT_THAT(EvolveRecord(state, 3, unknown),
              StatusIs(absl::StatusCode::kDataLoss, HasSubstr("position 3")));
  // A stage change before the referral: Evolve's refusal.
  const DomainEvent& stage = s.last().at(1);
  const std::string payload = stage.SerializePayload();
  EXPECT_THAT(EvolveRecord(state, 4, RecordOf(stage, payload, stream)),
              StatusIs(absl::StatusCode::kDataLoss, HasSubstr("has not been referred")));
  EXPECT_FALSE(state.exists());
}

// ---------------------------------------------------------------------------
// Replay.

TEST(ReplayTest, AnUnsuitableFindingAndReScreeningReplay) {
  AT_STAGE(s, case_v1::FOUND_UNSUITABLE);
  absl::StatusOr<CaseState> unsuitable = s.Replay();
  ASSERT_THAT(unsuitable, IsOk());
  EXPECT_TRUE(*unsuitable == s.state());
  EXPECT_TRUE(unsuitable->reassessment_required);
  APPLY(s, DecideRecordSuitability(s.state(), {kCaseId, true, {}}, Manager()));
  APPLY(s, DecideRecordRiskAssessment(s.state(), Assessment("r2"), Manager()));
  absl::StatusOr<CaseState> again = s.Replay();
  ASSERT_THAT(again, IsOk());
  EXPECT_TRUE(*again == s.state());
  EXPECT_EQ(again->stage, case_v1::PREPARING);
  EXPECT_FALSE(again->reassessment_required);
  CaseState changed = *again;
  changed.reassessment_required = true;
  EXPECT_FALSE(changed == s.state());
}

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
  APPLY(s, DecideUpstreamFact(s.state(), ProgrammeCompletedAt(kCaseId, 3), Service()));
  APPLY(s, DecideUpstreamFact(s.state(), FollowUpCompletedAt(kCaseId, 8), Service()));
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

}  // namespace
}  // namespace mend::casesvc::test
