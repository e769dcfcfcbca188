#include "tools/scenario/timeline.h"

#include <vector>

#include "absl/strings/str_cat.h"
#include "absl/strings/str_format.h"
#include "absl/strings/str_join.h"
#include "absl/time/clock.h"
#include "absl/time/time.h"

namespace mend::scenario {

void Timeline::Print(int case_number, absl::string_view service, absl::string_view text) {
  std::string line = absl::FormatTime("%H:%M:%E3S  ", absl::Now(), absl::LocalTimeZone());
  if (tag_cases_) absl::StrAppend(&line, absl::StrFormat("#%-3d ", case_number));
  std::string padded(service);
  if (padded.size() < 10) padded.resize(10, ' ');
  absl::StrAppend(&line, padded, "  ", text, "\n");
  absl::MutexLock lock(&mu_);
  std::fputs(line.c_str(), out_);
  std::fflush(out_);
}

std::string ShortId(absl::string_view id) { return absl::StrCat(id.substr(0, 4), "…"); }

std::string DecisionText(const DecisionRecord& d) {
  return absl::StrCat(common_v1::ContactKind_Name(d.kind), " → ",
                      consent_v1::Outcome_Name(d.outcome), " (decision ",
                      ShortId(d.decision_id), ")");
}

std::string ReasonsText(const consent_v1::ContactDecisionMade& decision) {
  const auto who = [&](const std::string& id) {
    if (id == decision.victim_id()) return std::string("the victim");
    if (id == decision.service_user_id()) return std::string("the service user");
    return id;
  };
  std::vector<std::string> parts;
  for (const consent_v1::Reason& r : decision.reasons()) {
    const std::string scope = consent_v1::ConsentScope_Name(r.scope());
    switch (r.code()) {
      case consent_v1::CONSENT_DECLINED:
        parts.push_back(absl::StrCat(who(r.participant_id()), " declined ", scope));
        break;
      case consent_v1::CONSENT_NOT_RECORDED:
        parts.push_back(
            absl::StrCat(who(r.participant_id()), " has not answered ", scope));
        break;
      case consent_v1::CONSENT_WITHDRAWN:
        parts.push_back(absl::StrCat(who(r.participant_id()), " withdrew ", scope));
        break;
      default:
        parts.push_back(consent_v1::ReasonCode_Name(r.code()));
    }
  }
  return absl::StrJoin(parts, "; ");
}

}  // namespace mend::scenario
