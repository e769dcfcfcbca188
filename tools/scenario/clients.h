// How mend-scenario reaches the four services: one channel and stub per
// service (plaintext, or mutual TLS as the flags say), bearer tokens it mints
// itself for each actor of the story, and one way to make a call that rides
// out a service restarting.
//
//   MEND_ASSIGN_OR_RETURN(std::unique_ptr<Clients> clients, Clients::Connect(options));
//   Actor ann = clients->Facilitator("ann-1");
//   absl::StatusOr<case_v1::CommandResult> r = clients->Call<case_v1::CommandResult>(
//       ann, [&](grpc::ClientContext* c, case_v1::CommandResult* out) {
//         return clients->cases().RecordAcknowledgement(c, request, out);
//       });
//
// Retries. Every command the scenario sends carries a deterministic request
// id, so sending it again is the same request and gets the original answer
// (DESIGN, "Ids"). A call is therefore repeated, with backoff, while the
// service answers UNAVAILABLE (restarting, replaying its log, draining, or
// not yet caught up with a causal token) or DEADLINE_EXCEEDED (wait_for_ready
// while it is down), until the step's deadline; any other error is the
// step's answer.
//
// Thread safety: Clients is thread-safe (gRPC stubs are); an Actor belongs to
// one thread.
#ifndef MEND_TOOLS_SCENARIO_CLIENTS_H_
#define MEND_TOOLS_SCENARIO_CLIENTS_H_

#include <grpcpp/grpcpp.h>

#include <algorithm>
#include <memory>
#include <string>
#include <thread>

#include "absl/status/status.h"
#include "absl/status/statusor.h"
#include "absl/strings/str_cat.h"
#include "absl/time/clock.h"
#include "absl/time/time.h"
#include "common/base/role.h"
#include "common/rpc/status_convert.h"
#include "common/security/auth.h"
#include "mend/case/v1/case_service.grpc.pb.h"
#include "mend/conference/v1/conference_service.grpc.pb.h"
#include "mend/consent/v1/consent_service.grpc.pb.h"
#include "mend/scheduling/v1/scheduling_service.grpc.pb.h"

namespace mend::scenario {

namespace case_v1 = ::mend::case_::v1;
namespace common_v1 = ::mend::common::v1;
namespace consent_v1 = ::mend::consent::v1;
namespace scheduling_v1 = ::mend::scheduling::v1;
namespace conference_v1 = ::mend::conference::v1;

struct ConnectOptions {
  std::string case_address;
  std::string consent_address;
  std::string scheduling_address;
  std::string conference_address;
  std::string tls_ca;  // empty: plaintext
  std::string tls_cert;
  std::string tls_key;
  std::string token_key_pem;  // the token signing private key (PEM text)
  // How long one step may keep retrying, and one attempt wait.
  absl::Duration step_deadline = absl::Seconds(60);
  absl::Duration attempt_timeout = absl::Seconds(15);
};

// Someone in the story who calls the services: a role and a subject, and a
// short-lived token for them, minted when the last one is near its end.
class Actor {
 public:
  static constexpr absl::Duration kTokenLifetime = absl::Minutes(5);

  Actor(const std::string* key_pem, Role role, std::string subject)
      : key_pem_(key_pem), role_(role), subject_(std::move(subject)) {}

  const std::string& subject() const { return subject_; }
  // A token with at least a minute left; INVALID_ARGUMENT if the key cannot
  // sign (MintToken's message).
  absl::StatusOr<std::string> Token();

 private:
  const std::string* const key_pem_;
  const Role role_;
  const std::string subject_;
  std::string token_;
  absl::Time expires_ = absl::InfinitePast();
};

class Clients {
 public:
  // Channels to the four services. INVALID_ARGUMENT / FAILED_PRECONDITION
  // naming the file if a TLS file is unusable (common/security/tls.h). The
  // channels connect lazily and reconnect quickly (at most a second apart)
  // when a service comes back.
  static absl::StatusOr<std::unique_ptr<Clients>> Connect(ConnectOptions options);

  Actor Facilitator(const std::string& id) const { return Make(Role::kFacilitator, id); }
  Actor Manager(const std::string& id) const { return Make(Role::kManager, id); }
  Actor Auditor(const std::string& id) const { return Make(Role::kAuditor, id); }

  case_v1::CaseService::Stub& cases() const { return *case_; }
  consent_v1::ConsentService::Stub& consent() const { return *consent_; }
  scheduling_v1::SchedulingService::Stub& scheduling() const { return *scheduling_; }
  conference_v1::ConferenceService::Stub& conference() const { return *conference_; }

  // One unary call as `who`, retried as the header says: `fn(context,
  // response)` makes the call; `attempts`, if given, is set to how many it
  // took. The error is the last attempt's, its message saying how many
  // attempts were made when more than one.
  template <typename Response, typename Fn>
  absl::StatusOr<Response> Call(Actor& who, Fn fn, int* attempts = nullptr) const {
    const absl::Time step_deadline = absl::Now() + options_.step_deadline;
    absl::Duration backoff = absl::Milliseconds(50);
    for (int attempt = 1;; ++attempt) {
      if (attempts != nullptr) *attempts = attempt;
      absl::StatusOr<std::string> token = who.Token();
      if (!token.ok()) return token.status();
      grpc::ClientContext context;
      AttachBearerToken(&context, *token);
      context.set_wait_for_ready(true);
      context.set_deadline(absl::ToChronoTime(
          std::min(absl::Now() + options_.attempt_timeout, step_deadline)));
      Response response;
      const grpc::Status status = fn(&context, &response);
      if (status.ok()) return response;
      const bool transient = status.error_code() == grpc::StatusCode::UNAVAILABLE ||
                             status.error_code() == grpc::StatusCode::DEADLINE_EXCEEDED;
      if (!transient || absl::Now() + backoff >= step_deadline) {
        absl::Status error = FromGrpc(status);
        if (attempt == 1) return error;
        return absl::Status(error.code(), absl::StrCat(error.message(), " (after ",
                                                       attempt, " attempts)"));
      }
      // The service is restarting or catching up: the same request again.
      std::this_thread::sleep_for(absl::ToChronoNanoseconds(backoff));
      backoff = std::min(backoff * 2, absl::Seconds(1));
    }
  }

 private:
  explicit Clients(ConnectOptions options) : options_(std::move(options)) {}
  Actor Make(Role role, const std::string& id) const {
    return Actor(&options_.token_key_pem, role, id);
  }

  const ConnectOptions options_;
  std::unique_ptr<case_v1::CaseService::Stub> case_;
  std::unique_ptr<consent_v1::ConsentService::Stub> consent_;
  std::unique_ptr<scheduling_v1::SchedulingService::Stub> scheduling_;
  std::unique_ptr<conference_v1::ConferenceService::Stub> conference_;
};

}  // namespace mend::scenario

#endif  // MEND_TOOLS_SCENARIO_CLIENTS_H_
