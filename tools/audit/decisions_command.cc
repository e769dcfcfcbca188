// mend-audit decisions: the timeline of a case's contact decisions and victim
// contacts across the four logs, and the completeness check (decisions.h).
//
//   mend-audit decisions --case_log DIR --consent_log DIR --scheduling_log DIR
//       --conference_log DIR (--case ID | --all)
#include <cstdio>
#include <optional>
#include <string>

#include "absl/flags/flag.h"
#include "absl/strings/str_cat.h"
#include "absl/time/time.h"
#include "tools/audit/commands.h"
#include "tools/audit/decisions.h"

ABSL_FLAG(std::string, case_log, "",
          "the case service's log: data directory or host:port");
ABSL_FLAG(std::string, consent_log, "", "the consent service's log");
ABSL_FLAG(std::string, scheduling_log, "", "the scheduling service's log");
ABSL_FLAG(std::string, conference_log, "", "the conference service's log");
ABSL_FLAG(std::string, case, "", "decisions, report: the case to audit");
ABSL_FLAG(bool, all, false, "decisions: every case in the case log");

namespace mend::audit {
namespace {

std::string Time(int64_t micros) {
  return absl::FormatTime("%Y-%m-%dT%H:%M:%E3SZ", absl::FromUnixMicros(micros),
                          absl::UTCTimeZone());
}

std::string_view Mark(TimelineEntry::Kind kind) {
  switch (kind) {
    case TimelineEntry::Kind::kDecision:
      return "decision";
    case TimelineEntry::Kind::kContact:
      return "CONTACT ";
    case TimelineEntry::Kind::kUndo:
      return "undoes  ";
    case TimelineEntry::Kind::kFact:
      break;
  }
  return "        ";
}

void PrintCase(const CaseAudit& audit) {
  std::printf("case %s\n", audit.case_id.c_str());
  for (const TimelineEntry& e : audit.timeline) {
    if (e.kind == TimelineEntry::Kind::kFact) continue;  // decisions and contacts
    std::string line =
        absl::StrCat("  ", Time(e.recorded_unix_micros), "  ", std::string(Mark(e.kind)),
                     "  ", std::string(ServiceName(e.log)), " #", e.position, "  ",
                     e.event_type, ": ", e.summary);
    if (e.kind == TimelineEntry::Kind::kContact) {
      absl::StrAppend(&line, "  ← decision ", e.decision_id, " (consent #",
                      e.decision_position, ")");
    }
    if (!e.findings.empty())
      absl::StrAppend(&line, "  [", e.findings.size(), " finding(s)]");
    std::printf("%s\n", line.c_str());
  }
  for (const DecisionFinding& f : audit.findings) {
    std::printf("%s %s position %llu: %s\n", std::string(KindName(f.kind)).c_str(),
                std::string(ServiceName(f.log)).c_str(),
                static_cast<unsigned long long>(f.position), f.problem.c_str());
  }
  std::printf(
      "  %d decision(s) (%d approved, %d refused, %d re-run to themselves), %d "
      "contact(s): "
      "%s\n",
      audit.decisions, audit.approved, audit.refused, audit.reruns_matching,
      audit.contacts,
      audit.findings.empty()
          ? "every contact rests on an approval given at that moment"
          : absl::StrCat(audit.findings.size(), " finding(s)").c_str());
}

}  // namespace

absl::StatusOr<AuditLogs> LoadLogsFromFlags(const std::optional<std::string>& case_id) {
  return LoadAuditLogs({.case_log = absl::GetFlag(FLAGS_case_log),
                        .consent = absl::GetFlag(FLAGS_consent_log),
                        .scheduling = absl::GetFlag(FLAGS_scheduling_log),
                        .conference = absl::GetFlag(FLAGS_conference_log),
                        .connect = ConnectFlags()},
                       case_id);
}

std::string CaseFlag() { return absl::GetFlag(FLAGS_case); }

int RunDecisions(const Args& args) {
  if (!args.empty()) return UsageError("decisions takes no positional arguments");
  const std::string case_id = absl::GetFlag(FLAGS_case);
  const bool all = absl::GetFlag(FLAGS_all);
  if (case_id.empty() == !all) return UsageError("decisions needs --case ID or --all");
  absl::StatusOr<AuditLogs> logs =
      LoadLogsFromFlags(all ? std::nullopt : std::optional<std::string>(case_id));
  if (!logs.ok()) return IoError(logs.status());
  bool findings = false;
  for (const LogRecords* log :
       {&logs->case_log, &logs->consent, &logs->scheduling, &logs->conference}) {
    if (log->verification.has_value()) {
      PrintFinding(*log->verification);
      findings = true;
    }
  }
  std::vector<std::string> cases =
      all ? CaseIds(*logs) : std::vector<std::string>{case_id};
  if (!all && !logs->case_log.by_case.contains(case_id)) {
    return UsageError(absl::StrCat("case ", case_id, " is not in the case log"));
  }
  int violations = 0, races = 0, contacts = 0, decisions = 0;
  for (const std::string& id : cases) {
    CaseAudit audit = AuditCase(*logs, id);
    PrintCase(audit);
    contacts += audit.contacts;
    decisions += audit.decisions;
    for (const DecisionFinding& f : audit.findings) {
      (f.kind == DecisionFinding::Kind::kRace ? races : violations)++;
    }
  }
  std::printf("%zu case(s), %d decision(s), %d contact(s): %d violation(s), %d race(s)\n",
              cases.size(), decisions, contacts, violations, races);
  return findings || violations > 0 || races > 0 ? kExitFinding : kExitOk;
}

}  // namespace mend::audit
