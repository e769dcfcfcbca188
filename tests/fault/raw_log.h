// Tests only: changes an event log's RocksDB database directly, as someone
// with access to the disk would (the store is not open meanwhile), to show
// that the store notices.
//
//   ASSERT_THAT(raw_log::FlipByte(dir, 60, "payload-59"), IsOk());
//   ASSERT_THAT(raw_log::DeleteRecords(dir, 260, 269), IsOk());
//
// Every function opens the database, makes its change with a synced write and
// closes it again. INTERNAL if RocksDB refuses, NOT_FOUND if a record or the
// text to change is missing. Not thread-safe with anything else using `path`.
#ifndef MEND_TESTS_FAULT_RAW_LOG_H_
#define MEND_TESTS_FAULT_RAW_LOG_H_

#include <cstdint>
#include <functional>
#include <memory>
#include <string>
#include <vector>

#include "absl/status/status.h"
#include "absl/strings/str_cat.h"
#include "common/eventlog/event_store.h"
#include "rocksdb/db.h"

namespace mend::eventlog::raw_log {

// Opens the database at `path` with every column family and calls
// `fn(db, events, meta)`; returns its status.
inline absl::Status Edit(
    const std::string& path,
    const std::function<absl::Status(rocksdb::DB*, rocksdb::ColumnFamilyHandle* events,
                                     rocksdb::ColumnFamilyHandle* meta)>& fn) {
  std::vector<std::string> names;
  rocksdb::Status s = rocksdb::DB::ListColumnFamilies({}, path, &names);
  if (!s.ok()) return absl::InternalError(s.ToString());
  std::vector<rocksdb::ColumnFamilyDescriptor> cfs;
  for (const auto& n : names) cfs.emplace_back(n, rocksdb::ColumnFamilyOptions());
  std::vector<rocksdb::ColumnFamilyHandle*> handles;
  rocksdb::DB* raw = nullptr;
  s = rocksdb::DB::Open({}, path, cfs, &handles, &raw);
  if (!s.ok()) return absl::InternalError(s.ToString());
  std::unique_ptr<rocksdb::DB> db(raw);
  rocksdb::ColumnFamilyHandle* events = nullptr;
  rocksdb::ColumnFamilyHandle* meta = nullptr;
  for (size_t i = 0; i < names.size(); ++i) {
    if (names[i] == kEventsColumnFamily) events = handles[i];
    if (names[i] == kMetaColumnFamily) meta = handles[i];
  }
  absl::Status result = events != nullptr && meta != nullptr
                            ? fn(db.get(), events, meta)
                            : absl::NotFoundError("no events or meta column family");
  for (auto* h : handles) db->DestroyColumnFamilyHandle(h);
  db->Close().PermitUncheckedError();
  return result;
}

inline rocksdb::WriteOptions Synced() {
  rocksdb::WriteOptions wo;
  wo.sync = true;
  return wo;
}

// Rewrites the record at `position` with `change` applied to its bytes.
inline absl::Status ChangeRecord(const std::string& path, uint64_t position,
                                 const std::function<void(std::string&)>& change) {
  return Edit(path,
              [&](rocksdb::DB* db, rocksdb::ColumnFamilyHandle* events,
                  rocksdb::ColumnFamilyHandle*) -> absl::Status {
                std::string value;
                rocksdb::Status s = db->Get({}, events, PositionKey(position), &value);
                if (!s.ok())
                  return absl::NotFoundError(
                      absl::StrCat("record ", position, ": ", s.ToString()));
                change(value);
                s = db->Put(Synced(), events, PositionKey(position), value);
                return s.ok() ? absl::OkStatus() : absl::InternalError(s.ToString());
              });
}

// Flips the lowest bit of the byte `offset` bytes into the first occurrence
// of `text` in the record at `position` (e.g. inside its payload).
inline absl::Status FlipByte(const std::string& path, uint64_t position,
                             const std::string& text, size_t offset = 0) {
  bool found = false;
  absl::Status s = ChangeRecord(path, position, [&](std::string& v) {
    const size_t at = v.find(text);
    if (at == std::string::npos || offset >= text.size()) return;
    v[at + offset] ^= 0x01;
    found = true;
  });
  if (s.ok() && !found) {
    return absl::NotFoundError(absl::StrCat("record ", position, " has no ", text));
  }
  return s;
}

// Deletes the records at positions first..last (inclusive), leaving the
// stored head as it is.
inline absl::Status DeleteRecords(const std::string& path, uint64_t first,
                                  uint64_t last) {
  return Edit(path,
              [&](rocksdb::DB* db, rocksdb::ColumnFamilyHandle* events,
                  rocksdb::ColumnFamilyHandle*) -> absl::Status {
                for (uint64_t p = first; p <= last; ++p) {
                  rocksdb::Status s = db->Delete(Synced(), events, PositionKey(p));
                  if (!s.ok()) return absl::InternalError(s.ToString());
                }
                return absl::OkStatus();
              });
}

// Replaces the stored head's value (position:be64 hash:32) with the result
// of `change` applied to it.
inline absl::Status ChangeStoredHead(const std::string& path,
                                     const std::function<void(std::string&)>& change) {
  return Edit(path,
              [&](rocksdb::DB* db, rocksdb::ColumnFamilyHandle*,
                  rocksdb::ColumnFamilyHandle* meta) -> absl::Status {
                std::string value;
                rocksdb::Status s = db->Get({}, meta, kHeadKey, &value);
                if (!s.ok())
                  return absl::NotFoundError(absl::StrCat("stored head: ", s.ToString()));
                change(value);
                s = db->Put(Synced(), meta, kHeadKey, value);
                return s.ok() ? absl::OkStatus() : absl::InternalError(s.ToString());
              });
}

}  // namespace mend::eventlog::raw_log

#endif  // MEND_TESTS_FAULT_RAW_LOG_H_
