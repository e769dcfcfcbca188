#include "tests/bench/raw_scan.h"

#include <chrono>
#include <cstdio>
#include <cstdlib>
#include <memory>
#include <vector>

#include "common/eventlog/event_store.h"
#include "rocksdb/db.h"

namespace mend::bench {

double RawScanRate(const std::string& path, int64_t expected) {
  std::vector<std::string> names;
  rocksdb::DB::ListColumnFamilies({}, path, &names).PermitUncheckedError();
  std::vector<rocksdb::ColumnFamilyDescriptor> cfs;
  for (const auto& n : names) cfs.emplace_back(n, rocksdb::ColumnFamilyOptions());
  std::vector<rocksdb::ColumnFamilyHandle*> handles;
  rocksdb::DB* db = nullptr;
  if (!rocksdb::DB::OpenForReadOnly({}, path, cfs, &handles, &db).ok()) std::exit(1);
  rocksdb::ColumnFamilyHandle* events = nullptr;
  for (size_t i = 0; i < names.size(); ++i) {
    if (names[i] == eventlog::kEventsColumnFamily) events = handles[i];
  }
  rocksdb::ReadOptions ro;
  ro.readahead_size = 2 << 20;
  ro.fill_cache = false;
  int64_t count = 0;
  uint64_t bytes = 0;
  const auto start = std::chrono::steady_clock::now();
  {
    std::unique_ptr<rocksdb::Iterator> it(db->NewIterator(ro, events));
    for (it->SeekToFirst(); it->Valid(); it->Next()) {
      bytes += it->key().size() + it->value().size();
      ++count;
    }
  }
  const double elapsed =
      std::chrono::duration<double>(std::chrono::steady_clock::now() - start).count();
  for (auto* h : handles) db->DestroyColumnFamilyHandle(h);
  delete db;
  if (count != expected || bytes == 0) {
    std::fprintf(stderr, "raw scan saw %lld of %lld events\n",
                 static_cast<long long>(count), static_cast<long long>(expected));
    std::exit(1);
  }
  return static_cast<double>(count) / elapsed;
}

}  // namespace mend::bench
