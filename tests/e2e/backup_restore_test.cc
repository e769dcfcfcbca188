// Backup and restore as an operator does them: a real mend-case under load
// from concurrent referrals is backed up with Admin.CreateBackup (operator
// role), stopped, and restored into a fresh data directory with
// scripts/mend-restore.sh; the restored service starts at the backed-up
// head, its log verifies, and every event acknowledged before the backup
// began is in it, byte for byte. Nothing sleeps: starts wait on the health
// service, the load on a count of acknowledgements.
#include <grpcpp/grpcpp.h>
#include <signal.h>
#include <sys/wait.h>

#include <atomic>
#include <filesystem>
#include <fstream>
#include <memory>
#include <optional>
#include <string>
#include <thread>
#include <vector>

#include "absl/strings/str_cat.h"
#include "absl/synchronization/mutex.h"
#include "absl/time/clock.h"
#include "absl/time/time.h"
#include "common/eventlog/event_store.h"
#include "common/security/key_store.h"
#include "gmock/gmock.h"
#include "gtest/gtest.h"
#include "mend/admin/v1/admin.grpc.pb.h"
#include "mend/case/v1/case_service.grpc.pb.h"
#include "mend/eventlog/v1/eventlog_service.grpc.pb.h"
#include "tests/support/grpc_client.h"
#include "tests/support/process.h"
#include "tests/support/test_util.h"
#include "tests/support/tokens.h"

namespace mend {
namespace {

namespace admin_v1 = ::mend::admin::v1;
namespace case_v1 = ::mend::case_::v1;
using ::mend::testing::Call;
using ::mend::testing::ChildProcess;
using ::mend::testing::Connect;
using ::mend::testing::IsOk;
using ::mend::testing::KeyPair;
using ::mend::testing::StatusIs;
using ::mend::testing::TempDir;
using ::mend::testing::WaitServing;
using ::testing::HasSubstr;

case_v1::ReferCaseRequest Referral(const std::string& request_id) {
  case_v1::ReferCaseRequest r;
  r.set_request_id(request_id);
  r.set_source(case_v1::PROBATION_OFFICER);
  r.set_referral_date("2026-03-02");
  r.set_offence_category(case_v1::ACQUISITIVE);
  r.set_offence_summary("Burglary");
  auto* su = r.add_participants();
  su->set_participant_id("su-1");
  su->set_role(case_v1::SERVICE_USER);
  su->mutable_details()->set_full_name("Sam O");
  auto* victim = r.add_participants();
  victim->set_participant_id("v-1");
  victim->set_role(case_v1::VICTIM);
  victim->mutable_details()->set_full_name("Vera Q");
  return r;
}

struct Acked {
  std::string case_id;
  uint64_t last_position;
};

struct RunResult {
  int exit_code = -1;
  std::string output;
};

class BackupRestoreTest : public ::testing::Test {
 protected:
  void SetUp() override {
    key_ = ::mend::testing::NewSigningKey();
    std::ofstream(dir_.Sub("token.pub")) << key_.public_pem;
    ASSERT_THAT(crypto::KeyStore::WriteNewMasterKey(dir_.Sub("master.key")), IsOk());
  }

  absl::StatusOr<ChildProcess> StartCase(int port, const std::string& data_dir,
                                         const std::string& log_name) {
    return ChildProcess::Start(
        MEND_CASE_SERVICE,
        {absl::StrCat("--listen=127.0.0.1:", port), "--data_dir=" + data_dir,
         "--master_key=" + dir_.Sub("master.key"),
         "--token_public_key=" + dir_.Sub("token.pub"), "--shutdown_grace=5s",
         "--backup_keep=2", "--log_level=warn"},
        dir_.Sub(log_name));
  }

  std::string Token(Role role, const std::string& subject) {
    return ::mend::testing::TokenFor(role, subject, &key_);
  }

  // scripts/mend-restore.sh with `args`, to its end.
  RunResult Restore(const std::vector<std::string>& args) {
    std::vector<std::string> argv = {MEND_RESTORE_SCRIPT, "--audit", MEND_AUDIT_BINARY};
    argv.insert(argv.end(), args.begin(), args.end());
    absl::StatusOr<ChildProcess> child = ChildProcess::Start(
        "/bin/bash", argv, dir_.Sub(absl::StrCat("restore-", ++runs_)));
    RunResult result;
    if (!child.ok()) {
      result.output = child.status().ToString();
      return result;
    }
    std::optional<int> status = child->Wait(absl::Seconds(120));
    result.output = child->Output();
    if (status.has_value() && WIFEXITED(*status)) result.exit_code = WEXITSTATUS(*status);
    return result;
  }

  TempDir dir_;
  KeyPair key_;
  int runs_ = 0;
};

TEST_F(BackupRestoreTest, BackupUnderLoadRestoresEveryAcknowledgedEventAndItsHead) {
  const std::string original_dir = dir_.Sub("original");
  const int port = ::mend::testing::PickFreePort();
  absl::StatusOr<ChildProcess> original = StartCase(port, original_dir, "case-original");
  ASSERT_THAT(original, IsOk());
  std::shared_ptr<grpc::Channel> channel = Connect(port);
  ASSERT_TRUE(WaitServing(channel)) << original->Output();
  auto cases = case_v1::CaseService::NewStub(channel);
  auto admin = admin_v1::Admin::NewStub(channel);
  const std::string manager = Token(Role::kManager, "manager-mia");
  const std::string operator_token = Token(Role::kOperator, "operator-olu");

  // Only the operator role backs up: an auditor (who may read every log)
  // is refused, and so is a call without a token.
  EXPECT_THAT((Call<admin_v1::CreateBackupResponse>(
                  Token(Role::kAuditor, "auditor-al"),
                  [&](auto* c, auto* out) { return admin->CreateBackup(c, {}, out); })),
              StatusIs(absl::StatusCode::kPermissionDenied));
  EXPECT_THAT(
      (Call<admin_v1::CreateBackupResponse>(
          "", [&](auto* c, auto* out) { return admin->CreateBackup(c, {}, out); })),
      StatusIs(absl::StatusCode::kUnauthenticated));
  // And the operator sees no casework.
  EXPECT_THAT(
      (Call<case_v1::CommandResult>(
          operator_token,
          [&](auto* c, auto* out) { return cases->ReferCase(c, Referral("op"), out); })),
      StatusIs(absl::StatusCode::kPermissionDenied));

  // Four referrers until told to stop; each acknowledged referral is kept
  // with the last log position it wrote.
  absl::Mutex mu;
  std::vector<Acked> acked;
  std::atomic<bool> stop{false};
  std::atomic<int> failures{0};
  std::vector<std::thread> referrers;
  for (int t = 0; t < 4; ++t) {
    referrers.emplace_back([&, t] {
      for (int i = 0; !stop.load(); ++i) {
        absl::StatusOr<case_v1::CommandResult> r =
            Call<case_v1::CommandResult>(manager, [&](auto* c, auto* out) {
              return cases->ReferCase(c, Referral(absl::StrCat("load-", t, "-", i)), out);
            });
        if (!r.ok()) {
          failures.fetch_add(1);
          continue;
        }
        absl::MutexLock lock(&mu);
        acked.push_back({r->case_id(), r->last_position()});
      }
    });
  }
  auto wait_for_acks = [&](size_t n) {
    absl::MutexLock lock(&mu);
    auto enough = [&] { return acked.size() >= n; };
    return mu.AwaitWithTimeout(absl::Condition(&enough), absl::Seconds(60));
  };
  ASSERT_TRUE(wait_for_acks(40));
  std::vector<Acked> before;
  {
    absl::MutexLock lock(&mu);
    before = acked;
  }
  absl::StatusOr<admin_v1::CreateBackupResponse> taken =
      Call<admin_v1::CreateBackupResponse>(operator_token, [&](auto* c, auto* out) {
        return admin->CreateBackup(c, {}, out);
      });
  size_t acked_at_backup = 0;
  {
    absl::MutexLock lock(&mu);
    acked_at_backup = acked.size();
  }
  // The load goes on after the backup, so the backup is not simply the end.
  const bool more = wait_for_acks(acked_at_backup + 20);
  stop = true;
  for (auto& t : referrers) t.join();
  ASSERT_THAT(taken, IsOk()) << original->Output();
  ASSERT_TRUE(more);
  EXPECT_EQ(failures.load(), 0);
  const admin_v1::Backup& backup = taken->backup();
  uint64_t last_acked_before = 0;
  for (const Acked& a : before)
    last_acked_before = std::max(last_acked_before, a.last_position);
  EXPECT_GE(taken->head_position_at_start(), last_acked_before);
  EXPECT_GE(backup.head_position(), taken->head_position_at_start());
  EXPECT_EQ(backup.service(), "case");
  EXPECT_EQ(backup.head_hash().size(), 32u);
  EXPECT_EQ(backup.name(), std::filesystem::path(backup.path()).filename().string());
  EXPECT_EQ(std::filesystem::path(backup.path()).parent_path().string(),
            original_dir + "/backups");
  EXPECT_TRUE(std::filesystem::exists(backup.path() + "/backup.json"));

  absl::StatusOr<admin_v1::ListBackupsResponse> listed =
      Call<admin_v1::ListBackupsResponse>(operator_token, [&](auto* c, auto* out) {
        return admin->ListBackups(c, {}, out);
      });
  ASSERT_THAT(listed, IsOk());
  ASSERT_EQ(listed->backups_size(), 1);
  EXPECT_EQ(listed->backups(0).name(), backup.name());
  EXPECT_EQ(listed->backups(0).head_position(), backup.head_position());

  ASSERT_EQ(::mend::testing::StopCleanly(*original), "");
  auto original_log = eventlog::EventStore::Open({.path = original_dir + "/eventlog",
                                                  .create_if_missing = false,
                                                  .read_only = true});
  ASSERT_THAT(original_log, IsOk());
  ASSERT_GT((*original_log)->GetHead().position, backup.head_position());

  // Restored into a fresh directory.
  const std::string restored_dir = dir_.Sub("restored");
  RunResult run = Restore({backup.path(), restored_dir});
  ASSERT_EQ(run.exit_code, 0) << run.output;
  EXPECT_THAT(run.output, HasSubstr(absl::StrCat("at head ", backup.head_position())));

  {
    auto restored = eventlog::EventStore::Open({.path = restored_dir + "/eventlog",
                                                .create_if_missing = false,
                                                .read_only = true});
    ASSERT_THAT(restored, IsOk());
    EXPECT_EQ((*restored)->GetHead().position, backup.head_position());
    EXPECT_EQ((*restored)->GetHead().hash, backup.head_hash());
    eventlog::VerifyReport report = (*restored)->Verify();
    EXPECT_TRUE(report.ok) << report.problem << " at " << report.first_bad_position;
    // The restored log is the original's prefix up to the backed-up head,
    // byte for byte: every event acknowledged before the backup is in it.
    auto mine = (*restored)->Read(1, backup.head_position() + 10);
    auto theirs = (*original_log)->Read(1, backup.head_position());
    ASSERT_THAT(mine, IsOk());
    ASSERT_THAT(theirs, IsOk());
    ASSERT_EQ(mine->size(), backup.head_position());
    for (size_t i = 0; i < mine->size(); ++i) {
      ASSERT_EQ((*mine)[i].bytes, (*theirs)[i].bytes) << "position " << i + 1;
    }
    for (const Acked& a : before) EXPECT_LE(a.last_position, backup.head_position());
  }

  // The restored service starts at the backed-up head and answers for the
  // cases acknowledged before the backup.
  absl::StatusOr<ChildProcess> restored = StartCase(port, restored_dir, "case-restored");
  ASSERT_THAT(restored, IsOk());
  ASSERT_TRUE(WaitServing(channel)) << restored->Output();
  auto log = eventlog::v1::EventLog::NewStub(channel);
  absl::StatusOr<eventlog::v1::GetHeadResponse> head =
      Call<eventlog::v1::GetHeadResponse>(
          Token(Role::kAuditor, "auditor-al"),
          [&](auto* c, auto* out) { return log->GetHead(c, {}, out); });
  ASSERT_THAT(head, IsOk());
  EXPECT_EQ(head->position(), backup.head_position());
  EXPECT_EQ(head->hash(), backup.head_hash());
  for (const Acked& a : before) {
    case_v1::GetCaseRequest get;
    get.set_case_id(a.case_id);
    EXPECT_THAT(
        (Call<case_v1::CaseView>(
            manager, [&](auto* c, auto* out) { return cases->GetCase(c, get, out); })),
        IsOk())
        << a.case_id;
  }

  // The restore script refuses a log a running service has open...
  run = Restore({"--replace", backup.path(), restored_dir});
  EXPECT_EQ(run.exit_code, 2) << run.output;
  EXPECT_THAT(run.output, HasSubstr("stop the service first"));
  ASSERT_EQ(::mend::testing::StopCleanly(*restored), "");
  // ...an existing log without --replace...
  run = Restore({backup.path(), restored_dir});
  EXPECT_EQ(run.exit_code, 2) << run.output;
  EXPECT_THAT(run.output, HasSubstr("give --replace"));
  // ...and a directory that is not a backup. With --replace the log there
  // is moved aside, never deleted.
  run = Restore({dir_.Sub("no-such-backup"), dir_.Sub("elsewhere")});
  EXPECT_EQ(run.exit_code, 2) << run.output;
  EXPECT_THAT(run.output, HasSubstr("not a backup"));
  run = Restore({"--replace", backup.path(), restored_dir});
  ASSERT_EQ(run.exit_code, 0) << run.output;
  int aside = 0;
  for (const auto& entry : std::filesystem::directory_iterator(restored_dir)) {
    if (entry.path().filename().string().rfind("eventlog.replaced-", 0) == 0) ++aside;
  }
  EXPECT_EQ(aside, 1);
}

}  // namespace
}  // namespace mend
