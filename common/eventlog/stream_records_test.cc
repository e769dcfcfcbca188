#include "common/eventlog/stream_records.h"

#include <memory>
#include <string>
#include <vector>

#include "absl/strings/str_cat.h"
#include "gmock/gmock.h"
#include "gtest/gtest.h"
#include "tests/support/test_util.h"

namespace mend::eventlog {
namespace {

using ::mend::testing::IsOk;
using ::mend::testing::StatusIs;
using ::mend::testing::TempDir;
using ::testing::ElementsAre;
using ::testing::IsEmpty;

NewEvent Event(const std::string& id) {
  return NewEvent{.event_id = id,
                  .event_type = "mend.test.v1.E",
                  .payload = id,
                  .actor_id = "",
                  .actor_role = "",
                  .correlation_id = "",
                  .causation_id = ""};
}

class StreamRecordsTest : public ::testing::Test {
 protected:
  void SetUp() override {
    auto store = EventStore::Open({.path = dir_.Sub("log")});
    ASSERT_THAT(store, IsOk());
    store_ = *std::move(store);
    // 600 events of stream "s" (more than one batch), interleaved with "t".
    for (int i = 1; i <= 600; ++i) {
      ASSERT_THAT(
          store_->Append("s", ExpectedVersion::Any(), {Event(absl::StrCat("s", i))}),
          IsOk());
      if (i % 100 == 0) {
        ASSERT_THAT(
            store_->Append("t", ExpectedVersion::Any(), {Event(absl::StrCat("t", i))}),
            IsOk());
      }
    }
  }

  // The payloads ForEachStreamRecord gives for [from, to].
  std::vector<std::string> Payloads(const std::string& stream, uint64_t from,
                                    uint64_t to) {
    std::vector<std::string> out;
    EXPECT_THAT(ForEachStreamRecord(*store_, stream, from, to,
                                    [&](const RawRecord& record, const RecordView& view) {
                                      EXPECT_EQ(view.position, record.position);
                                      out.emplace_back(view.payload);
                                      return absl::OkStatus();
                                    }),
                IsOk());
    return out;
  }

  TempDir dir_;
  std::unique_ptr<EventStore> store_;
};

TEST_F(StreamRecordsTest, GivesTheWholeStreamInVersionOrderAcrossBatches) {
  std::vector<std::string> all = Payloads("s", 1, 0);
  ASSERT_EQ(all.size(), 600u);
  for (int i = 0; i < 600; ++i) EXPECT_EQ(all[i], absl::StrCat("s", i + 1));
  EXPECT_THAT(Payloads("t", 0, 0),
              ElementsAre("t100", "t200", "t300", "t400", "t500", "t600"));
}

TEST_F(StreamRecordsTest, StopsAtToVersionInclusive) {
  EXPECT_THAT(Payloads("s", 299, 301), ElementsAre("s299", "s300", "s301"));
  EXPECT_THAT(Payloads("s", 7, 7), ElementsAre("s7"));
  EXPECT_THAT(Payloads("s", 599, 900), ElementsAre("s599", "s600"));
  EXPECT_THAT(Payloads("s", 8, 7), IsEmpty());
}

TEST_F(StreamRecordsTest, AnUnknownStreamGivesNothing) {
  EXPECT_THAT(Payloads("nobody", 1, 0), IsEmpty());
}

TEST_F(StreamRecordsTest, TheFirstErrorOfTheCallbackStopsTheReading) {
  int calls = 0;
  EXPECT_THAT(ForEachStreamRecord(*store_, "s", 1, 0,
                                  [&](const RawRecord&, const RecordView&) {
                                    return ++calls == 3 ? absl::DataLossError("third")
                                                        : absl::OkStatus();
                                  }),
              StatusIs(absl::StatusCode::kDataLoss));
  EXPECT_EQ(calls, 3);
}

TEST_F(StreamRecordsTest, AMalformedStreamIdIsTheStoresError) {
  EXPECT_THAT(ForEachStreamRecord(
                  *store_, "", 1, 0,
                  [](const RawRecord&, const RecordView&) { return absl::OkStatus(); }),
              StatusIs(absl::StatusCode::kInvalidArgument));
}

}  // namespace
}  // namespace mend::eventlog
