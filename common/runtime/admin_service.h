// AdminService: serves mend.admin.v1.Admin (admin.proto) over a service's
// Backups. Every call needs the `operator` role (AdminPolicy()); the runtime
// serves it beside EventLog, also while the log is being replayed.
//
// Thread safety: gRPC calls the handlers from its threads. The backups and
// the authorizer must outlive the service.
#ifndef MEND_COMMON_RUNTIME_ADMIN_SERVICE_H_
#define MEND_COMMON_RUNTIME_ADMIN_SERVICE_H_

#include "common/runtime/backups.h"
#include "common/security/auth.h"
#include "mend/admin/v1/admin.grpc.pb.h"

namespace mend {

inline constexpr char kAdminCreateBackupMethod[] = "/mend.admin.v1.Admin/CreateBackup";
inline constexpr char kAdminListBackupsMethod[] = "/mend.admin.v1.Admin/ListBackups";

// Who may call Admin: the operator role only.
const MethodPolicy::Table& AdminPolicy();

class AdminService final : public admin::v1::Admin::CallbackService {
 public:
  AdminService(Backups* backups, const Authorizer* authorizer)
      : backups_(backups), authorizer_(authorizer) {}

  grpc::ServerUnaryReactor* CreateBackup(
      grpc::CallbackServerContext* context, const admin::v1::CreateBackupRequest* request,
      admin::v1::CreateBackupResponse* response) override;
  grpc::ServerUnaryReactor* ListBackups(
      grpc::CallbackServerContext* context, const admin::v1::ListBackupsRequest* request,
      admin::v1::ListBackupsResponse* response) override;

 private:
  Backups* const backups_;
  const Authorizer* const authorizer_;
};

}  // namespace mend

#endif  // MEND_COMMON_RUNTIME_ADMIN_SERVICE_H_
