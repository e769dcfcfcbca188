// mend-audit replay against the services themselves: the real case,
// consent, scheduling and conference processes drive one case through
// referral, consents, a contact decision, a booking, a letter and its
// review, a new participant and a pause; at several points each service's
// own answer (GetCase, GetConsents and ListDecisions, GetCaseSchedule,
// GetCaseContact, as an auditor) is recorded with its log's head. With the
// services stopped, the real mend-audit binary replays each data directory
// `--until` each recorded head, and its JSON parses back into exactly the
// answer the service gave then (the `handled` positions aside: they are the
// followers' progress, not the log's). Replay `--until` a time stops where
// the position does. Sealed data stays sealed: listed with its key, never
// shown. Bad arguments exit 2 with a message. Nothing sleeps: reads wait on
// causal tokens, and a view is taken only when the head did not move around
// it.
#include <grpcpp/grpcpp.h>

#include <functional>
#include <string>
#include <vector>

#include "absl/strings/match.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_join.h"
#include "absl/time/clock.h"
#include "absl/time/time.h"
#include "gmock/gmock.h"
#include "google/protobuf/util/json_util.h"
#include "google/protobuf/util/message_differencer.h"
#include "gtest/gtest.h"
#include "nlohmann/json.hpp"
#include "tests/support/grpc_client.h"
#include "tests/support/process.h"
#include "tests/support/service_processes.h"
#include "tests/support/test_util.h"

namespace mend {
namespace {

namespace case_v1 = ::mend::case_::v1;
namespace common_v1 = ::mend::common::v1;
namespace consent_v1 = ::mend::consent::v1;
namespace scheduling_v1 = ::mend::scheduling::v1;
namespace conference_v1 = ::mend::conference::v1;
using ::google::protobuf::util::MessageDifferencer;
using ::mend::testing::Call;
using ::mend::testing::IsOk;
using ::mend::testing::RunTool;
using ::mend::testing::ServiceProcesses;
using ::mend::testing::ToolResult;
using ::testing::HasSubstr;
using Json = nlohmann::json;

constexpr const char* kAnn = ServiceProcesses::kAnn;
constexpr char kLetter[] = "I am sorry I took your bag; I think about it every day.";
constexpr char kReviewNotes[] = "Say what it did to her, not to you.";

scheduling_v1::LocalTime LondonIn(int days, const std::string& time) {
  absl::TimeZone london;
  EXPECT_TRUE(absl::LoadTimeZone("Europe/London", &london));
  scheduling_v1::LocalTime out;
  out.set_date(
      absl::FormatTime("%Y-%m-%d", absl::Now() + absl::Hours(24 * days), london));
  out.set_time(time);
  out.set_time_zone("Europe/London");
  return out;
}

// A service's answer and the head of its log when it gave it.
template <typename View>
struct Seen {
  View view;
  uint64_t head = 0;
};

class AuditReplayTest : public ::testing::Test {
 protected:
  AuditReplayTest()
      : p_(MEND_CASE_SERVICE, MEND_CONSENT_SERVICE, MEND_SCHEDULING_SERVICE,
           MEND_CONFERENCE_SERVICE) {}

  void SetUp() override {
    p_.StartCase();
    p_.StartConsent();
    p_.StartScheduling();
    p_.StartConferenceService();
  }

  std::string Ann() { return p_.Token(Role::kFacilitator, kAnn); }
  std::string Manager() { return p_.Token(Role::kManager, ServiceProcesses::kManager); }
  std::string Auditor() { return p_.Token(Role::kAuditor, "auditor-al"); }
  common_v1::CausalToken& token() { return p_.causal_token(); }
  // The token with only the logs a service follows.
  common_v1::CausalToken Without(bool scheduling, bool conference) {
    common_v1::CausalToken t = token();
    if (!scheduling) t.clear_scheduling_position();
    if (!conference) t.clear_conference_position();
    return t;
  }

  // `read` and the head of its log, taken when the head is the same before
  // and after the read: the answer is of exactly that head (a follower may
  // still be writing what the causal token did not cover).
  template <typename View>
  Seen<View> Take(const std::function<uint64_t()>& head,
                  const std::function<absl::StatusOr<View>()>& read) {
    const absl::Time deadline = absl::Now() + absl::Seconds(30);
    while (absl::Now() < deadline) {
      const uint64_t before = head();
      absl::StatusOr<View> view = read();
      EXPECT_THAT(view, IsOk());
      if (!view.ok()) return {};
      if (head() == before) return {*std::move(view), before};
    }
    ADD_FAILURE() << "the log kept moving around the read";
    return {};
  }

  Seen<case_v1::CaseView> SeeCase(const std::string& case_id) {
    return Take<case_v1::CaseView>([&] { return p_.CaseHead(); },
                                   [&] { return p_.GetCase(case_id, Auditor()); });
  }
  struct Consents {
    consent_v1::GetConsentsResponse consents;
    consent_v1::ListDecisionsResponse decisions;
  };
  Seen<Consents> SeeConsent(const std::string& case_id) {
    return Take<Consents>([&] { return p_.ConsentHead(); },
                          [&]() -> absl::StatusOr<Consents> {
                            consent_v1::GetConsentsRequest r;
                            r.set_case_id(case_id);
                            *r.mutable_causal_token() = Without(false, false);
                            Consents out;
                            absl::StatusOr<consent_v1::GetConsentsResponse> consents =
                                Call<consent_v1::GetConsentsResponse>(
                                    Auditor(), [&](grpc::ClientContext* c,
                                                   consent_v1::GetConsentsResponse* o) {
                                      return p_.consent_stub().GetConsents(c, r, o);
                                    });
                            if (!consents.ok()) return consents.status();
                            out.consents = *std::move(consents);
                            absl::StatusOr<consent_v1::ListDecisionsResponse> decisions =
                                p_.ListDecisions(case_id);
                            if (!decisions.ok()) return decisions.status();
                            out.decisions = *std::move(decisions);
                            return out;
                          });
  }
  Seen<scheduling_v1::GetCaseScheduleResponse> SeeSchedule(const std::string& case_id) {
    return Take<scheduling_v1::GetCaseScheduleResponse>(
        [&] { return p_.SchedulingHead(); },
        [&] {
          scheduling_v1::GetCaseScheduleRequest r;
          r.set_case_id(case_id);
          *r.mutable_causal_token() = Without(true, false);
          return Call<scheduling_v1::GetCaseScheduleResponse>(
              Auditor(),
              [&](grpc::ClientContext* c, scheduling_v1::GetCaseScheduleResponse* o) {
                return p_.scheduling_stub().GetCaseSchedule(c, r, o);
              });
        });
  }
  Seen<conference_v1::CaseContactView> SeeContact(const std::string& case_id) {
    return Take<conference_v1::CaseContactView>(
        [&] { return p_.ConferenceHead(); },
        [&] {
          conference_v1::GetCaseContactRequest r;
          r.set_case_id(case_id);
          *r.mutable_causal_token() = Without(true, true);
          return Call<conference_v1::CaseContactView>(
              Auditor(), [&](grpc::ClientContext* c, conference_v1::CaseContactView* o) {
                return p_.conference_stub().GetCaseContact(c, r, o);
              });
        });
  }

  // A conference command by Ann with the causal token.
  template <typename Request>
  absl::StatusOr<conference_v1::CommandResult> Conference(
      grpc::Status (conference_v1::ConferenceService::Stub::*method)(
          grpc::ClientContext*, const Request&, conference_v1::CommandResult*),
      Request request) {
    *request.mutable_causal_token() = Without(true, true);
    auto out = Call<conference_v1::CommandResult>(
        Ann(), [&](grpc::ClientContext* c, conference_v1::CommandResult* o) {
          return (p_.conference_stub().*method)(c, request, o);
        });
    if (out.ok()) {
      token().set_conference_position(
          std::max(token().conference_position(), out->last_position()));
    }
    return out;
  }

  // The real mend-audit binary.
  ToolResult Audit(const std::vector<std::string>& args) {
    return RunTool(MEND_AUDIT_BINARY, args,
                   p_.dir().Sub(absl::StrCat("audit-", ++runs_)));
  }
  // `mend-audit replay` of `log` until `head`, for `case_id`: the one case's
  // JSON object, after checking the envelope.
  Json Replay(const std::string& log, uint64_t head, const std::string& case_id,
              const std::string& service) {
    ToolResult r = Audit(
        {"replay", "--log=" + log, absl::StrCat("--until=", head), "--case=" + case_id});
    EXPECT_EQ(r.exit_code, 0) << r.err << r.out;
    Json json = Json::parse(r.out, nullptr, /*allow_exceptions=*/false);
    EXPECT_FALSE(json.is_discarded()) << r.out;
    if (json.is_discarded()) return Json();
    EXPECT_EQ(json["service"], service);
    EXPECT_EQ(json["until_position"], head);
    EXPECT_EQ(json["case"], case_id);
    EXPECT_EQ(json["cases"].size(), 1u) << r.out;
    if (json["cases"].size() != 1) return Json();
    EXPECT_EQ(json["cases"][0]["case_id"], case_id);
    return json["cases"][0];
  }

  template <typename Message>
  static Message Parse(const Json& json) {
    Message m;
    EXPECT_TRUE(google::protobuf::util::JsonStringToMessage(json.dump(), &m).ok())
        << json.dump();
    return m;
  }
  // Equal but for `handled` (the followers' progress when the service
  // answered: not in its log).
  template <typename Message>
  static void ExpectSameButHandled(const Message& replayed, const Message& served) {
    MessageDifferencer differ;
    if (const auto* handled = Message::descriptor()->FindFieldByName("handled")) {
      differ.IgnoreField(handled);
    }
    std::string diff;
    differ.ReportDifferencesToString(&diff);
    EXPECT_TRUE(differ.Compare(replayed, served)) << diff;
  }

  ServiceProcesses p_;
  int runs_ = 0;
};

TEST_F(AuditReplayTest, EachServicesStateAtAHeadIsWhatItAnsweredThen) {
  // The case referred and made ready; consent follows it.
  const std::string case_id = p_.ReadyCase("replay");
  ASSERT_FALSE(case_id.empty());
  const Seen<case_v1::CaseView> case_ready = SeeCase(case_id);
  const absl::Time after_ready = absl::Now();
  p_.WaitConsentCaughtUp(case_id);
  const Seen<Consents> consent_observed = SeeConsent(case_id);

  // Consents, then a decision on them.
  p_.ConsentToLetters(case_id);
  token().set_consent_position(p_.ConsentHead());
  const Seen<Consents> consent_given = SeeConsent(case_id);
  absl::StatusOr<consent_v1::ContactDecision> decided =
      p_.Decide(case_id, "replay-decide", common_v1::LETTER_DELIVERY);
  ASSERT_THAT(decided, IsOk());
  EXPECT_EQ(decided->decision().outcome(), consent_v1::APPROVED);
  token().set_consent_position(p_.ConsentHead());
  const Seen<Consents> consent_decided = SeeConsent(case_id);

  // A preparation meeting with the service user (no decision needed).
  scheduling_v1::BookPreparationMeetingRequest meeting;
  meeting.set_request_id("replay-meeting");
  meeting.set_case_id(case_id);
  meeting.set_participant_id("su-1");
  meeting.set_facilitator_id(kAnn);
  *meeting.mutable_start() = LondonIn(12, "14:00");
  meeting.set_duration_minutes(60);
  meeting.set_venue("probation-office-3");
  *meeting.mutable_causal_token() = Without(false, false);
  absl::StatusOr<scheduling_v1::CommandResult> booked =
      Call<scheduling_v1::CommandResult>(
          Ann(), [&](grpc::ClientContext* c, scheduling_v1::CommandResult* o) {
            return p_.scheduling_stub().BookPreparationMeeting(c, meeting, o);
          });
  ASSERT_THAT(booked, IsOk());
  token().set_scheduling_position(booked->last_position());
  const Seen<scheduling_v1::GetCaseScheduleResponse> schedule_booked =
      SeeSchedule(case_id);
  ASSERT_EQ(schedule_booked.view.bookings_size(), 1);

  // A letter, and changes requested (both sealed with the author's key).
  conference_v1::SubmitLetterDraftRequest draft;
  draft.set_request_id("replay-draft");
  draft.set_case_id(case_id);
  draft.set_text(kLetter);
  absl::StatusOr<conference_v1::CommandResult> drafted =
      Conference(&conference_v1::ConferenceService::Stub::SubmitLetterDraft, draft);
  ASSERT_THAT(drafted, IsOk());
  const Seen<conference_v1::CaseContactView> contact_drafted = SeeContact(case_id);
  conference_v1::ReviewLetterRequest review;
  review.set_request_id("replay-review");
  review.set_case_id(case_id);
  review.set_letter_id(drafted->letter_id());
  review.set_version(1);
  review.set_verdict(conference_v1::CHANGES_REQUESTED);
  review.set_notes(kReviewNotes);
  ASSERT_THAT(Conference(&conference_v1::ConferenceService::Stub::ReviewLetter, review),
              IsOk());
  const Seen<conference_v1::CaseContactView> contact_reviewed = SeeContact(case_id);

  // A supporter joins; the case is paused (scheduling holds the booking).
  case_v1::AddParticipantRequest add;
  add.set_request_id("replay-supporter");
  add.set_case_id(case_id);
  add.mutable_participant()->set_participant_id("sp-1");
  add.mutable_participant()->set_role(case_v1::SUPPORTER);
  add.mutable_participant()->set_supports_participant_id("v-1");
  add.mutable_participant()->mutable_details()->set_full_name("Sam Supporter");
  ASSERT_THAT(p_.CaseCommand(&case_v1::CaseService::Stub::AddParticipant, add, Manager()),
              IsOk());
  const Seen<case_v1::CaseView> case_supported = SeeCase(case_id);
  case_v1::PauseCaseRequest pause;
  pause.set_request_id("replay-pause");
  pause.set_case_id(case_id);
  pause.set_reason("victim-in-hospital");
  ASSERT_THAT(p_.CaseCommand(&case_v1::CaseService::Stub::PauseCase, pause, Manager()),
              IsOk());
  const Seen<case_v1::CaseView> case_paused = SeeCase(case_id);
  EXPECT_EQ(case_paused.view.stage(), case_v1::PAUSED);
  const Seen<scheduling_v1::GetCaseScheduleResponse> schedule_paused =
      SeeSchedule(case_id);
  EXPECT_TRUE(schedule_paused.view.paused());
  const Seen<conference_v1::CaseContactView> contact_paused = SeeContact(case_id);

  ASSERT_NO_FATAL_FAILURE(p_.StopConferenceService());
  ASSERT_NO_FATAL_FAILURE(p_.StopScheduling());
  ASSERT_NO_FATAL_FAILURE(p_.StopConsent());
  ASSERT_NO_FATAL_FAILURE(p_.StopCase());

  // Each service's state replayed from its stopped directory until each head.
  for (const Seen<case_v1::CaseView>* seen :
       {&case_ready, &case_supported, &case_paused}) {
    SCOPED_TRACE(absl::StrCat("case log until ", seen->head));
    const Json c = Replay(p_.CaseLogPath(), seen->head, case_id, "case");
    ExpectSameButHandled(Parse<case_v1::CaseView>(c["view"]), seen->view);
    // Sealed: listed with whose key opens it, never shown.
    bool listed = false;
    for (const Json& s : c["sealed"]) {
      if (s["in"] == "participants[v-1].details") {
        listed = true;
        EXPECT_EQ(s["key_id"], absl::StrCat(case_id, "/v-1"));
        EXPECT_EQ(s["field"], "mend.case.v1.Participant.details");
      }
    }
    EXPECT_TRUE(listed) << c.dump();
    for (const char* plain :
         {"Verity Quill", "Samuel Offleigh", "Street robbery", "Sam Supporter"}) {
      EXPECT_FALSE(absl::StrContains(c.dump(), plain)) << plain;
    }
  }
  for (const Seen<Consents>* seen :
       {&consent_observed, &consent_given, &consent_decided}) {
    SCOPED_TRACE(absl::StrCat("consent log until ", seen->head));
    const Json c = Replay(p_.ConsentLogPath(), seen->head, case_id, "consent");
    ExpectSameButHandled(Parse<consent_v1::GetConsentsResponse>(c["consents"]),
                         seen->view.consents);
    ExpectSameButHandled(Parse<consent_v1::ListDecisionsResponse>(c["decisions"]),
                         seen->view.decisions);
  }
  EXPECT_EQ(consent_decided.view.decisions.decisions_size(), 1);
  for (const Seen<scheduling_v1::GetCaseScheduleResponse>* seen :
       {&schedule_booked, &schedule_paused}) {
    SCOPED_TRACE(absl::StrCat("scheduling log until ", seen->head));
    const Json c = Replay(p_.SchedulingLogPath(), seen->head, case_id, "scheduling");
    ExpectSameButHandled(Parse<scheduling_v1::GetCaseScheduleResponse>(c["schedule"]),
                         seen->view);
  }
  for (const Seen<conference_v1::CaseContactView>* seen :
       {&contact_drafted, &contact_reviewed, &contact_paused}) {
    SCOPED_TRACE(absl::StrCat("conference log until ", seen->head));
    const Json c = Replay(p_.ConferenceLogPath(), seen->head, case_id, "conference");
    ExpectSameButHandled(Parse<conference_v1::CaseContactView>(c["contact"]), seen->view);
    EXPECT_FALSE(absl::StrContains(c.dump(), kLetter));
    EXPECT_FALSE(absl::StrContains(c.dump(), kReviewNotes));
    ASSERT_FALSE(c["sealed"].empty()) << c.dump();
    EXPECT_EQ(c["sealed"][0]["field"], "letter.text");
    EXPECT_EQ(c["sealed"][0]["key_id"], absl::StrCat(case_id, "/su-1"));
  }

  // What replay lists as sealed opens with the names it lists: export
  // --unseal with the conference service's own master key shows the words
  // (the conference service seals under names of its own).
  ToolResult words = Audit({"export", "--log=" + p_.ConferenceLogPath(), "--unseal",
                            "--master_key=" + p_.dir().Sub("master.key")});
  EXPECT_EQ(words.exit_code, 0) << words.err;
  EXPECT_THAT(words.out, HasSubstr(kLetter));
  EXPECT_THAT(words.out, HasSubstr(kReviewNotes));
  EXPECT_THAT(words.err, HasSubstr("2 opened, 0 erased, 0 unreadable"));

  // Until a time: every record up to it, the same state as its position.
  ToolResult by_time =
      Audit({"replay", "--log=" + p_.CaseLogPath(),
             "--until=" +
                 absl::FormatTime(absl::RFC3339_full, after_ready, absl::UTCTimeZone())});
  ASSERT_EQ(by_time.exit_code, 0) << by_time.err;
  const Json timed = Json::parse(by_time.out);
  EXPECT_EQ(timed["until_position"], case_ready.head);
  ASSERT_EQ(timed["cases"].size(), 1u);
  ExpectSameButHandled(Parse<case_v1::CaseView>(timed["cases"][0]["view"]),
                       case_ready.view);

  // The whole log, the service detected: the state it ended in.
  ToolResult whole = Audit({"replay", "--log=" + p_.CaseLogPath()});
  ASSERT_EQ(whole.exit_code, 0) << whole.err;
  const Json all = Json::parse(whole.out);
  EXPECT_EQ(all["service"], "case");
  EXPECT_EQ(all["until_position"], case_paused.head);
  EXPECT_EQ(all["head_position"], case_paused.head);
  ASSERT_EQ(all["cases"].size(), 1u);
  ExpectSameButHandled(Parse<case_v1::CaseView>(all["cases"][0]["view"]),
                       case_paused.view);
}

TEST_F(AuditReplayTest, BadArgumentsExitTwoSayingWhy) {
  const std::string case_id = p_.ReadyCase("args");
  ASSERT_FALSE(case_id.empty());
  const uint64_t head = p_.CaseHead();
  ASSERT_NO_FATAL_FAILURE(p_.StopCase());
  const std::string log = "--log=" + p_.CaseLogPath();
  struct Bad {
    std::vector<std::string> args;
    std::string says;
  };
  for (const Bad& bad : std::vector<Bad>{
           {{"replay", log, "--until=-1"}, "integer >= 0"},
           {{"replay", log, "--until=last-tuesday"}, "RFC 3339"},
           {{"replay", log, absl::StrCat("--until=", head + 1)},
            absl::StrCat("ends at position ", head)},
           {{"replay", log, "--service=probation"}, "unknown service"},
           {{"replay", log, "--service=consent"}, "is the case service's log"},
           {{"replay", "--log=" + p_.dir().Sub("nowhere")}, "no such directory"},
       }) {
    SCOPED_TRACE(absl::StrJoin(bad.args, " "));
    ToolResult r = Audit(bad.args);
    EXPECT_EQ(r.exit_code, 2) << r.out << r.err;
    EXPECT_THAT(r.err, HasSubstr(bad.says));
    EXPECT_TRUE(r.out.empty()) << r.out;
  }
  // At the head itself: fine, and --service may name the log's own service.
  ToolResult at_head = Audit({"replay", log, absl::StrCat("--until=", head),
                              "--service=case", "--case=" + case_id});
  EXPECT_EQ(at_head.exit_code, 0) << at_head.err;
}

}  // namespace
}  // namespace mend
