#include "common/eventlog/store_info_log.h"

#include <filesystem>
#include <fstream>
#include <string>

#include "gmock/gmock.h"
#include "gtest/gtest.h"
#include "rocksdb/env.h"
#include "tests/support/test_util.h"

namespace mend::eventlog {
namespace {

using ::mend::testing::TempDir;
using ::testing::HasSubstr;

std::shared_ptr<rocksdb::Logger> Base(const std::shared_ptr<StoreInfoLog>& log) {
  return log;
}

std::string ReadFile(const std::string& path) {
  std::ifstream in(path);
  return std::string((std::istreambuf_iterator<char>(in)),
                     std::istreambuf_iterator<char>());
}

TEST(StoreInfoLogTest, WritesEachLineAsItComes) {
  TempDir dir;
  std::shared_ptr<StoreInfoLog> info = std::make_shared<StoreInfoLog>(dir.Sub("LOG"));
  rocksdb::Log(rocksdb::InfoLogLevel::INFO_LEVEL, Base(info), "flushed %d files", 3);
  rocksdb::Log(rocksdb::InfoLogLevel::WARN_LEVEL, Base(info), "background error: %s",
               "No space left on device");
  const std::string text = ReadFile(dir.Sub("LOG"));
  EXPECT_THAT(text, HasSubstr("flushed 3 files\n"));
  EXPECT_THAT(text, HasSubstr("No space left on device\n"));
  EXPECT_EQ(info->GetLogFileSize(), text.size());
  EXPECT_EQ(info->dropped(), 0u);
}

TEST(StoreInfoLogTest, RotatesToLogOldWhenLarge) {
  TempDir dir;
  std::shared_ptr<StoreInfoLog> info =
      std::make_shared<StoreInfoLog>(dir.Sub("LOG"), /*max_bytes=*/200);
  for (int i = 0; i < 20; ++i)
    rocksdb::Log(rocksdb::InfoLogLevel::INFO_LEVEL, Base(info), "line %d of the info log",
                 i);
  EXPECT_TRUE(std::filesystem::exists(dir.Sub("LOG.old")));
  EXPECT_LT(std::filesystem::file_size(dir.Sub("LOG")), 200u + 100u);
  EXPECT_THAT(ReadFile(dir.Sub("LOG")), HasSubstr("line 19 of the info log"));
}

TEST(StoreInfoLogTest, UnwritablePathDropsLinesInsteadOfFailing) {
  TempDir dir;
  std::shared_ptr<StoreInfoLog> info =
      std::make_shared<StoreInfoLog>(dir.Sub("missing-dir/LOG"));
  rocksdb::Log(rocksdb::InfoLogLevel::INFO_LEVEL, Base(info), "nowhere to go");
  rocksdb::Log(rocksdb::InfoLogLevel::ERROR_LEVEL, Base(info), "still nowhere");
  EXPECT_EQ(info->dropped(), 2u);
  EXPECT_FALSE(std::filesystem::exists(dir.Sub("missing-dir/LOG")));
}

}  // namespace
}  // namespace mend::eventlog
