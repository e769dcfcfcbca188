// PLACEHOLDER: replaced by the real command.
#include "tools/audit/commands.h"
namespace mend::audit {
int RunReport(const Args&) { return UsageError("RunReport: not built yet"); }
}  // namespace mend::audit
