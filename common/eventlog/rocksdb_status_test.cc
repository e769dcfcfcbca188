#include "common/eventlog/rocksdb_status.h"

#include <gmock/gmock.h>
#include <gtest/gtest.h>

#include "rocksdb/status.h"

namespace mend {
namespace {

using ::testing::HasSubstr;

TEST(FromRocksDbTest, OkIsOk) {
  EXPECT_TRUE(FromRocksDb(rocksdb::Status::OK(), "x").ok());
}

TEST(FromRocksDbTest, EachCodeMapsAsTheHeaderSays) {
  const struct {
    rocksdb::Status in;
    absl::StatusCode want;
  } rows[] = {
      {rocksdb::Status::NotFound("k"), absl::StatusCode::kNotFound},
      {rocksdb::Status::InvalidArgument("k"), absl::StatusCode::kInvalidArgument},
      {rocksdb::Status::Busy("k"), absl::StatusCode::kUnavailable},
      {rocksdb::Status::TimedOut("k"), absl::StatusCode::kUnavailable},
      {rocksdb::Status::TryAgain("k"), absl::StatusCode::kUnavailable},
      {rocksdb::Status::IOError("k"), absl::StatusCode::kUnavailable},
      {rocksdb::Status::ShutdownInProgress("k"), absl::StatusCode::kUnavailable},
      {rocksdb::Status::Aborted("k"), absl::StatusCode::kUnavailable},
      {rocksdb::Status::Corruption("k"), absl::StatusCode::kDataLoss},
      {rocksdb::Status::NotSupported("k"), absl::StatusCode::kFailedPrecondition},
      {rocksdb::Status::Incomplete("k"), absl::StatusCode::kInternal},
      {rocksdb::Status::Expired("k"), absl::StatusCode::kInternal},
  };
  for (const auto& row : rows) {
    const absl::Status s = FromRocksDb(row.in, "open log");
    EXPECT_EQ(s.code(), row.want) << row.in.ToString();
    EXPECT_THAT(s.message(), HasSubstr("open log: "));
    EXPECT_THAT(s.message(), HasSubstr(row.in.ToString()));
  }
}

TEST(FromRocksDbTest, NoSpaceIsUnavailableAndSaysDiskFull) {
  const absl::Status s = FromRocksDb(
      rocksdb::Status::NoSpace("While appending to file: 000004.log"), "write");
  EXPECT_EQ(s.code(), absl::StatusCode::kUnavailable);
  EXPECT_THAT(s.message(), HasSubstr("write: disk full: "));
  EXPECT_THAT(s.message(), HasSubstr("000004.log"));
  EXPECT_THAT(FromRocksDb(rocksdb::Status::IOError("k"), "write").message(),
              ::testing::Not(HasSubstr("disk full")));
}

}  // namespace
}  // namespace mend
