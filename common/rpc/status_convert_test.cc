#include "common/rpc/status_convert.h"

#include <grpcpp/support/status.h>
#include <gtest/gtest.h>

namespace mend {
namespace {

TEST(StatusConvertTest, OkBothWays) {
  EXPECT_TRUE(ToGrpc(absl::OkStatus()).ok());
  EXPECT_TRUE(FromGrpc(grpc::Status::OK).ok());
}

TEST(StatusConvertTest, EveryCodeAndMessageRoundTrips) {
  for (int code = 1; code <= 16; ++code) {
    const absl::Status in(static_cast<absl::StatusCode>(code), "what to do");
    const grpc::Status g = ToGrpc(in);
    EXPECT_EQ(static_cast<int>(g.error_code()), code);
    EXPECT_EQ(g.error_message(), "what to do");
    EXPECT_EQ(FromGrpc(g), in);
  }
}

TEST(StatusConvertTest, NamedCodesAgree) {
  EXPECT_EQ(ToGrpc(absl::AbortedError("x")).error_code(), grpc::StatusCode::ABORTED);
  EXPECT_EQ(ToGrpc(absl::UnauthenticatedError("x")).error_code(),
            grpc::StatusCode::UNAUTHENTICATED);
  EXPECT_EQ(FromGrpc(grpc::Status(grpc::StatusCode::DATA_LOSS, "x")).code(),
            absl::StatusCode::kDataLoss);
}

}  // namespace
}  // namespace mend
