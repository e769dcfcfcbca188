// A service process on a log whose chain is broken refuses to serve: it
// exits non-zero, saying DATA_LOSS and the first bad position, and never
// reports SERVING (the operator restores the log from a backup).
#include <sys/wait.h>

#include <filesystem>
#include <string>

#include "absl/strings/str_cat.h"
#include "common/eventlog/event_store.h"
#include "gmock/gmock.h"
#include "gtest/gtest.h"
#include "tests/fault/raw_log.h"
#include "tests/support/process.h"
#include "tests/support/test_util.h"

namespace mend {
namespace {

using ::mend::testing::ChildProcess;
using ::mend::testing::IsOk;
using ::mend::testing::TempDir;
using ::testing::HasSubstr;

TEST(BrokenLogProcessTest, FlippedByteStopsTheServiceNamingThePosition) {
  TempDir dir;
  const std::string log = dir.Sub("data") + "/eventlog";
  std::filesystem::create_directories(dir.Sub("data"));
  {
    auto store = eventlog::EventStore::Open({.path = log});
    ASSERT_THAT(store, IsOk());
    for (int i = 0; i < 100; ++i) {
      ASSERT_THAT(
          (*store)->Append("s", eventlog::ExpectedVersion::Any(),
                           {eventlog::NewEvent{.event_id = absl::StrCat("e", i),
                                               .event_type = "mend.example.v1.E",
                                               .payload = absl::StrCat("DECLINED-", i),
                                               .actor_id = "",
                                               .actor_role = "",
                                               .correlation_id = "",
                                               .causation_id = ""}}),
          IsOk());
    }
  }
  ASSERT_THAT(eventlog::raw_log::FlipByte(log, 60, "DECLINED-59"), IsOk());

  auto child = ChildProcess::Start(
      MEND_EXAMPLE_SERVICE, {"--listen=127.0.0.1:0", "--data_dir=" + dir.Sub("data")},
      dir.Sub("service"));
  ASSERT_THAT(child, IsOk());
  auto status = child->Wait(absl::Seconds(30));
  ASSERT_TRUE(status.has_value()) << "still running\n" << child->Output();
  ASSERT_TRUE(WIFEXITED(*status)) << child->Output();
  EXPECT_NE(WEXITSTATUS(*status), 0) << child->Output();
  EXPECT_THAT(child->Output(), HasSubstr("DATA_LOSS"));
  EXPECT_THAT(child->Output(), HasSubstr("at position 60:"));
  EXPECT_THAT(child->Output(), ::testing::Not(HasSubstr("\"serving\"")));
}

}  // namespace
}  // namespace mend
