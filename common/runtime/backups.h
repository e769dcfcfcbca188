// Backups: consistent backups of a service's store, taken while it serves,
// kept under one directory (--backup_dir, by default <data_dir>/backups: on
// the log's volume, so the RocksDB checkpoint hard-links its SST files).
//
//   MEND_ASSIGN_OR_RETURN(auto backups, Backups::Open(store, {.service = "case",
//                                                     .dir = "/var/lib/mend/backups"}));
//   MEND_ASSIGN_OR_RETURN(admin::v1::CreateBackupResponse taken, backups->Take());
//
// A backup is a directory <dir>/<name> (name: <UTC time>-<head position>)
// holding `eventlog/`, the store's checkpoint (EventStore::CreateCheckpoint),
// and `backup.json`, its mend.admin.v1.Backup as JSON. It is made as
// <dir>/.incomplete-<time> and renamed into place only once complete and
// synced, so a directory without the dot is a whole backup; what a crash
// leaves behind is removed by the next Open or Take. After each backup the
// oldest beyond `keep` are removed.
//
// A backup holds the per-person data keys as they were when it was taken:
// a person erased afterwards (I6) stays readable in the backups taken
// before, until they are pruned. `keep` and the backup schedule bound how
// long that is (README, "Backup and restore").
//
// Thread safety: every method may be called from any thread; Take runs one
// backup at a time (a second call waits for the first).
#ifndef MEND_COMMON_RUNTIME_BACKUPS_H_
#define MEND_COMMON_RUNTIME_BACKUPS_H_

#include <functional>
#include <memory>
#include <string>
#include <vector>

#include "absl/status/statusor.h"
#include "absl/synchronization/mutex.h"
#include "absl/time/time.h"
#include "common/eventlog/event_store.h"
#include "mend/admin/v1/admin.pb.h"

namespace mend {

class Backups {
 public:
  enum class Outcome { kTaken, kFailed, kFoundAtOpen };
  struct Options {
    std::string service;  // "case", "consent", ...: recorded in each backup
    std::string dir;      // where backups are kept (made if missing)
    int keep = 7;         // complete backups kept (>= 1)
    std::function<absl::Time()> clock = absl::Now;
    // For metrics: told of every Take's outcome (with the time it began),
    // and once by Open of the newest backup already there, if any.
    std::function<void(Outcome outcome, absl::Time when)> observe = nullptr;
  };

  // The name of a backup's description file, and of its store directory.
  static constexpr char kManifestFile[] = "backup.json";
  static constexpr char kStoreDir[] = "eventlog";

  // Makes `dir` if missing and removes what an interrupted backup left.
  // INVALID_ARGUMENT for an empty dir or keep < 1; FAILED_PRECONDITION if
  // the directory cannot be made.
  static absl::StatusOr<std::unique_ptr<Backups>> Open(eventlog::EventStore* store,
                                                       Options options);

  // Takes a backup now (see admin.proto, Admin.CreateBackup), then prunes.
  // The store's CreateCheckpoint errors (UNAVAILABLE: nothing is left of
  // the backup); UNAVAILABLE if the description cannot be written or synced.
  absl::StatusOr<admin::v1::CreateBackupResponse> Take() ABSL_LOCKS_EXCLUDED(mu_);

  // The complete backups, oldest first. A directory whose description does
  // not parse is skipped (and logged): it is not a backup this could restore.
  absl::StatusOr<std::vector<admin::v1::Backup>> List() const;

  const Options& options() const { return options_; }

 private:
  Backups(eventlog::EventStore* store, Options options);
  // Removes every .incomplete-* directory.
  void RemoveIncomplete() const;

  eventlog::EventStore* const store_;
  const Options options_;
  absl::Mutex mu_;  // one backup at a time
};

}  // namespace mend

#endif  // MEND_COMMON_RUNTIME_BACKUPS_H_
