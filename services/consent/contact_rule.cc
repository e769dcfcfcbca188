// The contact gate's rules "contact-gate/1" and "contact-gate/2"
// (contact_rule.h): one body, with each check of /2 behind its version, so
// /1 stays exactly as it decided. Each check appends the reasons it finds in
// the documented order and cites every fact it looked at; the citations are
// merged (one per log position) and sorted at the end, so the ruling does
// not depend on the order the checks cite in.
#include "services/consent/contact_rule.h"

#include <algorithm>
#include <map>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

#include "absl/status/status.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_join.h"
#include "absl/time/civil_time.h"
#include "absl/time/time.h"

namespace mend::consentsvc {
namespace {

std::string KindName(common_v1::ContactKind kind) {
  if (!common_v1::ContactKind_IsValid(kind)) {
    return absl::StrCat("kind ", static_cast<int>(kind));
  }
  return common_v1::ContactKind_Name(kind);
}

std::string ScopeName(consent_v1::ConsentScope scope) {
  if (!consent_v1::ConsentScope_IsValid(scope)) {
    return absl::StrCat("scope ", static_cast<int>(scope));
  }
  return consent_v1::ConsentScope_Name(scope);
}

std::string CategoryName(case_v1::OffenceCategory category) {
  if (!case_v1::OffenceCategory_IsValid(category)) {
    return absl::StrCat("category ", static_cast<int>(category));
  }
  return case_v1::OffenceCategory_Name(category);
}

bool IsVictimRole(case_v1::ParticipantRole role) {
  return role == case_v1::VICTIM || role == case_v1::CO_VICTIM;
}

// Builds one ruling: reasons in the order they are added, citations merged
// by (source, position) — a withdrawal of several scopes is one event that
// answers for each of them, cited once with each thing it established.
class RulingBuilder {
 public:
  void Refuse(consent_v1::ReasonCode code, std::string detail,
              std::string participant_id = {},
              consent_v1::ConsentScope scope = consent_v1::CONSENT_SCOPE_UNSPECIFIED) {
    consent_v1::Reason& reason = reasons_.emplace_back();
    reason.set_code(code);
    reason.set_participant_id(std::move(participant_id));
    reason.set_scope(scope);
    reason.set_detail(std::move(detail));
  }

  void Cite(const FactRef& ref, std::string fact) {
    Citation& c = cited_[{static_cast<int>(ref.source), ref.position}];
    if (c.event_type.empty()) c.event_type = ref.event_type;
    if (std::find(c.facts.begin(), c.facts.end(), fact) == c.facts.end()) {
      c.facts.push_back(std::move(fact));
    }
  }
  void Cite(const std::optional<FactRef>& ref, std::string fact) {
    if (ref.has_value()) Cite(*ref, std::move(fact));
  }

  ContactRuling Build(std::string_view policy_version) && {
    ContactRuling ruling;
    ruling.outcome = reasons_.empty() ? consent_v1::APPROVED : consent_v1::REFUSED;
    ruling.reasons = std::move(reasons_);
    ruling.consulted.reserve(cited_.size());
    for (auto& [key, citation] : cited_) {  // std::map: sorted by (source, position)
      consent_v1::ConsultedFact& fact = ruling.consulted.emplace_back();
      fact.set_source(static_cast<consent_v1::FactSource>(key.first));
      fact.set_position(key.second);
      fact.set_event_type(std::move(citation.event_type));
      fact.set_fact(absl::StrJoin(citation.facts, "; "));
    }
    ruling.policy_version = std::string(policy_version);
    return ruling;
  }

 private:
  struct Citation {
    std::string event_type;
    std::vector<std::string> facts;  // in the order cited
  };
  std::vector<consent_v1::Reason> reasons_;
  std::map<std::pair<int, uint64_t>, Citation> cited_;
};

// 7. and 8. use the same wording for one person's answer.
std::string AnswerFact(const std::string& who, consent_v1::ConsentScope scope,
                       const ConsentEntryFacts& entry) {
  std::string what;
  switch (entry.status) {
    case consent_v1::CONSENT_STATUS_GIVEN:
      what = entry.requested_by_participant ? "given, asked for by them" : "given";
      break;
    case consent_v1::CONSENT_STATUS_DECLINED:
      what = "declined";
      break;
    case consent_v1::CONSENT_STATUS_WITHDRAWN:
      what = "withdrawn";
      break;
    default:
      what = "not answered";
      break;
  }
  return absl::StrCat(who, " ", ScopeName(scope), " ", what);
}

void CheckConsent(const CaseFacts& facts, const std::string& role_label,
                  const std::string& participant_id, consent_v1::ConsentScope scope,
                  RulingBuilder& out) {
  const std::string who = absl::StrCat(role_label, " ", participant_id);
  const ConsentEntryFacts* entry = facts.CurrentConsent(participant_id, scope);
  if (entry != nullptr) out.Cite(entry->ref(), AnswerFact(who, scope, *entry));
  const consent_v1::ConsentStatus status =
      entry == nullptr ? consent_v1::CONSENT_STATUS_UNSPECIFIED : entry->status;
  switch (status) {
    case consent_v1::CONSENT_STATUS_GIVEN:
      return;
    case consent_v1::CONSENT_STATUS_DECLINED:
      out.Refuse(consent_v1::CONSENT_DECLINED,
                 absl::StrCat(who, " declined ", ScopeName(scope)), participant_id,
                 scope);
      return;
    case consent_v1::CONSENT_STATUS_WITHDRAWN:
      out.Refuse(consent_v1::CONSENT_WITHDRAWN,
                 absl::StrCat(who, " withdrew ", ScopeName(scope)), participant_id,
                 scope);
      return;
    default:
      out.Refuse(consent_v1::CONSENT_NOT_RECORDED,
                 absl::StrCat(who, " has not answered on ", ScopeName(scope)),
                 participant_id, scope);
      return;
  }
}

void CheckErased(const CaseFacts& facts, const std::string& role_label,
                 const std::string& participant_id, RulingBuilder& out) {
  const ObservedParticipant* p = facts.case_state.FindParticipant(participant_id);
  auto erasure = facts.erasures.find(participant_id);
  const bool recorded = erasure != facts.erasures.end();
  if (!recorded && (p == nullptr || !p->erased)) return;
  const std::string who = absl::StrCat(role_label, " ", participant_id);
  if (recorded) out.Cite(erasure->second, absl::StrCat(who, " erased"));
  out.Refuse(consent_v1::PARTICIPANT_ERASED, absl::StrCat(who, " was erased"),
             participant_id);
}

}  // namespace

consent_v1::ConsentScope ScopeForKind(common_v1::ContactKind kind) {
  switch (kind) {
    case common_v1::APPROACH_VICTIM:
      return consent_v1::PARTICIPATE;
    case common_v1::LETTER_DELIVERY:
      return consent_v1::RECEIVE_LETTER;
    case common_v1::SHUTTLE_MESSAGE:
      return consent_v1::SHUTTLE;
    case common_v1::VIDEO_MEETING:
      return consent_v1::VIDEO;
    case common_v1::FACE_TO_FACE_CONFERENCE:
      return consent_v1::FACE_TO_FACE;
    default:
      return consent_v1::CONSENT_SCOPE_UNSPECIFIED;
  }
}

absl::StatusOr<ContactParties> ResolveParties(const CaseFacts& facts,
                                              std::string_view victim_id) {
  const ObservedCase& c = facts.case_state;
  if (!facts.case_known()) {
    return absl::NotFoundError("the case has not been observed by the consent service");
  }
  const ObservedParticipant* service_user = c.service_user();
  if (service_user == nullptr) {
    return absl::FailedPreconditionError(
        absl::StrCat("case ", c.case_id, " has no service user"));
  }
  ContactParties parties;
  parties.service_user_id = service_user->participant_id;
  if (!victim_id.empty()) {
    const ObservedParticipant* p = c.FindParticipant(victim_id);
    if (p == nullptr) {
      return absl::NotFoundError(absl::StrCat("case ", c.case_id, " has no participant ",
                                              std::string(victim_id)));
    }
    if (!IsVictimRole(p->role)) {
      return absl::InvalidArgumentError(absl::StrCat(
          "participant ", p->participant_id, " of case ", c.case_id, " is a ",
          case_v1::ParticipantRole_Name(p->role), ", not a VICTIM or CO_VICTIM"));
    }
    parties.victim_id = p->participant_id;
    return parties;
  }
  std::vector<std::string> victims;
  for (const ObservedParticipant& p : c.participants) {
    if (IsVictimRole(p.role)) victims.push_back(p.participant_id);
  }
  if (victims.empty()) {
    return absl::FailedPreconditionError(
        absl::StrCat("case ", c.case_id, " has no victim or co-victim"));
  }
  if (victims.size() > 1) {
    return absl::FailedPreconditionError(
        absl::StrCat("case ", c.case_id, " has several victims (",
                     absl::StrJoin(victims, ", "), "): name the one to contact"));
  }
  parties.victim_id = victims.front();
  return parties;
}

namespace {

enum class Version { kV1, kV2 };

// The current assessment's review date has passed on `at`'s day (UTC); a
// date that does not parse has passed too.
bool ReviewOverdue(const ObservedRiskAssessment& ra, absl::Time at) {
  absl::CivilDay review;
  if (ra.review_date.size() != 10 || !absl::ParseCivilTime(ra.review_date, &review)) {
    return true;
  }
  return absl::ToCivilDay(at, absl::UTCTimeZone()) > review;
}

std::string UnsuitableName(case_v1::UnsuitableReason reason) {
  if (!case_v1::UnsuitableReason_IsValid(reason)) {
    return absl::StrCat("reason ", static_cast<int>(reason));
  }
  return case_v1::UnsuitableReason_Name(reason);
}

ContactRuling Decide(const CaseFacts& facts, const ContactQuestion& question,
                     Version version) {
  const bool v2 = version == Version::kV2;
  const ObservedCase& c = facts.case_state;
  const consent_v1::ConsentScope scope = ScopeForKind(question.kind);
  const std::string kind = KindName(question.kind);
  RulingBuilder out;

  out.Cite(facts.referral, absl::StrCat("case ", c.case_id,
                                        " referred: ", CategoryName(c.offence_category),
                                        c.sensitive ? ", sensitive" : ", not sensitive"));
  out.Cite(facts.last_stage_change, absl::StrCat("stage ", CaseStageName(c.stage)));

  // 1., 2.
  if (c.stage == case_v1::CLOSED) {
    out.Refuse(consent_v1::CASE_CLOSED, "the case is CLOSED");
  }
  if (c.stage == case_v1::PAUSED) {
    out.Refuse(consent_v1::CASE_PAUSED, "the case is PAUSED");
  }

  // 2a. (contact-gate/2)
  if (v2) {
    if (c.suitable.has_value()) {
      out.Cite(facts.suitability,
               *c.suitable ? "found suitable"
                           : absl::StrCat("found not suitable: ",
                                          UnsuitableName(c.unsuitable_reason)));
    }
    if (c.suitable == std::optional<bool>(false)) {
      out.Refuse(consent_v1::CASE_UNSUITABLE,
                 absl::StrCat("the case was found not suitable (",
                              UnsuitableName(c.unsuitable_reason), ")"));
    } else if (c.stage == case_v1::FOUND_UNSUITABLE) {
      out.Refuse(consent_v1::CASE_UNSUITABLE, "the case is FOUND_UNSUITABLE");
    }
  }

  // 3.
  if (c.IsAllocated(question.facilitator_id)) {
    if (auto it = facts.allocations.find(question.facilitator_id);
        it != facts.allocations.end()) {
      out.Cite(it->second,
               absl::StrCat("facilitator ", question.facilitator_id, " allocated"));
    }
  } else {
    out.Refuse(consent_v1::FACILITATOR_NOT_ALLOCATED,
               absl::StrCat("facilitator ", question.facilitator_id,
                            " is not allocated to the case"));
  }

  // 4.
  if (c.acknowledged.has_value()) {
    out.Cite(facts.acknowledgement, *c.acknowledged ? "responsibility acknowledged"
                                                    : "responsibility not acknowledged");
  }
  if (!c.acknowledged.has_value()) {
    out.Refuse(consent_v1::RESPONSIBILITY_NOT_ACKNOWLEDGED,
               "no acknowledgement recorded");
  } else if (!*c.acknowledged) {
    out.Refuse(consent_v1::RESPONSIBILITY_NOT_ACKNOWLEDGED,
               "the service user does not accept responsibility");
  }

  // 5.
  const ObservedRiskAssessment* ra = c.current_risk_assessment();
  if (ra == nullptr) {
    out.Refuse(consent_v1::NO_RISK_ASSESSMENT, "no risk assessment recorded");
  } else {
    std::vector<std::string> allowed;
    for (common_v1::ContactKind k : ra->allowed_kinds) allowed.push_back(KindName(k));
    // A sensitive case needs a manager's approval (I1) even if the
    // assessment itself did not record that it requires one.
    const bool needs_approval = ra->requires_approval || c.sensitive;
    out.Cite(facts.risk_assessment_recorded,
             absl::StrCat("risk assessment ", ra->assessment_id, " allows ",
                          allowed.empty() ? "nothing" : absl::StrJoin(allowed, ", "),
                          needs_approval ? "; requires approval" : "",
                          v2 ? absl::StrCat("; review by ", ra->review_date) : ""));
    if (ra->approved) {
      out.Cite(facts.risk_assessment_approved,
               absl::StrCat("risk assessment ", ra->assessment_id, " approved"));
    }
    out.Cite(
        facts.risk_assessment_lapsed_by,
        absl::StrCat("risk assessment ", ra->assessment_id, " lapsed by this change"));
    if (needs_approval && !ra->approved) {
      out.Refuse(consent_v1::RISK_ASSESSMENT_NOT_APPROVED,
                 absl::StrCat("risk assessment ", ra->assessment_id,
                              " has no manager approval"));
    }
    if (facts.risk_assessment_lapsed_by.has_value()) {
      out.Refuse(consent_v1::RISK_ASSESSMENT_LAPSED,
                 absl::StrCat("risk assessment ", ra->assessment_id,
                              " lapsed: the stage changed at case position ",
                              facts.risk_assessment_lapsed_by->position));
    }
    if (v2 && ReviewOverdue(*ra, question.decided_at)) {
      out.Refuse(
          consent_v1::RISK_ASSESSMENT_REVIEW_OVERDUE,
          absl::StrCat("risk assessment ", ra->assessment_id, " was due for review by ",
                       ra->review_date.empty() ? "(no date)" : ra->review_date));
    }
    if (std::find(ra->allowed_kinds.begin(), ra->allowed_kinds.end(), question.kind) ==
        ra->allowed_kinds.end()) {
      out.Refuse(
          consent_v1::RISK_ASSESSMENT_DISALLOWS_KIND,
          absl::StrCat("risk assessment ", ra->assessment_id, " does not allow ", kind));
    }
  }

  // 6.
  CheckErased(facts, "victim", question.victim_id, out);
  CheckErased(facts, "service user", question.service_user_id, out);

  // 7.
  CheckConsent(facts, "victim", question.victim_id, consent_v1::PARTICIPATE, out);
  if (scope != consent_v1::PARTICIPATE) {
    CheckConsent(facts, "victim", question.victim_id, scope, out);
  }
  CheckConsent(facts, "service user", question.service_user_id, scope, out);

  // 8.
  const bool victim_must_ask = (c.offence_category == case_v1::DOMESTIC_ABUSE ||
                                c.offence_category == case_v1::SEXUAL_OFFENCE) &&
                               (question.kind == common_v1::VIDEO_MEETING ||
                                question.kind == common_v1::FACE_TO_FACE_CONFERENCE);
  if (victim_must_ask) {
    const ConsentEntryFacts* entry = facts.CurrentConsent(question.victim_id, scope);
    const bool asked = entry != nullptr &&
                       entry->status == consent_v1::CONSENT_STATUS_GIVEN &&
                       entry->requested_by_participant;
    if (!asked) {
      out.Refuse(consent_v1::NOT_ASKED_BY_VICTIM,
                 absl::StrCat(CategoryName(c.offence_category), " case: ", kind,
                              " only when victim ", question.victim_id, " asks for it"),
                 question.victim_id, scope);
    }
  }

  return std::move(out).Build(v2 ? kContactGateV2 : kContactGateV1);
}

}  // namespace

ContactRuling DecideContactRuleV1(const CaseFacts& facts,
                                  const ContactQuestion& question) {
  return Decide(facts, question, Version::kV1);
}

ContactRuling DecideContactRuleV2(const CaseFacts& facts,
                                  const ContactQuestion& question) {
  return Decide(facts, question, Version::kV2);
}

ContactRule FindContactRule(std::string_view policy_version) {
  if (policy_version == kContactGateV1) return &DecideContactRuleV1;
  if (policy_version == kContactGateV2) return &DecideContactRuleV2;
  return nullptr;
}

bool RuleReadsTime(std::string_view policy_version) {
  return policy_version == kContactGateV2;
}

}  // namespace mend::consentsvc
