// mend-audit verify on the logs of real services: a clean log verifies over
// its directory (beside the running service, too) and over gRPC with an
// auditor token; copies with a changed byte, a removed record or a swapped
// pair are found at the right position (exit 1); bad arguments and
// unreadable directories are exit 2 with a message.
#include <filesystem>
#include <fstream>
#include <functional>
#include <memory>
#include <string>
#include <vector>

#include "absl/strings/str_cat.h"
#include "common/eventlog/event_store.h"
#include "gmock/gmock.h"
#include "gtest/gtest.h"
#include "rocksdb/db.h"
#include "tests/support/process.h"
#include "tests/support/service_processes.h"
#include "tests/support/test_util.h"

namespace mend {
namespace {

using ::mend::testing::IsOk;
using ::mend::testing::RunTool;
using ::mend::testing::ServiceProcesses;
using ::mend::testing::TempDir;
using ::mend::testing::ToolResult;
using ::testing::HasSubstr;
namespace common_v1 = ::mend::common::v1;

// Opens a copied log with RocksDB itself (every column family) and runs
// `edit` on it: how a tamperer with the files would change them.
void EditLog(
    const std::string& path,
    const std::function<void(rocksdb::DB*, rocksdb::ColumnFamilyHandle* events)>& edit) {
  std::vector<std::string> names;
  ASSERT_TRUE(rocksdb::DB::ListColumnFamilies({}, path, &names).ok());
  std::vector<rocksdb::ColumnFamilyDescriptor> cfs;
  for (const std::string& n : names) cfs.emplace_back(n, rocksdb::ColumnFamilyOptions());
  std::vector<rocksdb::ColumnFamilyHandle*> handles;
  rocksdb::DB* raw = nullptr;
  ASSERT_TRUE(rocksdb::DB::Open({}, path, cfs, &handles, &raw).ok());
  std::unique_ptr<rocksdb::DB> db(raw);
  rocksdb::ColumnFamilyHandle* events = nullptr;
  for (size_t i = 0; i < names.size(); ++i) {
    if (names[i] == eventlog::kEventsColumnFamily) events = handles[i];
  }
  ASSERT_NE(events, nullptr);
  edit(db.get(), events);
  for (auto* h : handles) db->DestroyColumnFamilyHandle(h);
}

std::string Get(rocksdb::DB* db, rocksdb::ColumnFamilyHandle* cf, uint64_t position) {
  std::string value;
  EXPECT_TRUE(db->Get({}, cf, eventlog::PositionKey(position), &value).ok()) << position;
  return value;
}
void Put(rocksdb::DB* db, rocksdb::ColumnFamilyHandle* cf, uint64_t position,
         const std::string& value) {
  rocksdb::WriteOptions wo;
  wo.sync = true;
  ASSERT_TRUE(db->Put(wo, cf, eventlog::PositionKey(position), value).ok());
}

class AuditVerifyTest : public ::testing::Test {
 protected:
  // One set of logs for the suite: a case ready for letters, consents, and
  // two decisions (one refused, one approved), written by real services.
  static void SetUpTestSuite() {
    processes_ = new ServiceProcesses(MEND_CASE_SERVICE, MEND_CONSENT_SERVICE);
    processes_->StartCase();
    processes_->StartConsent();
    const std::string case_id = processes_->ReadyCase("av");
    auto refused = processes_->Decide(case_id, "av-early", common_v1::LETTER_DELIVERY);
    ASSERT_THAT(refused, IsOk());
    processes_->ConsentToLetters(case_id);
    auto approved =
        processes_->Decide(case_id, "av-approved", common_v1::LETTER_DELIVERY);
    ASSERT_THAT(approved, IsOk());
    processes_->StopConsent();
    processes_->StopCase();
  }
  static void TearDownTestSuite() {
    delete processes_;
    processes_ = nullptr;
  }

  ToolResult Audit(const std::vector<std::string>& args) {
    return RunTool(MEND_AUDIT_BINARY, args, dir_.Sub(absl::StrCat("audit", runs_++)));
  }
  // A copy of a service's log to tamper with.
  std::string Copy(const std::string& log) {
    const std::string copy = dir_.Sub(absl::StrCat("copy", copies_++));
    std::filesystem::copy(log, copy, std::filesystem::copy_options::recursive);
    return copy;
  }

  static ServiceProcesses* processes_;
  TempDir dir_;
  int runs_ = 0;
  int copies_ = 0;
};
ServiceProcesses* AuditVerifyTest::processes_ = nullptr;

TEST_F(AuditVerifyTest, TheServicesLogsVerify) {
  for (const std::string& log :
       {processes_->CaseLogPath(), processes_->ConsentLogPath()}) {
    ToolResult r = Audit({"verify", "--log=" + log});
    EXPECT_EQ(r.exit_code, 0) << r.out << r.err;
    EXPECT_THAT(r.out, HasSubstr("chain, positions, streams, index, stored tree and "
                                 "payloads good"));
  }
  ToolResult r = Audit({"verify", "--log=" + processes_->ConsentLogPath()});
  EXPECT_THAT(r.out, HasSubstr("verify consent: "));
}

TEST_F(AuditVerifyTest, BesideTheRunningServiceAndOverGrpcWithAnAuditorToken) {
  processes_->StartConsent();
  const std::string log = processes_->ConsentLogPath();
  ToolResult beside = Audit({"verify", "--log=" + log});
  EXPECT_EQ(beside.exit_code, 0) << beside.out << beside.err;

  const std::string token = dir_.Sub("auditor.token");
  std::ofstream(token) << processes_->Token(Role::kAuditor, "auditor-al");
  const uint64_t head = processes_->ConsentHead();
  ToolResult remote =
      Audit({"verify", "--log=" + processes_->ConsentAddress(), "--token_file=" + token});
  EXPECT_EQ(remote.exit_code, 0) << remote.out << remote.err;
  EXPECT_THAT(remote.out, HasSubstr(absl::StrCat("verify consent: ", head, " records")));

  // A facilitator's token may not read the log.
  const std::string ann = dir_.Sub("ann.token");
  std::ofstream(ann) << processes_->Token(Role::kFacilitator, ServiceProcesses::kAnn);
  ToolResult refused =
      Audit({"verify", "--log=" + processes_->ConsentAddress(), "--token_file=" + ann});
  EXPECT_EQ(refused.exit_code, 2) << refused.out << refused.err;
  EXPECT_THAT(refused.err, HasSubstr("PERMISSION_DENIED"));
  processes_->StopConsent();
}

TEST_F(AuditVerifyTest, AChangedByteIsFoundAtItsRecord) {
  const std::string copy = Copy(processes_->ConsentLogPath());
  EditLog(copy, [](rocksdb::DB* db, rocksdb::ColumnFamilyHandle* events) {
    std::string record = Get(db, events, 3);
    record[record.size() - 40] ^= 0x01;  // inside the payload, before prev_hash
    Put(db, events, 3, record);
  });
  ToolResult r = Audit({"verify", "--log=" + copy});
  EXPECT_EQ(r.exit_code, 1) << r.out << r.err;
  EXPECT_THAT(r.out, HasSubstr("FINDING consent position 3: "));
}

TEST_F(AuditVerifyTest, ARemovedRecordIsFoundWhereItWas) {
  const std::string copy = Copy(processes_->ConsentLogPath());
  EditLog(copy, [](rocksdb::DB* db, rocksdb::ColumnFamilyHandle* events) {
    rocksdb::WriteOptions wo;
    wo.sync = true;
    ASSERT_TRUE(db->Delete(wo, events, eventlog::PositionKey(4)).ok());
  });
  ToolResult r = Audit({"verify", "--log=" + copy});
  EXPECT_EQ(r.exit_code, 1) << r.out << r.err;
  EXPECT_THAT(r.out, HasSubstr("FINDING consent position 4: position 4 is missing"));
}

TEST_F(AuditVerifyTest, ASwappedPairIsFoundAtTheFirstOfThem) {
  const std::string copy = Copy(processes_->ConsentLogPath());
  EditLog(copy, [](rocksdb::DB* db, rocksdb::ColumnFamilyHandle* events) {
    const std::string a = Get(db, events, 2);
    const std::string b = Get(db, events, 3);
    Put(db, events, 2, b);
    Put(db, events, 3, a);
  });
  ToolResult r = Audit({"verify", "--log=" + copy});
  EXPECT_EQ(r.exit_code, 1) << r.out << r.err;
  EXPECT_THAT(r.out, HasSubstr("FINDING consent position 2: the record stored here names "
                               "position 3"));
}

TEST_F(AuditVerifyTest, BadArgumentsAndUnreadableLogsAreExitTwo) {
  ToolResult none = Audit({"verify"});
  EXPECT_EQ(none.exit_code, 2);
  EXPECT_THAT(none.err, HasSubstr("--log is required"));
  ToolResult missing = Audit({"verify", "--log=" + dir_.Sub("nothing-here")});
  EXPECT_EQ(missing.exit_code, 2);
  EXPECT_THAT(missing.err, HasSubstr("no such directory"));
  std::filesystem::create_directories(dir_.Sub("empty"));
  ToolResult empty = Audit({"verify", "--log=" + dir_.Sub("empty")});
  EXPECT_EQ(empty.exit_code, 2);
  EXPECT_THAT(empty.err, HasSubstr("holds no event log"));
  ToolResult heads_without_key =
      Audit({"verify", "--log=" + processes_->ConsentLogPath(), "--heads=x"});
  EXPECT_EQ(heads_without_key.exit_code, 2);
  EXPECT_THAT(heads_without_key.err, HasSubstr("--heads needs --public_key"));
  ToolResult unknown = Audit({"frobnicate"});
  EXPECT_EQ(unknown.exit_code, 2);
  EXPECT_THAT(unknown.err, HasSubstr("unknown command"));
  ToolResult bad_flag = Audit({"verify", "--no_such_flag=1"});
  EXPECT_EQ(bad_flag.exit_code, 2);
}

}  // namespace
}  // namespace mend
