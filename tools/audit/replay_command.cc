// PLACEHOLDER: replaced by the real command.
#include "tools/audit/commands.h"
namespace mend::audit {
int RunReplay(const Args&) { return UsageError("RunReplay: not built yet"); }
}  // namespace mend::audit
