// Fixtures of the consent domain tests (consent_domain_test.cc: folding;
// consent_decide_test.cc: the consent commands and reads). ConsentStream
// plays the consent log: it wraps case events as CaseEventObserved (at
// case-log positions, in the case command that recorded them), gives every
// event a consent-log position and stream version, folds it and keeps the
// stored form for replay. Test-only.
#ifndef MEND_SERVICES_CONSENT_CONSENT_DOMAIN_TEST_FIXTURES_H_
#define MEND_SERVICES_CONSENT_CONSENT_DOMAIN_TEST_FIXTURES_H_

#include <cstdint>
#include <map>
#include <optional>
#include <string>
#include <utility>
#include <vector>

#include "absl/status/status.h"
#include "absl/strings/str_cat.h"
#include "gmock/gmock.h"
#include "google/protobuf/util/message_differencer.h"
#include "gtest/gtest.h"
#include "services/consent/case_projection.h"
#include "services/consent/consent_decide.h"
#include "services/consent/consent_state.h"
#include "tests/support/test_util.h"

namespace mend::consentsvc::domain_testing {

using ::google::protobuf::util::MessageDifferencer;
using ::mend::testing::IsOk;
using ::mend::testing::StatusIs;
using ::testing::ElementsAre;
using ::testing::HasSubstr;
using ::testing::IsNull;
using ::testing::NotNull;
using ::testing::Optional;
using ::testing::SizeIs;

constexpr char kCaseId[] = "c1";
constexpr int64_t kCaseEpochMicros = 1'700'000'000'000'000;
constexpr int64_t kConsentEpochMicros = 1'800'000'000'000'000;

MATCHER_P(EqualsProto, expected, "equals the expected message") {
  std::string diff;
  MessageDifferencer differencer;
  differencer.ReportDifferencesToString(&diff);
  if (differencer.Compare(expected, arg)) return true;
  *result_listener << diff;
  return false;
}

inline CommandContext Manager() { return {"m1", Role::kManager}; }
inline CommandContext Facilitator() { return {"f1", Role::kFacilitator}; }  // allocated
inline CommandContext OtherFacilitator() { return {"f9", Role::kFacilitator}; }
inline CommandContext Auditor() { return {"a1", Role::kAuditor}; }
inline CommandContext Service() { return {"conference", Role::kService}; }

template <typename T>
std::string TypeOf() {
  return T::descriptor()->full_name();
}

inline FactRef CaseRef(uint64_t position, const std::string& type) {
  return {consent_v1::CASE_LOG, position, type};
}

// ---------------------------------------------------------------------------
// Case events, as the case service records them (sealed fields left empty:
// the consent log never holds them).

inline case_v1::Participant Person(const std::string& id, case_v1::ParticipantRole role) {
  case_v1::Participant p;
  p.set_participant_id(id);
  p.set_role(role);
  return p;
}

inline case_v1::CaseReferred Referred(case_v1::OffenceCategory category) {
  case_v1::CaseReferred e;
  e.set_case_id(kCaseId);
  e.set_reference("RJ-2026-000123");
  e.set_source(case_v1::PROBATION_OFFICER);
  e.set_referral_date("2026-01-15");
  e.set_offence_category(category);
  e.set_sensitive(IsSensitiveCategory(category));
  *e.add_participants() = Person("su1", case_v1::SERVICE_USER);
  *e.add_participants() = Person("v1", case_v1::VICTIM);
  e.set_referred_by("m1");
  return e;
}

inline case_v1::ParticipantAdded Added(const std::string& id,
                                       case_v1::ParticipantRole role) {
  case_v1::ParticipantAdded e;
  e.set_case_id(kCaseId);
  *e.mutable_participant() = Person(id, role);
  return e;
}

inline case_v1::StageChanged Stage(case_v1::Stage from, case_v1::Stage to) {
  case_v1::StageChanged e;
  e.set_case_id(kCaseId);
  e.set_from(from);
  e.set_to(to);
  return e;
}

inline case_v1::AcknowledgementRecorded Acknowledgement(bool acknowledged) {
  case_v1::AcknowledgementRecorded e;
  e.set_case_id(kCaseId);
  e.set_acknowledged(acknowledged);
  e.set_recorded_by("m1");
  return e;
}

inline case_v1::SuitabilityRecorded Suitable() {
  case_v1::SuitabilityRecorded e;
  e.set_case_id(kCaseId);
  e.set_suitable(true);
  e.set_recorded_by("m1");
  return e;
}

inline case_v1::FacilitatorAllocated Allocated(const std::string& facilitator) {
  case_v1::FacilitatorAllocated e;
  e.set_case_id(kCaseId);
  e.set_facilitator_id(facilitator);
  e.set_allocated_by("m1");
  return e;
}

inline case_v1::FacilitatorReleased Released(const std::string& facilitator) {
  case_v1::FacilitatorReleased e;
  e.set_case_id(kCaseId);
  e.set_facilitator_id(facilitator);
  e.set_released_by("m1");
  return e;
}

inline case_v1::RiskAssessmentRecorded Assessment(const std::string& id,
                                                  bool requires_approval,
                                                  const std::string& supersedes = "") {
  case_v1::RiskAssessmentRecorded e;
  e.set_case_id(kCaseId);
  e.set_assessment_id(id);
  e.set_assessor_id("f1");
  e.set_level(case_v1::MEDIUM);
  e.add_allowed_kinds(common_v1::APPROACH_VICTIM);
  e.add_allowed_kinds(common_v1::LETTER_DELIVERY);
  e.set_review_date("2026-03-01");
  e.set_requires_approval(requires_approval);
  e.set_supersedes_assessment_id(supersedes);
  return e;
}

inline case_v1::RiskAssessmentApproved Approval(const std::string& id) {
  case_v1::RiskAssessmentApproved e;
  e.set_case_id(kCaseId);
  e.set_assessment_id(id);
  e.set_approved_by("m1");
  return e;
}

inline case_v1::CasePaused Paused() {
  case_v1::CasePaused e;
  e.set_case_id(kCaseId);
  e.set_reason("victim in hospital");
  e.set_paused_by("m1");
  return e;
}

inline case_v1::CaseResumed Resumed() {
  case_v1::CaseResumed e;
  e.set_case_id(kCaseId);
  e.set_resumed_by("m1");
  return e;
}

inline case_v1::CaseClosed Closed() {
  case_v1::CaseClosed e;
  e.set_case_id(kCaseId);
  e.set_reason(case_v1::WITHDRAWN_BY_VICTIM);
  e.set_closed_by("m1");
  return e;
}

inline case_v1::ParticipantErased Erased(const std::string& participant) {
  case_v1::ParticipantErased e;
  e.set_case_id(kCaseId);
  e.set_participant_id(participant);
  e.set_requested_by("m1");
  e.set_basis(case_v1::ERASURE_REQUEST);
  e.set_reason("request ref ER-17");
  return e;
}

// ---------------------------------------------------------------------------
// Consent events and commands.

inline consent_v1::HowInformed Informed(
    consent_v1::InformedChannel channel = consent_v1::IN_PERSON) {
  consent_v1::HowInformed informed;
  informed.set_leaflet_version("RJ-leaflet-2026-03");
  informed.set_facilitator_present(channel == consent_v1::IN_PERSON);
  informed.set_channel(channel);
  return informed;
}

inline RecordConsentCommand Consent(const std::string& participant,
                                    consent_v1::ConsentScope scope,
                                    consent_v1::ConsentAnswer answer,
                                    bool requested = false,
                                    const std::string& consent_id = "k1") {
  RecordConsentCommand c;
  c.case_id = kCaseId;
  c.consent_id = consent_id;
  c.participant_id = participant;
  c.scope = scope;
  c.answer = answer;
  c.informed = Informed();
  c.requested_by_participant = requested;
  return c;
}

inline WithdrawConsentCommand Withdrawal(const std::string& participant,
                                         consent_v1::ConsentScope scope) {
  WithdrawConsentCommand c;
  c.case_id = kCaseId;
  c.participant_id = participant;
  c.scope = scope;
  c.informed = Informed(consent_v1::PHONE);
  return c;
}

inline WithdrawConsentCommand WithdrawAll(const std::string& participant) {
  WithdrawConsentCommand c =
      Withdrawal(participant, consent_v1::CONSENT_SCOPE_UNSPECIFIED);
  c.all_scopes = true;
  return c;
}

inline consent_v1::ContactDecisionMade Decision(const std::string& id,
                                                consent_v1::Outcome outcome) {
  consent_v1::ContactDecisionMade d;
  d.set_decision_id(id);
  d.set_case_id(kCaseId);
  d.set_kind(common_v1::APPROACH_VICTIM);
  d.set_outcome(outcome);
  d.set_victim_id("v1");
  d.set_service_user_id("su1");
  d.set_facilitator_id("f1");
  d.set_requested_by("f1");
  d.set_requested_by_role("facilitator");
  d.set_purpose("first approach");
  d.set_policy_version("contact-gate/1");
  return d;
}

// ---------------------------------------------------------------------------

// One event as the consent log stores it.
struct StoredEvent {
  uint64_t position = 0;
  uint64_t stream_version = 0;
  std::string event_type;
  std::string payload;
  int64_t recorded_unix_micros = 0;

  ConsentLogEvent view() const {
    return {position, stream_version, event_type, payload, recorded_unix_micros};
  }
};

// The consent log of case c1, with the case log beside it. Case positions
// advance by 3 and consent positions by 2 (other cases' events lie between),
// so a fact cited at the wrong log shows.
class ConsentStream {
 public:
  // Observes the events of one case command (same correlation id), in order;
  // returns the case-log position of each.
  std::vector<uint64_t> Command(const std::string& correlation,
                                const std::vector<CaseEvent>& events) {
    std::vector<uint64_t> positions;
    for (const CaseEvent& event : events) {
      case_position_ += 3;
      consent_v1::CaseEventObserved observed;
      observed.set_case_id(CaseEventCaseId(event));
      observed.set_case_position(case_position_);
      observed.set_case_event_type(CaseEventType(event));
      observed.set_case_event_id(absl::StrCat("ce-", case_position_));
      observed.set_case_correlation_id(correlation);
      observed.set_case_recorded_unix_micros(CaseMicros());
      observed.set_case_record_hash(std::string(32, static_cast<char>(case_position_)));
      observed.set_payload(CaseEventMessage(event).SerializeAsString());
      EXPECT_THAT(Append(kCaseEventObservedType, observed.SerializeAsString()), IsOk())
          << CaseEventType(event) << " at case position " << case_position_;
      positions.push_back(case_position_);
    }
    return positions;
  }

  // Moves the case from its current stage to `to`, in its own command.
  uint64_t ChangeStage(const std::string& correlation, case_v1::Stage to) {
    return Command(correlation, {Stage(facts_.case_state.stage, to)}).front();
  }

  // Appends a consent-log event at the next position and version and folds
  // it; kept for replay only if Evolve accepts it.
  absl::Status Append(const std::string& type, const std::string& payload) {
    return AppendAt(facts_.version + 1, type, payload);
  }

  absl::Status AppendAt(uint64_t stream_version, const std::string& type,
                        const std::string& payload) {
    consent_position_ += 2;
    StoredEvent stored{consent_position_, stream_version, type, payload,
                       kConsentEpochMicros + static_cast<int64_t>(consent_position_)};
    absl::Status status = Evolve(facts_, stored.view());
    if (status.ok()) stored_.push_back(std::move(stored));
    return status;
  }

  // Appends what a decide function returned; returns its consent position.
  template <typename Event>
  uint64_t AppendDecided(const absl::StatusOr<Event>& decided) {
    EXPECT_THAT(decided, IsOk());
    if (!decided.ok()) return 0;
    EXPECT_THAT(Append(TypeOf<Event>(), decided->SerializeAsString()), IsOk());
    return consent_position_;
  }

  // A fresh fold of everything stored.
  absl::StatusOr<CaseFacts> Replay() const {
    CaseFacts facts;
    for (const StoredEvent& e : stored_) {
      if (absl::Status s = Evolve(facts, e.view()); !s.ok()) return s;
    }
    return facts;
  }

  const CaseFacts& facts() const { return facts_; }
  uint64_t consent_position() const { return consent_position_; }
  uint64_t next_consent_position() const { return consent_position_ + 2; }

 private:
  int64_t CaseMicros() const {
    return kCaseEpochMicros + static_cast<int64_t>(case_position_);
  }

  CaseFacts facts_;
  std::vector<StoredEvent> stored_;
  uint64_t case_position_ = 7;
  uint64_t consent_position_ = 1000;
};

// The case study's path to preparation, command by command (the events each
// case command appends, in order).
struct CasePositions {
  uint64_t referral = 0;
  uint64_t acknowledgement = 0;
  uint64_t allocation = 0;
  uint64_t assessment = 0;
  uint64_t assessment_stage_change = 0;  // ALLOCATED → ASSESSING, same command
  uint64_t approval = 0;
  uint64_t last_stage_change = 0;
};

inline CasePositions PrepareCase(ConsentStream& s, case_v1::OffenceCategory category) {
  CasePositions p;
  const bool sensitive = IsSensitiveCategory(category);
  std::vector<uint64_t> at = s.Command(
      "cmd-refer",
      {Referred(category), Stage(case_v1::STAGE_UNSPECIFIED, case_v1::REFERRED)});
  p.referral = at[0];
  at = s.Command("cmd-ack",
                 {Acknowledgement(true), Stage(case_v1::REFERRED, case_v1::SCREENING)});
  p.acknowledgement = at[0];
  s.Command("cmd-suitable", {Suitable()});
  at = s.Command("cmd-allocate",
                 {Allocated("f1"), Stage(case_v1::SCREENING, case_v1::ALLOCATED)});
  p.allocation = at[0];
  if (sensitive) {
    at = s.Command("cmd-assess", {Assessment("ra1", true),
                                  Stage(case_v1::ALLOCATED, case_v1::ASSESSING)});
    p.assessment = at[0];
    p.assessment_stage_change = at[1];
    at = s.Command("cmd-approve",
                   {Approval("ra1"), Stage(case_v1::ASSESSING, case_v1::PREPARING)});
    p.approval = at[0];
    p.last_stage_change = at[1];
  } else {
    at = s.Command("cmd-assess", {Assessment("ra1", false),
                                  Stage(case_v1::ALLOCATED, case_v1::ASSESSING),
                                  Stage(case_v1::ASSESSING, case_v1::PREPARING)});
    p.assessment = at[0];
    p.assessment_stage_change = at[1];
    p.last_stage_change = at[2];
  }
  return p;
}

// Field by field: CaseFacts has no operator==.
inline void ExpectSameEntries(const std::vector<ConsentEntryFacts>& a,
                              const std::vector<ConsentEntryFacts>& b) {
  ASSERT_EQ(a.size(), b.size());
  for (size_t i = 0; i < a.size(); ++i) {
    SCOPED_TRACE(absl::StrCat("entry ", i));
    EXPECT_EQ(a[i].status, b[i].status);
    EXPECT_EQ(a[i].consent_id, b[i].consent_id);
    EXPECT_THAT(a[i].informed, EqualsProto(b[i].informed));
    EXPECT_EQ(a[i].requested_by_participant, b[i].requested_by_participant);
    EXPECT_EQ(a[i].recorded_by, b[i].recorded_by);
    EXPECT_EQ(a[i].recorded_unix_micros, b[i].recorded_unix_micros);
    EXPECT_EQ(a[i].position, b[i].position);
    EXPECT_EQ(a[i].event_type, b[i].event_type);
  }
}

inline void ExpectSameFacts(const CaseFacts& a, const CaseFacts& b) {
  EXPECT_EQ(a.case_id, b.case_id);
  EXPECT_EQ(a.version, b.version);
  EXPECT_TRUE(a.case_state == b.case_state);
  EXPECT_EQ(a.last_case_position, b.last_case_position);
  EXPECT_EQ(a.referral, b.referral);
  EXPECT_EQ(a.allocations, b.allocations);
  EXPECT_EQ(a.acknowledgement, b.acknowledgement);
  EXPECT_EQ(a.erasures, b.erasures);
  EXPECT_EQ(a.suitability, b.suitability);
  EXPECT_EQ(a.links, b.links);
  EXPECT_EQ(a.last_stage_change, b.last_stage_change);
  EXPECT_EQ(a.risk_assessment_recorded, b.risk_assessment_recorded);
  EXPECT_EQ(a.risk_assessment_approved, b.risk_assessment_approved);
  EXPECT_EQ(a.risk_assessment_lapsed_by, b.risk_assessment_lapsed_by);
  ASSERT_EQ(a.consents.size(), b.consents.size());
  for (const auto& [participant, scopes] : a.consents) {
    SCOPED_TRACE(participant);
    auto other = b.consents.find(participant);
    ASSERT_NE(other, b.consents.end());
    ASSERT_EQ(scopes.size(), other->second.size());
    for (const auto& [scope, entries] : scopes) {
      auto other_entries = other->second.find(scope);
      ASSERT_NE(other_entries, other->second.end());
      ExpectSameEntries(entries, other_entries->second);
    }
  }
  ASSERT_EQ(a.decisions.size(), b.decisions.size());
  for (size_t i = 0; i < a.decisions.size(); ++i) {
    EXPECT_THAT(a.decisions[i].decision, EqualsProto(b.decisions[i].decision));
    EXPECT_EQ(a.decisions[i].position, b.decisions[i].position);
    EXPECT_EQ(a.decisions[i].stream_version, b.decisions[i].stream_version);
    EXPECT_EQ(a.decisions[i].decided_unix_micros, b.decisions[i].decided_unix_micros);
  }
}

inline std::vector<consent_v1::ConsentStatus> History(const CaseFacts& facts,
                                                      const std::string& participant,
                                                      consent_v1::ConsentScope scope) {
  std::vector<consent_v1::ConsentStatus> statuses;
  auto p = facts.consents.find(participant);
  if (p == facts.consents.end()) return statuses;
  auto s = p->second.find(scope);
  if (s == p->second.end()) return statuses;
  for (const ConsentEntryFacts& e : s->second) statuses.push_back(e.status);
  return statuses;
}

constexpr consent_v1::ConsentScope kSixScopes[] = {
    consent_v1::PARTICIPATE, consent_v1::RECEIVE_LETTER, consent_v1::SHUTTLE,
    consent_v1::VIDEO,       consent_v1::FACE_TO_FACE,   consent_v1::SHARE_INFORMATION};

}  // namespace mend::consentsvc::domain_testing

#endif  // MEND_SERVICES_CONSENT_CONSENT_DOMAIN_TEST_FIXTURES_H_
