#include "tools/scenario/clients.h"

#include "common/base/status_macros.h"
#include "tools/client/client_channel.h"

namespace mend::scenario {

absl::StatusOr<std::string> Actor::Token() {
  const absl::Time now = absl::Now();
  if (now + absl::Minutes(1) < expires_) return token_;
  MEND_ASSIGN_OR_RETURN(token_,
                        MintToken(*key_pem_, subject_, role_, kTokenLifetime, now));
  expires_ = now + kTokenLifetime;
  return token_;
}

absl::StatusOr<std::unique_ptr<Clients>> Clients::Connect(ConnectOptions options) {
  // A restarted service is found again within a second, not after gRPC's
  // default backoff of up to two minutes.
  grpc::ChannelArguments args;
  args.SetInt(GRPC_ARG_INITIAL_RECONNECT_BACKOFF_MS, 50);
  args.SetInt(GRPC_ARG_MIN_RECONNECT_BACKOFF_MS, 50);
  args.SetInt(GRPC_ARG_MAX_RECONNECT_BACKOFF_MS, 1000);
  const client::ChannelSecurity security{
      .tls_ca = options.tls_ca, .tls_cert = options.tls_cert, .tls_key = options.tls_key};
  std::unique_ptr<Clients> clients(new Clients(std::move(options)));
  const ConnectOptions& o = clients->options_;
  MEND_ASSIGN_OR_RETURN(auto case_channel,
                        client::MakeClientChannel(o.case_address, security, args));
  MEND_ASSIGN_OR_RETURN(auto consent_channel,
                        client::MakeClientChannel(o.consent_address, security, args));
  MEND_ASSIGN_OR_RETURN(auto scheduling_channel,
                        client::MakeClientChannel(o.scheduling_address, security, args));
  MEND_ASSIGN_OR_RETURN(auto conference_channel,
                        client::MakeClientChannel(o.conference_address, security, args));
  clients->case_ = case_v1::CaseService::NewStub(case_channel);
  clients->consent_ = consent_v1::ConsentService::NewStub(consent_channel);
  clients->scheduling_ = scheduling_v1::SchedulingService::NewStub(scheduling_channel);
  clients->conference_ = conference_v1::ConferenceService::NewStub(conference_channel);
  return clients;
}

}  // namespace mend::scenario
