#include "common/runtime/command_path.h"

#include <gmock/gmock.h>
#include <gtest/gtest.h>

#include <atomic>
#include <thread>

#include "absl/strings/numbers.h"
#include "absl/strings/str_cat.h"
#include "absl/time/clock.h"
#include "common/eventlog/event_store.h"
#include "common/runtime/request_digest.h"
#include "mend/case/v1/case_service.pb.h"
#include "tests/support/test_util.h"

namespace mend {
namespace {

using ::mend::testing::IsOk;
using ::mend::testing::StatusIs;
using ::testing::HasSubstr;

// A counter per aggregate: every event adds its payload (a decimal number).
struct Counter {
  uint64_t version = 0;
  int64_t total = 0;
};
struct Answer {
  int64_t total = 0;
  uint64_t version = 0;
  uint64_t position = 0;
};
using Path = CommandPath<Counter, Answer>;
using Request = ::mend::case_::v1::PauseCaseRequest;  // any request with an id

constexpr char kAdded[] = "test.Added";

class CommandPathTest : public ::testing::Test {
 protected:
  void SetUp() override { Open(); }

  void Open() {
    path_.reset();
    store_.reset();
    auto store = eventlog::EventStore::Open({.path = dir_.Sub("log")});
    ASSERT_THAT(store, IsOk());
    store_ = *std::move(store);
    path_ = std::make_unique<Path>(
        store_.get(),
        Path::Hooks{.stream_prefix = "counter-",
                    .evolve =
                        [](Counter& c, const ReplayedEvent& e) {
                          int64_t n = 0;
                          if (e.view.event_type != kAdded ||
                              !absl::SimpleAtoi(std::string(e.view.payload), &n)) {
                            return absl::DataLossError("not an Added");
                          }
                          c.total += n;
                          c.version = e.view.stream_version;
                          return absl::OkStatus();
                        },
                    .version = [](const Counter& c) { return c.version; },
                    .answer =
                        [](const CommandRecord& r, const Counter& c) {
                          return Answer{c.total, r.version, r.first_position};
                        }},
        [this] { return absl::StrCat("new-", ++made_); }, absl::Now);
    // Replay, as the runtime does.
    ASSERT_THAT(store_->Scan(1,
                             [&](uint64_t position, std::string_view bytes) {
                               eventlog::RecordView view;
                               EXPECT_THAT(eventlog::DecodeRecord(bytes, &view), IsOk());
                               EXPECT_THAT(path_->Apply({position, bytes, view}), IsOk());
                               return true;
                             }),
                IsOk());
  }

  static Request MakeRequest(const std::string& id, const std::string& aggregate,
                             const std::string& content = "r") {
    Request r;
    r.set_request_id(id);
    r.set_case_id(aggregate);
    r.set_reason(content);
    return r;
  }

  Command MakeCommand(std::string_view method, const Request& r) {
    return Command{.method = method,
                   .request_id = r.request_id(),
                   .aggregate_id = r.case_id(),
                   .digest = RequestDigest(r),
                   .caller = {"f1", Role::kFacilitator},
                   .deadline = absl::Now() + absl::Seconds(10)};
  }

  // Adds `n` (one event), counting decide calls.
  absl::StatusOr<CommandOutcome<Answer>> Add(const Command& command, int64_t n) {
    return path_->Execute(command,
                          [&](const Counter&, const CommandContext&, const std::string&) {
                            ++decides_;
                            return absl::StatusOr<std::vector<DecidedEvent>>(
                                std::vector<DecidedEvent>{{kAdded, absl::StrCat(n)}});
                          });
  }

  uint64_t head() const { return store_->GetHead().position; }

  mend::testing::TempDir dir_;
  std::unique_ptr<eventlog::EventStore> store_;
  std::unique_ptr<Path> path_;
  int made_ = 0;
  int decides_ = 0;
};

TEST_F(CommandPathTest, AppendsWithCommandEventIdsAndAnswers) {
  const Request r = MakeRequest("req-1", "a");
  auto out = Add(MakeCommand("Add", r), 5);
  ASSERT_THAT(out, IsOk());
  EXPECT_TRUE(out->appended);
  EXPECT_EQ(out->answer.total, 5);
  EXPECT_EQ(out->answer.version, 1u);
  EXPECT_EQ(out->record.method, "Add");
  EXPECT_EQ(out->record.aggregate_id, "a");
  auto records = store_->Read(1, 10);
  ASSERT_THAT(records, IsOk());
  ASSERT_EQ(records->size(), 1u);
  eventlog::RecordView view;
  ASSERT_THAT(eventlog::DecodeRecord((*records)[0].bytes, &view), IsOk());
  EXPECT_EQ(view.event_id, FormatCommandEventId({"Add", 0, RequestDigest(r), "req-1"}));
  EXPECT_EQ(view.correlation_id, "req-1");
  EXPECT_EQ(view.actor_id, "f1");
  EXPECT_EQ(view.actor_role, "facilitator");
}

TEST_F(CommandPathTest, RetryOfTheSameRequestIsAnsweredFromTheLog) {
  const Request r = MakeRequest("req-1", "a");
  ASSERT_THAT(Add(MakeCommand("Add", r), 5), IsOk());
  ASSERT_THAT(Add(MakeCommand("Add", MakeRequest("req-2", "a")), 1), IsOk());
  const uint64_t before = head();
  auto again = Add(MakeCommand("Add", r), 5);
  ASSERT_THAT(again, IsOk());
  EXPECT_FALSE(again->appended);
  EXPECT_EQ(again->answer.total, 5);  // the original answer, not today's total
  EXPECT_EQ(again->answer.version, 1u);
  EXPECT_EQ(head(), before);
  EXPECT_EQ(decides_, 2);
}

TEST_F(CommandPathTest, RetryAcrossARestartIsAnsweredFromTheReplayedLog) {
  const Request r = MakeRequest("req-1", "a");
  auto first = Add(MakeCommand("Add", r), 7);
  ASSERT_THAT(first, IsOk());
  Open();
  const uint64_t before = head();
  auto again = Add(MakeCommand("Add", r), 7);
  ASSERT_THAT(again, IsOk());
  EXPECT_FALSE(again->appended);
  EXPECT_EQ(again->answer.position, first->answer.position);
  EXPECT_EQ(again->answer.total, 7);
  EXPECT_EQ(head(), before);
  EXPECT_EQ(decides_, 1);
  // And other content under the id is still refused after the restart.
  EXPECT_THAT(Add(MakeCommand("Add", MakeRequest("req-1", "a", "other")), 7),
              StatusIs(absl::StatusCode::kAlreadyExists, HasSubstr("other content")));
}

TEST_F(CommandPathTest, AnsweredGivesARetryItsAnswerBeforeAnyDecide) {
  const Request r = MakeRequest("req-1", "a");
  // A new request id: nothing to answer yet.
  auto none = path_->Answered(MakeCommand("Add", r));
  ASSERT_THAT(none, IsOk());
  EXPECT_FALSE(none->has_value());
  auto first = Add(MakeCommand("Add", r), 5);
  ASSERT_THAT(first, IsOk());
  ASSERT_THAT(Add(MakeCommand("Add", MakeRequest("req-2", "a")), 1), IsOk());
  // The retry's original answer, after a restart too, with no decide run.
  Open();
  auto answered = path_->Answered(MakeCommand("Add", r));
  ASSERT_THAT(answered, IsOk());
  ASSERT_TRUE(answered->has_value());
  EXPECT_FALSE((*answered)->appended);
  EXPECT_EQ((*answered)->answer.total, 5);
  EXPECT_EQ((*answered)->answer.position, first->answer.position);
  EXPECT_EQ(decides_, 2);
  // The id used otherwise is refused as Execute refuses it.
  EXPECT_THAT(path_->Answered(MakeCommand("Add", MakeRequest("req-1", "a", "other"))),
              StatusIs(absl::StatusCode::kAlreadyExists, HasSubstr("other content")));
}

TEST_F(CommandPathTest, SameRequestIdForAnotherMethodIsAlreadyExists) {
  const Request r = MakeRequest("req-1", "a");
  ASSERT_THAT(Add(MakeCommand("Add", r), 5), IsOk());
  const uint64_t before = head();
  EXPECT_THAT(
      Add(MakeCommand("Subtract", r), 5),
      StatusIs(absl::StatusCode::kAlreadyExists,
               HasSubstr("request_id \"req-1\" was used for another command (Add")));
  EXPECT_EQ(head(), before);
}

TEST_F(CommandPathTest, SameRequestIdOnAnotherAggregateIsAlreadyExists) {
  ASSERT_THAT(Add(MakeCommand("Add", MakeRequest("req-1", "a")), 5), IsOk());
  const uint64_t before = head();
  EXPECT_THAT(Add(MakeCommand("Add", MakeRequest("req-1", "b")), 5),
              StatusIs(absl::StatusCode::kAlreadyExists, HasSubstr("another aggregate")));
  EXPECT_EQ(head(), before);
}

TEST_F(CommandPathTest, SameRequestIdWithOtherContentIsAlreadyExists) {
  ASSERT_THAT(Add(MakeCommand("Add", MakeRequest("req-1", "a", "scope VIDEO")), 5),
              IsOk());
  const uint64_t before = head();
  EXPECT_THAT(Add(MakeCommand("Add", MakeRequest("req-1", "a", "all scopes")), 5),
              StatusIs(absl::StatusCode::kAlreadyExists,
                       HasSubstr("request_id \"req-1\" was used for a request with other "
                                 "content")));
  EXPECT_EQ(head(), before);
}

TEST_F(CommandPathTest, ExpectedVersionConflictIsAbortedAndAppendsNothing) {
  ASSERT_THAT(Add(MakeCommand("Add", MakeRequest("req-1", "a")), 5), IsOk());
  Command c = MakeCommand("Add", MakeRequest("req-2", "a"));
  c.expected_version = 0;
  const uint64_t before = head();
  EXPECT_THAT(Add(c, 1), StatusIs(absl::StatusCode::kAborted,
                                  HasSubstr("is at version 1, not the expected 0")));
  EXPECT_EQ(head(), before);
  c.expected_version = 1;
  EXPECT_THAT(Add(c, 1), IsOk());
}

TEST_F(CommandPathTest, AnotherWritersAppendMakesTheCommandDecideAgain) {
  ASSERT_THAT(Add(MakeCommand("Add", MakeRequest("req-1", "a")), 5), IsOk());
  int calls = 0;
  int follower_writes = 0;
  std::vector<int64_t> seen;
  auto decide = [&](const Counter& c, const CommandContext&,
                    const std::string&) -> absl::StatusOr<std::vector<DecidedEvent>> {
    seen.push_back(c.total);
    if (calls++ == 0) {
      ++follower_writes;
      // A follower appends to the stream between this decision and its append.
      EXPECT_THAT(store_->Append("counter-a", eventlog::ExpectedVersion::Any(),
                                 {{.event_id = absl::StrCat("follower@", follower_writes),
                                   .event_type = kAdded,
                                   .payload = "100"}}),
                  IsOk());
    }
    return std::vector<DecidedEvent>{{kAdded, "1"}};
  };
  auto out = path_->Execute(MakeCommand("Add", MakeRequest("req-2", "a")), decide);
  ASSERT_THAT(out, IsOk());
  EXPECT_EQ(seen, (std::vector<int64_t>{5, 105}));  // decided again on the new fact
  EXPECT_EQ(out->answer.total, 106);

  // With expected_version the caller hears of the conflict instead.
  calls = 0;
  Command c = MakeCommand("Add", MakeRequest("req-3", "a"));
  c.expected_version = 3;
  EXPECT_THAT(path_->Execute(c, decide), StatusIs(absl::StatusCode::kAborted));
}

TEST_F(CommandPathTest, DomainRefusalAppendsNothingAndLeavesTheIdFree) {
  const Request r = MakeRequest("req-1", "a");
  const uint64_t before = head();
  auto refused =
      path_->Execute(MakeCommand("Add", r),
                     [](const Counter&, const CommandContext&,
                        const std::string&) -> absl::StatusOr<std::vector<DecidedEvent>> {
                       return absl::FailedPreconditionError("not now");
                     });
  EXPECT_THAT(refused, StatusIs(absl::StatusCode::kFailedPrecondition, "not now"));
  EXPECT_EQ(head(), before);
  EXPECT_THAT(Add(MakeCommand("Add", r), 2), IsOk());
}

TEST_F(CommandPathTest, CreateMakesAnIdAndItsRetryFindsTheSameAggregate) {
  const Request r = MakeRequest("req-1", "");
  std::string made_for;
  auto create = [&](const Counter& c, const CommandContext& ctx,
                    const std::string& id) -> absl::StatusOr<std::vector<DecidedEvent>> {
    EXPECT_EQ(c.version, 0u);
    EXPECT_EQ(ctx.actor_id, "f1");
    made_for = id;
    return std::vector<DecidedEvent>{{kAdded, "3"}};
  };
  auto out = path_->Execute(MakeCommand("Create", r), create);
  ASSERT_THAT(out, IsOk());
  EXPECT_EQ(made_for, "new-1");
  EXPECT_EQ(out->record.aggregate_id, "new-1");
  auto again = path_->Execute(MakeCommand("Create", r), create);
  ASSERT_THAT(again, IsOk());
  EXPECT_FALSE(again->appended);
  EXPECT_EQ(again->record.aggregate_id, "new-1");
  EXPECT_EQ(made_, 1);  // the retry made no new aggregate
}

TEST_F(CommandPathTest, ConcurrentCallsWithOneRequestIdCarryItOutOnce) {
  const Request r = MakeRequest("req-1", "");
  std::atomic<int> appended{0};
  std::vector<std::thread> threads;
  for (int i = 0; i < 8; ++i) {
    threads.emplace_back([&] {
      auto out = Add(MakeCommand("Create", r), 1);
      ASSERT_THAT(out, IsOk());
      if (out->appended) appended.fetch_add(1);
    });
  }
  for (std::thread& t : threads) t.join();
  EXPECT_EQ(appended.load(), 1);
  EXPECT_EQ(head(), 1u);
}

TEST_F(CommandPathTest, ReplayRefusesARecordOfAnotherStreamOrOutOfOrder) {
  ASSERT_THAT(store_->Append("other-x", eventlog::ExpectedVersion::Any(),
                             {{.event_id = "e1", .event_type = kAdded, .payload = "1"}}),
              IsOk());
  auto records = store_->Read(1, 1);
  ASSERT_THAT(records, IsOk());
  eventlog::RecordView view;
  ASSERT_THAT(eventlog::DecodeRecord((*records)[0].bytes, &view), IsOk());
  EXPECT_THAT(
      path_->Apply({1, (*records)[0].bytes, view}),
      StatusIs(absl::StatusCode::kDataLoss, HasSubstr("not a \"counter-\" stream")));
}

TEST(RequestDigestTest, IgnoresTheRequestIdAndCausalTokenButNothingElse) {
  Request a;
  a.set_request_id("x");
  a.set_case_id("c");
  a.set_reason("r");
  Request b = a;
  b.set_request_id("y");
  EXPECT_EQ(RequestDigest(a), RequestDigest(b));
  EXPECT_EQ(RequestDigest(a).size(), 32u);
  b.set_reason("s");
  EXPECT_NE(RequestDigest(a), RequestDigest(b));
  b = a;
  b.set_expected_version(0);  // present but zero is other content
  EXPECT_NE(RequestDigest(a), RequestDigest(b));
}

}  // namespace
}  // namespace mend
