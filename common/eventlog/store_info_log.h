// StoreInfoLog: RocksDB's info log ("LOG" in the database directory) for the
// event store, written so that a full or failing disk can never abort the
// process.
//
//   db_options.info_log = std::make_shared<StoreInfoLog>(path + "/LOG");
//
// RocksDB's own file logger goes through a WritableFileWriter, which in the
// Debian build (assertions on) aborts on the first write after a failed one:
// on a full disk the very message reporting "No space left on device" killed
// the process. This logger writes each line with one write(2) and drops lines
// it cannot write (counted in dropped()). When the file passes
// `max_bytes` it is renamed to LOG.old (replacing it) and a new one begun.
//
// Thread safety: Logv may be called from any thread (RocksDB does).
#ifndef MEND_COMMON_EVENTLOG_STORE_INFO_LOG_H_
#define MEND_COMMON_EVENTLOG_STORE_INFO_LOG_H_

#include <atomic>
#include <cstdarg>
#include <cstdint>
#include <string>

#include "absl/base/thread_annotations.h"
#include "absl/synchronization/mutex.h"
#include "rocksdb/env.h"

namespace mend::eventlog {

class StoreInfoLog final : public rocksdb::Logger {
 public:
  // Opens (appends to) `path`; if it cannot be opened the logger drops every
  // line (a store on a full disk still opens).
  explicit StoreInfoLog(std::string path, uint64_t max_bytes = 8 << 20,
                        rocksdb::InfoLogLevel level = rocksdb::InfoLogLevel::INFO_LEVEL);
  ~StoreInfoLog() override;

  using rocksdb::Logger::Logv;
  void Logv(const char* format, va_list ap) override;
  size_t GetLogFileSize() const override;

  // Lines that could not be written.
  uint64_t dropped() const { return dropped_.load(std::memory_order_relaxed); }

 private:
  rocksdb::Status CloseImpl() override;
  void RotateIfLarge() ABSL_EXCLUSIVE_LOCKS_REQUIRED(mu_);

  const std::string path_;
  const uint64_t max_bytes_;
  std::atomic<uint64_t> dropped_{0};
  mutable absl::Mutex mu_;
  int fd_ ABSL_GUARDED_BY(mu_) = -1;
  uint64_t size_ ABSL_GUARDED_BY(mu_) = 0;
};

}  // namespace mend::eventlog

#endif  // MEND_COMMON_EVENTLOG_STORE_INFO_LOG_H_
