// PLACEHOLDER: replaced by the real command.
#include "tools/audit/commands.h"
namespace mend::audit {
int RunProve(const Args&) { return UsageError("RunProve: not built yet"); }
int RunCheckProof(const Args&) { return UsageError("RunCheckProof: not built yet"); }
}  // namespace mend::audit
