#include "common/base/page_token.h"

#include <gmock/gmock.h>
#include <gtest/gtest.h>

#include "absl/strings/escaping.h"
#include "tests/support/test_util.h"

namespace mend {
namespace {

using ::mend::testing::StatusIs;

TEST(PageTokenTest, RoundTrips) {
  const std::string token = EncodePageToken("ListCases", "case-7/x");
  auto key = DecodePageToken("ListCases", token);
  ASSERT_TRUE(key.ok());
  EXPECT_EQ(*key, "case-7/x");
  EXPECT_EQ(*DecodePageToken("ListCases", ""), "");
  EXPECT_EQ(
      *DecodePositionPageToken("ListDecisions", EncodePageToken("ListDecisions", "42")),
      42u);
  EXPECT_EQ(*DecodePositionPageToken("ListDecisions", ""), 0u);
}

TEST(PageTokenTest, RefusesAnythingElse) {
  for (const std::string bad :
       {std::string("garbage!"), absl::WebSafeBase64Escape("c1"),
        absl::WebSafeBase64Escape("mend-page/1/ListCases/"),
        absl::WebSafeBase64Escape("mend-page/2/ListCases/c1"),
        EncodePageToken("ListDecisions", "c1"), EncodePageToken("ListCases", "c1") + "=",
        std::string("AAAA")}) {
    EXPECT_THAT(
        DecodePageToken("ListCases", bad),
        StatusIs(absl::StatusCode::kInvalidArgument, ::testing::HasSubstr("page_token")))
        << bad;
  }
  for (const std::string bad :
       std::vector<std::string>{"0", "-1", "x", "007", "18446744073709551616"}) {
    EXPECT_THAT(
        DecodePositionPageToken("ListDecisions", EncodePageToken("ListDecisions", bad)),
        StatusIs(absl::StatusCode::kInvalidArgument))
        << bad;
  }
}

}  // namespace
}  // namespace mend
