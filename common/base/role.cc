#include "common/base/role.h"

#include "absl/status/status.h"

namespace mend {

std::string_view RoleName(Role role) {
  switch (role) {
    case Role::kFacilitator:
      return "facilitator";
    case Role::kManager:
      return "manager";
    case Role::kAuditor:
      return "auditor";
    case Role::kService:
      return "service";
    case Role::kOperator:
      return "operator";
  }
  return "unknown";
}

absl::StatusOr<Role> ParseRole(std::string_view name) {
  for (Role role : {Role::kFacilitator, Role::kManager, Role::kAuditor, Role::kService,
                    Role::kOperator}) {
    if (name == RoleName(role)) return role;
  }
  return absl::InvalidArgumentError(
      "role must be one of facilitator, manager, auditor, service, operator");
}

}  // namespace mend
