// mendctl's commands, one file each (<name>_command.cc). Each takes its
// positional arguments (after the command's name), reads its flags, prints
// its result and returns the exit code (cli.h).
#ifndef MEND_TOOLS_MENDCTL_COMMANDS_H_
#define MEND_TOOLS_MENDCTL_COMMANDS_H_

#include "tools/mendctl/cli.h"

namespace mend::ctl {

int RunCall(const Args& args);    // call SERVICE/METHOD ['{json}']
int RunHealth(const Args& args);  // health [case|...|GRPC_SERVICE_NAME]
int RunTail(const Args& args);    // tail SERVICE [--from N] [--limit N]
int RunHead(const Args& args);    // head SERVICE

}  // namespace mend::ctl

#endif  // MEND_TOOLS_MENDCTL_COMMANDS_H_
