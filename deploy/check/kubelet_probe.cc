// mend-kubelet-probe: asks a gRPC health service what the kubelet's native
// gRPC probe asks (grpc.health.v1.Health/Check for one service name, over
// plaintext, with a timeout), for deploy/check/services_live.mjs.
//
//   mend-kubelet-probe --address=127.0.0.1:7001 --service=mend.case.v1.CaseService
//       [--wait=30s] [--timeout=5s]
//
// --wait first watches the service's status (Health/Watch) until SERVING or
// the wait is over, for a server that is starting or replaying; then one
// Check with --timeout decides, as the probe does.
//
// Exit status: 0 if the Check answered SERVING; 1 otherwise (the status or
// the RPC error is on stderr); 2 for a bad flag.
#include <grpcpp/grpcpp.h>

#include <iostream>
#include <memory>
#include <string>

#include "absl/flags/flag.h"
#include "absl/flags/parse.h"
#include "absl/time/clock.h"
#include "absl/time/time.h"
#include "grpc/health/v1/health.grpc.pb.h"

ABSL_FLAG(std::string, address, "", "host:port of the health service (plaintext)");
ABSL_FLAG(std::string, service, "", "the service name to ask for; empty: the server");
ABSL_FLAG(absl::Duration, wait, absl::ZeroDuration(),
          "watch until SERVING for at most this long before the Check");
ABSL_FLAG(absl::Duration, timeout, absl::Seconds(5), "the Check's deadline");

namespace {

using grpc::health::v1::Health;
using grpc::health::v1::HealthCheckRequest;
using grpc::health::v1::HealthCheckResponse;

// Reads the Watch stream until SERVING or the deadline.
void WaitServing(Health::Stub& stub, const std::string& service, absl::Duration wait) {
  grpc::ClientContext context;
  context.set_wait_for_ready(true);
  context.set_deadline(absl::ToChronoTime(absl::Now() + wait));
  HealthCheckRequest request;
  request.set_service(service);
  auto reader = stub.Watch(&context, request);
  HealthCheckResponse response;
  while (reader->Read(&response)) {
    if (response.status() == HealthCheckResponse::SERVING) {
      context.TryCancel();
      break;
    }
  }
  reader->Finish().ok();  // the Check below reports what matters
}

}  // namespace

int main(int argc, char** argv) {
  absl::ParseCommandLine(argc, argv);
  const std::string address = absl::GetFlag(FLAGS_address);
  const std::string service = absl::GetFlag(FLAGS_service);
  if (address.empty()) {
    std::cerr << "mend-kubelet-probe: --address is required\n";
    return 2;
  }
  auto channel = grpc::CreateChannel(address, grpc::InsecureChannelCredentials());
  auto stub = Health::NewStub(channel);
  if (absl::GetFlag(FLAGS_wait) > absl::ZeroDuration()) {
    WaitServing(*stub, service, absl::GetFlag(FLAGS_wait));
  }
  grpc::ClientContext context;
  context.set_deadline(absl::ToChronoTime(absl::Now() + absl::GetFlag(FLAGS_timeout)));
  HealthCheckRequest request;
  request.set_service(service);
  HealthCheckResponse response;
  const grpc::Status status = stub->Check(&context, request, &response);
  if (!status.ok()) {
    std::cerr << address << " \"" << service << "\": RPC failed: " << status.error_code()
              << " " << status.error_message() << "\n";
    return 1;
  }
  const std::string name = HealthCheckResponse::ServingStatus_Name(response.status());
  std::cout << address << " \"" << service << "\": " << name << "\n";
  return response.status() == HealthCheckResponse::SERVING ? 0 : 1;
}
