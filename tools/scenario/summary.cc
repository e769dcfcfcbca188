#include "tools/scenario/summary.h"

#include "nlohmann/json.hpp"

namespace mend::scenario {
namespace {

nlohmann::json DecisionJson(const DecisionRecord& d) {
  return {{"kind", common_v1::ContactKind_Name(d.kind)},
          {"outcome", consent_v1::Outcome_Name(d.outcome)},
          {"decision_id", d.decision_id},
          {"consent_position", d.consent_position}};
}

nlohmann::json CaseJson(const CaseRecord& c) {
  nlohmann::json steps = nlohmann::json::array();
  nlohmann::json decisions = nlohmann::json::array();
  for (const StepRecord& s : c.steps) {
    nlohmann::json step = {{"service", s.service},
                           {"rpc", s.rpc},
                           {"position", s.position},
                           {"attempts", s.attempts}};
    if (s.decision.has_value()) {
      step["decision"] = DecisionJson(*s.decision);
      decisions.push_back(DecisionJson(*s.decision));
    }
    steps.push_back(std::move(step));
  }
  nlohmann::json stages = nlohmann::json::array();
  for (const StageRecord& s : c.stages) {
    stages.push_back({{"from", case_v1::Stage_Name(s.from)},
                      {"to", case_v1::Stage_Name(s.to)},
                      {"after", s.after}});
  }
  nlohmann::json out = {
      {"number", c.number},         {"case_id", c.case_id},
      {"completed", c.completed},   {"facilitator_ids", c.facilitator_ids},
      {"steps", std::move(steps)},  {"decisions", std::move(decisions)},
      {"stages", std::move(stages)}};
  if (!c.failure.empty()) out["failure"] = c.failure;
  if (c.audit_decisions_exit >= 0) {
    out["audit"] = {{"decisions_exit", c.audit_decisions_exit},
                    {"report_exit", c.audit_report_exit},
                    {"report", c.report_path}};
  }
  return out;
}

}  // namespace

int CommandCount(const std::vector<CaseRecord>& cases) {
  size_t n = 0;
  for (const CaseRecord& c : cases) n += c.steps.size();
  return static_cast<int>(n);
}

std::string SummaryJson(const std::string& run_id, const std::vector<CaseRecord>& cases,
                        absl::Duration elapsed) {
  int completed = 0;
  nlohmann::json list = nlohmann::json::array();
  for (const CaseRecord& c : cases) {
    completed += c.completed ? 1 : 0;
    list.push_back(CaseJson(c));
  }
  const double seconds = absl::ToDoubleSeconds(elapsed);
  const int commands = CommandCount(cases);
  const nlohmann::json out = {
      {"run_id", run_id},
      {"cases_completed", completed},
      {"elapsed_seconds", seconds},
      {"commands", commands},
      {"commands_per_second", seconds > 0 ? commands / seconds : 0.0},
      {"cases", std::move(list)}};
  return out.dump(2) + "\n";
}

}  // namespace mend::scenario
