// What mend-scenario shows and keeps of a run: the timeline it prints as it
// goes, one line per step —
//
//   12:00:03.120  consent     DecideContact APPROACH_VICTIM → REFUSED (decision 5f1c…):
//   the victim declined PARTICIPATE
//
// (time, service, what happened; for a step the contact gate decided, the
// kind, the outcome and the decision) — and, per case, the record of every
// command in order, which the summary JSON is written from.
#ifndef MEND_TOOLS_SCENARIO_TIMELINE_H_
#define MEND_TOOLS_SCENARIO_TIMELINE_H_

#include <cstdint>
#include <cstdio>
#include <optional>
#include <string>
#include <vector>

#include "absl/base/thread_annotations.h"
#include "absl/strings/string_view.h"
#include "absl/synchronization/mutex.h"
#include "mend/case/v1/events.pb.h"
#include "mend/common/v1/contact.pb.h"
#include "mend/consent/v1/events.pb.h"

namespace mend::scenario {

namespace case_v1 = ::mend::case_::v1;
namespace common_v1 = ::mend::common::v1;
namespace consent_v1 = ::mend::consent::v1;

// A contact decision as a step met it: made by the scenario itself
// (DecideContact) or by the service a contact went through (its approval).
struct DecisionRecord {
  common_v1::ContactKind kind = common_v1::CONTACT_KIND_UNSPECIFIED;
  consent_v1::Outcome outcome = consent_v1::OUTCOME_UNSPECIFIED;
  std::string decision_id;
  uint64_t consent_position = 0;  // the decision's own position
};

// One command: which service, which RPC, the position in that service's log
// it returned (its last event's), the decision it rests on, if any, and how
// many attempts it took.
struct StepRecord {
  std::string service;
  std::string rpc;
  uint64_t position = 0;
  std::optional<DecisionRecord> decision;
  int attempts = 1;  // more when the service was unavailable (restarting)
};

// A change of the case's stage as the case service reported it.
struct StageRecord {
  case_v1::Stage from = case_v1::STAGE_UNSPECIFIED;
  case_v1::Stage to = case_v1::STAGE_UNSPECIFIED;
  std::string after;  // the RPC, or the upstream event, it followed
};

// Everything one case of a run did.
struct CaseRecord {
  int number = 0;  // 1..--cases
  std::string case_id;
  std::vector<std::string> facilitator_ids;
  std::vector<StepRecord> steps;
  std::vector<StageRecord> stages;
  bool completed = false;  // the story reached the closure
  std::string failure;     // when not: the step, the code and the message
  // The audit of the case (mend-audit), once run: exit codes (-1 not run).
  int audit_decisions_exit = -1;
  int audit_report_exit = -1;
  std::string report_path;
};

// Prints the timeline. Thread-safe: each line is written whole.
class Timeline {
 public:
  // `tag_cases`: with several cases at once, each line names its case (#n).
  explicit Timeline(bool tag_cases, std::FILE* out = stdout)
      : tag_cases_(tag_cases), out_(out) {}

  // "HH:MM:SS.mmm  [#n  ]<service padded>  <text>", in local time.
  void Print(int case_number, absl::string_view service, absl::string_view text);

 private:
  const bool tag_cases_;
  std::FILE* const out_;
  absl::Mutex mu_;
};

// The first four characters of an id and an ellipsis: "5f1c…".
std::string ShortId(absl::string_view id);

// "APPROACH_VICTIM → REFUSED (decision 5f1c…)".
std::string DecisionText(const DecisionRecord& d);

// The reasons of a refusal in words, naming the parties by their part in the
// case ("the victim declined PARTICIPATE; NO_RISK_ASSESSMENT").
std::string ReasonsText(const consent_v1::ContactDecisionMade& decision);

}  // namespace mend::scenario

#endif  // MEND_TOOLS_SCENARIO_TIMELINE_H_
