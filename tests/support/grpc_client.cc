#include "tests/support/grpc_client.h"

#include <grpcpp/generic/generic_stub.h>

#include <iostream>

#include "absl/strings/str_cat.h"
#include "absl/synchronization/notification.h"
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

bool WaitServing(const std::shared_ptr<grpc::Channel>& channel, absl::Duration timeout,
                 const std::string& service) {
  auto health = grpc::health::v1::Health::NewStub(channel);
  const absl::Time deadline = absl::Now() + timeout;
  grpc::Status status;
  // A stream that breaks (UNAVAILABLE: e.g. a connection to the previous
  // process on the same port, shared by gRPC's subchannel pool, closing) is
  // opened again; wait_for_ready makes the next one wait for a connection.
  do {
    grpc::ClientContext context;
    context.set_wait_for_ready(true);
    context.set_deadline(absl::ToChronoTime(deadline));
    HealthCheckRequest request;
    request.set_service(service);
    std::unique_ptr<grpc::ClientReader<HealthCheckResponse>> reader =
        health->Watch(&context, request);
    HealthCheckResponse response;
    while (reader->Read(&response)) {
      if (response.status() == HealthCheckResponse::SERVING) {
        context.TryCancel();
        reader->Finish();
        return true;
      }
      if (response.status() == HealthCheckResponse::SERVICE_UNKNOWN) {
        context.TryCancel();
        reader->Finish();
        std::cerr << "the server there does not serve " << service
                  << ": another process holds the port\n";
        return false;
      }
    }
    status = reader->Finish();
  } while (status.error_code() == grpc::StatusCode::UNAVAILABLE &&
           absl::Now() < deadline);
  std::cerr << "Health.Watch ended before SERVING: " << status.error_code() << " "
            << status.error_message() << "\n";
  return false;
}

grpc::Status CallRaw(const std::shared_ptr<grpc::Channel>& channel,
                     const std::string& method, const std::string& bytes) {
  grpc::GenericStub stub(channel);
  grpc::ClientContext context;
  context.set_deadline(absl::ToChronoTime(absl::Now() + absl::Seconds(30)));
  grpc::Slice slice(bytes);
  grpc::ByteBuffer request(&slice, 1);
  grpc::ByteBuffer response;
  absl::Notification done;
  grpc::Status status;
  stub.UnaryCall(&context, method, grpc::StubOptions(), &request, &response,
                 [&](grpc::Status s) {
                   status = std::move(s);
                   done.Notify();
                 });
  done.WaitForNotification();
  return status;
}

}  // namespace mend::testing
