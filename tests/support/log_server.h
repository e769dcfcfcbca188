// A real EventLog and EventLogWriter gRPC server on loopback, over a real
// EventStore, for integration tests: the stack a test would otherwise wire up
// itself (store, token verifier, method policy, authorizer, both services,
// the server).
//
//   auto server = LoopbackLogServer::Start({.path = dir.Sub("log")});
//   auto channel = grpc::CreateChannel(server->address(), ...);
//
// Calls need a bearer token for the service or auditor role: signed by the
// key whose public half is `token_public_key_pem`, or any well-formed token
// when that is empty (the development verifier checks claims, not
// signatures).
#ifndef MEND_TESTS_SUPPORT_LOG_SERVER_H_
#define MEND_TESTS_SUPPORT_LOG_SERVER_H_

#include <grpcpp/grpcpp.h>
#include <grpcpp/support/server_interceptor.h>

#include <memory>
#include <string>
#include <vector>

#include "absl/status/statusor.h"
#include "absl/time/time.h"
#include "common/eventlog/event_store.h"
#include "common/runtime/eventlog_service.h"
#include "common/security/auth.h"
#include "tests/support/eventlog_writer_service.h"

namespace mend::testing {

class LoopbackLogServer {
 public:
  struct Options {
    std::string path = "";  // the store's directory, unless `store` is given
    // Serve this store (not owned; it must outlive the server) instead of
    // opening `path`: a test can stop and restart the server over one store.
    eventlog::EventStore* store = nullptr;
    std::string token_public_key_pem = "";  // empty: development verifier
    std::shared_ptr<grpc::ServerCredentials> credentials = nullptr;  // null: plaintext
    int port = 0;  // 0: an ephemeral port
    std::vector<std::unique_ptr<grpc::experimental::ServerInterceptorFactoryInterface>>
        interceptors = {};
  };

  // UNAVAILABLE if the server cannot listen; the store's and verifier's errors.
  static absl::StatusOr<std::unique_ptr<LoopbackLogServer>> Start(Options options);

  // Stop(), then the services, then the store (if owned).
  ~LoopbackLogServer();
  LoopbackLogServer(const LoopbackLogServer&) = delete;
  LoopbackLogServer& operator=(const LoopbackLogServer&) = delete;

  // Ends every subscription (UNAVAILABLE), then shuts the server down, giving
  // calls still open until `grace` to finish. Later calls do nothing.
  void Stop(absl::Duration grace = absl::Seconds(10));

  int port() const { return port_; }
  std::string address() const;
  eventlog::EventStore* store() { return store_; }
  eventlog::EventLogService* log_service() { return log_service_.get(); }

 private:
  LoopbackLogServer() = default;

  int port_ = 0;
  bool stopped_ = false;
  std::unique_ptr<eventlog::EventStore> owned_store_;
  eventlog::EventStore* store_ = nullptr;
  std::unique_ptr<TokenVerifier> verifier_;
  std::unique_ptr<MethodPolicy> policy_;
  std::unique_ptr<Authorizer> authorizer_;
  std::unique_ptr<eventlog::EventLogService> log_service_;
  std::unique_ptr<eventlog::EventLogWriterService> writer_service_;
  std::unique_ptr<grpc::Server> server_;
};

}  // namespace mend::testing

#endif  // MEND_TESTS_SUPPORT_LOG_SERVER_H_
