#include "tests/support/raw_db.h"

#include <gtest/gtest.h>

#include "common/eventlog/event_store.h"
#include "common/eventlog/store_keys.h"

namespace mend::testing {

RawDb::RawDb(const std::string& path) {
  std::vector<std::string> names;
  EXPECT_TRUE(rocksdb::DB::ListColumnFamilies({}, path, &names).ok());
  std::vector<rocksdb::ColumnFamilyDescriptor> cfs;
  for (const std::string& n : names) cfs.emplace_back(n, rocksdb::ColumnFamilyOptions());
  rocksdb::DB* raw = nullptr;
  const rocksdb::Status s = rocksdb::DB::Open({}, path, cfs, &handles_, &raw);
  EXPECT_TRUE(s.ok()) << s.ToString();
  db_.reset(raw);
  for (size_t i = 0; i < handles_.size(); ++i) by_name_[names[i]] = handles_[i];
}

RawDb::~RawDb() {
  for (rocksdb::ColumnFamilyHandle* h : handles_) db_->DestroyColumnFamilyHandle(h);
}

void RawDb::Write(rocksdb::WriteBatch* batch) {
  rocksdb::WriteOptions wo;
  wo.sync = true;
  const rocksdb::Status s = db_->Write(wo, batch);
  EXPECT_TRUE(s.ok()) << s.ToString();
}

void RawDb::Put(const std::string& cf_name, const std::string& key,
                const std::string& value) {
  rocksdb::WriteBatch batch;
  EXPECT_TRUE(batch.Put(cf(cf_name), key, value).ok());
  Write(&batch);
}

std::string RawDb::Record(uint64_t position) {
  std::string bytes;
  const rocksdb::Status s = db_->Get({}, cf(eventlog::kEventsColumnFamily),
                                     eventlog::PositionKey(position), &bytes);
  EXPECT_TRUE(s.ok()) << "record " << position << ": " << s.ToString();
  return bytes;
}

std::map<uint64_t, std::string> RawDb::Records(uint64_t from) {
  std::map<uint64_t, std::string> records;
  std::unique_ptr<rocksdb::Iterator> it(
      db_->NewIterator(rocksdb::ReadOptions(), cf(eventlog::kEventsColumnFamily)));
  for (it->Seek(eventlog::PositionKey(from)); it->Valid(); it->Next()) {
    records[eventlog::store_internal::GetBe64(it->key().ToStringView())] =
        it->value().ToString();
  }
  return records;
}

void RawDb::PutRecord(uint64_t position, const std::string& bytes) {
  Put(eventlog::kEventsColumnFamily, eventlog::PositionKey(position), bytes);
}

void RawDb::DeleteRecord(uint64_t position) {
  rocksdb::WriteBatch batch;
  EXPECT_TRUE(
      batch.Delete(cf(eventlog::kEventsColumnFamily), eventlog::PositionKey(position))
          .ok());
  Write(&batch);
}

}  // namespace mend::testing
