#include "services/consent/consent_view.h"

#include <algorithm>
#include <utility>

#include "absl/strings/str_cat.h"
#include "common/base/page_token.h"

namespace mend::consentsvc {

consent_v1::ContactDecision DecisionView(const DecisionRecord& record) {
  consent_v1::ContactDecision out;
  *out.mutable_decision() = record.decision;
  out.set_position(record.position);
  out.set_decided_unix_micros(record.decided_unix_micros);
  return out;
}

consent_v1::GetConsentsResponse ConsentsView(const CaseFacts& facts) {
  consent_v1::GetConsentsResponse out;
  out.set_case_id(facts.case_id);
  out.set_version(facts.version);
  out.set_case_position(facts.last_case_position);
  for (const ObservedParticipant& p : facts.case_state.participants) {
    consent_v1::ParticipantConsents* pc = out.add_participants();
    pc->set_participant_id(p.participant_id);
    pc->set_role(p.role);
    pc->set_erased(p.erased);
    for (int s = consent_v1::ConsentScope_MIN; s <= consent_v1::ConsentScope_MAX; ++s) {
      const auto scope = static_cast<consent_v1::ConsentScope>(s);
      if (scope == consent_v1::CONSENT_SCOPE_UNSPECIFIED ||
          !consent_v1::ConsentScope_IsValid(s)) {
        continue;
      }
      consent_v1::ScopeConsents* sc = pc->add_scopes();
      sc->set_scope(scope);
      auto pit = facts.consents.find(p.participant_id);
      if (pit == facts.consents.end()) continue;
      auto sit = pit->second.find(scope);
      if (sit == pit->second.end()) continue;
      for (const ConsentEntryFacts& e : sit->second) {
        consent_v1::ConsentEntry* entry = sc->add_history();
        entry->set_status(e.status);
        entry->set_consent_id(e.consent_id);
        *entry->mutable_informed() = e.informed;
        entry->set_requested_by_participant(e.requested_by_participant);
        entry->set_recorded_by(e.recorded_by);
        entry->set_recorded_unix_micros(e.recorded_unix_micros);
        entry->set_position(e.position);
      }
      if (!sit->second.empty()) sc->set_status(sit->second.back().status);
    }
  }
  return out;
}

consent_v1::ListDecisionsResponse DecisionsPage(const CaseFacts& facts, uint64_t after,
                                                int32_t page_size) {
  consent_v1::ListDecisionsResponse out;
  // Decisions are folded in log order, so their positions ascend.
  auto d = std::upper_bound(
      facts.decisions.begin(), facts.decisions.end(), after,
      [](uint64_t position, const DecisionRecord& r) { return position < r.position; });
  for (; d != facts.decisions.end(); ++d) {
    if (out.decisions_size() == page_size) {
      out.set_next_page_token(EncodePageToken(
          kListDecisionsMethod, absl::StrCat(out.decisions().rbegin()->position())));
      break;
    }
    *out.add_decisions() = DecisionView(*d);
  }
  return out;
}

consent_v1::ExplainDecisionResponse ExplanationView(const DecisionRecord& recorded,
                                                    Explanation explained) {
  consent_v1::ExplainDecisionResponse out;
  *out.mutable_decision() = DecisionView(recorded);
  *out.mutable_recomputed() = std::move(explained.recomputed);
  out.set_same_outcome(explained.same_outcome);
  out.set_same_reasons(explained.same_reasons);
  out.set_same_consulted(explained.same_consulted);
  out.set_facts_until_position(explained.facts_until_position);
  return out;
}

}  // namespace mend::consentsvc
