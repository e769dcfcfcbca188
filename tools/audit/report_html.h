// The audit report of one case as one self-contained HTML page: no script,
// no external font, style or image — it opens from a file, offline, years
// later, and prints.
//
// At the top, what was verified (each log: its records, the chain and the
// newest signed head) and the findings; below, the case's four logs as
// lanes of one timeline (a row per event, in time order), each contact
// linked to the decision it rests on, each finding marked where it is.
// Ids and enum names only: the logs' personal data is sealed and stays so.
#ifndef MEND_TOOLS_AUDIT_REPORT_HTML_H_
#define MEND_TOOLS_AUDIT_REPORT_HTML_H_

#include <string>
#include <string_view>

#include "absl/time/time.h"
#include "tools/audit/decisions.h"

namespace mend::audit {

// `generated`: when the report was made (printed in it).
std::string RenderReport(const AuditLogs& logs, const CaseAudit& audit,
                         absl::Time generated);

// Text as HTML (&, <, >, " and ' escaped).
std::string HtmlEscape(std::string_view text);

}  // namespace mend::audit

#endif  // MEND_TOOLS_AUDIT_REPORT_HTML_H_
