// ConsentServiceImpl: mend.consent.v1.ConsentService over the service runtime
// — the gRPC layer on top of the consent domain (consent_validation.h,
// consent_state.h, consent_decide.h, contact_rule.h) and the follower of the
// case log (case_observer.h).
//
//   auto runtime = ServiceRuntime::Create(options);
//   ConsentServiceImpl service(runtime->get());
//   (*runtime)->RegisterService(&service);
//   (*runtime)->SetReplay([&](const ReplayedEvent& e) { return service.Apply(e); });
//   MEND_ASSIGN_OR_RETURN(Follower* f, (*runtime)->AddFollower("case", address,
//       ConsentServiceImpl::ObserveCase,
//       [&](const WriteRequest& r, const WriteResult& w) { service.Observed(r, w); }));
//   service.SetCaseFollower(f);
//   (*runtime)->Start();
//
// Everything about a case lives in one stream of the consent log,
// ConsentStreamId(case_id): the case events observed (written by the
// follower, expected version ANY), consents, withdrawals and decisions
// (written by commands, expecting the version they decided on). So a
// decision rests on exactly the stream before it: a fact that lands while
// a command decides makes its append ABORTED, and the command decides again
// on the new facts (unless the caller gave expected_version: then the
// caller gets ABORTED).
//
// A command or decision runs the shared command path
// (common/runtime/command_handler.h, command_path.h): authorize
// (ConsentPolicy(); UNAVAILABLE until replay is done) → validate → wait for
// the causal token (bounded by the call's deadline, else UNAVAILABLE; for
// DecideContact without a case position, the case log's head now: "at that
// moment" does not depend on the caller remembering a token) → under the
// case's lock: catch up with the stream → idempotency (the same request id
// with the same method, case and content returns its original answer;
// otherwise ALREADY_EXISTS) → decide (the consent domain's pure functions)
// → append → fold the record as stored → answer. Commands on one case run
// one at a time; different cases run in parallel and share the store's group
// commit.
//
// DecideContact: a facilitator asks for themselves (facilitator_id empty or
// their own id, else PERMISSION_DENIED) and only on a case allocated to them
// (else PERMISSION_DENIED, nothing recorded: I5); a service asks on a
// facilitator's behalf (facilitator_id required; an unallocated one is a
// recorded refusal). NOT_FOUND for a case the service has not
// observed (the message gives the case position handled: pass a causal
// token), ResolveParties' errors; otherwise the rule decides and the
// decision — APPROVED or REFUSED — is appended and returned.
//
// ExplainDecision re-reads the decision's stream up to the decision, folds
// it afresh, re-runs the rule of the recorded policy version on it and
// compares (I2). FAILED_PRECONDITION for a policy version this build lacks.
//
// Reads (GetConsents, GetDecision, ListDecisions, ExplainDecision) answer
// from memory (ExplainDecision from the log); facilitators only for cases
// allocated to them.
//
// Thread safety: every RPC may run concurrently from gRPC's threads; Observed
// runs on the follower's thread. Apply is the replay function: the runtime
// calls it before the service serves, on one thread. SetCaseFollower before
// Start. Lifetime: service_runtime.h's one rule (alive until the runtime's
// Shutdown() has returned; the runtime alive while the service is used).
#ifndef MEND_SERVICES_CONSENT_CONSENT_SERVICE_H_
#define MEND_SERVICES_CONSENT_CONSENT_SERVICE_H_

#include <cstdint>
#include <functional>
#include <map>
#include <memory>
#include <optional>
#include <string>
#include <string_view>

#include "absl/base/thread_annotations.h"
#include "absl/container/flat_hash_map.h"
#include "absl/functional/function_ref.h"
#include "absl/status/status.h"
#include "absl/status/statusor.h"
#include "absl/synchronization/mutex.h"
#include "absl/time/time.h"
#include "common/observability/metrics.h"
#include "common/runtime/causal_token.h"
#include "common/runtime/command_handler.h"
#include "common/runtime/command_path.h"
#include "common/runtime/follower.h"
#include "common/runtime/service_runtime.h"
#include "common/security/auth.h"
#include "mend/consent/v1/consent_service.grpc.pb.h"
#include "services/consent/consent_state.h"

namespace mend::consentsvc {

// "/mend.consent.v1.ConsentService/": the prefix of every method's full name.
inline constexpr char kConsentServicePrefix[] = "/mend.consent.v1.ConsentService/";

// Who may call what. RecordConsent, WithdrawConsent: facilitator, manager
// (facilitators only on cases allocated to them). DecideContact: facilitator,
// service. Reads: facilitator, manager, auditor, service.
const MethodPolicy::Table& ConsentPolicy();

class ConsentServiceImpl final : public consent_v1::ConsentService::CallbackService {
 public:
  // `runtime`: see "Lifetime" in service_runtime.h.
  explicit ConsentServiceImpl(ServiceRuntime* runtime);

  // The follower of the case log, for the causal token (before Start).
  void SetCaseFollower(const Follower* follower) {
    case_follower_ = follower;
    causal_.Follow("case", follower);
  }

  // The follower's handler: case records → the write that records them (one
  // CaseEventObserved each, merged per case stream; see Follower::HandleEach).
  static BatchEffects ObserveCase(absl::Span<const UpstreamEvent> events);
  // The follower's committed callback: folds what was written.
  void Observed(const eventlog::WriteRequest& request,
                const eventlog::WriteResult& result);

  // Folds one event of the service's log (the runtime's replay function).
  //   DATA_LOSS  not in a consent stream, or Evolve refuses it.
  absl::Status Apply(const ReplayedEvent& event);

  grpc::ServerUnaryReactor* RecordConsent(grpc::CallbackServerContext* context,
                                          const consent_v1::RecordConsentRequest* request,
                                          consent_v1::CommandResult* response) override;
  grpc::ServerUnaryReactor* WithdrawConsent(
      grpc::CallbackServerContext* context,
      const consent_v1::WithdrawConsentRequest* request,
      consent_v1::CommandResult* response) override;
  grpc::ServerUnaryReactor* GetConsents(
      grpc::CallbackServerContext* context, const consent_v1::GetConsentsRequest* request,
      consent_v1::GetConsentsResponse* response) override;
  grpc::ServerUnaryReactor* DecideContact(grpc::CallbackServerContext* context,
                                          const consent_v1::DecideContactRequest* request,
                                          consent_v1::ContactDecision* response) override;
  grpc::ServerUnaryReactor* GetDecision(grpc::CallbackServerContext* context,
                                        const consent_v1::GetDecisionRequest* request,
                                        consent_v1::ContactDecision* response) override;
  grpc::ServerUnaryReactor* ListDecisions(
      grpc::CallbackServerContext* context,
      const consent_v1::ListDecisionsRequest* request,
      consent_v1::ListDecisionsResponse* response) override;
  grpc::ServerUnaryReactor* ExplainDecision(
      grpc::CallbackServerContext* context,
      const consent_v1::ExplainDecisionRequest* request,
      consent_v1::ExplainDecisionResponse* response) override;

 private:
  // What a request answers: its CommandResult, and for DecideContact its
  // decision.
  struct Answer {
    consent_v1::CommandResult result;
    std::optional<DecisionRecord> decision;
  };
  using Path = CommandPath<CaseFacts, Answer>;

  // Runs a validated command on its case's consent stream: `decide(facts,
  // ctx)` returns the one event (of `event_type`) it records.
  template <typename Request, typename DecideFn>
  absl::StatusOr<CommandOutcome<Answer>> Run(const Call& call, const Request& request,
                                             std::optional<uint64_t> expected_version,
                                             std::string_view event_type,
                                             DecideFn decide);
  // The command path's fold: one consent-log record into its case's facts.
  absl::Status Evolve(CaseFacts& facts, const ReplayedEvent& event);
  // Runs `read` on the facts of a case the caller may read, under the path's
  // lock: PERMISSION_DENIED (CheckCanRead) / NOT_FOUND (never observed),
  // else what `read` returns.
  absl::Status ReadFacts(const std::string& case_id, const Caller& caller,
                         absl::FunctionRef<absl::Status(const CaseFacts& facts)> read);
  // A recorded decision whose case the caller may read: NOT_FOUND /
  // PERMISSION_DENIED.
  absl::StatusOr<DecisionRecord> ReadableDecision(const std::string& decision_id,
                                                  const Caller& caller);
  // Counts and logs a decision this call appended (not a retry's).
  void CountDecision(const DecisionRecord& d);
  uint64_t case_position() const;

  // Constant after construction (the follower and waiter set before Start).
  ServiceRuntime* const runtime_;
  const CommandHandler handler_;
  const Follower* case_follower_ = nullptr;
  CausalWaiter causal_;
  // mend_contact_decisions_total{kind, outcome}: decisions appended.
  metrics::CounterFamily* decisions_made_ = nullptr;

  Path path_;

  absl::Mutex decisions_mu_;
  absl::flat_hash_map<std::string, std::string> decision_cases_
      ABSL_GUARDED_BY(decisions_mu_);  // decision id → case id
};

}  // namespace mend::consentsvc

#endif  // MEND_SERVICES_CONSENT_CONSENT_SERVICE_H_
