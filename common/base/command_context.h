// Who runs a command, and when: what the command path hands every service's
// decide functions, so domain code never reads a clock or a token.
#ifndef MEND_COMMON_BASE_COMMAND_CONTEXT_H_
#define MEND_COMMON_BASE_COMMAND_CONTEXT_H_

#include <string>

#include "absl/time/time.h"
#include "common/base/role.h"

namespace mend {

struct CommandContext {
  std::string actor_id;  // the caller's token subject
  Role role = Role::kFacilitator;
  // The command's time, read once by the command path: it becomes the
  // recorded time of what the command decides, and the "now" of any rule
  // that depends on time (a lapsed review, a retention period).
  absl::Time now = absl::UnixEpoch();
};

}  // namespace mend

#endif  // MEND_COMMON_BASE_COMMAND_CONTEXT_H_
