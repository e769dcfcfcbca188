// TreeHeadPublisher: signs the log's tree head with the service's Ed25519
// key (common/merkle/tree_head.h) and saves it beside the tree
// (EventStore::PutTreeHead): whenever `every_events` records were added
// since the last signed head, whenever `every` passed with any added, and
// once more at Stop (a drained service's last head covers its whole log).
//
//   TreeHeadPublisher heads(store, signer, {.service = "consent"});
//   heads.Start();
//   ...
//   heads.Stop();   // signs the final head
//
// A head is signed only at a size no head was signed at; what it signs is
// {service, size, the tree's root at that size, the time}. A failure to sign
// or save is logged and tried again at the next occasion (the service keeps
// serving: proofs do not need a signed head).
//
// Thread safety: Start and Stop from one thread; SignNow from any.
#ifndef MEND_COMMON_RUNTIME_TREE_HEADS_H_
#define MEND_COMMON_RUNTIME_TREE_HEADS_H_

#include <cstdint>
#include <string>
#include <thread>

#include "absl/base/thread_annotations.h"
#include "absl/status/status.h"
#include "absl/synchronization/mutex.h"
#include "absl/time/time.h"
#include "common/eventlog/event_store.h"
#include "common/merkle/tree_head.h"

namespace mend {

class TreeHeadPublisher {
 public:
  struct Options {
    std::string service;
    uint64_t every_events = 1000;
    absl::Duration every = absl::Minutes(1);
  };

  // `store` and `signer` must outlive the publisher.
  TreeHeadPublisher(eventlog::EventStore* store, const merkle::TreeHeadSigner* signer,
                    Options options);
  ~TreeHeadPublisher();  // Stop()

  void Start();
  // Signs the final head and stops. Idempotent.
  void Stop();

  // Signs and saves the head at the durable size now, unless a head was
  // signed at that size already (or the log is empty). The store's and the
  // signer's errors.
  absl::Status SignNow();

  uint64_t signed_size() const;

 private:
  void Run();

  eventlog::EventStore* const store_;
  const merkle::TreeHeadSigner* const signer_;
  const Options options_;

  mutable absl::Mutex mu_;
  uint64_t signed_size_ ABSL_GUARDED_BY(mu_) = 0;
  bool stopping_ ABSL_GUARDED_BY(mu_) = false;
  absl::Mutex sign_mu_;  // one SignNow at a time
  std::thread thread_;
};

}  // namespace mend

#endif  // MEND_COMMON_RUNTIME_TREE_HEADS_H_
