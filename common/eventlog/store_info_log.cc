#include "common/eventlog/store_info_log.h"

#include <fcntl.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cerrno>
#include <cstdio>
#include <utility>

#include "absl/time/clock.h"
#include "absl/time/time.h"

namespace mend::eventlog {
namespace {

int OpenForAppend(const std::string& path, uint64_t* size) {
  const int fd = open(path.c_str(), O_WRONLY | O_CREAT | O_APPEND | O_CLOEXEC, 0644);
  struct stat st;
  *size = (fd >= 0 && fstat(fd, &st) == 0) ? static_cast<uint64_t>(st.st_size) : 0;
  return fd;
}

}  // namespace

StoreInfoLog::StoreInfoLog(std::string path, uint64_t max_bytes,
                           rocksdb::InfoLogLevel level)
    : rocksdb::Logger(level), path_(std::move(path)), max_bytes_(max_bytes) {
  absl::MutexLock lock(&mu_);
  fd_ = OpenForAppend(path_, &size_);
}

StoreInfoLog::~StoreInfoLog() { CloseImpl().PermitUncheckedError(); }

rocksdb::Status StoreInfoLog::CloseImpl() {
  absl::MutexLock lock(&mu_);
  if (fd_ >= 0) close(fd_);
  fd_ = -1;
  return rocksdb::Status::OK();
}

size_t StoreInfoLog::GetLogFileSize() const {
  absl::MutexLock lock(&mu_);
  return size_;
}

void StoreInfoLog::RotateIfLarge() {
  if (size_ < max_bytes_) return;
  if (fd_ >= 0) close(fd_);
  // If the rename fails (full disk, say), the file is reopened and grows.
  std::rename(path_.c_str(), (path_ + ".old").c_str());
  fd_ = OpenForAppend(path_, &size_);
}

void StoreInfoLog::Logv(const char* format, va_list ap) {
  char line[1024];
  const std::string stamp =
      absl::FormatTime("%Y/%m/%d-%H:%M:%E6S ", absl::Now(), absl::UTCTimeZone());
  size_t n = stamp.copy(line, sizeof(line) - 2);
  va_list copy;
  va_copy(copy, ap);
  const int written = std::vsnprintf(line + n, sizeof(line) - n - 1, format, copy);
  va_end(copy);
  if (written < 0) {
    dropped_.fetch_add(1, std::memory_order_relaxed);
    return;
  }
  n = std::min(n + static_cast<size_t>(written), sizeof(line) - 2);
  if (line[n - 1] != '\n') line[n++] = '\n';
  absl::MutexLock lock(&mu_);
  RotateIfLarge();
  if (fd_ < 0) {
    dropped_.fetch_add(1, std::memory_order_relaxed);
    return;
  }
  const ssize_t w = write(fd_, line, n);
  if (w != static_cast<ssize_t>(n)) {
    dropped_.fetch_add(1, std::memory_order_relaxed);
    if (w > 0) size_ += static_cast<uint64_t>(w);
    return;
  }
  size_ += n;
}

}  // namespace mend::eventlog
