#include "common/base/command_event_id.h"

#include <gtest/gtest.h>

#include <string>
#include <vector>

namespace mend {
namespace {

constexpr char kDigest[] = "0123456789abcdef0123456789abcdef";

TEST(CommandEventIdTest, RoundTripsWithSlashesInTheRequestId) {
  const CommandEventId id{"WithdrawConsent", 3, kDigest, "client/7/retry"};
  const std::string text = FormatCommandEventId(id);
  EXPECT_EQ(text, std::string("cmd/WithdrawConsent/3/") + kDigest + "/client/7/retry");
  EXPECT_EQ(ParseCommandEventId(text), id);
}

TEST(CommandEventIdTest, OtherIdsAreNotCommands) {
  for (const std::string bad : std::vector<std::string>{
           "case@42", "req:abc", "cmd/", "cmd/M/0/" + std::string(kDigest),
           "cmd/M/0/" + std::string(kDigest) + "/",
           "cmd//0/" + std::string(kDigest) + "/r",
           "cmd/M/x/" + std::string(kDigest) + "/r",
           "cmd/M/-1/" + std::string(kDigest) + "/r", "cmd/M/0/0123/r",
           "cmd/M/0/0123456789ABCDEF0123456789ABCDEF/r"}) {
    EXPECT_EQ(ParseCommandEventId(bad), std::nullopt) << bad;
  }
}

}  // namespace
}  // namespace mend
