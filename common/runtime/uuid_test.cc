#include "common/runtime/uuid.h"

#include <set>
#include <string>

#include "gtest/gtest.h"

namespace mend {
namespace {

TEST(UuidTest, IsVersion4VariantRfc4122LowerHex) {
  for (int i = 0; i < 1000; ++i) {
    const std::string id = NewUuid();
    ASSERT_EQ(id.size(), 36u) << id;
    for (size_t j = 0; j < id.size(); ++j) {
      if (j == 8 || j == 13 || j == 18 || j == 23) {
        ASSERT_EQ(id[j], '-') << id;
      } else {
        ASSERT_TRUE((id[j] >= '0' && id[j] <= '9') || (id[j] >= 'a' && id[j] <= 'f'))
            << id;
      }
    }
    EXPECT_EQ(id[14], '4') << id;
    EXPECT_NE(std::string("89ab").find(id[19]), std::string::npos) << id;
  }
}

TEST(UuidTest, TenThousandAreDistinct) {
  std::set<std::string> seen;
  for (int i = 0; i < 10000; ++i) seen.insert(NewUuid());
  EXPECT_EQ(seen.size(), 10000u);
}

}  // namespace
}  // namespace mend
