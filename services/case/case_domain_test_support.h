// Fixtures of the case domain's tests: commands with fake sealed data, and
// Scenario, which plays a store (positions, recorded times, replay). Shared by
// the case_*_test.cc files of the case_domain_test binary.
#ifndef MEND_SERVICES_CASE_CASE_DOMAIN_TEST_SUPPORT_H_
#define MEND_SERVICES_CASE_CASE_DOMAIN_TEST_SUPPORT_H_

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

namespace mend::casesvc::test {

using ::google::protobuf::util::MessageDifferencer;
using ::mend::testing::IsOk;
using ::mend::testing::StatusIs;
using ::testing::ElementsAre;
using ::testing::HasSubstr;
using ::testing::IsEmpty;
using ::testing::Not;

using Decision = absl::StatusOr<std::vector<DomainEvent>>;

inline constexpr char kCaseId[] = "c1";
// 2026-02-01T00:00:00Z: after the fixtures' referral date, and before their
// review dates are two years ahead.
inline constexpr int64_t kCommandEpochMicros = 1'769'904'000'000'000;
inline constexpr int64_t kStoreEpochMicros = 1'800'000'000'000'000;

inline CommandContext Ctx(Role role, std::string actor) {
  return CommandContext{std::move(actor), role,
                        absl::FromUnixMicros(kCommandEpochMicros)};
}
inline CommandContext Manager() { return Ctx(Role::kManager, "m1"); }
inline CommandContext Facilitator() {
  return Ctx(Role::kFacilitator, "f1");
}  // allocated
inline CommandContext OtherFacilitator() { return Ctx(Role::kFacilitator, "f9"); }
inline CommandContext Auditor() { return Ctx(Role::kAuditor, "a1"); }
inline CommandContext Service() { return Ctx(Role::kService, "consent"); }

// The fake ciphertext: "ct|<field>|<plaintext>". FakeUnseal checks the field.
inline common_v1::Sealed Seal(const std::string& person, std::string_view field,
                              const std::string& plaintext) {
  common_v1::Sealed sealed;
  sealed.set_person_id(person);
  sealed.set_ciphertext(absl::StrCat("ct|", std::string(field), "|", plaintext));
  return sealed;
}

inline case_v1::PersonalDetails DetailsOf(const std::string& id) {
  case_v1::PersonalDetails d;
  d.set_full_name(absl::StrCat("Full Name ", id));
  d.set_phone(absl::StrCat("0700 ", id));
  return d;
}

inline case_v1::Needs NeedsOf(const std::string& id) {
  case_v1::Needs n;
  n.set_language(id == "v1" ? "pl" : "en");
  n.set_mental_health_support(id == "v1");
  return n;
}

inline case_v1::Participant Person(const std::string& id, case_v1::ParticipantRole role,
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

inline ReferCaseCommand Referral(case_v1::OffenceCategory category = case_v1::VIOLENCE,
                                 const std::string& case_id = kCaseId) {
  ReferCaseCommand c;
  c.case_id = case_id;
  c.reference = "RJ-2026-000123";
  c.source = case_v1::PROBATION_OFFICER;
  c.referral_date = "2026-01-15";
  c.offence_category = category;
  c.offence_summary = Seal("su1", kSealedOffenceSummary, "an assault outside a pub");
  c.participants = {Person("su1", case_v1::SERVICE_USER), Person("v1", case_v1::VICTIM)};
  return c;
}

inline RecordRiskAssessmentCommand Assessment(const std::string& id,
                                              const std::string& case_id = kCaseId) {
  RecordRiskAssessmentCommand c;
  c.case_id = case_id;
  c.assessment_id = id;
  c.level = case_v1::MEDIUM;
  c.allowed_kinds = {common_v1::APPROACH_VICTIM, common_v1::LETTER_DELIVERY};
  c.review_date = "2026-03-01";
  c.notes = Seal("su1", kSealedRiskAssessmentNotes, "calm, remorseful");
  return c;
}

// Erasure of `participant` on a person's own request (manager only).
inline EraseParticipantCommand ErasureRequest(const std::string& participant,
                                              const std::string& case_id = kCaseId) {
  return {case_id, participant, case_v1::ERASURE_REQUEST, "request ref ER-17"};
}

// Erasure of `participant` because the retention period has run.
inline EraseParticipantCommand RetentionErasure(
    const std::string& participant, absl::Duration period = kDefaultRetentionPeriod) {
  return {kCaseId, participant, case_v1::RETENTION_PERIOD_ELAPSED, "retention rule R7",
          period};
}

// `ctx` at `when`.
inline CommandContext At(CommandContext ctx, absl::Time when) {
  ctx.now = when;
  return ctx;
}

// Short type names of events, e.g. {"CaseReferred", "StageChanged"}.
inline std::vector<std::string> Types(const std::vector<DomainEvent>& events) {
  std::vector<std::string> types;
  for (const DomainEvent& e : events)
    types.push_back(e.message().GetDescriptor()->name());
  return types;
}

template <typename T>
inline const T& Get(const std::vector<DomainEvent>& events, size_t i) {
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

// Upstream facts of case `id` at `position` of the scheduling or conference
// log, as the case service's followers make them (case_upstream.h).
inline case_v1::UpstreamFactRecorded UpstreamFactAt(const std::string& id,
                                                    consent_v1::FactSource source,
                                                    uint64_t position) {
  case_v1::UpstreamFactRecorded f;
  f.set_case_id(id);
  f.set_source(source);
  f.set_position(position);
  return f;
}
inline case_v1::UpstreamFactRecorded ProgrammeCompletedAt(const std::string& id,
                                                          uint64_t position) {
  case_v1::UpstreamFactRecorded f =
      UpstreamFactAt(id, consent_v1::SCHEDULING_LOG, position);
  f.set_programme_completed("programme-1");
  return f;
}
inline case_v1::UpstreamFactRecorded ConferenceBookedAt(const std::string& id,
                                                        uint64_t position,
                                                        const std::string& booking) {
  case_v1::UpstreamFactRecorded f =
      UpstreamFactAt(id, consent_v1::SCHEDULING_LOG, position);
  f.set_conference_booked(booking);
  return f;
}
inline case_v1::UpstreamFactRecorded BookingCancelledAt(const std::string& id,
                                                        uint64_t position,
                                                        const std::string& booking) {
  case_v1::UpstreamFactRecorded f =
      UpstreamFactAt(id, consent_v1::SCHEDULING_LOG, position);
  f.set_conference_booking_cancelled(booking);
  return f;
}
inline case_v1::UpstreamFactRecorded ConferenceHeldAt(const std::string& id,
                                                      uint64_t position,
                                                      const std::string& booking) {
  case_v1::UpstreamFactRecorded f =
      UpstreamFactAt(id, consent_v1::CONFERENCE_LOG, position);
  f.set_conference_held(booking);
  return f;
}
inline case_v1::UpstreamFactRecorded ConferenceNotHeldAt(const std::string& id,
                                                         uint64_t position,
                                                         const std::string& booking) {
  case_v1::UpstreamFactRecorded f =
      UpstreamFactAt(id, consent_v1::CONFERENCE_LOG, position);
  f.set_conference_not_held(booking);
  return f;
}
inline case_v1::UpstreamFactRecorded FollowUpCompletedAt(const std::string& id,
                                                         uint64_t position) {
  case_v1::UpstreamFactRecorded f =
      UpstreamFactAt(id, consent_v1::CONFERENCE_LOG, position);
  f.set_follow_up_completed(true);
  return f;
}

// A case walked (by a manager) to `stage`:
//   REFERRED   referred (service user su1, victim v1)
//   SCREENING  + found suitable
//   ALLOCATED  + facilitator f1
//   ASSESSING  + risk assessment r1 (not approved)
//   PREPARING  + acknowledged (+ r1 approved if sensitive)
//   INDIRECT_CONTACT / CONFERENCE_* / FOLLOW_UP  + the upstream facts that derive them
//   PAUSED     ASSESSING + paused;  CLOSED  ASSESSING + closed
//   FOUND_UNSUITABLE  PREPARING + found unsuitable (RISK_TOO_HIGH)
inline absl::StatusOr<Scenario> AtStage(case_v1::Stage stage, bool sensitive = false,
                                        const std::string& id = kCaseId) {
#define FIXTURE_STEP(decided) \
  if (absl::Status st = s.Apply(decided); !st.ok()) return st
  Scenario s;
  const CommandContext m = Manager();
  FIXTURE_STEP(DecideReferCase(
      s.state(), Referral(sensitive ? case_v1::DOMESTIC_ABUSE : case_v1::VIOLENCE, id),
      m));
  if (stage == case_v1::REFERRED) return s;
  FIXTURE_STEP(DecideRecordSuitability(s.state(), {id, true, {}}, m));
  if (stage == case_v1::SCREENING) return s;
  FIXTURE_STEP(DecideAllocateFacilitator(s.state(), {id, "f1"}, m));
  if (stage == case_v1::ALLOCATED) return s;
  FIXTURE_STEP(DecideRecordRiskAssessment(s.state(), Assessment("r1", id), m));
  if (stage == case_v1::ASSESSING) return s;
  if (stage == case_v1::PAUSED) {
    FIXTURE_STEP(DecidePauseCase(s.state(), {id, "victim in hospital"}, m));
    return s;
  }
  if (stage == case_v1::CLOSED) {
    FIXTURE_STEP(DecideCloseCase(s.state(), {id, case_v1::NO_CONTACT_POSSIBLE}, m));
    return s;
  }
  FIXTURE_STEP(DecideRecordAcknowledgement(s.state(), {id, true, {}}, m));
  if (sensitive) {
    FIXTURE_STEP(DecideApproveRiskAssessment(s.state(), {id, "r1"}, m));
  }
  if (s.state().stage != case_v1::PREPARING) {
    return absl::InternalError("fixture did not reach PREPARING");
  }
  if (stage == case_v1::FOUND_UNSUITABLE) {
    FIXTURE_STEP(
        DecideRecordSuitability(s.state(), {id, false, case_v1::RISK_TOO_HIGH}, m));
    return s;
  }
  std::vector<case_v1::UpstreamFactRecorded> facts;
  switch (stage) {
    case case_v1::PREPARING:
      break;
    case case_v1::INDIRECT_CONTACT:
      facts = {ProgrammeCompletedAt(id, 7)};
      break;
    case case_v1::CONFERENCE_SCHEDULED:
      facts = {ConferenceBookedAt(id, 9, "b1")};
      break;
    case case_v1::CONFERENCE_HELD:
      facts = {ConferenceBookedAt(id, 9, "b1"), ConferenceHeldAt(id, 4, "b1")};
      break;
    case case_v1::FOLLOW_UP:
      facts = {ConferenceBookedAt(id, 9, "b1"), ConferenceHeldAt(id, 4, "b1"),
               FollowUpCompletedAt(id, 5)};
      break;
    default:
      return absl::InternalError(absl::StrCat("no fixture for ", StageName(stage)));
  }
  for (const case_v1::UpstreamFactRecorded& fact : facts) {
    FIXTURE_STEP(DecideUpstreamFact(s.state(), fact, Ctx(Role::kService, "case")));
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
// Views.

// Opens the fake ciphertexts; NOT_FOUND for persons whose key is erased.
class FakeKeys {
 public:
  UnsealFn fn() {
    return [this](std::string_view key_id, const common_v1::Sealed& sealed,
                  std::string_view field) -> absl::StatusOr<std::string> {
      ++calls_;
      if (fail_ != absl::StatusCode::kOk) return absl::Status(fail_, "key store down");
      if (erased_.count(std::string(key_id)) > 0) {
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
  // Deletes participant `person`'s key in case `case_id`.
  void Erase(const std::string& person, const std::string& case_id = kCaseId) {
    erased_.insert(PersonKeyId(case_id, person));
  }
  void FailWith(absl::StatusCode code) { fail_ = code; }
  int calls() const { return calls_; }

 private:
  std::set<std::string> erased_;
  absl::StatusCode fail_ = absl::StatusCode::kOk;
  int calls_ = 0;
};

inline const case_v1::ParticipantView* ViewOf(const case_v1::CaseView& view,
                                              const std::string& id) {
  for (const case_v1::ParticipantView& p : view.participants()) {
    if (p.participant_id() == id) return &p;
  }
  return nullptr;
}

}  // namespace mend::casesvc::test

#endif  // MEND_SERVICES_CASE_CASE_DOMAIN_TEST_SUPPORT_H_
