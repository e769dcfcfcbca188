// mend-audit decisions on the logs of the four real services: a letter
// offered and delivered, each on its own decision, then withdrawn — a clean
// audit; then copies of the logs with a contact injected (through the store,
// so the chain and the tree hold): without a decision, on a decision for
// another kind or victim, after a withdrawal its service had handled, and
// concurrent with one (a race) — each found at the injected position with
// exit 1. Bad arguments: exit 2.
#include <memory>
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
namespace common_v1 = ::mend::common::v1;
namespace conference_v1 = ::mend::conference::v1;

class AuditDecisionsTest : public ::testing::Test {
 protected:
  static void SetUpTestSuite() {
    recorded_ = new testing::RecordedLetterCase(
        testing::RecordLetterCase("ad", MEND_CASE_SERVICE, MEND_CONSENT_SERVICE,
                                  MEND_SCHEDULING_SERVICE, MEND_CONFERENCE_SERVICE));
    processes_ = recorded_->processes.get();
    letter_ = &recorded_->letter;
  }
  static void TearDownTestSuite() {
    delete recorded_;
    recorded_ = nullptr;
  }

  struct Logs {
    std::string case_log, consent, scheduling, conference;
  };
  Logs Originals() const {
    return {processes_->CaseLogPath(), processes_->ConsentLogPath(),
            processes_->SchedulingLogPath(), processes_->ConferenceLogPath()};
  }
  ToolResult Decisions(const Logs& logs, const std::vector<std::string>& extra) {
    std::vector<std::string> args = {
        "decisions", "--case_log=" + logs.case_log, "--consent_log=" + logs.consent,
        "--scheduling_log=" + logs.scheduling, "--conference_log=" + logs.conference};
    args.insert(args.end(), extra.begin(), extra.end());
    return RunTool(MEND_AUDIT_BINARY, args, dir_.Sub(absl::StrCat("audit", runs_++)));
  }
  // The originals with a LetterDelivered injected into a copy of the
  // conference log; its position in `*position`.
  Logs WithInjected(const conference_v1::LetterDelivered& event, uint64_t* position) {
    Logs logs = Originals();
    logs.conference = CopyLog(logs.conference, dir_.path());
    *position = InjectEvent(logs.conference, "conference-" + letter_->case_id, event,
                            ServiceProcesses::kAnn);
    return logs;
  }
  // A delivery as the conference service records one, on the real delivery
  // decision, having handled the logs up to `consent_position`.
  conference_v1::LetterDelivered Delivery(uint64_t consent_position) const {
    conference_v1::LetterDelivered e;
    e.set_case_id(letter_->case_id);
    e.set_letter_id(letter_->letter_id);
    e.set_version(2);
    e.set_victim_id("v-1");
    *e.mutable_approval() = letter_->delivery;
    e.set_delivered_by(ServiceProcesses::kAnn);
    e.mutable_handled()->set_case_position(letter_->delivery.case_position());
    e.mutable_handled()->set_consent_position(consent_position);
    return e;
  }

  static testing::RecordedLetterCase* recorded_;
  static ServiceProcesses* processes_;
  static LetterCase* letter_;
  TempDir dir_;
  int runs_ = 0;
};
testing::RecordedLetterCase* AuditDecisionsTest::recorded_ = nullptr;
ServiceProcesses* AuditDecisionsTest::processes_ = nullptr;
LetterCase* AuditDecisionsTest::letter_ = nullptr;

TEST_F(AuditDecisionsTest, TheRealLogsAreCompleteAndTheTimelineShowsEachContact) {
  ASSERT_FALSE(letter_->offer.decision_id().empty());
  ASSERT_FALSE(letter_->delivery.decision_id().empty());
  ToolResult r = Decisions(Originals(), {"--case=" + letter_->case_id});
  EXPECT_EQ(r.exit_code, 0) << r.out << r.err;
  EXPECT_THAT(r.out, HasSubstr(absl::StrCat("LetterOffered")));
  EXPECT_THAT(r.out, HasSubstr(absl::StrCat("← decision ", letter_->offer.decision_id(),
                                            " (consent #",
                                            letter_->offer.consent_position(), ")")));
  EXPECT_THAT(r.out, HasSubstr(absl::StrCat(
                         "← decision ", letter_->delivery.decision_id(), " (consent #",
                         letter_->delivery.consent_position(), ")")));
  EXPECT_THAT(r.out,
              HasSubstr(absl::StrCat("consent #", letter_->withdrawal_position,
                                     "  ConsentWithdrawn: v-1 withdrew RECEIVE_LETTER")));
  EXPECT_THAT(r.out, HasSubstr("2 contact(s): every contact rests on an approval"));
  EXPECT_THAT(r.out, HasSubstr("re-run to themselves"));
  EXPECT_THAT(r.out, HasSubstr("0 violation(s), 0 race(s)"));
  ToolResult all = Decisions(Originals(), {"--all"});
  EXPECT_EQ(all.exit_code, 0) << all.out << all.err;
  EXPECT_THAT(all.out, HasSubstr("1 case(s)"));
}

TEST_F(AuditDecisionsTest, AContactWithoutADecisionIsAViolationAtItsPosition) {
  conference_v1::LetterDelivered e = Delivery(letter_->delivery.consent_position());
  e.mutable_approval()->set_decision_id("00000000-0000-4000-8000-000000000000");
  uint64_t position = 0;
  Logs logs = WithInjected(e, &position);
  ASSERT_GT(position, 0u);
  ToolResult r = Decisions(logs, {"--case=" + letter_->case_id});
  EXPECT_EQ(r.exit_code, 1) << r.out << r.err;
  EXPECT_THAT(r.out, HasSubstr(absl::StrCat(
                         "VIOLATION conference position ", position,
                         ": LetterDelivered: rests on decision "
                         "00000000-0000-4000-8000-000000000000, which is not in the "
                         "consent log")));
}

TEST_F(AuditDecisionsTest, AContactOnADecisionForAnotherKindOrVictimIsAViolation) {
  // The offer's APPROACH_VICTIM approval, cited for a delivery.
  conference_v1::LetterDelivered e = Delivery(letter_->delivery.consent_position());
  *e.mutable_approval() = letter_->offer;
  uint64_t position = 0;
  Logs logs = WithInjected(e, &position);
  ToolResult r = Decisions(logs, {"--case=" + letter_->case_id});
  EXPECT_EQ(r.exit_code, 1) << r.out << r.err;
  EXPECT_THAT(r.out, HasSubstr(absl::StrCat(
                         "VIOLATION conference position ", position,
                         ": LetterDelivered: is LETTER_DELIVERY but decision ",
                         letter_->offer.decision_id(), " is for APPROACH_VICTIM")));

  // The delivery's decision, for another victim.
  conference_v1::LetterDelivered other = Delivery(letter_->delivery.consent_position());
  other.set_victim_id("v-2");
  uint64_t other_position = 0;
  Logs other_logs = WithInjected(other, &other_position);
  ToolResult o = Decisions(other_logs, {"--case=" + letter_->case_id});
  EXPECT_EQ(o.exit_code, 1) << o.out << o.err;
  EXPECT_THAT(o.out, HasSubstr(absl::StrCat(
                         "VIOLATION conference position ", other_position,
                         ": LetterDelivered: is with v-2 but decision ",
                         letter_->delivery.decision_id(), " is for victim v-1")));
}

TEST_F(AuditDecisionsTest, AContactAfterAWithdrawalItsServiceHadHandledIsAViolation) {
  uint64_t position = 0;
  Logs logs = WithInjected(Delivery(letter_->withdrawal_position), &position);
  ToolResult r = Decisions(logs, {"--case=" + letter_->case_id});
  EXPECT_EQ(r.exit_code, 1) << r.out << r.err;
  EXPECT_THAT(r.out, HasSubstr(absl::StrCat(
                         "VIOLATION conference position ", position,
                         ": LetterDelivered: was recorded after the withdrawal "
                         "by v-1 of RECEIVE_LETTER (consent-log position ",
                         letter_->withdrawal_position, ")")));
  EXPECT_THAT(r.out, HasSubstr("1 violation(s), 0 race(s)"));
}

TEST_F(AuditDecisionsTest, AContactConcurrentWithAWithdrawalIsReportedAsARace) {
  // Recorded after the withdrawal, by a service that had not handled it.
  uint64_t position = 0;
  Logs logs = WithInjected(Delivery(letter_->withdrawal_position - 1), &position);
  ToolResult r = Decisions(logs, {"--case=" + letter_->case_id});
  EXPECT_EQ(r.exit_code, 1) << r.out << r.err;
  EXPECT_THAT(r.out, HasSubstr(absl::StrCat("RACE conference position ", position,
                                            ": LetterDelivered: the withdrawal by v-1 of "
                                            "RECEIVE_LETTER (consent-log position ",
                                            letter_->withdrawal_position)));
  EXPECT_THAT(r.out, HasSubstr("a race"));
  EXPECT_THAT(r.out, Not(HasSubstr("VIOLATION")));
  EXPECT_THAT(r.out, HasSubstr("0 violation(s), 1 race(s)"));
}

TEST_F(AuditDecisionsTest, BadArgumentsAreExitTwo) {
  ToolResult neither = Decisions(Originals(), {});
  EXPECT_EQ(neither.exit_code, 2);
  EXPECT_THAT(neither.err, HasSubstr("--case ID or --all"));
  ToolResult unknown = Decisions(Originals(), {"--case=no-such-case"});
  EXPECT_EQ(unknown.exit_code, 2);
  EXPECT_THAT(unknown.err, HasSubstr("case no-such-case is not in the case log"));
  Logs swapped = Originals();
  std::swap(swapped.case_log, swapped.consent);
  ToolResult wrong = Decisions(swapped, {"--all"});
  EXPECT_EQ(wrong.exit_code, 2);
  EXPECT_THAT(wrong.err, HasSubstr("holds the consent service's log"));
  Logs missing = Originals();
  missing.scheduling = dir_.Sub("absent");
  ToolResult absent = Decisions(missing, {"--all"});
  EXPECT_EQ(absent.exit_code, 2);
  EXPECT_THAT(absent.err, HasSubstr("--scheduling_log"));
}

}  // namespace
}  // namespace mend
