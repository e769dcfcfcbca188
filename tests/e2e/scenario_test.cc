// mend-scenario, the case-study driver, against the four real services: the
// story runs to its closure (exit 0) and every service ends as the story
// says — the case CLOSED as completed; the consents given (hers declined
// first); the programme complete with a made-up session; the letter
// delivered, the conference held with an apology, the agreement complete,
// the victim informed, feedback from both, the follow-up done; the contact
// decisions exactly the ones the story needs, in order, as the summary JSON
// lists them; the audit clean with its report written — with each of the
// four services SIGKILLed and restarted, one after the other, in the middle
// of the run. Also three cases at once, a step refused (exit 1 naming it)
// and bad flags (exit 2).
//
// The scheduling service runs with a training environment's allowance
// (MEND_ATTENDANCE_BEFORE_START): the programme's twelve weeks are attended
// in the run's seconds.
#include <signal.h>
#include <stdlib.h>
#include <sys/wait.h>

#include <filesystem>
#include <fstream>
#include <map>
#include <set>
#include <string>
#include <utility>
#include <vector>

#include "absl/strings/match.h"
#include "absl/strings/str_cat.h"
#include "gmock/gmock.h"
#include "gtest/gtest.h"
#include "nlohmann/json.hpp"
#include "tests/support/grpc_client.h"
#include "tests/support/process.h"
#include "tests/support/service_processes.h"
#include "tests/support/test_util.h"
#include "tests/support/tokens.h"

namespace mend {
namespace {

namespace case_v1 = ::mend::case_::v1;
namespace common_v1 = ::mend::common::v1;
namespace consent_v1 = ::mend::consent::v1;
namespace scheduling_v1 = ::mend::scheduling::v1;
namespace conference_v1 = ::mend::conference::v1;
using ::mend::testing::Call;
using ::mend::testing::ChildProcess;
using ::mend::testing::IsOk;
using ::mend::testing::RunTool;
using ::mend::testing::ServiceProcesses;
using ::mend::testing::ToolResult;
using ::mend::testing::WaitFor;
using ::testing::HasSubstr;

// The contact decisions of the story, in order (kind and outcome).
const std::vector<std::string> kDecisions = {
    "APPROACH_VICTIM REFUSED",           // she had declined to take part
    "APPROACH_VICTIM APPROVED",          // the letter offered to her
    "LETTER_DELIVERY APPROVED",          // and delivered
    "APPROACH_VICTIM APPROVED",          // her preparation meeting
    "FACE_TO_FACE_CONFERENCE APPROVED",  // the conference booked
    "FACE_TO_FACE_CONFERENCE APPROVED",  // and started
    "APPROACH_VICTIM APPROVED",          // told the agreement is complete
};

std::string ReadText(const std::string& path) {
  std::ifstream in(path);
  return std::string(std::istreambuf_iterator<char>(in),
                     std::istreambuf_iterator<char>());
}

class ScenarioTest : public ::testing::Test {
 protected:
  ScenarioTest()
      : p_(MEND_CASE_SERVICE, MEND_CONSENT_SERVICE, MEND_SCHEDULING_SERVICE,
           MEND_CONFERENCE_SERVICE) {}

  void SetUp() override {
    // Inherited by the services started from here on (and ignored by the
    // others): the scheduling service's allowance for a training run.
    ASSERT_EQ(setenv("MEND_ATTENDANCE_BEFORE_START", "2400h", 1), 0);
    p_.StartCase();
    p_.StartConsent();
    p_.StartScheduling();
    p_.StartConferenceService();
  }

  std::vector<std::string> Args(const std::string& out_dir,
                                const std::string& token_key) const {
    return {"--case_address=" + p_.CaseAddress(),
            "--consent_address=" + p_.ConsentAddress(),
            "--scheduling_address=" + p_.SchedulingAddress(),
            "--conference_address=" + p_.ConferenceAddress(),
            "--token_key=" + token_key,
            "--out_dir=" + out_dir,
            "--summary_json=" + out_dir + "/summary.json",
            std::string("--audit_binary=") + MEND_AUDIT_BINARY};
  }

  nlohmann::json Summary(const std::string& out_dir) {
    nlohmann::json j = nlohmann::json::parse(ReadText(out_dir + "/summary.json"), nullptr,
                                             /*allow_exceptions=*/false);
    EXPECT_FALSE(j.is_discarded()) << "the summary is not JSON";
    return j;
  }

  // The decisions of the case in the consent log: exactly the story's, and
  // the ones the summary lists (ids and positions).
  void ExpectDecisions(const std::string& case_id, const nlohmann::json& summary_case) {
    auto listed = p_.ListDecisions(case_id);
    ASSERT_THAT(listed, IsOk());
    std::vector<std::string> got;
    for (const consent_v1::ContactDecision& d : listed->decisions()) {
      got.push_back(absl::StrCat(common_v1::ContactKind_Name(d.decision().kind()), " ",
                                 consent_v1::Outcome_Name(d.decision().outcome())));
    }
    EXPECT_EQ(got, kDecisions);
    const nlohmann::json& summarised = summary_case["decisions"];
    ASSERT_EQ(summarised.size(), static_cast<size_t>(listed->decisions_size()));
    for (int i = 0; i < listed->decisions_size(); ++i) {
      const consent_v1::ContactDecision& d = listed->decisions(i);
      EXPECT_EQ(summarised[i]["decision_id"], d.decision().decision_id()) << i;
      EXPECT_EQ(summarised[i]["consent_position"], d.position()) << i;
      EXPECT_EQ(summarised[i]["kind"], common_v1::ContactKind_Name(d.decision().kind()));
      EXPECT_EQ(summarised[i]["outcome"],
                consent_v1::Outcome_Name(d.decision().outcome()));
    }
  }

  // Every service's account of the case, as the story ends it.
  void ExpectEndState(const std::string& case_id, const nlohmann::json& summary_case) {
    const std::string auditor = p_.Token(Role::kAuditor, "auditor-al");
    auto view = p_.GetCase(case_id, auditor);
    ASSERT_THAT(view, IsOk());
    EXPECT_EQ(view->stage(), case_v1::CLOSED);
    EXPECT_EQ(view->closure_reason(), case_v1::COMPLETED);
    EXPECT_TRUE(view->acknowledged());
    EXPECT_EQ(std::vector<std::string>(view->facilitator_ids().begin(),
                                       view->facilitator_ids().end()),
              summary_case["facilitator_ids"].get<std::vector<std::string>>());

    consent_v1::GetConsentsRequest consents_request;
    consents_request.set_case_id(case_id);
    auto consents = Call<consent_v1::GetConsentsResponse>(
        auditor, [&](grpc::ClientContext* c, consent_v1::GetConsentsResponse* o) {
          return p_.consent_stub().GetConsents(c, consents_request, o);
        });
    ASSERT_THAT(consents, IsOk());
    // participant → scope → every answer, oldest first.
    std::map<std::string,
             std::map<consent_v1::ConsentScope, std::vector<consent_v1::ConsentStatus>>>
        history;
    for (const consent_v1::ParticipantConsents& p : consents->participants()) {
      for (const consent_v1::ScopeConsents& s : p.scopes()) {
        for (const consent_v1::ConsentEntry& e : s.history()) {
          history[p.participant_id()][s.scope()].push_back(e.status());
        }
      }
    }
    using Statuses = std::vector<consent_v1::ConsentStatus>;
    const Statuses given = {consent_v1::CONSENT_STATUS_GIVEN};
    EXPECT_EQ(history["v-1"][consent_v1::PARTICIPATE],
              (Statuses{consent_v1::CONSENT_STATUS_DECLINED,
                        consent_v1::CONSENT_STATUS_GIVEN}));
    EXPECT_EQ(history["v-1"][consent_v1::RECEIVE_LETTER], given);
    EXPECT_EQ(history["v-1"][consent_v1::FACE_TO_FACE], given);
    EXPECT_EQ(history["su-1"][consent_v1::PARTICIPATE], given);
    EXPECT_EQ(history["su-1"][consent_v1::RECEIVE_LETTER], given);
    EXPECT_EQ(history["su-1"][consent_v1::FACE_TO_FACE], given);

    scheduling_v1::GetCaseScheduleRequest schedule_request;
    schedule_request.set_case_id(case_id);
    auto schedule = Call<scheduling_v1::GetCaseScheduleResponse>(
        auditor, [&](grpc::ClientContext* c, scheduling_v1::GetCaseScheduleResponse* o) {
          return p_.scheduling_stub().GetCaseSchedule(c, schedule_request, o);
        });
    ASSERT_THAT(schedule, IsOk());
    EXPECT_TRUE(schedule->programme_completed());
    EXPECT_EQ(schedule->sessions_attended(), 12);
    std::map<std::string, const scheduling_v1::Booking*> sessions;
    for (const scheduling_v1::Booking& b : schedule->bookings()) {
      if (b.kind() == scheduling_v1::PROGRAMME_SESSION) sessions[b.booking_id()] = &b;
    }
    ASSERT_EQ(sessions.size(), 13u) << "twelve sessions and a make-up";
    int made_up = 0, attended = 0;
    for (const auto& [id, b] : sessions) {
      EXPECT_EQ(b->status(), scheduling_v1::RECORDED) << id;
      if (b->attendance() == scheduling_v1::ATTENDED) ++attended;
      if (b->makes_up_booking_id().empty()) continue;
      ++made_up;
      EXPECT_EQ(b->attendance(), scheduling_v1::ATTENDED);
      ASSERT_TRUE(sessions.contains(b->makes_up_booking_id()));
      const scheduling_v1::Booking* missed = sessions[b->makes_up_booking_id()];
      EXPECT_EQ(missed->attendance(), scheduling_v1::MISSED);
      EXPECT_EQ(missed->made_up_by_booking_id(), id);
      EXPECT_EQ(missed->session_number(), b->session_number());
    }
    EXPECT_EQ(made_up, 1);
    EXPECT_EQ(attended, 12);

    conference_v1::GetCaseContactRequest contact_request;
    contact_request.set_case_id(case_id);
    auto contact = Call<conference_v1::CaseContactView>(
        auditor, [&](grpc::ClientContext* c, conference_v1::CaseContactView* o) {
          return p_.conference_stub().GetCaseContact(c, contact_request, o);
        });
    ASSERT_THAT(contact, IsOk());
    ASSERT_EQ(contact->letters_size(), 1);
    const conference_v1::LetterView& letter = contact->letters(0);
    EXPECT_EQ(letter.versions_size(), 2);
    EXPECT_EQ(letter.delivered_version(), 2);
    EXPECT_EQ(letter.delivery().kind(), common_v1::LETTER_DELIVERY);
    EXPECT_TRUE(letter.wants_further_contact());
    ASSERT_EQ(contact->conferences_size(), 1);
    EXPECT_TRUE(contact->conferences(0).held());
    EXPECT_TRUE(contact->conferences(0).apology_made());
    EXPECT_EQ(contact->conferences(0).start().kind(), common_v1::FACE_TO_FACE_CONFERENCE);
    EXPECT_EQ(contact->preparations_size(), 2);
    EXPECT_TRUE(contact->agreement().completed());
    EXPECT_EQ(contact->agreement().items_size(), 2);
    for (const conference_v1::AgreementItemView& item : contact->agreement().items()) {
      EXPECT_TRUE(item.completed()) << item.item_id();
    }
    EXPECT_EQ(contact->agreement().victim_informed().kind(), common_v1::APPROACH_VICTIM);
    std::set<std::string> feedback;
    for (const conference_v1::FeedbackView& f : contact->feedback()) {
      feedback.insert(f.participant_id());
    }
    EXPECT_EQ(feedback, (std::set<std::string>{"su-1", "v-1"}));
    EXPECT_TRUE(contact->follow_up_completed());

    ExpectDecisions(case_id, summary_case);
    // The contacts rest on the decisions the summary lists.
    const nlohmann::json& d = summary_case["decisions"];
    ASSERT_EQ(d.size(), kDecisions.size());
    EXPECT_EQ(letter.offer().decision_id(), d[1]["decision_id"]);
    EXPECT_EQ(letter.delivery().decision_id(), d[2]["decision_id"]);
    EXPECT_EQ(contact->conferences(0).start().decision_id(), d[5]["decision_id"]);
    EXPECT_EQ(contact->agreement().victim_informed().decision_id(), d[6]["decision_id"]);
  }

  // The audit ran clean and wrote its report.
  void ExpectAuditClean(const nlohmann::json& summary_case, const std::string& out) {
    ASSERT_TRUE(summary_case.contains("audit"));
    EXPECT_EQ(summary_case["audit"]["decisions_exit"], 0);
    EXPECT_EQ(summary_case["audit"]["report_exit"], 0);
    const std::string report = summary_case["audit"]["report"];
    EXPECT_GT(std::filesystem::file_size(report), 1000u) << report;
    EXPECT_THAT(out, HasSubstr("report: " + std::filesystem::absolute(report).string()));
    EXPECT_THAT(ReadText(report), HasSubstr(summary_case["case_id"].get<std::string>()));
  }

  ServiceProcesses p_;
};

TEST_F(ScenarioTest, TheCaseStudyRunsToClosureThroughRestartsAndAuditsClean) {
  const std::string out_dir = p_.dir().Sub("scenario-out");
  const std::string log = p_.dir().Sub("scenario");
  absl::StatusOr<ChildProcess> run =
      ChildProcess::Start(MEND_SCENARIO_BINARY, Args(out_dir, p_.TokenKeyPath()), log);
  ASSERT_THAT(run, IsOk());
  // Each service is SIGKILLed while the run is held between two steps that
  // need it (SIGSTOP: the run provably not over), the run let go against
  // the dead service, and the service started again on its data.
  const auto kill_when = [&](const std::string& line, auto kill, auto start) {
    ASSERT_TRUE(
        WaitFor([&] { return absl::StrContains(ReadText(log + ".stdout"), line); },
                absl::Seconds(60)))
        << "no \"" << line << "\" in\n"
        << run->Output();
    run->Signal(SIGSTOP);
    ASSERT_THAT(ReadText(log + ".stdout"), ::testing::Not(HasSubstr("CloseCase")))
        << "the story was over before the kill";
    kill();
    run->Signal(SIGCONT);
    start();
  };
  kill_when(
      "RecordAcknowledgement", [&] { p_.KillCase(); }, [&] { p_.StartCase(); });
  ASSERT_FALSE(HasFatalFailure());
  kill_when(
      "PlanProgramme", [&] { p_.KillScheduling(); }, [&] { p_.StartScheduling(); });
  ASSERT_FALSE(HasFatalFailure());
  kill_when(
      "OfferLetter", [&] { p_.KillConferenceService(); },
      [&] { p_.StartConferenceService(); });
  ASSERT_FALSE(HasFatalFailure());
  kill_when(
      "BookPreparationMeeting", [&] { p_.KillConsent(); }, [&] { p_.StartConsent(); });
  ASSERT_FALSE(HasFatalFailure());
  const std::optional<int> status = run->Wait(absl::Minutes(2));
  ASSERT_TRUE(status.has_value()) << run->Output();
  ASSERT_TRUE(WIFEXITED(*status) && WEXITSTATUS(*status) == 0) << run->Output();
  const std::string out = ReadText(log + ".stdout");
  EXPECT_THAT(out, HasSubstr("cases completed: 1 of 1"));
  EXPECT_THAT(out, HasSubstr("DecideContact APPROACH_VICTIM → REFUSED (decision "));
  EXPECT_THAT(out, HasSubstr("stage PREPARING → INDIRECT_CONTACT"));
  EXPECT_THAT(out, HasSubstr("stage FOLLOW_UP → CLOSED"));

  const nlohmann::json summary = Summary(out_dir);
  ASSERT_EQ(summary["cases"].size(), 1u);
  const nlohmann::json& c = summary["cases"][0];
  EXPECT_TRUE(c["completed"].get<bool>());
  ExpectEndState(c["case_id"], c);
  ExpectAuditClean(c, out);
}

TEST_F(ScenarioTest, ThreeCasesAtOnceAndAStepRefused) {
  const std::string out_dir = p_.dir().Sub("three");
  std::vector<std::string> args = Args(out_dir, p_.TokenKeyPath());
  args.push_back("--cases=3");
  const ToolResult three = RunTool(MEND_SCENARIO_BINARY, args, p_.dir().Sub("three"));
  ASSERT_EQ(three.exit_code, 0) << three.out << three.err;
  EXPECT_THAT(three.out, HasSubstr("cases completed: 3 of 3"));
  const nlohmann::json summary = Summary(out_dir);
  EXPECT_EQ(summary["cases_completed"], 3);
  ASSERT_EQ(summary["cases"].size(), 3u);
  std::set<std::string> ids;
  for (const nlohmann::json& c : summary["cases"]) {
    ids.insert(c["case_id"].get<std::string>());
    auto view = p_.GetCase(c["case_id"], p_.Token(Role::kAuditor, "auditor-al"));
    ASSERT_THAT(view, IsOk());
    EXPECT_EQ(view->stage(), case_v1::CLOSED);
    EXPECT_EQ(view->closure_reason(), case_v1::COMPLETED);
    ExpectDecisions(c["case_id"], c);
    ExpectAuditClean(c, three.out);
  }
  EXPECT_EQ(ids.size(), 3u) << "each case its own";

  // Tokens signed with a key the services do not trust: the first step is
  // refused, named with its code, and nothing else is tried.
  const std::string foreign_key = p_.dir().Sub("foreign.key");
  std::ofstream(foreign_key) << ::mend::testing::NewSigningKey().private_pem;
  const std::string refused_dir = p_.dir().Sub("refused");
  const ToolResult refused = RunTool(MEND_SCENARIO_BINARY, Args(refused_dir, foreign_key),
                                     p_.dir().Sub("refused"));
  EXPECT_EQ(refused.exit_code, 1) << refused.out << refused.err;
  EXPECT_THAT(refused.err,
              HasSubstr("step \"a referral from probation\": UNAUTHENTICATED: "
                        "ReferCase: "));
  EXPECT_THAT(refused.out, HasSubstr("cases completed: 0 of 1"));
  const nlohmann::json failed = Summary(refused_dir);
  EXPECT_FALSE(failed["cases"][0]["completed"].get<bool>());
  EXPECT_TRUE(failed["cases"][0]["steps"].empty());
  EXPECT_FALSE(failed["cases"][0].contains("audit")) << "a failed case is not audited";
}

TEST(ScenarioFlagsTest, BadFlagsExitTwoNamingTheFlag) {
  testing::TempDir dir;
  const std::string key = dir.Sub("token.key");
  std::ofstream(key) << ::mend::testing::NewSigningKey().private_pem;
  const struct {
    std::vector<std::string> args;
    std::string names;
  } rows[] = {
      {{}, "--token_key"},
      {{"--token_key=" + dir.Sub("missing.key")}, "--token_key"},
      {{"--token_key=" + key, "--cases=0"}, "--cases"},
      {{"--token_key=" + key, "--audit_binary=" + dir.Sub("none")}, "--audit_binary"},
      {{"--token_key=" + key, "leftover"}, "unexpected argument 'leftover'"},
  };
  int n = 0;
  for (const auto& row : rows) {
    const ToolResult r =
        RunTool(MEND_SCENARIO_BINARY, row.args, dir.Sub(absl::StrCat("run-", n++)));
    EXPECT_EQ(r.exit_code, 2) << row.names << ": " << r.err;
    EXPECT_THAT(r.err, HasSubstr(row.names));
  }
}

}  // namespace
}  // namespace mend
