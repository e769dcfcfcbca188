// mend-audit report, rendered the way an auditor opens it: headless Chromium
// (Debian's `chromium`) loads the page from a file with the network off,
// takes a screenshot and dumps the DOM it built. The page is self-contained
// (no script, no external resource), shows the verdict and the verification
// of each log at the top, has the four logs as lanes, links every contact to
// its decision, and marks a finding where it is. Label "browser".
#include <cstdint>
#include <fstream>
#include <regex>
#include <set>
#include <string>
#include <vector>

#include "absl/strings/str_cat.h"
#include "gmock/gmock.h"
#include "gtest/gtest.h"
#include "tests/support/audit_corpus.h"
#include "tests/support/process.h"
#include "tests/support/service_processes.h"
#include "tests/support/test_util.h"

namespace mend {
namespace {

using ::mend::testing::CopyLog;
using ::mend::testing::InjectEvent;
using ::mend::testing::LetterCase;
using ::mend::testing::RunTool;
using ::mend::testing::ServiceProcesses;
using ::mend::testing::TempDir;
using ::mend::testing::ToolResult;
using ::testing::HasSubstr;
using ::testing::Not;
namespace conference_v1 = ::mend::conference::v1;

std::string Slurp(const std::string& path) {
  std::ifstream in(path, std::ios::binary);
  return std::string(std::istreambuf_iterator<char>(in),
                     std::istreambuf_iterator<char>());
}

// Every match of group 1 of `pattern` in `text`.
std::vector<std::string> All(const std::string& text, const std::string& pattern) {
  std::vector<std::string> out;
  const std::regex re(pattern);
  for (auto it = std::sregex_iterator(text.begin(), text.end(), re);
       it != std::sregex_iterator(); ++it) {
    out.push_back((*it)[1].str());
  }
  return out;
}

class AuditReportBrowserTest : public ::testing::Test {
 protected:
  static void SetUpTestSuite() {
    recorded_ = new testing::RecordedLetterCase(
        testing::RecordLetterCase("ar", MEND_CASE_SERVICE, MEND_CONSENT_SERVICE,
                                  MEND_SCHEDULING_SERVICE, MEND_CONFERENCE_SERVICE));
    processes_ = recorded_->processes.get();
    letter_ = &recorded_->letter;
  }
  static void TearDownTestSuite() {
    delete recorded_;
    recorded_ = nullptr;
  }

  // mend-audit report on the four logs (the conference log given); the
  // page's path.
  std::string Report(const std::string& conference_log, int expected_exit) {
    const std::string page = dir_.Sub(absl::StrCat("report-", runs_, ".html"));
    ToolResult r = RunTool(MEND_AUDIT_BINARY,
                           {"report", "--case_log=" + processes_->CaseLogPath(),
                            "--consent_log=" + processes_->ConsentLogPath(),
                            "--scheduling_log=" + processes_->SchedulingLogPath(),
                            "--conference_log=" + conference_log,
                            "--case=" + letter_->case_id, "--html=" + page},
                           dir_.Sub(absl::StrCat("report", runs_++)));
    EXPECT_EQ(r.exit_code, expected_exit) << r.out << r.err;
    EXPECT_THAT(r.out, HasSubstr(page));
    return page;
  }

  // Chromium's DOM of the page (and its screenshot at `png`).
  std::string Render(const std::string& page, const std::string& png) {
    const std::vector<std::string> common = {
        "--headless", "--no-sandbox", "--disable-gpu", "--disable-dev-shm-usage",
        // Nothing may come from the network: a page that needs it breaks.
        "--proxy-server=127.0.0.1:9", "--proxy-bypass-list=<-loopback>",
        "--user-data-dir=" + dir_.Sub(absl::StrCat("profile", renders_++)),
        "--window-size=1400,1800"};
    std::vector<std::string> shot = common;
    shot.push_back("--screenshot=" + png);
    shot.push_back("file://" + page);
    ToolResult s = RunTool(Chromium(), shot, dir_.Sub(absl::StrCat("shot", renders_)),
                           absl::Minutes(2));
    EXPECT_EQ(s.exit_code, 0) << s.err;
    std::vector<std::string> dump = common;
    dump.push_back("--dump-dom");
    dump.push_back("file://" + page);
    ToolResult d = RunTool(Chromium(), dump, dir_.Sub(absl::StrCat("dom", renders_)),
                           absl::Minutes(2));
    EXPECT_EQ(d.exit_code, 0) << d.err;
    return d.out;
  }
  static std::string Chromium() {
    const char* path = std::getenv("MEND_CHROMIUM");
    return path != nullptr && *path != '\0' ? path : "/usr/bin/chromium";
  }

  static testing::RecordedLetterCase* recorded_;
  static ServiceProcesses* processes_;
  static LetterCase* letter_;
  TempDir dir_;
  int runs_ = 0;
  int renders_ = 0;
};
testing::RecordedLetterCase* AuditReportBrowserTest::recorded_ = nullptr;
ServiceProcesses* AuditReportBrowserTest::processes_ = nullptr;
LetterCase* AuditReportBrowserTest::letter_ = nullptr;

TEST_F(AuditReportBrowserTest, TheCleanCaseRendersWithLanesAndEveryContactLinked) {
  ASSERT_TRUE(std::ifstream(Chromium()).good())
      << Chromium() << " is missing: scripts/install-deps.sh installs chromium";
  const std::string page = Report(processes_->ConferenceLogPath(), 0);
  const std::string html = Slurp(page);
  // Self-contained: nothing to fetch, nothing to run.
  EXPECT_THAT(html, Not(HasSubstr("<script")));
  EXPECT_THAT(html, Not(HasSubstr("<link")));
  EXPECT_THAT(html, Not(HasSubstr("src=")));
  EXPECT_THAT(html, Not(HasSubstr("http://")));
  EXPECT_THAT(html, Not(HasSubstr("https://")));

  const std::string png = dir_.Sub("clean.png");
  const std::string dom = Render(page, png);
  // A PNG of the window's width (IHDR: width at bytes 16..19, big-endian).
  const std::string image = Slurp(png);
  ASSERT_GT(image.size(), 10'000u);
  EXPECT_EQ(image.substr(1, 3), "PNG");
  const uint32_t width =
      (static_cast<uint8_t>(image[16]) << 24) | (static_cast<uint8_t>(image[17]) << 16) |
      (static_cast<uint8_t>(image[18]) << 8) | static_cast<uint8_t>(image[19]);
  EXPECT_EQ(width, 1400u);

  // The verdict and the verification of the four logs at the top.
  EXPECT_THAT(dom, HasSubstr("class=\"verdict ok\""));
  for (const char* log : {"case", "consent", "scheduling", "conference"}) {
    EXPECT_THAT(dom, HasSubstr(absl::StrCat("<tr data-log=\"", log, "\">"))) << log;
  }
  EXPECT_LT(dom.find("id=\"verdict\""), dom.find("class=\"timeline\""));
  // Four lanes.
  EXPECT_THAT(dom, HasSubstr("<th>case</th><th>consent</th><th>scheduling</th>"
                             "<th>conference</th>"));
  // Both contacts, each linked to a decision that is on the page, and the
  // two decisions the letter path took.
  const std::vector<std::string> links =
      All(dom, "class=\"decision-link\" href=\"#([^\"]+)\"");
  ASSERT_EQ(links.size(), 2u);
  const std::vector<std::string> ids =
      All(dom, "class=\"ev decision[^\"]*\" id=\"([^\"]+)\"");
  const std::set<std::string> anchors(ids.begin(), ids.end());
  for (const std::string& link : links) EXPECT_TRUE(anchors.contains(link)) << link;
  EXPECT_TRUE(anchors.contains("d-" + letter_->offer.decision_id()));
  EXPECT_TRUE(anchors.contains("d-" + letter_->delivery.decision_id()));
  EXPECT_THAT(dom, Not(HasSubstr("class=\"ev contact finding\"")));
}

TEST_F(AuditReportBrowserTest, AFindingIsMarkedOnItsEventAndListedAtTheTop) {
  // A delivery recorded after the withdrawal the service had handled.
  const std::string conference = CopyLog(processes_->ConferenceLogPath(), dir_.path());
  conference_v1::LetterDelivered e;
  e.set_case_id(letter_->case_id);
  e.set_letter_id(letter_->letter_id);
  e.set_version(2);
  e.set_victim_id("v-1");
  *e.mutable_approval() = letter_->delivery;
  e.set_delivered_by(ServiceProcesses::kAnn);
  e.mutable_handled()->set_consent_position(letter_->withdrawal_position);
  const uint64_t position = InjectEvent(conference, "conference-" + letter_->case_id, e,
                                        ServiceProcesses::kAnn);
  ASSERT_GT(position, 0u);
  const std::string dom = Render(Report(conference, 1), dir_.Sub("finding.png"));
  EXPECT_THAT(dom, HasSubstr("class=\"verdict bad\""));
  EXPECT_THAT(dom, HasSubstr(absl::StrCat("<a href=\"#e-conference-", position,
                                          "\">conference #", position, "</a>")));
  EXPECT_THAT(
      dom, HasSubstr(absl::StrCat("class=\"ev contact finding\" data-log=\"conference\" "
                                  "data-position=\"",
                                  position, "\"")));
  EXPECT_THAT(dom, HasSubstr("<b>VIOLATION</b>"));
}

}  // namespace
}  // namespace mend
