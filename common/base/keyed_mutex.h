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
#include <set>
#include <string>
#include <vector>

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

// Holds the mutexes of a set of keys, taken in key order (so holders of
// overlapping sets cannot deadlock) and released in reverse, e.g. the cases
// of a command across linked cases, or the facilitators of a booking.
class LockSet {
 public:
  LockSet(KeyedMutexes& locks,
          const std::set<std::string>& keys) ABSL_NO_THREAD_SAFETY_ANALYSIS {
    held_.reserve(keys.size());
    for (const std::string& key : keys) {
      held_.push_back(locks.For(key));
      held_.back()->Lock();
    }
  }
  ~LockSet() ABSL_NO_THREAD_SAFETY_ANALYSIS {
    for (auto it = held_.rbegin(); it != held_.rend(); ++it) (*it)->Unlock();
  }
  LockSet(const LockSet&) = delete;
  LockSet& operator=(const LockSet&) = delete;

 private:
  std::vector<std::shared_ptr<absl::Mutex>> held_;
};

}  // namespace mend

#endif  // MEND_COMMON_BASE_KEYED_MUTEX_H_
