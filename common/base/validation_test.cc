#include "common/base/validation.h"

#include <string>
#include <vector>

#include "gmock/gmock.h"
#include "gtest/gtest.h"
#include "mend/case/v1/events.pb.h"
#include "tests/support/test_util.h"

namespace mend {
namespace {

using ::mend::testing::IsOk;
using ::mend::testing::StatusIs;
using ::testing::HasSubstr;

struct Row {
  std::string value;
  bool ok;
};

TEST(ValidationTest, Ids) {
  const std::vector<Row> rows = {
      {"c1", true},
      {"3f6e2a1c-9b7d-4e8f-a1b2-c3d4e5f60718", true},
      {"p.sam_2:x-y", true},
      {std::string(128, 'i'), true},
      {std::string(129, 'i'), false},
      {"", false},
      {"a b", false},
      {"a/b", false},  // key ids join case and participant ids with '/'
      {"+44 7700 900000", false},
      {"x@example.org", false},
      {"caf\xc3\xa9", false},
      {"tab\t", false},
  };
  for (const Row& row : rows) {
    SCOPED_TRACE(row.value);
    if (row.ok) {
      EXPECT_THAT(ValidateId("case_id", row.value), IsOk());
    } else {
      EXPECT_THAT(ValidateId("case_id", row.value),
                  StatusIs(absl::StatusCode::kInvalidArgument, HasSubstr("case_id: ")));
    }
  }
  EXPECT_THAT(ValidateOptionalId("assessment_id", ""), IsOk());
  EXPECT_THAT(ValidateOptionalId("assessment_id", "a b"),
              StatusIs(absl::StatusCode::kInvalidArgument));
}

TEST(ValidationTest, Codes) {
  const std::vector<Row> rows = {
      {"RJ-leaflet-2026-03", true},  {"SAR-0042", true},
      {"v2.1_final", true},          {std::string(32, 'c'), true},
      {std::string(33, 'c'), false}, {"", false},
      {"07700900000x", true},      // a code cannot tell digits apart, but no spaces
      {"+44 7700 900000", false},  // the phone number of the bug
      {"RJ leaflet v2", false},      {"victim:1", false},  // ':' is for ids only
      {"line\nbreak", false},
  };
  for (const Row& row : rows) {
    SCOPED_TRACE(row.value);
    if (row.ok) {
      EXPECT_THAT(ValidateCode("informed.leaflet_version", row.value), IsOk());
    } else {
      EXPECT_THAT(ValidateCode("informed.leaflet_version", row.value),
                  StatusIs(absl::StatusCode::kInvalidArgument,
                           HasSubstr("informed.leaflet_version: ")));
    }
  }
  EXPECT_THAT(ValidateCode("reason", "", /*required=*/false), IsOk());
  EXPECT_THAT(ValidateCode("reason", "", /*required=*/true),
              StatusIs(absl::StatusCode::kInvalidArgument, HasSubstr("is required")));
}

TEST(ValidationTest, Enums) {
  EXPECT_THAT(ValidateEnum("stage", case_::v1::REFERRED, case_::v1::Stage_IsValid),
              IsOk());
  EXPECT_THAT(
      ValidateEnum("stage", 0, case_::v1::Stage_IsValid),
      StatusIs(absl::StatusCode::kInvalidArgument, HasSubstr("stage: is required")));
  EXPECT_THAT(
      ValidateEnum("stage", 99, case_::v1::Stage_IsValid),
      StatusIs(absl::StatusCode::kInvalidArgument, HasSubstr("unknown value 99")));
}

TEST(ValidationTest, Dates) {
  const std::vector<Row> rows = {
      {"2026-03-02", true},        {"2024-02-29", true},  {"9999-12-31", true},
      {"2026-02-29", false},       {"2026-13-01", false}, {"2026-3-2", false},
      {"02-03-2026", false},       {"", false},           {"1899-12-31", false},
      {"2026-03-02T00:00", false},
  };
  for (const Row& row : rows) {
    SCOPED_TRACE(row.value);
    EXPECT_EQ(ValidateDate("referral_date", row.value).ok(), row.ok);
  }
  EXPECT_EQ(*ParseDate("d", "2026-03-02"), absl::CivilDay(2026, 3, 2));
  const absl::CivilDay latest(2026, 12, 2);
  EXPECT_THAT(DateNotAfter("referral_date", "2026-12-02", latest, "why"), IsOk());
  EXPECT_THAT(DateNotAfter("referral_date", "9999-12-31", latest, "not in the future"),
              StatusIs(absl::StatusCode::kInvalidArgument,
                       HasSubstr("referral_date: is 9999-12-31, after 2026-12-02 (not in "
                                 "the future)")));
  EXPECT_THAT(DateNotAfter("referral_date", "2026-02-30", latest, "why"),
              StatusIs(absl::StatusCode::kInvalidArgument, HasSubstr("real date")));
}

}  // namespace
}  // namespace mend
