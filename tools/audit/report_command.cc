// mend-audit report: one self-contained HTML page for a case (report_html.h)
// from the four logs, with the completeness check's findings marked.
//
//   mend-audit report --case_log DIR --consent_log DIR --scheduling_log DIR
//       --conference_log DIR --case ID --html FILE
#include <cstdio>
#include <string>

#include "absl/flags/flag.h"
#include "absl/strings/str_cat.h"
#include "absl/time/clock.h"
#include "tools/audit/commands.h"
#include "tools/audit/decisions.h"
#include "tools/audit/report_html.h"

ABSL_FLAG(std::string, html, "", "report: the HTML file to write");

namespace mend::audit {

int RunReport(const Args& args) {
  if (!args.empty()) return UsageError("report takes no positional arguments");
  const std::string case_id = CaseFlag();
  const std::string out = absl::GetFlag(FLAGS_html);
  if (case_id.empty()) return UsageError("report needs --case ID");
  if (out.empty()) return UsageError("report needs --html FILE");
  absl::StatusOr<AuditLogs> logs = LoadLogsFromFlags(case_id);
  if (!logs.ok()) return IoError(logs.status());
  if (!logs->case_log.by_case.contains(case_id)) {
    return UsageError(absl::StrCat("case ", case_id, " is not in the case log"));
  }
  const CaseAudit audit = AuditCase(*logs, case_id);
  if (absl::Status s = WriteFileDurably(out, RenderReport(*logs, audit, absl::Now()));
      !s.ok()) {
    return IoError(s);
  }
  const bool broken = logs->case_log.verification || logs->consent.verification ||
                      logs->scheduling.verification || logs->conference.verification;
  std::printf("report of case %s: %s (%d decision(s), %d contact(s), %zu finding(s))\n",
              case_id.c_str(), out.c_str(), audit.decisions, audit.contacts,
              audit.findings.size());
  return broken || !audit.findings.empty() ? kExitFinding : kExitOk;
}

}  // namespace mend::audit
