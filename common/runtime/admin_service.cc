#include "common/runtime/admin_service.h"

#include <utility>
#include <vector>

#include "common/observability/logging.h"
#include "common/rpc/grpc_reply.h"

namespace mend {

const MethodPolicy::Table& AdminPolicy() {
  static const MethodPolicy::Table* const table = new MethodPolicy::Table{
      {kAdminCreateBackupMethod, {Role::kOperator}},
      {kAdminListBackupsMethod, {Role::kOperator}},
  };
  return *table;
}

grpc::ServerUnaryReactor* AdminService::CreateBackup(
    grpc::CallbackServerContext* context,
    const admin::v1::CreateBackupRequest* /*request*/,
    admin::v1::CreateBackupResponse* response) {
  if (absl::StatusOr<Caller> caller =
          authorizer_->Authorize(*context, kAdminCreateBackupMethod);
      !caller.ok()) {
    return Reply(context, caller.status());
  } else {
    log::Info("backup requested", {{"subject", caller->subject}});
  }
  return Reply(context, backups_->Take(), response);
}

grpc::ServerUnaryReactor* AdminService::ListBackups(
    grpc::CallbackServerContext* context,
    const admin::v1::ListBackupsRequest* /*request*/,
    admin::v1::ListBackupsResponse* response) {
  if (absl::StatusOr<Caller> caller =
          authorizer_->Authorize(*context, kAdminListBackupsMethod);
      !caller.ok()) {
    return Reply(context, caller.status());
  }
  absl::StatusOr<std::vector<admin::v1::Backup>> backups = backups_->List();
  if (!backups.ok()) return Reply(context, backups.status());
  for (admin::v1::Backup& b : *backups) *response->add_backups() = std::move(b);
  return Reply(context, absl::OkStatus());
}

}  // namespace mend
