// PLACEHOLDER: replaced by the real command.
#include "tools/audit/commands.h"
namespace mend::audit {
int RunDecisions(const Args&) { return UsageError("RunDecisions: not built yet"); }
}  // namespace mend::audit
