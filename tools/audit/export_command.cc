// PLACEHOLDER: replaced by the real command.
#include "tools/audit/commands.h"
namespace mend::audit {
int RunExport(const Args&) { return UsageError("RunExport: not built yet"); }
}  // namespace mend::audit
