// Who a caller is: the four roles of mend and the verified caller identity.
// No gRPC here, so domain code (decide functions, views) can take a Caller
// and stay plain C++; common/auth.h verifies tokens into these.
#ifndef MEND_COMMON_BASE_ROLE_H_
#define MEND_COMMON_BASE_ROLE_H_

#include <string>
#include <string_view>

#include "absl/status/statusor.h"

namespace mend {

enum class Role {
  kFacilitator,  // works the cases allocated to them
  kManager,      // RJ Intervention Manager: approves sensitive cases
  kAuditor,      // reads everything, writes nothing
  kService,      // another mend service
  kOperator,     // runs the deployment: backups; sees no casework
};

// "facilitator", "manager", "auditor", "service": the `role` claim's values.
std::string_view RoleName(Role role);

// The Role named `name` (exactly as RoleName spells it); INVALID_ARGUMENT
// naming the four roles otherwise.
absl::StatusOr<Role> ParseRole(std::string_view name);

// Who is calling, as a verified token says.
struct Caller {
  std::string subject;
  Role role;
};

}  // namespace mend

#endif  // MEND_COMMON_BASE_ROLE_H_
