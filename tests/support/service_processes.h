// The four services as real processes for end-to-end tests: the mend-case,
// mend-consent, mend-scheduling and mend-conference binaries
// on loopback with a token verification key, a master key and the
// downstream services' service tokens, their stubs,
// signed tokens for any caller, and the calls most tests make. Nothing
// sleeps: starts wait on the health service, decisions on causal tokens.
//
//   ServiceProcesses p(MEND_CASE_SERVICE, MEND_CONSENT_SERVICE);
//   p.StartCase();
//   p.StartConsent();
//   const std::string case_id = p.ReadyCase("t1");  // ready for a letter
//   auto decision = p.Decide(case_id, "t1-decide", common_v1::LETTER_DELIVERY);
#ifndef MEND_TESTS_SUPPORT_SERVICE_PROCESSES_H_
#define MEND_TESTS_SUPPORT_SERVICE_PROCESSES_H_

#include <grpcpp/grpcpp.h>

#include <algorithm>
#include <functional>
#include <memory>
#include <optional>
#include <string>
#include <vector>

#include "absl/status/statusor.h"
#include "absl/time/time.h"
#include "common/base/role.h"
#include "gmock/gmock.h"
#include "mend/case/v1/case_service.grpc.pb.h"
#include "mend/conference/v1/conference_service.grpc.pb.h"
#include "mend/consent/v1/consent_service.grpc.pb.h"
#include "mend/eventlog/v1/eventlog_service.grpc.pb.h"
#include "mend/scheduling/v1/scheduling_service.grpc.pb.h"
#include "tests/support/grpc_client.h"
#include "tests/support/process.h"
#include "tests/support/test_util.h"
#include "tests/support/tokens.h"

namespace mend::testing {

namespace case_v1 = ::mend::case_::v1;
namespace common_v1 = ::mend::common::v1;
namespace consent_v1 = ::mend::consent::v1;
namespace scheduling_v1 = ::mend::scheduling::v1;
namespace conference_v1 = ::mend::conference::v1;

// A fresh Ed25519 key pair for signing tree heads (PKCS#8 private key,
// SubjectPublicKeyInfo public key), as `openssl genpkey -algorithm ed25519`
// makes it.
KeyPair NewTreeHeadKey();

class ServiceProcesses {
 public:
  static constexpr char kAnn[] = "facilitator-ann";  // allocated by ReadyCase
  static constexpr char kManager[] = "manager-mia";

  // `scheduling_binary` may be empty for tests of case and consent only.
  ServiceProcesses(std::string case_binary, std::string consent_binary,
                   std::string scheduling_binary = "",
                   std::string conference_binary = "");

  // Before the first Start*: each service signs its tree heads with an
  // Ed25519 key of its own (made here, in the temporary directory), every
  // `every_events` events and at shutdown (--tree_head_key,
  // --tree_head_every_events), so a stopped service's last signed head
  // covers its whole log.
  void UseTreeHeads(int every_events);
  // The PEM files of the tree-head key pair of `service` ("case", "consent",
  // "scheduling", "conference"): the public key is what auditors check the
  // heads with. Empty unless UseTreeHeads was called.
  std::string TreeHeadPublicKeyPath(const std::string& service) const;
  std::string TreeHeadPrivateKeyPath(const std::string& service) const;

  // Start a process (again, on the same port and data) and wait for SERVING;
  // a failure is a test failure with the process's output.
  void StartCase();
  void StartConsent();
  void StartScheduling();
  void StartConferenceService();
  // Starts the consent service expecting it to refuse to serve: waits up to
  // 30 s for it to exit and returns its wait status (nullopt: still
  // running, then killed) and its output.
  std::optional<int> ConsentExitStatus(std::string* output);
  // Where each service keeps its event log.
  std::string CaseLogPath() const { return dir_.Sub("case") + "/eventlog"; }
  std::string ConsentLogPath() const { return dir_.Sub("consent") + "/eventlog"; }
  std::string SchedulingLogPath() const { return dir_.Sub("scheduling") + "/eventlog"; }
  std::string ConferenceLogPath() const { return dir_.Sub("conference") + "/eventlog"; }
  // Where each service listens ("127.0.0.1:<port>"), once started.
  std::string CaseAddress() const { return "127.0.0.1:" + std::to_string(case_port_); }
  std::string ConsentAddress() const {
    return "127.0.0.1:" + std::to_string(consent_port_);
  }
  std::string SchedulingAddress() const {
    return "127.0.0.1:" + std::to_string(scheduling_port_);
  }
  std::string ConferenceAddress() const {
    return "127.0.0.1:" + std::to_string(conference_port_);
  }
  // SIGTERM: the process drains and must exit 0.
  void StopCase() { Stop(case_); }
  void StopConsent() { Stop(consent_); }
  void StopScheduling() { Stop(scheduling_); }
  void StopConferenceService() { Stop(conference_); }
  // SIGKILL: no drain; the process must not be waited for by the caller.
  void KillCase() { Kill(case_); }
  void KillConsent() { Kill(consent_); }
  void KillScheduling() { Kill(scheduling_); }
  void KillConferenceService() { Kill(conference_); }

  std::string Token(Role role, const std::string& subject);
  // The PEM file of the private key the services' tokens are signed with
  // (for tools that mint their own, e.g. mend-scenario --token_key).
  std::string TokenKeyPath() const { return dir_.Sub("token.key"); }

  // A case command as `token`'s caller; on success the causal token takes
  // its last position.
  template <typename Request>
  absl::StatusOr<case_v1::CommandResult> CaseCommand(
      grpc::Status (case_v1::CaseService::Stub::*method)(grpc::ClientContext*,
                                                         const Request&,
                                                         case_v1::CommandResult*),
      const Request& request, const std::string& token) {
    absl::StatusOr<case_v1::CommandResult> r = Call<case_v1::CommandResult>(
        token, [&](grpc::ClientContext* c, case_v1::CommandResult* out) {
          return (case_stub_.get()->*method)(c, request, out);
        });
    if (r.ok()) {
      token_.set_case_position(std::max(token_.case_position(), r->last_position()));
    }
    return r;
  }

  // A referral by the manager with service user "su-1" and victim "v-1"
  // (request ids prefixed by `prefix`).
  case_v1::ReferCaseRequest Referral(const std::string& prefix) const;
  // Referred, found suitable, Ann allocated, acknowledged, assessed for an
  // approach and letters (review in 90 days): a case in PREPARING.
  std::string ReadyCase(const std::string& prefix);
  // GIVEN for `participant` on `scope`, recorded by Ann.
  absl::StatusOr<consent_v1::CommandResult> Consent(const std::string& case_id,
                                                    const std::string& participant,
                                                    consent_v1::ConsentScope scope);
  // Every consent a letter needs: the victim's PARTICIPATE and
  // RECEIVE_LETTER, the service user's RECEIVE_LETTER.
  void ConsentToLetters(const std::string& case_id);
  // The conference service asks on Ann's behalf, with the causal token.
  absl::StatusOr<consent_v1::ContactDecision> Decide(
      const std::string& case_id, const std::string& request_id,
      common_v1::ContactKind kind, absl::Duration timeout = absl::Seconds(30));
  absl::StatusOr<consent_v1::ListDecisionsResponse> ListDecisions(
      const std::string& case_id);
  absl::StatusOr<case_v1::CaseView> GetCase(const std::string& case_id,
                                            const std::string& token);

  // Returns once the consent service has handled the case log up to the
  // causal token (a GetConsents on `case_id` that waits for it).
  void WaitConsentCaughtUp(const std::string& case_id);

  // EventLog.GetHead of each service's own log (as an auditor).
  uint64_t CaseHead();
  uint64_t ConsentHead();
  uint64_t SchedulingHead();
  uint64_t ConferenceHead();

  case_v1::CaseService::Stub& case_stub() { return *case_stub_; }
  const std::shared_ptr<grpc::Channel>& case_channel() const { return case_channel_; }
  consent_v1::ConsentService::Stub& consent_stub() { return *consent_stub_; }
  scheduling_v1::SchedulingService::Stub& scheduling_stub() { return *scheduling_stub_; }
  const std::shared_ptr<grpc::Channel>& consent_channel() const {
    return consent_channel_;
  }
  const std::shared_ptr<grpc::Channel>& scheduling_channel() const {
    return scheduling_channel_;
  }
  conference_v1::ConferenceService::Stub& conference_stub() { return *conference_stub_; }
  const std::shared_ptr<grpc::Channel>& conference_channel() const {
    return conference_channel_;
  }
  common_v1::CausalToken& causal_token() { return token_; }
  // The causal token's case and consent positions: what the consent service
  // follows (it refuses positions of logs it does not).
  common_v1::CausalToken ConsentToken() const;
  const TempDir& dir() const { return dir_; }
  std::string CaseOutput() const { return case_ ? case_->Output() : ""; }
  std::string ConsentOutput() const { return consent_ ? consent_->Output() : ""; }
  std::string SchedulingOutput() const {
    return scheduling_ ? scheduling_->Output() : "";
  }
  std::string ConferenceOutput() const {
    return conference_ ? conference_->Output() : "";
  }

 private:
  static void Stop(std::optional<ChildProcess>& child);
  static void Kill(std::optional<ChildProcess>& child);
  // Runs `spawn()` (which listens on `port`) until it serves `service`
  // there. On a service's first start, a port another process took meanwhile
  // (PickFreePort only found it free) is replaced by a fresh one, up to
  // three times; later starts keep the port their downstreams follow.
  void Launch(const std::string& service, int& port, bool& started_before,
              const std::function<absl::StatusOr<ChildProcess>()>& spawn,
              std::optional<ChildProcess>& child,
              std::shared_ptr<grpc::Channel>& channel);
  absl::StatusOr<ChildProcess> SpawnConsent();
  // The tree-head flags of `service` (none unless UseTreeHeads was called).
  std::vector<std::string> TreeHeadArgs(const std::string& service) const;
  uint64_t Head(const std::shared_ptr<grpc::Channel>& channel);

  const std::string case_binary_;
  const std::string consent_binary_;
  const std::string scheduling_binary_;
  const std::string conference_binary_;
  TempDir dir_;
  KeyPair key_;
  int case_port_ = 0;
  int consent_port_ = 0;
  int scheduling_port_ = 0;
  int conference_port_ = 0;
  bool case_started_ = false;
  bool consent_started_ = false;
  bool scheduling_started_ = false;
  bool conference_started_ = false;
  int starts_ = 0;
  int tree_head_every_events_ = 0;  // 0: the services sign no tree heads
  std::optional<ChildProcess> case_;
  std::optional<ChildProcess> consent_;
  std::optional<ChildProcess> scheduling_;
  std::optional<ChildProcess> conference_;
  std::shared_ptr<grpc::Channel> case_channel_;
  std::shared_ptr<grpc::Channel> consent_channel_;
  std::shared_ptr<grpc::Channel> scheduling_channel_;
  std::shared_ptr<grpc::Channel> conference_channel_;
  std::unique_ptr<case_v1::CaseService::Stub> case_stub_;
  std::unique_ptr<consent_v1::ConsentService::Stub> consent_stub_;
  std::unique_ptr<scheduling_v1::SchedulingService::Stub> scheduling_stub_;
  std::unique_ptr<conference_v1::ConferenceService::Stub> conference_stub_;
  common_v1::CausalToken token_;
};

}  // namespace mend::testing

#endif  // MEND_TESTS_SUPPORT_SERVICE_PROCESSES_H_
