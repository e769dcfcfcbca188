// ParseUntil (positions, RFC 3339 times, what is refused), and Replay over a
// small case log written with a real EventStore in a temporary directory
// (the events decided by the case domain itself): the whole log folds to the
// state the domain folds, rendered as BuildCaseView renders it for an
// auditor; --until a position or a time stops where it says; a position past
// the head is refused naming the head; --case keeps one case; a record the
// case service's replay would refuse is a finding at its position; sealed
// values are listed with their key, never shown.
#include <map>
#include <memory>
#include <string>
#include <vector>

#include "absl/strings/match.h"
#include "absl/strings/str_cat.h"
#include "common/eventlog/event_store.h"
#include "gmock/gmock.h"
#include "google/protobuf/util/json_util.h"
#include "google/protobuf/util/message_differencer.h"
#include "gtest/gtest.h"
#include "services/case/case_decide.h"
#include "services/case/case_state.h"
#include "services/case/case_view.h"
#include "tests/support/test_util.h"
#include "tools/audit/replay_fold.h"

namespace mend::audit {
namespace {

namespace case_v1 = ::mend::case_::v1;
namespace common_v1 = ::mend::common::v1;
using ::google::protobuf::util::MessageDifferencer;
using ::mend::testing::IsOk;
using ::mend::testing::StatusIs;
using ::mend::testing::TempDir;
using ::testing::HasSubstr;
using ::testing::SizeIs;
using Json = nlohmann::ordered_json;

// 2026-02-01T00:00:00Z: the command's day; the store records later.
const absl::Time kCommandTime = absl::FromUnixSeconds(1'769'904'000);

TEST(ParseUntilTest, EmptyIsTheWholeLog) {
  absl::StatusOr<ReplayUntil> until = ParseUntil("");
  ASSERT_THAT(until, IsOk());
  EXPECT_FALSE(until->position.has_value());
  EXPECT_FALSE(until->time.has_value());
}

TEST(ParseUntilTest, DigitsAreAPosition) {
  for (const auto& [text, position] : std::vector<std::pair<std::string, uint64_t>>{
           {"0", 0}, {"1", 1}, {" 42 ", 42}, {"18446744073709551615", UINT64_MAX}}) {
    absl::StatusOr<ReplayUntil> until = ParseUntil(text);
    ASSERT_THAT(until, IsOk()) << text;
    ASSERT_TRUE(until->position.has_value()) << text;
    EXPECT_EQ(*until->position, position) << text;
    EXPECT_FALSE(until->time.has_value()) << text;
  }
}

TEST(ParseUntilTest, AnRfc3339TimeIsATime) {
  absl::StatusOr<ReplayUntil> utc = ParseUntil("2026-03-01T10:00:00Z");
  ASSERT_THAT(utc, IsOk());
  ASSERT_TRUE(utc->time.has_value());
  EXPECT_FALSE(utc->position.has_value());
  EXPECT_EQ(absl::ToUnixSeconds(*utc->time), 1'772'359'200);
  // An offset and a fraction of a second.
  absl::StatusOr<ReplayUntil> offset = ParseUntil("2026-03-01T11:00:00.25+01:00");
  ASSERT_THAT(offset, IsOk());
  ASSERT_TRUE(offset->time.has_value());
  EXPECT_EQ(*offset->time, *utc->time + absl::Milliseconds(250));
}

TEST(ParseUntilTest, AnythingElseIsRefusedSayingWhatIsAccepted) {
  EXPECT_THAT(ParseUntil("-1"),
              StatusIs(absl::StatusCode::kInvalidArgument, HasSubstr("integer >= 0")));
  EXPECT_THAT(ParseUntil("+3"), StatusIs(absl::StatusCode::kInvalidArgument));
  EXPECT_THAT(ParseUntil("18446744073709551616"),
              StatusIs(absl::StatusCode::kInvalidArgument, HasSubstr("too large")));
  for (const char* garbage : {"yesterday", "12abc", "2026-03-01", "2026-03-01T10:00:00",
                              "1.5", "2026-13-01T10:00:00Z"}) {
    EXPECT_THAT(ParseUntil(garbage),
                StatusIs(absl::StatusCode::kInvalidArgument, HasSubstr("RFC 3339")))
        << garbage;
  }
}

TEST(NewServiceFoldTest, OneForEachServiceAndNoneForUnknown) {
  for (Service s :
       {Service::kCase, Service::kConsent, Service::kScheduling, Service::kConference}) {
    EXPECT_NE(NewServiceFold(s), nullptr) << ServiceName(s);
  }
  EXPECT_EQ(NewServiceFold(Service::kUnknown), nullptr);
}

common_v1::Sealed FakeSealed(const std::string& person, const std::string& text) {
  common_v1::Sealed sealed;
  sealed.set_person_id(person);
  sealed.set_ciphertext("ct|" + text);
  return sealed;
}

case_v1::Participant Person(const std::string& id, case_v1::ParticipantRole role) {
  case_v1::Participant p;
  p.set_participant_id(id);
  p.set_role(role);
  *p.mutable_details() = FakeSealed(id, "details of " + id);
  return p;
}

// A case log written through a real store: each decision of the case domain
// appended to its stream at the store's clock, and folded here as well (the
// expected state), with the positions and times the store recorded.
class ReplayTest : public ::testing::Test {
 protected:
  void SetUp() override {
    auto store = eventlog::EventStore::Open(
        {.path = dir_.Sub("log"), .clock = [this] { return now_; }});
    ASSERT_THAT(store, IsOk());
    store_ = *std::move(store);
  }

  // Appends `decided` to the case's stream at `now_`, then moves the clock on.
  void Append(absl::StatusOr<std::vector<casesvc::DomainEvent>> decided) {
    ASSERT_THAT(decided, IsOk());
    ASSERT_FALSE(decided->empty());
    const std::string case_id = decided->front().case_id();
    std::vector<eventlog::NewEvent> events;
    for (const casesvc::DomainEvent& e : *decided) {
      events.push_back({.event_id = absl::StrCat("e", ++ids_),
                        .event_type = e.type(),
                        .payload = e.SerializePayload(),
                        .actor_id = "m1",
                        .actor_role = "manager",
                        .correlation_id = "",
                        .causation_id = ""});
    }
    auto appended = store_->Append(casesvc::CaseStreamId(case_id),
                                   eventlog::ExpectedVersion::Any(), std::move(events));
    ASSERT_THAT(appended, IsOk());
    casesvc::CaseState& state = states_[case_id];
    for (size_t i = 0; i < decided->size(); ++i) {
      casesvc::DomainEvent e = (*decided)[i];
      e.position = appended->first_position + i;
      e.recorded_unix_micros = absl::ToUnixMicros(now_);
      ASSERT_THAT(casesvc::Evolve(state, e), IsOk());
    }
    now_ += absl::Seconds(10);
  }

  casesvc::CaseState& State(const std::string& case_id) { return states_[case_id]; }

  void Refer(const std::string& case_id) {
    casesvc::ReferCaseCommand refer;
    refer.case_id = case_id;
    refer.reference = "RJ-2026-000001";
    refer.source = case_v1::PROBATION_OFFICER;
    refer.referral_date = "2026-01-15";
    refer.offence_category = case_v1::ACQUISITIVE;
    refer.offence_summary = FakeSealed("su1", "a theft");
    refer.participants = {Person("su1", case_v1::SERVICE_USER),
                          Person("v1", case_v1::VICTIM)};
    Append(casesvc::DecideReferCase(State(case_id), refer, Manager()));
  }
  void FindSuitable(const std::string& case_id) {
    Append(casesvc::DecideRecordSuitability(
        State(case_id), {.case_id = case_id, .suitable = true, .reason = {}}, Manager()));
  }
  void Allocate(const std::string& case_id) {
    Append(casesvc::DecideAllocateFacilitator(
        State(case_id), {.case_id = case_id, .facilitator_id = "f1"}, Manager()));
  }

  static CommandContext Manager() {
    return CommandContext{.actor_id = "m1", .role = Role::kManager, .now = kCommandTime};
  }

  absl::StatusOr<ReplayResult> Run(const ReplayUntil& until,
                                   std::string_view case_id = "") {
    absl::StatusOr<std::unique_ptr<AuditLog>> log =
        OpenAuditLog(dir_.Sub("log"), ConnectOptions{});
    if (!log.ok()) return log.status();
    return Replay(**log, Service::kCase, until, case_id);
  }

  // The CaseView an auditor is given for `state`, by the case domain.
  static case_v1::CaseView AuditorView(const casesvc::CaseState& state) {
    absl::StatusOr<case_v1::CaseView> view =
        casesvc::BuildCaseView(state, Caller{.subject = "a1", .role = Role::kAuditor},
                               [](std::string_view, const common_v1::Sealed&,
                                  std::string_view) -> absl::StatusOr<std::string> {
                                 return absl::InternalError("not for an auditor");
                               });
    EXPECT_THAT(view, IsOk());
    return view.ok() ? *view : case_v1::CaseView();
  }

  static case_v1::CaseView ViewOf(const Json& c) {
    case_v1::CaseView view;
    EXPECT_TRUE(
        google::protobuf::util::JsonStringToMessage(c.at("view").dump(), &view).ok())
        << c.dump();
    return view;
  }

  TempDir dir_;
  absl::Time now_ = kCommandTime + absl::Hours(1);
  std::unique_ptr<eventlog::EventStore> store_;
  std::map<std::string, casesvc::CaseState> states_;
  int ids_ = 0;
};

TEST_F(ReplayTest, TheWholeLogFoldsToTheDomainsStateAsAnAuditorSeesIt) {
  Refer("c1");
  FindSuitable("c1");
  Allocate("c1");
  absl::StatusOr<ReplayResult> r = Run(ReplayUntil{});
  ASSERT_THAT(r, IsOk());
  ASSERT_FALSE(r->finding.has_value()) << r->finding->problem;
  const Json& json = r->json;
  EXPECT_EQ(json["service"], "case");
  EXPECT_EQ(json["head_position"], store_->GetHead().position);
  EXPECT_EQ(json["until_position"], store_->GetHead().position);
  EXPECT_TRUE(json["until_time"].is_null());
  ASSERT_THAT(json["cases"], SizeIs(1));
  const Json& c = json["cases"][0];
  EXPECT_EQ(c["case_id"], "c1");
  const case_v1::CaseView view = ViewOf(c);
  EXPECT_TRUE(MessageDifferencer::Equals(view, AuditorView(State("c1"))))
      << view.DebugString();
  EXPECT_EQ(view.stage(), case_v1::ALLOCATED);
  ASSERT_EQ(view.participants_size(), 2);
  EXPECT_TRUE(view.participants(1).redacted());

  // Sealed values: where, whose key, how long; the ciphertext never.
  bool listed = false;
  for (const Json& s : c["sealed"]) {
    if (s["in"] == "participants[v1].details") {
      listed = true;
      EXPECT_EQ(s["field"], std::string(casesvc::kSealedParticipantDetails));
      EXPECT_EQ(s["person_id"], "v1");
      EXPECT_EQ(s["key_id"], casesvc::PersonKeyId("c1", "v1"));
      EXPECT_EQ(s["person_erased"], false);
    }
  }
  EXPECT_TRUE(listed) << c["sealed"].dump();
  EXPECT_FALSE(absl::StrContains(json.dump(), "ct|")) << json.dump();
  EXPECT_FALSE(absl::StrContains(json.dump(), "details of")) << json.dump();
}

TEST_F(ReplayTest, UntilAPositionOrATimeStopsThere) {
  Refer("c1");
  const uint64_t referred = store_->GetHead().position;
  const casesvc::CaseState at_referral = State("c1");
  const absl::Time after_referral = now_ - absl::Seconds(5);
  FindSuitable("c1");
  Allocate("c1");

  absl::StatusOr<ReplayResult> by_position = Run({.position = referred, .time = {}});
  ASSERT_THAT(by_position, IsOk());
  ASSERT_FALSE(by_position->finding.has_value());
  EXPECT_EQ(by_position->until_position, referred);
  ASSERT_THAT(by_position->json["cases"], SizeIs(1));
  EXPECT_TRUE(MessageDifferencer::Equals(ViewOf(by_position->json["cases"][0]),
                                         AuditorView(at_referral)));

  absl::StatusOr<ReplayResult> by_time = Run({.position = {}, .time = after_referral});
  ASSERT_THAT(by_time, IsOk());
  ASSERT_FALSE(by_time->finding.has_value());
  EXPECT_EQ(by_time->until_position, referred);
  EXPECT_EQ(by_time->json["until_time"],
            absl::FormatTime(absl::RFC3339_full, after_referral, absl::UTCTimeZone()));
  EXPECT_EQ(by_time->json["cases"], by_position->json["cases"]);

  // A time before the first record, and position 0: nothing folded.
  for (const ReplayUntil& none : {ReplayUntil{.position = 0, .time = {}},
                                  ReplayUntil{.position = {}, .time = kCommandTime}}) {
    absl::StatusOr<ReplayResult> empty = Run(none);
    ASSERT_THAT(empty, IsOk());
    EXPECT_EQ(empty->until_position, 0u);
    EXPECT_TRUE(empty->json["cases"].empty());
    EXPECT_TRUE(empty->json["last_recorded_at"].is_null());
  }
}

TEST_F(ReplayTest, APositionPastTheHeadIsRefusedNamingTheHead) {
  Refer("c1");
  const uint64_t head = store_->GetHead().position;
  EXPECT_THAT(Run({.position = head + 1, .time = {}}),
              StatusIs(absl::StatusCode::kInvalidArgument,
                       HasSubstr(absl::StrCat("ends at position ", head))));
}

TEST_F(ReplayTest, CaseKeepsOneCase) {
  Refer("c1");
  Refer("c2");
  FindSuitable("c2");
  absl::StatusOr<ReplayResult> all = Run(ReplayUntil{});
  ASSERT_THAT(all, IsOk());
  ASSERT_THAT(all->json["cases"], SizeIs(2));
  EXPECT_EQ(all->json["cases"][0]["case_id"], "c1");
  EXPECT_EQ(all->json["cases"][1]["case_id"], "c2");

  absl::StatusOr<ReplayResult> one = Run(ReplayUntil{}, "c2");
  ASSERT_THAT(one, IsOk());
  ASSERT_THAT(one->json["cases"], SizeIs(1));
  EXPECT_EQ(one->json["cases"][0], all->json["cases"][1]);
  EXPECT_TRUE(MessageDifferencer::Equals(ViewOf(one->json["cases"][0]),
                                         AuditorView(State("c2"))));

  absl::StatusOr<ReplayResult> unknown = Run(ReplayUntil{}, "c9");
  ASSERT_THAT(unknown, IsOk());
  EXPECT_TRUE(unknown->json["cases"].empty());
}

TEST_F(ReplayTest, ARecordTheServiceWouldRefuseIsAFindingAtItsPosition) {
  Refer("c1");
  // A case event of c1 in c2's stream: the case service's replay refuses it
  // (its event's case must be its stream's).
  casesvc::CaseState none;
  casesvc::ReferCaseCommand refer;
  refer.case_id = "c1";
  refer.reference = "RJ-2026-000002";
  refer.source = case_v1::PROBATION_OFFICER;
  refer.referral_date = "2026-01-15";
  refer.offence_category = case_v1::ACQUISITIVE;
  refer.participants = {Person("su1", case_v1::SERVICE_USER),
                        Person("v1", case_v1::VICTIM)};
  absl::StatusOr<std::vector<casesvc::DomainEvent>> decided =
      casesvc::DecideReferCase(none, refer, Manager());
  ASSERT_THAT(decided, IsOk());
  auto appended = store_->Append("case-c2", eventlog::ExpectedVersion::Any(),
                                 {{.event_id = "stray",
                                   .event_type = decided->front().type(),
                                   .payload = decided->front().SerializePayload(),
                                   .actor_id = "m1",
                                   .actor_role = "manager",
                                   .correlation_id = "",
                                   .causation_id = ""}});
  ASSERT_THAT(appended, IsOk());

  absl::StatusOr<ReplayResult> r = Run(ReplayUntil{});
  ASSERT_THAT(r, IsOk());
  ASSERT_TRUE(r->finding.has_value());
  EXPECT_EQ(r->finding->position, appended->first_position);
  EXPECT_THAT(r->finding->problem, HasSubstr("is in stream \"case-c2\""));
  EXPECT_TRUE(r->json.is_null());
  // Up to the record before, the log folds.
  absl::StatusOr<ReplayResult> before =
      Run({.position = appended->first_position - 1, .time = {}});
  ASSERT_THAT(before, IsOk());
  EXPECT_FALSE(before->finding.has_value());
}

}  // namespace
}  // namespace mend::audit
