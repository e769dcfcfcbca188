// One mutex per key (e.g. per case): commands on one aggregate run one at a
// time, commands on different aggregates in parallel.
//
//   KeyedMutexes locks;
//   std::shared_ptr<absl::Mutex> m = locks.For(case_id);
//   absl::MutexLock lock(m.get());
//
// Mutexes are made on first use and kept (one small object per key ever
// used). Thread-safe.
#ifndef MEND_COMMON_BASE_KEYED_MUTEX_H_
#define MEND_COMMON_BASE_KEYED_MUTEX_H_

#include <memory>
#include <string>

#include "absl/base/thread_annotations.h"
#include "absl/container/flat_hash_map.h"
#include "absl/synchronization/mutex.h"

namespace mend {

class KeyedMutexes {
 public:
  // The mutex of `key`; the same object for the same key, always.
  std::shared_ptr<absl::Mutex> For(const std::string& key) {
    absl::MutexLock lock(&mu_);
    std::shared_ptr<absl::Mutex>& m = mutexes_[key];
    if (m == nullptr) m = std::make_shared<absl::Mutex>();
    return m;
  }

 private:
  absl::Mutex mu_;
  absl::flat_hash_map<std::string, std::shared_ptr<absl::Mutex>> mutexes_
      ABSL_GUARDED_BY(mu_);
};

}  // namespace mend

#endif  // MEND_COMMON_BASE_KEYED_MUTEX_H_
