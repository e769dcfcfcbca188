#include "common/observability/logging.h"

#include <spdlog/sinks/ostream_sink.h>
#include <spdlog/spdlog.h>

#include <cctype>
#include <cstdint>
#include <limits>
#include <memory>
#include <nlohmann/json.hpp>
#include <sstream>
#include <string>
#include <thread>
#include <vector>

#include "absl/status/status.h"
#include "absl/strings/str_split.h"
#include "absl/time/clock.h"
#include "absl/time/time.h"
#include "gmock/gmock.h"
#include "gtest/gtest.h"
#include "tests/support/test_util.h"

namespace mend::log {
namespace {

using ::mend::testing::IsOk;
using ::mend::testing::StatusIs;
using ::testing::ElementsAre;
using ::testing::HasSubstr;
using ::testing::Not;
using json = nlohmann::json;

// "YYYY-MM-DDTHH:MM:SS.mmmZ"
bool IsRfc3339UtcMillis(const std::string& s) {
  const std::string shape = "dddd-dd-ddTdd:dd:dd.dddZ";
  if (s.size() != shape.size()) return false;
  for (size_t i = 0; i < s.size(); ++i) {
    if (shape[i] == 'd' ? !std::isdigit(static_cast<unsigned char>(s[i]))
                        : s[i] != shape[i]) {
      return false;
    }
  }
  return true;
}

// Every test logs into its own string stream.
class LoggingTest : public ::testing::Test {
 protected:
  void SetUp() override { ASSERT_THAT(Init("info"), IsOk()); }
  // Back to stderr, so no logger is left writing to this test's stream.
  void TearDown() override { ASSERT_THAT(InitLogging("logging_test", "info"), IsOk()); }

  absl::Status Init(std::string_view level) {
    return InitLogging("casework", level,
                       std::make_shared<spdlog::sinks::ostream_sink_mt>(out_));
  }

  // The lines written so far (each must end in a newline).
  std::vector<std::string> Lines() const {
    const std::string text = out_.str();
    EXPECT_TRUE(text.empty() || text.back() == '\n') << text;
    std::vector<std::string> lines = absl::StrSplit(text, '\n', absl::SkipEmpty());
    return lines;
  }

  // Every line parsed as JSON; a line that does not parse fails the test.
  std::vector<json> Objects() const {
    std::vector<json> objects;
    for (const std::string& line : Lines()) {
      json j = json::parse(line, nullptr, /*allow_exceptions=*/false);
      EXPECT_TRUE(j.is_object()) << "not a JSON object: " << line;
      objects.push_back(std::move(j));
    }
    return objects;
  }

  std::ostringstream out_;
};

TEST_F(LoggingTest, WritesOneJsonObjectPerLineWithRequiredKeys) {
  const absl::Time before = absl::Now();
  Info("subscription connected", {{"upstream", "case"}, {"position", 17}});
  const absl::Time after = absl::Now();

  const std::vector<std::string> lines = Lines();
  ASSERT_EQ(lines.size(), 1u);
  // Keys in a fixed order: time, level, service, message, then the fields.
  EXPECT_THAT(lines[0], ::testing::StartsWith("{\"time\":\""));
  EXPECT_THAT(lines[0], ::testing::EndsWith("\"level\":\"info\",\"service\":\"casework\","
                                            "\"message\":\"subscription connected\","
                                            "\"upstream\":\"case\",\"position\":17}"));

  const json j = json::parse(lines[0]);
  EXPECT_EQ(j["level"], "info");
  EXPECT_EQ(j["service"], "casework");
  EXPECT_EQ(j["message"], "subscription connected");
  EXPECT_EQ(j["upstream"], "case");
  ASSERT_TRUE(j["position"].is_number_integer());
  EXPECT_EQ(j["position"].get<int>(), 17);

  // RFC 3339, UTC, milliseconds; and it is the time of the call.
  const std::string time = j["time"];
  EXPECT_TRUE(IsRfc3339UtcMillis(time)) << time;
  absl::Time parsed;
  std::string error;
  ASSERT_TRUE(
      absl::ParseTime("%Y-%m-%dT%H:%M:%E*SZ", time, absl::UTCTimeZone(), &parsed, &error))
      << error;
  EXPECT_GT(parsed, before - absl::Milliseconds(1));  // truncated to ms
  EXPECT_LE(parsed, after);
}

TEST_F(LoggingTest, EscapesQuotesNewlinesControlCharactersAndUnicode) {
  const std::string message = "she said \"no\"\nthen \\ left\t\x01";
  const std::string unicode = "caf\xC3\xA9 \xE2\x82\xAC \xF0\x9F\x98\x80";  // café € 😀
  Warn(message, {{"unicode", unicode}, {"quote\"key", "v"}});

  const std::vector<std::string> lines = Lines();
  ASSERT_EQ(lines.size(), 1u);  // the newline in the message did not split it
  EXPECT_THAT(lines[0], HasSubstr(R"(she said \"no\"\nthen \\ left\t\u0001)"));
  const json j = json::parse(lines[0]);
  EXPECT_EQ(j["message"], message);
  EXPECT_EQ(j["unicode"], unicode);
  EXPECT_EQ(j["quote\"key"], "v");
}

TEST_F(LoggingTest, ReplacesBytesThatAreNotUtf8) {
  Info("bad \xFF byte", {{"field", std::string("x\xC3")}});
  const std::vector<json> objects = Objects();
  ASSERT_EQ(objects.size(), 1u);
  EXPECT_EQ(objects[0]["message"], "bad \xEF\xBF\xBD byte");  // U+FFFD
  EXPECT_EQ(objects[0]["field"], "x\xEF\xBF\xBD");
}

TEST_F(LoggingTest, WritesEveryFieldType) {
  const std::string id = "c-42";
  const std::string_view view = "view";
  Info("types", {{kCorrelationId, id},
                 {kTraceId, view},
                 {kMethod, "mend.consent.v1.Consent/DecideContact"},
                 {kStatus, "FAILED_PRECONDITION"},
                 {"big", std::numeric_limits<uint64_t>::max()},
                 {"small", std::numeric_limits<int64_t>::min()},
                 {"flag", true},
                 {"count", size_t{3}},
                 {"seconds", 1.5},
                 {"error", absl::InvalidArgumentError("bad id").message()}});
  const std::vector<json> objects = Objects();
  ASSERT_EQ(objects.size(), 1u);
  const json& j = objects[0];
  EXPECT_EQ(j["correlation_id"], "c-42");
  EXPECT_EQ(j["trace_id"], "view");
  EXPECT_EQ(j["method"], "mend.consent.v1.Consent/DecideContact");
  EXPECT_EQ(j["status"], "FAILED_PRECONDITION");
  EXPECT_EQ(j["big"].get<uint64_t>(), std::numeric_limits<uint64_t>::max());
  EXPECT_EQ(j["small"].get<int64_t>(), std::numeric_limits<int64_t>::min());
  EXPECT_EQ(j["flag"], true);
  EXPECT_EQ(j["count"], 3);
  EXPECT_EQ(j["seconds"], 1.5);
  EXPECT_EQ(j["error"], "bad id");
}

TEST_F(LoggingTest, FieldsNeverReplaceTheFixedKeys) {
  Info("real", {{"message", "fake"}, {"level", "error"}, {"service", "x"}, {"time", 0}});
  const std::vector<json> objects = Objects();
  ASSERT_EQ(objects.size(), 1u);
  const json& j = objects[0];
  EXPECT_EQ(j["message"], "real");
  EXPECT_EQ(j["level"], "info");
  EXPECT_EQ(j["service"], "casework");
  EXPECT_TRUE(j["time"].is_string());
  EXPECT_EQ(j["_message"], "fake");
  EXPECT_EQ(j["_level"], "error");
  EXPECT_EQ(j["_service"], "x");
  EXPECT_EQ(j["_time"], 0);
}

TEST_F(LoggingTest, LevelFiltersLowerLevels) {
  ASSERT_THAT(Init("warn"), IsOk());
  EXPECT_FALSE(Enabled(Level::kDebug));
  EXPECT_FALSE(Enabled(Level::kInfo));
  EXPECT_TRUE(Enabled(Level::kWarn));
  Debug("d");
  Info("i");
  Warn("w");
  Error("e");
  std::vector<std::string> levels;
  std::vector<std::string> messages;
  for (const json& j : Objects()) {
    levels.push_back(j["level"].get<std::string>());
    messages.push_back(j["message"].get<std::string>());
  }
  EXPECT_THAT(levels, ElementsAre("warn", "error"));
  EXPECT_THAT(messages, ElementsAre("w", "e"));
}

TEST_F(LoggingTest, DebugLevelWritesEverything) {
  ASSERT_THAT(Init("debug"), IsOk());
  Debug("d");
  Info("i");
  std::vector<std::string> levels;
  for (const json& j : Objects()) levels.push_back(j["level"].get<std::string>());
  EXPECT_THAT(levels, ElementsAre("debug", "info"));
}

TEST_F(LoggingTest, BadLevelIsInvalidArgumentAndChangesNothing) {
  EXPECT_THAT(InitLogging("casework", "verbose"),
              StatusIs(absl::StatusCode::kInvalidArgument));
  EXPECT_THAT(InitLogging("casework", ""), StatusIs(absl::StatusCode::kInvalidArgument));
  EXPECT_THAT(InitLogging("casework", "INFO"),
              StatusIs(absl::StatusCode::kInvalidArgument));
  EXPECT_THAT(InitLogging("", "info"), StatusIs(absl::StatusCode::kInvalidArgument));
  Level level;
  EXPECT_THAT(ParseLevel("warning", &level),
              StatusIs(absl::StatusCode::kInvalidArgument));
  // Still logging to this test's stream at info.
  Debug("hidden");
  Info("still here");
  const std::vector<json> objects = Objects();
  ASSERT_EQ(objects.size(), 1u);
  EXPECT_EQ(objects[0]["message"], "still here");
}

TEST_F(LoggingTest, PlainSpdlogCallsAreJsonToo) {
  spdlog::info("replayed {} events", 12);
  spdlog::error("oops");
  const std::vector<json> objects = Objects();
  ASSERT_EQ(objects.size(), 2u);
  EXPECT_EQ(objects[0]["message"], "replayed 12 events");
  EXPECT_EQ(objects[0]["level"], "info");
  EXPECT_EQ(objects[0]["service"], "casework");
  EXPECT_EQ(objects[1]["level"], "error");
  EXPECT_FALSE(objects[1].contains("upstream"));
}

TEST_F(LoggingTest, ConcurrentLinesNeverInterleave) {
  constexpr int kThreads = 4;
  constexpr int kPerThread = 500;
  std::vector<std::thread> threads;
  for (int t = 0; t < kThreads; ++t) {
    threads.emplace_back([t] {
      for (int i = 0; i < kPerThread; ++i) {
        Info("tick", {{"thread", t}, {"i", i}, {"pad", std::string(200, 'x')}});
      }
    });
  }
  for (auto& thread : threads) thread.join();
  const std::vector<json> objects = Objects();
  ASSERT_EQ(objects.size(), static_cast<size_t>(kThreads * kPerThread));
  std::vector<int> per_thread(kThreads, 0);
  for (const json& j : objects) {
    ASSERT_TRUE(j.contains("thread"));
    // Each thread's own fields, never another's.
    const int t = j["thread"];
    EXPECT_EQ(j["i"].get<int>(), per_thread[t]);
    ++per_thread[t];
  }
}

}  // namespace
}  // namespace mend::log
