#include "common/base/config.h"

#include <string>
#include <vector>

#include "absl/flags/flag.h"
#include "absl/flags/parse.h"
#include "absl/time/time.h"
#include "gmock/gmock.h"
#include "gtest/gtest.h"
#include "tests/support/test_util.h"

ABSL_FLAG(std::string, config_test_listen, "127.0.0.1:7000", "test flag");
ABSL_FLAG(int, config_test_count, 3, "test flag");
ABSL_FLAG(absl::Duration, config_test_grace, absl::Seconds(5), "test flag");

namespace mend {
namespace {

using ::mend::testing::IsOk;
using ::mend::testing::StatusIs;
using ::testing::HasSubstr;

class ConfigTest : public ::testing::Test {
 protected:
  void SetUp() override {
    absl::SetFlag(&FLAGS_config_test_listen, "127.0.0.1:7000");
    absl::SetFlag(&FLAGS_config_test_count, 3);
    absl::SetFlag(&FLAGS_config_test_grace, absl::Seconds(5));
  }
};

TEST_F(ConfigTest, VariableNameIsFlagNameUpperCasedWithPrefix) {
  EXPECT_EQ(EnvironmentVariableFor("upstream_case"), "MEND_UPSTREAM_CASE");
}

TEST_F(ConfigTest, EnvironmentSetsFlags) {
  ASSERT_THAT(ApplyEnvironmentToFlags({"MEND_CONFIG_TEST_LISTEN=0.0.0.0:9000",
                                       "MEND_CONFIG_TEST_COUNT=42",
                                       "MEND_CONFIG_TEST_GRACE=250ms", "PATH=/usr/bin"}),
              IsOk());
  EXPECT_EQ(absl::GetFlag(FLAGS_config_test_listen), "0.0.0.0:9000");
  EXPECT_EQ(absl::GetFlag(FLAGS_config_test_count), 42);
  EXPECT_EQ(absl::GetFlag(FLAGS_config_test_grace), absl::Milliseconds(250));
}

TEST_F(ConfigTest, CommandLineWinsOverEnvironment) {
  ASSERT_THAT(ApplyEnvironmentToFlags({"MEND_CONFIG_TEST_COUNT=42"}), IsOk());
  std::vector<std::string> args = {"prog", "--config_test_count=7"};
  std::vector<char*> argv;
  for (auto& a : args) argv.push_back(a.data());
  absl::ParseCommandLine(static_cast<int>(argv.size()), argv.data());
  EXPECT_EQ(absl::GetFlag(FLAGS_config_test_count), 7);
}

TEST_F(ConfigTest, BadValueNamesVariableAndFlag) {
  absl::Status s = ApplyEnvironmentToFlags({"MEND_CONFIG_TEST_COUNT=many"});
  EXPECT_THAT(s, StatusIs(absl::StatusCode::kInvalidArgument));
  EXPECT_THAT(s.message(), HasSubstr("MEND_CONFIG_TEST_COUNT"));
  EXPECT_THAT(s.message(), HasSubstr("--config_test_count"));
  EXPECT_EQ(absl::GetFlag(FLAGS_config_test_count), 3);
}

TEST_F(ConfigTest, UnknownVariablesAndOtherPrefixesAreIgnored) {
  EXPECT_THAT(ApplyEnvironmentToFlags(
                  {"MEND_JOBS=2", "MEND_", "MEND_NO_EQUALS", "CONFIG_TEST_COUNT=9"}),
              IsOk());
  EXPECT_EQ(absl::GetFlag(FLAGS_config_test_count), 3);
}

}  // namespace
}  // namespace mend

namespace mend {
namespace {

// Usage errors exit with 2, as mend's programs promise (absl alone exits 1).
std::vector<char*> Argv(std::vector<std::string>& args) {
  std::vector<char*> argv;
  for (std::string& a : args) argv.push_back(a.data());
  return argv;
}

TEST(ParseFlagsWithEnvironmentTest, AnUnknownFlagExitsWithTwo) {
  std::vector<std::string> args = {"prog", "--config_test_nonexistent=1"};
  std::vector<char*> argv = Argv(args);
  EXPECT_EXIT(ParseFlagsWithEnvironment(static_cast<int>(argv.size()), argv.data()),
              ::testing::ExitedWithCode(2), "unknown flag --config_test_nonexistent");
}

TEST(ParseFlagsWithEnvironmentTest, ABadValueExitsWithTwo) {
  std::vector<std::string> args = {"prog", "--config_test_count", "many"};
  std::vector<char*> argv = Argv(args);
  EXPECT_EXIT(ParseFlagsWithEnvironment(static_cast<int>(argv.size()), argv.data()),
              ::testing::ExitedWithCode(2), "--config_test_count: ");
}

TEST(ParseFlagsWithEnvironmentTest, GoodFlagsInEveryFormParse) {
  std::vector<std::string> args = {
      "prog",       "--config_test_count=7", "-config_test_listen", "127.0.0.1:9",
      "positional", "--config_test_grace=2s"};
  std::vector<char*> argv = Argv(args);
  std::vector<char*> positional =
      ParseFlagsWithEnvironment(static_cast<int>(argv.size()), argv.data());
  EXPECT_EQ(absl::GetFlag(FLAGS_config_test_count), 7);
  EXPECT_EQ(absl::GetFlag(FLAGS_config_test_listen), "127.0.0.1:9");
  EXPECT_EQ(absl::GetFlag(FLAGS_config_test_grace), absl::Seconds(2));
  ASSERT_EQ(positional.size(), 2u);
  EXPECT_STREQ(positional[1], "positional");
}

}  // namespace
}  // namespace mend
