// The machine-readable account of a run (--summary_json): per case the
// ordered steps — service, RPC, the log position each returned and, for a
// step the contact gate decided, the decision's kind, outcome, id and
// consent-log position — the stage changes, the audit's outcome, and the
// run's totals.
//
//   {"run_id": "3f9a2c", "cases_completed": 1, "elapsed_seconds": 9.4,
//    "commands": 74, "commands_per_second": 7.9,
//    "cases": [{"number": 1, "case_id": "…", "completed": true,
//               "facilitator_ids": ["ann-3f9a2c-1", "raj-3f9a2c-1"],
//               "steps": [{"service": "case", "rpc": "ReferCase", "position": 3}, …,
//                         {"service": "consent", "rpc": "DecideContact",
//                          "position": 41, "decision": {"kind": "APPROACH_VICTIM",
//                          "outcome": "REFUSED", "decision_id": "…",
//                          "consent_position": 41}}, …],
//               "decisions": [ …the steps' decisions, in order… ],
//               "stages": [{"from": "PREPARING", "to": "INDIRECT_CONTACT",
//                           "after": "ProgrammeCompleted"}, …],
//               "audit": {"decisions_exit": 0, "report_exit": 0,
//                         "report": "scenario-out/report-….html"}}]}
#ifndef MEND_TOOLS_SCENARIO_SUMMARY_H_
#define MEND_TOOLS_SCENARIO_SUMMARY_H_

#include <string>
#include <vector>

#include "absl/time/time.h"
#include "tools/scenario/timeline.h"

namespace mend::scenario {

// The run's commands (steps) in all cases.
int CommandCount(const std::vector<CaseRecord>& cases);

// The JSON text above (indented, with a trailing newline).
std::string SummaryJson(const std::string& run_id, const std::vector<CaseRecord>& cases,
                        absl::Duration elapsed);

}  // namespace mend::scenario

#endif  // MEND_TOOLS_SCENARIO_SUMMARY_H_
