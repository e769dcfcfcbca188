// mend-image-health-wait: the image test's gRPC client (deploy/docker/image_test.sh).
//
//   mend-image-health-wait --pick_port
//       prints a TCP port free on 127.0.0.1 right now, and a newline
//   mend-image-health-wait --port=PORT [--service=NAME] [--timeout=60s]
//       waits until the server on 127.0.0.1:PORT reports SERVING over
//       grpc.health.v1 Health.Watch (for --service, e.g. "mend.case.v1.CaseService",
//       or the whole server if empty)
//
// Exit status: 0 once SERVING; 1 if the deadline passes, the stream ends
// otherwise or the server there does not know --service (the reason is on
// stderr); 2 for a missing or bad --port.
#include <iostream>
#include <string>

#include "absl/flags/flag.h"
#include "absl/flags/parse.h"
#include "absl/time/time.h"
#include "tests/support/grpc_client.h"
#include "tests/support/process.h"

ABSL_FLAG(bool, pick_port, false, "print a free port on 127.0.0.1 and exit");
ABSL_FLAG(int, port, 0, "port of the gRPC server on 127.0.0.1");
ABSL_FLAG(std::string, service, "",
          "service whose health to wait for; empty: the server");
ABSL_FLAG(absl::Duration, timeout, absl::Seconds(60), "how long to wait for SERVING");

int main(int argc, char** argv) {
  absl::ParseCommandLine(argc, argv);
  if (absl::GetFlag(FLAGS_pick_port)) {
    const int port = mend::testing::PickFreePort();
    if (port == 0) {
      std::cerr << "no free port on 127.0.0.1\n";
      return 1;
    }
    std::cout << port << "\n";
    return 0;
  }
  const int port = absl::GetFlag(FLAGS_port);
  if (port <= 0 || port > 65535) {
    std::cerr << "--port: a port 1-65535 is required\n";
    return 2;
  }
  const bool serving = mend::testing::WaitServing(mend::testing::Connect(port),
                                                  absl::GetFlag(FLAGS_timeout),
                                                  absl::GetFlag(FLAGS_service));
  if (!serving) {
    std::cerr << "127.0.0.1:" << port << " did not report SERVING\n";
    return 1;
  }
  std::cout << "127.0.0.1:" << port << " SERVING\n";
  return 0;
}
