// The audit at the end of a run: mend-audit's `decisions` (every contact
// decision and victim contact of the case across the four logs, and the
// completeness check) and `report` (the HTML page), on the running services
// by address with an auditor's token, as an auditor would run them.
#ifndef MEND_TOOLS_SCENARIO_AUDIT_RUN_H_
#define MEND_TOOLS_SCENARIO_AUDIT_RUN_H_

#include <string>
#include <vector>

#include "absl/status/statusor.h"

namespace mend::scenario {

struct AuditOptions {
  std::string binary;  // mend-audit
  std::string case_address;
  std::string consent_address;
  std::string scheduling_address;
  std::string conference_address;
  std::string tls_ca;
  std::string tls_cert;
  std::string tls_key;
  std::string token_file;  // an auditor's token
  std::string out_dir;     // where its output and the report go
};

struct AuditResult {
  int decisions_exit = -1;  // mend-audit's exit codes: 0 clean, 1 findings, 2 error
  int report_exit = -1;
  std::string decisions_output;  // the file with what `decisions` printed
  std::string report_path;       // the HTML page
  // What `decisions` and `report` printed that a reader needs: each FINDING,
  // their closing lines and, on an error, what they wrote to stderr.
  std::vector<std::string> lines;
};

// mend-audit: `flag` if given, else the mend-audit next to this program (an
// installation), else the build tree's (tools/audit beside tools/scenario).
// NOT_FOUND naming where it looked.
absl::StatusOr<std::string> FindAuditBinary(const std::string& flag);

// Runs both commands for `case_id`, their output in out_dir
// (audit-<case_id>.txt, report-<case_id>.html). An error only when mend-audit
// cannot be started; its findings are in the exit codes.
absl::StatusOr<AuditResult> AuditCase(const AuditOptions& options,
                                      const std::string& case_id);

}  // namespace mend::scenario

#endif  // MEND_TOOLS_SCENARIO_AUDIT_RUN_H_
