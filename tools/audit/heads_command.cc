// PLACEHOLDER: replaced by the real command.
#include "tools/audit/commands.h"
namespace mend::audit {
int RunHeads(const Args&) { return UsageError("RunHeads: not built yet"); }
}  // namespace mend::audit
