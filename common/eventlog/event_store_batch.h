// The requests and batches of the event store's commit pipeline (see
// event_store.h): internal to the store's source files.
#ifndef MEND_COMMON_EVENTLOG_EVENT_STORE_BATCH_H_
#define MEND_COMMON_EVENTLOG_EVENT_STORE_BATCH_H_

#include <atomic>
#include <cstdint>
#include <string>
#include <vector>

#include "absl/container/flat_hash_map.h"
#include "absl/status/status.h"
#include "absl/status/statusor.h"
#include "common/eventlog/event_store.h"
#include "rocksdb/write_batch.h"

namespace mend::eventlog {

// One caller's write, waiting in a batch.
struct EventStore::Request {
  const WriteRequest* request;
  const std::vector<std::string>* digests;  // content digest of every event
  absl::StatusOr<WriteResult> result;       // set by the commit thread
};

// The requests that share one RocksDB write. Callers join the open batch;
// the commit thread lays it out and writes it; the sync thread fsyncs it and
// wakes its callers.
struct EventStore::Batch {
  std::vector<Request*> requests;  // in arrival order (= chain order)
  rocksdb::WriteBatch wb;
  size_t events = 0;
  uint64_t last_position = 0;  // head after this batch, if events > 0
  std::string last_hash;
  // Event ids laid out in this batch and not yet in RocksDB, for idempotency
  // between requests of the same batch.
  absl::flat_hash_map<std::string, PriorEvent> ids;
  absl::Status status;  // written before `durable` is set

  // The callers of a batch sleep on this one word, and a single futex wake
  // rouses exactly them (not the callers of other batches).
  void Wait() {
    while (durable.load(std::memory_order_acquire) == 0) {
      durable.wait(0, std::memory_order_acquire);
    }
  }
  void WakeAll() {
    durable.store(1, std::memory_order_release);
    durable.notify_all();
  }

 private:
  std::atomic<uint32_t> durable{0};
};

}  // namespace mend::eventlog

#endif  // MEND_COMMON_EVENTLOG_EVENT_STORE_BATCH_H_
