#include "tests/support/grpc_client.h"

#include "absl/strings/str_cat.h"
#include "grpc/health/v1/health.grpc.pb.h"

namespace mend::testing {

using ::grpc::health::v1::HealthCheckRequest;
using ::grpc::health::v1::HealthCheckResponse;

std::shared_ptr<grpc::Channel> Connect(int port) {
  grpc::ChannelArguments args;
  args.SetInt(GRPC_ARG_INITIAL_RECONNECT_BACKOFF_MS, 20);
  args.SetInt(GRPC_ARG_MIN_RECONNECT_BACKOFF_MS, 20);
  args.SetInt(GRPC_ARG_MAX_RECONNECT_BACKOFF_MS, 200);
  return grpc::CreateCustomChannel(absl::StrCat("127.0.0.1:", port),
                                   grpc::InsecureChannelCredentials(), args);
}

bool WaitServing(const std::shared_ptr<grpc::Channel>& channel, absl::Duration timeout) {
  auto health = grpc::health::v1::Health::NewStub(channel);
  grpc::ClientContext context;
  context.set_wait_for_ready(true);
  context.set_deadline(absl::ToChronoTime(absl::Now() + timeout));
  std::unique_ptr<grpc::ClientReader<HealthCheckResponse>> reader =
      health->Watch(&context, HealthCheckRequest());
  HealthCheckResponse response;
  while (reader->Read(&response)) {
    if (response.status() == HealthCheckResponse::SERVING) {
      context.TryCancel();
      reader->Finish();
      return true;
    }
  }
  reader->Finish();
  return false;
}

}  // namespace mend::testing
