#include "tests/support/log_server.h"

#include <utility>

#include "absl/strings/str_cat.h"
#include "common/base/status_macros.h"

namespace mend::testing {

absl::StatusOr<std::unique_ptr<LoopbackLogServer>> LoopbackLogServer::Start(
    Options options) {
  std::unique_ptr<LoopbackLogServer> server(new LoopbackLogServer());
  if (options.store != nullptr) {
    server->store_ = options.store;
  } else {
    MEND_ASSIGN_OR_RETURN(server->owned_store_,
                          eventlog::EventStore::Open({.path = options.path}));
    server->store_ = server->owned_store_.get();
  }
  if (options.token_public_key_pem.empty()) {
    server->verifier_ = TokenVerifier::Development();
  } else {
    MEND_ASSIGN_OR_RETURN(server->verifier_,
                          TokenVerifier::FromPublicKeyPem(options.token_public_key_pem));
  }
  MEND_ASSIGN_OR_RETURN(server->policy_,
                        MethodPolicy::Create({&eventlog::EventLogPolicy(),
                                              &eventlog::EventLogWriterPolicy()}));
  server->authorizer_ =
      std::make_unique<Authorizer>(server->verifier_.get(), server->policy_.get());
  server->log_service_ = std::make_unique<eventlog::EventLogService>(
      server->store_, server->authorizer_.get());
  server->writer_service_ = std::make_unique<eventlog::EventLogWriterService>(
      server->store_, server->authorizer_.get());

  grpc::ServerBuilder builder;
  if (!options.interceptors.empty()) {
    builder.experimental().SetInterceptorCreators(std::move(options.interceptors));
  }
  builder.AddListeningPort(absl::StrCat("127.0.0.1:", options.port),
                           options.credentials != nullptr
                               ? options.credentials
                               : grpc::InsecureServerCredentials(),
                           &server->port_);
  builder.RegisterService(server->log_service_.get());
  builder.RegisterService(server->writer_service_.get());
  server->server_ = builder.BuildAndStart();
  if (server->server_ == nullptr || server->port_ == 0) {
    server->stopped_ = true;
    return absl::UnavailableError(
        absl::StrCat("gRPC server did not start on 127.0.0.1:", options.port));
  }
  return server;
}

LoopbackLogServer::~LoopbackLogServer() {
  Stop();
  server_.reset();
  writer_service_.reset();
  log_service_.reset();
  owned_store_.reset();
}

void LoopbackLogServer::Stop(absl::Duration grace) {
  if (stopped_) return;
  stopped_ = true;
  log_service_->Shutdown();
  server_->Shutdown(absl::ToChronoTime(absl::Now() + grace));
  server_->Wait();
}

std::string LoopbackLogServer::address() const {
  return absl::StrCat("127.0.0.1:", port_);
}

}  // namespace mend::testing
