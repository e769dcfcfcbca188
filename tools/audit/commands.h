// The commands of mend-audit, one file each (<name>_command.cc); audit_main.cc
// dispatches on the first argument. Each returns the exit code (audit_cli.h).
#ifndef MEND_TOOLS_AUDIT_COMMANDS_H_
#define MEND_TOOLS_AUDIT_COMMANDS_H_

#include "tools/audit/audit_cli.h"

namespace mend::audit {

// verify: the chain, positions, stream versions and index, payloads, the
// tree against the newest signed head; with --heads and --public_key, every
// saved head's signature and that the log still extends it.
int RunVerify(const Args& args);
// heads save: appends the service's signed heads to a file kept elsewhere.
int RunHeads(const Args& args);
// prove: a bundle (record, inclusion proof, signed head) for one decision or
// position; check-proof: verifies a bundle with only it and the public key.
int RunProve(const Args& args);
int RunCheckProof(const Args& args);
// replay --until: the service's state at a point, as JSON.
int RunReplay(const Args& args);
// export --format jsonl: one event a line.
int RunExport(const Args& args);
// decisions --case ID | --all: the timeline of contact decisions and
// contacts across the four logs, and the completeness check.
int RunDecisions(const Args& args);
// report --case ID --html FILE: one self-contained HTML page.
int RunReport(const Args& args);

}  // namespace mend::audit

#endif  // MEND_TOOLS_AUDIT_COMMANDS_H_
