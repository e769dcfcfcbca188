// A log's RocksDB database opened directly, with every column family: the
// way an insider with the files edits it, for the tamper tests (event_store.h
// names the column families; the keys are store_keys.h's). Open only on a
// copy no store has open. Failures are test failures.
#ifndef MEND_TESTS_SUPPORT_RAW_DB_H_
#define MEND_TESTS_SUPPORT_RAW_DB_H_

#include <cstdint>
#include <map>
#include <memory>
#include <string>
#include <vector>

#include "rocksdb/db.h"
#include "rocksdb/write_batch.h"

namespace mend::testing {

class RawDb {
 public:
  explicit RawDb(const std::string& path);
  ~RawDb();
  RawDb(const RawDb&) = delete;
  RawDb& operator=(const RawDb&) = delete;

  rocksdb::DB* db() { return db_.get(); }
  rocksdb::ColumnFamilyHandle* cf(const std::string& name) { return by_name_.at(name); }

  // Synced writes.
  void Write(rocksdb::WriteBatch* batch);
  void Put(const std::string& cf_name, const std::string& key, const std::string& value);

  // The record at `position` (empty and a test failure if none), every record
  // from `from` on, by position; and writing or deleting one.
  std::string Record(uint64_t position);
  std::map<uint64_t, std::string> Records(uint64_t from);
  void PutRecord(uint64_t position, const std::string& bytes);
  void DeleteRecord(uint64_t position);

 private:
  std::unique_ptr<rocksdb::DB> db_;
  std::vector<rocksdb::ColumnFamilyHandle*> handles_;
  std::map<std::string, rocksdb::ColumnFamilyHandle*> by_name_;
};

}  // namespace mend::testing

#endif  // MEND_TESTS_SUPPORT_RAW_DB_H_
