// The generated corpus of contact_gate_corpus_test: random but reproducible
// consent streams (case events observed, consents, withdrawals, decisions)
// built step by step, so every rule version can be asked the same questions
// on the same facts.
#ifndef MEND_SERVICES_CONSENT_CONTACT_GATE_CORPUS_SCENARIO_H_
#define MEND_SERVICES_CONSENT_CONTACT_GATE_CORPUS_SCENARIO_H_

#include <cstdint>
#include <cstdlib>
#include <fstream>
#include <map>
#include <sstream>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

#include "absl/strings/str_cat.h"
#include "absl/time/time.h"
#include "common/base/command_context.h"
#include "common/base/sha256.h"
#include "gtest/gtest.h"
#include "mend/case/v1/events.pb.h"
#include "services/consent/consent_decide.h"
#include "services/consent/consent_state.h"
#include "services/consent/contact_rule.h"

namespace mend::consentsvc::corpus {

namespace case_v1 = ::mend::case_::v1;

constexpr int kScenarios = 80;
constexpr int kSteps = 36;
// The time contact-gate/2 is asked at: after the walk's early review date
// (2026-06-01), before its late one (2027-06-01).
const absl::Time kDecidedAt = absl::FromUnixSeconds(1'788'000'000);  // 2026-08-29

const common_v1::ContactKind kKinds[] = {
    common_v1::APPROACH_VICTIM, common_v1::LETTER_DELIVERY, common_v1::SHUTTLE_MESSAGE,
    common_v1::VIDEO_MEETING, common_v1::FACE_TO_FACE_CONFERENCE};

// SplitMix64: the same sequence on every platform (std distributions are not).
class Random {
 public:
  explicit Random(uint64_t seed) : state_(seed) {}
  uint64_t Next() {
    uint64_t z = (state_ += 0x9e3779b97f4a7c15ULL);
    z = (z ^ (z >> 30)) * 0xbf58476d1ce4e5b9ULL;
    z = (z ^ (z >> 27)) * 0x94d049bb133111ebULL;
    return z ^ (z >> 31);
  }
  int Below(int n) { return static_cast<int>(Next() % static_cast<uint64_t>(n)); }
  bool OneIn(int n) { return Below(n) == 0; }

 private:
  uint64_t state_;
};

// One consent stream under construction, with the generator's model of the
// case (so it writes only events that fit).
class Scenario {
 public:
  // `later_events`: also the events contact-gate/1's corpus never had.
  Scenario(int index, bool later_events)
      : random_(0x6d656e64ULL * 1000 + index),
        index_(index),
        later_events_(later_events) {
    case_id_ = absl::StrCat("c", index);
  }

  // Appends the events of one step (error() says if a fold failed).
  void Step() {
    if (stage_ == case_v1::STAGE_UNSPECIFIED) return Refer();
    // Most scenarios start from a case ready for contact, so the walk
    // spends its steps breaking (and mending) approvals.
    if (!prepared_ && index_ % 4 != 3) return Prepare();
    // (No draw at all without later events: /1's walk is as recorded.)
    if (later_events_ && random_.OneIn(6)) return Later();
    switch (random_.Below(16)) {
      case 0:
        return AddParticipant();
      case 1:
        return Allocate();
      case 2:
        return Release();
      case 3: {
        case_v1::AcknowledgementRecorded e;
        e.set_case_id(case_id_);
        e.set_acknowledged(!random_.OneIn(3));
        e.set_recorded_by("m1");
        return Observe(e);
      }
      case 4:
        return Assess();
      case 5:
        return Approve();
      case 6: {
        case_v1::SuitabilityRecorded e;
        e.set_case_id(case_id_);
        e.set_suitable(!random_.OneIn(3));
        if (!e.suitable()) e.set_reason(case_v1::RISK_TOO_HIGH);
        e.set_recorded_by("m1");
        return Observe(e);
      }
      case 7:
        return ChangeStage(static_cast<case_v1::Stage>(1 + random_.Below(12)));
      case 8:
        return PauseOrResume();
      case 9:
        if (random_.OneIn(3)) return Close();
        return ChangeStage(Forward());
      case 10:
        if (random_.OneIn(3)) return Erase();
        return Consent();
      case 11:
        return Withdraw();
      default:
        return Consent();
    }
  }

  const CaseFacts& facts() const { return facts_; }
  const std::string& case_id() const { return case_id_; }
  const std::vector<std::string>& participant_ids() const { return ids_; }
  bool failed() const { return !error_.ok(); }
  const absl::Status& error() const { return error_; }

 private:
  void Append(const std::string& type, const std::string& payload) {
    if (!error_.ok()) return;
    consent_position_ += 1 + static_cast<uint64_t>(random_.Below(3));
    error_ = Evolve(facts_, ConsentLogEvent{.position = consent_position_,
                                            .stream_version = facts_.version + 1,
                                            .event_type = type,
                                            .payload = payload,
                                            .recorded_unix_micros = Micros()});
  }

  template <typename Event>
  void Observe(const Event& event) {
    case_position_ += 1 + static_cast<uint64_t>(random_.Below(4));
    consent_v1::CaseEventObserved observed;
    observed.set_case_id(case_id_);
    observed.set_case_position(case_position_);
    observed.set_case_event_type(Event::descriptor()->full_name());
    observed.set_case_event_id(absl::StrCat("ce-", case_position_));
    observed.set_case_correlation_id(absl::StrCat("cmd-", case_position_));
    observed.set_case_recorded_unix_micros(Micros());
    observed.set_case_record_hash(std::string(32, 'h'));
    observed.set_payload(event.SerializeAsString());
    Append(kCaseEventObservedType, observed.SerializeAsString());
  }

  int64_t Micros() const {
    return 1'780'000'000'000'000 +
           static_cast<int64_t>(case_position_ * 1000 + consent_position_);
  }

  void Refer() {
    case_v1::CaseReferred e;
    e.set_case_id(case_id_);
    e.set_reference(absl::StrCat("RJ-2026-", 100000 + index_));
    e.set_source(case_v1::POLICE);
    e.set_referral_date("2026-01-15");
    const auto category = static_cast<case_v1::OffenceCategory>(1 + random_.Below(9));
    e.set_offence_category(category);
    const bool sensitive = category == case_v1::DOMESTIC_ABUSE ||
                           category == case_v1::SEXUAL_OFFENCE ||
                           category == case_v1::HATE_CRIME;
    // Now and then the recorded flag disagrees with the category.
    e.set_sensitive(random_.OneIn(10) ? !sensitive : sensitive);
    AddTo(e.add_participants(), "su1", case_v1::SERVICE_USER);
    AddTo(e.add_participants(), "v1", case_v1::VICTIM);
    if (random_.OneIn(4)) AddTo(e.add_participants(), "v2", case_v1::CO_VICTIM);
    e.set_referred_by("m1");
    Observe(e);
    ChangeStage(case_v1::REFERRED);
  }

  void Later() {
    switch (random_.Below(4)) {
      case 0: {
        case_v1::ParticipantLinked e;
        e.set_case_id(case_id_);
        e.set_participant_id(ids_[random_.Below(static_cast<int>(ids_.size()))]);
        e.mutable_other()->set_case_id(absl::StrCat("c", 1000 + random_.Below(5)));
        e.mutable_other()->set_participant_id(e.participant_id());
        e.set_linked_by("m1");
        return Observe(e);
      }
      case 1: {
        const std::string& id = ids_[random_.Below(static_cast<int>(ids_.size()))];
        if (erased_.count(id) > 0) return Consent();
        case_v1::ParticipantErased e;
        e.set_case_id(case_id_);
        e.set_participant_id(id);
        e.set_basis(case_v1::ERASURE_REQUEST);
        case_v1::PersonRef* other = e.add_linked();
        other->set_case_id("c1001");
        other->set_participant_id("p-linked");
        erased_[id] = true;
        return Observe(e);
      }
      case 2: {
        case_v1::SuitabilityRecorded e;
        e.set_case_id(case_id_);
        e.set_suitable(false);
        e.set_reason(case_v1::SERVICE_USER_NOT_ENGAGING);
        Observe(e);
        if (stage_ != case_v1::CLOSED && random_.OneIn(2)) {
          ChangeStage(case_v1::FOUND_UNSUITABLE);
        }
        return;
      }
      default: {
        if (stage_ != case_v1::FOUND_UNSUITABLE) return Consent();
        case_v1::SuitabilityRecorded e;
        e.set_case_id(case_id_);
        e.set_suitable(true);
        Observe(e);
        return ChangeStage(case_v1::SCREENING);
      }
    }
  }

  // Acknowledged, suitable, f1 allocated, an assessment allowing every
  // kind, PREPARING, and every consent the kinds need given by v1 and su1.
  void Prepare() {
    prepared_ = true;
    case_v1::AcknowledgementRecorded ack;
    ack.set_case_id(case_id_);
    ack.set_acknowledged(true);
    Observe(ack);
    case_v1::SuitabilityRecorded suitable;
    suitable.set_case_id(case_id_);
    suitable.set_suitable(true);
    Observe(suitable);
    ChangeStage(case_v1::SCREENING);
    case_v1::FacilitatorAllocated allocated;
    allocated.set_case_id(case_id_);
    allocated.set_facilitator_id("f1");
    allocated_.push_back("f1");
    Observe(allocated);
    ChangeStage(case_v1::ALLOCATED);
    case_v1::RiskAssessmentRecorded ra;
    ra.set_case_id(case_id_);
    ra.set_assessment_id(absl::StrCat("ra", ++next_id_));
    for (common_v1::ContactKind kind : kKinds) ra.add_allowed_kinds(kind);
    ra.set_review_date("2027-06-01");
    ra.set_requires_approval(random_.OneIn(2));
    assessments_.push_back(ra.assessment_id());
    Observe(ra);
    ChangeStage(case_v1::ASSESSING);
    if (ra.requires_approval() || random_.OneIn(2)) {
      case_v1::RiskAssessmentApproved approved;
      approved.set_case_id(case_id_);
      approved.set_assessment_id(ra.assessment_id());
      Observe(approved);
    }
    ChangeStage(case_v1::PREPARING);
    for (const char* who : {"v1", "su1"}) {
      for (int scope = 1; scope <= 5; ++scope) {
        consent_v1::ConsentRecorded e;
        e.set_case_id(case_id_);
        e.set_consent_id(absl::StrCat("k", ++next_id_));
        e.set_participant_id(who);
        e.set_scope(static_cast<consent_v1::ConsentScope>(scope));
        e.set_answer(consent_v1::GIVEN);
        e.set_requested_by_participant(scope >= 4);
        Append(kConsentRecordedType, e.SerializeAsString());
      }
    }
  }

  void AddTo(case_v1::Participant* p, const std::string& id,
             case_v1::ParticipantRole role) {
    p->set_participant_id(id);
    p->set_role(role);
    if (role == case_v1::SUPPORTER) p->set_supports_participant_id("v1");
    ids_.push_back(id);
  }

  void AddParticipant() {
    static const case_v1::ParticipantRole kRoles[] = {
        case_v1::CO_VICTIM, case_v1::SUPPORTER, case_v1::INTERPRETER, case_v1::VICTIM};
    case_v1::ParticipantAdded e;
    e.set_case_id(case_id_);
    AddTo(e.mutable_participant(), absl::StrCat("p", ++next_id_),
          kRoles[random_.Below(4)]);
    Observe(e);
  }

  void Allocate() {
    const std::string f = random_.OneIn(2) ? "f1" : "f2";
    for (const std::string& a : allocated_) {
      if (a == f) return Release();
    }
    case_v1::FacilitatorAllocated e;
    e.set_case_id(case_id_);
    e.set_facilitator_id(f);
    e.set_allocated_by("m1");
    allocated_.push_back(f);
    Observe(e);
    if (stage_ == case_v1::SCREENING && random_.OneIn(2)) {
      ChangeStage(case_v1::ALLOCATED);
    }
  }

  void Release() {
    if (allocated_.empty()) return Allocate();
    const int i = random_.Below(static_cast<int>(allocated_.size()));
    case_v1::FacilitatorReleased e;
    e.set_case_id(case_id_);
    e.set_facilitator_id(allocated_[i]);
    e.set_released_by("m1");
    allocated_.erase(allocated_.begin() + i);
    Observe(e);
  }

  void Assess() {
    case_v1::RiskAssessmentRecorded e;
    e.set_case_id(case_id_);
    e.set_assessment_id(absl::StrCat("ra", ++next_id_));
    e.set_assessor_id("f1");
    e.set_level(static_cast<case_v1::RiskLevel>(1 + random_.Below(4)));
    for (common_v1::ContactKind kind : kKinds) {
      if (!random_.OneIn(4)) e.add_allowed_kinds(kind);
    }
    e.set_review_date(random_.OneIn(2) ? "2026-06-01" : "2027-06-01");
    e.set_requires_approval(random_.OneIn(2));
    if (!assessments_.empty()) e.set_supersedes_assessment_id(assessments_.back());
    assessments_.push_back(e.assessment_id());
    Observe(e);
    if (stage_ == case_v1::ALLOCATED && random_.OneIn(2)) {
      ChangeStage(case_v1::ASSESSING);
      if (random_.OneIn(2)) ChangeStage(case_v1::PREPARING);
    }
  }

  void Approve() {
    if (assessments_.empty()) return Assess();
    case_v1::RiskAssessmentApproved e;
    e.set_case_id(case_id_);
    // Mostly the current one; sometimes a superseded one.
    e.set_assessment_id(
        random_.OneIn(4)
            ? assessments_[random_.Below(static_cast<int>(assessments_.size()))]
            : assessments_.back());
    e.set_approved_by("m1");
    Observe(e);
    if (stage_ == case_v1::ASSESSING && random_.OneIn(2)) {
      ChangeStage(case_v1::PREPARING);
    }
  }

  case_v1::Stage Forward() const {
    switch (stage_) {
      case case_v1::REFERRED:
        return case_v1::SCREENING;
      case case_v1::SCREENING:
        return case_v1::ALLOCATED;
      case case_v1::ALLOCATED:
        return case_v1::ASSESSING;
      case case_v1::ASSESSING:
        return case_v1::PREPARING;
      case case_v1::PREPARING:
        return case_v1::INDIRECT_CONTACT;
      case case_v1::INDIRECT_CONTACT:
        return case_v1::CONFERENCE_SCHEDULED;
      case case_v1::CONFERENCE_SCHEDULED:
        return case_v1::CONFERENCE_HELD;
      case case_v1::CONFERENCE_HELD:
        return case_v1::FOLLOW_UP;
      default:
        return case_v1::SCREENING;
    }
  }

  void ChangeStage(case_v1::Stage to) {
    if (to == stage_) return;
    case_v1::StageChanged e;
    e.set_case_id(case_id_);
    e.set_from(stage_);
    e.set_to(to);
    if (to == case_v1::PAUSED) before_pause_ = stage_;
    stage_ = to;
    Observe(e);
  }

  void PauseOrResume() {
    if (stage_ == case_v1::PAUSED) {
      case_v1::CaseResumed e;
      e.set_case_id(case_id_);
      e.set_resumed_by("m1");
      Observe(e);
      return ChangeStage(before_pause_);
    }
    case_v1::CasePaused e;
    e.set_case_id(case_id_);
    e.set_reason("victim unwell");
    e.set_paused_by("m1");
    Observe(e);
    ChangeStage(case_v1::PAUSED);
  }

  void Close() {
    case_v1::CaseClosed e;
    e.set_case_id(case_id_);
    e.set_reason(case_v1::COMPLETED);
    e.set_closed_by("m1");
    Observe(e);
    ChangeStage(case_v1::CLOSED);
  }

  void Erase() {
    const std::string& id = ids_[random_.Below(static_cast<int>(ids_.size()))];
    if (erased_.count(id) > 0) return Consent();
    case_v1::ParticipantErased e;
    e.set_case_id(case_id_);
    e.set_participant_id(id);
    e.set_requested_by("m1");
    e.set_basis(case_v1::ERASURE_REQUEST);
    e.set_reason("ER-1");
    erased_[id] = true;
    Observe(e);
  }

  void Consent() {
    consent_v1::ConsentRecorded e;
    e.set_case_id(case_id_);
    e.set_consent_id(absl::StrCat("k", ++next_id_));
    // Mostly the two parties the rule asks about.
    e.set_participant_id(random_.OneIn(4)
                             ? ids_[random_.Below(static_cast<int>(ids_.size()))]
                             : (random_.OneIn(2) ? "v1" : "su1"));
    e.set_scope(static_cast<consent_v1::ConsentScope>(1 + random_.Below(6)));
    e.set_answer(random_.OneIn(4) ? consent_v1::DECLINED : consent_v1::GIVEN);
    e.set_requested_by_participant(e.answer() == consent_v1::GIVEN && random_.OneIn(2));
    e.mutable_informed()->set_leaflet_version("RJ-leaflet-2026-03");
    e.mutable_informed()->set_channel(consent_v1::IN_PERSON);
    e.set_recorded_by("f1");
    Append(kConsentRecordedType, e.SerializeAsString());
  }

  void Withdraw() {
    consent_v1::ConsentWithdrawn e;
    e.set_case_id(case_id_);
    e.set_participant_id(random_.OneIn(2) ? "v1" : "su1");
    if (random_.OneIn(3)) {
      for (int s = 1; s <= 6; ++s) e.add_scopes(static_cast<consent_v1::ConsentScope>(s));
      e.set_all_scopes(true);
    } else {
      e.add_scopes(static_cast<consent_v1::ConsentScope>(1 + random_.Below(6)));
    }
    e.mutable_informed()->set_channel(consent_v1::PHONE);
    e.set_recorded_by("f1");
    Append(kConsentWithdrawnType, e.SerializeAsString());
  }

  Random random_;
  int index_;
  bool later_events_;
  std::string case_id_;
  CaseFacts facts_;
  absl::Status error_;
  uint64_t case_position_ = 0;
  uint64_t consent_position_ = 0;
  int next_id_ = 0;
  bool prepared_ = false;
  case_v1::Stage stage_ = case_v1::STAGE_UNSPECIFIED;
  case_v1::Stage before_pause_ = case_v1::STAGE_UNSPECIFIED;
  std::vector<std::string> ids_;
  std::vector<std::string> allocated_;
  std::vector<std::string> assessments_;
  std::map<std::string, bool> erased_;
};

}  // namespace mend::consentsvc::corpus

#endif  // MEND_SERVICES_CONSENT_CONTACT_GATE_CORPUS_SCENARIO_H_
