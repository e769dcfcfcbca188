#include "common/runtime/backups.h"

#include <fcntl.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <cstring>
#include <filesystem>
#include <fstream>
#include <sstream>
#include <string>
#include <system_error>
#include <utility>
#include <vector>

#include "absl/strings/match.h"
#include "absl/strings/str_cat.h"
#include "absl/time/clock.h"
#include "common/base/status_macros.h"
#include "common/observability/logging.h"
#include "google/protobuf/util/json_util.h"

namespace mend {
namespace {

namespace fs = std::filesystem;

constexpr char kIncompletePrefix[] = ".incomplete-";

// fsync of a file or a directory, so a rename or a write survives a crash.
absl::Status SyncPath(const fs::path& path) {
  const int fd = ::open(path.c_str(), O_RDONLY | O_CLOEXEC);
  if (fd < 0) {
    return absl::UnavailableError(
        absl::StrCat("backup: cannot open ", path.string(), ": ", std::strerror(errno)));
  }
  const int rc = ::fsync(fd);
  const int err = errno;
  ::close(fd);
  if (rc != 0) {
    return absl::UnavailableError(
        absl::StrCat("backup: cannot sync ", path.string(), ": ", std::strerror(err)));
  }
  return absl::OkStatus();
}

uint64_t TreeBytes(const fs::path& dir) {
  uint64_t total = 0;
  std::error_code ec;
  for (fs::recursive_directory_iterator it(dir, ec), end; !ec && it != end;
       it.increment(ec)) {
    if (it->is_regular_file(ec)) total += it->file_size(ec);
  }
  return total;
}

absl::Status WriteManifest(const fs::path& path, const admin::v1::Backup& backup) {
  std::string json;
  google::protobuf::util::JsonPrintOptions print;
  print.add_whitespace = true;
  print.preserve_proto_field_names = true;
  if (!google::protobuf::util::MessageToJsonString(backup, &json, print).ok()) {
    return absl::InternalError("backup: cannot write the description as JSON");
  }
  {
    std::ofstream out(path, std::ios::binary | std::ios::trunc);
    out << json;
    out.close();
    if (!out) {
      return absl::UnavailableError(absl::StrCat("backup: cannot write ", path.string()));
    }
  }
  return SyncPath(path);
}

absl::StatusOr<admin::v1::Backup> ReadManifest(const fs::path& path) {
  std::ifstream in(path, std::ios::binary);
  if (!in) return absl::NotFoundError(absl::StrCat("no ", path.string()));
  std::stringstream text;
  text << in.rdbuf();
  admin::v1::Backup backup;
  if (!google::protobuf::util::JsonStringToMessage(text.str(), &backup).ok()) {
    return absl::DataLossError(absl::StrCat(path.string(), " does not parse"));
  }
  return backup;
}

}  // namespace

Backups::Backups(eventlog::EventStore* store, Options options)
    : store_(store), options_(std::move(options)) {}

absl::StatusOr<std::unique_ptr<Backups>> Backups::Open(eventlog::EventStore* store,
                                                       Options options) {
  if (options.dir.empty()) return absl::InvalidArgumentError("--backup_dir: empty");
  if (options.keep < 1) {
    return absl::InvalidArgumentError(
        absl::StrCat("--backup_keep: must be at least 1, got ", options.keep));
  }
  std::error_code ec;
  options.dir = fs::absolute(options.dir, ec).lexically_normal().string();
  while (options.dir.size() > 1 && options.dir.back() == '/') options.dir.pop_back();
  fs::create_directories(options.dir, ec);
  if (ec || !fs::is_directory(options.dir)) {
    return absl::FailedPreconditionError(absl::StrCat(
        "--backup_dir: cannot make ", options.dir, ec ? ": " + ec.message() : ""));
  }
  std::unique_ptr<Backups> backups(new Backups(store, std::move(options)));
  backups->RemoveIncomplete();
  if (backups->options_.observe) {
    absl::StatusOr<std::vector<admin::v1::Backup>> there = backups->List();
    if (there.ok() && !there->empty()) {
      backups->options_.observe(
          Outcome::kFoundAtOpen,
          absl::FromUnixMicros(there->back().created_unix_micros()));
    }
  }
  return backups;
}

void Backups::RemoveIncomplete() const {
  std::error_code ec;
  for (const fs::directory_entry& entry : fs::directory_iterator(options_.dir, ec)) {
    const std::string name = entry.path().filename().string();
    if (!absl::StartsWith(name, kIncompletePrefix)) continue;
    std::error_code removed;
    fs::remove_all(entry.path(), removed);
    log::Warn("removed an interrupted backup",
              {{"path", entry.path().string()},
               {"ok", !removed},
               {"error", removed ? removed.message() : ""}});
  }
}

absl::StatusOr<admin::v1::CreateBackupResponse> Backups::Take() {
  absl::MutexLock lock(&mu_);
  RemoveIncomplete();
  const absl::Time now = options_.clock();
  const std::string stamp =
      absl::FormatTime("%Y%m%dT%H%M%E3SZ", now, absl::UTCTimeZone());
  const fs::path staging =
      fs::path(options_.dir) / absl::StrCat(kIncompletePrefix, stamp);
  std::error_code ec;
  fs::create_directory(staging, ec);
  if (ec) {
    if (options_.observe) options_.observe(Outcome::kFailed, now);
    return absl::UnavailableError(
        absl::StrCat("backup: cannot make ", staging.string(), ": ", ec.message()));
  }
  auto discard = [&](absl::Status status) {
    std::error_code ignored;
    fs::remove_all(staging, ignored);
    log::Error("backup failed", {{"error", status.ToString()}});
    if (options_.observe) options_.observe(Outcome::kFailed, now);
    return status;
  };
  const eventlog::Head at_start = store_->GetHead();
  absl::StatusOr<eventlog::Head> head =
      store_->CreateCheckpoint((staging / kStoreDir).string());
  if (!head.ok()) return discard(head.status());

  // The name carries the head; one made in the same millisecond with the
  // same head (it cannot be another backup) gets a suffix.
  std::string name = absl::StrCat(stamp, "-", head->position);
  for (int n = 2; fs::exists(fs::path(options_.dir) / name, ec); ++n) {
    name = absl::StrCat(stamp, "-", head->position, "-", n);
  }
  const fs::path final_path = fs::path(options_.dir) / name;
  admin::v1::Backup backup;
  backup.set_name(name);
  backup.set_service(options_.service);
  backup.set_path(final_path.string());
  backup.set_head_position(head->position);
  backup.set_head_hash(head->hash);
  backup.set_created_unix_micros(absl::ToUnixMicros(now));
  backup.set_size_bytes(TreeBytes(staging / kStoreDir));
  if (absl::Status s = WriteManifest(staging / kManifestFile, backup); !s.ok()) {
    return discard(s);
  }
  if (absl::Status s = SyncPath(staging); !s.ok()) return discard(s);
  fs::rename(staging, final_path, ec);
  if (ec) {
    return discard(absl::UnavailableError(absl::StrCat(
        "backup: cannot rename ", staging.string(), " to ", name, ": ", ec.message())));
  }
  if (absl::Status s = SyncPath(options_.dir); !s.ok()) {
    // Renamed but perhaps not durably: the directory is whole either way.
    log::Warn("backup directory not synced", {{"error", s.ToString()}});
  }

  admin::v1::CreateBackupResponse response;
  *response.mutable_backup() = backup;
  response.set_head_position_at_start(at_start.position);
  // Prune the oldest complete backups beyond `keep`.
  absl::StatusOr<std::vector<admin::v1::Backup>> all = List();
  if (all.ok() && all->size() > static_cast<size_t>(options_.keep)) {
    const size_t excess = all->size() - static_cast<size_t>(options_.keep);
    for (size_t i = 0; i < excess; ++i) {
      const admin::v1::Backup& old = (*all)[i];
      if (old.name() == name) continue;
      std::error_code removed;
      fs::remove_all(fs::path(options_.dir) / old.name(), removed);
      if (removed) {
        log::Warn("could not prune a backup",
                  {{"backup", old.name()}, {"error", removed.message()}});
      } else {
        response.add_pruned(old.name());
      }
    }
  }
  if (options_.observe) options_.observe(Outcome::kTaken, now);
  log::Info("backup taken",
            {{"backup", name},
             {"head_position", static_cast<int64_t>(head->position)},
             {"head_position_at_start", static_cast<int64_t>(at_start.position)},
             {"size_bytes", static_cast<int64_t>(backup.size_bytes())},
             {"pruned", response.pruned_size()}});
  return response;
}

absl::StatusOr<std::vector<admin::v1::Backup>> Backups::List() const {
  std::vector<admin::v1::Backup> backups;
  std::error_code ec;
  fs::directory_iterator it(options_.dir, ec);
  if (ec) {
    return absl::UnavailableError(
        absl::StrCat("backup: cannot list ", options_.dir, ": ", ec.message()));
  }
  for (const fs::directory_entry& entry : it) {
    const std::string name = entry.path().filename().string();
    if (name.empty() || name[0] == '.' || !entry.is_directory(ec)) continue;
    absl::StatusOr<admin::v1::Backup> backup = ReadManifest(entry.path() / kManifestFile);
    if (!backup.ok() || backup->name() != name) {
      log::Warn("not a backup: skipped",
                {{"path", entry.path().string()},
                 {"error", backup.ok() ? "name differs" : backup.status().ToString()}});
      continue;
    }
    // Where it is now (the directory may have been moved with its volume).
    backup->set_path(entry.path().string());
    backups.push_back(*std::move(backup));
  }
  std::sort(backups.begin(), backups.end(),
            [](const admin::v1::Backup& a, const admin::v1::Backup& b) {
              if (a.created_unix_micros() != b.created_unix_micros()) {
                return a.created_unix_micros() < b.created_unix_micros();
              }
              return a.name() < b.name();
            });
  return backups;
}

}  // namespace mend
