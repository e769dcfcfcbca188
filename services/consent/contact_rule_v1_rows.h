// The rows of contact-gate/1's decision table (contact_rule_test.cc), on
// the fixtures of contact_rule_test_fixtures.h: each names a kind, a
// category, what it breaks and exactly the reasons contact-gate/1 gives, in
// order. contact_rule_v2_test.cc holds contact-gate/2 to the same rows when
// nothing /2 adds applies. Test-only.
#ifndef MEND_SERVICES_CONSENT_CONTACT_RULE_V1_ROWS_H_
#define MEND_SERVICES_CONSENT_CONTACT_RULE_V1_ROWS_H_

#include <functional>
#include <ostream>
#include <string>
#include <utility>
#include <vector>

#include "absl/strings/str_cat.h"
#include "services/consent/contact_rule_test_fixtures.h"

namespace mend::consentsvc::rule_testing {

// ----- The table ------------------------------------------------------------

struct Row {
  std::string name;
  ContactKind kind;
  case_v1::OffenceCategory category = case_v1::VIOLENCE;
  std::function<void(CaseFacts&, ContactQuestion&)> change;
  std::vector<R> want;  // empty: APPROVED

  friend void PrintTo(const Row& row, std::ostream* os) { *os << row.name; }
};

inline std::string Short(ContactKind kind) {
  switch (kind) {
    case common_v1::APPROACH_VICTIM:
      return "Approach";
    case common_v1::LETTER_DELIVERY:
      return "Letter";
    case common_v1::SHUTTLE_MESSAGE:
      return "Shuttle";
    case common_v1::VIDEO_MEETING:
      return "Video";
    case common_v1::FACE_TO_FACE_CONFERENCE:
      return "FaceToFace";
    default:
      return "Unspecified";
  }
}

inline std::string Short(ConsentScope scope) {
  std::string name = consent_v1::ConsentScope_Name(scope);
  name.erase(std::remove(name.begin(), name.end(), '_'), name.end());
  return name;
}

inline std::string Short(case_v1::OffenceCategory category) {
  std::string name = case_v1::OffenceCategory_Name(category);
  name.erase(std::remove(name.begin(), name.end(), '_'), name.end());
  return name;
}

inline bool VictimMustAsk(case_v1::OffenceCategory category, ContactKind kind) {
  return (category == case_v1::DOMESTIC_ABUSE || category == case_v1::SEXUAL_OFFENCE) &&
         (kind == common_v1::VIDEO_MEETING || kind == common_v1::FACE_TO_FACE_CONFERENCE);
}

// The (person, scope) pairs a kind needs, in the rule's order.
inline std::vector<std::pair<std::string, ConsentScope>> NeededConsents(
    ContactKind kind) {
  const ConsentScope scope = ScopeForKind(kind);
  std::vector<std::pair<std::string, ConsentScope>> needed = {
      {kVictim, consent_v1::PARTICIPATE}};
  if (scope != consent_v1::PARTICIPATE) needed.emplace_back(kVictim, scope);
  needed.emplace_back(kServiceUser, scope);
  return needed;
}

inline std::vector<Row> SingleReasonRows() {
  std::vector<Row> rows;
  for (ContactKind kind : kKinds) {
    const std::string k = Short(kind);
    rows.push_back({k + "_Approved", kind, case_v1::VIOLENCE, [](auto&, auto&) {}, {}});
    rows.push_back({k + "_CaseClosed",
                    kind,
                    case_v1::VIOLENCE,
                    [](CaseFacts& f, auto&) { Close(f); },
                    {{consent_v1::CASE_CLOSED}}});
    rows.push_back({k + "_CasePaused",
                    kind,
                    case_v1::VIOLENCE,
                    [](CaseFacts& f, auto&) { Pause(f); },
                    {{consent_v1::CASE_PAUSED}}});
    rows.push_back({k + "_AskedByAnotherFacilitator",
                    kind,
                    case_v1::VIOLENCE,
                    [](auto&, ContactQuestion& q) { q.facilitator_id = "f9"; },
                    {{consent_v1::FACILITATOR_NOT_ALLOCATED}}});
    rows.push_back({k + "_FacilitatorReleased",
                    kind,
                    case_v1::VIOLENCE,
                    [](CaseFacts& f, auto&) { ReleaseFacilitator(f); },
                    {{consent_v1::FACILITATOR_NOT_ALLOCATED}}});
    rows.push_back({k + "_NoAcknowledgement",
                    kind,
                    case_v1::VIOLENCE,
                    [](CaseFacts& f, auto&) { NoAcknowledgement(f); },
                    {{consent_v1::RESPONSIBILITY_NOT_ACKNOWLEDGED}}});
    rows.push_back({k + "_ResponsibilityNotAccepted",
                    kind,
                    case_v1::VIOLENCE,
                    [](CaseFacts& f, auto&) { AcknowledgedNot(f); },
                    {{consent_v1::RESPONSIBILITY_NOT_ACKNOWLEDGED}}});
    rows.push_back({k + "_NoRiskAssessment",
                    kind,
                    case_v1::VIOLENCE,
                    [](CaseFacts& f, auto&) { NoRiskAssessment(f); },
                    {{consent_v1::NO_RISK_ASSESSMENT}}});
    rows.push_back({k + "_RiskAssessmentNotApproved",
                    kind,
                    case_v1::HATE_CRIME,
                    [](CaseFacts& f, auto&) { Unapprove(f); },
                    {{consent_v1::RISK_ASSESSMENT_NOT_APPROVED}}});
    rows.push_back({k + "_RiskAssessmentLapsed",
                    kind,
                    case_v1::VIOLENCE,
                    [](CaseFacts& f, auto&) { Lapse(f); },
                    {{consent_v1::RISK_ASSESSMENT_LAPSED}}});
    rows.push_back({k + "_RiskAssessmentDisallowsKind",
                    kind,
                    case_v1::VIOLENCE,
                    [kind](CaseFacts& f, auto&) { Disallow(f, kind); },
                    {{consent_v1::RISK_ASSESSMENT_DISALLOWS_KIND}}});
    rows.push_back({k + "_VictimErased",
                    kind,
                    case_v1::VIOLENCE,
                    [](CaseFacts& f, auto&) { Erase(f, kVictim); },
                    {{consent_v1::PARTICIPANT_ERASED, kVictim}}});
    rows.push_back({k + "_ServiceUserErased",
                    kind,
                    case_v1::VIOLENCE,
                    [](CaseFacts& f, auto&) { Erase(f, kServiceUser); },
                    {{consent_v1::PARTICIPANT_ERASED, kServiceUser}}});
    for (const auto& [who, scope] : NeededConsents(kind)) {
      const std::string tag =
          absl::StrCat(who == kVictim ? "Victim" : "ServiceUser", Short(scope));
      rows.push_back({absl::StrCat(k, "_", tag, "NotRecorded"),
                      kind,
                      case_v1::VIOLENCE,
                      [who, scope](CaseFacts& f, auto&) { Unanswer(f, who, scope); },
                      {{consent_v1::CONSENT_NOT_RECORDED, who, scope}}});
      rows.push_back({absl::StrCat(k, "_", tag, "Declined"),
                      kind,
                      case_v1::VIOLENCE,
                      [who, scope](CaseFacts& f, auto&) { Decline(f, who, scope); },
                      {{consent_v1::CONSENT_DECLINED, who, scope}}});
      rows.push_back({absl::StrCat(k, "_", tag, "Withdrawn"),
                      kind,
                      case_v1::VIOLENCE,
                      [who, scope](CaseFacts& f, auto&) { Withdraw(f, who, {scope}); },
                      {{consent_v1::CONSENT_WITHDRAWN, who, scope}}});
    }
    // Scopes a kind does not need do not matter to it.
    for (ConsentScope other : kKindScopes) {
      if (other == ScopeForKind(kind) || other == consent_v1::PARTICIPATE) continue;
      rows.push_back({absl::StrCat(k, "_OtherScope", Short(other), "WithdrawnByBoth"),
                      kind,
                      case_v1::VIOLENCE,
                      [other](CaseFacts& f, auto&) {
                        Withdraw(f, kVictim, {other});
                        Withdraw(f, kServiceUser, {other});
                      },
                      {}});
    }
    rows.push_back({k + "_ShareInformationDeclinedByBoth",
                    kind,
                    case_v1::VIOLENCE,
                    [](CaseFacts& f, auto&) {
                      Decline(f, kVictim, consent_v1::SHARE_INFORMATION);
                      Decline(f, kServiceUser, consent_v1::SHARE_INFORMATION);
                    },
                    {}});
  }
  return rows;
}

// Sensitivity: every sensitive category needs the assessment approved; only
// domestic abuse and sexual offences need the victim to have asked, and only
// for video and face to face.
inline std::vector<Row> SensitiveRows() {
  std::vector<Row> rows;
  for (case_v1::OffenceCategory category :
       {case_v1::VIOLENCE, case_v1::DOMESTIC_ABUSE, case_v1::SEXUAL_OFFENCE,
        case_v1::HATE_CRIME}) {
    const bool sensitive = IsSensitiveCategory(category);
    for (ContactKind kind : kKinds) {
      const std::string name = absl::StrCat(Short(category), "_", Short(kind));
      const ConsentScope scope = ScopeForKind(kind);
      rows.push_back({name + "_Approved", kind, category, [](auto&, auto&) {}, {}});
      // The victim's current answer is a GIVEN she did not ask for.
      std::vector<R> not_asked;
      if (VictimMustAsk(category, kind)) {
        not_asked.push_back({consent_v1::NOT_ASKED_BY_VICTIM, kVictim, scope});
      }
      rows.push_back({name + "_VictimGaveWithoutAsking", kind, category,
                      [scope](CaseFacts& f, auto&) { Give(f, kVictim, scope, false); },
                      not_asked});
      // Having asked on PARTICIPATE is not having asked for the meeting.
      rows.push_back({name + "_VictimAskedOnlyToParticipate", kind, category,
                      [scope](CaseFacts& f, auto&) {
                        Give(f, kVictim, consent_v1::PARTICIPATE, true);
                        if (scope != consent_v1::PARTICIPATE)
                          Give(f, kVictim, scope, false);
                      },
                      not_asked});
      // A declined meeting is a consent reason and, where the victim must
      // ask, also not asked for.
      std::vector<R> declined = {{consent_v1::CONSENT_DECLINED, kVictim, scope}};
      if (VictimMustAsk(category, kind)) {
        declined.push_back({consent_v1::NOT_ASKED_BY_VICTIM, kVictim, scope});
      }
      rows.push_back({name + "_VictimDeclined", kind, category,
                      [scope](CaseFacts& f, auto&) { Decline(f, kVictim, scope); },
                      declined});
      // An unapproved assessment counts only outside sensitive cases.
      std::vector<R> unapproved;
      if (sensitive) unapproved.push_back({consent_v1::RISK_ASSESSMENT_NOT_APPROVED});
      rows.push_back({name + "_AssessmentUnapproved", kind, category,
                      [](CaseFacts& f, auto&) { Unapprove(f); }, unapproved});
    }
  }
  return rows;
}

inline std::vector<Row> CombinationRows() {
  using namespace consent_v1;  // NOLINT: reason codes read better bare here
  std::vector<Row> rows;
  rows.push_back({"PausedWithdrawnLapsed",
                  common_v1::LETTER_DELIVERY,
                  case_v1::VIOLENCE,
                  [](CaseFacts& f, auto&) {
                    Lapse(f);
                    Pause(f);  // the same change of stage paused and lapsed
                    f.risk_assessment_lapsed_by = f.last_stage_change;
                    WithdrawAll(f, kVictim);
                  },
                  {{CASE_PAUSED},
                   {RISK_ASSESSMENT_LAPSED},
                   {CONSENT_WITHDRAWN, kVictim, PARTICIPATE},
                   {CONSENT_WITHDRAWN, kVictim, RECEIVE_LETTER}}});
  rows.push_back({"ClosedAndBothWithdrewEverything",
                  common_v1::SHUTTLE_MESSAGE,
                  case_v1::VIOLENCE,
                  [](CaseFacts& f, auto&) {
                    Close(f);
                    WithdrawAll(f, kVictim);
                    WithdrawAll(f, kServiceUser);
                  },
                  {{CASE_CLOSED},
                   {CONSENT_WITHDRAWN, kVictim, PARTICIPATE},
                   {CONSENT_WITHDRAWN, kVictim, SHUTTLE},
                   {CONSENT_WITHDRAWN, kServiceUser, SHUTTLE}}});
  rows.push_back({"EveryCaseCheckFails",
                  common_v1::APPROACH_VICTIM,
                  case_v1::VIOLENCE,
                  [](CaseFacts& f, ContactQuestion& q) {
                    Close(f);
                    q.facilitator_id = "f9";
                    NoAcknowledgement(f);
                    NoRiskAssessment(f);
                  },
                  {{CASE_CLOSED},
                   {FACILITATOR_NOT_ALLOCATED},
                   {RESPONSIBILITY_NOT_ACKNOWLEDGED},
                   {NO_RISK_ASSESSMENT}}});
  rows.push_back({"EveryAssessmentReasonAtOnce",
                  common_v1::VIDEO_MEETING,
                  case_v1::HATE_CRIME,
                  [](CaseFacts& f, auto&) {
                    Unapprove(f);
                    Lapse(f);
                    Disallow(f, common_v1::VIDEO_MEETING);
                  },
                  {{RISK_ASSESSMENT_NOT_APPROVED},
                   {RISK_ASSESSMENT_LAPSED},
                   {RISK_ASSESSMENT_DISALLOWS_KIND}}});
  rows.push_back({"BothErasedAndNoConsentsLeft",
                  common_v1::LETTER_DELIVERY,
                  case_v1::VIOLENCE,
                  [](CaseFacts& f, auto&) {
                    Erase(f, kServiceUser);
                    Erase(f, kVictim);
                    f.consents.clear();
                  },
                  {{PARTICIPANT_ERASED, kVictim},
                   {PARTICIPANT_ERASED, kServiceUser},
                   {CONSENT_NOT_RECORDED, kVictim, PARTICIPATE},
                   {CONSENT_NOT_RECORDED, kVictim, RECEIVE_LETTER},
                   {CONSENT_NOT_RECORDED, kServiceUser, RECEIVE_LETTER}}});
  rows.push_back({"ThreeDifferentConsentReasons",
                  common_v1::FACE_TO_FACE_CONFERENCE,
                  case_v1::VIOLENCE,
                  [](CaseFacts& f, auto&) {
                    Withdraw(f, kServiceUser, {FACE_TO_FACE});
                    Unanswer(f, kVictim, FACE_TO_FACE);
                    Decline(f, kVictim, PARTICIPATE);
                  },
                  {{CONSENT_DECLINED, kVictim, PARTICIPATE},
                   {CONSENT_NOT_RECORDED, kVictim, FACE_TO_FACE},
                   {CONSENT_WITHDRAWN, kServiceUser, FACE_TO_FACE}}});
  rows.push_back(
      {"DomesticAbuseVideoNeverAnswered",
       common_v1::VIDEO_MEETING,
       case_v1::DOMESTIC_ABUSE,
       [](CaseFacts& f, auto&) { Unanswer(f, kVictim, VIDEO); },
       {{CONSENT_NOT_RECORDED, kVictim, VIDEO}, {NOT_ASKED_BY_VICTIM, kVictim, VIDEO}}});
  rows.push_back({"SexualOffenceFaceToFaceWithdrawn",
                  common_v1::FACE_TO_FACE_CONFERENCE,
                  case_v1::SEXUAL_OFFENCE,
                  [](CaseFacts& f, auto&) { Withdraw(f, kVictim, {FACE_TO_FACE}); },
                  {{CONSENT_WITHDRAWN, kVictim, FACE_TO_FACE},
                   {NOT_ASKED_BY_VICTIM, kVictim, FACE_TO_FACE}}});
  // Every reason the rule has, at once (PAUSED and CLOSED exclude each other).
  rows.push_back({"EverythingWrong",
                  common_v1::VIDEO_MEETING,
                  case_v1::DOMESTIC_ABUSE,
                  [](CaseFacts& f, ContactQuestion& q) {
                    Lapse(f);
                    Close(f);
                    f.risk_assessment_lapsed_by = f.last_stage_change;
                    q.facilitator_id = "f9";
                    AcknowledgedNot(f);
                    Unapprove(f);
                    Disallow(f, common_v1::VIDEO_MEETING);
                    Erase(f, kVictim);
                    Erase(f, kServiceUser);
                    Decline(f, kVictim, PARTICIPATE);
                    Unanswer(f, kVictim, VIDEO);
                    Withdraw(f, kServiceUser, {VIDEO});
                  },
                  {{CASE_CLOSED},
                   {FACILITATOR_NOT_ALLOCATED},
                   {RESPONSIBILITY_NOT_ACKNOWLEDGED},
                   {RISK_ASSESSMENT_NOT_APPROVED},
                   {RISK_ASSESSMENT_LAPSED},
                   {RISK_ASSESSMENT_DISALLOWS_KIND},
                   {PARTICIPANT_ERASED, kVictim},
                   {PARTICIPANT_ERASED, kServiceUser},
                   {CONSENT_DECLINED, kVictim, PARTICIPATE},
                   {CONSENT_NOT_RECORDED, kVictim, VIDEO},
                   {CONSENT_WITHDRAWN, kServiceUser, VIDEO},
                   {NOT_ASKED_BY_VICTIM, kVictim, VIDEO}}});
  return rows;
}

inline std::vector<Row> AllRows() {
  std::vector<Row> rows = SingleReasonRows();
  for (auto more : {SensitiveRows(), CombinationRows()}) {
    rows.insert(rows.end(), more.begin(), more.end());
  }
  return rows;
}

}  // namespace mend::consentsvc::rule_testing

#endif  // MEND_SERVICES_CONSENT_CONTACT_RULE_V1_ROWS_H_
